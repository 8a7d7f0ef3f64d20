//! `/dev/console`: the serial console as a terminal in canonical mode.
//!
//! Linux: `drivers/tty/tty_io.c` (the console's `tty_fops`) and `drivers/tty/n_tty.c`
//! (the line discipline: `n_tty_receive_char`, `canon_copy_from_read_buf`). Input comes
//! from the UART receive ring that `drivers/pl011.rs` fills from the PL011 interrupt;
//! output goes out on printk's console (`tty_print`: not into the kernel log), which turns `\n` into `\r\n` (Linux: ONLCR).
//!
//! Canonical mode as `stty sane` sets it: characters are echoed, DEL/BS erase one, `\r`
//! is read as `\n` (ICRNL), Ctrl-D at the start of a line is end of file, and a read
//! returns at most one line, once the line is complete.
use super::char_dev::CharDevice;
use crate::errno::{Errno, KResult};
use crate::sync::SpinLockIrq;
use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// O_NONBLOCK (the same value on arm64 as everywhere).
const O_NONBLOCK: u32 = 0o4000;
/// Longest line kept (Linux: `N_TTY_BUF_SIZE` 4096).
pub const N_TTY_BUF_SIZE: usize = 4096;

/// The line discipline's state (Linux: `struct n_tty_data`).
#[derive(Default)]
pub struct NTty {
    /// The line being edited.
    line: Vec<u8>,
    /// Completed input, readable.
    read_buf: VecDeque<u8>,
    /// Completed lines in `read_buf` (each ends in `\n` or marks an EOF push).
    lines: VecDeque<usize>,
}

impl NTty {
    /// An empty line discipline.
    pub const fn new() -> Self {
        NTty {
            line: Vec::new(),
            read_buf: VecDeque::new(),
            lines: VecDeque::new(),
        }
    }

    /// Take one received character; returns what to echo. Linux: `n_tty_receive_char`.
    pub fn receive_char(&mut self, c: u8, echo: &mut Vec<u8>) {
        match c {
            b'\r' | b'\n' => {
                self.line.push(b'\n');
                echo.push(b'\n');
                self.push_line();
            }
            0x7f | 0x08 if !self.line.is_empty() => {
                self.line.pop();
                echo.extend_from_slice(b"\x08 \x08");
            }
            0x7f | 0x08 => {}
            0x04 => self.push_line(), // VEOF: the line so far (an empty one reads as EOF)
            0x15 => {
                // VKILL: erase the line.
                for _ in 0..self.line.len() {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                self.line.clear();
            }
            c if (c >= 0x20 || c == b'\t') && self.line.len() < N_TTY_BUF_SIZE - 1 => {
                self.line.push(c);
                echo.push(c);
            }
            _ => {}
        }
    }

    fn push_line(&mut self) {
        self.lines.push_back(self.line.len());
        self.read_buf.extend(self.line.drain(..));
    }

    /// Copy out at most one completed line; None when none is complete. An empty
    /// completed line (Ctrl-D) reads as 0 bytes. Linux: `canon_copy_from_read_buf`.
    pub fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        let avail = *self.lines.front()?;
        let n = avail.min(buf.len());
        for (i, b) in self.read_buf.drain(..n).enumerate() {
            buf[i] = b;
        }
        if n == avail {
            self.lines.pop_front();
        } else {
            self.lines[0] = avail - n;
        }
        Some(n)
    }
}

static N_TTY: SpinLockIrq<NTty> = SpinLockIrq::new(NTty::new());

/// The console device (Linux: `/dev/console`, major 5 minor 1).
pub struct ConsoleDevice;

/// Write bytes to the console; invalid UTF-8 shows as U+FFFD.
pub fn console_write(buf: &[u8]) {
    for chunk in buf.utf8_chunks() {
        crate::kernel::printk::tty_print(format_args!("{}", chunk.valid()));
        if !chunk.invalid().is_empty() {
            crate::kernel::printk::tty_print(format_args!("\u{fffd}"));
        }
    }
}

impl CharDevice for ConsoleDevice {
    /// Sleep (TASK_INTERRUPTIBLE) on the UART's receive wait queue until a line is
    /// complete, unless O_NONBLOCK (EAGAIN); a signal ends the wait with ERESTARTSYS. Bytes
    /// typed before anybody reads wait in the receive ring (type-ahead). Linux:
    /// `n_tty_read` (`wait_woken` on `tty->read_wait`, -ERESTARTSYS on a signal).
    fn read(&self, f_flags: u32, _pos: u64, buf: &mut [u8]) -> KResult<usize> {
        use crate::drivers::pl011::{console_rx_pending, console_rx_pop, RX_WAIT};
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut echo = Vec::new();
            {
                let mut tty = N_TTY.lock();
                while let Some(c) = console_rx_pop() {
                    tty.receive_char(c, &mut echo);
                }
                if let Some(n) = tty.read(buf) {
                    drop(tty);
                    console_write(&echo);
                    return Ok(n);
                }
            }
            console_write(&echo);
            if f_flags & O_NONBLOCK != 0 {
                return Err(Errno::EAGAIN);
            }
            // Until the RX interrupt brings more bytes, or a signal (ERESTARTSYS: restarted
            // with SA_RESTART or when no handler runs, EINTR otherwise).
            RX_WAIT.wait_event_interruptible(console_rx_pending)?;
        }
    }

    fn write(&self, _f: u32, _pos: u64, buf: &[u8]) -> KResult<usize> {
        console_write(buf);
        Ok(buf.len())
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn is_tty(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(tty: &mut NTty, s: &[u8]) -> Vec<u8> {
        let mut echo = Vec::new();
        for &c in s {
            tty.receive_char(c, &mut echo);
        }
        echo
    }

    #[test]
    fn canonical_read_waits_for_the_line_and_maps_cr() {
        let mut tty = NTty::new();
        let mut buf = [0u8; 16];
        assert_eq!(feed(&mut tty, b"ls"), b"ls");
        assert_eq!(tty.read(&mut buf), None);
        feed(&mut tty, b"\r");
        assert_eq!(tty.read(&mut buf), Some(3));
        assert_eq!(&buf[..3], b"ls\n");
    }

    #[test]
    fn erase_and_one_line_per_read() {
        let mut tty = NTty::new();
        let echo = feed(&mut tty, b"ab\x7fc\nxy\n");
        assert_eq!(&echo[..2], b"ab");
        let mut buf = [0u8; 16];
        assert_eq!(tty.read(&mut buf), Some(3));
        assert_eq!(&buf[..3], b"ac\n");
        assert_eq!(tty.read(&mut buf), Some(3));
        assert_eq!(&buf[..3], b"xy\n");
    }

    #[test]
    fn ctrl_d_on_an_empty_line_is_end_of_file() {
        let mut tty = NTty::new();
        feed(&mut tty, b"\x04");
        let mut buf = [0u8; 4];
        assert_eq!(tty.read(&mut buf), Some(0));
        assert_eq!(tty.read(&mut buf), None);
    }

    #[test]
    fn a_short_buffer_reads_a_line_in_pieces() {
        let mut tty = NTty::new();
        feed(&mut tty, b"hello\n");
        let mut buf = [0u8; 4];
        assert_eq!(tty.read(&mut buf), Some(4));
        assert_eq!(tty.read(&mut buf), Some(2));
        assert_eq!(&buf[..2], b"o\n");
    }
}

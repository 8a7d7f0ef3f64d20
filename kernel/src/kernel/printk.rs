//! printk: formatted kernel messages to the console. Linux: `kernel/printk/printk.c`.
//!
//! Until the UART is mapped, messages collect in a small early buffer and are replayed
//! when the console registers. Every message also goes to the log buffer (`LogBuf`, Linux's
//! `log_buf`), which GDB's `mm-dmesg` reads (scripts/gdb/mmkern.py): what the kernel said
//! at boot stays readable after it scrolled off. Text user programs write to /dev/console
//! goes out through [`tty_print`] and is not logged, as in Linux (tty output is not printk).
use crate::drivers::pl011::Pl011;
use crate::sync::SpinLockIrq;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

const EARLY_BUF: usize = 4096;

/// Bytes of kernel log kept (Linux: `__LOG_BUF_LEN`, `1 << CONFIG_LOG_BUF_SHIFT`; 5.10's
/// arm64 defconfig keeps 128 KiB, we keep the last 16 KiB).
pub const LOG_BUF_LEN: usize = 1 << 14;

/// The kernel log: the last [`LOG_BUF_LEN`] bytes printk wrote, as a byte ring (Linux:
/// `log_buf`). Linux 5.10 keeps records (sequence number, timestamp, level) in its
/// lockless printk_ringbuffer; plain text is enough to read it back from GDB. Cost: one
/// copy of each message under the console lock, which the UART's per-byte wait dwarfs.
pub struct LogBuf {
    /// The bytes; byte number `n` of the log is at `buf[n % LOG_BUF_LEN]`.
    buf: [u8; LOG_BUF_LEN],
    /// Bytes ever logged (Linux: the next record's sequence number): the ring holds
    /// `[next - min(next, LOG_BUF_LEN), next)`.
    next: usize,
}

impl LogBuf {
    /// An empty log.
    pub const fn new() -> Self {
        LogBuf {
            buf: [0; LOG_BUF_LEN],
            next: 0,
        }
    }

    /// Append `s`, overwriting the oldest bytes once the ring is full (Linux:
    /// `log_store`).
    pub fn store(&mut self, s: &[u8]) {
        // Only the last LOG_BUF_LEN bytes of a huge message can be kept.
        let skip = s.len().saturating_sub(LOG_BUF_LEN);
        let (s, mut next) = (&s[skip..], self.next + skip);
        let mut rest = s;
        while !rest.is_empty() {
            let at = next % LOG_BUF_LEN;
            let n = rest.len().min(LOG_BUF_LEN - at);
            self.buf[at..at + n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            next += n;
        }
        self.next = next;
    }
}

impl Default for LogBuf {
    fn default() -> Self {
        Self::new()
    }
}

struct Console {
    uart: Option<Pl011>,
    early: [u8; EARLY_BUF],
    early_len: usize,
    /// Every printk message (not tty output).
    log: LogBuf,
}

impl Write for Console {
    /// A printk message: into the log, then out.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.log.store(s.as_bytes());
        self.emit(s);
        Ok(())
    }
}

impl Console {
    /// Out to the UART, or into the early buffer before there is one.
    fn emit(&mut self, s: &str) {
        match &self.uart {
            Some(u) => {
                // SAFETY: the base came from the device tree's PL011 node and is mapped by ioremap.
                let _ = UartWriter(unsafe { Pl011::new(u.base()) }).write_str(s);
            }
            None => {
                let n = s.len().min(EARLY_BUF - self.early_len);
                self.early[self.early_len..self.early_len + n].copy_from_slice(&s.as_bytes()[..n]);
                self.early_len += n;
            }
        }
    }
}

/// Tty output: [`Console::emit`] without logging.
struct TtyWriter<'a>(&'a mut Console);
impl Write for TtyWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.emit(s);
        Ok(())
    }
}

static CONSOLE: SpinLockIrq<Console> = SpinLockIrq::new(Console {
    uart: None,
    early: [0; EARLY_BUF],
    early_len: 0,
    log: LogBuf::new(),
});
/// The UART's address for the panic path, which must not wait for the console lock.
static PANIC_UART: AtomicUsize = AtomicUsize::new(0);

/// Make `uart` the console and replay what was printed before. Linux: `register_console`.
pub fn register_console(uart: Pl011) {
    PANIC_UART.store(uart.base(), Ordering::SeqCst);
    let mut c = CONSOLE.lock();
    c.uart = Some(uart);
    let (early, len) = (c.early, c.early_len);
    c.early_len = 0;
    let text = core::str::from_utf8(&early[..len]).unwrap_or("<early log not utf-8>\n");
    // Already logged when it was printed.
    c.emit(text);
}

/// The console UART, once registered.
pub fn console_uart() -> Option<Pl011> {
    let base = PANIC_UART.load(Ordering::SeqCst);
    // SAFETY: PANIC_UART holds only a PL011 base that was mapped before it was stored.
    (base != 0).then(|| unsafe { Pl011::new(base) })
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Write what a program wrote to /dev/console: out on the console, but not into the
/// kernel log (Linux: the tty driver's `con_write`, beside printk, not through it).
pub fn tty_print(args: fmt::Arguments<'_>) {
    let _ = TtyWriter(&mut CONSOLE.lock()).write_fmt(args);
}

/// Print even if the console lock is held (by the code that just crashed). Falls back to
/// semihosting when no UART is registered yet.
pub fn emergency_print(args: fmt::Arguments<'_>) {
    if let Some(mut c) = CONSOLE.try_lock() {
        if c.uart.is_some() {
            let _ = c.write_fmt(args);
            return;
        }
        // Nothing on screen yet: show the early buffer, then this message, via the debugger.
        let len = c.early_len;
        c.early_len = 0;
        crate::arch::aarch64::semihosting::write_str(
            core::str::from_utf8(&c.early[..len]).unwrap_or(""),
        );
        drop(c);
        let _ = SemihostingWriter.write_fmt(args);
        return;
    }
    match console_uart() {
        Some(u) => {
            let _ = UartWriter(u).write_fmt(args);
        }
        None => {
            let _ = SemihostingWriter.write_fmt(args);
        }
    }
}

struct UartWriter(Pl011);
impl Write for UartWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.putc(b'\r');
            }
            self.0.putc(b);
        }
        Ok(())
    }
}

struct SemihostingWriter;
impl Write for SemihostingWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::aarch64::semihosting::write_str(s);
        Ok(())
    }
}

/// Print to the console (Linux: `printk`).
#[macro_export]
macro_rules! printk {
    ($($arg:tt)*) => ($crate::kernel::printk::_print(format_args!($($arg)*)));
}

/// Print a line at info level (Linux: `pr_info`).
#[macro_export]
macro_rules! pr_info {
    ($($arg:tt)*) => ($crate::kernel::printk::_print(format_args!("{}\n", format_args!($($arg)*))));
}

/// Print a warning line (Linux: `pr_warn`).
#[macro_export]
macro_rules! pr_warn {
    ($($arg:tt)*) => ($crate::kernel::printk::_print(format_args!("WARNING: {}\n", format_args!($($arg)*))));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log in order, oldest byte first (what `mm-dmesg` reconstructs in GDB).
    fn contents(l: &LogBuf) -> alloc::vec::Vec<u8> {
        let n = l.next.min(LOG_BUF_LEN);
        (l.next - n..l.next)
            .map(|i| l.buf[i % LOG_BUF_LEN])
            .collect()
    }

    #[test]
    fn log_buf_keeps_the_last_bytes_across_the_wrap() {
        let mut l = LogBuf::new();
        l.store(b"boot\n");
        assert_eq!(contents(&l), b"boot\n");
        let line = [b'x'; 1000];
        for _ in 0..20 {
            l.store(&line);
        }
        l.store(b"last line\n");
        let c = contents(&l);
        assert_eq!(c.len(), LOG_BUF_LEN);
        assert!(c.ends_with(b"xxlast line\n"));
        assert_eq!(l.next, 5 + 20 * 1000 + 10);
    }

    #[test]
    fn log_buf_keeps_the_tail_of_a_message_longer_than_itself() {
        let mut l = LogBuf::new();
        l.store(b"abc");
        let big: alloc::vec::Vec<u8> = (0..LOG_BUF_LEN + 7).map(|i| (i % 251) as u8).collect();
        l.store(&big);
        assert_eq!(contents(&l), &big[7..]);
        assert_eq!(l.next, 3 + big.len());
    }
}

//! printk: formatted kernel messages to the console. Linux: `kernel/printk/printk.c`.
//!
//! Until the UART is mapped, messages collect in a small early buffer (Linux's log
//! buffer plays this role) and are replayed when the console registers.
use crate::drivers::pl011::Pl011;
use crate::sync::SpinLockIrq;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};

const EARLY_BUF: usize = 4096;

struct Console {
    uart: Option<Pl011>,
    early: [u8; EARLY_BUF],
    early_len: usize,
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
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
        Ok(())
    }
}

static CONSOLE: SpinLockIrq<Console> = SpinLockIrq::new(Console {
    uart: None,
    early: [0; EARLY_BUF],
    early_len: 0,
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
    let _ = c.write_str(text);
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

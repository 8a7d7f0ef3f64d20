//! Panics and oopses: print what happened, a symbolised backtrace, and stop QEMU with a
//! non-zero status. Linux: `kernel/panic.c` (`panic`), `arch/arm64/kernel/traps.c`
//! (`die`, `dump_backtrace`).
use crate::arch::aarch64::{semihosting, stacktrace::walk_stackframe};
use crate::arch::cpu;
use crate::kernel::kallsyms;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status of QEMU after a kernel panic (what `cargo xtask test` expects).
pub const PANIC_EXIT_STATUS: u32 = 101;

static PANICKING: AtomicBool = AtomicBool::new(false);

macro_rules! eprint {
    ($($arg:tt)*) => ($crate::kernel::printk::emergency_print(format_args!($($arg)*)));
}

/// Print `Backtrace:` and one line per frame, starting at the frame record `fp`.
/// `exact_first`: the first record holds an exception's pc rather than a return address.
/// Linux: `dump_backtrace`.
pub fn dump_backtrace(fp: usize, exact_first: bool) {
    eprint!("Backtrace:\n");
    walk_stackframe(fp, |depth, pc| {
        // The final record of a stack entered from user space holds no return address
        // (Linux: the final frame, which its unwinder does not print).
        if pc == 0 {
            return;
        }
        // A return address follows its call: after a call that never returns it is
        // already the next function. Name the call site, as Linux's `%pB` does.
        let adjust = usize::from(!(exact_first && depth == 0));
        match kallsyms::lookup(pc - adjust) {
            Some((name, off)) => eprint!(
                "  #{depth:<2} {pc:#018x} {name}+{:#x}\n",
                off + adjust as u64
            ),
            None => eprint!("  #{depth:<2} {pc:#018x} ?\n"),
        }
    });
}

/// An oops: a fatal exception. Prints the report and the backtrace of the interrupted
/// code (from the trap frame's record at `fp`), then panics. Linux: `die`.
pub fn oops(report: fmt::Arguments<'_>, fp: usize) -> ! {
    cpu::local_irq_disable();
    eprint!("Internal error: {report}");
    dump_backtrace(fp, true);
    PANICKING.store(true, Ordering::SeqCst);
    eprint!("Kernel panic - not syncing: Fatal exception\n");
    eprint!("---[ end Kernel panic - not syncing: Fatal exception ]---\n");
    semihosting::exit(PANIC_EXIT_STATUS)
}

/// Rust's panic entry (`panic!`, failed `assert!`, overflow in debug builds).
/// Linux: `panic()`.
pub fn kernel_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cpu::local_irq_disable();
    if PANICKING.swap(true, Ordering::SeqCst) {
        // Panicked while panicking: print nothing more, just stop.
        semihosting::exit(PANIC_EXIT_STATUS + 1);
    }
    eprint!("Kernel panic - not syncing: {}\n", info.message());
    if let Some(loc) = info.location() {
        eprint!("  at {}:{}:{}\n", loc.file(), loc.line(), loc.column());
    }
    dump_backtrace(cpu::frame_pointer(), false);
    eprint!("---[ end Kernel panic - not syncing ]---\n");
    semihosting::exit(PANIC_EXIT_STATUS)
}

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kernel_panic(info)
}

//! Frame-pointer unwinding. Linux: `arch/arm64/kernel/stacktrace.c` (`unwind_frame`)
//! and `traps.c` (`dump_backtrace`).
//!
//! The kernel is built with `-C force-frame-pointers=yes`: every function stores a frame
//! record `{previous x29, x30}` and points x29 at it. The exception entry adds a record
//! for the interrupted pc, so a backtrace continues through an exception.
use crate::arch::cpu;

/// Deepest backtrace printed.
pub const MAX_FRAMES: usize = 32;

/// One step of the unwind: the frame record at `fp` gives the caller's fp and the
/// return address. Reads go through the fault-tolerant probe, so a corrupt chain ends
/// the walk instead of faulting inside the panic path.
pub fn unwind_frame(fp: usize) -> Option<(usize, usize)> {
    if fp == 0 || !fp.is_multiple_of(8) || fp < crate::arch::PAGE_OFFSET {
        return None;
    }
    let next_fp = cpu::probe_read_u64(fp).ok()? as usize;
    let lr = cpu::probe_read_u64(fp + 8).ok()? as usize;
    Some((next_fp, lr))
}

/// Call `f(depth, pc)` for each return address, starting from the frame record at `fp`.
pub fn walk_stackframe(mut fp: usize, mut f: impl FnMut(usize, usize)) {
    for depth in 0..MAX_FRAMES {
        match unwind_frame(fp) {
            Some((next, lr)) => {
                f(depth, lr);
                if next <= fp {
                    break; // stacks grow down: callers' records sit higher
                }
                fp = next;
            }
            _ => break,
        }
    }
}

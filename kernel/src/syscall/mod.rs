//! The system-call table: Linux arm64 numbers (`include/uapi/asm-generic/unistd.h`) to
//! handlers. Linux: `arch/arm64/kernel/syscall.c` (`el0_svc` -> `invoke_syscall`).
//! Handlers live with their subsystem (`sys_brk` in `mm/mmap.rs`, as in Linux); this file
//! only decodes registers and dispatches. An unknown number returns -ENOSYS and is logged
//! once per number.
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use core::sync::atomic::{AtomicU64, Ordering};

pub mod mm;
pub mod nr;
pub mod sys;

/// The six argument registers.
#[derive(Clone, Copy, Debug)]
pub struct SyscallArgs(pub [usize; 6]);

/// `strace` on the kernel command line: print every system call and its result.
pub static STRACE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Bitmap of numbers already reported as unimplemented (0..512).
static WARNED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn warn_once(n: usize) {
    if n < 512 {
        let bit = 1u64 << (n % 64);
        if WARNED[n / 64].fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            return;
        }
    }
    let comm = crate::task::current().map(|t| t.comm()).unwrap_or_default();
    pr_info!("syscall {n} not implemented (called by {comm}): returning -ENOSYS");
}

/// Run the system call in `regs` and store its result in x0. Linux: `invoke_syscall`.
#[no_mangle]
#[inline(never)]
pub fn invoke_syscall(regs: &mut PtRegs) {
    let n = regs.regs[8] as usize;
    // Kept for a restart: x0 is about to become the result (Linux: `el0_svc_common`).
    regs.orig_x0 = regs.regs[0];
    regs.syscallno = n as i64;
    let a = SyscallArgs([
        regs.regs[0] as usize,
        regs.regs[1] as usize,
        regs.regs[2] as usize,
        regs.regs[3] as usize,
        regs.regs[4] as usize,
        regs.regs[5] as usize,
    ]);
    let ret: KResult<usize> = match sys::lookup(n) {
        Some(handler) => handler(a, regs),
        None => {
            warn_once(n);
            Err(Errno::ENOSYS)
        }
    };
    if STRACE.load(Ordering::Relaxed) {
        let comm = crate::task::current()
            .map(|t| (t.pid(), t.comm()))
            .unwrap_or_default();
        pr_info!(
            "[{} {}] syscall {}({:#x}, {:#x}, {:#x}, {:#x}) = {:?}",
            comm.0,
            comm.1,
            n,
            a.0[0],
            a.0[1],
            a.0[2],
            a.0[3],
            ret.map(|v| v as isize)
        );
    }
    regs.regs[0] = match ret {
        Ok(v) => v as u64,
        Err(e) => e.as_ret() as u64,
    };
}

//! Signals, default actions only: a fatal signal ends the process; SIGCHLD is ignored.
//! Handlers installed with rt_sigaction are recorded but not yet delivered.
//! Linux: `kernel/signal.c` (`force_sig_fault`, `send_signal`, `get_signal`,
//! `sys_kill`), `arch/arm64/mm/fault.c` (`arm64_show_signal`: the one-line report).
use super::{current, find_task, Task, TaskState};
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use crate::syscall::SyscallArgs;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

/// Signal numbers (Linux arm64 = asm-generic).
pub const SIGHUP: u32 = 1;
/// Interrupt.
pub const SIGINT: u32 = 2;
/// Illegal instruction.
pub const SIGILL: u32 = 4;
/// Abort.
pub const SIGABRT: u32 = 6;
/// Bus error.
pub const SIGBUS: u32 = 7;
/// Kill (cannot be caught).
pub const SIGKILL: u32 = 9;
/// Segmentation fault.
pub const SIGSEGV: u32 = 11;
/// Termination request.
pub const SIGTERM: u32 = 15;
/// Child stopped or exited.
pub const SIGCHLD: u32 = 17;
/// Highest signal number.
pub const NSIG: u32 = 64;

/// Signal name for reports.
pub fn signame(sig: u32) -> &'static str {
    match sig {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGILL => "SIGILL",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGKILL => "SIGKILL",
        SIGSEGV => "SIGSEGV",
        SIGTERM => "SIGTERM",
        SIGCHLD => "SIGCHLD",
        _ => "signal",
    }
}

/// Does the default action dump core (sets 0x80 in the wait status)? Linux:
/// `SIG_KERNEL_COREDUMP_MASK`.
pub fn sig_coredump(sig: u32) -> bool {
    matches!(
        sig,
        SIGILL | SIGABRT | SIGBUS | SIGSEGV | 3 | 5 | 8 | 24 | 25 | 31
    )
}

/// Is the default action to ignore? (Linux: `SIG_KERNEL_IGNORE_MASK`.)
pub fn sig_ignored_by_default(sig: u32) -> bool {
    matches!(sig, SIGCHLD | 23 | 28)
}

/// Queue `sig` for `task` and wake it (Linux: `send_signal` + `signal_wake_up`).
pub fn send_signal(task: &Arc<Task>, sig: u32) {
    if sig_ignored_by_default(sig) {
        return;
    }
    task.pending.fetch_or(1 << (sig - 1), Ordering::SeqCst);
    if task.state() == TaskState::Interruptible {
        super::wake_up_process(task);
    }
}

/// Is a signal pending for the current task?
pub fn signal_pending() -> bool {
    super::with_current(|t| t.pending.load(Ordering::SeqCst) != 0).unwrap_or(false)
}

/// Is SIGKILL pending for the current task (Linux: `fatal_signal_pending`)?
pub fn fatal_signal_pending() -> bool {
    super::with_current(|t| t.pending.load(Ordering::SeqCst) & (1 << (SIGKILL - 1)) != 0)
        .unwrap_or(false)
}

/// A fault the program cannot survive: print Linux's one-line report and queue `sig`.
/// Linux: `arm64_force_sig_fault` -> `arm64_show_signal`.
pub fn force_sig_fault(sig: u32, regs: &PtRegs, cause: &str) {
    let Some(task) = current() else { return };
    // FAR means something only for aborts; otherwise the address is the pc (Linux
    // reports si_addr = pc for SIGILL).
    let esr = crate::arch::aarch64::esr::Esr { raw: regs.esr };
    let addr = if esr.is_abort() { regs.far } else { regs.pc };
    pr_info!(
        "{}[{}]: {} at {:#x} pc {:#x}: {} (esr {:#010x})",
        task.comm(),
        task.pid,
        signame(sig),
        addr,
        regs.pc,
        cause,
        regs.esr
    );
    send_signal(&task, sig);
}

/// Act on pending signals before returning to user space: every deliverable signal's
/// default action is to terminate. Linux: `do_signal` -> `get_signal` -> `do_group_exit`.
pub fn do_signal(_regs: &mut PtRegs) {
    let Some(task) = current() else { return };
    let pending = task.pending.load(Ordering::SeqCst);
    if pending == 0 {
        return;
    }
    let sig = pending.trailing_zeros() + 1;
    drop(task);
    let status = sig | if sig_coredump(sig) { 0x80 } else { 0 };
    super::exit::do_exit(status as i32);
}

/// kill(2): send `sig` to `pid` (> 0 only; process groups are not modelled). Signal 0
/// checks existence. Linux: `kill_something_info`.
pub fn sys_kill(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, sig) = (a.0[0] as i32, a.0[1] as u32);
    if sig > NSIG {
        return Err(Errno::EINVAL);
    }
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    // A zombie exists until it is reaped: kill succeeds and does nothing (as in Linux).
    let task = find_task(pid).ok_or(Errno::ESRCH)?;
    if task.pid == 0 {
        return Err(Errno::EPERM);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    // Two statements: the guards must not overlap (kill(getpid()) locks the same task).
    let mine = *me.cred.lock();
    let theirs = *task.cred.lock();
    if mine.euid != 0 && mine.euid != theirs.uid && mine.uid != theirs.uid {
        return Err(Errno::EPERM);
    }
    if sig != 0 && task.state() != TaskState::Zombie {
        send_signal(&task, sig);
    }
    Ok(0)
}

/// rt_sigaction(2): checked like Linux (EINVAL for a bad signal, SIGKILL/SIGSTOP or a
/// sigsetsize other than 8; EFAULT for unreadable/unwritable actions), recorded nowhere:
/// every signal keeps its default action. The old action reads as SIG_DFL.
pub fn sys_rt_sigaction(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (sig, act, oact, size) = (a.0[0] as u32, a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    if sig == 0 || sig > NSIG || ((sig == SIGKILL || sig == 19) && act != 0) {
        return Err(Errno::EINVAL);
    }
    if act != 0 {
        let mut k = [0u8; 32];
        crate::arch::aarch64::uaccess::copy_from_user(&mut k, act)?;
    }
    if oact != 0 {
        crate::arch::aarch64::uaccess::copy_to_user(oact, &[0u8; 32])?;
    }
    Ok(0)
}

/// rt_sigprocmask(2): EINVAL for a bad `how` or sigsetsize, EFAULT for bad sets; the mask
/// stays empty (no handlers are delivered, so blocking changes nothing yet).
pub fn sys_rt_sigprocmask(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (how, set, oset, size) = (a.0[0], a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    if set != 0 {
        let _: u64 = crate::arch::aarch64::uaccess::get_user(set)?;
        if how > 2 {
            return Err(Errno::EINVAL);
        }
    }
    if oset != 0 {
        crate::arch::aarch64::uaccess::put_user(oset, 0u64)?;
    }
    Ok(0)
}

/// sigaltstack(2): the old stack reads as disabled (SS_DISABLE); a new one is checked
/// (EINVAL for unknown flags, ENOMEM when smaller than MINSIGSTKSZ = 5120 on arm64,
/// EFAULT for bad pointers) and accepted, though handlers never run on it yet.
pub fn sys_sigaltstack(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    const SS_DISABLE: u32 = 2;
    const SS_AUTODISARM: u32 = 1 << 31;
    let (ss, old) = (a.0[0], a.0[1]);
    if ss != 0 {
        // The whole stack_t at once, as Linux's copy_from_user: a range running past the
        // top of the address space is EFAULT, not an overflow.
        let mut st = [0u8; 24];
        crate::arch::aarch64::uaccess::copy_from_user(&mut st, ss)?;
        let flags = u32::from_le_bytes([st[8], st[9], st[10], st[11]]);
        let size = u64::from_le_bytes([
            st[16], st[17], st[18], st[19], st[20], st[21], st[22], st[23],
        ]) as usize;
        if flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < 5120 {
            return Err(Errno::ENOMEM);
        }
    }
    if old != 0 {
        // stack_t { void *ss_sp; int ss_flags; size_t ss_size; }
        let mut st = [0u8; 24];
        st[8..12].copy_from_slice(&SS_DISABLE.to_le_bytes());
        crate::arch::aarch64::uaccess::copy_to_user(old, &st)?;
    }
    Ok(0)
}

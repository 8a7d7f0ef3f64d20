//! Signals: sending, the per-task actions and blocked mask, delivery to user handlers.
//! Linux: `kernel/signal.c` (`send_signal`, `force_sig_info_to_task`, `get_signal`,
//! `signal_delivered`, `do_sigaction`, `sigprocmask`, `sys_kill`), `arch/arm64/mm/fault.c`
//! (`arm64_show_signal`: the one-line report of a fatal fault). The user stack frame a
//! handler runs on, and `rt_sigreturn`, are arm64's: `arch/aarch64/signal.rs`.
//!
//! Differences from Linux 5.10: one thread per process, so the pending set is the task's
//! and there is no shared queue; one siginfo per signal (real-time signals do not queue
//! multiple instances); stop signals terminate (no job control); SA_ONSTACK is ignored
//! (sigaltstack records nothing); no system call is restarted (SA_RESTART or not, an
//! interrupted sleep returns EINTR); a handler without SA_RESTORER has nowhere to return
//! (no vDSO `sigtramp`): every libc passes its restorer.
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
/// Trace trap.
pub const SIGTRAP: u32 = 5;
/// Abort.
pub const SIGABRT: u32 = 6;
/// Bus error.
pub const SIGBUS: u32 = 7;
/// Arithmetic exception.
pub const SIGFPE: u32 = 8;
/// Kill (cannot be caught).
pub const SIGKILL: u32 = 9;
/// User signal 1.
pub const SIGUSR1: u32 = 10;
/// Segmentation fault.
pub const SIGSEGV: u32 = 11;
/// User signal 2.
pub const SIGUSR2: u32 = 12;
/// Write to a pipe nobody reads (default: terminate).
pub const SIGPIPE: u32 = 13;
/// An ITIMER_REAL timer expired (default: terminate).
pub const SIGALRM: u32 = 14;
/// Termination request.
pub const SIGTERM: u32 = 15;
/// Child stopped or exited.
pub const SIGCHLD: u32 = 17;
/// Continue a stopped process.
pub const SIGCONT: u32 = 18;
/// Stop (cannot be caught).
pub const SIGSTOP: u32 = 19;
/// Bad system call.
pub const SIGSYS: u32 = 31;
/// Highest signal number.
pub const NSIG: u32 = 64;

/// `sa_handler` values: the default action, or ignore (Linux: `SIG_DFL`, `SIG_IGN`).
pub const SIG_DFL: u64 = 0;
/// Ignore the signal.
pub const SIG_IGN: u64 = 1;
/// `sa_flags`: the handler takes (sig, siginfo_t *, ucontext_t *).
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// `sa_flags`: `sa_restorer` is where the handler returns to (arm64 uapi).
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `sa_flags`: run on the alternate signal stack (not modelled).
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `sa_flags`: restart interrupted system calls (not modelled).
pub const SA_RESTART: u64 = 0x1000_0000;
/// `sa_flags`: do not block the signal while its handler runs.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `sa_flags`: reset the action to SIG_DFL when the handler is entered.
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code`: sent by kill(2) (Linux: `SI_USER`).
pub const SI_USER: i32 = 0;
/// `si_code`: sent by the kernel.
pub const SI_KERNEL: i32 = 0x80;
/// `si_code` of SIGSEGV: no mapping at the address.
pub const SEGV_MAPERR: i32 = 1;
/// `si_code` of SIGSEGV: the mapping does not permit the access.
pub const SEGV_ACCERR: i32 = 2;
/// `si_code` of SIGBUS: misaligned address.
pub const BUS_ADRALN: i32 = 1;
/// `si_code` of SIGBUS: no object behind the address (beyond the end of a file).
pub const BUS_ADRERR: i32 = 2;
/// `si_code` of SIGBUS: hardware error.
pub const BUS_OBJERR: i32 = 3;
/// `si_code` of SIGILL: illegal opcode.
pub const ILL_ILLOPC: i32 = 1;

/// `how` of rt_sigprocmask.
pub const SIG_BLOCK: usize = 0;
/// Remove the set from the mask.
pub const SIG_UNBLOCK: usize = 1;
/// Replace the mask.
pub const SIG_SETMASK: usize = 2;

/// The bit of signal `sig` in a sigset (Linux: `sigmask`).
pub const fn sigmask(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals that can be neither caught, blocked nor ignored (Linux: `SIG_KERNEL_ONLY_MASK`).
pub const SIG_KERNEL_ONLY_MASK: u64 = sigmask(SIGKILL) | sigmask(SIGSTOP);

/// Faults, delivered before anything else pending (Linux: `SYNCHRONOUS_MASK`).
pub const SYNCHRONOUS_MASK: u64 = sigmask(SIGSEGV)
    | sigmask(SIGBUS)
    | sigmask(SIGILL)
    | sigmask(SIGTRAP)
    | sigmask(SIGFPE)
    | sigmask(SIGSYS);

/// One signal's action, laid out as arm64's `struct sigaction` for rt_sigaction
/// (Linux: `struct k_sigaction` / `struct sigaction` with SA_RESTORER).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSigaction {
    /// SIG_DFL, SIG_IGN or the handler's address.
    pub sa_handler: u64,
    /// SA_* flags.
    pub sa_flags: u64,
    /// Where the handler returns to (SA_RESTORER).
    pub sa_restorer: u64,
    /// Signals blocked while the handler runs (besides the signal itself).
    pub sa_mask: u64,
}

const _: () = assert!(core::mem::size_of::<KSigaction>() == 32);

/// What a pending signal carries for its handler (Linux: `kernel_siginfo`, the fields we
/// fill): who sent it or, for a fault, where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KSiginfo {
    /// The signal.
    pub si_signo: u32,
    /// SI_USER, SEGV_MAPERR, ...
    pub si_code: i32,
    /// The faulting address (faults) or 0.
    pub si_addr: u64,
    /// The sender's pid (kill).
    pub si_pid: i32,
    /// The sender's real uid (kill).
    pub si_uid: u32,
}

/// A task's signal state: actions, blocked mask, the siginfo of each pending signal, and
/// the last fault (Linux: `sighand->action`, `blocked`, the `pending` queue's siginfo,
/// `thread.fault_address` / `thread.fault_code`). `Task::pending` holds the pending set.
#[derive(Clone)]
pub struct SignalState {
    /// Actions, index sig - 1.
    pub action: [KSigaction; NSIG as usize],
    /// Blocked signals (never SIGKILL or SIGSTOP).
    pub blocked: u64,
    /// The siginfo of each pending signal, index sig - 1.
    pub info: [KSiginfo; NSIG as usize],
    /// FAR of the last user fault (the sigcontext's `fault_address`).
    pub fault_address: u64,
    /// ESR of the last user fault, 0 if none (an `esr_context` record when non-zero).
    pub fault_code: u64,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            action: [KSigaction::default(); NSIG as usize],
            blocked: 0,
            info: [KSiginfo::default(); NSIG as usize],
            fault_address: 0,
            fault_code: 0,
        }
    }
}

impl SignalState {
    /// The state a fork child starts with: the same actions and mask, nothing pending
    /// (Linux: `copy_sighand`, `p->blocked = current->blocked`, `init_sigpending`).
    pub fn fork_copy(&self) -> alloc::boxed::Box<Self> {
        let mut b = alloc::boxed::Box::<SignalState>::default();
        b.action = self.action;
        b.blocked = self.blocked;
        b
    }

    /// At exec: every caught signal goes back to SIG_DFL, ignored ones stay ignored;
    /// flags, restorers and masks are cleared (Linux: `flush_signal_handlers(t, 0)`).
    pub fn flush_signal_handlers(&mut self) {
        for ka in self.action.iter_mut() {
            let handler = if ka.sa_handler == SIG_IGN {
                SIG_IGN
            } else {
                SIG_DFL
            };
            *ka = KSigaction {
                sa_handler: handler,
                ..KSigaction::default()
            };
        }
    }

    /// Would `sig` be thrown away on arrival? Not if blocked (it may be unblocked after a
    /// handler is installed); otherwise when its action is SIG_IGN, or SIG_DFL with a
    /// default of ignore. Linux: `sig_ignored` -> `sig_task_ignored`.
    pub fn sig_ignored(&self, sig: u32) -> bool {
        if self.blocked & sigmask(sig) != 0 {
            return false;
        }
        let h = self.action[sig as usize - 1].sa_handler;
        h == SIG_IGN || (h == SIG_DFL && sig_ignored_by_default(sig))
    }
}

/// Signal name for reports.
pub fn signame(sig: u32) -> &'static str {
    match sig {
        SIGHUP => "SIGHUP",
        SIGINT => "SIGINT",
        SIGILL => "SIGILL",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        SIGKILL => "SIGKILL",
        SIGUSR1 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        SIGUSR2 => "SIGUSR2",
        SIGPIPE => "SIGPIPE",
        SIGALRM => "SIGALRM",
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

/// Is the default action to ignore? (Linux: `SIG_KERNEL_IGNORE_MASK`: SIGCONT, SIGCHLD,
/// SIGWINCH, SIGURG.)
pub fn sig_ignored_by_default(sig: u32) -> bool {
    matches!(sig, SIGCONT | SIGCHLD | 23 | 28)
}

/// Queue `sig` with `info` for `task` and wake it if it can take it now (Linux:
/// `send_signal` -> `__send_signal` + `complete_signal` -> `signal_wake_up`). An ignored
/// signal is dropped; a standard signal already pending keeps its first siginfo
/// (Linux: `legacy_queue`).
pub fn send_signal_info(task: &Arc<Task>, sig: u32, info: KSiginfo) {
    let bit = sigmask(sig);
    let blocked = {
        let mut st = task.signal.lock();
        if st.sig_ignored(sig) {
            return;
        }
        if task.pending.load(Ordering::SeqCst) & bit == 0 {
            st.info[sig as usize - 1] = info;
        }
        st.blocked & bit != 0
    };
    task.pending.fetch_or(bit, Ordering::SeqCst);
    if !blocked && task.state() == TaskState::Interruptible {
        super::wake_up_process(task);
    }
}

/// Queue `sig` from the kernel, with no details (SI_KERNEL).
pub fn send_signal(task: &Arc<Task>, sig: u32) {
    send_signal_info(
        task,
        sig,
        KSiginfo {
            si_signo: sig,
            si_code: SI_KERNEL,
            ..KSiginfo::default()
        },
    );
}

/// Is a signal the current task does not block pending? (Linux: `signal_pending`,
/// TIF_SIGPENDING being set only for unblocked signals.)
pub fn signal_pending() -> bool {
    super::with_current(|t| {
        let pending = t.pending.load(Ordering::SeqCst);
        pending != 0 && pending & !t.signal.lock().blocked != 0
    })
    .unwrap_or(false)
}

/// Is SIGKILL pending for the current task (Linux: `fatal_signal_pending`)?
pub fn fatal_signal_pending() -> bool {
    super::with_current(|t| t.pending.load(Ordering::SeqCst) & sigmask(SIGKILL) != 0)
        .unwrap_or(false)
}

/// Set the current task's blocked mask; SIGKILL and SIGSTOP can never be blocked
/// (Linux: `set_current_blocked`).
pub fn set_current_blocked(mask: u64) {
    super::with_current(|t| t.signal.lock().blocked = mask & !SIG_KERNEL_ONLY_MASK);
}

/// A fault the program caused: queue `sig` with `si_code` and the address (FAR for an
/// abort, the pc otherwise: Linux reports si_addr = pc for SIGILL). A handler may catch
/// it, but a blocked or ignored fault signal is unblocked and reset to SIG_DFL first, so a
/// fault can never be ignored into a loop (Linux: `force_sig_info_to_task`). When the
/// signal will kill, Linux's one-line report is printed (Linux: `arm64_force_sig_fault`
/// -> `arm64_show_signal`, which stays quiet for a handled signal).
pub fn force_sig_fault(sig: u32, si_code: i32, regs: &PtRegs, cause: impl core::fmt::Display) {
    let Some(task) = current() else { return };
    let esr = crate::arch::aarch64::esr::Esr { raw: regs.esr };
    let addr = if esr.is_abort() { regs.far } else { regs.pc };
    let handled = {
        let mut st = task.signal.lock();
        let bit = sigmask(sig);
        if st.action[sig as usize - 1].sa_handler == SIG_IGN || st.blocked & bit != 0 {
            st.action[sig as usize - 1].sa_handler = SIG_DFL;
            st.blocked &= !bit;
        }
        if esr.is_abort() {
            st.fault_address = addr;
            st.fault_code = regs.esr;
        }
        sig != SIGKILL && st.action[sig as usize - 1].sa_handler != SIG_DFL
    };
    if !handled {
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
    }
    send_signal_info(
        &task,
        sig,
        KSiginfo {
            si_signo: sig,
            si_code,
            si_addr: addr,
            ..KSiginfo::default()
        },
    );
}

/// Take the next deliverable signal off the pending set: a fault first, then the lowest
/// number (Linux: `dequeue_signal` -> `next_signal`).
fn dequeue_signal(task: &Task, st: &SignalState) -> Option<(u32, KSiginfo)> {
    let deliverable = task.pending.load(Ordering::SeqCst) & !st.blocked;
    if deliverable == 0 {
        return None;
    }
    let sync = deliverable & SYNCHRONOUS_MASK;
    let pick = if sync != 0 { sync } else { deliverable };
    let sig = pick.trailing_zeros() + 1;
    task.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
    Some((sig, st.info[sig as usize - 1]))
}

/// Act on pending signals before returning to user space: skip ignored ones, end the
/// process for a fatal one, or build a handler's frame on the user stack and point the
/// registers at the handler (one handler per call; the return-to-user loop calls again
/// while more are pending, so they nest as in Linux). Linux: `do_signal` -> `get_signal`
/// (`dequeue_signal`, SA_ONESHOT, `do_group_exit`) -> `handle_signal` (`setup_rt_frame`,
/// `signal_setup_done` -> `signal_delivered`).
#[no_mangle]
#[inline(never)]
pub fn do_signal(regs: &mut PtRegs) {
    let Some(task) = current() else { return };
    loop {
        let (sig, info, ka, oldset, fault_address, fault_code) = {
            let mut st = task.signal.lock();
            let Some((sig, info)) = dequeue_signal(&task, &st) else {
                return;
            };
            let ka = st.action[sig as usize - 1];
            let caught = sig != SIGKILL && ka.sa_handler != SIG_DFL && ka.sa_handler != SIG_IGN;
            if caught && ka.sa_flags & SA_RESETHAND != 0 {
                st.action[sig as usize - 1].sa_handler = SIG_DFL; // Linux: SA_ONESHOT
            }
            (sig, info, ka, st.blocked, st.fault_address, st.fault_code)
        };
        if sig == SIGKILL || ka.sa_handler == SIG_DFL {
            if sig != SIGKILL && sig_ignored_by_default(sig) {
                continue;
            }
            drop(task);
            let status = sig | if sig_coredump(sig) { 0x80 } else { 0 };
            super::exit::do_exit(status as i32);
        }
        if ka.sa_handler == SIG_IGN {
            continue;
        }
        let frame = crate::arch::aarch64::signal::RtSigframeArgs {
            sig,
            ka,
            info,
            oldset,
            fault_address,
            fault_code,
        };
        if crate::arch::aarch64::signal::setup_rt_frame(&frame, regs).is_err() {
            // Linux: force_sigsegv: no stack for the frame. A SIGSEGV handler that cannot
            // be entered must not be tried again.
            {
                let mut st = task.signal.lock();
                if sig == SIGSEGV {
                    st.action[SIGSEGV as usize - 1].sa_handler = SIG_DFL;
                }
                st.blocked &= !sigmask(SIGSEGV);
            }
            send_signal(&task, SIGSEGV);
            continue;
        }
        // signal_delivered: block sa_mask, and the signal itself unless SA_NODEFER.
        let mut st = task.signal.lock();
        let mut block = ka.sa_mask;
        if ka.sa_flags & SA_NODEFER == 0 {
            block |= sigmask(sig);
        }
        st.blocked = (st.blocked | block) & !SIG_KERNEL_ONLY_MASK;
        st.fault_code = 0;
        return;
    }
}

/// kill(2): send `sig` to `pid`, to the caller's process group (0), to group -`pid`, or
/// to every process but init and the caller (-1); kernel threads never. Signal 0 checks
/// existence and permission. Linux: `kill_something_info`.
pub fn sys_kill(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, sig) = (a.0[0] as i32, a.0[1] as u32);
    if sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    if pid > 0 {
        // A zombie exists until it is reaped: kill succeeds and does nothing (as in Linux).
        let task = find_task(pid).ok_or(Errno::ESRCH)?;
        if task.pid == 0 {
            return Err(Errno::EPERM);
        }
        return kill_one(&me, &task, sig).map(|()| 0);
    }
    // A group (0: the caller's, -N: group N) or every process but init and the caller
    // (-1). Linux: `kill_something_info` -> `__kill_pgrp_info`: success if one target
    // took it, else the last error; ESRCH when there is none.
    let targets: alloc::vec::Vec<_> = match pid {
        -1 => crate::task::live_user_tasks()
            .into_iter()
            .filter(|t| t.pid != 1 && t.pid != me.pid)
            .collect(),
        i32::MIN => return Err(Errno::ESRCH), // -INT_MIN has no group (Linux: ESRCH)
        _ => {
            let pgrp = if pid == 0 {
                me.pgid.load(Ordering::Relaxed)
            } else {
                -pid
            };
            crate::task::live_user_tasks()
                .into_iter()
                .filter(|t| t.pgid.load(Ordering::Relaxed) == pgrp)
                .collect()
        }
    };
    let mut result = Err(Errno::ESRCH);
    for t in &targets {
        match kill_one(&me, t, sig) {
            Ok(()) => result = Ok(0),
            Err(e) if result.is_err() => result = Err(e),
            Err(_) => {}
        }
    }
    result
}

/// Send `sig` (0: only check) from `me` to `task`: EPERM unless root or the same user
/// (Linux: `check_kill_permission`).
fn kill_one(me: &Arc<Task>, task: &Arc<Task>, sig: u32) -> KResult<()> {
    // Two statements: the guards must not overlap (kill(getpid()) locks the same task).
    let mine = *me.cred.lock();
    let theirs = *task.cred.lock();
    if mine.euid != 0 && mine.euid != theirs.uid && mine.uid != theirs.uid {
        return Err(Errno::EPERM);
    }
    if sig != 0 && task.state() != TaskState::Zombie && !init_ignores(task, sig) {
        send_signal_info(
            task,
            sig,
            KSiginfo {
                si_signo: sig,
                si_code: SI_USER,
                si_pid: me.pid,
                si_uid: mine.uid,
                ..KSiginfo::default()
            },
        );
    }
    Ok(())
}

/// Does the global init (pid 1) throw away `sig` sent by kill(2)/tkill(2) (itself or any
/// other process, root included; the call still returns 0)? It never takes SIGKILL or
/// SIGSTOP from user space, nor any signal whose action is SIG_DFL: nothing a process
/// sends can end init (Linux: `sig_task_ignored`, `is_global_init` and
/// SIGNAL_UNKILLABLE). Linux queues a signal init blocks and drops it at delivery if the
/// action is still SIG_DFL; we drop it at once, which differs only if init installs a
/// handler before unblocking it. Fault signals (`force_sig_fault`) do not come here: a
/// faulting init dies, as in Linux (`force_sig_info_to_task` clears SIGNAL_UNKILLABLE).
fn init_ignores(task: &Task, sig: u32) -> bool {
    task.pid == 1
        && (sigmask(sig) & SIG_KERNEL_ONLY_MASK != 0
            || task.signal.lock().action[sig as usize - 1].sa_handler == SIG_DFL)
}

/// rt_sigaction(2): read the new action (EFAULT), check the signal (EINVAL for 0, > 64,
/// or an action for SIGKILL/SIGSTOP), store it with SIGKILL/SIGSTOP removed from its
/// mask, hand back the old one. Setting SIG_IGN (or SIG_DFL for a default-ignored signal)
/// discards that signal if pending (POSIX 3.3.1.3). Linux: `sys_rt_sigaction` ->
/// `do_sigaction`.
pub fn sys_rt_sigaction(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::arch::aarch64::uaccess::{copy_from_user, copy_to_user};
    let (sig, act, oact, size) = (a.0[0] as u32, a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        let mut k = [0u8; 32];
        copy_from_user(&mut k, act)?;
        let word = |i: usize| u64::from_le_bytes(k[i * 8..i * 8 + 8].try_into().unwrap());
        Some(KSigaction {
            sa_handler: word(0),
            sa_flags: word(1),
            sa_restorer: word(2),
            sa_mask: word(3) & !SIG_KERNEL_ONLY_MASK,
        })
    } else {
        None
    };
    if sig == 0 || sig > NSIG || (new.is_some() && sigmask(sig) & SIG_KERNEL_ONLY_MASK != 0) {
        return Err(Errno::EINVAL);
    }
    let task = current().ok_or(Errno::ESRCH)?;
    let old = {
        let mut st = task.signal.lock();
        let old = st.action[sig as usize - 1];
        if let Some(ka) = new {
            st.action[sig as usize - 1] = ka;
            let ignored = ka.sa_handler == SIG_IGN
                || (ka.sa_handler == SIG_DFL && sig_ignored_by_default(sig));
            if ignored {
                task.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
            }
        }
        old
    };
    if oact != 0 {
        let mut k = [0u8; 32];
        for (i, w) in [old.sa_handler, old.sa_flags, old.sa_restorer, old.sa_mask]
            .iter()
            .enumerate()
        {
            k[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        copy_to_user(oact, &k)?;
    }
    Ok(0)
}

/// rt_sigprocmask(2): EINVAL for a sigsetsize other than 8 or a bad `how`, EFAULT for bad
/// sets; SIGKILL and SIGSTOP are silently left unblocked. A signal unblocked here is
/// delivered on the way back to user space, before the call "returns". Linux:
/// `sys_rt_sigprocmask` -> `sigprocmask`.
pub fn sys_rt_sigprocmask(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::arch::aarch64::uaccess::{get_user, put_user};
    let (how, set, oset, size) = (a.0[0], a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let task = current().ok_or(Errno::ESRCH)?;
    let old = task.signal.lock().blocked;
    if set != 0 {
        let new: u64 = get_user::<u64>(set)? & !SIG_KERNEL_ONLY_MASK;
        let mask = match how {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        task.signal.lock().blocked = mask;
    }
    if oset != 0 {
        put_user(oset, old)?;
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

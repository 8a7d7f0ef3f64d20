//! Signals: sending, the per-task actions and blocked mask, delivery to user handlers.
//! Linux: `kernel/signal.c` (`send_signal`, `force_sig_info_to_task`, `get_signal`,
//! `signal_delivered`, `do_sigaction`, `sigprocmask`, `sys_kill`, `do_sigaltstack`,
//! `sys_rt_sigsuspend`, `sys_rt_sigpending`, `sys_rt_sigtimedwait`, `sys_restart_syscall`), `arch/arm64/mm/fault.c`
//! (`arm64_show_signal`: the one-line report of a fatal fault). The user stack frame a
//! handler runs on, `do_signal` (which also decides whether an interrupted system call is
//! restarted) and `rt_sigreturn` are arm64's: `arch/aarch64/signal.rs`.
//!
//! Per thread, as in Linux's `task_struct` (and kept so when threads share the actions):
//! the blocked mask, the alternate signal stack (`sas_ss_*`), the mask saved by
//! rt_sigsuspend/ppoll (`saved_sigmask`) and the `restart_block` of restart_syscall(2):
//! see [`SigThreadState`].
//!
//! Threads: actions are shared by every task cloned with CLONE_SIGHAND ([`SighandStruct`]),
//! the blocked mask and the private pending set are each thread's, and process-directed
//! signals (kill(2), SIGALRM, SIGCHLD) wait in the thread group's shared set
//! ([`SignalStruct`]) until one thread that does not block them takes them
//! (`complete_signal`); a fatal one ends the whole group. Faults, SIGPIPE, tkill and
//! tgkill go to one thread.
//!
//! Differences from Linux 5.10: one siginfo per signal (real-time signals do not queue
//! multiple instances); stop signals terminate (no job control, so no restart after
//! SIGSTOP/SIGCONT); a handler without SA_RESTORER (glibc's on arm64) returns through
//! the "[sigpage]" trampoline exec maps instead of a vDSO's `sigtramp`. Interrupted sleeps return Linux's
//! internal restart codes (pipe and console reads/writes, wait4: ERESTARTSYS; pause-like
//! rt_sigsuspend and ppoll: ERESTARTNOHAND; nanosleep: ERESTART_RESTARTBLOCK with the
//! remaining time in the `restart_block`) and `do_signal` restarts or turns them into
//! EINTR by Linux's rules.
use super::{current, find_task, Task, TaskState};
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use crate::sync::SpinLockIrq;
use crate::syscall::SyscallArgs;
use alloc::sync::Arc;
use core::ops::ControlFlow;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

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
/// CPU time limit exceeded (RLIMIT_CPU's soft limit; default: terminate with core).
pub const SIGXCPU: u32 = 24;
/// File size limit exceeded (RLIMIT_FSIZE; default: terminate with core).
pub const SIGXFSZ: u32 = 25;
/// ITIMER_VIRTUAL expired (default: terminate).
pub const SIGVTALRM: u32 = 26;
/// ITIMER_PROF expired (default: terminate).
pub const SIGPROF: u32 = 27;
/// Bad system call.
pub const SIGSYS: u32 = 31;
/// Highest signal number.
pub const NSIG: u32 = 64;

/// `sa_handler` values: the default action, or ignore (Linux: `SIG_DFL`, `SIG_IGN`).
pub const SIG_DFL: u64 = 0;
/// Ignore the signal.
pub const SIG_IGN: u64 = 1;
/// `sa_flags` of SIGCHLD: exited children are not kept as zombies (reaped at once).
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
/// `sa_flags`: the handler takes (sig, siginfo_t *, ucontext_t *).
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// `sa_flags`: `sa_restorer` is where the handler returns to (arm64 uapi).
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `sa_flags`: run the handler on the alternate signal stack (sigaltstack), unless
/// already on it.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `sa_flags`: a system call this handler interrupted with ERESTARTSYS is restarted
/// after the handler returns instead of failing with EINTR.
pub const SA_RESTART: u64 = 0x1000_0000;
/// `sa_flags`: do not block the signal while its handler runs.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `sa_flags`: reset the action to SIG_DFL when the handler is entered.
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code`: sent by kill(2) (Linux: `SI_USER`).
pub const SI_USER: i32 = 0;
/// `si_code`: sent by tkill(2) or tgkill(2) (Linux: `SI_TKILL`).
pub const SI_TKILL: i32 = -6;
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
/// `si_code` of SIGBUS: a memory error the access consumed, action required (Linux:
/// `BUS_MCEERR_AR`; `si_addr_lsb` gives its extent).
pub const BUS_MCEERR_AR: i32 = 4;
/// `si_code` of SIGILL: illegal opcode.
pub const ILL_ILLOPC: i32 = 1;

/// `stack_t.ss_flags` (reported): the thread is running on its alternate stack.
pub const SS_ONSTACK: u32 = 1;
/// `stack_t.ss_flags`: no alternate stack.
pub const SS_DISABLE: u32 = 2;
/// `stack_t.ss_flags`: disarm the alternate stack while a handler runs on it (it is
/// restored from `uc_stack` at rt_sigreturn). Linux 4.7+; same in 6.x.
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The smallest alternate stack sigaltstack accepts on arm64 (Linux:
/// `arch/arm64/include/uapi/asm/signal.h`; 6.x checks the larger `AT_MINSIGSTKSZ` the
/// CPU's SVE/SME state needs, which is this on a core without them).
pub const MINSIGSTKSZ: usize = 5120;

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
    /// log2 of the extent of a memory error at `si_addr` (BUS_MCEERR_*; Linux:
    /// `si_addr_lsb`), 0 otherwise.
    pub si_addr_lsb: u16,
}

/// Signal actions, shared by the tasks cloned with CLONE_SIGHAND: every thread of a
/// process (Linux: `struct sighand_struct`).
pub struct SighandStruct {
    /// Actions, index sig - 1 (Linux: `sighand->action`).
    /// On the heap, as a slice: an inline 64-entry array made every `Arc::new` of this
    /// struct a multi-KiB copy on the kernel stack in the unoptimised kernel.
    pub action: SpinLockIrq<alloc::boxed::Box<[KSigaction]>>,
    /// Tasks that have not exited and use these actions (Linux: `sighand->count`):
    /// above 1 after exec cut the group down to one thread, another process shares them
    /// (CLONE_SIGHAND without CLONE_THREAD), and exec must copy them.
    pub count: core::sync::atomic::AtomicUsize,
}

impl SighandStruct {
    /// Every action SIG_DFL.
    pub fn new() -> Self {
        SighandStruct {
            action: SpinLockIrq::new(
                alloc::vec![KSigaction::default(); NSIG as usize].into_boxed_slice(),
            ),
            count: core::sync::atomic::AtomicUsize::new(1),
        }
    }

    /// A copy for a child cloned without CLONE_SIGHAND (Linux: `copy_sighand`).
    pub fn copy(&self) -> Self {
        SighandStruct {
            action: SpinLockIrq::new(self.action.lock().clone()),
            count: core::sync::atomic::AtomicUsize::new(1),
        }
    }

    /// At exec: every caught signal goes back to SIG_DFL, ignored ones stay ignored;
    /// flags, restorers and masks are cleared (Linux: `flush_signal_handlers(t, 0)`).
    pub fn flush_signal_handlers(&self) {
        for ka in self.action.lock().iter_mut() {
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
}

impl Default for SighandStruct {
    fn default() -> Self {
        Self::new()
    }
}

/// What the threads of one process share of signals and exit (Linux: `struct
/// signal_struct`; our resource limits, process group and OOM settings are shared `Arc`s
/// in the task instead).
pub struct SignalStruct {
    /// Process-directed signals no thread has taken yet (Linux: `shared_pending`).
    pub shared_pending: AtomicU64,
    /// Their siginfo, index sig - 1.
    /// A heap slice, for the reason `SighandStruct::action` is.
    pub shared_info: SpinLockIrq<alloc::boxed::Box<[KSiginfo]>>,
    /// Threads that have not exited (Linux: `live`): the last one out reparents the
    /// children and lets the parent reap the group.
    pub live: AtomicI32,
    /// The group is exiting, from exit_group(2) or a fatal signal (Linux:
    /// `SIGNAL_GROUP_EXIT` in `flags`).
    pub group_exit: AtomicBool,
    /// The wait status every thread then exits with (Linux: `group_exit_code`).
    pub group_exit_code: AtomicI32,
    /// The thread whose exec is killing the others, 0 if none (Linux:
    /// `group_exit_task` set by `de_thread`): the dying threads must not start a group exit
    /// of their own, which would take the exec'ing thread with them.
    pub group_exec_task: AtomicI32,
    /// Where the process's threads sleep in wait4 (Linux: `wait_chldexit`).
    pub wait_chldexit: crate::sync::WaitQueueHead,
    /// Bumped at each child event, so a waiter knows to look again.
    pub chld_events: AtomicU64,
    /// User and system ns of the group's threads that have exited (Linux: `utime`,
    /// `stime`).
    pub dead_utime: AtomicU64,
    /// See `dead_utime`.
    pub dead_stime: AtomicU64,
    /// User and system ns of the reaped children and theirs (Linux: `cutime`, `cstime`).
    pub cutime: AtomicU64,
    /// See `cutime`.
    pub cstime: AtomicU64,
    /// ITIMER_PROF and ITIMER_VIRTUAL (Linux: `it[2]`).
    pub cpu_itimers: SpinLockIrq<[crate::kernel::posix_cpu_timers::CpuItimer; 2]>,
    /// The group's tasks (Linux: `thread_head`); walk it with `task::for_each_thread`.
    pub thread_head: SpinLockIrq<super::ThreadHead>,
}

impl SignalStruct {
    /// A new thread group of one thread.
    pub fn new() -> Self {
        SignalStruct {
            shared_pending: AtomicU64::new(0),
            shared_info: SpinLockIrq::new(
                alloc::vec![KSiginfo::default(); NSIG as usize].into_boxed_slice(),
            ),
            live: AtomicI32::new(1),
            group_exit: AtomicBool::new(false),
            group_exit_code: AtomicI32::new(0),
            group_exec_task: AtomicI32::new(0),
            wait_chldexit: crate::sync::WaitQueueHead::new(),
            chld_events: AtomicU64::new(0),
            dead_utime: AtomicU64::new(0),
            dead_stime: AtomicU64::new(0),
            cutime: AtomicU64::new(0),
            cstime: AtomicU64::new(0),
            cpu_itimers: SpinLockIrq::new(Default::default()),
            thread_head: SpinLockIrq::new(super::ThreadHead::new()),
        }
    }
}

impl SignalStruct {
    /// Is the group going away, by exit_group or a fatal signal, or being cut down to one
    /// thread by exec (Linux: `signal_group_exit`)?
    pub fn signal_group_exit(&self) -> bool {
        self.group_exit.load(Ordering::SeqCst) || self.group_exec_task.load(Ordering::SeqCst) != 0
    }
}

impl Default for SignalStruct {
    fn default() -> Self {
        Self::new()
    }
}

/// The alternate signal stack of one thread (Linux: `task_struct::sas_ss_sp`,
/// `sas_ss_size`, `sas_ss_flags`). Size 0 means none (SS_DISABLE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAltStack {
    /// Lowest address of the stack.
    pub sas_ss_sp: u64,
    /// Its size in bytes; 0: disabled.
    pub sas_ss_size: u64,
    /// The flag bits set with it (SS_AUTODISARM).
    pub sas_ss_flags: u32,
}

impl SigAltStack {
    /// Is `sp` inside the alternate stack? Stacks grow down, so its top byte counts and its
    /// base does not. With SS_AUTODISARM the answer is always no: the stack is disarmed
    /// while in use, so a nested signal may take it again (Linux: `on_sig_stack`).
    pub fn on_sig_stack(&self, sp: u64) -> bool {
        if self.sas_ss_flags & SS_AUTODISARM != 0 {
            return false;
        }
        sp > self.sas_ss_sp && sp - self.sas_ss_sp <= self.sas_ss_size
    }

    /// The `ss_flags` sigaltstack and `uc_stack` report for a thread whose sp is `sp`:
    /// SS_DISABLE, SS_ONSTACK or 0 (Linux: `sas_ss_flags`).
    pub fn sas_ss_flags(&self, sp: u64) -> u32 {
        if self.sas_ss_size == 0 {
            SS_DISABLE
        } else if self.on_sig_stack(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }

    /// Where a handler's frame goes: the top of the alternate stack for an SA_ONSTACK
    /// handler when one is set and we are not already on it, else below `sp` (Linux:
    /// `sigsp`).
    pub fn sigsp(&self, sp: u64, sa_flags: u64) -> u64 {
        if sa_flags & SA_ONSTACK != 0 && self.sas_ss_flags(sp) == 0 {
            self.sas_ss_sp.wrapping_add(self.sas_ss_size)
        } else {
            sp
        }
    }

    /// Forget the stack (Linux: `sas_ss_reset`): exec, SS_AUTODISARM on handler entry.
    pub fn sas_ss_reset(&mut self) {
        *self = SigAltStack {
            sas_ss_sp: 0,
            sas_ss_size: 0,
            sas_ss_flags: SS_DISABLE,
        };
    }

    /// The `stack_t` to report (sigaltstack's old stack, a frame's `uc_stack`): base, the
    /// flags for `sp` plus the stored flag bits, size (Linux: `do_sigaltstack`'s `oss`,
    /// `__save_altstack`).
    pub fn report(&self, sp: u64) -> (u64, u32, u64) {
        (
            self.sas_ss_sp,
            self.sas_ss_flags(sp) | (self.sas_ss_flags & SS_AUTODISARM),
            self.sas_ss_size,
        )
    }

    /// Install a new stack (`ss_sp`, `ss_flags`, `ss_size`) for a thread whose sp is
    /// `sp`: EPERM while running on the current one, EINVAL for a mode other than 0,
    /// SS_ONSTACK (accepted as 0, for old programs) or SS_DISABLE, or for unknown flag
    /// bits, ENOMEM for an enabled stack smaller than `min_size`. SS_DISABLE clears base
    /// and size. Linux: `do_sigaltstack` (the `ss` half).
    pub fn do_sigaltstack(
        &mut self,
        ss_sp: u64,
        ss_flags: u32,
        ss_size: u64,
        sp: u64,
        min_size: usize,
    ) -> KResult<()> {
        if self.on_sig_stack(sp) {
            return Err(Errno::EPERM);
        }
        let mode = ss_flags & !SS_AUTODISARM;
        if !matches!(mode, 0 | SS_ONSTACK | SS_DISABLE) {
            return Err(Errno::EINVAL);
        }
        let (base, size) = if mode == SS_DISABLE {
            (0, 0)
        } else if ss_size < min_size as u64 {
            return Err(Errno::ENOMEM);
        } else {
            (ss_sp, ss_size)
        };
        *self = SigAltStack {
            sas_ss_sp: base,
            sas_ss_size: size,
            sas_ss_flags: ss_flags,
        };
        Ok(())
    }
}

/// How restart_syscall(2) continues a system call a signal interrupted with
/// ERESTART_RESTARTBLOCK (Linux: `struct restart_block` and its `fn`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartBlock {
    /// Nothing to continue: restart_syscall returns EINTR (Linux:
    /// `do_no_restart_syscall`). Set again by rt_sigreturn.
    #[default]
    None,
    /// nanosleep until the monotonic clock reaches `expires` (ns), writing the remaining
    /// time to `rmtp` if interrupted again (Linux: `hrtimer_nanosleep_restart`).
    Nanosleep {
        /// Absolute deadline, ns of the monotonic clock.
        expires: u64,
        /// User address of the remaining-time timespec, 0 for none.
        rmtp: usize,
    },
}

/// The signal state that belongs to one thread, not to the process (Linux keeps it in
/// `task_struct`): the alternate stack, the mask rt_sigsuspend/ppoll replaced, and the
/// restart block. Threads (when they come) each get their own: `fork_copy` inherits the
/// altstack; a new thread (clone with CLONE_VM, not CLONE_VFORK) must start with it
/// reset, as Linux's `copy_process` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigThreadState {
    /// sigaltstack(2)'s stack (Linux: `sas_ss_sp`, `sas_ss_size`, `sas_ss_flags`).
    pub altstack: SigAltStack,
    /// The blocked mask to put back on the way to user space, when a system call set a
    /// temporary one (Linux: `saved_sigmask` + TIF_RESTORE_SIGMASK).
    pub saved_sigmask: Option<u64>,
    /// What restart_syscall(2) continues (Linux: `restart_block`).
    pub restart_block: RestartBlock,
}

/// One thread's signal state: blocked mask, the siginfo of each privately pending signal,
/// the last fault and [`SigThreadState`] (Linux: `blocked`, the `pending` queue's siginfo,
/// `thread.fault_address` / `thread.fault_code`, `sas_ss_*`, `saved_sigmask`,
/// `restart_block`). `Task::pending` holds the private pending set; the actions are the
/// thread group's ([`SighandStruct`]).
#[derive(Clone)]
pub struct SignalState {
    /// Blocked signals (never SIGKILL or SIGSTOP).
    pub blocked: u64,
    /// The siginfo of each pending signal, index sig - 1.
    pub info: [KSiginfo; NSIG as usize],
    /// FAR of the last user fault (the sigcontext's `fault_address`).
    pub fault_address: u64,
    /// ESR of the last user fault, 0 if none (an `esr_context` record when non-zero).
    pub fault_code: u64,
    /// Per-thread state: altstack, saved mask, restart block.
    pub thread: SigThreadState,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState {
            blocked: 0,
            info: [KSiginfo::default(); NSIG as usize],
            fault_address: 0,
            fault_code: 0,
            thread: SigThreadState::default(),
        }
    }
}

impl SignalState {
    /// The state a new task starts with: the same mask and alternate stack, nothing
    /// pending (Linux: `p->blocked = current->blocked`, `init_sigpending`; `sas_ss_*` come
    /// with the copied `task_struct`, and `copy_process` resets them for a CLONE_VM child
    /// that is not a vfork: see `alloc_task`).
    pub fn fork_copy(&self) -> alloc::boxed::Box<Self> {
        let mut b = alloc::boxed::Box::<SignalState>::default();
        b.blocked = self.blocked;
        b.thread.altstack = self.thread.altstack;
        b
    }
}

/// Would `sig` be thrown away on arrival at `t`? Not if `t` blocks it (it may be
/// unblocked after a handler is installed); otherwise when its action is SIG_IGN, or
/// SIG_DFL with a default of ignore. Linux: `sig_ignored` -> `sig_task_ignored`.
fn sig_ignored(t: &Task, sig: u32) -> bool {
    if t.signal.lock().blocked & sigmask(sig) != 0 {
        return false;
    }
    let h = t.sighand().action.lock()[sig as usize - 1].sa_handler;
    h == SIG_IGN || (h == SIG_DFL && sig_ignored_by_default(sig))
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

/// Who a signal is for (Linux: `enum pid_type`): one thread, or the whole thread group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidType {
    /// That thread only (faults, SIGPIPE, tkill, tgkill; Linux: `PIDTYPE_PID`).
    Pid,
    /// Any thread of the process (kill, SIGALRM, SIGCHLD; Linux: `PIDTYPE_TGID`).
    Tgid,
}

/// Queue a process-directed `sig` with `info` for the thread group of `task` (Linux:
/// `group_send_sig_info` -> `send_signal(.., PIDTYPE_TGID)`).
pub fn send_signal_info(task: &Arc<Task>, sig: u32, info: KSiginfo) {
    __send_signal(task, sig, info, PidType::Tgid);
}

/// Queue `sig` for the thread `task` alone (Linux: `send_sig_info`, PIDTYPE_PID).
pub fn send_sig_info(task: &Arc<Task>, sig: u32, info: KSiginfo) {
    __send_signal(task, sig, info, PidType::Pid);
}

/// Queue `sig` with `info` on `t`'s private set or its group's shared set, then find a
/// thread to take it (Linux: `__send_signal` -> `prepare_signal`, `sigaddset`,
/// `complete_signal`). An ignored signal is dropped; a standard signal already pending
/// keeps its first siginfo (Linux: `legacy_queue`).
#[no_mangle]
#[inline(never)]
pub fn __send_signal(t: &Arc<Task>, sig: u32, info: KSiginfo, ty: PidType) {
    if sig_ignored(t, sig) {
        return;
    }
    let bit = sigmask(sig);
    match ty {
        PidType::Pid => {
            if t.pending.load(Ordering::SeqCst) & bit == 0 {
                t.signal.lock().info[sig as usize - 1] = info;
            }
            t.pending.fetch_or(bit, Ordering::SeqCst);
        }
        PidType::Tgid => {
            let mut shared = t.sig.shared_info.lock();
            if t.sig.shared_pending.load(Ordering::SeqCst) & bit == 0 {
                shared[sig as usize - 1] = info;
            }
            t.sig.shared_pending.fetch_or(bit, Ordering::SeqCst);
        }
    }
    complete_signal(sig, t, ty);
}

/// Does `t` block `sig`?
fn blocks(t: &Task, sig: u32) -> bool {
    t.signal.lock().blocked & sigmask(sig) != 0
}

/// Would `sig` kill the process when delivered: no handler, a default action that
/// terminates (Linux: `sig_fatal`).
fn sig_fatal(t: &Task, sig: u32) -> bool {
    sig == SIGKILL
        || (t.sighand().action.lock()[sig as usize - 1].sa_handler == SIG_DFL
            && !sig_ignored_by_default(sig))
}

/// Pick the thread that will take a newly queued `sig` and wake it: `p` itself if it
/// does not block it, else (for a process-directed signal) any thread of the group that
/// does not; nobody if all block it (it stays pending). A fatal signal starts the group's
/// exit at once: every thread gets SIGKILL (Linux: `complete_signal`, `wants_signal`;
/// core-dumping signals are left to the thread that dequeues them, as in Linux).
#[no_mangle]
#[inline(never)]
pub fn complete_signal(sig: u32, p: &Arc<Task>, ty: PidType) {
    let wants = |t: &Task| {
        !matches!(t.state(), TaskState::Zombie | TaskState::Dead)
            && (sig == SIGKILL || !blocks(t, sig))
    };
    let target = if wants(p) {
        Some(p.clone())
    } else if ty == PidType::Pid || p.sig.live.load(Ordering::SeqCst) <= 1 {
        None
    } else {
        super::find_thread(p, wants)
    };
    let Some(t) = target else { return };
    if sig_fatal(p, sig) && !p.sig.signal_group_exit() && !sig_coredump(sig) {
        // The whole group dies: the status is the signal (Linux: SIGNAL_GROUP_EXIT,
        // group_exit_code = sig, SIGKILL to every thread).
        p.sig.group_exit_code.store(sig as i32, Ordering::SeqCst);
        p.sig.group_exit.store(true, Ordering::SeqCst);
        super::for_each_thread(p, |th| {
            th.pending.fetch_or(sigmask(SIGKILL), Ordering::SeqCst);
            signal_wake_up(th);
            ControlFlow::Continue(())
        });
        return;
    }
    signal_wake_up(&t);
}

/// SIGKILL to every other thread of `me`'s process, for exit_group(2) or exec (Linux:
/// `zap_other_threads`).
pub fn zap_other_threads(me: &Task) {
    super::for_each_thread(me, |t| {
        if !core::ptr::eq(&**t, me) {
            t.pending.fetch_or(sigmask(SIGKILL), Ordering::SeqCst);
            signal_wake_up(t);
        }
        ControlFlow::Continue(())
    });
}

/// Wake `t` if it sleeps interruptibly, so it sees the signal (Linux: `signal_wake_up`;
/// our killable sleeps are interruptible ones that only stop for SIGKILL).
fn signal_wake_up(t: &Arc<Task>) {
    if t.state() == TaskState::Interruptible {
        super::wake_up_process(t);
    }
}

/// Queue a process-directed `sig` from the kernel, with no details (SI_KERNEL).
pub fn send_signal(task: &Arc<Task>, sig: u32) {
    send_signal_info(task, sig, kernel_info(sig));
}

/// Queue `sig` from the kernel for the thread `task` alone (Linux: `send_sig(sig, t, 1)`:
/// SIGPIPE).
pub fn send_sig(task: &Arc<Task>, sig: u32) {
    send_sig_info(task, sig, kernel_info(sig));
}

fn kernel_info(sig: u32) -> KSiginfo {
    KSiginfo {
        si_signo: sig,
        si_code: SI_KERNEL,
        ..KSiginfo::default()
    }
}

/// Is a signal the current task does not block pending, its own or its group's? (Linux:
/// `signal_pending`, TIF_SIGPENDING being set only for unblocked signals.)
pub fn signal_pending() -> bool {
    super::with_current(|t| {
        let pending =
            t.pending.load(Ordering::SeqCst) | t.sig.shared_pending.load(Ordering::SeqCst);
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
    force_sig_fault_lsb(sig, si_code, 0, regs, cause)
}

/// A memory error the program touched: SIGBUS with `code` (BUS_MCEERR_AR) and the
/// error's extent, `lsb` = log2 of its size (Linux: `arm64_force_sig_mceerr` ->
/// `force_sig_mceerr`). Forced and reported as `force_sig_fault`.
pub fn force_sig_mceerr(code: i32, lsb: u16, regs: &PtRegs, cause: impl core::fmt::Display) {
    force_sig_fault_lsb(SIGBUS, code, lsb, regs, cause)
}

fn force_sig_fault_lsb(
    sig: u32,
    si_code: i32,
    si_addr_lsb: u16,
    regs: &PtRegs,
    cause: impl core::fmt::Display,
) {
    let Some(task) = current() else { return };
    let esr = crate::arch::aarch64::esr::Esr { raw: regs.esr };
    let addr = if esr.is_abort() { regs.far } else { regs.pc };
    let handled = {
        let mut st = task.signal.lock();
        let sighand = task.sighand();
        let mut action = sighand.action.lock();
        let bit = sigmask(sig);
        if action[sig as usize - 1].sa_handler == SIG_IGN || st.blocked & bit != 0 {
            action[sig as usize - 1].sa_handler = SIG_DFL;
            st.blocked &= !bit;
        }
        if esr.is_abort() {
            st.fault_address = addr;
            st.fault_code = regs.esr;
        }
        sig != SIGKILL && action[sig as usize - 1].sa_handler != SIG_DFL
    };
    if !handled {
        pr_info!(
            "{}[{}]: {} at {:#x} pc {:#x}: {} (esr {:#010x})",
            task.comm(),
            task.pid(),
            signame(sig),
            addr,
            regs.pc,
            cause,
            regs.esr
        );
    }
    send_sig_info(
        &task,
        sig,
        KSiginfo {
            si_signo: sig,
            si_code,
            si_addr: addr,
            si_addr_lsb,
            ..KSiginfo::default()
        },
    );
}

/// Take the next deliverable signal: the thread's own first, then its group's; in each,
/// a fault first, then the lowest number (Linux: `dequeue_signal` -> `__dequeue_signal`
/// on `pending`, then `shared_pending`; `next_signal`).
fn dequeue_signal(task: &Task, st: &SignalState) -> Option<(u32, KSiginfo)> {
    dequeue_signal_mask(task, st, st.blocked)
}

/// [`dequeue_signal`] of the signals not in `mask` (rt_sigtimedwait passes the complement
/// of its set).
fn dequeue_signal_mask(task: &Task, st: &SignalState, mask: u64) -> Option<(u32, KSiginfo)> {
    let pick = |set: u64| {
        let sync = set & SYNCHRONOUS_MASK;
        (if sync != 0 { sync } else { set }).trailing_zeros() + 1
    };
    let private = task.pending.load(Ordering::SeqCst) & !mask;
    if private != 0 {
        let sig = pick(private);
        task.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
        return Some((sig, st.info[sig as usize - 1]));
    }
    let shared = task.sig.shared_pending.load(Ordering::SeqCst) & !mask;
    if shared == 0 {
        return None;
    }
    let sig = pick(shared);
    let info = task.sig.shared_info.lock()[sig as usize - 1];
    task.sig
        .shared_pending
        .fetch_and(!sigmask(sig), Ordering::SeqCst);
    Some((sig, info))
}

/// A signal `get_signal` chose for a handler (Linux: `struct ksignal`).
#[derive(Clone, Copy, Debug)]
pub struct KSignal {
    /// The signal.
    pub sig: u32,
    /// Its action as it was when dequeued (before SA_RESETHAND reset it).
    pub ka: KSigaction,
    /// Its siginfo.
    pub info: KSiginfo,
}

/// Take pending signals until one has a handler to run: skip ignored ones, end the
/// process for a fatal one (does not return then), and hand back the one to deliver, its
/// action reset first for SA_RESETHAND. None when nothing deliverable is left. Linux:
/// `get_signal` (`dequeue_signal`, SA_ONESHOT, `do_group_exit`).
#[no_mangle]
#[inline(never)]
pub fn get_signal() -> Option<KSignal> {
    let task = current()?;
    loop {
        let (sig, info, ka) = {
            let st = task.signal.lock();
            let (sig, info) = dequeue_signal(&task, &st)?;
            let sighand = task.sighand();
            let mut action = sighand.action.lock();
            let ka = action[sig as usize - 1];
            let caught = sig != SIGKILL && ka.sa_handler != SIG_DFL && ka.sa_handler != SIG_IGN;
            if caught && ka.sa_flags & SA_RESETHAND != 0 {
                action[sig as usize - 1].sa_handler = SIG_DFL; // Linux: SA_ONESHOT
            }
            drop(action);
            (sig, info, ka)
        };
        if sig == SIGKILL || ka.sa_handler == SIG_DFL {
            if sig != SIGKILL && sig_ignored_by_default(sig) {
                continue;
            }
            // Init takes no default action for a signal a process sent it (one it had
            // blocked when it came); a fault (si_code > 0) still kills it. Linux:
            // get_signal's SIGNAL_UNKILLABLE test, which force_sig clears.
            if task.tgid == 1 && sig != SIGKILL && info.si_code <= 0 {
                continue;
            }
            // Linux: get_signal -> do_coredump for SIG_KERNEL_COREDUMP_MASK; the wait
            // status's core bit says whether a core was written.
            let dumped = sig_coredump(sig) && {
                let top = task.kstack_top() - core::mem::size_of::<PtRegs>();
                // SAFETY: a user task's entry frame sits at the top of its kernel stack,
                // where every exception from EL0 saves the user registers.
                let regs = unsafe { &*(top as *const PtRegs) };
                crate::fs::coredump::do_coredump(&task, sig, regs)
            };
            drop(task);
            let status = sig | if dumped { 0x80 } else { 0 };
            super::exit::do_group_exit(status as i32);
        }
        if ka.sa_handler == SIG_IGN {
            continue;
        }
        return Some(KSignal { sig, ka, info });
    }
}

/// The blocked mask a handler's frame saves for rt_sigreturn to restore: the one a
/// system call (rt_sigsuspend, ppoll) replaced for its sleep, if any, else the current
/// one (Linux: `sigmask_to_save`).
pub fn sigmask_to_save(st: &SignalState) -> u64 {
    st.thread.saved_sigmask.unwrap_or(st.blocked)
}

/// No handler was entered: put back the mask a system call replaced (Linux:
/// `restore_saved_sigmask`).
pub fn restore_saved_sigmask() {
    super::with_current(|t| {
        let mut st = t.signal.lock();
        if let Some(m) = st.thread.saved_sigmask.take() {
            st.blocked = m & !SIG_KERNEL_ONLY_MASK;
        }
    });
}

/// After the frame for `ksig` was built (or not: `failed`): on success block `sa_mask`
/// and the signal itself unless SA_NODEFER, and forget the saved mask (the frame holds
/// it now); on failure force SIGSEGV, which the return-to-user loop delivers next (it
/// kills when the failed handler was SIGSEGV's own). Linux: `signal_setup_done` ->
/// `signal_delivered` / `force_sigsegv`.
#[no_mangle]
#[inline(never)]
pub fn signal_setup_done(failed: bool, ksig: &KSignal) {
    let Some(task) = current() else { return };
    if failed {
        {
            if ksig.sig == SIGSEGV {
                task.sighand().action.lock()[SIGSEGV as usize - 1].sa_handler = SIG_DFL;
            }
            task.signal.lock().blocked &= !sigmask(SIGSEGV);
        }
        send_sig(&task, SIGSEGV);
        return;
    }
    let mut st = task.signal.lock();
    let mut block = ksig.ka.sa_mask;
    if ksig.ka.sa_flags & SA_NODEFER == 0 {
        block |= sigmask(ksig.sig);
    }
    st.blocked = (st.blocked | block) & !SIG_KERNEL_ONLY_MASK;
    st.thread.saved_sigmask = None;
    st.fault_code = 0;
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
        if task.pid() == 0 {
            return Err(Errno::EPERM);
        }
        return kill_one(&me, &task, sig, PidType::Tgid).map(|()| 0);
    }
    // A group (0: the caller's, -N: group N) or every process but init and the caller
    // (-1). Linux: `kill_something_info` -> `__kill_pgrp_info`: success if one target
    // took it, else the last error; ESRCH when there is none.
    if pid == i32::MIN {
        return Err(Errno::ESRCH); // -INT_MIN has no group (Linux: ESRCH)
    }
    let pgrp = if pid == 0 {
        me.pgid.load(Ordering::Relaxed)
    } else {
        -pid
    };
    // Every live user process, by its main thread (Linux: `for_each_process` /
    // `do_each_pid_task(PIDTYPE_PGID)`), walked without collecting them.
    let mut result = Err(Errno::ESRCH);
    super::for_each_process_thread(|t| {
        let process = t.pid() == t.tgid
            && t.state() != TaskState::Zombie
            && t.pid() > 0
            && t.mm.lock().is_some();
        let target = process
            && if pid == -1 {
                t.tgid != 1 && t.tgid != me.tgid
            } else {
                t.pgid.load(Ordering::Relaxed) == pgrp
            };
        if target {
            match kill_one(&me, t, sig, PidType::Tgid) {
                Ok(()) => result = Ok(0),
                Err(e) if result.is_err() => result = Err(e),
                Err(_) => {}
            }
        }
        ControlFlow::Continue(())
    });
    result
}

/// Send `sig` (0: only check) from `me` to `task` (its group for `PidType::Tgid`): EPERM
/// unless root or the same user (Linux: `check_kill_permission`).
fn kill_one(me: &Arc<Task>, task: &Arc<Task>, sig: u32, ty: PidType) -> KResult<()> {
    // Two statements: the guards must not overlap (kill(getpid()) locks the same task).
    let mine = *me.cred.lock();
    let theirs = *task.cred.lock();
    if mine.euid != 0 && mine.euid != theirs.uid && mine.uid != theirs.uid {
        return Err(Errno::EPERM);
    }
    if sig != 0
        && task.state() != TaskState::Zombie
        && !init_ignores(task, sig)
        && !kthread_ignores(task)
    {
        let info = KSiginfo {
            si_signo: sig,
            si_code: if ty == PidType::Pid {
                SI_TKILL
            } else {
                SI_USER
            },
            si_pid: me.tgid,
            si_uid: mine.uid,
            ..KSiginfo::default()
        };
        __send_signal(task, sig, info, ty);
    }
    Ok(())
}

/// tkill(2): `sig` to the thread `tid` alone (Linux: `sys_tkill` -> `do_tkill(0, tid)`).
/// EINVAL for tid <= 0 or a bad signal, ESRCH when no such thread.
pub fn sys_tkill(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_tkill(0, a.0[0] as i32, a.0[1] as u32)
}

/// tgkill(2): `sig` to the thread `tid` if it belongs to process `tgid` (Linux:
/// `sys_tgkill`); EINVAL for tgid or tid <= 0, ESRCH when `tid` is not in `tgid`.
pub fn sys_tgkill(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let tgid = a.0[0] as i32;
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    do_tkill(tgid, a.0[1] as i32, a.0[2] as u32)
}

/// Linux: `do_tkill` -> `do_send_specific`: a zombie thread takes nothing but exists.
fn do_tkill(tgid: i32, tid: i32, sig: u32) -> KResult<usize> {
    if tid <= 0 || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    let t = find_task(tid).ok_or(Errno::ESRCH)?;
    if t.pid() == 0 || (tgid > 0 && t.tgid != tgid) || t.state() == TaskState::Dead {
        return Err(Errno::ESRCH);
    }
    kill_one(&me, &t, sig, PidType::Pid).map(|()| 0)
}

/// Kernel threads (kswapd0, ktimerd...) take no signal a process sends, SIGKILL
/// included: kill(2) returns 0 and nothing happens (Linux: kthreads run with every signal
/// ignored, `ignore_signals`, and `sig_task_ignored` drops user-sent ones). Only the
/// kernel's own sends reach them (the final reaper's SIGKILL). Found by the fuzz
/// campaign: init killed pid 3, ktimerd, from a garbage word, and its alarms stopped.
fn kthread_ignores(task: &Task) -> bool {
    task.pid() != 0 && task.mm.lock().is_none()
}

/// Does the global init (pid 1) throw away `sig` sent by kill(2)/tkill(2) (itself or any
/// other process, root included; the call still returns 0)? It never takes SIGKILL or
/// SIGSTOP from user space, nor any signal whose action is SIG_DFL: nothing a process
/// sends can end init (Linux: `sig_task_ignored`, `is_global_init` and
/// SIGNAL_UNKILLABLE). A signal init blocks is queued, as in Linux, and dropped at
/// delivery if its action is still SIG_DFL (`get_signal`). Fault signals
/// (`force_sig_fault`) do not come here: a faulting init dies, as in Linux
/// (`force_sig_info_to_task` clears SIGNAL_UNKILLABLE).
fn init_ignores(task: &Task, sig: u32) -> bool {
    task.tgid == 1
        && (sigmask(sig) & SIG_KERNEL_ONLY_MASK != 0
            || (task.signal.lock().blocked & sigmask(sig) == 0
                && task.sighand().action.lock()[sig as usize - 1].sa_handler == SIG_DFL))
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
        let sighand = task.sighand();
        let mut action = sighand.action.lock();
        let old = action[sig as usize - 1];
        if let Some(ka) = new {
            action[sig as usize - 1] = ka;
            let ignored = ka.sa_handler == SIG_IGN
                || (ka.sa_handler == SIG_DFL && sig_ignored_by_default(sig));
            if ignored {
                // Linux: flush_sigqueue_mask on the shared set and every thread's own.
                drop(action);
                task.sig
                    .shared_pending
                    .fetch_and(!sigmask(sig), Ordering::SeqCst);
                super::for_each_thread(&task, |t| {
                    t.pending.fetch_and(!sigmask(sig), Ordering::SeqCst);
                    ControlFlow::Continue(())
                });
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

/// Run `f` on the current thread's alternate stack settings (rt_sigreturn's
/// `restore_altstack`, SS_AUTODISARM on handler entry).
pub fn with_altstack<R>(f: impl FnOnce(&mut SigAltStack) -> R) -> Option<R> {
    super::with_current(|t| f(&mut t.signal.lock().thread.altstack))
}

/// Set what restart_syscall(2) continues for the current thread (Linux: writing
/// `current->restart_block`).
pub fn set_restart_block(rb: RestartBlock) {
    super::with_current(|t| t.signal.lock().thread.restart_block = rb);
}

/// sigaltstack(2): report the old stack (`ss_flags` SS_ONSTACK while the caller runs on
/// it, SS_DISABLE when there is none, plus SS_AUTODISARM if set), install a new one
/// (`SigAltStack::do_sigaltstack`: EPERM, EINVAL, ENOMEM). EFAULT for an unreadable new
/// `stack_t` before anything changes; for an unwritable old one after the new stack is
/// in place, as in Linux. Linux: `sys_sigaltstack` -> `do_sigaltstack`.
pub fn sys_sigaltstack(a: SyscallArgs, regs: &mut PtRegs) -> KResult<usize> {
    use crate::arch::aarch64::uaccess::{copy_from_user, copy_to_user};
    let (ss, old) = (a.0[0], a.0[1]);
    let new = if ss != 0 {
        // stack_t { void *ss_sp; int ss_flags; size_t ss_size; }, read whole: a range
        // running past the top of the address space is EFAULT, not an overflow.
        let mut st = [0u8; 24];
        copy_from_user(&mut st, ss)?;
        let word = |i: usize| u64::from_le_bytes(st[i..i + 8].try_into().unwrap());
        Some((
            word(0),
            u32::from_le_bytes(st[8..12].try_into().unwrap()),
            word(16),
        ))
    } else {
        None
    };
    let task = current().ok_or(Errno::ESRCH)?;
    let reported = {
        let mut sig = task.signal.lock();
        let alt = &mut sig.thread.altstack;
        let reported = alt.report(regs.sp);
        if let Some((sp, flags, size)) = new {
            alt.do_sigaltstack(sp, flags, size, regs.sp, MINSIGSTKSZ)?;
        }
        reported
    };
    if old != 0 {
        let mut st = [0u8; 24];
        st[0..8].copy_from_slice(&reported.0.to_le_bytes());
        st[8..12].copy_from_slice(&reported.1.to_le_bytes());
        st[16..24].copy_from_slice(&reported.2.to_le_bytes());
        copy_to_user(old, &st)?;
    }
    Ok(0)
}

/// rt_sigsuspend(2) (what pause(3) and sigsuspend(3) are on arm64): replace the blocked
/// mask with the given one (SIGKILL and SIGSTOP stay unblocked) and sleep until a signal
/// it lets through is pending. Returns ERESTARTNOHAND with the old mask saved, so that
/// the handler's frame restores the old mask at rt_sigreturn and the call fails with
/// EINTR; a signal that runs no handler restarts it. EINVAL for a sigsetsize other than
/// 8, EFAULT for a bad set. Linux: `sys_rt_sigsuspend` -> `sigsuspend`.
#[no_mangle]
#[inline(never)]
pub fn sys_rt_sigsuspend(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    if a.0[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let newset: u64 = crate::arch::aarch64::uaccess::get_user::<u64>(a.0[0])?;
    let me = current().ok_or(Errno::ESRCH)?;
    {
        let mut st = me.signal.lock();
        st.thread.saved_sigmask = Some(st.blocked);
        st.blocked = newset & !SIG_KERNEL_ONLY_MASK;
    }
    loop {
        // Set the state before testing, so a signal sent in between wakes us.
        me.set_state(TaskState::Interruptible);
        if signal_pending() {
            break;
        }
        super::schedule();
    }
    me.set_state(TaskState::Running);
    Err(Errno::ERESTARTNOHAND)
}

/// Install a temporary blocked mask for the duration of a system call that sleeps for a
/// signal (ppoll's `sigmask`): the old one is saved and put back on the way to user
/// space, or by the handler's rt_sigreturn when a signal interrupts the call. Linux:
/// `set_user_sigmask` (`saved_sigmask`, `set_restore_sigmask`).
pub fn set_user_sigmask(mask: u64) {
    super::with_current(|t| {
        let mut st = t.signal.lock();
        if st.thread.saved_sigmask.is_none() {
            st.thread.saved_sigmask = Some(st.blocked);
        }
        st.blocked = mask & !SIG_KERNEL_ONLY_MASK;
    });
}

/// rt_sigpending(2): the signals pending while blocked. EINVAL for a sigsetsize above 8
/// (a smaller one copies that many bytes, as Linux does), EFAULT for a bad pointer.
/// Linux: `sys_rt_sigpending` -> `do_sigpending`.
pub fn sys_rt_sigpending(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (uset, size) = (a.0[0], a.0[1]);
    if size > 8 {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    // The thread's own and its process's (Linux: `pending` | `shared_pending`).
    let pending = me.pending.load(Ordering::SeqCst) | me.sig.shared_pending.load(Ordering::SeqCst);
    let set = pending & me.signal.lock().blocked;
    crate::arch::aarch64::uaccess::copy_to_user(uset, &set.to_le_bytes()[..size])?;
    Ok(0)
}

/// restart_syscall(2): continue the system call a signal interrupted with
/// ERESTART_RESTARTBLOCK (`do_signal` points x8 here when no handler ran). Called by a
/// program directly, or after rt_sigreturn, there is nothing to continue: EINTR.
/// Linux: `sys_restart_syscall` (`restart_block.fn`, `do_no_restart_syscall`).
#[no_mangle]
#[inline(never)]
pub fn sys_restart_syscall(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let rb = super::with_current(|t| t.signal.lock().thread.restart_block).unwrap_or_default();
    match rb {
        RestartBlock::None => Err(Errno::EINTR),
        RestartBlock::Nanosleep { expires, rmtp } => {
            crate::kernel::sys::do_nanosleep(expires, rmtp).map(|()| 0)
        }
    }
}

/// rt_sigtimedwait(2): take a pending signal of `uthese` without running its handler,
/// sleeping for one (those signals unblocked meanwhile, so that they wake us) until the
/// timeout: the signal number, with its siginfo written to `uinfo` if given. EAGAIN when
/// the timeout passes (at once for a zero one), EINTR when another signal, one with a
/// handler, ends the wait (never restarted, as in Linux). EINVAL for a sigsetsize other
/// than 8 or an invalid timeout; EFAULT for bad pointers. Linux: `sys_rt_sigtimedwait` ->
/// `do_sigtimedwait`.
#[no_mangle]
#[inline(never)]
pub fn sys_rt_sigtimedwait(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::arch::aarch64::uaccess::get_user;
    let (uthese, uinfo, uts, size) = (a.0[0], a.0[1], a.0[2], a.0[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let these = get_user::<u64>(uthese)? & !SIG_KERNEL_ONLY_MASK;
    let now = crate::kernel::sys::ktime_get_ns();
    let deadline = if uts != 0 {
        Some(now.saturating_add(crate::kernel::sys::get_timespec_ns(uts)?))
    } else {
        None
    };
    let me = current().ok_or(Errno::ESRCH)?;
    // dequeue_signal with the caller's set as the mask: faults first, then the lowest.
    let take = || {
        let st = me.signal.lock();
        dequeue_signal_mask(&me, &st, !these)
    };
    let mut got = take();
    if got.is_none() && deadline != Some(now) {
        // Linux: `real_blocked`: the waited-for signals are let through for the sleep.
        let real_blocked = {
            let mut st = me.signal.lock();
            let old = st.blocked;
            st.blocked &= !these;
            old
        };
        let _ = match deadline {
            Some(end) => crate::kernel::hrtimer::schedule_hrtimeout(
                end,
                crate::sync::wait::SleepState::Interruptible,
            ),
            None => crate::sync::wait::WaitQueueHead::new().wait_event_interruptible(|| false),
        };
        me.signal.lock().blocked = real_blocked;
        got = take();
    }
    match got {
        Some((sig, info)) => {
            if uinfo != 0 {
                crate::arch::aarch64::signal::copy_siginfo_to_user(uinfo, &info)?;
            }
            Ok(sig as usize)
        }
        None if deadline.is_some_and(|d| crate::kernel::sys::ktime_get_ns() >= d) => {
            Err(Errno::EAGAIN)
        }
        None => Err(Errno::EINTR),
    }
}

#[cfg(test)]
mod altstack_tests {
    use super::*;

    const BASE: u64 = 0x10_0000;
    const SIZE: u64 = 0x4000;

    fn armed(flags: u32) -> SigAltStack {
        let mut s = SigAltStack::default();
        s.do_sigaltstack(BASE, flags, SIZE, 0x7fff_0000, MINSIGSTKSZ)
            .unwrap();
        s
    }

    #[test]
    fn on_sig_stack_counts_the_top_and_not_the_base() {
        let s = armed(0);
        assert!(s.on_sig_stack(BASE + SIZE));
        assert!(s.on_sig_stack(BASE + 1));
        assert!(!s.on_sig_stack(BASE));
        assert!(!s.on_sig_stack(BASE + SIZE + 1));
        assert_eq!(s.sas_ss_flags(BASE + 16), SS_ONSTACK);
        assert_eq!(s.sas_ss_flags(0x7fff_0000), 0);
        assert_eq!(SigAltStack::default().sas_ss_flags(BASE + 16), SS_DISABLE);
    }

    #[test]
    fn sigsp_takes_the_alt_stack_only_for_sa_onstack_and_not_twice() {
        let s = armed(0);
        assert_eq!(s.sigsp(0x7fff_0000, SA_ONSTACK), BASE + SIZE);
        assert_eq!(s.sigsp(0x7fff_0000, 0), 0x7fff_0000);
        // Already on it (a nested signal): keep going down the same stack.
        assert_eq!(s.sigsp(BASE + 0x1000, SA_ONSTACK), BASE + 0x1000);
        assert_eq!(
            SigAltStack::default().sigsp(0x7fff_0000, SA_ONSTACK),
            0x7fff_0000
        );
    }

    #[test]
    fn do_sigaltstack_errnos_are_linuxs() {
        let mut s = armed(0);
        // Changing it while running on it: EPERM, and nothing changes.
        assert_eq!(
            s.do_sigaltstack(0, SS_DISABLE, 0, BASE + 8, MINSIGSTKSZ),
            Err(Errno::EPERM)
        );
        assert_eq!(s, armed(0));
        let sp = 0x7fff_0000;
        assert_eq!(
            s.do_sigaltstack(BASE, 4, SIZE, sp, MINSIGSTKSZ),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            s.do_sigaltstack(BASE, 1 << 30, SIZE, sp, MINSIGSTKSZ),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            s.do_sigaltstack(BASE, 0, MINSIGSTKSZ as u64 - 1, sp, MINSIGSTKSZ),
            Err(Errno::ENOMEM)
        );
        // SS_ONSTACK as a mode is accepted (old programs pass it) and means enabled.
        assert_eq!(
            s.do_sigaltstack(BASE, SS_ONSTACK, SIZE, sp, MINSIGSTKSZ),
            Ok(())
        );
        assert_eq!(s.sas_ss_flags(sp), 0);
        // SS_DISABLE ignores the size and clears the stack.
        assert_eq!(
            s.do_sigaltstack(BASE, SS_DISABLE, 1, sp, MINSIGSTKSZ),
            Ok(())
        );
        assert_eq!(s.report(sp), (0, SS_DISABLE, 0));
    }

    #[test]
    fn autodisarm_is_never_on_stack_and_is_reported() {
        let s = armed(SS_AUTODISARM);
        assert!(!s.on_sig_stack(BASE + 8));
        assert_eq!(s.report(BASE + 8), (BASE, SS_AUTODISARM, SIZE));
        let mut t = s;
        t.sas_ss_reset();
        assert_eq!(t.report(0x7fff_0000), (0, SS_DISABLE, 0));
    }
}

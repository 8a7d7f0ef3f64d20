//! Signal handlers, as a libc installs them on arm64: rt_sigaction with SA_RESTORER and our
//! own restorer (`mov x8, #139; svc #0`: rt_sigreturn), rt_sigprocmask, and the layouts a
//! handler receives (`siginfo_t`, `ucontext_t` with the `sigcontext` and its records).
//! Linux: `arch/arm64/include/uapi/asm/{signal.h,sigcontext.h}`, `asm-generic/siginfo.h`.
use crate::syscall::{nr, syscall1, syscall3, syscall4, syscall6};

/// User signal 1.
pub const SIGUSR1: i32 = 10;
/// User signal 2.
pub const SIGUSR2: i32 = 12;
/// Timer (ITIMER_REAL, alarm).
pub const SIGALRM: i32 = 14;
/// Stop (cannot be caught or blocked).
pub const SIGSTOP: i32 = 19;
/// The default action.
pub const SIG_DFL: usize = 0;
/// Ignore.
pub const SIG_IGN: usize = 1;
/// Handler takes (sig, siginfo_t *, ucontext_t *).
pub const SA_SIGINFO: u64 = 0x4;
/// `sa_restorer` is valid.
pub const SA_RESTORER: u64 = 0x0400_0000;
/// Run the handler on the alternate signal stack.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// Restart system calls the handler interrupted (those Linux restarts).
pub const SA_RESTART: u64 = 0x1000_0000;
/// Do not block the signal in its own handler.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// Back to SIG_DFL once delivered.
pub const SA_RESETHAND: u64 = 0x8000_0000;
/// rt_sigprocmask: add to the mask.
pub const SIG_BLOCK: usize = 0;
/// rt_sigprocmask: remove from the mask.
pub const SIG_UNBLOCK: usize = 1;
/// rt_sigprocmask: replace the mask.
pub const SIG_SETMASK: usize = 2;
/// si_code: no mapping.
pub const SEGV_MAPERR: i32 = 1;
/// si_code: access not permitted.
pub const SEGV_ACCERR: i32 = 2;
/// si_code: sent by kill.
pub const SI_USER: i32 = 0;
/// `_aarch64_ctx.magic` of the FP/SIMD record in `__reserved`.
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;

/// The bit of `sig` in a sigset.
pub const fn sigbit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// The kernel's `struct sigaction` on arm64.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Sigaction {
    /// Handler address, SIG_DFL or SIG_IGN.
    pub sa_handler: usize,
    /// SA_* flags.
    pub sa_flags: u64,
    /// Return trampoline.
    pub sa_restorer: usize,
    /// Blocked during the handler.
    pub sa_mask: u64,
}

/// `siginfo_t` (128 bytes): the fields the tests read.
#[repr(C)]
pub struct Siginfo {
    /// Signal number.
    pub si_signo: i32,
    /// errno.
    pub si_errno: i32,
    /// SI_USER, SEGV_MAPERR...
    pub si_code: i32,
    _pad: i32,
    /// si_addr for faults; si_pid | si_uid << 32 for kill.
    pub si_addr: usize,
    _rest: [u64; 13],
}

impl Siginfo {
    /// si_pid (kill).
    pub fn si_pid(&self) -> i32 {
        self.si_addr as u32 as i32
    }
}

/// `struct sigcontext` (arm64).
#[repr(C, align(16))]
pub struct Sigcontext {
    /// FAR of the fault.
    pub fault_address: u64,
    /// x0..x30.
    pub regs: [u64; 31],
    /// Stack pointer.
    pub sp: u64,
    /// Program counter.
    pub pc: u64,
    /// PSTATE.
    pub pstate: u64,
    _pad: u64,
    /// The records (fpsimd_context first).
    pub reserved: [u8; 4096],
}

/// `ucontext_t` (arm64).
#[repr(C, align(16))]
pub struct Ucontext {
    /// Flags.
    pub uc_flags: u64,
    /// Link.
    pub uc_link: u64,
    /// stack_t.
    pub uc_stack: [u64; 3],
    /// The mask restored at sigreturn.
    pub uc_sigmask: u64,
    _unused: [u8; 120],
    _pad: u64,
    /// The interrupted registers.
    pub uc_mcontext: Sigcontext,
}

/// A handler that takes siginfo (SA_SIGINFO).
pub type SigactionFn = extern "C" fn(i32, *mut Siginfo, *mut Ucontext);

extern "C" {
    /// Our restorer: rt_sigreturn (what libcs call `__restore_rt`).
    fn __ulib_restore_rt();
}

core::arch::global_asm!(
    ".section .text.__ulib_restore_rt, \"ax\"",
    ".global __ulib_restore_rt",
    "__ulib_restore_rt:",
    "mov x8, #139",
    "svc #0",
);

/// rt_sigaction(2) with raw actions.
pub fn rt_sigaction(sig: i32, act: Option<&Sigaction>, old: Option<&mut Sigaction>) -> isize {
    let a = act.map_or(0, |a| a as *const Sigaction as usize);
    let o = old.map_or(0, |o| o as *mut Sigaction as usize);
    unsafe { syscall4(nr::RT_SIGACTION, sig as usize, a, o, 8) }
}

/// Install `handler` for `sig` with SA_SIGINFO | SA_RESTORER | `flags`, blocking `mask`
/// while it runs, as a libc's sigaction does.
pub fn sigaction(sig: i32, handler: SigactionFn, flags: u64, mask: u64) -> isize {
    let act = Sigaction {
        sa_handler: handler as *const () as usize,
        sa_flags: SA_SIGINFO | SA_RESTORER | flags,
        sa_restorer: __ulib_restore_rt as *const () as usize,
        sa_mask: mask,
    };
    rt_sigaction(sig, Some(&act), None)
}

/// Set `sig`'s action to SIG_DFL or SIG_IGN.
pub fn signal_disposition(sig: i32, handler: usize) -> isize {
    let act = Sigaction {
        sa_handler: handler,
        ..Sigaction::default()
    };
    rt_sigaction(sig, Some(&act), None)
}

/// rt_sigprocmask(2); returns the old mask through `old`.
pub fn sigprocmask(how: usize, set: Option<u64>, old: Option<&mut u64>) -> isize {
    let s = set.as_ref().map_or(0, |s| s as *const u64 as usize);
    let o = old.map_or(0, |o| o as *mut u64 as usize);
    unsafe { syscall4(nr::RT_SIGPROCMASK, how, s, o, 8) }
}

/// The current blocked mask.
pub fn blocked_mask() -> u64 {
    let mut m = 0;
    sigprocmask(SIG_BLOCK, None, Some(&mut m));
    m
}

/// `stack_t.ss_flags`: running on the alternate stack (reported only).
pub const SS_ONSTACK: i32 = 1;
/// `stack_t.ss_flags`: no alternate stack.
pub const SS_DISABLE: i32 = 2;
/// `stack_t.ss_flags`: disarm the stack while a handler runs on it.
pub const SS_AUTODISARM: i32 = 1 << 31;
/// The smallest alternate stack arm64 accepts.
pub const MINSIGSTKSZ: usize = 5120;

/// `stack_t` (sigaltstack).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackT {
    /// Base (lowest address).
    pub ss_sp: usize,
    /// SS_* flags.
    pub ss_flags: i32,
    /// Size in bytes.
    pub ss_size: usize,
}

/// sigaltstack(2).
pub fn sigaltstack(ss: Option<&StackT>, old: Option<&mut StackT>) -> isize {
    let s = ss.map_or(0, |s| s as *const StackT as usize);
    let o = old.map_or(0, |o| o as *mut StackT as usize);
    unsafe { syscall3(nr::SIGALTSTACK, s, o, 0) }
}

/// rt_sigsuspend(2): sleep with `mask` until a handler has run (always -EINTR).
pub fn sigsuspend(mask: u64) -> isize {
    unsafe { syscall3(nr::RT_SIGSUSPEND, &mask as *const u64 as usize, 8, 0) }
}

/// rt_sigpending(2): the pending signals that are blocked.
pub fn sigpending(set: &mut u64) -> isize {
    unsafe { syscall3(nr::RT_SIGPENDING, set as *mut u64 as usize, 8, 0) }
}

/// restart_syscall(2), called directly (nothing to restart: -EINTR).
pub fn restart_syscall() -> isize {
    unsafe { syscall1(nr::RESTART_SYSCALL, 0) }
}

/// ppoll(2) with raw pointers (0 for NULL): `pause()` is `ppoll(0, 0, 0, 0, 0)`.
pub fn ppoll_raw(fds: usize, nfds: usize, tsp: usize, sigmask: usize, size: usize) -> isize {
    unsafe { syscall6(nr::PPOLL, fds, nfds, tsp, sigmask, size, 0) }
}

/// alarm(2), as arm64 libcs make it: setitimer(ITIMER_REAL) once, here in milliseconds
/// (0 cancels).
pub fn alarm_ms(ms: u64) -> isize {
    let v: [i64; 4] = [0, 0, (ms / 1000) as i64, ((ms % 1000) * 1000) as i64];
    unsafe { syscall3(nr::SETITIMER, 0, v.as_ptr() as usize, 0) }
}

/// rt_sigtimedwait(2): take a pending signal of `set` (its number), sleeping at most
/// `timeout` (None: for ever).
pub fn sigtimedwait(
    set: u64,
    info: Option<&mut Siginfo>,
    timeout: Option<&crate::syscall::Timespec>,
) -> isize {
    let i = info.map_or(0, |i| i as *mut Siginfo as usize);
    let t = timeout.map_or(0, |t| t as *const crate::syscall::Timespec as usize);
    unsafe { syscall4(nr::RT_SIGTIMEDWAIT, &set as *const u64 as usize, i, t, 8) }
}

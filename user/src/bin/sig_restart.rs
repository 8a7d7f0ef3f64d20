//! sig_restart: what a signal does to a system call it interrupts, and handlers on an
//! alternate stack. alarm(2) (setitimer) interrupts rt_sigsuspend and ppoll (pause(3) on
//! arm64) after its handler ran, with the mask rt_sigsuspend/ppoll installed only for the
//! sleep; a pipe read and wait4 are restarted under SA_RESTART and fail with EINTR
//! without it; nanosleep fails with EINTR and the time left even under SA_RESTART (man 7
//! signal: never restarted after a handler); restart_syscall(2) with nothing to restart
//! is EINTR; rt_sigtimedwait takes a signal without its handler, times out with
//! EAGAIN and is ended by a handled signal with EINTR. sigaltstack(2): Linux's errnos, SS_ONSTACK seen from a handler on the stack,
//! EPERM while on it, `uc_stack`, SS_AUTODISARM disarming and rt_sigreturn re-arming it,
//! and a stack overflow whose SIGSEGV handler runs on the alternate stack (without one
//! the process dies of SIGSEGV).
//!
//! Linux: `arch/arm64/kernel/signal.c` (`do_signal`, `setup_rt_frame`, `sys_rt_sigreturn`),
//! `kernel/signal.c` (`sys_rt_sigsuspend`, `do_sigaltstack`, `sys_restart_syscall`),
//! `fs/pipe.c`, `fs/select.c` (`sys_ppoll`), `kernel/time/hrtimer.c` (`do_nanosleep`).
#![no_std]
#![no_main]
use core::sync::atomic::Ordering::SeqCst;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize};
use ulib::errno::{EAGAIN, EFAULT, EINTR, EINVAL, ENOMEM, EPERM};
use ulib::signal::*;
use ulib::*;

static ALRM_COUNT: AtomicU32 = AtomicU32::new(0);
static ALRM_MASK: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_alrm(_sig: i32, _info: *mut Siginfo, _uc: *mut Ucontext) {
    ALRM_COUNT.fetch_add(1, SeqCst);
    ALRM_MASK.store(blocked_mask(), SeqCst);
}

// What the SIGUSR1 handler saw of the alternate stack.
static ALT_BASE: AtomicUsize = AtomicUsize::new(0);
static ALT_SIZE: usize = 64 * 1024;
static USR1_SP: AtomicUsize = AtomicUsize::new(0);
static USR1_SS_FLAGS: AtomicI32 = AtomicI32::new(-1);
static USR1_EPERM: AtomicI32 = AtomicI32::new(0);
static USR1_UC_STACK: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

extern "C" fn on_usr1(_sig: i32, _info: *mut Siginfo, uc: *mut Ucontext) {
    let local = 0u8;
    USR1_SP.store(core::ptr::addr_of!(local) as usize, SeqCst);
    let mut old = StackT::default();
    sigaltstack(None, Some(&mut old));
    USR1_SS_FLAGS.store(old.ss_flags, SeqCst);
    let disable = StackT {
        ss_flags: SS_DISABLE,
        ..StackT::default()
    };
    USR1_EPERM.store(sigaltstack(Some(&disable), None) as i32, SeqCst);
    // SAFETY: the kernel passes a valid ucontext (SA_SIGINFO).
    let uc = unsafe { &*uc };
    for (i, w) in uc.uc_stack.iter().enumerate() {
        USR1_UC_STACK[i].store(*w, SeqCst);
    }
}

fn on_alt(sp: usize) -> bool {
    let base = ALT_BASE.load(SeqCst);
    sp > base && sp <= base + ALT_SIZE
}

fn now_ms() -> u64 {
    let mut ts = Timespec::default();
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

fn nanosleep_rem(req: &Timespec, rem: &mut Timespec) -> isize {
    unsafe {
        syscall::syscall3(
            syscall::nr::NANOSLEEP,
            req as *const Timespec as usize,
            rem as *mut Timespec as usize,
            0,
        )
    }
}

/// Fork a child that sleeps `ms` and then writes "hello" to `wfd` (if >= 0) and exits 7.
fn late_child(ms: u64, wfd: i32) -> i32 {
    let pid = fork();
    if pid == 0 {
        sleep_ms(ms);
        if wfd >= 0 {
            write(wfd, b"hello");
        }
        exit(7);
    }
    pid as i32
}

/// A pipe read that the alarm interrupts while the writer is still asleep.
fn read_across_alarm(t: &mut Tap, restart: bool) {
    let flags = if restart { SA_RESTART } else { 0 };
    sigaction(SIGALRM, on_alrm, flags, 0);
    let mut fds = [0i32; 2];
    pipe2(&mut fds, 0);
    let child = late_child(400, fds[1]);
    close(fds[1]);
    let before = ALRM_COUNT.load(SeqCst);
    alarm_ms(100);
    let mut buf = [0u8; 16];
    let r = read(fds[0], &mut buf);
    let ran = ALRM_COUNT.load(SeqCst) == before + 1;
    if restart {
        t.ret(
            "SA_RESTART: a pipe read interrupted by SIGALRM is restarted and gets the data",
            r,
            5,
        );
        t.ok(
            &buf[..5] == b"hello",
            "... the bytes the child wrote after the alarm",
        );
    } else {
        t.err(
            "no SA_RESTART: the same pipe read fails with EINTR",
            r,
            EINTR,
        );
    }
    t.ok(ran, "... and the SIGALRM handler ran once");
    let mut st = 0;
    wait4(child, Some(&mut st), 0);
    close(fds[0]);
}

static STOP: AtomicBool = AtomicBool::new(false);

#[inline(never)]
fn recurse(depth: usize) -> usize {
    let mut buf = [0u8; 1024];
    // SAFETY: a volatile store to our own frame, so every frame really takes its stack.
    unsafe { core::ptr::write_volatile(&mut buf[depth % 1024], depth as u8) };
    if STOP.load(SeqCst) {
        return 0;
    }
    // SAFETY: as above.
    recurse(depth + 1) + unsafe { core::ptr::read_volatile(&buf[0]) } as usize
}

extern "C" fn on_overflow(sig: i32, _info: *mut Siginfo, _uc: *mut Ucontext) {
    let local = 0u8;
    let mut old = StackT::default();
    sigaltstack(None, Some(&mut old));
    let ok =
        sig == SIGSEGV && on_alt(core::ptr::addr_of!(local) as usize) && old.ss_flags == SS_ONSTACK;
    exit(if ok { 0 } else { 10 });
}

/// Overflow the main stack (RLIMIT_STACK 512 KiB) with a SIGSEGV handler on SA_ONSTACK,
/// with or without an alternate stack.
fn overflow(with_alt: bool) -> i32 {
    let lim = Rlimit {
        rlim_cur: 512 * 1024,
        rlim_max: u64::MAX,
    };
    prlimit64(RLIMIT_STACK, Some(&lim), None);
    if with_alt {
        let base = mmap_anon(ALT_SIZE);
        if base < 0 {
            return 20;
        }
        ALT_BASE.store(base as usize, SeqCst);
        let ss = StackT {
            ss_sp: base as usize,
            ss_flags: 0,
            ss_size: ALT_SIZE,
        };
        if sigaltstack(Some(&ss), None) != 0 {
            return 21;
        }
    }
    sigaction(SIGSEGV, on_overflow, SA_ONSTACK, 0);
    recurse(0) as i32
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("sig_restart");

    // --- pause(3) is rt_sigsuspend or ppoll on arm64: alarm interrupts them.
    sigaction(SIGALRM, on_alrm, 0, 0);
    sigprocmask(SIG_SETMASK, Some(sigbit(SIGALRM)), None);
    alarm_ms(100);
    let r = sigsuspend(sigbit(SIGUSR2));
    t.err(
        "rt_sigsuspend returns EINTR once the SIGALRM handler ran",
        r,
        EINTR,
    );
    t.eq("the handler ran once", ALRM_COUNT.load(SeqCst), 1);
    t.eq(
        "during the handler the mask was sigsuspend's plus SIGALRM",
        ALRM_MASK.load(SeqCst),
        sigbit(SIGUSR2) | sigbit(SIGALRM),
    );
    t.eq(
        "after it the old mask (SIGALRM blocked) is back",
        blocked_mask(),
        sigbit(SIGALRM),
    );
    let bad = unsafe {
        syscall::syscall3(
            syscall::nr::RT_SIGSUSPEND,
            &0u64 as *const u64 as usize,
            4,
            0,
        )
    };
    t.err("rt_sigsuspend with sigsetsize 4 is EINVAL", bad, EINVAL);
    t.err(
        "rt_sigsuspend with a bad set is EFAULT",
        unsafe { syscall::syscall3(syscall::nr::RT_SIGSUSPEND, 8, 8, 0) },
        EFAULT,
    );

    // ppoll with a mask that lets SIGALRM through (pselect's race-free pattern).
    alarm_ms(100);
    let empty = 0u64;
    let r = ppoll_raw(0, 0, 0, &empty as *const u64 as usize, 8);
    t.err(
        "ppoll(NULL, 0, NULL, {}) is interrupted by SIGALRM: EINTR",
        r,
        EINTR,
    );
    t.eq("the handler ran", ALRM_COUNT.load(SeqCst), 2);
    t.eq(
        "ppoll put the old mask back",
        blocked_mask(),
        sigbit(SIGALRM),
    );
    sigprocmask(SIG_SETMASK, Some(0), None);
    alarm_ms(100);
    let r = ppoll_raw(0, 0, 0, 0, 0);
    t.err(
        "pause() as ppoll(NULL, 0, NULL, NULL) returns EINTR after SIGALRM",
        r,
        EINTR,
    );
    t.eq("the handler ran", ALRM_COUNT.load(SeqCst), 3);
    let t0 = now_ms();
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let r = ppoll_raw(0, 0, &mut ts as *mut Timespec as usize, 0, 0);
    let took = now_ms() - t0;
    t.ret(
        "ppoll with nothing to watch and a 100 ms timeout returns 0",
        r,
        0,
    );
    t.check(took >= 90, "... after the timeout", took, ">= 90 ms");
    ts.tv_nsec = 1_000_000_000;
    t.err(
        "ppoll with tv_nsec 1e9 is EINVAL",
        ppoll_raw(0, 0, &ts as *const Timespec as usize, 0, 0),
        EINVAL,
    );
    t.err(
        "ppoll with a mask and sigsetsize 4 is EINVAL",
        ppoll_raw(0, 0, 0, &empty as *const u64 as usize, 4),
        EINVAL,
    );

    // --- rt_sigpending.
    sigprocmask(SIG_BLOCK, Some(sigbit(SIGUSR2)), None);
    kill(getpid(), SIGUSR2);
    let mut set = 0u64;
    t.ret("rt_sigpending", sigpending(&mut set), 0);
    t.eq(
        "a blocked SIGUSR2 sent to us is pending",
        set,
        sigbit(SIGUSR2),
    );
    signal_disposition(SIGUSR2, SIG_IGN);
    sigpending(&mut set);
    t.eq("setting SIG_IGN discards it", set, 0);
    sigprocmask(SIG_SETMASK, Some(0), None);

    // --- rt_sigtimedwait takes a signal without running its handler.
    sigaction(SIGUSR1, on_usr1, 0, 0);
    USR1_SP.store(0, SeqCst);
    sigprocmask(SIG_SETMASK, Some(sigbit(SIGUSR1) | sigbit(SIGALRM)), None);
    kill(getpid(), SIGUSR1);
    // SAFETY: all-zero is a valid siginfo_t (integers only).
    let mut info: Siginfo = unsafe { core::mem::zeroed() };
    let r = sigtimedwait(sigbit(SIGUSR1), Some(&mut info), None);
    t.ret(
        "rt_sigtimedwait takes the pending SIGUSR1",
        r,
        SIGUSR1 as isize,
    );
    t.ok(
        info.si_signo == SIGUSR1 && info.si_code == SI_USER && info.si_pid() == getpid(),
        "... with its siginfo (SI_USER, our pid)",
    );
    t.eq("... and the handler did not run", USR1_SP.load(SeqCst), 0);
    let zero = Timespec::default();
    t.err(
        "nothing pending and a zero timeout: EAGAIN",
        sigtimedwait(sigbit(SIGUSR1), None, Some(&zero)),
        EAGAIN,
    );
    let t0 = now_ms();
    let short = Timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    let r = sigtimedwait(sigbit(SIGUSR1), None, Some(&short));
    let took = now_ms() - t0;
    t.err("a 50 ms timeout passes: EAGAIN", r, EAGAIN);
    t.check(took >= 45, "... after the timeout", took, ">= 45 ms");
    let before = ALRM_COUNT.load(SeqCst);
    alarm_ms(100);
    let r = sigtimedwait(sigbit(SIGALRM), None, None);
    t.ret(
        "rt_sigtimedwait sleeps until the blocked SIGALRM comes",
        r,
        SIGALRM as isize,
    );
    t.eq(
        "... whose handler does not run",
        ALRM_COUNT.load(SeqCst),
        before,
    );
    sigprocmask(SIG_SETMASK, Some(0), None);
    alarm_ms(100);
    let r = sigtimedwait(
        sigbit(SIGUSR1),
        None,
        Some(&Timespec {
            tv_sec: 2,
            tv_nsec: 0,
        }),
    );
    t.err(
        "a handled SIGALRM ends the wait for another signal: EINTR",
        r,
        EINTR,
    );
    t.eq(
        "... after its handler ran",
        ALRM_COUNT.load(SeqCst),
        before + 1,
    );
    t.err(
        "rt_sigtimedwait with sigsetsize 4 is EINVAL",
        unsafe {
            let set = sigbit(SIGUSR1);
            syscall::syscall4(
                syscall::nr::RT_SIGTIMEDWAIT,
                &set as *const u64 as usize,
                0,
                0,
                4,
            )
        },
        EINVAL,
    );

    // --- SA_RESTART and reads on a pipe.
    read_across_alarm(&mut t, true);
    read_across_alarm(&mut t, false);

    // --- wait4 likewise.
    for restart in [true, false] {
        sigaction(SIGALRM, on_alrm, if restart { SA_RESTART } else { 0 }, 0);
        let child = late_child(400, -1);
        let before = ALRM_COUNT.load(SeqCst);
        alarm_ms(100);
        let mut st = 0;
        let r = wait4(child, Some(&mut st), 0);
        if restart {
            t.ret(
                "SA_RESTART: wait4 interrupted by SIGALRM is restarted and reaps the child",
                r,
                child as isize,
            );
            t.exited("... which exited 7", Wstatus(st), 7);
        } else {
            t.err("no SA_RESTART: wait4 fails with EINTR", r, EINTR);
            wait4(child, Some(&mut st), 0);
        }
        t.eq(
            "... the handler ran once",
            ALRM_COUNT.load(SeqCst),
            before + 1,
        );
    }

    // --- nanosleep: EINTR after a handler even under SA_RESTART, with the time left.
    sigaction(SIGALRM, on_alrm, SA_RESTART, 0);
    alarm_ms(100);
    let mut rem = Timespec::default();
    let r = nanosleep_rem(
        &Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        },
        &mut rem,
    );
    t.err(
        "nanosleep(1 s) interrupted by an SA_RESTART handler fails with EINTR",
        r,
        EINTR,
    );
    let left = rem.tv_sec as u64 * 1000 + rem.tv_nsec as u64 / 1_000_000;
    t.check(
        (300..1000).contains(&left),
        "... and writes the time left to rem",
        format_args!("{left} ms"),
        "300..1000 ms",
    );
    t.err(
        "restart_syscall with nothing to restart is EINTR",
        restart_syscall(),
        EINTR,
    );

    // --- sigaltstack(2).
    let mut old = StackT {
        ss_flags: -1,
        ..StackT::default()
    };
    t.ret(
        "sigaltstack(NULL, &old)",
        sigaltstack(None, Some(&mut old)),
        0,
    );
    t.eq(
        "no alternate stack at start: SS_DISABLE",
        old.ss_flags,
        SS_DISABLE,
    );
    let base = mmap_anon(ALT_SIZE);
    t.success("mmap a 64 KiB alternate stack", base);
    let base = base as usize;
    ALT_BASE.store(base, SeqCst);
    let mut ss = StackT {
        ss_sp: base,
        ss_flags: 0,
        ss_size: MINSIGSTKSZ - 1,
    };
    t.err(
        "a stack below MINSIGSTKSZ (5120) is ENOMEM",
        sigaltstack(Some(&ss), None),
        ENOMEM,
    );
    ss.ss_size = ALT_SIZE;
    ss.ss_flags = 4;
    t.err(
        "unknown ss_flags are EINVAL",
        sigaltstack(Some(&ss), None),
        EINVAL,
    );
    t.err(
        "a bad stack_t pointer is EFAULT",
        unsafe { syscall::syscall3(syscall::nr::SIGALTSTACK, 8, 0, 0) },
        EFAULT,
    );
    ss.ss_flags = 0;
    t.ret("sigaltstack(64 KiB stack)", sigaltstack(Some(&ss), None), 0);
    sigaltstack(None, Some(&mut old));
    t.ok(old == ss, "it reads back: base, size, flags 0 (not on it)");

    sigaction(SIGUSR1, on_usr1, SA_ONSTACK, 0);
    kill(getpid(), SIGUSR1);
    t.ok(
        on_alt(USR1_SP.load(SeqCst)),
        "an SA_ONSTACK handler runs on the alternate stack",
    );
    t.eq(
        "inside it sigaltstack reports SS_ONSTACK",
        USR1_SS_FLAGS.load(SeqCst),
        SS_ONSTACK,
    );
    t.eq(
        "changing the stack while on it is EPERM",
        USR1_EPERM.load(SeqCst),
        -EPERM,
    );
    t.ok(
        USR1_UC_STACK[0].load(SeqCst) == base as u64
            && USR1_UC_STACK[1].load(SeqCst) as u32 == 0
            && USR1_UC_STACK[2].load(SeqCst) == ALT_SIZE as u64,
        "uc_stack holds the stack, flags 0 (the interrupted code was not on it)",
    );
    sigaltstack(None, Some(&mut old));
    t.eq("back from the handler: not on it", old.ss_flags, 0);

    sigaction(SIGUSR1, on_usr1, 0, 0);
    kill(getpid(), SIGUSR1);
    t.ok(
        !on_alt(USR1_SP.load(SeqCst)),
        "a handler without SA_ONSTACK runs on the normal stack",
    );
    t.eq(
        "... where sigaltstack reports flags 0",
        USR1_SS_FLAGS.load(SeqCst),
        0,
    );

    ss.ss_flags = SS_AUTODISARM;
    t.ret(
        "sigaltstack with SS_AUTODISARM",
        sigaltstack(Some(&ss), None),
        0,
    );
    sigaction(SIGUSR1, on_usr1, SA_ONSTACK, 0);
    kill(getpid(), SIGUSR1);
    t.ok(
        on_alt(USR1_SP.load(SeqCst)),
        "SS_AUTODISARM: the handler runs on the alternate stack",
    );
    t.eq(
        "... which is disarmed inside it (SS_DISABLE)",
        USR1_SS_FLAGS.load(SeqCst),
        SS_DISABLE,
    );
    sigaltstack(None, Some(&mut old));
    t.ok(
        old.ss_sp == base && old.ss_size == ALT_SIZE && old.ss_flags == SS_AUTODISARM,
        "rt_sigreturn re-arms it from uc_stack",
    );
    ss.ss_flags = SS_DISABLE;
    sigaltstack(Some(&ss), None);
    sigaltstack(None, Some(&mut old));
    t.ok(
        old.ss_flags == SS_DISABLE && old.ss_size == 0,
        "SS_DISABLE removes it",
    );

    // --- Stack overflow.
    t.exited(
        "a stack overflow runs the SA_ONSTACK SIGSEGV handler on the alternate stack",
        in_child(|| overflow(true)),
        0,
    );
    t.killed_by(
        "without an alternate stack the handler cannot run: killed by SIGSEGV",
        in_child(|| overflow(false)),
        SIGSEGV,
    );
    t.finish()
}

//! timer_test: setitimer(2)/getitimer(2) with ITIMER_REAL and SIGALRM (Linux:
//! kernel/time/itimer.c). Run as init.
//!
//! A one-shot timer signals once; a periodic one about once per period, until it is
//! disarmed; the old value comes back; SIGALRM's default action kills; fork does not
//! inherit a timer and execve keeps it; bad arguments are EINVAL or EFAULT as in Linux
//! (ITIMER_VIRTUAL and ITIMER_PROF are not built: EINVAL).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU32, Ordering};
use ulib::errno::*;
use ulib::signal::{sigaction, Siginfo, Ucontext};
use ulib::*;

const SIGALRM: i32 = 14;
static ALARMS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alrm(_sig: i32, _info: *mut Siginfo, _uc: *mut Ucontext) {
    ALARMS.fetch_add(1, Ordering::SeqCst);
}

/// itimerval as four i64: interval sec, usec, value sec, usec.
fn setitimer(which: usize, new: Option<&[i64; 4]>, old: Option<&mut [i64; 4]>) -> isize {
    let n = new.map_or(0, |v| v.as_ptr() as usize);
    let o = old.map_or(0, |v| v.as_mut_ptr() as usize);
    unsafe { syscall3(103, which, n, o) }
}

fn getitimer(which: usize, v: &mut [i64; 4]) -> isize {
    unsafe { syscall3(102, which, v.as_mut_ptr() as usize, 0) }
}

fn now_ms() -> i64 {
    let mut ts = Timespec::default();
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Sleep `ms` of wall time, however often a signal cuts a nanosleep short.
fn sleep_through(ms: i64) {
    let end = now_ms() + ms;
    while now_ms() < end {
        sleep_ms((end - now_ms()).max(1) as u64);
    }
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some("wait") {
        sleep_through(2000);
        return 0;
    }
    let mut t = Tap::new("timer_test");
    let mut v = [0i64; 4];
    t.ret("getitimer(ITIMER_REAL)", getitimer(0, &mut v), 0);
    t.ok(v == [0; 4], "no timer at first");
    t.ret("a SIGALRM handler", sigaction(SIGALRM, on_alrm, 0, 0), 0);

    // One shot, 100 ms.
    t.ret("setitimer: once, in 100 ms", setitimer(0, Some(&[0, 0, 0, 100_000]), None), 0);
    t.ret("getitimer sees it", getitimer(0, &mut v), 0);
    t.ok(v[2] == 0 && v[3] > 0 && v[3] <= 100_000, "with at most 100 ms left");
    sleep_through(300);
    t.eq("it fired once", ALARMS.swap(0, Ordering::SeqCst), 1);
    getitimer(0, &mut v);
    t.ok(v == [0; 4], "and is disarmed");

    // Periodic, 50 ms.
    t.ret(
        "setitimer: every 50 ms",
        setitimer(0, Some(&[0, 50_000, 0, 50_000]), None),
        0,
    );
    sleep_through(520);
    let mut old = [0i64; 4];
    t.ret("disarm it, reading the old value", setitimer(0, Some(&[0; 4]), Some(&mut old)), 0);
    let n = ALARMS.swap(0, Ordering::SeqCst);
    // About ten; fewer if the host stalled the guest past a period (missed periods are
    // skipped, as hrtimer_forward does).
    t.check((5..=11).contains(&n), "about ten signals in 520 ms", n, "5..=11");
    t.ok(old[0] == 0 && old[1] == 50_000, "the old interval was 50 ms");
    t.ok(old[2] == 0 && old[3] > 0 && old[3] <= 50_000, "with part of a period left");
    sleep_through(200);
    t.eq("no signal after disarming", ALARMS.load(Ordering::SeqCst), 0);

    // The old value of a long timer, and NULL as the new value.
    setitimer(0, Some(&[0, 0, 10, 0]), None);
    t.ret("NULL new value disarms (Linux 5.10)", setitimer(0, None, Some(&mut old)), 0);
    t.ok(old[2] == 9 || (old[2] == 10 && old[3] == 0), "returning about 10 s left");
    getitimer(0, &mut v);
    t.ok(v == [0; 4], "disarmed");

    // Default action, fork, execve.
    let st = in_child(|| {
        signal::signal_disposition(SIGALRM, 0);
        setitimer(0, Some(&[0, 0, 0, 50_000]), None);
        sleep_through(1000);
        0
    });
    t.killed_by("SIGALRM's default action terminates", st, SIGALRM);
    setitimer(0, Some(&[0, 0, 5, 0]), None);
    let st = in_child(|| {
        let mut v = [0i64; 4];
        getitimer(0, &mut v);
        i32::from(v != [0; 4])
    });
    t.exited("a child does not inherit the timer", st, 0);
    setitimer(0, Some(&[0; 4]), None);
    let st = in_child(|| {
        signal::signal_disposition(SIGALRM, 0);
        setitimer(0, Some(&[0, 0, 0, 200_000]), None);
        let argv = [
            c"/bin/timer_test".as_ptr() as *const u8,
            c"wait".as_ptr() as *const u8,
            core::ptr::null(),
        ];
        execve(c"/bin/timer_test", &argv, &[core::ptr::null()]);
        9
    });
    t.killed_by("execve keeps it: the new program gets SIGALRM", st, SIGALRM);

    // Errors.
    t.err("ITIMER_VIRTUAL: EINVAL (not built)", setitimer(1, Some(&[0; 4]), None), EINVAL);
    t.err("an unknown timer: EINVAL", getitimer(5, &mut v), EINVAL);
    t.err(
        "usec of a million: EINVAL",
        setitimer(0, Some(&[0, 0, 0, 1_000_000]), None),
        EINVAL,
    );
    t.err("a negative time: EINVAL", setitimer(0, Some(&[0, 0, -1, 0]), None), EINVAL);
    t.err("new at a bad address: EFAULT", unsafe { syscall3(103, 0, 8, 0) }, EFAULT);
    t.err("getitimer into a bad address: EFAULT", unsafe { syscall3(102, 0, 8, 0) }, EFAULT);
    t.finish()
}

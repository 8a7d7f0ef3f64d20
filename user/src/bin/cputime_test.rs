//! cputime_test: CPU time as Linux accounts it, a tick at a time: user time while the
//! program spins, none while it sleeps; getrusage(2), times(2), wait4's rusage and
//! CLOCK_PROCESS_CPUTIME_ID / CLOCK_THREAD_CPUTIME_ID see it; ITIMER_VIRTUAL and
//! ITIMER_PROF fire on it (SIGVTALRM, SIGPROF); RLIMIT_CPU sends SIGXCPU at the soft
//! limit and every second after, SIGKILL at the hard one.
//!
//! Linux: `kernel/sched/cputime.c`, `kernel/time/posix-cpu-timers.c`,
//! `kernel/time/itimer.c`, `kernel/sys.c` (`getrusage`, `times`).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU32, Ordering};
use ulib::signal::*;
use ulib::*;

const EINVAL: i32 = 22;
const SIGKILL: i32 = 9;
const SIGXCPU: i32 = 24;
const SIGVTALRM: i32 = 26;
const SIGPROF: i32 = 27;
const CLOCK_MONOTONIC: usize = 1;
const CLOCK_PROCESS_CPUTIME_ID: usize = 2;
const CLOCK_THREAD_CPUTIME_ID: usize = 3;
const RLIMIT_CPU: usize = 0;

static VTALRM: AtomicU32 = AtomicU32::new(0);
static PROF: AtomicU32 = AtomicU32::new(0);
extern "C" fn on_vtalrm(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    VTALRM.fetch_add(1, Ordering::SeqCst);
}
extern "C" fn on_prof(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    PROF.fetch_add(1, Ordering::SeqCst);
}

fn clock_ms(clock: usize) -> i64 {
    let mut ts = Timespec::default();
    clock_gettime(clock, &mut ts);
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

/// Spin in user space until `cond` or `ms` of this thread's CPU time have passed (with a
/// wall-clock cap, so a kernel that charges nothing ends the test instead of hanging).
fn spin_until(ms: i64, cond: impl Fn() -> bool) {
    let (c0, w0) = (clock_ms(CLOCK_THREAD_CPUTIME_ID), clock_ms(CLOCK_MONOTONIC));
    let mut x = 0u64;
    while !cond()
        && clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0 < ms
        && clock_ms(CLOCK_MONOTONIC) - w0 < 20_000
    {
        for i in 0..10_000u64 {
            x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
}

/// setitimer(2) with itimerval as four i64: interval sec, usec, value sec, usec.
fn setitimer(which: usize, new: &[i64; 4], old: Option<&mut [i64; 4]>) -> isize {
    let o = old.map_or(0, |v| v.as_mut_ptr() as usize);
    unsafe { syscall3(103, which, new.as_ptr() as usize, o) }
}

fn getitimer(which: usize, v: &mut [i64; 4]) -> isize {
    unsafe { syscall3(102, which, v.as_mut_ptr() as usize, 0) }
}

/// getrusage(2): (user ms, system ms).
fn getrusage(who: isize) -> Result<(i64, i64), isize> {
    let mut ru = [0i64; 18];
    let r = unsafe { syscall3(165, who as usize, ru.as_mut_ptr() as usize, 0) };
    if r < 0 {
        return Err(r);
    }
    Ok((ru[0] * 1000 + ru[1] / 1000, ru[2] * 1000 + ru[3] / 1000))
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("cputime_test");

    // Accounting: spin 300 ms of CPU, sleep 300 ms.
    let (u0, s0) = getrusage(0).unwrap_or((-1, -1));
    let w0 = clock_ms(CLOCK_MONOTONIC);
    spin_until(300, || false);
    let spun = clock_ms(CLOCK_MONOTONIC) - w0;
    let (u, s) = getrusage(0).unwrap_or((-1, -1));
    let (du, ds) = (u - u0, s - s0);
    // The spin loop calls clock_gettime: a tick that lands in it is system time.
    t.check(du + ds >= 296, "getrusage(RUSAGE_SELF): 300 ms of spinning is CPU time", du + ds, ">= 296 ms");
    t.check(du + ds <= spun + 8, "CPU time never exceeds the wall time spent", du + ds, spun);
    t.check(du >= 200, "... most of it user time", du, ">= 200 ms");
    let p0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
    sleep_ms(300);
    let slept = clock_ms(CLOCK_PROCESS_CPUTIME_ID) - p0;
    t.check(slept < 40, "sleeping 300 ms costs (almost) no CPU time", slept, "< 40 ms");
    let (ut, st_) = getrusage(1).unwrap_or((-1, -1));
    t.check(ut + st_ >= 296, "RUSAGE_THREAD sees the same thread's time", ut + st_, ">= 296 ms");
    let mut tms = [0i64; 4];
    let ticks = unsafe { syscall3(153, tms.as_mut_ptr() as usize, 0, 0) };
    t.check(tms[0] + tms[1] >= 29 && ticks > 0, "times(2): tms_utime + tms_stime in USER_HZ ticks", tms[0] + tms[1], ">= 29");
    t.err("getrusage(who = 5): EINVAL", getrusage(5).err().unwrap_or(0), EINVAL);

    // A child's time comes back through wait4's rusage and RUSAGE_CHILDREN.
    let pid = fork();
    if pid == 0 {
        spin_until(200, || false);
        exit_group(0);
    }
    let mut ru = [0i64; 18];
    let mut st = 0;
    let r = unsafe { syscall4(260, pid as usize, &mut st as *mut i32 as usize, 0, ru.as_mut_ptr() as usize) };
    let cu = ru[0] * 1000 + ru[1] / 1000 + ru[2] * 1000 + ru[3] / 1000;
    t.check(r == pid && cu >= 196, "wait4's rusage: the child's 200 ms of CPU time", cu, ">= 196 ms");
    let (cu2, cs2) = getrusage(-1).unwrap_or((-1, -1));
    t.check(cu2 + cs2 >= 196, "getrusage(RUSAGE_CHILDREN) after the reap", cu2 + cs2, ">= 196 ms");

    // ITIMER_VIRTUAL: runs only while the process runs in user space.
    sigaction(SIGVTALRM, on_vtalrm, 0, 0);
    t.ret("setitimer(ITIMER_VIRTUAL, 100 ms)", setitimer(1, &[0, 0, 0, 100_000], None), 0);
    let mut v = [0i64; 4];
    getitimer(1, &mut v);
    t.check(v[2] == 0 && v[3] > 0 && v[3] <= 100_000, "getitimer(ITIMER_VIRTUAL): time left", v[3], "0 < usec <= 100000");
    sleep_ms(300);
    t.eq("ITIMER_VIRTUAL does not run while the process sleeps", VTALRM.load(Ordering::SeqCst), 0);
    spin_until(2000, || VTALRM.load(Ordering::SeqCst) != 0);
    t.eq("ITIMER_VIRTUAL fires SIGVTALRM after 100 ms of user time", VTALRM.load(Ordering::SeqCst), 1);
    getitimer(1, &mut v);
    t.ok(v == [0; 4], "a one-shot ITIMER_VIRTUAL is disarmed after firing");

    // ITIMER_PROF, periodic.
    sigaction(SIGPROF, on_prof, 0, 0);
    t.ret("setitimer(ITIMER_PROF, every 50 ms)", setitimer(2, &[0, 50_000, 0, 50_000], None), 0);
    spin_until(2000, || PROF.load(Ordering::SeqCst) >= 4);
    let mut old = [0i64; 4];
    setitimer(2, &[0; 4], Some(&mut old));
    t.check(PROF.load(Ordering::SeqCst) >= 4, "ITIMER_PROF every 50 ms fires again and again", PROF.load(Ordering::SeqCst), ">= 4");
    t.eq("disarming returns the old interval", old[1], 50_000);
    t.err("setitimer(which = 3): EINVAL", setitimer(3, &[0; 4], None), EINVAL);

    // RLIMIT_CPU: SIGXCPU at 1 s and each second after, SIGKILL at the hard limit (3 s).
    let counts = mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) as usize;
    let xcpu = unsafe { &*(counts as *const AtomicU32) };
    // The handler counts in a MAP_SHARED page, so the parent sees the killed child's count.
    extern "C" fn on_xcpu(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
        let p = SHARED.load(Ordering::SeqCst);
        unsafe { &*(p as *const AtomicU32) }.fetch_add(1, Ordering::SeqCst);
    }
    static SHARED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    SHARED.store(counts, Ordering::SeqCst);
    let st = in_child(|| {
        sigaction(SIGXCPU, on_xcpu, 0, 0);
        let lim = Rlimit { rlim_cur: 1, rlim_max: 3 };
        prlimit64(RLIMIT_CPU, Some(&lim), None);
        spin_until(10_000, || false);
        0
    });
    t.killed_by("RLIMIT_CPU {1, 3}: SIGKILL at the hard limit", st, SIGKILL);
    let n = xcpu.load(Ordering::SeqCst);
    t.check(n == 2, "... after SIGXCPU at 1 s and 2 s of CPU time", n, 2);
    let st = in_child(|| {
        let lim = Rlimit { rlim_cur: 1, rlim_max: u64::MAX };
        prlimit64(RLIMIT_CPU, Some(&lim), None);
        spin_until(10_000, || false);
        0
    });
    t.killed_by("RLIMIT_CPU soft 1 s, no handler: SIGXCPU's default action", st, SIGXCPU);
    t.finish()
}

//! Interval timers: setitimer(2) and getitimer(2) with ITIMER_REAL, which sends SIGALRM
//! (what `alarm(3)` is built on: arm64 has no alarm system call). Linux:
//! `kernel/time/itimer.c` (`do_setitimer`, `do_getitimer`, `it_real_fn`).
//!
//! Each process has at most one real timer: its deadline and interval on the monotonic
//! clock, in a list sorted by deadline. The tick (`hrtimer_run_queues`) only notices that
//! the first deadline has passed and wakes the `ktimerd` thread, which sends SIGALRM and
//! re-arms periodic timers (Linux's `it_real_fn` sends the signal from the hrtimer
//! interrupt itself; here sending a signal takes locks that an interrupt may find held,
//! so it is done by a thread, one tick at most later). A timer is not inherited by fork
//! and goes when its process exits (Linux: `exit_itimers`); execve keeps it.
//!
//! ITIMER_VIRTUAL and ITIMER_PROF count the process's CPU time instead: they live in
//! `kernel/posix_cpu_timers.rs`, which fires them.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{copy_from_user, copy_to_user};
use crate::errno::{Errno, KResult};
use crate::sync::{SpinLockIrq, WaitQueueHead};
use crate::syscall::SyscallArgs;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

/// setitimer's `which`: wall-clock time, SIGALRM (Linux: `ITIMER_REAL`).
pub const ITIMER_REAL: usize = 0;
const NSEC_PER_SEC: u64 = 1_000_000_000;
const NSEC_PER_USEC: u64 = 1_000;

/// One armed real timer (Linux: `signal->real_timer` and `signal->it_real_incr`).
#[derive(Clone, Copy)]
struct ItimerReal {
    pid: i32,
    /// Monotonic nanoseconds.
    expires: u64,
    /// Period in nanoseconds; 0 for a one-shot timer.
    interval: u64,
}

/// Armed timers, earliest first.
static ITIMERS: SpinLockIrq<Vec<ItimerReal>> = SpinLockIrq::new(Vec::new());
/// ktimerd waits here; the tick wakes it when a deadline passed.
static KTIMERD_WAIT: WaitQueueHead = WaitQueueHead::new();
static DUE: AtomicBool = AtomicBool::new(false);

fn now() -> u64 {
    crate::kernel::hrtimer::ktime_get_ns()
}

/// `struct __kernel_old_itimerval`: two `timeval`s of 64-bit seconds and microseconds.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Itimerval {
    interval_sec: i64,
    interval_usec: i64,
    value_sec: i64,
    value_usec: i64,
}

impl Itimerval {
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: repr(C), four i64, no padding.
        unsafe { core::slice::from_raw_parts(self as *const Self as *const u8, 32) }
    }

    /// A timeval as nanoseconds: EINVAL for a negative one or usec outside [0, 1e6)
    /// (Linux: `timeval_valid` in `get_itimerval`).
    fn ns(sec: i64, usec: i64) -> KResult<u64> {
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        (sec as u64)
            .checked_mul(NSEC_PER_SEC)
            .and_then(|s| s.checked_add(usec as u64 * NSEC_PER_USEC))
            .ok_or(Errno::EINVAL)
    }

    fn from_ns(interval: u64, value: u64) -> Self {
        Itimerval {
            interval_sec: (interval / NSEC_PER_SEC) as i64,
            interval_usec: (interval % NSEC_PER_SEC / NSEC_PER_USEC) as i64,
            value_sec: (value / NSEC_PER_SEC) as i64,
            value_usec: (value % NSEC_PER_SEC / NSEC_PER_USEC) as i64,
        }
    }
}

/// The caller's timer as (interval, time left), Linux's rounding: a running timer never
/// reports 0 left (`it_real_fn` has not run yet: at least 1 µs).
fn get_real(pid: i32) -> (u64, u64) {
    let timers = ITIMERS.lock();
    match timers.iter().find(|t| t.pid == pid) {
        Some(t) => (
            t.interval,
            t.expires.saturating_sub(now()).max(NSEC_PER_USEC),
        ),
        None => (0, 0),
    }
}

/// Arm (or with `value` 0 disarm) `pid`'s real timer.
fn set_real(pid: i32, value: u64, interval: u64) {
    let mut timers = ITIMERS.lock();
    timers.retain(|t| t.pid != pid);
    if value != 0 {
        let t = ItimerReal {
            pid,
            expires: now().saturating_add(value),
            interval,
        };
        let pos = timers.partition_point(|x| x.expires <= t.expires);
        timers.insert(pos, t);
    }
}

/// The process is gone: so is its timer (Linux: `exit_itimers`).
pub fn exit_itimers(pid: i32) {
    ITIMERS.lock().retain(|t| t.pid != pid);
}

/// From the tick: wake ktimerd if the first deadline passed. Interrupt context.
pub fn itimer_tick() {
    let due = ITIMERS.lock().first().is_some_and(|t| t.expires <= now());
    if due {
        DUE.store(true, Ordering::Release);
        KTIMERD_WAIT.wake_up();
    }
}

/// Send SIGALRM for every timer whose deadline passed and re-arm the periodic ones
/// (Linux: `it_real_fn` -> `kill_pid_info(SIGALRM)`, and `hrtimer_forward` for the next
/// period, skipping periods that were missed).
#[no_mangle]
#[inline(never)]
pub fn it_real_fn() {
    let t_now = now();
    let mut fired = Vec::new();
    {
        let mut timers = ITIMERS.lock();
        let due = timers.partition_point(|t| t.expires <= t_now);
        if fired.try_reserve(due).is_err() {
            return; // no memory now: the next tick tries again
        }
        fired.extend(timers.drain(..due));
        for t in fired.iter().filter(|t| t.interval != 0) {
            let missed = (t_now - t.expires) / t.interval + 1;
            let next = ItimerReal {
                expires: t.expires + missed * t.interval,
                ..*t
            };
            let pos = timers.partition_point(|x| x.expires <= next.expires);
            timers.insert(pos, next);
        }
    }
    for t in fired {
        if let Some(task) = crate::task::find_task(t.pid) {
            crate::task::signal::send_signal(&task, crate::task::signal::SIGALRM);
        }
    }
}

/// The thread that delivers timer signals: woken by the tick, exits on SIGKILL (the final
/// reaper's, at shutdown).
extern "C" fn ktimerd(_: usize) {
    loop {
        if KTIMERD_WAIT
            .wait_event_interruptible(|| DUE.load(Ordering::Acquire))
            .is_err()
        {
            return;
        }
        DUE.store(false, Ordering::Release);
        it_real_fn();
    }
}

/// Start ktimerd (boot).
pub fn itimer_init() {
    if crate::task::kernel_thread("ktimerd", ktimerd, 0).is_none() {
        pr_warn!("itimer: no memory for ktimerd; SIGALRM will not be sent");
    }
}

/// setitimer(2): `setitimer(which, new, old)`. EINVAL for a `which` other than
/// ITIMER_REAL, ITIMER_VIRTUAL or ITIMER_PROF, or a bad timeval, EFAULT for unreadable `new` or
/// unwritable `old`. A NULL `new` disarms, as Linux 5.10 still allows. Linux:
/// `sys_setitimer` -> `do_setitimer`.
pub fn sys_setitimer(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (which, new, old) = (a.0[0] as i32, a.0[1], a.0[2]);
    let mut v = Itimerval::default();
    if new != 0 {
        let mut raw = [0u8; 32];
        copy_from_user(&mut raw, new)?;
        let word = |i: usize| i64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap());
        v = Itimerval {
            interval_sec: word(0),
            interval_usec: word(1),
            value_sec: word(2),
            value_usec: word(3),
        };
    }
    let clock = cpu_clock(which)?;
    let interval = Itimerval::ns(v.interval_sec, v.interval_usec)?;
    let value = Itimerval::ns(v.value_sec, v.value_usec)?;
    if let Some(clock) = clock {
        let me = crate::task::current().ok_or(Errno::ESRCH)?;
        let (oi, ov) = crate::kernel::posix_cpu_timers::set_cpu_itimer(&me, clock, value, interval);
        if old != 0 {
            copy_to_user(old, Itimerval::from_ns(oi, ov).as_bytes())?;
        }
        return Ok(0);
    }
    let pid = crate::task::current().ok_or(Errno::ESRCH)?.tgid; // the timer is the process's (signal_struct)
    let (old_interval, old_value) = get_real(pid);
    set_real(pid, value, interval);
    if old != 0 {
        copy_to_user(old, Itimerval::from_ns(old_interval, old_value).as_bytes())?;
    }
    Ok(0)
}

/// `which` as a CPU clock: None for ITIMER_REAL, EINVAL for an unknown one.
fn cpu_clock(which: i32) -> KResult<Option<crate::kernel::posix_cpu_timers::CpuClock>> {
    use crate::kernel::posix_cpu_timers::CpuClock;
    match which {
        0 => Ok(None),
        1 => Ok(Some(CpuClock::Virt)),
        2 => Ok(Some(CpuClock::Prof)),
        _ => Err(Errno::EINVAL),
    }
}

/// getitimer(2): the timer's interval and time left. EINVAL for an unknown `which`,
/// EFAULT. Linux: `do_getitimer`.
pub fn sys_getitimer(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    if let Some(clock) = cpu_clock(a.0[0] as i32)? {
        let me = crate::task::current().ok_or(Errno::ESRCH)?;
        let (i, v) = crate::kernel::posix_cpu_timers::get_cpu_itimer(&me, clock);
        copy_to_user(a.0[1], Itimerval::from_ns(i, v).as_bytes())?;
        return Ok(0);
    }
    let pid = crate::task::current().ok_or(Errno::ESRCH)?.tgid;
    let (interval, value) = get_real(pid);
    copy_to_user(a.0[1], Itimerval::from_ns(interval, value).as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timevals_convert_and_validate() {
        assert_eq!(Itimerval::ns(1, 500_000), Ok(1_500_000_000));
        assert_eq!(Itimerval::ns(0, 0), Ok(0));
        assert_eq!(Itimerval::ns(-1, 0), Err(Errno::EINVAL));
        assert_eq!(Itimerval::ns(0, 1_000_000), Err(Errno::EINVAL));
        assert_eq!(Itimerval::ns(0, -1), Err(Errno::EINVAL));
        assert_eq!(Itimerval::ns(i64::MAX, 0), Err(Errno::EINVAL));
        let v = Itimerval::from_ns(250_000_000, 2_000_001_000);
        assert_eq!(
            (v.interval_sec, v.interval_usec, v.value_sec, v.value_usec),
            (0, 250_000, 2, 1)
        );
    }
}

//! Limits and timers on a process's CPU time: RLIMIT_CPU (SIGXCPU at the soft limit and
//! every second after it, SIGKILL at the hard one) and the CPU interval timers
//! ITIMER_VIRTUAL (user time, SIGVTALRM) and ITIMER_PROF (user + system, SIGPROF).
//! Linux 5.10: `kernel/time/posix-cpu-timers.c` (`run_posix_cpu_timers`,
//! `check_process_timers`, `check_cpu_itimer`, `check_rlimit`), `kernel/time/itimer.c`
//! (`set_cpu_itimer`, `get_cpu_itimer`).
//!
//! Linux 5.10 runs the check from the tick; later kernels (and 5.10 on x86 with
//! `CONFIG_POSIX_CPU_TIMERS_TASK_WORK`) on the task's way back to user space, which is
//! what we do: the tick asks for a reschedule, and `exit_to_user_mode` calls
//! [`run_posix_cpu_timers`] before `schedule`, in process context, where sending a
//! signal may take any lock.
use crate::kernel::cputime::{thread_group_cputime, TICK_NSEC};
use crate::kernel::resource::{RLIMIT_CPU, RLIM_INFINITY};
use crate::task::signal::{send_signal, SIGKILL, SIGPROF, SIGVTALRM, SIGXCPU};
use crate::task::{current, Task};
use alloc::sync::Arc;

/// Which CPU clock an interval timer counts (Linux: `CPUCLOCK_PROF`, `CPUCLOCK_VIRT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuClock {
    /// User + system time: ITIMER_PROF.
    Prof = 0,
    /// User time: ITIMER_VIRTUAL.
    Virt = 1,
}

/// One CPU interval timer of a process (Linux: `struct cpu_itimer`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuItimer {
    /// When it fires, on its clock, in ns; 0: disarmed.
    pub expires: u64,
    /// Its period in ns; 0: one shot.
    pub incr: u64,
}

/// The process's time on `clock` now.
fn sample(t: &Task, clock: CpuClock) -> u64 {
    let (u, s) = thread_group_cputime(t);
    match clock {
        CpuClock::Prof => u + s,
        CpuClock::Virt => u,
    }
}

/// Arm (value > 0) or disarm the process's `clock` timer; returns the old (interval,
/// time left), a timer already due reporting one tick left (Linux: `set_cpu_itimer`).
pub fn set_cpu_itimer(t: &Task, clock: CpuClock, value: u64, interval: u64) -> (u64, u64) {
    let now = sample(t, clock);
    let mut it = t.sig.cpu_itimers.lock();
    let cur = &mut it[clock as usize];
    let old = get_left(cur, now);
    *cur = CpuItimer {
        expires: if value != 0 { now + value } else { 0 },
        incr: interval,
    };
    old
}

/// The process's `clock` timer as (interval, time left) (Linux: `get_cpu_itimer`).
pub fn get_cpu_itimer(t: &Task, clock: CpuClock) -> (u64, u64) {
    let now = sample(t, clock);
    get_left(&t.sig.cpu_itimers.lock()[clock as usize], now)
}

fn get_left(it: &CpuItimer, now: u64) -> (u64, u64) {
    let left = match it.expires {
        0 => 0,
        e if e <= now => TICK_NSEC,
        e => e - now,
    };
    (it.incr, left)
}

/// Fire an interval timer whose time came: re-arm a periodic one a period later, disarm
/// a one-shot, and send its signal to the process (Linux: `check_cpu_itimer`).
fn check_cpu_itimer(t: &Arc<Task>, clock: CpuClock, now: u64, sig: u32) {
    let fire = {
        let mut it = t.sig.cpu_itimers.lock();
        let cur = &mut it[clock as usize];
        if cur.expires == 0 || now < cur.expires {
            false
        } else {
            cur.expires = if cur.incr != 0 {
                cur.expires + cur.incr
            } else {
                0
            };
            true
        }
    };
    if fire {
        send_signal(t, sig);
    }
}

/// Check the current process's CPU limits and timers after it used more CPU: fire the
/// interval timers that are due; at RLIMIT_CPU's hard limit SIGKILL, at the soft one
/// SIGXCPU, and the soft limit moves a second on so that the next comes a second later.
/// Linux: `run_posix_cpu_timers` -> `check_process_timers`.
#[no_mangle]
#[inline(never)]
pub fn run_posix_cpu_timers() {
    let Some(t) = current() else { return };
    if t.pid() == 0 {
        return;
    }
    let lim = t.rlim.lock()[RLIMIT_CPU];
    let armed = t.sig.cpu_itimers.lock().iter().any(|i| i.expires != 0);
    if lim.cur == RLIM_INFINITY && !armed {
        return;
    }
    let (u, s) = thread_group_cputime(&t);
    let ptime = u + s;
    if armed {
        check_cpu_itimer(&t, CpuClock::Prof, ptime, SIGPROF);
        check_cpu_itimer(&t, CpuClock::Virt, u, SIGVTALRM);
    }
    if lim.cur != RLIM_INFINITY {
        const NSEC_PER_SEC: u64 = 1_000_000_000;
        if lim.max != RLIM_INFINITY && ptime >= lim.max.saturating_mul(NSEC_PER_SEC) {
            send_signal(&t, SIGKILL);
            return;
        }
        if ptime >= lim.cur.saturating_mul(NSEC_PER_SEC) {
            send_signal(&t, SIGXCPU);
            t.rlim.lock()[RLIMIT_CPU].cur = lim.cur + 1;
        }
    }
}

//! Sleeping until a point in time: a sorted list of deadlines, checked at every timer tick.
//!
//! Linux: `kernel/time/hrtimer.c` (`hrtimer_nanosleep` -> `do_nanosleep`,
//! `schedule_hrtimeout_range`, `hrtimer_start`, `hrtimer_cancel`, `hrtimer_run_queues`,
//! `hrtimer_wakeup`). Callers: `sys_nanosleep` (`kernel/sys.rs`); the tick
//! (`arch_timer_handler_virt`) runs [`hrtimer_run_queues`].
//!
//! Linux keeps timers in a per-CPU red-black tree and programs the clock event device for
//! the earliest one, so a sleep ends within microseconds of its deadline. Ours are a
//! `Vec` sorted by deadline and the timer keeps its periodic tick, so a sleep ends at the
//! first tick at or after the deadline: at most 1/HZ (4 ms) late, never early (Linux with
//! `CONFIG_HIGH_RES_TIMERS=n` behaves the same way).
//!
//! Each sleeper owns its timer and a wait queue of its own; the tick marks expired timers
//! fired and wakes their queue, so a tick wakes only the tasks whose time has come.
use crate::errno::KResult;
use crate::sync::wait::SleepState;
use crate::sync::{SpinLockIrq, WaitQueueHead};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

/// A sleeping task's timer (Linux: `struct hrtimer_sleeper`: the timer and the task).
pub struct HrTimerSleeper {
    /// Deadline in nanoseconds of the monotonic clock (Linux: `hrtimer_get_expires`).
    expires: u64,
    /// Set by the tick when the deadline passed (Linux: `t->task = NULL` in `hrtimer_wakeup`).
    fired: AtomicBool,
    /// Where the sleeper waits.
    wq: WaitQueueHead,
    /// Another queue the sleeper may be on instead ([`wait_event_hrtimeout`]), woken too.
    also_wake: Option<&'static WaitQueueHead>,
}

/// Armed timers, earliest deadline first (Linux: the `hrtimer_clock_base` rb-tree).
static TIMERS: SpinLockIrq<Vec<Arc<HrTimerSleeper>>> = SpinLockIrq::new(Vec::new());

/// Now, in nanoseconds of the monotonic clock (Linux: `ktime_get`).
pub fn ktime_get_ns() -> u64 {
    crate::kernel::sys::ktime_get_ns()
}

/// Arm `t` (Linux: `hrtimer_start`, `enqueue_hrtimer`).
fn hrtimer_start(t: &Arc<HrTimerSleeper>) {
    let mut timers = TIMERS.lock();
    let pos = timers.partition_point(|x| x.expires <= t.expires);
    timers.insert(pos, t.clone());
}

/// Disarm `t` if the tick has not taken it yet (Linux: `hrtimer_cancel`).
fn hrtimer_cancel(t: &Arc<HrTimerSleeper>) {
    TIMERS.lock().retain(|x| !Arc::ptr_eq(x, t));
}

/// Number of armed timers (for tests and /proc).
pub fn nr_armed() -> usize {
    TIMERS.lock().len()
}

/// Fire every timer whose deadline has passed: mark it and wake its sleeper. Called from
/// the timer interrupt. Linux: `hrtimer_run_queues` -> `__hrtimer_run_queues` ->
/// `hrtimer_wakeup`.
#[no_mangle]
#[inline(never)]
pub fn hrtimer_run_queues() {
    let now = ktime_get_ns();
    let mut timers = TIMERS.lock();
    let due = timers.partition_point(|x| x.expires <= now);
    for t in timers.drain(..due) {
        t.fired.store(true, Ordering::Release);
        t.wq.wake_up();
        if let Some(wq) = t.also_wake {
            wq.wake_up();
        }
    }
    drop(timers);
    // Interval timers whose deadline passed (Linux: the same hrtimer queue runs
    // `it_real_fn`; here ktimerd does, see kernel/itimer.rs).
    crate::kernel::itimer::itimer_tick();
}

/// Sleep in `state` until the monotonic clock reaches `expires` (ns). Returns ERESTARTSYS
/// when a signal ends an interruptible sleep first (EINTR for a fatal one in a killable
/// sleep); Linux's returns -EINTR, which its callers (`do_nanosleep`) replace anyway. Before the
/// scheduler runs, or on the idle task, the wait is `wfi` until the tick fires the timer.
/// Linux: `schedule_hrtimeout_range` (`hrtimer_init_sleeper`, `hrtimer_sleeper_start_expires`,
/// `schedule`, `hrtimer_cancel`), as `do_nanosleep` uses it.
#[no_mangle]
#[inline(never)]
pub fn schedule_hrtimeout(expires: u64, state: SleepState) -> KResult<()> {
    if ktime_get_ns() >= expires {
        return Ok(());
    }
    let t = Arc::new(HrTimerSleeper {
        expires,
        fired: AtomicBool::new(false),
        wq: WaitQueueHead::new(),
        also_wake: None,
    });
    hrtimer_start(&t);
    let r =
        t.wq.wait_event_state(state, || t.fired.load(Ordering::Acquire));
    hrtimer_cancel(&t);
    r
}

impl HrTimerSleeper {
    /// A sleeper whose timer will fire at `expires` (ns of the monotonic clock; `u64::MAX`:
    /// never), not yet armed (Linux: `hrtimer_init_sleeper`).
    pub fn new(expires: u64) -> Arc<Self> {
        Arc::new(HrTimerSleeper {
            expires,
            fired: AtomicBool::new(false),
            wq: WaitQueueHead::new(),
            also_wake: None,
        })
    }

    /// Wake the sleeper before its deadline: the event it waits for came (a futex wake;
    /// Linux: `wake_q_add` of the `futex_q`'s task).
    pub fn wake(&self) {
        self.wq.wake_up();
    }

    /// Has the deadline passed?
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }
}

/// Sleep in `state` until `cond()` holds or `t`'s deadline passes, whichever is first;
/// the caller tells which by `t.fired()`. EINTR when a signal ends the sleep first.
/// Linux: `hrtimer_sleeper_start_expires` + `schedule` + `hrtimer_cancel`, as
/// `futex_wait_queue_me` uses them.
pub fn hrtimer_sleep_until(
    t: &Arc<HrTimerSleeper>,
    state: SleepState,
    mut cond: impl FnMut() -> bool,
) -> KResult<()> {
    let armed = t.expires != u64::MAX;
    if armed {
        if ktime_get_ns() >= t.expires {
            t.fired.store(true, Ordering::Release);
        } else {
            hrtimer_start(t);
        }
    }
    let r =
        t.wq.wait_event_state(state, || cond() || t.fired.load(Ordering::Acquire));
    if armed {
        hrtimer_cancel(t);
    }
    r
}

/// Sleep on `wq` (interruptibly) until `cond()` holds or the monotonic clock reaches
/// `expires` (ns; None: no limit). Ok(true) when the condition held, Ok(false) on
/// timeout, EINTR for a signal. Linux: `wait_event_interruptible_hrtimeout`; poll(2)'s
/// `poll_schedule_timeout` sleeps this way.
pub fn wait_event_hrtimeout(
    wq: &'static WaitQueueHead,
    expires: Option<u64>,
    mut cond: impl FnMut() -> bool,
) -> KResult<bool> {
    let Some(expires) = expires else {
        wq.wait_event_interruptible(&mut cond)?;
        return Ok(true);
    };
    let t = Arc::new(HrTimerSleeper {
        expires,
        fired: AtomicBool::new(false),
        wq: WaitQueueHead::new(),
        also_wake: Some(wq),
    });
    hrtimer_start(&t);
    let mut met = false;
    let r = wq.wait_event_interruptible(|| {
        met = cond();
        met || t.fired.load(Ordering::Acquire) || ktime_get_ns() >= expires
    });
    hrtimer_cancel(&t);
    r.map(|()| met)
}

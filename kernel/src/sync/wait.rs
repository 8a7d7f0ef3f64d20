//! Wait queues: sleep until a condition holds, woken by whoever makes it true.
//!
//! Linux: `include/linux/wait.h` (`wait_event`, `wait_event_interruptible`,
//! `wait_event_killable`, `wake_up`), `kernel/sched/wait.c` (`prepare_to_wait`,
//! `finish_wait`, `__wake_up`).
//!
//! The scheduler lives on a higher floor (`task/`), and mm/, drivers and fs must be able to
//! sleep without importing it. So, as Linux hands a lower layer an operations table, the
//! scheduler hands this module a [`SchedOps`] at `sched_init` (`register_sched_ops`). Before
//! that (early boot) and in host unit tests there is nobody to switch to: a wait spins on
//! `wfi` until the condition holds, which is what the boot CPU would do anyway.
//!
//! The protocol is Linux's, and it is what makes a wake-up between "condition false" and
//! "schedule()" harmless: the sleeper first queues itself and sets its state, then checks
//! the condition, then calls `schedule()`. A waker makes the condition true, then calls
//! `wake_up`, which sets every queued task running again; a task set running before it
//! reached `schedule()` is simply put back on the run queue by it.
use super::SpinLockIrq;
use crate::errno::{Errno, KResult};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Something that can be woken: a task (Linux: the `private` of a wait-queue entry, woken
/// by `default_wake_function` -> `try_to_wake_up`).
pub trait Waiter: Send + Sync {
    /// Make the sleeper runnable again (Linux: `wake_up_process`). Safe from interrupt
    /// context and on a task that is already running.
    fn wake_up(&self);
}

/// The state a sleeper takes before it calls `schedule()` (Linux: `TASK_RUNNING`,
/// `TASK_INTERRUPTIBLE`, `TASK_UNINTERRUPTIBLE`, `TASK_KILLABLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SleepState {
    /// On the run queue (Linux: `TASK_RUNNING`).
    Running,
    /// Woken by the event or by any signal (Linux: `TASK_INTERRUPTIBLE`).
    Interruptible,
    /// Woken by the event only (Linux: `TASK_UNINTERRUPTIBLE`): disk I/O, a page lock.
    Uninterruptible,
    /// Woken by the event or a fatal signal (Linux: `TASK_KILLABLE`).
    Killable,
}

/// The scheduler's side of sleeping, registered by `task::sched_init`.
pub struct SchedOps {
    /// The running task as something to wake later; None before the first task exists.
    pub current: fn() -> Option<Arc<dyn Waiter>>,
    /// Set the running task's state (Linux: `set_current_state`).
    pub set_current_state: fn(SleepState),
    /// Switch to another runnable task; returns when this one is woken and picked again
    /// (Linux: `schedule`).
    pub schedule: fn(),
    /// Does the running task have a signal pending (Linux: `signal_pending(current)`)?
    pub signal_pending: fn() -> bool,
    /// Does it have a fatal one, SIGKILL (Linux: `fatal_signal_pending(current)`)?
    pub fatal_signal_pending: fn() -> bool,
    /// Let another task run if the tick asked for it (Linux: `cond_resched`): the
    /// preemption point of long kernel loops in a kernel that is not preemptible.
    pub cond_resched: fn(),
}

static SCHED_OPS: AtomicPtr<SchedOps> = AtomicPtr::new(core::ptr::null_mut());

/// Install the scheduler's operations (once, from `sched_init`).
pub fn register_sched_ops(ops: &'static SchedOps) {
    SCHED_OPS.store(ops as *const SchedOps as *mut SchedOps, Ordering::Release);
}

/// The registered scheduler operations, if any.
pub fn sched_ops() -> Option<&'static SchedOps> {
    let p = SCHED_OPS.load(Ordering::Acquire);
    // SAFETY: only `register_sched_ops` stores here, and it stores a `&'static`.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Linux: `cond_resched`: schedule if the tick set need_resched (and a scheduler exists).
/// Call only where sleeping is allowed: no spin lock held.
pub fn cond_resched() {
    if let Some(ops) = sched_ops() {
        (ops.cond_resched)();
    }
}

/// Linux: `fatal_signal_pending(current)`; false without a scheduler.
pub fn fatal_signal_pending() -> bool {
    sched_ops().is_some_and(|ops| (ops.fatal_signal_pending)())
}

/// Who is running, as a number that stays the same for the task's life and differs
/// from every other live task's (the address of its waker); 0 without a scheduler. For
/// queues that must find a sleeper's own entry again (userfaultfd's fault list).
pub fn current_id() -> usize {
    sched_ops()
        .and_then(|ops| (ops.current)())
        .map_or(0, |w| Arc::as_ptr(&w) as *const () as usize)
}

/// Is the running task one that can sleep? (False before `sched_init` and on the host.)
pub fn can_sleep() -> bool {
    sched_ops().is_some_and(|ops| (ops.current)().is_some())
}

/// One sleeper on a queue (Linux: `struct wait_queue_entry`).
struct WaitEntry {
    id: u64,
    task: Arc<dyn Waiter>,
}

static NEXT_ENTRY: AtomicU64 = AtomicU64::new(1);

/// A queue of sleeping tasks (Linux: `struct wait_queue_head`: a spinlock and a list).
pub struct WaitQueueHead {
    head: SpinLockIrq<Vec<WaitEntry>>,
    /// Entries on `head`, readable without the lock, so that waking an empty queue (the
    /// common case: every `up_read` of an uncontended semaphore) costs one load.
    nr: AtomicUsize,
}

impl Default for WaitQueueHead {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueueHead {
    /// An empty queue (Linux: `DECLARE_WAIT_QUEUE_HEAD` / `init_waitqueue_head`).
    pub const fn new() -> Self {
        Self {
            head: SpinLockIrq::new(Vec::new()),
            nr: AtomicUsize::new(0),
        }
    }

    /// Is anybody waiting (Linux: `waitqueue_active`)?
    pub fn waitqueue_active(&self) -> bool {
        self.nr.load(Ordering::SeqCst) != 0
    }

    /// Wake every sleeper (Linux: `wake_up` / `wake_up_all`: our entries are never
    /// exclusive). Each rechecks its condition, so a spurious wake-up is harmless. Callable
    /// from interrupt handlers.
    #[inline]
    pub fn wake_up(&self) {
        // A sleeper counts itself in before it tests its condition, and the waker made
        // the condition true before this load (both SeqCst): either we see it here, or
        // it sees the condition true and does not sleep.
        if !self.waitqueue_active() {
            return;
        }
        self.__wake_up();
    }

    /// The slow half of `wake_up`, out of line so that the empty-queue test stays inline
    /// in every caller (each `up_read` of `mmap_lock` in the fault path makes one).
    /// Linux: `__wake_up`.
    #[inline(never)]
    fn __wake_up(&self) {
        let q = self.head.lock();
        for e in q.iter() {
            e.task.wake_up();
        }
    }

    /// Sleep in `state` until `cond()` returns true; `cond` runs with no lock held and may
    /// take what it tests for (the rwsem's `try` functions do). When a signal
    /// (Interruptible) ends the wait first it returns ERESTARTSYS, as Linux does: the system
    /// call that slept passes it up, and `do_signal` restarts the call (no handler, or
    /// SA_RESTART) or makes it EINTR. A fatal signal (Killable) returns EINTR (Linux returns
    /// ERESTARTSYS there too, but the task dies before user space could see either). Linux:
    /// `___wait_event` (`prepare_to_wait_event`, `schedule`, `finish_wait`).
    pub fn wait_event_state(
        &self,
        state: SleepState,
        mut cond: impl FnMut() -> bool,
    ) -> KResult<()> {
        if cond() {
            return Ok(());
        }
        let Some(ops) = sched_ops() else {
            return spin_until(cond);
        };
        let Some(me) = (ops.current)() else {
            return spin_until(cond);
        };
        // prepare_to_wait: queue first, then set the state, then test the condition.
        let id = NEXT_ENTRY.fetch_add(1, Ordering::Relaxed);
        {
            let mut q = self.head.lock();
            q.push(WaitEntry { id, task: me });
            self.nr.store(q.len(), Ordering::SeqCst);
        }
        let result = loop {
            (ops.set_current_state)(state);
            if cond() {
                break Ok(());
            }
            let interrupted = match state {
                SleepState::Interruptible if (ops.signal_pending)() => Some(Errno::ERESTARTSYS),
                SleepState::Killable if (ops.fatal_signal_pending)() => Some(Errno::EINTR),
                _ => None,
            };
            if let Some(e) = interrupted {
                break Err(e);
            }
            (ops.schedule)();
        };
        // finish_wait.
        (ops.set_current_state)(SleepState::Running);
        {
            let mut q = self.head.lock();
            q.retain(|e| e.id != id);
            self.nr.store(q.len(), Ordering::SeqCst);
        }
        result
    }

    /// Sleep until `cond()` holds; nothing but the event ends the wait (Linux:
    /// `wait_event`, TASK_UNINTERRUPTIBLE).
    pub fn wait_event(&self, cond: impl FnMut() -> bool) {
        let _ = self.wait_event_state(SleepState::Uninterruptible, cond);
    }

    /// Sleep until `cond()` holds or a signal arrives (ERESTARTSYS, which never reaches
    /// user space: see `do_signal`). Linux: `wait_event_interruptible`.
    pub fn wait_event_interruptible(&self, cond: impl FnMut() -> bool) -> KResult<()> {
        self.wait_event_state(SleepState::Interruptible, cond)
    }

    /// Sleep until `cond()` holds or the task is killed (EINTR). Linux: `wait_event_killable`.
    pub fn wait_event_killable(&self, cond: impl FnMut() -> bool) -> KResult<()> {
        self.wait_event_state(SleepState::Killable, cond)
    }
}

/// No scheduler yet (early boot, host tests): wait for the interrupt that will make the
/// condition true. On the host nothing can, so a false condition there is a test bug.
fn spin_until(mut cond: impl FnMut() -> bool) -> KResult<()> {
    let mut spins: u64 = 0;
    while !cond() {
        crate::arch::cpu::wfi();
        spins += 1;
        if cfg!(test) && spins > 1_000_000 {
            panic!("wait_event on the host: the condition can never become true");
        }
    }
    Ok(())
}

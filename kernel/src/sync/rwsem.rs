//! A sleeping reader/writer semaphore that owns the data it protects.
//!
//! Linux: `include/linux/rwsem.h`, `kernel/locking/rwsem.c` (`down_read`, `down_write`,
//! `downgrade_write`, `down_read_killable`, `up_read`, `up_write`). Its best-known user is
//! `mm->mmap_lock` (`mm/mmap_lock.rs` wraps it under the names `mmap_read_lock` & co.).
//!
//! Rust keeps the protected data inside the lock, so the guard is the only way to reach it:
//! a read guard gives `&T`, a write guard `&mut T`. The state is one word, `count`, as in
//! Linux: `0` free, `n > 0` held by n readers, `-1` held by a writer (Linux packs the same
//! facts into bits of `sem->count`). A task that cannot take it sleeps on `wait` and
//! retries when woken. Differences from Linux: no optimistic spinning (one CPU), and no
//! hand-off to the first waiter: a reader may pass a waiting writer. The holders here are
//! short (a system call or a fault), so starvation does not show.
use super::wait::{SleepState, WaitQueueHead};
use crate::errno::KResult;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicIsize, Ordering};

/// `count` of a semaphore held for writing.
pub const RWSEM_WRITER_LOCKED: isize = -1;

/// A sleeping reader/writer lock around `T` (Linux: `struct rw_semaphore`).
pub struct RwSemaphore<T> {
    /// `0` free, `n > 0` readers, [`RWSEM_WRITER_LOCKED`] a writer. A debugger reads the
    /// lock state here (`p mm.mmap_lock.count`).
    pub count: AtomicIsize,
    /// Tasks waiting to take it (Linux: `wait_list`).
    wait: WaitQueueHead,
    data: UnsafeCell<T>,
}

// SAFETY: access to `data` is serialised by `count` exactly as a reader/writer lock does:
// shared references only while readers hold it, one unique reference while a writer does.
unsafe impl<T: Send> Send for RwSemaphore<T> {}
// SAFETY: as above; readers on several tasks share `&T`, so `T: Sync` is needed too.
unsafe impl<T: Send + Sync> Sync for RwSemaphore<T> {}

impl<T> RwSemaphore<T> {
    /// A free semaphore around `data` (Linux: `init_rwsem`).
    pub const fn new(data: T) -> Self {
        Self {
            count: AtomicIsize::new(0),
            wait: WaitQueueHead::new(),
            data: UnsafeCell::new(data),
        }
    }

    /// Take it for reading if no writer holds it (Linux: `down_read_trylock`).
    pub fn try_read(&self) -> Option<RwSemReadGuard<'_, T>> {
        let mut c = self.count.load(Ordering::Relaxed);
        while c >= 0 {
            match self
                .count
                .compare_exchange_weak(c, c + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(RwSemReadGuard { sem: self }),
                Err(now) => c = now,
            }
        }
        None
    }

    /// Take it for writing if nobody holds it (Linux: `down_write_trylock`).
    pub fn try_write(&self) -> Option<RwSemWriteGuard<'_, T>> {
        self.count
            .compare_exchange(0, RWSEM_WRITER_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| RwSemWriteGuard { sem: self })
    }

    fn down(&self, state: SleepState, write: bool) -> KResult<()> {
        self.wait.wait_event_state(state, || {
            if write {
                self.try_write().map(core::mem::forget).is_some()
            } else {
                self.try_read().map(core::mem::forget).is_some()
            }
        })
    }

    /// Take it for reading, sleeping while a writer holds it (Linux: `down_read`).
    pub fn read(&self) -> RwSemReadGuard<'_, T> {
        let _ = self.down(SleepState::Uninterruptible, false);
        RwSemReadGuard { sem: self }
    }

    /// As `read`, but a fatal signal ends the wait with EINTR (Linux: `down_read_killable`).
    pub fn read_killable(&self) -> KResult<RwSemReadGuard<'_, T>> {
        self.down(SleepState::Killable, false)?;
        Ok(RwSemReadGuard { sem: self })
    }

    /// Take it for writing, sleeping while anybody holds it (Linux: `down_write`).
    pub fn write(&self) -> RwSemWriteGuard<'_, T> {
        let _ = self.down(SleepState::Uninterruptible, true);
        RwSemWriteGuard { sem: self }
    }

    /// As `write`, but a fatal signal ends the wait with EINTR (Linux: `down_write_killable`).
    pub fn write_killable(&self) -> KResult<RwSemWriteGuard<'_, T>> {
        self.down(SleepState::Killable, true)?;
        Ok(RwSemWriteGuard { sem: self })
    }

    /// The data, for the owner that holds the only reference (teardown).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Is it held for reading (by anybody)? For assertions and debuggers.
    pub fn is_read_locked(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Is it held for writing? For assertions and debuggers.
    pub fn is_write_locked(&self) -> bool {
        self.count.load(Ordering::Relaxed) == RWSEM_WRITER_LOCKED
    }
}

/// The semaphore held for reading; dropping it is `up_read`.
pub struct RwSemReadGuard<'a, T> {
    sem: &'a RwSemaphore<T>,
}

impl<'a, T> RwSemReadGuard<'a, T> {
    /// The semaphore this guard holds.
    pub fn semaphore(&self) -> &'a RwSemaphore<T> {
        self.sem
    }
}

impl<T> Deref for RwSemReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a reader holds the semaphore, so no writer has `&mut T`.
        unsafe { &*self.sem.data.get() }
    }
}

impl<T> Drop for RwSemReadGuard<'_, T> {
    /// Linux: `up_read`: the last reader out wakes the waiters (a writer may be among them).
    fn drop(&mut self) {
        if self.sem.count.fetch_sub(1, Ordering::Release) == 1 {
            self.sem.wait.wake_up();
        }
    }
}

/// The semaphore held for writing; dropping it is `up_write`.
pub struct RwSemWriteGuard<'a, T> {
    sem: &'a RwSemaphore<T>,
}

impl<'a, T> RwSemWriteGuard<'a, T> {
    /// Turn the write hold into a read hold without letting a writer in between; waiting
    /// readers may now enter (Linux: `downgrade_write`).
    pub fn downgrade(self) -> RwSemReadGuard<'a, T> {
        let sem = self.sem;
        core::mem::forget(self);
        sem.count.store(1, Ordering::Release);
        sem.wait.wake_up();
        RwSemReadGuard { sem }
    }

    /// The semaphore this guard holds.
    pub fn semaphore(&self) -> &'a RwSemaphore<T> {
        self.sem
    }
}

impl<T> Deref for RwSemWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the writer holds the semaphore alone.
        unsafe { &*self.sem.data.get() }
    }
}

impl<T> DerefMut for RwSemWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the writer holds the semaphore alone, and `&mut self` makes this borrow
        // the only one taken through the guard.
        unsafe { &mut *self.sem.data.get() }
    }
}

impl<T> Drop for RwSemWriteGuard<'_, T> {
    /// Linux: `up_write`.
    fn drop(&mut self) {
        self.sem.count.store(0, Ordering::Release);
        self.sem.wait.wake_up();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_share_and_writer_excludes() {
        let s = RwSemaphore::new(5);
        let a = s.read();
        let b = s.try_read().expect("second reader");
        assert_eq!(s.count.load(Ordering::Relaxed), 2);
        assert!(s.try_write().is_none());
        drop(a);
        drop(b);
        let mut w = s.try_write().expect("free for a writer");
        *w += 1;
        assert!(s.is_write_locked());
        assert!(s.try_read().is_none());
        drop(w);
        assert_eq!(*s.read(), 6);
        assert_eq!(s.count.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn downgrade_keeps_writers_out_and_lets_readers_in() {
        let s = RwSemaphore::new(());
        let r = s.write().downgrade();
        assert!(s.is_read_locked());
        assert!(s.try_write().is_none());
        let r2 = s
            .try_read()
            .expect("a reader may join after downgrade_write");
        drop((r, r2));
        assert!(s.try_write().is_some());
    }
}

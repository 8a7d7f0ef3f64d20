//! Locks. One CPU for now, so a lock's real job is to keep interrupt handlers out:
//! `SpinLockIrq` is Linux's `spin_lock_irqsave` in a type.

use crate::arch::cpu;
use core::ops::{Deref, DerefMut};

/// A spinlock taken with local interrupts disabled (Linux: `spin_lock_irqsave`).
pub struct SpinLockIrq<T> {
    inner: spin::Mutex<T>,
}

/// Guard of a [`SpinLockIrq`]; restores the interrupt mask when dropped.
pub struct SpinLockIrqGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    flags: usize,
}

impl<T> SpinLockIrq<T> {
    /// A new unlocked lock.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    /// Disable local interrupts, then take the lock.
    pub fn lock(&self) -> SpinLockIrqGuard<'_, T> {
        let flags = cpu::local_irq_save();
        SpinLockIrqGuard {
            guard: Some(self.inner.lock()),
            flags,
        }
    }

    /// Take the lock if it is free (the panic path uses this to avoid deadlocking on a
    /// lock the panicking code held).
    pub fn try_lock(&self) -> Option<SpinLockIrqGuard<'_, T>> {
        let flags = cpu::local_irq_save();
        match self.inner.try_lock() {
            Some(g) => Some(SpinLockIrqGuard {
                guard: Some(g),
                flags,
            }),
            None => {
                cpu::local_irq_restore(flags);
                None
            }
        }
    }
}

impl<T> Deref for SpinLockIrqGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().unwrap()
    }
}

impl<T> DerefMut for SpinLockIrqGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().unwrap()
    }
}

impl<T> Drop for SpinLockIrqGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        cpu::local_irq_restore(self.flags);
    }
}

/// A spin lock for data no interrupt handler touches (Linux: `spin_lock`, without
/// `_irqsave`): the page-table lock. Cheaper than [`SpinLockIrq`], which masks IRQs.
pub type SpinLock<T> = spin::Mutex<T>;
/// The guard of a [`SpinLock`].
pub type SpinLockGuard<'a, T> = spin::MutexGuard<'a, T>;

pub mod rwsem;
pub mod wait;

pub use rwsem::{RwSemReadGuard, RwSemWriteGuard, RwSemaphore};
pub use wait::{WaitQueueHead, Waiter};

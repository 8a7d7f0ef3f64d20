//! The mmap lock API. Linux: `include/linux/mmap_lock.h` (5.8 renamed `mmap_sem` to
//! `mmap_lock` and wrapped it in these functions).
//!
//! `mm.mmap_lock` is a sleeping reader/writer semaphore (`sync::rwsem`) holding the VMA
//! half of the mm ([`MmapLocked`]). Writers (mmap, munmap, mprotect, brk, mlock's flag
//! changes) exclude everybody; readers (page faults, get_user_pages and populate, /proc)
//! share it. A holder may sleep (disk I/O, a locked page), so no spin lock is ever held
//! across taking it. Dropping a guard is the unlock; the `*_unlock` functions exist so the
//! code reads as Linux's does.
use crate::errno::KResult;
use crate::mm::mm_types::{MmStruct, MmapLocked};
use crate::sync::{RwSemReadGuard, RwSemWriteGuard};

/// `mmap_lock` held for reading.
pub type MmapReadGuard<'a> = RwSemReadGuard<'a, MmapLocked>;
/// `mmap_lock` held for writing.
pub type MmapWriteGuard<'a> = RwSemWriteGuard<'a, MmapLocked>;

/// Linux: `mmap_read_lock`.
#[inline]
pub fn mmap_read_lock(mm: &MmStruct) -> MmapReadGuard<'_> {
    mm.mmap_lock.read()
}

/// Linux: `mmap_read_lock_killable`: EINTR if a fatal signal ends the wait.
#[inline]
pub fn mmap_read_lock_killable(mm: &MmStruct) -> KResult<MmapReadGuard<'_>> {
    mm.mmap_lock.read_killable()
}

/// Linux: `mmap_read_trylock`.
#[inline]
pub fn mmap_read_trylock(mm: &MmStruct) -> Option<MmapReadGuard<'_>> {
    mm.mmap_lock.try_read()
}

/// Linux: `mmap_read_unlock`.
#[inline]
pub fn mmap_read_unlock(guard: MmapReadGuard<'_>) {
    drop(guard);
}

/// Linux: `mmap_write_lock`.
#[inline]
pub fn mmap_write_lock(mm: &MmStruct) -> MmapWriteGuard<'_> {
    mm.mmap_lock.write()
}

/// Linux: `mmap_write_lock_killable`: EINTR if a fatal signal ends the wait.
#[inline]
pub fn mmap_write_lock_killable(mm: &MmStruct) -> KResult<MmapWriteGuard<'_>> {
    mm.mmap_lock.write_killable()
}

/// Linux: `mmap_write_unlock`.
#[inline]
pub fn mmap_write_unlock(guard: MmapWriteGuard<'_>) {
    drop(guard);
}

/// Keep holding the lock, for reading only, so faults and readers may proceed while the
/// caller finishes slow work that needs no writer's exclusion (Linux:
/// `mmap_write_downgrade`, used by munmap and brk to zap pages under the read lock).
#[inline]
pub fn mmap_write_downgrade(guard: MmapWriteGuard<'_>) -> MmapReadGuard<'_> {
    guard.downgrade()
}

//! The page lock: `PG_locked` as a sleeping lock on one page, held while its I/O runs.
//!
//! Linux: `include/linux/pagemap.h` (`trylock_page`, `lock_page`, `lock_page_killable`,
//! `wait_on_page_locked`) and `mm/filemap.c` (`unlock_page`, `__lock_page`,
//! `wait_on_page_bit_common`). Callers: the page cache (`read_cache_page` locks a new page
//! while `readpage` fills it; a second reader waits for the unlock instead of reading it
//! again), later reclaim and swap.
//!
//! Linux hashes pages onto 256 wait queues (`page_waitqueue`) and wakes only the waiters
//! of the unlocked page (`wake_page_function` filters by page and bit). We keep one queue
//! for every page: `unlock_page` wakes them all and each waiter rechecks its own page, so
//! an unrelated unlock costs a spurious wake-up, never a missed one.
//!
//! Sleeping goes through `sync::wait` (mm/ does not know the scheduler). A caller that
//! cannot sleep (before the scheduler, the idle task) waits in `wfi` instead.
//! Lock order: `mmap_lock` -> page lock -> `i_mmap_rwsem` (DESIGN.md 5).
use crate::errno::KResult;
use crate::mm::page::{Page, PageFlags};
use crate::sync::WaitQueueHead;
use core::sync::atomic::Ordering;

/// Sleepers on any page's lock (Linux: the `page_wait_table` hash, reduced to one entry).
static PAGE_WAIT: WaitQueueHead = WaitQueueHead::new();

/// Set PG_locked if it was clear; true if we now hold the lock. Never sleeps. Linux:
/// `trylock_page` (`test_and_set_bit_lock(PG_locked)`).
#[no_mangle]
#[inline(never)]
pub fn trylock_page(page: &Page) -> bool {
    let bit = PageFlags::PG_locked.bits();
    page.flags.fetch_or(bit, Ordering::Acquire) & bit == 0
}

/// Take the page lock, sleeping TASK_UNINTERRUPTIBLE while another holder has it. Linux:
/// `lock_page` -> `__lock_page` -> `wait_on_page_bit_common(.., TASK_UNINTERRUPTIBLE,
/// EXCLUSIVE)`.
#[no_mangle]
#[inline(never)]
pub fn lock_page(page: &Page) {
    if !trylock_page(page) {
        PAGE_WAIT.wait_event(|| trylock_page(page));
    }
}

/// Take the page lock, or give up with EINTR when the task is killed while waiting.
/// Linux: `lock_page_killable` -> `__lock_page_killable` (TASK_KILLABLE).
#[no_mangle]
#[inline(never)]
pub fn lock_page_killable(page: &Page) -> KResult<()> {
    if trylock_page(page) {
        return Ok(());
    }
    PAGE_WAIT.wait_event_killable(|| trylock_page(page))
}

/// Release the page lock and wake its waiters. Linux: `unlock_page`
/// (`clear_bit_unlock_is_negative_byte` + `wake_up_page_bit` when PG_waiters).
#[no_mangle]
#[inline(never)]
pub fn unlock_page(page: &Page) {
    let bit = PageFlags::PG_locked.bits();
    let was = page.flags.fetch_and(!bit, Ordering::Release);
    debug_assert!(was & bit != 0, "unlock_page of an unlocked page");
    if PAGE_WAIT.waitqueue_active() {
        PAGE_WAIT.wake_up();
    }
}

/// Is the page locked (Linux: `PageLocked`)?
pub fn page_locked(page: &Page) -> bool {
    page.flags.load(Ordering::Acquire) & PageFlags::PG_locked.bits() != 0
}

/// Sleep until the page is unlocked, without taking the lock: a reader waiting for
/// another's I/O to finish. Linux: `wait_on_page_locked` -> `wait_on_page_bit`
/// (TASK_UNINTERRUPTIBLE, SHARED).
#[no_mangle]
#[inline(never)]
pub fn wait_on_page_locked(page: &Page) {
    if page_locked(page) {
        PAGE_WAIT.wait_event(|| !page_locked(page));
    }
}

/// Writeback of the page is over: clear PG_writeback and wake whoever waits for it.
/// Linux: `end_page_writeback` (`test_clear_page_writeback` + `wake_up_page(PG_writeback)`).
#[no_mangle]
#[inline(never)]
pub fn end_page_writeback(page: &Page) {
    let was = page.test_and_clear(PageFlags::PG_writeback);
    debug_assert!(was, "end_page_writeback of a page not under writeback");
    if PAGE_WAIT.waitqueue_active() {
        PAGE_WAIT.wake_up();
    }
}

/// Sleep until the page's writeback is over (Linux: `wait_on_page_writeback`).
#[no_mangle]
#[inline(never)]
pub fn wait_on_page_writeback(page: &Page) {
    if page.test(PageFlags::PG_writeback) {
        PAGE_WAIT.wait_event(|| !page.test(PageFlags::PG_writeback));
    }
}

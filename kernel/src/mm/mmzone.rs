//! The node's LRU lists. Linux: `include/linux/mmzone.h` (`enum lru_list`, `struct
//! lruvec`, `pgdat->lru_lock`).
//!
//! Five lists, as 5.10 has them per node: inactive and active anonymous (swap-backed:
//! anonymous and shmem pages), inactive and active file, and unevictable (mlocked pages).
//! A page is on at most one, with PG_lru set, linked through `page->lru`. New pages go to
//! the head, reclaim takes from the tail: the tail is the least recently added or used.
//! One node, one memory cgroup (none), so one `lruvec`, behind `lru_lock` (5.10 keeps
//! `lru_lock` in the node; 5.11 moved it into the lruvec).
//!
//! Callers: `mm/mm_inline.rs` (add/del, counters), `mm/swap.rs` (adding, activating,
//! releasing), `mm/vmscan.rs` (isolating and putting back, scanning), `mm/mlock.rs`.
use crate::mm::page::{page_to_pfn, pfn_to_page, Page};
use crate::sync::{SpinLockIrq, SpinLockIrqGuard};
use core::sync::atomic::Ordering;

/// Inactive anonymous (Linux: `LRU_INACTIVE_ANON`).
pub const LRU_INACTIVE_ANON: usize = 0;
/// Active anonymous (Linux: `LRU_ACTIVE_ANON`).
pub const LRU_ACTIVE_ANON: usize = 1;
/// Inactive file (Linux: `LRU_INACTIVE_FILE`).
pub const LRU_INACTIVE_FILE: usize = 2;
/// Active file (Linux: `LRU_ACTIVE_FILE`).
pub const LRU_ACTIVE_FILE: usize = 3;
/// Unevictable (Linux: `LRU_UNEVICTABLE`).
pub const LRU_UNEVICTABLE: usize = 4;
/// How many lists (Linux: `NR_LRU_LISTS`).
pub const NR_LRU_LISTS: usize = 5;
/// Added to an inactive list's index to get its active list (Linux: `LRU_ACTIVE`).
pub const LRU_ACTIVE: usize = 1;
/// The base of the file lists (Linux: `LRU_FILE`).
pub const LRU_FILE: usize = 2;

/// Is `lru` one of the file lists (Linux: `is_file_lru`)?
pub fn is_file_lru(lru: usize) -> bool {
    lru == LRU_INACTIVE_FILE || lru == LRU_ACTIVE_FILE
}

/// Is `lru` an active list (Linux: `is_active_lru`)?
pub fn is_active_lru(lru: usize) -> bool {
    lru == LRU_ACTIVE_ANON || lru == LRU_ACTIVE_FILE
}

/// "No page" in a list link.
const NONE: usize = usize::MAX;

/// One LRU list, linked through the pages' `lru` fields by pfn (Linux: a `list_head`
/// plus its size in `lruvec->lists` and the node counters).
#[derive(Debug)]
pub struct LruListHead {
    /// Most recently added (Linux: `list->next`).
    head: usize,
    /// Least recently added: where reclaim looks first (Linux: `list->prev`).
    tail: usize,
    /// Pages on the list.
    pub nr_pages: usize,
}

impl LruListHead {
    /// An empty list.
    pub const fn new() -> Self {
        LruListHead {
            head: NONE,
            tail: NONE,
            nr_pages: 0,
        }
    }

    /// Is the list empty?
    pub fn is_empty(&self) -> bool {
        self.head == NONE
    }

    /// Link `page` at the head (Linux: `list_add`).
    pub fn add(&mut self, page: &Page) {
        let pfn = page_to_pfn(page);
        page.lru.prev.store(NONE, Ordering::Relaxed);
        page.lru.next.store(self.head, Ordering::Relaxed);
        if self.head == NONE {
            self.tail = pfn;
        } else {
            pfn_to_page(self.head)
                .lru
                .prev
                .store(pfn, Ordering::Relaxed);
        }
        self.head = pfn;
        self.nr_pages += 1;
    }

    /// Link `page` at the tail (Linux: `list_add_tail`).
    pub fn add_tail(&mut self, page: &Page) {
        let pfn = page_to_pfn(page);
        page.lru.next.store(NONE, Ordering::Relaxed);
        page.lru.prev.store(self.tail, Ordering::Relaxed);
        if self.tail == NONE {
            self.head = pfn;
        } else {
            pfn_to_page(self.tail)
                .lru
                .next
                .store(pfn, Ordering::Relaxed);
        }
        self.tail = pfn;
        self.nr_pages += 1;
    }

    /// Unlink `page`, which is on this list (Linux: `list_del`).
    pub fn del(&mut self, page: &Page) {
        let (prev, next) = (
            page.lru.prev.load(Ordering::Relaxed),
            page.lru.next.load(Ordering::Relaxed),
        );
        if prev == NONE {
            debug_assert_eq!(self.head, page_to_pfn(page), "del: page not on this list");
            self.head = next;
        } else {
            pfn_to_page(prev).lru.next.store(next, Ordering::Relaxed);
        }
        if next == NONE {
            self.tail = prev;
        } else {
            pfn_to_page(next).lru.prev.store(prev, Ordering::Relaxed);
        }
        page.lru.next.store(NONE, Ordering::Relaxed);
        page.lru.prev.store(NONE, Ordering::Relaxed);
        self.nr_pages -= 1;
    }

    /// The page at the tail, the oldest (Linux: `lru_to_page(list)`).
    pub fn tail(&self) -> Option<&'static Page> {
        (self.tail != NONE).then(|| pfn_to_page(self.tail))
    }

    /// The page at the head, the newest.
    pub fn head(&self) -> Option<&'static Page> {
        (self.head != NONE).then(|| pfn_to_page(self.head))
    }

    /// The page before `page` (towards the head), for walks from the tail.
    pub fn prev_of(&self, page: &Page) -> Option<&'static Page> {
        let p = page.lru.prev.load(Ordering::Relaxed);
        (p != NONE).then(|| pfn_to_page(p))
    }
}

impl Default for LruListHead {
    fn default() -> Self {
        Self::new()
    }
}

/// The LRU lists of the node (Linux: `struct lruvec`).
#[derive(Debug)]
pub struct Lruvec {
    /// Indexed by `LRU_*` (Linux: `lists[NR_LRU_LISTS]`).
    pub lists: [LruListHead; NR_LRU_LISTS],
}

impl Lruvec {
    /// Empty lists.
    pub const fn new() -> Self {
        Lruvec {
            lists: [const { LruListHead::new() }; NR_LRU_LISTS],
        }
    }
}

impl Default for Lruvec {
    fn default() -> Self {
        Self::new()
    }
}

/// The node's lruvec behind `lru_lock` (Linux 5.10: `pgdat->__lruvec` under
/// `pgdat->lru_lock`, taken with interrupts off: pages may be released from interrupt
/// context).
static LRU_LOCK: SpinLockIrq<Lruvec> = SpinLockIrq::new(Lruvec::new());

/// Take `lru_lock` and get the node's lruvec (Linux: `spin_lock_irq(&pgdat->lru_lock)` +
/// `mem_cgroup_page_lruvec`). Nothing that may sleep or take `lru_lock` again (such as
/// `put_page` of a last reference) runs under it.
pub fn lru_lock() -> SpinLockIrqGuard<'static, Lruvec> {
    LRU_LOCK.lock()
}

/// Sizes of the five lists, for /proc and tests (Linux: `lruvec_page_state`).
pub fn lru_sizes() -> [usize; NR_LRU_LISTS] {
    let l = lru_lock();
    core::array::from_fn(|i| l.lists[i].nr_pages)
}

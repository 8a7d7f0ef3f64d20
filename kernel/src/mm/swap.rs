//! Putting pages on the LRU lists and moving them between them. Linux: `mm/swap.c`
//! (`lru_cache_add`, `__pagevec_lru_add_fn`, `lru_cache_add_inactive_or_unevictable`,
//! `mark_page_accessed`, `activate_page`, `deactivate_page`, `__page_cache_release`).
//!
//! Linux batches these in per-CPU pagevecs of 15 pages, drained under `lru_lock`
//! (`lru_add_drain`). We have one CPU and an uncontended lock, so each page goes straight
//! to its list under `lru_lock`; `lru_add_drain` is kept (empty) for the callers that
//! drain before looking at the lists, as Linux's do.
//!
//! Callers: the fault path (new anonymous pages), the page cache (`add_to_page_cache_lru`),
//! `mm/vmscan.rs` (`putback_lru_page`), `mm/mlock.rs`, and `__free_pages` (release).
use crate::mm::mm_inline::{add_page_to_lru_list, del_page_from_lru_list, page_lru};
use crate::mm::mmzone::{lru_lock, Lruvec, LRU_ACTIVE, LRU_UNEVICTABLE};
use crate::mm::page::{Page, PageFlags};
use crate::mm::vma::{VmArea, VmFlags};
use crate::mm::vmscan::page_evictable;
use crate::mm::vmstat::{count_vm_event, mod_state, VmStat};

/// Put `page` on the list its flags call for, with PG_lru set (Linux 5.10:
/// `__pagevec_lru_add_fn`): an evictable page on its type's list (counting
/// `unevictable_pgs_rescued` if it was unevictable), an mlocked one on the unevictable
/// list (PG_unevictable, `unevictable_pgs_culled` the first time). Caller holds `lru_lock`.
pub fn __pagevec_lru_add_fn(page: &Page, lruvec: &mut Lruvec) {
    debug_assert!(!page.test(PageFlags::PG_lru), "page already on an LRU list");
    let was_unevictable = page.test(PageFlags::PG_unevictable);
    page.clear_flags(PageFlags::PG_unevictable);
    page.set_flags(PageFlags::PG_lru);
    let lru = if page_evictable(page) {
        if was_unevictable {
            count_vm_event(VmStat::UNEVICTABLE_PGS_RESCUED);
        }
        page_lru(page)
    } else {
        page.clear_flags(PageFlags::PG_active);
        page.set_flags(PageFlags::PG_unevictable);
        if !was_unevictable {
            count_vm_event(VmStat::UNEVICTABLE_PGS_CULLED);
        }
        LRU_UNEVICTABLE
    };
    add_page_to_lru_list(page, lruvec, lru);
}

/// Add `page` to the LRU (Linux: `lru_cache_add`, which queues it on this CPU's
/// `lru_add_pvec`; see the module comment).
#[no_mangle]
#[inline(never)]
pub fn lru_cache_add(page: &Page) {
    __pagevec_lru_add_fn(page, &mut lru_lock());
}

/// Drain this CPU's pagevecs to the lists (Linux: `lru_add_drain`). Nothing is queued
/// here (module comment).
pub fn lru_add_drain() {}

/// Put a new anonymous page on its LRU list; in a VM_LOCKED VMA that is not VM_SPECIAL,
/// mark it mlocked first (NR_MLOCK, `unevictable_pgs_mlocked`), which sends it to the
/// unevictable list (Linux 5.10: `lru_cache_add_inactive_or_unevictable`; 5.18 replaced
/// it with `mlock_new_page`).
#[no_mangle]
#[inline(never)]
pub fn lru_cache_add_inactive_or_unevictable(page: &Page, vma: &VmArea) {
    let unevictable =
        vma.vm_flags & (VmFlags::VM_LOCKED | VmFlags::VM_SPECIAL) == VmFlags::VM_LOCKED;
    // Linux marks the page here itself (not through mlock_vma_page): a populate that
    // follows still calls mlock_vma_page from follow_page_pte, which finds it marked.
    if unevictable && !page.test_and_set(PageFlags::PG_mlocked) {
        mod_state(VmStat::NR_MLOCK, 1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_MLOCKED);
    }
    lru_cache_add(page);
}

/// Move an inactive page on the LRU to the head of its active list, counting
/// `pgactivate` (Linux: `__activate_page`). Caller holds `lru_lock`.
fn __activate_page(page: &Page, lruvec: &mut Lruvec) {
    if page.test(PageFlags::PG_lru)
        && !page.test(PageFlags::PG_active)
        && !page.test(PageFlags::PG_unevictable)
    {
        let lru = page_lru(page);
        del_page_from_lru_list(page, lruvec, lru);
        page.set_flags(PageFlags::PG_active);
        add_page_to_lru_list(page, lruvec, lru + LRU_ACTIVE);
        count_vm_event(VmStat::PGACTIVATE);
    }
}

/// Promote `page` to its active list (Linux: `activate_page`).
#[no_mangle]
#[inline(never)]
pub fn activate_page(page: &Page) {
    __activate_page(page, &mut lru_lock());
}

/// A page was used (a read through the page cache, gup with FOLL_TOUCH): the second
/// use of an inactive page activates it, the first only marks it referenced (Linux:
/// `mark_page_accessed`):
///
/// ```text
/// inactive,unreferenced -> inactive,referenced
/// inactive,referenced   -> active,unreferenced
/// active,unreferenced   -> active,referenced
/// ```
#[no_mangle]
#[inline(never)]
pub fn mark_page_accessed(page: &Page) {
    if !page.test(PageFlags::PG_active)
        && !page.test(PageFlags::PG_unevictable)
        && page.test(PageFlags::PG_referenced)
    {
        // A page not on a list yet (being added) just gets PG_active (Linux: the pagevec
        // case); one on a list moves.
        if page.test(PageFlags::PG_lru) {
            activate_page(page);
        } else {
            page.set_flags(PageFlags::PG_active);
        }
        page.clear_flags(PageFlags::PG_referenced);
    } else if !page.test(PageFlags::PG_referenced) {
        page.set_flags(PageFlags::PG_referenced);
    }
}

/// Move an active page to the head of its inactive list, dropping its referenced marks
/// (Linux: `lru_deactivate_fn`, for MADV_COLD's `deactivate_page`). Caller holds
/// `lru_lock`.
fn lru_deactivate_fn(page: &Page, lruvec: &mut Lruvec) {
    if page.test(PageFlags::PG_lru)
        && page.test(PageFlags::PG_active)
        && !page.test(PageFlags::PG_unevictable)
    {
        let lru = page_lru(page);
        del_page_from_lru_list(page, lruvec, lru);
        page.clear_flags(PageFlags::PG_active | PageFlags::PG_referenced);
        add_page_to_lru_list(page, lruvec, lru - LRU_ACTIVE);
        count_vm_event(VmStat::PGDEACTIVATE);
    }
}

/// Make an active page inactive, so reclaim sees it sooner (Linux: `deactivate_page`,
/// from MADV_COLD).
#[no_mangle]
#[inline(never)]
pub fn deactivate_page(page: &Page) {
    lru_deactivate_fn(page, &mut lru_lock());
}

/// The last reference to a page on an LRU list is going: take it off its list and drop
/// the LRU flags (Linux: `__page_cache_release`, from `__put_page`). Called by
/// `__free_pages` before the page is freed.
pub fn __page_cache_release(page: &Page) {
    if page.test(PageFlags::PG_lru) {
        let mut lruvec = lru_lock();
        let lru = page_lru(page);
        del_page_from_lru_list(page, &mut lruvec, lru);
        page.clear_flags(PageFlags::PG_lru);
    }
    page.clear_flags(PageFlags::PG_active | PageFlags::PG_unevictable);
}

/// Drop one reference to each of `pages` (order 0) and free those that reach zero, taking
/// `lru_lock` once for the ones still on an LRU list and the zone lock once for the
/// freeing (Linux: `release_pages`, from the mmu_gather of `zap_pte_range` through
/// `free_pages_and_swap_cache`).
#[no_mangle]
#[inline(never)]
pub fn release_pages(pages: &[&'static Page]) {
    use core::sync::atomic::Ordering;
    let mut to_free: [Option<&'static Page>; PAGEVEC_SIZE] = [None; PAGEVEC_SIZE];
    let mut nr = 0;
    let mut lruvec = None;
    // List sizes change once per batch (Linux keeps them in per-CPU deltas too).
    let mut taken = [0i64; crate::mm::mmzone::NR_LRU_LISTS];
    for &page in pages {
        let left = page._refcount.fetch_sub(1, Ordering::AcqRel) - 1;
        assert!(left >= 0, "release_pages: page refcount underflow");
        if left != 0 {
            continue;
        }
        if page.test(PageFlags::PG_lru) {
            let l: &mut Lruvec = lruvec.get_or_insert_with(lru_lock);
            let lru = page_lru(page);
            l.lists[lru].del(page);
            taken[lru] += 1;
        }
        page.clear_flags(PageFlags::PG_lru | PageFlags::PG_active | PageFlags::PG_unevictable);
        to_free[nr] = Some(page);
        nr += 1;
        if nr == PAGEVEC_SIZE {
            drop(lruvec.take());
            flush_free(&mut to_free, &mut nr);
        }
    }
    drop(lruvec);
    for (lru, &n) in taken.iter().enumerate() {
        if n != 0 {
            crate::mm::mm_inline::update_lru_size(lru, -n);
        }
    }
    flush_free(&mut to_free, &mut nr);
}

/// Prepare and free the pages `release_pages` collected.
fn flush_free(to_free: &mut [Option<&'static Page>; PAGEVEC_SIZE], nr: &mut usize) {
    for page in to_free[..*nr].iter().flatten() {
        crate::mm::page_alloc::free_pages_prepare(page);
    }
    crate::mm::page_alloc::free_unref_page_list(to_free[..*nr].iter_mut().filter_map(Option::take));
    *nr = 0;
}

/// Pages per batch of `release_pages` and of the unmap gather (Linux: `PAGEVEC_SIZE`).
pub const PAGEVEC_SIZE: usize = 15;

#[cfg(test)]
#[path = "swap_tests.rs"]
mod tests;

//! Which LRU list a page belongs on, and moving it on and off one with the counters.
//! Linux: `include/linux/mm_inline.h` (`page_is_file_lru`, `page_lru`,
//! `add_page_to_lru_list`, `del_page_from_lru_list`, `update_lru_size`).
//! Callers hold `lru_lock` (`mm/mmzone.rs`).
use crate::mm::mmzone::{
    Lruvec, LRU_ACTIVE, LRU_FILE, LRU_INACTIVE_ANON, LRU_UNEVICTABLE, NR_LRU_LISTS,
};
use crate::mm::page::{Page, PageFlags};
use crate::mm::vmstat::{mod_state, VmStat};

/// Does the page belong on the file lists (Linux: `page_is_file_lru`)? Pages that are
/// not swap-backed: page cache of real files. Anonymous and shmem pages are swap-backed.
pub fn page_is_file_lru(page: &Page) -> bool {
    !page.test(PageFlags::PG_swapbacked)
}

/// The inactive list of the page's type (Linux: `page_lru_base_type`).
pub fn page_lru_base_type(page: &Page) -> usize {
    if page_is_file_lru(page) {
        LRU_INACTIVE_ANON + LRU_FILE
    } else {
        LRU_INACTIVE_ANON
    }
}

/// The list the page's flags say it is on (Linux: `page_lru`): unevictable, or its type's
/// active or inactive list.
pub fn page_lru(page: &Page) -> usize {
    if page.test(PageFlags::PG_unevictable) {
        LRU_UNEVICTABLE
    } else {
        page_lru_base_type(page)
            + if page.test(PageFlags::PG_active) {
                LRU_ACTIVE
            } else {
                0
            }
    }
}

/// The counter that sizes list `lru` (Linux: `NR_LRU_BASE + lru`).
fn lru_stat(lru: usize) -> VmStat {
    const STATS: [VmStat; NR_LRU_LISTS] = [
        VmStat::NR_ZONE_INACTIVE_ANON,
        VmStat::NR_ZONE_ACTIVE_ANON,
        VmStat::NR_ZONE_INACTIVE_FILE,
        VmStat::NR_ZONE_ACTIVE_FILE,
        VmStat::NR_ZONE_UNEVICTABLE,
    ];
    STATS[lru]
}

/// Count `nr` pages more (or fewer) on list `lru` (Linux: `update_lru_size`).
pub fn update_lru_size(lru: usize, nr: i64) {
    mod_state(lru_stat(lru), nr);
}

/// Put `page` at the head of list `lru` (Linux: `add_page_to_lru_list`).
pub fn add_page_to_lru_list(page: &Page, lruvec: &mut Lruvec, lru: usize) {
    update_lru_size(lru, 1);
    lruvec.lists[lru].add(page);
}

/// Put `page` at the tail of list `lru`, first in line for reclaim (Linux:
/// `add_page_to_lru_list_tail`).
pub fn add_page_to_lru_list_tail(page: &Page, lruvec: &mut Lruvec, lru: usize) {
    update_lru_size(lru, 1);
    lruvec.lists[lru].add_tail(page);
}

/// Take `page` off list `lru` (Linux: `del_page_from_lru_list`).
pub fn del_page_from_lru_list(page: &Page, lruvec: &mut Lruvec, lru: usize) {
    lruvec.lists[lru].del(page);
    update_lru_size(lru, -1);
}

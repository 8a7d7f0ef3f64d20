//! Page reclaim. Linux: `mm/vmscan.c`.
//!
//! This part: whether a page may be evicted, and taking a page off its LRU list for a
//! while (`isolate_lru_page`) and putting it back where its flags now say
//! (`putback_lru_page`), as mlock and munlock do to move pages to and from the
//! unevictable list.
use crate::errno::{Errno, KResult};
use crate::mm::mm_inline::{del_page_from_lru_list, page_is_file_lru, page_lru};
use crate::mm::mmzone::lru_lock;
use crate::mm::page::{get_page, put_page, Page, PageFlags};
use crate::mm::vmstat::{mod_state, VmStat};

/// May reclaim evict this page (Linux: `page_evictable`)? Not while it is mlocked. (Linux
/// also refuses pages of an unevictable mapping: ramfs, SHM_LOCK; we have neither.)
pub fn page_evictable(page: &Page) -> bool {
    !page.test(PageFlags::PG_mlocked)
}

/// The isolated-pages counter of the page's type (Linux: `NR_ISOLATED_ANON +
/// page_is_file_lru(page)`).
fn isolated_stat(page: &Page) -> VmStat {
    if page_is_file_lru(page) {
        VmStat::NR_ISOLATED_FILE
    } else {
        VmStat::NR_ISOLATED_ANON
    }
}

/// Take `page` off its LRU list, holding a reference for the caller, who must give it
/// back with `putback_lru_page` (Linux: `isolate_lru_page`, 0 or -EBUSY). EBUSY when the
/// page is on no list (isolated by someone else, or not added yet).
#[no_mangle]
#[inline(never)]
pub fn isolate_lru_page(page: &Page) -> KResult<()> {
    let mut lruvec = lru_lock();
    if !page.test(PageFlags::PG_lru) {
        return Err(Errno::EBUSY);
    }
    get_page(page);
    page.clear_flags(PageFlags::PG_lru);
    let lru = page_lru(page);
    del_page_from_lru_list(page, &mut lruvec, lru);
    mod_state(isolated_stat(page), 1);
    Ok(())
}

/// Put an isolated page back on the list its flags now call for (the unevictable list
/// if it is mlocked) and drop the isolation's reference (Linux: `putback_lru_page`:
/// `lru_cache_add` + `put_page`).
#[no_mangle]
#[inline(never)]
pub fn putback_lru_page(page: &Page) {
    mod_state(isolated_stat(page), -1);
    crate::mm::swap::lru_cache_add(page);
    put_page(page);
}

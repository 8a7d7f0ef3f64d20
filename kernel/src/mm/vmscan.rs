//! Page reclaim. Linux: `mm/vmscan.c`.
//!
//! Whether a page may be evicted; taking a page off its LRU list for a while
//! (`isolate_lru_page`) and putting it back where its flags now say (`putback_lru_page`),
//! as mlock and munlock do; and reclaim as seed 001 tells it: kswapd (woken at the low
//! watermark) and direct reclaim (an allocation below the min watermark) shrink the node:
//! `shrink_node` -> `shrink_lruvec` -> `shrink_list` -> `shrink_active_list` (ageing) /
//! `shrink_inactive_list` -> `shrink_page_list` (`page_check_references`,
//! `try_to_unmap`, `__remove_mapping`).
//!
//! Anonymous pages are reclaimed when swap is on: `shrink_page_list` gives each a slot
//! (`add_to_swap`), `try_to_unmap` leaves the slot's entry in its PTEs, `pageout` writes
//! it (`swap_writepage`) and `__remove_mapping` takes it out of the swap cache.
//!
//! tmpfs pages (swap-backed, not anonymous) are unmapped like file pages (their PTEs are
//! cleared, never given swap entries) and `pageout` hands a dirty one to its mapping's
//! `writepage`, `shmem_writepage` (`mm/shmem.rs`), which moves it to the swap cache; from
//! there it leaves memory like an anonymous page.
//!
//! Differences from 5.10: no writeback of dirty file-system pages (the root fs is
//! read-only), hence no `page_mkclean` either (it write-protects the PTEs of a page about
//! to be written back to its file); no shrinkers, memory cgroups, compaction or
//! workingset refault detection; no ramfs. SHM_LOCK marks a segment's mapping
//! unevictable (`mapping_set_unevictable`) and SHM_UNLOCK hands its pages to
//! `check_move_unevictable_pages`, the only source of `unevictable_pgs_scanned`.
use crate::errno::{Errno, KResult};
use crate::mm::mm_inline::{del_page_from_lru_list, page_is_file_lru, page_lru};
use crate::mm::mmzone::{
    lru_lock, LRU_ACTIVE, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE,
};
use crate::mm::page::{get_page, put_page, Page, PageFlags};
use crate::mm::vmstat::{mod_state, VmStat};

/// May reclaim evict this page (Linux: `page_evictable`)? Not while it is mlocked, nor
/// while its mapping is unevictable (a SHM_LOCKed System V segment; we have no ramfs).
#[inline]
pub fn page_evictable(page: &Page) -> bool {
    !page.test(PageFlags::PG_mlocked)
        && !crate::mm::filemap::token_unevictable(
            page.mapping.load(core::sync::atomic::Ordering::Relaxed),
        )
}

/// The isolated-pages counter of the page's type (Linux: `NR_ISOLATED_ANON +
/// page_is_file_lru(page)`).
pub(crate) fn isolated_stat(page: &Page) -> VmStat {
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

/// Move the pages of `pages` that sit on the unevictable list but may now be evicted
/// back to their evictable list (Linux: `check_move_unevictable_pages`, called by
/// `shmem_unlock_mapping` after SHM_UNLOCK). Counts `unevictable_pgs_scanned`, and
/// `unevictable_pgs_rescued` through `putback_lru_page` for each page moved.
/// Difference: Linux moves each page under `lru_lock` directly; we isolate and put back.
#[no_mangle]
#[inline(never)]
pub fn check_move_unevictable_pages(pages: &[&'static Page]) {
    for &page in pages {
        crate::mm::vmstat::count_vm_event(VmStat::UNEVICTABLE_PGS_SCANNED);
        if !page.test(PageFlags::PG_unevictable) || !page_evictable(page) {
            continue;
        }
        if isolate_lru_page(page).is_ok() {
            putback_lru_page(page);
        }
    }
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

// ---------------------------------------------------------------------------------------
// Reclaim: scanning the lists and freeing pages (seed 001's second half).
// ---------------------------------------------------------------------------------------

/// The highest (gentlest) scan priority: each pass looks at `list size >> priority`
/// pages (Linux: `DEF_PRIORITY`).
pub const DEF_PRIORITY: i32 = 12;
/// Pages isolated and reclaimed per batch (Linux: `SWAP_CLUSTER_MAX`).
pub const SWAP_CLUSTER_MAX: usize = 32;

/// One reclaim run's parameters and results (Linux: `struct scan_control`).
#[derive(Debug)]
pub struct ScanControl {
    /// How many pages to reclaim before stopping (Linux: `nr_to_reclaim`).
    pub nr_to_reclaim: usize,
    /// The allocation that asked (Linux: `gfp_mask`).
    pub gfp_mask: crate::mm::page_alloc::GfpFlags,
    /// Its order (Linux: `order`).
    pub order: usize,
    /// Scan `size >> priority` pages per list (Linux: `priority`).
    pub priority: i32,
    /// May dirty pages be written out (Linux: `may_writepage`)? Here: to swap.
    pub may_writepage: bool,
    /// May mapped pages be unmapped (Linux: `may_unmap`)?
    pub may_unmap: bool,
    /// May anonymous pages be swapped (Linux: `may_swap`)?
    pub may_swap: bool,
    /// Which active lists may be aged this run: bit 0 anon, bit 1 file (Linux:
    /// `may_deactivate`, DEACTIVATE_ANON / DEACTIVATE_FILE).
    pub may_deactivate: u32,
    /// Reclaim only file pages: there is enough inactive cache (Linux:
    /// `cache_trim_mode`, set by `shrink_node`).
    pub cache_trim_mode: bool,
    /// File pages and free memory together are below the high watermark (Linux:
    /// `file_is_tiny`, set by `shrink_node`).
    pub file_is_tiny: bool,
    /// kswapd rather than an allocating task (Linux: `current_is_kswapd()`).
    pub is_kswapd: bool,
    /// Pages looked at (Linux: `nr_scanned`).
    pub nr_scanned: usize,
    /// Pages freed (Linux: `nr_reclaimed`).
    pub nr_reclaimed: usize,
}

impl ScanControl {
    /// A run that wants `nr_to_reclaim` pages, for the allocation `gfp_mask`/`order`.
    pub fn new(
        nr_to_reclaim: usize,
        gfp_mask: crate::mm::page_alloc::GfpFlags,
        order: usize,
    ) -> Self {
        ScanControl {
            nr_to_reclaim,
            gfp_mask,
            order,
            priority: DEF_PRIORITY,
            may_writepage: true,
            may_unmap: true,
            may_swap: true,
            may_deactivate: 0,
            cache_trim_mode: false,
            file_is_tiny: false,
            is_kswapd: false,
            nr_scanned: 0,
            nr_reclaimed: 0,
        }
    }
}

/// What `page_check_references` decides (Linux: `enum page_references`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageReferences {
    /// Try to free it.
    Reclaim,
    /// Try to free it if clean (a page used once, through read(2)).
    ReclaimClean,
    /// Used again: leave it on the inactive list, referenced.
    Keep,
    /// Used more than once: back to the active list.
    Activate,
}

/// Was an inactive page used since it was put there, and what to do about it (Linux:
/// `page_check_references`): a VM_LOCKED mapping means reclaim (try_to_unmap then culls
/// it); young PTEs mean keep it, or activate it if it was referenced before, mapped more
/// than once, or is an executable file page; a page only marked referenced (read(2)) may
/// go if clean.
#[no_mangle]
#[inline(never)]
pub fn page_check_references(page: &Page) -> PageReferences {
    use crate::mm::vma::VmFlags;
    let mut vm_flags = VmFlags::empty();
    let referenced_ptes = crate::mm::rmap::page_referenced(page, &mut vm_flags);
    let referenced_page = page.test_and_clear(PageFlags::PG_referenced);
    // A locked VMA maps it, but the page was never marked (a file page faulted in, or a
    // race with mlock): reclaim it, and try_to_unmap will mark it and cull it.
    if vm_flags.contains(VmFlags::VM_LOCKED) {
        return PageReferences::Reclaim;
    }
    if referenced_ptes > 0 {
        // The fault that mapped a page left its PTE young, so one young PTE alone proves
        // one use: promote only on a second (PG_referenced from the last look, or a
        // second mapping).
        page.set_flags(PageFlags::PG_referenced);
        if referenced_page || referenced_ptes > 1 {
            return PageReferences::Activate;
        }
        // Program text of a file is worth keeping once it has been run.
        if vm_flags.contains(VmFlags::VM_EXEC) && !page.test(PageFlags::PG_swapbacked) {
            return PageReferences::Activate;
        }
        return PageReferences::Keep;
    }
    // Read once through read(2) and not mapped: free it if it is clean.
    if referenced_page && !page.test(PageFlags::PG_swapbacked) {
        return PageReferences::ReclaimClean;
    }
    PageReferences::Reclaim
}

/// Take a clean, unmapped page-cache page out of its file's cache if nobody but the cache
/// and the isolation holds it (Linux: `__remove_mapping`, its `page_ref_freeze(page, 2)`
/// test). On success the cache's reference is gone; the caller drops the isolation's.
fn __remove_mapping(page: &'static Page) -> bool {
    if crate::mm::swap_state::PageSwapCache(page) {
        // The swap cache and the isolation hold it, nobody maps it, it is written: the
        // slot keeps the data for the swap PTEs (Linux: __remove_mapping's swap-cache
        // branch, `__delete_from_swap_cache` + `put_swap_page`).
        if page.page_count() != 2
            || crate::mm::rmap::page_mapped(page)
            || page.test(PageFlags::PG_dirty)
            || page.test(PageFlags::PG_writeback)
            || page.test(PageFlags::PG_locked)
        {
            return false;
        }
        crate::mm::swap_state::delete_from_swap_cache(page);
        return true;
    }
    let token = page.mapping.load(core::sync::atomic::Ordering::Acquire);
    if token == 0 || token & crate::mm::rmap::PAGE_MAPPING_FLAGS != 0 {
        return false;
    }
    // SAFETY: a page in a page cache has `mapping` pointing at that live AddressSpace.
    let mapping = unsafe { crate::mm::filemap::AddressSpace::from_token(token) };
    crate::mm::filemap::remove_mapping_if_unused(mapping, page)
}

/// What `pageout` did (Linux: `pageout_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pageout {
    /// Someone else holds the page: leave it on the inactive list.
    Keep,
    /// It could not be written: back to the active list.
    Activate,
    /// The write was done (here: finished, the I/O is synchronous).
    Success,
    /// It was not dirty after all.
    Clean,
}

/// Write a dirty page for reclaim (Linux: `pageout`, which calls the mapping's
/// `a_ops->writepage`): `swap_writepage` for a swap-cache page, the mapping's
/// `writepage` otherwise (tmpfs: `shmem_writepage`, which moves the page to the swap
/// cache and writes it there). Only the cache and the isolation may hold it
/// (`is_page_cache_freeable`); PG_dirty moves to the I/O (`clear_page_dirty_for_io`),
/// and comes back if the write fails.
#[no_mangle]
#[inline(never)]
fn pageout(page: &'static Page, plug: &mut crate::mm::page_io::SwapPlug) -> Pageout {
    use crate::mm::filemap::Writepage;
    // Linux: is_page_cache_freeable: page_count - page_has_private == 2.
    if page.page_count() != 2 {
        return Pageout::Keep;
    }
    // a_ops->writepage is called with the page locked and unlocks it (Linux: the
    // trylock_page at the top of shrink_page_list's loop).
    if !crate::mm::pagemap::trylock_page(page) {
        return Pageout::Keep;
    }
    let a_ops = if crate::mm::swap_state::PageSwapCache(page) {
        None
    } else {
        let token = page.mapping.load(core::sync::atomic::Ordering::Acquire);
        if token == 0 || token & crate::mm::rmap::PAGE_MAPPING_FLAGS != 0 {
            crate::mm::pagemap::unlock_page(page);
            return Pageout::Activate;
        }
        // SAFETY: the page is locked and isolated, in the page cache of that mapping.
        let mapping = unsafe { crate::mm::filemap::AddressSpace::from_token(token) };
        match mapping.a_ops {
            Some(a_ops) => Some(a_ops),
            None => {
                // Linux: no a_ops->writepage: PAGE_ACTIVATE.
                crate::mm::pagemap::unlock_page(page);
                return Pageout::Activate;
            }
        }
    };
    if !page.test_and_clear(PageFlags::PG_dirty) {
        crate::mm::pagemap::unlock_page(page);
        return Pageout::Clean;
    }
    page.set_flags(PageFlags::PG_reclaim);
    let written = match a_ops {
        None => match crate::mm::page_io::swap_writepage(page, Some(plug)) {
            Ok(()) => Writepage::Written,
            Err(e) => Writepage::Error(e),
        },
        Some(a_ops) => a_ops.writepage(page).unwrap_or_else(|| {
            page.set_flags(PageFlags::PG_dirty);
            Writepage::Activate
        }),
    };
    page.clear_flags(PageFlags::PG_reclaim);
    match written {
        Writepage::Written => Pageout::Success,
        Writepage::Activate => {
            // Still locked (Linux: AOP_WRITEPAGE_ACTIVATE).
            crate::mm::pagemap::unlock_page(page);
            Pageout::Activate
        }
        Writepage::Error(_) => {
            page.set_flags(PageFlags::PG_dirty);
            Pageout::Activate
        }
    }
}

/// Try to free each isolated page of `page_list` (Linux: `shrink_page_list`); returns the
/// pages freed and leaves the others in `page_list` for `move_pages_to_lru`. The outcomes
/// are 5.10's labels (`ignore_references`: MADV_PAGEOUT, which reclaims whatever it
/// picked, used or not):
/// - not evictable (mlocked): back, to the unevictable list (5.10 sends it through
///   `activate_locked`, which leaves an mlocked page inactive; older kernels had a
///   `cull_mlocked` label for it);
/// - `activate_locked`: used again, or cannot be freed (anonymous without swap, dirty
///   file page, still mapped after `try_to_unmap`): PG_active, back to the active list;
/// - `keep_locked`: back to the inactive list;
/// - `free_it`: unmapped (`try_to_unmap`), taken out of the cache (`__remove_mapping`)
///   and freed.
///
/// A tmpfs page (swap-backed, not anonymous) goes as 5.10 sends it: unmapped, then if
/// dirty written by `pageout` through `shmem_writepage` into the swap cache, then out
/// of the swap cache (`__remove_mapping`); a clean one is dropped like a clean file page.
///
/// Difference from 5.10: no writeback of dirty pages of other file systems (the root fs
/// is read-only): they are activated.
#[no_mangle]
#[inline(never)]
pub fn shrink_page_list(
    page_list: &mut alloc::vec::Vec<&'static Page>,
    sc: &mut ScanControl,
    ignore_references: bool,
) -> usize {
    let mut nr_reclaimed = 0;
    let mut ret_pages = alloc::vec::Vec::new();
    // Swap writes gather in a plug, so pages bound for consecutive slots reach the disk
    // as one request; those pages wait in `written` until the plug is flushed below.
    let mut plug = crate::mm::page_io::SwapPlug::new();
    let mut written = alloc::vec::Vec::new();
    for page in page_list.drain(..) {
        sc.nr_scanned += 1;
        if !page_evictable(page) {
            // mlocked: putback lands it on the unevictable list
            ret_pages.push(page);
            continue;
        }
        if crate::mm::rmap::page_mapped(page) && !sc.may_unmap {
            ret_pages.push(page); // keep_locked
            continue;
        }
        let references = if ignore_references {
            PageReferences::Reclaim
        } else {
            page_check_references(page)
        };
        match references {
            PageReferences::Activate => {
                activate_locked(page);
                ret_pages.push(page);
                continue;
            }
            PageReferences::Keep => {
                ret_pages.push(page);
                continue;
            }
            PageReferences::Reclaim | PageReferences::ReclaimClean => {}
        }
        // An anonymous page needs a swap slot before it can be unmapped: its PTEs will
        // hold the slot's entry (add_to_swap). A tmpfs page (swap-backed, not anonymous)
        // gets its slot later, in shmem_writepage: its PTEs are simply cleared. (A page
        // already in the swap cache, mapped or only read ahead, goes on as it is.)
        let swapbacked = page.test(PageFlags::PG_swapbacked);
        let shmem = swapbacked
            && !crate::mm::rmap::PageAnon(page)
            && !crate::mm::swap_state::PageSwapCache(page);
        if swapbacked && !crate::mm::swap_state::PageSwapCache(page) {
            let fail = if shmem {
                !sc.may_swap
            } else {
                !sc.may_swap || !crate::mm::swap_state::add_to_swap(page)
            };
            if fail {
                activate_locked(page);
                ret_pages.push(page);
                continue;
            }
        }
        // Still mapped somewhere: every PTE must go before the page can (try_to_unmap).
        if crate::mm::rmap::page_mapped(page)
            && !crate::mm::rmap::try_to_unmap(page, crate::mm::rmap::TtuFlags::empty())
        {
            activate_locked(page); // (an mlocked page stays inactive: culled on putback)
            ret_pages.push(page);
            continue;
        }
        if page.test(PageFlags::PG_dirty) {
            // Swap-cache pages and tmpfs pages can be written here (other file systems
            // with writeback would go through their a_ops->writepage the same way). A
            // page read once through read(2) is not worth a write: keep it.
            if !(crate::mm::swap_state::PageSwapCache(page) || shmem)
                || references == PageReferences::ReclaimClean
                || !sc.may_writepage
            {
                if crate::mm::swap_state::PageSwapCache(page) {
                    ret_pages.push(page); // keep_locked
                } else {
                    activate_locked(page);
                    ret_pages.push(page);
                }
                continue;
            }
            match pageout(page, &mut plug) {
                Pageout::Keep => {
                    ret_pages.push(page);
                    continue;
                }
                Pageout::Activate => {
                    activate_locked(page);
                    ret_pages.push(page);
                    continue;
                }
                // Still under writeback: its write waits in the plug. Linux keeps such a
                // page (PG_reclaim) and frees it on a later pass once the interrupt ends
                // the write; ours ends when the plug is flushed, so it is freed below.
                Pageout::Success if page.test(PageFlags::PG_writeback) => {
                    written.push(page);
                    continue;
                }
                // Written (synchronously: tmpfs) or found clean: free it if nobody
                // came back for it meanwhile.
                Pageout::Success | Pageout::Clean => {
                    if page.test(PageFlags::PG_dirty) || page.test(PageFlags::PG_writeback) {
                        ret_pages.push(page);
                        continue;
                    }
                }
            }
        }
        if free_page_after_reclaim(page) {
            nr_reclaimed += 1;
        } else {
            ret_pages.push(page);
        }
    }
    // Linux: blk_finish_plug. The writes are done: the "synchronous write" case of 5.10's
    // shrink_page_list, which goes on to free a page found clean and not under writeback.
    plug.flush();
    for page in written {
        if !page.test(PageFlags::PG_dirty)
            && !page.test(PageFlags::PG_writeback)
            && free_page_after_reclaim(page)
        {
            nr_reclaimed += 1;
        } else {
            ret_pages.push(page);
        }
    }
    *page_list = ret_pages;
    nr_reclaimed
}

/// The end of `shrink_page_list` for a page that may go: out of its mapping (page cache
/// or swap cache) if nobody else holds it, then the isolation's reference, the last, is
/// dropped (Linux: the `__remove_mapping` step and the `free_it` label). False if
/// somebody still holds it (the caller keeps it: `keep_locked`). Always inlined: a
/// backtrace from `__remove_mapping` shows `shrink_page_list` right above it, as in Linux,
/// where this is the body of the loop.
#[inline(always)]
fn free_page_after_reclaim(page: &'static Page) -> bool {
    // A truncated page only the isolation holds goes straight away. (A swap-cache page
    // read ahead and never mapped has no `mapping` either, but the swap cache's.)
    let freeable = if page.mapping.load(core::sync::atomic::Ordering::Relaxed) == 0
        && !crate::mm::swap_state::PageSwapCache(page)
    {
        page.page_count() == 1
    } else {
        __remove_mapping(page)
    };
    if freeable {
        put_page(page);
    }
    freeable
}

/// Reclaim the pages of `page_list`, isolated by the caller with `isolate_lru_page`,
/// whatever their references say, and put back those that cannot go (Linux:
/// `reclaim_pages`, for MADV_PAGEOUT). Returns the pages freed.
#[no_mangle]
#[inline(never)]
pub fn reclaim_pages(page_list: &mut alloc::vec::Vec<&'static Page>) -> usize {
    let mut sc = ScanControl::new(
        page_list.len(),
        crate::mm::page_alloc::GfpFlags::GFP_KERNEL,
        0,
    );
    for page in page_list.iter() {
        mod_state(isolated_stat(page), -1);
    }
    let nr_reclaimed = shrink_page_list(page_list, &mut sc, true);
    move_pages_to_lru(page_list);
    nr_reclaimed
}

/// A page going back to the active list (Linux: the `activate_locked` label): PG_active
/// and `pgactivate`, unless it is mlocked (it goes to the unevictable list instead).
fn activate_locked(page: &Page) {
    if !page.test(PageFlags::PG_mlocked) {
        page.set_flags(PageFlags::PG_active);
        crate::mm::vmstat::count_vm_event(VmStat::PGACTIVATE);
    }
}

/// Take up to `nr_to_scan` pages from the tail of list `lru` into `dst`, each with a
/// reference, PG_lru cleared (Linux: `isolate_lru_pages` -> `__isolate_lru_page`). Returns
/// (pages scanned, pages taken). Caller holds `lru_lock`.
fn isolate_lru_pages(
    nr_to_scan: usize,
    lruvec: &mut crate::mm::mmzone::Lruvec,
    dst: &mut alloc::vec::Vec<&'static Page>,
    lru: usize,
) -> (usize, usize) {
    let mut scanned = 0;
    while scanned < nr_to_scan {
        let Some(page) = lruvec.lists[lru].tail() else {
            break;
        };
        scanned += 1;
        get_page(page);
        page.clear_flags(PageFlags::PG_lru);
        del_page_from_lru_list(page, lruvec, lru);
        dst.push(page);
    }
    (scanned, dst.len())
}

/// Put the pages reclaim kept back on the lists their flags call for, dropping the
/// isolation's references (Linux 5.10: `move_pages_to_lru`; mlocked pages go through
/// `putback_lru_page` there, to the unevictable list, which `lru_cache_add` does here).
fn move_pages_to_lru(list: &mut alloc::vec::Vec<&'static Page>) {
    for page in list.drain(..) {
        crate::mm::swap::lru_cache_add(page);
        put_page(page);
    }
}

/// The isolated counter of list `lru`'s type.
fn isolated_stat_of(lru: usize) -> VmStat {
    if crate::mm::mmzone::is_file_lru(lru) {
        VmStat::NR_ISOLATED_FILE
    } else {
        VmStat::NR_ISOLATED_ANON
    }
}

/// Reclaim from the tail of inactive list `lru` (Linux: `shrink_inactive_list`): isolate
/// a batch, `shrink_page_list` it, put the rest back. Counts pgscan and pgsteal, as kswapd
/// or direct. Returns the pages freed.
#[no_mangle]
#[inline(never)]
pub fn shrink_inactive_list(nr_to_scan: usize, sc: &mut ScanControl, lru: usize) -> usize {
    use crate::mm::vmstat::{count_vm_events, mod_state};
    let mut page_list = alloc::vec::Vec::with_capacity(nr_to_scan);
    let (nr_scanned, nr_taken) =
        isolate_lru_pages(nr_to_scan, &mut lru_lock(), &mut page_list, lru);
    mod_state(isolated_stat_of(lru), nr_taken as i64);
    let (scan, steal) = if sc.is_kswapd {
        (VmStat::PGSCAN_KSWAPD, VmStat::PGSTEAL_KSWAPD)
    } else {
        (VmStat::PGSCAN_DIRECT, VmStat::PGSTEAL_DIRECT)
    };
    count_vm_events(scan, nr_scanned);
    if nr_taken == 0 {
        return 0;
    }
    let nr_reclaimed = shrink_page_list(&mut page_list, sc, false);
    count_vm_events(steal, nr_reclaimed);
    move_pages_to_lru(&mut page_list);
    mod_state(isolated_stat_of(lru), -(nr_taken as i64));
    nr_reclaimed
}

/// Age active list `lru` (Linux: `shrink_active_list`): take a batch from its tail; pages
/// whose PTEs were young stay active only if they are executable file pages (5.10 keeps
/// those: "they are more likely to be used again"), every other page loses PG_active and
/// goes to the inactive list (`pgdeactivate`); `pgrefill` counts what was looked at.
#[no_mangle]
#[inline(never)]
pub fn shrink_active_list(nr_to_scan: usize, sc: &mut ScanControl, lru: usize) {
    use crate::mm::vma::VmFlags;
    use crate::mm::vmstat::{count_vm_events, mod_state};
    let _ = sc;
    let mut l_hold = alloc::vec::Vec::with_capacity(nr_to_scan);
    let (nr_scanned, nr_taken) = isolate_lru_pages(nr_to_scan, &mut lru_lock(), &mut l_hold, lru);
    mod_state(isolated_stat_of(lru), nr_taken as i64);
    count_vm_events(VmStat::PGREFILL, nr_scanned);
    let mut nr_deactivate = 0;
    for page in l_hold.iter() {
        if !page_evictable(page) {
            continue; // goes to the unevictable list when put back
        }
        let mut vm_flags = VmFlags::empty();
        if crate::mm::rmap::page_referenced(page, &mut vm_flags) > 0
            && vm_flags.contains(VmFlags::VM_EXEC)
            && page_is_file_lru(page)
        {
            continue; // stays active
        }
        page.clear_flags(PageFlags::PG_active);
        page.set_flags(PageFlags::PG_workingset);
        nr_deactivate += 1;
    }
    count_vm_events(VmStat::PGDEACTIVATE, nr_deactivate);
    move_pages_to_lru(&mut l_hold);
    mod_state(isolated_stat_of(lru), -(nr_taken as i64));
}

/// Is the inactive list of this type too small next to its active list, so the active
/// one should be aged (Linux: `inactive_is_low`, with `inactive_ratio` 1 below 1 GiB)?
fn inactive_is_low(inactive_lru: usize) -> bool {
    let sizes = crate::mm::mmzone::lru_sizes();
    let (inactive, active) = (sizes[inactive_lru], sizes[inactive_lru + LRU_ACTIVE]);
    let gb = (inactive + active) >> (30 - crate::mm::PAGE_SHIFT);
    let ratio = if gb > 0 { int_sqrt(10 * gb) } else { 1 };
    inactive * ratio < active
}

/// Integer square root (Linux: `int_sqrt`).
fn int_sqrt(x: usize) -> usize {
    let mut r = 0;
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
}

/// How `get_scan_count` splits the pressure between anonymous and file pages (Linux:
/// `enum scan_balance`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanBalance {
    /// Both types by size alone (near OOM).
    Equal,
    /// By swappiness.
    Fract,
    /// Anonymous pages only (the file cache is tiny).
    Anon,
    /// File pages only (no swap, or plenty of cache to trim).
    File,
}

/// How many pages of each list to scan this pass (Linux: `get_scan_count`): `size >>
/// priority` of every evictable list, split between anonymous and file pages. No swap
/// (or `may_swap` off): file only. At priority 0 with swappiness: both equally. A file
/// cache that, with the free pages, would not even reach the high watermark: anonymous
/// only (`file_is_tiny`). Enough inactive file pages and no need to age the active ones:
/// file only (`cache_trim_mode`). Otherwise anon : file = swappiness : 200 - swappiness.
/// Difference from 5.10: the fractions leave out the recent reclaim costs (`anon_cost`,
/// `file_cost`) that 5.10 weighs them by, since we do not track refaults.
fn get_scan_count(sc: &ScanControl) -> [usize; crate::mm::mmzone::NR_LRU_LISTS] {
    let sizes = crate::mm::mmzone::lru_sizes();
    let swappiness = crate::mm::vmscan_sysctl::vm_swappiness().clamp(0, 200) as usize;
    let balance = if !sc.may_swap || crate::mm::swapfile::get_nr_swap_pages() == 0 {
        ScanBalance::File
    } else if sc.priority == 0 && swappiness > 0 {
        ScanBalance::Equal
    } else if sc.file_is_tiny {
        ScanBalance::Anon
    } else if sc.cache_trim_mode {
        ScanBalance::File
    } else {
        ScanBalance::Fract
    };
    let (ap, fp) = (swappiness, 200 - swappiness);
    let mut nr = [0; crate::mm::mmzone::NR_LRU_LISTS];
    for lru in [
        LRU_INACTIVE_ANON,
        LRU_INACTIVE_ANON + LRU_ACTIVE,
        LRU_INACTIVE_FILE,
        LRU_ACTIVE_FILE,
    ] {
        let file = crate::mm::mmzone::is_file_lru(lru);
        let size = sizes[lru];
        let mut scan = size >> sc.priority;
        // At the last priorities, look at a small list whole rather than not at all.
        if scan == 0 && sc.priority < 2 {
            scan = size.min(SWAP_CLUSTER_MAX);
        }
        nr[lru] = match balance {
            ScanBalance::Equal => scan,
            ScanBalance::Fract => {
                let fraction = if file { fp } else { ap };
                (scan * fraction).div_ceil(ap + fp)
            }
            ScanBalance::Anon if !file => scan,
            ScanBalance::File if file => scan,
            _ => 0,
        };
    }
    nr
}

/// Scan `nr_to_scan` pages of list `lru` (Linux: `shrink_list`): an active list is aged
/// if this run may deactivate its type, an inactive one reclaimed.
fn shrink_list(lru: usize, nr_to_scan: usize, sc: &mut ScanControl) -> usize {
    if crate::mm::mmzone::is_active_lru(lru) {
        let bit = 1 << u32::from(crate::mm::mmzone::is_file_lru(lru));
        if sc.may_deactivate & bit != 0 {
            shrink_active_list(nr_to_scan, sc, lru);
        }
        return 0;
    }
    shrink_inactive_list(nr_to_scan, sc, lru)
}

/// Reclaim from the node's lists in batches until `nr_to_reclaim` is met or this
/// priority's quota is scanned (Linux: `shrink_lruvec`).
#[no_mangle]
#[inline(never)]
pub fn shrink_lruvec(sc: &mut ScanControl) {
    let mut nr = get_scan_count(sc);
    let mut nr_reclaimed = 0;
    while nr.iter().any(|&n| n > 0) {
        for lru in [
            LRU_INACTIVE_ANON,
            LRU_INACTIVE_ANON + LRU_ACTIVE,
            LRU_INACTIVE_FILE,
            LRU_ACTIVE_FILE,
        ] {
            if nr[lru] > 0 {
                let nr_to_scan = nr[lru].min(SWAP_CLUSTER_MAX);
                nr[lru] -= nr_to_scan;
                nr_reclaimed += shrink_list(lru, nr_to_scan, sc);
            }
        }
        if nr_reclaimed >= sc.nr_to_reclaim {
            break;
        }
    }
    sc.nr_reclaimed += nr_reclaimed;
}

/// Reclaim from the node (Linux: `shrink_node`): decide which active lists may be aged
/// (those whose inactive list is low), then `shrink_lruvec`.
#[no_mangle]
#[inline(never)]
pub fn shrink_node(sc: &mut ScanControl) {
    sc.may_deactivate = 0;
    if inactive_is_low(LRU_INACTIVE_ANON) {
        sc.may_deactivate |= 1; // DEACTIVATE_ANON
    }
    if inactive_is_low(LRU_INACTIVE_FILE) {
        sc.may_deactivate |= 2; // DEACTIVATE_FILE
    }
    let sizes = crate::mm::mmzone::lru_sizes();
    // Plenty of inactive cache, and the active file list needs no ageing: trim the cache
    // and leave anonymous memory alone.
    sc.cache_trim_mode = sizes[LRU_INACTIVE_FILE] >> sc.priority != 0 && sc.may_deactivate & 2 == 0;
    // The whole file cache plus free memory would not reach the high watermark: reclaim
    // from anonymous memory only, unless its active list is being aged anyway.
    let file = sizes[LRU_INACTIVE_FILE] + sizes[LRU_ACTIVE_FILE];
    let (free, high) = {
        let zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
        (zone.nr_free, zone.watermarks.high)
    };
    let anon = sizes[LRU_INACTIVE_ANON];
    sc.file_is_tiny =
        file + free <= high && !(sc.may_deactivate & 1 != 0 && anon >> sc.priority != 0);
    shrink_lruvec(sc);
}

/// Direct reclaim's loop (Linux: `do_try_to_free_pages`): from `DEF_PRIORITY` down,
/// shrink the node until enough was reclaimed. Returns the pages reclaimed.
fn do_try_to_free_pages(sc: &mut ScanControl) -> usize {
    loop {
        sc.nr_scanned = 0;
        shrink_node(sc); // Linux: shrink_zones
        if sc.nr_reclaimed >= sc.nr_to_reclaim || sc.priority == 0 {
            break;
        }
        sc.priority -= 1;
    }
    sc.nr_reclaimed
}

/// Reclaim for an allocation that found too little free memory (Linux:
/// `try_to_free_pages`, from `__alloc_pages_direct_reclaim`). The caller holds no lock
/// reclaim takes (page-table locks, `lru_lock`, `i_mmap`, anon_vma locks); `mmap_lock`
/// is fine: reclaim never takes it. Returns the pages reclaimed.
#[no_mangle]
#[inline(never)]
pub fn try_to_free_pages(gfp_mask: crate::mm::page_alloc::GfpFlags, order: usize) -> usize {
    let mut sc = ScanControl::new(SWAP_CLUSTER_MAX, gfp_mask, order);
    do_try_to_free_pages(&mut sc)
}

// ---------------------------------------------------------------------------------------
// kswapd.
// ---------------------------------------------------------------------------------------

/// kswapd sleeps here until an allocation wakes it (Linux: `pgdat->kswapd_wait`).
static KSWAPD_WAIT: crate::sync::WaitQueueHead = crate::sync::WaitQueueHead::new();
/// Set by `wakeup_kswapd`, cleared by kswapd when it starts a run (Linux:
/// `pgdat->kswapd_order` / `kswapd_highest_zoneidx` say "there is work").
static KSWAPD_WORK: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Are there enough free pages: at or above the high watermark (Linux: `pgdat_balanced`)?
pub fn pgdat_balanced() -> bool {
    let zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
    zone.nr_free >= zone.watermarks.high
}

/// Wake kswapd because free memory fell below the low watermark (Linux: `wakeup_kswapd`,
/// from the allocator's slow path). Does nothing if the node is balanced.
#[no_mangle]
#[inline(never)]
pub fn wakeup_kswapd(_gfp: crate::mm::page_alloc::GfpFlags, _order: usize) {
    if pgdat_balanced() {
        return;
    }
    KSWAPD_WORK.store(true, core::sync::atomic::Ordering::Release);
    KSWAPD_WAIT.wake_up();
}

/// kswapd's run: reclaim until free memory is back at the high watermark, raising the
/// priority (scanning more) each pass that falls short (Linux: `balance_pgdat`). Counts
/// `pageoutrun`. Returns the pages reclaimed.
#[no_mangle]
#[inline(never)]
pub fn balance_pgdat(order: usize) -> usize {
    crate::mm::vmstat::count_vm_event(VmStat::PAGEOUTRUN);
    let high = crate::mm::page_alloc::ZONE_NORMAL.lock().watermarks.high;
    let mut sc = ScanControl::new(
        SWAP_CLUSTER_MAX.max(high),
        crate::mm::page_alloc::GfpFlags::GFP_KERNEL,
        order,
    );
    sc.is_kswapd = true;
    let mut reclaimed = 0;
    while sc.priority >= 1 {
        if pgdat_balanced() {
            break;
        }
        sc.nr_reclaimed = 0;
        sc.nr_scanned = 0;
        shrink_node(&mut sc); // Linux: kswapd_shrink_node
        reclaimed += sc.nr_reclaimed;
        // No need to scan harder while a pass already looks at as many pages as the high
        // watermark asks for (Linux: kswapd_shrink_node's return, `raise_priority`).
        let raise_priority = sc.nr_scanned < sc.nr_to_reclaim;
        if raise_priority || sc.nr_reclaimed == 0 {
            sc.priority -= 1;
        }
        crate::sync::wait::cond_resched();
    }
    reclaimed
}

/// The kswapd kernel thread (Linux: `kswapd`, started by `kswapd_run`): sleep on
/// `kswapd_wait` until `wakeup_kswapd`, then `balance_pgdat`; again and again. It sleeps
/// interruptibly, as Linux's does (an idle kswapd is not a hung task), and a signal ends
/// it (Linux: `kthread_should_stop`, from `kswapd_stop`): the kernel's final reaper sends
/// SIGKILL to every task left when init is gone.
#[no_mangle]
pub extern "C" fn kswapd(_arg: usize) {
    loop {
        // Linux: kswapd_try_to_sleep.
        let woken = KSWAPD_WAIT
            .wait_event_interruptible(|| KSWAPD_WORK.load(core::sync::atomic::Ordering::Acquire));
        if woken.is_err() {
            return;
        }
        KSWAPD_WORK.store(false, core::sync::atomic::Ordering::Release);
        balance_pgdat(0);
    }
}

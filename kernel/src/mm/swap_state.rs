//! The swap cache: anonymous pages on their way to or from a swap slot.
//!
//! Linux: `mm/swap_state.c` (`add_to_swap`, `add_to_swap_cache`,
//! `__delete_from_swap_cache`, `delete_from_swap_cache`, `lookup_swap_cache`,
//! `__read_swap_cache_async`, `read_swap_cache_async`, `swap_cluster_readahead`,
//! `swapin_readahead`, `free_swap_cache`, `free_pages_and_swap_cache`).
//!
//! A page in the swap cache has PG_swapcache, its slot in `private` (a `swp_entry_t`) and
//! one reference held by the cache. It is there while it is being written out (reclaim put
//! it there with `add_to_swap`), while it is being read back (`do_swap_page`), and after a
//! swap-in for as long as its slot still holds a good copy: a page that is swapped in, not
//! written and reclaimed again needs no second write. The slot's `swap_map` byte carries
//! SWAP_HAS_CACHE for as long as the page is here, plus one count per swap PTE.
//!
//! Difference from 5.10: one cache for every swap device, a tree keyed by
//! `swp_entry_t.val` (Linux: an xarray `address_space` per 64 MiB of each device,
//! `swapper_spaces[type][offset >> SWAP_ADDRESS_SPACE_SHIFT]`, to spread the lock). The
//! lock is a spinlock with interrupts off, never held across I/O.
//!
//! Locking: the cache's lock is innermost (nothing is taken under it); it is never held
//! across I/O.
use crate::errno::{Errno, KResult};
use crate::mm::page::{get_page, put_page, Page, PageFlags};
use crate::mm::page_alloc::GfpFlags;
use crate::mm::swapops::{swp_entry, swp_offset, swp_type, SwpEntry};
use crate::mm::vmstat::{count_vm_event, VmStat};
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Every swap-cache page by its entry (Linux: the `swapper_spaces` xarrays).
static SWAPPER_SPACE: SpinLockIrq<BTreeMap<u64, &'static Page>> = SpinLockIrq::new(BTreeMap::new());
/// Pages in the swap cache (Linux: `total_swapcache_pages()`, the sum of the swapper
/// spaces' `nrpages`), shown as `SwapCached:` in /proc/meminfo.
static NR_SWAPCACHE: AtomicUsize = AtomicUsize::new(0);

/// Pages in the swap cache now (Linux: `total_swapcache_pages`).
pub fn total_swapcache_pages() -> usize {
    NR_SWAPCACHE.load(Ordering::Relaxed)
}

/// Is the page in the swap cache (Linux: `PageSwapCache`, which also requires
/// PG_swapbacked: the bit is shared with other owners' private flag)?
#[allow(non_snake_case)]
#[inline]
pub fn PageSwapCache(page: &Page) -> bool {
    page.flags()
        .contains(PageFlags::PG_swapbacked | PageFlags::PG_swapcache)
}

/// The slot of a swap-cache page (Linux: `swp_entry_t entry = { .val = page_private(page) }`).
pub fn page_swap_entry(page: &Page) -> SwpEntry {
    SwpEntry {
        val: page.private.load(Ordering::Relaxed) as u64,
    }
}

/// Put `page` into the swap cache at `entry` (Linux: `add_to_swap_cache`): the cache takes
/// a reference, sets PG_swapcache and `private`. EEXIST if a page is there already. The
/// caller owns the slot's SWAP_HAS_CACHE (from `get_swap_page` or `swapcache_prepare`).
#[no_mangle]
#[inline(never)]
pub fn add_to_swap_cache(page: &'static Page, entry: SwpEntry) -> KResult<()> {
    let mut space = SWAPPER_SPACE.lock();
    if space.contains_key(&entry.val) {
        return Err(Errno::EEXIST);
    }
    // The tree's node allocation comes from the kernel heap, not from the page allocator
    // that may be reclaiming right now.
    space.insert(entry.val, page);
    get_page(page);
    page.private.store(entry.val as usize, Ordering::Relaxed);
    page.set_flags(PageFlags::PG_swapcache);
    NR_SWAPCACHE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Take `page` out of the swap cache (Linux: `__delete_from_swap_cache`): PG_swapcache and
/// `private` cleared. The caller then drops the cache's reference and the slot's
/// SWAP_HAS_CACHE (`put_swap_page`).
#[no_mangle]
#[inline(never)]
pub fn __delete_from_swap_cache(page: &Page, entry: SwpEntry) {
    let removed = SWAPPER_SPACE.lock().remove(&entry.val);
    debug_assert!(removed.is_some_and(|p| core::ptr::eq(p, page)));
    page.private.store(0, Ordering::Relaxed);
    page.clear_flags(PageFlags::PG_swapcache);
    NR_SWAPCACHE.fetch_sub(1, Ordering::Relaxed);
}

/// Take `page` out of the swap cache and let go of its slot's cache mark and of the
/// cache's reference (Linux: `delete_from_swap_cache`). The slot itself stays while swap
/// PTEs still count on it.
#[no_mangle]
#[inline(never)]
pub fn delete_from_swap_cache(page: &Page) {
    let entry = page_swap_entry(page);
    __delete_from_swap_cache(page, entry);
    crate::mm::swapfile::put_swap_page(entry);
    put_page(page);
}

/// Give an anonymous page a swap slot and put it in the swap cache, dirty so reclaim
/// writes it (Linux: `add_to_swap`, from `shrink_page_list`). False when swap is full or
/// off: the page stays in memory.
#[no_mangle]
#[inline(never)]
pub fn add_to_swap(page: &'static Page) -> bool {
    let Some(entry) = crate::mm::swapfile::get_swap_page() else {
        return false;
    };
    if add_to_swap_cache(page, entry).is_err() {
        crate::mm::swapfile::put_swap_page(entry);
        return false;
    }
    // Nothing on the disk matches this page yet, whatever its PTEs say (Linux:
    // set_page_dirty, and the comment there about PTE dirty bits being moved later).
    page.set_flags(PageFlags::PG_dirty);
    true
}

/// The swap-cache page for `entry`, with a reference, or None (Linux: `lookup_swap_cache`,
/// which also counts a hit on a page that readahead brought in: `swap_ra_hit`).
#[no_mangle]
#[inline(never)]
pub fn lookup_swap_cache(entry: SwpEntry) -> Option<&'static Page> {
    let space = SWAPPER_SPACE.lock();
    let page = *space.get(&entry.val)?;
    get_page(page);
    drop(space);
    // Read ahead and not asked for until now (PG_readahead shares PG_reclaim's bit, which
    // a page under writeback uses; not counted then).
    if !page.test(PageFlags::PG_writeback) && page.test_and_clear(PageFlags::PG_readahead) {
        count_vm_event(VmStat::SWAP_RA_HIT);
        SWAPIN_READAHEAD_HITS.fetch_add(1, Ordering::Relaxed);
    }
    Some(page)
}

/// The swap-cache page for `entry`, found or newly added: a new page comes back locked,
/// not up to date, on the inactive anon list, and `true` says the caller must read it
/// (Linux: `__read_swap_cache_async`). None when the slot was freed meanwhile (the PTE
/// that named it is gone) or no memory could be had.
#[no_mangle]
#[inline(never)]
pub fn __read_swap_cache_async(entry: SwpEntry, gfp: GfpFlags) -> Option<(&'static Page, bool)> {
    use crate::mm::swapfile::{swapcache_prepare, swp_swapcount};
    loop {
        if let Some(page) = lookup_swap_cache(entry) {
            return Some((page, false));
        }
        // No PTE counts on the slot any more: nothing to read (Linux: the
        // `__swp_swapcount(entry)` check).
        if swp_swapcount(entry) == 0 {
            return None;
        }
        let page = crate::mm::page_alloc::alloc_page(gfp)?;
        match swapcache_prepare(entry) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // Another task owns the cache mark and is adding its page: look again.
                // (It never sleeps between the mark and the insertion here, so on one CPU
                // the next lookup finds its page.)
                put_page(page);
                continue;
            }
            Err(_) => {
                put_page(page);
                return None;
            }
        }
        page.set_flags(PageFlags::PG_locked | PageFlags::PG_swapbacked);
        if add_to_swap_cache(page, entry).is_err() {
            page.clear_flags(PageFlags::PG_locked);
            crate::mm::swapfile::put_swap_page(entry);
            put_page(page);
            continue;
        }
        crate::mm::swap::lru_cache_add(page);
        return Some((page, true));
    }
}

/// The swap-cache page for `entry`, reading it from the disk if it was not cached (Linux:
/// `read_swap_cache_async`). The page comes back with a reference; a read that failed
/// leaves it not up to date.
#[no_mangle]
#[inline(never)]
pub fn read_swap_cache_async(entry: SwpEntry, gfp: GfpFlags) -> Option<&'static Page> {
    let (page, new) = __read_swap_cache_async(entry, gfp)?;
    if new {
        swap_read_and_unlock(page);
    }
    Some(page)
}

/// Read a new, locked swap-cache page from its slot (Linux: `swap_readpage`, whose
/// completion `end_swap_bio_read` sets PG_uptodate and unlocks the page). A failed read
/// leaves it unlocked and not up to date; the fault that wanted it reports SIGBUS.
fn swap_read_and_unlock(page: &Page) {
    let _ = crate::mm::page_io::swap_readpage(page, true);
}

/// At most 2^page_cluster pages are read around a swap-in (Linux: `page_cluster`, the
/// `vm.page-cluster` sysctl, 3: an aligned group of up to 8 slots).
pub const PAGE_CLUSTER: u32 = 3;

/// Readahead pages that were used since the last swap-in that read ahead (Linux:
/// `swapin_readahead_hits`, counted by `lookup_swap_cache`).
static SWAPIN_READAHEAD_HITS: AtomicUsize = AtomicUsize::new(0);
/// The window of the last swap-in and where it was (Linux: `last_readahead_pages`, and
/// `prev_offset`).
static LAST_READAHEAD_PAGES: AtomicUsize = AtomicUsize::new(0);
static PREV_OFFSET: AtomicUsize = AtomicUsize::new(0);

/// How many slots to read around a swap-in at `offset`, from how useful the last
/// readahead was (Linux: `__swapin_nr_pages`): two more than the hits, rounded up to a
/// power of two, at most `max_pages`; a lone page when nothing hit and the fault is not
/// next to the last one; never less than half the last window, so it shrinks gradually.
pub fn __swapin_nr_pages(
    prev_offset: usize,
    offset: usize,
    hits: usize,
    max_pages: usize,
    prev_win: usize,
) -> usize {
    let mut pages = hits + 2;
    if pages == 2 {
        // Nothing read ahead was used: read ahead only for a sequential fault.
        if offset != prev_offset + 1 && offset != prev_offset.wrapping_sub(1) {
            pages = 1;
        }
    } else {
        pages = pages.next_power_of_two();
    }
    pages = pages.min(max_pages);
    // Don't shrink readahead too fast.
    pages.max(prev_win / 2)
}

/// The readahead window for a swap-in at `offset` (Linux: `swapin_nr_pages`).
fn swapin_nr_pages(offset: usize) -> usize {
    let hits = SWAPIN_READAHEAD_HITS.swap(0, Ordering::Relaxed);
    let pages = __swapin_nr_pages(
        PREV_OFFSET.load(Ordering::Relaxed),
        offset,
        hits,
        1 << PAGE_CLUSTER,
        LAST_READAHEAD_PAGES.load(Ordering::Relaxed),
    );
    if pages == 0 {
        return 1;
    }
    LAST_READAHEAD_PAGES.store(pages, Ordering::Relaxed);
    pages
}

/// Read the aligned group of slots around `entry` and return the page for `entry`
/// (Linux: `swap_cluster_readahead`, the `swapin_readahead` of a rotational disk, which a
/// virtio disk is to Linux). The window adapts (`swapin_nr_pages`): a process that uses
/// what was read ahead gets up to 8 pages per fault, one that jumps about gets one.
/// Slots no PTE uses are skipped; the extra pages go to the swap cache marked as read
/// ahead (`swap_ra`; a later hit counts `swap_ra_hit`). Each run of consecutive new pages
/// is read with one request (`swap_readpages_plugged`; Linux submits a bio per page under
/// a plug, and the block layer merges them). Difference from 5.10: that read is
/// synchronous, so the caller waits for the whole run, not only its page.
#[no_mangle]
#[inline(never)]
pub fn swap_cluster_readahead(entry: SwpEntry, gfp: GfpFlags) -> Option<&'static Page> {
    let ty = swp_type(entry);
    let offset = swp_offset(entry);
    let win = swapin_nr_pages(offset as usize) as u64;
    PREV_OFFSET.store(offset as usize, Ordering::Relaxed);
    if win <= 1 {
        return read_swap_cache_async(entry, gfp);
    }
    let mask = win - 1;
    let start = (offset & !mask).max(1);
    let end = (offset | mask) + 1;
    // The pages to read, in slot order, and the one asked for (Linux: the loop submits a
    // read per new page under a plug, then the target's `read_swap_cache_async`).
    let mut run: [Option<&'static Page>; 1 << PAGE_CLUSTER] = [None; 1 << PAGE_CLUSTER];
    let mut target = None;
    for off in start..end {
        // Readahead gives up rather than fight for memory (Linux: the same flags).
        let want = if off == offset {
            gfp
        } else {
            gfp | GfpFlags::__GFP_NORETRY | GfpFlags::__GFP_NOWARN
        };
        let Some((page, new)) = __read_swap_cache_async(swp_entry(ty, off), want) else {
            continue;
        };
        if new {
            run[(off - start) as usize] = Some(page);
        }
        if off == offset {
            target = Some(page); // the reference is the caller's
        } else if new {
            page.set_flags(PageFlags::PG_readahead);
            count_vm_event(VmStat::SWAP_RA);
        } else {
            put_page(page); // cached already: nothing to read
        }
    }
    // One read per run of consecutive new pages (Linux: blk_finish_plug).
    for chunk in run.split(Option::is_none).filter(|c| !c.is_empty()) {
        let mut pages: [&'static Page; 1 << PAGE_CLUSTER] = [chunk[0].unwrap(); 1 << PAGE_CLUSTER];
        for (dst, src) in pages.iter_mut().zip(chunk.iter().flatten()) {
            *dst = src;
        }
        crate::mm::page_io::swap_readpages_plugged(&pages[..chunk.len()]);
    }
    // The readahead pages' references go; the cache keeps them.
    for (k, page) in run.iter().enumerate() {
        if let Some(page) = page {
            if start + k as u64 != offset {
                put_page(page);
            }
        }
    }
    target
}

/// The page for swap entry `entry`, read with readahead (Linux: `swapin_readahead`).
#[no_mangle]
#[inline(never)]
pub fn swapin_readahead(entry: SwpEntry, gfp: GfpFlags) -> Option<&'static Page> {
    swap_cluster_readahead(entry, gfp)
}

/// An unmapped swap-cache page whose slot no PTE uses any more leaves the cache (Linux:
/// `free_swap_cache`, from `free_pages_and_swap_cache` as an exit or munmap releases its
/// pages: otherwise the page would stay, held only by the cache, until reclaim).
#[no_mangle]
#[inline(never)]
pub fn free_swap_cache(page: &Page) {
    use crate::mm::pagemap::{trylock_page, unlock_page};
    if PageSwapCache(page) && !crate::mm::rmap::page_mapped(page) && trylock_page(page) {
        crate::mm::swapfile::try_to_free_swap(page);
        unlock_page(page);
    }
}

/// Drop one reference to each page, first taking out of the swap cache those no one maps
/// any more (Linux: `free_pages_and_swap_cache`, the mmu_gather's release).
pub fn free_pages_and_swap_cache(pages: &[&'static Page]) {
    for page in pages {
        // (Most pages never saw swap: test the flags before the call.)
        if PageSwapCache(page) {
            free_swap_cache(page);
        }
    }
    crate::mm::swap::release_pages(pages);
}

/// Is a page for `entry` in the swap cache (Linux: `find_get_page` on
/// `swap_address_space(entry)`, as `mincore_page` looks)? No reference is taken and no
/// readahead hit is counted.
pub fn swap_cache_has(entry: SwpEntry) -> bool {
    SWAPPER_SPACE.lock().contains_key(&entry.val)
}

/// Take out of the swap cache every page of device `ty` that no PTE needs (swapoff's last
/// pass, Linux: the `find_next_to_unuse` loop of `try_to_unuse`).
pub fn free_swap_cache_of_type(ty: usize) {
    use crate::mm::pagemap::{lock_page, unlock_page};
    // The device's entries are one range of keys (the type is the top bits); a batch at a
    // time, on the stack, resuming after the last key seen.
    const BATCH: usize = 64;
    let end = swp_entry(ty + 1, 0).val;
    let mut next = swp_entry(ty, 0).val;
    loop {
        let mut batch: [Option<(u64, &'static Page)>; BATCH] = [None; BATCH];
        {
            let space = SWAPPER_SPACE.lock();
            for (slot, (&val, &page)) in batch.iter_mut().zip(space.range(next..end)) {
                get_page(page);
                *slot = Some((val, page));
            }
        }
        let Some(Some((last, _))) = batch.iter().rev().find(|b| b.is_some()) else {
            return;
        };
        next = last + 1;
        for &(_, page) in batch.iter().flatten() {
            lock_page(page);
            crate::mm::swapfile::try_to_free_swap(page);
            unlock_page(page);
            put_page(page);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::__swapin_nr_pages;

    #[test]
    fn swapin_window_adapts_to_hits() {
        // No hits, a jump: one page. No hits, the next slot: two.
        assert_eq!(__swapin_nr_pages(100, 500, 0, 8, 0), 1);
        assert_eq!(__swapin_nr_pages(100, 101, 0, 8, 0), 2);
        // Hits widen it to a power of two, capped at 2^page_cluster.
        assert_eq!(__swapin_nr_pages(100, 500, 3, 8, 0), 8);
        assert_eq!(__swapin_nr_pages(100, 500, 1, 8, 0), 4);
        assert_eq!(__swapin_nr_pages(100, 500, 20, 8, 0), 8);
        // It shrinks by halves at most.
        assert_eq!(__swapin_nr_pages(100, 500, 0, 8, 8), 4);
        assert_eq!(__swapin_nr_pages(100, 500, 0, 8, 2), 1);
    }
}

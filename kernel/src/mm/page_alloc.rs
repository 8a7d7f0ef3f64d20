//! The page allocator: buddy free lists, free-page counters and watermarks.
//! Linux: `mm/page_alloc.c` (`__alloc_pages_nodemask`, `__free_pages`,
//! `setup_per_zone_wmarks`, `memblock_free_all` -> `__free_pages_core`).
//!
//! One zone (ZONE_NORMAL) for all RAM. The free lists are Linux's: one list per order,
//! threaded through the free blocks' own `struct Page` (`lru`), the head of a free block
//! marked PageBuddy with its order in `private` (`set_buddy_order`). Nothing here
//! allocates from the kernel heap: the slab allocator takes its pages from this allocator
//! (issue 13), so free lists kept in heap containers would recurse into it.
use super::page::{pfn_to_page, Page, PageFlags};
use crate::sync::SpinLockIrq;
use bitflags::bitflags;
use core::sync::atomic::Ordering;

/// Largest order handed out: 2^(MAX_ORDER-1) pages = 4 MiB (Linux arm64: MAX_ORDER 11).
pub const MAX_ORDER: usize = 11;

bitflags! {
    /// Allocation flags (Linux: `gfp_t`). Only what the kernel uses so far.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct GfpFlags: u32 {
        /// Zero the pages (Linux: `__GFP_ZERO`).
        const __GFP_ZERO = 0x100;
        /// May dip below the min watermark (Linux: `__GFP_HIGH` / ALLOC_HARDER).
        const __GFP_HIGH = 0x20;
        /// May start physical I/O (Linux: `__GFP_IO`).
        const __GFP_IO = 0x40;
        /// May call into the file system (Linux: `__GFP_FS`).
        const __GFP_FS = 0x80;
        /// May reclaim itself when memory is short: direct reclaim (Linux:
        /// `__GFP_DIRECT_RECLAIM`). Only for callers that hold no lock reclaim takes.
        const __GFP_DIRECT_RECLAIM = 0x400;
        /// Wakes kswapd when free memory falls below the low watermark (Linux:
        /// `__GFP_KSWAPD_RECLAIM`).
        const __GFP_KSWAPD_RECLAIM = 0x800;
        /// Do not report a failure (Linux: `__GFP_NOWARN`); we print no allocation-failure
        /// report yet, so it only documents the caller's intent.
        const __GFP_NOWARN = 0x2000;
        /// Give up after one round of direct reclaim rather than retry (Linux:
        /// `__GFP_NORETRY`): for optional allocations such as readahead pages, which
        /// stop quietly when memory is short.
        const __GFP_NORETRY = 0x10000;
        /// An ordinary kernel allocation: may sleep and reclaim (Linux: `GFP_KERNEL`,
        /// `__GFP_RECLAIM | __GFP_IO | __GFP_FS`).
        const GFP_KERNEL = 0xcc0;
        /// Never reclaims itself, only wakes kswapd: for callers holding a spin lock,
        /// such as a page-table allocation under the page-table lock (Linux:
        /// `GFP_NOWAIT`).
        const GFP_NOWAIT = 0x800;
    }
}

/// Zone watermarks in pages (Linux: `zone->_watermark[WMARK_MIN..WMARK_HIGH]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watermarks {
    /// Below this only __GFP_HIGH allocations succeed; kswapd works hard.
    pub min: usize,
    /// kswapd wakes below this.
    pub low: usize,
    /// kswapd sleeps above this.
    pub high: usize,
}

/// `min_free_kbytes = sqrt(lowmem_kbytes * 16)`, clamped to [128, 262144], as Linux's
/// `init_per_zone_wmark_min`; low and high are min + min/4 and min + min/2
/// (`__setup_per_zone_wmarks`, ignoring watermark_scale_factor).
pub fn calculate_watermarks(managed_pages: usize) -> Watermarks {
    let lowmem_kbytes = managed_pages * 4;
    let min_free_kbytes = int_sqrt(lowmem_kbytes * 16).clamp(128, 262_144);
    let min = min_free_kbytes / 4; // kbytes -> 4 KiB pages
    Watermarks {
        min,
        low: min + min / 4,
        high: min + min / 2,
    }
}

/// Integer square root (Linux: `int_sqrt`); no floating point in the kernel.
fn int_sqrt(x: usize) -> usize {
    let (mut lo, mut hi) = (0usize, x.min(1 << 32) + 1);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if mid * mid <= x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `_mapcount` of the head of a free buddy block (Linux 5.10: the `PG_buddy` page type,
/// `PAGE_TYPE_BASE` with bit 0x80 clear, stored in the `_mapcount` union).
pub const PAGE_BUDDY_MAPCOUNT_VALUE: i32 = !0x80;

/// No page (end of a free list): the `ListLink` convention of `mm/page.rs`.
const NIL: usize = usize::MAX;

/// The free blocks of one order (Linux: `struct free_area`, one migrate type).
#[derive(Clone, Copy)]
struct FreeArea {
    /// pfn of the first free block, or NIL (Linux: `free_list[MIGRATE_UNMOVABLE]`).
    head: usize,
    /// Blocks on the list (Linux: `nr_free`).
    nr_free: usize,
}

/// Is `page` the head of a free block (Linux: `PageBuddy`)?
#[inline]
pub fn page_buddy(page: &Page) -> bool {
    page._mapcount.load(Ordering::Relaxed) == PAGE_BUDDY_MAPCOUNT_VALUE
}

/// A zone: free lists plus counters (Linux: `struct zone`).
pub struct Zone {
    free_area: [FreeArea; MAX_ORDER],
    /// First pfn the zone was given (Linux: `zone_start_pfn`); buddies outside
    /// `[zone_start_pfn, zone_end_pfn)` belong to no list of ours and never merge.
    zone_start_pfn: usize,
    /// One past the last pfn the zone was given (Linux: `zone_end_pfn`).
    zone_end_pfn: usize,
    /// Free pages (Linux: `NR_FREE_PAGES`).
    pub nr_free: usize,
    /// Pages the buddy allocator manages (free or allocated).
    pub managed_pages: usize,
    /// Watermarks derived from `managed_pages`.
    pub watermarks: Watermarks,
}

impl Zone {
    /// An empty zone.
    pub const fn new() -> Self {
        Zone {
            free_area: [FreeArea {
                head: NIL,
                nr_free: 0,
            }; MAX_ORDER],
            zone_start_pfn: usize::MAX,
            zone_end_pfn: 0,
            nr_free: 0,
            managed_pages: 0,
            watermarks: Watermarks {
                min: 0,
                low: 0,
                high: 0,
            },
        }
    }

    /// Give frames `[start_pfn, end_pfn)` to the free lists (Linux: `__free_pages_core`
    /// per naturally aligned block, as `memblock_free_all` hands them over).
    pub fn add_free_range(&mut self, start_pfn: usize, end_pfn: usize) {
        if end_pfn <= start_pfn {
            return;
        }
        self.zone_start_pfn = self.zone_start_pfn.min(start_pfn);
        self.zone_end_pfn = self.zone_end_pfn.max(end_pfn);
        let mut pfn = start_pfn;
        while pfn < end_pfn {
            // The largest aligned block that starts here and fits.
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER - 1);
            while pfn + (1 << order) > end_pfn {
                order -= 1;
            }
            self.free_one_page(pfn, order);
            pfn += 1 << order;
        }
        self.managed_pages += end_pfn - start_pfn;
        self.watermarks = calculate_watermarks(self.managed_pages);
    }

    /// Put the free block at `pfn` on the list of `order` (Linux: `add_to_free_list` +
    /// `set_buddy_order`).
    fn add_to_free_list(&mut self, pfn: usize, order: usize) {
        let page = pfn_to_page(pfn);
        let area = &mut self.free_area[order];
        page.private.store(order, Ordering::Relaxed);
        page._mapcount
            .store(PAGE_BUDDY_MAPCOUNT_VALUE, Ordering::Relaxed);
        page.lru.prev.store(NIL, Ordering::Relaxed);
        page.lru.next.store(area.head, Ordering::Relaxed);
        if area.head != NIL {
            pfn_to_page(area.head)
                .lru
                .prev
                .store(pfn, Ordering::Relaxed);
        }
        area.head = pfn;
        area.nr_free += 1;
    }

    /// Take the free block at `pfn` off the list of `order` (Linux: `del_page_from_free_list`
    /// + `rmv_page_order`).
    fn del_from_free_list(&mut self, pfn: usize, order: usize) {
        let page = pfn_to_page(pfn);
        let (next, prev) = (
            page.lru.next.load(Ordering::Relaxed),
            page.lru.prev.load(Ordering::Relaxed),
        );
        if prev == NIL {
            self.free_area[order].head = next;
        } else {
            pfn_to_page(prev).lru.next.store(next, Ordering::Relaxed);
        }
        if next != NIL {
            pfn_to_page(next).lru.prev.store(prev, Ordering::Relaxed);
        }
        self.free_area[order].nr_free -= 1;
        page.lru.next.store(NIL, Ordering::Relaxed);
        page.lru.prev.store(NIL, Ordering::Relaxed);
        page.private.store(0, Ordering::Relaxed);
        page._mapcount.store(-1, Ordering::Relaxed);
    }

    /// Free blocks of each order (Linux: `free_area[order].nr_free`, /proc/buddyinfo).
    pub fn nr_free_blocks(&self) -> [usize; MAX_ORDER] {
        core::array::from_fn(|o| self.free_area[o].nr_free)
    }

    /// Take 2^order contiguous, naturally aligned frames, keeping the min watermark for
    /// all but __GFP_HIGH users; the first pfn.
    /// Linux: `rmqueue` -> `__rmqueue_smallest` (split larger blocks as needed).
    pub fn rmqueue(&mut self, order: usize, gfp: GfpFlags) -> Option<usize> {
        let mark = if gfp.contains(GfpFlags::__GFP_HIGH) {
            0
        } else {
            self.watermarks.min
        };
        self.rmqueue_wmark(order, mark)
    }

    /// Take 2^order frames if at least `mark` pages stay free (Linux:
    /// `zone_watermark_ok` then `rmqueue` -> `__rmqueue_smallest`, which takes the
    /// smallest block that fits and gives the halves it does not need back (`expand`)).
    pub fn rmqueue_wmark(&mut self, order: usize, mark: usize) -> Option<usize> {
        if order >= MAX_ORDER {
            return None;
        }
        let want = 1usize << order;
        if self.nr_free < want + mark {
            return None;
        }
        let mut current = order;
        while self.free_area[current].head == NIL {
            current += 1;
            if current >= MAX_ORDER {
                return None;
            }
        }
        let pfn = self.free_area[current].head;
        self.del_from_free_list(pfn, current);
        // expand: the upper halves go back, one block per order on the way down.
        while current > order {
            current -= 1;
            self.add_to_free_list(pfn + (1 << current), current);
        }
        self.nr_free -= want;
        Some(pfn)
    }

    /// Return 2^order frames at `pfn`, merging with its free buddy while there is one of
    /// the same order (Linux: `__free_one_page`, `page_is_buddy`, `__find_buddy_pfn`).
    pub fn free_one_page(&mut self, pfn: usize, order: usize) {
        self.nr_free += 1 << order;
        let (mut pfn, mut order) = (pfn, order);
        while order < MAX_ORDER - 1 {
            let buddy_pfn = pfn ^ (1 << order);
            if buddy_pfn < self.zone_start_pfn || buddy_pfn >= self.zone_end_pfn {
                break;
            }
            let buddy = pfn_to_page(buddy_pfn);
            if !page_buddy(buddy) || buddy.private.load(Ordering::Relaxed) != order {
                break;
            }
            self.del_from_free_list(buddy_pfn, order);
            pfn &= buddy_pfn;
            order += 1;
        }
        self.add_to_free_list(pfn, order);
    }
}

/// The one zone.
pub static ZONE_NORMAL: SpinLockIrq<Zone> = SpinLockIrq::new(Zone::new());

/// Free pages now (Linux: `nr_free_pages`, `global_zone_page_state(NR_FREE_PAGES)`).
pub fn nr_free_pages() -> usize {
    ZONE_NORMAL.lock().nr_free
}

/// Which watermark an allocation attempt must leave free (Linux: `ALLOC_WMARK_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AllocWmark {
    /// The fast path: keep the low watermark, so kswapd is woken before memory is tight.
    Low,
    /// The slow path: keep only the min watermark (none for __GFP_HIGH).
    Min,
}

/// One try at the free lists (Linux: `get_page_from_freelist`).
fn get_page_from_freelist(gfp: GfpFlags, order: usize, wmark: AllocWmark) -> Option<&'static Page> {
    let pfn = {
        let mut zone = ZONE_NORMAL.lock();
        let mark = match wmark {
            AllocWmark::Low => zone.watermarks.low,
            AllocWmark::Min if gfp.contains(GfpFlags::__GFP_HIGH) => 0,
            AllocWmark::Min => zone.watermarks.min,
        };
        zone.rmqueue_wmark(order, mark)?
    };
    let page = pfn_to_page(pfn);
    prep_new_page(page, order, gfp);
    Some(page)
}

/// Allocate 2^order pages; the head page's refcount is 1 (Linux: `alloc_pages` ->
/// `__alloc_pages_nodemask`). The fast path leaves the low watermark free; below it
/// the slow path wakes kswapd and may reclaim directly.
#[no_mangle]
#[inline(never)]
pub fn alloc_pages(gfp: GfpFlags, order: usize) -> Option<&'static Page> {
    if let Some(page) = get_page_from_freelist(gfp, order, AllocWmark::Low) {
        return Some(page);
    }
    __alloc_pages_slowpath(gfp, order)
}

/// How many times direct reclaim is tried before giving up (Linux:
/// `MAX_RECLAIM_RETRIES`).
const MAX_RECLAIM_RETRIES: usize = 16;

/// Free memory is below the low watermark (Linux: `__alloc_pages_slowpath`): wake
/// kswapd; try again down to the min watermark; then, if the caller may, reclaim
/// directly (`__alloc_pages_direct_reclaim` -> `try_to_free_pages`) and retry while
/// reclaim makes progress. None when memory is still short: the caller fails with ENOMEM
/// or, for a page fault, VM_FAULT_OOM.
///
/// `__GFP_NORETRY` stops after the first round of direct reclaim, as in 5.10.
///
/// Difference from 5.10: no compaction, no OOM killer call from here yet (the fault
/// path's `pagefault_out_of_memory` is where an OOM ends).
#[no_mangle]
#[inline(never)]
pub fn __alloc_pages_slowpath(gfp: GfpFlags, order: usize) -> Option<&'static Page> {
    if gfp.contains(GfpFlags::__GFP_KSWAPD_RECLAIM) {
        crate::mm::vmscan::wakeup_kswapd(gfp, order);
    }
    if let Some(page) = get_page_from_freelist(gfp, order, AllocWmark::Min) {
        return Some(page);
    }
    if !gfp.contains(GfpFlags::__GFP_DIRECT_RECLAIM) {
        return None;
    }
    let mut no_progress_loops = 0;
    loop {
        let (page, progress) = __alloc_pages_direct_reclaim(gfp, order);
        if page.is_some() {
            return page;
        }
        if gfp.contains(GfpFlags::__GFP_NORETRY) {
            // One round of reclaim was all the caller wanted (Linux: `goto nopage`).
            return None;
        }
        if !should_reclaim_retry(order, progress, &mut no_progress_loops) {
            return None;
        }
    }
}

/// Is another round of direct reclaim worth it (Linux: `should_reclaim_retry`)? A round
/// that freed nothing counts against `no_progress_loops` (one that freed something resets
/// it); after MAX_RECLAIM_RETRIES such rounds in a row, give up. Otherwise retry while the
/// pages reclaim could still free (the file lists, and the anonymous ones while swap has
/// free slots) plus the free ones would lift the zone above its min watermark, that
/// estimate shrinking by a sixteenth for each fruitless round. Pages that were only young
/// on the first look (PAGEREF_KEEP) need a second round to go: hence the retries.
fn should_reclaim_retry(order: usize, progress: usize, no_progress_loops: &mut usize) -> bool {
    use crate::mm::mmzone::{
        lru_sizes, LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE,
    };
    if progress > 0 {
        *no_progress_loops = 0;
    } else {
        *no_progress_loops += 1;
    }
    if *no_progress_loops > MAX_RECLAIM_RETRIES {
        return false;
    }
    let sizes = lru_sizes();
    let mut reclaimable = sizes[LRU_INACTIVE_FILE] + sizes[LRU_ACTIVE_FILE];
    // Linux: zone_reclaimable_pages counts the anon lists too while swap has room.
    if crate::mm::swapfile::get_nr_swap_pages() > 0 {
        reclaimable += sizes[LRU_INACTIVE_ANON] + sizes[LRU_ACTIVE_ANON];
    }
    let zone = ZONE_NORMAL.lock();
    let mut available = reclaimable + zone.nr_free;
    available -= (*no_progress_loops * available).div_ceil(MAX_RECLAIM_RETRIES);
    available > zone.watermarks.min + (1 << order)
}

/// Reclaim, then try again (Linux: `__alloc_pages_direct_reclaim` ->
/// `__perform_reclaim`): counts `allocstall`; returns the page, if any, and how many
/// pages reclaim freed.
#[no_mangle]
#[inline(never)]
pub fn __alloc_pages_direct_reclaim(gfp: GfpFlags, order: usize) -> (Option<&'static Page>, usize) {
    crate::mm::vmstat::count_vm_event(crate::mm::vmstat::VmStat::ALLOCSTALL);
    let progress = crate::mm::vmscan::try_to_free_pages(gfp, order);
    (
        get_page_from_freelist(gfp, order, AllocWmark::Min),
        progress,
    )
}

/// Set up a page leaving the free lists (Linux: `prep_new_page` + `set_page_refcounted`).
fn prep_new_page(page: &Page, order: usize, gfp: GfpFlags) {
    debug_assert_eq!(page.page_count(), 0, "allocating a page in use");
    if order > 0 {
        page.set_flags(PageFlags::PG_head);
    }
    page.private.store(order, Ordering::Relaxed);
    page._refcount.store(1, Ordering::Relaxed);
    if gfp.contains(GfpFlags::__GFP_ZERO) {
        let va = super::page::page_address(page);
        // SAFETY: the frames are ours and mapped by the linear map.
        for i in 0..(1usize << order) {
            // SAFETY: the pages were just allocated to us and are mapped by the linear map.
            unsafe { crate::arch::cpu::clear_page(va + i * super::PAGE_SIZE) };
        }
    }
}

/// Drop a reference to 2^order pages; the last one frees them. Linux: `__free_pages`.
#[no_mangle]
#[inline(never)]
pub fn __free_pages(page: &Page, order: usize) {
    let left = page._refcount.fetch_sub(1, Ordering::AcqRel) - 1;
    assert!(left >= 0, "__free_pages: page refcount underflow");
    if left == 0 {
        // Off its LRU list first (Linux: __put_page -> __page_cache_release).
        crate::mm::swap::__page_cache_release(page);
        free_pages_prepare(page);
        ZONE_NORMAL
            .lock()
            .free_one_page(super::page::page_to_pfn(page), order);
    }
}

/// Check and clear a page whose last reference is gone and which is off the LRU lists,
/// before it goes back to the buddy lists (Linux: `free_pages_prepare`): an anonymous
/// page drops its anon_vma pointer, a page still mapped or in a page cache is reported
/// (`bad_page`), a page still mlocked is counted (`unevictable_pgs_cleared`), and no
/// state is left.
pub fn free_pages_prepare(page: &Page) {
    // An anonymous page keeps its anon_vma in `mapping` until now (Linux clears
    // PageMappingFlags mappings before the checks).
    let mapping = page.mapping.load(Ordering::Relaxed);
    if mapping & crate::mm::rmap::PAGE_MAPPING_FLAGS != 0 {
        page.mapping.store(0, Ordering::Relaxed);
    }
    if page._mapcount.load(Ordering::Relaxed) >= 0 || page.mapping.load(Ordering::Relaxed) != 0 {
        bad_page(page, "freed while mapped or in the page cache");
    }
    if page.test(PageFlags::PG_swapcache) && page.test(PageFlags::PG_swapbacked) {
        bad_page(page, "freed while in the swap cache");
    }
    crate::mm::mlock::free_page_mlock(page);
    page.flags.store(0, Ordering::Relaxed);
    page.mapping.store(0, Ordering::Relaxed);
    page.index.store(0, Ordering::Relaxed);
    page.private.store(0, Ordering::Relaxed);
    page._mapcount.store(-1, Ordering::Relaxed);
}

/// Give order-0 pages whose last reference is gone back to the buddy lists under one
/// zone lock (Linux: `free_unref_page_list`, minus the per-CPU lists). The pages are off
/// the LRU and prepared (`free_pages_prepare`).
pub fn free_unref_page_list<'a>(pages: impl Iterator<Item = &'a Page>) {
    let mut pages = pages.peekable();
    if pages.peek().is_none() {
        return;
    }
    let mut zone = ZONE_NORMAL.lock();
    for page in pages {
        zone.free_one_page(super::page::page_to_pfn(page), 0);
    }
}

/// A page freed in a state no free page may be in: report it and where it was freed
/// from, then go on (Linux: `bad_page`, "BUG: Bad page state", called from
/// `free_pages_prepare` -> `free_pages_check`). The page still goes back to the free
/// lists, as in Linux, so the report is the evidence of a reference-count bug elsewhere.
#[cold]
#[inline(never)]
fn bad_page(page: &Page, reason: &str) {
    crate::pr_warn!(
        "BUG: Bad page state: pfn:{:#x} mapcount:{} mapping:{:#x} index:{:#x} flags:{:#x}: {}",
        super::page::page_to_pfn(page),
        page._mapcount.load(Ordering::Relaxed),
        page.mapping.load(Ordering::Relaxed),
        page.index.load(Ordering::Relaxed),
        page.flags.load(Ordering::Relaxed),
        reason
    );
    #[cfg(not(test))]
    crate::kernel::panic::dump_backtrace(crate::arch::cpu::frame_pointer(), false);
}

/// One page, or None (Linux: `alloc_page`).
pub fn alloc_page(gfp: GfpFlags) -> Option<&'static Page> {
    alloc_pages(gfp, 0)
}

/// Allocate and return the linear-map address (Linux: `__get_free_pages`).
pub fn __get_free_pages(gfp: GfpFlags, order: usize) -> Option<usize> {
    alloc_pages(gfp, order).map(super::page::page_address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_follow_linux_formula() {
        // 512 MiB: lowmem_kbytes = 524288, sqrt(524288*16) = 2896 kB -> 724 pages.
        let w = calculate_watermarks(131072);
        assert_eq!(
            w,
            Watermarks {
                min: 724,
                low: 905,
                high: 1086
            }
        );
        // Tiny zones clamp to 128 kB = 32 pages.
        assert_eq!(calculate_watermarks(16).min, 32);
    }

    #[test]
    fn alloc_every_page_then_free_restores_the_count() {
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut z = Zone::new();
        z.add_free_range(0x40100, 0x40100 + 1000);
        z.add_free_range(0x40500, 0x40500 + 24);
        let start = z.nr_free;
        let mut got = std::vec::Vec::new();
        while let Some(p) = z.rmqueue(0, GfpFlags::__GFP_HIGH) {
            got.push(p);
        }
        assert_eq!(got.len(), start);
        assert_eq!(z.nr_free, 0);
        got.sort_unstable();
        got.dedup();
        assert_eq!(got.len(), start, "a frame was handed out twice");
        for p in got {
            z.free_one_page(p, 0);
        }
        assert_eq!(z.nr_free, start);
        // The free lists merged back: a large block is available again.
        assert!(z.rmqueue(9, GfpFlags::__GFP_HIGH).is_some());
    }

    #[test]
    fn higher_orders_are_naturally_aligned() {
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut z = Zone::new();
        // Misaligned start; inside the host mem_map, apart from the other tests' zones.
        z.add_free_range(0x40601, 0x40e00);
        for order in [0, 3, 5, 9] {
            let p = z.rmqueue(order, GfpFlags::__GFP_HIGH).unwrap();
            assert_eq!(p % (1 << order), 0, "order {order} block at {p:#x}");
        }
        assert_eq!(z.rmqueue(MAX_ORDER, GfpFlags::__GFP_HIGH), None);
    }

    #[test]
    fn min_watermark_is_kept_for_gfp_high() {
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut z = Zone::new();
        z.add_free_range(0x40e00, 0x40e00 + 64);
        let min = z.watermarks.min;
        let mut n = 0;
        while z.rmqueue(0, GfpFlags::GFP_KERNEL).is_some() {
            n += 1;
        }
        assert_eq!(n, 64 - min);
        assert!(z.rmqueue(0, GfpFlags::__GFP_HIGH).is_some());
    }

    #[test]
    fn page_level_wrapper_counts_references() {
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        // A private zone for this test: the global one stays untouched.
        let page = pfn_to_page(0x40f10); // outside the range other tests give the zone
        page._refcount.store(0, Ordering::Relaxed);
        prep_new_page(page, 0, GfpFlags::GFP_KERNEL);
        assert_eq!(page.page_count(), 1);
        assert!(!page.test(PageFlags::PG_head));
    }
}

//! Memory failure: retiring a frame whose memory went bad (CONFIG_MEMORY_FAILURE).
//!
//! Linux: `mm/memory-failure.c` (5.10). Callers: `madvise_inject_error` (MADV_HWPOISON,
//! mm/madvise.rs), which is how a test poisons a page; real hardware would report through
//! the arch's machine-check path (arm64: SEA / GHES), which we do not have.
//!
//! ```text
//! madvise(MADV_HWPOISON) -> madvise_inject_error -> memory_failure
//!     -> TestSetPageHWPoison, num_poisoned_pages_inc    (HardwareCorrupted: in meminfo)
//!     -> hwpoison_user_mappings -> try_to_unmap          (each PTE -> hwpoison entry)
//!     -> identify_page_state -> me_pagecache_dirty/clean (off the LRU, keep our ref)
//! later: handle_mm_fault -> do_swap_page -> VM_FAULT_HWPOISON -> SIGBUS (BUS_MCEERR_AR)
//! ```
//!
//! The retired page keeps the reference `memory_failure` holds on it for ever, so it never
//! goes back to the allocator (Linux: the same; `unpoison_memory` is a debugfs knob we do
//! not have). Processes are killed late, when they touch the page (Linux's default,
//! `vm.memory_failure_early_kill = 0`); we do not collect and kill them early.
//!
//! Anonymous and page-cache (file, tmpfs) LRU pages are handled: a file page leaves its
//! file, which then has a hole there (a clean disk-file page is just unmapped, to be read
//! again; a tmpfs page's mappers get hwpoison entries, as in 5.10). Differences from
//! Linux 5.10: a page in the swap cache (whose slot other page tables may name), a free
//! page and a kernel page are refused with EBUSY *before* they are marked, so nothing is
//! half-retired: Linux would keep a dirty swap-cache page for `do_swap_page` to catch and
//! leave a free page for `prep_new_page` to refuse.
//! MADV_SOFT_OFFLINE (`soft_offline_page`, which migrates the data to a new frame first)
//! is not implemented: we have no page migration, so madvise refuses it with EINVAL.
use crate::errno::{Errno, KResult};
use crate::mm::page::{page_to_pfn, pfn_to_page, pfn_valid, put_page, Page, PageFlags};
use crate::mm::pagemap::{lock_page, unlock_page, wait_on_page_writeback};
use crate::mm::rmap::{page_mapped, try_to_unmap, PageAnon, TtuFlags};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The caller already holds a reference on the page (Linux: `MF_COUNT_INCREASED`). It
/// passes to `memory_failure`, which keeps it if the page is retired and drops it if not.
pub const MF_COUNT_INCREASED: u32 = 1 << 0;
/// The error was hit by the current task's access, not found by a scrubber (Linux:
/// `MF_ACTION_REQUIRED`). Unused by madvise.
pub const MF_ACTION_REQUIRED: u32 = 1 << 1;
/// Kill the mapping processes even if the page was clean (Linux: `MF_MUST_KILL`).
pub const MF_MUST_KILL: u32 = 1 << 2;

/// Pages marked PG_hwpoison so far (Linux: `num_poisoned_pages`), shown as
/// `HardwareCorrupted:` in /proc/meminfo. Never goes down: nothing unpoisons.
static NUM_POISONED_PAGES: AtomicUsize = AtomicUsize::new(0);

/// How many pages are poisoned (Linux: `atomic_long_read(&num_poisoned_pages)`). The
/// end-of-run leak check counts them with the free pages: they left the allocator on
/// purpose.
pub fn num_poisoned_pages() -> usize {
    NUM_POISONED_PAGES.load(Ordering::Relaxed)
}

/// Linux: `num_poisoned_pages_inc`.
fn num_poisoned_pages_inc() {
    NUM_POISONED_PAGES.fetch_add(1, Ordering::Relaxed);
}

/// Take a reference unless the page is free (Linux: `get_page_unless_zero`, through
/// `get_hwpoison_page`).
fn get_hwpoison_page(page: &Page) -> bool {
    let mut c = page.page_count();
    while c > 0 {
        match page
            ._refcount
            .compare_exchange(c, c + 1, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => return true,
            Err(now) => c = now,
        }
    }
    false
}

/// Why a page cannot be handled here, or None when it can (our stand-in for the part
/// of Linux's `error_states` table we implement; see the module comment).
fn unhandled_page_kind(page: &Page) -> Option<&'static str> {
    let f = page.flags();
    if f.intersects(PageFlags::PG_slab | PageFlags::PG_reserved) {
        Some("reserved kernel page")
    } else if !PageAnon(page) {
        if page_cache_mapping(page).is_none() {
            Some("unknown page")
        } else if !f.contains(PageFlags::PG_lru) {
            Some("non-LRU page-cache page")
        } else {
            None
        }
    } else if f.contains(PageFlags::PG_swapcache) {
        Some("swapcache page (not supported)")
    } else if !f.contains(PageFlags::PG_lru) {
        Some("non-LRU anonymous page")
    } else {
        None
    }
}

/// The file a page-cache page belongs to (Linux: `page_mapping` for a file page).
fn page_cache_mapping(page: &Page) -> Option<&'static crate::mm::filemap::AddressSpace> {
    let token = page.mapping.load(Ordering::Acquire);
    if token == 0 || PageAnon(page) {
        return None;
    }
    // SAFETY: a page-cache page's `mapping` is its file's AddressSpace, which stays while
    // it holds pages; we hold a reference and the page lock, so the page stays in it.
    Some(unsafe { crate::mm::filemap::AddressSpace::from_token(token) })
}

/// Take the page off its LRU list, dropping the isolation's reference at once: a
/// poisoned page must never be reclaimed or put back (Linux: `delete_from_lru_cache`).
/// EIO if it was on no list.
fn delete_from_lru_cache(page: &Page) -> KResult<()> {
    crate::mm::vmscan::isolate_lru_page(page).map_err(|_| Errno::EIO)?;
    page.clear_flags(PageFlags::PG_active | PageFlags::PG_unevictable);
    // It stays isolated for good: not counted as "isolated for a while".
    crate::mm::vmstat::mod_state(crate::mm::vmscan::isolated_stat(page), -1);
    put_page(page);
    Ok(())
}

/// Unmap a poisoned page from every process that maps it, each PTE becoming a hwpoison
/// entry, so the next touch is SIGBUS and nobody reads the bad data (Linux:
/// `hwpoison_user_mappings`, with `try_to_unmap(TTU_IGNORE_MLOCK | TTU_IGNORE_ACCESS)`).
/// True when no mapping is left. Locking: the page is locked; the rmap walk takes each
/// mm's page-table lock.
///
/// Difference from 5.10: no early kill (`collect_procs`).
#[no_mangle]
#[inline(never)]
pub fn hwpoison_user_mappings(p: &Page, pfn: usize, _flags: u32) -> bool {
    if !p.test(PageFlags::PG_lru) || !page_mapped(p) {
        return true;
    }
    let mut ttu = TtuFlags::TTU_IGNORE_MLOCK | TtuFlags::TTU_IGNORE_ACCESS;
    // A clean page of a file that can be read again loses nothing: its PTEs are just
    // cleared and the next touch reads the file (Linux: the `mapping_can_writeback`
    // branch, TTU_IGNORE_HWPOISON, no kill). A tmpfs page (swap-backed: the cache holds
    // the only copy) or a dirty one gets hwpoison entries.
    if !PageAnon(p)
        && !p.test(PageFlags::PG_dirty)
        && !p.test(PageFlags::PG_swapbacked)
        && page_cache_mapping(p).is_some()
    {
        ttu |= TtuFlags::TTU_IGNORE_HWPOISON;
        crate::pr_info!(
            "Memory failure: {:#x}: corrupted page was clean: dropped without side effects",
            pfn
        );
    }
    let unmapped = try_to_unmap(p, ttu);
    if !unmapped {
        crate::pr_info!(
            "Memory failure: {:#x}: failed to unmap page (mapcount={})",
            pfn,
            p.page_mapcount()
        );
    }
    unmapped
}

/// An LRU page, anonymous or in a file's cache: off the LRU, out of the file (the file
/// now has a hole there: `generic_error_remove_page`); only our reference may be left
/// (Linux: `me_pagecache_clean`, reached through `me_pagecache_dirty` for a dirty page,
/// then `page_action`'s count check). True when recovered.
///
/// Difference from 5.10: a dirty page's mapping is not marked with EIO
/// (`mapping_set_error`): we keep no writeback error state for fsync to report.
fn me_pagecache_clean(p: &'static Page) -> bool {
    if delete_from_lru_cache(p).is_err() {
        return false;
    }
    if let Some(mapping) = page_cache_mapping(p) {
        if crate::mm::truncate::generic_error_remove_page(mapping, p).is_err() {
            return false;
        }
    }
    let others = p.page_count() - 1;
    if others > 0 {
        crate::pr_info!(
            "Memory failure: {:#x}: dirty LRU page still referenced by {} users",
            page_to_pfn(p),
            others
        );
        return false;
    }
    true
}

/// Mark frame `pfn` as corrupt and contain the damage (Linux: `memory_failure`). For an
/// anonymous or page-cache LRU page: PG_hwpoison, counted in `num_poisoned_pages`; every
/// PTE that mapped it becomes a hwpoison entry (or, for a clean disk-file page, is just
/// cleared); it leaves the LRU and its file, and keeps one reference for ever.
/// Returns Ok when the page is (now or already) poisoned and contained; ENXIO for a pfn
/// without a `struct page`; EBUSY when it could not be handled (see the module comment
/// for the kinds we refuse; those are left unmarked).
///
/// With [`MF_COUNT_INCREASED`] the caller's reference passes to us. Locking: takes the
/// page lock; the caller may hold `mmap_lock` for read (madvise), which the rmap walk
/// does not need.
#[no_mangle]
#[inline(never)]
pub fn memory_failure(pfn: usize, flags: u32) -> KResult<()> {
    if !pfn_valid(pfn) {
        crate::pr_info!("Memory failure: {:#x}: memory outside kernel control", pfn);
        return Err(Errno::ENXIO);
    }
    let p = pfn_to_page(pfn);
    let counted = flags & MF_COUNT_INCREASED != 0;
    if p.test(PageFlags::PG_hwpoison) {
        crate::pr_info!("Memory failure: {:#x}: already hardware poisoned", pfn);
        if counted {
            put_page(p); // it holds one for good already
        }
        return Ok(());
    }
    // A free page (count 0): Linux leaves it poisoned in the buddy lists for
    // prep_new_page to refuse; we cannot, so we do not take it.
    if !counted && !get_hwpoison_page(p) {
        crate::pr_info!(
            "Memory failure: {:#x}: recovery action for free page: Ignored",
            pfn
        );
        return Err(Errno::EBUSY);
    }
    lock_page(p);
    if let Some(kind) = unhandled_page_kind(p) {
        unlock_page(p);
        put_page(p);
        crate::pr_info!(
            "Memory failure: {:#x}: recovery action for {}: Ignored",
            pfn,
            kind
        );
        return Err(Errno::EBUSY);
    }
    if p.test_and_set(PageFlags::PG_hwpoison) {
        // Poisoned by someone else while we waited for the lock.
        unlock_page(p);
        put_page(p);
        return Ok(());
    }
    num_poisoned_pages_inc();
    wait_on_page_writeback(p);
    let res = if !hwpoison_user_mappings(p, pfn, flags) {
        crate::pr_info!(
            "Memory failure: {:#x}: recovery action for unmapping failed page: Ignored",
            pfn
        );
        Err(Errno::EBUSY)
    } else {
        // Linux's error_states: anonymous pages count as dirty LRU pages.
        let kind = if PageAnon(p) || p.test(PageFlags::PG_dirty) || p.test(PageFlags::PG_swapbacked)
        {
            "dirty LRU page"
        } else {
            "clean LRU page"
        };
        if me_pagecache_clean(p) {
            crate::pr_info!(
                "Memory failure: {:#x}: recovery action for {}: Recovered",
                pfn,
                kind
            );
            Ok(())
        } else {
            crate::pr_info!(
                "Memory failure: {:#x}: recovery action for {}: Failed",
                pfn,
                kind
            );
            Err(Errno::EBUSY)
        }
    };
    unlock_page(p);
    res
}

//! Taking pages out of a page cache without truncating the file. Linux: `mm/truncate.c`
//! (`invalidate_mapping_pages`, `invalidate_inode_page`, and `generic_error_remove_page`
//! -> `truncate_inode_page` for a page memory failure retires). `truncate_inode_pages`, which
//! Linux keeps here too, stays in `filemap.rs` beside the page-cache internals it uses.
//!
//! Callers: `drop_caches` (`fs/drop_caches.rs`), for every cached inode;
//! `memory_failure` (`generic_error_remove_page`).
use crate::mm::filemap::{remove_mapping_if_unused, AddressSpace};
use crate::mm::page::{put_page, Page, PageFlags};
use alloc::vec::Vec;

/// Pages looked up per batch (Linux: a `pagevec`): the i_pages lock is dropped between
/// batches, so a large file does not keep interrupts off long.
const BATCH: usize = crate::mm::swap::PAGEVEC_SIZE;

/// Try to drop one cached `page` (the caller holds a reference besides the cache's):
/// only a clean, unlocked page that no PTE maps and nobody else holds goes. Returns
/// whether it went. Linux: `invalidate_inode_page` (dirty, writeback and mapped pages
/// stay) -> `invalidate_complete_page` -> `remove_mapping` (the reference count frozen at
/// 2: the cache's and ours). PG_locked fails the check as Linux's `trylock_page` would.
///
/// A swap-backed page (tmpfs) stays: its cache is its only copy. Linux reaches the same
/// outcome because shmem pages are marked dirty once written (`shmem_write_end`,
/// `shmem_fault` leaves new pages dirty too).
#[no_mangle]
#[inline(never)]
pub fn invalidate_inode_page(mapping: &AddressSpace, page: &'static Page) -> bool {
    if page.test(PageFlags::PG_swapbacked) || page.test(PageFlags::PG_dirty) {
        return false;
    }
    if page.page_mapcount() > 0 {
        return false;
    }
    remove_mapping_if_unused(mapping, page)
}

/// Drop the clean, unmapped, unlocked, otherwise unused pages of `mapping` with index in
/// `start..=end`; returns how many went (each freed once our reference is dropped, which
/// also takes it off its LRU list: `__page_cache_release`). Pages in use stay, so this is
/// safe on a file that is being read and mapped. Linux: `invalidate_mapping_pages`
/// (5.10 also moves a page it could not drop to the inactive list with
/// `deactivate_file_page`; we leave such pages where they are).
#[no_mangle]
#[inline(never)]
pub fn invalidate_mapping_pages(mapping: &AddressSpace, start: usize, end: usize) -> usize {
    if start > end {
        return 0;
    }
    let mut next = start;
    let mut count = 0;
    loop {
        let batch: Vec<&'static Page> = mapping.find_get_pages_range(next, end, BATCH);
        let Some(last) = batch.last() else {
            return count;
        };
        let last_index = last.index.load(core::sync::atomic::Ordering::Relaxed);
        for page in batch {
            if invalidate_inode_page(mapping, page) {
                count += 1;
            }
            put_page(page);
        }
        if last_index >= end {
            return count;
        }
        next = last_index + 1;
    }
}

#[cfg(test)]
#[path = "truncate_tests.rs"]
mod tests;

/// Take `page` out of `mapping` whatever its state, dropping the cache's reference: the
/// file has a hole at its index from now on (a tmpfs file reads zeros there, a disk
/// file reads the page again). The caller holds the page lock and its own reference, and
/// has unmapped it. False when the page is no longer in the cache. Linux:
/// `truncate_inode_page` (`truncate_cleanup_page` + `delete_from_page_cache`).
#[no_mangle]
#[inline(never)]
pub fn truncate_inode_page(mapping: &AddressSpace, page: &'static Page) -> bool {
    crate::mm::filemap::delete_from_page_cache_if_cached(mapping, page)
}

/// Remove a poisoned page from its file (Linux: `generic_error_remove_page`, shmem's and
/// most file systems' `error_remove_page`). EIO if it is no longer cached.
pub fn generic_error_remove_page(
    mapping: &AddressSpace,
    page: &'static Page,
) -> crate::errno::KResult<()> {
    if truncate_inode_page(mapping, page) {
        Ok(())
    } else {
        Err(crate::errno::Errno::EIO)
    }
}

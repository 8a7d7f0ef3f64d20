//! Host tests of `shmem.rs` and of swap entries in `i_pages`: what lookups make of a
//! tmpfs page that is out on swap, `shmem_add_to_page_cache`'s expected entry,
//! `shmem_writepage` without swap, and truncation of swap entries. (The whole round trip
//! through a swap device is `user-shmem-swap-64M`: host tests share one process, and a
//! global swap device would change what the other tests' reclaim does.)
use super::*;
use crate::mm::filemap::{
    add_to_page_cache_lru, find_get_entry, find_get_page, page_cache_next_miss,
    truncate_inode_pages,
};
use crate::mm::swapops::swp_entry;

/// A fresh page of the shared host mem_map, owned by this test (refcount 1).
fn page() -> &'static Page {
    crate::mm::page::tests::host_mem_map(0x40000, 4096);
    let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
    if zone.managed_pages == 0 {
        zone.add_free_range(0x40000, 0x40000 + 256);
    }
    drop(zone);
    alloc_pages(GfpFlags::GFP_KERNEL, 0).unwrap()
}

/// A leaked tmpfs-like mapping (`shmem_aops`), so pages may point at it.
fn mapping() -> &'static AddressSpace {
    alloc::boxed::Box::leak(alloc::boxed::Box::new(AddressSpace::with_a_ops(Some(
        &SHMEM_AOPS,
    ))))
}

/// What `shmem_writepage` leaves at `index`: the swap entry in place of the page.
fn put_swap_entry(m: &AddressSpace, index: usize, swap: SwpEntry) {
    m.i_pages.lock().insert(index, PageCacheEntry::Swap(swap));
    m.nrexceptional.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_swap_entry_is_not_a_page_to_lookups() {
    let m = mapping();
    let (p0, p2) = (page(), page());
    add_to_page_cache_lru(p0, m, 0).unwrap();
    add_to_page_cache_lru(p2, m, 2).unwrap();
    let swap = swp_entry(3, 77);
    put_swap_entry(m, 1, swap);
    assert!(
        find_get_page(m, 1).is_none(),
        "find_get_page skips value entries"
    );
    assert!(matches!(find_get_entry(m, 1), Some(PageCacheEntry::Swap(e)) if e == swap));
    assert_eq!(
        (m.nrpages(), m.nrexceptional()),
        (2, 1),
        "nrpages counts pages only"
    );
    assert_eq!(
        page_cache_next_miss(m, 0, 3),
        1,
        "readahead sees a miss there"
    );
    let got = m.find_get_pages_range(0, 10, 10);
    assert_eq!(got.len(), 2, "range lookups skip it");
    got.into_iter().for_each(put_page);
    let q = page();
    assert_eq!(
        add_to_page_cache_lru(q, m, 1),
        Err(Errno::EEXIST),
        "no new page over a swapped one"
    );
    put_page(q);
    assert!(matches!(shmem_getpage(m, 3, SgpType::SGP_READ), Ok(None)));
}

#[test]
fn shmem_add_to_page_cache_wants_the_expected_entry() {
    let m = mapping();
    let swap = swp_entry(3, 91);
    put_swap_entry(m, 5, swap);
    let p = page();
    p.set_flags(PageFlags::PG_swapbacked | PageFlags::PG_uptodate);
    assert_eq!(
        shmem_add_to_page_cache(p, m, 5, swp_entry(3, 92)),
        Err(Errno::EEXIST),
        "another entry there: someone else got it first"
    );
    assert_eq!(
        shmem_add_to_page_cache(p, m, 4, swap),
        Err(Errno::EEXIST),
        "a hole is not the entry either"
    );
    assert_eq!(p.page_count(), 1);
    shmem_add_to_page_cache(p, m, 5, swap).unwrap();
    assert_eq!(p.page_count(), 2, "the cache took a reference");
    assert_eq!((m.nrpages(), m.nrexceptional()), (1, 0));
    assert_eq!(p.mapping.load(Ordering::Relaxed), m.token());
    let found = find_get_page(m, 5).unwrap();
    assert!(core::ptr::eq(found, p));
    put_page(found);
    put_page(p);
    truncate_inode_pages(m, 0);
    assert_eq!(
        p.page_count(),
        0,
        "truncation dropped the cache's reference"
    );
}

#[test]
fn shmem_getpage_gfp_finds_the_page_and_reads_no_hole() {
    // (Allocation for a fault zeroes the page, which the host's simulated mem_map has
    // no bytes for: the scenarios cover it.)
    let m = mapping();
    assert!(matches!(shmem_getpage(m, 7, SgpType::SGP_READ), Ok(None)));
    assert_eq!(m.nrpages(), 0, "a read of a hole allocates nothing");
    let p = page();
    add_to_page_cache_lru(p, m, 7).unwrap();
    let again = shmem_getpage(m, 7, SgpType::SGP_WRITE).unwrap().unwrap();
    assert!(core::ptr::eq(p, again), "the cached page, with a reference");
    assert_eq!(p.page_count(), 2);
    put_page(again);
    truncate_inode_pages(m, 0);
}

#[test]
fn shmem_writepage_without_swap_redirties_and_keeps_the_page() {
    // No test turns swap on (see the file comment), so get_swap_page has nothing.
    let m = mapping();
    let p = page();
    p.set_flags(PageFlags::PG_swapbacked | PageFlags::PG_uptodate);
    add_to_page_cache_lru(p, m, 0).unwrap();
    get_page(p); // reclaim's isolation
    assert!(crate::mm::pagemap::trylock_page(p));
    let out = SHMEM_AOPS.writepage(p);
    assert_eq!(out, Some(Writepage::Activate));
    assert!(
        p.test(PageFlags::PG_dirty),
        "dirty again: memory is its only copy"
    );
    assert!(
        crate::mm::pagemap::page_locked(p),
        "AOP_WRITEPAGE_ACTIVATE keeps it locked"
    );
    crate::mm::pagemap::unlock_page(p);
    assert_eq!(
        (m.nrpages(), m.nrexceptional()),
        (1, 0),
        "still in its mapping"
    );
    put_page(p);
    truncate_inode_pages(m, 0);
}

#[test]
fn truncation_drops_swap_entries_past_the_new_size() {
    let m = mapping();
    let p = page();
    add_to_page_cache_lru(p, m, 0).unwrap();
    // Entries of no swap area: free_swap_and_cache warns and goes on, as Linux does
    // for a bad entry.
    put_swap_entry(m, 1, swp_entry(30, 5));
    put_swap_entry(m, 2, swp_entry(30, 6));
    truncate_inode_pages(m, 4096 + 1);
    assert_eq!(
        (m.nrpages(), m.nrexceptional()),
        (1, 1),
        "index 1 straddles the size"
    );
    truncate_inode_pages(m, 0);
    assert_eq!((m.nrpages(), m.nrexceptional()), (0, 0));
    assert!(find_get_entry(m, 1).is_none());
}

//! Host tests of `truncate.rs`: which cached pages `invalidate_mapping_pages` drops.
use super::*;
use crate::mm::filemap::add_to_page_cache_lru;
use crate::mm::page::get_page;
use core::sync::atomic::Ordering;

/// A fresh page of the shared host mem_map, owned by this test (refcount 1).
fn page() -> &'static Page {
    crate::mm::page::tests::host_mem_map(0x40000, 4096);
    let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
    if zone.managed_pages == 0 {
        zone.add_free_range(0x40000, 0x40000 + 256);
    }
    drop(zone);
    crate::mm::page_alloc::alloc_page(crate::mm::page_alloc::GfpFlags::GFP_KERNEL).unwrap()
}

#[test]
fn only_unused_clean_pages_go() {
    let mapping: &'static AddressSpace =
        alloc::boxed::Box::leak(alloc::boxed::Box::new(AddressSpace::new()));
    let pages: alloc::vec::Vec<&'static Page> = (0..40).map(|_| page()).collect();
    for (i, &p) in pages.iter().enumerate() {
        p.set_flags(PageFlags::PG_uptodate);
        add_to_page_cache_lru(p, mapping, i * 2).unwrap();
    }
    // Index 0: mapped by a PTE; 2: held by someone (a read in progress); 4: dirty;
    // 6: locked; 8: a tmpfs page (swap-backed). The other 35 are unused and clean.
    pages[0]._mapcount.store(0, Ordering::Relaxed);
    get_page(pages[1]);
    pages[2].set_flags(PageFlags::PG_dirty);
    pages[3].set_flags(PageFlags::PG_locked);
    pages[4].set_flags(PageFlags::PG_swapbacked);
    // More than one batch of 15, from an index between pages.
    assert_eq!(invalidate_mapping_pages(mapping, 1, usize::MAX), 35);
    assert_eq!(mapping.nrpages(), 5);
    for (i, p) in pages.iter().enumerate().skip(5) {
        assert_eq!(p.page_count(), 0, "page {i} freed");
        assert!(!p.test(PageFlags::PG_lru), "page {i} off its LRU list");
    }
    // An empty range and a reversed one drop nothing.
    assert_eq!(invalidate_mapping_pages(mapping, 100, 200), 0);
    assert_eq!(invalidate_mapping_pages(mapping, 9, 1), 0);
    // Index 0 is outside `1..`: still there even once unmapped.
    pages[0]._mapcount.store(-1, Ordering::Relaxed);
    assert_eq!(mapping.nrpages(), 5);
    // Released, they all go.
    crate::mm::page::put_page(pages[1]);
    pages[2].clear_flags(PageFlags::PG_dirty);
    pages[3].clear_flags(PageFlags::PG_locked);
    assert_eq!(invalidate_mapping_pages(mapping, 0, usize::MAX), 4);
    assert_eq!(mapping.nrpages(), 1, "the swap-backed page stays");
}

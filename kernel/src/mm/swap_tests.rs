//! Host tests of `swap.rs` and the LRU moves of `vmscan.rs`/`mlock.rs` on the node's lists.
use super::*;
use crate::mm::mmzone::{lru_sizes, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE};
use crate::mm::page::pfn_to_page;

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

/// Which list the page is on, judged by walking the lists (not by its flags).
fn list_of(p: &Page) -> Option<usize> {
    let l = lru_lock();
    (0..crate::mm::mmzone::NR_LRU_LISTS).find(|&i| {
        let mut cur = l.lists[i].head();
        while let Some(c) = cur {
            if core::ptr::eq(c, p) {
                return true;
            }
            let next = c.lru.next.load(core::sync::atomic::Ordering::Relaxed);
            cur = (next != usize::MAX).then(|| pfn_to_page(next));
        }
        false
    })
}

#[test]
fn file_page_goes_inactive_then_active_on_second_access() {
    let p = page();
    lru_cache_add(p);
    assert_eq!(list_of(p), Some(LRU_INACTIVE_FILE));
    assert!(p.test(PageFlags::PG_lru));
    mark_page_accessed(p);
    assert!(p.test(PageFlags::PG_referenced));
    assert_eq!(
        list_of(p),
        Some(LRU_INACTIVE_FILE),
        "one access only marks it"
    );
    mark_page_accessed(p);
    assert_eq!(list_of(p), Some(LRU_ACTIVE_FILE), "the second activates it");
    assert!(p.test(PageFlags::PG_active) && !p.test(PageFlags::PG_referenced));
    deactivate_page(p);
    assert_eq!(list_of(p), Some(LRU_INACTIVE_FILE));
    crate::mm::page::put_page(p); // freeing takes it off the list
    assert_eq!(list_of(p), None);
    assert!(!p.test(PageFlags::PG_lru));
}

#[test]
fn swap_backed_pages_go_to_the_anon_lists() {
    let p = page();
    p.set_flags(PageFlags::PG_swapbacked);
    lru_cache_add(p);
    assert_eq!(list_of(p), Some(LRU_INACTIVE_ANON));
    crate::mm::page::put_page(p);
    assert_eq!(list_of(p), None);
}

#[test]
fn mlock_moves_to_unevictable_and_munlock_rescues() {
    use crate::mm::mmzone::LRU_UNEVICTABLE;
    let p = page();
    p.set_flags(PageFlags::PG_swapbacked);
    lru_cache_add(p);
    crate::mm::mlock::mlock_vma_page(p);
    assert_eq!(list_of(p), Some(LRU_UNEVICTABLE));
    assert!(p.test(PageFlags::PG_unevictable) && p.test(PageFlags::PG_mlocked));
    crate::mm::mlock::munlock_vma_page(p);
    assert_eq!(
        list_of(p),
        Some(LRU_INACTIVE_ANON),
        "back on an evictable list"
    );
    assert!(!p.test(PageFlags::PG_unevictable) && !p.test(PageFlags::PG_mlocked));
    assert_eq!(p.page_count(), 1, "isolation gave its reference back");
    crate::mm::page::put_page(p);
}

#[test]
fn isolate_takes_the_page_off_and_putback_returns_it() {
    let p = page();
    lru_cache_add(p);
    crate::mm::vmscan::isolate_lru_page(p).unwrap();
    assert_eq!(list_of(p), None);
    assert_eq!(p.page_count(), 2);
    assert_eq!(
        crate::mm::vmscan::isolate_lru_page(p),
        Err(crate::errno::Errno::EBUSY),
        "an isolated page cannot be isolated again"
    );
    crate::mm::vmscan::putback_lru_page(p);
    assert_eq!(list_of(p), Some(LRU_INACTIVE_FILE));
    assert_eq!(p.page_count(), 1);
    crate::mm::page::put_page(p);
    let _ = lru_sizes();
}

#[test]
fn reclaim_takes_the_oldest_page_first() {
    let (a, b, c) = (page(), page(), page());
    let mut l = crate::mm::mmzone::LruListHead::new();
    l.add(a);
    l.add(b);
    l.add(c);
    assert!(
        core::ptr::eq(l.tail().unwrap(), a),
        "the first added is the oldest"
    );
    assert!(core::ptr::eq(l.head().unwrap(), c));
    l.del(a);
    assert!(core::ptr::eq(l.tail().unwrap(), b));
    l.add(a);
    assert!(core::ptr::eq(l.head().unwrap(), a), "put back at the head");
    assert!(core::ptr::eq(l.tail().unwrap(), b));
    for p in [a, b, c] {
        l.del(p);
        crate::mm::page::put_page(p);
    }
    assert!(l.is_empty());
}

/// A clean page of a fresh (leaked) page cache at `index`: the cache holds the page's one
/// reference, and it sits on the inactive file list.
fn cached_page(index: usize) -> (&'static crate::mm::filemap::AddressSpace, &'static Page) {
    let mapping: &'static crate::mm::filemap::AddressSpace = alloc::boxed::Box::leak(
        alloc::boxed::Box::new(crate::mm::filemap::AddressSpace::new()),
    );
    let p = page();
    p.set_flags(PageFlags::PG_uptodate);
    crate::mm::filemap::add_to_page_cache_lru(p, mapping, index).unwrap();
    (mapping, p)
}

#[test]
fn page_check_references_of_unmapped_pages() {
    use crate::mm::vmscan::{page_check_references, PageReferences};
    let (_m, p) = cached_page(0);
    assert_eq!(
        page_check_references(p),
        PageReferences::Reclaim,
        "never used"
    );
    mark_page_accessed(p);
    assert_eq!(
        page_check_references(p),
        PageReferences::ReclaimClean,
        "read once through read(2): may go if clean"
    );
    assert!(
        !p.test(PageFlags::PG_referenced),
        "the look used the mark up"
    );
    let q = page();
    q.set_flags(PageFlags::PG_swapbacked | PageFlags::PG_referenced);
    assert_eq!(
        page_check_references(q),
        PageReferences::Reclaim,
        "a swap-backed page gets no clean shortcut"
    );
    crate::mm::page::put_page(q);
}

#[test]
fn shrink_page_list_frees_clean_cache_pages_and_keeps_the_rest() {
    use crate::mm::vmscan::{isolate_lru_page, putback_lru_page, shrink_page_list, ScanControl};
    let (m1, free_me) = cached_page(3);
    let (m2, held) = cached_page(4);
    crate::mm::page::get_page(held); // somebody else holds it (a read in progress)
    let (m3, locked) = cached_page(5);
    locked.set_flags(PageFlags::PG_mlocked);
    let mut list = alloc::vec::Vec::new();
    for p in [free_me, held, locked] {
        isolate_lru_page(p).unwrap();
        list.push(p);
    }
    let mut sc = ScanControl::new(32, crate::mm::page_alloc::GfpFlags::GFP_KERNEL, 0);
    assert_eq!(shrink_page_list(&mut list, &mut sc, false), 1);
    assert_eq!(
        m1.nrpages(),
        0,
        "the clean page left its cache and was freed"
    );
    assert_eq!(free_me.page_count(), 0);
    assert_eq!(list.len(), 2, "the held and the mlocked page stay");
    assert_eq!((m2.nrpages(), m3.nrpages()), (1, 1));
    for p in list {
        putback_lru_page(p);
    }
    assert_eq!(list_of(held), Some(LRU_INACTIVE_FILE));
    assert_eq!(list_of(locked), Some(crate::mm::mmzone::LRU_UNEVICTABLE));
    locked.clear_flags(PageFlags::PG_mlocked);
    crate::mm::page::put_page(held);
}

//! Host tests of `rmap.rs`: the anon_vma chains and `i_mmap` kept through fork, split and
//! merge, and walks from a page that find every VMA mapping it.
use super::*;
use crate::mm::filemap::AddressSpace;
use crate::mm::mm_types::MmapLocked;
use crate::mm::vma::testing::*;
use crate::mm::vma::{
    find_vma, split_vma, validate_mm, vm_area_dup, vm_area_free, vma_link, vma_merge, vma_unlink,
    MappedFile, VmFlags,
};
use alloc::vec;
use alloc::vec::Vec;

/// Every (VMA start, address) an rmap walk from `page` visits, sorted.
fn walk(page: &Page) -> Vec<(usize, usize)> {
    fn one(_page: &Page, vma: &VmArea, address: usize, arg: *mut ()) -> bool {
        // SAFETY: `arg` is the Vec `walk` passes, alive for the walk.
        let seen = unsafe { &mut *(arg as *mut Vec<(usize, usize)>) };
        seen.push((vma.vm_start, address));
        true
    }
    let mut seen: Vec<(usize, usize)> = Vec::new();
    let rwc = RmapWalkControl {
        arg: &mut seen as *mut Vec<(usize, usize)> as *mut (),
        rmap_one: one,
        done: None,
        invalid_vma: None,
    };
    rmap_walk(page, &rwc);
    seen.sort();
    seen
}

/// A page mapped at `address` of the VMA covering it, as `page_add_new_anon_rmap` would
/// record it (without touching the global counters other tests read).
fn anon_page_at(mm: &MmapLocked, address: usize) -> Page {
    let page = Page::new();
    let vma = find_vma(mm, address).unwrap();
    let ptl = crate::sync::SpinLock::new(());
    anon_vma_prepare(vma, &ptl).unwrap();
    __page_set_anon_rmap(&page, vma, address, true);
    page._mapcount.store(0, Ordering::Relaxed);
    page
}

/// What `dup_mmap` does for each VMA: a copy with `anon_vma_fork`, linked into `child`.
fn fork_into(parent: &MmapLocked, child: &mut MmapLocked) {
    for v in parent.vmas() {
        let mut c = vm_area_dup(v);
        anon_vma_fork(&mut c, v).unwrap();
        vma_link(child, c).unwrap();
    }
}

#[test]
fn first_anonymous_page_gets_an_anon_vma_and_rmap_finds_its_vma() {
    let mut mm = MmapLocked::new();
    add_anon(&mut mm, 0, 10, RW);
    assert!(mm.vma(pg(0)).unwrap().anon_vma.is_none());
    let page = anon_page_at(&mm, pg(3));
    let vma = mm.vma(pg(0)).unwrap();
    let anon_vma = vma.anon_vma.as_ref().unwrap();
    assert!(PageAnon(&page));
    assert_eq!(page_anon_vma(&page), Some(Arc::as_ptr(anon_vma)));
    assert_eq!(page.index.load(Ordering::Relaxed), pg(3) >> PAGE_SHIFT);
    assert_eq!(vma.anon_vma_chain.lock().len(), 1);
    assert_eq!(anon_vma.nr_chains(), 1);
    validate_mm(&mm).unwrap();
    assert_eq!(walk(&page), vec![(pg(0), pg(3))]);
}

#[test]
fn an_unmapped_page_is_not_walked() {
    let mut mm = MmapLocked::new();
    add_anon(&mut mm, 0, 10, RW);
    let page = anon_page_at(&mm, pg(1));
    page._mapcount.store(-1, Ordering::Relaxed);
    assert_eq!(walk(&page), vec![]);
}

#[test]
fn anon_vma_prepare_shares_a_compatible_neighbours_anon_vma() {
    let mut mm = MmapLocked::new();
    add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO); // only VM_WRITE differs: compatible
    add_anon(&mut mm, 30, 40, RW); // not adjacent
    let _p = anon_page_at(&mm, pg(0));
    let _q = anon_page_at(&mm, pg(10));
    let _r = anon_page_at(&mm, pg(30));
    let id = |a: usize| mm.vma(pg(a)).unwrap().anon_vma.as_ref().unwrap().id;
    assert_eq!(id(0), id(10), "find_mergeable_anon_vma reused prev's");
    assert_ne!(id(0), id(30));
    validate_mm(&mm).unwrap();
}

#[test]
fn rmap_finds_every_vma_after_fork_split_and_merge() {
    let mut parent = MmapLocked::new();
    add_anon(&mut parent, 0, 10, RW);
    let page = anon_page_at(&parent, pg(3));
    let mut child = MmapLocked::new();
    fork_into(&parent, &mut child);
    page_dup_rmap(&page);
    validate_mm(&child).unwrap();
    {
        let c = child.vma(pg(0)).unwrap();
        assert_eq!(
            c.anon_vma_chain.lock().len(),
            2,
            "parent's anon_vma + its own"
        );
        let own = c.anon_vma.as_ref().unwrap();
        let theirs = parent.vma(pg(0)).unwrap().anon_vma.as_ref().unwrap();
        assert!(core::ptr::eq(own.parent.as_deref().unwrap(), &**theirs));
        assert!(core::ptr::eq(own.root(), &**theirs));
    }
    // Both address spaces map the page at the same address.
    let (pv, cv) = (pg(0), pg(0));
    assert_eq!(walk(&page), vec![(pv, pg(3)), (cv, pg(3))]);

    // The child splits below the page: its upper part, a new VMA, maps it now.
    split_vma(&mut child, pg(0), pg(2), false).unwrap();
    validate_mm(&child).unwrap();
    assert_eq!(walk(&page), vec![(pg(0), pg(3)), (pg(2), pg(3))]);
    // The parent splits above it, the new VMA below: the old one, re-keyed, keeps it.
    split_vma(&mut parent, pg(0), pg(5), true).unwrap();
    validate_mm(&parent).unwrap();
    assert_eq!(walk(&page), vec![(pg(0), pg(3)), (pg(2), pg(3))]);

    // The child merges its halves back (mprotect's vma_merge, case 7): one VMA again.
    let anon_vma = child.vma(pg(2)).unwrap().anon_vma.as_ref().cloned();
    let merged = vma_merge(
        &mut child,
        Some(pg(0)),
        pg(2),
        pg(10),
        RW,
        anon_vma.as_ref(),
        None,
        pg(2) >> PAGE_SHIFT,
    );
    assert_eq!(merged, Some(pg(0)));
    validate_mm(&child).unwrap();
    assert_eq!(child.map_count, 1);
    assert_eq!(walk(&page), vec![(pg(0), pg(3)), (pg(0), pg(3))]);

    // A page the child copies on write belongs to the child's own anon_vma only.
    let cow = anon_page_at(&child, pg(3));
    assert_eq!(walk(&cow), vec![(pg(0), pg(3))]);
    // A page the parent makes after the fork is looked for in the child too (the child's
    // VMA chains to the parent's anon_vma), where the PTE check will not find it.
    let later = anon_page_at(&parent, pg(7));
    assert_eq!(walk(&later), vec![(pg(0), pg(7)), (pg(5), pg(7))]);
}

#[test]
fn anon_vmas_go_when_their_last_vma_does() {
    let mut parent = MmapLocked::new();
    add_anon(&mut parent, 0, 10, RW);
    let _page = anon_page_at(&parent, pg(3));
    let mut child = MmapLocked::new();
    fork_into(&parent, &mut child);
    let root = Arc::downgrade(parent.vma(pg(0)).unwrap().anon_vma.as_ref().unwrap());
    let own = Arc::downgrade(child.vma(pg(0)).unwrap().anon_vma.as_ref().unwrap());
    assert_eq!(root.upgrade().unwrap().nr_chains(), 2);
    // The parent unmaps first: the root stays, the child's VMA still chains to it.
    vm_area_free(vma_unlink(&mut parent, pg(0)));
    assert_eq!(root.upgrade().unwrap().nr_chains(), 1);
    // The child's VMA goes (unlink_anon_vmas): both anon_vmas are freed.
    vm_area_free(vma_unlink(&mut child, pg(0)));
    assert!(own.upgrade().is_none());
    assert!(root.upgrade().is_none());
}

/// The `(pgoff, start page)` of every VMA in the file's `i_mmap`, in its order.
fn i_mmap_of(file: &Arc<dyn MappedFile>) -> Vec<(usize, usize)> {
    let m = file.f_mapping().unwrap();
    let i_mmap = m.i_mmap.lock();
    crate::mm::interval_tree::vma_interval_tree_iter(&i_mmap, 0, usize::MAX)
        .map(|v| (v.vm_pgoff, (v.vm_start - pg(0)) / crate::mm::PAGE_SIZE))
        .collect()
}

#[test]
fn i_mmap_follows_link_split_merge_and_unlink() {
    let file = TestFile::with_mapping("/f").arc();
    let shared = RW | VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
    let mut a = MmapLocked::new();
    let mut b = MmapLocked::new();
    add_file(&mut a, 0, 10, shared, &file, 0);
    add_file(&mut b, 20, 24, shared, &file, 8);
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (8, 20)]);
    // Split (new VMA above): the upper half joins at its own pgoff.
    split_vma(&mut a, pg(0), pg(4), false).unwrap();
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (4, 4), (8, 20)]);
    // Split with the new VMA below: the old one moves on to pgoff 2, re-filed.
    split_vma(&mut a, pg(0), pg(2), true).unwrap();
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (2, 2), (4, 4), (8, 20)]);
    validate_mm(&a).unwrap();
    // Case 5 (adjust_next > 0): [0,2) grows over the head of [2,4), which re-files at 3.
    let r = vma_merge(
        &mut a,
        Some(pg(0)),
        pg(2),
        pg(3),
        shared,
        None,
        Some(&file),
        2,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (3, 3), (4, 4), (8, 20)]);
    validate_mm(&a).unwrap();
    // Case 6: [0,3) swallows [3,4) and [4,10) (remove_next 2): both leave i_mmap.
    let r = vma_merge(
        &mut a,
        Some(pg(0)),
        pg(3),
        pg(4),
        shared,
        None,
        Some(&file),
        3,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (8, 20)]);
    assert_eq!(layout(&a), vec![(0, 10)]);

    // A page-cache page at file page 8 is mapped by a's VMA (at pg(8)) and b's (pg(20)).
    let page = Page::new();
    let mapping: &AddressSpace = file.f_mapping().unwrap();
    page.mapping
        .store(mapping as *const AddressSpace as usize, Ordering::Relaxed);
    page.index.store(8, Ordering::Relaxed);
    assert!(!PageAnon(&page));
    assert_eq!(walk(&page), vec![(pg(0), pg(8)), (pg(20), pg(20))]);
    page.index.store(1, Ordering::Relaxed);
    assert_eq!(walk(&page), vec![(pg(0), pg(1))]);

    // Unlinking and dropping a whole mm both leave i_mmap.
    vm_area_free(vma_unlink(&mut b, pg(20)));
    assert_eq!(i_mmap_of(&file), vec![(0, 0)]);
    drop(a);
    assert!(!mapping.mapping_mapped());
}

#[test]
fn a_fork_child_joins_the_files_i_mmap() {
    let file = TestFile::with_mapping("/g").arc();
    let mut parent = MmapLocked::new();
    add_file(&mut parent, 0, 4, RO, &file, 0);
    let mut child = MmapLocked::new();
    fork_into(&parent, &mut child);
    assert_eq!(i_mmap_of(&file), vec![(0, 0), (0, 0)]);
    assert!(
        child.vma(pg(0)).unwrap().anon_vma.is_none(),
        "no anon_vma to fork"
    );
    validate_mm(&child).unwrap();
    drop(child);
    assert_eq!(i_mmap_of(&file), vec![(0, 0)]);
}

/// One `vma_merge` case (or a split) on private file VMAs with a page cache, one of which
/// has an anonymous page one page into it: after the change the tree validates
/// (chains point at their VMAs, `i_mmap` holds each file VMA under its pgoff), `i_mmap`
/// holds exactly the tree's VMAs, and the page is found at the VMA now covering it.
struct MergeCase {
    name: &'static str,
    /// (first page, end page, flags) of each VMA; file page = address page.
    vmas: &'static [(usize, usize, VmFlags)],
    /// `Some((prev, addr, end, flags))` for a vma_merge, None for a split of the first
    /// VMA at page 4 (twice: new above, then new below at page 2).
    req: Option<(Option<usize>, usize, usize, VmFlags)>,
    /// (first page, end page) of each VMA afterwards.
    after: &'static [(usize, usize)],
    /// Which VMA holds the anonymous page (so has an anon_vma). Where that decides the
    /// case, as 5.10's `is_mergeable_anon_vma` does: a VMA without anon_vma (an empty,
    /// so not singular, chain) cannot take a range that brings one.
    page_in: usize,
}

const RX: VmFlags = RO.union(VmFlags::VM_EXEC);

const MERGE_CASES: &[MergeCase] = &[
    MergeCase {
        name: "case 1",
        vmas: &[(0, 10, RW), (20, 30, RW)],
        req: Some((Some(0), 10, 20, RW)),
        after: &[(0, 30)],
        page_in: 1,
    },
    MergeCase {
        name: "case 2",
        vmas: &[(0, 10, RW)],
        req: Some((Some(0), 10, 15, RW)),
        after: &[(0, 15)],
        page_in: 0,
    },
    MergeCase {
        name: "case 3",
        vmas: &[(20, 30, RW)],
        req: Some((None, 15, 20, RW)),
        after: &[(15, 30)],
        page_in: 0,
    },
    MergeCase {
        name: "case 4",
        vmas: &[(0, 10, RO), (10, 20, RW)],
        req: Some((Some(0), 5, 10, RW)),
        after: &[(0, 5), (5, 20)],
        page_in: 1,
    },
    MergeCase {
        name: "case 5",
        vmas: &[(0, 10, RW), (10, 20, RO)],
        req: Some((Some(0), 10, 15, RW)),
        after: &[(0, 15), (15, 20)],
        page_in: 0,
    },
    MergeCase {
        name: "case 6",
        vmas: &[(0, 10, RW), (10, 20, RO), (20, 30, RW)],
        req: Some((Some(0), 10, 20, RW)),
        after: &[(0, 30)],
        page_in: 2,
    },
    MergeCase {
        name: "case 7",
        vmas: &[(0, 10, RW), (10, 20, RO), (20, 30, RX)],
        req: Some((Some(0), 10, 20, RW)),
        after: &[(0, 20), (20, 30)],
        page_in: 2,
    },
    MergeCase {
        name: "case 8",
        vmas: &[(0, 10, RX), (10, 20, RO), (20, 30, RW)],
        req: Some((Some(0), 10, 20, RW)),
        after: &[(0, 10), (10, 30)],
        page_in: 2,
    },
    MergeCase {
        name: "split",
        vmas: &[(0, 10, RW)],
        req: None,
        after: &[(0, 2), (2, 4), (4, 10)],
        page_in: 0,
    },
];

#[test]
fn every_vma_merge_case_and_split_keeps_anon_vma_and_i_mmap_bookkeeping() {
    for case in MERGE_CASES {
        let file = TestFile::with_mapping(case.name).arc();
        let mut mm = MmapLocked::new();
        for &(a, b, flags) in case.vmas {
            add_file(&mut mm, a, b, flags, &file, a);
        }
        let address = pg(case.vmas[case.page_in].0 + 1);
        let page = anon_page_at(&mm, address);
        match case.req {
            Some((prev, addr, end, flags)) => {
                let anon_vma = find_vma(&mm, pg(addr))
                    .filter(|v| v.vm_start <= pg(addr))
                    .and_then(|v| v.anon_vma.as_ref().cloned());
                let r = vma_merge(
                    &mut mm,
                    prev.map(pg),
                    pg(addr),
                    pg(end),
                    flags,
                    anon_vma.as_ref(),
                    Some(&file),
                    addr,
                );
                assert!(r.is_some(), "{}: no merge", case.name);
            }
            None => {
                split_vma(&mut mm, pg(0), pg(4), false).unwrap();
                split_vma(&mut mm, pg(0), pg(2), true).unwrap();
            }
        }
        assert_eq!(layout(&mm), case.after, "{}", case.name);
        let in_tree: Vec<(usize, usize)> = mm
            .vmas()
            .map(|v| (v.vm_pgoff, (v.vm_start - pg(0)) / crate::mm::PAGE_SIZE))
            .collect();
        assert_eq!(i_mmap_of(&file), in_tree, "{}: i_mmap", case.name);
        let covering = find_vma(&mm, address).unwrap().vm_start;
        assert_eq!(
            walk(&page),
            vec![(covering, address)],
            "{}: rmap",
            case.name
        );
        drop(mm);
        assert!(!file.f_mapping().unwrap().mapping_mapped(), "{}", case.name);
    }
}

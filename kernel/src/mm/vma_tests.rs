//! Host tests of `vma.rs` (kept apart so `vma.rs` reads as the code it is).
use super::testing::*;
use super::*;
use alloc::vec;
use alloc::vec::Vec;

fn mm() -> MmapLocked {
    MmapLocked::new()
}

// ---- lookups ----

#[test]
fn find_vma_returns_containing_or_next_vma() {
    let mut mm = mm();
    add_anon(&mut mm, 10, 20, RW);
    add_anon(&mut mm, 30, 40, RO);
    assert_eq!(find_vma(&mm, pg(0)).unwrap().vm_start, pg(10));
    assert_eq!(find_vma(&mm, pg(10)).unwrap().vm_start, pg(10));
    assert_eq!(find_vma(&mm, pg(20) - 1).unwrap().vm_start, pg(10));
    assert_eq!(find_vma(&mm, pg(20)).unwrap().vm_start, pg(30));
    assert!(find_vma(&mm, pg(40)).is_none());
    assert!(find_vma(&mm, usize::MAX).is_none());
}

#[test]
fn find_vma_prev_gives_last_vma_when_nothing_above() {
    let mut mm = mm();
    add_anon(&mut mm, 10, 20, RW);
    add_anon(&mut mm, 30, 40, RO);
    let (v, p) = find_vma_prev(&mm, pg(25));
    assert_eq!((v.unwrap().vm_start, p.unwrap().vm_start), (pg(30), pg(10)));
    let (v, p) = find_vma_prev(&mm, pg(5));
    assert_eq!((v.unwrap().vm_start, p.map(|p| p.vm_start)), (pg(10), None));
    let (v, p) = find_vma_prev(&mm, pg(50));
    assert!(v.is_none());
    assert_eq!(p.unwrap().vm_start, pg(30));
}

#[test]
fn find_vma_intersection_requires_overlap() {
    let mut mm = mm();
    add_anon(&mut mm, 10, 20, RW);
    assert!(find_vma_intersection(&mm, pg(5), pg(10)).is_none());
    assert!(find_vma_intersection(&mm, pg(20), pg(25)).is_none());
    assert_eq!(
        find_vma_intersection(&mm, pg(5), pg(11)).unwrap().vm_start,
        pg(10)
    );
    assert_eq!(
        find_vma_intersection(&mm, pg(19), pg(25)).unwrap().vm_start,
        pg(10)
    );
}

#[test]
fn find_vma_links_refuses_overlap_and_returns_prev() {
    let mut mm = mm();
    add_anon(&mut mm, 10, 20, RW);
    assert_eq!(find_vma_links(&mm, pg(20), pg(30)), Ok(Some(pg(10))));
    assert_eq!(find_vma_links(&mm, pg(0), pg(10)), Ok(None));
    assert_eq!(find_vma_links(&mm, pg(15), pg(30)), Err(Errno::ENOMEM));
}

#[test]
fn vm_start_gap_reserves_stack_guard_gap_below_growsdown() {
    let v = VmArea::new(pg(1000), pg(1010), RW | VmFlags::VM_GROWSDOWN);
    assert_eq!(vm_start_gap(&v), pg(1000) - 256 * PAGE_SIZE);
    let low = VmArea::new(PAGE_SIZE, 2 * PAGE_SIZE, RW | VmFlags::VM_GROWSDOWN);
    assert_eq!(vm_start_gap(&low), 0, "underflow clamps to 0");
    let plain = VmArea::new(pg(1000), pg(1010), RW);
    assert_eq!(vm_start_gap(&plain), pg(1000));
    assert_eq!(vm_end_gap(&plain), pg(1010));
}

// ---- vma_merge: the eight cases ----

#[test]
fn vma_merge_case_1_fills_hole_between_prev_and_next() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 20, 30, RW);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 30)]);
    assert_eq!(mm.map_count, 1);
}

/// A second handle on the same open file, as two mmap(2) calls on one fd produce.
struct SecondHandle(Arc<dyn MappedFile>);
impl MappedFile for SecondHandle {
    fn ino(&self) -> u64 {
        self.0.ino()
    }
    fn dev(&self) -> (u32, u32) {
        self.0.dev()
    }
    fn path(&self) -> &str {
        self.0.path()
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn readable(&self) -> bool {
        true
    }
    fn writable(&self) -> bool {
        true
    }
    fn file_id(&self) -> usize {
        self.0.file_id()
    }
}

#[test]
fn vma_merge_sees_two_handles_on_one_file_as_the_same_file() {
    let mut mm = mm();
    let file = TestFile::new("/tmp/f").arc();
    let p = add_file(&mut mm, 0, 10, RW, &file, 0);
    let again: Arc<dyn MappedFile> = Arc::new(SecondHandle(file.clone()));
    let r = vma_merge(&mut mm, Some(p), pg(10), pg(20), RW, None, Some(&again), 10);
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 20)]);
    // A different open file of the same path does not merge.
    let other = TestFile::new("/tmp/f").arc();
    let r = vma_merge(
        &mut mm,
        Some(pg(0)),
        pg(20),
        pg(30),
        RW,
        None,
        Some(&other),
        20,
    );
    assert_eq!(r, None);
}

/// A `vm_ops` table with `open`/`close` that counts its calls (System V shm's are like it).
struct CountingOps {
    opens: core::sync::atomic::AtomicUsize,
    closes: core::sync::atomic::AtomicUsize,
}

impl VmOperationsStruct for CountingOps {
    fn name(&self) -> &'static str {
        "counting_vm_ops"
    }
    fn fault(
        &self,
        _vmf: &VmFault<'_>,
    ) -> Result<&'static crate::mm::page::Page, crate::mm::memory::FaultResult> {
        Err(crate::mm::memory::FaultResult::Sigbus)
    }
    fn open(&self, _vma: &VmArea) {
        self.opens
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    fn close(&self, _vma: &VmArea) {
        self.closes
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    fn has_close(&self) -> bool {
        true
    }
}

#[test]
fn vm_area_dup_opens_vm_area_free_closes_and_a_vma_with_close_never_merges() {
    use core::sync::atomic::Ordering::Relaxed;
    static OPS: CountingOps = CountingOps {
        opens: core::sync::atomic::AtomicUsize::new(0),
        closes: core::sync::atomic::AtomicUsize::new(0),
    };
    let mut mm = mm();
    let file = TestFile::new("/SYSV00000000 (deleted)").arc();
    let p = add_file(&mut mm, 0, 10, RW, &file, 0);
    mm.mm_rb.get_mut(&p).unwrap().vm_ops = Some(&OPS);
    // Linux's is_mergeable_vma: same file, same flags, but vm_ops->close: no merge.
    let r = vma_merge(&mut mm, Some(p), pg(10), pg(20), RW, None, Some(&file), 10);
    assert_eq!(r, None);
    let copy = vm_area_dup(&mm.mm_rb[&p]);
    assert_eq!(OPS.opens.load(Relaxed), 1);
    vm_area_free(copy);
    assert_eq!(OPS.closes.load(Relaxed), 1);
    // A split is a copy too: the new half is opened (Linux: __split_vma's open).
    __split_vma(&mut mm, p, pg(5), false).unwrap();
    assert_eq!(OPS.opens.load(Relaxed), 2);
    assert_eq!(layout(&mm), vec![(0, 5), (5, 10)]);
}

#[test]
fn vma_merge_case_2_extends_prev() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 20, 30, RO);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(15),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 15), (20, 30)]);
}

#[test]
fn vma_merge_case_3_extends_next_downwards() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RO);
    add_anon(&mut mm, 20, 30, RW);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(15),
        pg(20),
        RW,
        None,
        None,
        pg(15) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(15)));
    assert_eq!(layout(&mm), vec![(0, 10), (15, 30)]);
    assert_eq!(mm.vma(pg(15)).unwrap().vm_pgoff, pg(15) >> PAGE_SHIFT);
}

#[test]
fn vma_merge_case_3_without_prev() {
    let mut mm = mm();
    add_anon(&mut mm, 20, 30, RW);
    let r = vma_merge(
        &mut mm,
        None,
        pg(15),
        pg(20),
        RW,
        None,
        None,
        pg(15) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(15)));
    assert_eq!(layout(&mm), vec![(15, 30)]);
}

#[test]
fn vma_merge_case_4_shrinks_prev_and_extends_next() {
    // mprotect of the tail of prev [5, 10) to next's flags: next takes it over.
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RO);
    add_anon(&mut mm, 10, 20, RW);
    let pgoff = pg(5) >> PAGE_SHIFT;
    let r = vma_merge(&mut mm, Some(p), pg(5), pg(10), RW, None, None, pgoff);
    assert_eq!(r, Some(pg(5)));
    assert_eq!(layout(&mm), vec![(0, 5), (5, 20)]);
    assert_eq!(mm.vma(pg(5)).unwrap().vm_flags, RW);
    assert_eq!(mm.vma(pg(5)).unwrap().vm_pgoff, pgoff);
    assert_eq!(mm.vma(pg(0)).unwrap().vm_flags, RO);
}

#[test]
fn vma_merge_case_5_extends_prev_over_head_of_next() {
    // mprotect of the head [10, 15) of area [10, 20) to prev's flags.
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(15),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 15), (15, 20)]);
    let rest = mm.vma(pg(15)).unwrap();
    assert_eq!((rest.vm_flags, rest.vm_pgoff), (RO, pg(15) >> PAGE_SHIFT));
}

#[test]
fn vma_merge_case_6_prev_swallows_area_and_next() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO);
    add_anon(&mut mm, 20, 30, RW);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 30)]);
    assert_eq!(mm.map_count, 1);
}

#[test]
fn vma_merge_case_7_prev_swallows_area() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO);
    add_anon(&mut mm, 20, 30, RO | VmFlags::VM_EXEC);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 20), (20, 30)]);
}

#[test]
fn vma_merge_case_8_next_swallows_area() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RO | VmFlags::VM_EXEC);
    add_anon(&mut mm, 10, 20, RO);
    add_anon(&mut mm, 20, 30, RW);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(10)));
    assert_eq!(layout(&mm), vec![(0, 10), (10, 30)]);
    let v = mm.vma(pg(10)).unwrap();
    assert_eq!((v.vm_flags, v.vm_pgoff), (RW, pg(10) >> PAGE_SHIFT));
}

#[test]
fn vma_merge_cannot_merge_middle_of_vma() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 30, RO);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, None);
    assert_eq!(layout(&mm), vec![(0, 30)]);
}

#[test]
fn vma_merge_ignores_softdirty_but_not_other_flags() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW | VmFlags::VM_SOFTDIRTY);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(11),
        RW,
        None,
        None,
        pg(10) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(0)));
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(11),
        pg(12),
        RW | VmFlags::VM_LOCKED,
        None,
        None,
        pg(11) >> PAGE_SHIFT,
    );
    assert_eq!(r, None);
}

#[test]
fn vma_merge_never_merges_vm_special() {
    let mut mm = mm();
    let f = RW | VmFlags::VM_IO;
    let p = add_anon(&mut mm, 0, 10, f);
    assert_eq!(
        vma_merge(
            &mut mm,
            Some(p),
            pg(10),
            pg(11),
            f,
            None,
            None,
            pg(10) >> 12
        ),
        None
    );
}

#[test]
fn vma_merge_file_requires_same_file_and_contiguous_pgoff() {
    let mut mm = mm();
    let f = TestFile::new("/bin/a").arc();
    let g = TestFile::new("/bin/a").arc(); // another open of the same file
    let p = add_file(&mut mm, 0, 10, RO, &f, 100);
    assert_eq!(
        vma_merge(&mut mm, Some(p), pg(10), pg(12), RO, None, Some(&g), 110),
        None
    );
    assert_eq!(
        vma_merge(&mut mm, Some(p), pg(10), pg(12), RO, None, Some(&f), 111),
        None
    );
    assert_eq!(
        vma_merge(&mut mm, Some(p), pg(10), pg(12), RO, None, None, 110),
        None
    );
    assert_eq!(
        vma_merge(&mut mm, Some(p), pg(10), pg(12), RO, None, Some(&f), 110),
        Some(pg(0))
    );
    assert_eq!(layout(&mm), vec![(0, 12)]);
}

#[test]
fn vma_merge_anon_pgoff_must_be_contiguous() {
    // An anonymous VMA moved by mremap keeps its old pgoff: no merge.
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    mm.mm_rb.get_mut(&p).unwrap().vm_pgoff = 7;
    assert_eq!(
        vma_merge(
            &mut mm,
            Some(p),
            pg(10),
            pg(11),
            RW,
            None,
            None,
            pg(10) >> 12
        ),
        None
    );
}

#[test]
fn vma_merge_anon_vma_rules_follow_is_mergeable_anon_vma() {
    let a = AnonVma::new();
    let b = AnonVma::new();
    // prev has anon_vma A (singular chain): a new range without one may join it.
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    mm.mm_rb
        .get_mut(&p)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    assert_eq!(
        vma_merge(
            &mut mm,
            Some(p),
            pg(10),
            pg(11),
            RW,
            None,
            None,
            pg(10) >> 12
        ),
        Some(p)
    );
    // ... but not when prev came through fork (chain longer than one).
    let parent = AnonVma::new();
    crate::mm::rmap::anon_vma_chain_link_mut(mm.mm_rb.get_mut(&p).unwrap(), &parent).unwrap();
    assert_eq!(
        vma_merge(
            &mut mm,
            Some(p),
            pg(11),
            pg(12),
            RW,
            None,
            None,
            pg(11) >> 12
        ),
        None
    );
    // Different anon_vmas never merge; the same one does.
    let extra = mm.mm_rb.get_mut(&p).unwrap().anon_vma_chain.get_mut().pop();
    assert!(Arc::ptr_eq(&extra.unwrap().anon_vma, &parent));
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(11),
        pg(12),
        RW,
        Some(&b),
        None,
        pg(11) >> 12,
    );
    assert_eq!(r, None);
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(11),
        pg(12),
        RW,
        Some(&a),
        None,
        pg(11) >> 12,
    );
    assert_eq!(r, Some(p));
    // A range with an anon_vma cannot join a VMA without one (empty chain).
    let mut mm2 = MmapLocked::new();
    let q = add_anon(&mut mm2, 0, 10, RW);
    let r = vma_merge(
        &mut mm2,
        Some(q),
        pg(10),
        pg(11),
        RW,
        Some(&a),
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, None);
}

#[test]
fn vma_merge_case_1_requires_prev_and_next_anon_vma_compatible() {
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    let n = add_anon(&mut mm, 20, 30, RW);
    mm.mm_rb
        .get_mut(&p)
        .unwrap()
        .set_anon_vma(AnonVma::new())
        .unwrap();
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(AnonVma::new())
        .unwrap();
    // Falls back to case 2.
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 20), (20, 30)]);
}

#[test]
fn vma_merge_case_1_prev_without_anon_vma_imports_next_anon_vma() {
    let a = AnonVma::new();
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    let n = add_anon(&mut mm, 20, 30, RW);
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 30)]);
    assert!(Arc::ptr_eq(
        mm.vma(pg(0)).unwrap().anon_vma.as_ref().unwrap(),
        &a
    ));
}

#[test]
fn vma_merge_case_6_imports_anon_vma_from_next_when_area_has_none() {
    let a = AnonVma::new();
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO);
    let n = add_anon(&mut mm, 20, 30, RW);
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        None,
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, Some(pg(0)));
    assert_eq!(layout(&mm), vec![(0, 30)]);
    assert!(Arc::ptr_eq(
        mm.vma(pg(0)).unwrap().anon_vma.as_ref().unwrap(),
        &a
    ));
}

#[test]
fn vma_merge_case_8_refused_when_area_has_anon_vma_and_next_has_none() {
    // Linux 5.10's is_mergeable_anon_vma: next's anon_vma_chain is empty, so not
    // "singular", so the anon_vmas must be equal, and they are not.
    let a = AnonVma::new();
    let mut mm = mm();
    let p = add_anon(&mut mm, 0, 10, RO | VmFlags::VM_EXEC);
    let area = add_anon(&mut mm, 10, 20, RO);
    add_anon(&mut mm, 20, 30, RW);
    mm.mm_rb
        .get_mut(&area)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        Some(&a),
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, None);
    // With the same anon_vma on both sides it merges.
    mm.mm_rb
        .get_mut(&pg(20))
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let r = vma_merge(
        &mut mm,
        Some(p),
        pg(10),
        pg(20),
        RW,
        Some(&a),
        None,
        pg(10) >> 12,
    );
    assert_eq!(r, Some(pg(10)));
    assert_eq!(layout(&mm), vec![(0, 10), (10, 30)]);
}

// ---- __vma_adjust, case by case ----

/// The box of the VMA that covers `page`, to check which VMA survived an adjustment.
fn ident(mm: &MmapLocked, page: usize) -> *const VmArea {
    find_vma(mm, pg(page)).unwrap()
}

fn anon_of(mm: &MmapLocked, page: usize) -> Option<usize> {
    find_vma(mm, pg(page))
        .unwrap()
        .anon_vma
        .as_ref()
        .map(|a| a.id)
}

#[test]
fn vma_adjust_remove_next_1_swallows_next_and_imports_its_anon_vma() {
    // Cases 1 and 7: vma grows to next's end.
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    let n = add_anon(&mut mm, 10, 20, RW);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let me = ident(&mm, 0);
    assert_eq!(
        adjust(
            &mut mm,
            v,
            pg(0),
            pg(20),
            pg(0) >> PAGE_SHIFT,
            None,
            Some(v)
        ),
        v
    );
    assert_eq!(layout(&mm), vec![(0, 20)]);
    assert_eq!(ident(&mm, 15), me, "the survivor is the same VMA");
    assert_eq!(anon_of(&mm, 0), Some(a.id));
}

#[test]
fn vma_adjust_remove_next_2_swallows_two_and_takes_anon_vma_from_the_second() {
    // Case 6: vma swallows area and the VMA after it; area has no anon_vma.
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    add_anon(&mut mm, 10, 20, RO);
    let n = add_anon(&mut mm, 20, 30, RW);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    adjust(
        &mut mm,
        v,
        pg(0),
        pg(30),
        pg(0) >> PAGE_SHIFT,
        None,
        Some(v),
    );
    assert_eq!(layout(&mm), vec![(0, 30)]);
    assert_eq!(mm.map_count, 1);
    assert_eq!(anon_of(&mm, 29), Some(a.id));
}

#[test]
fn vma_adjust_remove_next_3_keeps_next_and_frees_vma() {
    // Case 8: with expand == next, next takes [start, end) and vma goes.
    let mut mm = mm();
    add_anon(&mut mm, 0, 10, RW);
    let area = add_anon(&mut mm, 10, 20, RO);
    let n = add_anon(&mut mm, 20, 30, RW);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&area)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let survivor = ident(&mm, 20);
    let k = adjust(
        &mut mm,
        area,
        pg(10),
        pg(30),
        (pg(20) >> PAGE_SHIFT) - 10,
        None,
        Some(n),
    );
    assert_eq!(k, pg(10));
    assert_eq!(layout(&mm), vec![(0, 10), (10, 30)]);
    assert_eq!(ident(&mm, 10), survivor, "next survived, re-keyed");
    assert_eq!(mm.vma(pg(10)).unwrap().vm_flags, RW);
    assert_eq!(
        anon_of(&mm, 10),
        Some(a.id),
        "next imported area's anon_vma"
    );
}

#[test]
fn vma_adjust_positive_adjust_next_moves_next_head_to_vma() {
    // Case 5: vma grows over the head of next, which keeps its tail and moves its pgoff.
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    let n = add_anon(&mut mm, 10, 20, RO);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&n)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let next_box = ident(&mm, 10);
    adjust(
        &mut mm,
        v,
        pg(0),
        pg(14),
        pg(0) >> PAGE_SHIFT,
        None,
        Some(v),
    );
    assert_eq!(layout(&mm), vec![(0, 14), (14, 20)]);
    assert_eq!(ident(&mm, 14), next_box);
    assert_eq!(mm.vma(pg(14)).unwrap().vm_pgoff, pg(14) >> PAGE_SHIFT);
    assert_eq!(anon_of(&mm, 0), Some(a.id), "vma imported next's anon_vma");
    assert_eq!(anon_of(&mm, 14), Some(a.id));
}

#[test]
fn vma_adjust_negative_adjust_next_gives_vma_tail_to_next() {
    // Case 4: vma shrinks, next grows down over what it gave up.
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    let n = add_anon(&mut mm, 10, 20, RO);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&v)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    adjust(&mut mm, v, pg(0), pg(6), pg(0) >> PAGE_SHIFT, None, Some(n));
    assert_eq!(layout(&mm), vec![(0, 6), (6, 20)]);
    assert_eq!(mm.vma(pg(6)).unwrap().vm_pgoff, pg(6) >> PAGE_SHIFT);
    assert_eq!(mm.vma(pg(6)).unwrap().vm_flags, RO);
    assert_eq!(anon_of(&mm, 6), Some(a.id), "next imported vma's anon_vma");
}

#[test]
fn vma_adjust_with_insert_is_a_split_sharing_the_anon_vma() {
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    let a = AnonVma::new();
    mm.mm_rb
        .get_mut(&v)
        .unwrap()
        .set_anon_vma(a.clone())
        .unwrap();
    let me = ident(&mm, 0);
    let mut upper = vm_area_dup(mm.vma(v).unwrap());
    crate::mm::rmap::anon_vma_clone(&mut upper, mm.vma(v).unwrap()).unwrap();
    upper.vm_start = pg(4);
    upper.vm_pgoff += 4;
    adjust(
        &mut mm,
        v,
        pg(0),
        pg(4),
        pg(0) >> PAGE_SHIFT,
        Some(upper),
        None,
    );
    assert_eq!(layout(&mm), vec![(0, 4), (4, 10)]);
    assert_eq!(ident(&mm, 0), me);
    assert_eq!(mm.vma(pg(4)).unwrap().vm_pgoff, pg(4) >> PAGE_SHIFT);
    assert_eq!((anon_of(&mm, 0), anon_of(&mm, 4)), (Some(a.id), Some(a.id)));
    assert_eq!(mm.map_count, 2);
}

// ---- the vm_next/vm_prev list ----

/// Walk the list from the first VMA, the way Linux code does `for (vma = mm->mmap; vma;
/// vma = vma->vm_next)`, checking each back link on the way.
fn walk_list(mm: &MmapLocked) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut prev: *mut VmArea = core::ptr::null_mut();
    let mut v = mm.mm_rb.mmap;
    while !v.is_null() {
        // SAFETY: the links point at boxed VMAs of `mm`, which we borrow.
        let area = unsafe { &*v };
        assert_eq!(area.vm_prev, prev, "vm_prev of {:#x}", area.vm_start);
        out.push((
            (area.vm_start - pg(0)) / PAGE_SIZE,
            (area.vm_end - pg(0)) / PAGE_SIZE,
        ));
        prev = v;
        v = area.vm_next;
    }
    out
}

#[test]
fn vm_next_list_follows_link_split_merge_and_unlink() {
    let mut mm = mm();
    let a = add_anon(&mut mm, 10, 20, RW);
    add_anon(&mut mm, 30, 40, RO);
    add_anon(&mut mm, 0, 5, RW); // linked in front of the old first VMA
    assert_eq!(walk_list(&mm), vec![(0, 5), (10, 20), (30, 40)]);
    // new_below re-keys the old VMA: its box, and so every pointer to it, stays.
    let before: *const VmArea = mm.vma(a).unwrap();
    split_vma(&mut mm, a, pg(15), true).unwrap();
    assert_eq!(mm.vma(pg(15)).unwrap() as *const VmArea, before);
    assert_eq!(walk_list(&mm), vec![(0, 5), (10, 15), (15, 20), (30, 40)]);
    // A merge where prev swallows the area frees the area and closes the list over it.
    add_anon(&mut mm, 20, 30, RW);
    assert_eq!(mm.map_count, 5);
    let r = vma_merge(
        &mut mm,
        Some(pg(15)),
        pg(20),
        pg(30),
        RW,
        None,
        None,
        pg(20) >> PAGE_SHIFT,
    );
    assert_eq!(r, Some(pg(15)));
    assert_eq!(walk_list(&mm), vec![(0, 5), (10, 15), (15, 30), (30, 40)]);
    let gone = vma_unlink(&mut mm, pg(0));
    assert!(gone.vm_next.is_null() && gone.vm_prev.is_null());
    assert_eq!(walk_list(&mm), vec![(10, 15), (15, 30), (30, 40)]);
    assert_eq!(walk_list(&mm), layout(&mm));
}

// ---- split_vma at each position ----

#[test]
fn split_vma_new_below_keeps_upper_part_as_original() {
    let mut mm = mm();
    let f = TestFile::new("/lib/x.so").arc();
    let v = add_file(&mut mm, 0, 10, RO, &f, 100);
    split_vma(&mut mm, v, pg(3), true).unwrap();
    assert_eq!(layout(&mm), vec![(0, 3), (3, 10)]);
    assert_eq!(mm.vma(pg(0)).unwrap().vm_pgoff, 100);
    assert_eq!(mm.vma(pg(3)).unwrap().vm_pgoff, 103);
    assert_eq!(mm.map_count, 2);
}

#[test]
fn split_vma_new_above_moves_pgoff_of_upper_part() {
    let mut mm = mm();
    let f = TestFile::new("/lib/x.so").arc();
    let v = add_file(&mut mm, 0, 10, RO, &f, 100);
    split_vma(&mut mm, v, pg(9), false).unwrap();
    assert_eq!(layout(&mm), vec![(0, 9), (9, 10)]);
    assert_eq!(mm.vma(pg(9)).unwrap().vm_pgoff, 109);
    assert!(same_file(mm.vma(pg(9)).unwrap().vm_file.as_ref(), Some(&f)));
}

#[test]
fn split_vma_at_first_and_last_page_boundaries() {
    for (at, below) in [
        (1, true),
        (1, false),
        (9, true),
        (9, false),
        (5, true),
        (5, false),
    ] {
        let mut mm = mm();
        let v = add_anon(&mut mm, 0, 10, RW);
        mm.mm_rb
            .get_mut(&v)
            .unwrap()
            .set_anon_vma(AnonVma::new())
            .unwrap();
        split_vma(&mut mm, v, pg(at), below).unwrap();
        assert_eq!(layout(&mm), vec![(0, at), (at, 10)]);
        let (lo, hi) = (mm.vma(pg(0)).unwrap(), mm.vma(pg(at)).unwrap());
        assert_eq!(lo.vm_pgoff + at, hi.vm_pgoff);
        assert!(Arc::ptr_eq(
            lo.anon_vma.as_ref().unwrap(),
            hi.anon_vma.as_ref().unwrap()
        ));
    }
}

#[test]
fn split_vma_fails_with_enomem_at_max_map_count() {
    let mut mm = mm();
    let v = add_anon(&mut mm, 0, 10, RW);
    mm.map_count = super::super::mmap::sysctl_max_map_count();
    assert_eq!(split_vma(&mut mm, v, pg(5), false), Err(Errno::ENOMEM));
    mm.map_count = 1;
    assert_eq!(layout(&mm), vec![(0, 10)]);
    // __split_vma does not check.
    mm.map_count = super::super::mmap::sysctl_max_map_count();
    assert_eq!(__split_vma(&mut mm, v, pg(5), false), Ok(()));
}

// ---- /proc/self/maps ----

#[test]
fn show_map_vma_anonymous_line_has_trailing_space_and_no_name() {
    let mut mm = mm();
    add_anon(&mut mm, 0, 2, RW);
    let s = show_map_vma(&mm, mm.vma(pg(0)).unwrap());
    assert_eq!(s, "10000000-10002000 rw-p 00000000 00:00 0 \n");
}

#[test]
fn show_map_vma_file_name_starts_at_column_73() {
    let mut mm = mm();
    let f = TestFile {
        ino: 173521,
        ..TestFile::new("/usr/bin/dbus-daemon")
    }
    .arc();
    let mut v = VmArea::new(0x40_0000, 0x45_2000, RO | VmFlags::VM_EXEC);
    v.vm_file = Some(f);
    v.vm_pgoff = 0;
    vma_link(&mut mm, v).unwrap();
    let s = show_map_vma(&mm, mm.vma(0x40_0000).unwrap());
    assert_eq!(
        s,
        "00400000-00452000 r-xp 00000000 08:02 173521                             /usr/bin/dbus-daemon\n"
    );
    assert_eq!(s.find('/'), Some(73));
}

#[test]
fn show_map_vma_48_bit_addresses_shared_file_offset() {
    let mut mm = mm();
    let f = TestFile {
        ino: 1048601,
        dev: (0xfd, 0x1),
        ..TestFile::new("/usr/lib/locale/C.utf8/LC_CTYPE")
    }
    .arc();
    let mut v = VmArea::new(
        0xffff_9a3c_0000,
        0xffff_9a3c_2000,
        RO | VmFlags::VM_MAYSHARE,
    );
    v.vm_file = Some(f);
    v.vm_pgoff = 3;
    vma_link(&mut mm, v).unwrap();
    let s = show_map_vma(&mm, mm.vma(0xffff_9a3c_0000).unwrap());
    assert_eq!(
        s,
        "ffff9a3c0000-ffff9a3c2000 r--s 00003000 fd:01 1048601                    /usr/lib/locale/C.utf8/LC_CTYPE\n"
    );
}

#[test]
fn show_map_vma_names_heap_and_stack() {
    let mut mm = mm();
    mm.start_brk = 0x4_2000;
    mm.brk = 0x6_3123;
    let heap = VmArea::new(0x4_2000, 0x6_4000, RW);
    let stack = VmArea::new(
        0xffff_ffde_0000,
        0xffff_ffff_f000,
        RW | VmFlags::VM_GROWSDOWN,
    );
    mm.start_stack = 0xffff_ffff_e9a0;
    assert_eq!(
        show_map_vma(&mm, &heap),
        "00042000-00064000 rw-p 00000000 00:00 0                                  [heap]\n"
    );
    assert_eq!(
        show_map_vma(&mm, &stack),
        "ffffffde0000-fffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
    );
}

#[test]
fn show_map_vma_long_prefix_gets_single_space_before_name() {
    let mut mm = mm();
    let f = TestFile {
        ino: u64::MAX,
        dev: (0x103, 0x1234),
        ..TestFile::new("/x\ny")
    }
    .arc();
    let mut v = VmArea::new(0xffff_ffff_0000, 0xffff_ffff_1000, RW);
    v.vm_file = Some(f);
    v.vm_pgoff = 0xf_ffff_ffff;
    vma_link(&mut mm, v).unwrap();
    let s = show_map_vma(&mm, mm.vma(0xffff_ffff_0000).unwrap());
    assert_eq!(
        s,
        "ffffffff0000-ffffffff1000 rw-p fffffffff000 103:1234 18446744073709551615  /x\\012y\n"
    );
}

/// `__vma_adjust` by keys, as the tests name VMAs: the VMAs are looked up first.
fn adjust(
    mm: &mut MmapLocked,
    vma: usize,
    start: usize,
    end: usize,
    pgoff: usize,
    insert: Option<VmArea>,
    expand: Option<usize>,
) -> usize {
    let v = mm.mm_rb.find(vma);
    assert!(!v.is_null());
    let e = expand.map_or(core::ptr::null_mut(), |k| mm.mm_rb.find(k));
    // SAFETY: both are VMAs of `mm`'s tree, which we hold mutably.
    let r = unsafe { __vma_adjust(mm, v, start, end, pgoff, insert.map(Box::new), e) };
    // SAFETY: the survivor is a VMA of the tree.
    unsafe { (*r).vm_start }
}

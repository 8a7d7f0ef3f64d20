//! Host tests of `madvise.rs` (kept apart so `madvise.rs` reads as the code it is).
use super::*;
use crate::mm::vma::testing::*;
use crate::mm::vma::{find_vma, MappedFile};
use alloc::sync::Arc;
use alloc::vec;

const P: usize = PAGE_SIZE;

fn madvise(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    start: usize,
    len: usize,
    advice: i32,
) -> KResult<()> {
    madvise_locked(mm, pt, start, len, advice)
}

#[test]
fn einval_rows_come_before_the_range_is_looked_at() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    for bad in [
        -1,
        5,
        24,
        MADV_MERGEABLE,
        MADV_HUGEPAGE,
        MADV_SOFT_OFFLINE,
        1000,
    ] {
        assert_eq!(madvise(&mut mm, &mut pt, pg(0), P, bad), Err(Errno::EINVAL));
    }
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0) + 1, P, MADV_DONTNEED),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), usize::MAX, MADV_DONTNEED),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        madvise(
            &mut mm,
            &mut pt,
            pg(1),
            usize::MAX & !(P - 1),
            MADV_DONTNEED
        ),
        Err(Errno::EINVAL)
    );
    // Nothing mapped, but an empty range is fine.
    assert_eq!(madvise(&mut mm, &mut pt, pg(0), 0, MADV_DONTNEED), Ok(()));
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), P, MADV_DONTNEED),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn dontneed_zaps_each_vma_piece_and_reports_holes_last() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 2, RW);
    add_anon(&mut mm, 3, 6, RO);
    let r = madvise(&mut mm, &mut pt, pg(1), 4 * P, MADV_DONTNEED);
    assert_eq!(r, Err(Errno::ENOMEM));
    assert_eq!(pt.unmaps(), vec![(pg(1), pg(2)), (pg(3), pg(5))]);
    assert_eq!(layout(&mm), vec![(0, 2), (3, 6)]);
}

#[test]
fn dontneed_on_a_locked_vma_is_einval_after_earlier_vmas_were_zapped() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 2, RW);
    add_anon(&mut mm, 2, 4, RO | VmFlags::VM_LOCKED);
    let r = madvise(&mut mm, &mut pt, pg(0), 4 * P, MADV_DONTNEED);
    assert_eq!(r, Err(Errno::EINVAL));
    assert_eq!(pt.unmaps(), vec![(pg(0), pg(2))]);
}

#[test]
fn free_needs_private_anonymous_memory() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    let file: Arc<dyn MappedFile> = TestFile::new("/f").arc();
    add_file(&mut mm, 0, 2, RW, &file, 0);
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_FREE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_DONTNEED),
        Ok(())
    );
}

#[test]
fn random_splits_the_middle_out_and_normal_merges_it_back() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 8, RW);
    madvise(&mut mm, &mut pt, pg(2), 3 * P, MADV_RANDOM).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2), (2, 5), (5, 8)]);
    assert_eq!(
        find_vma(&mm, pg(2)).unwrap().vm_flags,
        RW | VmFlags::VM_RAND_READ
    );
    madvise(&mut mm, &mut pt, pg(3), P, MADV_SEQUENTIAL).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2), (2, 3), (3, 4), (4, 5), (5, 8)]);
    madvise(&mut mm, &mut pt, pg(0), 8 * P, MADV_NORMAL).unwrap();
    assert_eq!(layout(&mm), vec![(0, 8)]);
}

#[test]
fn wipeonfork_only_on_private_anonymous_memory() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    let file: Arc<dyn MappedFile> = TestFile::new("/f").arc();
    add_anon(&mut mm, 0, 2, RW);
    add_file(&mut mm, 4, 6, RW, &file, 0);
    madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_WIPEONFORK).unwrap();
    assert!(find_vma(&mm, pg(0))
        .unwrap()
        .vm_flags
        .contains(VmFlags::VM_WIPEONFORK));
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(4), 2 * P, MADV_WIPEONFORK),
        Err(Errno::EINVAL)
    );
    madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_KEEPONFORK).unwrap();
    assert_eq!(find_vma(&mm, pg(0)).unwrap().vm_flags, RW);
}

#[test]
fn dontfork_and_dofork_toggle_vm_dontcopy() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 4, RW);
    madvise(&mut mm, &mut pt, pg(0), 4 * P, MADV_DONTFORK).unwrap();
    assert_eq!(
        find_vma(&mm, pg(0)).unwrap().vm_flags,
        RW | VmFlags::VM_DONTCOPY
    );
    madvise(&mut mm, &mut pt, pg(0), 4 * P, MADV_DOFORK).unwrap();
    assert_eq!(find_vma(&mm, pg(0)).unwrap().vm_flags, RW);
}

#[test]
fn populate_of_a_vma_without_the_access_is_einval() {
    let mut mm = MmapLocked::new();
    add_anon(&mut mm, 0, 2, VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE);
    add_anon(&mut mm, 4, 6, RO);
    let mm = MmStruct::for_test(mm);
    assert_eq!(
        do_madvise(&mm, pg(0), 2 * P, MADV_POPULATE_READ),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        do_madvise(&mm, pg(4), 2 * P, MADV_POPULATE_WRITE),
        Err(Errno::EINVAL)
    );
    // A hole first: ENOMEM, nothing faulted.
    assert_eq!(
        do_madvise(&mm, pg(2), 2 * P, MADV_POPULATE_READ),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn cold_pageout_and_remove_rows() {
    let mut mm = MmapLocked::new();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 2, RW);
    add_anon(&mut mm, 2, 4, RO | VmFlags::VM_LOCKED);
    assert_eq!(madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_COLD), Ok(()));
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(2), 2 * P, MADV_PAGEOUT),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_REMOVE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        madvise(&mut mm, &mut pt, pg(0), 2 * P, MADV_WILLNEED),
        Ok(())
    );
    assert!(pt.unmaps().is_empty());
}

//! Host tests of `mlock.rs` (kept apart so `mlock.rs` reads as the code it is).
use super::*;
use crate::kernel::resource::RLimit;
use crate::mm::vma::testing::*;
use alloc::vec;
use alloc::vec::Vec;

const P: usize = PAGE_SIZE;
const LOCKED: VmFlags = RW.union(VmFlags::VM_LOCKED);

fn setup() -> MmapLocked {
    MmapLocked::new()
}

fn flags_of(mm: &MmapLocked, page: usize) -> VmFlags {
    crate::mm::vma::find_vma(mm, pg(page)).unwrap().vm_flags
}

std::thread_local! {
    /// The ranges `munlock_vma_pages_range` was asked to munlock on this test's thread
    /// (host tests have no page tables to look at).
    pub static MUNLOCKED: core::cell::RefCell<Vec<(usize, usize)>> =
        const { core::cell::RefCell::new(Vec::new()) };
}

/// The ranges munlocked since the test began (each test runs on its own thread).
pub fn munlocks() -> Vec<(usize, usize)> {
    MUNLOCKED.with(|m| m.borrow().clone())
}

fn set_memlock(mm: &mut MmapLocked, pages: usize) {
    mm.rlim[RLIMIT_MEMLOCK] = RLimit {
        cur: (pages * P) as u64,
        max: (pages * P) as u64,
    };
}

#[test]
fn mlock_fixup_splits_the_middle_out_and_counts_locked_vm() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 8, RW);
    apply_vma_lock_flags(&mut mm, pg(2), 3 * P, VmFlags::VM_LOCKED).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2), (2, 5), (5, 8)]);
    assert_eq!(flags_of(&mm, 2), LOCKED);
    assert_eq!(flags_of(&mm, 0), RW);
    assert_eq!(flags_of(&mm, 5), RW);
    assert_eq!(mm.locked_vm, 3);
    assert!(munlocks().is_empty());
}

#[test]
fn munlock_of_the_same_range_merges_back_and_munlocks_its_pages() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 8, RW);
    apply_vma_lock_flags(&mut mm, pg(2), 3 * P, VmFlags::VM_LOCKED).unwrap();
    apply_vma_lock_flags(&mut mm, pg(2), 3 * P, VmFlags::empty()).unwrap();
    assert_eq!(layout(&mm), vec![(0, 8)]);
    assert_eq!(flags_of(&mm, 0), RW);
    assert_eq!(mm.locked_vm, 0);
    assert_eq!(munlocks(), vec![(pg(2), pg(5))]);
}

#[test]
fn mlock_across_two_vmas_locks_both_and_merges_them() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, RW);
    add_anon(&mut mm, 4, 8, RO);
    apply_vma_lock_flags(&mut mm, pg(2), 4 * P, VmFlags::VM_LOCKED).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2), (2, 4), (4, 6), (6, 8)]);
    assert_eq!(flags_of(&mm, 4), RO | VmFlags::VM_LOCKED);
    assert_eq!(mm.locked_vm, 4);
    // Locking the rest of the first VMA merges it with the locked part (case 5/8).
    apply_vma_lock_flags(&mut mm, pg(0), 2 * P, VmFlags::VM_LOCKED).unwrap();
    assert_eq!(layout(&mm), vec![(0, 4), (4, 6), (6, 8)]);
    assert_eq!(mm.locked_vm, 6);
}

#[test]
fn mlock_of_a_hole_returns_enomem_and_leaves_the_first_vma_locked() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, RW);
    add_anon(&mut mm, 5, 8, RW);
    let r = apply_vma_lock_flags(&mut mm, pg(2), 5 * P, VmFlags::VM_LOCKED);
    assert_eq!(r, Err(Errno::ENOMEM));
    assert_eq!(layout(&mm), vec![(0, 2), (2, 4), (5, 8)]);
    assert_eq!(flags_of(&mm, 2), LOCKED);
    assert_eq!(flags_of(&mm, 5), RW);
    assert_eq!(mm.locked_vm, 2);
    // Starting in the hole: nothing changes.
    let r = apply_vma_lock_flags(&mut mm, pg(4), 2 * P, VmFlags::VM_LOCKED);
    assert_eq!(r, Err(Errno::ENOMEM));
    assert_eq!(flags_of(&mm, 5), RW);
}

#[test]
fn apply_vma_lock_flags_refuses_a_wrapping_range_and_accepts_an_empty_one() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, RW);
    let wrap = usize::MAX & !(P - 1);
    let r = apply_vma_lock_flags(&mut mm, pg(1), wrap, VmFlags::VM_LOCKED);
    assert_eq!(r, Err(Errno::EINVAL));
    assert_eq!(
        apply_vma_lock_flags(&mut mm, pg(100), 0, VmFlags::VM_LOCKED),
        Ok(())
    );
    assert_eq!(mm.locked_vm, 0);
}

#[test]
fn special_vmas_never_get_vm_locked() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, RW | VmFlags::VM_IO);
    apply_vma_lock_flags(&mut mm, pg(0), 4 * P, VmFlags::VM_LOCKED).unwrap();
    assert!(!flags_of(&mm, 0).contains(VmFlags::VM_LOCKED));
    assert_eq!(mm.locked_vm, 0);
}

#[test]
fn onfault_then_plain_lock_changes_flags_without_counting_twice() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, RW);
    let onfault = VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT;
    apply_vma_lock_flags(&mut mm, pg(0), 4 * P, onfault).unwrap();
    assert_eq!(flags_of(&mm, 0), RW | onfault);
    assert_eq!(mm.locked_vm, 4);
    apply_vma_lock_flags(&mut mm, pg(0), 4 * P, VmFlags::VM_LOCKED).unwrap();
    assert_eq!(flags_of(&mm, 0), LOCKED);
    assert_eq!(mm.locked_vm, 4);
}

#[test]
fn count_mm_mlocked_page_nr_counts_only_locked_parts_of_the_range() {
    let mut mm = setup();
    add_anon(&mut mm, 0, 4, LOCKED);
    add_anon(&mut mm, 4, 6, RO);
    add_anon(&mut mm, 8, 12, RO | VmFlags::VM_LOCKED);
    assert_eq!(count_mm_mlocked_page_nr(&mm, pg(2), 8 * P), 2 + 2);
    assert_eq!(count_mm_mlocked_page_nr(&mm, pg(1), 2 * P), 2);
    assert_eq!(count_mm_mlocked_page_nr(&mm, pg(4), 2 * P), 0);
    assert_eq!(count_mm_mlocked_page_nr(&mm, pg(0), 12 * P), 8);
    assert_eq!(count_mm_mlocked_page_nr(&mm, pg(20), P), 0);
}

#[test]
fn do_mlock_checks_eperm_before_the_limit_and_the_range() {
    let mut mm = setup();
    set_memlock(&mut mm, 0);
    // Unmapped and over any limit, but EPERM comes first.
    let r = mlock_locked(&mut mm, pg(0), 4 * P, VmFlags::VM_LOCKED).map(|_| ());
    assert_eq!(r, Err(Errno::EPERM));
    mm.cap_ipc_lock = true;
    let r = mlock_locked(&mut mm, pg(0), 4 * P, VmFlags::VM_LOCKED).map(|_| ());
    assert_eq!(r, Err(Errno::ENOMEM)); // now the hole
}

#[test]
fn do_mlock_enforces_rlimit_memlock_but_not_for_already_locked_pages() {
    let mut mm = setup();
    set_memlock(&mut mm, 4);
    add_anon(&mut mm, 0, 8, RW);
    let r = mlock_locked(&mut mm, pg(0), 5 * P, VmFlags::VM_LOCKED).map(|_| ());
    assert_eq!(r, Err(Errno::ENOMEM));
    assert_eq!(layout(&mm), vec![(0, 8)]);
    // Lock 4 pages by hand (do_mlock would go on to populate real page tables).
    apply_vma_lock_flags(&mut mm, pg(0), 4 * P, VmFlags::VM_LOCKED).unwrap();
    assert_eq!(mm.locked_vm, 4);
    // One more page is over the limit; the unaligned start is rounded down first.
    let r = mlock_locked(&mut mm, pg(4) + 100, 1, VmFlags::VM_LOCKED).map(|_| ());
    assert_eq!(r, Err(Errno::ENOMEM));
    // Root (CAP_IPC_LOCK) is not limited: the range check comes next.
    mm.cap_ipc_lock = true;
    let r = mlock_locked(&mut mm, pg(7), 2 * P, VmFlags::VM_LOCKED).map(|_| ());
    assert_eq!(r, Err(Errno::ENOMEM));
    assert!(flags_of(&mm, 7).contains(VmFlags::VM_LOCKED));
}

#[test]
fn mlock_posix_error_return_maps_gup_errors() {
    assert_eq!(__mlock_posix_error_return(Errno::EFAULT), Errno::ENOMEM);
    assert_eq!(__mlock_posix_error_return(Errno::ENOMEM), Errno::EAGAIN);
    assert_eq!(__mlock_posix_error_return(Errno::EINTR), Errno::EINTR);
}

#[test]
fn mlockall_errors_in_linux_order() {
    let mut mm = setup();
    let mut pt = RecordingPageTables::new();
    set_memlock(&mut mm, 0);
    for bad in [0, 8, MCL_ONFAULT, u32::MAX] {
        assert_eq!(mlockall_locked(&mut mm, &mut pt, bad), Err(Errno::EINVAL));
    }
    assert_eq!(
        mlockall_locked(&mut mm, &mut pt, MCL_CURRENT),
        Err(Errno::EPERM)
    );
    set_memlock(&mut mm, 4);
    add_anon(&mut mm, 0, 8, RW);
    mm.total_vm = 8;
    assert_eq!(
        mlockall_locked(&mut mm, &mut pt, MCL_CURRENT),
        Err(Errno::ENOMEM)
    );
    // MCL_FUTURE alone does not look at total_vm.
    assert_eq!(mlockall_locked(&mut mm, &mut pt, MCL_FUTURE), Ok(()));
    assert_eq!(mm.def_flags, VmFlags::VM_LOCKED);
    assert_eq!(flags_of(&mm, 0), RW);
}

#[test]
fn mlockall_current_locks_every_vma_and_populates_the_address_space() {
    let mut mm = setup();
    let mut pt = RecordingPageTables::new();
    add_anon(&mut mm, 0, 4, RW);
    add_anon(&mut mm, 6, 8, RO);
    mm.cap_ipc_lock = true;
    mlockall_locked(&mut mm, &mut pt, MCL_CURRENT | MCL_ONFAULT).unwrap();
    let onfault = VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT;
    assert_eq!(flags_of(&mm, 0), RW | onfault);
    assert_eq!(flags_of(&mm, 6), RO | onfault);
    assert_eq!(mm.def_flags, VmFlags::empty());
    assert_eq!(mm.locked_vm, 6);
    assert!(pt.calls.contains(&PtCall::Populate {
        start: 0,
        len: mm.task_size
    }));
    // munlockall: everything unlocked and munlocked, def_flags cleared.
    mm.def_flags = VmFlags::VM_LOCKED;
    apply_mlockall_flags(&mut mm, 0);
    assert_eq!(flags_of(&mm, 0), RW);
    assert_eq!(flags_of(&mm, 6), RO);
    assert_eq!(mm.def_flags, VmFlags::empty());
    assert_eq!(mm.locked_vm, 0);
    assert_eq!(munlocks(), vec![(pg(0), pg(4)), (pg(6), pg(8))]);
}

#[test]
fn mlockall_future_onfault_sets_both_def_flags() {
    let mut mm = setup();
    let mut pt = RecordingPageTables::new();
    mm.cap_ipc_lock = true;
    mlockall_locked(&mut mm, &mut pt, MCL_FUTURE | MCL_ONFAULT).unwrap();
    assert_eq!(mm.def_flags, VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT);
    // A second call without MCL_FUTURE clears them.
    mlockall_locked(&mut mm, &mut pt, MCL_CURRENT).unwrap();
    assert_eq!(mm.def_flags, VmFlags::empty());
}

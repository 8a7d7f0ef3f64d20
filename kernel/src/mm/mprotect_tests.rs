//! Host tests of `mprotect.rs` (kept apart so `mprotect.rs` reads as the code it is).
/// The system call's body as the VMA tests drive it: no mm, a recording page table.
fn sys_mprotect(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
    prot: usize,
) -> KResult<()> {
    mprotect_locked(mm, pt, start, len, prot, -1)
}
use super::*;
use crate::kernel::resource::RLIMIT_DATA;
use crate::mm::mm_types::MmapLocked;
use crate::mm::mmap::{
    do_mmap, vm_get_page_prot, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_LOCKED, MAP_PRIVATE,
    MAP_SHARED, PROT_BTI, PROT_MTE,
};
use crate::mm::vma::testing::*;
use crate::mm::vma::{validate_mm, AnonVma, MappedFile};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

const P: usize = PAGE_SIZE;
const B: usize = 0x4000_0000;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
const RWP: usize = PROT_READ | PROT_WRITE;

fn setup() -> (MmapLocked, RecordingPageTables) {
    (MmapLocked::new(), RecordingPageTables::new())
}

fn map(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    page: usize,
    pages: usize,
    prot: usize,
    flags: usize,
) {
    let mut pop = 0;
    do_mmap(
        mm,
        pt,
        None,
        B + page * P,
        pages * P,
        prot,
        flags,
        0,
        &mut pop,
    )
    .unwrap();
}

fn fmap(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    f: &Arc<dyn MappedFile>,
    pages: usize,
    prot: usize,
) {
    let mut pop = 0;
    do_mmap(
        mm,
        pt,
        Some(f.clone()),
        B,
        pages * P,
        prot,
        MAP_SHARED | MAP_FIXED,
        0,
        &mut pop,
    )
    .unwrap();
}

fn mprotect(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    page: usize,
    pages: usize,
    prot: usize,
) -> KResult<()> {
    let r = sys_mprotect(mm, pt, B + page * P, pages * P, prot);
    validate_mm(mm).unwrap();
    r
}

/// (first page, last page + 1, prot letters) relative to B.
fn layout(mm: &MmapLocked) -> Vec<(usize, usize, &'static str)> {
    mm.vmas()
        .map(|v| {
            let f = v.vm_flags;
            let prot = match (
                f.contains(VmFlags::VM_READ),
                f.contains(VmFlags::VM_WRITE),
                f.contains(VmFlags::VM_EXEC),
            ) {
                (false, false, false) => "---",
                (true, false, false) => "r--",
                (true, true, false) => "rw-",
                (true, false, true) => "r-x",
                (true, true, true) => "rwx",
                (false, true, _) => "-w?",
                (false, false, true) => "--x",
            };
            ((v.vm_start - B) / P, (v.vm_end - B) / P, prot)
        })
        .collect()
}

// ---- argument checks, in Linux's order ----

#[test]
fn mprotect_growsdown_with_growsup_is_einval_before_alignment() {
    let (mut mm, mut pt) = setup();
    let r = sys_mprotect(
        &mut mm,
        &mut pt,
        B + 1,
        P,
        PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP,
    );
    assert_eq!(r, Err(Errno::EINVAL));
}

#[test]
fn mprotect_unaligned_start_is_einval_even_for_zero_len() {
    let (mut mm, mut pt) = setup();
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B + 1, 0, PROT_READ),
        Err(Errno::EINVAL)
    );
}

#[test]
fn mprotect_zero_len_succeeds_without_a_mapping() {
    let (mut mm, mut pt) = setup();
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, 0, PROT_READ | PROT_BTI),
        Ok(())
    );
}

#[test]
fn mprotect_wrapping_range_is_enomem_before_prot_check() {
    let (mut mm, mut pt) = setup();
    let start = usize::MAX & !(P - 1);
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, start, P, PROT_BTI),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, usize::MAX, PROT_READ),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn mprotect_prot_bits_arm64_lacks_are_einval_before_enomem() {
    let (mut mm, mut pt) = setup();
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, P, PROT_READ | PROT_BTI),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, P, PROT_MTE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, P, 0x40),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B, P, PROT_READ | PROT_SEM),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn pkey_mprotect_accepts_only_pkey_0_or_minus_1() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 1, RWP, ANON);
    assert_eq!(
        mprotect_locked(&mut mm, &mut pt, B, P, PROT_READ, 1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        mprotect_locked(&mut mm, &mut pt, B, P, PROT_READ, 0),
        Ok(())
    );
}

#[test]
fn mprotect_unmapped_start_is_enomem() {
    let (mut mm, mut pt) = setup();
    assert_eq!(
        mprotect(&mut mm, &mut pt, 0, 1, PROT_READ),
        Err(Errno::ENOMEM)
    );
    map(&mut mm, &mut pt, 2, 2, RWP, ANON);
    // start in the hole before the VMA, even though the range reaches it.
    assert_eq!(
        mprotect(&mut mm, &mut pt, 1, 2, PROT_READ),
        Err(Errno::ENOMEM)
    );
    assert_eq!(layout(&mm), vec![(2, 4, "rw-")]);
}

// ---- splits and merges ----

#[test]
fn mprotect_whole_vma_changes_flags_in_place() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    pt.calls.clear();
    mprotect(&mut mm, &mut pt, 0, 4, PROT_READ | PROT_EXEC).unwrap();
    assert_eq!(layout(&mm), vec![(0, 4, "r-x")]);
    let v = mm.vma(B).unwrap();
    assert_eq!(v.vm_page_prot, vm_get_page_prot(v.vm_flags));
    assert_eq!(
        pt.calls,
        vec![PtCall::ChangeProtection {
            start: B,
            end: B + 4 * P,
            newprot: v.vm_page_prot
        }]
    );
    assert_eq!((mm.total_vm, mm.data_vm, mm.exec_vm), (4, 0, 4));
}

#[test]
fn mprotect_same_protection_changes_nothing() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    pt.calls.clear();
    mprotect(&mut mm, &mut pt, 1, 2, RWP).unwrap();
    assert_eq!(layout(&mm), vec![(0, 4, "rw-")]);
    assert!(pt.calls.is_empty());
}

#[test]
fn mprotect_head_splits_vma() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    mprotect(&mut mm, &mut pt, 0, 1, PROT_READ).unwrap();
    assert_eq!(layout(&mm), vec![(0, 1, "r--"), (1, 4, "rw-")]);
    assert_eq!(pt.protections(), vec![(B, B + P)]);
    assert_eq!((mm.total_vm, mm.data_vm), (4, 3));
}

#[test]
fn mprotect_tail_splits_vma() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    mprotect(&mut mm, &mut pt, 3, 1, PROT_NONE_).unwrap();
    assert_eq!(layout(&mm), vec![(0, 3, "rw-"), (3, 4, "---")]);
    assert_eq!(
        mm.vma(B + 3 * P).unwrap().vm_pgoff,
        (B + 3 * P) >> PAGE_SHIFT
    );
}

const PROT_NONE_: usize = 0;

#[test]
fn mprotect_middle_splits_in_three() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 6, RWP, ANON);
    mprotect(&mut mm, &mut pt, 2, 2, PROT_READ).unwrap();
    assert_eq!(
        layout(&mm),
        vec![(0, 2, "rw-"), (2, 4, "r--"), (4, 6, "rw-")]
    );
    assert_eq!(mm.map_count, 3);
}

#[test]
fn mprotect_back_to_original_remerges_case_6() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 6, RWP, ANON);
    mprotect(&mut mm, &mut pt, 2, 2, PROT_READ).unwrap();
    mprotect(&mut mm, &mut pt, 2, 2, RWP).unwrap();
    assert_eq!(layout(&mm), vec![(0, 6, "rw-")]);
    assert_eq!(
        pt.protections(),
        vec![(B + 2 * P, B + 4 * P), (B + 2 * P, B + 4 * P)]
    );
    // VM_ACCOUNT stayed on the read-only middle, so no second charge.
    assert_eq!(pt.committed, 6);
}

#[test]
fn mprotect_tail_to_next_protection_is_merge_case_4() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON);
    map(&mut mm, &mut pt, 4, 4, PROT_READ | PROT_EXEC, ANON);
    mprotect(&mut mm, &mut pt, 2, 2, PROT_READ | PROT_EXEC).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2, "r--"), (2, 8, "r-x")]);
}

#[test]
fn mprotect_head_to_prev_protection_is_merge_case_5() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON);
    map(&mut mm, &mut pt, 4, 4, PROT_READ | PROT_EXEC, ANON);
    mprotect(&mut mm, &mut pt, 4, 1, PROT_READ).unwrap();
    assert_eq!(layout(&mm), vec![(0, 5, "r--"), (5, 8, "r-x")]);
    assert_eq!(
        mm.vma(B + 5 * P).unwrap().vm_pgoff,
        (B + 5 * P) >> PAGE_SHIFT
    );
}

#[test]
fn mprotect_whole_vma_to_prev_protection_is_merge_case_7() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 2, PROT_READ, ANON);
    map(&mut mm, &mut pt, 2, 2, PROT_READ | PROT_EXEC, ANON);
    map(&mut mm, &mut pt, 4, 2, PROT_NONE_, ANON);
    mprotect(&mut mm, &mut pt, 2, 2, PROT_READ).unwrap();
    assert_eq!(layout(&mm), vec![(0, 4, "r--"), (4, 6, "---")]);
}

#[test]
fn mprotect_whole_vma_to_next_protection_is_merge_case_8() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 2, PROT_NONE_, ANON);
    map(&mut mm, &mut pt, 2, 2, PROT_READ | PROT_EXEC, ANON);
    map(&mut mm, &mut pt, 4, 2, PROT_READ, ANON);
    mprotect(&mut mm, &mut pt, 2, 2, PROT_READ).unwrap();
    assert_eq!(layout(&mm), vec![(0, 2, "---"), (2, 6, "r--")]);
    let v = mm.vma(B + 2 * P).unwrap();
    assert_eq!(v.vm_pgoff, (B + 2 * P) >> PAGE_SHIFT);
    assert_eq!(v.vm_page_prot, vm_get_page_prot(v.vm_flags));
}

#[test]
fn mprotect_across_several_vmas_merges_them_all() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 2, PROT_READ, ANON);
    map(&mut mm, &mut pt, 2, 2, PROT_READ | PROT_EXEC, ANON);
    map(&mut mm, &mut pt, 4, 2, PROT_NONE_, ANON);
    mprotect(&mut mm, &mut pt, 1, 4, PROT_READ).unwrap();
    assert_eq!(layout(&mm), vec![(0, 5, "r--"), (5, 6, "---")]);
    // [1, 2) already was r--: mprotect_fixup skips it (newflags == oldflags).
    assert_eq!(
        pt.protections(),
        vec![(B + 2 * P, B + 4 * P), (B + 4 * P, B + 5 * P)]
    );
}

#[test]
fn mprotect_across_a_hole_changes_the_first_vma_then_fails_enomem() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 2, RWP, ANON);
    map(&mut mm, &mut pt, 3, 2, RWP, ANON);
    assert_eq!(
        mprotect(&mut mm, &mut pt, 0, 5, PROT_READ),
        Err(Errno::ENOMEM)
    );
    assert_eq!(layout(&mm), vec![(0, 2, "r--"), (3, 5, "rw-")]);
}

#[test]
fn mprotect_beyond_vm_may_bits_is_eacces() {
    let (mut mm, mut pt) = setup();
    let ro = TestFile {
        writable: false,
        ..TestFile::new("/etc/passwd")
    }
    .arc();
    fmap(&mut mm, &mut pt, &ro, 2, PROT_READ);
    assert_eq!(mprotect(&mut mm, &mut pt, 0, 2, RWP), Err(Errno::EACCES));
    assert_eq!(
        mprotect(&mut mm, &mut pt, 0, 1, PROT_READ | PROT_EXEC),
        Ok(())
    );
    assert_eq!(layout(&mm), vec![(0, 1, "r-x"), (1, 2, "r--")]);
}

#[test]
fn mprotect_write_of_a_shared_dev_zero_mapping_opened_read_only_is_eacces() {
    let (mut mm, mut pt) = setup();
    let zero = TestFile {
        writable: false,
        mmap_zero: true,
        ..TestFile::new("/dev/zero")
    }
    .arc();
    fmap(&mut mm, &mut pt, &zero, 2, PROT_READ);
    assert_eq!(mprotect(&mut mm, &mut pt, 0, 2, RWP), Err(Errno::EACCES));
    assert_eq!(
        mprotect(&mut mm, &mut pt, 0, 2, PROT_WRITE),
        Err(Errno::EACCES)
    );
    assert_eq!(layout(&mm), vec![(0, 2, "r--")]);
    assert!(pt.calls.iter().all(|c| !matches!(c, PtCall::Charge(_))));
}

#[test]
fn mprotect_eacces_on_second_vma_leaves_first_changed() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 2, RWP, ANON);
    let ro = TestFile {
        writable: false,
        ..TestFile::new("/ro")
    }
    .arc();
    let mut pop = 0;
    do_mmap(
        &mut mm,
        &mut pt,
        Some(ro),
        B + 2 * P,
        2 * P,
        PROT_READ,
        MAP_SHARED | MAP_FIXED,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(
        mprotect(&mut mm, &mut pt, 0, 4, PROT_WRITE | PROT_READ | PROT_EXEC),
        Err(Errno::EACCES)
    );
    assert_eq!(layout(&mm), vec![(0, 2, "rwx"), (2, 4, "r--")]);
}

#[test]
fn mprotect_private_readonly_to_writable_charges_commit() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON);
    assert_eq!(pt.committed, 0);
    mprotect(&mut mm, &mut pt, 0, 4, RWP).unwrap();
    assert_eq!(pt.committed, 4);
    assert!(mm.vma(B).unwrap().vm_flags.contains(VmFlags::VM_ACCOUNT));
    assert_eq!(mm.data_vm, 4);
    // Shared mappings are never charged.
    let f = TestFile::new("/f").arc();
    let mut pop = 0;
    do_mmap(
        &mut mm,
        &mut pt,
        Some(f),
        B + 8 * P,
        P,
        PROT_READ,
        MAP_SHARED | MAP_FIXED,
        0,
        &mut pop,
    )
    .unwrap();
    mprotect(&mut mm, &mut pt, 8, 1, RWP).unwrap();
    assert_eq!(pt.committed, 4);
}

#[test]
fn mprotect_refused_charge_is_enomem_and_changes_nothing() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON);
    pt.commit_limit = Some(1);
    assert_eq!(mprotect(&mut mm, &mut pt, 1, 2, RWP), Err(Errno::ENOMEM));
    assert_eq!(layout(&mm), vec![(0, 4, "r--")]);
}

#[test]
fn mprotect_rlimit_data_limits_turning_memory_into_data() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON);
    mm.rlim[RLIMIT_DATA].cur = 2 * P as u64;
    assert_eq!(mprotect(&mut mm, &mut pt, 0, 3, RWP), Err(Errno::ENOMEM));
    assert_eq!(mprotect(&mut mm, &mut pt, 0, 2, RWP), Ok(()));
}

#[test]
fn mprotect_split_at_max_map_count_is_enomem() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    let real = mm.map_count;
    mm.map_count = crate::mm::mmap::DEFAULT_MAX_MAP_COUNT;
    assert_eq!(
        sys_mprotect(&mut mm, &mut pt, B + P, P, PROT_READ),
        Err(Errno::ENOMEM)
    );
    // A whole-VMA change needs no split.
    assert_eq!(sys_mprotect(&mut mm, &mut pt, B, 4 * P, PROT_READ), Ok(()));
    mm.map_count = real;
    assert_eq!(layout(&mm), vec![(0, 4, "r--")]);
}

#[test]
fn mprotect_locked_private_vma_becoming_writable_is_populated() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, PROT_READ, ANON | MAP_LOCKED);
    pt.calls.clear();
    mprotect(&mut mm, &mut pt, 1, 2, RWP).unwrap();
    assert!(pt.calls.contains(&PtCall::Populate {
        start: B + P,
        len: 2 * P
    }));
}

#[test]
fn mprotect_growsdown_extends_to_vma_start() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 8, RWP, ANON | MAP_GROWSDOWN);
    mprotect(
        &mut mm,
        &mut pt,
        4,
        2,
        PROT_READ | PROT_EXEC | PROT_GROWSDOWN,
    )
    .unwrap();
    assert_eq!(layout(&mm), vec![(0, 6, "r-x"), (6, 8, "rw-")]);
    // Not a growsdown VMA: EINVAL; a start below the VMA's range: ENOMEM.
    map(&mut mm, &mut pt, 20, 2, RWP, ANON);
    assert_eq!(
        mprotect(&mut mm, &mut pt, 21, 1, PROT_READ | PROT_GROWSDOWN),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        mprotect(&mut mm, &mut pt, 12, 2, PROT_READ | PROT_GROWSDOWN),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        mprotect(&mut mm, &mut pt, 20, 1, PROT_READ | PROT_GROWSUP),
        Err(Errno::EINVAL)
    );
}

#[test]
fn mprotect_keeps_anon_vma_and_pgoff_across_split() {
    let (mut mm, mut pt) = setup();
    map(&mut mm, &mut pt, 0, 4, RWP, ANON);
    mm.mm_rb
        .get_mut(&B)
        .unwrap()
        .set_anon_vma(AnonVma::new())
        .unwrap();
    mprotect(&mut mm, &mut pt, 1, 1, PROT_READ).unwrap();
    let vs: Vec<_> = mm.vmas().collect();
    assert_eq!(vs.len(), 3);
    for v in &vs {
        assert_eq!(v.vm_pgoff, v.vm_start >> PAGE_SHIFT);
        assert!(Arc::ptr_eq(
            vs[0].anon_vma.as_ref().unwrap(),
            v.anon_vma.as_ref().unwrap()
        ));
    }
}

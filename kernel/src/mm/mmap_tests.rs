//! Host tests of `mmap.rs` (kept apart so `mmap.rs` reads as the code it is).
/// brk(2) as the VMA tests drive it: the write-locked body, then the unmap and the
/// populate request its caller would run.
fn sys_brk(mm: &mut MmapLocked, pt: &mut dyn VmaPageTables, brk: usize) -> usize {
    let r = brk_locked(mm, pt, brk);
    if let Some(detached) = r.detached {
        detached.unmap(mm, pt);
    }
    if let Some((start, len)) = r.populate {
        pt.mm_populate(mm, start, len);
    }
    r.brk
}

/// munmap(2) as the VMA tests drive it.
fn vm_munmap(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
) -> KResult<()> {
    do_munmap(mm, pt, start, len)
}

use super::*;
use crate::mm::mm_types::{STACK_GUARD_GAP, TASK_SIZE};
use crate::mm::vma::testing::*;
use crate::mm::vma::{validate_mm, vma_link, AnonVma};
use alloc::vec;

const P: usize = PAGE_SIZE;

fn setup() -> (MmapLocked, RecordingPageTables) {
    (MmapLocked::new(), RecordingPageTables::new())
}

/// mmap with do_mmap, returning the address (and checking the tree afterwards).
fn mmap(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
) -> KResult<usize> {
    let mut populate = 0;
    let r = do_mmap(mm, pt, None, addr, len, prot, flags, 0, &mut populate);
    validate_mm(mm).unwrap();
    r
}

#[allow(clippy::too_many_arguments)]
fn fmmap(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    file: &Arc<dyn MappedFile>,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    pgoff: usize,
) -> KResult<usize> {
    let mut populate = 0;
    let r = do_mmap(
        mm,
        pt,
        Some(file.clone()),
        addr,
        len,
        prot,
        flags,
        pgoff,
        &mut populate,
    );
    validate_mm(mm).unwrap();
    r
}

const RW_PROT: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;

fn ranges(mm: &MmapLocked) -> Vec<(usize, usize)> {
    validate_mm(mm).unwrap();
    mm.vmas().map(|v| (v.vm_start, v.vm_end)).collect()
}

// ---- calc_vm_*_bits ----

#[test]
fn calc_vm_prot_bits_and_flag_bits_translate_linux_bits() {
    assert_eq!(calc_vm_prot_bits(PROT_NONE, 0), VmFlags::empty());
    assert_eq!(
        calc_vm_prot_bits(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_BTI, 0),
        VmFlags::VM_READ | VmFlags::VM_WRITE | VmFlags::VM_EXEC
    );
    assert_eq!(
        calc_vm_flag_bits(MAP_GROWSDOWN | MAP_DENYWRITE | MAP_LOCKED | MAP_SYNC | MAP_POPULATE),
        VmFlags::VM_GROWSDOWN | VmFlags::VM_DENYWRITE | VmFlags::VM_LOCKED | VmFlags::VM_SYNC
    );
    assert_eq!(LEGACY_MAP_MASK & (MAP_FIXED_NOREPLACE | MAP_SYNC), 0);
}

// ---- get_unmapped_area ----

#[test]
fn get_unmapped_area_topdown_first_mapping_sits_just_below_mmap_base() {
    let (mm, _) = setup();
    let a = get_unmapped_area(&mm, None, 0, 3 * P, 0, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - 3 * P);
}

#[test]
fn get_unmapped_area_topdown_next_mapping_goes_below_previous() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0, 4 * P, PROT_READ, ANON).unwrap();
    let b = mmap(&mut mm, &mut pt, 0, 2 * P, PROT_READ | PROT_EXEC, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - 4 * P);
    assert_eq!(b, a - 2 * P);
}

#[test]
fn get_unmapped_area_topdown_takes_highest_hole_that_fits() {
    let (mut mm, _) = setup();
    let base = mm.mmap_base;
    vma_link(&mut mm, VmArea::new(base - 10 * P, base, RW)).unwrap();
    vma_link(&mut mm, VmArea::new(base - 30 * P, base - 20 * P, RW)).unwrap();
    // [base-20, base-10) is a 10-page hole.
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 10 * P, 0, ANON),
        Ok(base - 20 * P)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 4 * P, 0, ANON),
        Ok(base - 14 * P)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 11 * P, 0, ANON),
        Ok(base - 41 * P)
    );
}

#[test]
fn get_unmapped_area_topdown_ignores_vmas_above_mmap_base() {
    let (mut mm, _) = setup();
    let base = mm.mmap_base;
    // The stack lives above mmap_base.
    vma_link(
        &mut mm,
        VmArea::new(
            TASK_SIZE - 33 * P,
            TASK_SIZE - P,
            RW | VmFlags::VM_GROWSDOWN,
        ),
    )
    .unwrap();
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
        Ok(base - 2 * P)
    );
}

#[test]
fn get_unmapped_area_honours_free_hint() {
    let (mut mm, _) = setup();
    vma_link(&mut mm, VmArea::new(0x5000_0000, 0x5001_0000, RW)).unwrap();
    assert_eq!(
        get_unmapped_area(&mm, None, 0x4000_0000, 4 * P, 0, ANON),
        Ok(0x4000_0000)
    );
    // Right after an existing VMA is free too.
    assert_eq!(
        get_unmapped_area(&mm, None, 0x5001_0000, P, 0, ANON),
        Ok(0x5001_0000)
    );
    // Ending exactly where the VMA starts is fine.
    assert_eq!(
        get_unmapped_area(&mm, None, 0x5000_0000 - 4 * P, 4 * P, 0, ANON),
        Ok(0x4fff_c000)
    );
}

#[test]
fn get_unmapped_area_rounds_hint_up_to_page() {
    let (mm, _) = setup();
    assert_eq!(
        get_unmapped_area(&mm, None, 0x4000_0123, P, 0, ANON),
        Ok(0x4000_1000)
    );
}

#[test]
fn get_unmapped_area_ignores_hint_overlapping_a_vma() {
    let (mut mm, _) = setup();
    vma_link(&mut mm, VmArea::new(0x5000_0000, 0x5001_0000, RW)).unwrap();
    let a = get_unmapped_area(&mm, None, 0x4fff_f000, 2 * P, 0, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - 2 * P);
    let a = get_unmapped_area(&mm, None, 0x5000_8000, P, 0, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - P);
}

#[test]
fn get_unmapped_area_hint_must_keep_stack_guard_gap() {
    let (mut mm, _) = setup();
    let stack = 0x7000_0000;
    vma_link(
        &mut mm,
        VmArea::new(stack, stack + 16 * P, RW | VmFlags::VM_GROWSDOWN),
    )
    .unwrap();
    // Inside the 256-page guard gap below the stack: not honoured.
    let hint = stack - STACK_GUARD_GAP;
    let a = get_unmapped_area(&mm, None, hint + P, P, 0, ANON).unwrap();
    assert_ne!(a, hint + P);
    // Ending exactly at the guard gap: honoured.
    assert_eq!(
        get_unmapped_area(&mm, None, hint - P, P, 0, ANON),
        Ok(hint - P)
    );
}

#[test]
fn get_unmapped_area_search_keeps_stack_guard_gap() {
    let (mut mm, _) = setup();
    let base = mm.mmap_base;
    // A growsdown VMA right below mmap_base: the search must stay out of its gap.
    vma_link(
        &mut mm,
        VmArea::new(base - 4 * P, base, RW | VmFlags::VM_GROWSDOWN),
    )
    .unwrap();
    let a = get_unmapped_area(&mm, None, 0, P, 0, ANON).unwrap();
    assert_eq!(a, base - 4 * P - STACK_GUARD_GAP - P);
}

#[test]
fn get_unmapped_area_hint_above_task_size_falls_back_to_search() {
    let (mm, _) = setup();
    let a = get_unmapped_area(&mm, None, TASK_SIZE - P, 2 * P, 0, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - 2 * P);
}

#[test]
fn get_unmapped_area_topdown_falls_back_to_bottom_up_when_full() {
    let (mut mm, _) = setup();
    mm.mmap_base = 0x10_0000; // only 1 MiB below the base
    let a = get_unmapped_area(&mm, None, 0, 2 << 20, 0, ANON).unwrap();
    assert_eq!(a, TASK_UNMAPPED_BASE);
    // A small one still fits top-down.
    assert_eq!(
        get_unmapped_area(&mm, None, 0, P, 0, ANON),
        Ok(0x10_0000 - P)
    );
}

#[test]
fn get_unmapped_area_enomem_when_nothing_fits() {
    let (mut mm, _) = setup();
    assert_eq!(
        get_unmapped_area(&mm, None, 0, TASK_SIZE + P, 0, ANON),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, 0, TASK_SIZE, 0, ANON),
        Err(Errno::ENOMEM)
    );
    mm.mmap_base = 0x10_0000;
    vma_link(&mut mm, VmArea::new(TASK_UNMAPPED_BASE, TASK_SIZE - P, RW)).unwrap();
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 2 << 20, 0, ANON),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn get_unmapped_area_map_fixed_checks_task_size_then_alignment_then_min_addr() {
    let (mut mm, _) = setup();
    let f = MAP_FIXED | ANON;
    assert_eq!(
        get_unmapped_area(&mm, None, 0x4000_0000, P, 0, f),
        Ok(0x4000_0000)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, 0x4000_0001, P, 0, f),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, TASK_SIZE - P, 2 * P, 0, f),
        Err(Errno::ENOMEM)
    );
    // Both unaligned and too high: ENOMEM is checked first.
    assert_eq!(
        get_unmapped_area(&mm, None, TASK_SIZE - P + 1, 2 * P, 0, f),
        Err(Errno::ENOMEM)
    );
    // Below mmap_min_addr: EPERM unless CAP_SYS_RAWIO.
    assert_eq!(get_unmapped_area(&mm, None, 0, P, 0, f), Err(Errno::EPERM));
    mm.cap_sys_rawio = true;
    assert_eq!(get_unmapped_area(&mm, None, 0, P, 0, f), Ok(0));
    // MAP_FIXED does not care about existing VMAs.
    vma_link(&mut mm, VmArea::new(0x4000_0000, 0x4001_0000, RW)).unwrap();
    assert_eq!(
        get_unmapped_area(&mm, None, 0x4000_0000, P, 0, f),
        Ok(0x4000_0000)
    );
}

#[test]
fn get_unmapped_area_legacy_layout_searches_bottom_up_from_mmap_base() {
    let (mut mm, _) = setup();
    mm.mmap_layout = MmapLayout::Legacy;
    mm.mmap_base = TASK_UNMAPPED_BASE;
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
        Ok(TASK_UNMAPPED_BASE)
    );
    vma_link(
        &mut mm,
        VmArea::new(TASK_UNMAPPED_BASE, TASK_UNMAPPED_BASE + 2 * P, RW),
    )
    .unwrap();
    vma_link(
        &mut mm,
        VmArea::new(TASK_UNMAPPED_BASE + 3 * P, TASK_UNMAPPED_BASE + 4 * P, RW),
    )
    .unwrap();
    assert_eq!(
        get_unmapped_area(&mm, None, 0, P, 0, ANON),
        Ok(TASK_UNMAPPED_BASE + 2 * P)
    );
    assert_eq!(
        get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
        Ok(TASK_UNMAPPED_BASE + 4 * P)
    );
}

#[test]
fn vm_unmapped_area_honours_alignment() {
    let (mut mm, _) = setup();
    let base = mm.mmap_base;
    vma_link(&mut mm, VmArea::new(base - P, base, RW)).unwrap();
    let info = VmUnmappedAreaInfo {
        flags: VM_UNMAPPED_AREA_TOPDOWN,
        length: 2 << 20,
        low_limit: P,
        high_limit: base,
        align_mask: (2 << 20) - 1,
        align_offset: 0,
    };
    let a = vm_unmapped_area(&mm, &info).unwrap();
    assert_eq!(a & ((2 << 20) - 1), 0);
    assert!(a + (2 << 20) <= base - P);
    let up = VmUnmappedAreaInfo {
        flags: 0,
        low_limit: 0x4000_1000,
        high_limit: TASK_SIZE,
        ..info
    };
    assert_eq!(vm_unmapped_area(&mm, &up), Ok(0x4020_0000));
}

// ---- do_mmap: errno order ----

#[test]
fn do_mmap_zero_len_is_einval_before_any_other_check() {
    let (mut mm, mut pt) = setup();
    let mut pop = 0;
    let r = do_mmap(&mut mm, &mut pt, None, 1, 0, 0, 0, usize::MAX, &mut pop);
    assert_eq!(r, Err(Errno::EINVAL));
}

#[test]
fn do_mmap_len_rounding_to_zero_is_enomem_before_eoverflow() {
    let (mut mm, mut pt) = setup();
    let mut pop = 0;
    let r = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        usize::MAX,
        0,
        ANON,
        usize::MAX,
        &mut pop,
    );
    assert_eq!(r, Err(Errno::ENOMEM));
}

#[test]
fn do_mmap_pgoff_overflow_is_eoverflow_before_map_count() {
    let (mut mm, mut pt) = setup();
    mm.map_count = DEFAULT_MAX_MAP_COUNT + 1;
    let mut pop = 0;
    let r = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        2 * P,
        0,
        ANON,
        usize::MAX,
        &mut pop,
    );
    assert_eq!(r, Err(Errno::EOVERFLOW));
}

#[test]
fn do_mmap_map_count_is_checked_before_the_address() {
    let (mut mm, mut pt) = setup();
    mm.map_count = DEFAULT_MAX_MAP_COUNT + 1;
    let mut pop = 0;
    let r = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0x4000_0001,
        P,
        0,
        ANON | MAP_FIXED,
        0,
        &mut pop,
    );
    assert_eq!(r, Err(Errno::ENOMEM));
    mm.map_count = 0;
    let r = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0x4000_0001,
        P,
        0,
        ANON | MAP_FIXED,
        0,
        &mut pop,
    );
    assert_eq!(r, Err(Errno::EINVAL));
}

#[test]
fn do_mmap_map_count_limit_is_strictly_greater_than_max() {
    // Linux lets map_count reach max_map_count + 1 through mmap (the check is `>`).
    let (mut mm, mut pt) = setup();
    for i in 0..DEFAULT_MAX_MAP_COUNT {
        vma_link(
            &mut mm,
            VmArea::new(0x1000_0000 + 2 * i * P, 0x1000_0000 + (2 * i + 1) * P, RW),
        )
        .unwrap();
    }
    assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT);
    assert!(mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).is_ok());
    assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT + 1);
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, PROT_EXEC, ANON),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn do_mmap_fixed_noreplace_over_a_vma_is_eexist() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0, 4 * P, RW_PROT, ANON).unwrap();
    let f = ANON | MAP_FIXED_NOREPLACE;
    assert_eq!(
        mmap(&mut mm, &mut pt, a + 3 * P, 2 * P, RW_PROT, f),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        mmap(&mut mm, &mut pt, a - 2 * P, 2 * P, RW_PROT, f),
        Ok(a - 2 * P)
    );
    // Unaligned: get_unmapped_area's EINVAL comes first.
    assert_eq!(
        mmap(&mut mm, &mut pt, a + 1, P, RW_PROT, f),
        Err(Errno::EINVAL)
    );
}

#[test]
fn do_mmap_eexist_precedes_map_locked_eperm() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0, 4 * P, RW_PROT, ANON).unwrap();
    mm.rlim[RLIMIT_MEMLOCK].cur = 0;
    let f = ANON | MAP_FIXED_NOREPLACE | MAP_LOCKED;
    assert_eq!(mmap(&mut mm, &mut pt, a, P, RW_PROT, f), Err(Errno::EEXIST));
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED),
        Err(Errno::EPERM)
    );
}

#[test]
fn do_mmap_map_locked_eperm_precedes_eagain_and_cap_ipc_lock_lifts_both() {
    let (mut mm, mut pt) = setup();
    mm.rlim[RLIMIT_MEMLOCK].cur = 0;
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED),
        Err(Errno::EPERM)
    );
    mm.rlim[RLIMIT_MEMLOCK].cur = P as u64;
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED),
        Err(Errno::EAGAIN)
    );
    assert!(mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED).is_ok());
    assert_eq!(mm.locked_vm, 1);
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED),
        Err(Errno::EAGAIN)
    );
    mm.cap_ipc_lock = true;
    mm.rlim[RLIMIT_MEMLOCK].cur = 0;
    assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED).is_ok());
    assert_eq!(mm.locked_vm, 3);
}

#[test]
fn do_mmap_mlockall_future_def_flags_count_against_memlock() {
    let (mut mm, mut pt) = setup();
    mm.def_flags = VmFlags::VM_LOCKED;
    mm.rlim[RLIMIT_MEMLOCK].cur = 2 * P as u64;
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, 3 * P, RW_PROT, ANON),
        Err(Errno::EAGAIN)
    );
    let mut pop = 0;
    let a = do_mmap(&mut mm, &mut pt, None, 0, 2 * P, RW_PROT, ANON, 0, &mut pop).unwrap();
    assert_eq!(pop, 2 * P);
    assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_LOCKED));
    assert_eq!(mm.locked_vm, 2);
}

#[test]
fn do_mmap_eagain_precedes_file_checks() {
    let (mut mm, mut pt) = setup();
    let f = TestFile {
        readable: false,
        ..TestFile::new("/f")
    }
    .arc();
    mm.rlim[RLIMIT_MEMLOCK].cur = P as u64;
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        2 * P,
        PROT_READ,
        MAP_PRIVATE | MAP_LOCKED,
        0,
    );
    assert_eq!(r, Err(Errno::EAGAIN));
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ,
        MAP_PRIVATE | MAP_LOCKED,
        0,
    );
    assert_eq!(r, Err(Errno::EACCES));
}

#[test]
fn do_mmap_file_offset_beyond_max_size_is_eoverflow_before_map_type() {
    let (mut mm, mut pt) = setup();
    let f = TestFile::new("/f").arc();
    let huge = (i64::MAX as usize) >> PAGE_SHIFT;
    assert_eq!(
        fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, 0, huge),
        Err(Errno::EOVERFLOW)
    );
    assert_eq!(
        fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, 0, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, MAP_PRIVATE, huge - 1),
        Ok(mm.mmap_base - P)
    );
}

#[test]
fn do_mmap_shared_validate_rejects_unknown_flags_shared_drops_them() {
    let (mut mm, mut pt) = setup();
    let f = TestFile::new("/f").arc();
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ,
        MAP_SHARED_VALIDATE | MAP_SYNC,
        0,
    );
    assert_eq!(r, Err(Errno::EOPNOTSUPP));
    // 5.10: MAP_FIXED_NOREPLACE is not in LEGACY_MAP_MASK either.
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0x4000_0000,
        P,
        PROT_READ,
        MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE,
        0,
    );
    assert_eq!(r, Err(Errno::EOPNOTSUPP));
    assert!(fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ,
        MAP_SHARED | MAP_SYNC | 0x0800_0000,
        0
    )
    .is_ok());
    assert!(fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ,
        MAP_SHARED_VALIDATE | MAP_POPULATE,
        0
    )
    .is_ok());
}

#[test]
fn do_mmap_file_access_checks_follow_linux() {
    let (mut mm, mut pt) = setup();
    let ro = TestFile {
        writable: false,
        ..TestFile::new("/ro")
    }
    .arc();
    let sh = MAP_SHARED;
    assert_eq!(
        fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, sh, 0),
        Err(Errno::EACCES)
    );
    // Private writable mappings of read-only files are fine (COW).
    let a = fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, MAP_PRIVATE, 0).unwrap();
    assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_MAYWRITE));
    // Shared read-only mapping of a read-only file: no VM_SHARED, no VM_MAYWRITE,
    // but VM_MAYSHARE ('s' in maps).
    let b = fmmap(&mut mm, &mut pt, &ro, 0, P, PROT_READ, sh, 0).unwrap();
    let fl = mm.vma(b).unwrap().vm_flags;
    assert!(!fl.intersects(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
    assert!(fl.contains(VmFlags::VM_MAYSHARE));

    let app = TestFile {
        append_only: true,
        ..TestFile::new("/log")
    }
    .arc();
    assert_eq!(
        fmmap(&mut mm, &mut pt, &app, 0, P, PROT_READ, sh, 0),
        Err(Errno::EACCES)
    );
    assert!(fmmap(&mut mm, &mut pt, &app, 0, P, PROT_READ, MAP_PRIVATE, 0).is_ok());

    let wo = TestFile {
        readable: false,
        ..TestFile::new("/wo")
    }
    .arc();
    assert_eq!(
        fmmap(&mut mm, &mut pt, &wo, 0, P, PROT_WRITE, sh, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(
        fmmap(&mut mm, &mut pt, &wo, 0, P, PROT_WRITE, MAP_PRIVATE, 0),
        Err(Errno::EACCES)
    );
}

#[test]
fn do_mmap_keeps_vm_may_bits_from_the_open_mode() {
    let (mut mm, mut pt) = setup();
    let may = VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE | VmFlags::VM_MAYEXEC;
    let rw = TestFile::new("/rw").arc();
    let a = fmmap(&mut mm, &mut pt, &rw, 0, P, PROT_READ, MAP_SHARED, 0).unwrap();
    let fl = mm.vma(a).unwrap().vm_flags;
    assert!(fl.contains(may | VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE));
    // Read-only open, shared: mprotect may later add read and exec, never write.
    let ro = TestFile {
        writable: false,
        ..TestFile::new("/ro")
    }
    .arc();
    let b = fmmap(&mut mm, &mut pt, &ro, 0, P, PROT_READ, MAP_SHARED, 0).unwrap();
    let fl = mm.vma(b).unwrap().vm_flags;
    assert!(fl.contains(VmFlags::VM_MAYREAD | VmFlags::VM_MAYEXEC));
    assert!(!fl.contains(VmFlags::VM_MAYWRITE));
    // MAP_SHARED_VALIDATE is MAP_SHARED for these checks.
    assert_eq!(
        fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, MAP_SHARED_VALIDATE, 0),
        Err(Errno::EACCES)
    );
}

#[test]
fn do_mmap_of_dev_zero_checks_the_open_mode_before_mmap_zero() {
    let (mut mm, mut pt) = setup();
    let zero = |readable, writable| {
        TestFile {
            readable,
            writable,
            mmap_zero: true,
            ..TestFile::new("/dev/zero")
        }
        .arc()
    };
    let ro = zero(true, false);
    assert_eq!(
        fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, MAP_SHARED, 0),
        Err(Errno::EACCES)
    );
    // Shared read-only: VM_SHARED is gone before mmap_zero looks, so the mapping is
    // anonymous memory that may never become writable ('s' in maps from VM_MAYSHARE).
    let a = fmmap(&mut mm, &mut pt, &ro, 0, P, PROT_READ, MAP_SHARED, 0).unwrap();
    let v = mm.vma(a).unwrap();
    assert!(v.vm_file.is_none());
    assert!(!v
        .vm_flags
        .intersects(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
    assert!(v.vm_flags.contains(VmFlags::VM_MAYSHARE));
    // Opened write-only: no mapping at all, private or shared.
    let wo = zero(false, true);
    assert_eq!(
        fmmap(&mut mm, &mut pt, &wo, 0, P, RW_PROT, MAP_PRIVATE, 0),
        Err(Errno::EACCES)
    );
    // Opened read-write, shared: shmem, writable now and later.
    let rw = zero(true, true);
    let b = fmmap(&mut mm, &mut pt, &rw, 0, P, RW_PROT, MAP_SHARED, 0).unwrap();
    let v = mm.vma(b).unwrap();
    assert_eq!(v.vm_file.as_ref().unwrap().path(), "/dev/zero (deleted)");
    assert!(v
        .vm_flags
        .contains(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
    // Private of a read-only open: anonymous copy-on-write memory, charged.
    let before = pt.committed;
    let c = fmmap(&mut mm, &mut pt, &ro, 0, 2 * P, RW_PROT, MAP_PRIVATE, 0).unwrap();
    assert!(mm.vma(c).unwrap().vm_file.is_none());
    assert_eq!(pt.committed, before + 2);
}

#[test]
fn do_mmap_noexec_mount_refuses_prot_exec_and_clears_vm_mayexec() {
    let (mut mm, mut pt) = setup();
    let f = TestFile {
        noexec: true,
        ..TestFile::new("/tmp/x")
    }
    .arc();
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ | PROT_EXEC,
        MAP_PRIVATE,
        0,
    );
    assert_eq!(r, Err(Errno::EPERM));
    let a = fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, MAP_PRIVATE, 0).unwrap();
    assert!(!mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_MAYEXEC));
}

#[test]
fn do_mmap_file_without_mmap_is_enodev_before_growsdown_einval() {
    let (mut mm, mut pt) = setup();
    let f = TestFile {
        mmap_supported: false,
        ..TestFile::new("/dev/x")
    }
    .arc();
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        PROT_READ,
        MAP_PRIVATE | MAP_GROWSDOWN,
        0,
    );
    assert_eq!(r, Err(Errno::ENODEV));
    let g = TestFile::new("/f").arc();
    let r = fmmap(
        &mut mm,
        &mut pt,
        &g,
        0,
        P,
        PROT_READ,
        MAP_PRIVATE | MAP_GROWSDOWN,
        0,
    );
    assert_eq!(r, Err(Errno::EINVAL));
}

#[test]
fn do_mmap_anonymous_map_type_checks() {
    let (mut mm, mut pt) = setup();
    let sh = MAP_SHARED | MAP_ANONYMOUS;
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, sh | MAP_GROWSDOWN),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_ANONYMOUS),
        Err(Errno::EINVAL)
    );
    // Linux 5.10 has no MAP_SHARED_VALIDATE for anonymous memory.
    assert_eq!(
        mmap(
            &mut mm,
            &mut pt,
            0,
            P,
            RW_PROT,
            MAP_SHARED_VALIDATE | MAP_ANONYMOUS
        ),
        Err(Errno::EINVAL)
    );
    assert_eq!(mm.map_count, 0);
    let a = mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_GROWSDOWN).unwrap();
    assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_GROWSDOWN));
}

// ---- do_mmap / mmap_region: results ----

#[test]
fn mmap_private_anonymous_is_accounted_data_with_pgoff_from_address() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0, 3 * P + 1, RW_PROT, ANON).unwrap();
    let v = mm.vma(a).unwrap();
    assert_eq!(v.vm_end - v.vm_start, 4 * P);
    assert_eq!(v.vm_pgoff, a >> PAGE_SHIFT);
    assert_eq!(v.vm_flags, RW | VmFlags::VM_ACCOUNT | VmFlags::VM_SOFTDIRTY);
    assert_eq!(v.vm_page_prot, vm_get_page_prot(RW));
    assert_eq!(pt.calls, vec![PtCall::Charge(4)]);
    assert_eq!(
        (mm.total_vm, mm.data_vm, mm.exec_vm, mm.stack_vm),
        (4, 4, 0, 0)
    );
}

#[test]
fn mmap_accounting_by_kind() {
    let (mut mm, mut pt) = setup();
    mmap(&mut mm, &mut pt, 0, P, PROT_READ | PROT_EXEC, ANON).unwrap();
    mmap(
        &mut mm,
        &mut pt,
        0x4000_0000,
        2 * P,
        RW_PROT,
        ANON | MAP_GROWSDOWN,
    )
    .unwrap();
    mmap(
        &mut mm,
        &mut pt,
        0,
        4 * P,
        RW_PROT,
        MAP_SHARED | MAP_ANONYMOUS,
    )
    .unwrap();
    mmap(&mut mm, &mut pt, 0, 8 * P, RW_PROT, ANON | MAP_NORESERVE).unwrap();
    assert_eq!(
        (mm.total_vm, mm.exec_vm, mm.stack_vm, mm.data_vm),
        (15, 1, 2, 8)
    );
    // Neither shared nor MAP_NORESERVE memory is charged.
    assert_eq!(pt.calls, vec![PtCall::Charge(2)]);
    let v = mm.vmas().find(|v| v.vma_pages() == 8).unwrap();
    assert!(v.vm_flags.contains(VmFlags::VM_NORESERVE));
    let s = mm.vmas().find(|v| v.vma_pages() == 4).unwrap();
    assert!(s
        .vm_flags
        .contains(VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE));
    assert_eq!(s.vm_pgoff, 0);
}

#[test]
fn mmap_adjacent_private_anonymous_mappings_merge() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).unwrap();
    let b = mmap(&mut mm, &mut pt, 0, 3 * P, RW_PROT, ANON).unwrap();
    assert_eq!(b, a - 3 * P);
    assert_eq!(ranges(&mm), vec![(b, a + 2 * P)]);
    assert_eq!(mm.vma(b).unwrap().vm_pgoff, b >> PAGE_SHIFT);
    // Filling a hole between two merges all three (case 1).
    let c = mmap(&mut mm, &mut pt, a + 3 * P, P, RW_PROT, ANON).unwrap();
    assert_eq!(c, a + 3 * P);
    mmap(&mut mm, &mut pt, a + 2 * P, P, RW_PROT, ANON).unwrap();
    assert_eq!(ranges(&mm), vec![(b, a + 4 * P)]);
    assert_eq!(mm.total_vm, 7);
}

#[test]
fn mmap_different_protections_or_shared_anonymous_do_not_merge() {
    let (mut mm, mut pt) = setup();
    mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON).unwrap();
    mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).unwrap();
    mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_SHARED | MAP_ANONYMOUS).unwrap();
    mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_SHARED | MAP_ANONYMOUS).unwrap();
    assert_eq!(mm.map_count, 4);
}

#[test]
fn mmap_file_mappings_merge_only_with_contiguous_offsets() {
    let (mut mm, mut pt) = setup();
    let f = TestFile::new("/lib/libc.so").arc();
    let a = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0x4000_0000,
        2 * P,
        PROT_READ,
        MAP_PRIVATE,
        10,
    )
    .unwrap();
    fmmap(
        &mut mm,
        &mut pt,
        &f,
        a + 2 * P,
        P,
        PROT_READ,
        MAP_PRIVATE,
        12,
    )
    .unwrap();
    assert_eq!(mm.map_count, 1);
    fmmap(
        &mut mm,
        &mut pt,
        &f,
        a + 3 * P,
        P,
        PROT_READ,
        MAP_PRIVATE,
        20,
    )
    .unwrap();
    assert_eq!(mm.map_count, 2);
}

#[test]
fn mmap_fixed_replaces_middle_of_existing_vma() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0x4000_0000, 10 * P, RW_PROT, ANON).unwrap();
    pt.calls.clear();
    let r = mmap(
        &mut mm,
        &mut pt,
        a + 4 * P,
        2 * P,
        PROT_READ,
        ANON | MAP_FIXED,
    );
    assert_eq!(r, Ok(a + 4 * P));
    assert_eq!(
        ranges(&mm),
        vec![
            (a, a + 4 * P),
            (a + 4 * P, a + 6 * P),
            (a + 6 * P, a + 10 * P)
        ]
    );
    assert_eq!(
        pt.calls,
        vec![
            PtCall::UnmapVmas {
                ranges: vec![(a + 4 * P, a + 6 * P)],
                start: a + 4 * P,
                end: a + 6 * P
            },
            PtCall::FreePgtables {
                ranges: vec![(a + 4 * P, a + 6 * P)],
                floor: a + 4 * P,
                ceiling: a + 6 * P
            },
            PtCall::Uncharge(2),
        ]
    );
    let mid = mm.vma(a + 4 * P).unwrap();
    assert_eq!(mid.vm_flags, RO | VmFlags::VM_SOFTDIRTY);
    assert_eq!(
        mm.vma(a + 6 * P).unwrap().vm_pgoff,
        (a + 6 * P) >> PAGE_SHIFT
    );
    assert_eq!((mm.total_vm, mm.data_vm), (10, 8));
}

#[test]
fn mmap_fixed_over_several_vmas_and_holes_then_merges() {
    let (mut mm, mut pt) = setup();
    let base = 0x4000_0000;
    mmap(&mut mm, &mut pt, base, 2 * P, RW_PROT, ANON).unwrap();
    mmap(&mut mm, &mut pt, base + 3 * P, 2 * P, PROT_READ, ANON).unwrap();
    mmap(&mut mm, &mut pt, base + 6 * P, 2 * P, PROT_EXEC, ANON).unwrap();
    pt.calls.clear();
    // Cover from the middle of the first to the middle of the last: same flags as the
    // first, so the new VMA merges with the first one's remaining head.
    mmap(&mut mm, &mut pt, base + P, 6 * P, RW_PROT, ANON | MAP_FIXED).unwrap();
    assert_eq!(
        ranges(&mm),
        vec![(base, base + 7 * P), (base + 7 * P, base + 8 * P)]
    );
    assert_eq!(
        pt.unmaps(),
        vec![(base + P, base + 7 * P)],
        "one do_munmap covers every VMA in the range"
    );
    assert_eq!(mm.total_vm, 8);
}

#[test]
fn mmap_fixed_noreplace_next_to_vma_merges() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0x4000_0000, 2 * P, RW_PROT, ANON).unwrap();
    mmap(
        &mut mm,
        &mut pt,
        a + 2 * P,
        2 * P,
        RW_PROT,
        ANON | MAP_FIXED_NOREPLACE,
    )
    .unwrap();
    assert_eq!(ranges(&mm), vec![(a, a + 4 * P)]);
}

#[test]
fn mmap_rlimit_as_counts_pages_map_fixed_would_unmap() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0x4000_0000, 4 * P, RW_PROT, ANON).unwrap();
    mm.rlim[RLIMIT_AS].cur = 5 * P as u64;
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, 2 * P, PROT_READ, ANON),
        Err(Errno::ENOMEM)
    );
    assert!(mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).is_ok());
    // Replacing 4 mapped pages with 4 new ones fits.
    assert_eq!(
        mmap(&mut mm, &mut pt, a, 4 * P, PROT_READ, ANON | MAP_FIXED),
        Ok(a)
    );
    // Replacing 2 and adding 1 does not.
    assert_eq!(
        mmap(
            &mut mm,
            &mut pt,
            a + 2 * P,
            3 * P,
            PROT_READ,
            ANON | MAP_FIXED
        ),
        Err(Errno::ENOMEM)
    );
    assert_eq!(mm.total_vm, 5);
}

#[test]
fn mmap_rlimit_data_limits_private_writable_only() {
    let (mut mm, mut pt) = setup();
    mm.rlim[RLIMIT_DATA].cur = 2 * P as u64;
    assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).is_ok());
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON),
        Err(Errno::ENOMEM)
    );
    assert!(mmap(&mut mm, &mut pt, 0, 4 * P, PROT_READ, ANON).is_ok());
    assert!(mmap(
        &mut mm,
        &mut pt,
        0,
        4 * P,
        RW_PROT,
        MAP_SHARED | MAP_ANONYMOUS
    )
    .is_ok());
    assert!(mmap(
        &mut mm,
        &mut pt,
        0x4000_0000,
        4 * P,
        RW_PROT,
        ANON | MAP_GROWSDOWN
    )
    .is_ok());
}

#[test]
fn mmap_rlimit_data_zero_soft_limit_valgrind_workaround() {
    let (mut mm, mut pt) = setup();
    mm.rlim[RLIMIT_DATA].cur = 0;
    mm.rlim[RLIMIT_DATA].max = 2 * P as u64;
    assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).is_ok());
    assert_eq!(
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON),
        Err(Errno::ENOMEM)
    );
}

#[test]
fn mmap_fixed_refused_by_overcommit_has_already_unmapped_the_old_range() {
    // As in Linux: the old mapping is gone before the charge is refused.
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0x4000_0000, 4 * P, PROT_READ, ANON).unwrap();
    pt.commit_limit = Some(0);
    assert_eq!(
        mmap(&mut mm, &mut pt, a, 4 * P, RW_PROT, ANON | MAP_FIXED),
        Err(Errno::ENOMEM)
    );
    assert_eq!(mm.map_count, 0);
    assert_eq!(mm.total_vm, 0);
}

#[test]
fn mmap_file_mmap_error_undoes_partial_mapping_and_charge() {
    let (mut mm, mut pt) = setup();
    let f = TestFile {
        mmap_error: Some(Errno::ENODEV),
        ..TestFile::new("/dev/odd")
    }
    .arc();
    let r = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0x4000_0000,
        2 * P,
        RW_PROT,
        MAP_PRIVATE,
        0,
    );
    assert_eq!(r, Err(Errno::ENODEV));
    assert_eq!(mm.map_count, 0);
    assert_eq!(mm.total_vm, 0);
    assert_eq!(pt.unmaps(), vec![(0x4000_0000, 0x4000_0000 + 2 * P)]);
    assert_eq!(pt.committed, 0);
}

#[test]
fn mmap_file_mmap_changing_flags_retries_merge() {
    let (mut mm, mut pt) = setup();
    let extra = VmFlags::VM_DONTDUMP;
    let f = TestFile {
        mmap_adds: extra,
        ..TestFile::new("/dev/special")
    }
    .arc();
    let a = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0x4000_0000,
        2 * P,
        PROT_READ,
        MAP_SHARED,
        0,
    )
    .unwrap();
    assert!(mm.vma(a).unwrap().vm_flags.contains(extra));
    // The first vma_merge (without VM_DONTDUMP) fails, the retry merges.
    fmmap(&mut mm, &mut pt, &f, a + 2 * P, P, PROT_READ, MAP_SHARED, 2).unwrap();
    assert_eq!(ranges(&mm), vec![(a, a + 3 * P)]);
    assert_eq!(mm.total_vm, 3);
}

#[test]
fn mmap_populate_and_locked_report_populate_length() {
    let (mut mm, mut pt) = setup();
    let mut pop = 0;
    do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        3 * P,
        RW_PROT,
        ANON | MAP_POPULATE,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(pop, 3 * P);
    do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        3 * P,
        RW_PROT,
        ANON | MAP_POPULATE | MAP_NONBLOCK,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(pop, 0);
    do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        2 * P,
        RW_PROT,
        ANON | MAP_LOCKED,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(pop, 2 * P);
    assert_eq!(mm.locked_vm, 2);
    // MAP_POPULATE asks vm_mmap_pgoff to populate the whole new mapping.
    pt.calls.clear();
    let a = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        P,
        RW_PROT,
        ANON | MAP_POPULATE,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(pop, P);
    assert_eq!(pt.calls, vec![PtCall::Charge(1)]);
    assert!(mm.vma(a).is_some());
}

#[test]
fn mmap_locked_vm_special_mapping_drops_vm_locked() {
    let (mut mm, mut pt) = setup();
    let f = TestFile {
        mmap_adds: VmFlags::VM_IO | VmFlags::VM_PFNMAP,
        ..TestFile::new("/dev/mem")
    }
    .arc();
    let a = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0,
        P,
        RW_PROT,
        MAP_SHARED | MAP_LOCKED,
        0,
    )
    .unwrap();
    assert!(!mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_LOCKED));
    assert_eq!(mm.locked_vm, 0);
}

#[test]
fn mmap_hint_below_mmap_min_addr_is_ignored() {
    let (mut mm, mut pt) = setup();
    let a = mmap(&mut mm, &mut pt, 0x800, P, RW_PROT, ANON).unwrap();
    assert_eq!(a, mm.mmap_base - P);
    let b = mmap(&mut mm, &mut pt, 0x4000_0fff, P, RW_PROT, ANON).unwrap();
    assert_eq!(b, 0x4000_0000, "do_mmap masks the hint down");
}

#[test]
fn mmap_shared_anonymous_calls_shmem_zero_setup() {
    struct Shmem(RecordingPageTables, usize);
    impl VmaPageTables for Shmem {
        fn unmap_vmas(&mut self, v: &[VmArea], s: usize, e: usize) {
            self.0.unmap_vmas(v, s, e)
        }
        fn free_pgtables(&mut self, v: &[VmArea], f: usize, c: usize) {
            self.0.free_pgtables(v, f, c)
        }
        fn change_protection(
            &mut self,
            v: &VmArea,
            s: usize,
            e: usize,
            p: PgProt,
            d: bool,
        ) -> usize {
            self.0.change_protection(v, s, e, p, d)
        }
        fn shmem_zero_setup(&mut self, vma: &mut VmArea) -> KResult<()> {
            self.1 += 1;
            vma.vm_file = Some(TestFile::new("/dev/zero (deleted)").arc());
            Ok(())
        }
    }
    let mut mm = MmapLocked::new();
    let mut pt = Shmem(RecordingPageTables::new(), 0);
    let mut pop = 0;
    let a = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        P,
        RW_PROT,
        MAP_SHARED | MAP_ANONYMOUS,
        0,
        &mut pop,
    )
    .unwrap();
    assert_eq!(pt.1, 1);
    assert_eq!(
        mm.vma(a).unwrap().vm_file.as_ref().unwrap().path(),
        "/dev/zero (deleted)"
    );
}

// ---- ksys_mmap_pgoff / sys_mmap ----

#[test]
fn sys_mmap_unaligned_offset_is_einval_before_ebadf() {
    let mm = MmStruct::for_test(MmapLocked::new());
    assert_eq!(
        sys_mmap(&mm, 0, P, PROT_READ, MAP_PRIVATE, None, 1),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        sys_mmap(&mm, 0, P, PROT_READ, MAP_PRIVATE, None, P),
        Err(Errno::EBADF)
    );
}

#[test]
fn ksys_mmap_pgoff_ebadf_precedes_do_mmap_checks() {
    let mm = MmStruct::for_test(MmapLocked::new());
    assert_eq!(ksys_mmap_pgoff(&mm, 0, 0, 0, 0, None, 0), Err(Errno::EBADF));
    // With MAP_ANONYMOUS the fd is ignored and len 0 is EINVAL.
    assert_eq!(
        ksys_mmap_pgoff(&mm, 0, 0, 0, MAP_ANONYMOUS, None, 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn ksys_mmap_pgoff_map_hugetlb_is_einval_without_hugetlbfs() {
    let mm = MmStruct::for_test(MmapLocked::new());
    let f = TestFile::new("/f").arc();
    let fl = MAP_PRIVATE | MAP_HUGETLB;
    assert_eq!(
        ksys_mmap_pgoff(&mm, 0, P, PROT_READ, fl, Some(f), 0),
        Err(Errno::EINVAL)
    );
    let fl = ANON | MAP_HUGETLB;
    assert_eq!(
        ksys_mmap_pgoff(&mm, 0, P, PROT_READ, fl, None, 0),
        Err(Errno::EINVAL)
    );
}

#[test]
fn ksys_mmap_pgoff_drops_map_denywrite_and_map_executable() {
    let outer = MmStruct::for_test(MmapLocked::new());
    let fl = ANON | MAP_DENYWRITE | MAP_EXECUTABLE;
    let a = ksys_mmap_pgoff(&outer, 0, P, PROT_READ, fl, None, 0).unwrap();
    let locked = crate::mm::mmap_lock::mmap_read_lock(&outer);
    assert!(!locked
        .vma(a)
        .unwrap()
        .vm_flags
        .contains(VmFlags::VM_DENYWRITE));
    drop(locked);
    let (mut mm, mut pt) = setup();
    // do_mmap itself (exec) keeps it.
    let mut pop = 0;
    let b = do_mmap(
        &mut mm,
        &mut pt,
        None,
        0,
        P,
        PROT_EXEC,
        ANON | MAP_DENYWRITE,
        0,
        &mut pop,
    )
    .unwrap();
    assert!(mm.vma(b).unwrap().vm_flags.contains(VmFlags::VM_DENYWRITE));
}

#[test]
fn vm_mmap_checks_byte_offset() {
    let mm = MmStruct::for_test(MmapLocked::new());
    let f = TestFile::new("/bin/init").arc();
    let r = vm_mmap(&mm, Some(f.clone()), 0, P, PROT_READ, MAP_PRIVATE, 0x10);
    assert_eq!(r, Err(Errno::EINVAL));
    let r = vm_mmap(
        &mm,
        Some(f.clone()),
        0,
        P,
        PROT_READ,
        MAP_PRIVATE,
        usize::MAX & !(P - 1),
    );
    assert_eq!(r, Err(Errno::EINVAL));
    let a = vm_mmap(&mm, Some(f), 0, P, PROT_READ, MAP_PRIVATE, 3 * P).unwrap();
    let locked = crate::mm::mmap_lock::mmap_read_lock(&mm);
    assert_eq!(locked.vma(a).unwrap().vm_pgoff, 3);
}

// ---- munmap ----

fn ten_pages(mm: &mut MmapLocked, pt: &mut RecordingPageTables) -> usize {
    let a = mmap(mm, pt, 0x4000_0000, 10 * P, RW_PROT, ANON).unwrap();
    pt.calls.clear();
    a
}

#[test]
fn munmap_argument_errors_are_einval() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    assert_eq!(vm_munmap(&mut mm, &mut pt, a + 1, P), Err(Errno::EINVAL));
    assert_eq!(vm_munmap(&mut mm, &mut pt, a, 0), Err(Errno::EINVAL));
    assert_eq!(
        vm_munmap(&mut mm, &mut pt, TASK_SIZE + P, P),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        vm_munmap(&mut mm, &mut pt, TASK_SIZE - P, 2 * P),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        vm_munmap(&mut mm, &mut pt, a, usize::MAX),
        Err(Errno::EINVAL)
    );
    assert!(pt.calls.is_empty());
    assert_eq!(mm.map_count, 1);
}

#[test]
fn munmap_of_a_hole_succeeds_and_touches_nothing() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    assert_eq!(vm_munmap(&mut mm, &mut pt, a - 4 * P, 4 * P), Ok(()));
    assert_eq!(vm_munmap(&mut mm, &mut pt, a + 10 * P, 4 * P), Ok(()));
    assert!(pt.calls.is_empty());
    assert_eq!(ranges(&mm), vec![(a, a + 10 * P)]);
}

#[test]
fn munmap_whole_vma_frees_page_tables_between_neighbours() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    mmap(&mut mm, &mut pt, a - 4 * P, P, PROT_READ, ANON | MAP_FIXED).unwrap();
    mmap(&mut mm, &mut pt, a + 12 * P, P, PROT_READ, ANON | MAP_FIXED).unwrap();
    pt.calls.clear();
    vm_munmap(&mut mm, &mut pt, a, 10 * P).unwrap();
    assert_eq!(
        pt.calls,
        vec![
            PtCall::UnmapVmas {
                ranges: vec![(a, a + 10 * P)],
                start: a,
                end: a + 10 * P
            },
            PtCall::FreePgtables {
                ranges: vec![(a, a + 10 * P)],
                floor: a - 3 * P,
                ceiling: a + 12 * P
            },
            PtCall::Uncharge(10),
        ]
    );
    assert_eq!((mm.map_count, mm.total_vm, mm.data_vm), (2, 2, 0));
}

#[test]
fn munmap_last_vma_has_no_floor_or_ceiling() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    vm_munmap(&mut mm, &mut pt, a, 10 * P).unwrap();
    assert!(pt.calls.contains(&PtCall::FreePgtables {
        ranges: vec![(a, a + 10 * P)],
        floor: 0,
        ceiling: 0
    }));
    assert_eq!((mm.map_count, mm.total_vm), (0, 0));
}

#[test]
fn munmap_head_splits_and_keeps_tail() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    vm_munmap(&mut mm, &mut pt, a, 3 * P).unwrap();
    assert_eq!(ranges(&mm), vec![(a + 3 * P, a + 10 * P)]);
    assert_eq!(
        mm.vma(a + 3 * P).unwrap().vm_pgoff,
        (a + 3 * P) >> PAGE_SHIFT
    );
    assert_eq!(pt.unmaps(), vec![(a, a + 3 * P)]);
    assert_eq!(mm.total_vm, 7);
}

#[test]
fn munmap_tail_splits_and_keeps_head() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    vm_munmap(&mut mm, &mut pt, a + 7 * P, 3 * P).unwrap();
    assert_eq!(ranges(&mm), vec![(a, a + 7 * P)]);
    assert_eq!(pt.unmaps(), vec![(a + 7 * P, a + 10 * P)]);
    assert!(pt.calls.contains(&PtCall::Uncharge(3)));
}

#[test]
fn munmap_middle_splits_in_three_and_removes_middle() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    vm_munmap(&mut mm, &mut pt, a + 4 * P, 2 * P).unwrap();
    assert_eq!(ranges(&mm), vec![(a, a + 4 * P), (a + 6 * P, a + 10 * P)]);
    assert_eq!(
        mm.vma(a + 6 * P).unwrap().vm_pgoff,
        (a + 6 * P) >> PAGE_SHIFT
    );
    assert_eq!(mm.map_count, 2);
}

#[test]
fn munmap_len_rounds_up_to_whole_pages() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    vm_munmap(&mut mm, &mut pt, a, P + 1).unwrap();
    assert_eq!(ranges(&mm), vec![(a + 2 * P, a + 10 * P)]);
}

#[test]
fn munmap_across_several_vmas_and_holes() {
    let (mut mm, mut pt) = setup();
    let b = 0x4000_0000;
    mmap(&mut mm, &mut pt, b, 3 * P, RW_PROT, ANON).unwrap();
    mmap(&mut mm, &mut pt, b + 4 * P, 2 * P, PROT_READ, ANON).unwrap();
    mmap(&mut mm, &mut pt, b + 7 * P, 3 * P, PROT_EXEC, ANON).unwrap();
    pt.calls.clear();
    vm_munmap(&mut mm, &mut pt, b + P, 8 * P).unwrap();
    assert_eq!(ranges(&mm), vec![(b, b + P), (b + 9 * P, b + 10 * P)]);
    assert_eq!(
        pt.calls[0],
        PtCall::UnmapVmas {
            ranges: vec![
                (b + P, b + 3 * P),
                (b + 4 * P, b + 6 * P),
                (b + 7 * P, b + 9 * P)
            ],
            start: b + P,
            end: b + 9 * P
        }
    );
    assert_eq!((mm.total_vm, mm.data_vm, mm.exec_vm), (2, 1, 1));
    assert!(pt.calls.contains(&PtCall::Uncharge(2)));
}

#[test]
fn munmap_middle_split_at_max_map_count_is_enomem_but_edges_work() {
    let (mut mm, mut pt) = setup();
    let a = ten_pages(&mut mm, &mut pt);
    let real = mm.map_count;
    mm.map_count = DEFAULT_MAX_MAP_COUNT;
    assert_eq!(
        vm_munmap(&mut mm, &mut pt, a + 4 * P, 2 * P),
        Err(Errno::ENOMEM)
    );
    // Unmapping the head needs only the unchecked split at the end.
    assert_eq!(vm_munmap(&mut mm, &mut pt, a, 2 * P), Ok(()));
    assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT);
    mm.map_count = real;
    assert_eq!(ranges(&mm), vec![(a + 2 * P, a + 10 * P)]);
}

#[test]
fn munmap_locked_vma_munlocks_and_lowers_locked_vm() {
    let (mut mm, mut pt) = setup();
    let a = mmap(
        &mut mm,
        &mut pt,
        0x4000_0000,
        4 * P,
        RW_PROT,
        ANON | MAP_LOCKED,
    )
    .unwrap();
    assert_eq!(mm.locked_vm, 4);
    pt.calls.clear();
    vm_munmap(&mut mm, &mut pt, a + P, P).unwrap();
    assert_eq!(mm.locked_vm, 3);
    assert_eq!(
        crate::mm::mlock::tests::munlocks(),
        vec![(a + P, a + 2 * P)]
    );
}

#[test]
fn munmap_keeps_file_and_anon_vma_of_remaining_parts() {
    let (mut mm, mut pt) = setup();
    let f = TestFile::new("/lib/x").arc();
    let a = fmmap(
        &mut mm,
        &mut pt,
        &f,
        0x4000_0000,
        4 * P,
        PROT_READ,
        MAP_PRIVATE,
        8,
    )
    .unwrap();
    mm.mm_rb
        .get_mut(&a)
        .unwrap()
        .set_anon_vma(AnonVma::new())
        .unwrap();
    vm_munmap(&mut mm, &mut pt, a + P, P).unwrap();
    let (lo, hi) = (mm.vma(a).unwrap(), mm.vma(a + 2 * P).unwrap());
    assert_eq!((lo.vm_pgoff, hi.vm_pgoff), (8, 10));
    assert!(hi.vm_file.is_some() && hi.anon_vma.is_some());
}

// ---- insert_vm_struct ----

#[test]
fn insert_vm_struct_refuses_overlap_and_sets_anonymous_pgoff() {
    let (mut mm, mut pt) = setup();
    let top = TASK_SIZE;
    let stack = VmArea::new(top - 32 * P, top, VmFlags::VM_STACK_FLAGS);
    insert_vm_struct(&mut mm, &mut pt, stack.clone()).unwrap();
    assert_eq!(
        mm.vma(top - 32 * P).unwrap().vm_pgoff,
        (top - 32 * P) >> PAGE_SHIFT
    );
    assert_eq!(pt.calls, vec![PtCall::Charge(32)]);
    assert_eq!(
        insert_vm_struct(&mut mm, &mut pt, stack),
        Err(Errno::ENOMEM)
    );
}

// ---- brk ----

const HEAP: usize = 0x60_0000;

fn brk_setup() -> (MmapLocked, RecordingPageTables) {
    let (mut mm, pt) = setup();
    mm.start_brk = HEAP;
    mm.brk = HEAP;
    (mm, pt)
}

#[test]
fn brk_below_start_brk_or_zero_returns_current_break() {
    let (mut mm, mut pt) = brk_setup();
    assert_eq!(sys_brk(&mut mm, &mut pt, 0), HEAP);
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP - 1), HEAP);
    assert_eq!(mm.map_count, 0);
}

#[test]
fn brk_grows_by_creating_the_heap_vma() {
    let (mut mm, mut pt) = brk_setup();
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 100), HEAP + 100);
    assert_eq!(mm.brk, HEAP + 100);
    let v = mm.vma(HEAP).unwrap();
    assert_eq!(
        (v.vm_start, v.vm_end, v.vm_pgoff),
        (HEAP, HEAP + P, HEAP >> PAGE_SHIFT)
    );
    assert_eq!(
        v.vm_flags,
        VmFlags::VM_DATA_DEFAULT_FLAGS | VmFlags::VM_ACCOUNT | VmFlags::VM_SOFTDIRTY
    );
    assert_eq!((mm.total_vm, mm.data_vm), (1, 1));
    assert_eq!(pt.calls, vec![PtCall::Charge(1)]);
}

#[test]
fn brk_growing_again_merges_into_the_heap_vma() {
    let (mut mm, mut pt) = brk_setup();
    sys_brk(&mut mm, &mut pt, HEAP + 2 * P);
    sys_brk(&mut mm, &mut pt, HEAP + 5 * P + 1);
    assert_eq!(ranges(&mm), vec![(HEAP, HEAP + 6 * P)]);
    assert_eq!((mm.total_vm, mm.data_vm), (6, 6));
    let s = crate::mm::vma::show_map_vma(&mm, mm.vma(HEAP).unwrap());
    assert!(s.ends_with(" [heap]\n"));
}

#[test]
fn brk_within_the_same_page_only_moves_the_break() {
    let (mut mm, mut pt) = brk_setup();
    sys_brk(&mut mm, &mut pt, HEAP + 10);
    pt.calls.clear();
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 4000), HEAP + 4000);
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 1), HEAP + 1);
    assert!(pt.calls.is_empty());
    assert_eq!(mm.brk, HEAP + 1);
}

#[test]
fn brk_shrinks_through_do_munmap() {
    let (mut mm, mut pt) = brk_setup();
    sys_brk(&mut mm, &mut pt, HEAP + 8 * P);
    pt.calls.clear();
    assert_eq!(
        sys_brk(&mut mm, &mut pt, HEAP + 3 * P - 5),
        HEAP + 3 * P - 5
    );
    assert_eq!(ranges(&mm), vec![(HEAP, HEAP + 3 * P)]);
    assert_eq!(pt.unmaps(), vec![(HEAP + 3 * P, HEAP + 8 * P)]);
    assert_eq!(mm.total_vm, 3);
    // Back to start_brk removes the VMA.
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP), HEAP);
    assert_eq!(mm.map_count, 0);
}

#[test]
fn brk_growth_stops_one_page_below_the_next_vma() {
    let (mut mm, mut pt) = brk_setup();
    mmap(
        &mut mm,
        &mut pt,
        HEAP + 10 * P,
        P,
        PROT_READ,
        ANON | MAP_FIXED,
    )
    .unwrap();
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 9 * P + 1), HEAP);
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 9 * P), HEAP + 9 * P);
}

#[test]
fn brk_growth_respects_stack_guard_gap() {
    let (mut mm, mut pt) = brk_setup();
    let stack = HEAP + 300 * P;
    mmap(
        &mut mm,
        &mut pt,
        stack,
        P,
        RW_PROT,
        ANON | MAP_FIXED | MAP_GROWSDOWN,
    )
    .unwrap();
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 100 * P), HEAP);
    assert_eq!(
        sys_brk(&mut mm, &mut pt, stack - STACK_GUARD_GAP - P),
        stack - STACK_GUARD_GAP - P
    );
}

#[test]
fn brk_over_rlimit_data_returns_old_break() {
    let (mut mm, mut pt) = brk_setup();
    mm.start_data = 0x40_0000;
    mm.end_data = 0x40_0000 + P;
    mm.rlim[RLIMIT_DATA].cur = 3 * P as u64;
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P + 1), HEAP);
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P), HEAP + 2 * P);
}

#[test]
fn brk_refused_by_overcommit_returns_old_break() {
    let (mut mm, mut pt) = brk_setup();
    pt.commit_limit = Some(2);
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 3 * P), HEAP);
    assert_eq!(mm.map_count, 0);
}

#[test]
fn brk_with_mlockall_future_locks_and_populates_growth() {
    let (mut mm, mut pt) = brk_setup();
    mm.def_flags = VmFlags::VM_LOCKED;
    assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P), HEAP + 2 * P);
    assert_eq!(mm.locked_vm, 2);
    assert!(pt.calls.contains(&PtCall::Populate {
        start: HEAP,
        len: 2 * P
    }));
    mm.rlim[RLIMIT_MEMLOCK].cur = 3 * P as u64;
    assert_eq!(
        sys_brk(&mut mm, &mut pt, HEAP + 4 * P),
        HEAP + 2 * P,
        "EAGAIN inside"
    );
}

#[test]
fn brk_huge_request_fails_cleanly() {
    let (mut mm, mut pt) = brk_setup();
    // PAGE_ALIGN wraps to 0: do_brk_flags gets a length above TASK_SIZE.
    assert_eq!(sys_brk(&mut mm, &mut pt, usize::MAX), HEAP);
    assert_eq!(sys_brk(&mut mm, &mut pt, TASK_SIZE + 1), HEAP);
    // Up to TASK_SIZE it is only the next VMA (or overcommit) that stops it.
    mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON).unwrap();
    assert_eq!(sys_brk(&mut mm, &mut pt, TASK_SIZE), HEAP);
    assert_eq!(mm.map_count, 1);
}

#[test]
fn do_brk_flags_refuses_flags_other_than_vm_exec() {
    let (mut mm, mut pt) = brk_setup();
    assert_eq!(
        do_brk_flags(&mut mm, &mut pt, HEAP, P, VmFlags::VM_WRITE),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        do_brk_flags(&mut mm, &mut pt, HEAP + 1, P, VmFlags::empty()),
        Err(Errno::EINVAL)
    );
    assert!(do_brk_flags(&mut mm, &mut pt, HEAP, P, VmFlags::VM_EXEC).is_ok());
    assert!(mm.vma(HEAP).unwrap().vm_flags.contains(VmFlags::VM_EXEC));
}

#[test]
fn vm_brk_flags_maps_exec_bss_and_ignores_zero_length() {
    let (mut mm, mut pt) = brk_setup();
    assert_eq!(
        vm_brk_flags(&mut mm, &mut pt, HEAP, 0, VmFlags::empty()),
        Ok(())
    );
    assert_eq!(mm.map_count, 0);
    assert_eq!(
        vm_brk_flags(&mut mm, &mut pt, HEAP, usize::MAX, VmFlags::empty()),
        Err(Errno::ENOMEM)
    );
    assert_eq!(
        vm_brk_flags(&mut mm, &mut pt, HEAP, 10, VmFlags::empty()),
        Ok(())
    );
    assert_eq!(ranges(&mm), vec![(HEAP, HEAP + P)]);
}

// ---- expand_stack ----

fn stack_setup() -> (MmapLocked, RecordingPageTables, usize) {
    let (mut mm, mut pt) = setup();
    let top = 0x7000_0000;
    let a = mmap(
        &mut mm,
        &mut pt,
        top - 4 * P,
        4 * P,
        RW_PROT,
        ANON | MAP_FIXED | MAP_GROWSDOWN,
    )
    .unwrap();
    pt.calls.clear();
    (mm, pt, a)
}

#[test]
fn expand_stack_grows_vma_down_to_the_fault_page() {
    let (mut mm, mut pt, a) = stack_setup();
    let k = expand_stack(&mut mm, &mut pt, a, a - 2 * P + 123).unwrap();
    assert_eq!(k, a - 2 * P);
    let v = mm.vma(k).unwrap();
    assert_eq!(
        (v.vm_end, v.vm_pgoff),
        (a + 4 * P, (a - 2 * P) >> PAGE_SHIFT)
    );
    assert!(v.anon_vma.is_some());
    assert_eq!((mm.total_vm, mm.stack_vm), (6, 6));
    assert_eq!(pt.calls, vec![PtCall::Charge(2)]);
}

#[test]
fn expand_stack_keeps_stack_guard_gap_from_vma_below() {
    let (mut mm, mut pt, a) = stack_setup();
    let below = a - STACK_GUARD_GAP - 8 * P;
    mmap(&mut mm, &mut pt, below, P, PROT_READ, ANON | MAP_FIXED).unwrap();
    // The gap from prev's end must stay >= stack_guard_gap.
    assert_eq!(
        expand_stack(&mut mm, &mut pt, a, below + P + STACK_GUARD_GAP - P),
        Err(Errno::ENOMEM)
    );
    assert!(expand_stack(&mut mm, &mut pt, a, below + P + STACK_GUARD_GAP).is_ok());
    // A PROT_NONE VMA below does not count (vma_is_accessible).
    let (mut mm, mut pt, a) = stack_setup();
    mmap(&mut mm, &mut pt, a - 2 * P, P, PROT_NONE, ANON | MAP_FIXED).unwrap();
    assert!(expand_stack(&mut mm, &mut pt, a, a - P).is_ok());
}

#[test]
fn expand_stack_of_an_unaccounted_stack_charges_nothing_that_exit_mmap_misses() {
    // A PROT_NONE MAP_GROWSDOWN mapping has no VM_ACCOUNT (nothing was charged at mmap),
    // so exit_mmap gives nothing back for it: growing it must not charge either (found
    // by `fuzz 112 6000`: a fault below such a mapping left Committed_AS at 2 pages).
    let (mut mm, mut pt) = setup();
    let top = 0x7000_0000;
    let a = mmap(
        &mut mm,
        &mut pt,
        top - 4 * P,
        4 * P,
        PROT_NONE,
        ANON | MAP_FIXED | MAP_GROWSDOWN,
    )
    .unwrap();
    assert_eq!(expand_stack(&mut mm, &mut pt, a, a - 2 * P), Ok(a - 2 * P));
    exit_mmap(&mut mm, &mut pt, 0, 0);
    assert_eq!(pt.committed, 0);
    // A writable one is charged at mmap and for its growth, and given all of it back.
    let (mut mm, mut pt, a) = stack_setup();
    expand_stack(&mut mm, &mut pt, a, a - 2 * P).unwrap();
    assert_eq!(pt.committed, 6);
    exit_mmap(&mut mm, &mut pt, 0, 0);
    assert_eq!(pt.committed, 0);
}

#[test]
fn expand_stack_limited_by_rlimit_stack_and_min_addr() {
    let (mut mm, mut pt, a) = stack_setup();
    mm.rlim[RLIMIT_STACK].cur = 6 * P as u64;
    assert_eq!(
        expand_stack(&mut mm, &mut pt, a, a - 3 * P),
        Err(Errno::ENOMEM)
    );
    assert!(expand_stack(&mut mm, &mut pt, a, a - 2 * P).is_ok());
    assert_eq!(
        expand_stack(&mut mm, &mut pt, a - 2 * P, 0x10),
        Err(Errno::EPERM)
    );
}

#[test]
fn exit_mmap_gives_back_the_charge_of_vm_account_vmas() {
    let (mut mm, mut pt) = setup();
    mmap(&mut mm, &mut pt, 0, 3 * P, RW_PROT, ANON).unwrap();
    mmap(&mut mm, &mut pt, 0, 5 * P, PROT_READ, ANON).unwrap();
    mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_NORESERVE).unwrap();
    mmap(&mut mm, &mut pt, 0, 4 * P, RW_PROT, ANON).unwrap();
    assert_eq!(pt.committed, 7);
    pt.calls.clear();
    exit_mmap(&mut mm, &mut pt, 0, 0);
    assert_eq!(pt.calls, vec![PtCall::Uncharge(7)]);
    assert_eq!(pt.committed, 0);
    assert_eq!(mm.map_count, 0);
}

#[test]
fn exit_mmap_of_an_mm_without_accounted_vmas_uncharges_nothing() {
    let (mut mm, mut pt) = setup();
    mmap(&mut mm, &mut pt, 0, 3 * P, PROT_READ, ANON).unwrap();
    exit_mmap(&mut mm, &mut pt, 0, 0);
    assert!(pt.calls.is_empty());
}

// ---- unmapped_area over the augmented tree, against a linear reference ----

/// The unmapped-area searches as they were before the tree was augmented: a walk over
/// every VMA in order. Kept here as the reference the O(log n) searches must agree with.
fn unmapped_area_linear(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    if info.high_limit < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = info.high_limit - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;
    let highest = mm.vmas().next_back().map_or(0, vm_end_gap);
    let mut found = None;
    let mut gap_start = 0;
    for v in mm.vmas() {
        let gap_end = vm_start_gap(v);
        if gap_start > high_limit {
            return Err(Errno::ENOMEM);
        }
        if gap_end >= low_limit && gap_end > gap_start && gap_end - gap_start >= length {
            found = Some(gap_start);
            break;
        }
        gap_start = vm_end_gap(v);
    }
    let mut gap_start = match found {
        Some(g) => g,
        None if highest > high_limit => return Err(Errno::ENOMEM),
        None => highest,
    };
    if gap_start < info.low_limit {
        gap_start = info.low_limit;
    }
    gap_start += info.align_offset.wrapping_sub(gap_start) & info.align_mask;
    Ok(gap_start)
}

/// Top-down linear reference.
fn unmapped_area_topdown_linear(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    let mut gap_end = info.high_limit;
    if gap_end < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = gap_end - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;
    let highest = mm.vmas().next_back().map_or(0, vm_end_gap);
    if highest > high_limit {
        let mut found = None;
        let mut it = mm.vmas().rev().peekable();
        while let Some(v) = it.next() {
            let end = vm_start_gap(v);
            if end < low_limit {
                return Err(Errno::ENOMEM);
            }
            let start = it.peek().map_or(0, |p| vm_end_gap(p));
            if start <= high_limit && end > start && end - start >= length {
                found = Some(end);
                break;
            }
        }
        gap_end = found.ok_or(Errno::ENOMEM)?.min(info.high_limit);
    }
    gap_end -= info.length;
    gap_end -= gap_end.wrapping_sub(info.align_offset) & info.align_mask;
    Ok(gap_end)
}

/// xorshift64*, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Link about `n` VMAs in random order: 1-4 pages each, gaps of 0-8 or 300 pages, and
/// with `stacks` some VM_GROWSDOWN ones, always 300 pages above the VMA below so their
/// 256-page guard gap ends above it. Returns the page just past the last VMA.
///
/// A guard gap reaching below the VMA under the stack makes `vm_start_gap` non-monotonic
/// in address order; there the tree descent (like Linux 5.10's) may pass over a gap the
/// linear walk takes, or find one after the walk gave up. `unmapped_area_is_sound_when_
/// guard_gaps_overlap` covers that case with soundness checks only.
fn random_layout(mm: &mut MmapLocked, rng: &mut Rng, n: usize, stacks: bool) -> usize {
    let mut ranges = Vec::new();
    let mut page = 0;
    for _ in 0..n {
        let mut gap = [0, 0, 1, 1, 2, 3, 5, 8, 300][rng.below(9)];
        let stack = stacks && rng.below(10) == 0;
        if stack {
            gap = 300;
        }
        page += gap;
        let len = 1 + rng.below(4);
        let flags = match rng.below(10) {
            _ if stack => RW | VmFlags::VM_GROWSDOWN,
            1..=4 => RO,
            _ => RW,
        };
        ranges.push((page, page + len, flags));
        page += len;
    }
    // Insert in a shuffled order so the tree sees every rebalancing case.
    for i in (1..ranges.len()).rev() {
        ranges.swap(i, rng.below(i + 1));
    }
    for (i, &(a, b, flags)) in ranges.iter().enumerate() {
        add_anon(mm, a, b, flags);
        if i % 64 == 0 {
            validate_mm(mm).unwrap();
        }
    }
    validate_mm(mm).unwrap();
    page
}

/// A random search request over `[pg(0) - 64 pages, pg(top) + 64 pages)`, bottom-up.
fn random_info(rng: &mut Rng, top: usize) -> VmUnmappedAreaInfo {
    let lo = pg(0) - 64 * P;
    let span = (top + 128) * P;
    let a = lo + rng.below(span / P) * P;
    let b = lo + rng.below(span / P) * P;
    let (align_mask, align_offset) = match rng.below(4) {
        0 => (3 * P, rng.below(4) * P),
        1 => ((2 << 20) - P, 0),
        _ => (0, 0),
    };
    let mut info = VmUnmappedAreaInfo {
        flags: 0,
        length: (1 + rng.below(6)) * P,
        low_limit: a.min(b),
        high_limit: a.max(b) + P,
        align_mask,
        align_offset,
    };
    if rng.below(8) == 0 {
        info.low_limit = 0;
        info.high_limit = TASK_SIZE;
    }
    info
}

/// A found range is inside the limits, overlaps no VMA and keeps the guard gap of the
/// VMA above it.
fn assert_sound(mm: &MmapLocked, info: &VmUnmappedAreaInfo, r: usize) {
    assert!(
        r >= info.low_limit && r + info.length <= info.high_limit,
        "{info:x?}"
    );
    assert_eq!(r & info.align_mask, info.align_offset & info.align_mask);
    if let Some(next) = find_vma(mm, r) {
        assert!(r + info.length <= vm_start_gap(next), "{info:x?} -> {r:#x}");
    }
    if let (_, Some(prev)) = find_vma_prev(mm, r) {
        assert!(
            vm_end_gap(prev) <= r || prev.vm_start > r,
            "{info:x?} -> {r:#x}"
        );
    }
}

/// Random searches in both directions; the tree and the linear walk must agree on
/// every one.
fn compare_searches(mm: &MmapLocked, rng: &mut Rng, top: usize, rounds: usize) {
    for _ in 0..rounds {
        let mut info = random_info(rng, top);
        let up = unmapped_area(mm, &info);
        assert_eq!(up, unmapped_area_linear(mm, &info), "bottom-up {info:x?}");
        if let Ok(r) = up {
            assert_sound(mm, &info, r);
        }
        info.flags = VM_UNMAPPED_AREA_TOPDOWN;
        let down = unmapped_area_topdown(mm, &info);
        assert_eq!(
            down,
            unmapped_area_topdown_linear(mm, &info),
            "top-down {info:x?}"
        );
        if let Ok(r) = down {
            assert_sound(mm, &info, r);
        }
    }
}

#[test]
fn unmapped_area_matches_linear_search_on_random_layouts() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed * 0x9e37_79b9);
        let (mut mm, _) = setup();
        let top = random_layout(&mut mm, &mut rng, 40 + 60 * seed as usize, true);
        compare_searches(&mm, &mut rng, top, 400);
    }
}

#[test]
fn unmapped_area_matches_linear_search_while_vmas_come_and_go() {
    // munmap, mprotect (split and merge through __vma_adjust) and MAP_FIXED mmap move
    // boundaries everywhere; after each, every rb_subtree_gap and highest_vm_end must be
    // right (validate_mm) and the searches must still agree with the walk.
    for seed in [0x5eed, 0xbeef, 0xcafe] {
        come_and_go(seed);
    }
}

fn come_and_go(seed: u64) {
    let mut rng = Rng(seed);
    let (mut mm, mut pt) = setup();
    let top = random_layout(&mut mm, &mut rng, 300, false);
    // add_anon links without accounting; account what munmap will take away.
    let vmas: Vec<(VmFlags, usize)> = mm.vmas().map(|v| (v.vm_flags, v.vma_pages())).collect();
    for (flags, pages) in vmas {
        vm_stat_account(&mut mm, flags, pages as isize);
    }
    for step in 0..600 {
        let start = pg(rng.below(top + 16));
        let len = (1 + rng.below(12)) * P;
        match rng.below(3) {
            0 => vm_munmap(&mut mm, &mut pt, start, len).unwrap(),
            1 => {
                let prot = [PROT_READ, RW_PROT][rng.below(2)];
                let _ =
                    crate::mm::mprotect::mprotect_locked(&mut mm, &mut pt, start, len, prot, -1);
            }
            _ => {
                mmap(&mut mm, &mut pt, start, len, RW_PROT, ANON | MAP_FIXED).unwrap();
            }
        }
        validate_mm(&mm).unwrap();
        if step % 10 == 0 {
            compare_searches(&mm, &mut rng, top + 32, 40);
        }
    }
}

#[test]
fn unmapped_area_is_sound_when_guard_gaps_overlap() {
    // Stacks right above other VMAs: whatever either search returns must be free, inside
    // the limits and outside the guard gap of the VMA above it.
    let mut rng = Rng(0xfeed);
    let (mut mm, _) = setup();
    let mut page = 0;
    for i in 0..400 {
        page += [0, 1, 2, 8, 40][rng.below(5)];
        let flags = if i % 3 == 0 {
            RW | VmFlags::VM_GROWSDOWN
        } else {
            RW
        };
        add_anon(&mut mm, page, page + 1, flags);
        page += 1;
    }
    validate_mm(&mm).unwrap();
    for _ in 0..2000 {
        let mut info = random_info(&mut rng, page);
        if let Ok(r) = unmapped_area(&mm, &info) {
            assert_sound(&mm, &info, r);
        }
        info.flags = VM_UNMAPPED_AREA_TOPDOWN;
        if let Ok(r) = unmapped_area_topdown(&mm, &info) {
            assert_sound(&mm, &info, r);
        }
    }
}

#[test]
fn unmapped_area_finds_the_one_hole_among_20001_vmas() {
    // 20,001 one-page VMAs back to back with a single two-page hole: both searches must
    // find it (the subtree gaps lead the descent there) and agree with the walk.
    let (mut mm, _) = setup();
    let hole = 12_345;
    for i in 0..20_001usize {
        let p = if i < hole { i } else { i + 2 };
        add_anon(&mut mm, p, p + 1, if i % 2 == 0 { RW } else { RO });
    }
    validate_mm(&mm).unwrap();
    let info = VmUnmappedAreaInfo {
        flags: 0,
        length: 2 * P,
        low_limit: pg(0),
        high_limit: pg(20_003),
        align_mask: 0,
        align_offset: 0,
    };
    assert_eq!(unmapped_area(&mm, &info), Ok(pg(hole)));
    assert_eq!(unmapped_area_linear(&mm, &info), Ok(pg(hole)));
    let down = VmUnmappedAreaInfo {
        flags: VM_UNMAPPED_AREA_TOPDOWN,
        ..info
    };
    assert_eq!(unmapped_area_topdown(&mm, &down), Ok(pg(hole)));
    // Three pages fit nowhere below the top VMA.
    let three = VmUnmappedAreaInfo {
        length: 3 * P,
        ..info
    };
    assert_eq!(unmapped_area(&mm, &three), Err(Errno::ENOMEM));
    assert_eq!(
        unmapped_area_topdown(
            &mm,
            &VmUnmappedAreaInfo {
                flags: VM_UNMAPPED_AREA_TOPDOWN,
                ..three
            }
        ),
        Err(Errno::ENOMEM)
    );
    // The tree stays shallow: a red-black tree of n nodes is at most 2 log2(n + 1) high.
    fn height(n: *mut RbNode) -> usize {
        if n.is_null() {
            return 0;
        }
        // SAFETY: a node of the test's tree.
        let v = unsafe { &*vma_of(n) };
        1 + height(v.vm_rb.rb_left).max(height(v.vm_rb.rb_right))
    }
    assert!(height(mm.mm_rb.rb_root.rb_node) <= 29);
}

#[test]
fn munmap_of_many_vmas_unmaps_them_in_batches_and_uncharges_once() {
    // 101 VMAs (every other page read-only) unmapped by one munmap: the page-table layer
    // sees them UNMAP_BATCH at a time, every one of them, tables freed after each batch,
    // and the overcommit charge comes back in one call.
    let (mut mm, mut pt) = setup();
    let n = 101;
    let r = mmap(&mut mm, &mut pt, 0, n * P, RW_PROT, ANON).unwrap();
    for i in (1..n).step_by(2) {
        crate::mm::mprotect::mprotect_locked(&mut mm, &mut pt, r + i * P, P, PROT_READ, -1)
            .unwrap();
    }
    assert_eq!(mm.map_count, n);
    pt.calls.clear();
    vm_munmap(&mut mm, &mut pt, r, n * P).unwrap();
    validate_mm(&mm).unwrap();
    assert_eq!(mm.map_count, 0);
    assert_eq!(mm.total_vm, 0);
    let mut seen = Vec::new();
    let mut batches = 0;
    for c in &pt.calls {
        match c {
            PtCall::UnmapVmas { ranges, start, end } => {
                assert_eq!((*start, *end), (r, r + n * P));
                assert!(ranges.len() <= UNMAP_BATCH);
                seen.extend(ranges.iter().copied());
                batches += 1;
            }
            PtCall::FreePgtables { ranges, .. } => assert!(ranges.len() <= UNMAP_BATCH),
            _ => {}
        }
    }
    assert_eq!(batches, n.div_ceil(UNMAP_BATCH));
    let want: Vec<(usize, usize)> = (0..n).map(|i| (r + i * P, r + (i + 1) * P)).collect();
    assert_eq!(seen, want);
    let uncharges: Vec<&PtCall> = pt
        .calls
        .iter()
        .filter(|c| matches!(c, PtCall::Uncharge(_)))
        .collect();
    // Every page keeps VM_ACCOUNT through mprotect to read-only (as in Linux).
    assert_eq!(uncharges, [&PtCall::Uncharge(n)]);
}

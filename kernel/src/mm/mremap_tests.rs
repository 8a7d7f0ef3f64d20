//! Host tests of `mremap.rs`: the VMA side of every path, against a recording page table.
use super::*;
use crate::mm::mmap::{do_mmap, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use crate::mm::vma::testing::*;
use crate::mm::vma::validate_mm;
use alloc::vec;

const P: usize = PAGE_SIZE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
const RW_PROT: usize = PROT_READ | PROT_WRITE;

fn map(mm: &mut MmapLocked, pt: &mut RecordingPageTables, addr: usize, len: usize) -> usize {
    let mut populate = 0;
    do_mmap(
        mm,
        pt,
        None,
        addr,
        len,
        RW_PROT,
        ANON | MAP_FIXED,
        0,
        &mut populate,
    )
    .unwrap()
}

fn remap(
    mm: &mut MmapLocked,
    pt: &mut RecordingPageTables,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: usize,
    new_addr: usize,
) -> KResult<usize> {
    let (mut detached, mut populate) = (None, None);
    let r = do_mremap(
        mm,
        pt,
        addr,
        old_len,
        new_len,
        flags,
        new_addr,
        &mut detached,
        &mut populate,
    );
    if let Some(d) = detached {
        d.unmap(mm, pt);
    }
    validate_mm(mm).unwrap();
    r
}

fn ranges(mm: &MmapLocked) -> vec::Vec<(usize, usize)> {
    mm.vmas().map(|v| (v.vm_start, v.vm_end)).collect()
}

#[test]
fn shrinking_unmaps_the_tail_in_place() {
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    let a = map(&mut mm, &mut pt, pg(0), 4 * P);
    assert_eq!(remap(&mut mm, &mut pt, a, 4 * P, 2 * P, 0, 0), Ok(a));
    assert_eq!(ranges(&mm), vec![(a, a + 2 * P)]);
    assert_eq!(mm.total_vm, 2);
}

#[test]
fn growing_into_free_space_extends_the_vma() {
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    let a = map(&mut mm, &mut pt, pg(0), 2 * P);
    assert_eq!(remap(&mut mm, &mut pt, a, 2 * P, 5 * P, 0, 0), Ok(a));
    assert_eq!(ranges(&mm), vec![(a, a + 5 * P)]);
    assert_eq!(mm.total_vm, 5);
}

#[test]
fn growing_against_the_next_vma_needs_maymove_and_then_moves() {
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    let a = map(&mut mm, &mut pt, pg(0), 2 * P);
    let mut populate = 0;
    do_mmap(
        &mut mm,
        &mut pt,
        None,
        pg(2),
        P,
        PROT_READ,
        ANON | MAP_FIXED,
        0,
        &mut populate,
    )
    .unwrap();
    assert_eq!(
        remap(&mut mm, &mut pt, a, 2 * P, 4 * P, 0, 0),
        Err(Errno::ENOMEM)
    );
    let b = remap(&mut mm, &mut pt, a, 2 * P, 4 * P, MREMAP_MAYMOVE, 0).unwrap();
    assert_ne!(b, a);
    // The old range is gone, the new one is 4 pages, the read-only neighbour stays.
    assert!(find_vma(&mm, a).is_some_and(|v| v.vm_start == pg(2)));
    assert!(find_vma(&mm, b).is_some_and(|v| v.vm_start == b && v.vm_end == b + 4 * P));
    assert_eq!(mm.total_vm, 5);
}

#[test]
fn fixed_unmaps_the_target_and_dontunmap_keeps_the_source() {
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    let a = map(&mut mm, &mut pt, pg(0), 2 * P);
    let t = map(&mut mm, &mut pt, pg(10), 3 * P);
    let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
    assert_eq!(remap(&mut mm, &mut pt, a, 2 * P, 2 * P, flags, t), Ok(t));
    // The moved VMA keeps its page offset (anonymous: its old address), so it does not
    // merge with what is left of the target, as in Linux.
    assert_eq!(ranges(&mm), vec![(t, t + 2 * P), (t + 2 * P, t + 3 * P)]);
    assert_eq!(mm.total_vm, 3);
    // DONTUNMAP: both ranges mapped afterwards.
    let b = remap(
        &mut mm,
        &mut pt,
        t,
        P,
        P,
        MREMAP_MAYMOVE | MREMAP_DONTUNMAP,
        0,
    )
    .unwrap();
    assert!(find_vma(&mm, t).is_some_and(|v| v.vm_start <= t));
    assert!(find_vma(&mm, b).is_some_and(|v| v.vm_start <= b));
    assert_eq!(mm.total_vm, 4);
}

#[test]
fn einval_and_efault_rows_come_in_linux_order() {
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    let a = map(&mut mm, &mut pt, pg(0), 2 * P);
    assert_eq!(remap(&mut mm, &mut pt, a, P, P, 8, 0), Err(Errno::EINVAL));
    assert_eq!(
        remap(&mut mm, &mut pt, a, P, P, MREMAP_FIXED, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        remap(&mut mm, &mut pt, a + 1, P, P, 0, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(remap(&mut mm, &mut pt, a, P, 0, 0, 0), Err(Errno::EINVAL));
    assert_eq!(
        remap(&mut mm, &mut pt, pg(40), P, 2 * P, MREMAP_MAYMOVE, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        remap(&mut mm, &mut pt, a, 3 * P, 4 * P, MREMAP_MAYMOVE, 0),
        Err(Errno::EFAULT)
    );
    assert_eq!(ranges(&mm), vec![(a, a + 2 * P)]);
}

#[test]
fn mremap_at_the_top_of_the_address_space_wraps_like_linux_and_does_not_overflow() {
    // `addr + new_len` and the overlap test `addr + old_len` are unsigned long sums in
    // Linux: for an aligned addr in the last page they wrap (found by `fuzz 1021 10000`,
    // which panicked here). A shrink then unmaps at the wrapped address (nothing is
    // mapped there) and returns addr; a move finds no VMA at addr: EFAULT.
    let (mut mm, mut pt) = (MmapLocked::new(), RecordingPageTables::new());
    map(&mut mm, &mut pt, 0x10_0000, 2 * P);
    let top = usize::MAX - P + 1;
    assert_eq!(remap(&mut mm, &mut pt, top, 2 * P, P, 0, 0), Ok(top));
    assert_eq!(remap(&mut mm, &mut pt, top, P, P, 0, 0), Ok(top));
    assert_eq!(
        remap(
            &mut mm,
            &mut pt,
            top,
            2 * P,
            P,
            MREMAP_MAYMOVE | MREMAP_FIXED,
            0x20_0000
        ),
        Err(Errno::EFAULT)
    );
    assert_eq!(ranges(&mm), vec![(0x10_0000, 0x10_0000 + 2 * P)]);
}

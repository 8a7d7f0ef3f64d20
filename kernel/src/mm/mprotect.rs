//! mprotect: change the access permissions of a range of VMAs.
//!
//! Linux: `mm/mprotect.c` (`do_mprotect_pkey`, `mprotect_fixup`; `change_protection` is
//! the page-table side, behind `VmaPageTables`). Callers: the system-call table
//! (`sys_mprotect`, `sys_pkey_mprotect`). Locking: the caller holds the mm lock (Linux
//! `mmap_lock`) for write.
use super::gup::mm_populate;
use super::mm_types::{MmStruct, MmapLocked};
use super::mmap::{
    calc_vm_prot_bits, may_expand_vm, vm_stat_account, vma_set_page_prot, vma_wants_writenotify,
    PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE,
};
use super::mmap_lock::{mmap_write_lock_killable, mmap_write_unlock};
use super::vma::{find_vma_key, split_vma, vma_merge, vma_next, vma_prev, VmFlags, VmaPageTables};
use super::{PAGE_SHIFT, PAGE_SIZE};
use crate::errno::{Errno, KResult};

/// Give `[start, end)` of the VMA keyed `vma` the flags `newflags`: merge it with its
/// neighbours if they now match (`vma_merge`), else split it out, then update the flags,
/// the page protection and the PTEs (Linux 5.10: `mprotect_fixup`). `prev` is the VMA
/// before `start` (or `vma` itself when `start` is inside it). Returns the key of the
/// VMA now covering `start` ("*pprev" in Linux), from which the caller continues.
///
/// Making a private mapping writable charges it to the overcommit accounting
/// (VM_ACCOUNT) and checks RLIMIT_DATA (ENOMEM); a split past max_map_count is ENOMEM.
/// A locked private VMA becoming writable is populated so COW happens now.
#[no_mangle]
#[inline(never)]
pub fn mprotect_fixup(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    prev: Option<usize>,
    start: usize,
    end: usize,
    newflags: VmFlags,
) -> KResult<usize> {
    let mut newflags = newflags;
    let v = &mm.mm_rb[&vma];
    let oldflags = v.vm_flags;
    let nrpages = (end - start) >> PAGE_SHIFT;
    let mut charged = 0;

    if newflags == oldflags {
        return Ok(vma);
    }

    // If we make a private mapping writable we increase our commit; but (without finer
    // accounting) cannot reduce our commit if we make it unwritable again.
    if newflags.contains(VmFlags::VM_WRITE) {
        // Check space limits when area turns into data.
        if !may_expand_vm(mm, newflags, nrpages) && may_expand_vm(mm, oldflags, nrpages) {
            return Err(Errno::ENOMEM);
        }
        if !oldflags.intersects(
            VmFlags::VM_ACCOUNT
                | VmFlags::VM_WRITE
                | VmFlags::VM_HUGETLB
                | VmFlags::VM_SHARED
                | VmFlags::VM_NORESERVE,
        ) {
            charged = nrpages;
            if pt.security_vm_enough_memory_mm(charged).is_err() {
                return Err(Errno::ENOMEM);
            }
            newflags |= VmFlags::VM_ACCOUNT;
        }
    }

    // First try to merge with previous and/or next vma.
    let v = &mm.mm_rb[&vma];
    let pgoff = v.vm_pgoff + ((start - v.vm_start) >> PAGE_SHIFT);
    let (anon_vma, file) = (v.anon_vma.clone(), v.vm_file.clone());
    let key = match vma_merge(
        mm,
        prev,
        start,
        end,
        newflags,
        anon_vma.as_ref(),
        file.as_ref(),
        pgoff,
    ) {
        Some(k) => k,
        None => {
            let mut key = vma;
            if start != mm.mm_rb[&key].vm_start {
                if let Err(e) = split_vma(mm, key, start, true) {
                    pt.vm_unacct_memory(charged);
                    return Err(e);
                }
                key = start;
            }
            if end != mm.mm_rb[&key].vm_end {
                if let Err(e) = split_vma(mm, key, end, false) {
                    pt.vm_unacct_memory(charged);
                    return Err(e);
                }
            }
            key
        }
    };

    // success: vm_flags and vm_page_prot are protected by the mm lock held for write.
    let v = mm
        .mm_rb
        .get_mut(&key)
        .expect("mprotect_fixup: vma vanished");
    v.vm_flags = newflags;
    let dirty_accountable = vma_wants_writenotify(v);
    vma_set_page_prot(v);
    let v = &mm.mm_rb[&key];
    pt.change_protection(v, start, end, v.vm_page_prot, dirty_accountable);

    // Private VM_LOCKED VMA becoming writable: trigger COW to avoid major fault on access.
    if oldflags & (VmFlags::VM_WRITE | VmFlags::VM_SHARED | VmFlags::VM_LOCKED)
        == VmFlags::VM_LOCKED
        && newflags.contains(VmFlags::VM_WRITE)
    {
        // Linux: populate_vma_page_range(vma, start, end); the range is inside one VMA.
        pt.mm_populate(mm, start, end - start);
    }

    vm_stat_account(mm, oldflags, -(nrpages as isize));
    vm_stat_account(mm, newflags, nrpages as isize);
    Ok(key)
}

/// Does arm64 accept these PROT_* bits (Linux: `arch_validate_prot`)? READ, WRITE, EXEC
/// and SEM; PROT_BTI / PROT_MTE only on CPUs with BTI / MTE, which Cortex-A72 lacks.
fn arch_validate_prot(prot: usize) -> bool {
    prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) == 0
}

/// Change the protection of `[start, start + len)` to `prot` (Linux 5.10:
/// `do_mprotect_pkey`). Errors in Linux's order: EINVAL for both PROT_GROWSDOWN and
/// PROT_GROWSUP, EINVAL for an unaligned `start`; `len == 0` succeeds; ENOMEM if the
/// range wraps; EINVAL for PROT_* bits arm64 does not know; EINVAL for a pkey other than
/// -1 or 0 (no pkeys on arm64); ENOMEM if `start` is not mapped; EINVAL for
/// PROT_GROWSDOWN on a non-growsdown VMA (or any PROT_GROWSUP); then VMA by VMA: EACCES
/// when a permission exceeds the VMA's VM_MAY* bits, `mprotect_fixup`'s errors, ENOMEM at
/// a hole. VMAs already changed stay changed when a later one fails, as in Linux.
///
/// This is the part under `mmap_lock` held for write; `do_mprotect_pkey` takes the lock.
pub fn mprotect_locked(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
    prot: usize,
    pkey: i32,
) -> KResult<()> {
    let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    let prot = prot & !(PROT_GROWSDOWN | PROT_GROWSUP);
    let mut start = start;

    if grows == PROT_GROWSDOWN | PROT_GROWSUP {
        // Can't be both.
        return Err(Errno::EINVAL);
    }
    if start & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(());
    }
    let len = len.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    let end = start.wrapping_add(len);
    if end <= start {
        return Err(Errno::ENOMEM);
    }
    if !arch_validate_prot(prot) {
        return Err(Errno::EINVAL);
    }
    // If userspace did not allocate the pkey, do not let them use it here
    // (mm_pkey_is_allocated without pkeys: only pkey 0).
    if pkey != -1 && pkey != 0 {
        return Err(Errno::EINVAL);
    }

    let Some(mut vma) = find_vma_key(mm, start) else {
        return Err(Errno::ENOMEM);
    };
    let mut prev = vma_prev(mm, vma);
    let v = &mm.mm_rb[&vma];
    if grows & PROT_GROWSDOWN != 0 {
        if v.vm_start >= end {
            return Err(Errno::ENOMEM);
        }
        start = v.vm_start;
        if !v.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
            return Err(Errno::EINVAL);
        }
    } else {
        if v.vm_start > start {
            return Err(Errno::ENOMEM);
        }
        if grows & PROT_GROWSUP != 0 {
            // Linux extends `end` to vm_end here, then finds no VM_GROWSUP (none on arm64).
            return Err(Errno::EINVAL);
        }
    }
    if start > v.vm_start {
        prev = Some(vma);
    }

    let mut nstart = start;
    loop {
        // Here we know that vma.vm_start <= nstart < vma.vm_end.
        let v = &mm.mm_rb[&vma];

        // Each mprotect() call explicitly passes r/w/x permissions. If a permission is
        // not passed to mprotect(), it must be cleared from the VMA.
        let mask_off_old_flags = VmFlags::VM_ACCESS_FLAGS | VmFlags::VM_FLAGS_CLEAR;
        let newflags = calc_vm_prot_bits(prot, 0) | v.vm_flags.difference(mask_off_old_flags);

        // newflags >> 4 shifts VM_MAY% in place of VM_%.
        let may = VmFlags::from_bits_retain(newflags.bits() >> 4);
        if newflags
            .difference(may)
            .intersects(VmFlags::VM_ACCESS_FLAGS)
        {
            return Err(Errno::EACCES);
        }

        let tmp = v.vm_end.min(end);
        let p = mprotect_fixup(mm, pt, vma, prev, nstart, tmp, newflags)?;
        prev = Some(p);
        nstart = tmp;

        let prev_end = mm.mm_rb[&p].vm_end;
        if nstart < prev_end {
            nstart = prev_end;
        }
        if nstart >= end {
            return Ok(());
        }

        match vma_next(mm, Some(p)) {
            Some(n) if n == nstart => vma = n,
            _ => return Err(Errno::ENOMEM),
        }
        // (Linux resets prot = reqprot here, undoing READ_IMPLIES_EXEC; not modelled.)
    }
}

/// mprotect with a protection key (Linux: `do_mprotect_pkey`): `mprotect_locked` under
/// `mmap_lock` taken for write (EINTR if killed while waiting). A locked private VMA made
/// writable is populated once the lock is dropped (Linux calls `populate_vma_page_range`
/// under the write lock; our populate always runs under the read lock it takes itself).
#[no_mangle]
#[inline(never)]
pub fn do_mprotect_pkey(
    mm: &MmStruct,
    start: usize,
    len: usize,
    prot: usize,
    pkey: i32,
) -> KResult<()> {
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let r = mprotect_locked(&mut guard, &mut pt, start, len, prot, pkey);
    mmap_write_unlock(guard);
    for (start, len) in pt.populate.drain(..) {
        mm_populate(mm, start, len);
    }
    r
}

/// mprotect(2) (Linux: `SYSCALL_DEFINE3(mprotect)` = `do_mprotect_pkey` with pkey -1).
#[no_mangle]
#[inline(never)]
pub fn sys_mprotect(mm: &MmStruct, start: usize, len: usize, prot: usize) -> KResult<usize> {
    do_mprotect_pkey(mm, start, len, prot, -1)?;
    Ok(0)
}

/// Rewrite the present PTEs of `[start, end)` in `vma` (which already carries its new
/// flags) with `newprot`, flushing each changed entry from the TLB. A private page the
/// process already owns stays writable when the VMA allows writes (Linux keeps the
/// write/dirty state through `pte_modify`). Returns the number of PTEs changed. Linux:
/// `change_protection` -> `change_pte_range`. Locking: `mmap_lock` for write, the
/// page-table lock around each PTE change.
#[no_mangle]
#[inline(never)]
pub fn change_protection(
    pgd: usize,
    asid: u16,
    vma: &super::vma::VmArea,
    start: usize,
    end: usize,
    newprot: crate::arch::aarch64::pgtable::PgProt,
    _dirty_accountable: bool,
) -> usize {
    use crate::arch::aarch64::pgtable::{pte_mkwrite, pte_modify, pte_present, pte_write};
    let mut n = 0;
    let shared = vma.vm_flags.contains(VmFlags::VM_SHARED);
    let writable = vma.vm_flags.contains(VmFlags::VM_WRITE);
    super::memory::for_each_pte(pgd, start, end, |va, pte| {
        if !pte_present(*pte) {
            return;
        }
        let mut new = pte_modify(*pte, newprot);
        if writable && !shared && pte_write(*pte) && !super::memory::is_zero_pte(*pte) {
            new = pte_mkwrite(new);
        }
        if new != *pte {
            *pte = new;
            crate::arch::cpu::flush_tlb_page(asid, va);
            n += 1;
        }
    });
    n
}

#[cfg(test)]
mod tests {
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
        do_mmap, vm_get_page_prot, MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_LOCKED,
        MAP_PRIVATE, MAP_SHARED, PROT_BTI, PROT_MTE,
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
        mm.mm_rb.get_mut(&B).unwrap().set_anon_vma(AnonVma::new());
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
}

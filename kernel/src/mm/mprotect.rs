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
#[path = "mprotect_tests.rs"]
mod tests;

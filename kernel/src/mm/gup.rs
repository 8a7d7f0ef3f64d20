//! Get-user-pages: walk a user range, faulting pages in as needed.
//!
//! Linux: `mm/gup.c`. Callers: `__mm_populate` (mlock, MAP_POPULATE, MAP_LOCKED,
//! mlockall(MCL_FUTURE), madvise(MADV_POPULATE_*/WILLNEED)), and kernel code that needs
//! user pages pinned (`get_user_pages`).
//! Locking: the caller holds `mm.mmap_lock` for read and hands the guard in as `locked`
//! (Linux's `int *locked`: `Some` = 1, `None` = 0). A fault that must wait for the disk
//! lets go of it (VM_FAULT_RETRY): `faultin_page` sets `*locked = None`, runs the I/O
//! unlocked, and `__get_user_pages` returns the pages done so far; `__mm_populate` then
//! takes the lock again and looks the VMA up afresh, exactly as Linux 5.10 does.
//! Differences: no huge pages, so `follow_pmd_mask` always reaches a PTE table; and gup
//! never grows a stack VMA (Linux 6.5 stopped that too: `find_extend_vma` became
//! `vma_lookup`), since growing needs the lock for write.
use crate::arch::aarch64::pgtable::{
    decode, pte_dirty, pte_present, pte_write, table_index, Desc, Pte,
};
use crate::errno::{Errno, KResult};
use crate::mm::memory::{
    handle_mm_fault, is_zero_pte, pgtable_entries, pte_offset_map, pte_page, FaultFlags,
    FaultResult,
};
use crate::mm::mm_types::MmStruct;
use crate::mm::mmap_lock::{mmap_read_lock, MmapReadGuard};
use crate::mm::page::{get_page, Page};
use crate::mm::vma::{VmArea, VmFlags};
use crate::mm::PAGE_SIZE;
use alloc::vec::Vec;
use bitflags::bitflags;

bitflags! {
    /// How to follow and fault the pages (Linux: `FOLL_*` in include/linux/mm.h).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FollFlags: u32 {
        /// The pages will be written (break COW now).
        const FOLL_WRITE = 0x01;
        /// Mark the pages accessed.
        const FOLL_TOUCH = 0x02;
        /// Take a reference on each page returned.
        const FOLL_GET = 0x04;
        /// Give an error for the zero page and holes (core dumps).
        const FOLL_DUMP = 0x08;
        /// Get the page even if the VMA forbids the access (ptrace, mlock).
        const FOLL_FORCE = 0x10;
        /// Fault pages in even without a `pages` array (populate).
        const FOLL_POPULATE = 0x40;
        /// A poisoned page fails with EHWPOISON instead of EFAULT (Linux:
        /// `FOLL_HWPOISON`, which KVM passes).
        const FOLL_HWPOISON = 0x100;
        /// Mark pages of VM_LOCKED VMAs mlocked.
        const FOLL_MLOCK = 0x1000;
        /// Another process's mm (ptrace).
        const FOLL_REMOTE = 0x2000;
        /// COW has been broken once: follow the read-only PTE of a forced write.
        const FOLL_COW = 0x4000;
        /// A retry after VM_FAULT_RETRY: the fault may not let go of the lock again
        /// (Linux: `FOLL_TRIED`).
        const FOLL_TRIED = 0x800;
    }
}

/// Outcome of following one address (Linux: a page, NULL for "fault it in", or an
/// ERR_PTR).
pub enum Follow {
    /// The page is present with the access the flags need.
    Page(&'static Page),
    /// Not present (or not writable for FOLL_WRITE): `faultin_page` must run.
    NoPage,
}

/// May a FOLL_WRITE walk use this PTE? If it is writable, yes; if not, only for a forced
/// write (FOLL_FORCE) that already broke COW (FOLL_COW) and whose private copy is still
/// there: a dirty PTE. A clean one means the copy was thrown away meanwhile (say by
/// MADV_DONTNEED) and the entry maps the file's page again: fault once more (Linux:
/// `can_follow_write_pte`, the fix for Dirty COW, CVE-2016-5195).
pub fn can_follow_write_pte(pte: Pte, flags: FollFlags) -> bool {
    pte_write(pte)
        || (flags.contains(FollFlags::FOLL_FORCE)
            && flags.contains(FollFlags::FOLL_COW)
            && pte_dirty(pte))
}

/// The last level: the PTE for `address`. Linux: `follow_page_pte`.
#[no_mangle]
#[inline(never)]
pub fn follow_page_pte(
    vma: &VmArea,
    pte_table: usize,
    address: usize,
    flags: FollFlags,
) -> KResult<Follow> {
    // SAFETY: `pte_table` came from a present pmd entry (`follow_page_mask`), and the
    // caller's `mmap_lock` keeps page-table pages from being freed.
    let pte = unsafe { *pte_offset_map(pte_table, address) };
    if !pte_present(pte) {
        return Ok(Follow::NoPage);
    }
    // A write through a read-only PTE needs the fault path (COW), unless COW was
    // already broken for a forced write to a read-only VMA.
    if flags.contains(FollFlags::FOLL_WRITE) && !can_follow_write_pte(pte, flags) {
        return Ok(Follow::NoPage);
    }
    if is_zero_pte(pte) && flags.contains(FollFlags::FOLL_DUMP) {
        return Err(Errno::EFAULT);
    }
    let page = pte_page(pte);
    if flags.contains(FollFlags::FOLL_GET) {
        get_page(page);
    }
    if flags.contains(FollFlags::FOLL_TOUCH) {
        crate::mm::swap::mark_page_accessed(page);
    }
    if flags.contains(FollFlags::FOLL_MLOCK)
        && vma.vm_flags.contains(VmFlags::VM_LOCKED)
        && !is_zero_pte(pte)
    {
        // Linux mlocks only pages it can lock and that are still mapped here; the zero
        // page is never mlocked.
        crate::mm::mlock::mlock_vma_page(page);
    }
    Ok(Follow::Page(page))
}

/// Walk pgd -> pud -> pmd -> pte for `address`. Linux: `follow_page_mask` ->
/// `follow_p4d_mask` -> `follow_pud_mask` -> `follow_pmd_mask` -> `follow_page_pte`.
#[no_mangle]
#[inline(never)]
pub fn follow_page_mask(
    vma: &VmArea,
    pgd: usize,
    address: usize,
    flags: FollFlags,
) -> KResult<Follow> {
    let mut t = pgd;
    for level in 0..3 {
        // SAFETY: `t` is the pgd or a table a present entry one level up points at; the
        // caller's `mmap_lock` keeps page-table pages from being freed.
        let entry = unsafe { pgtable_entries(t)[table_index(address, level)] };
        match decode(entry, level) {
            Desc::Table(next) => t = next,
            // An empty level: nothing mapped yet (Linux: no_page_table).
            _ => return Ok(Follow::NoPage),
        }
    }
    follow_page_pte(vma, t, address, flags)
}

/// Fault in the page at `address` for the access `flags` describe. Linux: `faultin_page`.
/// Returns Err(ENOENT) for "mlock what is present, but fault nothing in"
/// (FOLL_MLOCK without FOLL_POPULATE: MLOCK_ONFAULT), which the caller skips, and
/// Err(EBUSY) when the fault let go of `mmap_lock` to wait for I/O: `*locked` is then
/// None, `vma` must not be used again, and the caller returns what it has (Linux: the
/// VM_FAULT_RETRY branch, `*locked = 0; return -EBUSY`).
#[no_mangle]
#[inline(never)]
pub fn faultin_page<'a>(
    mm: &'a MmStruct,
    vma: &VmArea,
    address: usize,
    flags: &mut FollFlags,
    locked: &mut Option<MmapReadGuard<'a>>,
) -> KResult<()> {
    if flags.contains(FollFlags::FOLL_MLOCK) && !flags.contains(FollFlags::FOLL_POPULATE) {
        return Err(Errno::ENOENT);
    }
    let mut fault_flags = FaultFlags::empty();
    if flags.contains(FollFlags::FOLL_WRITE) {
        fault_flags |= FaultFlags::WRITE;
    }
    if flags.contains(FollFlags::FOLL_REMOTE) {
        fault_flags |= FaultFlags::REMOTE;
    }
    if locked.is_some() {
        fault_flags |= FaultFlags::ALLOW_RETRY | FaultFlags::KILLABLE;
    }
    if flags.contains(FollFlags::FOLL_TRIED) {
        // Can't retry twice in a row (Linux: gup's FOLL_TRIED -> FAULT_FLAG_TRIED).
        fault_flags |= FaultFlags::TRIED;
    }
    match handle_mm_fault(mm, vma, address, fault_flags) {
        FaultResult::Handled => {}
        FaultResult::Retry => {
            // VM_FAULT_RETRY: pin the file, then the lock goes, the disk works, and
            // nobody waits on us (Linux: maybe_unlock_mmap_for_io in filemap_fault).
            let retry = crate::mm::memory::FaultRetry::new(vma, address);
            *locked = None;
            match retry {
                Some(crate::mm::memory::FaultRetry {
                    swap: Some(entry), ..
                }) => crate::mm::memory::do_swap_page_io(entry),
                Some(crate::mm::memory::FaultRetry {
                    uffd: Some(ctx),
                    pgoff,
                    ..
                }) => crate::mm::userfaultfd::handle_userfault_wait(
                    &ctx,
                    pgoff << crate::arch::PAGE_SHIFT,
                    false,
                ),
                Some(r) if r.async_ra => crate::mm::filemap::do_async_mmap_readahead(r),
                Some(r) => crate::mm::filemap::do_sync_mmap_readahead(r),
                None => {}
            }
            return Err(Errno::EBUSY);
        }
        FaultResult::Oom => return Err(Errno::ENOMEM),
        // Linux: vm_fault_to_errno: EHWPOISON only for a caller that asked.
        FaultResult::HwPoison if flags.contains(FollFlags::FOLL_HWPOISON) => {
            return Err(Errno::EHWPOISON)
        }
        FaultResult::HwPoison => return Err(Errno::EFAULT),
        FaultResult::Sigbus | FaultResult::BadArea | FaultResult::BadAccess => {
            return Err(Errno::EFAULT)
        }
    }
    // A forced write to a read-only private VMA broke COW but left the PTE read-only:
    // follow it as it is from now on (Linux: VM_FAULT_WRITE && !VM_WRITE -> FOLL_COW).
    if flags.contains(FollFlags::FOLL_WRITE) && !vma.vm_flags.contains(VmFlags::VM_WRITE) {
        *flags |= FollFlags::FOLL_COW;
    }
    Ok(())
}

/// May `flags` access `vma` at all? Linux: `check_vma_flags`.
pub fn check_vma_flags(vma: &VmArea, flags: FollFlags) -> KResult<()> {
    let vm = vma.vm_flags;
    if vm.intersects(VmFlags::VM_IO | VmFlags::VM_PFNMAP) {
        return Err(Errno::EFAULT);
    }
    let forced = flags.contains(FollFlags::FOLL_FORCE);
    if flags.contains(FollFlags::FOLL_WRITE) {
        if !vm.contains(VmFlags::VM_WRITE) {
            // Forcing a write is only allowed where it cannot reach the file: COW mappings.
            let is_cow = !vm.contains(VmFlags::VM_SHARED) && vm.contains(VmFlags::VM_MAYWRITE);
            if !forced || !is_cow {
                return Err(Errno::EFAULT);
            }
        }
    } else if !vm.contains(VmFlags::VM_READ) && (!forced || !vm.contains(VmFlags::VM_MAYREAD)) {
        return Err(Errno::EFAULT);
    }
    Ok(())
}

/// A VMA found under `mmap_lock`, used across a call that may drop the lock. Linux passes
/// `struct vm_area_struct *` around under the same rule: valid while the lock is held,
/// looked up again once it was let go.
pub(crate) fn vma_under_lock<'v>(vma: *const VmArea) -> &'v VmArea {
    // SAFETY: callers take `vma` from the tree of the `mmap_lock` guard they hold and use
    // the reference only while that guard is held: after `faultin_page` returns EBUSY (the
    // one place the guard is dropped) they return without touching it, and the tree is
    // only changed under the write lock, which cannot be taken while we read.
    unsafe { &*vma }
}

/// Make `nr_pages` pages from `start` present for `gup_flags`, faulting them in, and
/// collect them in `pages` if given (with a reference each when FOLL_GET). Returns the
/// number of pages done; an error only if the very first page failed. Linux:
/// `__get_user_pages`.
///
/// Locking: `*locked` holds `mm.mmap_lock` for read on entry. If a fault had to wait
/// for I/O it is None on return (the lock was dropped, Linux's `*locked = 0`), and the
/// count covers the pages done before that fault.
#[no_mangle]
#[inline(never)]
pub fn __get_user_pages<'a>(
    mm: &'a MmStruct,
    mut start: usize,
    nr_pages: usize,
    gup_flags: FollFlags,
    mut pages: Option<&mut Vec<&'static Page>>,
    locked: &mut Option<MmapReadGuard<'a>>,
) -> KResult<usize> {
    let mut i = 0;
    let mut vma: Option<*const VmArea> = None;
    while i < nr_pages {
        // A killed task stops populating at once; a long walk lets others run (Linux:
        // fatal_signal_pending + cond_resched at the top of each page).
        if crate::sync::wait::fatal_signal_pending() {
            return if i > 0 { Ok(i) } else { Err(Errno::EINTR) };
        }
        crate::sync::wait::cond_resched();
        let Some(guard) = locked.as_deref() else {
            break;
        };
        // Find the VMA again when we walk off the end of the current one.
        if vma.is_none_or(|v| start >= vma_under_lock(v).vm_end) {
            // Linux 6.5 `gup_vma_lookup`: a VMA that covers `start`, no stack growth.
            let found = crate::mm::vma::find_vma(guard, start).filter(|v| v.vm_start <= start);
            let Some(v) = found else {
                return if i > 0 { Ok(i) } else { Err(Errno::EFAULT) };
            };
            if let Err(e) = check_vma_flags(v, gup_flags) {
                return if i > 0 { Ok(i) } else { Err(e) };
            }
            vma = Some(v as *const VmArea);
        }
        let v = vma_under_lock(vma.expect("looked up above"));
        let mut foll_flags = gup_flags;
        loop {
            // Linux: follow_page_pte takes the PTE lock around its look at the entry.
            let followed = {
                let _ptl = mm.page_table_lock.lock();
                follow_page_mask(v, mm.pgd, start, foll_flags)
            };
            match followed {
                Ok(Follow::Page(page)) => {
                    if let Some(p) = pages.as_deref_mut() {
                        p.push(page);
                    }
                    break;
                }
                Ok(Follow::NoPage) => match faultin_page(mm, v, start, &mut foll_flags, locked) {
                    Ok(()) => continue,                // retry the lookup
                    Err(Errno::ENOENT) => break,       // MLOCK_ONFAULT: skip absent pages
                    Err(Errno::EBUSY) => return Ok(i), // lock dropped: report progress
                    Err(e) => return if i > 0 { Ok(i) } else { Err(e) },
                },
                Err(e) => return if i > 0 { Ok(i) } else { Err(e) },
            }
        }
        i += 1;
        start += PAGE_SIZE;
    }
    Ok(i)
}

/// Fault in `[start, end)` of `vma` so every page is present (and mlocked when
/// VM_LOCKED). Returns the number of pages done. Linux 5.10: `populate_vma_page_range`.
/// Locking: `*locked` holds `mmap_lock` for read; it may come back None (see
/// `__get_user_pages`).
#[no_mangle]
#[inline(never)]
pub fn populate_vma_page_range<'a>(
    mm: &'a MmStruct,
    vma: &VmArea,
    start: usize,
    end: usize,
    locked: &mut Option<MmapReadGuard<'a>>,
) -> KResult<usize> {
    let vm = vma.vm_flags;
    let mut gup_flags = FollFlags::FOLL_TOUCH | FollFlags::FOLL_POPULATE | FollFlags::FOLL_MLOCK;
    if vm.contains(VmFlags::VM_LOCKONFAULT) {
        gup_flags.remove(FollFlags::FOLL_POPULATE);
    }
    // Private writable: break COW now, or a later write would fault (and munlock).
    if vm & (VmFlags::VM_WRITE | VmFlags::VM_SHARED) == VmFlags::VM_WRITE {
        gup_flags |= FollFlags::FOLL_WRITE;
    }
    // Accessible VMAs are forced (mlock may lock memory it cannot read, e.g. PROT_EXEC
    // only); a PROT_NONE VMA gets no FOLL_FORCE, so check_vma_flags refuses it with
    // EFAULT, which mlock reports as ENOMEM (Linux: vma_is_accessible).
    if vm.intersects(VmFlags::VM_READ | VmFlags::VM_WRITE | VmFlags::VM_EXEC) {
        gup_flags |= FollFlags::FOLL_FORCE;
    }
    let nr_pages = (end - start) / PAGE_SIZE;
    __get_user_pages(mm, start, nr_pages, gup_flags, None, locked)
}

/// Fault in `[start, end)` of `vma` as reads (or writes) would, for
/// MADV_POPULATE_READ/WRITE. EINVAL where the VMA forbids the access or is
/// VM_IO/VM_PFNMAP; otherwise `__get_user_pages`' result (pages done, or EFAULT for
/// SIGBUS, ENOMEM). Linux 5.14: `faultin_vma_page_range`. Locking: `*locked` holds
/// `mmap_lock` for read and may come back None.
#[no_mangle]
#[inline(never)]
pub fn faultin_vma_page_range<'a>(
    mm: &'a MmStruct,
    vma: &VmArea,
    start: usize,
    end: usize,
    write: bool,
    locked: &mut Option<MmapReadGuard<'a>>,
) -> KResult<usize> {
    let mut gup_flags = FollFlags::FOLL_TOUCH | FollFlags::FOLL_POPULATE | FollFlags::FOLL_MLOCK;
    if write {
        gup_flags |= FollFlags::FOLL_WRITE;
    }
    // We want to report EINVAL instead of EFAULT for any permission problems or
    // incompatible mappings.
    if check_vma_flags(vma, gup_flags).is_err() {
        return Err(Errno::EINVAL);
    }
    let nr_pages = (end - start) / PAGE_SIZE;
    __get_user_pages(mm, start, nr_pages, gup_flags, None, locked)
}

/// Populate every VMA in `[start, start + len)`, VMA by VMA; with `ignore_errors`, a
/// failing VMA is skipped (MAP_POPULATE, mlockall), else the first error is returned
/// (mlock: ENOMEM for a hole is reported by the caller). Linux: `__mm_populate`.
///
/// Locking: called without `mmap_lock`; takes it for read and keeps `locked`. While it
/// holds the lock it steps to the next VMA in the tree (Linux: `vma->vm_next`); only after
/// a fault dropped it (VM_FAULT_RETRY) does it take it again and look the VMA up afresh,
/// since the tree may have changed meanwhile.
#[no_mangle]
#[inline(never)]
pub fn __mm_populate(mm: &MmStruct, start: usize, len: usize, ignore_errors: bool) -> KResult<()> {
    let end = start.saturating_add(len);
    let mut locked: Option<MmapReadGuard<'_>> = None;
    let mut vma: Option<*const VmArea> = None;
    let mut nstart = start;
    let mut result = Ok(());
    while nstart < end {
        // We might have dropped the lock: take it again and find the VMA afresh.
        if locked.is_none() {
            let guard = locked.insert(mmap_read_lock(mm));
            vma = crate::mm::vma::find_vma(guard, nstart).map(|v| v as *const VmArea);
        } else if let Some(v) = vma {
            if nstart >= vma_under_lock(v).vm_end {
                // vma = vma->vm_next.
                let guard = locked.as_deref().expect("checked above");
                vma = crate::mm::vma::vma_next(guard, Some(vma_under_lock(v).vm_start))
                    .and_then(|k| guard.vma(k))
                    .map(|v| v as *const VmArea);
            }
        }
        let Some(vp) = vma else { break };
        let v = vma_under_lock(vp);
        if v.vm_start >= end {
            break;
        }
        // Set [nstart; nend) to the intersection of the desired address range with
        // the VMA.
        let mut nend = end.min(v.vm_end);
        if v.vm_flags.intersects(VmFlags::VM_IO | VmFlags::VM_PFNMAP) {
            nstart = nend;
            continue;
        }
        nstart = nstart.max(v.vm_start);
        // Now fault in a range of pages. populate_vma_page_range() may drop the lock
        // (locked becomes None), in which case it returns the pages done before that.
        match populate_vma_page_range(mm, v, nstart, nend, &mut locked) {
            Ok(done) => nend = nstart + done * PAGE_SIZE,
            Err(_) if ignore_errors => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        nstart = nend;
    }
    // Linux: if (locked) mmap_read_unlock(mm).
    drop(locked);
    result
}

/// Populate with errors ignored (Linux: `mm_populate`, for MAP_POPULATE / MAP_LOCKED /
/// brk under mlockall(MCL_FUTURE)). Called without `mmap_lock`.
#[no_mangle]
#[inline(never)]
pub fn mm_populate(mm: &MmStruct, start: usize, len: usize) {
    let _ = __mm_populate(mm, start, len, true);
}

/// Pin `nr_pages` pages of another address space from `start` (each returned with a
/// reference the caller drops with `put_page`). Linux: `get_user_pages_remote`, used by
/// /proc/<pid>/cmdline (through `access_remote_vm`), ptrace and core dumps.
/// Locking: takes `mm.mmap_lock` for read; the caller must not hold it. Like Linux's
/// `__access_remote_vm`, which passes `locked = NULL`, the lock is never dropped midway
/// here: a page that needs I/O is read under it.
pub fn get_user_pages_remote(
    mm: &MmStruct,
    start: usize,
    nr_pages: usize,
    gup_flags: FollFlags,
) -> KResult<Vec<&'static Page>> {
    let mut pages = Vec::new();
    let mut locked = Some(mmap_read_lock(mm));
    __get_user_pages(
        mm,
        start,
        nr_pages,
        gup_flags | FollFlags::FOLL_GET | FollFlags::FOLL_REMOTE | FollFlags::FOLL_TRIED,
        Some(&mut pages),
        &mut locked,
    )?;
    Ok(pages)
}

/// The page a core dump writes for `addr` of `mm`, with a reference the caller drops:
/// None for a hole, the zero page or a VMA a dump skips, which the dump writes as
/// zeros without allocating anything (Linux: `get_dump_page`: FOLL_FORCE | FOLL_DUMP |
/// FOLL_GET, no fault-in). Takes `mmap_lock` for read.
#[no_mangle]
#[inline(never)]
pub fn get_dump_page(mm: &MmStruct, addr: usize) -> Option<&'static Page> {
    let m = mmap_read_lock(mm);
    let vma = crate::mm::vma::find_vma(&m, addr).filter(|v| v.vm_start <= addr)?;
    match follow_page_mask(
        vma,
        mm.pgd,
        addr,
        FollFlags::FOLL_GET | FollFlags::FOLL_DUMP,
    ) {
        Ok(Follow::Page(p)) => Some(p),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::aarch64::pgtable::{mk_pte, pte_mkdirty, pte_mkwrite, PAGE_READONLY};

    #[test]
    fn a_forced_cow_write_follows_only_its_dirty_private_copy() {
        let clean = mk_pte(0x4000_0000, PAGE_READONLY);
        let forced = FollFlags::FOLL_WRITE | FollFlags::FOLL_FORCE | FollFlags::FOLL_COW;
        // Writable: always.
        assert!(can_follow_write_pte(
            pte_mkwrite(clean),
            FollFlags::FOLL_WRITE
        ));
        // Read-only: not without FOLL_FORCE and FOLL_COW...
        assert!(!can_follow_write_pte(clean, FollFlags::FOLL_WRITE));
        assert!(!can_follow_write_pte(
            pte_mkdirty(clean),
            FollFlags::FOLL_WRITE | FollFlags::FOLL_FORCE
        ));
        // ... and not when the PTE is clean: the copy was dropped (MADV_DONTNEED) and the
        // entry is the file's page again. Dirty COW wrote the file right here.
        assert!(!can_follow_write_pte(clean, forced));
        assert!(can_follow_write_pte(pte_mkdirty(clean), forced));
    }
}

//! Get-user-pages: walk a user range, faulting pages in as needed.
//!
//! Linux: `mm/gup.c`. Callers: `__mm_populate` (mlock, MAP_POPULATE, MAP_LOCKED,
//! mlockall(MCL_FUTURE), madvise(MADV_POPULATE_*/WILLNEED)), and kernel code that needs
//! user pages pinned (`get_user_pages`).
//! Locking: the caller holds the mm lock (our `MmStruct` guard) for the whole walk.
//! Difference from 5.10: we never drop the lock mid-range (no VM_FAULT_RETRY), so the
//! `locked` argument is gone; there are no huge pages, so `follow_pmd_mask` always
//! reaches a PTE table.
use crate::arch::aarch64::pgtable::{
    decode, pte_present, pte_write, table_index, Desc, PTRS_PER_TABLE,
};
use crate::arch::phys_to_virt;
use crate::errno::{Errno, KResult};
use crate::mm::memory::{handle_mm_fault, is_zero_pte, pte_page, FaultFlags, FaultResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::page::{get_page, Page, PageFlags};
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
        /// Mark pages of VM_LOCKED VMAs mlocked.
        const FOLL_MLOCK = 0x1000;
        /// Another process's mm (ptrace).
        const FOLL_REMOTE = 0x2000;
        /// COW has been broken once: follow the read-only PTE of a forced write.
        const FOLL_COW = 0x4000;
    }
}

fn table<'a>(pa: usize) -> &'a [u64; PTRS_PER_TABLE] {
    // SAFETY: page-table pages are mapped by the linear map.
    unsafe { &*(phys_to_virt(pa) as *const [u64; PTRS_PER_TABLE]) }
}

/// Outcome of following one address (Linux: a page, NULL for "fault it in", or an
/// ERR_PTR).
pub enum Follow {
    /// The page is present with the access the flags need.
    Page(&'static Page),
    /// Not present (or not writable for FOLL_WRITE): `faultin_page` must run.
    NoPage,
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
    let pte = table(pte_table)[table_index(address, 3)];
    if !pte_present(pte) {
        return Ok(Follow::NoPage);
    }
    // A write through a read-only PTE needs the fault path (COW), unless COW was
    // already broken for a forced write to a read-only VMA (Linux: can_follow_write_pte).
    if flags.contains(FollFlags::FOLL_WRITE)
        && !pte_write(pte)
        && !flags.contains(FollFlags::FOLL_COW)
    {
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
        page.set_flags(PageFlags::PG_referenced); // Linux: mark_page_accessed
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
        match decode(table(t)[table_index(address, level)], level) {
            Desc::Table(next) => t = next,
            // An empty level: nothing mapped yet (Linux: no_page_table).
            _ => return Ok(Follow::NoPage),
        }
    }
    follow_page_pte(vma, t, address, flags)
}

/// Fault in the page at `address` for the access `flags` describe. Linux: `faultin_page`.
/// Returns Err(ENOENT) for "mlock what is present, but fault nothing in"
/// (FOLL_MLOCK without FOLL_POPULATE: MLOCK_ONFAULT), which the caller skips.
#[no_mangle]
#[inline(never)]
pub fn faultin_page(
    vma: &VmArea,
    pgd: usize,
    asid: u16,
    address: usize,
    flags: &mut FollFlags,
) -> KResult<()> {
    if flags.contains(FollFlags::FOLL_MLOCK) && !flags.contains(FollFlags::FOLL_POPULATE) {
        return Err(Errno::ENOENT);
    }
    let mut fault_flags = FaultFlags::empty();
    if flags.contains(FollFlags::FOLL_WRITE) {
        fault_flags |= FaultFlags::WRITE;
    }
    match handle_mm_fault(vma, pgd, asid, address, fault_flags) {
        FaultResult::Handled => {}
        FaultResult::Oom => return Err(Errno::ENOMEM),
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

/// Make `nr_pages` pages from `start` present for `gup_flags`, faulting them in, and
/// collect them in `pages` if given (with a reference each when FOLL_GET). Returns the
/// number of pages done; an error only if the very first page failed. Linux:
/// `__get_user_pages`.
#[no_mangle]
#[inline(never)]
#[allow(clippy::too_many_arguments)] // Linux's has seven too; ours adds the page tables
pub fn __get_user_pages(
    mm: &mut MmStruct,
    pt: &mut dyn crate::mm::vma::VmaPageTables,
    pgd: usize,
    asid: u16,
    mut start: usize,
    nr_pages: usize,
    gup_flags: FollFlags,
    mut pages: Option<&mut Vec<&'static Page>>,
) -> KResult<usize> {
    let mut i = 0;
    let mut vma_key: Option<usize> = None;
    while i < nr_pages {
        // Find the VMA again when we walk off the end of the current one.
        let in_vma = vma_key
            .and_then(|k| mm.mm_rb.get(&k))
            .is_some_and(|v| start < v.vm_end && start >= v.vm_start);
        if !in_vma {
            match crate::mm::mmap::find_extend_vma(mm, pt, start) {
                Some(k) => vma_key = Some(k),
                None => return if i > 0 { Ok(i) } else { Err(Errno::EFAULT) },
            }
            let vma = &mm.mm_rb[&vma_key.unwrap()];
            if let Err(e) = check_vma_flags(vma, gup_flags) {
                return if i > 0 { Ok(i) } else { Err(e) };
            }
        }
        let vma = &mm.mm_rb[&vma_key.unwrap()];
        let mut foll_flags = gup_flags;
        loop {
            match follow_page_mask(vma, pgd, start, foll_flags) {
                Ok(Follow::Page(page)) => {
                    if let Some(p) = pages.as_deref_mut() {
                        p.push(page);
                    }
                    break;
                }
                Ok(Follow::NoPage) => match faultin_page(vma, pgd, asid, start, &mut foll_flags) {
                    Ok(()) => continue,          // retry the lookup
                    Err(Errno::ENOENT) => break, // MLOCK_ONFAULT: skip absent pages
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

/// Fault in `[start, end)` of the VMA at `vma_key` so every page is present (and mlocked
/// when VM_LOCKED). Returns the number of pages done. Linux 5.10:
/// `populate_vma_page_range`.
/// Difference: we never drop the mm lock mid-range (no VM_FAULT_RETRY), so `locked` is
/// gone.
#[no_mangle]
#[inline(never)]
pub fn populate_vma_page_range(
    mm: &mut MmStruct,
    pt: &mut dyn crate::mm::vma::VmaPageTables,
    pgd: usize,
    asid: u16,
    vma_key: usize,
    start: usize,
    end: usize,
) -> KResult<usize> {
    let vma = &mm.mm_rb[&vma_key];
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
    __get_user_pages(mm, pt, pgd, asid, start, nr_pages, gup_flags, None)
}

/// Populate every VMA in `[start, start + len)`, VMA by VMA; with `ignore_errors`, a
/// failing VMA is skipped (MAP_POPULATE, mlockall), else the first error is returned
/// (mlock: ENOMEM for a hole is reported by the caller). Linux: `__mm_populate`.
#[no_mangle]
#[inline(never)]
pub fn __mm_populate(
    mm: &mut MmStruct,
    pt: &mut dyn crate::mm::vma::VmaPageTables,
    pgd: usize,
    asid: u16,
    start: usize,
    len: usize,
    ignore_errors: bool,
) -> KResult<()> {
    let end = start.saturating_add(len);
    let mut nstart = start;
    while nstart < end {
        let Some(vma) = crate::mm::vma::find_vma(mm, nstart) else {
            break;
        };
        if vma.vm_start >= end {
            break;
        }
        let (key, vm_end, vm_start, vm) = (vma.vm_start, vma.vm_end, vma.vm_start, vma.vm_flags);
        let mut nend = end.min(vm_end);
        if vm.intersects(VmFlags::VM_IO | VmFlags::VM_PFNMAP) {
            nstart = nend;
            continue;
        }
        nstart = nstart.max(vm_start);
        match populate_vma_page_range(mm, pt, pgd, asid, key, nstart, nend) {
            Ok(done) => nend = nstart + done * PAGE_SIZE,
            Err(_) if ignore_errors => {}
            Err(e) => return Err(e),
        }
        nstart = nend.max(nstart + PAGE_SIZE);
    }
    Ok(())
}

/// Populate with errors ignored (Linux: `mm_populate`, for MAP_POPULATE / MAP_LOCKED /
/// brk under mlockall(MCL_FUTURE)).
pub fn mm_populate(
    mm: &mut MmStruct,
    pt: &mut dyn crate::mm::vma::VmaPageTables,
    pgd: usize,
    asid: u16,
    start: usize,
    len: usize,
) {
    let _ = __mm_populate(mm, pt, pgd, asid, start, len, true);
}

/// Pin `nr_pages` pages of another address space from `start` (each returned with a
/// reference the caller drops with `put_page`). Linux: `get_user_pages_remote`, used by
/// /proc/<pid>/cmdline (through `access_remote_vm`), ptrace and core dumps.
/// Locking: takes `mm`'s lock; the caller must not hold it.
pub fn get_user_pages_remote(
    mm: &crate::task::mm::Mm,
    start: usize,
    nr_pages: usize,
    gup_flags: FollFlags,
) -> KResult<Vec<&'static Page>> {
    let mut pt = mm.pagetables();
    let mut guard = mm.lock();
    let mut pages = Vec::new();
    __get_user_pages(
        &mut guard,
        &mut pt,
        mm.pgd,
        mm.asid(),
        start,
        nr_pages,
        gup_flags | FollFlags::FOLL_GET | FollFlags::FOLL_REMOTE,
        Some(&mut pages),
    )?;
    Ok(pages)
}

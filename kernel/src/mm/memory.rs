//! User page tables: walking and allocating levels, installing and zapping PTEs, copying
//! them at fork. The fault handlers (`handle_mm_fault` and friends) sit on top.
//! Linux: `mm/memory.c` (`__pte_alloc`, `zap_pte_range`, `free_pgd_range`,
//! `copy_page_range`), `include/linux/pgtable.h`, `arch/arm64/include/asm/pgalloc.h`.
//!
//! Tables are reached through the linear map, like the kernel's (`arch::aarch64::mmu`),
//! so these functions run in host unit tests over simulated memory too.
use crate::arch::aarch64::pgtable::{
    decode, mk_table, pte_none, pte_pfn, pte_phys, table_index, Desc, Pte, PTRS_PER_TABLE,
};
use crate::arch::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE};
use crate::mm::page::{page_to_phys, pfn_to_page, Page};
use crate::mm::page_alloc::{alloc_page, GfpFlags};
use crate::mm::phys_pfn;

/// The 512 descriptors of the pgd, pud or pmd table at physical `table_pa` (Linux:
/// `pgd_offset`, `pud_offset`, `pmd_offset` index into it).
///
/// # Safety
/// `table_pa` must be a page-table page of a live page table: the pgd, or a table a
/// present table descriptor points at. Page-table pages are mapped by the linear map and
/// stay until `free_pgd_range` frees them, which needs `mmap_lock` for write (or the
/// last reference to the mm) and the page-table lock; the caller holds one of those for
/// as long as it uses the reference, and does not keep two references to one entry.
pub unsafe fn pgtable_entries(table_pa: usize) -> &'static mut [u64; PTRS_PER_TABLE] {
    // SAFETY: the caller's contract: a live page-table page, mapped by the linear map.
    unsafe { &mut *(phys_to_virt(table_pa) as *mut [u64; PTRS_PER_TABLE]) }
}

/// The PTE for `addr` in the level-3 table at physical `pte_table` (Linux:
/// `pte_offset_map`; the lock Linux's `pte_offset_map_lock` takes is the caller's
/// `mm.page_table_lock`). The one way mm/ reaches a last-level entry.
///
/// # Safety
/// As [`pgtable_entries`]: `pte_table` is a live PTE table (a present pmd entry points at
/// it), and the caller holds the page-table lock (or `mmap_lock`, for a read) while it
/// uses the entry.
#[inline]
pub unsafe fn pte_offset_map(pte_table: usize, addr: usize) -> &'static mut Pte {
    // SAFETY: the caller's contract: a live PTE table, mapped by the linear map; `Pte`
    // is `repr(transparent)` over the u64 descriptor and the index is below 512.
    unsafe { &mut *(phys_to_virt(pte_table) as *mut Pte).add(table_index(addr, 3)) }
}

/// All 512 PTEs of the level-3 table at physical `pte_table`, for a walker that keeps
/// one table across many entries (Linux: `pte_offset_map` at the first address, then
/// `pte++`), as fork's `copy_page_range` does for the child.
///
/// # Safety
/// As [`pte_offset_map`].
#[inline]
pub unsafe fn pte_table_map(pte_table: usize) -> &'static mut [Pte; PTRS_PER_TABLE] {
    // SAFETY: the caller's contract: a live PTE table, mapped by the linear map; `Pte`
    // is `repr(transparent)` over the u64 descriptor.
    unsafe { &mut *(phys_to_virt(pte_table) as *mut [Pte; PTRS_PER_TABLE]) }
}

/// A zeroed page for a page-table level. Linux: `pte_alloc_one` / `__get_free_page`.
pub fn pgtable_page_alloc() -> Option<usize> {
    // GFP_NOWAIT: some callers hold the page-table lock, which reclaim's rmap walks take
    // (Linux allocates with GFP_KERNEL before taking it; `pte_alloc` drops and retakes).
    alloc_page(GfpFlags::GFP_NOWAIT | GfpFlags::__GFP_ZERO).map(page_to_phys)
}

/// A new, empty top-level table for a user address space. Linux: `pgd_alloc`.
pub fn pgd_alloc() -> Option<usize> {
    pgtable_page_alloc()
}

/// The PTE table (physical address) that holds the entry for `addr`, allocating
/// missing pud/pmd/pte tables when `alloc`. `None` if a level is missing (and `!alloc`)
/// or memory ran out. Linux: `walk_to_pmd` + `pte_alloc`.
pub fn walk_to_pte_table(pgd: usize, addr: usize, alloc: bool) -> Option<usize> {
    __walk_to_pte_table(pgd, addr, alloc.then_some(GfpFlags::GFP_NOWAIT))
}

/// [`walk_to_pte_table`] for a caller that holds no spinlock and may wait for reclaim
/// (the fault path): missing tables are allocated with `GFP_KERNEL` (Linux:
/// `GFP_PGTABLE_USER` in `pte_alloc_one`, before the page-table lock is taken).
pub fn walk_to_pte_table_may_reclaim(pgd: usize, addr: usize) -> Option<usize> {
    __walk_to_pte_table(pgd, addr, Some(GfpFlags::GFP_KERNEL))
}

fn __walk_to_pte_table(pgd: usize, addr: usize, alloc: Option<GfpFlags>) -> Option<usize> {
    let mut t = pgd;
    for level in 0..3 {
        // SAFETY: `t` is the pgd the caller handed in or came from a present table
        // descriptor one level up; the caller holds the locks that keep it.
        let slot = unsafe { &mut pgtable_entries(t)[table_index(addr, level)] };
        t = match (decode(*slot, level), alloc) {
            (Desc::Table(next), _) => next,
            (Desc::Invalid, Some(gfp)) => {
                let new = alloc_page(gfp | GfpFlags::__GFP_ZERO).map(page_to_phys)?;
                // The allocation may have slept in reclaim: take a table someone else
                // installed meanwhile (Linux: pmd_populate under the lock, pte_free if
                // it lost the race).
                if let Desc::Table(theirs) = decode(*slot, level) {
                    crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(new)), 0);
                    theirs
                } else {
                    *slot = mk_table(new);
                    new
                }
            }
            _ => return None, // user space has no blocks
        };
    }
    Some(t)
}

/// The level-3 entry for `addr`, allocating missing pud/pmd/pte tables when `alloc`.
/// `None` if a level is missing (and `!alloc`) or memory ran out. Linux:
/// `pgd_offset` -> `p4d_alloc` -> `pud_alloc` -> `pmd_alloc` -> `pte_alloc_map`
/// (`get_locked_pte`, with the lock the caller's).
pub fn pte_offset(pgd: usize, addr: usize, alloc: bool) -> Option<&'static mut Pte> {
    let t = walk_to_pte_table(pgd, addr, alloc)?;
    // SAFETY: `t` came from a present pmd entry of the caller's page table.
    Some(unsafe { pte_offset_map(t, addr) })
}

/// Call `f(addr, &mut pte)` for every non-empty level-3 entry in `[start, end)`,
/// skipping missing tables a whole table at a time. Linux: the `walk_page_range`
/// pattern.
pub fn for_each_pte(pgd: usize, start: usize, end: usize, mut f: impl FnMut(usize, &mut Pte)) {
    fn walk(
        t: usize,
        level: usize,
        base: usize,
        start: usize,
        end: usize,
        f: &mut dyn FnMut(usize, &mut Pte),
    ) {
        let span = 1usize << (12 + 9 * (3 - level));
        let first = if start > base {
            (start - base) / span
        } else {
            0
        };
        for idx in first..PTRS_PER_TABLE {
            let va = base + idx * span;
            if va >= end {
                break;
            }
            if level == 3 {
                // SAFETY: `t` is a PTE table a present pmd entry points at, kept by the
                // caller's locks.
                let pte = unsafe { pte_offset_map(t, va) };
                if !pte_none(*pte) {
                    f(va, pte);
                }
                continue;
            }
            // SAFETY: `t` is the pgd or a table a present entry one level up points at.
            let slot = unsafe { pgtable_entries(t)[idx] };
            if let Desc::Table(next) = decode(slot, level) {
                walk(next, level + 1, va, start.max(va), end, f);
            }
        }
    }
    if start < end {
        walk(pgd, 0, 0, start, end, &mut f);
    }
}

/// Free the page-table pages under `[addr, end)` (just unmapped) whose whole span lies
/// in `[floor, ceiling)`, the free space around it (`ceiling` 0: the top of the address
/// space); with the whole user range, every table below the pgd (the pgd itself is freed
/// by the caller). Linux: `free_pgtables` -> `free_pgd_range(tlb, addr, end, floor,
/// ceiling)`: only entries over `[addr, end)` are visited, so the cost follows the
/// unmapped range, not the gap around it, and a table that also serves a neighbouring
/// VMA (its span crosses `floor` or `ceiling`) stays for that VMA's next fault.
/// Difference: a table is freed only when every entry in it is empty (checked only for
/// the tables about to go), so a stray PTE in a hole is kept rather than leaked.
pub fn free_pgd_range(pgd: usize, addr: usize, end: usize, floor: usize, ceiling: usize) {
    let ceiling = if ceiling == 0 {
        crate::arch::aarch64::uaccess::TASK_SIZE
    } else {
        ceiling
    };
    /// Is the table at `t` (a level-`level` table) empty?
    fn table_empty(t: usize, level: usize) -> bool {
        if level == 3 {
            // SAFETY: `t` is a PTE table a present pmd entry points at; the caller holds
            // `mmap_lock` for write and the page-table lock.
            // (pte_none is a zero descriptor: the same test as the levels above.)
            return unsafe { pgtable_entries(t) }.iter().all(|&e| e == 0);
        }
        // SAFETY: as above, one level up.
        unsafe { pgtable_entries(t) }.iter().all(|&e| e == 0)
    }
    #[allow(clippy::too_many_arguments)]
    fn free_level(
        t: usize,
        level: usize,
        base: usize,
        addr: usize,
        end: usize,
        floor: usize,
        ceiling: usize,
    ) {
        let span = 1usize << (12 + 9 * (3 - level));
        let first = (addr.max(base) - base) / span;
        let last =
            ((end.min(base + span * PTRS_PER_TABLE) - 1 - base) / span).min(PTRS_PER_TABLE - 1);
        // SAFETY: `t` is the pgd or a table a present entry one level up points at; the
        // caller holds `mmap_lock` for write and the page-table lock.
        let entries = unsafe { pgtable_entries(t) };
        for (idx, slot) in entries.iter_mut().enumerate().take(last + 1).skip(first) {
            let va = base + idx * span;
            if let Desc::Table(next) = decode(*slot, level) {
                if level + 1 < 3 {
                    free_level(next, level + 1, va, addr, end, floor, ceiling);
                }
                if va >= floor && va + span <= ceiling && table_empty(next, level + 1) {
                    *slot = 0;
                    crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(next)), 0);
                }
            }
        }
    }
    if addr < end {
        free_level(pgd, 0, 0, addr, end, floor, ceiling);
    }
}

/// The page a present PTE maps (Linux: `pte_page`).
pub fn pte_page(pte: Pte) -> &'static Page {
    pfn_to_page(pte_pfn(pte))
}

/// Bytes in a page (re-exported for callers that walk ranges).
pub const fn page_size() -> usize {
    PAGE_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::aarch64::pgtable::{mk_pte, PAGE_READONLY};

    #[test]
    fn pte_alloc_builds_three_levels_and_walk_finds_them() {
        let _ram = crate::arch::aarch64::mmu::tests::SimRam::new(64);
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
        if zone.managed_pages == 0 {
            zone.add_free_range(0x40000, 0x40000 + 64);
        }
        drop(zone);
        let free0 = crate::mm::page_alloc::nr_free_pages();
        let pgd = pgd_alloc().unwrap();
        *pte_offset(pgd, 0x40_0000, true).unwrap() = mk_pte(0x4000_0000, PAGE_READONLY);
        *pte_offset(pgd, 0x40_1000, true).unwrap() = mk_pte(0x4000_1000, PAGE_READONLY);
        // pgd + pud + pmd + pte
        assert_eq!(free0 - crate::mm::page_alloc::nr_free_pages(), 4);
        let mut seen = std::vec::Vec::new();
        for_each_pte(pgd, 0, 1 << 48, |va, _| seen.push(va));
        assert_eq!(seen, [0x40_0000, 0x40_1000]);
        assert!(pte_offset(pgd, 0x8000_0000, false).is_none());
        for_each_pte(pgd, 0, 1 << 48, |_, pte| *pte = Pte::default());
        free_pgd_range(pgd, 0, 1 << 48, 0, 0);
        crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(pgd)), 0);
        assert_eq!(crate::mm::page_alloc::nr_free_pages(), free0);
    }
}

// ---------------------------------------------------------------------------------------
// Page-level fault handling and range operations. The VMA-level checks (which VMA, which
// permissions) are the caller's; these functions take the VMA's properties as arguments.
// ---------------------------------------------------------------------------------------

use crate::arch::aarch64::pgtable::{
    mk_pte, pte_mkdirty, pte_mkwrite, pte_mkyoung, pte_present, pte_write, pte_wrprotect,
};
use crate::mm::page::{get_page, page_address, put_page, PageFlags};
use core::sync::atomic::{AtomicUsize, Ordering};

static ZERO_PAGE_PHYS: AtomicUsize = AtomicUsize::new(0);

/// The shared zero page, mapped read-only for read faults on anonymous memory
/// (Linux: `empty_zero_page`, `ZERO_PAGE`). Allocated on first use, never freed.
pub fn zero_page_phys() -> usize {
    let pa = ZERO_PAGE_PHYS.load(Ordering::Acquire);
    if pa != 0 {
        return pa;
    }
    let page = alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO)
        .expect("no memory for the zero page");
    page.set_flags(PageFlags::PG_reserved);
    let pa = page_to_phys(page);
    match ZERO_PAGE_PHYS.compare_exchange(0, pa, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => pa,
        Err(other) => {
            put_page(page);
            other
        }
    }
}

/// Is this PTE a mapping of the zero page? (Linux: `is_zero_pfn`.)
pub fn is_zero_pte(pte: Pte) -> bool {
    pte_present(pte) && pte_phys(pte) == ZERO_PAGE_PHYS.load(Ordering::Acquire)
}

/// The zero page's frame, or None before the first read fault made it (Linux:
/// `zero_pfn`, set at boot; ours is allocated on first use, so asking must not create
/// it). Caller: /proc/kpageflags (`KPF_ZERO_PAGE`).
pub fn zero_pfn() -> Option<usize> {
    match ZERO_PAGE_PHYS.load(Ordering::Acquire) {
        0 => None,
        pa => Some(pa >> PAGE_SHIFT),
    }
}

use crate::mm::rmap::{
    anon_vma_prepare, page_add_file_rmap, page_add_new_anon_rmap, page_dup_rmap, page_remove_rmap,
    PageAnon,
};

/// Outcome of a page fault (Linux: the VM_FAULT_* bits of `vm_fault_t`, plus arm64
/// `__do_page_fault`'s VM_FAULT_BADMAP / VM_FAULT_BADACCESS). Small and `Copy`, so every
/// handler returns it in a register, as Linux's `vm_fault_t` is an int.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultResult {
    /// The page is mapped now; retry the instruction.
    Handled,
    /// No VMA covers the address: SIGSEGV (SEGV_MAPERR).
    BadArea,
    /// The VMA forbids this access: SIGSEGV (SEGV_ACCERR).
    BadAccess,
    /// Past the end of a file mapping: SIGBUS.
    Sigbus,
    /// No memory: the task is killed.
    Oom,
    /// The page was retired by `memory_failure`: the PTE holds a hwpoison entry. A user
    /// access gets SIGBUS (BUS_MCEERR_AR), a uaccess EFAULT, gup EFAULT or EHWPOISON
    /// (Linux: VM_FAULT_HWPOISON).
    HwPoison,
    /// The page must come from the disk and the fault was allowed to let go of
    /// `mmap_lock` for that (FAULT_FLAG_ALLOW_RETRY): nothing was mapped. The caller pins
    /// the file (`FaultRetry::new`), drops the lock, reads the page and its readahead
    /// window (`do_sync_mmap_readahead`), or, after a hit on a PG_readahead page, the
    /// next window (`do_async_mmap_readahead`), and faults again with FAULT_FLAG_TRIED
    /// (Linux: VM_FAULT_RETRY).
    Retry,
}

impl FaultResult {
    /// Linux: `!(fault & VM_FAULT_ERROR)` and not VM_FAULT_RETRY.
    pub fn is_handled(&self) -> bool {
        matches!(self, FaultResult::Handled)
    }
}

/// What a VM_FAULT_RETRY fault must wait for: the file page to read, with the file pinned
/// so it outlives the VMA once `mmap_lock` is dropped (Linux: the `fpin` that
/// `maybe_unlock_mmap_for_io` takes with `get_file(vma->vm_file)`).
#[derive(Clone)]
pub struct FaultRetry {
    /// The mapped file (Linux: `fpin`); None for a swap-in.
    pub fpin: Option<alloc::sync::Arc<dyn crate::mm::vma::MappedFile>>,
    /// The page offset in the file (Linux: `vmf->pgoff`).
    pub pgoff: usize,
    /// The VMA's flags when it faulted: VM_RAND_READ / VM_SEQ_READ steer readahead,
    /// which runs after the VMA may have changed (Linux reads `vmf->vma->vm_flags`
    /// before dropping the lock).
    pub vm_flags: crate::mm::vma::VmFlags,
    /// The page was cached: the retry is for the next readahead window after a
    /// PG_readahead hit (`do_async_mmap_readahead`), not for a miss
    /// (`do_sync_mmap_readahead`).
    pub async_ra: bool,
    /// An anonymous page to bring back from swap: the entry its PTE holds
    /// (`do_swap_page_io`).
    pub swap: Option<crate::mm::swapops::SwpEntry>,
    /// A missing page of a VMA registered with a userfaultfd: the context whose
    /// handler will provide it (`handle_userfault_wait`); `pgoff` is then the page's
    /// address >> PAGE_SHIFT.
    pub uffd: Option<alloc::sync::Arc<crate::mm::userfaultfd::UserfaultfdCtx>>,
}

impl FaultRetry {
    /// Pin what the I/O needs behind `address` of `vma`, before `mmap_lock` is dropped:
    /// the file of a file VMA, or the swap entry in an anonymous VMA's PTE. None when
    /// there is nothing to read. `filemap_fault` answers VM_FAULT_RETRY for a
    /// cached, up-to-date page only when its PG_readahead mark is due, so finding the
    /// page that way here tells the two kinds of file retry apart.
    pub fn new(vma: &crate::mm::vma::VmArea, address: usize) -> Option<FaultRetry> {
        let Some(fpin) = vma.vm_file.clone() else {
            return Self::swap(vma, address).or_else(|| Self::userfault(vma, address));
        };
        let pgoff = linear_page_index(vma, address);
        let async_ra = fpin
            .f_mapping()
            .and_then(|m| crate::mm::filemap::find_get_page(m, pgoff))
            .is_some_and(|page| {
                let uptodate = page.test(crate::mm::page::PageFlags::PG_uptodate);
                crate::mm::page::put_page(page);
                uptodate
            });
        Some(FaultRetry {
            fpin: Some(fpin),
            pgoff,
            vm_flags: vma.vm_flags,
            async_ra,
            swap: None,
            uffd: None,
        })
    }

    /// The swap entry `do_swap_page` left for the caller to read: the one the PTE at
    /// `address` still holds (nothing ran since the fault returned).
    fn swap(vma: &crate::mm::vma::VmArea, address: usize) -> Option<FaultRetry> {
        // SAFETY: a VMA linked into an mm points at it (`vm_mm`), and the caller holds
        // that mm's `mmap_lock`, so it is alive.
        let mm = unsafe { vma.vm_mm.as_ref()? };
        let pte = *pte_offset(mm.pgd, address, false)?;
        crate::mm::swapops::is_swap_pte(pte).then(|| FaultRetry {
            fpin: None,
            pgoff: linear_page_index(vma, address),
            vm_flags: vma.vm_flags,
            async_ra: false,
            swap: Some(crate::mm::swapops::pte_to_swp_entry(pte)),
            uffd: None,
        })
    }

    /// The userfaultfd `handle_userfault` queued the fault on: the PTE is still none
    /// and the VMA registered (nothing ran since the fault returned).
    fn userfault(vma: &crate::mm::vma::VmArea, address: usize) -> Option<FaultRetry> {
        let ctx = vma.vm_userfaultfd_ctx.clone()?;
        Some(FaultRetry {
            fpin: None,
            pgoff: address >> PAGE_SHIFT,
            vm_flags: vma.vm_flags,
            async_ra: false,
            swap: None,
            uffd: Some(ctx),
        })
    }
}

impl core::fmt::Debug for FaultRetry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (&self.fpin, self.swap) {
            (Some(file), _) => write!(
                f,
                "FaultRetry({} page {}{})",
                file.path(),
                self.pgoff,
                if self.async_ra { ", async" } else { "" }
            ),
            (None, None) if self.uffd.is_some() => {
                write!(f, "FaultRetry(userfault {:#x})", self.pgoff << PAGE_SHIFT)
            }
            (None, entry) => write!(f, "FaultRetry(swap {entry:?})"),
        }
    }
}

bitflags::bitflags! {
    /// Why the fault happened and what the handler may do (Linux 5.10: `FAULT_FLAG_*`,
    /// same values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FaultFlags: u32 {
        /// A write access (Linux: `FAULT_FLAG_WRITE`).
        const WRITE = 0x01;
        /// The handler may drop `mmap_lock` to wait for I/O and return VM_FAULT_RETRY
        /// (Linux: `FAULT_FLAG_ALLOW_RETRY`).
        const ALLOW_RETRY = 0x04;
        /// A fatal signal may end the wait (Linux: `FAULT_FLAG_KILLABLE`).
        const KILLABLE = 0x10;
        /// This is the retry of a fault that returned VM_FAULT_RETRY (Linux:
        /// `FAULT_FLAG_TRIED`): do the I/O under the lock rather than retry again.
        const TRIED = 0x20;
        /// The fault came from user space (Linux: `FAULT_FLAG_USER`).
        const USER = 0x40;
        /// Another process's mm (ptrace, /proc/pid/mem; Linux: `FAULT_FLAG_REMOTE`).
        const REMOTE = 0x80;
        /// Instruction fetch (Linux: `FAULT_FLAG_INSTRUCTION`).
        const INSTRUCTION = 0x100;
    }
}

/// The page offset in the VMA's file (or, for anonymous memory, in its linear index
/// space) of `address` (Linux: `linear_page_index`).
pub fn linear_page_index(vma: &crate::mm::vma::VmArea, address: usize) -> usize {
    ((address - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff
}

/// Bytes around a file read fault mapped at once when their pages are cached (Linux:
/// `fault_around_bytes`, 64 KiB: 16 pages).
pub const FAULT_AROUND_BYTES: usize = 65536;

/// Make the page at `address` of `vma` present with the access `flags` need, and count
/// the fault (PGFAULT, gup's faults included, as 5.10 counts them here). Linux:
/// `handle_mm_fault`. Locking: `mm.mmap_lock` held for read (or write); with
/// FAULT_FLAG_ALLOW_RETRY a file page that needs I/O returns `FaultResult::Retry`
/// instead of waiting under the lock. Linux reaches the mm through `vma->vm_mm`; our
/// VMAs have no back pointer yet, so the mm comes first.
#[no_mangle]
#[inline(never)]
pub fn handle_mm_fault(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    address: usize,
    flags: FaultFlags,
) -> FaultResult {
    crate::mm::vmstat::count_vm_event(crate::mm::vmstat::VmStat::PGFAULT);
    __handle_mm_fault(mm, vma, address, flags)
}

/// Walk to the PTE for `address`, allocating the pud, pmd and PTE tables on the way, and
/// hand the fault to `handle_pte_fault` (Linux: `__handle_mm_fault`: `pgd_offset`,
/// `p4d_alloc`, `pud_alloc`, `pmd_alloc`; no huge pages here). OOM when a table cannot
/// be had.
#[no_mangle]
#[inline(never)]
pub fn __handle_mm_fault(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    address: usize,
    flags: FaultFlags,
) -> FaultResult {
    let Some(pmd) = walk_to_pte_table_may_reclaim(mm.pgd, address) else {
        return FaultResult::Oom;
    };
    let mut vmf = crate::mm::vma::VmFault {
        mm,
        vma,
        flags,
        pgoff: linear_page_index(vma, address),
        address: address & !(PAGE_SIZE - 1),
        pmd,
        orig_pte: Pte::default(),
    };
    handle_pte_fault(&mut vmf)
}

/// Decide what the fault needs from the PTE it found (Linux: `handle_pte_fault`): none
/// yet -> `do_anonymous_page` or `do_fault`; a write to a read-only entry ->
/// `do_wp_page`; otherwise (a stale TLB entry, or the access flag clear) make the entry
/// young (and dirty for a write) with `ptep_set_access_flags`; a swap entry ->
/// `do_swap_page`.
#[no_mangle]
#[inline(never)]
pub fn handle_pte_fault(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    vmf.orig_pte = *vmf.pte();
    if pte_none(vmf.orig_pte) {
        return if vmf.vma.is_anonymous() {
            do_anonymous_page(vmf)
        } else {
            do_fault(vmf)
        };
    }
    if !pte_present(vmf.orig_pte) {
        // Not empty, not mapped: a swap entry (we make no other kind).
        return do_swap_page(vmf);
    }
    let write = vmf.flags.contains(FaultFlags::WRITE);
    if write && !pte_write(vmf.orig_pte) {
        return do_wp_page(vmf);
    }
    let _ptl = vmf.mm.page_table_lock.lock();
    let mut entry = vmf.orig_pte;
    if *vmf.pte() != entry {
        // Changed since we looked (Linux: !pte_same): let the access retry.
        return FaultResult::Handled;
    }
    if write {
        entry = pte_mkdirty(entry);
    }
    entry = pte_mkyoung(entry);
    ptep_set_access_flags(vmf, entry);
    FaultResult::Handled
}

/// Install `entry` if it grants more than the PTE has (young, dirty, writable), flushing
/// the stale translation (Linux: `ptep_set_access_flags`, whose arm64 version updates
/// AF/DBM in place). Caller holds the page-table lock. True if the PTE changed.
pub fn ptep_set_access_flags(vmf: &mut crate::mm::vma::VmFault<'_>, entry: Pte) -> bool {
    let (asid, address) = (vmf.mm.asid(), vmf.address);
    let pte = vmf.pte();
    if *pte == entry {
        return false;
    }
    *pte = entry;
    crate::arch::cpu::flush_tlb_page(asid, address);
    true
}

/// The entry made writable if the VMA allows writes (Linux: `maybe_mkwrite`): a COW
/// copy or a reused page in a VMA mprotect()ed read-only stays read-only.
pub fn maybe_mkwrite(pte: Pte, vma: &crate::mm::vma::VmArea) -> Pte {
    if vma.vm_flags.contains(crate::mm::vma::VmFlags::VM_WRITE) {
        pte_mkwrite(pte)
    } else {
        pte
    }
}

/// Ask the VMA's `vm_ops->fault` for the page (Linux: `__do_fault`). A VMA with a file but
/// no `vm_ops` cannot fault anything in: SIGBUS.
#[no_mangle]
#[inline(never)]
pub fn __do_fault(vmf: &crate::mm::vma::VmFault<'_>) -> Result<&'static Page, FaultResult> {
    match vmf.vma.vm_ops {
        Some(ops) => ops.fault(vmf),
        None => Err(FaultResult::Sigbus),
    }
}

/// Fault on an empty PTE of a file (or shmem) mapping (Linux: `do_fault`): a read maps
/// the page-cache page (`do_read_fault`), a private write a copy of it (`do_cow_fault`),
/// a shared write the page itself, writable (`do_shared_fault`).
#[no_mangle]
#[inline(never)]
pub fn do_fault(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    use crate::mm::vma::VmFlags;
    if vmf.vma.vm_ops.is_none() {
        return FaultResult::Sigbus;
    }
    if !vmf.flags.contains(FaultFlags::WRITE) {
        do_read_fault(vmf)
    } else if !vmf.vma.vm_flags.contains(VmFlags::VM_SHARED) {
        do_cow_fault(vmf)
    } else {
        do_shared_fault(vmf)
    }
}

/// A read fault on a file mapping (Linux: `do_read_fault`): first map whatever of the
/// surrounding `fault_around_bytes` is already cached (`do_fault_around`); if that
/// mapped the faulting page too, done; else `__do_fault` gets (or reads) it and
/// `finish_fault` maps it read-only.
#[no_mangle]
#[inline(never)]
pub fn do_read_fault(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    if FAULT_AROUND_BYTES >> PAGE_SHIFT > 1 && do_fault_around(vmf) {
        return FaultResult::Handled;
    }
    let page = match __do_fault(vmf) {
        Ok(page) => page,
        Err(result) => return result,
    };
    finish_fault(vmf, page)
}

/// Map the cached pages of the `fault_around_bytes` window around the fault that have no
/// PTE yet, read-only, without I/O (Linux: `do_fault_around` -> `vm_ops->map_pages`, i.e.
/// `filemap_map_pages`). The window is aligned to its size, clipped to the VMA and to the
/// PTE table of the fault. True if the faulting page itself got mapped.
#[no_mangle]
#[inline(never)]
pub fn do_fault_around(vmf: &mut crate::mm::vma::VmFault<'_>) -> bool {
    let Some(ops) = vmf.vma.vm_ops else {
        return false;
    };
    let vma = vmf.vma;
    let table_start = vmf.address & !((PTRS_PER_TABLE << PAGE_SHIFT) - 1);
    let start = (vmf.address & !(FAULT_AROUND_BYTES - 1))
        .max(vma.vm_start)
        .max(table_start);
    let end = (start + FAULT_AROUND_BYTES)
        .min(vma.vm_end)
        .min(table_start + (PTRS_PER_TABLE << PAGE_SHIFT));
    let start_pgoff = linear_page_index(vma, start);
    let end_pgoff = linear_page_index(vma, end) - 1;
    if !ops.map_pages(vmf, start_pgoff, end_pgoff) {
        return false;
    }
    !pte_none(*vmf.pte())
}

/// A private write fault on a file mapping (Linux: `do_cow_fault`): copy the file's page
/// into a new anonymous page and map that, writable; the page cache is untouched.
#[no_mangle]
#[inline(never)]
pub fn do_cow_fault(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    if anon_vma_prepare(vmf.vma, &vmf.mm.page_table_lock).is_err() {
        return FaultResult::Oom;
    }
    let Some(cow_page) = alloc_page(GfpFlags::GFP_KERNEL) else {
        return FaultResult::Oom;
    };
    let page = match __do_fault(vmf) {
        Ok(page) => page,
        Err(result) => {
            put_page(cow_page);
            return result;
        }
    };
    // SAFETY: both pages are ours (a reference each) and mapped by the linear map.
    unsafe { crate::arch::cpu::copy_page(page_address(cow_page), page_address(page)) };
    put_page(page);
    finish_fault(vmf, cow_page)
}

/// A shared write fault on a file mapping (Linux: `do_shared_fault`): the page itself
/// is mapped writable, after the file system agreed (`do_page_mkwrite`), and marked
/// dirty for writeback (`fault_dirty_shared_page`).
#[no_mangle]
#[inline(never)]
pub fn do_shared_fault(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    let page = match __do_fault(vmf) {
        Ok(page) => page,
        Err(result) => return result,
    };
    if let Err(result) = do_page_mkwrite(vmf, page) {
        put_page(page);
        return result;
    }
    let result = finish_fault(vmf, page);
    if result.is_handled() {
        fault_dirty_shared_page(page);
    }
    result
}

/// Tell the file system a clean shared page is about to be written (Linux:
/// `do_page_mkwrite` -> `vm_ops->page_mkwrite`). Nothing of ours needs to hear it yet
/// (no writeback), so the default agrees.
#[no_mangle]
#[inline(never)]
pub fn do_page_mkwrite(
    vmf: &crate::mm::vma::VmFault<'_>,
    page: &'static Page,
) -> Result<(), FaultResult> {
    match vmf.vma.vm_ops {
        Some(ops) => ops.page_mkwrite(vmf, page),
        None => Ok(()),
    }
}

/// A shared page was written through a mapping: mark it dirty (Linux:
/// `fault_dirty_shared_page` -> `set_page_dirty`, then `balance_dirty_pages_ratelimited`,
/// which has nothing to throttle here).
#[no_mangle]
#[inline(never)]
pub fn fault_dirty_shared_page(page: &Page) {
    page.set_flags(PageFlags::PG_dirty);
}

/// Map `page` (with the caller's reference, which becomes the mapping's) at the fault's
/// PTE unless somebody mapped something there meanwhile (Linux: `finish_fault`, which
/// takes the page-table lock around `alloc_set_pte`).
#[no_mangle]
#[inline(never)]
pub fn finish_fault(vmf: &mut crate::mm::vma::VmFault<'_>, page: &'static Page) -> FaultResult {
    let _ptl = vmf.mm.page_table_lock.lock();
    if !pte_none(*vmf.pte()) {
        put_page(page);
        return FaultResult::Handled;
    }
    alloc_set_pte(vmf, page);
    FaultResult::Handled
}

/// Set the fault's (empty) PTE to `page` (Linux 5.10: `alloc_set_pte`; `do_set_pte` in
/// 5.12+): for a private write the page is a new anonymous one (rmap, and the mlock of a
/// VM_LOCKED VMA), writable if the VMA is; otherwise a file page, read-only unless a shared
/// write. Caller holds the page-table lock.
pub fn alloc_set_pte(vmf: &mut crate::mm::vma::VmFault<'_>, page: &'static Page) {
    use crate::mm::vma::VmFlags;
    let vma = vmf.vma;
    let write = vmf.flags.contains(FaultFlags::WRITE);
    let mut entry = mk_pte(page_to_phys(page), vma.vm_page_prot);
    if write {
        entry = maybe_mkwrite(pte_mkdirty(entry), vma);
    }
    if write && !vma.vm_flags.contains(VmFlags::VM_SHARED) {
        page_add_new_anon_rmap(page, vma, vmf.address);
        crate::mm::swap::lru_cache_add_inactive_or_unevictable(page, vma);
    } else {
        page_add_file_rmap(page);
    }
    *vmf.pte() = entry;
}

/// Anonymous fault on an empty PTE (Linux: `do_anonymous_page`): a read maps the shared
/// zero page read-only; a write maps a new zeroed page, writable and dirty if the VMA is
/// writable, and mlocked in a VM_LOCKED VMA (`lru_cache_add_inactive_or_unevictable`).
/// The page is allocated before the page-table lock is taken; if another fault mapped
/// the entry meanwhile, ours is freed.
#[no_mangle]
#[inline(never)]
pub fn do_anonymous_page(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    let vma = vmf.vma;
    // A registered range: user space provides the page (Linux checks this under the
    // page-table lock, after the zero-page or new-page set-up; the PTE was none when
    // handle_pte_fault looked, and mcopy_atomic copes with a page that came meanwhile).
    if crate::mm::userfaultfd::userfaultfd_missing(vma) {
        return crate::mm::userfaultfd::handle_userfault(
            vmf,
            crate::mm::vma::VmFlags::VM_UFFD_MISSING,
        );
    }
    if !vmf.flags.contains(FaultFlags::WRITE) {
        // Use the zero page for reads (Linux: pte_mkspecial(pfn_pte(my_zero_pfn(...)))).
        let entry = mk_pte(zero_page_phys(), vma.vm_page_prot);
        let _ptl = vmf.mm.page_table_lock.lock();
        let pte = vmf.pte();
        if pte_none(*pte) {
            *pte = entry;
        }
        return FaultResult::Handled;
    }
    if anon_vma_prepare(vma, &vmf.mm.page_table_lock).is_err() {
        return FaultResult::Oom;
    }
    let Some(page) = alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO) else {
        return FaultResult::Oom;
    };
    let mut entry = mk_pte(page_to_phys(page), vma.vm_page_prot);
    if vma.vm_flags.contains(crate::mm::vma::VmFlags::VM_WRITE) {
        entry = pte_mkwrite(pte_mkdirty(entry));
    }
    let address = vmf.address;
    let _ptl = vmf.mm.page_table_lock.lock();
    let pte = vmf.pte();
    if !pte_none(*pte) {
        put_page(page); // raced with another fault: theirs stands
        return FaultResult::Handled;
    }
    page_add_new_anon_rmap(page, vma, address);
    crate::mm::swap::lru_cache_add_inactive_or_unevictable(page, vma);
    *pte = entry;
    FaultResult::Handled
}

/// The PTE holds a swap entry: bring the page back (Linux: `do_swap_page`). The page is
/// looked up in the swap cache; a miss is a major fault (`pgmajfault`) that reads it, and
/// its neighbours on the disk, with `swapin_readahead`. Then, under the page-table lock
/// and only if the PTE still holds the entry, the page is mapped (writable at once for a
/// write fault when `reuse_swap_page` says nobody shares it), put back in the rmap, and
/// the PTE's count on the slot is dropped (`swap_free`). A page now mapped in a locked
/// VMA, or when swap is more than half full, leaves the swap cache (`try_to_free_swap`)
/// so its slot can be reused. A read that failed is SIGBUS, as in Linux.
///
/// A fault that may let go of `mmap_lock` (FAULT_FLAG_ALLOW_RETRY, not yet TRIED) does
/// not wait for the disk under it: on a miss, or on a page another read still holds
/// locked, it returns VM_FAULT_RETRY; the caller drops the lock, reads or waits
/// (`do_swap_page_io`) and faults again. Difference from 5.10: 5.10 submits the reads
/// here (`swapin_readahead`) and `lock_page_or_retry` drops the lock while it waits; our
/// driver has one request in flight and reads synchronously, so the reads themselves run
/// after the lock is dropped.
#[no_mangle]
#[inline(never)]
pub fn do_swap_page(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    use crate::mm::swap_state::{lookup_swap_cache, swapin_readahead, PageSwapCache};
    use crate::mm::swapfile::{reuse_swap_page, swap_free, try_to_free_swap};
    use crate::mm::swapops::pte_to_swp_entry;
    use crate::mm::vma::VmFlags;
    use crate::mm::vmstat::{count_vm_event, VmStat};
    let entry = pte_to_swp_entry(vmf.orig_pte);
    if crate::mm::swapops::non_swap_entry(entry) {
        // No slot to read: the page was poisoned (Linux: the non_swap_entry branch; we
        // have no migration or device entries, so anything else is a bad PTE).
        return FaultResult::HwPoison;
    }
    let vma = vmf.vma;
    let may_retry =
        vmf.flags.contains(FaultFlags::ALLOW_RETRY) && !vmf.flags.contains(FaultFlags::TRIED);
    let page = match lookup_swap_cache(entry) {
        Some(page) => page,
        None => {
            count_vm_event(VmStat::PGMAJFAULT);
            if may_retry {
                // The disk is slow: let go of mmap_lock while it works. The caller pins
                // the entry (FaultRetry), drops the lock, reads (do_swap_page_io) and
                // faults again, finding the page in the swap cache.
                return FaultResult::Retry;
            }
            match swapin_readahead(entry, GfpFlags::GFP_KERNEL) {
                Some(page) => page,
                None => {
                    // The slot was freed meanwhile: the PTE changed under us (another
                    // thread faulted it in), or there was no memory.
                    let _ptl = vmf.mm.page_table_lock.lock();
                    let orig = vmf.orig_pte;
                    return if *vmf.pte() == orig {
                        FaultResult::Oom
                    } else {
                        FaultResult::Handled
                    };
                }
            }
        }
    };
    // A read still running (another fault's, or readahead's): wait for it without
    // mmap_lock if we may (Linux: lock_page_or_retry), else here.
    if may_retry && crate::mm::pagemap::page_locked(page) {
        put_page(page);
        return FaultResult::Retry;
    }
    crate::mm::pagemap::wait_on_page_locked(page);
    if anon_vma_prepare(vma, &vmf.mm.page_table_lock).is_err() {
        put_page(page);
        return FaultResult::Oom;
    }
    let ptl = vmf.mm.page_table_lock.lock();
    let orig = vmf.orig_pte;
    if *vmf.pte() != orig {
        drop(ptl);
        put_page(page); // somebody else mapped it meanwhile
        return FaultResult::Handled;
    }
    if !page.test(PageFlags::PG_uptodate) {
        drop(ptl);
        put_page(page);
        return FaultResult::Sigbus;
    }
    if !PageSwapCache(page) || crate::mm::swap_state::page_swap_entry(page) != entry {
        // Reclaimed and reused between the lookup and now: fault again.
        drop(ptl);
        put_page(page);
        return FaultResult::Handled;
    }
    let mut pte = mk_pte(page_to_phys(page), vma.vm_page_prot);
    let mut flags = vmf.flags;
    let mut exclusive = false;
    // Ours alone (this PTE's count on the slot is the only reference anywhere)?
    if flags.contains(FaultFlags::WRITE) && reuse_swap_page(page) {
        pte = maybe_mkwrite(pte_mkdirty(pte), vma);
        flags.remove(FaultFlags::WRITE);
        exclusive = true;
    }
    // The reference from the lookup becomes the mapping's.
    crate::mm::rmap::page_add_anon_rmap(page, vma, vmf.address, exclusive);
    *vmf.pte() = pte;
    // The PTE no longer names the slot.
    swap_free(entry);
    if PageSwapCache(page)
        && (vma.vm_flags.contains(VmFlags::VM_LOCKED)
            || page.test(PageFlags::PG_mlocked)
            || crate::mm::swapfile::vm_swap_full())
        && crate::mm::pagemap::trylock_page(page)
    {
        try_to_free_swap(page);
        crate::mm::pagemap::unlock_page(page);
    }
    drop(ptl);
    if flags.contains(FaultFlags::WRITE) {
        // Shared with another swap PTE or mapping: copy on write, as for any page.
        vmf.orig_pte = pte;
        return do_wp_page(vmf);
    }
    FaultResult::Handled
}

/// The I/O half of a swap fault that let go of `mmap_lock`: read the page for `entry`,
/// and its neighbours, into the swap cache (`swapin_readahead`), or wait for a read
/// already running, then drop the reference. The caller retries the fault with
/// FAULT_FLAG_TRIED and `do_swap_page` finds the page cached. (Linux: the reads
/// `do_swap_page` submits and the wait in `__lock_page_or_retry`.) Locking: no
/// `mmap_lock`; the slot may be freed meanwhile (the process unmapped it), and then
/// nothing is read.
#[no_mangle]
#[inline(never)]
pub fn do_swap_page_io(entry: crate::mm::swapops::SwpEntry) {
    if let Some(page) = crate::mm::swap_state::swapin_readahead(entry, GfpFlags::GFP_KERNEL) {
        crate::mm::pagemap::wait_on_page_locked(page);
        put_page(page);
    }
}

/// Write fault on a present, read-only PTE (Linux: `do_wp_page`): an anonymous page only
/// this mapping uses is made writable in place (`wp_page_reuse`); a shared file mapping
/// writes the page itself (`wp_page_shared`); anything else (the zero page, a page
/// another process or the page cache still holds) is copied (`wp_page_copy`).
#[no_mangle]
#[inline(never)]
pub fn do_wp_page(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    use crate::mm::vma::VmFlags;
    let ptl = vmf.mm.page_table_lock.lock();
    let orig = vmf.orig_pte;
    if *vmf.pte() != orig {
        return FaultResult::Handled; // changed meanwhile: let the access retry
    }
    let old = vmf.orig_pte;
    if !is_zero_pte(old) {
        let page = pte_page(old);
        if PageAnon(page) {
            // Only the swap cache holds it besides us: drop that copy first, it is about
            // to be stale (later kernels do this in do_wp_page; 5.10 copied such a page).
            if crate::mm::swap_state::PageSwapCache(page)
                && page.page_count() == 2
                && crate::mm::pagemap::trylock_page(page)
            {
                crate::mm::swapfile::try_to_free_swap(page);
                crate::mm::pagemap::unlock_page(page);
            }
            // Nobody else maps or holds it (Linux 5.10: page_count == 1).
            if page.page_count() == 1 && page.page_mapcount() <= 1 {
                wp_page_reuse(vmf);
                return FaultResult::Handled;
            }
        } else if vmf
            .vma
            .vm_flags
            .contains(VmFlags::VM_WRITE | VmFlags::VM_SHARED)
        {
            drop(ptl);
            return wp_page_shared(vmf, page);
        }
    }
    drop(ptl);
    wp_page_copy(vmf)
}

/// Make the existing page writable in place: young, dirty, and writable if the VMA is
/// (Linux: `wp_page_reuse`). Caller holds the page-table lock.
#[no_mangle]
#[inline(never)]
pub fn wp_page_reuse(vmf: &mut crate::mm::vma::VmFault<'_>) {
    let entry = maybe_mkwrite(pte_mkdirty(pte_mkyoung(vmf.orig_pte)), vmf.vma);
    ptep_set_access_flags(vmf, entry);
}

/// A write to a shared file mapping's clean page (Linux: `wp_page_shared`): ask the file
/// system (`do_page_mkwrite`), reuse the page writable, and mark it dirty
/// (`fault_dirty_shared_page`).
#[no_mangle]
#[inline(never)]
pub fn wp_page_shared(vmf: &mut crate::mm::vma::VmFault<'_>, page: &'static Page) -> FaultResult {
    if let Err(result) = do_page_mkwrite(vmf, page) {
        return result;
    }
    {
        let _ptl = vmf.mm.page_table_lock.lock();
        let orig = vmf.orig_pte;
        if *vmf.pte() != orig {
            return FaultResult::Handled;
        }
        wp_page_reuse(vmf);
    }
    fault_dirty_shared_page(page);
    FaultResult::Handled
}

/// Copy-on-write (Linux: `wp_page_copy`): a new anonymous page (zeroed for the zero page,
/// else a copy of the old one) replaces the old entry, break-before-make, writable if the
/// VMA is, mlocked in a VM_LOCKED VMA; the old page loses this mapping (and, in a
/// VM_LOCKED VMA, its mlock: 5.10 munlocks the page the copy replaced).
#[no_mangle]
#[inline(never)]
pub fn wp_page_copy(vmf: &mut crate::mm::vma::VmFault<'_>) -> FaultResult {
    use crate::mm::vma::VmFlags;
    let old = vmf.orig_pte;
    let vma = vmf.vma;
    if anon_vma_prepare(vma, &vmf.mm.page_table_lock).is_err() {
        return FaultResult::Oom;
    }
    let new = if is_zero_pte(old) {
        alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO)
    } else {
        alloc_page(GfpFlags::GFP_KERNEL).inspect(|&new| {
            let src = phys_to_virt(pte_phys(old));
            // SAFETY: both pages are mapped by the linear map and PAGE_SIZE long; the old
            // one is kept by the mapping we hold mmap_lock over.
            unsafe { crate::arch::cpu::copy_page(page_address(new), src) };
        })
    };
    let Some(new) = new else {
        return FaultResult::Oom;
    };
    let entry = maybe_mkwrite(
        pte_mkdirty(mk_pte(page_to_phys(new), vma.vm_page_prot)),
        vma,
    );
    let asid = vmf.mm.asid();
    let _ptl = vmf.mm.page_table_lock.lock();
    let address = vmf.address;
    let pte = vmf.pte();
    if *pte != old {
        put_page(new); // somebody else fixed it meanwhile
        return FaultResult::Handled;
    }
    // Break-before-make: invalidate the old translation before installing the new one
    // (Linux: ptep_clear_flush_notify).
    *pte = Pte::default();
    crate::arch::cpu::flush_tlb_page(asid, address);
    page_add_new_anon_rmap(new, vma, address);
    crate::mm::swap::lru_cache_add_inactive_or_unevictable(new, vma);
    *pte = entry;
    if is_zero_pte(old) {
        return FaultResult::Handled;
    }
    let page = pte_page(old);
    page_remove_rmap(page);
    drop(_ptl);
    // The copy replaced the old page in a locked VMA: it may no longer be mlocked (5.10
    // does this after dropping the page-table lock, since munlock walks rmap).
    if vma.vm_flags.contains(VmFlags::VM_LOCKED) && page.test(PageFlags::PG_mlocked) {
        crate::mm::mlock::munlock_vma_page(page);
    }
    put_page(page);
    FaultResult::Handled
}

/// Unmap `[start, end)`: clear each PTE, drop the page's mapping and reference (freeing
/// it when that was the last, and taking an unmapped page out of the swap cache), drop
/// a swap entry's count on its slot, flush the TLB. Returns the entries cleared. Linux:
/// `zap_page_range` -> `zap_pte_range`.
///
/// A long range lets other tasks run between page tables (Linux: `zap_pmd_range`'s
/// `cond_resched`), so the caller must hold no spin lock; [`zap_page_range_single`] is
/// for callers that do.
#[no_mangle]
#[inline(never)]
pub fn zap_page_range(pgd: usize, start: usize, end: usize, asid: u16) -> usize {
    __zap_page_range(pgd, start, end, asid, true)
}

/// [`zap_page_range`] without preemption points, for a caller holding the page-table
/// lock (`unmap_mapping_range`; Linux: `zap_page_range_single`, which
/// `unmap_mapping_range_vma` calls).
#[no_mangle]
#[inline(never)]
pub fn zap_page_range_single(pgd: usize, start: usize, end: usize, asid: u16) -> usize {
    __zap_page_range(pgd, start, end, asid, false)
}

/// The body of both: see [`zap_page_range`].
#[inline(always)]
fn __zap_page_range(pgd: usize, start: usize, end: usize, asid: u16, resched: bool) -> usize {
    use crate::mm::swap::PAGEVEC_SIZE;
    use crate::mm::swap_state::free_pages_and_swap_cache;
    let mut n: usize = 0;
    // The pages to free, in batches (Linux: the mmu_gather's page list, freed by
    // tlb_flush_mmu -> free_pages_and_swap_cache -> release_pages once the TLB is clean).
    let mut batch: [&'static Page; PAGEVEC_SIZE] =
        [pfn_to_page(crate::mm::page::min_pfn()); PAGEVEC_SIZE];
    let mut nr = 0;
    // A long range is flushed by ASID once per batch, before its pages are freed, rather
    // than page by page (Linux: __flush_tlb_range falls back to flush_tlb_mm past
    // MAX_TLBI_OPS pages).
    let by_asid = end - start > PAGEVEC_SIZE * PAGE_SIZE;
    for_each_pte(pgd, start, end, |va, pte| {
        let old = *pte;
        *pte = Pte::default(); // Linux: ptep_get_and_clear_full
        if !by_asid {
            crate::arch::cpu::flush_tlb_page(asid, va);
        }
        if pte_present(old) && !is_zero_pte(old) {
            let page = pte_page(old);
            page_remove_rmap(page);
            batch[nr] = page;
            nr += 1;
            if nr == PAGEVEC_SIZE {
                if by_asid {
                    crate::arch::cpu::flush_tlb_asid(asid);
                }
                free_pages_and_swap_cache(&batch);
                nr = 0;
            }
        } else if crate::mm::swapops::is_swap_pte(old) {
            // A swapped-out page: its slot loses this PTE's count (Linux: zap_pte_range's
            // non-present branch -> free_swap_and_cache). A hwpoison entry names no slot:
            // clearing it is all (free_swap_and_cache ignores non_swap_entry ones).
            crate::mm::swapfile::free_swap_and_cache(crate::mm::swapops::pte_to_swp_entry(old));
        }
        n += 1;
        // Once per page table's worth of entries. The pages cleared so far wait in
        // `batch`, their TLB entries possibly still live: only this mm's own threads
        // could use them, and this mm has one.
        if resched && n.is_multiple_of(PTRS_PER_TABLE) {
            crate::sync::wait::cond_resched();
        }
    });
    if by_asid {
        crate::arch::cpu::flush_tlb_asid(asid);
    }
    free_pages_and_swap_cache(&batch[..nr]);
    n
}

/// Copy the PTEs of `vma` from the page tables at `src` to those at `dst` at fork
/// (Linux: `copy_page_range` -> `copy_pte_range` -> `copy_present_pte`). A VMA with no
/// anon_vma is skipped, as 5.10 does: it has no anonymous pages, so the child can fault
/// everything back from the file or the zero page instead of copying PTEs now. In a
/// copy-on-write mapping (`is_cow_mapping`: private and may be written) each writable
/// PTE becomes read-only in both, the page shared with one more reference; shared
/// mappings are copied as they are; a swap entry is copied with one more count on its
/// slot, a hwpoison entry as it is.
#[no_mangle]
#[inline(never)]
pub fn copy_page_range(
    dst: usize,
    src: usize,
    vma: &crate::mm::vma::VmArea,
) -> Result<(), FaultResult> {
    use crate::mm::vma::VmFlags;
    // Nothing anonymous here: the child's faults will find the same pages.
    if !vma
        .vm_flags
        .intersects(VmFlags::VM_HUGETLB | VmFlags::VM_PFNMAP | VmFlags::VM_MIXEDMAP)
        && vma.anon_vma.is_none()
    {
        return Ok(());
    }
    let cow = is_cow_mapping(vma.vm_flags);
    let (start, end) = (vma.vm_start, vma.vm_end);
    let mut err = None;
    // The destination PTE table of the current 2 MiB block, found once per block
    // (Linux: copy_pte_range allocates and maps one dst table per pmd).
    let mut dst_table: Option<(usize, &'static mut [Pte; PTRS_PER_TABLE])> = None;
    for_each_pte(src, start, end, |va, pte| {
        if err.is_some() {
            return;
        }
        let block = va >> 21;
        let table = match dst_table {
            Some((b, ref mut t)) if b == block => t,
            _ => {
                let Some(t) = walk_to_pte_table(dst, va, true) else {
                    err = Some(FaultResult::Oom);
                    return;
                };
                // SAFETY: `t` is the child's PTE table for this 2 MiB block, just walked
                // to (or allocated); the caller holds both mms' `mmap_lock` for write.
                &mut dst_table.insert((block, unsafe { pte_table_map(t) })).1
            }
        };
        let mut entry = *pte;
        if pte_present(entry) {
            if cow && pte_write(entry) {
                entry = pte_wrprotect(entry); // the parent's TLB is flushed by the caller
                *pte = entry;
            }
            if !is_zero_pte(entry) {
                let page = pte_page(entry);
                get_page(page);
                page_dup_rmap(page);
            }
        } else if crate::mm::swapops::non_swap_entry(crate::mm::swapops::pte_to_swp_entry(entry)) {
            // A hwpoison entry: the child inherits it as it is, and faults on it too
            // (Linux: copy_nonpresent_pte copies a non_swap_entry without a count).
        } else if crate::mm::swapfile::swap_duplicate(crate::mm::swapops::pte_to_swp_entry(entry))
            .is_err()
        {
            // Not empty (for_each_pte skips those), not present: a swap entry. The child
            // shares the slot: one more count on it (Linux: copy_nonpresent_pte ->
            // swap_duplicate). A slot at its count limit fails the fork with ENOMEM
            // (Linux would chain a count-continuation page).
            err = Some(FaultResult::Oom);
            return;
        }
        table[table_index(va, 3)] = entry;
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Is this a private mapping that may be written, whose pages fork must share
/// copy-on-write (Linux: `is_cow_mapping`)?
pub fn is_cow_mapping(flags: crate::mm::vma::VmFlags) -> bool {
    use crate::mm::vma::VmFlags;
    flags & (VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE) == VmFlags::VM_MAYWRITE
}

/// Tear down every user mapping and table of an address space, then the pgd itself.
/// Linux: `exit_mmap` -> `unmap_vmas` + `free_pgtables`, then `pgd_free`.
pub fn free_user_pgtables(pgd: usize, asid: u16) {
    zap_page_range(pgd, 0, crate::arch::aarch64::uaccess::TASK_SIZE, asid);
    free_pgd_range(pgd, 0, crate::arch::aarch64::uaccess::TASK_SIZE, 0, 0);
    crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(pgd)), 0);
    crate::arch::cpu::flush_tlb_asid(asid);
}

/// The page-table side of the VMA code (`mm/mmap.rs`, `mm/mprotect.rs`, `mm/mlock.rs`) for
/// one mm: what Linux's mmap/munmap/mprotect paths call below the VMA layer
/// (`unmap_vmas`, `free_pgtables`, `change_protection`, populate). Built by
/// `MmStruct::pagetables`; host tests of the VMA code pass a recording stand-in instead.
pub struct MmPageTables<'a> {
    /// The mm's pgd (0: an mm without page tables, in host tests of the VMA code).
    pub pgd: usize,
    /// Its ASID, for TLB invalidation.
    pub asid: u16,
    /// The mm's page-table lock, held around every walk that changes PTEs.
    pub ptl: &'a crate::sync::SpinLock<()>,
    /// Ranges the VMA code asked to populate; the caller runs `mm_populate` on each once
    /// it has dropped `mmap_lock` (as Linux's callers do after `mmap_write_unlock`).
    pub populate: alloc::vec::Vec<(usize, usize)>,
}

impl crate::mm::vma::VmaPageTables for MmPageTables<'_> {
    fn unmap_vmas(&mut self, vmas: &[crate::mm::vma::VmArea], start: usize, end: usize) {
        if self.pgd == 0 {
            return;
        }
        for v in vmas {
            zap_page_range(
                self.pgd,
                start.max(v.vm_start),
                end.min(v.vm_end),
                self.asid,
            );
        }
    }

    fn free_pgtables(&mut self, vmas: &[crate::mm::vma::VmArea], floor: usize, ceiling: usize) {
        if self.pgd == 0 {
            return;
        }
        // Linux's free_pgtables: each VMA's range, tables freed only inside [floor,
        // ceiling). 32 MiB (16 PTE tables) at a time under the page-table lock, with a
        // chance to reschedule between pieces: an 8 GiB range holds 4,096 tables to
        // look through. (Linux frees them under the lock of each table and needs no
        // break.) Freeing a range piece by piece frees the same tables: an upper table
        // goes with the piece that empties it.
        const PIECE: usize = 16 << 21;
        for v in vmas {
            let mut a = v.vm_start;
            while a < v.vm_end {
                let e = ((a & !(PIECE - 1)) + PIECE).min(v.vm_end);
                {
                    let _ptl = self.ptl.lock();
                    free_pgd_range(self.pgd, a, e, floor, ceiling);
                }
                crate::sync::wait::cond_resched();
                a = e;
            }
        }
    }

    fn change_protection(
        &mut self,
        vma: &crate::mm::vma::VmArea,
        start: usize,
        end: usize,
        newprot: crate::arch::aarch64::pgtable::PgProt,
        dirty_accountable: bool,
    ) -> usize {
        if self.pgd == 0 {
            return 0;
        }
        let _ptl = self.ptl.lock();
        crate::mm::mprotect::change_protection(
            self.pgd,
            self.asid,
            vma,
            start,
            end,
            newprot,
            dirty_accountable,
        )
    }

    fn cold_or_pageout_pte_range(
        &mut self,
        _vma: &crate::mm::vma::VmArea,
        start: usize,
        end: usize,
        pageout: bool,
    ) {
        if self.pgd == 0 {
            return;
        }
        crate::mm::madvise::madvise_cold_or_pageout_pte_range(
            self.pgd, self.asid, self.ptl, start, end, pageout,
        );
    }

    /// Deferred: see `populate`.
    fn mm_populate(&mut self, _mm: &mut crate::mm::mm_types::MmapLocked, start: usize, len: usize) {
        self.populate.push((start, len));
    }

    fn shmem_zero_setup(&mut self, vma: &mut crate::mm::vma::VmArea) -> crate::errno::KResult<()> {
        crate::mm::shmem::shmem_zero_setup(vma)
    }

    /// The system-wide overcommit policy (`mm/util.rs`); an mm without page tables (host
    /// tests of the VMA code) is not accounted.
    fn security_vm_enough_memory_mm(&mut self, pages: usize) -> crate::errno::KResult<()> {
        if self.pgd == 0 {
            return Ok(());
        }
        crate::mm::util::__vm_enough_memory(pages)
    }

    fn vm_unacct_memory(&mut self, pages: usize) {
        if self.pgd != 0 {
            crate::mm::util::vm_unacct_memory(pages);
        }
    }

    fn vm_acct_memory(&mut self, pages: usize) {
        if self.pgd != 0 {
            crate::mm::util::vm_acct_memory(pages as isize);
        }
    }

    /// Linux: `move_page_tables` -> `move_ptes`: each entry is taken from the old place
    /// (`ptep_get_and_clear`, TLB flushed) and set at the new one, under the page-table
    /// lock; the page keeps its references and mapcount. Stops short when a new table
    /// cannot be allocated.
    fn move_page_tables(&mut self, old_addr: usize, new_addr: usize, len: usize) -> usize {
        if self.pgd == 0 {
            return len;
        }
        let _ptl = self.ptl.lock();
        let mut done = 0;
        while done < len {
            let (old, new) = (old_addr + done, new_addr + done);
            if let Some(pte) = pte_offset(self.pgd, old, false) {
                if !pte_none(*pte) {
                    let Some(dst) = pte_offset(self.pgd, new, true) else {
                        break;
                    };
                    *dst = core::mem::take(pte);
                    crate::arch::cpu::flush_tlb_page(self.asid, old);
                }
            }
            done += PAGE_SIZE;
        }
        done
    }
}

/// Unmap the pages of `mapping` from byte `holebegin` for `holelen` bytes (0: to the end
/// of the file) from every VMA that maps them, private COW copies included when
/// `even_cows`, so the next access faults and finds the file's new state (Linux:
/// `unmap_mapping_range` -> `unmap_mapping_pages` -> `unmap_mapping_range_tree`, which
/// walks the file's `i_mmap`, then `unmap_mapping_range_vma` -> `zap_page_range_single`).
/// Locking: `i_mmap` is held across the walk, so no VMA can leave its mm meanwhile, and
/// each mm's page-table lock around its zap; no `mmap_lock`, as in Linux.
/// Difference: `even_cows == false` is not told apart yet (truncate, our one caller,
/// passes true); Linux then skips private COW copies by `zap_details`.
#[no_mangle]
#[inline(never)]
pub fn unmap_mapping_range(
    mapping: &crate::mm::filemap::AddressSpace,
    holebegin: u64,
    holelen: u64,
    even_cows: bool,
) {
    let _ = even_cows;
    let first_index = holebegin.div_ceil(PAGE_SIZE as u64) as usize;
    let last_index = if holelen == 0 {
        usize::MAX
    } else {
        ((holebegin + holelen).div_ceil(PAGE_SIZE as u64) as usize).saturating_sub(1)
    };
    if last_index < first_index {
        return;
    }
    let i_mmap = mapping.i_mmap.lock();
    for vma in crate::mm::interval_tree::vma_interval_tree_iter(&i_mmap, first_index, last_index) {
        // SAFETY: a VMA in i_mmap is linked into its mm, which outlives it (exit_mmap
        // unlinks every VMA before the mm goes); host tests' mms have none (null).
        let Some(mm) = (unsafe { vma.vm_mm.as_ref() }) else {
            continue;
        };
        let vba = vma.vm_pgoff;
        let vea = vba + vma.vma_pages() - 1;
        let zba = first_index.max(vba);
        let zea = last_index.min(vea);
        let start = vma.vm_start + ((zba - vba) << PAGE_SHIFT);
        let end = vma.vm_start + ((zea - vba + 1) << PAGE_SHIFT);
        let _ptl = mm.page_table_lock.lock();
        zap_page_range_single(mm.pgd, start, end, mm.asid());
    }
}

/// Fault `address` of `vma` in the page tables at `pgd` as a user read or write would,
/// through `handle_mm_fault` (host tests; the tables stay the test's).
#[cfg(test)]
pub fn fault_for_test(
    pgd: usize,
    vma: &crate::mm::vma::VmArea,
    address: usize,
    write: bool,
) -> FaultResult {
    let mm = core::mem::ManuallyDrop::new(crate::mm::mm_types::MmStruct::for_test_pgd(
        crate::mm::mm_types::MmapLocked::new(),
        pgd,
    ));
    let flags = if write {
        FaultFlags::WRITE | FaultFlags::USER
    } else {
        FaultFlags::USER
    };
    handle_mm_fault(&mm, vma, address, flags)
}

#[cfg(test)]
mod fault_tests {
    use super::*;
    use crate::arch::aarch64::pgtable::pte_dirty;
    use crate::mm::vma::{VmArea, VmFlags};

    /// A private anonymous read-write VMA of 16 pages from `addr`.
    fn rw_anon(addr: usize) -> VmArea {
        let flags =
            VmFlags::VM_READ | VmFlags::VM_WRITE | VmFlags::VM_MAYREAD | VmFlags::VM_MAYWRITE;
        let mut v = VmArea::new(addr, addr + 16 * PAGE_SIZE, flags);
        v.vm_pgoff = addr >> PAGE_SHIFT;
        v
    }

    fn setup() -> crate::arch::aarch64::mmu::tests::SimRam {
        let ram = crate::arch::aarch64::mmu::tests::SimRam::new(256);
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
        if zone.managed_pages == 0 {
            zone.add_free_range(0x40000, 0x40000 + 256);
        }
        ram
    }

    #[test]
    fn anonymous_read_maps_zero_page_then_write_copies() {
        let _ram = setup();
        zero_page_phys();
        let free0 = crate::mm::page_alloc::nr_free_pages();
        let pgd = pgd_alloc().unwrap();
        let addr = 0x1234_5000;
        let vma = rw_anon(addr);
        assert!(fault_for_test(pgd, &vma, addr, false).is_handled());
        let pte = *pte_offset(pgd, addr, false).unwrap();
        assert!(is_zero_pte(pte) && !pte_write(pte) && !pte_dirty(pte));
        // Write to the zero page: COW into a private zeroed page.
        assert!(fault_for_test(pgd, &vma, addr, true).is_handled());
        let pte = *pte_offset(pgd, addr, false).unwrap();
        assert!(!is_zero_pte(pte) && pte_write(pte) && pte_dirty(pte));
        let page = pte_page(pte);
        assert_eq!((page.page_count(), page.page_mapcount()), (1, 1));
        free_user_pgtables(pgd, 1);
        assert_eq!(
            crate::mm::page_alloc::nr_free_pages(),
            free0,
            "a page or table leaked"
        );
    }

    #[test]
    fn check_mm_finds_a_pte_outside_every_vma() {
        let _ram = setup();
        zero_page_phys();
        let pgd = pgd_alloc().unwrap();
        let mm = crate::mm::mm_types::MmapLocked::new();
        assert_eq!(crate::mm::debug::check_mm(&mm, pgd), Ok(()));
        // A page mapped through a VMA the mm does not have (as a missed unmap would
        // leave it): the check names the address.
        let addr = 0x1234_5000;
        let vma = rw_anon(addr);
        assert!(fault_for_test(pgd, &vma, addr, true).is_handled());
        let err = crate::mm::debug::check_mm(&mm, pgd).unwrap_err();
        assert!(
            err.contains("0x12345000") && err.contains("outside every VMA"),
            "{err}"
        );
        free_user_pgtables(pgd, 1);
    }

    #[test]
    fn fork_shares_then_cow_separates() {
        let _ram = setup();
        zero_page_phys();
        let free0 = crate::mm::page_alloc::nr_free_pages();
        let (parent, child) = (pgd_alloc().unwrap(), pgd_alloc().unwrap());
        let addr = 0x40_0000;
        let vma = rw_anon(addr);
        assert!(fault_for_test(parent, &vma, addr, true).is_handled());
        let va = page_address(pte_page(*pte_offset(parent, addr, false).unwrap()));
        // SAFETY: the page was just faulted in and is mapped by the (simulated) linear map.
        unsafe { (va as *mut u64).write(0xfeed) };
        copy_page_range(child, parent, &vma).unwrap();
        let (p, c) = (
            *pte_offset(parent, addr, false).unwrap(),
            *pte_offset(child, addr, false).unwrap(),
        );
        assert_eq!(p, c);
        assert!(
            !pte_write(p),
            "both sides must be write-protected after fork"
        );
        assert!(
            pte_dirty(p),
            "fork's write-protect keeps the dirty bit (Linux too)"
        );
        assert_eq!(
            (pte_page(p).page_count(), pte_page(p).page_mapcount()),
            (2, 2)
        );
        // The child writes: it gets its own copy with the same contents.
        assert!(fault_for_test(child, &vma, addr, true).is_handled());
        let c2 = *pte_offset(child, addr, false).unwrap();
        assert!(pte_write(c2) && !core::ptr::eq(pte_page(c2), pte_page(p)));
        assert_eq!(
            // SAFETY: the child's page is mapped and referenced by its PTE.
            unsafe { (page_address(pte_page(c2)) as *const u64).read() },
            0xfeed
        );
        // The parent is now the only user: its write fault reuses the page.
        assert_eq!(pte_page(p).page_count(), 1);
        assert!(fault_for_test(parent, &vma, addr, true).is_handled());
        assert_eq!(
            pte_page(*pte_offset(parent, addr, false).unwrap()) as *const Page,
            pte_page(p) as *const Page
        );
        free_user_pgtables(child, 2);
        free_user_pgtables(parent, 1);
        assert_eq!(
            crate::mm::page_alloc::nr_free_pages(),
            free0,
            "a page or table leaked"
        );
    }
}

/// Copy between `buf` and another address space at `addr`, page by page through
/// `get_user_pages_remote` with FOLL_FORCE: into `buf` for a read, out of it with
/// FOLL_WRITE in `gup_flags`. A forced write to a private read-only mapping lands in the
/// process's own copy of the page (COW), never in the file. Returns the bytes copied
/// (short at the first page that cannot be had). Linux: `access_remote_vm` ->
/// `__access_remote_vm`.
pub fn access_remote_vm(
    mm: &crate::mm::mm_types::MmStruct,
    addr: usize,
    buf: &mut [u8],
    gup_flags: crate::mm::gup::FollFlags,
) -> usize {
    use crate::mm::gup::{get_user_pages_remote, FollFlags};
    let write = gup_flags.contains(FollFlags::FOLL_WRITE);
    let mut done = 0;
    while done < buf.len() {
        let Some(at) = addr.checked_add(done) else {
            break;
        };
        let offset = at & (PAGE_SIZE - 1);
        let Ok(pages) = get_user_pages_remote(
            mm,
            at & !(PAGE_SIZE - 1),
            1,
            gup_flags | FollFlags::FOLL_FORCE,
        ) else {
            break;
        };
        let Some(&page) = pages.first() else { break };
        let n = (PAGE_SIZE - offset).min(buf.len() - done);
        let kaddr = page_address(page) + offset;
        if write {
            // SAFETY: the page is pinned (our reference) and mapped by the linear map;
            // `[kaddr, kaddr + n)` stays inside it.
            let dst = unsafe { core::slice::from_raw_parts_mut(kaddr as *mut u8, n) };
            dst.copy_from_slice(&buf[done..done + n]);
            // Linux: set_page_dirty_lock.
            page.set_flags(PageFlags::PG_dirty);
        } else {
            // SAFETY: as above, read only.
            let src = unsafe { core::slice::from_raw_parts(kaddr as *const u8, n) };
            buf[done..done + n].copy_from_slice(src);
        }
        put_page(page);
        done += n;
    }
    done
}

//! User page tables: walking and allocating levels, installing and zapping PTEs, copying
//! them at fork. The fault handlers (`handle_mm_fault` and friends) sit on top.
//! Linux: `mm/memory.c` (`__pte_alloc`, `zap_pte_range`, `free_pgd_range`,
//! `copy_page_range`), `include/linux/pgtable.h`, `arch/arm64/include/asm/pgalloc.h`.
//!
//! Tables are reached through the linear map, like the kernel's (`arch::aarch64::mmu`),
//! so these functions run in host unit tests over simulated memory too.
use crate::arch::aarch64::pgtable::{decode, mk_table, table_index, Desc, PTRS_PER_TABLE};
use crate::arch::{phys_to_virt, PAGE_SHIFT, PAGE_SIZE};
use crate::mm::page::{page_to_phys, pfn_to_page, Page};
use crate::mm::page_alloc::{alloc_page, GfpFlags};
use crate::mm::phys_pfn;

fn table<'a>(pa: usize) -> &'a mut [u64; PTRS_PER_TABLE] {
    // SAFETY: page-table pages are ours and mapped by the linear map.
    unsafe { &mut *(phys_to_virt(pa) as *mut [u64; PTRS_PER_TABLE]) }
}

/// A zeroed page for a page-table level. Linux: `pte_alloc_one` / `__get_free_page`.
pub fn pgtable_page_alloc() -> Option<usize> {
    alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO).map(page_to_phys)
}

/// A new, empty top-level table for a user address space. Linux: `pgd_alloc`.
pub fn pgd_alloc() -> Option<usize> {
    pgtable_page_alloc()
}

/// The level-3 entry for `addr`, allocating missing pud/pmd/pte tables when `alloc`.
/// `None` if a level is missing (and `!alloc`) or memory ran out. Linux:
/// `pgd_offset` -> `p4d_alloc` -> `pud_alloc` -> `pmd_alloc` -> `pte_alloc_map`.
pub fn pte_offset(pgd: usize, addr: usize, alloc: bool) -> Option<&'static mut u64> {
    let mut t = pgd;
    for level in 0..3 {
        let slot = &mut table(t)[table_index(addr, level)];
        t = match decode(*slot, level) {
            Desc::Table(next) => next,
            Desc::Invalid if alloc => {
                let new = pgtable_page_alloc()?;
                *slot = mk_table(new);
                new
            }
            _ => return None, // user space has no blocks
        };
    }
    Some(&mut table(t)[table_index(addr, 3)])
}

/// Call `f(addr, &mut pte)` for every present level-3 entry in `[start, end)`, skipping
/// missing tables a whole table at a time. Linux: the `walk_page_range` pattern.
pub fn for_each_pte(pgd: usize, start: usize, end: usize, mut f: impl FnMut(usize, &mut u64)) {
    fn walk(
        t: usize,
        level: usize,
        base: usize,
        start: usize,
        end: usize,
        f: &mut dyn FnMut(usize, &mut u64),
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
            let slot = &mut table(t)[idx];
            if level == 3 {
                if *slot != 0 {
                    f(va, slot);
                }
            } else if let Desc::Table(next) = decode(*slot, level) {
                walk(next, level + 1, va, start.max(va), end, f);
            }
        }
    }
    if start < end {
        walk(pgd, 0, 0, start, end, &mut f);
    }
}

/// Free the page-table pages below `pgd` that map nothing in `[start, end)` ... and,
/// with the whole user range, the pgd's children (the pgd itself is freed by the
/// caller). Linux: `free_pgtables` -> `free_pgd_range`.
/// Difference: we free a table only when every entry in it is empty, so it is safe to
/// call with any range.
pub fn free_pgd_range(pgd: usize, start: usize, end: usize) {
    fn free_level(t: usize, level: usize, base: usize, start: usize, end: usize) -> bool {
        let span = 1usize << (12 + 9 * (3 - level));
        let entries = table(t);
        for (idx, slot) in entries.iter_mut().enumerate() {
            let va = base + idx * span;
            if va >= end || va + span <= start || level == 3 {
                continue;
            }
            if let Desc::Table(next) = decode(*slot, level) {
                if free_level(next, level + 1, va, start, end) {
                    *slot = 0;
                    crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(next)), 0);
                }
            }
        }
        entries.iter().all(|&e| e == 0)
    }
    free_level(pgd, 0, 0, start, end);
}

/// The page a present PTE maps (Linux: `vm_normal_page`).
pub fn pte_page(pte: u64) -> &'static Page {
    pfn_to_page(phys_pfn(crate::arch::aarch64::pgtable::pte_phys(pte)))
}

/// Bytes in a page (re-exported for callers that walk ranges).
pub const fn page_size() -> usize {
    PAGE_SIZE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::aarch64::pgtable::{mk_leaf, PAGE_READONLY};

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
        *pte_offset(pgd, 0x40_0000, true).unwrap() = mk_leaf(0x4000_0000, PAGE_READONLY, 3);
        *pte_offset(pgd, 0x40_1000, true).unwrap() = mk_leaf(0x4000_1000, PAGE_READONLY, 3);
        // pgd + pud + pmd + pte
        assert_eq!(free0 - crate::mm::page_alloc::nr_free_pages(), 4);
        let mut seen = std::vec::Vec::new();
        for_each_pte(pgd, 0, 1 << 48, |va, _| seen.push(va));
        assert_eq!(seen, [0x40_0000, 0x40_1000]);
        assert!(pte_offset(pgd, 0x8000_0000, false).is_none());
        for_each_pte(pgd, 0, 1 << 48, |_, pte| *pte = 0);
        free_pgd_range(pgd, 0, 1 << 48);
        crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(pgd)), 0);
        assert_eq!(crate::mm::page_alloc::nr_free_pages(), free0);
    }
}

/// Outcome of a user page fault (Linux: the VM_FAULT_* bits and `__do_page_fault`'s
/// VM_FAULT_BADMAP / VM_FAULT_BADACCESS).
#[derive(Clone, Debug)]
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
    /// The page must come from the disk and the fault was allowed to let go of
    /// `mmap_lock` for that (FAULT_FLAG_ALLOW_RETRY): nothing was mapped. The caller drops
    /// the lock, runs the I/O (`do_sync_mmap_readahead`) and faults again with
    /// FAULT_FLAG_TRIED (Linux: VM_FAULT_RETRY).
    Retry(FaultRetry),
}

impl FaultResult {
    /// Linux: `!(fault & VM_FAULT_ERROR)` and not VM_FAULT_RETRY.
    pub fn is_handled(&self) -> bool {
        matches!(self, FaultResult::Handled)
    }
}

/// What a VM_FAULT_RETRY fault must wait for: the file page to read, with the file pinned
/// so it outlives the VMA once `mmap_lock` is dropped (Linux: the `fpin` that
/// `maybe_unlock_mmap_for_io` returns to `filemap_fault`).
#[derive(Clone)]
pub struct FaultRetry {
    /// The mapped file (Linux: `fpin = get_file(vmf->vma->vm_file)`).
    pub fpin: alloc::sync::Arc<dyn crate::mm::vma::MappedFile>,
    /// The page offset in the file (Linux: `vmf->pgoff`).
    pub pgoff: usize,
}

impl core::fmt::Debug for FaultRetry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FaultRetry({} page {})", self.fpin.path(), self.pgoff)
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

/// Make the page at `address` of `vma` present with the access `flags` need. Linux:
/// `handle_mm_fault` -> `__handle_mm_fault` -> `handle_pte_fault`, which picks
/// `do_anonymous_page`, `do_fault` (file), `do_wp_page` (write to a read-only PTE) or
/// only marks the entry young. Locking: `mm.mmap_lock` held for read (or write); with
/// FAULT_FLAG_ALLOW_RETRY a file page that needs I/O returns `FaultResult::Retry`
/// instead of waiting under the lock. Linux passes only the VMA (`vma->vm_mm`); our VMAs
/// have no back pointer yet, so the mm comes first.
#[no_mangle]
#[inline(never)]
pub fn handle_mm_fault(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    address: usize,
    flags: FaultFlags,
) -> FaultResult {
    use crate::mm::vma::VmFlags;
    let (pgd, asid) = (mm.pgd, mm.asid());
    let write = flags.contains(FaultFlags::WRITE);
    let Some(pte) = pte_offset(pgd, address, true) else {
        return FaultResult::Oom;
    };
    let entry = *pte;
    if entry == 0 && vma.vm_file.is_some() {
        // A file page may have to be read first: no spin lock across that.
        let result = do_fault(vma, mm, address, flags);
        if result.is_handled() && vma.vm_flags.contains(VmFlags::VM_LOCKED) {
            let _ptl = mm.page_table_lock.lock();
            mlock_faulted_page(pgd, address, entry);
        }
        return result;
    }
    // Every PTE change happens under the page-table lock (Linux: pte_offset_map_lock in
    // each handler), so a walk from the page side (reclaim, later) never sees one half
    // done.
    let _ptl = mm.page_table_lock.lock();
    let result = if *pte != entry {
        // Changed since we looked (Linux: !pte_same): let the access retry.
        FaultResult::Handled
    } else if entry == 0 {
        do_anonymous_page(
            pte,
            write,
            vma.vm_page_prot,
            vma.vm_flags.contains(VmFlags::VM_WRITE),
        )
    } else if write && !pte_write(entry) {
        if vma.vm_flags.contains(VmFlags::VM_SHARED) {
            // A shared page becomes writable in place (Linux: wp_page_shared).
            *pte = pte_mkwrite(entry);
            crate::arch::cpu::flush_tlb_page(asid, address & !(PAGE_SIZE - 1));
            FaultResult::Handled
        } else {
            do_wp_page(pte, address, asid)
        }
    } else {
        // Present and allowed: a stale TLB entry or the access flag (set on install).
        FaultResult::Handled
    };
    if result.is_handled() && vma.vm_flags.contains(VmFlags::VM_LOCKED) {
        mlock_faulted_page(pgd, address, entry);
    }
    result
}

/// A page newly mapped into a VM_LOCKED VMA is mlocked at once (Linux:
/// `lru_cache_add_inactive_or_unevictable`), and the page a COW fault replaced leaves
/// the locked VMA, so it is munlocked (Linux: `wp_page_copy`). The zero page never is.
fn mlock_faulted_page(pgd: usize, addr: usize, old: u64) {
    let Some(pte) = pte_offset(pgd, addr, false) else {
        return;
    };
    let new = *pte;
    if !pte_present(new) || is_zero_pte(new) {
        return;
    }
    if pte_present(old)
        && !is_zero_pte(old)
        && crate::arch::aarch64::pgtable::pte_phys(old)
            != crate::arch::aarch64::pgtable::pte_phys(new)
    {
        crate::mm::mlock::munlock_vma_page(pte_page(old));
    }
    crate::mm::mlock::mlock_vma_page(pte_page(new));
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

/// Fault on an empty PTE of a file (or shmem) mapping. Linux: `do_fault` ->
/// `do_read_fault` (map the page-cache page read-only), `do_cow_fault` (private write:
/// copy it to a new anonymous page), `do_shared_fault` (shared write: map it writable).
/// SIGBUS beyond the end of the file.
#[no_mangle]
#[inline(never)]
pub fn do_fault(
    vma: &crate::mm::vma::VmArea,
    mm: &crate::mm::mm_types::MmStruct,
    addr: usize,
    flags: FaultFlags,
) -> FaultResult {
    use crate::mm::vma::VmFlags;
    let pgd = mm.pgd;
    let write = flags.contains(FaultFlags::WRITE);
    let index = ((addr - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff;
    let vmf = crate::mm::vma::VmFault {
        vma,
        flags,
        pgoff: index,
        address: addr & !(PAGE_SIZE - 1),
    };
    let page = match __do_fault(&vmf) {
        Ok(page) => page,
        Err(result) => return result,
    };
    // The page is ours (a reference); now install it under the page-table lock (Linux:
    // finish_fault -> pte_offset_map_lock).
    let _ptl = mm.page_table_lock.lock();
    let Some(pte) = pte_offset(pgd, addr, true) else {
        put_page(page);
        return FaultResult::Oom;
    };
    if *pte != 0 {
        // Another fault mapped it meanwhile (Linux: !pte_none under the lock).
        put_page(page);
        return FaultResult::Handled;
    }
    let shared = vma.vm_flags.contains(VmFlags::VM_SHARED);
    if write && !shared {
        // do_cow_fault: a private copy; the page-cache page keeps only the cache's ref.
        let Some(new) = alloc_page(GfpFlags::GFP_KERNEL) else {
            put_page(page);
            return FaultResult::Oom;
        };
        // SAFETY: both pages are mapped by the linear map.
        unsafe { crate::arch::cpu::copy_page(page_address(new), page_address(page)) };
        put_page(page);
        page_add_new_anon_rmap(new);
        *pte = pte_mkwrite(mk_leaf(page_to_phys(new), vma.vm_page_prot, 3));
        return FaultResult::Handled;
    }
    // do_read_fault / do_shared_fault: map the cache page itself (our ref is the map's).
    page_dup_rmap(page);
    let mut entry = mk_leaf(page_to_phys(page), vma.vm_page_prot, 3);
    if write && shared {
        entry = pte_mkwrite(entry);
        page.set_flags(PageFlags::PG_dirty);
    }
    *pte = entry;
    FaultResult::Handled
}

// ---------------------------------------------------------------------------------------
// Page-level fault handling and range operations. The VMA-level checks (which VMA, which
// permissions) are the caller's; these functions take the VMA's properties as arguments.
// ---------------------------------------------------------------------------------------

use crate::arch::aarch64::pgtable::{
    mk_leaf, pte_mkwrite, pte_present, pte_write, pte_wrprotect, PgProt,
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
pub fn is_zero_pte(pte: u64) -> bool {
    pte_present(pte)
        && crate::arch::aarch64::pgtable::pte_phys(pte) == ZERO_PAGE_PHYS.load(Ordering::Acquire)
}

/// Map a freshly allocated anonymous page: refcount 1 (ours), mapcount 1, swap-backed.
/// Linux: `page_add_new_anon_rmap` + `lru_cache_add_inactive_or_unevictable` (the LRU
/// part comes with reclaim).
fn page_add_new_anon_rmap(page: &Page) {
    page._mapcount.store(0, Ordering::Relaxed);
    page.set_flags(PageFlags::PG_swapbacked);
}

/// One more mapping of an existing page (fork). Linux: `page_dup_rmap`.
fn page_dup_rmap(page: &Page) {
    page._mapcount.fetch_add(1, Ordering::Relaxed);
}

/// One mapping fewer. Linux: `page_remove_rmap`.
fn page_remove_rmap(page: &Page) {
    page._mapcount.fetch_sub(1, Ordering::Relaxed);
}

/// Anonymous fault on an empty PTE: a read maps the zero page, a write maps a new zeroed
/// page (writable when the VMA is). Linux: `do_anonymous_page`. `pte` is the entry
/// `handle_mm_fault` walked to (Linux: `vmf->pte`); the caller holds the page-table lock.
#[no_mangle]
#[inline(never)]
pub fn do_anonymous_page(
    pte: &mut u64,
    write: bool,
    prot: PgProt,
    vma_writable: bool,
) -> FaultResult {
    if *pte != 0 {
        return FaultResult::Handled; // raced with another fault: nothing to do
    }
    if !write {
        *pte = mk_leaf(zero_page_phys(), prot, 3);
        return FaultResult::Handled;
    }
    let Some(page) = alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO) else {
        return FaultResult::Oom;
    };
    page_add_new_anon_rmap(page);
    let mut entry = mk_leaf(page_to_phys(page), prot, 3);
    if vma_writable {
        entry = pte_mkwrite(entry);
    }
    *pte = entry;
    FaultResult::Handled
}

/// Write fault on a present read-only PTE of a writable VMA: copy-on-write. Reuse the
/// page when we are its only user (refcount 1, not the zero page); otherwise copy it to a
/// new page and drop our reference to the old one. Linux: `do_wp_page` -> `wp_page_copy`
/// / `wp_page_reuse`. `pte` is the entry for `addr` (Linux: `vmf->pte`), under the
/// page-table lock; `asid` identifies the TLB entries to invalidate.
#[no_mangle]
#[inline(never)]
pub fn do_wp_page(pte: &mut u64, addr: usize, asid: u16) -> FaultResult {
    let old = *pte;
    if !pte_present(old) {
        return FaultResult::BadArea;
    }
    if pte_write(old) {
        return FaultResult::Handled;
    }
    let va = addr & !(PAGE_SIZE - 1);
    if !is_zero_pte(old) {
        let page = pte_page(old);
        if page.page_count() == 1 {
            // wp_page_reuse: nobody else sees this page.
            *pte = pte_mkwrite(old);
            crate::arch::cpu::flush_tlb_page(asid, va);
            return FaultResult::Handled;
        }
    }
    // wp_page_copy
    let Some(new) = alloc_page(GfpFlags::GFP_KERNEL) else {
        return FaultResult::Oom;
    };
    let src = phys_to_virt(crate::arch::aarch64::pgtable::pte_phys(old));
    // SAFETY: both pages are mapped by the linear map and PAGE_SIZE long.
    unsafe { crate::arch::cpu::copy_page(page_address(new), src) };
    page_add_new_anon_rmap(new);
    let attrs = old & !(((1u64 << 36) - 1) << 12); // keep the attributes, new address
    let entry = pte_mkwrite(attrs | page_to_phys(new) as u64);
    // Break-before-make: invalidate the old translation before installing the new one.
    *pte = 0;
    crate::arch::cpu::flush_tlb_page(asid, va);
    *pte = entry;
    if !is_zero_pte(old) {
        let page = pte_page(old);
        page_remove_rmap(page);
        put_page(page);
    }
    FaultResult::Handled
}

/// Unmap `[start, end)`: clear each PTE, drop the page's mapping and reference (freeing
/// it when that was the last), flush the TLB. Returns the pages unmapped. Linux:
/// `zap_page_range` -> `zap_pte_range`.
#[no_mangle]
#[inline(never)]
pub fn zap_page_range(pgd: usize, start: usize, end: usize, asid: u16) -> usize {
    let mut n = 0;
    for_each_pte(pgd, start, end, |va, pte| {
        let old = *pte;
        *pte = 0;
        crate::arch::cpu::flush_tlb_page(asid, va);
        if pte_present(old) && !is_zero_pte(old) {
            let page = pte_page(old);
            page_remove_rmap(page);
            put_page(page);
        }
        n += 1;
    });
    n
}

/// Copy the PTEs of `[start, end)` from `src` to `dst` at fork. Private writable
/// mappings become copy-on-write in both (write-protected, page shared with one more
/// reference); shared mappings are copied as they are. Linux: `copy_page_range` ->
/// `copy_pte_range` -> `copy_present_pte`.
#[no_mangle]
#[inline(never)]
pub fn copy_page_range(
    dst: usize,
    src: usize,
    start: usize,
    end: usize,
    cow: bool,
) -> Result<(), FaultResult> {
    let mut err = None;
    // The destination PTE table of the current 2 MiB block, found once per block
    // (Linux: copy_pte_range allocates and maps one dst table per pmd).
    let mut dst_table: Option<(usize, *mut u64)> = None;
    for_each_pte(src, start, end, |va, pte| {
        if err.is_some() || !pte_present(*pte) {
            return;
        }
        if cow && pte_write(*pte) {
            *pte = pte_wrprotect(*pte); // the parent's TLB is flushed by the caller
        }
        let block = va >> 21;
        let index = table_index(va, 3);
        let base = match dst_table {
            Some((b, t)) if b == block => t,
            _ => {
                let Some(d) = pte_offset(dst, va, true) else {
                    err = Some(FaultResult::Oom);
                    return;
                };
                // SAFETY: `d` is entry `index` of its table.
                let t = unsafe { (d as *mut u64).sub(index) };
                dst_table = Some((block, t));
                t
            }
        };
        // SAFETY: a page-table page has PTRS_PER_TABLE entries; index is below that.
        let d = unsafe { &mut *base.add(index) };
        *d = *pte;
        if !is_zero_pte(*pte) {
            let page = pte_page(*pte);
            get_page(page);
            page_dup_rmap(page);
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Tear down every user mapping and table of an address space, then the pgd itself.
/// Linux: `exit_mmap` -> `unmap_vmas` + `free_pgtables`, then `pgd_free`.
pub fn free_user_pgtables(pgd: usize, asid: u16) {
    zap_page_range(pgd, 0, crate::arch::aarch64::uaccess::TASK_SIZE, asid);
    free_pgd_range(pgd, 0, crate::arch::aarch64::uaccess::TASK_SIZE);
    crate::mm::page_alloc::__free_pages(pfn_to_page(phys_pfn(pgd)), 0);
    crate::arch::cpu::flush_tlb_asid(asid);
}

/// The page-table side of the VMA code (`mm/mmap.rs`, `mm/mprotect.rs`, `mm/mlock.rs`) for
/// one mm: what Linux's mmap/munmap/mprotect paths call below the VMA layer
/// (`unmap_vmas`, `free_pgtables`, `change_protection`, `munlock_vma_pages_all`). Built by
/// `MmStruct::pagetables`; host tests of the VMA code pass a recording stand-in instead.
pub struct MmPageTables<'a> {
    /// The mm's pgd (0: an mm without page tables, in host tests of the VMA code).
    pub pgd: usize,
    /// Its ASID, for TLB invalidation.
    pub asid: u16,
    /// The mm's page-table lock, held around every walk that changes PTEs.
    pub ptl: &'a crate::sync::SpinLockIrq<()>,
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

    fn free_pgtables(&mut self, _vmas: &[crate::mm::vma::VmArea], floor: usize, ceiling: usize) {
        if self.pgd == 0 {
            return;
        }
        let _ptl = self.ptl.lock();
        // Our free_pgd_range only frees tables with no entries left, so any range is safe.
        let ceiling = if ceiling == 0 {
            crate::mm::mm_types::TASK_SIZE
        } else {
            ceiling
        };
        free_pgd_range(self.pgd, floor, ceiling);
    }

    fn change_protection(
        &mut self,
        vma: &crate::mm::vma::VmArea,
        start: usize,
        end: usize,
        newprot: PgProt,
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

    /// munmap of a locked VMA, and munlock of a range (the VMA cut to it): clear the
    /// mlock of every page mapped there (Linux: `munlock_vma_pages_all` /
    /// `munlock_vma_pages_range`).
    fn munlock_vma_pages_all(&mut self, vma: &crate::mm::vma::VmArea) {
        if self.pgd == 0 {
            return;
        }
        let _ptl = self.ptl.lock();
        crate::mm::mlock::munlock_page_range(self.pgd, vma.vm_start, vma.vm_end);
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
}

/// Unmap every page of file `(dev, ino)` at or past byte `from` from every address space
/// (private COW copies included), so the next access faults and finds the new size.
/// Linux: `unmap_mapping_range` walking the file's `i_mmap` tree; we have no i_mmap yet,
/// so we walk every mm (`for_each_mm`). Locking: each mm's `mmap_lock` for read.
pub fn unmap_mapping_range(ino: u64, dev: (u32, u32), from: u64) {
    let first = from.div_ceil(PAGE_SIZE as u64) as usize;
    crate::mm::mm_types::for_each_mm(|mm| {
        let guard = crate::mm::mmap_lock::mmap_read_lock(mm);
        for vma in guard.mm_rb.values() {
            let Some(f) = &vma.vm_file else { continue };
            if f.ino() != ino || f.dev() != dev {
                continue;
            }
            let skip = first.saturating_sub(vma.vm_pgoff);
            let start = vma.vm_start.saturating_add(skip * PAGE_SIZE);
            if start < vma.vm_end {
                zap_page_range(mm.pgd, start, vma.vm_end, mm.asid());
            }
        }
    });
}

#[cfg(test)]
mod fault_tests {
    use super::*;
    use crate::arch::aarch64::pgtable::PAGE_READONLY;

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
        let pte = pte_offset(pgd, addr, true).unwrap();
        assert!(do_anonymous_page(pte, false, PAGE_READONLY, true).is_handled());
        let pte = *pte_offset(pgd, addr, false).unwrap();
        assert!(is_zero_pte(pte) && !pte_write(pte));
        // Write to the zero page: COW into a private zeroed page.
        assert!(do_wp_page(pte_offset(pgd, addr, false).unwrap(), addr, 1).is_handled());
        let pte = *pte_offset(pgd, addr, false).unwrap();
        assert!(!is_zero_pte(pte) && pte_write(pte));
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
    fn fork_shares_then_cow_separates() {
        let _ram = setup();
        zero_page_phys();
        let free0 = crate::mm::page_alloc::nr_free_pages();
        let (parent, child) = (pgd_alloc().unwrap(), pgd_alloc().unwrap());
        let addr = 0x40_0000;
        do_anonymous_page(
            pte_offset(parent, addr, true).unwrap(),
            true,
            PAGE_READONLY,
            true,
        );
        let va = page_address(pte_page(*pte_offset(parent, addr, false).unwrap()));
        // SAFETY: the page was just faulted in and is mapped by the (simulated) linear map.
        unsafe { (va as *mut u64).write(0xfeed) };
        copy_page_range(child, parent, 0, 1 << 40, true).unwrap();
        let (p, c) = (
            *pte_offset(parent, addr, false).unwrap(),
            *pte_offset(child, addr, false).unwrap(),
        );
        assert_eq!(p, c);
        assert!(
            !pte_write(p),
            "both sides must be write-protected after fork"
        );
        assert_eq!(
            (pte_page(p).page_count(), pte_page(p).page_mapcount()),
            (2, 2)
        );
        // The child writes: it gets its own copy with the same contents.
        do_wp_page(pte_offset(child, addr, false).unwrap(), addr, 2);
        let c2 = *pte_offset(child, addr, false).unwrap();
        assert!(pte_write(c2) && !core::ptr::eq(pte_page(c2), pte_page(p)));
        assert_eq!(
            // SAFETY: the child's page is mapped and referenced by its PTE.
            unsafe { (page_address(pte_page(c2)) as *const u64).read() },
            0xfeed
        );
        // The parent is now the only user: its write fault reuses the page.
        assert_eq!(pte_page(p).page_count(), 1);
        do_wp_page(pte_offset(parent, addr, false).unwrap(), addr, 1);
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

/// Copy `buf.len()` bytes of another address space at `addr` into `buf`, page by page
/// through `get_user_pages_remote` (the pages are pinned while copied, and faulted in if
/// needed). Returns the bytes copied (short at the first page that cannot be had).
/// Linux: `access_remote_vm` -> `__access_remote_vm`.
pub fn access_remote_vm(mm: &crate::mm::mm_types::MmStruct, addr: usize, buf: &mut [u8]) -> usize {
    use crate::mm::gup::{get_user_pages_remote, FollFlags};
    let mut done = 0;
    while done < buf.len() {
        let at = addr + done;
        let offset = at & (PAGE_SIZE - 1);
        let Ok(pages) = get_user_pages_remote(mm, at & !(PAGE_SIZE - 1), 1, FollFlags::FOLL_FORCE)
        else {
            break;
        };
        let Some(&page) = pages.first() else { break };
        let n = (PAGE_SIZE - offset).min(buf.len() - done);
        // SAFETY: the page is pinned and mapped by the linear map.
        let src =
            unsafe { core::slice::from_raw_parts((page_address(page) + offset) as *const u8, n) };
        buf[done..done + n].copy_from_slice(src);
        put_page(page);
        done += n;
    }
    done
}

//! User page tables: walking and allocating levels, installing and zapping PTEs, copying
//! them at fork. The fault handlers (`handle_mm_fault` and friends) sit on top.
//! Linux: `mm/memory.c` (`__pte_alloc`, `zap_pte_range`, `free_pgd_range`,
//! `copy_page_range`), `include/linux/pgtable.h`, `arch/arm64/include/asm/pgalloc.h`.
//!
//! Tables are reached through the linear map, like the kernel's (`arch::aarch64::mmu`),
//! so these functions run in host unit tests over simulated memory too.
use crate::arch::aarch64::pgtable::{decode, mk_table, table_index, Desc, PTRS_PER_TABLE};
use crate::arch::{phys_to_virt, PAGE_SIZE};
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
}

/// Resolve a user fault at `addr` for the current task.
pub fn handle_user_fault(_addr: usize, _esr: crate::arch::aarch64::esr::Esr) -> FaultResult {
    FaultResult::BadArea
}

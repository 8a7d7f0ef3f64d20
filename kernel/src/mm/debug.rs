//! Consistency checks of an address space, run in debug builds on every mm as its
//! process exits (`exit_mmap`), so that the fuzzer and every scenario check the kernel's
//! own invariants after whatever the process did. Linux: `validate_mm` and `browse_rb`
//! (CONFIG_DEBUG_VM_RB) and the `VM_BUG_ON_PAGE` / `VM_BUG_ON_VMA` checks of
//! CONFIG_DEBUG_VM (`mm/debug.c` prints `dump_page` / `dump_vma` for them).
//!
//! Checked: the VMA tree ([`validate_mm`]: ordered, non-overlapping, gaps, map_count),
//! then every entry of the page tables against it: each lies inside a VMA; a present one
//! maps a page with refcount >= mapcount >= 1 (the zero page and VM_PFNMAP/VM_IO areas
//! aside), an anonymous page only in a VMA that has an anon_vma; a swap entry names a
//! slot that still counts a reference; a hwpoison entry names a held PG_hwpoison page. A failure is reported, not a panic: one line
//! `mm: CONSISTENCY: ...` that the test runner looks for, and a count.
use crate::arch::aarch64::pgtable::pte_present;
use crate::mm::memory::{for_each_pte, is_zero_pte, pte_page};
use crate::mm::mm_types::MmapLocked;
use crate::mm::vma::{find_vma, validate_mm, VmFlags};
use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Address spaces checked so far, and how many failed (for the end-of-run line).
pub static MM_CHECKED: AtomicUsize = AtomicUsize::new(0);
/// See [`MM_CHECKED`].
pub static MM_CHECK_FAILURES: AtomicUsize = AtomicUsize::new(0);

/// Check `mm` and its page tables at `pgd` (see the module comment). The first problem
/// found, as text naming the address. Nothing here sleeps, so on this one CPU no other
/// task (reclaim's rmap walks among them) changes the tables while they are checked.
pub fn check_mm(mm: &MmapLocked, pgd: usize) -> Result<(), String> {
    validate_mm(mm).map_err(String::from)?;
    let mut err: Option<String> = None;
    for_each_pte(
        pgd,
        0,
        crate::arch::aarch64::uaccess::TASK_SIZE,
        |va, pte| {
            if err.is_some() {
                return;
            }
            let entry = *pte;
            let Some(vma) = find_vma(mm, va).filter(|v| v.vm_start <= va) else {
                err = Some(format!("a PTE at {va:#x} outside every VMA"));
                return;
            };
            if pte_present(entry) {
                if is_zero_pte(entry)
                    || vma
                        .vm_flags
                        .intersects(VmFlags::VM_PFNMAP | VmFlags::VM_IO | VmFlags::VM_MIXEDMAP)
                {
                    return;
                }
                let page = pte_page(entry);
                let (count, mapcount) = (page.page_count(), page.page_mapcount());
                if mapcount < 1 || count < mapcount {
                    err = Some(format!(
                        "the page mapped at {va:#x} has refcount {count}, mapcount {mapcount}"
                    ));
                } else if crate::mm::rmap::PageAnon(page) && vma.anon_vma.is_none() {
                    err = Some(format!(
                        "an anonymous page at {va:#x} in a VMA without anon_vma"
                    ));
                }
            } else if crate::mm::swapops::is_swap_pte(entry) {
                let swp = crate::mm::swapops::pte_to_swp_entry(entry);
                if crate::mm::swapops::is_hwpoison_entry(swp) {
                    // A retired page: it must be marked so and still held (never freed).
                    let pfn = crate::mm::swapops::hwpoison_entry_to_pfn(swp);
                    let ok = crate::mm::page::pfn_valid(pfn) && {
                        let p = crate::mm::page::pfn_to_page(pfn);
                        p.test(crate::mm::page::PageFlags::PG_hwpoison) && p.page_count() >= 1
                    };
                    if !ok {
                        err = Some(format!(
                            "a hwpoison PTE at {va:#x} names pfn {pfn:#x}, not a held poisoned page"
                        ));
                    }
                } else if crate::mm::swapfile::__swap_count(swp) == 0 {
                    err = Some(format!("a swap PTE at {va:#x} names a slot with no count"));
                }
            }
        },
    );
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// [`check_mm`] in debug builds, counting and reporting a failure (Linux: what
/// `VM_BUG_ON_MM` would catch, printed rather than fatal).
pub fn debug_check_mm(mm: &MmapLocked, pgd: usize) {
    if !cfg!(debug_assertions) || pgd == 0 {
        return;
    }
    MM_CHECKED.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = check_mm(mm, pgd) {
        MM_CHECK_FAILURES.fetch_add(1, Ordering::Relaxed);
        pr_warn!("mm: CONSISTENCY: {}", e);
    }
}

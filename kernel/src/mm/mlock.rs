//! mlock: keeping pages in memory. Linux: `mm/mlock.c`.
//!
//! Two halves, as in Linux 5.10: the VMA side (VM_LOCKED set by mlock/mlockall and the
//! system calls; see the functions below `mlock_vma_page`) and the page side: a page
//! mapped by a VM_LOCKED VMA is marked PG_mlocked and counted in NR_MLOCK, so reclaim
//! leaves it alone (it goes to the unevictable list once LRU lists exist).
use crate::mm::page::{Page, PageFlags};
use crate::mm::vmstat::{count_vm_event, mod_state, VmStat};

/// Mark a page mlocked (Linux: `mlock_vma_page`). The caller found it through a
/// VM_LOCKED VMA (`follow_page_pte` with FOLL_MLOCK). Counts NR_MLOCK and
/// `unevictable_pgs_mlocked` the first time.
#[no_mangle]
#[inline(never)]
pub fn mlock_vma_page(page: &Page) {
    if !page.test(PageFlags::PG_mlocked) {
        page.set_flags(PageFlags::PG_mlocked);
        mod_state(VmStat::NR_MLOCK, 1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_MLOCKED);
    }
}

/// Clear a page's mlock (Linux: `munlock_vma_page`). Linux 5.10 then asks rmap
/// (`try_to_munlock`) whether another VM_LOCKED VMA still maps it; without rmap yet,
/// callers only munlock pages no other locked VMA maps (mapcount 1) or accept that the
/// next fault through a locked VMA marks it again.
#[no_mangle]
#[inline(never)]
pub fn munlock_vma_page(page: &Page) {
    if page.test(PageFlags::PG_mlocked) {
        page.clear_flags(PageFlags::PG_mlocked);
        mod_state(VmStat::NR_MLOCK, -1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_MUNLOCKED);
    }
}

/// A page freed while still mlocked (its VMA went away without munlock): Linux counts
/// it in `unevictable_pgs_cleared` (`free_pages_prepare` -> `__ClearPageMlocked`).
pub fn clear_page_mlock(page: &Page) {
    if page.test(PageFlags::PG_mlocked) {
        page.clear_flags(PageFlags::PG_mlocked);
        mod_state(VmStat::NR_MLOCK, -1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_CLEARED);
    }
}

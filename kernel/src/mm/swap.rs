//! Adding pages to the LRU lists. Linux: `mm/swap.c` (`lru_cache_add`,
//! `lru_cache_add_inactive_or_unevictable`, `mark_page_accessed`).
//!
//! The LRU lists themselves arrive with reclaim; what already matters is the mlock half:
//! a page that enters a VM_LOCKED VMA through a fault is mlocked on the way in.
use crate::mm::page::{Page, PageFlags};
use crate::mm::vma::{VmArea, VmFlags};
use crate::mm::vmstat::{count_vm_event, mod_state, VmStat};

/// Put a new anonymous page on its LRU list, or (in a VM_LOCKED VMA that is not
/// VM_SPECIAL) mark it mlocked for the unevictable list (Linux 5.10:
/// `lru_cache_add_inactive_or_unevictable`, counting NR_MLOCK and
/// `unevictable_pgs_mlocked`). 5.18 replaced this with `mlock_new_page`.
#[no_mangle]
#[inline(never)]
pub fn lru_cache_add_inactive_or_unevictable(page: &Page, vma: &VmArea) {
    let unevictable =
        vma.vm_flags & (VmFlags::VM_LOCKED | VmFlags::VM_SPECIAL) == VmFlags::VM_LOCKED;
    // Linux marks the page here itself (not through mlock_vma_page): a populate that
    // follows still calls mlock_vma_page from follow_page_pte, which finds it marked.
    if unevictable && !page.test_and_set(PageFlags::PG_mlocked) {
        mod_state(VmStat::NR_MLOCK, 1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_MLOCKED);
    }
    // lru_cache_add(page): no LRU lists yet.
}

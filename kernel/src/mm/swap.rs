//! Adding pages to the LRU lists. Linux: `mm/swap.c` (`lru_cache_add`,
//! `lru_cache_add_inactive_or_unevictable`, `mark_page_accessed`).
//!
//! The LRU lists themselves arrive with reclaim; what already matters is the mlock half:
//! a page that enters a VM_LOCKED VMA through a fault is mlocked on the way in.
use crate::mm::page::Page;
use crate::mm::vma::{VmArea, VmFlags};

/// Put a new anonymous page on its LRU list, or (in a VM_LOCKED VMA that is not
/// VM_SPECIAL) mark it mlocked for the unevictable list (Linux 5.10:
/// `lru_cache_add_inactive_or_unevictable`, counting NR_MLOCK and
/// `unevictable_pgs_mlocked`). 5.18 replaced this with `mlock_new_page`.
#[no_mangle]
#[inline(never)]
pub fn lru_cache_add_inactive_or_unevictable(page: &Page, vma: &VmArea) {
    let unevictable =
        vma.vm_flags & (VmFlags::VM_LOCKED | VmFlags::VM_SPECIAL) == VmFlags::VM_LOCKED;
    if unevictable {
        crate::mm::mlock::mlock_vma_page(page);
    }
    // lru_cache_add(page): no LRU lists yet.
}

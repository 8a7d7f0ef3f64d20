//! STUB (lead's branch only): replaced by the swapdev branch's mm/swapfile.rs at merge.
#![allow(missing_docs, unused_variables)]
use crate::errno::{Errno, KResult};
use crate::mm::swapops::SwpEntry;
pub fn get_swap_page() -> Option<SwpEntry> {
    None
}
pub fn swap_duplicate(entry: SwpEntry) -> KResult<()> {
    Err(Errno::EINVAL)
}
pub fn swapcache_prepare(entry: SwpEntry) -> KResult<()> {
    Err(Errno::ENOENT)
}
pub fn swap_free(entry: SwpEntry) {}
pub fn swap_slots_in_use_of(ty: usize) -> usize {
    0
}
pub fn put_swap_page(entry: SwpEntry) {}
pub fn __swap_count(entry: SwpEntry) -> usize {
    0
}
pub fn swp_swapcount(entry: SwpEntry) -> usize {
    0
}
pub fn swap_has_cache(entry: SwpEntry) -> bool {
    false
}
pub fn get_nr_swap_pages() -> usize {
    0
}
pub fn total_swap_pages() -> usize {
    0
}

// ---- lead: the swap-cache side of mm/swapfile.c (moves into the real file at merge) ----

/// Drop the swap cache's copy of `page` if no PTE needs its slot any more, freeing the
/// slot (Linux: `try_to_free_swap`). Not while it is being written. The caller holds the
/// page lock. True if the page left the swap cache; it is then dirty: memory holds the
/// only copy.
#[no_mangle]
#[inline(never)]
pub fn try_to_free_swap(page: &crate::mm::page::Page) -> bool {
    use crate::mm::page::PageFlags;
    use crate::mm::swap_state::{delete_from_swap_cache, page_swap_entry, PageSwapCache};
    if !PageSwapCache(page) || page.test(PageFlags::PG_writeback) {
        return false;
    }
    if __swap_count(page_swap_entry(page)) != 0 {
        return false; // Linux: page_swapped()
    }
    delete_from_swap_cache(page);
    page.set_flags(PageFlags::PG_dirty);
    true
}

/// A swap PTE is gone (zap, munmap, exit): drop its count on the slot, and if only the
/// swap cache is left holding it and no one maps the cached page, free both (Linux:
/// `free_swap_and_cache` -> `__try_to_reclaim_swap`).
#[no_mangle]
#[inline(never)]
pub fn free_swap_and_cache(entry: SwpEntry) {
    use crate::mm::pagemap::{trylock_page, unlock_page};
    swap_free(entry);
    if __swap_count(entry) != 0 || !swap_has_cache(entry) {
        return;
    }
    let Some(page) = crate::mm::swap_state::lookup_swap_cache(entry) else {
        return;
    };
    if !crate::mm::rmap::page_mapped(page) && trylock_page(page) {
        try_to_free_swap(page);
        unlock_page(page);
    }
    crate::mm::page::put_page(page);
}

/// May a write fault make this anonymous page writable in place, instead of copying it
/// (Linux 5.10: `reuse_swap_page`)? Only if one PTE maps it and, if it is in the swap
/// cache, no other swap PTE shares its slot; then the page leaves the swap cache (it is
/// about to differ from its slot) unless it is being written.
#[no_mangle]
#[inline(never)]
pub fn reuse_swap_page(page: &crate::mm::page::Page) -> bool {
    use crate::mm::page::PageFlags;
    use crate::mm::swap_state::{delete_from_swap_cache, page_swap_entry, PageSwapCache};
    if page.page_mapcount() > 1 {
        return false;
    }
    if !PageSwapCache(page) {
        return true;
    }
    if __swap_count(page_swap_entry(page)) != 0 {
        return false;
    }
    if !page.test(PageFlags::PG_writeback) {
        delete_from_swap_cache(page);
        page.set_flags(PageFlags::PG_dirty);
    }
    true
}

/// Is more than half of swap in use (Linux: `vm_swap_full`, what `mem_cgroup_swap_full`
/// falls back to without memory cgroups)? Then a page swapped in gives its slot up at once.
pub fn vm_swap_full() -> bool {
    get_nr_swap_pages() * 2 < total_swap_pages()
}

/// Put a page read back by swapoff into the PTE that held `entry`, if it still does
/// (Linux: `unuse_pte`): mapped as the VMA's protection says (read-only for private
/// memory: a write then takes the usual write fault), back in the rmap, one count off
/// the slot.
#[no_mangle]
#[inline(never)]
pub fn unuse_pte(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    addr: usize,
    entry: SwpEntry,
    page: &'static crate::mm::page::Page,
) {
    use crate::arch::aarch64::pgtable::{mk_pte, pte_mkold};
    let _ptl = mm.page_table_lock.lock();
    let Some(pte) = crate::mm::memory::pte_offset(mm.pgd, addr, false) else {
        return;
    };
    if *pte != crate::mm::swapops::swp_entry_to_pte(entry) {
        return; // faulted in or unmapped meanwhile
    }
    crate::mm::page::get_page(page);
    crate::mm::rmap::page_add_anon_rmap(page, vma, addr, false);
    *pte = pte_mkold(mk_pte(
        crate::mm::page::page_to_phys(page),
        vma.vm_page_prot,
    ));
    swap_free(entry);
}

/// Bring every swap entry of device `ty` in `vma` back into memory (Linux: `unuse_vma`
/// -> `unuse_pte_range`). The entries are gathered under the page-table lock, then each
/// page is read (or found in the swap cache) with no spinlock held. ENOMEM when a page
/// cannot be had: what was brought in stays, the rest stays on the device.
fn unuse_vma(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    ty: usize,
) -> KResult<()> {
    use crate::mm::pagemap::{lock_page, unlock_page, wait_on_page_locked};
    use crate::mm::swapops::{is_swap_pte, pte_to_swp_entry, swp_type};
    let mut found = alloc::vec::Vec::new();
    {
        let _ptl = mm.page_table_lock.lock();
        crate::mm::memory::for_each_pte(mm.pgd, vma.vm_start, vma.vm_end, |va, pte| {
            if is_swap_pte(*pte) && swp_type(pte_to_swp_entry(*pte)) == ty {
                found.push((va, pte_to_swp_entry(*pte)));
            }
        });
    }
    for (addr, entry) in found {
        let page = match crate::mm::swap_state::lookup_swap_cache(entry) {
            Some(page) => page,
            None => crate::mm::swap_state::read_swap_cache_async(
                entry,
                crate::mm::page_alloc::GfpFlags::GFP_KERNEL,
            )
            .ok_or(Errno::ENOMEM)?,
        };
        wait_on_page_locked(page);
        if !page.test(crate::mm::page::PageFlags::PG_uptodate) {
            crate::mm::page::put_page(page);
            return Err(Errno::EIO);
        }
        unuse_pte(mm, vma, addr, entry, page);
        lock_page(page);
        try_to_free_swap(page);
        unlock_page(page);
        crate::mm::page::put_page(page);
    }
    Ok(())
}

/// swapoff's work: bring every page on device `ty` back into memory and free its slots
/// (Linux: `try_to_unuse`): each mm's anonymous VMAs (`unuse_mm`, over the mm list), then
/// the swap-cache pages no PTE names any more. The device takes no new pages meanwhile
/// (SWP_WRITEOK is off). ENOMEM (nothing lost: the caller puts the device back) when
/// memory runs out; EBUSY if slots are still in use after the walk.
#[no_mangle]
#[inline(never)]
pub fn try_to_unuse(ty: usize) -> KResult<()> {
    let mut result = Ok(());
    crate::mm::mm_types::for_each_mm(|mm| {
        if result.is_err() {
            return;
        }
        // Linux: unuse_mm, under mmap_read_lock.
        let guard = crate::mm::mmap_lock::mmap_read_lock(mm);
        for vma in guard.vmas() {
            if vma.anon_vma.is_some() {
                if let Err(e) = unuse_vma(mm, vma, ty) {
                    result = Err(e);
                    break;
                }
            }
        }
    });
    result?;
    crate::mm::swap_state::free_swap_cache_of_type(ty);
    if swap_slots_in_use_of(ty) != 0 {
        return Err(Errno::EBUSY);
    }
    Ok(())
}

//! mincore(2): which pages of a range are resident. Linux: `mm/mincore.c` (`do_mincore`,
//! `mincore_pte_range`, `mincore_unmapped_range`, `mincore_page`).
use crate::arch::aarch64::pgtable::{pte_none, pte_present, Pte};
use crate::arch::aarch64::uaccess::{access_ok, copy_to_user};
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::{MmStruct, TASK_SIZE};
use crate::mm::mmap_lock::mmap_read_lock_killable;
use crate::mm::vma::find_vma;
use crate::mm::PAGE_SIZE;

/// Is page `index` of a file's cache resident (Linux: `mincore_page`)? A cached page
/// is; a tmpfs page out on swap is while its page is still in the swap cache (5.10
/// looks the value entry up there for shmem mappings).
#[no_mangle]
#[inline(never)]
pub fn mincore_page(mapping: &crate::mm::filemap::AddressSpace, index: usize) -> bool {
    use crate::mm::filemap::{find_get_entry, PageCacheEntry};
    match find_get_entry(mapping, index) {
        Some(PageCacheEntry::Page(page)) => {
            crate::mm::page::put_page(page);
            true
        }
        Some(PageCacheEntry::Swap(swap)) => crate::mm::swap_state::swap_cache_has(swap),
        None => false,
    }
}

/// mincore(2): one byte per page, 1 when resident. EINVAL for an unaligned start,
/// ENOMEM when the range is not fully mapped (or past TASK_SIZE), EFAULT for a bad
/// vector. Like Linux, it takes `mmap_lock` for read one chunk at a time and copies each
/// chunk out with the lock dropped (a copy may fault).
#[no_mangle]
#[inline(never)]
pub fn sys_mincore(mm: &MmStruct, start: usize, len: usize, vec: usize) -> KResult<usize> {
    if start & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let pages = len.div_ceil(PAGE_SIZE);
    let end = pages
        .checked_mul(PAGE_SIZE)
        .and_then(|bytes| start.checked_add(bytes));
    if end.is_none_or(|e| e > TASK_SIZE) {
        return Err(Errno::ENOMEM);
    }
    if !access_ok(vec, pages) {
        return Err(Errno::EFAULT);
    }
    let mut out = alloc::vec![0u8; pages.min(1 << 20)];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(out.len());
        let base = start + done * PAGE_SIZE;
        do_mincore(mm, base, &mut out[..n])?;
        copy_to_user(vec + done, &out[..n])?;
        done += n;
    }
    Ok(0)
}

/// Fill `out` with the residency of the pages from `base` (Linux: `do_mincore`): every
/// page must lie in a VMA (ENOMEM); a page is resident when its PTE is present, when its
/// swap entry's page is still in the swap cache (Linux: `mincore_pte_range`'s swap
/// branch), or, with no PTE yet, when it is a file page already in the page cache
/// (`mincore_unmapped_range`).
fn do_mincore(mm: &MmStruct, base: usize, out: &mut [u8]) -> KResult<()> {
    let guard = mmap_read_lock_killable(mm)?;
    let end = base + out.len() * PAGE_SIZE;
    let mut addr = base;
    while addr < end {
        let v = find_vma(&guard, addr)
            .filter(|v| v.vm_start <= addr)
            .ok_or(Errno::ENOMEM)?;
        let vend = v.vm_end.min(end);
        while addr < vend {
            let pte =
                crate::mm::memory::pte_offset(mm.pgd, addr, false).map_or(Pte::default(), |p| *p);
            // A hwpoison entry counts as resident (Linux: "migration or hwpoison entries
            // are always uptodate" in mincore_pte_range).
            let resident = pte_present(pte)
                || (crate::mm::swapops::is_swap_pte(pte) && {
                    let entry = crate::mm::swapops::pte_to_swp_entry(pte);
                    crate::mm::swapops::non_swap_entry(entry)
                        || crate::mm::swap_state::swap_cache_has(entry)
                })
                || (pte_none(pte)
                    && v.vm_file.as_ref().is_some_and(|f| {
                        f.in_page_cache(((addr - v.vm_start) / PAGE_SIZE) + v.vm_pgoff)
                    }));
            out[(addr - base) / PAGE_SIZE] = resident as u8;
            addr += PAGE_SIZE;
        }
    }
    Ok(())
}

//! madvise(2): advice about a range of memory. Linux: `mm/madvise.c` (5.10), with
//! MADV_POPULATE_READ / MADV_POPULATE_WRITE as Linux 5.14 added them
//! (`madvise_populate`, and `faultin_vma_page_range` from `mm/gup.c`).
//!
//! ```text
//! sys_madvise -> do_madvise -> madvise_vma (per VMA, holes remembered as ENOMEM)
//!                  -> madvise_willneed         MADV_WILLNEED
//!                  -> madvise_dontneed_free    MADV_DONTNEED, MADV_FREE (zap the pages)
//!                  -> madvise_populate         MADV_POPULATE_READ/WRITE -> __get_user_pages
//!                  -> madvise_cold_or_pageout  MADV_COLD (deactivate), MADV_PAGEOUT (reclaim)
//!                  -> madvise_remove           MADV_REMOVE
//!                  -> madvise_behavior         flag advice: vma_merge / __split_vma
//!              -> madvise_inject_error         MADV_HWPOISON -> memory_failure
//! ```
//! Locking: `sys_madvise` holds the mm lock across the call (Linux takes `mmap_lock` for
//! read or write by advice, and drops it for file readahead and MADV_REMOVE). MADV_WILLNEED
//! and MADV_POPULATE_* walk under the read lock and let go of it for I/O
//! (`madvise_willneed_range`, `madvise_populate`); the rest under the write lock.
//!
//! MADV_RANDOM / MADV_SEQUENTIAL set VM_RAND_READ / VM_SEQ_READ, which steer file-fault
//! readahead (`do_sync_mmap_readahead` in `mm/filemap.rs`); MADV_NORMAL clears both.
//! MADV_WILLNEED on a file mapping reads the range ahead into the page cache
//! (`force_page_cache_readahead`, `mm/readahead.rs`).
//!
//! MADV_HWPOISON (CONFIG_MEMORY_FAILURE, CAP_SYS_ADMIN) retires the pages of the range:
//! `madvise_inject_error` -> `memory_failure` (mm/memory_failure.rs); a later touch is
//! SIGBUS.
//!
//! Differences from Linux 5.10: built as without CONFIG_KSM and CONFIG_TRANSPARENT_HUGEPAGE,
//! so MADV_MERGEABLE/UNMERGEABLE and MADV_HUGEPAGE/NOHUGEPAGE are EINVAL; MADV_SOFT_OFFLINE
//! is EINVAL too (it needs page migration, which we do not have); no swap, so
//! MADV_WILLNEED has nothing to read back for anonymous memory (nor for tmpfs, whose pages
//! are in memory; 5.10 without CONFIG_SWAP answers EBADF for anonymous memory, we answer 0
//! as a kernel with swap does); MADV_FREE frees the pages at once instead of when reclaim
//! finds them clean (allowed: the man page promises old data or zeros), and, being a zap,
//! also clears hwpoison entries (Linux's `madvise_free_pte_range` keeps them: there a
//! poisoned page stays SIGBUS after MADV_FREE; here it reads back as zeros, as after
//! MADV_DONTNEED in both); MADV_REMOVE
//! punches holes in tmpfs and shared anonymous memory only (EOPNOTSUPP elsewhere, as
//! `vfs_fallocate` answers for a file system without `fallocate`).
use crate::errno::{Errno, KResult};
use crate::mm::gup::{faultin_vma_page_range, vma_under_lock};
use crate::mm::mm_types::{MmStruct, MmapLocked};
use crate::mm::mmap::sysctl_max_map_count;
use crate::mm::mmap_lock::{mmap_read_lock, mmap_write_lock_killable, MmapReadGuard};
use crate::mm::vma::{
    __split_vma, find_vma, find_vma_key, vma_merge, vma_next, vma_prev, VmArea, VmFlags,
    VmaPageTables,
};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};

/// No special treatment (clears MADV_RANDOM / MADV_SEQUENTIAL).
pub const MADV_NORMAL: i32 = 0;
/// Expect random page references (VM_RAND_READ).
pub const MADV_RANDOM: i32 = 1;
/// Expect sequential page references (VM_SEQ_READ).
pub const MADV_SEQUENTIAL: i32 = 2;
/// Will need these pages (read swapped-out pages back, read ahead files).
pub const MADV_WILLNEED: i32 = 3;
/// Don't need these pages: drop them (anonymous memory reads back as zeros).
pub const MADV_DONTNEED: i32 = 4;
/// Free the pages when memory is needed (private anonymous memory only).
pub const MADV_FREE: i32 = 8;
/// Remove the pages from the backing store (punch a hole in a shared file).
pub const MADV_REMOVE: i32 = 9;
/// Don't inherit across fork (VM_DONTCOPY).
pub const MADV_DONTFORK: i32 = 10;
/// Inherit across fork again.
pub const MADV_DOFORK: i32 = 11;
/// KSM may merge identical pages (needs CONFIG_KSM).
pub const MADV_MERGEABLE: i32 = 12;
/// KSM may not merge identical pages.
pub const MADV_UNMERGEABLE: i32 = 13;
/// Worth backing with huge pages (needs CONFIG_TRANSPARENT_HUGEPAGE).
pub const MADV_HUGEPAGE: i32 = 14;
/// Not worth backing with huge pages.
pub const MADV_NOHUGEPAGE: i32 = 15;
/// Leave out of core dumps (VM_DONTDUMP).
pub const MADV_DONTDUMP: i32 = 16;
/// Include in core dumps again.
pub const MADV_DODUMP: i32 = 17;
/// Zero-fill in the child after fork (VM_WIPEONFORK; private anonymous only).
pub const MADV_WIPEONFORK: i32 = 18;
/// Undo MADV_WIPEONFORK.
pub const MADV_KEEPONFORK: i32 = 19;
/// Deactivate the pages (reclaim them first).
pub const MADV_COLD: i32 = 20;
/// Reclaim the pages now.
pub const MADV_PAGEOUT: i32 = 21;
/// Fault the pages in readable (Linux 5.14).
pub const MADV_POPULATE_READ: i32 = 22;
/// Fault the pages in writable, breaking COW (Linux 5.14).
pub const MADV_POPULATE_WRITE: i32 = 23;
/// Poison a page (CONFIG_MEMORY_FAILURE, CAP_SYS_ADMIN).
pub const MADV_HWPOISON: i32 = 100;
/// Soft-offline a page (CONFIG_MEMORY_FAILURE).
pub const MADV_SOFT_OFFLINE: i32 = 101;

/// Is `behavior` advice this kernel knows (Linux: `madvise_behavior_valid`, with the
/// KSM, THP and memory-failure values compiled out)?
pub fn madvise_behavior_valid(behavior: i32) -> bool {
    matches!(
        behavior,
        MADV_NORMAL
            | MADV_RANDOM
            | MADV_SEQUENTIAL
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_FREE
            | MADV_REMOVE
            | MADV_DONTFORK
            | MADV_DOFORK
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | MADV_COLD
            | MADV_PAGEOUT
            | MADV_POPULATE_READ
            | MADV_POPULATE_WRITE
            | MADV_HWPOISON
    )
}

/// May the LRU-based advice (DONTNEED, FREE, COLD, PAGEOUT) touch this VMA? Not when it
/// is locked, hugetlb or raw PFNs (Linux: `can_madv_lru_vma`).
fn can_madv_lru_vma(vma: &VmArea) -> bool {
    !vma.vm_flags
        .intersects(VmFlags::VM_LOCKED | VmFlags::VM_HUGETLB | VmFlags::VM_PFNMAP)
}

/// The advice that only changes VMA flags (Linux: `madvise_behavior`): compute the new
/// flags, then merge `[start, end)` with a neighbour or split it out of the VMA keyed
/// `vma`, as `mprotect_fixup` and `mlock_fixup` do. EINVAL for MADV_DOFORK on VM_IO,
/// MADV_WIPEONFORK on a file or shared mapping, MADV_DODUMP on a special VMA; ENOMEM when a
/// split would pass `max_map_count` (checked here), EAGAIN if the split itself fails
/// (`out_convert_errno`).
#[no_mangle]
#[inline(never)]
pub fn madvise_behavior(
    mm: &mut MmapLocked,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
    behavior: i32,
) -> KResult<()> {
    let v = &mm.mm_rb[&vma];
    let mut new_flags = v.vm_flags;
    match behavior {
        MADV_NORMAL => new_flags.remove(VmFlags::VM_RAND_READ | VmFlags::VM_SEQ_READ),
        MADV_SEQUENTIAL => {
            new_flags.remove(VmFlags::VM_RAND_READ);
            new_flags |= VmFlags::VM_SEQ_READ;
        }
        MADV_RANDOM => {
            new_flags.remove(VmFlags::VM_SEQ_READ);
            new_flags |= VmFlags::VM_RAND_READ;
        }
        MADV_DONTFORK => new_flags |= VmFlags::VM_DONTCOPY,
        MADV_DOFORK => {
            if v.vm_flags.contains(VmFlags::VM_IO) {
                return Err(Errno::EINVAL);
            }
            new_flags.remove(VmFlags::VM_DONTCOPY);
        }
        MADV_WIPEONFORK => {
            // MADV_WIPEONFORK is only supported on anonymous memory.
            if v.vm_file.is_some() || v.vm_flags.contains(VmFlags::VM_SHARED) {
                return Err(Errno::EINVAL);
            }
            new_flags |= VmFlags::VM_WIPEONFORK;
        }
        MADV_KEEPONFORK => new_flags.remove(VmFlags::VM_WIPEONFORK),
        MADV_DONTDUMP => new_flags |= VmFlags::VM_DONTDUMP,
        MADV_DODUMP => {
            if !new_flags.contains(VmFlags::VM_HUGETLB) && new_flags.intersects(VmFlags::VM_SPECIAL)
            {
                return Err(Errno::EINVAL);
            }
            new_flags.remove(VmFlags::VM_DONTDUMP);
        }
        _ => return Err(Errno::EINVAL),
    }

    if new_flags == v.vm_flags {
        *prev = Some(vma);
        return Ok(());
    }

    let pgoff = v.vm_pgoff + ((start - v.vm_start) >> PAGE_SHIFT);
    let (anon_vma, file) = (v.anon_vma.clone(), v.vm_file.clone());
    let key = match vma_merge(
        mm,
        *prev,
        start,
        end,
        new_flags,
        anon_vma.as_ref(),
        file.as_ref(),
        pgoff,
    ) {
        Some(k) => k,
        None => {
            *prev = Some(vma);
            let mut key = vma;
            if start != mm.mm_rb[&key].vm_start {
                if mm.map_count >= sysctl_max_map_count() {
                    return Err(Errno::ENOMEM);
                }
                __split_vma(mm, key, start, true).map_err(|_| Errno::EAGAIN)?;
                key = start;
                *prev = Some(key);
            }
            if end != mm.mm_rb[&key].vm_end {
                if mm.map_count >= sysctl_max_map_count() {
                    return Err(Errno::ENOMEM);
                }
                __split_vma(mm, key, end, false).map_err(|_| Errno::EAGAIN)?;
            }
            key
        }
    };
    mm.mm_rb
        .get_mut(&key)
        .expect("madvise_behavior: vma vanished")
        .vm_flags = new_flags;
    *prev = Some(key);
    Ok(())
}

/// MADV_WILLNEED in the write-locked walk (`madvise_locked`, which `do_madvise` no longer
/// sends it to: it goes to [`madvise_willneed_range`], under the read lock, which can
/// drop the lock for the reads). Here only the walk remains, for callers of
/// `madvise_locked`.
fn madvise_willneed(vma: usize, prev: &mut Option<usize>) -> KResult<()> {
    *prev = Some(vma);
    Ok(())
}

/// MADV_WILLNEED over `[start, end)` (Linux 5.10: `madvise_willneed` in `do_madvise`'s
/// walk, under `mmap_lock` for read). For a file mapping with a page cache filled from
/// storage, pin the file, drop the lock and read the range ahead
/// (`vfs_fadvise(POSIX_FADV_WILLNEED)` -> `generic_fadvise` ->
/// `force_page_cache_readahead`, at most `max(ra_pages, io_pages)` pages, as in 5.10),
/// then take the lock again and look the next VMA up afresh (5.10 sets `*prev = NULL`
/// for that). Anonymous and tmpfs memory: nothing to read (no swap). It never maps a
/// page. ENOMEM if nothing is mapped from `start` on, or at the end when the range had
/// holes.
#[no_mangle]
#[inline(never)]
pub fn madvise_willneed_range(mm: &MmStruct, start: usize, end: usize) -> KResult<()> {
    use crate::mm::readahead::{force_page_cache_readahead, ReadaheadControl};
    let mut unmapped_error = Ok(());
    let mut start = start;
    while start < end {
        let (file, offset, tmp_end) = {
            let guard = mmap_read_lock(mm);
            let Some(vma) = find_vma(&guard, start) else {
                return Err(Errno::ENOMEM);
            };
            if start < vma.vm_start {
                unmapped_error = Err(Errno::ENOMEM);
                start = vma.vm_start;
                if start >= end {
                    break;
                }
            }
            let tmp_end = end.min(vma.vm_end);
            let offset = (start - vma.vm_start) + (vma.vm_pgoff << PAGE_SHIFT);
            (vma.vm_file.clone(), offset, tmp_end)
            // The lock goes here (Linux: mmap_read_unlock before vfs_fadvise).
        };
        if let Some(file) = file {
            if let (Some(mapping), Some(a_ops), Some(ra)) =
                (file.f_mapping(), file.a_ops(), file.f_ra())
            {
                let first = offset >> PAGE_SHIFT;
                let last = (offset + (tmp_end - start) - 1) >> PAGE_SHIFT;
                let mut ractl = ReadaheadControl {
                    mapping,
                    a_ops,
                    i_size: file.size(),
                    index: first,
                };
                force_page_cache_readahead(&mut ractl, ra, last - first + 1);
            }
        }
        start = tmp_end;
    }
    unmapped_error
}

/// MADV_DONTNEED and MADV_FREE (Linux: `madvise_dontneed_free` ->
/// `madvise_dontneed_single_vma` / `madvise_free_single_vma`): EINVAL on locked, hugetlb
/// or PFN-mapped VMAs, MADV_FREE also on anything but private anonymous memory; then the
/// pages of `[start, end)` are unmapped (`zap_page_range`) and freed when that was their
/// last mapping. Afterwards private anonymous memory reads back as zeros, private file
/// memory as the file's contents, and shared memory keeps its data.
fn madvise_dontneed_free(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
    behavior: i32,
) -> KResult<()> {
    *prev = Some(vma);
    let v = &mm.mm_rb[&vma];
    if !can_madv_lru_vma(v) {
        return Err(Errno::EINVAL);
    }
    if behavior == MADV_FREE && !v.is_anonymous() {
        return Err(Errno::EINVAL);
    }
    pt.unmap_vmas(core::slice::from_ref(v), start, end);
    Ok(())
}

/// MADV_COLD and MADV_PAGEOUT (Linux: `madvise_cold`, `madvise_pageout`): EINVAL on VMAs
/// the LRU advice may not touch (locked, huge, PFN maps); otherwise the pages of the range
/// that only this mapping maps are deactivated, or reclaimed at once
/// (`madvise_cold_or_pageout_pte_range`).
fn madvise_cold_or_pageout(
    mm: &MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
    pageout: bool,
) -> KResult<()> {
    *prev = Some(vma);
    let v = &mm.mm_rb[&vma];
    if !can_madv_lru_vma(v) {
        return Err(Errno::EINVAL);
    }
    pt.cold_or_pageout_pte_range(v, start.max(v.vm_start), end.min(v.vm_end), pageout);
    Ok(())
}

/// The page walk of MADV_COLD / MADV_PAGEOUT (Linux: `madvise_cold_or_pageout_pte_range`):
/// for each present page (not the zero page) that no other mapping shares, clear the
/// PTE's access flag and the page's referenced bit; then MADV_COLD moves it to the head of
/// its inactive list (`deactivate_page`), MADV_PAGEOUT isolates it and reclaims it
/// (`reclaim_pages`; without swap only clean file pages can go). Takes the page-table
/// lock for the walk; reclaim runs after it is dropped.
#[no_mangle]
#[inline(never)]
pub fn madvise_cold_or_pageout_pte_range(
    pgd: usize,
    asid: u16,
    ptl: &crate::sync::SpinLock<()>,
    start: usize,
    end: usize,
    pageout: bool,
) {
    use crate::arch::aarch64::pgtable::{pte_mkold, pte_present, pte_young};
    use crate::mm::page::{Page, PageFlags};
    let mut picked: alloc::vec::Vec<&'static Page> = alloc::vec::Vec::new();
    {
        let _ptl = ptl.lock();
        crate::mm::memory::for_each_pte(pgd, start, end, |va, pte| {
            if !pte_present(*pte) || crate::mm::memory::is_zero_pte(*pte) {
                return;
            }
            let page = crate::mm::memory::pte_page(*pte);
            // A page others map too is not this caller's to age or drop.
            if page.page_mapcount() != 1 {
                return;
            }
            if pte_young(*pte) {
                *pte = pte_mkold(*pte);
                crate::arch::cpu::flush_tlb_page(asid, va);
            }
            page.clear_flags(PageFlags::PG_referenced);
            if pageout {
                if crate::mm::vmscan::isolate_lru_page(page).is_ok() {
                    picked.push(page);
                }
            } else {
                crate::mm::swap::deactivate_page(page);
            }
        });
    }
    if pageout {
        crate::mm::vmscan::reclaim_pages(&mut picked);
    }
}

/// MADV_REMOVE (Linux: `madvise_remove`): EINVAL on a locked VMA or one without a file,
/// EACCES unless it is shared and writable, then punch a hole in the file behind
/// `start..end` (`vfs_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)` through the
/// file's ops table): tmpfs and shared anonymous memory free the pages, and later reads
/// see zeros; other file systems answer EOPNOTSUPP. Linux drops `mmap_lock` around the
/// call; the hole punch here takes only `i_mmap` and page-table locks, never an
/// `mmap_lock`, so it runs under ours.
fn madvise_remove(
    mm: &MmapLocked,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
) -> KResult<()> {
    *prev = None; // Linux drops mmap_lock here; the caller looks the next VMA up again
    let v = &mm.mm_rb[&vma];
    let Some(file) = v
        .vm_file
        .as_ref()
        .filter(|_| !v.vm_flags.contains(VmFlags::VM_LOCKED))
    else {
        return Err(Errno::EINVAL);
    };
    if !v.vm_flags.contains(VmFlags::VM_SHARED | VmFlags::VM_WRITE) {
        return Err(Errno::EACCES);
    }
    let offset = ((start - v.vm_start) as u64) + ((v.vm_pgoff as u64) << PAGE_SHIFT);
    // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
    file.fallocate(0x02 | 0x01, offset, (end - start) as u64)
}

/// MADV_POPULATE_READ / MADV_POPULATE_WRITE (Linux 5.14: `madvise_populate`): fault the
/// range in as reads or writes would, without pinning. EINVAL for VMAs that do not allow
/// the access (PROT_NONE, POPULATE_WRITE on read-only memory) or VM_IO/VM_PFNMAP; EFAULT
/// where an access would raise SIGBUS (a file mapping past end of file); ENOMEM when
/// memory runs out, and at the end when the range had holes (the mapped parts were
/// populated, as `do_madvise`'s walk reports holes).
///
/// Locking: takes `mmap_lock` for read (Linux 5.14: `madvise_need_mmap_write` is false for
/// these); a fault that waits for the disk drops it, and the walk takes it again and looks
/// the VMA up afresh.
#[no_mangle]
#[inline(never)]
pub fn madvise_populate(mm: &MmStruct, start: usize, end: usize, behavior: i32) -> KResult<()> {
    let write = behavior == MADV_POPULATE_WRITE;
    let mut locked: Option<MmapReadGuard<'_>> = None;
    let mut unmapped_error = Ok(());
    let mut start = start;
    while start < end {
        // We might have temporarily dropped the lock (our VMA might have been split).
        let guard = locked.get_or_insert_with(|| mmap_read_lock(mm));
        let Some(vma) = find_vma(guard, start) else {
            return Err(Errno::ENOMEM);
        };
        if start < vma.vm_start {
            unmapped_error = Err(Errno::ENOMEM);
            start = vma.vm_start;
            if start >= end {
                break;
            }
        }
        let tmp_end = end.min(vma.vm_end);
        let vma = vma as *const VmArea;
        // Populate (prefault) page tables readable/writable.
        match faultin_vma_page_range(mm, vma_under_lock(vma), start, tmp_end, write, &mut locked) {
            Ok(pages) => start += pages * PAGE_SIZE,
            Err(e @ (Errno::EINTR | Errno::EINVAL | Errno::EFAULT)) => return Err(e),
            Err(_) => return Err(Errno::ENOMEM),
        }
    }
    unmapped_error
}

/// Apply `behavior` to `[start, end)`, which lies inside the VMA keyed `vma`; `prev` is
/// the VMA before it (or `vma` itself when `start` is inside it) and on return the VMA
/// the walk continues after (None: look it up again). Linux: `madvise_vma`.
#[allow(clippy::too_many_arguments)]
fn madvise_vma(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
    behavior: i32,
) -> KResult<()> {
    match behavior {
        MADV_REMOVE => madvise_remove(mm, vma, prev, start, end),
        MADV_WILLNEED => madvise_willneed(vma, prev),
        MADV_COLD | MADV_PAGEOUT => {
            madvise_cold_or_pageout(mm, pt, vma, prev, start, end, behavior == MADV_PAGEOUT)
        }
        MADV_FREE | MADV_DONTNEED => madvise_dontneed_free(mm, pt, vma, prev, start, end, behavior),
        // Never reached: `do_madvise` sends these to `madvise_populate` (read lock).
        // Not advice on a VMA: do_madvise sends them elsewhere before the walk.
        MADV_POPULATE_READ | MADV_POPULATE_WRITE | MADV_HWPOISON => Err(Errno::EINVAL),
        _ => madvise_behavior(mm, vma, prev, start, end, behavior),
    }
}

/// madvise below the system call (Linux 5.10: `do_madvise`). Errors in Linux's order:
/// EINVAL for unknown advice, an unaligned `start`, a length that rounds up to 0 or a
/// range that wraps; `len == 0` succeeds; then VMA by VMA: ENOMEM if nothing is mapped
/// from `start` on, the advice's own error (which stops the walk, earlier VMAs keeping
/// their advice), and ENOMEM at the end if the range had holes (the mapped parts were
/// advised).
///
/// This is the walk under `mmap_lock` held for write; `do_madvise` takes the lock (or, for
/// MADV_POPULATE_*, the read lock in `madvise_populate`).
pub fn madvise_locked(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len_in: usize,
    behavior: i32,
) -> KResult<()> {
    let Some(end) = madvise_range(start, len_in, behavior)? else {
        return Ok(());
    };

    let mut vma = find_vma_key(mm, start);
    let mut prev = match vma {
        Some(k) if start > k => Some(k),
        Some(k) => vma_prev(mm, k),
        None => None,
    };
    let mut start = start;
    let mut unmapped_error = Ok(());
    loop {
        // Still start < end.
        let Some(k) = vma else {
            return Err(Errno::ENOMEM);
        };
        let v = &mm.mm_rb[&k];
        let (vm_start, vm_end) = (v.vm_start, v.vm_end);
        // Here start < (end|vma.vm_end).
        if start < vm_start {
            unmapped_error = Err(Errno::ENOMEM);
            start = vm_start;
            if start >= end {
                return unmapped_error;
            }
        }
        // Here vma.vm_start <= start < (end|vma.vm_end).
        let tmp = vm_end.min(end);
        madvise_vma(mm, pt, k, &mut prev, start, tmp, behavior)?;
        start = tmp;
        if let Some(p) = prev {
            start = start.max(mm.mm_rb[&p].vm_end);
        }
        if start >= end {
            return unmapped_error;
        }
        vma = match prev {
            Some(p) => vma_next(mm, Some(p)),
            None => find_vma_key(mm, start),
        };
    }
}

/// The argument checks of madvise, in Linux's order: EINVAL for unknown advice, an
/// unaligned `start`, a length that rounds up to 0, or a range that wraps. The end of
/// the range, or None when it is empty (success, nothing to do).
fn madvise_range(start: usize, len_in: usize, behavior: i32) -> KResult<Option<usize>> {
    if !madvise_behavior_valid(behavior) {
        return Err(Errno::EINVAL);
    }
    if start & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len_in.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    // Check to see whether len was rounded up from small -ve to zero.
    if len_in != 0 && len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    Ok((end != start).then_some(end))
}

/// MADV_HWPOISON (Linux: `madvise_inject_error`): EPERM without CAP_SYS_ADMIN; then for
/// each page of `[start, end)`: pin it (`get_user_pages_fast` in Linux, our
/// `__get_user_pages` under the read lock, which faults it in first: a hole or a
/// poisoned page is EFAULT) and hand it to `memory_failure` with the reference
/// (MF_COUNT_INCREASED). The first error stops the walk, earlier pages staying poisoned.
///
/// Locking: takes `mmap_lock` for read around each pin only (Linux's gup_fast takes
/// none); `memory_failure` runs without it, as in Linux. MADV_SOFT_OFFLINE is refused
/// by `madvise_behavior_valid` (no page migration here).
#[no_mangle]
#[inline(never)]
pub fn madvise_inject_error(mm: &MmStruct, behavior: i32, start: usize, end: usize) -> KResult<()> {
    use crate::mm::gup::{__get_user_pages, FollFlags};
    use crate::mm::memory_failure::{memory_failure, MF_COUNT_INCREASED};
    if !mmap_read_lock(mm).cap_sys_admin {
        return Err(Errno::EPERM);
    }
    debug_assert_eq!(behavior, MADV_HWPOISON);
    let mut start = start;
    while start < end {
        let mut pages = alloc::vec::Vec::new();
        {
            let mut locked = Some(mmap_read_lock(mm));
            __get_user_pages(
                mm,
                start,
                1,
                FollFlags::FOLL_GET,
                Some(&mut pages),
                &mut locked,
            )?;
        }
        let Some(&page) = pages.first() else {
            // The fault let go of the lock for I/O before pinning: try this page again.
            continue;
        };
        let pfn = crate::mm::page::page_to_pfn(page);
        crate::pr_info!(
            "Injecting memory failure for pfn {:#x} at process virtual address {:#x}",
            pfn,
            start
        );
        memory_failure(pfn, MF_COUNT_INCREASED)?;
        start += PAGE_SIZE;
    }
    Ok(())
}

/// madvise below the system call (Linux 5.10: `do_madvise`): the checks, then
/// MADV_POPULATE_* and MADV_WILLNEED under the read lock (`madvise_populate`,
/// `madvise_willneed_range`), everything else under the write lock (`madvise_locked`). EINTR if killed while waiting for the lock.
#[no_mangle]
#[inline(never)]
pub fn do_madvise(mm: &MmStruct, start: usize, len_in: usize, behavior: i32) -> KResult<()> {
    if behavior == MADV_HWPOISON {
        // Linux: the CONFIG_MEMORY_FAILURE branch, after the range checks, before any
        // lock; the end is `start + len_in`, not rounded up.
        if madvise_range(start, len_in, behavior)?.is_none() {
            return Ok(());
        }
        return madvise_inject_error(mm, behavior, start, start + len_in);
    }
    if matches!(behavior, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
        let Some(end) = madvise_range(start, len_in, behavior)? else {
            return Ok(());
        };
        return madvise_populate(mm, start, end, behavior);
    }
    if behavior == MADV_WILLNEED {
        let Some(end) = madvise_range(start, len_in, behavior)? else {
            return Ok(());
        };
        return madvise_willneed_range(mm, start, end);
    }
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    madvise_locked(&mut guard, &mut pt, start, len_in, behavior)
}

/// madvise(2). `behavior` is an `int`: the upper half of the register is ignored.
#[no_mangle]
#[inline(never)]
pub fn sys_madvise(mm: &MmStruct, start: usize, len: usize, behavior: i32) -> KResult<usize> {
    do_madvise(mm, start, len, behavior)?;
    Ok(0)
}

#[cfg(test)]
#[path = "madvise_tests.rs"]
mod tests;

//! mlock: keeping pages in memory. Linux: `mm/mlock.c`.
//!
//! Two halves, as in Linux 5.10. The VMA side: the system calls (`sys_mlock`,
//! `sys_mlock2`, `sys_munlock`, `sys_mlockall`, `sys_munlockall`) set or clear
//! VM_LOCKED (and VM_LOCKONFAULT) on the VMAs of a range, splitting and merging them
//! (`apply_vma_lock_flags` -> `mlock_fixup`), keep `mm.locked_vm` in pages, and then fault
//! the range in (`__mm_populate` in `mm/gup.rs`). The page side: a page mapped by a
//! VM_LOCKED VMA is marked PG_mlocked and counted in NR_MLOCK (`mlock_vma_page`, called
//! by `follow_page_pte` with FOLL_MLOCK), so reclaim leaves it alone (it goes to the
//! unevictable list); munlock and munmap clear it again
//! (`munlock_vma_pages_range` -> `munlock_vma_page`).
//!
//! ```text
//! sys_mlock / sys_mlock2 -> do_mlock -> can_do_mlock (EPERM), RLIMIT_MEMLOCK (ENOMEM,
//!                                       count_mm_mlocked_page_nr), apply_vma_lock_flags
//!                                       -> mlock_fixup -> vma_merge | split_vma
//!                                    -> __mm_populate -> __mlock_posix_error_return
//! sys_munlock -> apply_vma_lock_flags -> mlock_fixup -> munlock_vma_pages_range
//! sys_mlockall / sys_munlockall -> apply_mlockall_flags -> mlock_fixup (every VMA)
//!                               -> mm_populate(0, TASK_SIZE) for MCL_CURRENT
//! ```
//! Locking, as in Linux 5.10: `do_mlock` takes `mmap_lock` for write to change the VMA
//! flags, drops it, and `__mm_populate` takes it again for read to fault the pages in (and
//! may drop it while a page is read from disk). mlockall likewise. The page-side
//! functions run under the mmap lock too (Linux: the page lock and `lru_lock`).
//! Callers of the page side: `mm/gup.rs` (`follow_page_pte`), `mm/page_alloc.rs`
//! (`clear_page_mlock` on free), `mm/mmap.rs` (`munlock_vma_pages_all` for munmap and
//! `exit_mmap`).
use crate::arch::aarch64::pgtable::PTRS_PER_TABLE;
use crate::errno::{Errno, KResult};
use crate::kernel::resource::RLIMIT_MEMLOCK;
use crate::mm::gup::{__mm_populate, follow_page_mask, mm_populate, FollFlags, Follow};
use crate::mm::memory::walk_to_pte_table;
use crate::mm::mm_types::{MmStruct, MmapLocked};
pub use crate::mm::mmap::can_do_mlock;
use crate::mm::mmap_lock::{mmap_write_lock_killable, mmap_write_unlock};
use crate::mm::page::{put_page, Page, PageFlags};
use crate::mm::vma::{
    find_vma_key, split_vma, vma_merge, vma_next, vma_prev, VmArea, VmFlags, VmaPageTables,
};
use crate::mm::vmscan::{isolate_lru_page, putback_lru_page};
use crate::mm::vmstat::{count_vm_event, mod_state, VmStat};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};

/// mlock2(2) flag: lock pages as they are faulted in, not now (Linux:
/// `include/uapi/asm-generic/mman-common.h`).
pub const MLOCK_ONFAULT: u32 = 0x01;
/// mlockall(2): lock every page mapped now.
pub const MCL_CURRENT: u32 = 1;
/// mlockall(2): lock every page mapped from now on.
pub const MCL_FUTURE: u32 = 2;
/// mlockall(2): with MCL_CURRENT/MCL_FUTURE, lock pages only when faulted in.
pub const MCL_ONFAULT: u32 = 4;

// ---------------------------------------------------------------------------------------
// The page side.
// ---------------------------------------------------------------------------------------

/// Mark a page mlocked and move it to the unevictable list (Linux: `mlock_vma_page`).
/// The caller found it through a VM_LOCKED VMA (`follow_page_pte` with FOLL_MLOCK, or
/// an rmap walk: `try_to_munlock`, reclaim's `try_to_unmap`). The first time counts
/// NR_MLOCK and `unevictable_pgs_mlocked`, and the page is isolated and put back, which
/// lands it on the unevictable list; a page already isolated (by reclaim, or by munlock
/// itself) goes there when its isolator puts it back.
#[no_mangle]
#[inline(never)]
pub fn mlock_vma_page(page: &Page) {
    if !page.test_and_set(PageFlags::PG_mlocked) {
        mod_state(VmStat::NR_MLOCK, 1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_MLOCKED);
        if isolate_lru_page(page).is_ok() {
            putback_lru_page(page);
        }
    }
}

/// Take a page being munlocked off its list (Linux: `__munlock_isolate_lru_page`).
fn __munlock_isolate_lru_page(page: &Page) -> bool {
    isolate_lru_page(page).is_ok()
}

/// Finish munlocking an isolated page (Linux: `__munlock_isolated_page`): if it is mapped
/// more than once, `try_to_munlock` asks rmap whether another VM_LOCKED VMA still maps
/// it, which marks it mlocked again; `unevictable_pgs_munlocked` counts it only if not;
/// `putback_lru_page` puts it on the list its flags now call for (an evictable one:
/// `unevictable_pgs_rescued`; the unevictable one again if still mlocked).
fn __munlock_isolated_page(page: &Page) {
    if page.page_mapcount() > 1 {
        crate::mm::rmap::try_to_munlock(page);
    }
    if !page.test(PageFlags::PG_mlocked) {
        count_vm_event(VmStat::UNEVICTABLE_PGS_MUNLOCKED);
    }
    putback_lru_page(page);
}

/// A page that could not be isolated stays where it is: `unevictable_pgs_stranded` if
/// that is the unevictable list (reclaim will rescue it), else it counts as munlocked
/// (Linux: `__munlock_isolation_failed`).
fn __munlock_isolation_failed(page: &Page) {
    if page.test(PageFlags::PG_unevictable) {
        count_vm_event(VmStat::UNEVICTABLE_PGS_STRANDED);
    } else {
        count_vm_event(VmStat::UNEVICTABLE_PGS_MUNLOCKED);
    }
}

/// Clear a page's mlock (Linux: `munlock_vma_page`): NR_MLOCK goes down, the page is
/// isolated and finished by `__munlock_isolated_page` (which asks rmap, through
/// `try_to_munlock`, whether another locked VMA keeps it locked) or, if isolation fails,
/// `__munlock_isolation_failed`. Called with no page-table lock held (the rmap walk takes
/// each mapping mm's). Difference from 5.10: no page lock (`lock_page`).
#[no_mangle]
#[inline(never)]
pub fn munlock_vma_page(page: &Page) {
    if !page.test_and_clear(PageFlags::PG_mlocked) {
        return;
    }
    mod_state(VmStat::NR_MLOCK, -1);
    if __munlock_isolate_lru_page(page) {
        __munlock_isolated_page(page);
    } else {
        __munlock_isolation_failed(page);
    }
}

/// The last mapping of a page that is still mlocked went away (zap, COW): clear the mark,
/// count `unevictable_pgs_cleared`, and put the page back on an evictable list (Linux
/// 5.10: `clear_page_mlock`, from `page_remove_rmap`). If it cannot be isolated and is
/// on the unevictable list, `unevictable_pgs_stranded`.
pub fn clear_page_mlock(page: &Page) {
    // A plain load first: almost no page being unmapped is mlocked.
    if !page.test(PageFlags::PG_mlocked) || !page.test_and_clear(PageFlags::PG_mlocked) {
        return;
    }
    mod_state(VmStat::NR_MLOCK, -1);
    count_vm_event(VmStat::UNEVICTABLE_PGS_CLEARED);
    if isolate_lru_page(page).is_ok() {
        putback_lru_page(page);
    } else if page.test(PageFlags::PG_unevictable) {
        count_vm_event(VmStat::UNEVICTABLE_PGS_STRANDED);
    }
}

/// A page freed while still marked mlocked: clear the mark and count it (Linux:
/// `free_pages_prepare`'s handling of PG_mlocked, counted in `unevictable_pgs_cleared`).
/// Nothing to move: the page has left its LRU list already (`__page_cache_release`).
pub fn free_page_mlock(page: &Page) {
    if page.test(PageFlags::PG_mlocked) && page.test_and_clear(PageFlags::PG_mlocked) {
        mod_state(VmStat::NR_MLOCK, -1);
        count_vm_event(VmStat::UNEVICTABLE_PGS_CLEARED);
    }
}

/// Clear VM_LOCKED/VM_LOCKONFAULT from `vma` and munlock every page it maps in
/// `[start, end)` (Linux: `munlock_vma_pages_range`, for munlock, munlockall, munmap and
/// exit). Each page is found with `follow_page_mask(FOLL_GET | FOLL_DUMP)`, which skips
/// holes and the zero page, then `munlock_vma_page`. `pgd` is the mm's (0 in host tests of
/// the VMA code, which have no page tables). Returns the pages munlocked. Caller holds
/// `mmap_lock` for write (or the last reference to the mm, at exit).
///
/// Difference from 5.10: where a whole PTE table is missing the walk steps to the next
/// one, where Linux's loop asks `follow_page` page by page (and batches the rest of a
/// table through `__munlock_pagevec_fill`).
#[no_mangle]
#[inline(never)]
pub fn munlock_vma_pages_range(vma: &mut VmArea, pgd: usize, start: usize, end: usize) -> usize {
    vma.vm_flags.remove(VmFlags::VM_LOCKED_MASK);
    #[cfg(test)]
    tests::MUNLOCKED.with(|m| m.borrow_mut().push((start, end)));
    if pgd == 0 {
        return 0;
    }
    // From here on the VMA is only read: rmap walks (try_to_munlock) may reach it too.
    let vma: &VmArea = vma;
    let table_span = PTRS_PER_TABLE << PAGE_SHIFT;
    let mut n = 0;
    let mut addr = start;
    // Where the page table known to exist ends: holes are skipped a table at a time, and
    // the walk to find out is made once per table, not once per page.
    let mut table_end = 0;
    while addr < end {
        if addr >= table_end {
            let next = (addr | (table_span - 1)) + 1;
            if walk_to_pte_table(pgd, addr, false).is_none() {
                addr = next.min(end);
                continue;
            }
            table_end = next;
        }
        let flags = FollFlags::FOLL_GET | FollFlags::FOLL_DUMP;
        if let Ok(Follow::Page(page)) = follow_page_mask(vma, pgd, addr, flags) {
            if page.test(PageFlags::PG_mlocked) {
                munlock_vma_page(page);
                n += 1;
            }
            put_page(page);
        }
        addr += PAGE_SIZE;
    }
    n
}

/// Munlock a whole VM_LOCKED VMA that munmap or exit is taking away (Linux:
/// `munlock_vma_pages_all`, `mm/internal.h`).
#[no_mangle]
#[inline(never)]
pub fn munlock_vma_pages_all(vma: &mut VmArea, pgd: usize) -> usize {
    let (start, end) = (vma.vm_start, vma.vm_end);
    munlock_vma_pages_range(vma, pgd, start, end)
}

// ---------------------------------------------------------------------------------------
// The VMA side.
// ---------------------------------------------------------------------------------------

/// The errno mlock reports for a failed `__mm_populate`: EFAULT (a hole, an
/// inaccessible VMA) becomes ENOMEM, ENOMEM (out of memory) becomes EAGAIN (Linux:
/// `__mlock_posix_error_return`).
pub fn __mlock_posix_error_return(e: Errno) -> Errno {
    match e {
        Errno::EFAULT => Errno::ENOMEM,
        Errno::ENOMEM => Errno::EAGAIN,
        e => e,
    }
}

/// Give `[start, end)` of the VMA keyed `vma` the flags `newflags` (VM_LOCKED and
/// VM_LOCKONFAULT changed, nothing else): merge it with a neighbour or split it out,
/// set the flags, and count the pages newly locked or unlocked in `mm.locked_vm`.
/// Unlocking munlocks the pages too; locking leaves population to the caller. `prev` is
/// the VMA before `start` (or the VMA itself when `start` is inside it) and on return the
/// VMA now covering `[start, end)`. Special VMAs (VM_IO, VM_PFNMAP, VM_MIXEDMAP,
/// VM_DONTEXPAND, hugetlb) never get VM_LOCKED and are not counted. Linux: `mlock_fixup`.
///
/// Errors: `split_vma`'s ENOMEM (map_count at `max_map_count`).
/// Difference: no gate VMA or DAX here.
#[no_mangle]
#[inline(never)]
pub fn mlock_fixup(
    mm: &mut MmapLocked,
    vma: usize,
    prev: &mut Option<usize>,
    start: usize,
    end: usize,
    newflags: VmFlags,
) -> KResult<()> {
    let v = &mm.mm_rb[&vma];
    let old_flags = v.vm_flags;
    let lock = newflags.contains(VmFlags::VM_LOCKED);

    if newflags == old_flags || old_flags.intersects(VmFlags::VM_SPECIAL | VmFlags::VM_HUGETLB) {
        // Don't set VM_LOCKED or VM_LOCKONFAULT and don't count.
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
        newflags,
        anon_vma.as_ref(),
        file.as_ref(),
        pgoff,
    ) {
        Some(k) => k,
        None => {
            let mut key = vma;
            if start != mm.mm_rb[&key].vm_start {
                if let Err(e) = split_vma(mm, key, start, true) {
                    *prev = Some(key);
                    return Err(e);
                }
                key = start; // the upper part keeps going, re-keyed at `start`
            }
            if end != mm.mm_rb[&key].vm_end {
                if let Err(e) = split_vma(mm, key, end, false) {
                    *prev = Some(key);
                    return Err(e);
                }
            }
            key
        }
    };

    // Keep track of the amount of locked VM.
    let nr_pages = (end - start) >> PAGE_SHIFT;
    if !lock {
        mm.locked_vm = mm.locked_vm.saturating_sub(nr_pages);
    } else if !old_flags.contains(VmFlags::VM_LOCKED) {
        mm.locked_vm += nr_pages;
    }

    // vm_flags is protected by the mm lock; a page reclaim unmaps just after this is
    // brought back by the caller's populate.
    if lock {
        mm.mm_rb
            .get_mut(&key)
            .expect("mlock_fixup: vma vanished")
            .vm_flags = newflags;
    } else {
        let pgd = mm.pgd;
        let v = mm.mm_rb.get_mut(&key).expect("mlock_fixup: vma vanished");
        munlock_vma_pages_range(v, pgd, start, end);
    }
    *prev = Some(key);
    Ok(())
}

/// Set the lock flags `flags` (VM_LOCKED, maybe VM_LOCKONFAULT; empty to unlock) on
/// every VMA in `[start, start + len)` (page aligned), VMA by VMA through `mlock_fixup`.
/// EINVAL if the range wraps; nothing to do for `len == 0`; ENOMEM if the range starts
/// in or meets a hole, leaving the VMAs before the hole changed, as Linux does. Linux:
/// `apply_vma_lock_flags`.
#[no_mangle]
#[inline(never)]
pub fn apply_vma_lock_flags(
    mm: &mut MmapLocked,
    start: usize,
    len: usize,
    flags: VmFlags,
) -> KResult<()> {
    debug_assert!(start & (PAGE_SIZE - 1) == 0 && len & (PAGE_SIZE - 1) == 0);
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    if end == start {
        return Ok(());
    }
    let mut vma = match find_vma_key(mm, start) {
        Some(k) if mm.mm_rb[&k].vm_start <= start => k,
        _ => return Err(Errno::ENOMEM),
    };
    let mut prev = if start > vma {
        Some(vma)
    } else {
        vma_prev(mm, vma)
    };

    let mut nstart = start;
    loop {
        let v = &mm.mm_rb[&vma];
        let newflags = (v.vm_flags & !VmFlags::VM_LOCKED_MASK) | flags;
        // Here we know that vma.vm_start <= nstart < vma.vm_end.
        let tmp = v.vm_end.min(end);
        mlock_fixup(mm, vma, &mut prev, nstart, tmp, newflags)?;
        let p = prev.expect("mlock_fixup always sets prev");
        nstart = tmp.max(mm.mm_rb[&p].vm_end);
        if nstart >= end {
            return Ok(());
        }
        match vma_next(mm, Some(p)) {
            Some(n) if n == nstart => vma = n,
            _ => return Err(Errno::ENOMEM),
        }
    }
}

/// Pages of `[start, start + len)` already in VM_LOCKED VMAs, so that locking a range
/// again does not count it twice against RLIMIT_MEMLOCK (MLOCK_ONFAULT VMAs count too).
/// Linux: `count_mm_mlocked_page_nr`.
pub fn count_mm_mlocked_page_nr(mm: &MmapLocked, start: usize, len: usize) -> usize {
    let end = start.wrapping_add(len);
    let Some(first) = find_vma_key(mm, start) else {
        return 0;
    };
    let mut count: usize = 0;
    for v in mm.mm_rb.range(first..).map(|(_, v)| v) {
        if start >= v.vm_end {
            continue;
        }
        if end <= v.vm_start {
            break;
        }
        if v.vm_flags.contains(VmFlags::VM_LOCKED) {
            if start > v.vm_start {
                count = count.wrapping_sub(start - v.vm_start);
            }
            if end < v.vm_end {
                count = count.wrapping_add(end - v.vm_start);
                break;
            }
            count = count.wrapping_add(v.vm_end - v.vm_start);
        }
    }
    count >> PAGE_SHIFT
}

/// The write-locked part of mlock/mlock2: checks, then `apply_vma_lock_flags`. Returns
/// the page-rounded range (`start` rounded down, `len` up with the rounding carried in).
/// Errors in Linux's order: EPERM when RLIMIT_MEMLOCK is 0 without CAP_IPC_LOCK
/// (`can_do_mlock`); ENOMEM when the pages not yet locked in the range plus `locked_vm`
/// pass RLIMIT_MEMLOCK without CAP_IPC_LOCK; `apply_vma_lock_flags`' EINVAL/ENOMEM.
pub fn mlock_locked(
    mm: &mut MmapLocked,
    start: usize,
    len: usize,
    flags: VmFlags,
) -> KResult<(usize, usize)> {
    if !can_do_mlock(mm) {
        return Err(Errno::EPERM);
    }
    let len = page_align(len.wrapping_add(start & (PAGE_SIZE - 1)));
    let start = start & !(PAGE_SIZE - 1);

    let lock_limit = mm.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
    let mut locked = (len >> PAGE_SHIFT) + mm.locked_vm;
    if locked > lock_limit && !mm.cap_ipc_lock {
        // The range may overlap areas already mlocked: those are in locked_vm already.
        locked = locked.saturating_sub(count_mm_mlocked_page_nr(mm, start, len));
    }

    // Check against resource limits.
    if locked > lock_limit && !mm.cap_ipc_lock {
        return Err(Errno::ENOMEM);
    }
    apply_vma_lock_flags(mm, start, len, flags)?;
    Ok((start, len))
}

/// mlock/mlock2 below the system call: lock `[start, start + len)` with `flags`
/// (VM_LOCKED, and VM_LOCKONFAULT for MLOCK_ONFAULT), then fault it in. Linux:
/// `do_mlock`.
///
/// Locking: `mmap_lock` for write around `mlock_locked` (EINTR if killed while waiting),
/// dropped before `__mm_populate`, which takes it for read. Its errors come back through
/// `__mlock_posix_error_return` (ENOMEM for a VMA gup cannot fault, such as PROT_NONE,
/// which stays locked; EAGAIN when memory runs out).
#[no_mangle]
#[inline(never)]
pub fn do_mlock(mm: &MmStruct, start: usize, len: usize, flags: VmFlags) -> KResult<()> {
    let mut guard = mmap_write_lock_killable(mm)?;
    let r = mlock_locked(&mut guard, start, len, flags);
    mmap_write_unlock(guard);
    let (start, len) = r?;
    __mm_populate(mm, start, len, false).map_err(__mlock_posix_error_return)
}

/// Translate mlockall's MCL_* `flags` (0 for munlockall) into `mm.def_flags` (MCL_FUTURE:
/// VM_LOCKED, with MCL_ONFAULT also VM_LOCKONFAULT) and the lock flags of every VMA
/// (MCL_CURRENT; without it every VMA is unlocked). Calling it again replaces, not adds:
/// mlockall(MCL_FUTURE) then mlockall(MCL_CURRENT) clears the future locking. Errors of
/// single VMAs are ignored, as in Linux. Linux: `apply_mlockall_flags`.
#[no_mangle]
#[inline(never)]
pub fn apply_mlockall_flags(mm: &mut MmapLocked, flags: u32) {
    mm.def_flags.remove(VmFlags::VM_LOCKED_MASK);
    if flags & MCL_FUTURE != 0 {
        mm.def_flags |= VmFlags::VM_LOCKED;
        if flags & MCL_ONFAULT != 0 {
            mm.def_flags |= VmFlags::VM_LOCKONFAULT;
        }
        if flags & MCL_CURRENT == 0 {
            return;
        }
    }

    let mut to_add = VmFlags::empty();
    if flags & MCL_CURRENT != 0 {
        to_add |= VmFlags::VM_LOCKED;
        if flags & MCL_ONFAULT != 0 {
            to_add |= VmFlags::VM_LOCKONFAULT;
        }
    }

    let mut prev: Option<usize> = None;
    let mut vma = vma_next(mm, None);
    while let Some(k) = vma {
        let v = &mm.mm_rb[&k];
        let newflags = (v.vm_flags & !VmFlags::VM_LOCKED_MASK) | to_add;
        let (s, e) = (v.vm_start, v.vm_end);
        // Ignore errors.
        let _ = mlock_fixup(mm, k, &mut prev, s, e, newflags);
        vma = vma_next(mm, prev);
    }
}

/// The write-locked part of mlockall (Linux: `SYSCALL_DEFINE1(mlockall)` between lock and
/// unlock): EINVAL for no flags, unknown flags or MCL_ONFAULT alone; EPERM without any
/// mlock allowance; ENOMEM for MCL_CURRENT when the whole address space (`total_vm`)
/// passes RLIMIT_MEMLOCK without CAP_IPC_LOCK. MCL_CURRENT then asks for everything to be
/// populated (`mm_populate(0, TASK_SIZE)`, run by the caller after the unlock).
pub fn mlockall_locked(mm: &mut MmapLocked, pt: &mut dyn VmaPageTables, flags: u32) -> KResult<()> {
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    if !can_do_mlock(mm) {
        return Err(Errno::EPERM);
    }
    let lock_limit = mm.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
    if flags & MCL_CURRENT != 0 && mm.total_vm > lock_limit && !mm.cap_ipc_lock {
        return Err(Errno::ENOMEM);
    }
    apply_mlockall_flags(mm, flags);
    if flags & MCL_CURRENT != 0 {
        let task_size = mm.task_size;
        pt.mm_populate(mm, 0, task_size);
    }
    Ok(())
}

fn page_align(x: usize) -> usize {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Run `mlockall_locked` (or, for `flags` 0, munlockall's `apply_mlockall_flags(0)`) under
/// `mmap_lock` for write, then populate what it asked for, errors ignored.
fn do_mlockall(mm: &MmStruct, flags: u32) -> KResult<()> {
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let r = if flags == 0 {
        apply_mlockall_flags(&mut guard, 0);
        Ok(())
    } else {
        mlockall_locked(&mut guard, &mut pt, flags)
    };
    mmap_write_unlock(guard);
    for (start, len) in pt.populate.drain(..) {
        mm_populate(mm, start, len);
    }
    r
}

/// mlock(2): `do_mlock(start, len, VM_LOCKED)`.
#[no_mangle]
#[inline(never)]
pub fn sys_mlock(mm: &MmStruct, start: usize, len: usize) -> KResult<usize> {
    do_mlock(mm, start, len, VmFlags::VM_LOCKED)?;
    Ok(0)
}

/// mlock2(2): EINVAL for flags other than MLOCK_ONFAULT (checked first), then
/// `do_mlock` with VM_LOCKED, plus VM_LOCKONFAULT for MLOCK_ONFAULT.
#[no_mangle]
#[inline(never)]
pub fn sys_mlock2(mm: &MmStruct, start: usize, len: usize, flags: u32) -> KResult<usize> {
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    let mut vm_flags = VmFlags::VM_LOCKED;
    if flags & MLOCK_ONFAULT != 0 {
        vm_flags |= VmFlags::VM_LOCKONFAULT;
    }
    do_mlock(mm, start, len, vm_flags)?;
    Ok(0)
}

/// munlock(2): page-round the range as mlock does and clear the lock flags on it
/// (`apply_vma_lock_flags(start, len, 0)`) under `mmap_lock` for write: EINVAL if it
/// wraps, ENOMEM at a hole. No permission check, no limit.
#[no_mangle]
#[inline(never)]
pub fn sys_munlock(mm: &MmStruct, start: usize, len: usize) -> KResult<usize> {
    let len = page_align(len.wrapping_add(start & (PAGE_SIZE - 1)));
    let start = start & !(PAGE_SIZE - 1);
    let mut guard = mmap_write_lock_killable(mm)?;
    let r = apply_vma_lock_flags(&mut guard, start, len, VmFlags::empty());
    mmap_write_unlock(guard);
    r?;
    Ok(0)
}

/// mlockall(2): see `mlockall_locked`.
#[no_mangle]
#[inline(never)]
pub fn sys_mlockall(mm: &MmStruct, flags: u32) -> KResult<usize> {
    if flags == 0 {
        return Err(Errno::EINVAL);
    }
    do_mlockall(mm, flags)?;
    Ok(0)
}

/// munlockall(2): unlock every VMA and stop locking future ones
/// (`apply_mlockall_flags(0)`). Never fails (but for EINTR while waiting for the lock).
#[no_mangle]
#[inline(never)]
pub fn sys_munlockall(mm: &MmStruct) -> KResult<usize> {
    do_mlockall(mm, 0)?;
    Ok(0)
}

#[cfg(test)]
#[path = "mlock_tests.rs"]
pub(crate) mod tests;

//! mremap(2): grow, shrink or move a mapping. Linux: `mm/mremap.c` (5.10).
//!
//! ```text
//! sys_mremap -> do_mremap (mmap_lock for write)
//!   MREMAP_FIXED / MREMAP_DONTUNMAP -> mremap_to -> do_munmap (the target), vma_to_resize,
//!                                      get_unmapped_area, move_vma
//!   old_len >= new_len              -> __do_munmap of the tail (shrink in place)
//!   grow: vma_to_resize (limits, charge) -> vma_expandable ? grow the VMA in place
//!                                        : MREMAP_MAYMOVE ? get_unmapped_area + move_vma
//!   move_vma -> copy_vma (vma_merge or a new VMA) -> move_page_tables -> do_munmap (old)
//! then, unlocked: mm_populate of a grown locked mapping
//! ```
//! Pages move with their PTEs (`move_page_tables`): nothing is copied, counters and rmap
//! stay as they are. Differences from 5.10: no userfaultfd, no hugetlb, no
//! `vm_ops->mremap`; moving a VMA never re-links anon_vma chains (rmap comes later).
use crate::errno::{Errno, KResult};
use crate::kernel::resource::RLIMIT_MEMLOCK;
use crate::mm::gup::mm_populate;
use crate::mm::mm_types::{MmStruct, MmapLocked};
use crate::mm::mmap::{
    do_munmap, get_unmapped_area, may_expand_vm, munmap_detach_vmas, sysctl_max_map_count,
    vm_stat_account, MAP_FIXED, MAP_SHARED,
};
use crate::mm::mmap_lock::{
    mmap_read_unlock, mmap_write_downgrade, mmap_write_lock_killable, mmap_write_unlock,
};
use crate::mm::vma::{find_vma, vma_merge, vma_prev, VmFlags, VmaPageTables};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};

/// mremap flag: the mapping may move (Linux: `include/uapi/linux/mman.h`).
pub const MREMAP_MAYMOVE: usize = 1;
/// mremap flag: move to exactly `new_addr`, unmapping what is there.
pub const MREMAP_FIXED: usize = 2;
/// mremap flag (5.7): move the pages but leave the old range mapped, empty.
pub const MREMAP_DONTUNMAP: usize = 4;

fn page_align(x: usize) -> usize {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Checks before a mapping grows or moves, and the overcommit charge for the growth
/// (Linux: `vma_to_resize`): EFAULT unless `[addr, addr + old_len)` lies in one VMA;
/// EINVAL for MREMAP_DONTUNMAP on VM_DONTEXPAND/VM_PFNMAP or a page offset that would
/// wrap; EFAULT to grow a VM_DONTEXPAND/VM_PFNMAP VMA; EAGAIN past RLIMIT_MEMLOCK for a
/// locked one; ENOMEM past RLIMIT_AS/DATA or when overcommit refuses. Returns the VMA's
/// key and the pages charged.
#[no_mangle]
#[inline(never)]
pub fn vma_to_resize(
    mm: &MmapLocked,
    pt: &mut dyn VmaPageTables,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: usize,
) -> KResult<(usize, usize)> {
    let vma = find_vma(mm, addr)
        .filter(|v| v.vm_start <= addr)
        .ok_or(Errno::EFAULT)?;
    // We can't remap across vm area boundaries.
    if old_len > vma.vm_end - addr {
        return Err(Errno::EFAULT);
    }
    if flags & MREMAP_DONTUNMAP != 0
        && vma
            .vm_flags
            .intersects(VmFlags::VM_DONTEXPAND | VmFlags::VM_PFNMAP)
    {
        return Err(Errno::EINVAL);
    }
    if new_len == old_len {
        return Ok((vma.vm_start, 0));
    }
    // Need to be careful about a growing mapping.
    let pgoff = ((addr - vma.vm_start) >> PAGE_SHIFT) + vma.vm_pgoff;
    if pgoff.checked_add(new_len >> PAGE_SHIFT).is_none() {
        return Err(Errno::EINVAL);
    }
    if vma
        .vm_flags
        .intersects(VmFlags::VM_DONTEXPAND | VmFlags::VM_PFNMAP)
    {
        return Err(Errno::EFAULT);
    }
    if vma.vm_flags.contains(VmFlags::VM_LOCKED) {
        let locked = (mm.locked_vm << PAGE_SHIFT).saturating_add(new_len - old_len);
        if locked > mm.rlimit(RLIMIT_MEMLOCK) && !mm.cap_ipc_lock {
            return Err(Errno::EAGAIN);
        }
    }
    let grow = (new_len - old_len) >> PAGE_SHIFT;
    if !may_expand_vm(mm, vma.vm_flags, grow) {
        return Err(Errno::ENOMEM);
    }
    let mut charged = 0;
    if vma.vm_flags.contains(VmFlags::VM_ACCOUNT) {
        pt.security_vm_enough_memory_mm(grow)?;
        charged = grow;
    }
    Ok((vma.vm_start, charged))
}

/// Can the VMA keyed `key` grow by `delta` bytes where it is: no overflow, the next VMA
/// (and its guard gap) out of the way, and the range acceptable to `get_unmapped_area`
/// (Linux: `vma_expandable`).
fn vma_expandable(mm: &MmapLocked, key: usize, delta: usize) -> bool {
    let vma = &mm.mm_rb[&key];
    let Some(end) = vma.vm_end.checked_add(delta) else {
        return false;
    };
    if crate::mm::vma::vma_next(mm, Some(key)).is_some_and(|n| n < end) {
        return false;
    }
    get_unmapped_area(mm, None, vma.vm_start, end - vma.vm_start, 0, MAP_FIXED).is_ok()
}

/// A VMA for `[addr, addr + len)` like the one keyed `key`, at file offset `pgoff`:
/// merged into a neighbour when it can be, else a new one (Linux: `copy_vma`). Returns
/// its key; ENOMEM (Linux: NULL, and `move_vma` fails with -ENOMEM) when the copy or its
/// chains find no memory, before anything changed.
fn copy_vma(
    mm: &mut MmapLocked,
    key: usize,
    addr: usize,
    len: usize,
    pgoff: usize,
) -> KResult<usize> {
    let mut vma = crate::mm::vma::vm_area_box(crate::mm::vma::vm_area_dup(&mm.mm_rb[&key]))?;
    crate::mm::rmap::anon_vma_clone(&mut vma, &mm.mm_rb[&key])?;
    // The moved range is not registered with a userfaultfd (5.10 clears it after the
    // copy, in move_vma; before, it can merge with an unregistered neighbour).
    crate::mm::userfaultfd::mremap_userfaultfd_prep(&mut vma);
    let prev = find_vma(mm, addr).map_or_else(
        || mm.mm_rb.keys().next_back().copied(),
        |next| vma_prev(mm, next.vm_start),
    );
    if let Some(k) = vma_merge(
        mm,
        prev,
        addr,
        addr + len,
        vma.vm_flags,
        vma.anon_vma.as_ref(),
        vma.vm_file.as_ref(),
        pgoff,
    ) {
        crate::mm::vma::vm_area_free(*vma);
        return Ok(k);
    }
    let mut new = vma;
    new.vm_start = addr;
    new.vm_end = addr + len;
    new.vm_pgoff = pgoff;
    crate::mm::vma::vma_link_box(mm, new);
    Ok(addr)
}

/// Move the mapping `[old_addr, old_addr + old_len)` of the VMA keyed `key` to
/// `new_addr` with `new_len` bytes: a VMA there (`copy_vma`), the page-table entries moved
/// (`move_page_tables`), the old range unmapped unless MREMAP_DONTUNMAP, the accounting
/// carried over (Linux: `move_vma`). ENOMEM when the VMA count is near its limit or the
/// page tables cannot be had (the entries then move back).
#[no_mangle]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn move_vma(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    key: usize,
    old_addr: usize,
    old_len: usize,
    new_len: usize,
    new_addr: usize,
    flags: usize,
    populate: &mut Option<(usize, usize)>,
) -> KResult<usize> {
    // We'd prefer to avoid failure later on in do_munmap, which may split into 2 VMAs.
    if mm.map_count >= sysctl_max_map_count().saturating_sub(3) {
        return Err(Errno::ENOMEM);
    }
    let (vm_start, vm_end, vm_pgoff, vm_flags) = {
        let v = &mm.mm_rb[&key];
        (v.vm_start, v.vm_end, v.vm_pgoff, v.vm_flags)
    };
    let new_pgoff = vm_pgoff + ((old_addr - vm_start) >> PAGE_SHIFT);
    let new_key = copy_vma(mm, key, new_addr, new_len, new_pgoff)?;
    let moved = pt.move_page_tables(old_addr, new_addr, old_len);
    if moved < old_len {
        // On error, move the entries back from the new area to the old one and drop the
        // new area (Linux does the same by unmapping the new range).
        pt.move_page_tables(new_addr, old_addr, moved);
        let _ = do_munmap(mm, pt, new_addr, new_len);
        return Err(Errno::ENOMEM);
    }
    let _ = new_key;
    // Conceal VM_ACCOUNT so the old reservation is not undone by the munmap below.
    let dontunmap = flags & MREMAP_DONTUNMAP != 0;
    let mut excess = 0;
    let mut split = false;
    if vm_flags.contains(VmFlags::VM_ACCOUNT) && !dontunmap {
        if let Some(v) = mm.mm_rb.get_mut(&key) {
            v.vm_flags.remove(VmFlags::VM_ACCOUNT);
        }
        excess = (vm_end - vm_start) - old_len;
        split = old_addr > vm_start && old_addr + old_len < vm_end;
    }
    // do_munmap takes old_len off total_vm; the new range adds new_len.
    vm_stat_account(mm, vm_flags, (new_len >> PAGE_SHIFT) as isize);
    if dontunmap {
        if vm_flags.contains(VmFlags::VM_ACCOUNT) {
            // Always put back VM_ACCOUNT since we won't unmap: both ranges are charged.
            pt.vm_acct_memory(new_len >> PAGE_SHIFT);
        }
        if vm_flags.contains(VmFlags::VM_LOCKED) {
            mm.locked_vm += new_len >> PAGE_SHIFT;
            *populate = Some((new_addr, new_len));
        }
        return Ok(new_addr);
    }
    if do_munmap(mm, pt, old_addr, old_len).is_err() {
        // Unable to split: just get the accounts right.
        pt.vm_unacct_memory(excess >> PAGE_SHIFT);
        excess = 0;
    }
    if vm_flags.contains(VmFlags::VM_LOCKED) {
        mm.locked_vm += new_len >> PAGE_SHIFT;
        *populate = Some((new_addr + old_len, new_len.saturating_sub(old_len)));
    }
    // Restore VM_ACCOUNT on what is left of the old VMA (one or two pieces).
    if excess != 0 {
        let left: alloc::vec::Vec<usize> = mm
            .mm_rb
            .range(vm_start..vm_end)
            .map(|(&k, _)| k)
            .filter(|&k| k < old_addr || k >= old_addr + old_len)
            .collect();
        for k in left {
            if let Some(v) = mm.mm_rb.get_mut(&k) {
                v.vm_flags |= VmFlags::VM_ACCOUNT;
            }
        }
        let _ = split;
    }
    Ok(new_addr)
}

/// mremap to a given place (MREMAP_FIXED) or away from the old one (MREMAP_DONTUNMAP)
/// (Linux: `mremap_to`): EINVAL for an unaligned or out-of-range `new_addr` or ranges
/// that overlap; ENOMEM when DONTUNMAP would pass max_map_count; with MREMAP_FIXED
/// whatever is at the target is unmapped first; a shrink unmaps the tail first.
#[allow(clippy::too_many_arguments)]
fn mremap_to(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    addr: usize,
    mut old_len: usize,
    new_addr: usize,
    new_len: usize,
    flags: usize,
    populate: &mut Option<(usize, usize)>,
) -> KResult<usize> {
    if new_addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    if new_len > mm.task_size || new_addr > mm.task_size - new_len {
        return Err(Errno::EINVAL);
    }
    // Ensure the old/new locations do not overlap. (Unsigned long sums in Linux: an addr
    // in the last page wraps, and vma_to_resize then finds no VMA there.)
    if addr.wrapping_add(old_len) > new_addr && new_addr + new_len > addr {
        return Err(Errno::EINVAL);
    }
    // mremap_to() is not supposed to be used for DONTUNMAP expansion.
    if flags & MREMAP_DONTUNMAP != 0 && mm.map_count + 2 >= sysctl_max_map_count() {
        return Err(Errno::ENOMEM);
    }
    if flags & MREMAP_FIXED != 0 {
        do_munmap(mm, pt, new_addr, new_len)?;
    }
    if old_len >= new_len {
        let r = do_munmap(mm, pt, addr.wrapping_add(new_len), old_len - new_len);
        if r.is_err() && old_len != new_len {
            return r.map(|_| 0);
        }
        old_len = new_len;
    }
    let (key, charged) = vma_to_resize(mm, pt, addr, old_len, new_len, flags)?;
    let (vm_flags, file, pgoff) = {
        let v = &mm.mm_rb[&key];
        (
            v.vm_flags,
            v.vm_file.clone(),
            v.vm_pgoff + ((addr - v.vm_start) >> PAGE_SHIFT),
        )
    };
    // MREMAP_DONTUNMAP expands by old_len since old_len == new_len.
    if flags & MREMAP_DONTUNMAP != 0 && !may_expand_vm(mm, vm_flags, old_len >> PAGE_SHIFT) {
        pt.vm_unacct_memory(charged);
        return Err(Errno::ENOMEM);
    }
    let mut map_flags = 0;
    if flags & MREMAP_FIXED != 0 {
        map_flags |= MAP_FIXED;
    }
    if vm_flags.contains(VmFlags::VM_MAYSHARE) {
        map_flags |= MAP_SHARED;
    }
    let target = match get_unmapped_area(mm, file.as_ref(), new_addr, new_len, pgoff, map_flags) {
        Ok(a) => a,
        Err(e) => {
            pt.vm_unacct_memory(charged);
            return Err(e);
        }
    };
    let new_addr = if flags & MREMAP_FIXED != 0 {
        new_addr
    } else {
        target
    };
    let r = move_vma(
        mm, pt, key, addr, old_len, new_len, new_addr, flags, populate,
    );
    if r.is_err() {
        pt.vm_unacct_memory(charged);
    }
    r
}

/// The body of mremap(2) with `mmap_lock` held for write (Linux: `SYSCALL_DEFINE5(mremap)`
/// between lock and unlock; `do_mremap` in older kernels). Errors in Linux's order:
/// EINVAL for unknown flags, FIXED or DONTUNMAP without MAYMOVE, DONTUNMAP with a size
/// change, an unaligned `addr`, or `new_len` 0; then `mremap_to`'s; a shrink always
/// works (the tail is unmapped: its pages are left in `detached` for the caller to zap
/// after downgrading); a growth where the VMA can grow in place happens there, else, with
/// MREMAP_MAYMOVE, the mapping moves (`move_vma`); ENOMEM otherwise. A locked mapping that
/// grew is left in `populate`.
#[allow(clippy::too_many_arguments)]
pub fn do_mremap(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: usize,
    new_addr: usize,
    detached: &mut Option<crate::mm::mmap::DetachedVmas>,
    populate: &mut Option<(usize, usize)>,
) -> KResult<usize> {
    if flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::EINVAL);
    }
    // MREMAP_DONTUNMAP is always a move and it does not allow resizing in the process.
    if flags & MREMAP_DONTUNMAP != 0 && (flags & MREMAP_MAYMOVE == 0 || old_len != new_len) {
        return Err(Errno::EINVAL);
    }
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let old_len = page_align(old_len);
    let new_len = page_align(new_len);
    // A zero old_len is allowed (the "duplicate shm area" special case); a zero new_len
    // is nonsensical.
    if new_len == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        return mremap_to(mm, pt, addr, old_len, new_addr, new_len, flags, populate);
    }
    // Always allow a shrinking remap: that just unmaps the unnecessary pages. (addr is not
    // checked against TASK_SIZE first: in the last page the sum wraps, as in Linux, and the
    // unmap at the wrapped address does what munmap would.)
    if old_len >= new_len {
        match munmap_detach_vmas(mm, addr.wrapping_add(new_len), old_len - new_len) {
            Ok(d) => *detached = d,
            Err(e) if old_len != new_len => return Err(e),
            Err(_) => {}
        }
        return Ok(addr);
    }
    // Ok, we need to grow.
    let (key, charged) = vma_to_resize(mm, pt, addr, old_len, new_len, flags)?;
    let vm_end = mm.mm_rb[&key].vm_end;
    // old_len exactly to the end of the area: can we just expand the mapping?
    if old_len == vm_end - addr && vma_expandable(mm, key, new_len - old_len) {
        let pages = (new_len - old_len) >> PAGE_SHIFT;
        let v = mm.mm_rb.get_mut(&key).expect("vma_to_resize found it");
        v.vm_end = addr + new_len;
        let vm_flags = v.vm_flags;
        // The end moved: the next VMA's gap or highest_vm_end (Linux: vma_adjust).
        crate::mm::vma::vma_adjust_gaps(mm, key);
        vm_stat_account(mm, vm_flags, pages as isize);
        if vm_flags.contains(VmFlags::VM_LOCKED) {
            mm.locked_vm += pages;
            *populate = Some((addr + old_len, new_len - old_len));
        }
        return Ok(addr);
    }
    // We weren't able to just expand or shrink the area: create a new one and move.
    if flags & MREMAP_MAYMOVE == 0 {
        pt.vm_unacct_memory(charged);
        return Err(Errno::ENOMEM);
    }
    let (file, pgoff, shared) = {
        let v = &mm.mm_rb[&key];
        (
            v.vm_file.clone(),
            v.vm_pgoff + ((addr - v.vm_start) >> PAGE_SHIFT),
            v.vm_flags.contains(VmFlags::VM_MAYSHARE),
        )
    };
    let map_flags = if shared { MAP_SHARED } else { 0 };
    let target = match get_unmapped_area(mm, file.as_ref(), 0, new_len, pgoff, map_flags) {
        Ok(a) => a,
        Err(e) => {
            pt.vm_unacct_memory(charged);
            return Err(e);
        }
    };
    let r = move_vma(mm, pt, key, addr, old_len, new_len, target, flags, populate);
    if r.is_err() {
        pt.vm_unacct_memory(charged);
    }
    r
}

/// mremap(2) (Linux: `SYSCALL_DEFINE5(mremap)`): `mremap_locked` under `mmap_lock` for
/// write; a shrink downgrades to read while the tail's pages are zapped; a grown locked
/// mapping is populated after the unlock.
#[no_mangle]
#[inline(never)]
pub fn sys_mremap(
    mm: &MmStruct,
    addr: usize,
    old_len: usize,
    new_len: usize,
    flags: usize,
    new_addr: usize,
) -> KResult<usize> {
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let (mut detached, mut populate) = (None, None);
    let r = do_mremap(
        &mut guard,
        &mut pt,
        addr,
        old_len,
        new_len,
        flags,
        new_addr,
        &mut detached,
        &mut populate,
    );
    match detached {
        Some(d) => {
            let guard = mmap_write_downgrade(guard);
            d.unmap(&guard, &mut pt);
            mmap_read_unlock(guard);
        }
        None => mmap_write_unlock(guard),
    }
    if let (Ok(_), Some((start, len))) = (&r, populate) {
        if len != 0 {
            mm_populate(mm, start, len);
        }
    }
    r
}

#[cfg(test)]
#[path = "mremap_tests.rs"]
mod tests;

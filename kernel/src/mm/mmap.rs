//! mmap, munmap and brk: building and tearing down VMAs, choosing addresses.
//!
//! Linux: `mm/mmap.c` (`ksys_mmap_pgoff`, `do_mmap`, `mmap_region`, `get_unmapped_area`,
//! `vm_unmapped_area`, `__do_munmap`, `sys_brk`, `do_brk_flags`, `insert_vm_struct`),
//! `mm/util.c` (`vm_mmap_pgoff`, `vm_mmap`), `arch/arm64/kernel/sys.c` (`sys_mmap`),
//! `include/uapi/asm-generic/mman*.h` (PROT_*, MAP_*), `include/linux/mman.h`
//! (`calc_vm_prot_bits`, `calc_vm_flag_bits`). Callers: the system-call table (sys_mmap,
//! vm_munmap, sys_brk), exec (vm_mmap, vm_brk_flags, insert_vm_struct).
//! Locking: the caller holds the mm lock (Linux `mmap_lock`) for write across each call;
//! nothing here sleeps or drops it (no lock downgrade in munmap, no userfaultfd).
//!
//! The call chain, as in Linux:
//! ```text
//! sys_mmap -> ksys_mmap_pgoff -> vm_mmap_pgoff -> do_mmap -> get_unmapped_area
//!                                     |                  \-> mmap_region -> may_expand_vm,
//!                                     |                      munmap_vma_range, vma_merge,
//!                                     |                      vma_link, vma_set_page_prot
//!                                     \-> mm_populate (MAP_POPULATE / MAP_LOCKED)
//! vm_munmap -> __do_munmap -> __split_vma, unmap_region (unmap_vmas, free_pgtables),
//!                             remove_vma_list
//! sys_brk -> __do_munmap (shrink) | do_brk_flags -> vma_merge / vma_link (grow)
//! ```
use super::gup::mm_populate;
use super::mm_types::{
    MmStruct, MmapLayout, MmapLocked, MMAP_MIN_ADDR, STACK_GUARD_GAP, TASK_UNMAPPED_BASE,
};
use super::vma::{
    __split_vma, find_vma, find_vma_intersection, find_vma_links, find_vma_prev, vm_end_gap,
    vm_start_gap, vma_link, vma_merge, vma_next, vma_prev, vma_unlink, AnonVma, MappedFile, VmArea,
    VmFlags, VmaPageTables,
};
use super::{PAGE_SHIFT, PAGE_SIZE};
use crate::arch::aarch64::pgtable::PgProt;
use crate::errno::{Errno, KResult};
use crate::kernel::resource::{RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_STACK};
use crate::mm::mmap_lock::{
    mmap_read_unlock, mmap_write_downgrade, mmap_write_lock_killable, mmap_write_unlock,
};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Page can not be accessed.
pub const PROT_NONE: usize = 0x0;
/// Page can be read.
pub const PROT_READ: usize = 0x1;
/// Page can be written.
pub const PROT_WRITE: usize = 0x2;
/// Page can be executed.
pub const PROT_EXEC: usize = 0x4;
/// Page may be used for atomic ops (accepted and ignored).
pub const PROT_SEM: usize = 0x8;
/// arm64: BTI-guarded page. Cortex-A72 has no BTI, so mprotect refuses it (EINVAL) and
/// mmap ignores it, as Linux does without `system_supports_bti()`.
pub const PROT_BTI: usize = 0x10;
/// arm64: MTE-tagged page (no MTE here: refused like PROT_BTI).
pub const PROT_MTE: usize = 0x20;
/// mprotect: extend the change down to the start of a growsdown VMA.
pub const PROT_GROWSDOWN: usize = 0x0100_0000;
/// mprotect: extend the change up to the end of a growsup VMA (none on arm64).
pub const PROT_GROWSUP: usize = 0x0200_0000;

/// Share changes.
pub const MAP_SHARED: usize = 0x01;
/// Changes are private (copy-on-write).
pub const MAP_PRIVATE: usize = 0x02;
/// MAP_SHARED, and fail with EOPNOTSUPP on flags the file does not know.
pub const MAP_SHARED_VALIDATE: usize = 0x03;
/// Mask for the mapping type.
pub const MAP_TYPE: usize = 0x0f;
/// Interpret addr exactly, replacing what is there.
pub const MAP_FIXED: usize = 0x10;
/// Not backed by a file; fd is ignored.
pub const MAP_ANONYMOUS: usize = 0x20;
/// A stack-like segment (VM_GROWSDOWN).
pub const MAP_GROWSDOWN: usize = 0x0100;
/// ETXTBSY (ignored from user space).
pub const MAP_DENYWRITE: usize = 0x0800;
/// Mark it as an executable (ignored from user space).
pub const MAP_EXECUTABLE: usize = 0x1000;
/// Pages are locked (VM_LOCKED) and populated.
pub const MAP_LOCKED: usize = 0x2000;
/// Don't charge the overcommit accounting.
pub const MAP_NORESERVE: usize = 0x4000;
/// Populate (prefault) the page tables.
pub const MAP_POPULATE: usize = 0x8000;
/// With MAP_POPULATE: do not block on I/O (Linux then does not populate at all).
pub const MAP_NONBLOCK: usize = 0x10000;
/// Address is suitable for a thread stack (no effect).
pub const MAP_STACK: usize = 0x20000;
/// Create a huge-page mapping (no hugetlbfs here: EINVAL).
pub const MAP_HUGETLB: usize = 0x40000;
/// Synchronous page faults for DAX files (needs MAP_SHARED_VALIDATE).
pub const MAP_SYNC: usize = 0x80000;
/// MAP_FIXED that fails with EEXIST instead of replacing.
pub const MAP_FIXED_NOREPLACE: usize = 0x100000;
/// Anonymous pages need not be cleared (only with CONFIG_MMAP_ALLOW_UNINITIALIZED).
pub const MAP_UNINITIALIZED: usize = 0x4000000;
/// Flags MAP_SHARED silently accepts and MAP_SHARED_VALIDATE accepts without the file's
/// say-so (Linux: `LEGACY_MAP_MASK`). MAP_FIXED_NOREPLACE and MAP_SYNC are not in it.
pub const LEGACY_MAP_MASK: usize = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB;

/// Default VMA limit per mm: USHRT_MAX - 5 (Linux: `DEFAULT_MAX_MAP_COUNT`).
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;
static MAX_MAP_COUNT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_MAP_COUNT);

/// The VMA limit (Linux: sysctl `vm.max_map_count`).
pub fn sysctl_max_map_count() -> usize {
    MAX_MAP_COUNT.load(Ordering::Relaxed)
}

/// Heuristic overcommit, the default (Linux: `OVERCOMMIT_GUESS`).
pub const OVERCOMMIT_GUESS: usize = 0;
/// Never refuse (Linux: `OVERCOMMIT_ALWAYS`).
pub const OVERCOMMIT_ALWAYS: usize = 1;
/// Strict accounting; MAP_NORESERVE is then ignored (Linux: `OVERCOMMIT_NEVER`).
pub const OVERCOMMIT_NEVER: usize = 2;
static OVERCOMMIT_MEMORY: AtomicUsize = AtomicUsize::new(OVERCOMMIT_GUESS);

/// The overcommit policy (Linux: sysctl `vm.overcommit_memory`). The accounting itself
/// is `VmaPageTables::security_vm_enough_memory_mm`.
pub fn sysctl_overcommit_memory() -> usize {
    OVERCOMMIT_MEMORY.load(Ordering::Relaxed)
}

/// Round up to a page boundary, wrapping to 0 near the top like Linux's `PAGE_ALIGN`.
#[inline]
fn page_align(x: usize) -> usize {
    x.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Offset of `addr` inside its page (Linux: `offset_in_page`).
#[inline]
fn offset_in_page(addr: usize) -> usize {
    addr & (PAGE_SIZE - 1)
}

/// PROT_* to VM_READ/VM_WRITE/VM_EXEC (Linux: `calc_vm_prot_bits`; arm64's
/// `arch_calc_vm_prot_bits` adds nothing without BTI/MTE hardware; no pkeys on arm64).
pub fn calc_vm_prot_bits(prot: usize, _pkey: i32) -> VmFlags {
    let mut f = VmFlags::empty();
    if prot & PROT_READ != 0 {
        f |= VmFlags::VM_READ;
    }
    if prot & PROT_WRITE != 0 {
        f |= VmFlags::VM_WRITE;
    }
    if prot & PROT_EXEC != 0 {
        f |= VmFlags::VM_EXEC;
    }
    f
}

/// MAP_* to VM_* (Linux: `calc_vm_flag_bits`: GROWSDOWN, DENYWRITE, LOCKED, SYNC; no MTE).
pub fn calc_vm_flag_bits(flags: usize) -> VmFlags {
    let mut f = VmFlags::empty();
    if flags & MAP_GROWSDOWN != 0 {
        f |= VmFlags::VM_GROWSDOWN;
    }
    if flags & MAP_DENYWRITE != 0 {
        f |= VmFlags::VM_DENYWRITE;
    }
    if flags & MAP_LOCKED != 0 {
        f |= VmFlags::VM_LOCKED;
    }
    if flags & MAP_SYNC != 0 {
        f |= VmFlags::VM_SYNC;
    }
    f
}

/// Page protection for `vm_flags` through arm64's `protection_map` (Linux:
/// `vm_get_page_prot`; the table is `arch::aarch64::pgtable::vm_get_page_prot`).
pub fn vm_get_page_prot(vm_flags: VmFlags) -> PgProt {
    crate::arch::aarch64::pgtable::vm_get_page_prot(
        vm_flags.contains(VmFlags::VM_READ),
        vm_flags.contains(VmFlags::VM_WRITE),
        vm_flags.contains(VmFlags::VM_EXEC),
        vm_flags.contains(VmFlags::VM_SHARED),
    )
}

/// Should a shared writable VMA start with read-only PTEs so the first write to each
/// page faults (Linux: `vma_wants_writenotify`)? Only when the file asks for it
/// (`page_mkwrite` or dirty accounting); arm64 5.10 has no soft-dirty, VM_PFNMAP never.
pub fn vma_wants_writenotify(vma: &VmArea) -> bool {
    let flags = vma.vm_flags;
    if !flags.contains(VmFlags::VM_WRITE | VmFlags::VM_SHARED) {
        return false;
    }
    if flags.contains(VmFlags::VM_PFNMAP) {
        return false;
    }
    vma.vm_file.as_ref().is_some_and(|f| f.wants_writenotify())
}

/// Set `vm_page_prot` from `vm_flags`, dropping write permission from the PTEs when the
/// VMA wants write notification (Linux: `vma_set_page_prot`; `vm_pgprot_modify`'s
/// memory-type preservation does not matter without device mappings).
pub fn vma_set_page_prot(vma: &mut VmArea) {
    let mut flags = vma.vm_flags;
    if vma_wants_writenotify(vma) {
        flags.remove(VmFlags::VM_SHARED);
    }
    vma.vm_page_prot = vm_get_page_prot(flags);
}

/// Private writable, not stack (Linux: `is_data_mapping`): counted in `data_vm`,
/// limited by RLIMIT_DATA.
pub fn is_data_mapping(flags: VmFlags) -> bool {
    flags & (VmFlags::VM_WRITE | VmFlags::VM_SHARED | VmFlags::VM_STACK) == VmFlags::VM_WRITE
}

/// Executable, not writable, not stack (Linux: `is_exec_mapping`).
pub fn is_exec_mapping(flags: VmFlags) -> bool {
    flags & (VmFlags::VM_EXEC | VmFlags::VM_WRITE | VmFlags::VM_STACK) == VmFlags::VM_EXEC
}

/// A stack (Linux: `is_stack_mapping`).
pub fn is_stack_mapping(flags: VmFlags) -> bool {
    flags.contains(VmFlags::VM_STACK)
}

/// May the mm grow by `npages` pages of this kind? RLIMIT_AS for all, RLIMIT_DATA for
/// data mappings (Linux: `may_expand_vm`, with the Valgrind workaround for a zero soft
/// limit; `ignore_rlimit_data` is off).
#[no_mangle]
#[inline(never)]
pub fn may_expand_vm(mm: &MmapLocked, flags: VmFlags, npages: usize) -> bool {
    if mm.total_vm.saturating_add(npages) > mm.rlimit(RLIMIT_AS) >> PAGE_SHIFT {
        return false;
    }
    if is_data_mapping(flags)
        && mm.data_vm.saturating_add(npages) > mm.rlimit(RLIMIT_DATA) >> PAGE_SHIFT
    {
        // Workaround for Valgrind.
        if mm.rlimit(RLIMIT_DATA) == 0
            && mm.data_vm.saturating_add(npages) <= mm.rlimit_max(RLIMIT_DATA) >> PAGE_SHIFT
        {
            return true;
        }
        return false;
    }
    true
}

/// Add (or with a negative count remove) `npages` to `total_vm` and the counter of the
/// mapping's kind (Linux: `vm_stat_account`).
pub fn vm_stat_account(mm: &mut MmapLocked, flags: VmFlags, npages: isize) {
    mm.total_vm = mm.total_vm.wrapping_add_signed(npages);
    if is_exec_mapping(flags) {
        mm.exec_vm = mm.exec_vm.wrapping_add_signed(npages);
    } else if is_stack_mapping(flags) {
        mm.stack_vm = mm.stack_vm.wrapping_add_signed(npages);
    } else if is_data_mapping(flags) {
        mm.data_vm = mm.data_vm.wrapping_add_signed(npages);
    }
}

/// May this task mlock at all (Linux: `can_do_mlock`: a non-zero RLIMIT_MEMLOCK or
/// CAP_IPC_LOCK)?
pub fn can_do_mlock(mm: &MmapLocked) -> bool {
    mm.rlimit(RLIMIT_MEMLOCK) != 0 || mm.cap_ipc_lock
}

/// EAGAIN if a VM_LOCKED mapping of `len` bytes would take `locked_vm` over
/// RLIMIT_MEMLOCK without CAP_IPC_LOCK (Linux: `mlock_future_check`).
pub fn mlock_future_check(mm: &MmapLocked, flags: VmFlags, len: usize) -> KResult<()> {
    if flags.contains(VmFlags::VM_LOCKED) {
        let locked = (len >> PAGE_SHIFT) + mm.locked_vm;
        let lock_limit = mm.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
        if locked > lock_limit && !mm.cap_ipc_lock {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(())
}

/// Pages of existing VMAs inside `[addr, end)`: what MAP_FIXED would unmap (Linux:
/// `count_vma_pages_range`).
pub fn count_vma_pages_range(mm: &MmapLocked, addr: usize, end: usize) -> usize {
    let Some(first) = find_vma_intersection(mm, addr, end) else {
        return 0;
    };
    let mut nr_pages = (end.min(first.vm_end) - addr.max(first.vm_start)) >> PAGE_SHIFT;
    for v in mm.mm_rb.range(first.vm_start + 1..).map(|(_, v)| v) {
        if v.vm_start > end {
            break;
        }
        nr_pages += (end.min(v.vm_end) - v.vm_start) >> PAGE_SHIFT;
    }
    nr_pages
}

/// Does this mapping need an overcommit charge (Linux: `accountable_mapping`): private
/// writable without MAP_NORESERVE.
fn accountable_mapping(vm_flags: VmFlags) -> bool {
    vm_flags & (VmFlags::VM_NORESERVE | VmFlags::VM_SHARED | VmFlags::VM_WRITE) == VmFlags::VM_WRITE
}

/// A hint below `mmap_min_addr` is raised to it; a zero hint stays "no hint" (Linux:
/// `round_hint_to_min`).
fn round_hint_to_min(hint: usize) -> usize {
    let hint = hint & !(PAGE_SIZE - 1);
    if hint != 0 && hint < MMAP_MIN_ADDR {
        return page_align(MMAP_MIN_ADDR);
    }
    hint
}

/// Can `[pgoff, pgoff + len)` of this file be mapped without overflowing its largest
/// offset (Linux: `file_mmap_ok`)?
fn file_mmap_ok(file: &dyn MappedFile, pgoff: usize, len: usize) -> bool {
    let maxsize = file.mmap_size_max();
    let len = len as u64;
    if maxsize != 0 && len > maxsize {
        return false;
    }
    let maxsize = maxsize.wrapping_sub(len);
    (pgoff as u64) <= maxsize >> PAGE_SHIFT
}

/// Search top-down (Linux: `VM_UNMAPPED_AREA_TOPDOWN`).
pub const VM_UNMAPPED_AREA_TOPDOWN: usize = 1;

/// What `vm_unmapped_area` looks for (Linux: `struct vm_unmapped_area_info`).
#[derive(Clone, Copy, Debug)]
pub struct VmUnmappedAreaInfo {
    /// 0 or VM_UNMAPPED_AREA_TOPDOWN.
    pub flags: usize,
    /// Bytes wanted.
    pub length: usize,
    /// Lowest acceptable start.
    pub low_limit: usize,
    /// Highest acceptable end.
    pub high_limit: usize,
    /// Alignment mask for the start (0: page alignment).
    pub align_mask: usize,
    /// The start must equal `align_offset` modulo `align_mask + 1`.
    pub align_offset: usize,
}

/// End of the highest VMA including its gap, 0 for an empty mm (Linux: `highest_vm_end`).
fn highest_vm_end(mm: &MmapLocked) -> usize {
    mm.mm_rb.values().next_back().map_or(0, vm_end_gap)
}

/// Lowest gap that fits (Linux: `unmapped_area`). The gaps count the stack guard gap
/// (`vm_start_gap`). Difference: a linear walk instead of the rb_subtree_gap tree.
fn unmapped_area(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    // Adjust search length to account for worst case alignment overhead.
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    if info.high_limit < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = info.high_limit - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;

    let mut found = None;
    let mut gap_start = 0;
    for v in mm.mm_rb.values() {
        let gap_end = vm_start_gap(v);
        if gap_start > high_limit {
            return Err(Errno::ENOMEM);
        }
        if gap_end >= low_limit && gap_end > gap_start && gap_end - gap_start >= length {
            found = Some(gap_start);
            break;
        }
        gap_start = vm_end_gap(v);
    }
    let mut gap_start = match found {
        Some(g) => g,
        None => {
            // Check the highest gap, which does not precede any VMA.
            let g = highest_vm_end(mm);
            if g > high_limit {
                return Err(Errno::ENOMEM);
            }
            g
        }
    };
    // Clip with the original low_limit, then align.
    if gap_start < info.low_limit {
        gap_start = info.low_limit;
    }
    gap_start += info.align_offset.wrapping_sub(gap_start) & info.align_mask;
    Ok(gap_start)
}

/// Highest gap that fits (Linux: `unmapped_area_topdown`).
fn unmapped_area_topdown(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    let mut gap_end = info.high_limit;
    if gap_end < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = gap_end - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;

    // Check the highest gap, which does not precede any VMA.
    if highest_vm_end(mm) > high_limit {
        let mut found = None;
        let mut it = mm.mm_rb.values().rev().peekable();
        while let Some(v) = it.next() {
            let end = vm_start_gap(v);
            if end < low_limit {
                return Err(Errno::ENOMEM);
            }
            let start = it.peek().map_or(0, |p| vm_end_gap(p));
            if start <= high_limit && end > start && end - start >= length {
                found = Some(end);
                break;
            }
        }
        // Clip the gap with the original high_limit.
        gap_end = found.ok_or(Errno::ENOMEM)?.min(info.high_limit);
    }
    // Compute the highest gap address at the desired alignment.
    gap_end -= info.length;
    gap_end -= gap_end.wrapping_sub(info.align_offset) & info.align_mask;
    Ok(gap_end)
}

/// Find a free range as `info` says (Linux: `vm_unmapped_area`).
pub fn vm_unmapped_area(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    if info.flags & VM_UNMAPPED_AREA_TOPDOWN != 0 {
        unmapped_area_topdown(mm, info)
    } else {
        unmapped_area(mm, info)
    }
}

/// Is a hint `[addr, addr + len)` usable as it is: inside `[mmap_min_addr, mmap_end)` and
/// clear of other VMAs and their stack guard gaps?
fn hint_is_free(mm: &MmapLocked, addr: usize, len: usize, mmap_end: usize) -> bool {
    let (vma, prev) = find_vma_prev(mm, addr);
    mmap_end - len >= addr
        && addr >= MMAP_MIN_ADDR
        && vma.is_none_or(|v| addr + len <= vm_start_gap(v))
        && prev.is_none_or(|p| addr >= vm_end_gap(p))
}

/// Bottom-up search from `mmap_base` (Linux: `arch_get_unmapped_area`, the generic one
/// arm64 uses). MAP_FIXED returns `addr` unchecked; a free hint is honoured.
pub fn arch_get_unmapped_area(
    mm: &MmapLocked,
    addr: usize,
    len: usize,
    _pgoff: usize,
    flags: usize,
) -> KResult<usize> {
    let mmap_end = mm.task_size; // arch_get_mmap_end: no 52-bit VA
    if len > mmap_end - MMAP_MIN_ADDR {
        return Err(Errno::ENOMEM);
    }
    if flags & MAP_FIXED != 0 {
        return Ok(addr);
    }
    if addr != 0 {
        let addr = page_align(addr);
        if hint_is_free(mm, addr, len, mmap_end) {
            return Ok(addr);
        }
    }
    let info = VmUnmappedAreaInfo {
        flags: 0,
        length: len,
        low_limit: mm.mmap_base,
        high_limit: mmap_end,
        align_mask: 0,
        align_offset: 0,
    };
    vm_unmapped_area(mm, &info)
}

/// Top-down search below `mmap_base`, falling back to bottom-up from TASK_UNMAPPED_BASE
/// when nothing fits (Linux: `arch_get_unmapped_area_topdown`). MAP_FIXED returns `addr`
/// unchecked; a free hint is honoured.
pub fn arch_get_unmapped_area_topdown(
    mm: &MmapLocked,
    addr: usize,
    len: usize,
    _pgoff: usize,
    flags: usize,
) -> KResult<usize> {
    let mmap_end = mm.task_size;
    // Requested length too big for the entire address space.
    if len > mmap_end - MMAP_MIN_ADDR {
        return Err(Errno::ENOMEM);
    }
    if flags & MAP_FIXED != 0 {
        return Ok(addr);
    }
    // Requesting a specific address.
    if addr != 0 {
        let addr = page_align(addr);
        if hint_is_free(mm, addr, len, mmap_end) {
            return Ok(addr);
        }
    }
    let mut info = VmUnmappedAreaInfo {
        flags: VM_UNMAPPED_AREA_TOPDOWN,
        length: len,
        low_limit: PAGE_SIZE.max(MMAP_MIN_ADDR),
        high_limit: mm.mmap_base,
        align_mask: 0,
        align_offset: 0,
    };
    match vm_unmapped_area(mm, &info) {
        Ok(a) => Ok(a),
        Err(_) => {
            // A failed mmap() very likely causes application failure, so fall back to
            // the bottom-up search (large stack limits and large allocations).
            info.flags = 0;
            info.low_limit = TASK_UNMAPPED_BASE;
            info.high_limit = mmap_end;
            vm_unmapped_area(mm, &info)
        }
    }
}

/// Choose (or, for MAP_FIXED, check) the address of a new mapping of `len` bytes (Linux:
/// `get_unmapped_area`). Errors in Linux's order: ENOMEM if `len` > TASK_SIZE or the
/// layout's search fails, ENOMEM if the result ends above TASK_SIZE, EINVAL if it is not
/// page aligned (only possible with MAP_FIXED), EPERM below `mmap_min_addr` without
/// CAP_SYS_RAWIO (`security_mmap_addr`). Difference: no per-file or shmem
/// `get_unmapped_area` (no THP alignment).
#[no_mangle]
#[inline(never)]
pub fn get_unmapped_area(
    mm: &MmapLocked,
    _file: Option<&Arc<dyn MappedFile>>,
    addr: usize,
    len: usize,
    pgoff: usize,
    flags: usize,
) -> KResult<usize> {
    // Careful about overflows.
    if len > mm.task_size {
        return Err(Errno::ENOMEM);
    }
    let addr = match mm.mmap_layout {
        MmapLayout::TopDown => arch_get_unmapped_area_topdown(mm, addr, len, pgoff, flags)?,
        MmapLayout::Legacy => arch_get_unmapped_area(mm, addr, len, pgoff, flags)?,
    };
    if addr > mm.task_size - len {
        return Err(Errno::ENOMEM);
    }
    if offset_in_page(addr) != 0 {
        return Err(Errno::EINVAL);
    }
    // security_mmap_addr -> cap_mmap_addr.
    if addr < MMAP_MIN_ADDR && !mm.cap_sys_rawio {
        return Err(Errno::EPERM);
    }
    Ok(addr)
}

/// Map `len` bytes at (or near) `addr`: check the request, pick the address and the
/// VM_* flags, then `mmap_region` (Linux 5.10: `do_mmap`). Returns the address and sets
/// `*populate` to the length the caller should fault in (MAP_POPULATE, VM_LOCKED).
///
/// Checks in Linux's order: EINVAL `len == 0`; ENOMEM if `len` rounds up to 0; EOVERFLOW
/// if `pgoff + pages` wraps; ENOMEM if `map_count > max_map_count`; `get_unmapped_area`'s
/// errors; EEXIST for MAP_FIXED_NOREPLACE over a VMA; EPERM for MAP_LOCKED without any
/// mlock allowance; EAGAIN over RLIMIT_MEMLOCK; then for files EOVERFLOW (offset too
/// big), EOPNOTSUPP (unknown flags with MAP_SHARED_VALIDATE), EACCES (PROT_WRITE shared
/// on a read-only open; append-only file opened for writing; file not open for reading),
/// EPERM (PROT_EXEC on a noexec mount), ENODEV (no mmap method), EINVAL (MAP_GROWSDOWN,
/// bad map type); for anonymous memory EINVAL (MAP_SHARED|MAP_GROWSDOWN, bad map type,
/// which includes MAP_SHARED_VALIDATE in 5.10); then `mmap_region`'s errors.
///
/// Differences: no READ_IMPLIES_EXEC personality, no pkeys, no swapfile (ETXTBSY) or
/// hugetlbfs files, no LSM hooks.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub fn do_mmap(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    file: Option<Arc<dyn MappedFile>>,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    pgoff: usize,
    populate: &mut usize,
) -> KResult<usize> {
    let (mut addr, mut flags, mut pgoff) = (addr, flags, pgoff);
    *populate = 0;

    if len == 0 {
        return Err(Errno::EINVAL);
    }

    // Force arch specific MAP_FIXED handling in get_unmapped_area.
    if flags & MAP_FIXED_NOREPLACE != 0 {
        flags |= MAP_FIXED;
    }
    if flags & MAP_FIXED == 0 {
        addr = round_hint_to_min(addr);
    }

    // Careful about overflows..
    let len = page_align(len);
    if len == 0 {
        return Err(Errno::ENOMEM);
    }

    // Offset overflow?
    if pgoff.checked_add(len >> PAGE_SHIFT).is_none() {
        return Err(Errno::EOVERFLOW);
    }

    // Too many mappings?
    if mm.map_count > sysctl_max_map_count() {
        return Err(Errno::ENOMEM);
    }

    // Obtain the address to map to: verified (MAP_FIXED) or chosen.
    addr = get_unmapped_area(mm, file.as_ref(), addr, len, pgoff, flags)?;

    if flags & MAP_FIXED_NOREPLACE != 0 && find_vma_intersection(mm, addr, addr + len).is_some() {
        return Err(Errno::EEXIST);
    }

    let mut vm_flags = calc_vm_prot_bits(prot, 0)
        | calc_vm_flag_bits(flags)
        | mm.def_flags
        | VmFlags::VM_MAYREAD
        | VmFlags::VM_MAYWRITE
        | VmFlags::VM_MAYEXEC;

    if flags & MAP_LOCKED != 0 && !can_do_mlock(mm) {
        return Err(Errno::EPERM);
    }

    mlock_future_check(mm, vm_flags, len)?;

    if let Some(f) = &file {
        if !file_mmap_ok(f.as_ref(), pgoff, len) {
            return Err(Errno::EOVERFLOW);
        }
        let flags_mask = LEGACY_MAP_MASK | f.mmap_supported_flags();
        match flags & MAP_TYPE {
            MAP_SHARED | MAP_SHARED_VALIDATE => {
                if flags & MAP_TYPE == MAP_SHARED {
                    // Unsupported flags are silently dropped with plain MAP_SHARED.
                    flags &= LEGACY_MAP_MASK;
                }
                if flags & !flags_mask != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if prot & PROT_WRITE != 0 && !f.writable() {
                    return Err(Errno::EACCES);
                }
                // Make sure we don't allow writing to an append-only file.
                if f.append_only() && f.writable() {
                    return Err(Errno::EACCES);
                }
                vm_flags |= VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
                if !f.writable() {
                    vm_flags.remove(VmFlags::VM_MAYWRITE | VmFlags::VM_SHARED);
                }
            }
            MAP_PRIVATE => {}
            _ => return Err(Errno::EINVAL),
        }
        // MAP_PRIVATE, and MAP_SHARED falling through.
        if !f.readable() {
            return Err(Errno::EACCES);
        }
        if f.noexec() {
            if vm_flags.contains(VmFlags::VM_EXEC) {
                return Err(Errno::EPERM);
            }
            vm_flags.remove(VmFlags::VM_MAYEXEC);
        }
        if !f.mmap_supported() {
            return Err(Errno::ENODEV);
        }
        if vm_flags.intersects(VmFlags::VM_GROWSDOWN | VmFlags::VM_GROWSUP) {
            return Err(Errno::EINVAL);
        }
    } else {
        match flags & MAP_TYPE {
            MAP_SHARED => {
                if vm_flags.intersects(VmFlags::VM_GROWSDOWN | VmFlags::VM_GROWSUP) {
                    return Err(Errno::EINVAL);
                }
                // Ignore pgoff.
                pgoff = 0;
                vm_flags |= VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE;
            }
            MAP_PRIVATE => {
                // Set pgoff according to addr for anon_vma.
                pgoff = addr >> PAGE_SHIFT;
            }
            _ => return Err(Errno::EINVAL),
        }
    }

    // Set VM_NORESERVE if we should not account for the memory use of this mapping.
    if flags & MAP_NORESERVE != 0 && sysctl_overcommit_memory() != OVERCOMMIT_NEVER {
        vm_flags |= VmFlags::VM_NORESERVE;
    }

    let addr = mmap_region(mm, pt, file, addr, len, vm_flags, pgoff)?;
    if vm_flags.contains(VmFlags::VM_LOCKED)
        || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE
    {
        *populate = len;
    }
    Ok(addr)
}

/// Unmap whatever overlaps `[start, start + len)` and return the VMA that will precede a
/// new VMA there (Linux 5.10: `munmap_vma_range`). ENOMEM if the unmap fails.
fn munmap_vma_range(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
) -> KResult<Option<usize>> {
    loop {
        match find_vma_links(mm, start, start + len) {
            Ok(prev) => return Ok(prev),
            Err(_) => {
                if do_munmap(mm, pt, start, len).is_err() {
                    return Err(Errno::ENOMEM);
                }
            }
        }
    }
}

/// Create the VMA for `[addr, addr + len)` with `vm_flags`, replacing anything there
/// (Linux 5.10: `mmap_region`): RLIMIT_AS/RLIMIT_DATA (`may_expand_vm`, counting pages a
/// MAP_FIXED would unmap), unmap the old range, charge private writable memory
/// (VM_ACCOUNT), try `vma_merge`, else a new VMA (the file's mmap method may refuse or
/// add flags, then merging is retried), link it, and account it.
///
/// Errors: ENOMEM (limits, unmap failure, overcommit), the file's mmap error.
/// Differences: no i_mmap_writable / deny_write_access bookkeeping, no uprobes or perf,
/// shared anonymous memory gets a file only if `pt.shmem_zero_setup` provides one; on a
/// file mmap failure the overcommit charge is given back (Linux 5.10 skips that).
#[no_mangle]
#[inline(never)]
pub fn mmap_region(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    file: Option<Arc<dyn MappedFile>>,
    addr: usize,
    len: usize,
    vm_flags: VmFlags,
    pgoff: usize,
) -> KResult<usize> {
    let mut vm_flags = vm_flags;
    let npages = len >> PAGE_SHIFT;

    // Check against address space limit.
    if !may_expand_vm(mm, vm_flags, npages) {
        // MAP_FIXED may remove pages of mappings that intersect the request.
        let nr_pages = count_vma_pages_range(mm, addr, addr + len);
        if !may_expand_vm(mm, vm_flags, npages - nr_pages) {
            return Err(Errno::ENOMEM);
        }
    }

    // Clear old maps, set up prev.
    let prev = munmap_vma_range(mm, pt, addr, len)?;

    // Private writable mapping: check memory availability.
    let mut charged = 0;
    if accountable_mapping(vm_flags) {
        charged = npages;
        if pt.security_vm_enough_memory_mm(charged).is_err() {
            return Err(Errno::ENOMEM);
        }
        vm_flags |= VmFlags::VM_ACCOUNT;
    }

    // Can we just expand an old mapping?
    if let Some(key) = vma_merge(
        mm,
        prev,
        addr,
        addr + len,
        vm_flags,
        None,
        file.as_ref(),
        pgoff,
    ) {
        mmap_region_out(mm, key, vm_flags, npages);
        return Ok(addr);
    }

    let mut vma = VmArea::new(addr, addr + len, vm_flags);
    vma.vm_pgoff = pgoff;

    if let Some(f) = &file {
        vma.vm_file = Some(f.clone());
        if let Err(e) = f.mmap(&mut vma) {
            // unmap_and_free_vma: undo any partial mapping done by the file.
            unmap_region(
                mm,
                pt,
                core::slice::from_ref(&vma),
                prev,
                vma.vm_start,
                vma.vm_end,
            );
            if charged != 0 {
                pt.vm_unacct_memory(charged);
            }
            return Err(e);
        }
        // If vm_flags changed in the file's mmap, try to merge again.
        if vm_flags != vma.vm_flags && prev.is_some() {
            let merged = vma_merge(
                mm,
                prev,
                vma.vm_start,
                vma.vm_end,
                vma.vm_flags,
                None,
                vma.vm_file.as_ref(),
                vma.vm_pgoff,
            );
            if let Some(key) = merged {
                vm_flags = mm.mm_rb[&key].vm_flags;
                mmap_region_out(mm, key, vm_flags, npages);
                return Ok(addr);
            }
        }
        vm_flags = vma.vm_flags;
    } else if vm_flags.contains(VmFlags::VM_SHARED) {
        if let Err(e) = pt.shmem_zero_setup(&mut vma) {
            if charged != 0 {
                pt.vm_unacct_memory(charged);
            }
            return Err(e);
        }
    }

    let key = vma.vm_start;
    vma_link(mm, vma);
    mmap_region_out(mm, key, vm_flags, npages);
    Ok(addr)
}

/// The `out:` tail of mmap_region: statistics, locked_vm, VM_SOFTDIRTY, page prot.
fn mmap_region_out(mm: &mut MmapLocked, key: usize, vm_flags: VmFlags, npages: usize) {
    vm_stat_account(mm, vm_flags, npages as isize);
    let special = vm_flags.intersects(VmFlags::VM_SPECIAL);
    if vm_flags.contains(VmFlags::VM_LOCKED) && !special {
        mm.locked_vm += npages;
    }
    let vma = mm.mm_rb.get_mut(&key).expect("mmap_region: vma vanished");
    if vm_flags.contains(VmFlags::VM_LOCKED) && special {
        vma.vm_flags.remove(VmFlags::VM_LOCKED_MASK);
    }
    // New (or expanded) vma always get soft dirty status.
    vma.vm_flags |= VmFlags::VM_SOFTDIRTY;
    vma_set_page_prot(vma);
}

/// `do_mmap` under `mmap_lock` taken for write, then population after the lock is gone
/// (Linux: `vm_mmap_pgoff`; the LSM `security_mmap_file` hook does nothing here).
/// EINTR if a fatal signal arrives while waiting for the lock.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub fn vm_mmap_pgoff(
    mm: &MmStruct,
    file: Option<Arc<dyn MappedFile>>,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    pgoff: usize,
) -> KResult<usize> {
    let mut populate = 0;
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let ret = do_mmap(
        &mut guard,
        &mut pt,
        file,
        addr,
        len,
        prot,
        flags,
        pgoff,
        &mut populate,
    );
    mmap_write_unlock(guard);
    let ret = ret?;
    if populate != 0 {
        mm_populate(mm, ret, populate);
    }
    Ok(ret)
}

/// In-kernel mmap with a byte offset, for exec's ELF segments (Linux: `vm_mmap`):
/// EINVAL if the offset is not page aligned or `offset + len` wraps. Takes `mmap_lock`.
#[allow(clippy::too_many_arguments)]
pub fn vm_mmap(
    mm: &MmStruct,
    file: Option<Arc<dyn MappedFile>>,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    offset: usize,
) -> KResult<usize> {
    if offset.wrapping_add(page_align(len)) < offset || offset_in_page(offset) != 0 {
        return Err(Errno::EINVAL);
    }
    vm_mmap_pgoff(mm, file, addr, len, prot, flags, offset >> PAGE_SHIFT)
}

/// The mmap system call below the fd lookup (Linux: `ksys_mmap_pgoff`).
///
/// `file` is the caller's lookup of `fd`: look it up only when `flags` lacks
/// MAP_ANONYMOUS (Linux ignores fd then) and pass None when the fd is bad; this function
/// then returns EBADF at the point Linux does, so the order stays Linux's: EINVAL for an
/// unaligned byte offset (`sys_mmap`, before the fd), EBADF, EINVAL for MAP_HUGETLB
/// (no hugetlbfs here, anonymous or not), then `do_mmap`'s checks.
/// MAP_EXECUTABLE and MAP_DENYWRITE are dropped as Linux drops them for user space.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub fn ksys_mmap_pgoff(
    mm: &MmStruct,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    file: Option<Arc<dyn MappedFile>>,
    pgoff: usize,
) -> KResult<usize> {
    let file = if flags & MAP_ANONYMOUS == 0 {
        let Some(f) = file else {
            return Err(Errno::EBADF);
        };
        // is_file_hugepages(): never; so MAP_HUGETLB on a file is EINVAL.
        if flags & MAP_HUGETLB != 0 {
            return Err(Errno::EINVAL);
        }
        Some(f)
    } else {
        // hstate_sizelog() finds no huge page size without hugetlbfs.
        if flags & MAP_HUGETLB != 0 {
            return Err(Errno::EINVAL);
        }
        None
    };
    let flags = flags & !(MAP_EXECUTABLE | MAP_DENYWRITE);
    vm_mmap_pgoff(mm, file, addr, len, prot, flags, pgoff)
}

/// arm64's mmap system call: byte offset, EINVAL unless page aligned, then
/// `ksys_mmap_pgoff` (Linux: `arch/arm64/kernel/sys.c` `sys_mmap`). See
/// `ksys_mmap_pgoff` for how to pass the file.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub fn sys_mmap(
    mm: &MmStruct,
    addr: usize,
    len: usize,
    prot: usize,
    flags: usize,
    file: Option<Arc<dyn MappedFile>>,
    off: usize,
) -> KResult<usize> {
    if offset_in_page(off) != 0 {
        return Err(Errno::EINVAL);
    }
    ksys_mmap_pgoff(mm, addr, len, prot, flags, file, off >> PAGE_SHIFT)
}

/// Remove the page-table side of `vmas` (already detached): zap `[start, end)`, then
/// free page tables between the neighbours (Linux: `unmap_region`; FIRST_USER_ADDRESS and
/// USER_PGTABLES_CEILING are 0 on arm64).
fn unmap_region(
    mm: &MmapLocked,
    pt: &mut dyn VmaPageTables,
    vmas: &[VmArea],
    prev: Option<usize>,
    start: usize,
    end: usize,
) {
    let next = vma_next(mm, prev);
    pt.unmap_vmas(vmas, start, end);
    let floor = prev.map_or(0, |p| mm.mm_rb[&p].vm_end);
    let ceiling = next.map_or(0, |n| mm.mm_rb[&n].vm_start);
    pt.free_pgtables(vmas, floor, ceiling);
}

/// The statistics half of `remove_vma_list`, done while `mmap_lock` is still held for
/// write (Linux updates them after `mmap_write_downgrade`; Rust lets only a writer change
/// them).
fn account_removed_vmas(mm: &mut MmapLocked, vmas: &[VmArea]) {
    for v in vmas {
        vm_stat_account(mm, v.vm_flags, -(v.vma_pages() as isize));
    }
}

/// The rest of `remove_vma_list`: give back the overcommit charge and drop the VMAs.
fn free_removed_vmas(pt: &mut dyn VmaPageTables, vmas: Vec<VmArea>) {
    let nr_accounted: usize = vmas
        .iter()
        .filter(|v| v.vm_flags.contains(VmFlags::VM_ACCOUNT))
        .map(|v| v.vma_pages())
        .sum();
    drop(vmas);
    if nr_accounted != 0 {
        pt.vm_unacct_memory(nr_accounted);
    }
}

/// VMAs `__do_munmap` took out of the tree, accounted for, whose pages and page tables
/// are still in place: `unmap_region` needs only the read lock, so munmap downgrades
/// before it (Linux: the `downgrade` of `__do_munmap`).
pub struct DetachedVmas {
    vmas: Vec<VmArea>,
    prev: Option<usize>,
    start: usize,
    end: usize,
}

impl DetachedVmas {
    /// Zap the pages and free the tables, then drop the VMAs (Linux: the end of
    /// `__do_munmap`: `unmap_region` + `remove_vma_list`). `mmap_lock` held for read or
    /// write.
    pub fn unmap(self, mm: &MmapLocked, pt: &mut dyn VmaPageTables) {
        unmap_region(mm, pt, &self.vmas, self.prev, self.start, self.end);
        free_removed_vmas(pt, self.vmas);
    }
}

/// Unmap `[start, start + len)` (Linux 5.10: `__do_munmap`): EINVAL if `start` is not
/// page aligned, the range leaves the address space, or `len` is 0; nothing to do is
/// success. VMAs straddling either end are split first (ENOMEM when a split in the
/// middle of a VMA would pass max_map_count); locked pages are munlocked; the VMAs are
/// detached, their page tables torn down (`unmap_region`) and accounting undone.
/// No userfaultfd. `__vm_munmap` uses the two halves (`munmap_detach_vmas`,
/// `DetachedVmas::unmap`) to downgrade the lock in between.
#[no_mangle]
#[inline(never)]
pub fn __do_munmap(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
) -> KResult<()> {
    if let Some(detached) = munmap_detach_vmas(mm, pt, start, len)? {
        detached.unmap(mm, pt);
    }
    Ok(())
}

/// The write-locked half of `__do_munmap`: checks, splits at both ends, munlock, detach
/// from the tree and the statistics (Linux: up to `detach_vmas_to_be_unmapped`). None
/// when nothing was mapped there.
pub fn munmap_detach_vmas(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
) -> KResult<Option<DetachedVmas>> {
    if offset_in_page(start) != 0 || start > mm.task_size || len > mm.task_size - start {
        return Err(Errno::EINVAL);
    }
    let len = page_align(len);
    let end = start + len;
    if len == 0 {
        return Err(Errno::EINVAL);
    }

    // Find the first overlapping VMA.
    let Some(vma) = find_vma(mm, start) else {
        return Ok(None);
    };
    let (vma_start, vma_end) = (vma.vm_start, vma.vm_end);
    let mut prev = vma_prev(mm, vma_start);
    // We have start < vma.vm_end; if it doesn't overlap, we have nothing.
    if vma_start >= end {
        return Ok(None);
    }

    // If we need to split any VMA, do it now to save pain later.
    if start > vma_start {
        // Make sure that map_count on return from munmap() will not exceed its limit;
        // but let map_count go just above its limit temporarily.
        if end < vma_end && mm.map_count >= sysctl_max_map_count() {
            return Err(Errno::ENOMEM);
        }
        __split_vma(mm, vma_start, start, false)?;
        prev = Some(vma_start);
    }

    // Does it split the last one?
    if let Some(last) = find_vma(mm, end) {
        if end > last.vm_start {
            let last_start = last.vm_start;
            __split_vma(mm, last_start, end, true)?;
        }
    }

    let keys: Vec<usize> = mm.mm_rb.range(start..end).map(|(&k, _)| k).collect();

    // Unlock any mlock()ed ranges before detaching VMAs.
    if mm.locked_vm != 0 {
        for k in &keys {
            let v = &mm.mm_rb[k];
            if v.vm_flags.contains(VmFlags::VM_LOCKED) {
                mm.locked_vm -= v.vma_pages();
                pt.munlock_vma_pages_all(v);
            }
        }
    }

    // Detach VMAs from the tree (detach_vmas_to_be_unmapped).
    let vmas: Vec<VmArea> = keys.iter().map(|&k| vma_unlink(mm, k)).collect();
    account_removed_vmas(mm, &vmas);
    Ok(Some(DetachedVmas {
        vmas,
        prev,
        start,
        end,
    }))
}

/// Unmap a range with `mmap_lock` held for write (Linux: `do_munmap` = `__do_munmap`
/// without downgrade).
#[no_mangle]
#[inline(never)]
pub fn do_munmap(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    start: usize,
    len: usize,
) -> KResult<()> {
    __do_munmap(mm, pt, start, len)
}

/// Take `mmap_lock` for write, detach the VMAs of `[start, start + len)`, then (with
/// `downgrade`) keep only a read hold while the pages are zapped and the tables freed, so
/// faults of other tasks sharing the mm can proceed (Linux 5.10: `__vm_munmap`).
#[no_mangle]
#[inline(never)]
pub fn __vm_munmap(mm: &MmStruct, start: usize, len: usize, downgrade: bool) -> KResult<()> {
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let Some(detached) = munmap_detach_vmas(&mut guard, &mut pt, start, len)? else {
        return Ok(());
    };
    if downgrade {
        let guard = mmap_write_downgrade(guard);
        detached.unmap(&guard, &mut pt);
        mmap_read_unlock(guard);
    } else {
        detached.unmap(&guard, &mut pt);
        mmap_write_unlock(guard);
    }
    Ok(())
}

/// munmap(2) (Linux: `SYSCALL_DEFINE2(munmap)` -> `__vm_munmap(addr, len, true)`; no
/// address untagging on arm64 without TBI in the user ABI).
#[no_mangle]
#[inline(never)]
pub fn sys_munmap(mm: &MmStruct, addr: usize, len: usize) -> KResult<usize> {
    __vm_munmap(mm, addr, len, true)?;
    Ok(0)
}

/// In-kernel munmap (Linux: `vm_munmap` = `__vm_munmap(start, len, false)`).
pub fn vm_munmap(mm: &MmStruct, start: usize, len: usize) -> KResult<()> {
    __vm_munmap(mm, start, len, false)
}

/// Insert a VMA built by the kernel, e.g. exec's stack (Linux: `insert_vm_struct`):
/// ENOMEM if it overlaps a VMA or its VM_ACCOUNT charge is refused. Anonymous VMAs get
/// `vm_pgoff = vm_start >> PAGE_SHIFT` so later merges and splits line up. Statistics
/// are the caller's (exec sets `stack_vm`/`total_vm` itself, as Linux does).
pub fn insert_vm_struct(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    mut vma: VmArea,
) -> KResult<()> {
    find_vma_links(mm, vma.vm_start, vma.vm_end)?;
    if vma.vm_flags.contains(VmFlags::VM_ACCOUNT)
        && pt.security_vm_enough_memory_mm(vma.vma_pages()).is_err()
    {
        return Err(Errno::ENOMEM);
    }
    if vma.is_anonymous() {
        debug_assert!(vma.anon_vma.is_none());
        vma.vm_pgoff = vma.vm_start >> PAGE_SHIFT;
    }
    vma_link(mm, vma);
    Ok(())
}

/// Grow the heap: map anonymous `[addr, addr + len)` (page aligned) with the data
/// defaults, merging with the VMA below when it can (Linux 5.10: `do_brk_flags`).
/// `flags` may only hold VM_EXEC (EINVAL otherwise). Errors in Linux's order: EINVAL,
/// `get_unmapped_area(MAP_FIXED)`'s errors, EAGAIN (mlockall(MCL_FUTURE) over
/// RLIMIT_MEMLOCK), ENOMEM (unmapping what was there, RLIMIT_AS/RLIMIT_DATA, map_count,
/// overcommit).
#[no_mangle]
#[inline(never)]
pub fn do_brk_flags(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    addr: usize,
    len: usize,
    flags: VmFlags,
) -> KResult<()> {
    let pgoff = addr >> PAGE_SHIFT;
    let npages = len >> PAGE_SHIFT;

    // Until we need other flags, refuse anything except VM_EXEC.
    if !flags.difference(VmFlags::VM_EXEC).is_empty() {
        return Err(Errno::EINVAL);
    }
    let flags = flags | VmFlags::VM_DATA_DEFAULT_FLAGS | VmFlags::VM_ACCOUNT | mm.def_flags;

    get_unmapped_area(mm, None, addr, len, 0, MAP_FIXED)?;

    mlock_future_check(mm, mm.def_flags, len)?;

    // Clear old maps, set up prev.
    let prev = munmap_vma_range(mm, pt, addr, len)?;

    // Check against address space limits *after* clearing old maps.
    if !may_expand_vm(mm, flags, npages) {
        return Err(Errno::ENOMEM);
    }
    if mm.map_count > sysctl_max_map_count() {
        return Err(Errno::ENOMEM);
    }
    if pt.security_vm_enough_memory_mm(npages).is_err() {
        return Err(Errno::ENOMEM);
    }

    // Can we just expand an old private anonymous mapping?
    let key = match vma_merge(mm, prev, addr, addr + len, flags, None, None, pgoff) {
        Some(k) => k,
        None => {
            let mut vma = VmArea::new(addr, addr + len, flags);
            vma.vm_pgoff = pgoff;
            vma_link(mm, vma);
            addr
        }
    };
    mm.total_vm += npages;
    mm.data_vm += npages;
    if flags.contains(VmFlags::VM_LOCKED) {
        mm.locked_vm += npages;
    }
    let vma = mm.mm_rb.get_mut(&key).expect("do_brk_flags: vma vanished");
    vma.vm_flags |= VmFlags::VM_SOFTDIRTY;
    Ok(())
}

/// In-kernel heap-style mapping for exec's bss (Linux: `vm_brk_flags`): ENOMEM if the
/// length wraps when page aligned, nothing for length 0, then `do_brk_flags` and
/// population under mlockall(MCL_FUTURE).
pub fn vm_brk_flags(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    addr: usize,
    request: usize,
    flags: VmFlags,
) -> KResult<()> {
    let len = page_align(request);
    if len < request {
        return Err(Errno::ENOMEM);
    }
    if len == 0 {
        return Ok(());
    }
    do_brk_flags(mm, pt, addr, len, flags)?;
    if mm.def_flags.contains(VmFlags::VM_LOCKED) {
        pt.mm_populate(mm, addr, len);
    }
    Ok(())
}

/// ENOSPC if a heap ending at `new` plus the data segment passes RLIMIT_DATA (Linux:
/// `check_data_rlimit`).
fn check_data_rlimit(
    rlim: usize,
    new: usize,
    start: usize,
    end_data: usize,
    start_data: usize,
) -> KResult<()> {
    if rlim < usize::MAX
        && new
            .wrapping_sub(start)
            .wrapping_add(end_data.wrapping_sub(start_data))
            > rlim
    {
        return Err(Errno::ENOSPC);
    }
    Ok(())
}

/// What the write-locked part of brk leaves for after the downgrade or the unlock.
pub struct BrkResult {
    /// The new break, or the old one on failure (what brk(2) returns).
    pub brk: usize,
    /// A shrink's detached VMAs, to unmap under the read lock (Linux: `downgraded`).
    pub detached: Option<DetachedVmas>,
    /// A grown heap to populate under mlockall(MCL_FUTURE), after the unlock.
    pub populate: Option<(usize, usize)>,
}

/// The body of brk(2) with `mmap_lock` held for write (Linux 5.10: `SYSCALL_DEFINE1(brk)`
/// between `mmap_write_lock_killable` and the downgrade or unlock). Below `start_brk`
/// (`min_brk`, no CONFIG_COMPAT_BRK) or over RLIMIT_DATA: refused. Shrinking always
/// works through `munmap_detach_vmas` (restoring `mm.brk` if that fails; the pages are
/// zapped by the caller after downgrading); growing needs the new end plus one page to
/// stay below the next VMA's guard gap (`vm_start_gap`), then `do_brk_flags`. A grown
/// heap is populated under mlockall(MCL_FUTURE), by the caller once unlocked.
pub fn brk_locked(mm: &mut MmapLocked, pt: &mut dyn VmaPageTables, brk: usize) -> BrkResult {
    let done = |brk| BrkResult {
        brk,
        detached: None,
        populate: None,
    };
    let origbrk = mm.brk;
    let min_brk = mm.start_brk;
    if brk < min_brk {
        return done(origbrk);
    }

    // Check against rlimit here: later the test of oldbrk with newbrk could let the
    // data segment grow beyond its limit when the limit is not page aligned.
    if check_data_rlimit(
        mm.rlimit(RLIMIT_DATA),
        brk,
        mm.start_brk,
        mm.end_data,
        mm.start_data,
    )
    .is_err()
    {
        return done(origbrk);
    }

    let newbrk = page_align(brk);
    let oldbrk = page_align(mm.brk);
    if oldbrk == newbrk {
        mm.brk = brk;
        return done(brk);
    }

    // Always allow shrinking brk.
    if brk <= mm.brk {
        mm.brk = brk;
        return match munmap_detach_vmas(mm, pt, newbrk, oldbrk - newbrk) {
            Ok(detached) => BrkResult {
                brk,
                detached,
                populate: None,
            },
            Err(_) => {
                mm.brk = origbrk;
                done(origbrk)
            }
        };
    }

    // Check against existing mmap mappings.
    if let Some(next) = find_vma(mm, oldbrk) {
        if newbrk.wrapping_add(PAGE_SIZE) > vm_start_gap(next) {
            return done(origbrk);
        }
    }

    // Ok, looks good - let it rip.
    if do_brk_flags(
        mm,
        pt,
        oldbrk,
        newbrk.wrapping_sub(oldbrk),
        VmFlags::empty(),
    )
    .is_err()
    {
        return done(origbrk);
    }
    mm.brk = brk;
    let populate = mm
        .def_flags
        .contains(VmFlags::VM_LOCKED)
        .then_some((oldbrk, newbrk - oldbrk));
    BrkResult {
        brk,
        detached: None,
        populate,
    }
}

/// brk(2): move the program break to `brk`; returns the new break, or the old one on any
/// failure (Linux 5.10: `SYSCALL_DEFINE1(brk)`). The checks and VMA changes run under
/// `mmap_lock` for write (`brk_locked`); a shrink then downgrades to read while its pages
/// are zapped; a heap grown under mlockall(MCL_FUTURE) is populated after the unlock.
#[no_mangle]
#[inline(never)]
pub fn sys_brk(mm: &MmStruct, brk: usize) -> KResult<usize> {
    let mut pt = mm.pagetables();
    let mut guard = mmap_write_lock_killable(mm)?;
    let r = brk_locked(&mut guard, &mut pt, brk);
    match r.detached {
        Some(detached) => {
            let guard = mmap_write_downgrade(guard);
            detached.unmap(&guard, &mut pt);
            mmap_read_unlock(guard);
        }
        None => mmap_write_unlock(guard),
    }
    if let Some((start, len)) = r.populate {
        mm_populate(mm, start, len);
    }
    Ok(r.brk)
}

/// May a stack VMA grow to `size` bytes by `grow` pages (Linux: `acct_stack_growth`)?
/// ENOMEM over RLIMIT_AS/RLIMIT_DATA, over RLIMIT_STACK, over RLIMIT_MEMLOCK for a
/// locked stack without CAP_IPC_LOCK, or when overcommit refuses (checked last, since
/// it charges).
fn acct_stack_growth(
    mm: &MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: &VmArea,
    size: usize,
    grow: usize,
) -> KResult<()> {
    // Address space limit tests.
    if !may_expand_vm(mm, vma.vm_flags, grow) {
        return Err(Errno::ENOMEM);
    }
    // Stack limit test.
    if size > mm.rlimit(RLIMIT_STACK) {
        return Err(Errno::ENOMEM);
    }
    // mlock limit tests.
    if vma.vm_flags.contains(VmFlags::VM_LOCKED) {
        let locked = mm.locked_vm + grow;
        let limit = mm.rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
        if locked > limit && !mm.cap_ipc_lock {
            return Err(Errno::ENOMEM);
        }
    }
    // Overcommit: this must be the final test, as it charges.
    if pt.security_vm_enough_memory_mm(grow).is_err() {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// Grow the VM_GROWSDOWN VMA keyed `vma` down to cover `address` (Linux 5.10:
/// `expand_downwards`, called by the fault path as `expand_stack`). EPERM below
/// `mmap_min_addr`; ENOMEM when the new start would come within `stack_guard_gap` of an
/// accessible non-stack VMA below, when `grow` exceeds `vm_pgoff`, or from
/// `acct_stack_growth`. Returns the VMA's key, which is its new `vm_start`.
/// Differences: the anon_vma is always a fresh one (Linux's `anon_vma_prepare` may reuse
/// a neighbour's), no locking against concurrent expansion (the mm lock is exclusive here).
#[no_mangle]
#[inline(never)]
pub fn expand_downwards(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    address: usize,
) -> KResult<usize> {
    let address = address & !(PAGE_SIZE - 1);
    if address < MMAP_MIN_ADDR {
        return Err(Errno::EPERM);
    }
    // Enforce stack_guard_gap.
    if let Some(p) = vma_prev(mm, vma) {
        let prev = &mm.mm_rb[&p];
        if !prev.vm_flags.contains(VmFlags::VM_GROWSDOWN)
            && prev.vm_flags.intersects(VmFlags::VM_ACCESS_FLAGS)
            && address.wrapping_sub(prev.vm_end) < STACK_GUARD_GAP
        {
            return Err(Errno::ENOMEM);
        }
    }
    // We must make sure the anon_vma is allocated (anon_vma_prepare).
    let v = mm
        .mm_rb
        .get_mut(&vma)
        .expect("expand_downwards: no such vma");
    if v.anon_vma.is_none() {
        v.set_anon_vma(AnonVma::new());
    }
    let v = &mm.mm_rb[&vma];
    if address >= v.vm_start {
        return Ok(vma);
    }
    let size = v.vm_end - address;
    let grow = (v.vm_start - address) >> PAGE_SHIFT;
    if grow > v.vm_pgoff {
        return Err(Errno::ENOMEM);
    }
    acct_stack_growth(mm, pt, v, size, grow)?;
    let (flags, end, pgoff) = (v.vm_flags, v.vm_end, v.vm_pgoff);
    if flags.contains(VmFlags::VM_LOCKED) {
        mm.locked_vm += grow;
    }
    vm_stat_account(mm, flags, grow as isize);
    let mut v = mm
        .mm_rb
        .remove(&vma)
        .expect("expand_downwards: vma vanished");
    v.vm_start = address;
    v.vm_pgoff = pgoff - grow;
    debug_assert_eq!(v.vm_end, end);
    mm.mm_rb.insert(address, v);
    Ok(address)
}

/// Grow a stack VMA to cover a faulting `address` (Linux: `expand_stack`; arm64 has only
/// grows-down stacks).
#[no_mangle]
#[inline(never)]
pub fn expand_stack(
    mm: &mut MmapLocked,
    pt: &mut dyn VmaPageTables,
    vma: usize,
    address: usize,
) -> KResult<usize> {
    expand_downwards(mm, pt, vma, address)
}

/// The last user of an address space is gone: munlock the pages of locked VMAs (so they
/// are counted as munlocked, not freed while mlocked), drop every VMA, then free every page
/// and table and the pgd (Linux: `exit_mmap`, from `mmput`). Nobody else can reach the mm
/// any more, so no lock is taken.
#[no_mangle]
#[inline(never)]
pub fn exit_mmap(mm: &mut MmapLocked, pgd: usize, asid: u16) {
    if pgd != 0 && mm.locked_vm != 0 {
        for v in mm.mm_rb.values() {
            if v.vm_flags.contains(VmFlags::VM_LOCKED) {
                crate::mm::mlock::munlock_page_range(pgd, v.vm_start, v.vm_end);
            }
        }
    }
    mm.mm_rb.clear();
    mm.map_count = 0;
    if pgd != 0 {
        crate::mm::memory::free_user_pgtables(pgd, asid);
    }
}

#[cfg(test)]
mod tests {
    /// brk(2) as the VMA tests drive it: the write-locked body, then the unmap and the
    /// populate request its caller would run.
    fn sys_brk(mm: &mut MmapLocked, pt: &mut dyn VmaPageTables, brk: usize) -> usize {
        let r = brk_locked(mm, pt, brk);
        if let Some(detached) = r.detached {
            detached.unmap(mm, pt);
        }
        if let Some((start, len)) = r.populate {
            pt.mm_populate(mm, start, len);
        }
        r.brk
    }

    /// munmap(2) as the VMA tests drive it.
    fn vm_munmap(
        mm: &mut MmapLocked,
        pt: &mut dyn VmaPageTables,
        start: usize,
        len: usize,
    ) -> KResult<()> {
        do_munmap(mm, pt, start, len)
    }

    use super::*;
    use crate::mm::mm_types::{STACK_GUARD_GAP, TASK_SIZE};
    use crate::mm::vma::testing::*;
    use crate::mm::vma::{validate_mm, vma_link, AnonVma};
    use alloc::vec;

    const P: usize = PAGE_SIZE;

    fn setup() -> (MmapLocked, RecordingPageTables) {
        (MmapLocked::new(), RecordingPageTables::new())
    }

    /// mmap with do_mmap, returning the address (and checking the tree afterwards).
    fn mmap(
        mm: &mut MmapLocked,
        pt: &mut RecordingPageTables,
        addr: usize,
        len: usize,
        prot: usize,
        flags: usize,
    ) -> KResult<usize> {
        let mut populate = 0;
        let r = do_mmap(mm, pt, None, addr, len, prot, flags, 0, &mut populate);
        validate_mm(mm).unwrap();
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn fmmap(
        mm: &mut MmapLocked,
        pt: &mut RecordingPageTables,
        file: &Arc<dyn MappedFile>,
        addr: usize,
        len: usize,
        prot: usize,
        flags: usize,
        pgoff: usize,
    ) -> KResult<usize> {
        let mut populate = 0;
        let r = do_mmap(
            mm,
            pt,
            Some(file.clone()),
            addr,
            len,
            prot,
            flags,
            pgoff,
            &mut populate,
        );
        validate_mm(mm).unwrap();
        r
    }

    const RW_PROT: usize = PROT_READ | PROT_WRITE;
    const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;

    fn ranges(mm: &MmapLocked) -> Vec<(usize, usize)> {
        validate_mm(mm).unwrap();
        mm.vmas().map(|v| (v.vm_start, v.vm_end)).collect()
    }

    // ---- calc_vm_*_bits ----

    #[test]
    fn calc_vm_prot_bits_and_flag_bits_translate_linux_bits() {
        assert_eq!(calc_vm_prot_bits(PROT_NONE, 0), VmFlags::empty());
        assert_eq!(
            calc_vm_prot_bits(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_BTI, 0),
            VmFlags::VM_READ | VmFlags::VM_WRITE | VmFlags::VM_EXEC
        );
        assert_eq!(
            calc_vm_flag_bits(MAP_GROWSDOWN | MAP_DENYWRITE | MAP_LOCKED | MAP_SYNC | MAP_POPULATE),
            VmFlags::VM_GROWSDOWN | VmFlags::VM_DENYWRITE | VmFlags::VM_LOCKED | VmFlags::VM_SYNC
        );
        assert_eq!(LEGACY_MAP_MASK & (MAP_FIXED_NOREPLACE | MAP_SYNC), 0);
    }

    // ---- get_unmapped_area ----

    #[test]
    fn get_unmapped_area_topdown_first_mapping_sits_just_below_mmap_base() {
        let (mm, _) = setup();
        let a = get_unmapped_area(&mm, None, 0, 3 * P, 0, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - 3 * P);
    }

    #[test]
    fn get_unmapped_area_topdown_next_mapping_goes_below_previous() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0, 4 * P, PROT_READ, ANON).unwrap();
        let b = mmap(&mut mm, &mut pt, 0, 2 * P, PROT_READ | PROT_EXEC, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - 4 * P);
        assert_eq!(b, a - 2 * P);
    }

    #[test]
    fn get_unmapped_area_topdown_takes_highest_hole_that_fits() {
        let (mut mm, _) = setup();
        let base = mm.mmap_base;
        vma_link(&mut mm, VmArea::new(base - 10 * P, base, RW));
        vma_link(&mut mm, VmArea::new(base - 30 * P, base - 20 * P, RW));
        // [base-20, base-10) is a 10-page hole.
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 10 * P, 0, ANON),
            Ok(base - 20 * P)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 4 * P, 0, ANON),
            Ok(base - 14 * P)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 11 * P, 0, ANON),
            Ok(base - 41 * P)
        );
    }

    #[test]
    fn get_unmapped_area_topdown_ignores_vmas_above_mmap_base() {
        let (mut mm, _) = setup();
        let base = mm.mmap_base;
        // The stack lives above mmap_base.
        vma_link(
            &mut mm,
            VmArea::new(
                TASK_SIZE - 33 * P,
                TASK_SIZE - P,
                RW | VmFlags::VM_GROWSDOWN,
            ),
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
            Ok(base - 2 * P)
        );
    }

    #[test]
    fn get_unmapped_area_honours_free_hint() {
        let (mut mm, _) = setup();
        vma_link(&mut mm, VmArea::new(0x5000_0000, 0x5001_0000, RW));
        assert_eq!(
            get_unmapped_area(&mm, None, 0x4000_0000, 4 * P, 0, ANON),
            Ok(0x4000_0000)
        );
        // Right after an existing VMA is free too.
        assert_eq!(
            get_unmapped_area(&mm, None, 0x5001_0000, P, 0, ANON),
            Ok(0x5001_0000)
        );
        // Ending exactly where the VMA starts is fine.
        assert_eq!(
            get_unmapped_area(&mm, None, 0x5000_0000 - 4 * P, 4 * P, 0, ANON),
            Ok(0x4fff_c000)
        );
    }

    #[test]
    fn get_unmapped_area_rounds_hint_up_to_page() {
        let (mm, _) = setup();
        assert_eq!(
            get_unmapped_area(&mm, None, 0x4000_0123, P, 0, ANON),
            Ok(0x4000_1000)
        );
    }

    #[test]
    fn get_unmapped_area_ignores_hint_overlapping_a_vma() {
        let (mut mm, _) = setup();
        vma_link(&mut mm, VmArea::new(0x5000_0000, 0x5001_0000, RW));
        let a = get_unmapped_area(&mm, None, 0x4fff_f000, 2 * P, 0, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - 2 * P);
        let a = get_unmapped_area(&mm, None, 0x5000_8000, P, 0, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - P);
    }

    #[test]
    fn get_unmapped_area_hint_must_keep_stack_guard_gap() {
        let (mut mm, _) = setup();
        let stack = 0x7000_0000;
        vma_link(
            &mut mm,
            VmArea::new(stack, stack + 16 * P, RW | VmFlags::VM_GROWSDOWN),
        );
        // Inside the 256-page guard gap below the stack: not honoured.
        let hint = stack - STACK_GUARD_GAP;
        let a = get_unmapped_area(&mm, None, hint + P, P, 0, ANON).unwrap();
        assert_ne!(a, hint + P);
        // Ending exactly at the guard gap: honoured.
        assert_eq!(
            get_unmapped_area(&mm, None, hint - P, P, 0, ANON),
            Ok(hint - P)
        );
    }

    #[test]
    fn get_unmapped_area_search_keeps_stack_guard_gap() {
        let (mut mm, _) = setup();
        let base = mm.mmap_base;
        // A growsdown VMA right below mmap_base: the search must stay out of its gap.
        vma_link(
            &mut mm,
            VmArea::new(base - 4 * P, base, RW | VmFlags::VM_GROWSDOWN),
        );
        let a = get_unmapped_area(&mm, None, 0, P, 0, ANON).unwrap();
        assert_eq!(a, base - 4 * P - STACK_GUARD_GAP - P);
    }

    #[test]
    fn get_unmapped_area_hint_above_task_size_falls_back_to_search() {
        let (mm, _) = setup();
        let a = get_unmapped_area(&mm, None, TASK_SIZE - P, 2 * P, 0, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - 2 * P);
    }

    #[test]
    fn get_unmapped_area_topdown_falls_back_to_bottom_up_when_full() {
        let (mut mm, _) = setup();
        mm.mmap_base = 0x10_0000; // only 1 MiB below the base
        let a = get_unmapped_area(&mm, None, 0, 2 << 20, 0, ANON).unwrap();
        assert_eq!(a, TASK_UNMAPPED_BASE);
        // A small one still fits top-down.
        assert_eq!(
            get_unmapped_area(&mm, None, 0, P, 0, ANON),
            Ok(0x10_0000 - P)
        );
    }

    #[test]
    fn get_unmapped_area_enomem_when_nothing_fits() {
        let (mut mm, _) = setup();
        assert_eq!(
            get_unmapped_area(&mm, None, 0, TASK_SIZE + P, 0, ANON),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, TASK_SIZE, 0, ANON),
            Err(Errno::ENOMEM)
        );
        mm.mmap_base = 0x10_0000;
        vma_link(&mut mm, VmArea::new(TASK_UNMAPPED_BASE, TASK_SIZE - P, RW));
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 2 << 20, 0, ANON),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn get_unmapped_area_map_fixed_checks_task_size_then_alignment_then_min_addr() {
        let (mut mm, _) = setup();
        let f = MAP_FIXED | ANON;
        assert_eq!(
            get_unmapped_area(&mm, None, 0x4000_0000, P, 0, f),
            Ok(0x4000_0000)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0x4000_0001, P, 0, f),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, TASK_SIZE - P, 2 * P, 0, f),
            Err(Errno::ENOMEM)
        );
        // Both unaligned and too high: ENOMEM is checked first.
        assert_eq!(
            get_unmapped_area(&mm, None, TASK_SIZE - P + 1, 2 * P, 0, f),
            Err(Errno::ENOMEM)
        );
        // Below mmap_min_addr: EPERM unless CAP_SYS_RAWIO.
        assert_eq!(get_unmapped_area(&mm, None, 0, P, 0, f), Err(Errno::EPERM));
        mm.cap_sys_rawio = true;
        assert_eq!(get_unmapped_area(&mm, None, 0, P, 0, f), Ok(0));
        // MAP_FIXED does not care about existing VMAs.
        vma_link(&mut mm, VmArea::new(0x4000_0000, 0x4001_0000, RW));
        assert_eq!(
            get_unmapped_area(&mm, None, 0x4000_0000, P, 0, f),
            Ok(0x4000_0000)
        );
    }

    #[test]
    fn get_unmapped_area_legacy_layout_searches_bottom_up_from_mmap_base() {
        let (mut mm, _) = setup();
        mm.mmap_layout = MmapLayout::Legacy;
        mm.mmap_base = TASK_UNMAPPED_BASE;
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
            Ok(TASK_UNMAPPED_BASE)
        );
        vma_link(
            &mut mm,
            VmArea::new(TASK_UNMAPPED_BASE, TASK_UNMAPPED_BASE + 2 * P, RW),
        );
        vma_link(
            &mut mm,
            VmArea::new(TASK_UNMAPPED_BASE + 3 * P, TASK_UNMAPPED_BASE + 4 * P, RW),
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, P, 0, ANON),
            Ok(TASK_UNMAPPED_BASE + 2 * P)
        );
        assert_eq!(
            get_unmapped_area(&mm, None, 0, 2 * P, 0, ANON),
            Ok(TASK_UNMAPPED_BASE + 4 * P)
        );
    }

    #[test]
    fn vm_unmapped_area_honours_alignment() {
        let (mut mm, _) = setup();
        let base = mm.mmap_base;
        vma_link(&mut mm, VmArea::new(base - P, base, RW));
        let info = VmUnmappedAreaInfo {
            flags: VM_UNMAPPED_AREA_TOPDOWN,
            length: 2 << 20,
            low_limit: P,
            high_limit: base,
            align_mask: (2 << 20) - 1,
            align_offset: 0,
        };
        let a = vm_unmapped_area(&mm, &info).unwrap();
        assert_eq!(a & ((2 << 20) - 1), 0);
        assert!(a + (2 << 20) <= base - P);
        let up = VmUnmappedAreaInfo {
            flags: 0,
            low_limit: 0x4000_1000,
            high_limit: TASK_SIZE,
            ..info
        };
        assert_eq!(vm_unmapped_area(&mm, &up), Ok(0x4020_0000));
    }

    // ---- do_mmap: errno order ----

    #[test]
    fn do_mmap_zero_len_is_einval_before_any_other_check() {
        let (mut mm, mut pt) = setup();
        let mut pop = 0;
        let r = do_mmap(&mut mm, &mut pt, None, 1, 0, 0, 0, usize::MAX, &mut pop);
        assert_eq!(r, Err(Errno::EINVAL));
    }

    #[test]
    fn do_mmap_len_rounding_to_zero_is_enomem_before_eoverflow() {
        let (mut mm, mut pt) = setup();
        let mut pop = 0;
        let r = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            usize::MAX,
            0,
            ANON,
            usize::MAX,
            &mut pop,
        );
        assert_eq!(r, Err(Errno::ENOMEM));
    }

    #[test]
    fn do_mmap_pgoff_overflow_is_eoverflow_before_map_count() {
        let (mut mm, mut pt) = setup();
        mm.map_count = DEFAULT_MAX_MAP_COUNT + 1;
        let mut pop = 0;
        let r = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            2 * P,
            0,
            ANON,
            usize::MAX,
            &mut pop,
        );
        assert_eq!(r, Err(Errno::EOVERFLOW));
    }

    #[test]
    fn do_mmap_map_count_is_checked_before_the_address() {
        let (mut mm, mut pt) = setup();
        mm.map_count = DEFAULT_MAX_MAP_COUNT + 1;
        let mut pop = 0;
        let r = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0x4000_0001,
            P,
            0,
            ANON | MAP_FIXED,
            0,
            &mut pop,
        );
        assert_eq!(r, Err(Errno::ENOMEM));
        mm.map_count = 0;
        let r = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0x4000_0001,
            P,
            0,
            ANON | MAP_FIXED,
            0,
            &mut pop,
        );
        assert_eq!(r, Err(Errno::EINVAL));
    }

    #[test]
    fn do_mmap_map_count_limit_is_strictly_greater_than_max() {
        // Linux lets map_count reach max_map_count + 1 through mmap (the check is `>`).
        let (mut mm, mut pt) = setup();
        for i in 0..DEFAULT_MAX_MAP_COUNT {
            vma_link(
                &mut mm,
                VmArea::new(0x1000_0000 + 2 * i * P, 0x1000_0000 + (2 * i + 1) * P, RW),
            );
        }
        assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT);
        assert!(mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).is_ok());
        assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT + 1);
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, PROT_EXEC, ANON),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn do_mmap_fixed_noreplace_over_a_vma_is_eexist() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0, 4 * P, RW_PROT, ANON).unwrap();
        let f = ANON | MAP_FIXED_NOREPLACE;
        assert_eq!(
            mmap(&mut mm, &mut pt, a + 3 * P, 2 * P, RW_PROT, f),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            mmap(&mut mm, &mut pt, a - 2 * P, 2 * P, RW_PROT, f),
            Ok(a - 2 * P)
        );
        // Unaligned: get_unmapped_area's EINVAL comes first.
        assert_eq!(
            mmap(&mut mm, &mut pt, a + 1, P, RW_PROT, f),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn do_mmap_eexist_precedes_map_locked_eperm() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0, 4 * P, RW_PROT, ANON).unwrap();
        mm.rlim[RLIMIT_MEMLOCK].cur = 0;
        let f = ANON | MAP_FIXED_NOREPLACE | MAP_LOCKED;
        assert_eq!(mmap(&mut mm, &mut pt, a, P, RW_PROT, f), Err(Errno::EEXIST));
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED),
            Err(Errno::EPERM)
        );
    }

    #[test]
    fn do_mmap_map_locked_eperm_precedes_eagain_and_cap_ipc_lock_lifts_both() {
        let (mut mm, mut pt) = setup();
        mm.rlim[RLIMIT_MEMLOCK].cur = 0;
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED),
            Err(Errno::EPERM)
        );
        mm.rlim[RLIMIT_MEMLOCK].cur = P as u64;
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED),
            Err(Errno::EAGAIN)
        );
        assert!(mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED).is_ok());
        assert_eq!(mm.locked_vm, 1);
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_LOCKED),
            Err(Errno::EAGAIN)
        );
        mm.cap_ipc_lock = true;
        mm.rlim[RLIMIT_MEMLOCK].cur = 0;
        assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON | MAP_LOCKED).is_ok());
        assert_eq!(mm.locked_vm, 3);
    }

    #[test]
    fn do_mmap_mlockall_future_def_flags_count_against_memlock() {
        let (mut mm, mut pt) = setup();
        mm.def_flags = VmFlags::VM_LOCKED;
        mm.rlim[RLIMIT_MEMLOCK].cur = 2 * P as u64;
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, 3 * P, RW_PROT, ANON),
            Err(Errno::EAGAIN)
        );
        let mut pop = 0;
        let a = do_mmap(&mut mm, &mut pt, None, 0, 2 * P, RW_PROT, ANON, 0, &mut pop).unwrap();
        assert_eq!(pop, 2 * P);
        assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_LOCKED));
        assert_eq!(mm.locked_vm, 2);
    }

    #[test]
    fn do_mmap_eagain_precedes_file_checks() {
        let (mut mm, mut pt) = setup();
        let f = TestFile {
            readable: false,
            ..TestFile::new("/f")
        }
        .arc();
        mm.rlim[RLIMIT_MEMLOCK].cur = P as u64;
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            2 * P,
            PROT_READ,
            MAP_PRIVATE | MAP_LOCKED,
            0,
        );
        assert_eq!(r, Err(Errno::EAGAIN));
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ,
            MAP_PRIVATE | MAP_LOCKED,
            0,
        );
        assert_eq!(r, Err(Errno::EACCES));
    }

    #[test]
    fn do_mmap_file_offset_beyond_max_size_is_eoverflow_before_map_type() {
        let (mut mm, mut pt) = setup();
        let f = TestFile::new("/f").arc();
        let huge = (i64::MAX as usize) >> PAGE_SHIFT;
        assert_eq!(
            fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, 0, huge),
            Err(Errno::EOVERFLOW)
        );
        assert_eq!(
            fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, 0, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, MAP_PRIVATE, huge - 1),
            Ok(mm.mmap_base - P)
        );
    }

    #[test]
    fn do_mmap_shared_validate_rejects_unknown_flags_shared_drops_them() {
        let (mut mm, mut pt) = setup();
        let f = TestFile::new("/f").arc();
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ,
            MAP_SHARED_VALIDATE | MAP_SYNC,
            0,
        );
        assert_eq!(r, Err(Errno::EOPNOTSUPP));
        // 5.10: MAP_FIXED_NOREPLACE is not in LEGACY_MAP_MASK either.
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0x4000_0000,
            P,
            PROT_READ,
            MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE,
            0,
        );
        assert_eq!(r, Err(Errno::EOPNOTSUPP));
        assert!(fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ,
            MAP_SHARED | MAP_SYNC | 0x0800_0000,
            0
        )
        .is_ok());
        assert!(fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ,
            MAP_SHARED_VALIDATE | MAP_POPULATE,
            0
        )
        .is_ok());
    }

    #[test]
    fn do_mmap_file_access_checks_follow_linux() {
        let (mut mm, mut pt) = setup();
        let ro = TestFile {
            writable: false,
            ..TestFile::new("/ro")
        }
        .arc();
        let sh = MAP_SHARED;
        assert_eq!(
            fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, sh, 0),
            Err(Errno::EACCES)
        );
        // Private writable mappings of read-only files are fine (COW).
        let a = fmmap(&mut mm, &mut pt, &ro, 0, P, RW_PROT, MAP_PRIVATE, 0).unwrap();
        assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_MAYWRITE));
        // Shared read-only mapping of a read-only file: no VM_SHARED, no VM_MAYWRITE,
        // but VM_MAYSHARE ('s' in maps).
        let b = fmmap(&mut mm, &mut pt, &ro, 0, P, PROT_READ, sh, 0).unwrap();
        let fl = mm.vma(b).unwrap().vm_flags;
        assert!(!fl.intersects(VmFlags::VM_SHARED | VmFlags::VM_MAYWRITE));
        assert!(fl.contains(VmFlags::VM_MAYSHARE));

        let app = TestFile {
            append_only: true,
            ..TestFile::new("/log")
        }
        .arc();
        assert_eq!(
            fmmap(&mut mm, &mut pt, &app, 0, P, PROT_READ, sh, 0),
            Err(Errno::EACCES)
        );
        assert!(fmmap(&mut mm, &mut pt, &app, 0, P, PROT_READ, MAP_PRIVATE, 0).is_ok());

        let wo = TestFile {
            readable: false,
            ..TestFile::new("/wo")
        }
        .arc();
        assert_eq!(
            fmmap(&mut mm, &mut pt, &wo, 0, P, PROT_WRITE, sh, 0),
            Err(Errno::EACCES)
        );
        assert_eq!(
            fmmap(&mut mm, &mut pt, &wo, 0, P, PROT_WRITE, MAP_PRIVATE, 0),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn do_mmap_noexec_mount_refuses_prot_exec_and_clears_vm_mayexec() {
        let (mut mm, mut pt) = setup();
        let f = TestFile {
            noexec: true,
            ..TestFile::new("/tmp/x")
        }
        .arc();
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ | PROT_EXEC,
            MAP_PRIVATE,
            0,
        );
        assert_eq!(r, Err(Errno::EPERM));
        let a = fmmap(&mut mm, &mut pt, &f, 0, P, PROT_READ, MAP_PRIVATE, 0).unwrap();
        assert!(!mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_MAYEXEC));
    }

    #[test]
    fn do_mmap_file_without_mmap_is_enodev_before_growsdown_einval() {
        let (mut mm, mut pt) = setup();
        let f = TestFile {
            mmap_supported: false,
            ..TestFile::new("/dev/x")
        }
        .arc();
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            PROT_READ,
            MAP_PRIVATE | MAP_GROWSDOWN,
            0,
        );
        assert_eq!(r, Err(Errno::ENODEV));
        let g = TestFile::new("/f").arc();
        let r = fmmap(
            &mut mm,
            &mut pt,
            &g,
            0,
            P,
            PROT_READ,
            MAP_PRIVATE | MAP_GROWSDOWN,
            0,
        );
        assert_eq!(r, Err(Errno::EINVAL));
    }

    #[test]
    fn do_mmap_anonymous_map_type_checks() {
        let (mut mm, mut pt) = setup();
        let sh = MAP_SHARED | MAP_ANONYMOUS;
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, sh | MAP_GROWSDOWN),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_ANONYMOUS),
            Err(Errno::EINVAL)
        );
        // Linux 5.10 has no MAP_SHARED_VALIDATE for anonymous memory.
        assert_eq!(
            mmap(
                &mut mm,
                &mut pt,
                0,
                P,
                RW_PROT,
                MAP_SHARED_VALIDATE | MAP_ANONYMOUS
            ),
            Err(Errno::EINVAL)
        );
        assert_eq!(mm.map_count, 0);
        let a = mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON | MAP_GROWSDOWN).unwrap();
        assert!(mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_GROWSDOWN));
    }

    // ---- do_mmap / mmap_region: results ----

    #[test]
    fn mmap_private_anonymous_is_accounted_data_with_pgoff_from_address() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0, 3 * P + 1, RW_PROT, ANON).unwrap();
        let v = mm.vma(a).unwrap();
        assert_eq!(v.vm_end - v.vm_start, 4 * P);
        assert_eq!(v.vm_pgoff, a >> PAGE_SHIFT);
        assert_eq!(v.vm_flags, RW | VmFlags::VM_ACCOUNT | VmFlags::VM_SOFTDIRTY);
        assert_eq!(v.vm_page_prot, vm_get_page_prot(RW));
        assert_eq!(pt.calls, vec![PtCall::Charge(4)]);
        assert_eq!(
            (mm.total_vm, mm.data_vm, mm.exec_vm, mm.stack_vm),
            (4, 4, 0, 0)
        );
    }

    #[test]
    fn mmap_accounting_by_kind() {
        let (mut mm, mut pt) = setup();
        mmap(&mut mm, &mut pt, 0, P, PROT_READ | PROT_EXEC, ANON).unwrap();
        mmap(
            &mut mm,
            &mut pt,
            0x4000_0000,
            2 * P,
            RW_PROT,
            ANON | MAP_GROWSDOWN,
        )
        .unwrap();
        mmap(
            &mut mm,
            &mut pt,
            0,
            4 * P,
            RW_PROT,
            MAP_SHARED | MAP_ANONYMOUS,
        )
        .unwrap();
        mmap(&mut mm, &mut pt, 0, 8 * P, RW_PROT, ANON | MAP_NORESERVE).unwrap();
        assert_eq!(
            (mm.total_vm, mm.exec_vm, mm.stack_vm, mm.data_vm),
            (15, 1, 2, 8)
        );
        // Neither shared nor MAP_NORESERVE memory is charged.
        assert_eq!(pt.calls, vec![PtCall::Charge(2)]);
        let v = mm.vmas().find(|v| v.vma_pages() == 8).unwrap();
        assert!(v.vm_flags.contains(VmFlags::VM_NORESERVE));
        let s = mm.vmas().find(|v| v.vma_pages() == 4).unwrap();
        assert!(s
            .vm_flags
            .contains(VmFlags::VM_SHARED | VmFlags::VM_MAYSHARE));
        assert_eq!(s.vm_pgoff, 0);
    }

    #[test]
    fn mmap_adjacent_private_anonymous_mappings_merge() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).unwrap();
        let b = mmap(&mut mm, &mut pt, 0, 3 * P, RW_PROT, ANON).unwrap();
        assert_eq!(b, a - 3 * P);
        assert_eq!(ranges(&mm), vec![(b, a + 2 * P)]);
        assert_eq!(mm.vma(b).unwrap().vm_pgoff, b >> PAGE_SHIFT);
        // Filling a hole between two merges all three (case 1).
        let c = mmap(&mut mm, &mut pt, a + 3 * P, P, RW_PROT, ANON).unwrap();
        assert_eq!(c, a + 3 * P);
        mmap(&mut mm, &mut pt, a + 2 * P, P, RW_PROT, ANON).unwrap();
        assert_eq!(ranges(&mm), vec![(b, a + 4 * P)]);
        assert_eq!(mm.total_vm, 7);
    }

    #[test]
    fn mmap_different_protections_or_shared_anonymous_do_not_merge() {
        let (mut mm, mut pt) = setup();
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON).unwrap();
        mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).unwrap();
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_SHARED | MAP_ANONYMOUS).unwrap();
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, MAP_SHARED | MAP_ANONYMOUS).unwrap();
        assert_eq!(mm.map_count, 4);
    }

    #[test]
    fn mmap_file_mappings_merge_only_with_contiguous_offsets() {
        let (mut mm, mut pt) = setup();
        let f = TestFile::new("/lib/libc.so").arc();
        let a = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0x4000_0000,
            2 * P,
            PROT_READ,
            MAP_PRIVATE,
            10,
        )
        .unwrap();
        fmmap(
            &mut mm,
            &mut pt,
            &f,
            a + 2 * P,
            P,
            PROT_READ,
            MAP_PRIVATE,
            12,
        )
        .unwrap();
        assert_eq!(mm.map_count, 1);
        fmmap(
            &mut mm,
            &mut pt,
            &f,
            a + 3 * P,
            P,
            PROT_READ,
            MAP_PRIVATE,
            20,
        )
        .unwrap();
        assert_eq!(mm.map_count, 2);
    }

    #[test]
    fn mmap_fixed_replaces_middle_of_existing_vma() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0x4000_0000, 10 * P, RW_PROT, ANON).unwrap();
        pt.calls.clear();
        let r = mmap(
            &mut mm,
            &mut pt,
            a + 4 * P,
            2 * P,
            PROT_READ,
            ANON | MAP_FIXED,
        );
        assert_eq!(r, Ok(a + 4 * P));
        assert_eq!(
            ranges(&mm),
            vec![
                (a, a + 4 * P),
                (a + 4 * P, a + 6 * P),
                (a + 6 * P, a + 10 * P)
            ]
        );
        assert_eq!(
            pt.calls,
            vec![
                PtCall::UnmapVmas {
                    ranges: vec![(a + 4 * P, a + 6 * P)],
                    start: a + 4 * P,
                    end: a + 6 * P
                },
                PtCall::FreePgtables {
                    ranges: vec![(a + 4 * P, a + 6 * P)],
                    floor: a + 4 * P,
                    ceiling: a + 6 * P
                },
                PtCall::Uncharge(2),
            ]
        );
        let mid = mm.vma(a + 4 * P).unwrap();
        assert_eq!(mid.vm_flags, RO | VmFlags::VM_SOFTDIRTY);
        assert_eq!(
            mm.vma(a + 6 * P).unwrap().vm_pgoff,
            (a + 6 * P) >> PAGE_SHIFT
        );
        assert_eq!((mm.total_vm, mm.data_vm), (10, 8));
    }

    #[test]
    fn mmap_fixed_over_several_vmas_and_holes_then_merges() {
        let (mut mm, mut pt) = setup();
        let base = 0x4000_0000;
        mmap(&mut mm, &mut pt, base, 2 * P, RW_PROT, ANON).unwrap();
        mmap(&mut mm, &mut pt, base + 3 * P, 2 * P, PROT_READ, ANON).unwrap();
        mmap(&mut mm, &mut pt, base + 6 * P, 2 * P, PROT_EXEC, ANON).unwrap();
        pt.calls.clear();
        // Cover from the middle of the first to the middle of the last: same flags as the
        // first, so the new VMA merges with the first one's remaining head.
        mmap(&mut mm, &mut pt, base + P, 6 * P, RW_PROT, ANON | MAP_FIXED).unwrap();
        assert_eq!(
            ranges(&mm),
            vec![(base, base + 7 * P), (base + 7 * P, base + 8 * P)]
        );
        assert_eq!(
            pt.unmaps(),
            vec![(base + P, base + 7 * P)],
            "one do_munmap covers every VMA in the range"
        );
        assert_eq!(mm.total_vm, 8);
    }

    #[test]
    fn mmap_fixed_noreplace_next_to_vma_merges() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0x4000_0000, 2 * P, RW_PROT, ANON).unwrap();
        mmap(
            &mut mm,
            &mut pt,
            a + 2 * P,
            2 * P,
            RW_PROT,
            ANON | MAP_FIXED_NOREPLACE,
        )
        .unwrap();
        assert_eq!(ranges(&mm), vec![(a, a + 4 * P)]);
    }

    #[test]
    fn mmap_rlimit_as_counts_pages_map_fixed_would_unmap() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0x4000_0000, 4 * P, RW_PROT, ANON).unwrap();
        mm.rlim[RLIMIT_AS].cur = 5 * P as u64;
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, 2 * P, PROT_READ, ANON),
            Err(Errno::ENOMEM)
        );
        assert!(mmap(&mut mm, &mut pt, 0, P, PROT_READ, ANON).is_ok());
        // Replacing 4 mapped pages with 4 new ones fits.
        assert_eq!(
            mmap(&mut mm, &mut pt, a, 4 * P, PROT_READ, ANON | MAP_FIXED),
            Ok(a)
        );
        // Replacing 2 and adding 1 does not.
        assert_eq!(
            mmap(
                &mut mm,
                &mut pt,
                a + 2 * P,
                3 * P,
                PROT_READ,
                ANON | MAP_FIXED
            ),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.total_vm, 5);
    }

    #[test]
    fn mmap_rlimit_data_limits_private_writable_only() {
        let (mut mm, mut pt) = setup();
        mm.rlim[RLIMIT_DATA].cur = 2 * P as u64;
        assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).is_ok());
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON),
            Err(Errno::ENOMEM)
        );
        assert!(mmap(&mut mm, &mut pt, 0, 4 * P, PROT_READ, ANON).is_ok());
        assert!(mmap(
            &mut mm,
            &mut pt,
            0,
            4 * P,
            RW_PROT,
            MAP_SHARED | MAP_ANONYMOUS
        )
        .is_ok());
        assert!(mmap(
            &mut mm,
            &mut pt,
            0x4000_0000,
            4 * P,
            RW_PROT,
            ANON | MAP_GROWSDOWN
        )
        .is_ok());
    }

    #[test]
    fn mmap_rlimit_data_zero_soft_limit_valgrind_workaround() {
        let (mut mm, mut pt) = setup();
        mm.rlim[RLIMIT_DATA].cur = 0;
        mm.rlim[RLIMIT_DATA].max = 2 * P as u64;
        assert!(mmap(&mut mm, &mut pt, 0, 2 * P, RW_PROT, ANON).is_ok());
        assert_eq!(
            mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON),
            Err(Errno::ENOMEM)
        );
    }

    #[test]
    fn mmap_fixed_refused_by_overcommit_has_already_unmapped_the_old_range() {
        // As in Linux: the old mapping is gone before the charge is refused.
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0x4000_0000, 4 * P, PROT_READ, ANON).unwrap();
        pt.commit_limit = Some(0);
        assert_eq!(
            mmap(&mut mm, &mut pt, a, 4 * P, RW_PROT, ANON | MAP_FIXED),
            Err(Errno::ENOMEM)
        );
        assert_eq!(mm.map_count, 0);
        assert_eq!(mm.total_vm, 0);
    }

    #[test]
    fn mmap_file_mmap_error_undoes_partial_mapping_and_charge() {
        let (mut mm, mut pt) = setup();
        let f = TestFile {
            mmap_error: Some(Errno::ENODEV),
            ..TestFile::new("/dev/odd")
        }
        .arc();
        let r = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0x4000_0000,
            2 * P,
            RW_PROT,
            MAP_PRIVATE,
            0,
        );
        assert_eq!(r, Err(Errno::ENODEV));
        assert_eq!(mm.map_count, 0);
        assert_eq!(mm.total_vm, 0);
        assert_eq!(pt.unmaps(), vec![(0x4000_0000, 0x4000_0000 + 2 * P)]);
        assert_eq!(pt.committed, 0);
    }

    #[test]
    fn mmap_file_mmap_changing_flags_retries_merge() {
        let (mut mm, mut pt) = setup();
        let extra = VmFlags::VM_DONTDUMP;
        let f = TestFile {
            mmap_adds: extra,
            ..TestFile::new("/dev/special")
        }
        .arc();
        let a = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0x4000_0000,
            2 * P,
            PROT_READ,
            MAP_SHARED,
            0,
        )
        .unwrap();
        assert!(mm.vma(a).unwrap().vm_flags.contains(extra));
        // The first vma_merge (without VM_DONTDUMP) fails, the retry merges.
        fmmap(&mut mm, &mut pt, &f, a + 2 * P, P, PROT_READ, MAP_SHARED, 2).unwrap();
        assert_eq!(ranges(&mm), vec![(a, a + 3 * P)]);
        assert_eq!(mm.total_vm, 3);
    }

    #[test]
    fn mmap_populate_and_locked_report_populate_length() {
        let (mut mm, mut pt) = setup();
        let mut pop = 0;
        do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            3 * P,
            RW_PROT,
            ANON | MAP_POPULATE,
            0,
            &mut pop,
        )
        .unwrap();
        assert_eq!(pop, 3 * P);
        do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            3 * P,
            RW_PROT,
            ANON | MAP_POPULATE | MAP_NONBLOCK,
            0,
            &mut pop,
        )
        .unwrap();
        assert_eq!(pop, 0);
        do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            2 * P,
            RW_PROT,
            ANON | MAP_LOCKED,
            0,
            &mut pop,
        )
        .unwrap();
        assert_eq!(pop, 2 * P);
        assert_eq!(mm.locked_vm, 2);
        // MAP_POPULATE asks vm_mmap_pgoff to populate the whole new mapping.
        pt.calls.clear();
        let a = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            P,
            RW_PROT,
            ANON | MAP_POPULATE,
            0,
            &mut pop,
        )
        .unwrap();
        assert_eq!(pop, P);
        assert_eq!(pt.calls, vec![PtCall::Charge(1)]);
        assert!(mm.vma(a).is_some());
    }

    #[test]
    fn mmap_locked_vm_special_mapping_drops_vm_locked() {
        let (mut mm, mut pt) = setup();
        let f = TestFile {
            mmap_adds: VmFlags::VM_IO | VmFlags::VM_PFNMAP,
            ..TestFile::new("/dev/mem")
        }
        .arc();
        let a = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0,
            P,
            RW_PROT,
            MAP_SHARED | MAP_LOCKED,
            0,
        )
        .unwrap();
        assert!(!mm.vma(a).unwrap().vm_flags.contains(VmFlags::VM_LOCKED));
        assert_eq!(mm.locked_vm, 0);
    }

    #[test]
    fn mmap_hint_below_mmap_min_addr_is_ignored() {
        let (mut mm, mut pt) = setup();
        let a = mmap(&mut mm, &mut pt, 0x800, P, RW_PROT, ANON).unwrap();
        assert_eq!(a, mm.mmap_base - P);
        let b = mmap(&mut mm, &mut pt, 0x4000_0fff, P, RW_PROT, ANON).unwrap();
        assert_eq!(b, 0x4000_0000, "do_mmap masks the hint down");
    }

    #[test]
    fn mmap_shared_anonymous_calls_shmem_zero_setup() {
        struct Shmem(RecordingPageTables, usize);
        impl VmaPageTables for Shmem {
            fn unmap_vmas(&mut self, v: &[VmArea], s: usize, e: usize) {
                self.0.unmap_vmas(v, s, e)
            }
            fn free_pgtables(&mut self, v: &[VmArea], f: usize, c: usize) {
                self.0.free_pgtables(v, f, c)
            }
            fn change_protection(
                &mut self,
                v: &VmArea,
                s: usize,
                e: usize,
                p: PgProt,
                d: bool,
            ) -> usize {
                self.0.change_protection(v, s, e, p, d)
            }
            fn shmem_zero_setup(&mut self, vma: &mut VmArea) -> KResult<()> {
                self.1 += 1;
                vma.vm_file = Some(TestFile::new("/dev/zero (deleted)").arc());
                Ok(())
            }
        }
        let mut mm = MmapLocked::new();
        let mut pt = Shmem(RecordingPageTables::new(), 0);
        let mut pop = 0;
        let a = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            P,
            RW_PROT,
            MAP_SHARED | MAP_ANONYMOUS,
            0,
            &mut pop,
        )
        .unwrap();
        assert_eq!(pt.1, 1);
        assert_eq!(
            mm.vma(a).unwrap().vm_file.as_ref().unwrap().path(),
            "/dev/zero (deleted)"
        );
    }

    // ---- ksys_mmap_pgoff / sys_mmap ----

    #[test]
    fn sys_mmap_unaligned_offset_is_einval_before_ebadf() {
        let mm = MmStruct::for_test(MmapLocked::new());
        assert_eq!(
            sys_mmap(&mm, 0, P, PROT_READ, MAP_PRIVATE, None, 1),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            sys_mmap(&mm, 0, P, PROT_READ, MAP_PRIVATE, None, P),
            Err(Errno::EBADF)
        );
    }

    #[test]
    fn ksys_mmap_pgoff_ebadf_precedes_do_mmap_checks() {
        let mm = MmStruct::for_test(MmapLocked::new());
        assert_eq!(ksys_mmap_pgoff(&mm, 0, 0, 0, 0, None, 0), Err(Errno::EBADF));
        // With MAP_ANONYMOUS the fd is ignored and len 0 is EINVAL.
        assert_eq!(
            ksys_mmap_pgoff(&mm, 0, 0, 0, MAP_ANONYMOUS, None, 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn ksys_mmap_pgoff_map_hugetlb_is_einval_without_hugetlbfs() {
        let mm = MmStruct::for_test(MmapLocked::new());
        let f = TestFile::new("/f").arc();
        let fl = MAP_PRIVATE | MAP_HUGETLB;
        assert_eq!(
            ksys_mmap_pgoff(&mm, 0, P, PROT_READ, fl, Some(f), 0),
            Err(Errno::EINVAL)
        );
        let fl = ANON | MAP_HUGETLB;
        assert_eq!(
            ksys_mmap_pgoff(&mm, 0, P, PROT_READ, fl, None, 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn ksys_mmap_pgoff_drops_map_denywrite_and_map_executable() {
        let outer = MmStruct::for_test(MmapLocked::new());
        let fl = ANON | MAP_DENYWRITE | MAP_EXECUTABLE;
        let a = ksys_mmap_pgoff(&outer, 0, P, PROT_READ, fl, None, 0).unwrap();
        let locked = crate::mm::mmap_lock::mmap_read_lock(&outer);
        assert!(!locked
            .vma(a)
            .unwrap()
            .vm_flags
            .contains(VmFlags::VM_DENYWRITE));
        drop(locked);
        let (mut mm, mut pt) = setup();
        // do_mmap itself (exec) keeps it.
        let mut pop = 0;
        let b = do_mmap(
            &mut mm,
            &mut pt,
            None,
            0,
            P,
            PROT_EXEC,
            ANON | MAP_DENYWRITE,
            0,
            &mut pop,
        )
        .unwrap();
        assert!(mm.vma(b).unwrap().vm_flags.contains(VmFlags::VM_DENYWRITE));
    }

    #[test]
    fn vm_mmap_checks_byte_offset() {
        let mm = MmStruct::for_test(MmapLocked::new());
        let f = TestFile::new("/bin/init").arc();
        let r = vm_mmap(&mm, Some(f.clone()), 0, P, PROT_READ, MAP_PRIVATE, 0x10);
        assert_eq!(r, Err(Errno::EINVAL));
        let r = vm_mmap(
            &mm,
            Some(f.clone()),
            0,
            P,
            PROT_READ,
            MAP_PRIVATE,
            usize::MAX & !(P - 1),
        );
        assert_eq!(r, Err(Errno::EINVAL));
        let a = vm_mmap(&mm, Some(f), 0, P, PROT_READ, MAP_PRIVATE, 3 * P).unwrap();
        let locked = crate::mm::mmap_lock::mmap_read_lock(&mm);
        assert_eq!(locked.vma(a).unwrap().vm_pgoff, 3);
    }

    // ---- munmap ----

    fn ten_pages(mm: &mut MmapLocked, pt: &mut RecordingPageTables) -> usize {
        let a = mmap(mm, pt, 0x4000_0000, 10 * P, RW_PROT, ANON).unwrap();
        pt.calls.clear();
        a
    }

    #[test]
    fn munmap_argument_errors_are_einval() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        assert_eq!(vm_munmap(&mut mm, &mut pt, a + 1, P), Err(Errno::EINVAL));
        assert_eq!(vm_munmap(&mut mm, &mut pt, a, 0), Err(Errno::EINVAL));
        assert_eq!(
            vm_munmap(&mut mm, &mut pt, TASK_SIZE + P, P),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            vm_munmap(&mut mm, &mut pt, TASK_SIZE - P, 2 * P),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            vm_munmap(&mut mm, &mut pt, a, usize::MAX),
            Err(Errno::EINVAL)
        );
        assert!(pt.calls.is_empty());
        assert_eq!(mm.map_count, 1);
    }

    #[test]
    fn munmap_of_a_hole_succeeds_and_touches_nothing() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        assert_eq!(vm_munmap(&mut mm, &mut pt, a - 4 * P, 4 * P), Ok(()));
        assert_eq!(vm_munmap(&mut mm, &mut pt, a + 10 * P, 4 * P), Ok(()));
        assert!(pt.calls.is_empty());
        assert_eq!(ranges(&mm), vec![(a, a + 10 * P)]);
    }

    #[test]
    fn munmap_whole_vma_frees_page_tables_between_neighbours() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        mmap(&mut mm, &mut pt, a - 4 * P, P, PROT_READ, ANON | MAP_FIXED).unwrap();
        mmap(&mut mm, &mut pt, a + 12 * P, P, PROT_READ, ANON | MAP_FIXED).unwrap();
        pt.calls.clear();
        vm_munmap(&mut mm, &mut pt, a, 10 * P).unwrap();
        assert_eq!(
            pt.calls,
            vec![
                PtCall::UnmapVmas {
                    ranges: vec![(a, a + 10 * P)],
                    start: a,
                    end: a + 10 * P
                },
                PtCall::FreePgtables {
                    ranges: vec![(a, a + 10 * P)],
                    floor: a - 3 * P,
                    ceiling: a + 12 * P
                },
                PtCall::Uncharge(10),
            ]
        );
        assert_eq!((mm.map_count, mm.total_vm, mm.data_vm), (2, 2, 0));
    }

    #[test]
    fn munmap_last_vma_has_no_floor_or_ceiling() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        vm_munmap(&mut mm, &mut pt, a, 10 * P).unwrap();
        assert!(pt.calls.contains(&PtCall::FreePgtables {
            ranges: vec![(a, a + 10 * P)],
            floor: 0,
            ceiling: 0
        }));
        assert_eq!((mm.map_count, mm.total_vm), (0, 0));
    }

    #[test]
    fn munmap_head_splits_and_keeps_tail() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        vm_munmap(&mut mm, &mut pt, a, 3 * P).unwrap();
        assert_eq!(ranges(&mm), vec![(a + 3 * P, a + 10 * P)]);
        assert_eq!(
            mm.vma(a + 3 * P).unwrap().vm_pgoff,
            (a + 3 * P) >> PAGE_SHIFT
        );
        assert_eq!(pt.unmaps(), vec![(a, a + 3 * P)]);
        assert_eq!(mm.total_vm, 7);
    }

    #[test]
    fn munmap_tail_splits_and_keeps_head() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        vm_munmap(&mut mm, &mut pt, a + 7 * P, 3 * P).unwrap();
        assert_eq!(ranges(&mm), vec![(a, a + 7 * P)]);
        assert_eq!(pt.unmaps(), vec![(a + 7 * P, a + 10 * P)]);
        assert!(pt.calls.contains(&PtCall::Uncharge(3)));
    }

    #[test]
    fn munmap_middle_splits_in_three_and_removes_middle() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        vm_munmap(&mut mm, &mut pt, a + 4 * P, 2 * P).unwrap();
        assert_eq!(ranges(&mm), vec![(a, a + 4 * P), (a + 6 * P, a + 10 * P)]);
        assert_eq!(
            mm.vma(a + 6 * P).unwrap().vm_pgoff,
            (a + 6 * P) >> PAGE_SHIFT
        );
        assert_eq!(mm.map_count, 2);
    }

    #[test]
    fn munmap_len_rounds_up_to_whole_pages() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        vm_munmap(&mut mm, &mut pt, a, P + 1).unwrap();
        assert_eq!(ranges(&mm), vec![(a + 2 * P, a + 10 * P)]);
    }

    #[test]
    fn munmap_across_several_vmas_and_holes() {
        let (mut mm, mut pt) = setup();
        let b = 0x4000_0000;
        mmap(&mut mm, &mut pt, b, 3 * P, RW_PROT, ANON).unwrap();
        mmap(&mut mm, &mut pt, b + 4 * P, 2 * P, PROT_READ, ANON).unwrap();
        mmap(&mut mm, &mut pt, b + 7 * P, 3 * P, PROT_EXEC, ANON).unwrap();
        pt.calls.clear();
        vm_munmap(&mut mm, &mut pt, b + P, 8 * P).unwrap();
        assert_eq!(ranges(&mm), vec![(b, b + P), (b + 9 * P, b + 10 * P)]);
        assert_eq!(
            pt.calls[0],
            PtCall::UnmapVmas {
                ranges: vec![
                    (b + P, b + 3 * P),
                    (b + 4 * P, b + 6 * P),
                    (b + 7 * P, b + 9 * P)
                ],
                start: b + P,
                end: b + 9 * P
            }
        );
        assert_eq!((mm.total_vm, mm.data_vm, mm.exec_vm), (2, 1, 1));
        assert!(pt.calls.contains(&PtCall::Uncharge(2)));
    }

    #[test]
    fn munmap_middle_split_at_max_map_count_is_enomem_but_edges_work() {
        let (mut mm, mut pt) = setup();
        let a = ten_pages(&mut mm, &mut pt);
        let real = mm.map_count;
        mm.map_count = DEFAULT_MAX_MAP_COUNT;
        assert_eq!(
            vm_munmap(&mut mm, &mut pt, a + 4 * P, 2 * P),
            Err(Errno::ENOMEM)
        );
        // Unmapping the head needs only the unchecked split at the end.
        assert_eq!(vm_munmap(&mut mm, &mut pt, a, 2 * P), Ok(()));
        assert_eq!(mm.map_count, DEFAULT_MAX_MAP_COUNT);
        mm.map_count = real;
        assert_eq!(ranges(&mm), vec![(a + 2 * P, a + 10 * P)]);
    }

    #[test]
    fn munmap_locked_vma_munlocks_and_lowers_locked_vm() {
        let (mut mm, mut pt) = setup();
        let a = mmap(
            &mut mm,
            &mut pt,
            0x4000_0000,
            4 * P,
            RW_PROT,
            ANON | MAP_LOCKED,
        )
        .unwrap();
        assert_eq!(mm.locked_vm, 4);
        pt.calls.clear();
        vm_munmap(&mut mm, &mut pt, a + P, P).unwrap();
        assert_eq!(mm.locked_vm, 3);
        assert_eq!(
            pt.calls[0],
            PtCall::Munlock {
                start: a + P,
                end: a + 2 * P
            }
        );
    }

    #[test]
    fn munmap_keeps_file_and_anon_vma_of_remaining_parts() {
        let (mut mm, mut pt) = setup();
        let f = TestFile::new("/lib/x").arc();
        let a = fmmap(
            &mut mm,
            &mut pt,
            &f,
            0x4000_0000,
            4 * P,
            PROT_READ,
            MAP_PRIVATE,
            8,
        )
        .unwrap();
        mm.mm_rb.get_mut(&a).unwrap().set_anon_vma(AnonVma::new());
        vm_munmap(&mut mm, &mut pt, a + P, P).unwrap();
        let (lo, hi) = (mm.vma(a).unwrap(), mm.vma(a + 2 * P).unwrap());
        assert_eq!((lo.vm_pgoff, hi.vm_pgoff), (8, 10));
        assert!(hi.vm_file.is_some() && hi.anon_vma.is_some());
    }

    // ---- insert_vm_struct ----

    #[test]
    fn insert_vm_struct_refuses_overlap_and_sets_anonymous_pgoff() {
        let (mut mm, mut pt) = setup();
        let top = TASK_SIZE;
        let stack = VmArea::new(top - 32 * P, top, VmFlags::VM_STACK_FLAGS);
        insert_vm_struct(&mut mm, &mut pt, stack.clone()).unwrap();
        assert_eq!(
            mm.vma(top - 32 * P).unwrap().vm_pgoff,
            (top - 32 * P) >> PAGE_SHIFT
        );
        assert_eq!(pt.calls, vec![PtCall::Charge(32)]);
        assert_eq!(
            insert_vm_struct(&mut mm, &mut pt, stack),
            Err(Errno::ENOMEM)
        );
    }

    // ---- brk ----

    const HEAP: usize = 0x60_0000;

    fn brk_setup() -> (MmapLocked, RecordingPageTables) {
        let (mut mm, pt) = setup();
        mm.start_brk = HEAP;
        mm.brk = HEAP;
        (mm, pt)
    }

    #[test]
    fn brk_below_start_brk_or_zero_returns_current_break() {
        let (mut mm, mut pt) = brk_setup();
        assert_eq!(sys_brk(&mut mm, &mut pt, 0), HEAP);
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP - 1), HEAP);
        assert_eq!(mm.map_count, 0);
    }

    #[test]
    fn brk_grows_by_creating_the_heap_vma() {
        let (mut mm, mut pt) = brk_setup();
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 100), HEAP + 100);
        assert_eq!(mm.brk, HEAP + 100);
        let v = mm.vma(HEAP).unwrap();
        assert_eq!(
            (v.vm_start, v.vm_end, v.vm_pgoff),
            (HEAP, HEAP + P, HEAP >> PAGE_SHIFT)
        );
        assert_eq!(
            v.vm_flags,
            VmFlags::VM_DATA_DEFAULT_FLAGS | VmFlags::VM_ACCOUNT | VmFlags::VM_SOFTDIRTY
        );
        assert_eq!((mm.total_vm, mm.data_vm), (1, 1));
        assert_eq!(pt.calls, vec![PtCall::Charge(1)]);
    }

    #[test]
    fn brk_growing_again_merges_into_the_heap_vma() {
        let (mut mm, mut pt) = brk_setup();
        sys_brk(&mut mm, &mut pt, HEAP + 2 * P);
        sys_brk(&mut mm, &mut pt, HEAP + 5 * P + 1);
        assert_eq!(ranges(&mm), vec![(HEAP, HEAP + 6 * P)]);
        assert_eq!((mm.total_vm, mm.data_vm), (6, 6));
        let s = crate::mm::vma::show_map_vma(&mm, mm.vma(HEAP).unwrap());
        assert!(s.ends_with(" [heap]\n"));
    }

    #[test]
    fn brk_within_the_same_page_only_moves_the_break() {
        let (mut mm, mut pt) = brk_setup();
        sys_brk(&mut mm, &mut pt, HEAP + 10);
        pt.calls.clear();
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 4000), HEAP + 4000);
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 1), HEAP + 1);
        assert!(pt.calls.is_empty());
        assert_eq!(mm.brk, HEAP + 1);
    }

    #[test]
    fn brk_shrinks_through_do_munmap() {
        let (mut mm, mut pt) = brk_setup();
        sys_brk(&mut mm, &mut pt, HEAP + 8 * P);
        pt.calls.clear();
        assert_eq!(
            sys_brk(&mut mm, &mut pt, HEAP + 3 * P - 5),
            HEAP + 3 * P - 5
        );
        assert_eq!(ranges(&mm), vec![(HEAP, HEAP + 3 * P)]);
        assert_eq!(pt.unmaps(), vec![(HEAP + 3 * P, HEAP + 8 * P)]);
        assert_eq!(mm.total_vm, 3);
        // Back to start_brk removes the VMA.
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP), HEAP);
        assert_eq!(mm.map_count, 0);
    }

    #[test]
    fn brk_growth_stops_one_page_below_the_next_vma() {
        let (mut mm, mut pt) = brk_setup();
        mmap(
            &mut mm,
            &mut pt,
            HEAP + 10 * P,
            P,
            PROT_READ,
            ANON | MAP_FIXED,
        )
        .unwrap();
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 9 * P + 1), HEAP);
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 9 * P), HEAP + 9 * P);
    }

    #[test]
    fn brk_growth_respects_stack_guard_gap() {
        let (mut mm, mut pt) = brk_setup();
        let stack = HEAP + 300 * P;
        mmap(
            &mut mm,
            &mut pt,
            stack,
            P,
            RW_PROT,
            ANON | MAP_FIXED | MAP_GROWSDOWN,
        )
        .unwrap();
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 100 * P), HEAP);
        assert_eq!(
            sys_brk(&mut mm, &mut pt, stack - STACK_GUARD_GAP - P),
            stack - STACK_GUARD_GAP - P
        );
    }

    #[test]
    fn brk_over_rlimit_data_returns_old_break() {
        let (mut mm, mut pt) = brk_setup();
        mm.start_data = 0x40_0000;
        mm.end_data = 0x40_0000 + P;
        mm.rlim[RLIMIT_DATA].cur = 3 * P as u64;
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P + 1), HEAP);
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P), HEAP + 2 * P);
    }

    #[test]
    fn brk_refused_by_overcommit_returns_old_break() {
        let (mut mm, mut pt) = brk_setup();
        pt.commit_limit = Some(2);
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 3 * P), HEAP);
        assert_eq!(mm.map_count, 0);
    }

    #[test]
    fn brk_with_mlockall_future_locks_and_populates_growth() {
        let (mut mm, mut pt) = brk_setup();
        mm.def_flags = VmFlags::VM_LOCKED;
        assert_eq!(sys_brk(&mut mm, &mut pt, HEAP + 2 * P), HEAP + 2 * P);
        assert_eq!(mm.locked_vm, 2);
        assert!(pt.calls.contains(&PtCall::Populate {
            start: HEAP,
            len: 2 * P
        }));
        mm.rlim[RLIMIT_MEMLOCK].cur = 3 * P as u64;
        assert_eq!(
            sys_brk(&mut mm, &mut pt, HEAP + 4 * P),
            HEAP + 2 * P,
            "EAGAIN inside"
        );
    }

    #[test]
    fn brk_huge_request_fails_cleanly() {
        let (mut mm, mut pt) = brk_setup();
        // PAGE_ALIGN wraps to 0: do_brk_flags gets a length above TASK_SIZE.
        assert_eq!(sys_brk(&mut mm, &mut pt, usize::MAX), HEAP);
        assert_eq!(sys_brk(&mut mm, &mut pt, TASK_SIZE + 1), HEAP);
        // Up to TASK_SIZE it is only the next VMA (or overcommit) that stops it.
        mmap(&mut mm, &mut pt, 0, P, RW_PROT, ANON).unwrap();
        assert_eq!(sys_brk(&mut mm, &mut pt, TASK_SIZE), HEAP);
        assert_eq!(mm.map_count, 1);
    }

    #[test]
    fn do_brk_flags_refuses_flags_other_than_vm_exec() {
        let (mut mm, mut pt) = brk_setup();
        assert_eq!(
            do_brk_flags(&mut mm, &mut pt, HEAP, P, VmFlags::VM_WRITE),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            do_brk_flags(&mut mm, &mut pt, HEAP + 1, P, VmFlags::empty()),
            Err(Errno::EINVAL)
        );
        assert!(do_brk_flags(&mut mm, &mut pt, HEAP, P, VmFlags::VM_EXEC).is_ok());
        assert!(mm.vma(HEAP).unwrap().vm_flags.contains(VmFlags::VM_EXEC));
    }

    #[test]
    fn vm_brk_flags_maps_exec_bss_and_ignores_zero_length() {
        let (mut mm, mut pt) = brk_setup();
        assert_eq!(
            vm_brk_flags(&mut mm, &mut pt, HEAP, 0, VmFlags::empty()),
            Ok(())
        );
        assert_eq!(mm.map_count, 0);
        assert_eq!(
            vm_brk_flags(&mut mm, &mut pt, HEAP, usize::MAX, VmFlags::empty()),
            Err(Errno::ENOMEM)
        );
        assert_eq!(
            vm_brk_flags(&mut mm, &mut pt, HEAP, 10, VmFlags::empty()),
            Ok(())
        );
        assert_eq!(ranges(&mm), vec![(HEAP, HEAP + P)]);
    }

    // ---- expand_stack ----

    fn stack_setup() -> (MmapLocked, RecordingPageTables, usize) {
        let (mut mm, mut pt) = setup();
        let top = 0x7000_0000;
        let a = mmap(
            &mut mm,
            &mut pt,
            top - 4 * P,
            4 * P,
            RW_PROT,
            ANON | MAP_FIXED | MAP_GROWSDOWN,
        )
        .unwrap();
        pt.calls.clear();
        (mm, pt, a)
    }

    #[test]
    fn expand_stack_grows_vma_down_to_the_fault_page() {
        let (mut mm, mut pt, a) = stack_setup();
        let k = expand_stack(&mut mm, &mut pt, a, a - 2 * P + 123).unwrap();
        assert_eq!(k, a - 2 * P);
        let v = mm.vma(k).unwrap();
        assert_eq!(
            (v.vm_end, v.vm_pgoff),
            (a + 4 * P, (a - 2 * P) >> PAGE_SHIFT)
        );
        assert!(v.anon_vma.is_some());
        assert_eq!((mm.total_vm, mm.stack_vm), (6, 6));
        assert_eq!(pt.calls, vec![PtCall::Charge(2)]);
    }

    #[test]
    fn expand_stack_keeps_stack_guard_gap_from_vma_below() {
        let (mut mm, mut pt, a) = stack_setup();
        let below = a - STACK_GUARD_GAP - 8 * P;
        mmap(&mut mm, &mut pt, below, P, PROT_READ, ANON | MAP_FIXED).unwrap();
        // The gap from prev's end must stay >= stack_guard_gap.
        assert_eq!(
            expand_stack(&mut mm, &mut pt, a, below + P + STACK_GUARD_GAP - P),
            Err(Errno::ENOMEM)
        );
        assert!(expand_stack(&mut mm, &mut pt, a, below + P + STACK_GUARD_GAP).is_ok());
        // A PROT_NONE VMA below does not count (vma_is_accessible).
        let (mut mm, mut pt, a) = stack_setup();
        mmap(&mut mm, &mut pt, a - 2 * P, P, PROT_NONE, ANON | MAP_FIXED).unwrap();
        assert!(expand_stack(&mut mm, &mut pt, a, a - P).is_ok());
    }

    #[test]
    fn expand_stack_limited_by_rlimit_stack_and_min_addr() {
        let (mut mm, mut pt, a) = stack_setup();
        mm.rlim[RLIMIT_STACK].cur = 6 * P as u64;
        assert_eq!(
            expand_stack(&mut mm, &mut pt, a, a - 3 * P),
            Err(Errno::ENOMEM)
        );
        assert!(expand_stack(&mut mm, &mut pt, a, a - 2 * P).is_ok());
        assert_eq!(
            expand_stack(&mut mm, &mut pt, a - 2 * P, 0x10),
            Err(Errno::EPERM)
        );
    }
}

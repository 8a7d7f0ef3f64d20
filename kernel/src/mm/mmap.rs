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
    __split_vma_at, __vma_unlink, find_vma, find_vma_intersection, find_vma_links, find_vma_prev,
    vm_area_alloc, vm_area_free, vm_end_gap, vm_start_gap, vma_link, vma_merge, vma_next, vma_prev,
    vma_set_anonymous, AnonVma, MappedFile, VmArea, VmFlags, VmaPageTables,
};
use super::{PAGE_SHIFT, PAGE_SIZE};
use crate::arch::aarch64::pgtable::PgProt;
use crate::errno::{Errno, KResult};
use crate::kernel::resource::{RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_STACK};
use crate::lib::rbtree::{rb_parent, RbNode};
use crate::mm::mm_types::vma_of;
use crate::mm::mmap_lock::{
    mmap_read_unlock, mmap_write_downgrade, mmap_write_lock_killable, mmap_write_unlock,
};
use alloc::boxed::Box;
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

/// Read /proc/sys/vm/max_map_count (Linux: `proc_dointvec_minmax` on
/// `sysctl_max_map_count`).
pub fn max_map_count_read() -> alloc::string::String {
    alloc::format!("{}\n", sysctl_max_map_count())
}

/// Write /proc/sys/vm/max_map_count: an `int` of at least 0 (Linux: `proc_dointvec_minmax`
/// with `extra1 = SYSCTL_ZERO`); EINVAL otherwise, the old value kept. As the other vm
/// sysctls, a write at a non-zero position or of nothing changes nothing.
pub fn max_map_count_write(pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    if !(0..=i64::from(i32::MAX)).contains(&val) {
        return Err(Errno::EINVAL);
    }
    MAX_MAP_COUNT.store(val as usize, Ordering::Relaxed);
    Ok(used)
}

pub use super::util::{
    sysctl_overcommit_memory, OVERCOMMIT_ALWAYS, OVERCOMMIT_GUESS, OVERCOMMIT_NEVER,
};

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

/// The VMA around a tree node, as a reference for the searches below.
fn rb_vma(_mm: &MmapLocked, node: *mut RbNode) -> &VmArea {
    // SAFETY: `node` is a non-null node of `_mm`'s tree, whose VMAs live as long as the
    // borrow of the mm.
    unsafe { &*vma_of(node) }
}

/// End of the gap below `vma`: the end (with guard gap) of the VMA before it, or 0.
fn gap_start_below(vma: &VmArea) -> usize {
    // SAFETY: `vm_prev` of a VMA in the tree is null or a live VMA of the same mm.
    unsafe { vma.vm_prev.as_ref() }.map_or(0, vm_end_gap)
}

/// Lowest gap that fits (Linux 5.10: `unmapped_area`, mm/mmap.c). The gaps count the
/// stack guard gap (`vm_start_gap`/`vm_end_gap`). O(log n): a descent of the VMA tree
/// that goes left while the left subtree's `rb_subtree_gap` could hold `length` and the
/// gaps there may still reach `low_limit`, checks the gap below each VMA it stops at, and
/// otherwise tries the right subtree or climbs back to the first ancestor it came to from
/// the left. Locking: `mmap_lock` held (read is enough).
#[no_mangle]
#[inline(never)]
pub fn unmapped_area(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    // Room for the worst misalignment too, so any fitting gap can be aligned inside.
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    // Limits for where such a gap may start and end.
    if info.high_limit < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = info.high_limit - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;

    let found = 'search: {
        // Is there a big enough gap anywhere under the root?
        let root = mm.mm_rb.rb_root.rb_node;
        if root.is_null() || rb_vma(mm, root).rb_subtree_gap < length {
            break 'search None;
        }
        let mut node = root;
        'descend: loop {
            let vma = rb_vma(mm, node);
            // Lower addresses first: descend left while a gap there could fit.
            let mut gap_end = vm_start_gap(vma);
            let left = vma.vm_rb.rb_left;
            if gap_end >= low_limit && !left.is_null() && rb_vma(mm, left).rb_subtree_gap >= length
            {
                node = left;
                continue;
            }
            let mut gap_start = gap_start_below(vma);
            let mut vma = vma;
            loop {
                // check_current: the gap below `vma`.
                if gap_start > high_limit {
                    return Err(Errno::ENOMEM);
                }
                if gap_end >= low_limit && gap_end > gap_start && gap_end - gap_start >= length {
                    break 'search Some(gap_start);
                }
                // Then the higher addresses under this node, if a gap there could fit.
                let right = vma.vm_rb.rb_right;
                if !right.is_null() && rb_vma(mm, right).rb_subtree_gap >= length {
                    node = right;
                    continue 'descend;
                }
                // Go back up the tree to the first node we reached from its left: its own
                // gap is next in address order.
                let mut child = core::ptr::addr_of!(vma.vm_rb).cast_mut();
                loop {
                    // SAFETY: `child` is a node of the tree we borrow.
                    let parent = unsafe { rb_parent(child) };
                    if parent.is_null() {
                        break 'search None;
                    }
                    let pv = rb_vma(mm, parent);
                    if pv.vm_rb.rb_left == child {
                        vma = pv;
                        gap_start = gap_start_below(pv);
                        gap_end = vm_start_gap(pv);
                        break;
                    }
                    child = parent;
                }
            }
        }
    };
    let mut gap_start = match found {
        Some(g) => g,
        None => {
            // check_highest: the gap above every VMA.
            let g = mm.highest_vm_end;
            if g > high_limit {
                return Err(Errno::ENOMEM);
            }
            g
        }
    };
    // found: a gap that fits; keep it above the caller's low_limit, then align.
    if gap_start < info.low_limit {
        gap_start = info.low_limit;
    }
    gap_start += info.align_offset.wrapping_sub(gap_start) & info.align_mask;
    debug_assert!(gap_start + info.length <= info.high_limit);
    Ok(gap_start)
}

/// Most ancestors `unmapped_area_topdown` may have to come back to: one per level of the
/// tree. Every VMA is at least a page, so a mm has fewer than 2^36 of them, and a
/// red-black tree of n nodes is at most 2 log2(n + 1) high: below 74.
const TOPDOWN_PENDING: usize = 80;

/// Highest gap that fits (Linux 5.10: `unmapped_area_topdown`, mm/mmap.c). First the gap
/// above every VMA (`highest_vm_end`), then an O(log n) descent of the VMA tree, the
/// mirror image of [`unmapped_area`]: right subtrees first while their `rb_subtree_gap`
/// could hold `length` and their gaps may start low enough, then the gap below the VMA,
/// then the left subtree, going back to the deepest ancestor reached from the right that
/// still has something to offer. Locking: `mmap_lock` held (read is enough).
///
/// Difference from Linux: Linux goes back by climbing `rb_parent` and looking at every
/// ancestor reached from its right (its own gap, then its left subtree). We look at those
/// ancestors on the way down instead and keep the ones the climb would stop at, so going
/// back is one step. Same ancestors, same order, same result; but a search that went down
/// the right spine for nothing (the stack's gap above `mmap_base` makes the right
/// subtrees look promising) no longer climbs all the way back.
#[no_mangle]
#[inline(never)]
pub fn unmapped_area_topdown(mm: &MmapLocked, info: &VmUnmappedAreaInfo) -> KResult<usize> {
    // Room for the worst misalignment too, so any fitting gap can be aligned inside.
    let length = info
        .length
        .checked_add(info.align_mask)
        .ok_or(Errno::ENOMEM)?;
    // Limits for where such a gap may start and end.
    let mut gap_end = info.high_limit;
    if gap_end < length {
        return Err(Errno::ENOMEM);
    }
    let high_limit = gap_end - length;
    if info.low_limit > high_limit {
        return Err(Errno::ENOMEM);
    }
    let low_limit = info.low_limit + length;

    // First the free space above the last VMA, which no VMA's gap describes.
    if mm.highest_vm_end > high_limit {
        // Is there a big enough gap anywhere under the root?
        let root = mm.mm_rb.rb_root.rb_node;
        if root.is_null() || rb_vma(mm, root).rb_subtree_gap < length {
            return Err(Errno::ENOMEM);
        }
        // The ancestors we went right at whose own gap or left subtree must be looked
        // at when the right subtree has nothing (Linux finds them again by climbing),
        // deepest last. Only the first `depth` entries are ever written or read.
        let mut pending = [core::mem::MaybeUninit::<&VmArea>::uninit(); TOPDOWN_PENDING];
        let mut depth = 0;
        let mut node = root;
        let found = 'descend: loop {
            let vma = rb_vma(mm, node);
            // Higher addresses first: descend right while a gap there could fit.
            let gap_start = gap_start_below(vma);
            let right = vma.vm_rb.rb_right;
            if gap_start <= high_limit
                && !right.is_null()
                && rb_vma(mm, right).rb_subtree_gap >= length
            {
                // Coming back here, the climb would stop if this VMA's own gap ends too
                // low (ENOMEM) or fits, or if its left subtree looks promising.
                let left = vma.vm_rb.rb_left;
                let stop = (!left.is_null() && rb_vma(mm, left).rb_subtree_gap >= length) || {
                    let end = vm_start_gap(vma);
                    end < low_limit || (end > gap_start && end - gap_start >= length)
                };
                if stop {
                    pending[depth].write(vma);
                    depth += 1;
                }
                node = right;
                continue;
            }
            let mut vma = vma;
            let mut gap_start = gap_start;
            loop {
                // check_current: the gap below `vma`.
                let end = vm_start_gap(vma);
                if end < low_limit {
                    return Err(Errno::ENOMEM);
                }
                if gap_start <= high_limit && end > gap_start && end - gap_start >= length {
                    break 'descend end;
                }
                // Then lower addresses: the left subtree, if a gap there could fit.
                let left = vma.vm_rb.rb_left;
                if !left.is_null() && rb_vma(mm, left).rb_subtree_gap >= length {
                    node = left;
                    continue 'descend;
                }
                // Go back to the deepest ancestor reached from its right that the climb
                // would stop at.
                if depth == 0 {
                    return Err(Errno::ENOMEM);
                }
                depth -= 1;
                // SAFETY: entries below `depth` were written on the way down.
                vma = unsafe { pending[depth].assume_init() };
                gap_start = gap_start_below(vma);
            }
        };
        // found: clip the gap with the original high_limit.
        gap_end = found.min(info.high_limit);
    }
    // found_highest: compute the highest gap address at the desired alignment.
    gap_end -= info.length;
    gap_end -= gap_end.wrapping_sub(info.align_offset) & info.align_mask;
    debug_assert!(gap_end >= info.low_limit);
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

    // Linux: vm_area_alloc from vm_area_cachep; NULL -> unacct_error (ENOMEM).
    let mut vma = match crate::mm::vma::vm_area_box(vm_area_alloc(addr, addr + len, vm_flags)) {
        Ok(v) => v,
        Err(e) => {
            if charged != 0 {
                pt.vm_unacct_memory(charged);
            }
            return Err(e);
        }
    };
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
            vm_area_free(*vma);
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
            vm_area_free(*vma);
            return Err(e);
        }
    } else {
        vma_set_anonymous(&mut vma);
    }

    let key = vma.vm_start;
    crate::mm::vma::vma_link_box(mm, vma);
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

/// Most VMAs `DetachedVmas::unmap` hands to the page-table layer at once. munmap of a
/// range of 65,000 VMAs must not need one contiguous copy of them all (8.8 MB of a 16 MiB
/// heap: the allocation failed and the kernel panicked); 32 at a time it needs 4 KiB.
const UNMAP_BATCH: usize = 32;

/// VMAs `__do_munmap` took out of the tree, accounted for, whose pages and page tables
/// are still in place: `unmap_region` needs only the read lock, so munmap downgrades
/// before it (Linux: the `downgrade` of `__do_munmap`). The VMAs are chained through
/// their `vm_next` in address order, still in the allocations `vma_link` made (Linux:
/// the detached list `detach_vmas_to_be_unmapped` leaves).
pub struct DetachedVmas {
    first: *mut VmArea,
    count: usize,
    /// Where the page tables of the neighbours begin and end: the end of the VMA before
    /// the range (0 for none) and the start of the one after it (0 for none), taken
    /// when the VMAs were detached (Linux reads `prev->vm_end` and `next->vm_start` in
    /// `unmap_region`; they cannot move while `mmap_lock` is held).
    floor: usize,
    ceiling: usize,
    start: usize,
    end: usize,
}

impl DetachedVmas {
    /// Zap the pages and free the tables, then drop the VMAs (Linux: the end of
    /// `__do_munmap`: `unmap_region` (`unmap_vmas`, `free_pgtables`) + `remove_vma_list`),
    /// `UNMAP_BATCH` VMAs at a time: zap, free the tables that became empty, free the
    /// VMAs. A table shared with the next batch still maps its pages and stays until that
    /// batch's turn (our `free_pgtables` frees only empty tables). The overcommit charge
    /// goes back once at the end. `mmap_lock` held for read or write.
    pub fn unmap(mut self, _mm: &MmapLocked, pt: &mut dyn VmaPageTables) {
        let (floor, ceiling) = (self.floor, self.ceiling);
        let mut batch: Vec<VmArea> = Vec::with_capacity(self.count.min(UNMAP_BATCH));
        let mut nr_accounted = 0;
        let mut v = core::mem::replace(&mut self.first, core::ptr::null_mut());
        while !v.is_null() {
            while !v.is_null() && batch.len() < UNMAP_BATCH {
                // SAFETY: the chain holds VMAs `__vma_unlink` gave up as boxes and
                // `munmap_detach_vmas` leaked into it; each is taken back exactly once.
                let mut vma = *unsafe { Box::from_raw(v) };
                v = core::mem::replace(&mut vma.vm_next, core::ptr::null_mut());
                batch.push(vma);
            }
            pt.unmap_vmas(&batch, self.start, self.end);
            pt.free_pgtables(&batch, floor, ceiling);
            for vma in batch.drain(..) {
                if vma.vm_flags.contains(VmFlags::VM_ACCOUNT) {
                    nr_accounted += vma.vma_pages();
                }
                vm_area_free(vma); // remove_vma
            }
        }
        if nr_accounted != 0 {
            pt.vm_unacct_memory(nr_accounted);
        }
    }
}

impl Drop for DetachedVmas {
    /// Detached VMAs nobody unmapped (a path that gave up) are freed, not leaked.
    fn drop(&mut self) {
        let mut v = self.first;
        while !v.is_null() {
            // SAFETY: as in `unmap`: each chained VMA is taken back once.
            let mut vma = *unsafe { Box::from_raw(v) };
            v = core::mem::replace(&mut vma.vm_next, core::ptr::null_mut());
            vm_area_free(vma);
        }
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
    if let Some(detached) = munmap_detach_vmas(mm, start, len)? {
        detached.unmap(mm, pt);
    }
    Ok(())
}

/// The write-locked half of `__do_munmap`: checks, splits at both ends, munlock, detach
/// from the tree and the statistics (Linux: up to `detach_vmas_to_be_unmapped`). None
/// when nothing was mapped there.
pub fn munmap_detach_vmas(
    mm: &mut MmapLocked,
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
    let vma = vma as *const VmArea as *mut VmArea;
    // From here on the VMAs are followed as pointers and along vm_next/vm_prev, as
    // Linux does: a lookup by key would cost a tree descent when the cache misses.
    // SAFETY: `vma` is a VMA of `mm`'s tree, which we hold mutably.
    let mut prev = unsafe { (*vma).vm_prev };
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
        // SAFETY: as above; `vma` keeps the part below `start`.
        unsafe { __split_vma_at(mm, vma, start, false) }?;
        prev = vma;
    }

    // Does it split the last one?
    if let Some(last) = find_vma(mm, end) {
        if end > last.vm_start {
            let last = last as *const VmArea as *mut VmArea;
            // SAFETY: a VMA of `mm`'s tree, which we hold mutably.
            unsafe { __split_vma_at(mm, last, end, true) }?;
        }
    }

    // The VMAs of the range, from the first along vm_next (Linux: `vma_next(mm, prev)`):
    // no second descent of the tree, and nothing allocated.
    // SAFETY: `prev` is null or a VMA of `mm` (it stays, below the range).
    let first = match unsafe { prev.as_ref() } {
        Some(p) => p.vm_next,
        None => mm.mm_rb.first(),
    };
    // SAFETY: as above.
    let floor = unsafe { prev.as_ref() }.map_or(0, |p| p.vm_end);

    // Unlock any mlock()ed ranges before detaching VMAs.
    if mm.locked_vm != 0 {
        let pgd = mm.pgd;
        let mut v = first;
        // SAFETY: `v` and its `vm_next` successors are VMAs of `mm`, which we hold mutably.
        while let Some(vma) = unsafe { v.as_mut() }.filter(|vma| vma.vm_start < end) {
            if vma.vm_flags.contains(VmFlags::VM_LOCKED) {
                let pages = vma.vma_pages();
                crate::mm::mlock::munlock_vma_pages_all(vma, pgd);
                mm.locked_vm -= pages;
            }
            v = vma.vm_next;
        }
    }

    // Detach VMAs from the tree (detach_vmas_to_be_unmapped), chaining them through
    // vm_next, and take them out of the statistics.
    let (mut head, mut tail, mut count): (*mut VmArea, *mut VmArea, usize) =
        (core::ptr::null_mut(), core::ptr::null_mut(), 0);
    let mut v = first;
    // SAFETY: `v` is null or a VMA of `mm` still in the tree: the first, then the
    // successor read before its predecessor left.
    while let Some(vma) = unsafe { v.as_ref() }.filter(|vma| vma.vm_start < end) {
        let next = vma.vm_next;
        // SAFETY: a VMA of `mm`'s tree, which we hold mutably.
        let gone = Box::into_raw(unsafe { __vma_unlink(mm, v) });
        // SAFETY: `gone` is the detached VMA we own now; `tail` the previous one.
        unsafe {
            vm_stat_account(mm, (*gone).vm_flags, -((*gone).vma_pages() as isize));
            if tail.is_null() {
                head = gone;
            } else {
                (*tail).vm_next = gone;
            }
        }
        tail = gone;
        count += 1;
        v = next;
    }
    // SAFETY: `v` is null or the VMA after the range, still in the tree.
    let ceiling = unsafe { v.as_ref() }.map_or(0, |n| n.vm_start);
    Ok(Some(DetachedVmas {
        first: head,
        count,
        floor,
        ceiling,
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
    let Some(detached) = munmap_detach_vmas(&mut guard, start, len)? else {
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
    let pages = vma.vma_pages();
    let account = vma.vm_flags.contains(VmFlags::VM_ACCOUNT);
    vma_link(mm, vma).inspect_err(|_| {
        if account {
            pt.vm_unacct_memory(pages);
        }
    })
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
            // Linux: vm_area_alloc NULL -> vm_unacct_memory, ENOMEM.
            if let Err(e) = vma_link(mm, vma) {
                pt.vm_unacct_memory(npages);
                return Err(e);
            }
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
        return match munmap_detach_vmas(mm, newbrk, oldbrk - newbrk) {
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
/// Differs from Linux 5.10, which charges every growth but gives back at munmap/exit only
/// the pages of VM_ACCOUNT VMAs: a grown PROT_NONE (or read-only, or MAP_NORESERVE)
/// MAP_GROWSDOWN mapping leaves its growth in Committed_AS for good. Here only a VM_ACCOUNT
/// stack is charged, as mmap charged only those, so the charge always comes back.
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
    if vma.vm_flags.contains(VmFlags::VM_ACCOUNT) && pt.security_vm_enough_memory_mm(grow).is_err()
    {
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
    // Stack pages are anonymous: the VMA needs its anon_vma first (anon_vma_prepare).
    let v = mm
        .mm_rb
        .get_mut(&vma)
        .expect("expand_downwards: no such vma");
    if v.anon_vma.is_none() {
        v.set_anon_vma(AnonVma::new())?;
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
    let v = mm
        .mm_rb
        .get_mut(&vma)
        .expect("expand_downwards: vma vanished");
    v.vm_start = address;
    v.vm_pgoff = pgoff - grow;
    debug_assert_eq!(v.vm_end, end);
    crate::mm::vma::vma_rekey(mm, vma, address);
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
/// are counted as munlocked, not freed while mlocked), drop every VMA, give back the
/// overcommit charge of the VM_ACCOUNT ones through `pt.vm_unacct_memory`, then free every
/// page and table and the pgd (Linux: `exit_mmap`, from `mmput`). Nobody else can reach
/// the mm any more, so no lock is taken.
#[no_mangle]
#[inline(never)]
pub fn exit_mmap(mm: &mut MmapLocked, pt: &mut dyn VmaPageTables, pgd: usize, asid: u16) {
    if pgd != 0 && mm.locked_vm != 0 {
        let keys: Vec<usize> = mm.mm_rb.keys().copied().collect();
        for k in keys {
            let v = mm.mm_rb.get_mut(&k).expect("exit_mmap: vma vanished");
            if v.vm_flags.contains(VmFlags::VM_LOCKED) {
                crate::mm::mlock::munlock_vma_pages_all(v, pgd);
            }
        }
    }
    let nr_accounted: usize = mm
        .mm_rb
        .values()
        .filter(|v| v.vm_flags.contains(VmFlags::VM_ACCOUNT))
        .map(|v| v.vma_pages())
        .sum();
    // Pages and tables go first (Linux: unmap_vmas, free_pgtables), then the VMAs, whose
    // chains kept the pages' anon_vmas alive while the pages were mapped (remove_vma).
    if pgd != 0 {
        crate::mm::memory::free_user_pgtables(pgd, asid);
    }
    // Each VMA leaves its file's i_mmap and its anon_vmas' lists as it is freed
    // (`VmArea`'s and `AnonVmaChain`'s drops).
    mm.mm_rb.clear();
    mm.map_count = 0;
    mm.highest_vm_end = 0;
    if nr_accounted != 0 {
        pt.vm_unacct_memory(nr_accounted);
    }
}

#[cfg(test)]
#[path = "mmap_tests.rs"]
mod tests;

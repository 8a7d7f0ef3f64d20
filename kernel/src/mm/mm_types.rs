//! The address space of a process: [`MmStruct`] (Linux `struct mm_struct`).
//!
//! Linux: `include/linux/mm_types.h` (`struct mm_struct`), `kernel/fork.c` (`mm_alloc`,
//! `mmput`), `arch/arm64/include/asm/processor.h` (TASK_SIZE, STACK_TOP), `mm/util.c`
//! (`arch_pick_mmap_layout`, `mmap_base`).
//!
//! One `MmStruct` per address space, shared (`Arc`) by the tasks that use it. Its fields
//! are Linux's. Rust keeps the data a lock protects inside the lock, so the fields that
//! `mmap_lock` protects (the VMAs, `map_count`, `total_vm`, `locked_vm`, ..., `brk`,
//! `start_stack`) sit in [`MmapLocked`], reachable only through `mmap_read_lock(mm)` (a
//! `&MmapLocked`) or `mmap_write_lock(mm)` (a `&mut MmapLocked`); see `mm/mmap_lock.rs`.
//! The rest (`pgd`, the ASID `context`, `page_table_lock`, `mm_users`) is read without it.
//! `mm_users` is the `Arc`'s strong count: every thread of a process (and a vfork child)
//! holds one, and the last `mmput` (the last `Arc` dropped) runs `exit_mmap`.
//!
//! Lock order (outermost first), as in Linux: `mmap_lock` -> page lock (`PG_locked`) ->
//! `i_mmap_rwsem` / `anon_vma->rwsem` -> `page_table_lock` -> `lru_lock`. Reclaim never
//! takes an `mmap_lock`: it reaches PTEs through rmap under the page-table lock.
//!
//! Callers: exec builds one (`MmStruct::new`, then sets the code/data/brk/stack fields under
//! the write lock), fork copies one (`dup_mmap`), the mmap/munmap/mprotect/brk/mlock paths
//! change it under the write lock, the fault path and gup read it under the read lock.
use super::vma::VmArea;
use super::vma::VmFlags;
use super::PAGE_SIZE;
use crate::errno::{Errno, KResult};
use crate::kernel::resource::{
    default_rlimits, RLimit, RLIMIT_NLIMITS, RLIMIT_STACK, RLIM_INFINITY,
};
use crate::lib::rbtree::{rb_last, RbNode, RbRoot};
use crate::rb_entry;
use crate::sync::{RwSemaphore, SpinLock, SpinLockIrq};
use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ops::{Bound, Index, RangeBounds};
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// Size of the user address space: 48-bit VA through TTBR0 (Linux arm64: `TASK_SIZE_64`
/// with `VA_BITS = 48`).
pub const TASK_SIZE: usize = 1 << 48;
/// Top of the user stack (Linux arm64: `STACK_TOP` = `TASK_SIZE`, no randomisation).
pub const STACK_TOP: usize = TASK_SIZE;
/// Where the bottom-up (legacy) layout starts searching (Linux arm64:
/// `TASK_UNMAPPED_BASE` = `PAGE_ALIGN(DEFAULT_MAP_WINDOW_64 / 4)`).
pub const TASK_UNMAPPED_BASE: usize = TASK_SIZE / 4;
/// Lowest address user space may map (Linux: sysctl `vm.mmap_min_addr`, here its common
/// default 4096; `dac_mmap_min_addr` is the same value).
pub const MMAP_MIN_ADDR: usize = 4096;
/// Smallest gap kept between the stack top and `mmap_base` (Linux `mm/util.c`: `MIN_GAP`).
pub const MIN_GAP: usize = 128 << 20;
/// Largest such gap (Linux: `MAX_GAP` = `STACK_TOP / 6 * 5`).
pub const MAX_GAP: usize = STACK_TOP / 6 * 5;
/// Gap kept below a VM_GROWSDOWN stack VMA: 256 pages (Linux: `stack_guard_gap`).
pub const STACK_GUARD_GAP: usize = 256 * PAGE_SIZE;

/// Which search `get_unmapped_area` uses (Linux stores the function in
/// `mm->get_unmapped_area`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapLayout {
    /// Top-down below `mmap_base` (Linux: `arch_get_unmapped_area_topdown`), the default.
    TopDown,
    /// Bottom-up from `mmap_base` = TASK_UNMAPPED_BASE (Linux: `arch_get_unmapped_area`),
    /// chosen when the stack rlimit is infinite (`mmap_is_legacy`).
    Legacy,
}

/// The part of `struct mm_struct` that `mmap_lock` protects: a `&MmapLocked` means the
/// lock is held for read, a `&mut MmapLocked` for write.
///
/// Differences from Linux 5.10: the VMA tree and list are one [`MmRb`] that also owns
/// the VMAs (Linux frees them through `remove_vma`), there is no `vmacache`, and the
/// resource limits and the two capabilities the mmap code asks about are kept here
/// rather than in the task (the system-call layer copies them in, see `rlim`).
#[derive(Debug)]
pub struct MmapLocked {
    /// The VMAs, a red-black tree ordered by `vm_start` and augmented with each
    /// subtree's largest free gap, plus the `vm_next`/`vm_prev` list (Linux: `mm_rb` and
    /// `mmap`). Each VMA is its own allocation, so its address is a stable identity across
    /// merge, split and stack growth. Change it only through `vma_link`/`vma_unlink`, and
    /// tell it of moved boundaries with `vma_rekey`/`vma_adjust_gaps`, which keep
    /// `map_count`, the list, `rb_subtree_gap` and `highest_vm_end` right.
    pub mm_rb: MmRb,
    /// End of the highest VMA including its gap, 0 for an empty mm (Linux:
    /// `highest_vm_end`): where the free space above every VMA starts.
    pub highest_vm_end: usize,
    /// Number of VMAs (Linux: `map_count`), limited by `sysctl_max_map_count`.
    pub map_count: usize,
    /// Physical address of the top-level table, a copy of `MmStruct::pgd` for the code
    /// that holds only the lock (0 in host tests of the VMA code, which have no tables).
    pub pgd: usize,
    /// Which unmapped-area search this mm uses (Linux: `get_unmapped_area`).
    pub mmap_layout: MmapLayout,
    /// Top of the top-down mmap area, or bottom of the legacy one (Linux: `mmap_base`).
    pub mmap_base: usize,
    /// Size of the user address space (Linux: `task_size`).
    pub task_size: usize,
    /// Pages mapped, all VMAs together (Linux: `total_vm`).
    pub total_vm: usize,
    /// Pages in VM_LOCKED VMAs (Linux: `locked_vm`).
    pub locked_vm: usize,
    /// Pages pinned by get_user_pages users (Linux: `pinned_vm`).
    pub pinned_vm: usize,
    /// Pages in private writable non-stack VMAs (Linux: `data_vm`, VM_WRITE & ~VM_SHARED & ~VM_STACK).
    pub data_vm: usize,
    /// Pages in executable non-writable VMAs (Linux: `exec_vm`, VM_EXEC & ~VM_WRITE & ~VM_STACK).
    pub exec_vm: usize,
    /// Pages in stack VMAs (Linux: `stack_vm`, VM_STACK).
    pub stack_vm: usize,
    /// Flags every new VMA gets (Linux: `def_flags`: VM_LOCKED after mlockall(MCL_FUTURE)).
    pub def_flags: VmFlags,
    /// Start of the text segment (Linux: `start_code`).
    pub start_code: usize,
    /// End of the text segment (Linux: `end_code`).
    pub end_code: usize,
    /// Start of the data segment (Linux: `start_data`).
    pub start_data: usize,
    /// End of the data segment (Linux: `end_data`).
    pub end_data: usize,
    /// Start of the heap, the lowest `brk` may go (Linux: `start_brk`).
    pub start_brk: usize,
    /// Current program break (Linux: `brk`), not necessarily page aligned.
    pub brk: usize,
    /// Initial stack pointer area (Linux: `start_stack`); `[stack]` in /proc/self/maps.
    pub start_stack: usize,
    /// Start of the page holding the signal-return trampoline exec maps, 0 if none:
    /// where a handler installed without SA_RESTORER returns to (Linux arm64 returns
    /// through the vDSO's `sigtramp`, `mm->context.vdso`; arm32's `mm->context.sigpage`
    /// is this, and so is its "[sigpage]" name in /proc/<pid>/maps).
    pub sigpage: usize,
    /// Start of the argv strings (Linux: `arg_start`).
    pub arg_start: usize,
    /// End of the argv strings (Linux: `arg_end`).
    pub arg_end: usize,
    /// Start of the environment strings (Linux: `env_start`).
    pub env_start: usize,
    /// End of the environment strings (Linux: `env_end`).
    pub env_end: usize,
    /// Resource limits of the task using this mm. Linux reads `current->signal->rlim`;
    /// we keep a copy here so the mm code is pure: the system-call layer copies the
    /// task's limits in before calling (and exec after `setrlimit`).
    pub rlim: [RLimit; RLIMIT_NLIMITS],
    /// What `capable(CAP_IPC_LOCK)` says for the calling task (mlock limits are ignored
    /// when true). Set by the system-call layer from the credentials; default false.
    pub cap_ipc_lock: bool,
    /// What `capable(CAP_SYS_RAWIO)` says for the calling task (lets MAP_FIXED go below
    /// `mmap_min_addr`, Linux `cap_mmap_addr`). Default false.
    pub cap_sys_rawio: bool,
    /// What `capable(CAP_SYS_ADMIN)` says for the calling task (MADV_HWPOISON,
    /// `madvise_inject_error`). Default false.
    pub cap_sys_admin: bool,
    /// The `MmStruct` this sits in (Linux gets it by `container_of`), which `vma_link`
    /// stores in each VMA's `vm_mm` so rmap walks reach the page tables; null for the
    /// free-standing ones of host tests.
    pub owner: *const MmStruct,
}

// SAFETY: `owner` is only followed while the mm is alive (its VMAs, which are dropped
// with it, are what carry the pointer on); the rest of MmapLocked is Send + Sync.
unsafe impl Send for MmapLocked {}
// SAFETY: as above.
unsafe impl Sync for MmapLocked {}

impl MmapLocked {
    /// An empty address space with Linux's default limits and the top-down layout
    /// (Linux: `mm_alloc` + `arch_pick_mmap_layout` from `setup_new_exec`).
    pub fn new() -> Self {
        let mut mm = MmapLocked {
            mm_rb: MmRb::new(),
            highest_vm_end: 0,
            map_count: 0,
            pgd: 0,
            mmap_layout: MmapLayout::TopDown,
            mmap_base: 0,
            task_size: TASK_SIZE,
            total_vm: 0,
            locked_vm: 0,
            pinned_vm: 0,
            data_vm: 0,
            exec_vm: 0,
            stack_vm: 0,
            def_flags: VmFlags::empty(),
            start_code: 0,
            end_code: 0,
            start_data: 0,
            end_data: 0,
            start_brk: 0,
            brk: 0,
            start_stack: 0,
            sigpage: 0,
            arg_start: 0,
            arg_end: 0,
            env_start: 0,
            env_end: 0,
            rlim: default_rlimits(),
            cap_ipc_lock: false,
            cap_sys_rawio: false,
            cap_sys_admin: false,
            owner: core::ptr::null(),
        };
        arch_pick_mmap_layout(&mut mm);
        mm
    }

    /// The soft limit of `resource` in bytes or pages as Linux's `rlimit()` returns it
    /// (RLIM_INFINITY is `usize::MAX`).
    pub fn rlimit(&self, resource: usize) -> usize {
        rlim_to_usize(self.rlim[resource].cur)
    }

    /// The hard limit of `resource` (Linux: `rlimit_max()`).
    pub fn rlimit_max(&self, resource: usize) -> usize {
        rlim_to_usize(self.rlim[resource].max)
    }

    /// The VMA starting exactly at `start` (a tree key), if any.
    pub fn vma(&self, start: usize) -> Option<&VmArea> {
        self.mm_rb.get(&start)
    }

    /// The VMAs in address order (Linux: walking `mm->mmap` through `vm_next`).
    pub fn vmas(&self) -> impl DoubleEndedIterator<Item = &VmArea> {
        self.mm_rb.values()
    }
}

/// The VMAs of an mm (Linux: `mm->mm_rb`, the red-black tree, and `mm->mmap`, the head
/// of the `vm_next` list), owning each VMA through a leaked `Box`.
///
/// The tree is intrusive (`VmArea::vm_rb`), ordered by `vm_start` and augmented with
/// `VmArea::rb_subtree_gap` (see `mm/vma.rs`); the links are changed only by
/// `vma_link`/`vma_unlink` in `mm/vma.rs`. The methods here are the read side, shaped
/// like the `BTreeMap<usize, Box<VmArea>>` the tree replaced (keyed by `vm_start`): a
/// lookup is one O(log n) descent, and a `range` costs one descent per end and then
/// O(1) per step along `vm_next`/`vm_prev`.
pub struct MmRb {
    /// The tree (Linux: `mm->mm_rb`).
    pub rb_root: RbRoot,
    /// The lowest VMA, head of the `vm_next` list, or null (Linux: `mm->mmap`).
    pub mmap: *mut VmArea,
    /// Number of VMAs in the tree.
    pub(crate) len: usize,
    /// The VMAs the last lookups found, or null, in the slot of the address looked up
    /// (Linux 5.10: the per-thread `vmacache`, VMACACHE_SIZE 4, slot by
    /// `VMACACHE_HASH(addr)`; here per mm). A syscall looks the same few VMAs up several
    /// times, and with 65,000 VMAs each descent is some 20 levels. Readers under the read
    /// lock may fill it concurrently, hence atomics; `vma_unlink` clears a VMA's entries
    /// (under the write lock) before it can be freed, so none dangles.
    pub(crate) mmap_cache: [AtomicPtr<VmArea>; VMACACHE_SIZE],
}

/// Entries of `MmRb::mmap_cache` (Linux: `VMACACHE_SIZE`).
pub const VMACACHE_SIZE: usize = 4;

/// The cache slot of a lookup of `addr` (Linux: `VMACACHE_HASH`).
#[inline]
pub fn vmacache_hash(addr: usize) -> usize {
    (addr >> super::PAGE_SHIFT) & (VMACACHE_SIZE - 1)
}

// SAFETY: the tree and list links are only followed and changed under the owning mm's
// `mmap_lock` (read for following, write for changing); the VMAs they reach are owned by
// this structure alone, and VmArea itself is Send + Sync.
unsafe impl Send for MmRb {}
// SAFETY: as above.
unsafe impl Sync for MmRb {}

/// The VMA around a tree node (Linux: `rb_entry(node, struct vm_area_struct, vm_rb)`);
/// only pointer arithmetic, the caller dereferences.
#[inline]
pub fn vma_of(node: *mut RbNode) -> *mut VmArea {
    rb_entry!(node, VmArea, vm_rb)
}

impl MmRb {
    /// No VMAs (Linux: `RB_ROOT`, `mmap = NULL`).
    pub const fn new() -> Self {
        MmRb {
            rb_root: RbRoot::new(),
            mmap: core::ptr::null_mut(),
            len: 0,
            mmap_cache: [const { AtomicPtr::new(core::ptr::null_mut()) }; VMACACHE_SIZE],
        }
    }

    /// Number of VMAs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No VMAs at all?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The VMA with the smallest `vm_start >= key`, or null: one descent.
    pub fn first_at_or_above(&self, key: usize) -> *mut VmArea {
        let mut best = core::ptr::null_mut();
        let mut node = self.rb_root.rb_node;
        while !node.is_null() {
            let v = vma_of(node);
            // SAFETY: tree nodes are `vm_rb` fields of live VMAs owned by `self`, which
            // we borrow.
            let vr = unsafe { &*v };
            if vr.vm_start >= key {
                best = v;
                node = vr.vm_rb.rb_left;
            } else {
                node = vr.vm_rb.rb_right;
            }
        }
        best
    }

    /// The VMA with the largest `vm_start <= key`, or null: one descent.
    pub fn last_at_or_below(&self, key: usize) -> *mut VmArea {
        let mut best = core::ptr::null_mut();
        let mut node = self.rb_root.rb_node;
        while !node.is_null() {
            let v = vma_of(node);
            // SAFETY: as in `first_at_or_above`.
            let vr = unsafe { &*v };
            if vr.vm_start <= key {
                best = v;
                node = vr.vm_rb.rb_right;
            } else {
                node = vr.vm_rb.rb_left;
            }
        }
        best
    }

    /// The VMA starting exactly at `key`, or null: a cached VMA, else one descent.
    pub fn find(&self, key: usize) -> *mut VmArea {
        for slot in &self.mmap_cache {
            let c = slot.load(Ordering::Relaxed);
            // SAFETY: a non-null cache entry is a live VMA of this tree (see `mmap_cache`).
            if !c.is_null() && unsafe { (*c).vm_start } == key {
                return c;
            }
        }
        let v = self.last_at_or_below(key);
        // SAFETY: a non-null result is a live VMA of this tree.
        if !v.is_null() && unsafe { (*v).vm_start } == key {
            self.cache_update(key, v);
            v
        } else {
            core::ptr::null_mut()
        }
    }

    /// The cached VMA containing `addr`, or null (Linux: `vmacache_find`).
    pub fn cache_find(&self, addr: usize) -> *mut VmArea {
        for slot in &self.mmap_cache {
            let c = slot.load(Ordering::Relaxed);
            // SAFETY: a non-null cache entry is a live VMA of this tree (see `mmap_cache`).
            if !c.is_null() && unsafe { (*c).vm_start <= addr && addr < (*c).vm_end } {
                return c;
            }
        }
        core::ptr::null_mut()
    }

    /// Remember that a lookup of `addr` found `vma` (Linux: `vmacache_update`).
    pub fn cache_update(&self, addr: usize, vma: *mut VmArea) {
        self.mmap_cache[vmacache_hash(addr)].store(vma, Ordering::Relaxed);
    }

    /// Forget `vma`: it is leaving the tree (Linux: `vmacache_invalidate`, here per VMA).
    pub fn cache_forget(&self, vma: *mut VmArea) {
        for slot in &self.mmap_cache {
            if slot.load(Ordering::Relaxed) == vma {
                slot.store(core::ptr::null_mut(), Ordering::Relaxed);
            }
        }
    }

    /// The lowest VMA, or null (Linux: `mm->mmap`).
    pub fn first(&self) -> *mut VmArea {
        self.mmap
    }

    /// The highest VMA, or null (Linux: `rb_last` of the tree).
    pub fn last(&self) -> *mut VmArea {
        // SAFETY: a valid tree we borrow.
        let n = unsafe { rb_last(&self.rb_root) };
        if n.is_null() {
            core::ptr::null_mut()
        } else {
            vma_of(n)
        }
    }

    /// The VMA starting at `key`.
    pub fn get(&self, key: &usize) -> Option<&VmArea> {
        // SAFETY: a non-null result is a live VMA owned by `self`, borrowed with it.
        unsafe { self.find(*key).as_ref() }
    }

    /// The VMA starting at `key`, to change. Moving its `vm_start`/`vm_end` must be
    /// followed by `vma_rekey`/`vma_adjust_gaps` (they feed `rb_subtree_gap`).
    pub fn get_mut(&mut self, key: &usize) -> Option<&mut VmArea> {
        // SAFETY: as in `get`; `&mut self` makes the reference unique.
        unsafe { self.find(*key).as_mut() }
    }

    /// The VMAs whose `vm_start` lies in `range`, in address order, as `(&vm_start, vma)`.
    pub fn range<R: RangeBounds<usize>>(&self, range: R) -> VmaIter<'_> {
        let front = match range.start_bound() {
            Bound::Included(&a) => self.first_at_or_above(a),
            Bound::Excluded(&a) => match a.checked_add(1) {
                Some(a) => self.first_at_or_above(a),
                None => core::ptr::null_mut(),
            },
            Bound::Unbounded => self.first(),
        };
        let back = match range.end_bound() {
            Bound::Included(&b) => self.last_at_or_below(b),
            Bound::Excluded(&b) => match b.checked_sub(1) {
                Some(b) => self.last_at_or_below(b),
                None => core::ptr::null_mut(),
            },
            Bound::Unbounded => self.last(),
        };
        // SAFETY: non-null ends are live VMAs of this tree.
        if front.is_null() || back.is_null() || unsafe { (*front).vm_start > (*back).vm_start } {
            return VmaIter::empty();
        }
        VmaIter {
            front,
            back,
            _tree: PhantomData,
        }
    }

    /// All VMAs in address order, as `(&vm_start, vma)`.
    pub fn iter(&self) -> VmaIter<'_> {
        if self.mmap.is_null() {
            return VmaIter::empty();
        }
        VmaIter {
            front: self.mmap,
            back: self.last(),
            _tree: PhantomData,
        }
    }

    /// All VMAs in address order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &VmArea> {
        self.iter().map(|(_, v)| v)
    }

    /// The `vm_start` of every VMA, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &usize> {
        self.iter().map(|(k, _)| k)
    }

    /// Free every VMA and empty the tree (exit_mmap; Linux: the `remove_vma` loop).
    pub fn clear(&mut self) {
        let mut v = self.mmap;
        while !v.is_null() {
            // SAFETY: every VMA of the list was leaked from a Box by `vma_link` and is
            // owned by this tree; we read its successor before freeing it, and clear the
            // tree below, so nothing points at the freed VMAs afterwards.
            let next = unsafe { (*v).vm_next };
            // SAFETY: as above.
            let vma = unsafe { Box::from_raw(v) };
            // Linux: `remove_vma`'s `vm_ops->close` (a child mm dropped after a failed
            // fork still had its copies opened by `vm_area_dup`).
            if let Some(ops) = vma.vm_ops {
                ops.close(&vma);
            }
            drop(vma);
            v = next;
        }
        self.mmap = core::ptr::null_mut();
        self.rb_root = RbRoot::new();
        self.len = 0;
        for slot in &self.mmap_cache {
            slot.store(core::ptr::null_mut(), Ordering::Relaxed);
        }
    }
}

impl Drop for MmRb {
    fn drop(&mut self) {
        self.clear();
    }
}

impl core::fmt::Debug for MmRb {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

impl Index<&usize> for MmRb {
    type Output = VmArea;
    /// The VMA starting at `key`; panics when there is none.
    fn index(&self, key: &usize) -> &VmArea {
        self.get(key).expect("mm_rb: no vma at this key")
    }
}

impl<'a> IntoIterator for &'a MmRb {
    type Item = (&'a usize, &'a VmArea);
    type IntoIter = VmaIter<'a>;
    fn into_iter(self) -> VmaIter<'a> {
        self.iter()
    }
}

/// A walk over consecutive VMAs along `vm_next` (forwards) and `vm_prev` (backwards),
/// from `front` to `back` inclusive: O(1) per step.
pub struct VmaIter<'a> {
    front: *const VmArea,
    back: *const VmArea,
    _tree: PhantomData<&'a MmRb>,
}

impl VmaIter<'_> {
    fn empty() -> Self {
        VmaIter {
            front: core::ptr::null(),
            back: core::ptr::null(),
            _tree: PhantomData,
        }
    }
}

impl<'a> Iterator for VmaIter<'a> {
    type Item = (&'a usize, &'a VmArea);
    fn next(&mut self) -> Option<Self::Item> {
        if self.front.is_null() {
            return None;
        }
        // SAFETY: `front` is a live VMA of the tree borrowed for 'a, at or before `back`
        // in the list.
        let v: &'a VmArea = unsafe { &*self.front };
        if core::ptr::eq(self.front, self.back) {
            *self = VmaIter::empty();
        } else {
            self.front = v.vm_next;
        }
        Some((&v.vm_start, v))
    }
}

impl DoubleEndedIterator for VmaIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.back.is_null() {
            return None;
        }
        // SAFETY: as in `next`, from the other end.
        let v = unsafe { &*self.back };
        if core::ptr::eq(self.front, self.back) {
            *self = VmaIter::empty();
        } else {
            self.back = v.vm_prev;
        }
        Some((&v.vm_start, v))
    }
}

/// The ASID state of an address space (Linux arm64: `mm_context_t`): `generation << 16 |
/// asid`, 0 before the first `switch_mm`.
#[derive(Debug, Default)]
pub struct MmContext {
    /// Linux: `mm->context.id`.
    pub id: AtomicU64,
}

/// A process address space (Linux: `struct mm_struct`). See the module comment for which
/// fields sit behind `mmap_lock`.
pub struct MmStruct {
    /// Physical address of the top-level table (Linux: `pgd`); fixed for the mm's life.
    pub pgd: usize,
    /// The ASID (Linux: `context`), changed by `switch_mm` on a rollover.
    pub context: MmContext,
    /// The VMAs and the counters, behind a sleeping reader/writer semaphore (Linux:
    /// `mmap_lock`, called `mmap_sem` before 5.8). `p mm.mmap_lock.count` in GDB: 1 or more
    /// readers, -1 a writer, 0 free.
    pub mmap_lock: RwSemaphore<MmapLocked>,
    /// Serialises changes of PTEs that may race with a walk from the page side (Linux:
    /// `page_table_lock`, a plain spin lock: no interrupt handler takes it; split PTE
    /// locks are a config option we do not take).
    pub page_table_lock: SpinLock<()>,
}

/// Every live address space, for the walks that must visit them all rather than the
/// VMAs of one page or file (Linux: `mmlist`).
static MMLIST: SpinLockIrq<Vec<Weak<MmStruct>>> = SpinLockIrq::new(Vec::new());

impl MmStruct {
    /// A new empty address space with its own pgd (Linux: `mm_alloc` -> `mm_init` ->
    /// `pgd_alloc`). ENOMEM when no page is left for the pgd.
    pub fn new() -> KResult<Arc<MmStruct>> {
        let pgd = crate::mm::memory::pgd_alloc().ok_or(Errno::ENOMEM)?;
        let mut locked = MmapLocked::new();
        locked.pgd = pgd;
        let mm = Arc::new_cyclic(|me| {
            locked.owner = me.as_ptr();
            MmStruct {
                pgd,
                context: MmContext::default(),
                mmap_lock: RwSemaphore::new(locked),
                page_table_lock: SpinLock::new(()),
            }
        });
        let mut list = MMLIST.lock();
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&mm));
        Ok(mm)
    }

    /// The ASID currently assigned (0 before the first switch).
    pub fn asid(&self) -> u16 {
        (self.context.id.load(Ordering::Relaxed) & 0xffff) as u16
    }

    /// The page-table side the VMA code calls (unmap, change_protection, munlock).
    pub fn pagetables(&self) -> crate::mm::memory::MmPageTables<'_> {
        crate::mm::memory::MmPageTables {
            pgd: self.pgd,
            asid: self.asid(),
            ptl: &self.page_table_lock,
            populate: Vec::new(),
        }
    }
}

#[cfg(test)]
impl MmStruct {
    /// An mm around `locked` with no page tables (pgd 0): for host tests of the code that
    /// takes `mmap_lock` but faults nothing in.
    pub fn for_test(locked: MmapLocked) -> MmStruct {
        Self::for_test_pgd(locked, 0)
    }

    /// An mm around `locked` on the page tables at `pgd`, for host tests of the fault
    /// path (dropping it frees them, unless the test keeps it in a `ManuallyDrop`).
    pub fn for_test_pgd(locked: MmapLocked, pgd: usize) -> MmStruct {
        MmStruct {
            pgd,
            context: MmContext::default(),
            mmap_lock: RwSemaphore::new(locked),
            page_table_lock: SpinLock::new(()),
        }
    }
}

impl Drop for MmStruct {
    /// The last user is gone (Linux: `mmput` -> `exit_mmap`).
    fn drop(&mut self) {
        let (pgd, asid) = (self.pgd, self.asid());
        let mut pt = crate::mm::memory::MmPageTables {
            pgd,
            asid,
            ptl: &self.page_table_lock,
            populate: Vec::new(),
        };
        // Debug builds check the tables against the VMAs first (mm/debug.rs).
        crate::mm::debug::debug_check_mm(self.mmap_lock.get_mut(), pgd);
        crate::mm::mmap::exit_mmap(self.mmap_lock.get_mut(), &mut pt, pgd, asid);
    }
}

/// Every live address space (Linux: walking `mmlist`, as swapoff's `try_to_unuse` does).
pub fn for_each_mm(mut f: impl FnMut(&Arc<MmStruct>)) {
    let live: Vec<Arc<MmStruct>> = MMLIST.lock().iter().filter_map(Weak::upgrade).collect();
    for mm in &live {
        f(mm);
    }
}

fn rlim_to_usize(v: u64) -> usize {
    if v == RLIM_INFINITY {
        usize::MAX
    } else {
        usize::try_from(v).unwrap_or(usize::MAX)
    }
}

/// Linux `mm/util.c` `mmap_is_legacy`: bottom-up when the stack may grow without limit.
/// (No ADDR_COMPAT_LAYOUT personality and `vm.legacy_va_layout` = 0 here.)
fn mmap_is_legacy(rlim_stack: &RLimit) -> bool {
    rlim_stack.cur == RLIM_INFINITY
}

/// Top of the mmap area: below the stack rlimit plus the stack guard gap, the sum clamped
/// to [128 MiB, 5/6 of STACK_TOP] (Linux `mm/util.c`: `mmap_base`, with `rnd` = 0: no
/// randomisation). Note that Linux adds the guard gap before clamping.
pub fn mmap_base(rlim_stack: &RLimit) -> usize {
    let mut gap = rlim_to_usize(rlim_stack.cur);
    let pad = STACK_GUARD_GAP;
    // Values close to RLIM_INFINITY can overflow.
    if gap.wrapping_add(pad) > gap {
        gap += pad;
    }
    gap = gap.clamp(MIN_GAP, MAX_GAP);
    (STACK_TOP - gap + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Choose the mmap layout and base from the stack rlimit (Linux `mm/util.c`:
/// `arch_pick_mmap_layout`, called by exec). No randomisation: `random_factor` is 0.
#[no_mangle]
#[inline(never)]
pub fn arch_pick_mmap_layout(mm: &mut MmapLocked) {
    let rlim_stack = mm.rlim[RLIMIT_STACK];
    if mmap_is_legacy(&rlim_stack) {
        mm.mmap_base = TASK_UNMAPPED_BASE;
        mm.mmap_layout = MmapLayout::Legacy;
    } else {
        mm.mmap_base = mmap_base(&rlim_stack);
        mm.mmap_layout = MmapLayout::TopDown;
    }
}

/// How many users the address space has: the threads (and vfork children) running in it,
/// plus short-lived references such as /proc readers (Linux: `atomic_read(&mm->mm_users)`).
pub fn mm_users(mm: &alloc::sync::Arc<MmStruct>) -> usize {
    alloc::sync::Arc::strong_count(mm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::resource::{RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK};

    #[test]
    fn mmap_base_is_128m_below_stack_top_with_default_8m_stack_rlimit() {
        // 8 MiB + 1 MiB guard gap < MIN_GAP, so the gap is 128 MiB.
        let mm = MmapLocked::new();
        assert_eq!(mm.mmap_layout, MmapLayout::TopDown);
        assert_eq!(mm.mmap_base, 0xffff_f800_0000);
    }

    #[test]
    fn mmap_base_adds_stack_guard_gap_before_clamping() {
        let r = RLimit {
            cur: 512 << 20,
            max: RLIM_INFINITY,
        };
        assert_eq!(mmap_base(&r), STACK_TOP - (512 << 20) - STACK_GUARD_GAP);
        let huge = RLimit {
            cur: 0xf000_0000_0000,
            max: RLIM_INFINITY,
        };
        // Clamped to MAX_GAP, then page aligned.
        assert_eq!(mmap_base(&huge), 0x2aaa_aaaa_b000);
        assert_eq!(
            mmap_base(&huge),
            (STACK_TOP - MAX_GAP + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
        );
    }

    #[test]
    fn infinite_stack_rlimit_picks_legacy_bottom_up_layout() {
        let mut mm = MmapLocked::new();
        mm.rlim[RLIMIT_STACK].cur = RLIM_INFINITY;
        arch_pick_mmap_layout(&mut mm);
        assert_eq!(mm.mmap_layout, MmapLayout::Legacy);
        assert_eq!(mm.mmap_base, 1 << 46);
    }

    #[test]
    fn default_rlimits_are_linux_init_rlimits() {
        let mm = MmapLocked::new();
        assert_eq!(mm.rlimit(RLIMIT_AS), usize::MAX);
        assert_eq!(mm.rlimit(RLIMIT_DATA), usize::MAX);
        assert_eq!(mm.rlimit(RLIMIT_STACK), 8 << 20);
        assert_eq!(mm.rlimit(RLIMIT_MEMLOCK), 8 << 20);
    }
}

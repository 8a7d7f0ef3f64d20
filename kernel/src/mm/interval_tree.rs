//! A file's `i_mmap`: every VMA that maps the file, found by file page offset.
//!
//! Linux: `mm/interval_tree.c` (`vma_interval_tree_insert`, `vma_interval_tree_remove`,
//! `vma_interval_tree_foreach`), an augmented rbtree of VMAs keyed by the page-offset
//! interval `[vm_pgoff, vm_pgoff + pages - 1]` under `mapping->i_mmap_rwsem`. Callers:
//! `vma_link`/`__vma_unlink` and `__vma_adjust` (`mm/vma.rs`: `__vma_link_file`,
//! `__remove_shared_vm_struct`) keep it; `unmap_mapping_range` (`mm/memory.rs`) and
//! `rmap_walk_file` (`mm/rmap.rs`) walk it.
//!
//! Difference from Linux 5.10: an ordered set keyed by `(vm_pgoff, VMA address)` rather
//! than an interval tree, so a query skips every VMA starting past its last page in
//! O(log n) but looks at all that start before it; and a spin lock rather than a rwsem
//! (nothing sleeps while holding it here).
use crate::mm::vma::VmArea;
use crate::sync::{SpinLock, SpinLockGuard};
use alloc::collections::BTreeSet;
use core::ops::Bound::Included;

/// The VMAs of one file (Linux: `mapping->i_mmap` + `i_mmap_rwsem`).
pub struct IMmap(SpinLock<BTreeSet<(usize, usize)>>);

/// The locked `i_mmap` (Linux: between `i_mmap_lock_read`/`write` and the unlock).
pub type IMmapGuard<'a> = SpinLockGuard<'a, BTreeSet<(usize, usize)>>;

impl IMmap {
    /// No VMA maps the file.
    pub const fn new() -> Self {
        IMmap(SpinLock::new(BTreeSet::new()))
    }

    /// Take the lock (Linux: `i_mmap_lock_write` / `i_mmap_lock_read`).
    pub fn lock(&self) -> IMmapGuard<'_> {
        self.0.lock()
    }

    /// Does no VMA map the file?
    pub fn is_empty(&self) -> bool {
        self.0.lock().is_empty()
    }

    /// How many VMAs map the file.
    pub fn len(&self) -> usize {
        self.0.lock().len()
    }
}

impl Default for IMmap {
    fn default() -> Self {
        Self::new()
    }
}

fn key(vma: &VmArea) -> (usize, usize) {
    (vma.vm_pgoff, vma as *const VmArea as usize)
}

/// Add `vma`, which lives at its current address until `vma_interval_tree_remove`
/// (Linux: `vma_interval_tree_insert`). Caller holds the lock.
#[no_mangle]
#[inline(never)]
pub fn vma_interval_tree_insert(vma: &VmArea, root: &mut IMmapGuard<'_>) {
    let inserted = root.insert(key(vma));
    debug_assert!(inserted, "vma_interval_tree_insert: already there");
}

/// Take `vma` out, with the `vm_pgoff` it was inserted with (Linux:
/// `vma_interval_tree_remove`). Caller holds the lock.
#[no_mangle]
#[inline(never)]
pub fn vma_interval_tree_remove(vma: &VmArea, root: &mut IMmapGuard<'_>) {
    if !root.remove(&key(vma)) {
        // Its pgoff changed without a re-insert: a bug, but never leave a dangling VMA.
        debug_assert!(false, "vma_interval_tree_remove: vma not under its pgoff");
        let addr = vma as *const VmArea as usize;
        root.retain(|&(_, a)| a != addr);
    }
}

/// The VMAs of the locked `root` that map some page of `[first, last]` (page offsets),
/// in pgoff order (Linux: `vma_interval_tree_foreach`, a macro over
/// `vma_interval_tree_iter_first`/`_next`).
pub fn vma_interval_tree_iter<'a>(
    root: &'a IMmapGuard<'_>,
    first: usize,
    last: usize,
) -> impl Iterator<Item = &'a VmArea> + 'a {
    root.range((Included((0, 0)), Included((last, usize::MAX))))
        .map(|&(_, addr)| {
            // SAFETY: a VMA in i_mmap is boxed in its mm's tree and leaves i_mmap (under
            // this lock, which the caller holds for the iterator's life) before it moves
            // or is freed.
            unsafe { &*(addr as *const VmArea) }
        })
        .filter(move |v| v.vm_pgoff + v.vma_pages() > first)
}

//! The kernel heap: `Box`, `Vec` and the buddy allocator's own free lists live here.
//! Linux has SLUB (`mm/slub.c`); we use the `linked_list_allocator` crate over one
//! physically contiguous region carved out by memblock at boot.
use core::alloc::{GlobalAlloc, Layout};
use linked_list_allocator::LockedHeap;

/// The heap behind a lock that masks interrupts while held. Interrupt handlers allocate
/// (a timer's wake-up grows the run queue), so a plain spinlock deadlocks when the
/// interrupt lands on code that holds it: the handler spins on a lock its own CPU holds.
/// Linux's slab takes its locks with interrupts off for the same reason
/// (`local_irq_save` in `slab_alloc_node`, `spin_lock_irqsave` on the node lists).
pub struct IrqSafeHeap(LockedHeap);

impl IrqSafeHeap {
    /// An empty heap; `kmem_cache_init` gives it memory.
    pub const fn empty() -> Self {
        IrqSafeHeap(LockedHeap::empty())
    }

    /// Run `f` on the heap, locked, with interrupts masked.
    pub fn with<R>(&self, f: impl FnOnce(&mut linked_list_allocator::Heap) -> R) -> R {
        let flags = crate::arch::cpu::local_irq_save();
        let r = f(&mut self.0.lock());
        crate::arch::cpu::local_irq_restore(flags);
        r
    }
}

// SAFETY: every call goes to `LockedHeap`'s allocator under its lock, with interrupts
// masked so no handler on this CPU can re-enter it.
unsafe impl GlobalAlloc for IrqSafeHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let flags = crate::arch::cpu::local_irq_save();
        // SAFETY: forwarded with the caller's layout contract.
        let p = unsafe { self.0.alloc(layout) };
        crate::arch::cpu::local_irq_restore(flags);
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let flags = crate::arch::cpu::local_irq_save();
        // SAFETY: forwarded with the caller's contract (ptr came from alloc with layout).
        unsafe { self.0.dealloc(ptr, layout) };
        crate::arch::cpu::local_irq_restore(flags);
    }
}

/// The global allocator (only on the target; host tests use the system allocator).
#[cfg_attr(target_os = "none", global_allocator)]
pub static KERNEL_HEAP: IrqSafeHeap = IrqSafeHeap::empty();

/// Heap size for `ram_bytes` of RAM: 1/32 of RAM, between 1 MiB and 16 MiB.
pub fn heap_size_for(ram_bytes: usize) -> usize {
    (ram_bytes / 32).clamp(1 << 20, 16 << 20)
}

/// Hand `[start, start + size)` (linear-map addresses) to the heap. Linux: `kmem_cache_init`.
///
/// # Safety
/// The region must be unused RAM, mapped, and never handed out again.
pub unsafe fn kmem_cache_init(start: usize, size: usize) {
    // SAFETY: the caller's contract: the range is unused memory mapped read-write for the heap.
    KERNEL_HEAP.with(|h| unsafe { h.init(start as *mut u8, size) });
}

/// Bytes in use and free in the heap.
pub fn heap_usage() -> (usize, usize) {
    KERNEL_HEAP.with(|h| (h.used(), h.free()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn heap_scales_with_ram() {
        assert_eq!(super::heap_size_for(64 << 20), 2 << 20);
        assert_eq!(super::heap_size_for(16 << 20), 1 << 20);
        assert_eq!(super::heap_size_for(2 << 30), 16 << 20);
    }
}

//! The kernel heap: `Box`, `Vec` and the buddy allocator's own free lists live here.
//! Linux has SLUB (`mm/slub.c`); we use the `linked_list_allocator` crate over one
//! physically contiguous region carved out by memblock at boot.
use linked_list_allocator::LockedHeap;

/// The global allocator (only on the target; host tests use the system allocator).
#[cfg_attr(target_os = "none", global_allocator)]
pub static KERNEL_HEAP: LockedHeap = LockedHeap::empty();

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
    unsafe { KERNEL_HEAP.lock().init(start as *mut u8, size) };
}

/// Bytes in use and free in the heap.
pub fn heap_usage() -> (usize, usize) {
    let h = KERNEL_HEAP.lock();
    (h.used(), h.free())
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

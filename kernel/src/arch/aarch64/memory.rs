//! Kernel virtual memory layout. Linux: `arch/arm64/include/asm/memory.h`.
//!
//! ```text
//! 0x0000_0000_0000_0000 .. 0x0001_0000_0000_0000  user (TTBR0), 48 bits
//! 0xffff_0000_0000_0000 ..                         linear map of all RAM (TTBR1);
//!                                                  the kernel image lives inside it
//! 0xffff_fe00_0000_0000 ..                         ioremap space (MMIO, Device-nGnRE)
//! ```
//! On the host (unit tests) "physical memory" is a buffer and `phys_to_virt` adds the
//! buffer's offset instead of `PAGE_OFFSET`.

/// log2 of the page size: 4 KiB granule.
pub const PAGE_SHIFT: usize = 12;
/// Bytes in a page.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Start of the linear map: virtual = physical + PAGE_OFFSET.
pub const PAGE_OFFSET: usize = 0xffff_0000_0000_0000;
/// Start of the MMIO mapping area used by `ioremap`.
pub const IOREMAP_START: usize = 0xffff_fe00_0000_0000;
/// End of the MMIO mapping area.
pub const IOREMAP_END: usize = 0xffff_fe40_0000_0000;

#[cfg(not(target_os = "none"))]
static HOST_PHYS_OFFSET: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Offset from a physical address to its linear-map alias.
#[inline(always)]
pub fn phys_offset() -> usize {
    #[cfg(target_os = "none")]
    {
        PAGE_OFFSET
    }
    #[cfg(not(target_os = "none"))]
    {
        HOST_PHYS_OFFSET.load(core::sync::atomic::Ordering::Relaxed)
    }
}

/// Host unit tests: make `phys_to_virt(base_pa)` land at `buf`.
#[cfg(not(target_os = "none"))]
pub fn set_host_phys_window(buf: *mut u8, base_pa: usize) {
    HOST_PHYS_OFFSET.store(
        (buf as usize).wrapping_sub(base_pa),
        core::sync::atomic::Ordering::Relaxed,
    );
}

/// Linear-map address of physical address `pa` (Linux: `__va`).
#[inline(always)]
pub fn phys_to_virt(pa: usize) -> usize {
    pa.wrapping_add(phys_offset())
}

/// Physical address of a linear-map address (Linux: `__pa`).
#[inline(always)]
pub fn virt_to_phys(va: usize) -> usize {
    va.wrapping_sub(phys_offset())
}

/// Round `x` up to a multiple of `align` (a power of two).
#[inline(always)]
pub const fn align_up(x: usize, align: usize) -> usize {
    (x + align - 1) & !(align - 1)
}

/// Round `x` down to a multiple of `align` (a power of two).
#[inline(always)]
pub const fn align_down(x: usize, align: usize) -> usize {
    x & !(align - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_helpers_round_to_pages() {
        assert_eq!(align_up(1, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(align_up(PAGE_SIZE, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(align_down(PAGE_SIZE + 5, PAGE_SIZE), PAGE_SIZE);
        assert_eq!(align_up(0x4020_0001, 1 << 21), 0x4040_0000);
    }

    #[test]
    fn linear_map_is_an_offset() {
        // On the target the offset is PAGE_OFFSET; the arithmetic is the same on the host.
        let pa = 0x4020_0000usize;
        assert_eq!(virt_to_phys(phys_to_virt(pa)), pa);
        assert_eq!(PAGE_OFFSET + pa, 0xffff_0000_4020_0000);
    }
}

/// Where the link script put the kernel's sections (linear-map addresses, page aligned).
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// `__kernel_start`: first byte of text.
    pub start: usize,
    /// `__text_end` = start of rodata.
    pub text_end: usize,
    /// `__rodata_end` = start of data.
    pub rodata_end: usize,
    /// `__bss_start`.
    pub bss_start: usize,
    /// `__kernel_end`.
    pub end: usize,
}

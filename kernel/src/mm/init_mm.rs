//! The kernel's own address space and the boot-time allocators behind its page tables.
//!
//! Linux: `mm/init-mm.c` (`init_mm`, whose `pgd` is `swapper_pg_dir`), `mm/memblock.c`
//! (the `memblock` global), `arch/arm64/mm/mmu.c` (`early_pgtable_alloc`,
//! `pgd_pgtable_alloc`). `init/` fills these in during boot (`paging_init`, `mem_init`);
//! mm/ (ioremap) and arch code read them, so they live on the mm floor.
use crate::arch::PAGE_SIZE;
use crate::mm::memblock::Memblock;
use crate::mm::page;
use crate::mm::page_alloc::{alloc_page, GfpFlags};
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Physical address of the kernel's top-level table, set by `paging_init`.
pub static SWAPPER_PG_DIR: AtomicUsize = AtomicUsize::new(0);
/// RAM and reservations recorded from the device tree (Linux: `memblock`).
pub static MEMBLOCK: SpinLockIrq<Memblock> = SpinLockIrq::new(Memblock::new());
/// The buddy allocator has taken over from memblock (set at the end of `mem_init`).
pub static BUDDY_READY: AtomicBool = AtomicBool::new(false);

/// Physical address of the kernel's top-level table (Linux: `swapper_pg_dir`,
/// `init_mm.pgd`).
pub fn swapper_pg_dir() -> usize {
    SWAPPER_PG_DIR.load(Ordering::Relaxed)
}

/// A zeroed page for a kernel page table: from memblock during boot, from the page
/// allocator afterwards. Linux: `early_pgtable_alloc` / `pgd_pgtable_alloc`.
pub fn pgtable_alloc() -> Option<usize> {
    if BUDDY_READY.load(Ordering::Acquire) {
        alloc_page(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO).map(page::page_to_phys)
    } else {
        MEMBLOCK.lock().alloc_zeroed(PAGE_SIZE, PAGE_SIZE)
    }
}

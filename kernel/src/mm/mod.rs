//! Memory management. Linux: `mm/`.
//!
//! Boot order (as in Linux): `memblock` records RAM and reservations from the device tree;
//! `paging_init` (arch) builds the kernel page tables from memblock pages; `mem_init`
//! allocates `mem_map` (a `struct Page` per frame) and the kernel heap, then hands every
//! free range to the buddy allocator (`memblock_free_all`).
pub mod debug;
pub mod filemap;
pub mod gup;
pub mod init_mm;
pub mod interval_tree;
pub mod ioremap;
pub mod madvise;
pub mod memblock;
pub mod memory;
pub mod memory_failure;
pub mod mincore;
pub mod mlock;
pub mod mm_inline;
pub mod mm_types;
pub mod mmap;
pub mod mmap_lock;
pub mod mmu_context;
pub mod mmzone;
pub mod mprotect;
pub mod mremap;
pub mod msync;
pub mod oom_kill;
pub mod page;
pub mod page_alloc;
pub mod page_io;
pub mod pagemap;
pub mod readahead;
pub mod rmap;
pub mod shmem;
pub mod slab;
pub mod swap;
pub mod swap_state;
pub mod swapfile;
pub mod swapops;
pub mod truncate;
pub mod userfaultfd;
pub mod util;
pub mod vma;
pub mod vmscan;
pub mod vmscan_sysctl;
pub mod vmstat;

pub use crate::arch::{PAGE_SHIFT, PAGE_SIZE};

/// Page frame number of a physical address (Linux: `PHYS_PFN`).
#[inline(always)]
pub const fn phys_pfn(pa: usize) -> usize {
    pa >> PAGE_SHIFT
}

/// Physical address of a page frame number (Linux: `PFN_PHYS`).
#[inline(always)]
pub const fn pfn_phys(pfn: usize) -> usize {
    pfn << PAGE_SHIFT
}

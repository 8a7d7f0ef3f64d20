//! `struct page`: one per physical frame, in the `mem_map` array. Linux:
//! `include/linux/mm_types.h` (struct page), `include/linux/page-flags.h` (PG_*),
//! `include/linux/mm.h` (`pfn_to_page`, `page_to_pfn`, `page_count`).
//!
//! Kept at 64 bytes like Linux's. The fields later issues use (LRU link, mapping/index for
//! rmap and the page cache, `_mapcount`, `private` for swap entries) are here from the
//! start so the array never changes shape.
use bitflags::bitflags;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

bitflags! {
    /// Page flags, bit numbers as Linux 5.10's `enum pageflags`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PageFlags: u64 {
        /// Page is locked for I/O.
        const PG_locked = 1 << 0;
        /// Recently referenced (second-chance bit for the LRU).
        const PG_referenced = 1 << 1;
        /// Contents are valid.
        const PG_uptodate = 1 << 2;
        /// Must be written back.
        const PG_dirty = 1 << 3;
        /// On an LRU list.
        const PG_lru = 1 << 4;
        /// On the active list.
        const PG_active = 1 << 5;
        /// Refaulted after eviction.
        const PG_workingset = 1 << 6;
        /// Belongs to the slab/heap.
        const PG_slab = 1 << 9;
        /// In the swap cache, `private` holding its swap entry (Linux: `PG_swapcache`, an
        /// alias of `PG_owner_priv_1`, bit 10; meaningful only with PG_swapbacked).
        const PG_swapcache = 1 << 10;
        /// Never allocatable: kernel image, memblock reservations, holes.
        const PG_reserved = 1 << 12;
        /// `private` is in use.
        const PG_private = 1 << 13;
        /// Under writeback.
        const PG_writeback = 1 << 15;
        /// First page of a higher-order allocation.
        const PG_head = 1 << 16;
        /// Reclaim it as soon as writeback ends.
        const PG_reclaim = 1 << 18;
        /// Readahead mark: the first access to this page-cache page starts the next
        /// readahead window (`page_cache_async_readahead`). Linux shares the bit with
        /// PG_reclaim (`PAGEFLAG(Readahead, reclaim, ...)`): a page under writeback is
        /// never freshly read ahead, so the two meanings cannot meet.
        const PG_readahead = 1 << 18;
        /// Backed by swap (anonymous or shmem).
        const PG_swapbacked = 1 << 19;
        /// On the unevictable list.
        const PG_unevictable = 1 << 20;
        /// Mapped by a VM_LOCKED vma.
        const PG_mlocked = 1 << 21;
        /// The frame's memory is corrupt: `memory_failure` retired it, and it never goes
        /// back to the allocator (Linux: `PG_hwpoison`, bit 22 with CONFIG_MEMORY_FAILURE
        /// on arm64, which has no PG_uncached).
        const PG_hwpoison = 1 << 22;
    }
}

/// A doubly linked list link (Linux: `struct list_head`), as page frame numbers so the
/// array stays position-independent and host-testable. `usize::MAX` = none.
#[repr(C)]
#[derive(Debug)]
pub struct ListLink {
    /// Next pfn.
    pub next: AtomicUsize,
    /// Previous pfn.
    pub prev: AtomicUsize,
}

/// The descriptor of one physical frame (Linux: `struct page`).
#[repr(C)]
#[derive(Debug)]
pub struct Page {
    /// `PageFlags` bits.
    pub flags: AtomicU64,
    /// LRU list link (Linux: `lru`).
    pub lru: ListLink,
    /// Owning address_space, or anon_vma | 1 for anonymous pages (Linux: `mapping`).
    pub mapping: AtomicUsize,
    /// Offset within the mapping, in pages (Linux: `index`).
    pub index: AtomicUsize,
    /// Owner-private data: swap entry, buddy order (Linux: `private`).
    pub private: AtomicUsize,
    /// Page-table mappings minus one (Linux: `_mapcount`, starts at -1).
    pub _mapcount: AtomicI32,
    /// References (Linux: `_refcount`); 0 = free.
    pub _refcount: AtomicI32,
    /// A slab's objects in use (`mm/slab.rs`; Linux: `inuse` in the slab `counters`
    /// union; Linux keeps memcg_data in this slot). Keeps the struct at 64 bytes.
    pub _pad: AtomicU64,
}

const _: () = assert!(core::mem::size_of::<Page>() == 64);

impl Page {
    /// A free, unmapped page descriptor.
    pub const fn new() -> Self {
        Page {
            flags: AtomicU64::new(0),
            lru: ListLink {
                next: AtomicUsize::new(usize::MAX),
                prev: AtomicUsize::new(usize::MAX),
            },
            mapping: AtomicUsize::new(0),
            index: AtomicUsize::new(0),
            private: AtomicUsize::new(0),
            _mapcount: AtomicI32::new(-1),
            _refcount: AtomicI32::new(0),
            _pad: AtomicU64::new(0),
        }
    }
    /// Current flags.
    pub fn flags(&self) -> PageFlags {
        PageFlags::from_bits_retain(self.flags.load(Ordering::Relaxed))
    }
    /// Set flags (Linux: `SetPageXxx`).
    pub fn set_flags(&self, f: PageFlags) {
        self.flags.fetch_or(f.bits(), Ordering::Relaxed);
    }
    /// Set flag `f`, returning whether it was set already (Linux: `TestSetPageXxx`).
    pub fn test_and_set(&self, f: PageFlags) -> bool {
        self.flags.fetch_or(f.bits(), Ordering::Relaxed) & f.bits() != 0
    }
    /// Clear flag `f`, returning whether it was set (Linux: `TestClearPageXxx`).
    pub fn test_and_clear(&self, f: PageFlags) -> bool {
        self.flags.fetch_and(!f.bits(), Ordering::Relaxed) & f.bits() != 0
    }
    /// Clear flags (Linux: `ClearPageXxx`).
    pub fn clear_flags(&self, f: PageFlags) {
        self.flags.fetch_and(!f.bits(), Ordering::Relaxed);
    }
    /// Test a flag (Linux: `PageXxx`).
    pub fn test(&self, f: PageFlags) -> bool {
        self.flags().contains(f)
    }
    /// Reference count (Linux: `page_count`).
    pub fn page_count(&self) -> i32 {
        self._refcount.load(Ordering::Relaxed)
    }
    /// Number of page-table mappings (Linux: `page_mapcount`).
    pub fn page_mapcount(&self) -> i32 {
        self._mapcount.load(Ordering::Relaxed) + 1
    }
}

/// The `mem_map` array: a `Page` for every frame from `MIN_PFN`.
static MEM_MAP: AtomicPtr<Page> = AtomicPtr::new(core::ptr::null_mut());
static MIN_PFN: AtomicUsize = AtomicUsize::new(0);
static NR_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Install `mem_map` covering `nr` frames from `min_pfn` (Linux: `alloc_node_mem_map`).
///
/// # Safety
/// `map` must point to `nr` initialised `Page`s that live forever.
pub unsafe fn set_mem_map(map: *mut Page, min_pfn: usize, nr: usize) {
    MIN_PFN.store(min_pfn, Ordering::Relaxed);
    NR_PAGES.store(nr, Ordering::Relaxed);
    MEM_MAP.store(map, Ordering::Release);
}

/// First pfn with a `struct Page`.
pub fn min_pfn() -> usize {
    MIN_PFN.load(Ordering::Relaxed)
}

/// Number of frames `mem_map` covers.
pub fn nr_pages() -> usize {
    NR_PAGES.load(Ordering::Relaxed)
}

/// Is there a `struct Page` for this pfn? (Linux: `pfn_valid`)
pub fn pfn_valid(pfn: usize) -> bool {
    !MEM_MAP.load(Ordering::Acquire).is_null() && pfn >= min_pfn() && pfn - min_pfn() < nr_pages()
}

/// The descriptor of frame `pfn` (Linux: `pfn_to_page`). Panics for an invalid pfn:
/// callers check `pfn_valid` on anything that did not come from the allocator.
pub fn pfn_to_page(pfn: usize) -> &'static Page {
    assert!(pfn_valid(pfn), "pfn_to_page: invalid pfn {pfn:#x}");
    // SAFETY: in range of the installed array.
    unsafe { &*MEM_MAP.load(Ordering::Acquire).add(pfn - min_pfn()) }
}

/// The frame number of a descriptor (Linux: `page_to_pfn`).
pub fn page_to_pfn(page: &Page) -> usize {
    let base = MEM_MAP.load(Ordering::Acquire) as usize;
    (page as *const Page as usize - base) / core::mem::size_of::<Page>() + min_pfn()
}

/// Physical address of a page.
pub fn page_to_phys(page: &Page) -> usize {
    super::pfn_phys(page_to_pfn(page))
}

/// Linear-map address of a page (Linux: `page_address`).
pub fn page_address(page: &Page) -> usize {
    crate::arch::phys_to_virt(page_to_phys(page))
}

/// Take a reference (Linux: `get_page`).
pub fn get_page(page: &Page) {
    page._refcount.fetch_add(1, Ordering::AcqRel);
}

/// Drop a reference; the last one frees the page (Linux: `put_page` -> `__put_page`).
/// Only order-0 pages are mapped into user space, so order 0 is freed.
pub fn put_page(page: &Page) {
    crate::mm::page_alloc::__free_pages(page, 0);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Install a leaked mem_map for host tests (idempotent: one per test process).
    pub fn host_mem_map(min_pfn_: usize, nr: usize) {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let v: std::vec::Vec<Page> = (0..nr).map(|_| Page::new()).collect();
            let leaked = std::boxed::Box::leak(v.into_boxed_slice());
            // SAFETY: the leaked vector lives for the rest of the test process and holds `nr` pages.
            unsafe { set_mem_map(leaked.as_mut_ptr(), min_pfn_, nr) };
        });
    }

    #[test]
    fn page_is_64_bytes_and_flags_match_linux_bits() {
        assert_eq!(core::mem::size_of::<Page>(), 64);
        assert_eq!(PageFlags::PG_lru.bits(), 1 << 4);
        assert_eq!(PageFlags::PG_mlocked.bits(), 1 << 21);
        assert_eq!(PageFlags::PG_unevictable.bits(), 1 << 20);
    }

    #[test]
    fn pfn_page_roundtrip() {
        host_mem_map(0x40000, 4096);
        let p = pfn_to_page(0x40123);
        assert_eq!(page_to_pfn(p), 0x40123);
        assert_eq!(page_to_phys(p), 0x4012_3000);
        assert!(!pfn_valid(0x3ffff) && !pfn_valid(0x40000 + 4096));
        assert_eq!(p.page_mapcount(), 0);
    }
}

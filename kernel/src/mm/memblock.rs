//! The boot-time memory allocator. Linux: `mm/memblock.c`.
//!
//! Two lists of ranges: `memory` (RAM from the device tree) and `reserved` (the kernel
//! image, the DTB, and everything `memblock_alloc` hands out before the buddy allocator
//! exists). `memblock_free_all` then gives every unreserved page to the buddy allocator.
use crate::arch::aarch64::memory::{align_down, align_up};
use crate::arch::{phys_to_virt, PAGE_SIZE};

const MAX_REGIONS: usize = 64;

/// A physical range `[base, base + size)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub base: usize,
    /// Length in bytes.
    pub size: usize,
}

impl Region {
    fn end(&self) -> usize {
        self.base + self.size
    }
}

/// A fixed-capacity, sorted list of non-overlapping regions (Linux: `memblock_type`).
#[derive(Clone, Debug)]
pub struct RegionList {
    regions: [Region; MAX_REGIONS],
    cnt: usize,
}

impl RegionList {
    const fn new() -> Self {
        RegionList {
            regions: [Region { base: 0, size: 0 }; MAX_REGIONS],
            cnt: 0,
        }
    }

    /// The regions, sorted by base.
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions[..self.cnt].iter()
    }

    /// Add `[base, base+size)`, merging with neighbours it touches or overlaps.
    /// Linux: `memblock_add_range`. Returns false when the list is full.
    fn add(&mut self, base: usize, size: usize) -> bool {
        if size == 0 {
            return true;
        }
        let (mut start, mut end) = (base, base + size);
        // Absorb every region that overlaps or touches, then insert in order.
        let mut i = 0;
        while i < self.cnt {
            let r = self.regions[i];
            if r.base <= end && start <= r.end() {
                start = start.min(r.base);
                end = end.max(r.end());
                self.regions.copy_within(i + 1..self.cnt, i);
                self.cnt -= 1;
            } else {
                i += 1;
            }
        }
        if self.cnt == MAX_REGIONS {
            return false;
        }
        let pos = self.regions[..self.cnt]
            .iter()
            .position(|r| r.base > start)
            .unwrap_or(self.cnt);
        self.regions.copy_within(pos..self.cnt, pos + 1);
        self.regions[pos] = Region {
            base: start,
            size: end - start,
        };
        self.cnt += 1;
        true
    }

    fn overlaps(&self, base: usize, size: usize) -> Option<Region> {
        self.iter()
            .find(|r| r.base < base + size && base < r.end())
            .copied()
    }

    /// Total bytes.
    pub fn total_size(&self) -> usize {
        self.iter().map(|r| r.size).sum()
    }
}

/// The allocator state (Linux: `struct memblock`).
#[derive(Clone, Debug)]
pub struct Memblock {
    /// RAM.
    pub memory: RegionList,
    /// In use.
    pub reserved: RegionList,
    /// Allocations stay below this physical address (what the boot map covers).
    pub current_limit: usize,
}

impl Memblock {
    /// Empty, no limit.
    pub const fn new() -> Self {
        Memblock {
            memory: RegionList::new(),
            reserved: RegionList::new(),
            current_limit: usize::MAX,
        }
    }

    /// Register RAM. Linux: `memblock_add`.
    pub fn add(&mut self, base: usize, size: usize) {
        let ok = self.memory.add(base, size);
        debug_assert!(ok, "memblock: too many memory regions");
    }

    /// Mark a range in use. Linux: `memblock_reserve`.
    pub fn reserve(&mut self, base: usize, size: usize) {
        let (b, e) = (
            align_down(base, PAGE_SIZE),
            align_up(base + size, PAGE_SIZE),
        );
        let ok = self.reserved.add(b, e - b);
        debug_assert!(ok, "memblock: too many reserved regions");
    }

    /// Find `size` free bytes aligned to `align`, top-down below `current_limit`, and
    /// reserve them. Linux: `memblock_phys_alloc` (also top-down by default).
    pub fn phys_alloc(&mut self, size: usize, align: usize) -> Option<usize> {
        let size = align_up(size, PAGE_SIZE);
        let align = align.max(PAGE_SIZE);
        for i in (0..self.memory.cnt).rev() {
            let m = self.memory.regions[i];
            let mut top = m.end().min(self.current_limit);
            while top >= m.base + size {
                let cand = align_down(top - size, align);
                if cand < m.base {
                    break;
                }
                match self.reserved.overlaps(cand, size) {
                    None => {
                        self.reserve(cand, size);
                        return Some(cand);
                    }
                    Some(r) => top = r.base, // skip below the blocking reservation
                }
            }
        }
        None
    }

    /// `phys_alloc` and zero the memory through the linear map. Linux: `memblock_alloc`.
    pub fn alloc_zeroed(&mut self, size: usize, align: usize) -> Option<usize> {
        let pa = self.phys_alloc(size, align)?;
        // SAFETY: freshly reserved RAM, mapped by the linear map (below current_limit).
        unsafe {
            core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, align_up(size, PAGE_SIZE))
        };
        Some(pa)
    }

    /// Call `f(start_pfn, end_pfn)` for every page-aligned range of RAM not reserved.
    /// Linux: `for_each_free_mem_range` as used by `free_low_memory_core_early`.
    pub fn for_each_free_range(&self, mut f: impl FnMut(usize, usize)) {
        for m in self.memory.iter() {
            let mut cur = align_up(m.base, PAGE_SIZE);
            let end = align_down(m.end(), PAGE_SIZE);
            for r in self.reserved.iter() {
                if r.end() <= cur || r.base >= end {
                    continue;
                }
                if r.base > cur {
                    f(cur >> 12, r.base >> 12);
                }
                cur = cur.max(r.end());
            }
            if cur < end {
                f(cur >> 12, end >> 12);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn free_ranges(m: &Memblock) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        m.for_each_free_range(|s, e| v.push((s << 12, e << 12)));
        v
    }

    #[test]
    fn reservations_merge_and_split_free_ranges() {
        let mut m = Memblock::new();
        m.add(0x4000_0000, 64 << 20);
        m.reserve(0x4000_0000, 0x1_0000); // DTB
        m.reserve(0x4020_0000, 0x30_0000); // kernel image
        m.reserve(0x4050_0000, 0x1000); // touching: merges with the image
        assert_eq!(m.reserved.iter().count(), 2);
        assert_eq!(
            free_ranges(&m),
            [(0x4001_0000, 0x4020_0000), (0x4050_1000, 0x4400_0000)]
        );
    }

    #[test]
    fn alloc_is_top_down_aligned_and_respects_limit() {
        let mut m = Memblock::new();
        m.add(0x4000_0000, 2 << 30);
        m.current_limit = 0x8000_0000;
        let a = m.phys_alloc(0x1000, 0x1000).unwrap();
        assert_eq!(a, 0x7fff_f000);
        let b = m.phys_alloc(0x3000, 1 << 21).unwrap();
        assert_eq!(b, 0x7fe0_0000);
        assert!(m.reserved.overlaps(b, 0x3000).is_some());
        m.current_limit = usize::MAX;
        assert_eq!(m.phys_alloc(0x1000, 0x1000), Some(0xbfff_f000));
    }

    #[test]
    fn alloc_skips_reserved_holes_and_fails_cleanly() {
        let mut m = Memblock::new();
        m.add(0x4000_0000, 0x4000);
        m.reserve(0x4000_2000, 0x2000);
        assert_eq!(m.phys_alloc(0x2000, 0x1000), Some(0x4000_0000));
        assert_eq!(m.phys_alloc(0x1000, 0x1000), None);
    }
}

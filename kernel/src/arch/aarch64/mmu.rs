//! Building kernel page tables. Linux: `arch/arm64/mm/mmu.c` (`__create_pgd_mapping`,
//! `alloc_init_pud`, `alloc_init_cont_pmd`, `init_pte`, `paging_init`).
//!
//! Tables are reached through the linear map (`phys_to_virt`), so the same code builds
//! tables on the target and in host unit tests over simulated memory. New tables come
//! from the caller's allocator: memblock at boot, the page allocator later.
use super::memory::phys_to_virt;
use super::pgtable::{
    decode, level_size, mk_leaf, mk_table, table_index, Desc, PgProt, PTRS_PER_TABLE,
};

/// Errors while building a mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapError {
    /// The allocator had no page for a new table.
    NoMemory,
    /// Part of the range is already mapped by a block we would have to split.
    Conflict,
}

fn table<'a>(table_pa: usize) -> &'a mut [u64; PTRS_PER_TABLE] {
    // SAFETY: table_pa is a page-table page we allocated and that stays mapped.
    unsafe { &mut *(phys_to_virt(table_pa) as *mut [u64; PTRS_PER_TABLE]) }
}

/// Map `[virt, virt + size)` to `[phys, phys + size)` with `prot` in the tables rooted at
/// `pgd_pa`, using the largest blocks alignment allows (1 GiB, then 2 MiB, then 4 KiB
/// pages). Existing tables are reused; existing leaves are overwritten only with the same
/// block size. `alloc_table` returns a zeroed page for a new table.
///
/// Linux: `__create_pgd_mapping`. Difference: no contiguous-bit hints and no
/// NO_BLOCK_MAPPINGS flag; a caller wanting pages passes page-aligned ranges.
pub fn create_pgd_mapping(
    pgd_pa: usize,
    virt: usize,
    phys: usize,
    size: usize,
    prot: PgProt,
    alloc_table: &mut dyn FnMut() -> Option<usize>,
) -> Result<(), MapError> {
    debug_assert_eq!((virt | phys | size) % level_size(3), 0);
    let mut off = 0;
    while off < size {
        let (va, pa, left) = (virt + off, phys + off, size - off);
        let mapped = map_one(pgd_pa, 0, va, pa, left, prot, alloc_table)?;
        off += mapped;
    }
    Ok(())
}

/// Map as much of `va..va+left` as one entry at some level below `table_pa` allows;
/// returns the bytes mapped.
fn map_one(
    table_pa: usize,
    level: usize,
    va: usize,
    pa: usize,
    left: usize,
    prot: PgProt,
    alloc_table: &mut dyn FnMut() -> Option<usize>,
) -> Result<usize, MapError> {
    let t = table(table_pa);
    let idx = table_index(va, level);
    let sz = level_size(level);
    let block_ok = level >= 1 && (va | pa).is_multiple_of(sz) && left >= sz;
    if block_ok || level == 3 {
        match decode(t[idx], level) {
            Desc::Table(_) if level < 3 => {} // finer tables exist: map inside them
            _ => {
                t[idx] = mk_leaf(pa, prot, level);
                return Ok(sz);
            }
        }
    }
    let next = match decode(t[idx], level) {
        Desc::Table(next) => next,
        Desc::Invalid => {
            let new = alloc_table().ok_or(MapError::NoMemory)?;
            t[idx] = mk_table(new);
            new
        }
        Desc::Leaf(_) => return Err(MapError::Conflict),
    };
    map_one(
        next,
        level + 1,
        va,
        pa,
        left.min(sz - (va % sz)),
        prot,
        alloc_table,
    )
}

/// Result of a software table walk.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Translation {
    /// Physical address `va` translates to.
    pub pa: usize,
    /// Level of the leaf (1 = 1 GiB block, 2 = 2 MiB block, 3 = page).
    pub level: usize,
    /// The raw leaf descriptor.
    pub desc: u64,
}

/// Walk the tables rooted at `pgd_pa` for `va` as the MMU would. `None` if unmapped.
/// (The user-space walk with Linux's names is `mm/gup.rs: follow_page_mask`.)
pub fn walk(pgd_pa: usize, va: usize) -> Option<Translation> {
    let mut table_pa = pgd_pa;
    for level in 0..=3 {
        let raw = table(table_pa)[table_index(va, level)];
        match decode(raw, level) {
            Desc::Invalid => return None,
            Desc::Table(next) => table_pa = next,
            Desc::Leaf(base) => {
                return Some(Translation {
                    pa: base + (va % level_size(level)),
                    level,
                    desc: raw,
                })
            }
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::arch::aarch64::memory::set_host_phys_window;
    use crate::arch::aarch64::pgtable::{leaf_perms, PAGE_KERNEL, PAGE_KERNEL_ROX};
    use std::sync::Mutex;
    use std::vec::Vec;

    /// Simulated RAM for host tests: a page-aligned buffer playing physical memory at
    /// `SIM_BASE`, a bump allocator of zeroed pages, and a lock because the window is global.
    pub struct SimRam {
        _buf: Vec<u8>,
        next: usize,
        end: usize,
        _guard: std::sync::MutexGuard<'static, ()>,
    }
    pub const SIM_BASE: usize = 0x4000_0000;
    static SIM_LOCK: Mutex<()> = Mutex::new(());

    impl SimRam {
        pub fn new(pages: usize) -> Self {
            let guard = SIM_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let mut buf = std::vec![0u8; (pages + 1) * 4096];
            let aligned = (buf.as_mut_ptr() as usize + 4095) & !4095;
            set_host_phys_window(aligned as *mut u8, SIM_BASE);
            SimRam {
                _buf: buf,
                next: SIM_BASE,
                end: SIM_BASE + pages * 4096,
                _guard: guard,
            }
        }
        pub fn alloc(&mut self) -> Option<usize> {
            if self.next >= self.end {
                return None;
            }
            let p = self.next;
            self.next += 4096;
            Some(p)
        }
        pub fn used_pages(&self) -> usize {
            (self.next - SIM_BASE) / 4096
        }
    }

    #[test]
    fn linear_map_of_2g_uses_one_gib_blocks() {
        let mut ram = SimRam::new(16);
        let pgd = ram.alloc().unwrap();
        let va = 0xffff_0000_4000_0000;
        create_pgd_mapping(pgd, va, 0x4000_0000, 2 << 30, PAGE_KERNEL, &mut || {
            ram.alloc()
        })
        .unwrap();
        // pgd + one pud: two 1 GiB blocks need no lower tables.
        assert_eq!(ram.used_pages(), 2);
        let t = walk(pgd, va + 0x1234_5678).unwrap();
        assert_eq!((t.pa, t.level), (0x4000_0000 + 0x1234_5678, 1));
        assert_eq!(walk(pgd, va + (2 << 30)), None);
    }

    #[test]
    fn unaligned_range_splits_into_blocks_and_pages() {
        let mut ram = SimRam::new(16);
        let pgd = ram.alloc().unwrap();
        // 64 MiB + 12 KiB starting 4 KiB past a 2 MiB boundary.
        let va = 0xffff_0000_4000_1000;
        let size = (64 << 20) + 0x3000;
        create_pgd_mapping(pgd, va, 0x4000_1000, size, PAGE_KERNEL, &mut || ram.alloc()).unwrap();
        assert_eq!(walk(pgd, va).unwrap().level, 3);
        assert_eq!(walk(pgd, 0xffff_0000_4020_0000).unwrap().level, 2);
        let last = va + size - 1;
        assert_eq!(walk(pgd, last).unwrap().pa, 0x4000_1000 + size - 1);
        assert_eq!(walk(pgd, last).unwrap().level, 3);
        assert_eq!(walk(pgd, va + size), None);
        assert_eq!(walk(pgd, va - 1), None);
    }

    #[test]
    fn image_mapped_with_pages_and_ram_around_it_keeps_its_permissions() {
        // paging_init's order: the image's sections first, then RAM on either side of it.
        let mut ram = SimRam::new(16);
        let pgd = ram.alloc().unwrap();
        let base = 0xffff_0000_4000_0000usize;
        let (img, img_end) = (base + 0x20_0000, base + 0x20_1000);
        create_pgd_mapping(pgd, img, 0x4020_0000, 0x1000, PAGE_KERNEL_ROX, &mut || {
            ram.alloc()
        })
        .unwrap();
        create_pgd_mapping(pgd, base, 0x4000_0000, img - base, PAGE_KERNEL, &mut || {
            ram.alloc()
        })
        .unwrap();
        let rest = (1 << 30) - (img_end - base);
        create_pgd_mapping(pgd, img_end, 0x4020_1000, rest, PAGE_KERNEL, &mut || {
            ram.alloc()
        })
        .unwrap();
        let text = walk(pgd, img).unwrap();
        assert_eq!(text.level, 3);
        assert!(leaf_perms(text.desc).kernel_exec && !leaf_perms(text.desc).kernel_write);
        // The rest of the image's 2 MiB is pages in the same pmd table; beyond it, blocks.
        let next = walk(pgd, img_end).unwrap();
        assert_eq!((next.level, leaf_perms(next.desc).kernel_exec), (3, false));
        assert_eq!(walk(pgd, base).unwrap().level, 2);
        assert_eq!(walk(pgd, base + 0x40_0000).unwrap().level, 2);
        assert_eq!(walk(pgd, base + (1 << 30) - 1).unwrap().pa, 0x7fff_ffff);
    }

    #[test]
    fn mapping_over_a_block_with_pages_is_a_conflict() {
        let mut ram = SimRam::new(16);
        let pgd = ram.alloc().unwrap();
        let base = 0xffff_0000_4000_0000usize;
        create_pgd_mapping(pgd, base, 0x4000_0000, 2 << 20, PAGE_KERNEL, &mut || {
            ram.alloc()
        })
        .unwrap();
        let r = create_pgd_mapping(
            pgd,
            base + 0x1000,
            0x4000_1000,
            0x1000,
            PAGE_KERNEL_ROX,
            &mut || ram.alloc(),
        );
        assert_eq!(r, Err(MapError::Conflict));
    }

    #[test]
    fn allocator_exhaustion_is_an_error_not_a_panic() {
        let mut ram = SimRam::new(1);
        let pgd = ram.alloc().unwrap();
        let r = create_pgd_mapping(
            pgd,
            0xffff_0000_4000_1000,
            0x4000_1000,
            0x1000,
            PAGE_KERNEL,
            &mut || None,
        );
        assert_eq!(r, Err(MapError::NoMemory));
    }
}

//! `/proc/kpageflags` and `/proc/kpagecount`: one `u64` per physical page frame, read at
//! byte offset `pfn * 8`. Linux: `fs/proc/page.c` (`stable_page_flags`, `kpageflags_read`,
//! `kpagecount_read`), bit numbers from `include/uapi/linux/kernel-page-flags.h` (0-26)
//! and `include/linux/kernel-page-flags.h` (32-41, "kernel hacking assistances", which
//! 5.10 exports all the same). Callers: `fs/proc/mod.rs` (the files, mode 0400 root).
//! Tools that read them: `tools/vm/page-types.c`, the mm selftests (`vm_util.c`), which
//! take a PFN from `/proc/<pid>/pagemap` and look it up here.
//!
//! Locking: none. Each entry is a snapshot of one `struct Page`'s atomics, as Linux reads
//! `page->flags` without the page lock; a page that changes while it is read may show
//! a mix of before and after, as in Linux.
//!
//! The file starts at pfn 0 as Linux's does; frames without a `struct Page` (everything
//! below the first RAM pfn on QEMU virt) read as [`KPF_NOPAGE`] and count 0. The end is
//! the last RAM pfn (Linux: `max_pfn`, through `get_max_dump_pfn`).
//!
//! Differences from Linux 5.10, per bit:
//! - KPF_BUDDY: we have no PageBuddy page type; a frame is free when its refcount is 0,
//!   it is not PG_reserved and it is not a tail of an allocated higher-order block
//!   ([`is_free_buddy_page`] looks at the at most `MAX_ORDER - 1` aligned heads, as
//!   Linux's `is_free_buddy_page` walks the orders). Cheap enough per pfn.
//! - KPF_COMPOUND_HEAD/TAIL: our allocator marks every block of order > 0 PG_head (Linux
//!   only `__GFP_COMP` ones), so kernel stacks and bounce buffers show as compound.
//! - KPF_ERROR, KPF_SWAPCACHE, KPF_HUGE, KPF_THP, KPF_KSM, KPF_OFFLINE,
//!   KPF_IDLE, KPF_PGTABLE, KPF_MAPPEDTODISK, KPF_PRIVATE_2, KPF_OWNER_PRIVATE, KPF_ARCH:
//!   the state they report does not exist here yet (no PG_error, no PG_swapcache, no
//!   huge pages, no KSM, no page-table page type), so they read 0.
//! - Everything else is a copy of a PG_* bit or of `_mapcount` / `mapping`, so the LRU
//!   bits (PG_lru, PG_active, PG_referenced, PG_unevictable) appear as soon as reclaim
//!   sets them.
use crate::errno::{Errno, KResult};
use crate::mm::page::{min_pfn, nr_pages, pfn_to_page, pfn_valid, Page, PageFlags};
use crate::mm::page_alloc::MAX_ORDER;
use core::sync::atomic::Ordering;

/// Bytes per entry of both files (Linux: `KPMSIZE`).
pub const KPMSIZE: usize = 8;

/// Page is locked (PG_locked).
pub const KPF_LOCKED: u32 = 0;
/// I/O error on the page (PG_error; we have none).
pub const KPF_ERROR: u32 = 1;
/// Recently referenced (PG_referenced).
pub const KPF_REFERENCED: u32 = 2;
/// Contents valid (PG_uptodate).
pub const KPF_UPTODATE: u32 = 3;
/// Must be written back (PG_dirty).
pub const KPF_DIRTY: u32 = 4;
/// On an LRU list (PG_lru).
pub const KPF_LRU: u32 = 5;
/// On an active LRU list (PG_active).
pub const KPF_ACTIVE: u32 = 6;
/// Slab/heap page (PG_slab).
pub const KPF_SLAB: u32 = 7;
/// Under writeback (PG_writeback).
pub const KPF_WRITEBACK: u32 = 8;
/// To be reclaimed when writeback ends (PG_reclaim).
pub const KPF_RECLAIM: u32 = 9;
/// Free, in the buddy allocator.
pub const KPF_BUDDY: u32 = 10;
/// Mapped into some page table (`page_mapped`).
pub const KPF_MMAP: u32 = 11;
/// Anonymous (`PageAnon`).
pub const KPF_ANON: u32 = 12;
/// In the swap cache (PG_swapbacked and PG_swapcache).
pub const KPF_SWAPCACHE: u32 = 13;
/// Backed by swap or shmem (PG_swapbacked).
pub const KPF_SWAPBACKED: u32 = 14;
/// First page of a higher-order block (PG_head).
pub const KPF_COMPOUND_HEAD: u32 = 15;
/// Other page of a higher-order block.
pub const KPF_COMPOUND_TAIL: u32 = 16;
/// hugetlbfs page.
pub const KPF_HUGE: u32 = 17;
/// On the unevictable list (PG_unevictable).
pub const KPF_UNEVICTABLE: u32 = 18;
/// Memory failure.
pub const KPF_HWPOISON: u32 = 19;
/// No `struct page` for this pfn.
pub const KPF_NOPAGE: u32 = 20;
/// KSM-merged page.
pub const KPF_KSM: u32 = 21;
/// Part of a transparent huge page.
pub const KPF_THP: u32 = 22;
/// Logically offline.
pub const KPF_OFFLINE: u32 = 23;
/// The shared zero page.
pub const KPF_ZERO_PAGE: u32 = 24;
/// Idle-page tracking.
pub const KPF_IDLE: u32 = 25;
/// A page-table page.
pub const KPF_PGTABLE: u32 = 26;
/// Never allocatable (PG_reserved): kernel image, memblock reservations, the zero page.
pub const KPF_RESERVED: u32 = 32;
/// Mapped by a VM_LOCKED VMA (PG_mlocked).
pub const KPF_MLOCKED: u32 = 33;
/// `private` in use (PG_private).
pub const KPF_PRIVATE: u32 = 35;

/// Bit `kpf` of the result when `flags` has `pg` (Linux: `kpf_copy_bit`).
fn kpf_copy_bit(flags: PageFlags, kpf: u32, pg: PageFlags) -> u64 {
    u64::from(flags.contains(pg)) << kpf
}

/// The PG_* bits that are copied as they are, with their KPF bit.
const COPIED: [(u32, PageFlags); 15] = [
    (KPF_LOCKED, PageFlags::PG_locked),
    (KPF_SLAB, PageFlags::PG_slab),
    (KPF_DIRTY, PageFlags::PG_dirty),
    (KPF_UPTODATE, PageFlags::PG_uptodate),
    (KPF_WRITEBACK, PageFlags::PG_writeback),
    (KPF_LRU, PageFlags::PG_lru),
    (KPF_REFERENCED, PageFlags::PG_referenced),
    (KPF_ACTIVE, PageFlags::PG_active),
    (KPF_RECLAIM, PageFlags::PG_reclaim),
    (KPF_SWAPBACKED, PageFlags::PG_swapbacked),
    (KPF_UNEVICTABLE, PageFlags::PG_unevictable),
    (KPF_MLOCKED, PageFlags::PG_mlocked),
    (KPF_RESERVED, PageFlags::PG_reserved),
    (KPF_PRIVATE, PageFlags::PG_private),
    (KPF_HWPOISON, PageFlags::PG_hwpoison),
];

/// If `pfn` lies inside an allocated block of order > 0 without being its first page,
/// the head of that block. Heads are naturally aligned, so the candidates are `pfn`
/// rounded down to each order.
fn compound_head_of_tail(pfn: usize) -> Option<usize> {
    (1..MAX_ORDER).find_map(|order| {
        let head = pfn & !((1usize << order) - 1);
        if head == pfn || !pfn_valid(head) {
            return None;
        }
        let h = pfn_to_page(head);
        let head_order = h.private.load(Ordering::Relaxed);
        (h.test(PageFlags::PG_head)
            && h.page_count() > 0
            && head_order < MAX_ORDER
            && head + (1 << head_order) > pfn)
            .then_some(head)
    })
}

/// Is `page` free in the buddy allocator? Refcount 0, not reserved, and not the tail of
/// an allocated block (`tail_of`, from [`compound_head_of_tail`]: tails keep refcount
/// 0). Linux: `PageBuddy` on a free block's head plus `is_free_buddy_page` for the pages
/// inside it.
fn is_free_buddy_page(page: &Page, tail_of: Option<usize>) -> bool {
    page.page_count() == 0 && !page.test(PageFlags::PG_reserved) && tail_of.is_none()
}

/// The KPF_* bits of frame `pfn`; `zero_pfn` is the zero page's frame, if it exists.
/// Linux: `stable_page_flags` (given `pfn_to_online_page(pfn)`).
pub fn stable_page_flags(pfn: usize, zero_pfn: Option<usize>) -> u64 {
    if !pfn_valid(pfn) {
        return 1 << KPF_NOPAGE;
    }
    let page = pfn_to_page(pfn);
    let k = page.flags();
    let mut u = 0u64;
    // A page mapped into page tables; slab pages reuse _mapcount in Linux, so never.
    if !k.contains(PageFlags::PG_slab) && page.page_mapcount() > 0 {
        u |= 1 << KPF_MMAP;
    }
    if crate::mm::rmap::PageAnon(page) {
        u |= 1 << KPF_ANON;
    }
    let tail_of = compound_head_of_tail(pfn);
    if k.contains(PageFlags::PG_head) {
        u |= 1 << KPF_COMPOUND_HEAD;
    } else if tail_of.is_some() {
        u |= 1 << KPF_COMPOUND_TAIL;
    } else if zero_pfn == Some(pfn) {
        u |= 1 << KPF_ZERO_PAGE;
    }
    if is_free_buddy_page(page, tail_of) {
        u |= 1 << KPF_BUDDY;
    }
    for (kpf, pg) in COPIED {
        u |= kpf_copy_bit(k, kpf, pg);
    }
    // Slab tails count as slab (Linux: `PageTail(page) && PageSlab(compound_head(page))`).
    if tail_of.is_some_and(|h| pfn_to_page(h).test(PageFlags::PG_slab)) {
        u |= 1 << KPF_SLAB;
    }
    u
}

/// The entry of `/proc/kpagecount` for frame `pfn`: how many page tables map it, 0 for
/// a pfn without a `struct Page`, a slab page or a free page. Linux: `kpagecount_read`
/// (`page_mapcount`, 0 for `PageSlab` and `page_has_type`, which covers PageBuddy).
pub fn kpagecount(pfn: usize) -> u64 {
    if !pfn_valid(pfn) {
        return 0;
    }
    let page = pfn_to_page(pfn);
    if page.test(PageFlags::PG_slab) || is_free_buddy_page(page, compound_head_of_tail(pfn)) {
        return 0;
    }
    page.page_mapcount().max(0) as u64
}

/// One past the last pfn the files describe (Linux: `get_max_dump_pfn` -> `max_pfn`).
pub fn max_dump_pfn() -> usize {
    min_pfn() + nr_pages()
}

/// Fill `buf` with the entries from byte offset `pos` on, `entry(pfn)` each; returns the
/// bytes written, 0 at or past the end. EINVAL when `pos` or the length is not a multiple
/// of 8, as in Linux (checked before the end, as Linux checks it). Nothing is allocated:
/// the entries go straight into the caller's (kernel) buffer, which the VFS copies out
/// with `copy_to_user` (EFAULT there).
fn kpage_read(
    pos: u64,
    buf: &mut [u8],
    max_pfn: usize,
    entry: impl Fn(usize) -> u64,
) -> KResult<usize> {
    if !pos.is_multiple_of(KPMSIZE as u64) || !buf.len().is_multiple_of(KPMSIZE) {
        return Err(Errno::EINVAL);
    }
    let first = pos / KPMSIZE as u64;
    if first >= max_pfn as u64 {
        return Ok(0);
    }
    let first = first as usize;
    let n = (buf.len() / KPMSIZE).min(max_pfn - first);
    for (i, out) in buf[..n * KPMSIZE].chunks_exact_mut(KPMSIZE).enumerate() {
        out.copy_from_slice(&entry(first + i).to_ne_bytes());
    }
    Ok(n * KPMSIZE)
}

/// Read `/proc/kpageflags` at `pos` into the kernel buffer `buf` (Linux:
/// `kpageflags_read`).
pub fn kpageflags_read(pos: u64, buf: &mut [u8]) -> KResult<usize> {
    let zero_pfn = crate::mm::memory::zero_pfn();
    kpage_read(pos, buf, max_dump_pfn(), |pfn| {
        stable_page_flags(pfn, zero_pfn)
    })
}

/// Read `/proc/kpagecount` at `pos` into the kernel buffer `buf` (Linux:
/// `kpagecount_read`).
pub fn kpagecount_read(pos: u64, buf: &mut [u8]) -> KResult<usize> {
    kpage_read(pos, buf, max_dump_pfn(), kpagecount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::page::tests::host_mem_map;

    /// The host mem_map every test in this process shares: 4096 frames from 0x40000.
    const BASE: usize = 0x40000;

    /// A frame of the host mem_map that no other test touches (page.rs uses 0x40123).
    fn frame(i: usize) -> (usize, &'static Page) {
        host_mem_map(BASE, 4096);
        let pfn = BASE + 0xe00 + i;
        (pfn, pfn_to_page(pfn))
    }

    fn bit(kpf: u32) -> u64 {
        1 << kpf
    }

    #[test]
    fn kpf_numbers_are_linux_uapi_ones() {
        assert_eq!(
            [
                KPF_LOCKED,
                KPF_LRU,
                KPF_BUDDY,
                KPF_MMAP,
                KPF_ANON,
                KPF_SWAPBACKED
            ],
            [0, 5, 10, 11, 12, 14]
        );
        assert_eq!([KPF_UNEVICTABLE, KPF_NOPAGE, KPF_ZERO_PAGE], [18, 20, 24]);
        assert_eq!([KPF_RESERVED, KPF_MLOCKED, KPF_PRIVATE], [32, 33, 35]);
    }

    #[test]
    fn a_pfn_without_a_struct_page_is_nopage_with_count_0() {
        host_mem_map(BASE, 4096);
        assert_eq!(stable_page_flags(0, None), bit(KPF_NOPAGE));
        assert_eq!(stable_page_flags(BASE - 1, None), bit(KPF_NOPAGE));
        assert_eq!(stable_page_flags(BASE + 4096, None), bit(KPF_NOPAGE));
        assert_eq!(kpagecount(BASE - 1), 0);
    }

    #[test]
    fn a_mapped_anonymous_page_is_anon_mmap_swapbacked_and_counts_its_mappings() {
        let (pfn, page) = frame(0);
        page._refcount.store(2, Ordering::Relaxed);
        page._mapcount.store(1, Ordering::Relaxed); // two mappings
        page.mapping.store(0x1000 | 1, Ordering::Relaxed);
        page.set_flags(PageFlags::PG_swapbacked | PageFlags::PG_mlocked | PageFlags::PG_lru);
        let u = stable_page_flags(pfn, None);
        assert_eq!(
            u,
            bit(KPF_ANON) | bit(KPF_MMAP) | bit(KPF_SWAPBACKED) | bit(KPF_MLOCKED) | bit(KPF_LRU)
        );
        assert_eq!(kpagecount(pfn), 2);
    }

    #[test]
    fn a_free_page_is_buddy_and_the_zero_page_is_zero_page() {
        let (free, _) = frame(1);
        assert_eq!(stable_page_flags(free, None), bit(KPF_BUDDY));
        assert_eq!(kpagecount(free), 0);
        let (zero, zp) = frame(2);
        zp._refcount.store(1, Ordering::Relaxed);
        zp.set_flags(PageFlags::PG_reserved);
        assert_eq!(
            stable_page_flags(zero, Some(zero)),
            bit(KPF_ZERO_PAGE) | bit(KPF_RESERVED)
        );
        assert_eq!(kpagecount(zero), 0);
    }

    #[test]
    fn tails_of_an_allocated_block_are_compound_tails_not_buddy() {
        // An order-2 block at an order-2-aligned frame: head + 3 tails.
        let (head, hp) = frame(0x10);
        assert_eq!(head % 4, 0);
        hp._refcount.store(1, Ordering::Relaxed);
        hp.private.store(2, Ordering::Relaxed);
        hp.set_flags(PageFlags::PG_head | PageFlags::PG_slab);
        assert_eq!(
            stable_page_flags(head, None),
            bit(KPF_COMPOUND_HEAD) | bit(KPF_SLAB)
        );
        for t in head + 1..head + 4 {
            assert_eq!(
                stable_page_flags(t, None),
                bit(KPF_COMPOUND_TAIL) | bit(KPF_SLAB),
                "pfn {t:#x}"
            );
        }
        // The frame after the block is free again.
        assert_eq!(stable_page_flags(head + 4, None), bit(KPF_BUDDY));
    }

    #[test]
    fn reads_go_by_pfn_times_8_and_refuse_unaligned_offsets_and_lengths() {
        host_mem_map(BASE, 4096);
        let mut buf = [0u8; 24];
        let entry = |pfn: usize| pfn as u64 * 3;
        assert_eq!(kpage_read(8 * 5, &mut buf, 100, entry), Ok(24));
        let got: [u64; 3] =
            core::array::from_fn(|i| u64::from_ne_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap()));
        assert_eq!(got, [15, 18, 21]);
        assert_eq!(kpage_read(4, &mut buf, 100, entry), Err(Errno::EINVAL));
        assert_eq!(
            kpage_read(8, &mut buf[..12], 100, entry),
            Err(Errno::EINVAL)
        );
        // Short at the end, then end of file.
        assert_eq!(kpage_read(8 * 99, &mut buf, 100, entry), Ok(8));
        assert_eq!(kpage_read(8 * 100, &mut buf, 100, entry), Ok(0));
        assert_eq!(kpage_read(!7u64, &mut buf, 100, entry), Ok(0));
        // The real file: pfn 0 has no struct page.
        assert_eq!(kpageflags_read(0, &mut buf[..8]), Ok(8));
        assert_eq!(
            u64::from_ne_bytes(buf[..8].try_into().unwrap()),
            bit(KPF_NOPAGE)
        );
    }
}

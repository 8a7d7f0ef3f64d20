//! What a process's memory looks like from its page tables: `/proc/<pid>/maps`, `smaps`,
//! `pagemap` and the `Vm*` lines of `status`. Linux: `fs/proc/task_mmu.c` (`show_map`,
//! `show_smap`, `smaps_pte_entry`, `smaps_account`, `show_smap_vma_flags`,
//! `pagemap_read`, `pte_to_pagemap_entry`, `task_mem`), `mm/memory.c` (`vm_normal_page`).
//! Callers: `fs/proc/mod.rs` (the files), `array.rs` (status), `meminfo.rs` (totals).
//!
//! Locking: every function here takes the `MmapLocked` of a locked mm (Linux: `mmap_lock`
//! held for read by `m_start` / `pagemap_read`) and its pgd, and writes into a kernel
//! buffer; the copy to user space happens after the lock is dropped.
//!
//! Differences from Linux 5.10: no THP or hugetlb, so those fields are 0; the
//! RSS counters (`MM_ANONPAGES`, ...) are counted from the page tables when asked, not
//! kept up to date by the fault path; and a PTE's dirty state is the software
//! PTE_DIRTY bit plus what [`page_dirtied`] infers.
use super::seq::seq_put_decimal_ull_width;
use crate::arch::aarch64::pgtable::{
    decode, pte_dirty, pte_pfn, pte_present, pte_young, Desc, Pte,
};
use crate::arch::{PAGE_SHIFT, PAGE_SIZE};
use crate::errno::{Errno, KResult};
use crate::mm::memory::{for_each_pte, is_zero_pte, pgtable_entries};
use crate::mm::mm_types::MmapLocked;
use crate::mm::page::{pfn_to_page, pfn_valid, Page, PageFlags};
use crate::mm::vma::{find_vma_key, show_map_vma, VmArea, VmFlags};
use alloc::string::String;
use core::fmt::Write;

/// `/proc/<pid>/maps`: one `show_map_vma` line per VMA (Linux: `show_map`).
pub fn show_maps(mm: &MmapLocked) -> String {
    let mut out = String::new();
    for vma in mm.vmas() {
        out.push_str(&show_map_vma(mm, vma)); // ends in '\n'
    }
    out
}

// ---------------------------------------------------------------------------------------
// Pages behind PTEs
// ---------------------------------------------------------------------------------------

/// The `struct page` a present PTE of `vma` maps, or None for the zero page, a PFN without
/// a `struct page` (MMIO) and raw-PFN VMAs. Linux: `vm_normal_page` (without the
/// `pte_special` bit: our special mappings are exactly those cases).
pub fn vm_normal_page(vma: &VmArea, pte: Pte) -> Option<&'static Page> {
    if !pte_present(pte) || is_zero_pte(pte) || vma.vm_flags.contains(VmFlags::VM_PFNMAP) {
        return None;
    }
    let pfn = pte_pfn(pte);
    pfn_valid(pfn).then(|| pfn_to_page(pfn))
}

/// Is this an anonymous page? (Linux: `PageAnon`, `mapping & PAGE_MAPPING_ANON`.)
pub fn page_anon(page: &Page) -> bool {
    crate::mm::rmap::PageAnon(page)
}

/// Is the page dirty as far as this PTE tells? What Linux asks with `pte_dirty` (arm64:
/// the software PTE_DIRTY bit or a hardware-dirty DBM entry). Our write faults set the
/// software [`PTE_DIRTY`](crate::arch::aarch64::pgtable::PTE_DIRTY) as Linux's do, and
/// fork's write-protect keeps it; an anonymous page that is swap-backed also exists only
/// because of a write (`do_anonymous_page` on a write, a COW copy), so it counts too. A
/// lazily freed page (Linux's MADV_FREE clears PG_swapbacked and the PTE's dirty bit) is
/// clean until written again; our MADV_FREE unmaps the page at once instead. File and shmem pages count as dirty by
/// PG_dirty alone (set by a write fault on a shared mapping); a shared page written
/// through a PTE its read fault already made writable is not seen, where Linux's write
/// would have faulted to set the dirty bit.
pub fn page_dirtied(pte: Pte, page: &Page) -> bool {
    page_anon(page) && (pte_dirty(pte) || page.test(PageFlags::PG_swapbacked))
}

// ---------------------------------------------------------------------------------------
// smaps
// ---------------------------------------------------------------------------------------

/// Fixed-point shift of the `pss` sums: 12 bits of fraction (Linux: `PSS_SHIFT`).
pub const PSS_SHIFT: u32 = 12;

/// Totals of one VMA (or, summed, of an address space), in bytes; `pss*` carry
/// [`PSS_SHIFT`] bits of fraction. Linux: `struct mem_size_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSizeStats {
    /// Bytes mapped and present (Rss).
    pub resident: u64,
    /// Present, mapped elsewhere too, clean.
    pub shared_clean: u64,
    /// Present, mapped elsewhere too, dirty.
    pub shared_dirty: u64,
    /// Present, mapped only here, clean.
    pub private_clean: u64,
    /// Present, mapped only here, dirty.
    pub private_dirty: u64,
    /// Accessed since the bit was last cleared.
    pub referenced: u64,
    /// Anonymous pages.
    pub anonymous: u64,
    /// Anonymous pages freed with MADV_FREE and not written since.
    pub lazyfree: u64,
    /// Anonymous transparent huge pages (none here).
    pub anonymous_thp: u64,
    /// PMD-mapped shmem (none here).
    pub shmem_thp: u64,
    /// PMD-mapped file pages (none here).
    pub file_thp: u64,
    /// Swapped out: swap PTEs in the VMA, in bytes.
    pub swap: u64,
    /// hugetlbfs pages mapped elsewhere too (none here).
    pub shared_hugetlb: u64,
    /// hugetlbfs pages mapped only here (none here).
    pub private_hugetlb: u64,
    /// Proportional set size: each page divided by its mapcount.
    pub pss: u64,
    /// The anonymous part of `pss`.
    pub pss_anon: u64,
    /// The file part of `pss`.
    pub pss_file: u64,
    /// The shmem part of `pss`.
    pub pss_shmem: u64,
    /// The part of `pss` in VM_LOCKED VMAs.
    pub pss_locked: u64,
    /// Swap divided by the slot's swap count (how many PTEs share it).
    pub swap_pss: u64,
}

impl MemSizeStats {
    /// Add another VMA's totals.
    pub fn add(&mut self, o: &MemSizeStats) {
        self.resident += o.resident;
        self.shared_clean += o.shared_clean;
        self.shared_dirty += o.shared_dirty;
        self.private_clean += o.private_clean;
        self.private_dirty += o.private_dirty;
        self.referenced += o.referenced;
        self.anonymous += o.anonymous;
        self.lazyfree += o.lazyfree;
        self.pss += o.pss;
        self.pss_anon += o.pss_anon;
        self.pss_file += o.pss_file;
        self.pss_shmem += o.pss_shmem;
        self.pss_locked += o.pss_locked;
    }
}

/// What `smaps_account` needs to know of one mapped page; a plain value so the
/// arithmetic is testable without a `struct Page`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageSnapshot {
    /// `PageAnon`.
    pub anon: bool,
    /// `PageSwapBacked` (anonymous and shmem pages).
    pub swapbacked: bool,
    /// `PageDirty`.
    pub dirty: bool,
    /// `PageReferenced`.
    pub referenced: bool,
    /// `page_count`.
    pub count: i32,
    /// `page_mapcount`.
    pub mapcount: i32,
}

impl PageSnapshot {
    /// Read the fields of `page`.
    pub fn of(page: &Page) -> PageSnapshot {
        let flags = page.flags();
        PageSnapshot {
            anon: page_anon(page),
            swapbacked: flags.contains(PageFlags::PG_swapbacked),
            dirty: flags.contains(PageFlags::PG_dirty),
            referenced: flags.contains(PageFlags::PG_referenced),
            count: page.page_count(),
            mapcount: page.page_mapcount(),
        }
    }
}

/// Add one PTE-mapped page to `mss`: Rss, Referenced and Anonymous by size, then Pss
/// (the page divided by its mapcount) and the shared/private, clean/dirty split, where
/// a page counts as private when only this PTE maps it. Linux 5.10: `smaps_account` +
/// `smaps_page_accumulate` (order-0 pages only: no THP here).
pub fn smaps_account(
    mss: &mut MemSizeStats,
    page: PageSnapshot,
    young: bool,
    dirty: bool,
    locked: bool,
) {
    let size = PAGE_SIZE as u64;
    if page.anon {
        mss.anonymous += size;
        if !page.swapbacked && !dirty && !page.dirty {
            mss.lazyfree += size;
        }
    }
    mss.resident += size;
    if young || page.referenced {
        mss.referenced += size;
    }
    // page_count == 1 means nobody else holds the page: certainly mapped once.
    let (pss, private) = if page.count == 1 || page.mapcount < 2 {
        (size << PSS_SHIFT, true)
    } else {
        ((size << PSS_SHIFT) / page.mapcount as u64, false)
    };
    mss.pss += pss;
    if page.anon {
        mss.pss_anon += pss;
    } else if page.swapbacked {
        mss.pss_shmem += pss;
    } else {
        mss.pss_file += pss;
    }
    if locked {
        mss.pss_locked += pss;
    }
    match (dirty || page.dirty, private) {
        (true, true) => mss.private_dirty += size,
        (true, false) => mss.shared_dirty += size,
        (false, true) => mss.private_clean += size,
        (false, false) => mss.shared_clean += size,
    }
}

/// One PTE of `vma` (Linux: `smaps_pte_entry`). The zero page and PFN mappings have no
/// `struct page` (`vm_normal_page` is NULL) and count nothing, not even Rss.
fn smaps_pte_entry(mss: &mut MemSizeStats, vma: &VmArea, pte: Pte) {
    if crate::mm::swapops::is_swap_pte(pte) {
        // Swapped out: its share of the slot (Linux: smaps_pte_entry's swap branch).
        // A hwpoison entry is no slot and counts nothing.
        let entry = crate::mm::swapops::pte_to_swp_entry(pte);
        if crate::mm::swapops::non_swap_entry(entry) {
            return;
        }
        mss.swap += PAGE_SIZE as u64;
        let mapcount = crate::mm::swapfile::swp_swapcount(entry).max(1) as u64;
        mss.swap_pss += ((PAGE_SIZE as u64) << PSS_SHIFT) / mapcount;
        return;
    }
    let Some(page) = vm_normal_page(vma, pte) else {
        return; // not present, zero page, raw PFN
    };
    let locked = vma.vm_flags.contains(VmFlags::VM_LOCKED);
    smaps_account(
        mss,
        PageSnapshot::of(page),
        pte_young(pte),
        page_dirtied(pte, page), // smaps_account adds PageDirty
        locked,
    );
}

/// Walk the PTEs of `vma` into a fresh `MemSizeStats` (Linux: `smap_gather_stats` ->
/// `walk_page_vma` with `smaps_walk_ops`). The caller holds the mm lock.
pub fn smap_gather_stats(pgd: usize, vma: &VmArea) -> MemSizeStats {
    let mut mss = MemSizeStats::default();
    for_each_pte(pgd, vma.vm_start, vma.vm_end, |_, pte| {
        smaps_pte_entry(&mut mss, vma, *pte)
    });
    mss
}

/// The two-letter VmFlags names, indexed by bit, as Linux 5.10 arm64 prints them
/// (`show_smap_vma_flags`). Bits without a name print `??`; an empty name is never
/// printed. Config as a Debian arm64 kernel: `CONFIG_ARM64_BTI` (bit 24 is `bt`, not
/// `ar`), no `CONFIG_MEM_SOFT_DIRTY` (there VM_SOFTDIRTY is 0, so it never shows; we keep
/// the bit, and hide it). VM_LOCKONFAULT has no name in 5.10 (`??`); 6.2 added `lf`.
const VM_FLAG_MNEMONICS: [&str; 64] = {
    const fn bit(f: VmFlags) -> usize {
        f.bits().trailing_zeros() as usize
    }
    let mut t = ["??"; 64];
    t[bit(VmFlags::VM_READ)] = "rd";
    t[bit(VmFlags::VM_WRITE)] = "wr";
    t[bit(VmFlags::VM_EXEC)] = "ex";
    t[bit(VmFlags::VM_SHARED)] = "sh";
    t[bit(VmFlags::VM_MAYREAD)] = "mr";
    t[bit(VmFlags::VM_MAYWRITE)] = "mw";
    t[bit(VmFlags::VM_MAYEXEC)] = "me";
    t[bit(VmFlags::VM_MAYSHARE)] = "ms";
    t[bit(VmFlags::VM_GROWSDOWN)] = "gd";
    t[bit(VmFlags::VM_PFNMAP)] = "pf";
    t[bit(VmFlags::VM_DENYWRITE)] = "dw";
    t[bit(VmFlags::VM_LOCKED)] = "lo";
    t[bit(VmFlags::VM_IO)] = "io";
    t[bit(VmFlags::VM_SEQ_READ)] = "sr";
    t[bit(VmFlags::VM_RAND_READ)] = "rr";
    t[bit(VmFlags::VM_DONTCOPY)] = "dc";
    t[bit(VmFlags::VM_DONTEXPAND)] = "de";
    t[bit(VmFlags::VM_ACCOUNT)] = "ac";
    t[bit(VmFlags::VM_NORESERVE)] = "nr";
    t[bit(VmFlags::VM_HUGETLB)] = "ht";
    t[bit(VmFlags::VM_SYNC)] = "sf";
    t[bit(VmFlags::VM_ARCH_1)] = "bt";
    t[bit(VmFlags::VM_WIPEONFORK)] = "wf";
    t[bit(VmFlags::VM_DONTDUMP)] = "dd";
    t[bit(VmFlags::VM_SOFTDIRTY)] = "";
    t[bit(VmFlags::VM_MIXEDMAP)] = "mm";
    t[bit(VmFlags::VM_HUGEPAGE)] = "hg";
    t[bit(VmFlags::VM_NOHUGEPAGE)] = "nh";
    t[bit(VmFlags::VM_MERGEABLE)] = "mg";
    t[bit(VmFlags::VM_UFFD_MISSING)] = "um";
    t[bit(VmFlags::VM_UFFD_WP)] = "uw";
    t
};

/// The `VmFlags:` line: each set flag's two letters and a space, in bit order, so the line
/// ends in a space (Linux: `show_smap_vma_flags`).
pub fn show_smap_vma_flags(m: &mut String, flags: VmFlags) {
    m.push_str("VmFlags: ");
    for (i, name) in VM_FLAG_MNEMONICS.iter().enumerate() {
        if !name.is_empty() && flags.bits() & (1 << i) != 0 {
            m.push_str(name);
            m.push(' ');
        }
    }
    m.push('\n');
}

/// The counter lines of one smaps entry, Rss to Locked (Linux: `__show_smap` without
/// rollup mode). Note Linux's odd one out: `Private_Hugetlb: ` is one column longer and
/// its number one narrower.
pub fn show_smap_counters(m: &mut String, mss: &MemSizeStats) {
    let kb = |bytes: u64| bytes >> 10;
    let lines: [(&str, u64, usize); 17] = [
        ("Rss:            ", kb(mss.resident), 8),
        (" kB\nPss:            ", kb(mss.pss >> PSS_SHIFT), 8),
        (" kB\nShared_Clean:   ", kb(mss.shared_clean), 8),
        (" kB\nShared_Dirty:   ", kb(mss.shared_dirty), 8),
        (" kB\nPrivate_Clean:  ", kb(mss.private_clean), 8),
        (" kB\nPrivate_Dirty:  ", kb(mss.private_dirty), 8),
        (" kB\nReferenced:     ", kb(mss.referenced), 8),
        (" kB\nAnonymous:      ", kb(mss.anonymous), 8),
        (" kB\nLazyFree:       ", kb(mss.lazyfree), 8),
        (" kB\nAnonHugePages:  ", kb(mss.anonymous_thp), 8),
        (" kB\nShmemPmdMapped: ", kb(mss.shmem_thp), 8),
        (" kB\nFilePmdMapped:  ", kb(mss.file_thp), 8),
        (" kB\nShared_Hugetlb: ", kb(mss.shared_hugetlb), 8),
        (" kB\nPrivate_Hugetlb: ", kb(mss.private_hugetlb), 7),
        (" kB\nSwap:           ", kb(mss.swap), 8),
        (" kB\nSwapPss:        ", kb(mss.swap_pss >> PSS_SHIFT), 8),
        (" kB\nLocked:         ", kb(mss.pss_locked >> PSS_SHIFT), 8),
    ];
    for (text, value, width) in lines {
        seq_put_decimal_ull_width(m, text, value, width);
    }
    m.push_str(" kB\n");
}

/// One `/proc/<pid>/smaps` entry: the maps line, the sizes, the counters, THPeligible and
/// VmFlags (Linux 5.10: `show_smap`). No THP here, so THPeligible is 0; no protection
/// keys on arm64 5.10, so no ProtectionKey line.
pub fn show_smap(m: &mut String, mm: &MmapLocked, pgd: usize, vma: &VmArea) {
    let mss = smap_gather_stats(pgd, vma);
    m.push_str(&show_map_vma(mm, vma));
    let page_kb = (PAGE_SIZE >> 10) as u64;
    seq_put_decimal_ull_width(m, "Size:           ", vma.vma_pages() as u64 * page_kb, 8);
    seq_put_decimal_ull_width(m, " kB\nKernelPageSize: ", page_kb, 8);
    seq_put_decimal_ull_width(m, " kB\nMMUPageSize:    ", page_kb, 8);
    m.push_str(" kB\n");
    show_smap_counters(m, &mss);
    let _ = writeln!(m, "THPeligible:    {}", 0);
    show_smap_vma_flags(m, vma.vm_flags);
}

/// `/proc/<pid>/smaps`: [`show_smap`] for every VMA in address order.
pub fn show_smaps(mm: &MmapLocked, pgd: usize) -> String {
    let mut out = String::new();
    for vma in mm.vmas() {
        show_smap(&mut out, mm, pgd, vma);
    }
    out
}

// ---------------------------------------------------------------------------------------
// pagemap
// ---------------------------------------------------------------------------------------

/// Bytes per pagemap entry (Linux: `PM_ENTRY_BYTES`).
pub const PM_ENTRY_BYTES: usize = 8;
/// Bits 0-54: the page frame number, or the swap type and offset (Linux: `PM_PFRAME_BITS`).
pub const PM_PFRAME_BITS: u32 = 55;
/// Mask of the frame field (Linux: `PM_PFRAME_MASK`).
pub const PM_PFRAME_MASK: u64 = (1 << PM_PFRAME_BITS) - 1;
/// Bit 55: written since soft-dirty was cleared; always 0 on arm64 (Linux: `PM_SOFT_DIRTY`).
pub const PM_SOFT_DIRTY: u64 = 1 << 55;
/// Bit 56: the page is mapped exactly once (Linux: `PM_MMAP_EXCLUSIVE`).
pub const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
/// Bit 57: userfaultfd write-protected (Linux: `PM_UFFD_WP`).
pub const PM_UFFD_WP: u64 = 1 << 57;
/// Bit 61: a file page or shared anonymous (shmem) page (Linux: `PM_FILE`).
pub const PM_FILE: u64 = 1 << 61;
/// Bit 62: swapped out (Linux: `PM_SWAP`).
pub const PM_SWAP: u64 = 1 << 62;
/// Bit 63: present in RAM (Linux: `PM_PRESENT`).
pub const PM_PRESENT: u64 = 1 << 63;

/// An entry from a frame and flags (Linux: `make_pme`).
pub const fn make_pme(frame: u64, flags: u64) -> u64 {
    (frame & PM_PFRAME_MASK) | flags
}

/// The pagemap entry of one page: present with its PFN (0 unless `show_pfn`), file and
/// exclusive bits from its `struct page` when it has one. `page` is the page behind a
/// present PTE (None for the zero page or a raw PFN) as (anonymous, mapcount).
pub fn pagemap_entry(present: bool, pfn: u64, page: Option<(bool, i32)>, show_pfn: bool) -> u64 {
    let (mut frame, mut flags) = (0, 0);
    if present {
        if show_pfn {
            frame = pfn;
        }
        flags |= PM_PRESENT;
    }
    if let Some((anon, mapcount)) = page {
        if !anon {
            flags |= PM_FILE;
        }
        if mapcount == 1 {
            flags |= PM_MMAP_EXCLUSIVE;
        }
    }
    make_pme(frame, flags)
}

/// The entry for `pte` in `vma` (Linux: `pte_to_pagemap_entry`). A swap entry reads as
/// PM_SWAP with, for a reader allowed to see frames, its type in the low 5 bits and its
/// offset above them (Linux: `swp_type | swp_offset << MAX_SWAPFILES_SHIFT`).
fn pte_to_pagemap_entry(vma: &VmArea, pte: Pte, show_pfn: bool) -> u64 {
    if crate::mm::swapops::is_swap_pte(pte) {
        use crate::mm::swapops::{pte_to_swp_entry, swp_offset, swp_type, MAX_SWAPFILES_SHIFT};
        let entry = pte_to_swp_entry(pte);
        let frame = if show_pfn {
            swp_type(entry) as u64 | (swp_offset(entry) << MAX_SWAPFILES_SHIFT)
        } else {
            0
        };
        return make_pme(frame, PM_SWAP);
    }
    let page = vm_normal_page(vma, pte).map(|p| (page_anon(p), p.page_mapcount()));
    pagemap_entry(pte_present(pte), pte_pfn(pte) as u64, page, show_pfn)
}

/// Read `/proc/<pid>/pagemap` at byte `pos` into `buf`: one 8-byte entry per virtual page,
/// entry `i` for address `i * PAGE_SIZE`, native byte order. EINVAL unless `pos` and the
/// length are multiples of 8; nothing (end of file) at and past `task_size`; holes read
/// as 0. PFNs only for a reader allowed to see them (`show_pfn`: Linux checks
/// CAP_SYS_ADMIN when the file is opened, we check the reader's euid 0 when it reads).
/// Linux: `pagemap_read`. The caller holds the mm lock; `buf` is kernel memory.
#[no_mangle]
#[inline(never)]
pub fn pagemap_read(
    mm: &MmapLocked,
    pgd: usize,
    pos: u64,
    buf: &mut [u8],
    show_pfn: bool,
) -> KResult<usize> {
    if !pos.is_multiple_of(PM_ENTRY_BYTES as u64) || !buf.len().is_multiple_of(PM_ENTRY_BYTES) {
        return Err(Errno::EINVAL);
    }
    let end_vaddr = mm.task_size;
    let svpfn = pos / PM_ENTRY_BYTES as u64;
    // Watch out for wraparound, and for offsets past the address space.
    let start_vaddr = if svpfn <= (usize::MAX >> PAGE_SHIFT) as u64 {
        ((svpfn as usize) << PAGE_SHIFT).min(end_vaddr)
    } else {
        end_vaddr
    };
    let n = (buf.len() / PM_ENTRY_BYTES).min((end_vaddr - start_vaddr) >> PAGE_SHIFT);
    let end = start_vaddr + (n << PAGE_SHIFT);
    let out = &mut buf[..n * PM_ENTRY_BYTES];
    out.fill(0); // holes: make_pme(0, 0) (no VM_SOFTDIRTY on arm64)
    let Some(first) = find_vma_key(mm, start_vaddr) else {
        return Ok(out.len());
    };
    for vma in mm.mm_rb.range(first..).map(|(_, v)| v) {
        if vma.vm_start >= end {
            break;
        }
        let (from, to) = (vma.vm_start.max(start_vaddr), vma.vm_end.min(end));
        for_each_pte(pgd, from, to, |va, pte| {
            let i = ((va - start_vaddr) >> PAGE_SHIFT) * PM_ENTRY_BYTES;
            let pme = pte_to_pagemap_entry(vma, *pte, show_pfn);
            out[i..i + PM_ENTRY_BYTES].copy_from_slice(&pme.to_ne_bytes());
        });
    }
    Ok(out.len())
}

// ---------------------------------------------------------------------------------------
// status: task_mem
// ---------------------------------------------------------------------------------------

/// Resident pages by kind (Linux: the `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SHMEMPAGES`
/// counters of `mm->rss_stat`). Linux updates them on every map and unmap; we count the
/// present PTEs when asked, which gives the same numbers (Linux's per-task batching even
/// makes its own lag by up to 64 faults). The zero page counts in none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmRss {
    /// Anonymous pages mapped.
    pub anon: u64,
    /// File pages mapped.
    pub file: u64,
    /// Shmem pages mapped (PageSwapBacked, not anonymous). Our tmpfs pages do not carry
    /// PG_swapbacked yet, so they count as file pages for now.
    pub shmem: u64,
    /// Swap entries in the page tables (Linux: `MM_SWAPENTS`).
    pub swapents: u64,
}

/// Count the resident pages of every VMA (Linux: `get_mm_counter` for each kind).
pub fn get_mm_rss(mm: &MmapLocked, pgd: usize) -> MmRss {
    let mut rss = MmRss::default();
    for vma in mm.vmas() {
        for_each_pte(pgd, vma.vm_start, vma.vm_end, |_, pte| {
            if crate::mm::swapops::is_swap_pte(*pte) {
                // MM_SWAPENTS counts slots only, not hwpoison entries (Linux:
                // try_to_unmap_one's hwpoison branch leaves it alone).
                if !crate::mm::swapops::non_swap_entry(crate::mm::swapops::pte_to_swp_entry(*pte)) {
                    rss.swapents += 1;
                }
                return;
            }
            let Some(page) = vm_normal_page(vma, *pte) else {
                return;
            };
            if page_anon(page) {
                rss.anon += 1;
            } else if page.test(PageFlags::PG_swapbacked) {
                rss.shmem += 1;
            } else {
                rss.file += 1;
            }
        });
    }
    rss
}

/// Page-table pages below a pgd, per level: `[pgd, pud, pmd, pte]` tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PgtableCounts(pub [u64; 4]);

impl PgtableCounts {
    /// Bytes Linux charges to the mm (Linux: `mm_pgtables_bytes`: pte, pmd and pud
    /// tables; the pgd is not counted), as `VmPTE` shows.
    pub fn mm_pgtables_bytes(&self) -> u64 {
        (self.0[1] + self.0[2] + self.0[3]) * PAGE_SIZE as u64
    }
    /// Pages Linux counts in `NR_PAGETABLE` (meminfo `PageTables`): pte and pmd tables,
    /// which have page-table constructors; arm64's pud and pgd pages do not.
    pub fn nr_pagetable(&self) -> u64 {
        self.0[2] + self.0[3]
    }
}

/// Count the tables of the user page tables under `pgd` (Linux keeps
/// `mm->pgtables_bytes` as tables are allocated; we walk them). The caller holds the
/// mm lock, so no table comes or goes meanwhile.
pub fn count_pgtables(pgd: usize) -> PgtableCounts {
    fn walk(t: usize, level: usize, counts: &mut [u64; 4]) {
        counts[level] += 1;
        if level == 3 {
            return;
        }
        // SAFETY: `t` is the pgd or a table a present entry one level up points at, and
        // page-table pages stay while the mm lock is held.
        let entries = unsafe { pgtable_entries(t) };
        for &e in entries.iter() {
            if let Desc::Table(next) = decode(e, level) {
                walk(next, level + 1, counts);
            }
        }
    }
    let mut counts = [0; 4];
    if pgd != 0 {
        walk(pgd, 0, &mut counts);
    }
    PgtableCounts(counts)
}

/// The memory lines of `/proc/<pid>/status`, VmPeak to HugetlbPages (Linux 5.10:
/// `task_mem` + `hugetlb_report_usage`): a tab after the name, the kB value right-aligned
/// in 8. VmExe is the text segment (at most the executable mappings), VmLib the rest of
/// the executable mappings.
///
/// Difference: we keep no high-water marks (`hiwater_vm`, `hiwater_rss`, which Linux
/// updates just before total_vm or RSS drops), so VmPeak equals VmSize and VmHWM equals
/// VmRSS. The caller holds the mm lock.
pub fn task_mem(m: &mut String, mm: &MmapLocked, pgd: usize) {
    let kb = |pages: u64| pages << (PAGE_SHIFT - 10);
    let rss = get_mm_rss(mm, pgd);
    let total_rss = rss.anon + rss.file + rss.shmem;
    let total_vm = mm.total_vm as u64;
    let (hiwater_vm, hiwater_rss) = (total_vm, total_rss);
    let page_mask = !(PAGE_SIZE - 1);
    let exec_bytes = (mm.exec_vm as u64) << PAGE_SHIFT;
    let text =
        ((mm.end_code + PAGE_SIZE - 1) & page_mask).saturating_sub(mm.start_code & page_mask);
    let text = (text as u64).min(exec_bytes);
    let lib = exec_bytes - text;
    let pgtables = count_pgtables(pgd).mm_pgtables_bytes();
    let lines: [(&str, u64); 15] = [
        ("VmPeak:\t", kb(hiwater_vm)),
        (" kB\nVmSize:\t", kb(total_vm)),
        (" kB\nVmLck:\t", kb(mm.locked_vm as u64)),
        (" kB\nVmPin:\t", kb(mm.pinned_vm as u64)),
        (" kB\nVmHWM:\t", kb(hiwater_rss)),
        (" kB\nVmRSS:\t", kb(total_rss)),
        (" kB\nRssAnon:\t", kb(rss.anon)),
        (" kB\nRssFile:\t", kb(rss.file)),
        (" kB\nRssShmem:\t", kb(rss.shmem)),
        (" kB\nVmData:\t", kb(mm.data_vm as u64)),
        (" kB\nVmStk:\t", kb(mm.stack_vm as u64)),
        (" kB\nVmExe:\t", text >> 10),
        (" kB\nVmLib:\t", lib >> 10),
        (" kB\nVmPTE:\t", pgtables >> 10),
        (" kB\nVmSwap:\t", kb(rss.swapents)),
    ];
    for (text, value) in lines {
        seq_put_decimal_ull_width(m, text, value, 8);
    }
    m.push_str(" kB\n");
    // hugetlb_report_usage (CONFIG_HUGETLB_PAGE): no hugetlbfs here.
    seq_put_decimal_ull_width(m, "HugetlbPages:\t", 0, 8);
    m.push_str(" kB\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vmflags_line(flags: VmFlags) -> String {
        let mut m = String::new();
        show_smap_vma_flags(&mut m, flags);
        m
    }

    #[test]
    fn vmflags_of_a_private_anonymous_rw_mapping_are_rd_wr_mr_mw_me_ac() {
        // What mmap(PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS) gives, plus the
        // VM_SOFTDIRTY we set and arm64 Linux has not.
        let f = VmFlags::VM_READ
            | VmFlags::VM_WRITE
            | VmFlags::VM_MAYREAD
            | VmFlags::VM_MAYWRITE
            | VmFlags::VM_MAYEXEC
            | VmFlags::VM_ACCOUNT
            | VmFlags::VM_SOFTDIRTY;
        assert_eq!(vmflags_line(f), "VmFlags: rd wr mr mw me ac \n");
    }

    #[test]
    fn vmflags_print_in_bit_order_with_5_10_names() {
        let f = VmFlags::VM_MERGEABLE
            | VmFlags::VM_GROWSDOWN
            | VmFlags::VM_LOCKED
            | VmFlags::VM_SHARED
            | VmFlags::VM_MAYSHARE
            | VmFlags::VM_ARCH_1
            | VmFlags::VM_UFFD_MISSING;
        assert_eq!(vmflags_line(f), "VmFlags: sh ms gd um lo bt mg \n");
        // VM_LOCKONFAULT had no mnemonic before 6.2.
        assert_eq!(
            vmflags_line(VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT),
            "VmFlags: lo ?? \n"
        );
        assert_eq!(vmflags_line(VmFlags::empty()), "VmFlags: \n");
    }

    #[test]
    fn smaps_counters_pad_like_linux_with_the_private_hugetlb_quirk() {
        let mss = MemSizeStats {
            resident: 8192,
            pss: 8192 << PSS_SHIFT,
            private_dirty: 8192,
            anonymous: 8192,
            referenced: 8192,
            ..Default::default()
        };
        let mut m = String::new();
        show_smap_counters(&mut m, &mss);
        let lines: alloc::vec::Vec<&str> = m.lines().collect();
        assert_eq!(lines.len(), 17);
        assert_eq!(lines[0], "Rss:                   8 kB");
        assert_eq!(lines[1], "Pss:                   8 kB");
        assert_eq!(lines[13], "Private_Hugetlb:       0 kB");
        assert_eq!(lines[16], "Locked:                0 kB");
        assert!(lines.iter().all(|l| l.len() == 27), "{lines:?}");
    }

    #[test]
    fn smaps_account_divides_shared_pages_by_mapcount() {
        let shared = PageSnapshot {
            anon: true,
            swapbacked: true,
            count: 2,
            mapcount: 2,
            ..Default::default()
        };
        let mut mss = MemSizeStats::default();
        smaps_account(&mut mss, shared, true, true, true);
        smaps_account(&mut mss, shared, false, true, true);
        assert_eq!(mss.resident, 8192);
        assert_eq!(mss.pss >> PSS_SHIFT, 4096);
        assert_eq!(mss.pss_locked, mss.pss);
        assert_eq!((mss.shared_dirty, mss.private_dirty), (8192, 0));
        assert_eq!(
            (mss.referenced, mss.anonymous, mss.lazyfree),
            (4096, 8192, 0)
        );
        // A page-cache page mapped once: count 2 (cache + mapping), mapcount 1: private.
        let file = PageSnapshot {
            count: 2,
            mapcount: 1,
            ..Default::default()
        };
        let mut f = MemSizeStats::default();
        smaps_account(&mut f, file, true, false, false);
        assert_eq!((f.private_clean, f.pss_file >> PSS_SHIFT), (4096, 4096));
        assert_eq!((f.anonymous, f.pss_locked), (0, 0));
        // MADV_FREE'd (not swap-backed, clean): lazy free.
        let lazy = PageSnapshot {
            anon: true,
            count: 1,
            mapcount: 1,
            ..Default::default()
        };
        let mut l = MemSizeStats::default();
        smaps_account(&mut l, lazy, false, false, false);
        assert_eq!(l.lazyfree, 4096);
    }

    #[test]
    fn pagemap_entry_encodes_present_pfn_file_and_exclusive_bits() {
        // An anonymous page mapped once, seen by root.
        assert_eq!(
            pagemap_entry(true, 0x4_1234, Some((true, 1)), true),
            PM_PRESENT | PM_MMAP_EXCLUSIVE | 0x4_1234
        );
        // The same page seen by a user: no PFN (Linux >= 4.2 hides it).
        assert_eq!(
            pagemap_entry(true, 0x4_1234, Some((true, 1)), false),
            PM_PRESENT | PM_MMAP_EXCLUSIVE
        );
        // A page-cache page mapped by two processes.
        assert_eq!(
            pagemap_entry(true, 7, Some((false, 2)), true),
            PM_PRESENT | PM_FILE | 7
        );
        // The zero page: present with its PFN, no struct page, so neither bit.
        assert_eq!(pagemap_entry(true, 9, None, true), PM_PRESENT | 9);
        assert_eq!(pagemap_entry(false, 0, None, true), 0);
        assert_eq!(make_pme(u64::MAX, 0), PM_PFRAME_MASK);
        assert_eq!(PM_PRESENT, 0x8000_0000_0000_0000);
    }
}

#[cfg(test)]
mod walk_tests {
    //! The walkers over real page tables in simulated RAM (as `mm/memory.rs`'s tests).
    use super::*;
    use crate::mm::memory::{free_user_pgtables, pgd_alloc, zero_page_phys};
    use crate::mm::page::page_to_pfn;

    fn setup() -> crate::arch::aarch64::mmu::tests::SimRam {
        let ram = crate::arch::aarch64::mmu::tests::SimRam::new(256);
        crate::mm::page::tests::host_mem_map(0x40000, 4096);
        let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
        if zone.managed_pages == 0 {
            zone.add_free_range(0x40000, 0x40000 + 256);
        }
        ram
    }

    fn rw_anon(start: usize, pages: usize) -> VmArea {
        VmArea::new(
            start,
            start + pages * PAGE_SIZE,
            VmFlags::VM_READ
                | VmFlags::VM_WRITE
                | VmFlags::VM_MAYREAD
                | VmFlags::VM_MAYWRITE
                | VmFlags::VM_MAYEXEC
                | VmFlags::VM_ACCOUNT,
        )
    }

    #[test]
    fn smaps_counts_written_pages_and_skips_the_zero_page() {
        let _ram = setup();
        zero_page_phys();
        let pgd = pgd_alloc().unwrap();
        let base = 0x10_0000;
        let vma = rw_anon(base, 8);
        for i in 0..3 {
            crate::mm::memory::fault_for_test(pgd, &vma, base + i * PAGE_SIZE, true);
        }
        crate::mm::memory::fault_for_test(pgd, &vma, base + 5 * PAGE_SIZE, false);
        let mss = smap_gather_stats(pgd, &vma);
        assert_eq!(mss.resident, 3 * 4096, "the zero page is not in Rss");
        assert_eq!(mss.anonymous, 3 * 4096);
        assert_eq!(mss.private_dirty, 3 * 4096);
        assert_eq!(mss.pss >> PSS_SHIFT, 3 * 4096);
        let mut mm = MmapLocked::new();
        crate::mm::vma::vma_link(&mut mm, vma.clone()).unwrap();
        assert_eq!(
            get_mm_rss(&mm, pgd),
            MmRss {
                anon: 3,
                file: 0,
                shmem: 0,
                swapents: 0
            }
        );
        // pgd + pud + pmd + pte.
        assert_eq!(count_pgtables(pgd), PgtableCounts([1, 1, 1, 1]));
        assert_eq!(count_pgtables(pgd).mm_pgtables_bytes(), 3 * 4096);
        free_user_pgtables(pgd, 1);
    }

    #[test]
    fn pagemap_reads_entries_per_page_and_refuses_unaligned_reads() {
        let _ram = setup();
        let zero_pfn = (zero_page_phys() >> PAGE_SHIFT) as u64;
        let pgd = pgd_alloc().unwrap();
        let base = 0x20_0000;
        let vma = rw_anon(base, 4);
        let mut mm = MmapLocked::new();
        crate::mm::vma::vma_link(&mut mm, vma.clone()).unwrap();
        crate::mm::memory::fault_for_test(pgd, &vma, base, true);
        crate::mm::memory::fault_for_test(pgd, &vma, base + 2 * PAGE_SIZE, false);
        let pte = *crate::mm::memory::pte_offset(pgd, base, false).unwrap();
        let pfn = page_to_pfn(vm_normal_page(&vma, pte).unwrap()) as u64;
        // From one page below the VMA to one above: 6 entries.
        let pos = ((base >> PAGE_SHIFT) - 1) as u64 * 8;
        let mut buf = [0xffu8; 48];
        assert_eq!(pagemap_read(&mm, pgd, pos, &mut buf, true), Ok(48));
        let e: alloc::vec::Vec<u64> = buf
            .chunks(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            e,
            [
                0,
                PM_PRESENT | PM_MMAP_EXCLUSIVE | pfn,
                0,
                PM_PRESENT | zero_pfn,
                0,
                0
            ]
        );
        assert_eq!(
            pagemap_read(&mm, pgd, pos + 4, &mut buf, true),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            pagemap_read(&mm, pgd, pos, &mut buf[..12], true),
            Err(Errno::EINVAL)
        );
        assert_eq!(pagemap_read(&mm, pgd, pos, &mut buf[..0], true), Ok(0));
        // At and past the end of the address space: end of file.
        let end = (mm.task_size >> PAGE_SHIFT) as u64 * 8;
        assert_eq!(pagemap_read(&mm, pgd, end, &mut buf, true), Ok(0));
        assert_eq!(pagemap_read(&mm, pgd, end - 8, &mut buf, true), Ok(8));
        assert_eq!(pagemap_read(&mm, pgd, !7u64, &mut buf, true), Ok(0));
        free_user_pgtables(pgd, 1);
    }
}

//! `/proc/meminfo`: system-wide memory use. Linux 5.10: `fs/proc/meminfo.c`
//! (`meminfo_proc_show`), `mm/page_alloc.c` (`si_mem_available`), `mm/util.c`
//! (`vm_commit_limit`), `mm/hugetlb.c` (`hugetlb_report_meminfo`). Caller: `fs/proc/mod.rs`.
//!
//! Every line Linux 5.10 prints on arm64 with a Debian config (CONFIG_MEMORY_FAILURE,
//! CONFIG_TRANSPARENT_HUGEPAGE, CONFIG_CMA, CONFIG_HUGETLB_PAGE; no HIGHMEM, no shadow
//! call stack), in its order and padding. Where this kernel keeps a counter the line shows
//! it; where it has no such thing yet (bounce buffers, vmalloc, per-CPU
//! areas, THP, CMA, hugetlbfs, dirty-page accounting) the line shows 0. Per line:
//! - MemTotal, MemFree: the buddy allocator's managed and free pages.
//! - MemAvailable: Linux's estimate (`si_mem_available`) with the page cache standing in
//!   for the file LRU lists.
//! - Cached: the page caches (tmpfs included, as in Linux).
//! - Active/Inactive(anon/file), Unevictable: the sizes of the LRU lists
//!   (`nr_zone_*`, kept by `mm/mm_inline.rs`); Mlocked: NR_MLOCK.
//! - AnonPages, Mapped: NR_ANON_PAGES / NR_MAPPED, which rmap counts as it maps a page
//!   the first time and unmaps it the last (Linux: NR_ANON_MAPPED / NR_FILE_MAPPED).
//! - Shmem: NR_SHMEM.
//! - SwapTotal, SwapFree: `si_swapinfo` over the active swap areas; SwapCached: the swap
//!   cache (`total_swapcache_pages`).
//! - SUnreclaim, Slab: the pages of all slab caches (`mm/slab.rs`, the kmalloc caches
//!   included); none of our caches has a shrinker, so KReclaimable and SReclaimable are 0.
//! - KernelStack: one THREAD_SIZE stack per task.
//! - PageTables: pmd and pte tables of all address spaces (Linux's NR_PAGETABLE).
//! - CommitLimit: `vm_commit_limit` (RAM * overcommit_ratio / 100, or overcommit_kbytes,
//!   plus swap); Committed_AS: the global `vm_committed_as` counter
//!   (`vm_memory_committed`), both from `mm/util.rs` as in Linux.
use super::seq::{seq_put_decimal_ull_width, show_val_kb};
use super::task_mmu::{count_pgtables, smap_gather_stats, MemSizeStats};
use crate::mm::vmstat::{global_page_state, VmStat};
use crate::task::THREAD_SIZE;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// What meminfo adds up over every address space.
#[derive(Default)]
struct AllMms {
    /// Summed smaps totals (the pss parts give distinct anon/file/shmem pages).
    mss: MemSizeStats,
    /// pmd + pte tables.
    pagetables: u64,
}

/// Walk every address space once (threads share theirs: count each mm once), each under
/// its own lock.
fn all_mms() -> AllMms {
    let mut totals = AllMms::default();
    let mut seen: Vec<*const crate::mm::mm_types::MmStruct> = Vec::new();
    // A walk of the task table, not a list of its pids: any user can read meminfo, and
    // with memory short the list itself could not be had. `seen` grows fallibly: an mm
    // it cannot note is left out rather than counted twice.
    crate::task::for_each_process_thread(|task| {
        let mm = task.mm.lock().clone();
        let Some(mm) = mm else {
            return core::ops::ControlFlow::Continue(());
        };
        if seen.contains(&Arc::as_ptr(&mm)) || seen.try_reserve(1).is_err() {
            return core::ops::ControlFlow::Continue(());
        }
        seen.push(Arc::as_ptr(&mm));
        let guard = crate::mm::mmap_lock::mmap_read_lock(&mm);
        for vma in guard.vmas() {
            totals.mss.add(&smap_gather_stats(mm.pgd, vma));
        }
        totals.pagetables += count_pgtables(mm.pgd).nr_pagetable();
        core::ops::ControlFlow::Continue(())
    });
    totals
}

/// Pages a new workload could get without swapping (Linux: `si_mem_available`): free
/// pages above the reserve, plus the page cache and reclaimable slab that could be
/// dropped, each less what must stay (half of it, at most the low watermark).
pub fn si_mem_available(
    free: u64,
    reserve: u64,
    wmark_low: u64,
    pagecache: u64,
    reclaimable: u64,
) -> u64 {
    let mut available = free as i64 - reserve as i64;
    available += (pagecache - (pagecache / 2).min(wmark_low)) as i64;
    available += (reclaimable - (reclaimable / 2).min(wmark_low)) as i64;
    available.max(0) as u64
}

/// `/proc/meminfo` (Linux 5.10: `meminfo_proc_show`); see the file comment for what each
/// line counts here.
pub fn meminfo() -> String {
    let (managed, free, wmarks) = {
        let zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
        (
            zone.managed_pages as u64,
            zone.nr_free as u64,
            zone.watermarks,
        )
    };
    let state = |item| global_page_state(item).max(0) as u64;
    let cached = crate::mm::filemap::nr_file_pages() as u64;
    let shmem = state(VmStat::NR_SHMEM);
    let (active_anon, inactive_anon) = (
        state(VmStat::NR_ZONE_ACTIVE_ANON),
        state(VmStat::NR_ZONE_INACTIVE_ANON),
    );
    let (active_file, inactive_file) = (
        state(VmStat::NR_ZONE_ACTIVE_FILE),
        state(VmStat::NR_ZONE_INACTIVE_FILE),
    );
    let mlocked = state(VmStat::NR_MLOCK);
    let unevictable = state(VmStat::NR_ZONE_UNEVICTABLE);
    // totalreserve_pages: the high watermark (no lowmem_reserve with one zone).
    let available = si_mem_available(
        free,
        wmarks.high as u64,
        wmarks.low as u64,
        cached.saturating_sub(shmem),
        0,
    );
    let mms = all_mms();
    let slab_pages = crate::mm::slab::nr_slab_pages() as u64;
    let mut tasks = 0;
    crate::task::for_each_process_thread(|_| {
        tasks += 1;
        core::ops::ControlFlow::Continue(())
    });
    let stacks_kb = (tasks * THREAD_SIZE / 1024) as u64;
    let commit_limit = crate::mm::util::vm_commit_limit() as u64;
    let committed = crate::mm::util::vm_memory_committed() as u64;

    let mut m = String::new();
    let rows: [(&str, u64); 14] = [
        ("MemTotal:       ", managed),
        ("MemFree:        ", free),
        ("MemAvailable:   ", available),
        ("Buffers:        ", 0),
        ("Cached:         ", cached),
        (
            "SwapCached:     ",
            crate::mm::swap_state::total_swapcache_pages() as u64,
        ),
        ("Active:         ", active_anon + active_file),
        ("Inactive:       ", inactive_anon + inactive_file),
        ("Active(anon):   ", active_anon),
        ("Inactive(anon): ", inactive_anon),
        ("Active(file):   ", active_file),
        ("Inactive(file): ", inactive_file),
        ("Unevictable:    ", unevictable),
        ("Mlocked:        ", mlocked),
    ];
    for (name, pages) in rows {
        show_val_kb(&mut m, name, pages);
    }
    let (swap_total, swap_free) = crate::mm::swapfile::si_swapinfo();
    let rows: [(&str, u64); 11] = [
        ("SwapTotal:      ", swap_total as u64),
        ("SwapFree:       ", swap_free as u64),
        ("Dirty:          ", 0),
        ("Writeback:      ", 0),
        ("AnonPages:      ", state(VmStat::NR_ANON_PAGES)),
        ("Mapped:         ", state(VmStat::NR_MAPPED)),
        ("Shmem:          ", shmem),
        ("KReclaimable:   ", 0),
        ("Slab:           ", slab_pages),
        ("SReclaimable:   ", 0),
        ("SUnreclaim:     ", slab_pages),
    ];
    for (name, pages) in rows {
        show_val_kb(&mut m, name, pages);
    }
    seq_put_decimal_ull_width(&mut m, "KernelStack:    ", stacks_kb, 8);
    m.push_str(" kB\n");
    let rows: [(&str, u64); 7] = [
        ("PageTables:     ", mms.pagetables),
        ("NFS_Unstable:   ", 0),
        ("Bounce:         ", 0),
        ("WritebackTmp:   ", 0),
        ("CommitLimit:    ", commit_limit),
        ("Committed_AS:   ", committed),
        ("VmallocTotal:   ", 0),
    ];
    for (name, pages) in rows {
        show_val_kb(&mut m, name, pages);
    }
    let rows: [(&str, u64); 3] = [
        ("VmallocUsed:    ", 0),
        ("VmallocChunk:   ", 0),
        ("Percpu:         ", 0),
    ];
    for (name, pages) in rows {
        show_val_kb(&mut m, name, pages);
    }
    // Linux: num_poisoned_pages << (PAGE_SHIFT - 10), under CONFIG_MEMORY_FAILURE.
    seq_put_decimal_ull_width(
        &mut m,
        "HardwareCorrupted: ",
        (crate::mm::memory_failure::num_poisoned_pages() as u64) << (crate::mm::PAGE_SHIFT - 10),
        5,
    );
    m.push_str(" kB\n");
    let rows: [(&str, u64); 7] = [
        ("AnonHugePages:  ", 0),
        ("ShmemHugePages: ", 0),
        ("ShmemPmdMapped: ", 0),
        ("FileHugePages:  ", 0),
        ("FilePmdMapped:  ", 0),
        ("CmaTotal:       ", 0),
        ("CmaFree:        ", 0),
    ];
    for (name, pages) in rows {
        show_val_kb(&mut m, name, pages);
    }
    hugetlb_report_meminfo(&mut m);
    m
}

/// The hugetlbfs lines (Linux: `hugetlb_report_meminfo`): no huge pages, the default
/// size a PMD (2 MiB with 4 KiB pages).
fn hugetlb_report_meminfo(m: &mut String) {
    for name in [
        "HugePages_Total:   ",
        "\nHugePages_Free:    ",
        "\nHugePages_Rsvd:    ",
        "\nHugePages_Surp:    ",
    ] {
        seq_put_decimal_ull_width(m, name, 0, 5);
    }
    seq_put_decimal_ull_width(m, "\nHugepagesize:   ", 2048, 8);
    seq_put_decimal_ull_width(m, " kB\nHugetlb:        ", 0, 8);
    m.push_str(" kB\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_keeps_half_the_cache_up_to_the_low_watermark() {
        // 1000 free, 100 reserved; 400 cached of which min(200, 50) stays.
        assert_eq!(si_mem_available(1000, 100, 50, 400, 0), 1250);
        // Below the reserve: 0, never negative.
        assert_eq!(si_mem_available(10, 100, 50, 0, 0), 0);
    }

    #[test]
    fn hugetlb_lines_match_linux_widths() {
        let mut m = String::new();
        hugetlb_report_meminfo(&mut m);
        assert_eq!(
            m,
            "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n\
             HugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n"
        );
    }
}

//! Memory counters, named as `/proc/vmstat` names them. Linux: `mm/vmstat.c`
//! (`vmstat_text`), `include/linux/vm_event_item.h` (events), `include/linux/mmzone.h`
//! (`zone_stat_item`, `node_stat_item`).
//!
//! Two kinds, as in Linux: state counters (pages in some state now: `nr_mlock`) that go
//! up and down, and event counters (things that happened: `pgfault`) that only grow.
//! One CPU, so plain atomics stand in for the per-CPU diffs.
use core::sync::atomic::{AtomicI64, Ordering};

/// Declares the counters once: the enum, their `/proc/vmstat` names and the list of all.
macro_rules! vm_stat_items {
    ($($item:ident => $name:literal,)*) => {
        /// Every counter, in `/proc/vmstat` order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        #[allow(non_camel_case_types, missing_docs)]
        pub enum VmStat {
            $($item,)*
        }

        /// `/proc/vmstat` names, index = `VmStat as usize`.
        pub const VMSTAT_TEXT: &[&str] = &[$($name,)*];

        const ALL: &[VmStat] = &[$(VmStat::$item,)*];
    };
}

vm_stat_items! {
    // Zone/node state items.
    NR_FREE_PAGES => "nr_free_pages",
    NR_ZONE_INACTIVE_ANON => "nr_zone_inactive_anon",
    NR_ZONE_ACTIVE_ANON => "nr_zone_active_anon",
    NR_ZONE_INACTIVE_FILE => "nr_zone_inactive_file",
    NR_ZONE_ACTIVE_FILE => "nr_zone_active_file",
    NR_ZONE_UNEVICTABLE => "nr_zone_unevictable",
    NR_MLOCK => "nr_mlock",
    NR_ISOLATED_ANON => "nr_isolated_anon",
    NR_ISOLATED_FILE => "nr_isolated_file",
    NR_ANON_PAGES => "nr_anon_pages",
    NR_MAPPED => "nr_mapped",
    NR_FILE_PAGES => "nr_file_pages",
    NR_SHMEM => "nr_shmem",
    // Events.
    PSWPIN => "pswpin",
    PSWPOUT => "pswpout",
    PGFAULT => "pgfault",
    PGMAJFAULT => "pgmajfault",
    PGACTIVATE => "pgactivate",
    PGDEACTIVATE => "pgdeactivate",
    PGREFILL => "pgrefill",
    PGSTEAL_KSWAPD => "pgsteal_kswapd",
    PGSTEAL_DIRECT => "pgsteal_direct",
    PGSCAN_KSWAPD => "pgscan_kswapd",
    PGSCAN_DIRECT => "pgscan_direct",
    PAGEOUTRUN => "pageoutrun",
    ALLOCSTALL => "allocstall",
    // Linux lists these two just before oom_kill.
    DROP_PAGECACHE => "drop_pagecache",
    DROP_SLAB => "drop_slab",
    OOM_KILL => "oom_kill",
    UNEVICTABLE_PGS_CULLED => "unevictable_pgs_culled",
    UNEVICTABLE_PGS_SCANNED => "unevictable_pgs_scanned",
    UNEVICTABLE_PGS_RESCUED => "unevictable_pgs_rescued",
    UNEVICTABLE_PGS_MLOCKED => "unevictable_pgs_mlocked",
    UNEVICTABLE_PGS_MUNLOCKED => "unevictable_pgs_munlocked",
    UNEVICTABLE_PGS_CLEARED => "unevictable_pgs_cleared",
    UNEVICTABLE_PGS_STRANDED => "unevictable_pgs_stranded",
    SWAP_RA => "swap_ra",
    SWAP_RA_HIT => "swap_ra_hit",
}

/// Number of counters.
pub const NR_VM_STAT_ITEMS: usize = ALL.len();

static COUNTERS: [AtomicI64; NR_VM_STAT_ITEMS] = [const { AtomicI64::new(0) }; NR_VM_STAT_ITEMS];

/// Add `delta` to a state counter (Linux: `mod_zone_page_state` / `mod_node_page_state`).
pub fn mod_state(item: VmStat, delta: i64) {
    COUNTERS[item as usize].fetch_add(delta, Ordering::Relaxed);
}

/// Count one event (Linux: `count_vm_event`).
pub fn count_vm_event(item: VmStat) {
    COUNTERS[item as usize].fetch_add(1, Ordering::Relaxed);
}

/// Count `n` events (Linux: `count_vm_events`).
pub fn count_vm_events(item: VmStat, n: usize) {
    COUNTERS[item as usize].fetch_add(n as i64, Ordering::Relaxed);
}

/// A counter's value. `nr_free_pages` and `nr_file_pages` are read from the allocator and
/// the page cache, which keep them already.
pub fn global_page_state(item: VmStat) -> i64 {
    match item {
        VmStat::NR_FREE_PAGES => crate::mm::page_alloc::nr_free_pages() as i64,
        VmStat::NR_FILE_PAGES => crate::mm::filemap::nr_file_pages() as i64,
        _ => COUNTERS[item as usize].load(Ordering::Relaxed),
    }
}

/// `/proc/vmstat`: `name value` per line (Linux: `vmstat_show`).
pub fn vmstat_text() -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    for (i, name) in VMSTAT_TEXT.iter().enumerate() {
        let item = ALL[i];
        let _ = writeln!(s, "{} {}", name, global_page_state(item).max(0));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_line_up_with_items() {
        for (i, item) in ALL.iter().enumerate() {
            assert_eq!(*item as usize, i);
        }
        assert_eq!(VMSTAT_TEXT[VmStat::NR_MLOCK as usize], "nr_mlock");
        assert_eq!(
            VMSTAT_TEXT[VmStat::UNEVICTABLE_PGS_MLOCKED as usize],
            "unevictable_pgs_mlocked"
        );
    }
}

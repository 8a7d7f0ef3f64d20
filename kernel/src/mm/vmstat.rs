//! Memory counters, named as `/proc/vmstat` names them. Linux: `mm/vmstat.c`
//! (`vmstat_text`), `include/linux/vm_event_item.h` (events), `include/linux/mmzone.h`
//! (`zone_stat_item`, `node_stat_item`).
//!
//! Two kinds, as in Linux: state counters (pages in some state now: `nr_mlock`) that go
//! up and down, and event counters (things that happened: `pgfault`) that only grow.
//! One CPU, so plain atomics stand in for the per-CPU diffs.
use core::sync::atomic::{AtomicI64, Ordering};

/// Every counter, in `/proc/vmstat` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
#[allow(non_camel_case_types, missing_docs)]
pub enum VmStat {
    // Zone/node state items.
    NR_FREE_PAGES,
    NR_ZONE_INACTIVE_ANON,
    NR_ZONE_ACTIVE_ANON,
    NR_ZONE_INACTIVE_FILE,
    NR_ZONE_ACTIVE_FILE,
    NR_ZONE_UNEVICTABLE,
    NR_MLOCK,
    NR_ANON_PAGES,
    NR_MAPPED,
    NR_FILE_PAGES,
    NR_SHMEM,
    // Events.
    PGFAULT,
    PGMAJFAULT,
    UNEVICTABLE_PGS_CULLED,
    UNEVICTABLE_PGS_SCANNED,
    UNEVICTABLE_PGS_RESCUED,
    UNEVICTABLE_PGS_MLOCKED,
    UNEVICTABLE_PGS_MUNLOCKED,
    UNEVICTABLE_PGS_CLEARED,
    UNEVICTABLE_PGS_STRANDED,
}

/// Number of counters.
pub const NR_VM_STAT_ITEMS: usize = VmStat::UNEVICTABLE_PGS_STRANDED as usize + 1;

/// `/proc/vmstat` names, index = `VmStat as usize`.
pub const VMSTAT_TEXT: [&str; NR_VM_STAT_ITEMS] = [
    "nr_free_pages",
    "nr_zone_inactive_anon",
    "nr_zone_active_anon",
    "nr_zone_inactive_file",
    "nr_zone_active_file",
    "nr_zone_unevictable",
    "nr_mlock",
    "nr_anon_pages",
    "nr_mapped",
    "nr_file_pages",
    "nr_shmem",
    "pgfault",
    "pgmajfault",
    "unevictable_pgs_culled",
    "unevictable_pgs_scanned",
    "unevictable_pgs_rescued",
    "unevictable_pgs_mlocked",
    "unevictable_pgs_munlocked",
    "unevictable_pgs_cleared",
    "unevictable_pgs_stranded",
];

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

const ALL: [VmStat; NR_VM_STAT_ITEMS] = [
    VmStat::NR_FREE_PAGES,
    VmStat::NR_ZONE_INACTIVE_ANON,
    VmStat::NR_ZONE_ACTIVE_ANON,
    VmStat::NR_ZONE_INACTIVE_FILE,
    VmStat::NR_ZONE_ACTIVE_FILE,
    VmStat::NR_ZONE_UNEVICTABLE,
    VmStat::NR_MLOCK,
    VmStat::NR_ANON_PAGES,
    VmStat::NR_MAPPED,
    VmStat::NR_FILE_PAGES,
    VmStat::NR_SHMEM,
    VmStat::PGFAULT,
    VmStat::PGMAJFAULT,
    VmStat::UNEVICTABLE_PGS_CULLED,
    VmStat::UNEVICTABLE_PGS_SCANNED,
    VmStat::UNEVICTABLE_PGS_RESCUED,
    VmStat::UNEVICTABLE_PGS_MLOCKED,
    VmStat::UNEVICTABLE_PGS_MUNLOCKED,
    VmStat::UNEVICTABLE_PGS_CLEARED,
    VmStat::UNEVICTABLE_PGS_STRANDED,
];

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

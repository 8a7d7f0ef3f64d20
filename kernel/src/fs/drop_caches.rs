//! `/proc/sys/vm/drop_caches`: free the clean page cache and reclaimable slab objects on
//! request. Linux: `fs/drop_caches.c` (`drop_caches_sysctl_handler`, `drop_pagecache_sb`)
//! over `invalidate_mapping_pages` (`mm/truncate.c`, ours `mm/truncate.rs`).
//!
//! Writing 1 drops the page cache, 2 the slab, 3 both; 4 silences the log line from then
//! on (Linux's `stfu`). Anything outside 1..=4 is EINVAL (`proc_dointvec_minmax`, min 1,
//! max 4). Each write that acts is logged as `<comm> (<pid>): drop_caches: <n>` until 4
//! has been written, and counted as `drop_pagecache` / `drop_slab` in /proc/vmstat.
//!
//! Only pages nobody uses go: a page still mapped, dirty, locked or referenced (by a
//! read in progress, by reclaim) stays, as do tmpfs pages (see `invalidate_inode_page`).
//!
//! "Reclaimable slab" means the objects shrinkers can free (Linux: `drop_slab` runs every
//! registered shrinker: dentries, inodes, ...). This kernel has no dentry or inode cache
//! that outlives its users and no shrinkers, so 2 frees nothing; it is still accepted,
//! counted and logged as Linux does.
use crate::errno::{Errno, KResult};
use crate::fs::inode::{iterate_supers, SuperBlock};
use crate::mm::truncate::invalidate_mapping_pages;
use crate::mm::vmstat::{count_vm_event, VmStat};
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The last value written (Linux: `sysctl_drop_caches`).
static SYSCTL_DROP_CACHES: AtomicI32 = AtomicI32::new(0);
/// Set once 4 was written: no more log lines (Linux: the handler's `static int stfu`).
static STFU: AtomicBool = AtomicBool::new(false);

/// Drop the unused clean pages of every inode of `sb`; returns how many went. Linux:
/// `drop_pagecache_sb` (which skips inodes being freed or new, and those with no pages).
#[no_mangle]
#[inline(never)]
pub fn drop_pagecache_sb(sb: &SuperBlock) -> usize {
    let inodes: alloc::vec::Vec<_> = {
        let mut list = sb.s_inodes.lock();
        list.retain(|w| w.strong_count() > 0);
        list.iter().filter_map(alloc::sync::Weak::upgrade).collect()
    };
    let mut dropped = 0;
    for inode in inodes {
        if let Some(mapping) = inode.mapping() {
            if mapping.nrpages() != 0 {
                dropped += invalidate_mapping_pages(mapping, 0, usize::MAX);
            }
        }
    }
    dropped
}

/// What a write of `val` asks for: (drop the page cache, drop the slab, silence the log
/// from now on). EINVAL outside 1..=4 (Linux: `extra1` = one, `extra2` = four).
pub fn drop_caches_request(val: i64) -> KResult<(bool, bool, bool)> {
    if !(1..=4).contains(&val) {
        return Err(Errno::EINVAL);
    }
    Ok((val & 1 != 0, val & 2 != 0, val & 4 != 0))
}

/// A write to /proc/sys/vm/drop_caches (Linux: `drop_caches_sysctl_handler`). A write
/// past position 0 or of nothing changes nothing, as for the other sysctls.
#[no_mangle]
#[inline(never)]
pub fn drop_caches_sysctl_handler(pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    let (pagecache, slab, quiet) = drop_caches_request(val)?;
    SYSCTL_DROP_CACHES.store(val as i32, Ordering::Relaxed);
    if pagecache {
        iterate_supers(|sb| {
            drop_pagecache_sb(sb);
        });
        count_vm_event(VmStat::DROP_PAGECACHE);
    }
    if slab {
        // No shrinkers to run (see the module comment).
        count_vm_event(VmStat::DROP_SLAB);
    }
    if !STFU.load(Ordering::Relaxed) {
        let (comm, pid) =
            crate::task::current().map_or(([0u8; 16], 0), |t| (*t.comm.lock(), t.pid()));
        let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
        pr_info!(
            "{} ({}): drop_caches: {}",
            core::str::from_utf8(&comm[..len]).unwrap_or("?"),
            pid,
            val
        );
    }
    if quiet {
        STFU.store(true, Ordering::Relaxed);
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_1_to_4_only() {
        assert_eq!(drop_caches_request(0), Err(Errno::EINVAL));
        assert_eq!(drop_caches_request(5), Err(Errno::EINVAL));
        assert_eq!(drop_caches_request(-1), Err(Errno::EINVAL));
        assert_eq!(drop_caches_request(1), Ok((true, false, false)));
        assert_eq!(drop_caches_request(2), Ok((false, true, false)));
        assert_eq!(drop_caches_request(3), Ok((true, true, false)));
        assert_eq!(drop_caches_request(4), Ok((false, false, true)));
    }
}

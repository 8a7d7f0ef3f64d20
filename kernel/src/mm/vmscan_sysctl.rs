//! `vm.swappiness`: how much reclaim prefers anonymous pages (swap) over file pages.
//!
//! Linux: `int vm_swappiness = 60` in `mm/vmscan.c`, read by `get_scan_count`; its
//! `/proc/sys/vm/swappiness` entry sits in `vm_table` (`kernel/sysctl.c`) with
//! `proc_dointvec_minmax` between 0 and 200 (the upper bound was 100 before 5.8).
//! Callers: the procfs sysctl file (`fs/proc/mod.rs`), and reclaim's `get_scan_count`
//! once it exists.
//!
//! A file of its own so it does not collide with reclaim's `vmscan.rs` while that is
//! being written; it can move there (keeping the names) when it lands.
use crate::errno::{Errno, KResult};
use core::sync::atomic::{AtomicI32, Ordering};

/// The largest value the sysctl takes (Linux 5.8+: `two_hundred`).
pub const MAX_SWAPPINESS: i32 = 200;
/// The boot value (Linux: `vm_swappiness = 60`).
pub const DEFAULT_SWAPPINESS: i32 = 60;

/// The system's swappiness (Linux: `vm_swappiness`).
pub static VM_SWAPPINESS: AtomicI32 = AtomicI32::new(DEFAULT_SWAPPINESS);

/// Current swappiness, 0..=200 (Linux: `vm_swappiness`, read as `mem_cgroup_swappiness`
/// does without memory cgroups).
pub fn vm_swappiness() -> i32 {
    VM_SWAPPINESS.load(Ordering::Relaxed)
}

/// Reading `/proc/sys/vm/swappiness` of `v`: the value and a newline.
pub fn swappiness_read_from(v: &AtomicI32) -> alloc::string::String {
    alloc::format!("{}\n", v.load(Ordering::Relaxed))
}

/// Writing `buf` at position `pos` into `v` (Linux: `proc_dointvec_minmax` with 0 and
/// 200): returns the bytes consumed. As with the overcommit sysctls (`sysctl_writes_strict`),
/// a write at a non-zero position or of zero bytes changes nothing and succeeds; EINVAL
/// for no number, a number out of `int` range or outside 0..=200, and the old value stays.
pub fn swappiness_write_to(v: &AtomicI32, pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    if !(0..=i64::from(MAX_SWAPPINESS)).contains(&val) {
        return Err(Errno::EINVAL);
    }
    v.store(val as i32, Ordering::Relaxed);
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swappiness_takes_0_to_200_and_keeps_the_old_value_on_einval() {
        let v = AtomicI32::new(DEFAULT_SWAPPINESS);
        assert_eq!(swappiness_read_from(&v), "60\n");
        assert_eq!(swappiness_write_to(&v, 0, b"100\n"), Ok(4));
        assert_eq!(swappiness_read_from(&v), "100\n");
        assert_eq!(swappiness_write_to(&v, 0, b"201"), Err(Errno::EINVAL));
        assert_eq!(swappiness_write_to(&v, 0, b"-1"), Err(Errno::EINVAL));
        assert_eq!(swappiness_write_to(&v, 0, b"abc"), Err(Errno::EINVAL));
        assert_eq!(swappiness_write_to(&v, 0, b"  \n"), Err(Errno::EINVAL));
        assert_eq!(swappiness_read_from(&v), "100\n");
        assert_eq!(swappiness_write_to(&v, 0, b"0"), Ok(1));
        assert_eq!(swappiness_write_to(&v, 0, b"200"), Ok(3));
        assert_eq!(swappiness_read_from(&v), "200\n");
        // Not at position 0: accepted, nothing changes.
        assert_eq!(swappiness_write_to(&v, 3, b"7"), Ok(1));
        assert_eq!(swappiness_read_from(&v), "200\n");
    }
}

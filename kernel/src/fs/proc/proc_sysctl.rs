//! The files of /proc/sys/vm. Linux: `fs/proc/proc_sysctl.c` (the files) over `vm_table`
//! in `kernel/sysctl.c` (names, modes, handlers); the handlers and values live with the
//! mm code that reads them: `mm/util.rs` (overcommit, as Linux's `mm/util.c`) and
//! `mm/vmscan_sysctl.rs` (swappiness, Linux's `vm_swappiness` in `mm/vmscan.c`);
//! `drop_caches` is `fs/drop_caches.rs` as in Linux. /proc/sys/kernel holds
//! `shmall`, `shmmax`, `shmmni` (Linux: `ipc/ipc_sysctl.c`; values in `ipc/shm.rs`) and
//! `perf_user_access` (Linux 6.2+, arm64's `armv8_pmu_sysctl_table` in
//! `arch/arm64/kernel/perf_event.c`; ours in `arch/aarch64/perf_event.rs`).
use crate::errno::{Errno, KResult};
use crate::ipc::shm;
use crate::mm::util::OvercommitSysctl;
use crate::mm::vmscan_sysctl::{swappiness_read_from, swappiness_write_to, VM_SWAPPINESS};
use alloc::string::String;

/// One file of /proc/sys/vm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmSysctl {
    /// `overcommit_memory`, `overcommit_ratio`, `overcommit_kbytes`.
    Overcommit(OvercommitSysctl),
    /// `swappiness`.
    Swappiness,
    /// `drop_caches` (write-only, root only).
    DropCaches,
    /// `max_map_count`.
    MaxMapCount,
}

/// The files, in the order a readdir lists them.
pub const VM_SYSCTLS: [VmSysctl; 6] = [
    VmSysctl::Overcommit(OvercommitSysctl::Memory),
    VmSysctl::Overcommit(OvercommitSysctl::Ratio),
    VmSysctl::Overcommit(OvercommitSysctl::Kbytes),
    VmSysctl::Swappiness,
    VmSysctl::DropCaches,
    VmSysctl::MaxMapCount,
];

impl VmSysctl {
    /// The file name under /proc/sys/vm.
    pub fn name(self) -> &'static str {
        match self {
            VmSysctl::Overcommit(c) => c.name(),
            VmSysctl::Swappiness => "swappiness",
            VmSysctl::DropCaches => "drop_caches",
            VmSysctl::MaxMapCount => "max_map_count",
        }
    }

    /// Permission bits (Linux: the table entry's `mode`; drop_caches is 0200).
    pub fn mode(self) -> u32 {
        match self {
            VmSysctl::DropCaches => 0o200,
            _ => 0o644,
        }
    }

    /// The text a read returns (Linux: `proc_sys_read` -> the table's handler).
    pub fn read(self) -> String {
        match self {
            VmSysctl::Overcommit(c) => c.read(),
            VmSysctl::Swappiness => swappiness_read_from(&VM_SWAPPINESS),
            // Mode 0200: `sysctl_perm` refuses every open for reading, root's too.
            VmSysctl::DropCaches => String::new(),
            VmSysctl::MaxMapCount => crate::mm::mmap::max_map_count_read(),
        }
    }

    /// A write of `buf` at `pos` (Linux: `proc_sys_write` -> the table's handler).
    pub fn write(self, pos: u64, buf: &[u8]) -> KResult<usize> {
        match self {
            VmSysctl::Overcommit(c) => c.write(pos, buf),
            VmSysctl::Swappiness => swappiness_write_to(&VM_SWAPPINESS, pos, buf),
            VmSysctl::DropCaches => crate::fs::drop_caches::drop_caches_sysctl_handler(pos, buf),
            VmSysctl::MaxMapCount => crate::mm::mmap::max_map_count_write(pos, buf),
        }
    }
}

/// One file of /proc/sys/kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSysctl {
    /// `perf_user_access`: may EL0 read the PMU counters (0 or 1)?
    PerfUserAccess,
    /// `shmall`: most pages of all System V segments (Linux: `shm_ctlall`, ipc/ipc_sysctl.c).
    ShmAll,
    /// `shmmax`: largest System V segment in bytes (Linux: `shm_ctlmax`).
    ShmMax,
    /// `shmmni`: most System V segments (Linux: `shm_ctlmni`).
    ShmMni,
    /// `tainted`: the kernel's taint flags, 0 for a clean one (Linux: `tainted_mask`,
    /// `proc_taint`: a write adds flags, it never clears them).
    Tainted,
    /// `core_pattern`: how core files are named (Linux: `core_pattern`, "core" by
    /// default; we write no core files, but programs read and set it).
    CorePattern,
}

/// The files of /proc/sys/kernel, in readdir order.
pub const KERNEL_SYSCTLS: [KernelSysctl; 6] = [
    KernelSysctl::CorePattern,
    KernelSysctl::PerfUserAccess,
    KernelSysctl::ShmAll,
    KernelSysctl::ShmMax,
    KernelSysctl::ShmMni,
    KernelSysctl::Tainted,
];

/// The taint flags (Linux: `tainted_mask`).
static TAINTED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Longest core pattern (Linux: `CORENAME_MAX_SIZE`).
const CORENAME_MAX_SIZE: usize = 128;

/// Linux's default pattern, "core".
const fn default_core_pattern() -> [u8; CORENAME_MAX_SIZE] {
    let mut a = [0u8; CORENAME_MAX_SIZE];
    let d = *b"core";
    let mut i = 0;
    while i < d.len() {
        a[i] = d[i];
        i += 1;
    }
    a
}

/// The core pattern now (fs/coredump.rs names the core file with it).
pub fn core_pattern() -> String {
    let p = CORE_PATTERN.lock();
    String::from_utf8_lossy(&p.0[..p.1]).into_owned()
}

/// The core pattern, its bytes and length.
static CORE_PATTERN: crate::sync::SpinLockIrq<([u8; CORENAME_MAX_SIZE], usize)> =
    crate::sync::SpinLockIrq::new((default_core_pattern(), 4));

impl KernelSysctl {
    /// The file name under /proc/sys/kernel.
    pub fn name(self) -> &'static str {
        match self {
            KernelSysctl::PerfUserAccess => "perf_user_access",
            KernelSysctl::Tainted => "tainted",
            KernelSysctl::CorePattern => "core_pattern",
            KernelSysctl::ShmAll => "shmall",
            KernelSysctl::ShmMax => "shmmax",
            KernelSysctl::ShmMni => "shmmni",
        }
    }

    /// Permission bits (Linux: 0644).
    pub fn mode(self) -> u32 {
        0o644
    }

    /// The text a read returns.
    pub fn read(self) -> String {
        match self {
            KernelSysctl::PerfUserAccess => {
                alloc::format!(
                    "{}\n",
                    u8::from(crate::arch::aarch64::perf_event::perf_user_access())
                )
            }
            KernelSysctl::ShmAll => shm::shm_sysctl_read(&shm::SHM_CTLALL),
            KernelSysctl::ShmMax => shm::shm_sysctl_read(&shm::SHM_CTLMAX),
            KernelSysctl::ShmMni => shm::shm_sysctl_read(&shm::SHM_CTLMNI),
            KernelSysctl::Tainted => {
                alloc::format!("{}\n", TAINTED.load(core::sync::atomic::Ordering::Relaxed))
            }
            KernelSysctl::CorePattern => {
                let p = CORE_PATTERN.lock();
                alloc::format!("{}\n", String::from_utf8_lossy(&p.0[..p.1]))
            }
        }
    }

    /// A write of `buf` at `pos`.
    pub fn write(self, pos: u64, buf: &[u8]) -> KResult<usize> {
        match self {
            KernelSysctl::PerfUserAccess => {
                crate::arch::aarch64::perf_event::perf_user_access_write(pos, buf)
            }
            KernelSysctl::ShmAll => shm::shm_sysctl_write_ulong(&shm::SHM_CTLALL, pos, buf),
            KernelSysctl::ShmMax => shm::shm_sysctl_write_ulong(&shm::SHM_CTLMAX, pos, buf),
            KernelSysctl::ShmMni => shm::shm_sysctl_write_mni(pos, buf),
            KernelSysctl::Tainted => {
                if pos != 0 || buf.is_empty() {
                    return Ok(buf.len());
                }
                let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
                let val = u64::try_from(val).map_err(|_| Errno::EINVAL)?;
                TAINTED.fetch_or(val, core::sync::atomic::Ordering::Relaxed);
                Ok(used)
            }
            KernelSysctl::CorePattern => {
                // Linux: proc_dostring: the text up to a newline, cut to the buffer.
                if pos != 0 {
                    return Ok(buf.len());
                }
                let text = buf.split(|&b| b == b'\n').next().unwrap_or(&[]);
                let n = text.len().min(CORENAME_MAX_SIZE - 1);
                let mut p = CORE_PATTERN.lock();
                p.0[..n].copy_from_slice(&text[..n]);
                p.1 = n;
                Ok(buf.len())
            }
        }
    }
}

/// One file of /proc/sys/fs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsSysctl {
    /// `nr_open`: the most descriptors RLIMIT_NOFILE may allow.
    NrOpen,
}

/// The files of /proc/sys/fs, in readdir order.
pub const FS_SYSCTLS: [FsSysctl; 1] = [FsSysctl::NrOpen];

impl FsSysctl {
    /// The file name under /proc/sys/fs.
    pub fn name(self) -> &'static str {
        match self {
            FsSysctl::NrOpen => "nr_open",
        }
    }

    /// Permission bits (Linux: 0644).
    pub fn mode(self) -> u32 {
        0o644
    }

    /// The text a read returns.
    pub fn read(self) -> String {
        match self {
            FsSysctl::NrOpen => alloc::format!(
                "{}\n",
                crate::task::files::SYSCTL_NR_OPEN.load(core::sync::atomic::Ordering::Relaxed)
            ),
        }
    }

    /// A write of `buf` at `pos`.
    pub fn write(self, pos: u64, buf: &[u8]) -> KResult<usize> {
        match self {
            FsSysctl::NrOpen => crate::task::files::nr_open_write(pos, buf),
        }
    }
}

/// May a caller with effective uid `euid` open a sysctl file of mode `mode` for `flags`'
/// access? Sysctls give root no override: root gets the owner bits, everyone else the
/// "other" bits, so a 0200 file cannot be read even by root (Linux: `proc_sys_permission`
/// -> `sysctl_perm` -> `test_perm`, EACCES).
pub fn sysctl_may_open(mode: u32, flags: u32, euid: u32) -> bool {
    use crate::fs::{O_ACCMODE, O_RDONLY, O_WRONLY};
    let need = match flags & O_ACCMODE {
        O_RDONLY => 0o4,
        O_WRONLY => 0o2,
        _ => 0o6,
    };
    let bits = if euid == 0 { (mode >> 6) & 7 } else { mode & 7 };
    bits & need == need
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{O_RDONLY, O_RDWR, O_WRONLY};

    #[test]
    fn sysctl_permissions_follow_test_perm() {
        // drop_caches, 0200: root writes, nobody reads, others do nothing.
        assert!(sysctl_may_open(0o200, O_WRONLY, 0));
        assert!(!sysctl_may_open(0o200, O_RDONLY, 0));
        assert!(!sysctl_may_open(0o200, O_RDWR, 0));
        assert!(!sysctl_may_open(0o200, O_WRONLY, 1000));
        // 0644: root reads and writes, others read.
        assert!(sysctl_may_open(0o644, O_RDWR, 0));
        assert!(sysctl_may_open(0o644, O_RDONLY, 1000));
        assert!(!sysctl_may_open(0o644, O_WRONLY, 1000));
    }
}

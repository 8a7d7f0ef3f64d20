//! The files of /proc/sys/vm. Linux: `fs/proc/proc_sysctl.c` (the files) over `vm_table`
//! in `kernel/sysctl.c` (names, modes, handlers); the handlers and values live with the
//! mm code that reads them: `mm/util.rs` (overcommit, as Linux's `mm/util.c`) and
//! `mm/vmscan_sysctl.rs` (swappiness, Linux's `vm_swappiness` in `mm/vmscan.c`).
use crate::errno::KResult;
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
}

/// The files, in the order a readdir lists them.
pub const VM_SYSCTLS: [VmSysctl; 4] = [
    VmSysctl::Overcommit(OvercommitSysctl::Memory),
    VmSysctl::Overcommit(OvercommitSysctl::Ratio),
    VmSysctl::Overcommit(OvercommitSysctl::Kbytes),
    VmSysctl::Swappiness,
];

impl VmSysctl {
    /// The file name under /proc/sys/vm.
    pub fn name(self) -> &'static str {
        match self {
            VmSysctl::Overcommit(c) => c.name(),
            VmSysctl::Swappiness => "swappiness",
        }
    }

    /// The text a read returns (Linux: `proc_sys_read` -> the table's handler).
    pub fn read(self) -> String {
        match self {
            VmSysctl::Overcommit(c) => c.read(),
            VmSysctl::Swappiness => swappiness_read_from(&VM_SWAPPINESS),
        }
    }

    /// A write of `buf` at `pos` (Linux: `proc_sys_write` -> the table's handler).
    pub fn write(self, pos: u64, buf: &[u8]) -> KResult<usize> {
        match self {
            VmSysctl::Overcommit(c) => c.write(pos, buf),
            VmSysctl::Swappiness => swappiness_write_to(&VM_SWAPPINESS, pos, buf),
        }
    }
}

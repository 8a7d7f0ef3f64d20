//! procfs: kernel state as files, generated when read. Linux: `fs/proc/` (`root.c` for
//! the root, `base.c` for the per-pid directories, `task_mmu.c` for maps, smaps, pagemap
//! and the memory lines of status, `array.c` for status, `meminfo.c`), `mm/vmstat.c`
//! (/proc/vmstat). Mounted on /proc by `proc_init` at boot.
//!
//! The tree: /proc/meminfo, /proc/vmstat, /proc/swaps (`mm/swapfile.rs`), /proc/partitions
//! (`fs/block_dev.rs`), /proc/slabinfo (`mm/slab.rs`, root only as in Linux),
//! /proc/kpageflags and /proc/kpagecount (one
//! u64 per page frame, root only; `page.rs`, Linux `fs/proc/page.c`), /proc/self (the
//! reader's own directory), /proc/<pid>/ with cmdline, mem, status, maps, smaps, pagemap,
//! oom_score and oom_score_adj, /proc/sys/vm/ with the overcommit sysctls
//! (`overcommit_memory`, `overcommit_ratio`, `overcommit_kbytes`), `swappiness`,
//! `drop_caches` and `max_map_count` (Linux: `fs/proc/proc_sysctl.c` over `vm_table` in `kernel/sysctl.c`,
//! handlers in `mm/util.c`, `mm/vmscan.c` and `fs/drop_caches.c`; ours in
//! `proc_sysctl.rs`), and /proc/sys/kernel/perf_user_access (arm64's PMU sysctl).
//!
//! Locking: a read finds the task by pid, takes its mm lock, builds the text (or, for
//! pagemap, the entries) in kernel memory, drops the lock, and only then does the VFS
//! copy the bytes to the reader (`sys_read` reads through a kernel buffer).
//!
//! Differences from Linux: /proc/self is a directory resolved at lookup, not a symlink;
//! files report size 0 as in Linux and are read-only except mem, oom_score_adj and the
//! sysctls (mode 0644, on a second super block with the same device that is not
//! read-only, so opening them for writing is not EROFS); text files are rebuilt on every
//! read call and cut at the file position (Linux's seq_file restarts at the record that
//! holds the position, so a file that changes between two reads may tear differently);
//! the VFS checks no mode bits against the caller's ids, so the files here that Linux
//! keeps from other users check at open: ptrace_may_access for maps, smaps, pagemap and
//! mem (as Linux does), and the mode bits of the root-owned files (kpageflags,
//! kpagecount and slabinfo are 0400), with euid 0 passing as CAP_DAC_OVERRIDE, and of the sysctls
//! (0644, drop_caches 0200) as Linux's `sysctl_perm` checks them: no override for root.
pub mod array;
pub mod meminfo;
pub mod page;
pub mod proc_sysctl;
pub mod seq;
pub mod task_mmu;

pub use meminfo::meminfo;

use super::inode::{DirEntry, Inode, InodeAttr, SuperBlock, S_IFDIR, S_IFREG};
use crate::errno::{Errno, KResult};
use crate::task::Task;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use proc_sysctl::{FsSysctl, KernelSysctl, VmSysctl, FS_SYSCTLS, KERNEL_SYSCTLS, VM_SYSCTLS};

static PROC_SB: spin::Once<Arc<SuperBlock>> = spin::Once::new();

fn sb() -> &'static Arc<SuperBlock> {
    // Not a read-only mount (Linux mounts proc rw): file modes decide, so /proc/<pid>/mem
    // can be opened for writing by its owner.
    PROC_SB.call_once(|| SuperBlock::new("proc", super::inode::get_anon_bdev(), false, 1))
}

/// Inode numbers: 1 root, 2 meminfo, 3 vmstat, 4 and 5 /proc/sys and /proc/sys/vm, 6..
/// the sysctls, 30 and 31 kpagecount and kpageflags; pid << 8 for a pid directory, + 1 +
/// index in [`PID_FILES`] for its files.
const ROOT_INO: u64 = 1;
const MEMINFO_INO: u64 = 2;
const VMSTAT_INO: u64 = 3;
const SYS_INO: u64 = 4;
const SYS_VM_INO: u64 = 5;
/// The sysctl files ([`VM_SYSCTLS`], in /proc/sys/vm's order) have inode numbers from 6.
const SYSCTL_FIRST_INO: u64 = 6;
/// /proc/sys/kernel and its files ([`KERNEL_SYSCTLS`]) from 20.
const SYS_KERNEL_INO: u64 = 20;
const KERNEL_SYSCTL_FIRST_INO: u64 = 21;
const KPAGECOUNT_INO: u64 = 30;
const KPAGEFLAGS_INO: u64 = 31;
const SWAPS_INO: u64 = 32;
const PARTITIONS_INO: u64 = 33;
const MOUNTS_INO: u64 = 34;
/// /proc/sys/fs and its files ([`FS_SYSCTLS`]) from 41.
const SYS_FS_INO: u64 = 40;
const FS_SYSCTL_FIRST_INO: u64 = 41;
const SLABINFO_INO: u64 = 35;
const VERSION_INO: u64 = 36;
/// /proc/sysvipc and its one file, shm.
const SYSVIPC_INO: u64 = 37;
const SYSVIPC_SHM_INO: u64 = 38;
/// /proc/config.gz.
const CONFIG_GZ_INO: u64 = 39;
const _: () = assert!(SYSCTL_FIRST_INO + (VM_SYSCTLS.len() as u64) <= SYS_KERNEL_INO);
const _: () = assert!(KERNEL_SYSCTL_FIRST_INO + (KERNEL_SYSCTLS.len() as u64) <= KPAGECOUNT_INO);

/// A file of a pid directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PidFile {
    /// `cmdline` (Linux: `proc_pid_cmdline_read`).
    Cmdline,
    /// `mounts` (Linux: `proc_mounts_operations`, fs/proc_namespace.c).
    Mounts,
    /// `status` (Linux: `proc_pid_status`).
    Status,
    /// `maps` (Linux: `proc_pid_maps_operations`).
    Maps,
    /// `smaps` (Linux: `proc_pid_smaps_operations`).
    Smaps,
    /// `pagemap` (Linux: `proc_pagemap_operations`).
    Pagemap,
    /// `mem` (Linux: `proc_mem_operations`): the address space as a file.
    Mem,
    /// `oom_score` (Linux: `proc_oom_score`): the OOM killer's score, 0..2000.
    OomScore,
    /// `oom_score_adj` (Linux: `proc_oom_score_adj_operations`): its bias, -1000..1000.
    OomScoreAdj,
    /// `coredump_filter` (Linux: `proc_coredump_filter_read` / `_write`).
    CoredumpFilter,
}

/// The files of /proc/<pid>/, in the order Linux's `tgid_base_stuff` lists them, with
/// their modes (pagemap is readable by its owner only).
const PID_FILES: [(&str, PidFile, u32); 10] = [
    ("cmdline", PidFile::Cmdline, 0o444),
    ("mounts", PidFile::Mounts, 0o444),
    ("mem", PidFile::Mem, 0o600),
    ("status", PidFile::Status, 0o444),
    ("maps", PidFile::Maps, 0o444),
    ("smaps", PidFile::Smaps, 0o444),
    ("pagemap", PidFile::Pagemap, 0o400),
    ("oom_score", PidFile::OomScore, 0o444),
    ("oom_score_adj", PidFile::OomScoreAdj, 0o644),
    ("coredump_filter", PidFile::CoredumpFilter, 0o644),
];

/// What a proc inode stands for.
#[derive(Clone, Copy)]
enum Kind {
    Root,
    Meminfo,
    Vmstat,
    /// /proc/kpagecount (Linux: `proc_kpagecount_operations`).
    Kpagecount,
    /// /proc/kpageflags (Linux: `proc_kpageflags_operations`).
    Kpageflags,
    /// /proc/swaps (Linux: `swaps_proc_show` in mm/swapfile.c).
    Swaps,
    /// /proc/partitions (Linux: `show_partition` in block/genhd.c).
    Partitions,
    /// /proc/mounts (Linux: a symlink to self/mounts; one namespace here, so a file).
    Mounts,
    /// /proc/version (Linux: `version_proc_show`).
    Version,
    /// `/proc/config.gz` (Linux: `kernel/configs.c`, CONFIG_IKCONFIG_PROC).
    ConfigGz,
    /// /proc/slabinfo (Linux: `slabinfo_proc_ops` in mm/slab_common.c).
    Slabinfo,
    /// /proc/sysvipc (Linux: `proc_mkdir("sysvipc")` in ipc/util.c).
    SysvipcDir,
    /// /proc/sysvipc/shm (Linux: `sysvipc_shm_proc_show`).
    SysvipcShm,
    /// /proc/sys.
    SysDir,
    /// /proc/sys/vm.
    SysVmDir,
    /// A file of /proc/sys/vm.
    Sysctl(VmSysctl),
    /// /proc/sys/kernel.
    SysKernelDir,
    /// A file of /proc/sys/kernel.
    KernelSysctl(KernelSysctl),
    /// /proc/sys/fs.
    SysFsDir,
    /// A file of /proc/sys/fs.
    FsSysctl(FsSysctl),
    PidDir(i32),
    Pid(i32, PidFile),
}

/// One procfs inode.
pub struct ProcInode {
    attr: InodeAttr,
    kind: Kind,
}

fn pid_dir_ino(pid: i32) -> u64 {
    (pid as u64) << 8
}

fn pid_file_ino(pid: i32, index: usize) -> u64 {
    pid_dir_ino(pid) + 1 + index as u64
}

fn sysctl_ino(c: VmSysctl) -> u64 {
    SYSCTL_FIRST_INO + VM_SYSCTLS.iter().position(|&e| e == c).unwrap_or(0) as u64
}

fn fs_sysctl_ino(c: FsSysctl) -> u64 {
    FS_SYSCTL_FIRST_INO + FS_SYSCTLS.iter().position(|&e| e == c).unwrap_or(0) as u64
}

fn kernel_sysctl_ino(c: KernelSysctl) -> u64 {
    KERNEL_SYSCTL_FIRST_INO + KERNEL_SYSCTLS.iter().position(|&e| e == c).unwrap_or(0) as u64
}

fn node(kind: Kind) -> Arc<dyn Inode> {
    let (ino, mode) = match kind {
        Kind::Root => (ROOT_INO, S_IFDIR | 0o555),
        Kind::Meminfo => (MEMINFO_INO, S_IFREG | 0o444),
        Kind::Vmstat => (VMSTAT_INO, S_IFREG | 0o444),
        // Linux: proc_create("kpagecount" / "kpageflags", S_IRUSR, ...), owned by root.
        Kind::Kpagecount => (KPAGECOUNT_INO, S_IFREG | 0o400),
        Kind::Kpageflags => (KPAGEFLAGS_INO, S_IFREG | 0o400),
        Kind::Swaps => (SWAPS_INO, S_IFREG | 0o444),
        Kind::Partitions => (PARTITIONS_INO, S_IFREG | 0o444),
        Kind::Mounts => (MOUNTS_INO, S_IFREG | 0o444),
        Kind::Version => (VERSION_INO, S_IFREG | 0o444),
        Kind::ConfigGz => (CONFIG_GZ_INO, S_IFREG | 0o444),
        Kind::SysvipcDir => (SYSVIPC_INO, S_IFDIR | 0o555),
        Kind::SysvipcShm => (SYSVIPC_SHM_INO, S_IFREG | 0o444),
        // Linux: proc_create("slabinfo", SLABINFO_RIGHTS = S_IRUSR, ...).
        Kind::Slabinfo => (SLABINFO_INO, S_IFREG | 0o400),
        Kind::SysDir => (SYS_INO, S_IFDIR | 0o555),
        Kind::SysVmDir => (SYS_VM_INO, S_IFDIR | 0o555),
        Kind::Sysctl(c) => (sysctl_ino(c), S_IFREG | c.mode()),
        Kind::SysKernelDir => (SYS_KERNEL_INO, S_IFDIR | 0o555),
        Kind::KernelSysctl(c) => (kernel_sysctl_ino(c), S_IFREG | c.mode()),
        Kind::SysFsDir => (SYS_FS_INO, S_IFDIR | 0o555),
        Kind::FsSysctl(c) => (fs_sysctl_ino(c), S_IFREG | c.mode()),
        Kind::PidDir(p) => (pid_dir_ino(p), S_IFDIR | 0o555),
        Kind::Pid(p, f) => {
            let i = PID_FILES.iter().position(|e| e.1 == f).unwrap_or(0);
            (pid_file_ino(p, i), S_IFREG | PID_FILES[i].2)
        }
    };
    let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
    let attr = InodeAttr::new(sb(), ino, mode, nlink, 0);
    if let Kind::PidDir(p) | Kind::Pid(p, _) = kind {
        // Owned by the task's effective ids (Linux: `task_dump_owner`, for a dumpable
        // task; we have no dumpable flag).
        if let Some(task) = crate::task::find_task(p) {
            let cred = *task.cred.lock();
            attr.set_owner(cred.euid, cred.egid);
        }
    }
    Arc::new(ProcInode { attr, kind })
}

/// The root of a new procfs instance, to mount on /proc (Linux: `proc_fill_super`).
pub fn proc_root() -> Arc<dyn Inode> {
    node(Kind::Root)
}

/// Mount procfs on /proc (Linux: `proc_root_init` + the mount in init scripts).
pub fn proc_init() {
    match super::do_add_mount("/proc", proc_root()) {
        Ok(()) => pr_info!("proc: mounted on /proc"),
        Err(e) => pr_warn!("proc: not mounted on /proc: {e:?}"),
    }
}

/// The task behind a pid directory (Linux: `get_proc_task`): ESRCH once it is reaped.
fn proc_task(pid: i32) -> KResult<Arc<Task>> {
    crate::task::find_task(pid).ok_or(Errno::ESRCH)
}

/// `/proc/<pid>/maps` (Linux: `show_map` for each VMA); empty without an address space.
pub fn proc_pid_maps(pid: i32) -> KResult<String> {
    let Some(mm) = proc_task(pid)?.mm.lock().clone() else {
        return Ok(String::new());
    };
    let guard = crate::mm::mmap_lock::mmap_read_lock(&mm);
    Ok(task_mmu::show_maps(&guard))
}

/// `/proc/<pid>/smaps` (Linux: `show_smap` for each VMA); empty without an address space.
pub fn proc_pid_smaps(pid: i32) -> KResult<String> {
    let Some(mm) = proc_task(pid)?.mm.lock().clone() else {
        return Ok(String::new());
    };
    let guard = crate::mm::mmap_lock::mmap_read_lock(&mm);
    Ok(task_mmu::show_smaps(&guard, mm.pgd))
}

/// `/proc/<pid>/status` (Linux: `proc_pid_status`).
pub fn proc_pid_status(pid: i32) -> KResult<String> {
    let task = proc_task(pid)?;
    Ok(array::proc_pid_status(&task))
}

/// Read `/proc/<pid>/pagemap` at `pos` into the kernel buffer `buf` (Linux:
/// `pagemap_read`). A task without an address space reads as empty. PFNs are shown to a
/// reader with euid 0 only.
pub fn proc_pid_pagemap(pid: i32, pos: u64, buf: &mut [u8]) -> KResult<usize> {
    let show_pfn = crate::task::current().is_some_and(|t| t.cred.lock().euid == 0);
    let Some(mm) = proc_task(pid)?.mm.lock().clone() else {
        return Ok(0);
    };
    let guard = crate::mm::mmap_lock::mmap_read_lock(&mm);
    task_mmu::pagemap_read(&guard, mm.pgd, pos, buf, show_pfn)
}

impl ProcInode {
    fn text(&self) -> KResult<String> {
        match self.kind {
            Kind::Meminfo => Ok(meminfo()),
            Kind::Vmstat => Ok(crate::mm::vmstat::vmstat_text()),
            Kind::Swaps => Ok(crate::mm::swapfile::proc_swaps()),
            Kind::Partitions => Ok(crate::fs::block_dev::proc_partitions()),
            Kind::Mounts | Kind::Pid(_, PidFile::Mounts) => crate::fs::namespace::proc_mounts(),
            Kind::Version => Ok(crate::kernel::sys::proc_version()),
            Kind::SysvipcShm => Ok(crate::ipc::shm::proc_sysvipc_shm()),
            Kind::Slabinfo => Ok(crate::mm::slab::slabinfo()),
            Kind::Sysctl(c) => Ok(c.read()),
            Kind::KernelSysctl(c) => Ok(c.read()),
            Kind::FsSysctl(c) => Ok(c.read()),
            Kind::Pid(pid, PidFile::Status) => proc_pid_status(pid),
            Kind::Pid(pid, PidFile::Maps) => proc_pid_maps(pid),
            Kind::Pid(pid, PidFile::Smaps) => proc_pid_smaps(pid),
            Kind::Pid(pid, PidFile::OomScore) => proc_oom_score(pid),
            Kind::Pid(pid, PidFile::OomScoreAdj) => oom_score_adj_read(pid),
            Kind::Pid(pid, PidFile::CoredumpFilter) => Ok(alloc::format!(
                "{:08x}\n",
                proc_task(pid)?
                    .coredump_filter
                    .load(core::sync::atomic::Ordering::Relaxed)
            )),
            Kind::Pid(_, PidFile::Pagemap | PidFile::Cmdline | PidFile::Mem)
            | Kind::Kpagecount
            | Kind::Kpageflags
            | Kind::ConfigGz => {
                Err(Errno::EINVAL) // binary: read_at
            }
            Kind::Root
            | Kind::PidDir(_)
            | Kind::SysDir
            | Kind::SysVmDir
            | Kind::SysKernelDir
            | Kind::SysFsDir
            | Kind::SysvipcDir => Err(Errno::EISDIR),
        }
    }

    fn entries(&self) -> Vec<DirEntry> {
        let ent = |name: String, ino: u64, d_type: u8| DirEntry { name, ino, d_type };
        match self.kind {
            Kind::Root => {
                let mut v = Vec::from([
                    ent("meminfo".into(), MEMINFO_INO, 8),
                    ent("vmstat".into(), VMSTAT_INO, 8),
                    ent("kpagecount".into(), KPAGECOUNT_INO, 8),
                    ent("kpageflags".into(), KPAGEFLAGS_INO, 8),
                    ent("partitions".into(), PARTITIONS_INO, 8),
                    ent("slabinfo".into(), SLABINFO_INO, 8),
                    ent("swaps".into(), SWAPS_INO, 8),
                    ent("mounts".into(), MOUNTS_INO, 8),
                    ent("version".into(), VERSION_INO, 8),
                    ent("config.gz".into(), CONFIG_GZ_INO, 8),
                    ent("sys".into(), SYS_INO, 4),
                    ent("sysvipc".into(), SYSVIPC_INO, 4),
                ]);
                if let Some(me) = crate::task::current() {
                    v.push(ent("self".into(), pid_dir_ino(me.tgid), 4));
                }
                // Processes only, as Linux lists them: /proc/<tid> of a thread opens but
                // is not listed (its threads are under /proc/<pid>/task in Linux).
                for pid in crate::task::all_pids().into_iter().filter(|&p| p > 0) {
                    if crate::task::find_task(pid).is_some_and(|t| t.tgid == pid) {
                        v.push(ent(format!("{pid}"), pid_dir_ino(pid), 4));
                    }
                }
                v
            }
            Kind::SysvipcDir => Vec::from([ent("shm".into(), SYSVIPC_SHM_INO, 8)]),
            Kind::SysDir => Vec::from([
                ent("fs".into(), SYS_FS_INO, 4),
                ent("kernel".into(), SYS_KERNEL_INO, 4),
                ent("vm".into(), SYS_VM_INO, 4),
            ]),
            Kind::SysKernelDir => KERNEL_SYSCTLS
                .iter()
                .map(|&c| ent(c.name().into(), kernel_sysctl_ino(c), 8))
                .collect(),
            Kind::SysFsDir => FS_SYSCTLS
                .iter()
                .map(|&c| ent(c.name().into(), fs_sysctl_ino(c), 8))
                .collect(),
            Kind::SysVmDir => VM_SYSCTLS
                .iter()
                .map(|&c| ent(c.name().into(), sysctl_ino(c), 8))
                .collect(),
            Kind::PidDir(pid) => PID_FILES
                .iter()
                .enumerate()
                .map(|(i, (name, _, _))| ent((*name).into(), pid_file_ino(pid, i), 8))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Inode for ProcInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }

    /// chmod and chown of /proc files: EPERM. Linux's `proc_setattr` refuses ATTR_MODE on
    /// /proc/<pid> entries the same way; it lets chown through there, and lets both
    /// through on the other entries (`proc_notify_change`), but our proc inodes are made
    /// afresh at each lookup, so a change could not last: we refuse rather than pretend.
    fn setattr(&self, _attr: &crate::fs::attr::Iattr) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn lookup(&self, name: &str) -> KResult<Arc<dyn Inode>> {
        match (self.kind, name) {
            (Kind::Root, "meminfo") => Ok(node(Kind::Meminfo)),
            (Kind::Root, "vmstat") => Ok(node(Kind::Vmstat)),
            (Kind::Root, "kpagecount") => Ok(node(Kind::Kpagecount)),
            (Kind::Root, "kpageflags") => Ok(node(Kind::Kpageflags)),
            (Kind::Root, "swaps") => Ok(node(Kind::Swaps)),
            (Kind::Root, "partitions") => Ok(node(Kind::Partitions)),
            (Kind::Root, "mounts") => Ok(node(Kind::Mounts)),
            (Kind::Root, "version") => Ok(node(Kind::Version)),
            (Kind::Root, "config.gz") => Ok(node(Kind::ConfigGz)),
            (Kind::Root, "slabinfo") => Ok(node(Kind::Slabinfo)),
            (Kind::Root, "sys") => Ok(node(Kind::SysDir)),
            (Kind::Root, "sysvipc") => Ok(node(Kind::SysvipcDir)),
            (Kind::SysvipcDir, "shm") => Ok(node(Kind::SysvipcShm)),
            (Kind::SysvipcDir, _) => Err(Errno::ENOENT),
            (Kind::SysDir, "vm") => Ok(node(Kind::SysVmDir)),
            (Kind::SysDir, "kernel") => Ok(node(Kind::SysKernelDir)),
            (Kind::SysDir, "fs") => Ok(node(Kind::SysFsDir)),
            (Kind::SysFsDir, n) => FS_SYSCTLS
                .iter()
                .find(|c| c.name() == n)
                .map(|&c| node(Kind::FsSysctl(c)))
                .ok_or(Errno::ENOENT),
            (Kind::SysKernelDir, n) => KERNEL_SYSCTLS
                .iter()
                .find(|c| c.name() == n)
                .map(|&c| node(Kind::KernelSysctl(c)))
                .ok_or(Errno::ENOENT),
            (Kind::SysVmDir, n) => VM_SYSCTLS
                .iter()
                .find(|c| c.name() == n)
                .map(|&c| node(Kind::Sysctl(c)))
                .ok_or(Errno::ENOENT),
            (Kind::SysDir, _) => Err(Errno::ENOENT),
            (Kind::Root, "self") => {
                // The process, not the thread (Linux: `proc_self_get_link`, tgid).
                let me = crate::task::current().ok_or(Errno::ENOENT)?;
                Ok(node(Kind::PidDir(me.tgid)))
            }
            (Kind::Root, n) => {
                let pid: i32 = n.parse().map_err(|_| Errno::ENOENT)?;
                crate::task::find_task(pid)
                    .filter(|_| pid > 0)
                    .ok_or(Errno::ENOENT)?;
                Ok(node(Kind::PidDir(pid)))
            }
            (Kind::PidDir(pid), n) => PID_FILES
                .iter()
                .find(|e| e.0 == n)
                .map(|e| node(Kind::Pid(pid, e.1)))
                .ok_or(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self, pos: usize) -> KResult<Option<DirEntry>> {
        if self.attr.i_mode() & S_IFDIR == 0 {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.entries().into_iter().nth(pos))
    }

    fn parent_ino(&self) -> u64 {
        match self.kind {
            Kind::SysVmDir | Kind::SysKernelDir | Kind::SysFsDir => SYS_INO,
            Kind::FsSysctl(_) => SYS_FS_INO,
            Kind::Sysctl(_) => SYS_VM_INO,
            Kind::KernelSysctl(_) => SYS_KERNEL_INO,
            Kind::SysvipcShm => SYSVIPC_INO,
            _ => ROOT_INO,
        }
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        if let Kind::Pid(pid, PidFile::Pagemap) = self.kind {
            return proc_pid_pagemap(pid, pos, buf);
        }
        if let Kind::Pid(pid, PidFile::Cmdline) = self.kind {
            return proc_pid_cmdline_read(pid, pos, buf);
        }
        if let Kind::Pid(pid, PidFile::Mem) = self.kind {
            return mem_rw(pid, pos, buf, false);
        }
        if let Kind::Kpageflags = self.kind {
            return page::kpageflags_read(pos, buf);
        }
        if let Kind::Kpagecount = self.kind {
            return page::kpagecount_read(pos, buf);
        }
        if let Kind::ConfigGz = self.kind {
            // Binary: not through text() (Linux: `ikconfig_read_current`).
            let gz = crate::kernel::configs::ikconfig();
            let start = usize::try_from(pos).unwrap_or(usize::MAX).min(gz.len());
            let n = buf.len().min(gz.len() - start);
            buf[..n].copy_from_slice(&gz[start..start + n]);
            return Ok(n);
        }
        let text = self.text()?;
        let bytes = text.as_bytes();
        let start = usize::try_from(pos).unwrap_or(usize::MAX).min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    /// Files that show another process's memory may be opened only by who may ptrace
    /// it (Linux: `proc_mem_open` / `mm_access` -> `ptrace_may_access`, EACCES).
    ///
    /// oom_score_adj (0644) may be opened for writing by its owner or root only (Linux:
    /// `generic_permission`; our VFS does not check write bits yet, so this file does).
    ///
    /// The root-owned files (kpageflags and kpagecount 0400, the sysctls 0644) are
    /// checked against their mode bits here, since the VFS does not compare ids (Linux:
    /// `generic_permission`, EACCES; root passes as with CAP_DAC_OVERRIDE).
    fn open(&self, flags: u32) -> KResult<()> {
        if let Kind::Pid(pid, PidFile::Maps | PidFile::Smaps | PidFile::Pagemap | PidFile::Mem) =
            self.kind
        {
            if !ptrace_may_access(&*proc_task(pid)?) {
                return Err(Errno::EACCES);
            }
        }
        if let Kind::Pid(_, PidFile::OomScoreAdj) = self.kind {
            let writing = flags & crate::fs::O_ACCMODE != crate::fs::O_RDONLY
                || flags & crate::fs::O_TRUNC != 0;
            let euid = crate::task::current().map_or(0, |t| t.cred.lock().euid);
            if writing && euid != 0 && euid != self.attr.i_uid() {
                return Err(Errno::EACCES);
            }
        }
        if let Kind::Kpagecount | Kind::Kpageflags | Kind::Slabinfo = self.kind {
            let euid = crate::task::current().map_or(0, |t| t.cred.lock().euid);
            if !root_owned_may_open(self.attr.i_mode(), flags, euid) {
                return Err(Errno::EACCES);
            }
        }
        if let Kind::Sysctl(_) | Kind::KernelSysctl(_) | Kind::FsSysctl(_) = self.kind {
            let euid = crate::task::current().map_or(0, |t| t.cred.lock().euid);
            if !proc_sysctl::sysctl_may_open(self.attr.i_mode(), flags, euid) {
                return Err(Errno::EACCES);
            }
        }
        Ok(())
    }

    /// /proc/<pid>/mem and the sysctls are writable (Linux: `mem_write`, and
    /// `proc_sys_write` -> the table's handler).
    fn write_at(&self, pos: u64, buf: &[u8]) -> KResult<usize> {
        match self.kind {
            Kind::Pid(pid, PidFile::Mem) => {
                let mut copy = buf.to_vec();
                mem_rw(pid, pos, &mut copy, true)
            }
            Kind::Sysctl(c) => c.write(pos, buf),
            Kind::KernelSysctl(c) => c.write(pos, buf),
            Kind::FsSysctl(c) => c.write(pos, buf),
            Kind::Pid(pid, PidFile::OomScoreAdj) => oom_score_adj_write(pid, buf),
            Kind::Pid(pid, PidFile::CoredumpFilter) => {
                // Linux: kstrtouint(buf, 0, ..): "0x33", "51", "063".
                let n = buf.len().min(PROC_NUMBUF - 1);
                let text = core::str::from_utf8(&buf[..n]).map_err(|_| Errno::EINVAL)?;
                let v = kstrtoint(text.trim_matches(|c: char| c.is_ascii_whitespace()))?;
                proc_task(pid)?
                    .coredump_filter
                    .store(v as u32 & 0x1ff, core::sync::atomic::Ordering::Relaxed);
                Ok(buf.len())
            }
            _ => Err(Errno::EACCES),
        }
    }

    /// O_TRUNC on a sysctl file (`echo 2 > /proc/sys/vm/overcommit_memory`) or on
    /// oom_score_adj is accepted and changes nothing (Linux: `proc_sys_setattr` and
    /// `proc_setattr` ignore the size).
    fn setsize(&self, _len: u64) -> KResult<()> {
        match self.kind {
            Kind::Sysctl(_)
            | Kind::KernelSysctl(_)
            | Kind::FsSysctl(_)
            | Kind::Pid(_, PidFile::OomScoreAdj)
            | Kind::Pid(_, PidFile::CoredumpFilter) => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// May a caller with effective uid `euid` open a file owned by root (uid and gid 0) with
/// mode `mode` for `flags`' access? Root always may (CAP_DAC_OVERRIDE, as Linux lets
/// root read and write whatever the mode); anyone else needs the "other" permission
/// bits, since we have no supplementary groups to put a caller in group 0. Linux:
/// `generic_permission` -> `acl_permission_check`.
fn root_owned_may_open(mode: u32, flags: u32, euid: u32) -> bool {
    use crate::fs::{O_ACCMODE, O_RDONLY, O_RDWR, O_WRONLY};
    if euid == 0 {
        return true;
    }
    let need = match flags & O_ACCMODE {
        O_RDONLY => 0o4,
        O_WRONLY => 0o2,
        O_RDWR => 0o6,
        _ => 0o6,
    };
    mode & need == need
}

/// May the calling task look into `task`'s memory? Itself, a task whose real, effective
/// and saved uids and gids all match the caller's (Linux compares fsuid; ours is euid),
/// or root (CAP_SYS_PTRACE). Linux: `ptrace_may_access` (`__ptrace_may_access` with
/// PTRACE_MODE_READ_FSCREDS); no Yama or dumpable flag here.
fn ptrace_may_access(task: &Task) -> bool {
    let Some(me) = crate::task::current() else {
        return true;
    };
    if me.pid() == task.pid() {
        return true;
    }
    let mine = *me.cred.lock();
    let theirs = *task.cred.lock();
    mine.euid == 0
        || (mine.euid == theirs.uid
            && mine.euid == theirs.euid
            && mine.euid == theirs.suid
            && mine.egid == theirs.gid
            && mine.egid == theirs.egid)
}

/// `/proc/<pid>/mem` read or write at virtual address `pos` (Linux: `mem_rw` ->
/// `access_remote_vm` with FOLL_FORCE, and FOLL_WRITE for a write): the pages are
/// faulted in as needed, and a write to a private read-only mapping goes to the
/// process's COW copy, never to the file (the Dirty COW rules hold). EIO when nothing at
/// `pos` can be accessed; EACCES when `ptrace_may_access` says no (checked at open too);
/// 0 (end of file) for a task without an address space.
fn mem_rw(pid: i32, pos: u64, buf: &mut [u8], write: bool) -> KResult<usize> {
    use crate::mm::gup::FollFlags;
    let task = proc_task(pid)?;
    if !ptrace_may_access(&task) {
        return Err(Errno::EACCES);
    }
    let Some(mm) = task.mm.lock().clone() else {
        return Ok(0);
    };
    let Ok(addr) = usize::try_from(pos) else {
        return Err(Errno::EIO);
    };
    let flags = if write {
        FollFlags::FOLL_WRITE
    } else {
        FollFlags::empty()
    };
    match crate::mm::memory::access_remote_vm(&mm, addr, buf, flags) {
        0 if !buf.is_empty() => Err(Errno::EIO),
        n => Ok(n),
    }
}

/// `/proc/<pid>/oom_score`: the badness the OOM killer would give the process now,
/// scaled to 0..2000 (0: never chosen). Linux 5.10: `proc_oom_score`.
fn proc_oom_score(pid: i32) -> KResult<String> {
    let task = proc_task(pid)?;
    let info = crate::task::oom::oom_task_info(&task);
    let totalpages = crate::mm::oom_kill::oom_totalpages();
    Ok(format!(
        "{}\n",
        crate::mm::oom_kill::proc_oom_score(&info, totalpages)
    ))
}

/// `/proc/<pid>/oom_score_adj` read: `%d\n`. Linux: `oom_score_adj_read`.
fn oom_score_adj_read(pid: i32) -> KResult<String> {
    let task = proc_task(pid)?;
    Ok(format!(
        "{}\n",
        task.oom_score_adj
            .load(core::sync::atomic::Ordering::Relaxed)
    ))
}

/// Linux's `PROC_NUMBUF`: a write to oom_score_adj is read into 13 bytes, one a NUL.
const PROC_NUMBUF: usize = 13;

/// `/proc/<pid>/oom_score_adj` write (Linux: `oom_score_adj_write` -> `__set_oom_adj`):
/// an integer (`kstrtoint` base 0, surrounding white space stripped; at most 12 bytes
/// are looked at) in [-1000, 1000], else EINVAL. Going below the process's
/// `oom_score_adj_min` (0, or the last value root wrote) needs CAP_SYS_RESOURCE (root
/// here), else EACCES; a root writer also sets that floor. Returns the whole count.
fn oom_score_adj_write(pid: i32, buf: &[u8]) -> KResult<usize> {
    use crate::mm::oom_kill::{OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN};
    use core::sync::atomic::Ordering;
    let n = buf.len().min(PROC_NUMBUF - 1);
    let text = core::str::from_utf8(&buf[..n]).map_err(|_| Errno::EINVAL)?;
    let adj = kstrtoint(text.trim_matches(|c: char| c.is_ascii_whitespace()))?;
    if adj < i32::from(OOM_SCORE_ADJ_MIN) || adj > i32::from(OOM_SCORE_ADJ_MAX) {
        return Err(Errno::EINVAL);
    }
    let adj = adj as i16;
    let task = proc_task(pid)?;
    let cap_sys_resource = crate::task::current().is_none_or(|t| t.cred.lock().euid == 0);
    if adj < task.oom_score_adj_min.load(Ordering::Relaxed) && !cap_sys_resource {
        return Err(Errno::EACCES);
    }
    task.oom_score_adj.store(adj, Ordering::Relaxed);
    if cap_sys_resource {
        task.oom_score_adj_min.store(adj, Ordering::Relaxed);
    }
    Ok(buf.len())
}

/// Parse a whole string as an `int` (Linux: `kstrtoint` with base 0): an optional sign,
/// then `0x` hex, `0` octal or decimal digits, and nothing else. EINVAL for no number or
/// trailing text, ERANGE when it does not fit.
fn kstrtoint(s: &str) -> KResult<i32> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(Errno::EINVAL);
    }
    let v = u64::from_str_radix(digits, radix).map_err(|_| Errno::ERANGE)?;
    let v = if neg { -(v as i128) } else { v as i128 };
    i32::try_from(v).map_err(|_| Errno::ERANGE)
}

/// `/proc/<pid>/cmdline`: the process's argv as it sits in its own memory, NUL-separated,
/// read through `access_remote_vm` (get_user_pages on the target mm). Empty for kernel
/// threads and zombies. Linux: `proc_pid_cmdline_read` -> `get_mm_cmdline`.
fn proc_pid_cmdline_read(pid: i32, pos: u64, buf: &mut [u8]) -> KResult<usize> {
    let task = crate::task::find_task(pid).ok_or(Errno::ESRCH)?;
    let Some(mm) = task.mm.lock().clone() else {
        return Ok(0);
    };
    let (start, end) = {
        let m = crate::mm::mmap_lock::mmap_read_lock(&mm);
        (m.arg_start, m.arg_end)
    };
    let len = end.saturating_sub(start) as u64;
    if pos >= len {
        return Ok(0);
    }
    let n = buf.len().min((len - pos) as usize);
    Ok(crate::mm::memory::access_remote_vm(
        &mm,
        start + pos as usize,
        &mut buf[..n],
        crate::mm::gup::FollFlags::empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kstrtoint_takes_what_linux_takes() {
        assert_eq!(kstrtoint("-1000"), Ok(-1000));
        assert_eq!(kstrtoint("+5"), Ok(5));
        assert_eq!(kstrtoint("0x10"), Ok(16));
        assert_eq!(kstrtoint("010"), Ok(8));
        assert_eq!(kstrtoint("0"), Ok(0));
        assert_eq!(kstrtoint(""), Err(Errno::EINVAL));
        assert_eq!(kstrtoint("-"), Err(Errno::EINVAL));
        assert_eq!(kstrtoint("12a"), Err(Errno::EINVAL));
        assert_eq!(kstrtoint("1 2"), Err(Errno::EINVAL));
        assert_eq!(kstrtoint("09"), Err(Errno::EINVAL));
        assert_eq!(kstrtoint("2147483648"), Err(Errno::ERANGE));
        assert_eq!(kstrtoint("-2147483648"), Ok(i32::MIN));
    }
}

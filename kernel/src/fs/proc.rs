//! procfs: kernel state as text files, generated when read. Linux: `fs/proc/` (`base.c`
//! for the per-pid directories, `task_mmu.c` for `maps`, `meminfo.c`, `root.c`).
//!
//! /proc/meminfo, /proc/self (the reader's own directory), /proc/<pid>/maps.
//! Differences: /proc/self is a directory resolved at lookup, not a symlink; files report
//! size 0 as in Linux and are read-only; generated text is rebuilt on every read.
use super::inode::{DirEntry, Inode, InodeAttr, SuperBlock, S_IFDIR, S_IFREG};
use crate::errno::{Errno, KResult};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

static PROC_SB: spin::Once<Arc<SuperBlock>> = spin::Once::new();

fn sb() -> &'static Arc<SuperBlock> {
    PROC_SB.call_once(|| SuperBlock::new("proc", super::inode::get_anon_bdev(), true, 1))
}

/// Inode numbers: 1 root, 2 meminfo, pid << 8 for a pid directory, + 1 for its maps.
const ROOT_INO: u64 = 1;
const MEMINFO_INO: u64 = 2;

/// What a proc inode stands for.
#[derive(Clone, Copy)]
enum Kind {
    Root,
    Meminfo,
    PidDir(i32),
    Maps(i32),
}

/// One procfs inode.
pub struct ProcInode {
    attr: InodeAttr,
    kind: Kind,
}

fn node(kind: Kind) -> Arc<dyn Inode> {
    let (ino, mode) = match kind {
        Kind::Root => (ROOT_INO, S_IFDIR | 0o555),
        Kind::Meminfo => (MEMINFO_INO, S_IFREG | 0o444),
        Kind::PidDir(p) => ((p as u64) << 8, S_IFDIR | 0o555),
        Kind::Maps(p) => (((p as u64) << 8) + 1, S_IFREG | 0o444),
    };
    let nlink = if mode & S_IFDIR != 0 { 2 } else { 1 };
    Arc::new(ProcInode {
        attr: InodeAttr::new(sb(), ino, mode, nlink, 0),
        kind,
    })
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

/// `/proc/<pid>/maps`: one `show_map_vma` line per VMA (Linux: `show_map`).
pub fn proc_pid_maps(pid: i32) -> KResult<String> {
    let task = crate::task::find_task(pid).ok_or(Errno::ESRCH)?;
    let Some(mm) = task.mm.lock().clone() else {
        return Ok(String::new());
    };
    let guard = mm.lock();
    let mut out = String::new();
    for vma in guard.mm_rb.values() {
        out.push_str(&crate::mm::vma::show_map_vma(&guard, vma)); // ends in '\n'
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

/// `/proc/meminfo` in Linux's layout (`meminfo_proc_show`): name padded to 16 columns,
/// value right-aligned in 8, then ` kB`. Only the counters this kernel keeps.
pub fn meminfo() -> String {
    let kb = |pages: usize| pages * (crate::arch::PAGE_SIZE / 1024);
    let managed = crate::mm::page_alloc::ZONE_NORMAL.lock().managed_pages;
    let free = crate::mm::page_alloc::nr_free_pages();
    let cached = crate::mm::filemap::nr_file_pages();
    let mut s = String::new();
    let mut line = |name: &str, pages: usize| {
        let _ = writeln!(s, "{:<16}{:>8} kB", format!("{name}:"), kb(pages));
    };
    line("MemTotal", managed);
    line("MemFree", free);
    line("MemAvailable", free + cached);
    line("Buffers", 0);
    line("Cached", cached);
    line("SwapCached", 0);
    line("SwapTotal", 0);
    line("SwapFree", 0);
    s
}

impl ProcInode {
    fn text(&self) -> KResult<String> {
        match self.kind {
            Kind::Meminfo => Ok(meminfo()),
            Kind::Maps(pid) => proc_pid_maps(pid),
            _ => Err(Errno::EISDIR),
        }
    }

    fn entries(&self) -> Vec<DirEntry> {
        let ent = |name: String, ino: u64, d_type: u8| DirEntry { name, ino, d_type };
        match self.kind {
            Kind::Root => {
                let mut v = Vec::from([ent("meminfo".into(), MEMINFO_INO, 8)]);
                if let Some(me) = crate::task::current() {
                    v.push(ent("self".into(), (me.pid as u64) << 8, 4));
                }
                for pid in crate::task::all_pids().into_iter().filter(|&p| p > 0) {
                    v.push(ent(format!("{pid}"), (pid as u64) << 8, 4));
                }
                v
            }
            Kind::PidDir(pid) => Vec::from([ent("maps".into(), ((pid as u64) << 8) + 1, 8)]),
            _ => Vec::new(),
        }
    }
}

impl Inode for ProcInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }

    fn lookup(&self, name: &str) -> KResult<Arc<dyn Inode>> {
        match (self.kind, name) {
            (Kind::Root, "meminfo") => Ok(node(Kind::Meminfo)),
            (Kind::Root, "self") => {
                let me = crate::task::current().ok_or(Errno::ENOENT)?;
                Ok(node(Kind::PidDir(me.pid)))
            }
            (Kind::Root, n) => {
                let pid: i32 = n.parse().map_err(|_| Errno::ENOENT)?;
                crate::task::find_task(pid)
                    .filter(|_| pid > 0)
                    .ok_or(Errno::ENOENT)?;
                Ok(node(Kind::PidDir(pid)))
            }
            (Kind::PidDir(pid), "maps") => Ok(node(Kind::Maps(pid))),
            (Kind::PidDir(_), _) => Err(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self, pos: usize) -> KResult<Option<DirEntry>> {
        if self.attr.i_mode & S_IFDIR == 0 {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.entries().into_iter().nth(pos))
    }

    fn parent_ino(&self) -> u64 {
        ROOT_INO
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        let text = self.text()?;
        let bytes = text.as_bytes();
        let start = (pos as usize).min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, _pos: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EACCES)
    }
}

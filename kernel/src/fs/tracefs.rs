//! tracefs: the tracer's control files, mounted on /sys/kernel/tracing as Linux mounts
//! them. Linux: `fs/tracefs/inode.c` (the file system) and `kernel/trace/trace.c`
//! (`tracer_init_tracefs` creates the files; `rb_simple_write` for `tracing_on`,
//! `tracing_mark_write` for `trace_marker`, `tracing_read_pipe`/`s_show` for `trace`,
//! `ftrace_graph_write` for `set_graph_function`, `tracing_clock_show`).
//!
//! The files:
//! ```text
//! tracing_on                  0/1: record or not (the first 1 patches the traced functions)
//! set_graph_function          the filter: names, prefix*, *suffix, or mm (all)
//! trace                       the records, one raw line each (see kernel/trace/trace_output.rs);
//!                             writing or truncating it empties the buffer
//! trace_marker                write a line into the trace (user programs mark steps)
//! trace_clock                 the counter behind the times: [inst] or [cntvct]
//! available_filter_functions  every traced function
//! ```
//! Differences from Linux: a write to `set_graph_function` replaces the filter whatever
//! the open mode (Linux appends under `>>`); `trace` shows raw records, not the
//! function_graph layout (`cargo xtask trace` draws that); there is no /sys beyond this
//! directory (the root image has empty /sys/kernel/tracing as the mount point).
use super::inode::{DirEntry, Inode, InodeAttr, SuperBlock, S_IFDIR, S_IFREG};
use crate::errno::{Errno, KResult};
use crate::kernel::trace;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

static TRACEFS_SB: spin::Once<Arc<SuperBlock>> = spin::Once::new();

fn sb() -> &'static Arc<SuperBlock> {
    TRACEFS_SB.call_once(|| SuperBlock::new("tracefs", super::inode::get_anon_bdev(), false, 1))
}

/// The files, in directory order: name, mode.
const FILES: &[(&str, u32)] = &[
    ("available_filter_functions", 0o444),
    ("set_graph_function", 0o644),
    ("trace", 0o644),
    ("trace_clock", 0o444),
    ("trace_marker", 0o222),
    ("tracing_on", 0o644),
];

const ROOT_INO: u64 = 1;

/// An inode of tracefs: the root directory or one of [`FILES`] (by index).
pub struct TracefsInode {
    attr: InodeAttr,
    file: Option<usize>,
}

fn node(file: Option<usize>) -> Arc<dyn Inode> {
    let (ino, mode) = match file {
        None => (ROOT_INO, S_IFDIR | 0o755),
        Some(i) => (ROOT_INO + 1 + i as u64, S_IFREG | FILES[i].1),
    };
    Arc::new(TracefsInode {
        attr: InodeAttr::new(sb(), ino, mode, if file.is_none() { 2 } else { 1 }, 0),
        file,
    })
}

/// The root of a tracefs (Linux: `trace_fill_super`).
pub fn tracefs_root() -> Arc<dyn Inode> {
    node(None)
}

/// Mount tracefs where Linux does (Linux: `tracefs_init` + the
/// `/sys/kernel/tracing` automount).
pub fn tracefs_init() {
    match super::do_add_mount("/sys/kernel/tracing", tracefs_root()) {
        Ok(()) => pr_info!("tracefs: mounted on /sys/kernel/tracing"),
        Err(e) => pr_warn!("tracefs: not mounted on /sys/kernel/tracing: {e:?}"),
    }
}

impl TracefsInode {
    fn name(&self) -> &'static str {
        self.file.map_or("", |i| FILES[i].0)
    }

    /// The text of the small files.
    fn text(&self) -> String {
        match self.name() {
            "tracing_on" => String::from(if trace::tracing_is_on() { "1\n" } else { "0\n" }),
            "set_graph_function" => {
                let f = String::from(trace::ftrace::FTRACE.lock().filter());
                if f.is_empty() {
                    String::from("#### all functions enabled ####\n")
                } else {
                    f.split(|c: char| c == ',' || c.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                        .flat_map(|w| [w, "\n"])
                        .collect()
                }
            }
            "trace_clock" => String::from(if trace::ftrace::trace_clock_name() == "inst" {
                "[inst] cntvct\n"
            } else {
                "inst [cntvct]\n"
            }),
            "available_filter_functions" => trace::ftrace::ftrace_sites()
                .iter()
                .flat_map(|s| [s.name, "\n"])
                .collect(),
            _ => String::new(),
        }
    }
}

impl Inode for TracefsInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }

    /// chmod and chown: EPERM. Linux's tracefs files take them (`simple_setattr`), but our
    /// tracefs inodes are made afresh at each lookup, so a change could not last.
    fn setattr(&self, _attr: &super::attr::Iattr) -> KResult<()> {
        Err(Errno::EPERM)
    }

    fn lookup(&self, name: &str) -> KResult<Arc<dyn Inode>> {
        if self.file.is_some() {
            return Err(Errno::ENOTDIR);
        }
        FILES
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| node(Some(i)))
            .ok_or(Errno::ENOENT)
    }

    fn readdir(&self, pos: usize) -> KResult<Option<DirEntry>> {
        if self.file.is_some() {
            return Err(Errno::ENOTDIR);
        }
        Ok(FILES.get(pos).map(|(n, _)| DirEntry {
            name: String::from(*n),
            ino: ROOT_INO + 1 + pos as u64,
            d_type: 8,
        }))
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        match self.name() {
            "" => Err(Errno::EISDIR),
            "trace" => Ok(trace::tracing_read(pos, buf)),
            "trace_marker" => Err(Errno::EINVAL),
            _ => {
                let text = self.text();
                let bytes = text.as_bytes();
                let start = usize::try_from(pos).unwrap_or(usize::MAX).min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }

    fn write_at(&self, _pos: u64, buf: &[u8]) -> KResult<usize> {
        match self.name() {
            "trace_marker" => Ok(trace::trace_marker_write(buf)),
            "tracing_on" => {
                let text = core::str::from_utf8(buf).map_err(|_| Errno::EINVAL)?;
                match text.trim() {
                    "0" => trace::tracing_on(false),
                    "1" => trace::tracing_on(true),
                    _ => return Err(Errno::EINVAL),
                }
                Ok(buf.len())
            }
            "set_graph_function" => {
                let text = core::str::from_utf8(buf).map_err(|_| Errno::EINVAL)?;
                trace::ftrace_set_graph_function(text)?;
                Ok(buf.len())
            }
            "trace" => {
                trace::ftrace::FTRACE.lock().reset();
                Ok(buf.len())
            }
            _ => Err(Errno::EACCES),
        }
    }

    /// `echo 1 > tracing_on` opens with O_TRUNC: accepted; truncating `trace` empties
    /// the buffer (Linux: `tracing_open` with O_TRUNC -> `tracing_reset_online_cpus`).
    fn setsize(&self, _len: u64) -> KResult<()> {
        match self.name() {
            "trace" => {
                trace::ftrace::FTRACE.lock().reset();
                Ok(())
            }
            "" => Err(Errno::EISDIR),
            _ => Ok(()),
        }
    }
}

/// Names of the files, for tests.
pub fn tracefs_files() -> Vec<&'static str> {
    FILES.iter().map(|(n, _)| *n).collect()
}

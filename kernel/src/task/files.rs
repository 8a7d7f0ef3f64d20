//! A process's open files: the descriptor table. Linux: `include/linux/fdtable.h`,
//! `fs/file.c` (`alloc_fd`, `fd_install`, `close_fd`, `dup_fd`, `do_close_on_exec`).
use crate::errno::{Errno, KResult};
use crate::fs::file::File;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// One slot: the open file and its descriptor flags (FD_CLOEXEC).
#[derive(Clone)]
pub struct FdEntry {
    /// The open file description (shared after dup/fork).
    pub file: Arc<File>,
    /// FD_CLOEXEC.
    pub cloexec: bool,
}

/// The table (Linux: `struct files_struct` + `struct fdtable`).
#[derive(Clone, Default)]
pub struct FilesStruct {
    fds: Vec<Option<FdEntry>>,
}

impl FilesStruct {
    /// An empty table.
    pub const fn new() -> Self {
        FilesStruct { fds: Vec::new() }
    }

    /// The file at `fd` (Linux: `fget`); EBADF if none.
    pub fn get(&self, fd: i32) -> KResult<Arc<File>> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .and_then(|e| e.as_ref())
            .map(|e| e.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// Install `file` at the lowest free descriptor below `limit` (RLIMIT_NOFILE).
    /// Linux: `get_unused_fd_flags` + `fd_install`; EMFILE when full.
    pub fn alloc_fd(&mut self, file: Arc<File>, cloexec: bool, limit: usize) -> KResult<i32> {
        let idx = match self.fds.iter().position(|e| e.is_none()) {
            Some(i) => i,
            None => {
                if self.fds.len() >= limit {
                    return Err(Errno::EMFILE);
                }
                // The table grows as user space opens files: ENOMEM, not a panic.
                self.fds.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                self.fds.push(None);
                self.fds.len() - 1
            }
        };
        if idx >= limit {
            return Err(Errno::EMFILE);
        }
        self.fds[idx] = Some(FdEntry { file, cloexec });
        Ok(idx as i32)
    }

    /// Put `file` at exactly `fd`, closing what was there (dup2/dup3). ENOMEM when the
    /// table cannot grow that far (Linux: `expand_files` failing; RLIMIT_NOFILE may allow
    /// a million descriptors, more than the kernel heap holds on a small machine).
    pub fn install_at(&mut self, fd: usize, file: Arc<File>, cloexec: bool) -> KResult<()> {
        if self.fds.len() <= fd {
            self.fds
                .try_reserve_exact(fd + 1 - self.fds.len())
                .map_err(|_| Errno::ENOMEM)?;
            self.fds.resize(fd + 1, None);
        }
        self.fds[fd] = Some(FdEntry { file, cloexec });
        Ok(())
    }

    /// A copy for a child of fork, up to the highest open descriptor; None when the heap
    /// cannot hold it (fork then fails with ENOMEM). Linux: `dup_fd` (`count_open_files`).
    pub fn try_clone(&self) -> Option<FilesStruct> {
        let n = self
            .fds
            .iter()
            .rposition(|e| e.is_some())
            .map_or(0, |i| i + 1);
        let mut fds = Vec::new();
        fds.try_reserve_exact(n).ok()?;
        fds.extend_from_slice(&self.fds[..n]);
        Some(FilesStruct { fds })
    }

    /// Close `fd` (Linux: `close_fd`); EBADF if it was not open.
    pub fn close(&mut self, fd: i32) -> KResult<()> {
        let slot = usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get_mut(i))
            .ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }

    /// Close every FD_CLOEXEC descriptor (Linux: `do_close_on_exec`).
    pub fn close_on_exec(&mut self) {
        for slot in self.fds.iter_mut() {
            if slot.as_ref().is_some_and(|e| e.cloexec) {
                *slot = None;
            }
        }
    }

    /// Number of open descriptors.
    pub fn count(&self) -> usize {
        self.fds.iter().filter(|e| e.is_some()).count()
    }

    /// Drop every descriptor (exit).
    pub fn close_all(&mut self) {
        self.fds.clear();
    }
}

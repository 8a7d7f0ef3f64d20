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

    /// Put `file` at exactly `fd`, closing what was there (dup2/dup3).
    pub fn install_at(&mut self, fd: usize, file: Arc<File>, cloexec: bool) {
        if self.fds.len() <= fd {
            self.fds.resize(fd + 1, None);
        }
        self.fds[fd] = Some(FdEntry { file, cloexec });
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

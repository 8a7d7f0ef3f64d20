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

/// The most descriptors a process may have, whatever its RLIMIT_NOFILE: setrlimit above
/// it is EPERM (Linux: `sysctl_nr_open` in fs/file.c, /proc/sys/fs/nr_open, 1024 * 1024
/// by default).
pub static SYSCTL_NR_OPEN: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(NR_OPEN_DEFAULT_MAX);

/// `nr_open`'s default (Linux: `1024 * 1024`).
pub const NR_OPEN_DEFAULT_MAX: usize = 1024 * 1024;
/// The bounds a write to /proc/sys/fs/nr_open must keep (Linux: `sysctl_nr_open_min`,
/// BITS_PER_LONG, and `sysctl_nr_open_max`, INT_MAX rounded down to BITS_PER_LONG).
pub const NR_OPEN_MIN: usize = 64;
/// See [`NR_OPEN_MIN`].
pub const NR_OPEN_MAX: usize = (i32::MAX as usize) & !63;

/// A write to /proc/sys/fs/nr_open (Linux: `proc_dointvec_minmax` over the bounds above):
/// EINVAL outside them.
pub fn nr_open_write(pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    let val = usize::try_from(val).map_err(|_| Errno::EINVAL)?;
    if !(NR_OPEN_MIN..=NR_OPEN_MAX).contains(&val) {
        return Err(Errno::EINVAL);
    }
    SYSCTL_NR_OPEN.store(val, core::sync::atomic::Ordering::Relaxed);
    Ok(used)
}

/// The table (Linux: `struct files_struct` + `struct fdtable`).
///
/// Tasks cloned with CLONE_FILES (every thread of a process) share one table; `users`
/// counts them, and the last to exit closes the descriptors (Linux: `files_struct.count`,
/// `put_files_struct`).
#[derive(Clone)]
pub struct FilesStruct {
    fds: Vec<Option<FdEntry>>,
    users: usize,
}

impl Default for FilesStruct {
    fn default() -> Self {
        Self::new()
    }
}

impl FilesStruct {
    /// An empty table with one user.
    pub const fn new() -> Self {
        FilesStruct {
            fds: Vec::new(),
            users: 1,
        }
    }

    /// One more task uses this table (clone with CLONE_FILES; Linux: `atomic_inc(&oldf->count)`
    /// in `copy_files`).
    pub fn get_shared(&mut self) {
        self.users += 1;
    }

    /// A task using this table exits: true when it was the last, and the descriptors are
    /// closed (Linux: `exit_files` -> `put_files_struct` -> `close_files`).
    pub fn put(&mut self) -> bool {
        self.users = self.users.saturating_sub(1);
        if self.users == 0 {
            self.close_all();
            true
        } else {
            false
        }
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
        self.alloc_fd_from(file, cloexec, 0, limit)
    }

    /// [`alloc_fd`](Self::alloc_fd) at the lowest free descriptor at or above `start`
    /// (Linux: `alloc_fd(start, end, flags)`, for fcntl's F_DUPFD). EMFILE when none is
    /// below `limit`, ENOMEM when the table cannot grow to it.
    pub fn alloc_fd_from(
        &mut self,
        file: Arc<File>,
        cloexec: bool,
        start: usize,
        limit: usize,
    ) -> KResult<i32> {
        let free = self
            .fds
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, e)| e.is_none())
            .map(|(i, _)| i);
        let idx = free.unwrap_or(self.fds.len().max(start));
        if idx >= limit {
            return Err(Errno::EMFILE);
        }
        if idx >= self.fds.len() {
            self.fds
                .try_reserve(idx + 1 - self.fds.len())
                .map_err(|_| Errno::ENOMEM)?;
            self.fds.resize(idx + 1, None);
        }
        self.fds[idx] = Some(FdEntry { file, cloexec });
        Ok(idx as i32)
    }

    /// The FD_CLOEXEC flag of `fd` (fcntl F_GETFD); EBADF when not open.
    pub fn get_cloexec(&self, fd: i32) -> KResult<bool> {
        self.entry(fd).map(|e| e.cloexec)
    }

    /// Set or clear FD_CLOEXEC on `fd` (fcntl F_SETFD); EBADF when not open.
    pub fn set_cloexec(&mut self, fd: i32, cloexec: bool) -> KResult<()> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.fds.get_mut(i) {
            Some(Some(e)) => {
                e.cloexec = cloexec;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }

    fn entry(&self, fd: i32) -> KResult<&FdEntry> {
        let i = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.fds.get(i).and_then(|e| e.as_ref()).ok_or(Errno::EBADF)
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
        Some(FilesStruct { fds, users: 1 })
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

/// A shared descriptor table: what tasks cloned with CLONE_FILES point at together.
pub type FilesRef = Arc<crate::sync::SpinLockIrq<FilesStruct>>;

/// A task's pointer to its descriptor table (Linux: `task_struct::files`). Only the task
/// itself replaces it (exec's `unshare_files`), others only read it, so a short lock
/// around the pointer is all it needs (Linux: `task_lock` in `reset_files_struct`).
pub struct TaskFiles(crate::sync::SpinLockIrq<FilesRef>);

/// The locked table of a task, keeping the table alive while locked (Linux: the caller's
/// `files` reference and `files->file_lock`).
pub struct FilesGuard {
    // Declared first so it is dropped first: the guard borrows from the table's lock,
    // which `_table` keeps alive.
    guard: crate::sync::SpinLockIrqGuard<'static, FilesStruct>,
    _table: FilesRef,
}

impl TaskFiles {
    /// Point at `table`.
    pub fn new(table: FilesRef) -> Self {
        TaskFiles(crate::sync::SpinLockIrq::new(table))
    }

    /// The table itself, to share it (clone with CLONE_FILES; Linux: `copy_files`).
    pub fn get(&self) -> FilesRef {
        self.0.lock().clone()
    }

    /// Lock the task's table (Linux: `spin_lock(&files->file_lock)`).
    pub fn lock(&self) -> FilesGuard {
        let table = self.get();
        let guard = table.lock();
        // SAFETY: the guard borrows the lock inside the `Arc`'s allocation, which does not
        // move when the `Arc` does and lives as long as `_table`, which the struct drops
        // after the guard (field order).
        let guard = unsafe {
            core::mem::transmute::<
                crate::sync::SpinLockIrqGuard<'_, FilesStruct>,
                crate::sync::SpinLockIrqGuard<'static, FilesStruct>,
            >(guard)
        };
        FilesGuard {
            guard,
            _table: table,
        }
    }

    /// Point the task at `table` instead, returning the old one (Linux:
    /// `reset_files_struct`).
    pub fn replace(&self, table: FilesRef) -> FilesRef {
        core::mem::replace(&mut *self.0.lock(), table)
    }
}

impl core::ops::Deref for FilesGuard {
    type Target = FilesStruct;
    fn deref(&self) -> &FilesStruct {
        &self.guard
    }
}

impl core::ops::DerefMut for FilesGuard {
    fn deref_mut(&mut self) -> &mut FilesStruct {
        &mut self.guard
    }
}

impl FilesStruct {
    /// Is the table shared with another task (Linux: `atomic_read(&files->count) > 1`)?
    pub fn is_shared(&self) -> bool {
        self.users > 1
    }
}

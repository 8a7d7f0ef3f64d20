//! Open files: position, access mode, status flags, and the read/write/seek/readdir/stat
//! calls on them.
//!
//! Linux: `include/linux/fs.h` (`struct file`, FMODE_*), `fs/read_write.c` (`vfs_read`,
//! `vfs_write`, `vfs_llseek`, `generic_file_llseek_size`, `ksys_pread64`), `fs/readdir.c`
//! (`iterate_dir`, `dcache_readdir`'s `dir_emit_dots`), `fs/open.c` (`do_sys_ftruncate`),
//! `fs/fcntl.c` (`setfl`). The syscall layer holds `Arc<File>` in its fd table and copies
//! user buffers itself; every method here works on kernel buffers.
use super::char_dev::CharDevice;
use super::inode::{mode_to_dtype, s_isdir, s_isreg, Inode};
use super::readdir::{filldir64, DT_DIR};
use super::stat::{generic_fillattr, Stat};
use super::{O_ACCMODE, O_APPEND, O_DIRECT, O_NOATIME, O_NONBLOCK};
use crate::errno::{Errno, KResult};
use crate::sync::RwSemaphore;
use alloc::string::String;
use alloc::sync::Arc;
use bitflags::bitflags;
use core::sync::atomic::{AtomicU32, Ordering};

/// `lseek` whence: from the start.
pub const SEEK_SET: u32 = 0;
/// `lseek` whence: from the current position.
pub const SEEK_CUR: u32 = 1;
/// `lseek` whence: from the end.
pub const SEEK_END: u32 = 2;
/// `lseek` whence: next data at or after the offset.
pub const SEEK_DATA: u32 = 3;
/// `lseek` whence: next hole at or after the offset.
pub const SEEK_HOLE: u32 = 4;

/// Status flags `fcntl(F_SETFL)` may change (Linux: `SETFL_MASK`, without O_ASYNC).
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

bitflags! {
    /// What an open file may do (Linux: `fmode_t`, `FMODE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FMode: u32 {
        /// Opened for reading.
        const FMODE_READ = 0x1;
        /// Opened for writing.
        const FMODE_WRITE = 0x2;
        /// Has a seekable position.
        const FMODE_LSEEK = 0x4;
        /// pread is allowed.
        const FMODE_PREAD = 0x8;
        /// pwrite is allowed.
        const FMODE_PWRITE = 0x10;
        /// No position at all (Linux: `FMODE_STREAM`).
        const FMODE_STREAM = 0x20_0000;
    }
}

/// An open file description (Linux: `struct file`). Shared by every fd that `dup`s it.
pub struct File {
    f_path: String,
    f_inode: Arc<dyn Inode>,
    f_cdev: Option<Arc<dyn CharDevice>>,
    f_mode: FMode,
    f_flags: AtomicU32,
    /// Linux: `f_pos` under `f_pos_lock`, a sleeping lock (Linux: a mutex; here the
    /// write side of a semaphore): a read may wait for the disk while holding it.
    f_pos: RwSemaphore<u64>,
    /// Readahead state (Linux: `f_ra`, set up by `file_ra_state_init` at open).
    f_ra: crate::mm::readahead::FileRa,
}

impl File {
    /// A new open file of `inode` reached as `path`; `cdev` for a character device.
    /// `flags` are the open flags (access mode and status flags). Linux: `alloc_file` +
    /// `do_dentry_open`.
    pub fn new(
        path: String,
        inode: Arc<dyn Inode>,
        cdev: Option<Arc<dyn CharDevice>>,
        flags: u32,
    ) -> Self {
        let mut mode = FMode::empty();
        match flags & O_ACCMODE {
            0 => mode |= FMode::FMODE_READ,
            1 => mode |= FMode::FMODE_WRITE,
            2 => mode |= FMode::FMODE_READ | FMode::FMODE_WRITE,
            _ => {} // 3: neither (Linux: OPEN_FMODE), used for ioctl-only opens
        }
        if cdev.as_ref().is_some_and(|c| c.is_stream()) {
            mode |= FMode::FMODE_STREAM;
        } else {
            mode |= FMode::FMODE_LSEEK | FMode::FMODE_PREAD | FMode::FMODE_PWRITE;
        }
        File {
            f_path: path,
            f_inode: inode,
            f_cdev: cdev,
            f_mode: mode,
            f_flags: AtomicU32::new(flags),
            f_pos: RwSemaphore::new(0),
            f_ra: crate::mm::readahead::FileRa::new(crate::mm::readahead::FileRaState::new()),
        }
    }

    /// The path it was opened by (Linux: `d_path(&file->f_path)`): `openat` with a
    /// relative path resolves against it, /proc/self/fd shows it.
    pub fn path(&self) -> &str {
        &self.f_path
    }

    /// The inode (Linux: `file_inode`): mmap takes `fault_page` from here.
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.f_inode
    }

    /// The readahead state of this open file (Linux: `&file->f_ra`).
    pub fn f_ra(&self) -> &crate::mm::readahead::FileRa {
        &self.f_ra
    }

    /// The device behind a special file (a character device, a pipe end, a socket).
    pub fn cdev(&self) -> Option<&Arc<dyn CharDevice>> {
        self.f_cdev.as_ref()
    }

    /// What would not block now, as POLL* bits (Linux: `vfs_poll`): the device's answer,
    /// or readable and writable for a file or directory (DEFAULT_POLLMASK).
    pub fn poll(&self) -> u16 {
        use super::char_dev::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
        match &self.f_cdev {
            Some(c) => c.poll_file(self.flags()),
            None => POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM,
        }
    }

    /// Access mode and capabilities.
    pub fn f_mode(&self) -> FMode {
        self.f_mode
    }

    /// Access mode and status flags, as `fcntl(F_GETFL)` returns them.
    pub fn flags(&self) -> u32 {
        self.f_flags.load(Ordering::Relaxed)
    }

    /// `fcntl(F_SETFL)`: change the changeable status flags (Linux: `setfl`).
    pub fn set_flags(&self, flags: u32) {
        let old = self.flags();
        self.f_flags.store(
            (old & !SETFL_MASK) | (flags & SETFL_MASK),
            Ordering::Relaxed,
        );
    }

    /// Is it a terminal (`/dev/console`)? For `ioctl(TCGETS)` / `isatty`: ENOTTY otherwise.
    pub fn is_tty(&self) -> bool {
        self.f_cdev.as_ref().is_some_and(|c| c.is_tty())
    }

    /// Is it a directory?
    pub fn is_dir(&self) -> bool {
        s_isdir(self.f_inode.attr().i_mode())
    }

    /// The current position (Linux: `f_pos`).
    pub fn pos(&self) -> u64 {
        *self.f_pos.read()
    }

    fn do_read(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        if let Some(cdev) = &self.f_cdev {
            return cdev.read(self.flags(), pos, buf);
        }
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.f_inode.read_iter(&self.f_ra, pos, buf)
    }

    fn do_write(&self, pos: u64, buf: &[u8]) -> KResult<usize> {
        if let Some(cdev) = &self.f_cdev {
            return cdev.write(self.flags(), pos, buf);
        }
        let n = if s_isreg(self.f_inode.attr().i_mode()) {
            generic_write_check_limits(pos, buf.len())?
        } else {
            buf.len()
        };
        self.f_inode.write_at(pos, &buf[..n])
    }

    /// `read(2)`: read at the position and advance it. EBADF unless opened for reading,
    /// EISDIR on a directory. Linux: `ksys_read` -> `vfs_read`.
    #[inline(never)]
    pub fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.f_mode.contains(FMode::FMODE_READ) {
            return Err(Errno::EBADF);
        }
        if self.f_mode.contains(FMode::FMODE_STREAM) {
            // No position: and no lock held while a console read waits for input.
            return self.do_read(0, buf);
        }
        let mut pos = self.f_pos.write();
        let n = self.do_read(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    /// `write(2)`: write at the position (at end of file with O_APPEND) and advance it.
    /// EBADF unless opened for writing. Linux: `ksys_write` -> `vfs_write`.
    #[inline(never)]
    pub fn write(&self, buf: &[u8]) -> KResult<usize> {
        if !self.f_mode.contains(FMode::FMODE_WRITE) {
            return Err(Errno::EBADF);
        }
        if self.f_mode.contains(FMode::FMODE_STREAM) {
            return self.do_write(0, buf);
        }
        let mut pos = self.f_pos.write();
        if self.flags() & O_APPEND != 0 && self.f_cdev.is_none() {
            *pos = self.f_inode.attr().size();
        }
        let n = self.do_write(*pos, buf)?;
        *pos += n as u64;
        Ok(n)
    }

    /// `pread64(2)`: read at `off` without moving the position. ESPIPE on a stream,
    /// EINVAL for a negative offset. Linux: `ksys_pread64`.
    pub fn pread(&self, buf: &mut [u8], off: i64) -> KResult<usize> {
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        if !self.f_mode.contains(FMode::FMODE_READ) {
            return Err(Errno::EBADF);
        }
        if !self.f_mode.contains(FMode::FMODE_PREAD) {
            return Err(Errno::ESPIPE);
        }
        self.do_read(off as u64, buf)
    }

    /// `pwrite64(2)`: write at `off` without moving the position (with O_APPEND Linux
    /// appends anyway, and so do we). Linux: `ksys_pwrite64`.
    pub fn pwrite(&self, buf: &[u8], off: i64) -> KResult<usize> {
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        if !self.f_mode.contains(FMode::FMODE_WRITE) {
            return Err(Errno::EBADF);
        }
        if !self.f_mode.contains(FMode::FMODE_PWRITE) {
            return Err(Errno::ESPIPE);
        }
        let off = if self.flags() & O_APPEND != 0 && self.f_cdev.is_none() {
            self.f_inode.attr().size()
        } else {
            off as u64
        };
        self.do_write(off, buf)
    }

    /// `lseek(2)`: move the position; the new position. ESPIPE on a stream, EINVAL for a
    /// bad `whence` or a negative result, ENXIO for SEEK_DATA/SEEK_HOLE at or past end of
    /// file. Device files (null, zero) stay at 0. Directories accept SEEK_SET and SEEK_CUR
    /// (positions are entry indices). Linux: `vfs_llseek` -> `generic_file_llseek_size`,
    /// `null_lseek`, `dcache_dir_lseek`.
    #[inline(never)]
    pub fn lseek(&self, off: i64, whence: u32) -> KResult<u64> {
        if !self.f_mode.contains(FMode::FMODE_LSEEK) {
            return Err(Errno::ESPIPE);
        }
        if whence > SEEK_HOLE {
            return Err(Errno::EINVAL);
        }
        let mut pos = self.f_pos.write();
        if self.f_cdev.is_some() {
            *pos = 0;
            return Ok(0);
        }
        let size = self.f_inode.attr().size() as i64;
        let dir = self.is_dir();
        let new = match whence {
            SEEK_SET => off,
            SEEK_CUR => (*pos as i64).checked_add(off).ok_or(Errno::EINVAL)?,
            _ if dir => return Err(Errno::EINVAL),
            SEEK_END => size.checked_add(off).ok_or(Errno::EINVAL)?,
            SEEK_DATA => {
                if off < 0 || off >= size {
                    return Err(Errno::ENXIO);
                }
                off
            }
            _ => {
                // SEEK_HOLE: the only hole we report is the one at end of file.
                if off < 0 || off >= size {
                    return Err(Errno::ENXIO);
                }
                size
            }
        };
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    /// `getdents64(2)`: fill `buf` with `struct linux_dirent64` records from the position
    /// on; the bytes used (0 at the end). `.` and `..` come first. ENOTDIR on a non-directory,
    /// EINVAL when not even one record fits. Linux: `ksys_getdents64` -> `iterate_dir`
    /// (`dcache_readdir`, `dir_emit_dots`, `filldir64`).
    #[inline(never)]
    pub fn getdents64(&self, buf: &mut [u8]) -> KResult<usize> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.f_pos.write();
        let mut used = 0;
        loop {
            let p = *pos;
            let (name, ino, d_type) = match p {
                0 => (String::from("."), self.f_inode.attr().i_ino, DT_DIR),
                1 => (String::from(".."), self.f_inode.parent_ino(), DT_DIR),
                _ => match self.f_inode.readdir((p - 2) as usize)? {
                    Some(e) => (e.name, e.ino, e.d_type),
                    None => break,
                },
            };
            match filldir64(buf, used, &name, ino, (p + 1) as i64, d_type) {
                Some(u) => used = u,
                None if used == 0 => return Err(Errno::EINVAL),
                None => break,
            }
            *pos = p + 1;
        }
        Ok(used)
    }

    /// `fstat(2)` (Linux: `vfs_fstat` -> `generic_fillattr`).
    pub fn stat(&self) -> Stat {
        generic_fillattr(&*self.f_inode)
    }

    /// `ftruncate(2)`: set the size of a regular file opened for writing; EINVAL
    /// otherwise or for a negative length, EROFS on the root fs. Linux: `do_sys_ftruncate`.
    #[inline(never)]
    pub fn truncate(&self, len: i64) -> KResult<()> {
        if len < 0 {
            return Err(Errno::EINVAL);
        }
        if !s_isreg(self.f_inode.attr().i_mode()) || !self.f_mode.contains(FMode::FMODE_WRITE) {
            return Err(Errno::EINVAL);
        }
        // Shrinking: pages past the new end leave every mapping first, so later
        // accesses fault and get SIGBUS (Linux: truncate_pagecache ->
        // unmap_mapping_range).
        let attr = self.f_inode.attr();
        // Growing past RLIMIT_FSIZE (Linux: inode_newsize_ok).
        if (len as u64) > attr.size() && (len as u64) > fsize_limit() {
            xfsz();
            return Err(Errno::EFBIG);
        }
        if (len as u64) < attr.size() {
            if let Some(mapping) = self.f_inode.mapping() {
                crate::mm::memory::unmap_mapping_range(mapping, len as u64, 0, true);
            }
        }
        self.f_inode.setsize(len as u64)
    }

    /// `DT_*` type of the file (for /proc and tests).
    pub fn d_type(&self) -> u8 {
        mode_to_dtype(self.f_inode.attr().i_mode())
    }
}

/// The caller's RLIMIT_FSIZE soft limit in bytes.
fn fsize_limit() -> u64 {
    crate::task::with_current(|t| t.rlim.lock()[crate::kernel::resource::RLIMIT_FSIZE].cur)
        .unwrap_or(crate::kernel::resource::RLIM_INFINITY)
}

/// SIGXFSZ to the writer (Linux: `send_sig(SIGXFSZ, current, 0)`).
fn xfsz() {
    if let Some(me) = crate::task::current() {
        crate::task::signal::send_sig(&me, crate::task::signal::SIGXFSZ);
    }
}

/// RLIMIT_FSIZE for a write of `count` bytes at `pos` to a regular file: at or past the
/// limit SIGXFSZ and EFBIG; below it the write is cut to end at the limit. Linux:
/// `generic_write_check_limits`.
fn generic_write_check_limits(pos: u64, count: usize) -> KResult<usize> {
    let limit = fsize_limit();
    if limit == crate::kernel::resource::RLIM_INFINITY || count == 0 {
        return Ok(count);
    }
    if pos >= limit {
        xfsz();
        return Err(Errno::EFBIG);
    }
    Ok(count.min((limit - pos).min(usize::MAX as u64) as usize))
}

/// Growing a file to `end` bytes: SIGXFSZ and EFBIG past RLIMIT_FSIZE (Linux:
/// `inode_newsize_ok`).
pub fn check_fsize(end: u64) -> KResult<()> {
    if end > fsize_limit() {
        xfsz();
        return Err(Errno::EFBIG);
    }
    Ok(())
}

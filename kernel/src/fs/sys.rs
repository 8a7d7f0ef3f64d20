//! The file system calls: decode arguments, copy user memory, call the VFS.
//! Linux spreads these over `fs/open.c` (`do_sys_openat2`, `ksys_close`, `do_sys_ftruncate`,
//! `do_faccessat`, `ksys_chdir`), `fs/read_write.c` (`ksys_read`, `ksys_write`,
//! `do_readv`, `ksys_lseek`, `ksys_pread64`), `fs/stat.c` (`vfs_fstatat`),
//! `fs/readdir.c` (`getdents64`), `fs/namei.c` (`do_mkdirat`, `do_unlinkat`),
//! `fs/fcntl.c`, `fs/file.c` (`ksys_dup3`), `fs/d_path.c` (`getcwd`).
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{
    access_ok, copy_from_user, copy_to_user, get_user, strncpy_from_user,
};
use crate::errno::{Errno, KResult};
use crate::fs::file::File;
use crate::syscall::SyscallArgs;
use crate::task::{current, Task, RLIMIT_NOFILE};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;

/// "Relative to the current directory" as a dirfd (Linux: `AT_FDCWD`).
pub const AT_FDCWD: i32 = -100;
/// Linux: PATH_MAX.
pub const PATH_MAX: usize = 4096;
/// Largest chunk copied through the kernel per step of read/write.
const CHUNK: usize = 64 * 1024;

/// The kernel's side of a read(2) or write(2): up to a page from the kernel heap, more
/// (up to [`CHUNK`]) as pages straight from the page allocator, which can reclaim for
/// them: the small heap can lack 64 KiB in one piece when it is fragmented. Linux
/// copies between the user's buffer and the page cache directly and needs none. ENOMEM
/// when no memory can be had.
enum KBuf {
    Heap(alloc::vec::Vec<u8>),
    Pages {
        page: &'static crate::mm::page::Page,
        order: usize,
        len: usize,
    },
}

impl KBuf {
    /// Up to `len` bytes: all of them if they fit in a page or free memory has them in
    /// one piece at once, else one page (reclaiming for it if need be), so a fragmented
    /// machine costs more iterations, never an error.
    fn new(len: usize) -> KResult<Self> {
        use crate::mm::page_alloc::{alloc_pages, GfpFlags};
        if len <= crate::mm::PAGE_SIZE {
            let mut v = alloc::vec::Vec::new();
            v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
            v.resize(len, 0);
            return Ok(KBuf::Heap(v));
        }
        let order = len
            .div_ceil(crate::mm::PAGE_SIZE)
            .next_power_of_two()
            .trailing_zeros() as usize;
        if let Some(page) = alloc_pages(GfpFlags::GFP_NOWAIT | GfpFlags::__GFP_NOWARN, order) {
            return Ok(KBuf::Pages { page, order, len });
        }
        let page = alloc_pages(GfpFlags::GFP_KERNEL, 0).ok_or(Errno::ENOMEM)?;
        Ok(KBuf::Pages {
            page,
            order: 0,
            len: crate::mm::PAGE_SIZE,
        })
    }

    fn as_mut(&mut self) -> &mut [u8] {
        match self {
            KBuf::Heap(v) => v,
            // SAFETY: `len` bytes of the 2^order pages we own, in the linear map.
            KBuf::Pages { page, len, .. } => unsafe {
                core::slice::from_raw_parts_mut(
                    crate::mm::page::page_address(page) as *mut u8,
                    *len,
                )
            },
        }
    }
}

impl Drop for KBuf {
    fn drop(&mut self) {
        if let KBuf::Pages { page, order, .. } = self {
            crate::mm::page_alloc::__free_pages(page, *order);
        }
    }
}

fn me() -> KResult<Arc<Task>> {
    current().ok_or(Errno::ESRCH)
}

/// The file behind `fd` in the current task (Linux: `fdget`).
pub fn fget(fd: i32) -> KResult<Arc<File>> {
    me()?.files.lock().get(fd)
}

/// Copy a path from user memory: EFAULT, ENAMETOOLONG, or ENOENT for "" (Linux:
/// `getname` -> `strncpy_from_user`).
pub fn getname(ptr: usize, allow_empty: bool) -> KResult<String> {
    let mut buf = vec![0u8; PATH_MAX];
    let n = strncpy_from_user(&mut buf, ptr)?;
    if n == 0 && !allow_empty {
        return Err(Errno::ENOENT);
    }
    buf.truncate(n);
    String::from_utf8(buf).map_err(|_| Errno::EINVAL)
}

/// The directory a *at() call resolves against: the cwd for AT_FDCWD, else the dirfd's
/// path (ENOTDIR unless it is a directory). Absolute paths ignore it.
pub(crate) fn at_base(dirfd: i32, path: &str) -> KResult<String> {
    if path.starts_with('/') || dirfd == AT_FDCWD {
        return Ok(me()?.cwd.lock().clone());
    }
    let f = fget(dirfd)?;
    if !f.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(String::from(f.path()))
}

/// openat(2). Linux: `do_sys_openat2` -> `do_filp_open` -> `fd_install`.
pub fn sys_openat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (dirfd, flags, mode) = (a.0[0] as i32, a.0[2] as u32, a.0[3] as u32);
    // A new file's permissions lose the umask's bits (Linux: `open_to_namei_flags`'
    // caller masks with `current_umask()` in `do_open`/`lookup_open`).
    let mode = mode & !current_umask();
    let path = getname(a.0[1], false)?;
    let base = at_base(dirfd, &path)?;
    let file = crate::fs::open::do_filp_open(&base, &path, flags, mode)?;
    let task = me()?;
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    let fd = task
        .files
        .lock()
        .alloc_fd(file, flags & crate::fs::O_CLOEXEC != 0, limit)?;
    Ok(fd as usize)
}

/// close(2).
pub fn sys_close(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    me()?.files.lock().close(a.0[0] as i32)?;
    Ok(0)
}

/// read(2): EBADF, EFAULT (checked before reading, as `vfs_read`'s access_ok), EISDIR...
pub fn sys_read(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (file, buf, count) = (fget(a.0[0] as i32)?, a.0[1], a.0[2]);
    do_read(&file, buf, count, None)
}

fn do_read(file: &File, buf: usize, count: usize, off: Option<i64>) -> KResult<usize> {
    let count = count.min(isize::MAX as usize & !0xfff);
    if !access_ok(buf, count) {
        return Err(Errno::EFAULT);
    }
    rw_verify_area(off, count)?;
    // Linux copies straight into the user buffer, so a fault leaves the position after
    // the bytes actually delivered; we read through a kernel buffer, so put it back.
    let seekable = off.is_none() && !is_stream(file);
    let start_pos = file.pos();
    let rewind = |delivered: usize| {
        if seekable {
            let _ = file.lseek(
                (start_pos + delivered as u64) as i64,
                crate::fs::file::SEEK_SET,
            );
        }
    };
    let mut kbuf = KBuf::new(count.min(CHUNK))?;
    let kbuf = kbuf.as_mut();
    let mut done = 0;
    while done < count {
        let want = (count - done).min(kbuf.len());
        let n = match off {
            Some(o) => file.pread(&mut kbuf[..want], o + done as i64)?,
            None => file.read(&mut kbuf[..want])?,
        };
        if n == 0 {
            break;
        }
        if copy_to_user(buf + done, &kbuf[..n]).is_err() {
            rewind(done);
            return if done > 0 {
                Ok(done)
            } else {
                Err(Errno::EFAULT)
            };
        }
        done += n;
        if n < want || file.inode().attr().is_dir() || is_stream(file) {
            break; // short read: a tty line, end of file
        }
    }
    Ok(done)
}

/// pread64/pwrite64 at `off`: EINVAL for a negative offset, or one that `count` bytes
/// would carry past the largest loff_t (no file here has unsigned offsets). Linux:
/// `rw_verify_area`.
fn rw_verify_area(off: Option<i64>, count: usize) -> KResult<()> {
    match off {
        Some(o) if o < 0 || o.checked_add_unsigned(count as u64).is_none() => Err(Errno::EINVAL),
        _ => Ok(()),
    }
}

fn is_stream(file: &File) -> bool {
    file.f_mode().contains(crate::fs::file::FMode::FMODE_STREAM)
}

/// write(2).
pub fn sys_write(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (file, buf, count) = (fget(a.0[0] as i32)?, a.0[1], a.0[2]);
    do_write(&file, buf, count, None)
}

fn do_write(file: &File, buf: usize, count: usize, off: Option<i64>) -> KResult<usize> {
    if !access_ok(buf, count) {
        return Err(Errno::EFAULT);
    }
    rw_verify_area(off, count)?;
    let mut kbuf = KBuf::new(count.min(CHUNK))?;
    let kbuf = kbuf.as_mut();
    let mut done = 0;
    while done < count {
        let want = (count - done).min(kbuf.len());
        if copy_from_user(&mut kbuf[..want], buf + done).is_err() {
            return if done > 0 {
                Ok(done)
            } else {
                Err(Errno::EFAULT)
            };
        }
        let r = match off {
            Some(o) => file.pwrite(&kbuf[..want], o + done as i64),
            None => file.write(&kbuf[..want]),
        };
        // What was written stays written: an error after it (ENOSPC on a full tmpfs)
        // makes the write short, as Linux's generic_perform_write returns.
        let n = match r {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// readv(2) / writev(2): iovecs of {base, len}; EINVAL for more than 1024 or a negative
/// total. Linux: `do_readv` / `do_writev`.
fn do_iov(a: SyscallArgs, write: bool) -> KResult<usize> {
    let (file, iov, cnt) = (fget(a.0[0] as i32)?, a.0[1], a.0[2]);
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut total = 0usize;
    for i in 0..cnt {
        let base: usize = get_user(iov + 16 * i)?;
        let len: usize = get_user(iov + 16 * i + 8)?;
        if len > isize::MAX as usize {
            return Err(Errno::EINVAL);
        }
        let n = if write {
            do_write(&file, base, len, None)?
        } else {
            do_read(&file, base, len, None)?
        };
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

/// readv(2).
pub fn sys_readv(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_iov(a, false)
}

/// writev(2).
pub fn sys_writev(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_iov(a, true)
}

/// pread64(2).
pub fn sys_pread64(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    if (a.0[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    do_read(&file, a.0[1], a.0[2], Some(a.0[3] as i64))
}

/// pwrite64(2).
pub fn sys_pwrite64(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    if (a.0[3] as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    do_write(&file, a.0[1], a.0[2], Some(a.0[3] as i64))
}

/// lseek(2).
pub fn sys_lseek(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    Ok(file.lseek(a.0[1] as i64, a.0[2] as u32)? as usize)
}

/// fstat(2).
pub fn sys_fstat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let st = fget(a.0[0] as i32)?.stat();
    copy_to_user(a.0[1], st.as_bytes())?;
    Ok(0)
}

/// newfstatat(2): `fstatat(dirfd, path, statbuf, flags)`; AT_EMPTY_PATH with a dirfd
/// stats that file.
pub fn sys_newfstatat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (dirfd, flags) = (a.0[0] as i32, a.0[3] as u32);
    let path = getname(a.0[1], flags & crate::fs::stat::AT_EMPTY_PATH != 0)?;
    let st = if path.is_empty() && dirfd != AT_FDCWD {
        fget(dirfd)?.stat()
    } else {
        let base = at_base(dirfd, &path)?;
        crate::fs::stat::vfs_fstatat(&base, &path, flags)?
    };
    copy_to_user(a.0[2], st.as_bytes())?;
    Ok(0)
}

/// getdents64(2).
pub fn sys_getdents64(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (file, buf, count) = (fget(a.0[0] as i32)?, a.0[1], a.0[2]);
    if !access_ok(buf, count) {
        return Err(Errno::EFAULT);
    }
    let mut kbuf = vec![0u8; count.min(CHUNK)];
    let start_pos = file.pos();
    let n = file.getdents64(&mut kbuf)?;
    if copy_to_user(buf, &kbuf[..n]).is_err() {
        // The entries were not delivered: the next call must see them again.
        let _ = file.lseek(start_pos as i64, crate::fs::file::SEEK_SET);
        return Err(Errno::EFAULT);
    }
    Ok(n)
}

/// ftruncate(2).
pub fn sys_ftruncate(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    file.truncate(a.0[1] as i64)?;
    Ok(0)
}

/// ioctl(2): TIOCGWINSZ on the console reports 24x80 (so libc's isatty works); other
/// commands go to the device's ioctl method (a userfaultfd's UFFDIO_*), ENOTTY for
/// files without one.
pub fn sys_ioctl(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    const TIOCGWINSZ: usize = 0x5413;
    let file = fget(a.0[0] as i32)?;
    let is_tty =
        crate::fs::inode::s_ischr(file.inode().attr().i_mode()) && file.path().contains("console");
    match a.0[1] {
        TIOCGWINSZ if is_tty => {
            let ws: [u16; 4] = [24, 80, 0, 0];
            crate::arch::aarch64::uaccess::put_user(a.0[2], ws)?;
            Ok(0)
        }
        // The device's own (Linux: `vfs_ioctl` -> `f_op->unlocked_ioctl`); `cmd` is an
        // unsigned int.
        cmd => match file.cdev() {
            Some(dev) => dev.unlocked_ioctl(cmd as u32, a.0[2]),
            None => Err(Errno::ENOTTY),
        },
    }
}

/// mkdirat(2).
pub fn sys_mkdirat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let path = getname(a.0[1], false)?;
    let base = at_base(a.0[0] as i32, &path)?;
    crate::fs::namei::do_mkdirat(&base, &path, a.0[2] as u32 & !current_umask())?;
    Ok(0)
}

/// The caller's file-creation mask (Linux: `current_umask`, `fs->umask`).
fn current_umask() -> u32 {
    crate::task::with_current(|t| t.umask.load(core::sync::atomic::Ordering::Relaxed))
        .unwrap_or(0o022)
}

/// umask(2): set the file-creation mask to `mask & 0777`, return the old one (Linux:
/// `sys_umask`). Shared by the tasks cloned with CLONE_FS.
pub fn sys_umask(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let me = me()?;
    Ok(me
        .umask
        .swap(a.0[0] as u32 & 0o777, core::sync::atomic::Ordering::Relaxed) as usize)
}

/// unlinkat(2).
pub fn sys_unlinkat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let path = getname(a.0[1], false)?;
    let base = at_base(a.0[0] as i32, &path)?;
    crate::fs::namei::do_unlinkat(&base, &path, a.0[2] as u32)?;
    Ok(0)
}

/// chdir(2): ENOTDIR unless a directory.
pub fn sys_chdir(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let path = getname(a.0[0], false)?;
    let task = me()?;
    let cwd = task.cwd.lock().clone();
    let st = crate::fs::stat::vfs_fstatat(&cwd, &path, 0)?;
    if !crate::fs::inode::s_isdir(st.st_mode) {
        return Err(Errno::ENOTDIR);
    }
    let new = crate::fs::namei::kern_path(&cwd, &path)?;
    *task.cwd.lock() = new.path;
    Ok(0)
}

/// getcwd(2): ERANGE when the buffer is too small; returns the length with the NUL.
pub fn sys_getcwd(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let cwd = me()?.cwd.lock().clone();
    if cwd.len() + 1 > a.0[1] {
        return Err(Errno::ERANGE);
    }
    copy_to_user(a.0[0], cwd.as_bytes())?;
    copy_to_user(a.0[0] + cwd.len(), &[0])?;
    Ok(cwd.len() + 1)
}

/// faccessat(2): `faccessat(dirfd, path, mode)`: F_OK, or R_OK/W_OK/X_OK checked
/// against the mode bits with the caller's real ids (root may read and write anything,
/// execute only with some `x` bit); EROFS for W_OK on the read-only root, EINVAL for
/// other mode bits. Linux 5.10's syscall has no flags argument (faccessat2, 439, added
/// them). Linux: `do_faccessat`.
pub fn sys_faccessat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    if a.0[2] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let path = getname(a.0[1], false)?;
    let base = at_base(a.0[0] as i32, &path)?;
    crate::fs::namei::do_faccessat(&base, &path, a.0[2] as u32)?;
    Ok(0)
}

/// dup3(2) (dup2 in libc): EINVAL when old == new or bad flags.
pub fn sys_dup3(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (old, new, flags) = (a.0[0] as i32, a.0[1] as i32, a.0[2] as u32);
    if old == new || flags & !crate::fs::O_CLOEXEC != 0 || new < 0 {
        return Err(Errno::EINVAL);
    }
    let task = me()?;
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    if new as usize >= limit {
        return Err(Errno::EBADF);
    }
    let mut files = task.files.lock();
    let file = files.get(old)?;
    files.install_at(new as usize, file, flags & crate::fs::O_CLOEXEC != 0)?;
    Ok(new as usize)
}

/// pipe2(2): `pipe2(int fds[2], flags)`. EINVAL for flags other than O_CLOEXEC,
/// O_NONBLOCK and O_DIRECT (accepted; the pipe stays a byte stream: no packet mode),
/// EMFILE when the table has no two free descriptors below RLIMIT_NOFILE, EFAULT when
/// `fds` cannot be written (the descriptors are closed again). Linux: `do_pipe2`.
pub fn sys_pipe2(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::fs::{O_CLOEXEC, O_DIRECT, O_NONBLOCK};
    let (fds, flags) = (a.0[0], a.0[1] as u32);
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::fs::pipe::create_pipe_files(flags);
    let task = me()?;
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    let cloexec = flags & O_CLOEXEC != 0;
    let (rfd, wfd) = {
        let mut files = task.files.lock();
        let rfd = files.alloc_fd(r, cloexec, limit)?;
        match files.alloc_fd(w, cloexec, limit) {
            Ok(wfd) => (rfd, wfd),
            Err(e) => {
                let _ = files.close(rfd);
                return Err(e);
            }
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&rfd.to_ne_bytes());
    out[4..].copy_from_slice(&wfd.to_ne_bytes());
    if let Err(e) = copy_to_user(fds, &out) {
        let mut files = task.files.lock();
        let _ = files.close(rfd);
        let _ = files.close(wfd);
        return Err(e);
    }
    Ok(0)
}

/// fsync(2) and fdatasync(2): nothing here has dirty data a disk could take (tmpfs pages
/// are the data, the cpio root is read-only, swap is written by reclaim), so a regular
/// file or a directory is in sync already: 0. EBADF for a bad descriptor, EINVAL for a
/// pipe or a character device, which have no `fsync` operation (Linux: `vfs_fsync_range`
/// -> EINVAL without `f_op->fsync`). Linux: `do_fsync`.
pub fn sys_fsync(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    let mode = file.inode().attr().i_mode();
    if crate::fs::inode::s_isreg(mode) || crate::fs::inode::s_isdir(mode) {
        Ok(0)
    } else {
        Err(Errno::EINVAL)
    }
}

/// dup(2).
pub fn sys_dup(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let task = me()?;
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    let mut files = task.files.lock();
    let file = files.get(a.0[0] as i32)?;
    Ok(files.alloc_fd(file, false, limit)? as usize)
}

/// fcntl(2): F_DUPFD(0) and F_DUPFD_CLOEXEC(1030) (the lowest free descriptor at or
/// above `arg`; EINVAL when `arg` is not below RLIMIT_NOFILE), F_GETFD(1) and F_SETFD(2)
/// (FD_CLOEXEC), F_GETFL(3), F_SETFL(4) (only O_APPEND, O_NONBLOCK, O_DIRECT, O_NOATIME
/// change). Other commands: EINVAL. Linux: `do_fcntl`. `cmd` is an int.
pub fn sys_fcntl(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    const FD_CLOEXEC: usize = 1;
    let (fd, cmd, arg) = (a.0[0] as i32, a.0[1] as u32, a.0[2]);
    let file = fget(fd)?;
    match cmd {
        0 | 1030 => {
            let task = me()?;
            let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
            if arg >= limit {
                return Err(Errno::EINVAL);
            }
            let mut files = task.files.lock();
            Ok(files.alloc_fd_from(file, cmd == 1030, arg, limit)? as usize)
        }
        1 => Ok(if me()?.files.lock().get_cloexec(fd)? {
            FD_CLOEXEC
        } else {
            0
        }),
        2 => {
            me()?.files.lock().set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        3 => Ok(file.flags() as usize),
        4 => {
            file.set_flags(arg as u32);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// readlinkat(2): there are no symbolic links yet, so after Linux's checks (EINVAL for a
/// buffer size <= 0, then the path: EFAULT, ENOENT...) every file is "not a link":
/// EINVAL. Linux: `do_readlinkat`.
pub fn sys_readlinkat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    if a.0[3] as isize <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = getname(a.0[1], true)?;
    let base = at_base(a.0[0] as i32, &path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    crate::fs::stat::vfs_fstatat(&base, &path, crate::fs::stat::AT_SYMLINK_NOFOLLOW)?;
    Err(Errno::EINVAL)
}

/// ppoll(2): `ppoll(fds, nfds, timeout, sigmask, sigsetsize)`. EFAULT for an unreadable
/// timeout, EINVAL for an invalid one; EINVAL for a sigsetsize other than 8 with a mask;
/// EINVAL for more fds than RLIMIT_NOFILE, EFAULT for a bad array. Each fd's `revents` is
/// what its file reports ([`File::poll`]: a pipe or socket end its real state, other
/// files and the console readable and writable) masked by the events asked for, plus
/// POLLERR and POLLHUP, always reported; POLLNVAL for a closed fd; a negative fd is
/// skipped. With nothing ready it sleeps until something is, until the timeout (then 0),
/// or until a signal the mask (installed for the call, as `set_user_sigmask`) lets
/// through: ERESTARTNOHAND, so EINTR after a handler and a restart when none runs. The
/// time left is written back to the timeout, as Linux does. Linux: `sys_ppoll` ->
/// `do_sys_poll`, `poll_select_finish`.
pub fn sys_ppoll(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (tsp, sigmask, sigsetsize) = (a.0[2], a.0[3], a.0[4]);
    let now = crate::kernel::sys::ktime_get_ns();
    // poll_select_set_timeout: None waits for ever.
    let deadline = if tsp != 0 {
        Some(now.saturating_add(crate::kernel::sys::get_timespec_ns(tsp)?))
    } else {
        None
    };
    if sigmask != 0 {
        if sigsetsize != 8 {
            return Err(Errno::EINVAL);
        }
        let mask: u64 = get_user(sigmask)?;
        crate::task::signal::set_user_sigmask(mask);
    }
    let ret = do_sys_poll(a.0[0], a.0[1], deadline);
    // poll_select_finish: an interrupted call keeps the temporary mask until the signal
    // is delivered (the handler's frame saves the old one); otherwise it goes now.
    if ret != Err(Errno::ERESTARTNOHAND) {
        crate::task::signal::restore_saved_sigmask();
    }
    if let Some(end) = deadline {
        if end > now {
            let left = end.saturating_sub(crate::kernel::sys::ktime_get_ns());
            let put =
                crate::arch::aarch64::uaccess::put_user(tsp, left / 1_000_000_000).and_then(|()| {
                    crate::arch::aarch64::uaccess::put_user(tsp + 8, left % 1_000_000_000)
                });
            if put.is_err() && ret == Err(Errno::ERESTARTNOHAND) {
                return Err(Errno::EINTR);
            }
        }
    }
    ret
}

/// Poll `nfds` entries at `fds` until one is ready, the deadline passes (None: never) or
/// a signal arrives (ERESTARTNOHAND). Sleeps on [`POLL_WAIT`](crate::fs::char_dev::POLL_WAIT),
/// which every pipe and socket wakes when its state changes. Linux: `do_sys_poll` ->
/// `do_poll`.
fn do_sys_poll(fds: usize, nfds: usize, deadline: Option<u64>) -> KResult<usize> {
    use crate::fs::char_dev::{POLLERR, POLLHUP, POLLNVAL, POLL_WAIT};
    let limit = me()?.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    if nfds > limit {
        return Err(Errno::EINVAL);
    }
    let mut polls: alloc::vec::Vec<(i32, u16, u16)> = alloc::vec::Vec::new();
    polls.try_reserve_exact(nfds).map_err(|_| Errno::ENOMEM)?;
    for i in 0..nfds {
        let fd: i32 = get_user(fds + 8 * i)?;
        let events: u16 = get_user(fds + 8 * i + 4)?;
        polls.push((fd, events, 0));
    }
    // do_poll: one pass over the fds; the number with something to report.
    let scan = |polls: &mut [(i32, u16, u16)]| {
        let mut ready = 0;
        for (fd, events, revents) in polls.iter_mut() {
            *revents = if *fd < 0 {
                0
            } else {
                match fget(*fd) {
                    Err(_) => POLLNVAL,
                    Ok(f) => f.poll() & (*events | POLLERR | POLLHUP),
                }
            };
            if *revents != 0 {
                ready += 1;
            }
        }
        ready
    };
    let mut ready = scan(&mut polls);
    let expired = deadline.is_some_and(|e| crate::kernel::sys::ktime_get_ns() >= e);
    if ready == 0 && !expired {
        let slept = crate::kernel::hrtimer::wait_event_hrtimeout(&POLL_WAIT, deadline, || {
            ready = scan(&mut polls);
            ready != 0
        });
        if slept.is_err() {
            return Err(Errno::ERESTARTNOHAND);
        }
    }
    for (i, (_, _, revents)) in polls.iter().enumerate() {
        crate::arch::aarch64::uaccess::put_user(fds + 8 * i + 6, *revents)?;
    }
    Ok(ready)
}

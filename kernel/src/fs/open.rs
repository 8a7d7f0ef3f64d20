//! `openat`: from a path and flags to an open [`File`].
//!
//! Linux: `fs/open.c` (`do_sys_open`, `build_open_flags`, `do_dentry_open`,
//! `vfs_truncate`) and `fs/namei.c` (`do_filp_open` -> `path_openat` -> `open_last_lookups`
//! (`lookup_open` creating the file) -> `do_open` (`may_open`, `handle_truncate`)).
use super::char_dev::chrdev_open;
use super::file::File;
use super::inode::{s_ischr, s_isdir, s_isreg, S_IFREG};
use super::namei::{inode_permission, LastType, MntNamespace, MAY_EXEC, MAY_READ, MAY_WRITE};
use super::{O_ACCMODE, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_TMPFILE, O_TRUNC};
use crate::errno::{Errno, KResult};
use alloc::sync::Arc;

impl MntNamespace {
    /// Open `path` (relative ones against `cwd`) with Linux's open flags and, for O_CREAT,
    /// permission bits `mode` (the caller applies its umask). Errors, in Linux's order:
    /// ENOENT / ENOTDIR / ENAMETOOLONG from the lookup; EEXIST (O_CREAT|O_EXCL on an
    /// existing name); EISDIR (O_CREAT on a directory, a directory opened for writing, or
    /// `name/` to be created); ENOTDIR (O_DIRECTORY on a non-directory); EROFS (creating,
    /// writing or truncating on a read-only file system); ENXIO (a device without driver).
    /// Linux: `do_filp_open` (`path_openat`).
    #[inline(never)]
    pub fn do_filp_open(&self, cwd: &str, path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
        if flags & O_TMPFILE == O_TMPFILE {
            return Err(Errno::EOPNOTSUPP);
        }
        if flags & (O_CREAT | O_DIRECTORY) == O_CREAT | O_DIRECTORY {
            return Err(Errno::EINVAL); // as Linux 6.4+ (build_open_flags)
        }
        let acc = flags & O_ACCMODE;
        // build_open_flags: O_TRUNC needs write permission even with O_RDONLY.
        let may_write = acc == 1 || acc == 2 || acc == 3 || flags & O_TRUNC != 0;
        let mut created = false;
        let found = if flags & O_CREAT != 0 {
            let (dir, last, trailing) = self.path_parentat(cwd, path)?;
            let LastType::Norm(name) = last else {
                return Err(Errno::EISDIR);
            };
            let child_path = if dir.path == "/" {
                alloc::format!("/{name}")
            } else {
                alloc::format!("{}/{name}", dir.path)
            };
            match self.lookup_child(&dir, name) {
                Ok(inode) => {
                    if flags & O_EXCL != 0 {
                        return Err(Errno::EEXIST);
                    }
                    if s_isdir(inode.attr().i_mode()) {
                        return Err(Errno::EISDIR);
                    }
                    super::namei::Path {
                        path: child_path,
                        inode,
                    }
                }
                Err(Errno::ENOENT) => {
                    // lookup_open: create it.
                    if trailing {
                        return Err(Errno::EISDIR);
                    }
                    if dir.inode.attr().i_sb.s_rdonly {
                        return Err(Errno::EROFS);
                    }
                    // may_o_create: writing into the directory.
                    inode_permission(&*dir.inode, MAY_WRITE | MAY_EXEC)?;
                    let inode = dir.inode.create(name, S_IFREG | (mode & 0o7777), 0)?;
                    created = true;
                    super::namei::Path {
                        path: child_path,
                        inode,
                    }
                }
                Err(e) => return Err(e),
            }
        } else {
            self.path_lookupat(cwd, path)?
        };
        vfs_open(found, flags, may_write && !created, created)
    }
}

/// The last steps of an open on a resolved path (Linux: `do_open` + `vfs_open`).
fn vfs_open(
    p: super::namei::Path,
    flags: u32,
    may_write: bool,
    created: bool,
) -> KResult<Arc<File>> {
    let a = p.inode.attr();
    let mode = a.i_mode();
    if flags & O_DIRECTORY != 0 && !s_isdir(mode) {
        return Err(Errno::ENOTDIR);
    }
    // may_open
    if s_isdir(mode) && may_write {
        return Err(Errno::EISDIR);
    }
    if may_write && (s_isreg(mode) || s_isdir(mode)) && a.i_sb.s_rdonly {
        return Err(Errno::EROFS);
    }
    // The mode bits, for what the access mode asks (Linux: `ACC_MODE`: O_RDONLY reads,
    // O_WRONLY writes, O_RDWR and 3 both; O_TRUNC writes too). A file this open created
    // is not checked (Linux: FMODE_CREATED clears acc_mode): `open(p, O_CREAT|O_RDWR,
    // 0444)` succeeds once.
    if !created {
        let mut mask = match flags & O_ACCMODE {
            0 => MAY_READ,
            1 => MAY_WRITE,
            _ => MAY_READ | MAY_WRITE,
        };
        if flags & O_TRUNC != 0 {
            mask |= MAY_WRITE;
        }
        inode_permission(&*p.inode, mask)?;
    }
    let cdev = if s_ischr(mode) {
        Some(chrdev_open(a.i_rdev)?)
    } else {
        None
    };
    // do_dentry_open -> f_op->open.
    p.inode.open(flags)?;
    // handle_truncate
    if flags & O_TRUNC != 0 && s_isreg(mode) && !created {
        p.inode.setsize(0)?;
    }
    // do_dentry_open: the creation flags are not kept; O_CLOEXEC belongs to the fd.
    let kept = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
    Ok(Arc::new(File::new(p.path, p.inode, cdev, kept)))
}

/// `openat` in the init namespace: see [`MntNamespace::do_filp_open`]. For
/// `openat(dirfd, ...)` pass the dirfd's [`File::path`] as `cwd` (it must be a directory:
/// ENOTDIR otherwise), for AT_FDCWD the task's cwd.
pub fn do_filp_open(cwd: &str, path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
    super::namei::init_ns()?.do_filp_open(cwd, path, flags, mode)
}

/// Open an absolute path from kernel code (Linux: `filp_open`).
pub fn filp_open(path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
    do_filp_open("/", path, flags, mode)
}

/// `truncate(2)`: set the size of the file at `path`. Linux: `do_sys_truncate` ->
/// `vfs_truncate` (EISDIR for a directory, EINVAL for other non-regular files, EROFS).
pub fn do_sys_truncate(cwd: &str, path: &str, len: i64) -> KResult<()> {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let p = super::namei::kern_path(cwd, path)?;
    let a = p.inode.attr();
    if s_isdir(a.i_mode()) {
        return Err(Errno::EISDIR);
    }
    if !s_isreg(a.i_mode()) {
        return Err(Errno::EINVAL);
    }
    if a.i_sb.s_rdonly {
        return Err(Errno::EROFS);
    }
    p.inode.setsize(len as u64)
}

/// Set the permission bits of `inode` to `mode & 0o7777` (Linux: `chmod_common`: the
/// file type stays; EROFS, EPERM unless the caller owns the file or is root; S_ISGID is
/// dropped when the file's group is not the caller's, see `setattr_prepare`). Linux takes
/// `inode_lock` around `notify_change`; our mode and owner are single atomic words, and
/// chmod racing chown ends with one or the other's bits, never a torn value.
#[no_mangle]
#[inline(never)]
pub fn chmod_common(inode: &dyn super::Inode, mode: u32) -> KResult<()> {
    use super::attr::{AttrValid, Iattr};
    use super::inode::{S_IALLUGO, S_IFMT};
    let mut attr = Iattr {
        ia_valid: AttrValid::ATTR_MODE,
        ia_mode: (mode & S_IALLUGO) | (inode.attr().i_mode() & S_IFMT),
        ia_uid: 0,
        ia_gid: 0,
    };
    super::attr::notify_change(inode, &mut attr)
}

/// Change the owner and/or group of `inode`; `u32::MAX` (-1) leaves one as it is
/// (Linux: `chown_common`). Only root may give a file away; the owner may pick one of
/// its groups; any chown of a non-directory clears S_ISUID, and S_ISGID when the group
/// may execute (`ATTR_KILL_SUID | ATTR_KILL_SGID`, applied by `notify_change`).
#[no_mangle]
#[inline(never)]
pub fn chown_common(inode: &dyn super::Inode, user: u32, group: u32) -> KResult<()> {
    use super::attr::{AttrValid, Iattr};
    let mut attr = Iattr {
        ia_valid: AttrValid::empty(),
        ia_mode: 0,
        ia_uid: user,
        ia_gid: group,
    };
    if user != u32::MAX {
        attr.ia_valid |= AttrValid::ATTR_UID;
    }
    if group != u32::MAX {
        attr.ia_valid |= AttrValid::ATTR_GID;
    }
    if !s_isdir(inode.attr().i_mode()) {
        attr.ia_valid |= AttrValid::ATTR_KILL_SUID | AttrValid::ATTR_KILL_SGID;
    }
    super::attr::notify_change(inode, &mut attr)
}

/// The inode a `*at(dirfd, path, ..., flags)` call names: the dirfd's own file for an
/// empty path with AT_EMPTY_PATH (any file type, as Linux's `LOOKUP_EMPTY`), else the
/// path resolved against the dirfd or the cwd. There are no symbolic links, so
/// AT_SYMLINK_NOFOLLOW changes nothing. Linux: `user_path_at`.
fn user_path_at(dirfd: i32, path_ptr: usize, flags: u32) -> KResult<Arc<dyn super::Inode>> {
    use super::stat::AT_EMPTY_PATH;
    let path = super::sys::getname(path_ptr, flags & AT_EMPTY_PATH != 0)?;
    if path.is_empty() && dirfd != super::sys::AT_FDCWD {
        return Ok(super::sys::fget(dirfd)?.inode().clone());
    }
    let base = super::sys::at_base(dirfd, &path)?;
    let p = if path.is_empty() {
        super::namei::kern_path(&base, ".")?
    } else {
        super::namei::kern_path(&base, &path)?
    };
    Ok(p.inode)
}

/// fchmod(2) (52): `fchmod(fd, mode)`; EBADF for a bad fd. Linux: `ksys_fchmod`.
pub fn sys_fchmod(
    a: crate::syscall::SyscallArgs,
    _: &mut crate::arch::aarch64::traps::PtRegs,
) -> KResult<usize> {
    let file = super::sys::fget(a.0[0] as i32)?;
    chmod_common(&**file.inode(), a.0[1] as u32)?;
    Ok(0)
}

/// fchmodat(2) (53): `fchmodat(dirfd, path, mode)`. Linux 5.10's system call has no
/// flags argument (libc handles AT_SYMLINK_NOFOLLOW itself; fchmodat2, 452, came in 6.6):
/// a fourth register is ignored. EFAULT, ENOENT (also for ""), ENOTDIR, EROFS, EPERM.
/// Linux: `do_fchmodat`.
pub fn sys_fchmodat(
    a: crate::syscall::SyscallArgs,
    _: &mut crate::arch::aarch64::traps::PtRegs,
) -> KResult<usize> {
    let inode = user_path_at(a.0[0] as i32, a.0[1], 0)?;
    chmod_common(&*inode, a.0[2] as u32)?;
    Ok(0)
}

/// fchownat(2) (54): `fchownat(dirfd, path, owner, group, flags)`; EINVAL for flags
/// other than AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH. Linux: `do_fchownat`.
pub fn sys_fchownat(
    a: crate::syscall::SyscallArgs,
    _: &mut crate::arch::aarch64::traps::PtRegs,
) -> KResult<usize> {
    use super::stat::{AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW};
    let flags = a.0[4] as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let inode = user_path_at(a.0[0] as i32, a.0[1], flags)?;
    chown_common(&*inode, a.0[2] as u32, a.0[3] as u32)?;
    Ok(0)
}

/// fchown(2) (55): `fchown(fd, owner, group)`; EBADF for a bad fd. Linux: `ksys_fchown`.
pub fn sys_fchown(
    a: crate::syscall::SyscallArgs,
    _: &mut crate::arch::aarch64::traps::PtRegs,
) -> KResult<usize> {
    let file = super::sys::fget(a.0[0] as i32)?;
    chown_common(&**file.inode(), a.0[1] as u32, a.0[2] as u32)?;
    Ok(0)
}

/// fallocate(2)'s mode bits (Linux: `include/uapi/linux/falloc.h`).
pub const FALLOC_FL_KEEP_SIZE: u32 = 0x01;
/// Deallocate the range (with KEEP_SIZE).
pub const FALLOC_FL_PUNCH_HOLE: u32 = 0x02;
/// Bits Linux knows (COLLAPSE_RANGE 0x08, ZERO_RANGE 0x10, INSERT_RANGE 0x20, UNSHARE
/// 0x40 too); tmpfs takes only KEEP_SIZE and PUNCH_HOLE.
const FALLOC_FL_SUPPORTED_MASK: u32 = 0x01 | 0x02 | 0x08 | 0x10 | 0x20 | 0x40;

/// The checks of fallocate(2) before the file system's method: EINVAL for a negative
/// offset or a length <= 0, EOPNOTSUPP for unknown bits or PUNCH_HOLE without KEEP_SIZE,
/// EBADF unless open for writing, EISDIR, ESPIPE on a pipe or socket, ENODEV on other
/// non-regular files, EFBIG past the largest file (and RLIMIT_FSIZE with SIGXFSZ when
/// the file would grow). Linux: `vfs_fallocate`.
#[no_mangle]
#[inline(never)]
pub fn vfs_fallocate(file: &File, mode: u32, offset: u64, len: u64) -> KResult<()> {
    if (offset as i64) < 0 || (len as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !FALLOC_FL_SUPPORTED_MASK != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if mode & FALLOC_FL_PUNCH_HOLE != 0 && mode & FALLOC_FL_KEEP_SIZE == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !file.f_mode().contains(crate::fs::file::FMode::FMODE_WRITE) {
        return Err(Errno::EBADF);
    }
    let i_mode = file.inode().attr().i_mode();
    if s_isdir(i_mode) {
        return Err(Errno::EISDIR);
    }
    let fmt = i_mode & super::inode::S_IFMT;
    if fmt == super::inode::S_IFIFO || fmt == super::inode::S_IFSOCK {
        return Err(Errno::ESPIPE);
    }
    if !s_isreg(i_mode) {
        return Err(Errno::ENODEV);
    }
    let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
    if end > super::tmpfs::MAX_LFS_FILESIZE {
        return Err(Errno::EFBIG);
    }
    if mode & FALLOC_FL_KEEP_SIZE == 0 && end > file.inode().attr().size() {
        crate::fs::file::check_fsize(end)?;
    }
    file.inode().fallocate(mode, offset, len)
}

/// fallocate(2) (47): `fallocate(fd, mode, offset, len)`. EBADF for a bad fd. Linux:
/// `ksys_fallocate`.
pub fn sys_fallocate(
    a: crate::syscall::SyscallArgs,
    _: &mut crate::arch::aarch64::traps::PtRegs,
) -> KResult<usize> {
    let file = super::sys::fget(a.0[0] as i32)?;
    vfs_fallocate(&file, a.0[1] as u32, a.0[2] as u64, a.0[3] as u64)?;
    Ok(0)
}

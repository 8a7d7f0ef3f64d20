//! `openat`: from a path and flags to an open [`File`].
//!
//! Linux: `fs/open.c` (`do_sys_open`, `build_open_flags`, `do_dentry_open`,
//! `vfs_truncate`) and `fs/namei.c` (`do_filp_open` -> `path_openat` -> `open_last_lookups`
//! (`lookup_open` creating the file) -> `do_open` (`may_open`, `handle_truncate`)).
use super::char_dev::chrdev_open;
use super::file::File;
use super::inode::{s_ischr, s_isdir, s_isreg, S_IFREG};
use super::namei::{LastType, MntNamespace};
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
                    if s_isdir(inode.attr().i_mode) {
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
    let mode = a.i_mode;
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
    if s_isdir(a.i_mode) {
        return Err(Errno::EISDIR);
    }
    if !s_isreg(a.i_mode) {
        return Err(Errno::EINVAL);
    }
    if a.i_sb.s_rdonly {
        return Err(Errno::EROFS);
    }
    p.inode.setsize(len as u64)
}

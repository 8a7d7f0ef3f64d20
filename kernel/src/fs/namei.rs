//! Path lookup, the mount table, and the directory-changing calls (mkdir, unlink, rmdir).
//!
//! Linux: `fs/namei.c` (`link_path_walk`, `walk_component`, `follow_dotdot`,
//! `path_lookupat`, `path_parentat`, `filename_create`, `do_mkdirat`, `do_unlinkat`,
//! `do_rmdir`) and `fs/namespace.c` (`struct mount`, `do_add_mount`, `lookup_mnt`,
//! `follow_mount`).
//!
//! Linux walks dentries, which know their parent; our inodes do not, so a walk keeps the
//! stack of directories it went through: `..` pops it (stopping at `/`), which is what
//! `follow_dotdot` does without symbolic links. The canonical path of the result falls
//! out of the same stack; a `File` keeps it (Linux: `d_path(&file->f_path)`), and a
//! relative path is resolved against a `cwd` the caller passes as such a path.
//!
//! A mount covers a directory, identified by `(st_dev, st_ino)`; stepping onto it
//! continues in the mounted file system's root (Linux: `follow_mount` on a dentry with
//! `DCACHE_MOUNTED`). Adding a file system later (procfs) is one [`MntNamespace::do_add_mount`].
use super::inode::{s_isdir, Inode, NAME_MAX, PATH_MAX, S_IFDIR};
use crate::errno::{Errno, KResult};
use crate::sync::SpinLockIrq;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Permission to execute / search (Linux: `MAY_EXEC`, = `X_OK`).
pub const MAY_EXEC: u32 = 1;
/// Permission to write (Linux: `MAY_WRITE`, = `W_OK`).
pub const MAY_WRITE: u32 = 2;
/// Permission to read (Linux: `MAY_READ`, = `R_OK`).
pub const MAY_READ: u32 = 4;

/// May the caller access `inode` as `mask` (MAY_* bits) asks? Writing a file or
/// directory of a read-only file system is EROFS (Linux: `sb_permission`); then the mode
/// bits decide with the caller's credentials ([`generic_permission`]). Linux:
/// `inode_permission`. `open`, `execve` (MAY_EXEC), creation in a directory and
/// `faccessat` call it.
#[no_mangle]
#[inline(never)]
pub fn inode_permission(inode: &dyn Inode, mask: u32) -> KResult<()> {
    inode_permission_cred(inode, mask, &super::attr::current_cred())
}

/// [`inode_permission`] as `cred` would be allowed (faccessat checks with the real ids,
/// as Linux's `do_faccessat` does by overriding the credentials).
pub fn inode_permission_cred(
    inode: &dyn Inode,
    mask: u32,
    cred: &crate::task::Cred,
) -> KResult<()> {
    let a = inode.attr();
    let mode = a.i_mode();
    if mask & MAY_WRITE != 0 && a.i_sb.s_rdonly && (s_isdir(mode) || super::inode::s_isreg(mode)) {
        return Err(Errno::EROFS);
    }
    generic_permission(inode, mask, cred)
}

/// The mode-bit check (Linux: `generic_permission` + `acl_permission_check`): the owner
/// class if the caller owns the file, else the group class if the file's group is the
/// caller's, else the other class must grant every bit of `mask`. Root (Linux:
/// CAP_DAC_OVERRIDE) may read and write anything and search any directory, but executes
/// a file only when some `x` bit is set. EACCES otherwise.
#[no_mangle]
#[inline(never)]
pub fn generic_permission(inode: &dyn Inode, mask: u32, cred: &crate::task::Cred) -> KResult<()> {
    let a = inode.attr();
    let mode = a.i_mode();
    let class = if cred.euid == a.i_uid() {
        mode >> 6
    } else if super::attr::in_group_p(cred, a.i_gid()) {
        mode >> 3
    } else {
        mode
    };
    let mask = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
    if mask & !class & 7 == 0 {
        return Ok(());
    }
    if super::attr::capable(cred) && (s_isdir(mode) || mask & MAY_EXEC == 0 || mode & 0o111 != 0) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// May the caller remove `victim` from `dir` (Linux: `may_delete`)? Writing and
/// searching `dir` (EACCES), and in a sticky directory (S_ISVTX, /tmp) owning the entry
/// or the directory, or being root (EPERM; Linux: `check_sticky`).
pub fn may_delete(dir: &dyn Inode, victim: &dyn Inode) -> KResult<()> {
    let cred = super::attr::current_cred();
    inode_permission_cred(dir, MAY_WRITE | MAY_EXEC, &cred)?;
    let d = dir.attr();
    if d.i_mode() & super::inode::S_ISVTX != 0
        && cred.euid != victim.attr().i_uid()
        && cred.euid != d.i_uid()
        && !super::attr::capable(&cred)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// `unlinkat` flag: remove a directory (Linux: `AT_REMOVEDIR`).
pub const AT_REMOVEDIR: u32 = 0x200;

/// A resolved path: its canonical absolute name and the inode (Linux: `struct path`,
/// a vfsmount + dentry pair, plus what `d_path` would print).
#[derive(Clone)]
pub struct Path {
    /// Absolute, without `.`, `..` or repeated slashes: `/`, `/etc/motd`.
    pub path: String,
    /// The inode (after crossing mounts).
    pub inode: Arc<dyn Inode>,
}

/// One entry of the mount table (Linux: `struct mount`).
#[derive(Clone)]
pub struct Mount {
    /// What was mounted, as /proc/mounts shows it first (Linux: `mnt_devname`): `tmpfs`,
    /// `proc`, or mount(2)'s first argument.
    pub source: String,
    /// Where it is mounted (canonical path).
    pub mountpoint: String,
    /// `(st_dev, st_ino)` of the covered directory.
    covered: (u64, u64),
    /// Root of the mounted file system.
    pub root: Arc<dyn Inode>,
}

/// The last component of a path, classified (Linux: `enum last_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastType<'a> {
    /// A plain name.
    Norm(&'a str),
    /// `/` itself (Linux: `LAST_ROOT`).
    Root,
    /// `.` (Linux: `LAST_DOT`).
    Dot,
    /// `..` (Linux: `LAST_DOTDOT`).
    DotDot,
}

/// The directory tree as a process sees it: a root and the mounts on top of it (Linux:
/// `struct mnt_namespace`). One exists, [`init_ns`]; host tests build their own.
pub struct MntNamespace {
    root: Arc<dyn Inode>,
    mounts: SpinLockIrq<Vec<Mount>>,
}

/// The directories a walk went through: `dirs[0]` is `/`, `names[i]` leads to `dirs[i+1]`.
struct Walk {
    names: Vec<String>,
    dirs: Vec<Arc<dyn Inode>>,
}

impl Walk {
    fn cur(&self) -> &Arc<dyn Inode> {
        self.dirs.last().expect("a walk starts at the root")
    }
    fn into_path(mut self) -> Path {
        let mut path = String::new();
        for n in &self.names {
            path.push('/');
            path.push_str(n);
        }
        if path.is_empty() {
            path.push('/');
        }
        Path {
            path,
            inode: self.dirs.pop().expect("a walk starts at the root"),
        }
    }
}

/// Reject over-long paths (Linux: `getname` -> ENAMETOOLONG at PATH_MAX) and empty ones.
fn check_path(path: &str) -> KResult<()> {
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(())
}

/// Split off the last component: `(prefix, last, trailing slash)`.
/// `/a/b/` -> (`/a`, `b`, true); `b` -> (``, `b`, false); `/` -> (`/`, ``, true).
pub fn split_last(path: &str) -> (&str, &str, bool) {
    let trimmed = path.trim_end_matches('/');
    let trailing = trimmed.len() != path.len();
    if trimmed.is_empty() {
        return ("/", "", trailing);
    }
    match trimmed.rfind('/') {
        Some(i) => (
            if i == 0 { "/" } else { &trimmed[..i] },
            &trimmed[i + 1..],
            trailing,
        ),
        None => ("", trimmed, trailing),
    }
}

impl MntNamespace {
    /// A namespace with `root` as `/` and nothing mounted.
    pub fn new(root: Arc<dyn Inode>) -> Self {
        MntNamespace {
            root,
            mounts: SpinLockIrq::new(Vec::new()),
        }
    }

    /// The mounts, in mount order (what /proc/mounts lists after the root).
    pub fn mounts(&self) -> Vec<Mount> {
        self.mounts.lock().clone()
    }

    /// The root file system's root directory (under any mount on `/`).
    pub fn root_inode(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    /// Take the last mount on `mountpoint` (a canonical path) off the table. Linux:
    /// `do_umount` + `umount_tree`. EINVAL when nothing is mounted there; EBUSY when
    /// mounts sit below it, unless `detach`, which takes them too.
    pub fn do_umount(&self, mountpoint: &str, detach: bool) -> KResult<()> {
        let mut mounts = self.mounts.lock();
        let i = mounts
            .iter()
            .rposition(|m| m.mountpoint == mountpoint)
            .ok_or(Errno::EINVAL)?;
        let below = |m: &Mount| {
            let p = m.mountpoint.as_str();
            mountpoint == "/"
                || p.len() > mountpoint.len()
                    && p.starts_with(mountpoint)
                    && p.as_bytes()[mountpoint.len()] == b'/'
        };
        let later = |j: usize, m: &Mount| j > i && below(m);
        if !detach && mounts.iter().enumerate().any(|(j, m)| later(j, m)) {
            return Err(Errno::EBUSY);
        }
        let mut j = 0;
        mounts.retain(|m| {
            let keep = j != i && !later(j, m);
            j += 1;
            keep
        });
        Ok(())
    }

    /// The root of the file system mounted on `inode`, or `inode` itself. Linux:
    /// `follow_mount` (repeats for stacked mounts).
    fn follow_mount(&self, mut inode: Arc<dyn Inode>) -> Arc<dyn Inode> {
        let mounts = self.mounts.lock();
        loop {
            let key = (inode.attr().i_sb.s_dev, inode.attr().i_ino);
            match mounts.iter().rev().find(|m| m.covered == key) {
                Some(m) => inode = m.root.clone(),
                None => return inode,
            }
        }
    }

    /// Where a walk starts: `/` for an absolute path, `cwd` (walked from `/`) otherwise.
    fn start(&self, cwd: &str, path: &str) -> KResult<Walk> {
        let mut w = Walk {
            names: Vec::new(),
            dirs: alloc::vec![self.follow_mount(self.root.clone())],
        };
        if !path.starts_with('/') {
            if !cwd.starts_with('/') {
                return Err(Errno::EINVAL);
            }
            // The cwd was searchable when it was entered (Linux keeps it as a path and
            // does not walk it again); no may_lookup checks for it.
            self.link_path_walk(&mut w, cwd, false)?;
            if !s_isdir(w.cur().attr().i_mode()) {
                return Err(Errno::ENOTDIR);
            }
        }
        Ok(w)
    }

    /// Walk every component of `path` (Linux: `link_path_walk` + `walk_component`).
    /// ENOTDIR when a non-directory is walked through, ENOENT for a missing name,
    /// ENAMETOOLONG for a component over NAME_MAX; with `may_lookup`, EACCES for a
    /// directory the caller may not search (Linux: `may_lookup`, MAY_EXEC on each
    /// directory walked through).
    fn link_path_walk(&self, w: &mut Walk, path: &str, may_lookup: bool) -> KResult<()> {
        for name in path.split('/').filter(|c| !c.is_empty()) {
            if !s_isdir(w.cur().attr().i_mode()) {
                return Err(Errno::ENOTDIR);
            }
            if may_lookup {
                inode_permission(&**w.cur(), MAY_EXEC)?;
            }
            match name {
                "." => {}
                ".." => {
                    // follow_dotdot: never above the root.
                    if w.dirs.len() > 1 {
                        w.dirs.pop();
                        w.names.pop();
                    }
                }
                _ => {
                    if name.len() > NAME_MAX {
                        return Err(Errno::ENAMETOOLONG);
                    }
                    let child = self.follow_mount(w.cur().lookup(name)?);
                    w.dirs.push(child);
                    w.names.push(String::from(name));
                }
            }
        }
        Ok(())
    }

    /// Resolve `path` (relative ones against `cwd`). A trailing `/` requires a directory.
    /// Linux: `path_lookupat` (`filename_lookup`, `kern_path`).
    #[inline(never)]
    pub fn path_lookupat(&self, cwd: &str, path: &str) -> KResult<Path> {
        check_path(path)?;
        let mut w = self.start(cwd, path)?;
        self.link_path_walk(&mut w, path, true)?;
        if path.ends_with('/') && !s_isdir(w.cur().attr().i_mode()) {
            return Err(Errno::ENOTDIR);
        }
        Ok(w.into_path())
    }

    /// Resolve all but the last component, which must be a directory; returns it, the
    /// last component and whether the path had a trailing slash. Linux: `path_parentat`.
    #[inline(never)]
    pub fn path_parentat<'p>(
        &self,
        cwd: &str,
        path: &'p str,
    ) -> KResult<(Path, LastType<'p>, bool)> {
        check_path(path)?;
        let (prefix, last, trailing) = split_last(path);
        let mut w = self.start(cwd, path)?;
        self.link_path_walk(&mut w, prefix, true)?;
        if !s_isdir(w.cur().attr().i_mode()) {
            return Err(Errno::ENOTDIR);
        }
        let last = match last {
            "" => LastType::Root,
            "." => LastType::Dot,
            ".." => LastType::DotDot,
            name if name.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
            name => LastType::Norm(name),
        };
        Ok((w.into_path(), last, trailing))
    }

    /// Look `name` up in `dir`, crossing a mount on the result (Linux: `lookup_one_len` +
    /// `follow_mount`).
    pub fn lookup_child(&self, dir: &Path, name: &str) -> KResult<Arc<dyn Inode>> {
        Ok(self.follow_mount(dir.inode.lookup(name)?))
    }

    /// Mount the file system whose root is `root` on the directory `path`. Linux:
    /// `do_new_mount` -> `do_add_mount` (`lock_mount`, `graft_tree`). ENOTDIR when `path`
    /// is not a directory.
    #[inline(never)]
    pub fn do_add_mount(&self, path: &str, root: Arc<dyn Inode>) -> KResult<()> {
        let source = String::from(root.attr().i_sb.s_type);
        self.do_add_mount_source(path, root, source)
    }

    /// [`do_add_mount`](Self::do_add_mount) with the name /proc/mounts shows as the
    /// source (mount(2)'s `dev_name`).
    pub fn do_add_mount_source(
        &self,
        path: &str,
        root: Arc<dyn Inode>,
        source: String,
    ) -> KResult<()> {
        let p = self.path_lookupat("/", path)?;
        if !s_isdir(p.inode.attr().i_mode()) || !s_isdir(root.attr().i_mode()) {
            return Err(Errno::ENOTDIR);
        }
        let a = p.inode.attr();
        self.mounts.lock().push(Mount {
            source,
            mountpoint: p.path,
            covered: (a.i_sb.s_dev, a.i_ino),
            root,
        });
        Ok(())
    }

    /// `faccessat(dirfd, path, mode, 0)` with the directory as path `cwd`: F_OK (0) checks
    /// existence, R_OK/W_OK/X_OK as [`inode_permission`]; EINVAL for other mode bits.
    /// Linux: `do_faccessat`.
    pub fn do_faccessat(&self, cwd: &str, path: &str, mode: u32) -> KResult<()> {
        if mode & !(MAY_READ | MAY_WRITE | MAY_EXEC) != 0 {
            return Err(Errno::EINVAL);
        }
        // access(2) answers for the real ids (Linux: `do_faccessat` overrides fsuid and
        // fsgid with uid and gid; root keeps its override only if its real uid is 0).
        let mut cred = super::attr::current_cred();
        cred.euid = cred.uid;
        cred.egid = cred.gid;
        let p = self.path_lookupat(cwd, path)?;
        if mode == 0 {
            return Ok(());
        }
        inode_permission_cred(&*p.inode, mode, &cred)
    }

    fn is_mountpoint(&self, inode: &Arc<dyn Inode>) -> bool {
        let key = (inode.attr().i_sb.s_dev, inode.attr().i_ino);
        self.mounts.lock().iter().any(|m| m.covered == key)
    }

    /// `mkdirat(dirfd, path, mode)` with the directory as path `cwd`. Linux: `do_mkdirat`
    /// (`filename_create` then `vfs_mkdir`): EEXIST before EROFS, as there.
    #[inline(never)]
    pub fn do_mkdirat(&self, cwd: &str, path: &str, mode: u32) -> KResult<()> {
        let (dir, last, _) = self.path_parentat(cwd, path)?;
        let LastType::Norm(name) = last else {
            return Err(Errno::EEXIST);
        };
        match dir.inode.lookup(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if dir.inode.attr().i_sb.s_rdonly {
            return Err(Errno::EROFS);
        }
        // vfs_mkdir -> may_create.
        inode_permission(&*dir.inode, MAY_WRITE | MAY_EXEC)?;
        dir.inode
            .create(name, S_IFDIR | (mode & 0o7777), 0)
            .map(|_| ())
    }

    /// `unlinkat(dirfd, path, flags)`: remove a file, or with AT_REMOVEDIR a directory.
    /// Linux: `do_unlinkat` / `do_rmdir` (EISDIR / EINVAL / ENOTEMPTY / EBUSY for the
    /// special last components, as there).
    #[inline(never)]
    pub fn do_unlinkat(&self, cwd: &str, path: &str, flags: u32) -> KResult<()> {
        if flags & !AT_REMOVEDIR != 0 {
            return Err(Errno::EINVAL);
        }
        let rmdir = flags & AT_REMOVEDIR != 0;
        let (dir, last, trailing) = self.path_parentat(cwd, path)?;
        let name = match (last, rmdir) {
            (LastType::Norm(name), _) => name,
            (LastType::Dot, true) => return Err(Errno::EINVAL),
            (LastType::DotDot, true) => return Err(Errno::ENOTEMPTY),
            (LastType::Root, true) => return Err(Errno::EBUSY),
            (_, false) => return Err(Errno::EISDIR),
        };
        let victim = dir.inode.lookup(name)?;
        if !rmdir && trailing && !s_isdir(victim.attr().i_mode()) {
            return Err(Errno::ENOTDIR);
        }
        if dir.inode.attr().i_sb.s_rdonly {
            return Err(Errno::EROFS);
        }
        may_delete(&*dir.inode, &*victim)?;
        if self.is_mountpoint(&victim) {
            return Err(Errno::EBUSY);
        }
        dir.inode.unlink(name, rmdir)
    }
}

static INIT_NS: SpinLockIrq<Option<Arc<MntNamespace>>> = SpinLockIrq::new(None);

/// The namespace every task uses (Linux: `init_task.nsproxy->mnt_ns`); ENOENT before the
/// root is mounted.
pub fn init_ns() -> KResult<Arc<MntNamespace>> {
    INIT_NS.lock().clone().ok_or(Errno::ENOENT)
}

/// Install `root` as `/` (Linux: `init_mount_tree` + `mount_root`). Replaces any previous
/// namespace (boot only).
pub fn set_init_ns(root: Arc<dyn Inode>) -> Arc<MntNamespace> {
    let ns = Arc::new(MntNamespace::new(root));
    *INIT_NS.lock() = Some(ns.clone());
    ns
}

/// Resolve a path in the init namespace (Linux: `kern_path` / `user_path_at`).
pub fn kern_path(cwd: &str, path: &str) -> KResult<Path> {
    init_ns()?.path_lookupat(cwd, path)
}

/// Mount a file system's root on `path` in the init namespace (procfs: `do_add_mount("/proc",
/// procfs_root)`).
pub fn do_add_mount(path: &str, root: Arc<dyn Inode>) -> KResult<()> {
    init_ns()?.do_add_mount(path, root)
}

/// `mkdirat` in the init namespace: see [`MntNamespace::do_mkdirat`].
pub fn do_mkdirat(cwd: &str, path: &str, mode: u32) -> KResult<()> {
    init_ns()?.do_mkdirat(cwd, path, mode)
}

/// `faccessat` in the init namespace: see [`MntNamespace::do_faccessat`].
pub fn do_faccessat(cwd: &str, path: &str, mode: u32) -> KResult<()> {
    init_ns()?.do_faccessat(cwd, path, mode)
}

/// `unlinkat` in the init namespace: see [`MntNamespace::do_unlinkat`].
pub fn do_unlinkat(cwd: &str, path: &str, flags: u32) -> KResult<()> {
    init_ns()?.do_unlinkat(cwd, path, flags)
}

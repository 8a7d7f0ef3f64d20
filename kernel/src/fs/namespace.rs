//! mount(2), umount2(2) and /proc/mounts. Linux: `fs/namespace.c` (`do_mount`,
//! `path_mount`, `do_new_mount`, `ksys_umount`, `path_umount`) and `fs/proc_namespace.c`
//! (`show_vfsmnt`).
//!
//! What mounts: new instances of tmpfs (with `size=`, `nr_inodes=`, `mode=`, see
//! fs/tmpfs.rs) and procfs. Every mount here is private (there is one mount namespace
//! and no propagation), so `MS_PRIVATE` and its siblings succeed without changing
//! anything; bind mounts, moves and remounts are not built (EINVAL). umount2 refuses a
//! mount that has mounts below it (EBUSY, unless `MNT_DETACH`); files still open on an
//! unmounted instance keep working, as after Linux's lazy `MNT_DETACH`, since nothing
//! counts them per mount.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::strncpy_from_user;
use crate::errno::{Errno, KResult};
use crate::fs::inode::{s_isdir, Inode};
use crate::fs::namei::{init_ns, MntNamespace};
use crate::fs::sys::getname;
use crate::syscall::SyscallArgs;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;

/// Mount read-only (Linux: `MS_RDONLY`).
pub const MS_RDONLY: u64 = 1;
/// Change an existing mount's options (Linux: `MS_REMOUNT`).
pub const MS_REMOUNT: u64 = 32;
/// Bind mount (Linux: `MS_BIND`).
pub const MS_BIND: u64 = 4096;
/// Move a mount (Linux: `MS_MOVE`).
pub const MS_MOVE: u64 = 8192;
/// The propagation types (Linux: `MS_UNBINDABLE | MS_PRIVATE | MS_SLAVE | MS_SHARED`).
pub const MS_PROPAGATION: u64 = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20);
/// The old magic in the top half of `flags` (Linux: `MS_MGC_VAL` under `MS_MGC_MSK`).
const MS_MGC_VAL: u64 = 0xc0ed_0000;
const MS_MGC_MSK: u64 = 0xffff_0000;
/// Only the kernel may pass it (Linux: `MS_NOUSER`).
const MS_NOUSER: u64 = 1 << 31;

/// umount2: force (Linux: `MNT_FORCE`).
pub const MNT_FORCE: u32 = 1;
/// umount2: detach now, even if busy (Linux: `MNT_DETACH`).
pub const MNT_DETACH: u32 = 2;
/// umount2: mark for expiry (Linux: `MNT_EXPIRE`).
pub const MNT_EXPIRE: u32 = 4;
/// umount2: do not follow a final symlink (Linux: `UMOUNT_NOFOLLOW`).
pub const UMOUNT_NOFOLLOW: u32 = 8;

/// A string argument of mount(2), or None for a NULL pointer (Linux:
/// `copy_mount_string`): EFAULT, ENAMETOOLONG as `getname`.
fn copy_mount_string(ptr: usize) -> KResult<Option<String>> {
    if ptr == 0 {
        return Ok(None);
    }
    getname(ptr, true).map(Some)
}

/// The `data` argument: up to a page, cut at its NUL (Linux: `copy_mount_options`, which
/// copies what it can of one page). EFAULT when not even its first byte can be read.
fn copy_mount_options(ptr: usize) -> KResult<Option<String>> {
    if ptr == 0 {
        return Ok(None);
    }
    let mut buf = vec![0u8; crate::mm::PAGE_SIZE];
    let n = strncpy_from_user(&mut buf[..crate::mm::PAGE_SIZE - 1], ptr).or_else(|e| {
        // A string running into an unreadable page is cut there, as Linux's partial copy.
        if e == Errno::ENAMETOOLONG {
            Ok(crate::mm::PAGE_SIZE - 1)
        } else {
            Err(e)
        }
    })?;
    buf.truncate(n);
    String::from_utf8(buf).map(Some).map_err(|_| Errno::EINVAL)
}

/// `target` resolved from the caller's cwd in the (one) mount namespace (Linux:
/// `user_path_at(AT_FDCWD, ...)`).
fn user_path(target: &str) -> KResult<(Arc<MntNamespace>, crate::fs::namei::Path)> {
    let ns = init_ns()?;
    let cwd = crate::task::current()
        .ok_or(Errno::ESRCH)?
        .cwd
        .lock()
        .clone();
    let path = ns.path_lookupat(&cwd, target)?;
    Ok((ns, path))
}

/// May the caller mount and unmount? (Linux: `may_mount`, CAP_SYS_ADMIN; root here.)
fn may_mount() -> KResult<()> {
    let task = crate::task::current().ok_or(Errno::ESRCH)?;
    if task.cred.lock().euid == 0 {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// The root of a new instance of `fstype` (Linux: `get_fs_type` + `vfs_get_tree`):
/// ENODEV for a type we do not have, EINVAL for bad options.
fn vfs_get_tree(fstype: &str, data: &str, rdonly: bool) -> KResult<Arc<dyn Inode>> {
    match fstype {
        "tmpfs" => {
            let opts = crate::fs::tmpfs::shmem_parse_options(
                data,
                crate::fs::tmpfs::ShmemOptions::defaults(0o1777),
                crate::mm::util::totalram_pages(),
            )?;
            crate::fs::tmpfs::shmem_fill_super_opts("tmpfs", opts, rdonly)
        }
        // One procfs: its files show the live kernel whichever mount reads them.
        "proc" => Ok(crate::fs::proc::proc_root()),
        _ => Err(Errno::ENODEV),
    }
}

/// mount(2): `mount(source, target, fstype, flags, data)`. Linux: `do_mount` ->
/// `path_mount` -> `do_new_mount`, in that order of checks: the strings are copied
/// (EFAULT), the target looked up (ENOENT, ENOTDIR), then EPERM without CAP_SYS_ADMIN,
/// then the kind of request, then the type (ENODEV) and its options (EINVAL).
pub fn sys_mount(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let fstype = copy_mount_string(a.0[2])?;
    let source = copy_mount_string(a.0[0])?;
    let target = getname(a.0[1], false)?;
    let data = copy_mount_options(a.0[4])?;
    let mut flags = a.0[3] as u64;
    if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags &= !MS_MGC_MSK;
    }
    let (ns, path) = user_path(&target)?;
    if flags & MS_NOUSER != 0 {
        return Err(Errno::EINVAL);
    }
    may_mount()?;
    if flags & (MS_REMOUNT | MS_BIND | MS_MOVE) != 0 {
        return Err(Errno::EINVAL); // not built: see the file comment
    }
    if flags & MS_PROPAGATION != 0 {
        return Ok(0); // every mount is already private
    }
    let fstype = fstype.ok_or(Errno::EINVAL)?;
    if !s_isdir(path.inode.attr().i_mode()) {
        return Err(Errno::ENOTDIR);
    }
    let root = vfs_get_tree(
        &fstype,
        data.as_deref().unwrap_or(""),
        flags & MS_RDONLY != 0,
    )?;
    let source = source.unwrap_or_else(|| String::from("none"));
    ns.do_add_mount_source(&path.path, root, source)?;
    Ok(0)
}

/// umount2(2): `umount2(target, flags)`. Linux: `ksys_umount` -> `path_umount`: EINVAL
/// for unknown flags, the lookup's errors, EPERM without CAP_SYS_ADMIN, EINVAL unless
/// `target` is where something is mounted, EBUSY while mounts sit below it (with
/// MNT_DETACH they go too).
pub fn sys_umount2(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let flags = a.0[1] as u32;
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = getname(a.0[0], false)?;
    let (ns, path) = user_path(&target)?;
    may_mount()?;
    if flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0 {
        return Err(Errno::EINVAL);
    }
    ns.do_umount(&path.path, flags & MNT_DETACH != 0)?;
    Ok(0)
}

/// /proc/mounts: one line per mount, `source mountpoint type options 0 0`, the root
/// first (Linux: `show_vfsmnt`; spaces and the like in names would be escaped as `\040`,
/// which our paths do not need).
pub fn proc_mounts() -> KResult<String> {
    let ns: Arc<MntNamespace> = init_ns()?;
    let mut s = String::new();
    let root = ns.root_inode();
    let line = |s: &mut String, source: &str, at: &str, root: &dyn Inode| {
        let sb = &root.attr().i_sb;
        let rw = if sb.s_rdonly { "ro" } else { "rw" };
        s.push_str(&alloc::format!(
            "{source} {at} {} {rw}{} 0 0\n",
            sb.s_type,
            root.show_options()
        ));
    };
    line(&mut s, root.attr().i_sb.s_type, "/", &*root);
    for m in ns.mounts() {
        line(&mut s, &m.source, &m.mountpoint, &*m.root);
    }
    Ok(s)
}

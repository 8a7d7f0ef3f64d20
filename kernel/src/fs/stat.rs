//! `stat`, `fstat`, `newfstatat`: the attributes of a file in arm64's `struct stat`.
//!
//! Linux: `fs/stat.c` (`vfs_statx`, `generic_fillattr`, `cp_new_stat`) and
//! `include/uapi/asm-generic/stat.h` (arm64 uses the generic layout: 128 bytes).
use super::inode::{s_ischr, Inode};
use super::namei::MntNamespace;
use crate::errno::{Errno, KResult};

/// `newfstatat` flag: do not follow a final symbolic link (we have none).
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `newfstatat` flag: do not trigger automounts.
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
/// `newfstatat` flag: an empty path means the directory fd itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// `statx` sync-type bits, accepted by `newfstatat` too.
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// arm64's `struct stat` (Linux: `include/uapi/asm-generic/stat.h`), as `fstat` and
/// `newfstatat` copy it to user space.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Device of the file system.
    pub st_dev: u64,
    /// Inode number.
    pub st_ino: u64,
    /// Type and permissions.
    pub st_mode: u32,
    /// Hard links.
    pub st_nlink: u32,
    /// Owner.
    pub st_uid: u32,
    /// Group.
    pub st_gid: u32,
    /// Device a special file stands for.
    pub st_rdev: u64,
    /// Padding.
    pub __pad1: u64,
    /// Size in bytes.
    pub st_size: i64,
    /// Preferred I/O size.
    pub st_blksize: i32,
    /// Padding.
    pub __pad2: i32,
    /// 512-byte blocks allocated.
    pub st_blocks: i64,
    /// Access time (s).
    pub st_atime: i64,
    /// Access time (ns).
    pub st_atime_nsec: u64,
    /// Modification time (s).
    pub st_mtime: i64,
    /// Modification time (ns).
    pub st_mtime_nsec: u64,
    /// Status change time (s).
    pub st_ctime: i64,
    /// Status change time (ns).
    pub st_ctime_nsec: u64,
    /// Unused.
    pub __unused4: u32,
    /// Unused.
    pub __unused5: u32,
}

const _: () = assert!(core::mem::size_of::<Stat>() == 128);

impl Stat {
    /// The bytes user space receives.
    pub fn as_bytes(&self) -> &[u8; 128] {
        // SAFETY: repr(C), 128 bytes, no padding the compiler inserts (all explicit).
        unsafe { &*(self as *const Stat as *const [u8; 128]) }
    }
}

/// Fill a `Stat` from an inode. Linux: `generic_fillattr` + `cp_new_stat`.
#[no_mangle]
#[inline(never)]
pub fn generic_fillattr(inode: &dyn Inode) -> Stat {
    let a = inode.attr();
    let size = a.size();
    let t = a.mtime();
    Stat {
        st_dev: a.i_sb.s_dev,
        st_ino: a.i_ino,
        st_mode: a.i_mode(),
        st_nlink: a.nlink(),
        st_uid: a.i_uid(),
        st_gid: a.i_gid(),
        st_rdev: if s_ischr(a.i_mode()) { a.i_rdev } else { 0 },
        st_size: size as i64,
        st_blksize: 4096,
        st_blocks: inode.i_blocks() as i64,
        st_atime: t,
        st_mtime: t,
        st_ctime: t,
        ..Stat::default()
    }
}

impl MntNamespace {
    /// `newfstatat(dirfd, path, statbuf, flags)` with the directory given as the path
    /// `cwd` (the dirfd's path, or the task's cwd for AT_FDCWD). An empty `path` needs
    /// AT_EMPTY_PATH and stats `cwd` itself; for an open file, [`super::File::stat`] is
    /// exact even after unlink. Linux: `vfs_fstatat` -> `vfs_statx`.
    pub fn vfs_fstatat(&self, cwd: &str, path: &str, flags: u32) -> KResult<Stat> {
        if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)
            != 0
        {
            return Err(Errno::EINVAL);
        }
        let p = if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
            self.path_lookupat(cwd, ".")?
        } else {
            self.path_lookupat(cwd, path)?
        };
        Ok(generic_fillattr(&*p.inode))
    }
}

/// `newfstatat` in the init namespace: see [`MntNamespace::vfs_fstatat`].
pub fn vfs_fstatat(cwd: &str, path: &str, flags: u32) -> KResult<Stat> {
    super::namei::init_ns()?.vfs_fstatat(cwd, path, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_stat_matches_asm_generic_offsets() {
        assert_eq!(core::mem::size_of::<Stat>(), 128);
        assert_eq!(core::mem::offset_of!(Stat, st_mode), 16);
        assert_eq!(core::mem::offset_of!(Stat, st_rdev), 32);
        assert_eq!(core::mem::offset_of!(Stat, st_size), 48);
        assert_eq!(core::mem::offset_of!(Stat, st_blksize), 56);
        assert_eq!(core::mem::offset_of!(Stat, st_blocks), 64);
        assert_eq!(core::mem::offset_of!(Stat, st_atime), 72);
        assert_eq!(core::mem::offset_of!(Stat, st_mtime), 88);
        assert_eq!(core::mem::offset_of!(Stat, st_ctime), 104);
        let s = Stat {
            st_size: 0x1122,
            ..Stat::default()
        };
        assert_eq!(&s.as_bytes()[48..50], &[0x22, 0x11]);
    }
}

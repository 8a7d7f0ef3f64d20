//! statfs(2) and fstatfs(2): a file system's size and free space. Linux: `fs/statfs.c`
//! (`vfs_statfs`, `do_statfs_native`, `user_statfs`, `fd_statfs`), each file system's
//! `s_op->statfs` (tmpfs: `shmem_statfs`, `simple_statfs` for the rest).
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::copy_to_user;
use crate::errno::KResult;
use crate::fs::sys::{fget, getname};
use crate::syscall::SyscallArgs;

/// tmpfs and devtmpfs (Linux: `TMPFS_MAGIC`).
pub const TMPFS_MAGIC: u64 = 0x0102_1994;
/// procfs (Linux: `PROC_SUPER_MAGIC`).
pub const PROC_SUPER_MAGIC: u64 = 0x9fa0;
/// The cpio root: an initramfs, which Linux's statfs reports as ramfs (`RAMFS_MAGIC`).
pub const RAMFS_MAGIC: u64 = 0x8584_58f6;
/// `f_flags`: the other fields are valid (Linux: `ST_VALID`).
pub const ST_VALID: u64 = 0x0020;
/// `f_flags`: mounted read-only (Linux: `ST_RDONLY`).
pub const ST_RDONLY: u64 = 0x0001;
/// Longest name in a directory (Linux: `NAME_MAX`).
pub const NAME_MAX: u64 = 255;

/// `struct statfs` as arm64 user space sees it (asm-generic, 64-bit words): 120 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kstatfs {
    /// The file system's magic number.
    pub f_type: u64,
    /// Block size.
    pub f_bsize: u64,
    /// Blocks in all (0: no limit, as tmpfs without `size=`).
    pub f_blocks: u64,
    /// Free blocks.
    pub f_bfree: u64,
    /// Free blocks for unprivileged users.
    pub f_bavail: u64,
    /// Inodes in all (0: no limit).
    pub f_files: u64,
    /// Free inodes.
    pub f_ffree: u64,
    /// File system id (`__kernel_fsid_t`, two ints).
    pub f_fsid: [u32; 2],
    /// Longest file name.
    pub f_namelen: u64,
    /// Fragment size (Linux: the block size when the file system gives none).
    pub f_frsize: u64,
    /// Mount flags (`ST_*`).
    pub f_flags: u64,
    /// Padding.
    pub f_spare: [u64; 4],
}

const _: () = assert!(core::mem::size_of::<Kstatfs>() == 120);

impl Kstatfs {
    /// The figures every file system of type `s_type` starts from: its magic, 4 KiB
    /// blocks, no limits (Linux: `simple_statfs`).
    pub fn for_type(s_type: &str) -> Self {
        let f_type = match s_type {
            "tmpfs" | "devtmpfs" => TMPFS_MAGIC,
            "proc" => PROC_SUPER_MAGIC,
            _ => RAMFS_MAGIC,
        };
        Kstatfs {
            f_type,
            f_bsize: crate::mm::PAGE_SIZE as u64,
            f_namelen: NAME_MAX,
            f_frsize: crate::mm::PAGE_SIZE as u64,
            ..Kstatfs::default()
        }
    }

    /// The bytes copied to user space.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: repr(C), integers only, no padding (checked size: 15 x 8 bytes).
        unsafe {
            core::slice::from_raw_parts(
                self as *const Self as *const u8,
                core::mem::size_of::<Self>(),
            )
        }
    }
}

/// The figures for `inode`'s file system, with the mount's flags (Linux: `vfs_statfs`).
pub fn vfs_statfs(inode: &dyn super::inode::Inode) -> Kstatfs {
    let mut st = inode.statfs();
    st.f_flags = ST_VALID;
    if inode.attr().i_sb.s_rdonly {
        st.f_flags |= ST_RDONLY;
    }
    st
}

/// statfs(2): `statfs(path, buf)`. ENOENT, ENOTDIR, EFAULT, ENAMETOOLONG as the walk
/// and the copy give them. Linux: `user_statfs`.
pub fn sys_statfs(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let path = getname(a.0[0], false)?;
    let cwd = crate::task::current()
        .ok_or(crate::errno::Errno::ESRCH)?
        .cwd
        .lock()
        .clone();
    let p = crate::fs::namei::kern_path(&cwd, &path)?;
    copy_to_user(a.0[1], vfs_statfs(&*p.inode).as_bytes())?;
    Ok(0)
}

/// fstatfs(2): `fstatfs(fd, buf)`. EBADF for a bad descriptor. Linux: `fd_statfs`.
pub fn sys_fstatfs(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = fget(a.0[0] as i32)?;
    copy_to_user(a.0[1], vfs_statfs(&**file.inode()).as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_arm64() {
        let st = Kstatfs {
            f_namelen: 0x1122,
            ..Kstatfs::default()
        };
        // f_namelen follows f_fsid at byte 64 (Linux's struct statfs on arm64).
        assert_eq!(&st.as_bytes()[64..66], &[0x22, 0x11]);
        assert_eq!(Kstatfs::for_type("tmpfs").f_type, TMPFS_MAGIC);
        assert_eq!(Kstatfs::for_type("proc").f_type, PROC_SUPER_MAGIC);
    }
}

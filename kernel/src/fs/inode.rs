//! Inodes and super blocks: what every file system provides to the VFS.
//!
//! Linux: `include/linux/fs.h` (`struct inode`, `struct super_block`,
//! `struct inode_operations`, `struct file_operations`), `fs/inode.c` (`get_next_ino`),
//! `fs/super.c` (`get_anon_bdev`), `include/linux/kdev_t.h` (`new_encode_dev`).
//!
//! Linux splits an inode into common fields (`struct inode`) and per-fs operation tables
//! (`i_op`, `i_fop`, `a_ops`) plus private data. Here the common fields are [`InodeAttr`]
//! and the operation tables are the [`Inode`] trait, implemented by each file system's own
//! inode type (`cpiofs::CpioInode`, `tmpfs::ShmemInode`); defaults give the errno Linux
//! returns when an operation table lacks the method.
use crate::errno::{Errno, KResult};
use crate::mm::filemap::AddressSpace;
use crate::mm::page::Page;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// File type mask of `st_mode` (Linux: `S_IFMT`).
pub const S_IFMT: u32 = 0o170000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Block device.
pub const S_IFBLK: u32 = 0o060000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
/// FIFO.
pub const S_IFIFO: u32 = 0o010000;
/// Set-user-id on execution.
pub const S_ISUID: u32 = 0o4000;
/// Set-group-id on execution (on a directory: new entries take its group).
pub const S_ISGID: u32 = 0o2000;
/// Sticky: in a directory only an entry's owner may remove it.
pub const S_ISVTX: u32 = 0o1000;
/// Group execute.
pub const S_IXGRP: u32 = 0o0010;
/// Every permission bit chmod may change (Linux: `S_IALLUGO`).
pub const S_IALLUGO: u32 = 0o7777;

/// Is `mode` a directory? (Linux: `S_ISDIR`)
pub const fn s_isdir(mode: u32) -> bool {
    mode & S_IFMT == S_IFDIR
}
/// Is `mode` a regular file? (Linux: `S_ISREG`)
pub const fn s_isreg(mode: u32) -> bool {
    mode & S_IFMT == S_IFREG
}
/// Is `mode` a character device? (Linux: `S_ISCHR`)
pub const fn s_ischr(mode: u32) -> bool {
    mode & S_IFMT == S_IFCHR
}

/// A device number as `stat` reports it (Linux: `new_encode_dev(MKDEV(major, minor))`).
pub const fn mkdev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
}
/// Major number of an encoded device (glibc: `major`).
pub const fn major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}
/// Minor number of an encoded device (glibc: `minor`).
pub const fn minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

/// Longest file name component (Linux: `NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Longest path including its NUL (Linux: `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

static NEXT_ANON_MINOR: AtomicU32 = AtomicU32::new(1);

/// A fresh device number for a file system without a disk: major 0, as Linux's
/// `get_anon_bdev` (what `stat` shows as `st_dev` for tmpfs, procfs).
pub fn get_anon_bdev() -> u64 {
    mkdev(0, NEXT_ANON_MINOR.fetch_add(1, Ordering::Relaxed))
}

/// One mounted file system instance (Linux: `struct super_block`).
pub struct SuperBlock {
    /// Device number (`st_dev` of every inode).
    pub s_dev: u64,
    /// File system type name as /proc/mounts shows it (`tmpfs`, `devtmpfs`, ...).
    pub s_type: &'static str,
    /// Mounted read-only (Linux: `SB_RDONLY`): writes fail with EROFS.
    pub s_rdonly: bool,
    next_ino: AtomicU64,
    /// The inodes whose page cache `drop_caches` walks (Linux: `s_inodes`, every inode
    /// of the super block). Only file systems whose cached pages can be dropped add
    /// theirs (`inode_sb_list_add`): the root fs. tmpfs does not, since its pages are the
    /// data (Linux walks them and skips every one as dirty).
    pub s_inodes: crate::sync::SpinLock<alloc::vec::Vec<alloc::sync::Weak<dyn Inode>>>,
}

/// Every super block made so far (Linux: `super_blocks`, walked by `iterate_supers`).
static SUPER_BLOCKS: crate::sync::SpinLock<alloc::vec::Vec<alloc::sync::Weak<SuperBlock>>> =
    crate::sync::SpinLock::new(alloc::vec::Vec::new());

/// Call `f` on every live super block (Linux: `iterate_supers`). The list is copied
/// first, so `f` may sleep or take other locks.
pub fn iterate_supers(mut f: impl FnMut(&SuperBlock)) {
    let sbs: alloc::vec::Vec<Arc<SuperBlock>> = SUPER_BLOCKS
        .lock()
        .iter()
        .filter_map(alloc::sync::Weak::upgrade)
        .collect();
    for sb in sbs {
        f(&sb);
    }
}

/// Put `inode` on its super block's inode list (Linux: `inode_sb_list_add`).
pub fn inode_sb_list_add(sb: &SuperBlock, inode: &Arc<dyn Inode>) {
    sb.s_inodes.lock().push(Arc::downgrade(inode));
}

impl SuperBlock {
    /// A super block; inode numbers handed out by [`get_next_ino`](Self::get_next_ino)
    /// start at `first_ino`.
    pub fn new(s_type: &'static str, s_dev: u64, s_rdonly: bool, first_ino: u64) -> Arc<Self> {
        let sb = Arc::new(SuperBlock {
            s_dev,
            s_type,
            s_rdonly,
            next_ino: AtomicU64::new(first_ino),
            s_inodes: crate::sync::SpinLock::new(alloc::vec::Vec::new()),
        });
        let mut all = SUPER_BLOCKS.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&sb));
        drop(all);
        sb
    }

    /// A new inode number (Linux: `get_next_ino`, per super block here).
    pub fn get_next_ino(&self) -> u64 {
        self.next_ino.fetch_add(1, Ordering::Relaxed)
    }
}

/// The fields every inode has (Linux: the common part of `struct inode`).
pub struct InodeAttr {
    /// Inode number (Linux: `i_ino`).
    pub i_ino: u64,
    /// Type and permissions (Linux: `i_mode`): the type never changes, the permission
    /// bits do (chmod, and chown clearing S_ISUID); read with [`InodeAttr::i_mode`].
    i_mode: AtomicU32,
    /// Device a special file stands for (Linux: `i_rdev`).
    pub i_rdev: u64,
    /// Owner (Linux: `i_uid`), changed by chown; read with [`InodeAttr::i_uid`].
    i_uid: AtomicU32,
    /// Group (Linux: `i_gid`), changed by chown; read with [`InodeAttr::i_gid`].
    i_gid: AtomicU32,
    /// The file system (Linux: `i_sb`).
    pub i_sb: Arc<SuperBlock>,
    i_nlink: AtomicU32,
    i_size: AtomicU64,
    i_mtime: AtomicI64,
}

impl InodeAttr {
    /// Attributes of a new inode.
    pub fn new(sb: &Arc<SuperBlock>, ino: u64, mode: u32, nlink: u32, size: u64) -> Self {
        InodeAttr {
            i_ino: ino,
            i_mode: AtomicU32::new(mode),
            i_rdev: 0,
            i_uid: AtomicU32::new(0),
            i_gid: AtomicU32::new(0),
            i_sb: sb.clone(),
            i_nlink: AtomicU32::new(nlink),
            i_size: AtomicU64::new(size),
            i_mtime: AtomicI64::new(0),
        }
    }
    /// Type and permission bits (Linux: `inode->i_mode`).
    pub fn i_mode(&self) -> u32 {
        self.i_mode.load(Ordering::Relaxed)
    }
    /// Owner's user id (Linux: `inode->i_uid`).
    pub fn i_uid(&self) -> u32 {
        self.i_uid.load(Ordering::Relaxed)
    }
    /// Owner's group id (Linux: `inode->i_gid`).
    pub fn i_gid(&self) -> u32 {
        self.i_gid.load(Ordering::Relaxed)
    }
    /// Set the permission bits (the `S_IALLUGO` part: 0o7777), keeping the file type.
    /// The caller holds the inode's lock or is building the inode (Linux: `setattr_copy`
    /// under `i_rwsem`).
    pub fn set_mode(&self, mode: u32) {
        let ty = self.i_mode() & S_IFMT;
        self.i_mode
            .store(ty | (mode & S_IALLUGO), Ordering::Relaxed)
    }
    /// Set the owner and group (Linux: `setattr_copy` of ATTR_UID / ATTR_GID, or
    /// `inode_init_owner` for a new inode).
    pub fn set_owner(&self, uid: u32, gid: u32) {
        self.i_uid.store(uid, Ordering::Relaxed);
        self.i_gid.store(gid, Ordering::Relaxed);
    }
    /// Size in bytes (Linux: `i_size_read`).
    pub fn size(&self) -> u64 {
        self.i_size.load(Ordering::Acquire)
    }
    /// Set the size (Linux: `i_size_write`); the caller holds the inode's lock.
    pub fn set_size(&self, size: u64) {
        self.i_size.store(size, Ordering::Release)
    }
    /// Link count (Linux: `i_nlink`).
    pub fn nlink(&self) -> u32 {
        self.i_nlink.load(Ordering::Relaxed)
    }
    /// Set the link count (Linux: `set_nlink`).
    pub fn set_nlink(&self, n: u32) {
        self.i_nlink.store(n, Ordering::Relaxed)
    }
    /// Modification time in seconds (atime and ctime report the same).
    pub fn mtime(&self) -> i64 {
        self.i_mtime.load(Ordering::Relaxed)
    }
    /// Set the modification time.
    pub fn set_mtime(&self, t: i64) {
        self.i_mtime.store(t, Ordering::Relaxed)
    }
    /// Is it a directory?
    pub fn is_dir(&self) -> bool {
        s_isdir(self.i_mode())
    }
}

/// A directory entry as `readdir` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name (no `/`).
    pub name: String,
    /// Its inode number.
    pub ino: u64,
    /// `DT_*` type (`(mode >> 12) & 15`).
    pub d_type: u8,
}

/// An inode's operations (Linux: `inode_operations` + the inode half of
/// `file_operations` + `address_space_operations`). A file system implements what its
/// inodes support; the defaults return what Linux returns for a missing method.
///
/// Locking: each implementation serialises its own mutations (Linux: `i_rwsem`); the VFS
/// calls these without holding any lock of its own.
pub trait Inode: Send + Sync {
    /// The common fields.
    fn attr(&self) -> &InodeAttr;

    /// The figures statfs(2) reports for this inode's file system (Linux:
    /// `super_operations.statfs`). By default only the type's magic and sizes.
    fn statfs(&self) -> super::statfs::Kstatfs {
        super::statfs::Kstatfs::for_type(self.attr().i_sb.s_type)
    }

    /// The file-system-specific mount options of the instance whose root this is, each
    /// after a comma, for /proc/mounts (Linux: `super_operations.show_options`).
    fn show_options(&self) -> alloc::string::String {
        alloc::string::String::new()
    }

    /// Find `name` in this directory (Linux: `i_op->lookup`). ENOENT when absent.
    fn lookup(&self, _name: &str) -> KResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Create `name` in this directory with `mode` (S_IFREG, S_IFDIR or a device type
    /// with `rdev`). Linux: `i_op->create`, `mkdir`, `mknod`. EEXIST when present.
    fn create(&self, _name: &str, _mode: u32, _rdev: u64) -> KResult<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Remove `name` from this directory: a directory when `rmdir` (then ENOTEMPTY unless
    /// empty), otherwise anything but a directory (EISDIR). Linux: `i_op->unlink` / `rmdir`.
    fn unlink(&self, _name: &str, _rmdir: bool) -> KResult<()> {
        Err(Errno::ENOTDIR)
    }

    /// The entry at index `pos` of this directory, `.` and `..` excluded, or None past the
    /// end. Linux: `f_op->iterate_shared` (positions are our own cookies).
    fn readdir(&self, _pos: usize) -> KResult<Option<DirEntry>> {
        Err(Errno::ENOTDIR)
    }

    /// Inode number of the parent directory within this file system (a root is its own
    /// parent). Linux: `parent_ino(dentry)`.
    fn parent_ino(&self) -> u64 {
        self.attr().i_ino
    }

    /// Read file bytes at `pos` (short at end of file). Linux: `f_op->read_iter`.
    fn read_at(&self, _pos: u64, _buf: &mut [u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }
    /// `read_at` for an open file, whose readahead state `ra` a file system reading
    /// through the page cache uses (Linux: `f_op->read_iter`, whose `kiocb` carries the
    /// file and so `file->f_ra`). Default: `read_at`.
    fn read_iter(
        &self,
        _ra: &crate::mm::readahead::FileRa,
        pos: u64,
        buf: &mut [u8],
    ) -> KResult<usize> {
        self.read_at(pos, buf)
    }

    /// Write file bytes at `pos`, growing the file. Linux: `f_op->write_iter`.
    fn write_at(&self, _pos: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    /// Change the file size, dropping or zero-extending data. Linux: `i_op->setattr`
    /// with `ATTR_SIZE` (`shmem_setattr` -> `truncate_setsize`).
    fn setsize(&self, _len: u64) -> KResult<()> {
        Err(Errno::EINVAL)
    }

    /// fallocate(2) after `vfs_fallocate`'s checks: reserve `[offset, offset + len)`
    /// (mode 0 or FALLOC_FL_KEEP_SIZE) or punch a hole there (FALLOC_FL_PUNCH_HOLE |
    /// FALLOC_FL_KEEP_SIZE). Linux: `f_op->fallocate` (`shmem_fallocate`). Default:
    /// EOPNOTSUPP.
    fn fallocate(&self, _mode: u32, _offset: u64, _len: u64) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Apply a permitted attribute change (chmod, chown): Linux's `i_op->setattr`, called
    /// by `notify_change` after `setattr_prepare` allowed it. Default: `simple_setattr`,
    /// copying the new values in; a file system that cannot keep them refuses (procfs).
    fn setattr(&self, attr: &super::attr::Iattr) -> KResult<()> {
        super::attr::setattr_copy(self.attr(), attr);
        Ok(())
    }

    /// 512-byte blocks the file occupies (Linux: `i_blocks`): the rounded-up size unless
    /// the file system knows better (tmpfs counts its pages).
    fn i_blocks(&self) -> u64 {
        self.attr().size().div_ceil(512)
    }

    /// The file system's own check when a file is opened, after the mode bits passed
    /// (Linux: `f_op->open`, e.g. procfs's `proc_maps_open` -> `proc_mem_open`, which
    /// refuses another user's process with EACCES). Default: nothing to check.
    fn open(&self, _flags: u32) -> KResult<()> {
        Ok(())
    }

    /// The page cache of a regular file (Linux: `i_mapping`); None for other inodes.
    fn mapping(&self) -> Option<&AddressSpace> {
        None
    }

    /// File page `index`, up to date, with a reference for the caller: what a page fault
    /// on a file mapping maps. Linux: `vm_ops->fault` (`filemap_fault`, `shmem_fault`).
    fn fault_page(&self, _index: usize) -> KResult<&'static Page> {
        Err(Errno::ENODEV)
    }

    /// What a mapping of this file does on a fault (Linux: set by `f_op->mmap`:
    /// `generic_file_vm_ops`, `shmem_vm_ops`); None: the file cannot be mapped.
    fn vm_ops(&self) -> Option<&'static dyn crate::mm::vma::VmOperationsStruct> {
        None
    }

    /// How pages of `mapping()` are read from storage (Linux: `mapping->a_ops`); None
    /// when the pages are the data.
    fn a_ops(&self) -> Option<&dyn crate::mm::filemap::AddressSpaceOperations> {
        None
    }
}

/// `DT_*` of a mode (Linux: `fs_umode_to_dtype`).
pub const fn mode_to_dtype(mode: u32) -> u8 {
    ((mode & S_IFMT) >> 12) as u8
}

//! File systems: the VFS, the cpio root file system on virtio-blk, tmpfs, and the
//! character devices behind `/dev`. Linux: `fs/`, `init/do_mounts.c`.
//!
//! The tree after boot (`prepare_namespace`):
//! ```text
//! /          cpio   read-only, the newc image xtask builds, on the virtio disk
//! /dev       devtmpfs  console (5:1), null (1:3), zero (1:5), vda (254:0), vdb (254:16)..., shm/
//! /dev/shm   tmpfs
//! /tmp       tmpfs
//! /sys/kernel/tracing  tracefs (the function-graph tracer's files)
//! ```
//! What the system-call layer calls (it copies user memory itself):
//! [`do_filp_open`] (`openat`), [`File::read`], [`File::write`], [`File::pread`],
//! [`File::pwrite`], [`File::lseek`], [`File::getdents64`], [`File::stat`] (`fstat`),
//! [`vfs_fstatat`] (`newfstatat`), [`File::truncate`] (`ftruncate`), [`do_sys_truncate`],
//! [`do_mkdirat`], [`do_unlinkat`], [`do_faccessat`], [`inode_permission`] (`execve`: MAY_EXEC),
//! [`open::chmod_common`] / [`open::chown_common`] (fchmod, fchmodat, fchown, fchownat: the
//! `sys_*` handlers live in `open.rs`, as Linux's in `fs/open.c`),
//! [`kern_path`] (`chdir`); `close` is dropping the fd's
//! `Arc<File>`. A new file system (procfs) mounts with [`do_add_mount`].
pub mod attr;
pub mod block_dev;
pub mod char_dev;
pub mod console;
pub mod coredump;
pub mod cpio;
pub mod cpiofs;
pub mod drop_caches;
pub mod file;
pub mod file_mmap;
#[cfg(test)]
mod host_tests;
pub mod inode;
pub mod namei;
pub mod namespace;
pub mod open;
pub mod pipe;
pub mod proc;
pub mod readdir;
pub mod stat;
pub mod statfs;
pub mod sys;
pub mod tests;
pub mod tmpfs;
pub mod tracefs;
pub mod userfaultfd;

pub use file::File;
pub use inode::{DirEntry, Inode, SuperBlock};
pub use namei::{
    do_add_mount, do_faccessat, do_mkdirat, do_unlinkat, init_ns, inode_permission, kern_path,
    MntNamespace, Path,
};
pub use open::{do_filp_open, do_sys_truncate, filp_open};
pub use stat::{vfs_fstatat, Stat};

// Open flags as arm64 defines them (Linux: `arch/arm64/include/uapi/asm/fcntl.h` overrides
// four of `include/uapi/asm-generic/fcntl.h`: O_DIRECTORY, O_NOFOLLOW, O_DIRECT, O_LARGEFILE).

/// Access-mode mask.
pub const O_ACCMODE: u32 = 0o3;
/// Open for reading only.
pub const O_RDONLY: u32 = 0o0;
/// Open for writing only.
pub const O_WRONLY: u32 = 0o1;
/// Open for reading and writing.
pub const O_RDWR: u32 = 0o2;
/// Create the file if missing.
pub const O_CREAT: u32 = 0o100;
/// With O_CREAT: fail with EEXIST if it exists.
pub const O_EXCL: u32 = 0o200;
/// Do not make it the controlling terminal.
pub const O_NOCTTY: u32 = 0o400;
/// Truncate a regular file to 0.
pub const O_TRUNC: u32 = 0o1000;
/// Every write goes to the end.
pub const O_APPEND: u32 = 0o2000;
/// Non-blocking I/O.
pub const O_NONBLOCK: u32 = 0o4000;
/// Synchronous data writes.
pub const O_DSYNC: u32 = 0o10000;
/// Fail with ENOTDIR unless a directory (arm64: 0o40000, generic: 0o200000).
pub const O_DIRECTORY: u32 = 0o40000;
/// Do not follow a final symbolic link (arm64: 0o100000).
pub const O_NOFOLLOW: u32 = 0o100000;
/// Direct I/O hint (arm64: 0o200000).
pub const O_DIRECT: u32 = 0o200000;
/// Large-file (always on 64-bit; arm64: 0o400000).
pub const O_LARGEFILE: u32 = 0o400000;
/// Do not update the access time.
pub const O_NOATIME: u32 = 0o1000000;
/// Close on exec: a flag of the file descriptor, not of the file.
pub const O_CLOEXEC: u32 = 0o2000000;
/// Synchronous writes.
pub const O_SYNC: u32 = 0o4000000 | O_DSYNC;
/// A path-only descriptor.
pub const O_PATH: u32 = 0o10000000;
/// An unnamed temporary file (includes O_DIRECTORY).
pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;

/// The fd flag an open with O_CLOEXEC sets (Linux: `FD_CLOEXEC`, what `get_unused_fd_flags`
/// takes from the open flags).
pub const FD_CLOEXEC: u32 = 1;

/// `FD_CLOEXEC` if `open_flags` asks for it: for the fd table.
pub const fn fd_flags_of(open_flags: u32) -> u32 {
    if open_flags & O_CLOEXEC != 0 {
        FD_CLOEXEC
    } else {
        0
    }
}

/// Device number of the root disk in `stat` (virtio-blk's usual 254:0, "vda").
pub const ROOT_DEV: u64 = inode::mkdev(254, 0);

/// Probe the disks, mount the root file system and build the tree under it. Linux:
/// `prepare_namespace` (`mount_root`) with the pieces `vfs_caches_init`, `chr_dev_init`,
/// `devtmpfs_init` and `shmem_init` do earlier. Without a disk holding a cpio image the
/// root is an empty tmpfs (with a warning), so the kernel still boots.
#[no_mangle]
#[inline(never)]
pub fn prepare_namespace() {
    char_dev::chr_dev_init();
    crate::mm::shmem::register_shmem_file_setup(file_mmap::shmem_zero_mapping);
    crate::drivers::virtio_blk::virtio_blk_init();
    for blk in crate::drivers::virtio_blk::virtio_blk_devices() {
        let disk = block_dev::Gendisk {
            name: blk.disk_name(),
            rdev: inode::mkdev(
                block_dev::VIRTBLK_MAJOR,
                block_dev::VIRTBLK_MINORS * blk.index as u32,
            ),
            nr_sectors: blk.capacity,
            bdev: blk.clone(),
            swap: blk.clone(),
        };
        if let Err(e) = block_dev::add_disk(disk) {
            pr_warn!("virtio_blk: {} not registered: {e:?}", blk.disk_name());
        }
    }
    let root = match mount_root() {
        Some(root) => root,
        None => {
            pr_warn!("VFS: no cpio root disk found: root is an empty tmpfs");
            let root = tmpfs::shmem_fill_super("tmpfs", 0o755);
            for d in ["dev", "tmp", "proc", "bin", "etc"] {
                let _ = root.create(d, inode::S_IFDIR | 0o755, 0);
            }
            root
        }
    };
    let ns = namei::set_init_ns(root);
    if let Err(e) = devtmpfs_mount(&ns) {
        pr_warn!("devtmpfs: not mounted on /dev: {e:?}");
    }
    for (path, mode) in [("/dev/shm", 0o1777), ("/tmp", 0o1777)] {
        match ns.do_add_mount(path, tmpfs::shmem_fill_super("tmpfs", mode)) {
            Ok(()) => pr_info!("tmpfs: mounted on {path}"),
            Err(e) => pr_warn!("tmpfs: not mounted on {path}: {e:?}"),
        }
    }
    proc::proc_init();
    tracefs::tracefs_init();
}

/// Find the disk whose first bytes are a newc header and mount it read-only as `/`.
/// Linux: `mount_root` -> `mount_block_root`.
fn mount_root() -> Option<alloc::sync::Arc<dyn Inode>> {
    for blk in crate::drivers::virtio_blk::virtio_blk_devices() {
        let mut magic = [0u8; 6];
        if blk.read_at(0, &mut magic).is_err() || &magic != cpio::NEWC_MAGIC {
            continue;
        }
        match cpiofs::cpiofs_fill_super(blk.clone(), ROOT_DEV) {
            Ok(root) => {
                pr_info!(
                    "VFS: Mounted root (cpio filesystem) readonly on device 254:0 ({} KiB)",
                    blk.capacity / 2
                );
                return Some(root);
            }
            Err(e) => pr_warn!(
                "VFS: disk at {:#x} holds a bad cpio image: {e:?}",
                blk.mmio_base
            ),
        }
    }
    None
}

/// Mount a devtmpfs on /dev holding the console, null, zero, the disks (`vda`, `vdb`...,
/// block devices, mode 0660 as udev makes them) and the shm directory.
/// Linux: `devtmpfs_init` + `devtmpfs_mount` + the `device_create` calls of each driver.
fn devtmpfs_mount(ns: &MntNamespace) -> crate::errno::KResult<()> {
    let dev = tmpfs::shmem_fill_super("devtmpfs", 0o755);
    for (name, rdev) in [
        ("console", char_dev::CONSOLE_DEV),
        ("null", char_dev::NULL_DEV),
        ("zero", char_dev::ZERO_DEV),
    ] {
        let mode = if name == "console" { 0o600 } else { 0o666 };
        dev.create(name, inode::S_IFCHR | mode, rdev)?;
    }
    for disk in block_dev::disks() {
        dev.create(&disk.name, inode::S_IFBLK | 0o660, disk.rdev)?;
    }
    dev.create("shm", inode::S_IFDIR | 0o1777, 0)?;
    ns.do_add_mount("/dev", dev)?;
    pr_info!("devtmpfs: mounted on /dev");
    Ok(())
}

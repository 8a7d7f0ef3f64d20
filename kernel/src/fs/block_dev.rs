//! What a file system needs from a disk: byte-addressed reads.
//!
//! Linux: `fs/block_dev.c` and `include/linux/blkdev.h`, where a file system reads its
//! blocks through the block device's own page cache (`sb_bread`, `__bread_gfp`). Our only
//! disk file system (the cpio root) reads file pages straight from the device, so the trait
//! is one call. The virtio driver implements it; host tests use an in-memory image.
//!
//! The disks themselves are registered here at boot ([`add_disk`], Linux:
//! `device_add_disk`): devtmpfs makes their `/dev/vdX` nodes, swapon(2) finds a disk by the
//! node's device number ([`blkdev_get_by_dev`]) and /proc/partitions lists them.
use crate::errno::{Errno, KResult};
use crate::mm::swapfile::SwapBdev;
use crate::sync::SpinLockIrq;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// A readable block device (Linux: `struct block_device`, reduced to its read path).
pub trait BlockDevice: Send + Sync {
    /// Fill `buf` from byte offset `off`; EIO past the end or on a device error.
    fn read_bytes(&self, off: u64, buf: &mut [u8]) -> KResult<()>;
    /// Fill `bufs` one after the other from byte offset `off`, as one contiguous range:
    /// a device that can do it in fewer requests overrides this (Linux: a multi-segment
    /// bio). The default reads each buffer on its own.
    fn read_bytes_vectored(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        let mut at = off;
        for buf in bufs.iter_mut() {
            self.read_bytes(at, buf)?;
            at += buf.len() as u64;
        }
        Ok(())
    }
    /// Capacity in bytes (Linux: `bdev_nr_sectors() << 9`).
    fn size_bytes(&self) -> u64;
}

/// A disk image in memory (Linux: `drivers/block/brd.c`, the RAM disk): host tests and a
/// root file system built into memory.
pub struct RamDisk(pub Vec<u8>);

impl BlockDevice for RamDisk {
    fn read_bytes(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        let start = usize::try_from(off).map_err(|_| Errno::EIO)?;
        let end = start.checked_add(buf.len()).ok_or(Errno::EIO)?;
        buf.copy_from_slice(self.0.get(start..end).ok_or(Errno::EIO)?);
        Ok(())
    }

    fn size_bytes(&self) -> u64 {
        self.0.len() as u64
    }
}

/// One disk as the block layer knows it (Linux: a `gendisk` and its whole-disk
/// `block_device`): its name, device number, size, and the two views of it the kernel uses
/// (file system reads, swap page I/O).
#[derive(Clone)]
pub struct Gendisk {
    /// `vda`, `vdb`... (Linux: `disk_name`).
    pub name: String,
    /// Device number: major 254 (virtio-blk's dynamic major on Linux arm64 as QEMU guests
    /// usually see it), minor 16 per disk (Linux: `1 << PART_BITS` minors per virtio disk).
    pub rdev: u64,
    /// Capacity in 512-byte sectors.
    pub nr_sectors: u64,
    /// The device for file systems.
    pub bdev: Arc<dyn BlockDevice>,
    /// The device for swap (Linux: the same `block_device`; here mm's own trait).
    pub swap: Arc<dyn SwapBdev>,
}

/// Major number of virtio-blk disks (Linux: `register_blkdev(0, "virtblk")`, dynamic,
/// 254 in a Debian arm64 guest of QEMU `virt`).
pub const VIRTBLK_MAJOR: u32 = 254;
/// Minors per virtio disk (Linux: `PART_BITS` = 4).
pub const VIRTBLK_MINORS: u32 = 16;

static DISKS: SpinLockIrq<Vec<Gendisk>> = SpinLockIrq::new(Vec::new());

/// Make a disk known: /dev node, /proc/partitions line, swapon target (Linux:
/// `device_add_disk`). EBUSY when its number is taken.
pub fn add_disk(disk: Gendisk) -> KResult<()> {
    let mut disks = DISKS.lock();
    if disks.iter().any(|d| d.rdev == disk.rdev) {
        return Err(Errno::EBUSY);
    }
    disks.push(disk);
    Ok(())
}

/// The disks, in the order they were added.
pub fn disks() -> Vec<Gendisk> {
    DISKS.lock().clone()
}

/// The disk of block device number `rdev`, or ENXIO (Linux: `blkdev_get_by_dev`).
pub fn blkdev_get_by_dev(rdev: u64) -> KResult<Gendisk> {
    DISKS
        .lock()
        .iter()
        .find(|d| d.rdev == rdev)
        .cloned()
        .ok_or(Errno::ENXIO)
}

/// `/proc/partitions` (Linux 5.10: `show_partition` in block/genhd.c): a header, a blank
/// line, then `major minor #blocks name` with #blocks in KiB. Our disks have no partition
/// tables, so there is one line per disk.
pub fn proc_partitions() -> String {
    use core::fmt::Write;
    let mut s = String::from("major minor  #blocks  name\n\n");
    for d in DISKS.lock().iter() {
        let _ = writeln!(
            s,
            "{:4}  {:7} {:10} {}",
            super::inode::major(d.rdev),
            super::inode::minor(d.rdev),
            d.nr_sectors >> 1,
            d.name
        );
    }
    s
}

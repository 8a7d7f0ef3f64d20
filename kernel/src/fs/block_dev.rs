//! What a file system needs from a disk: byte-addressed reads.
//!
//! Linux: `fs/block_dev.c` and `include/linux/blkdev.h`, where a file system reads its
//! blocks through the block device's own page cache (`sb_bread`, `__bread_gfp`). Our only
//! disk file system (the cpio root) reads file pages straight from the device, so the trait
//! is one call. The virtio driver implements it; host tests use an in-memory image.
use crate::errno::{Errno, KResult};
use alloc::vec::Vec;

/// A readable block device (Linux: `struct block_device`, reduced to its read path).
pub trait BlockDevice: Send + Sync {
    /// Fill `buf` from byte offset `off`; EIO past the end or on a device error.
    fn read_bytes(&self, off: u64, buf: &mut [u8]) -> KResult<()>;
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

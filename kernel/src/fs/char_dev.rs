//! Character devices: the registry `open` consults for S_IFCHR inodes, and the memory
//! devices `/dev/null` and `/dev/zero`.
//!
//! Linux: `fs/char_dev.c` (`register_chrdev_region` + `cdev_add`, `chrdev_open`) and
//! `drivers/char/mem.c` (`null_fops`, `zero_fops`, `chr_dev_init`). The console lives in
//! `console.rs`.
use super::inode::mkdev;
use crate::errno::{Errno, KResult};
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;

/// What a character device does with reads and writes (Linux: its `file_operations`).
pub trait CharDevice: Send + Sync {
    /// Read at `pos` (ignored by stream devices); `f_flags` carries O_NONBLOCK.
    fn read(&self, f_flags: u32, pos: u64, buf: &mut [u8]) -> KResult<usize>;
    /// Write at `pos` (ignored by stream devices).
    fn write(&self, f_flags: u32, pos: u64, buf: &[u8]) -> KResult<usize>;
    /// A stream has no file position: lseek, pread and pwrite fail with ESPIPE
    /// (Linux: `stream_open`, FMODE_STREAM). The console is one; null and zero are not.
    fn is_stream(&self) -> bool {
        false
    }
    /// A terminal: `isatty` (ioctl TCGETS) succeeds on it, ENOTTY elsewhere
    /// (Linux: a file whose `f_op` is `tty_fops`).
    fn is_tty(&self) -> bool {
        false
    }
}

static CHRDEVS: SpinLockIrq<BTreeMap<u64, Arc<dyn CharDevice>>> = SpinLockIrq::new(BTreeMap::new());

/// Make `dev` the driver of device number `rdev` (from [`mkdev`]). EBUSY when taken.
/// Linux: `register_chrdev_region` + `cdev_add`.
pub fn register_chrdev(rdev: u64, dev: Arc<dyn CharDevice>) -> KResult<()> {
    let mut map = CHRDEVS.lock();
    if map.contains_key(&rdev) {
        return Err(Errno::EBUSY);
    }
    map.insert(rdev, dev);
    Ok(())
}

/// The driver of `rdev`, or ENXIO (Linux: `chrdev_open` -> `kobj_lookup`).
#[no_mangle]
#[inline(never)]
pub fn chrdev_open(rdev: u64) -> KResult<Arc<dyn CharDevice>> {
    CHRDEVS.lock().get(&rdev).cloned().ok_or(Errno::ENXIO)
}

/// `/dev/null`: reads see end of file, writes vanish (Linux: `read_null`, `write_null`).
pub struct NullDevice;

impl CharDevice for NullDevice {
    fn read(&self, _f: u32, _pos: u64, _buf: &mut [u8]) -> KResult<usize> {
        Ok(0)
    }
    fn write(&self, _f: u32, _pos: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
}

/// `/dev/zero`: reads return zeros, writes vanish (Linux: `read_iter_zero`).
pub struct ZeroDevice;

impl CharDevice for ZeroDevice {
    fn read(&self, _f: u32, _pos: u64, buf: &mut [u8]) -> KResult<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _f: u32, _pos: u64, buf: &[u8]) -> KResult<usize> {
        Ok(buf.len())
    }
}

/// Device number of /dev/null (1:3).
pub const NULL_DEV: u64 = mkdev(1, 3);
/// Device number of /dev/zero (1:5).
pub const ZERO_DEV: u64 = mkdev(1, 5);
/// Device number of /dev/console (5:1).
pub const CONSOLE_DEV: u64 = mkdev(5, 1);

/// Register the memory devices and the console (Linux: `chr_dev_init` + `tty_init`).
/// Idempotent.
pub fn chr_dev_init() {
    let _ = register_chrdev(NULL_DEV, Arc::new(NullDevice));
    let _ = register_chrdev(ZERO_DEV, Arc::new(ZeroDevice));
    let _ = register_chrdev(CONSOLE_DEV, Arc::new(super::console::ConsoleDevice));
}

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
    /// What would not block now, as POLL* bits (Linux: `f_op->poll`). Default: readable
    /// and writable, as Linux's DEFAULT_POLLMASK for a file without a poll method.
    fn poll(&self) -> u16 {
        POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
    }
    /// `poll` for a file opened with `f_flags` (the answer may depend on O_NONBLOCK, as
    /// a userfaultfd's does). Default: `poll`.
    fn poll_file(&self, f_flags: u32) -> u16 {
        let _ = f_flags;
        self.poll()
    }
    /// ioctl(2) on the device (Linux: `f_op->unlocked_ioctl`). Default: ENOTTY, as for
    /// a file without the method.
    fn unlocked_ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        let _ = (cmd, arg);
        Err(Errno::ENOTTY)
    }
    /// The device as `Any`, for the layer that made it to find its own type again (net/
    /// finds the socket behind a file: Linux's `sock_from_file` compares `f_op` with
    /// `socket_file_ops`). Default: None.
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        None
    }
}

/// Where poll(2) sleeps: every device whose [`CharDevice::poll`] answer can change wakes
/// it (pipes, sockets). Linux gives each file its own queue and a poll table that waits
/// on all of them; one shared queue means spurious wake-ups, which poll tolerates (it
/// rechecks every fd).
pub static POLL_WAIT: crate::sync::WaitQueueHead = crate::sync::WaitQueueHead::new();

/// poll(2) event: data to read.
pub const POLLIN: u16 = 0x1;
/// poll(2) event: urgent data.
pub const POLLPRI: u16 = 0x2;
/// poll(2) event: writing will not block.
pub const POLLOUT: u16 = 0x4;
/// poll(2) event: an error (a pipe's write end without a reader).
pub const POLLERR: u16 = 0x8;
/// poll(2) event: hung up (no writer left; a socket shut down both ways).
pub const POLLHUP: u16 = 0x10;
/// poll(2) event: not an open fd.
pub const POLLNVAL: u16 = 0x20;
/// poll(2) event: normal data to read.
pub const POLLRDNORM: u16 = 0x40;
/// poll(2) event: normal data may be written.
pub const POLLWRNORM: u16 = 0x100;
/// poll(2) event: the peer shut its writing side (Linux: `EPOLLRDHUP`).
pub const POLLRDHUP: u16 = 0x2000;

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

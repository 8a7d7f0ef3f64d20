//! The memory-management system calls as the table sees them: decode the registers, find
//! the calling task's mm, and call the typed handler in the mm file Linux keeps it in
//! (`sys_mlock(mm, start, len)` in `mm/mlock.rs`). Linux: the `__arm64_sys_*` wrappers
//! that `SYSCALL_DEFINEn` generates, which also read `current->mm`.
//!
//! mm/ cannot see tasks, so the limits and capabilities it checks (RLIMIT_AS, _DATA,
//! _MEMLOCK, _STACK, CAP_IPC_LOCK, CAP_SYS_RAWIO) are copied from the task into the mm
//! here, before the system calls that read them (`sync_mm_limits`).
use super::SyscallArgs;
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::vma::MappedFile;
use crate::task::{current, Task};
use alloc::sync::Arc;

/// The calling task and its mm (Linux: `current`, `current->mm`). EFAULT for a task
/// without one (a kernel thread).
fn current_mm() -> KResult<(Arc<Task>, Arc<MmStruct>)> {
    let task = current().ok_or(Errno::ESRCH)?;
    let mm = task.mm.lock().clone().ok_or(Errno::EFAULT)?;
    Ok((task, mm))
}

/// `current_mm` with the task's rlimits and root capabilities copied into the mm.
fn current_mm_with_limits() -> KResult<Arc<MmStruct>> {
    let (task, mm) = current_mm()?;
    crate::task::sync_mm_limits(&task, &mm);
    Ok(mm)
}

/// mmap(2). The fd is looked up only without MAP_ANONYMOUS; a bad one is passed as None
/// so `ksys_mmap_pgoff` reports EBADF where Linux does. /dev/zero is a file like any
/// other here, so do_mmap checks its open mode like any file's before its mmap method
/// (Linux: `mmap_zero`) makes the mapping shmem (VM_SHARED) or anonymous.
pub fn __arm64_sys_mmap(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::mm::mmap::MAP_ANONYMOUS;
    let (addr, len, prot, flags, fd, off) = (a.0[0], a.0[1], a.0[2], a.0[3], a.0[4] as i32, a.0[5]);
    let mut file: Option<Arc<dyn MappedFile>> = None;
    if flags & MAP_ANONYMOUS == 0 {
        if let Ok(f) = crate::fs::sys::fget(fd) {
            file = Some(Arc::new(crate::fs::file_mmap::FileMapping::new(f)));
        }
    }
    let mm = current_mm_with_limits()?;
    crate::mm::mmap::sys_mmap(&mm, addr, len, prot, flags, file, off)
}

/// munmap(2).
pub fn __arm64_sys_munmap(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    crate::mm::mmap::sys_munmap(&current_mm()?.1, a.0[0], a.0[1])
}

/// mprotect(2).
pub fn __arm64_sys_mprotect(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mprotect::sys_mprotect(&mm, a.0[0], a.0[1], a.0[2])
}

/// brk(2).
pub fn __arm64_sys_brk(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mmap::sys_brk(&mm, a.0[0])
}

/// mincore(2).
pub fn __arm64_sys_mincore(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    crate::mm::mincore::sys_mincore(&current_mm()?.1, a.0[0], a.0[1], a.0[2])
}

/// msync(2).
pub fn __arm64_sys_msync(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    crate::mm::msync::sys_msync(&current_mm()?.1, a.0[0], a.0[1], a.0[2])
}

/// mlock(2).
pub fn __arm64_sys_mlock(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mlock::sys_mlock(&mm, a.0[0], a.0[1])
}

/// mlock2(2); `flags` is an `int`: the upper half of the register is ignored.
pub fn __arm64_sys_mlock2(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mlock::sys_mlock2(&mm, a.0[0], a.0[1], a.0[2] as u32)
}

/// munlock(2).
pub fn __arm64_sys_munlock(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    crate::mm::mlock::sys_munlock(&current_mm()?.1, a.0[0], a.0[1])
}

/// mlockall(2); `flags` is an `int`.
pub fn __arm64_sys_mlockall(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mlock::sys_mlockall(&mm, a.0[0] as u32)
}

/// munlockall(2).
pub fn __arm64_sys_munlockall(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    crate::mm::mlock::sys_munlockall(&current_mm()?.1)
}

/// madvise(2); `behavior` is an `int`.
pub fn __arm64_sys_madvise(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let behavior = a.0[2] as i32;
    // MADV_HWPOISON checks CAP_SYS_ADMIN, which mm/ reads off the mm.
    let mm = if behavior == crate::mm::madvise::MADV_HWPOISON {
        current_mm_with_limits()?
    } else {
        current_mm()?.1
    };
    crate::mm::madvise::sys_madvise(&mm, a.0[0], a.0[1], behavior)
}

/// mremap(2).
pub fn __arm64_sys_mremap(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mm = current_mm_with_limits()?;
    crate::mm::mremap::sys_mremap(&mm, a.0[0], a.0[1], a.0[2], a.0[3], a.0[4])
}

/// The disk a swapon/swapoff path names, and the path as /proc/swaps prints it (Linux:
/// `file_open_name` then `claim_swapfile`'s type test). ENOENT and the other lookup errors
/// as open(2) has them; EINVAL for anything but a block device (Linux accepts a regular
/// file and swaps to its blocks through `bmap`/`swap_activate`: our file systems have
/// neither, which Linux also answers with EINVAL); ENXIO for a node of no disk.
fn swap_path_to_disk(
    cwd: &str,
    path: &str,
) -> KResult<(alloc::string::String, crate::fs::block_dev::Gendisk)> {
    let p = crate::fs::namei::kern_path(cwd, path)?;
    let a = p.inode.attr();
    if a.i_mode() & crate::fs::inode::S_IFMT != crate::fs::inode::S_IFBLK {
        return Err(Errno::EINVAL);
    }
    let disk = crate::fs::block_dev::blkdev_get_by_dev(a.i_rdev)?;
    Ok((p.path, disk))
}

/// Turn on swap on the block device at `path` with swapon(2)'s `swap_flags`, for the
/// system call and for `swap=` on the kernel command line. The permission check is the
/// caller's. Linux 5.10: `sys_swapon` up to `claim_swapfile` (the rest is
/// `mm::swapfile::do_swapon`). EBUSY for the disk the root file system is mounted from
/// (Linux: `blkdev_get` with FMODE_EXCL finds it claimed by the mount).
pub fn ksys_swapon(cwd: &str, path: &str, swap_flags: u32) -> KResult<usize> {
    use crate::mm::swapfile::SWAP_FLAGS_VALID;
    if swap_flags & !SWAP_FLAGS_VALID != 0 {
        return Err(Errno::EINVAL);
    }
    let (name, disk) = swap_path_to_disk(cwd, path)?;
    let root_dev = crate::fs::namei::kern_path("/", "/")?
        .inode
        .attr()
        .i_sb
        .s_dev;
    if disk.rdev == root_dev {
        return Err(Errno::EBUSY);
    }
    crate::mm::swapfile::do_swapon(&name, disk.swap, swap_flags)?;
    Ok(0)
}

/// Is the caller allowed to manage swap? (Linux: `capable(CAP_SYS_ADMIN)`; root here.)
fn capable_sys_admin() -> KResult<()> {
    let task = current().ok_or(Errno::ESRCH)?;
    if task.cred.lock().euid == 0 {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// swapon(2): `swapon(path, swapflags)`. Linux 5.10 `sys_swapon` order: EINVAL for
/// unknown flags, EPERM without CAP_SYS_ADMIN, then the path, then the device and header.
/// `swapflags` is an `int`: the upper half of the register is ignored.
pub fn __arm64_sys_swapon(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let flags = a.0[1] as u32;
    if flags & !crate::mm::swapfile::SWAP_FLAGS_VALID != 0 {
        return Err(Errno::EINVAL);
    }
    capable_sys_admin()?;
    let path = crate::fs::sys::getname(a.0[0], false)?;
    let cwd = current().ok_or(Errno::ESRCH)?.cwd.lock().clone();
    ksys_swapon(&cwd, &path, flags)
}

/// swapoff(2): `swapoff(path)`. Linux 5.10 `sys_swapoff`: EPERM without CAP_SYS_ADMIN, the
/// path's lookup errors, EINVAL when no active swap area is on that device; the work is
/// `mm::swapfile::do_swapoff` (which brings every page back in).
pub fn __arm64_sys_swapoff(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    capable_sys_admin()?;
    let path = crate::fs::sys::getname(a.0[0], false)?;
    let cwd = current().ok_or(Errno::ESRCH)?.cwd.lock().clone();
    let (_, disk) = swap_path_to_disk(&cwd, &path)?;
    crate::mm::swapfile::do_swapoff(&disk.swap)?;
    Ok(0)
}

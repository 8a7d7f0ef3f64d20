//! msync(2). Linux: `mm/msync.c`. Our files live in memory (tmpfs, the read-only root),
//! so writing back is a no-op; the checks and errno values are Linux's.
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::mmap_lock::mmap_read_lock_killable;
use crate::mm::vma::{find_vma, VmFlags};

/// Flags (Linux: `include/uapi/asm-generic/mman-common.h`).
pub const MS_ASYNC: usize = 1;
/// Invalidate other mappings.
pub const MS_INVALIDATE: usize = 2;
/// Synchronous write-back.
pub const MS_SYNC: usize = 4;

/// msync(2): EINVAL for unknown flags, an unaligned start, or MS_ASYNC with MS_SYNC;
/// ENOMEM when part of the range is unmapped (after doing the rest); EBUSY for
/// MS_INVALIDATE over a locked VMA. Linux: `SYSCALL_DEFINE3(msync)`, which walks the
/// VMAs under `mmap_lock` for read.
#[no_mangle]
#[inline(never)]
pub fn sys_msync(mm: &MmStruct, mut start: usize, len: usize, flags: usize) -> KResult<usize> {
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 || start & 0xfff != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.checked_add(0xfff).ok_or(Errno::ENOMEM)? & !0xfff;
    let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
    if end == start {
        return Ok(0);
    }
    let mm = mmap_read_lock_killable(mm)?;
    let mut unmapped = Ok(0);
    loop {
        let Some(vma) = find_vma(&mm, start) else {
            return Err(Errno::ENOMEM);
        };
        if start < vma.vm_start {
            unmapped = Err(Errno::ENOMEM);
            start = vma.vm_start;
            if start >= end {
                return unmapped;
            }
        }
        if flags & MS_INVALIDATE != 0 && vma.vm_flags.contains(VmFlags::VM_LOCKED) {
            return Err(Errno::EBUSY);
        }
        // MS_SYNC of a shared file mapping: vfs_fsync_range, nothing to write here.
        start = vma.vm_end;
        if start >= end {
            return unmapped;
        }
    }
}

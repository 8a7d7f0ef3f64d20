//! msync(2). Linux: `mm/msync.c`. Our files live in memory (tmpfs, the read-only root),
//! so writing back is a no-op; the checks and errno values are Linux's.
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use crate::mm::vma::{find_vma, VmFlags};
use crate::syscall::SyscallArgs;

/// Flags (Linux: `include/uapi/asm-generic/mman-common.h`).
pub const MS_ASYNC: usize = 1;
/// Invalidate other mappings.
pub const MS_INVALIDATE: usize = 2;
/// Synchronous write-back.
pub const MS_SYNC: usize = 4;

/// msync(2): EINVAL for unknown flags, an unaligned start, or MS_ASYNC with MS_SYNC;
/// ENOMEM when part of the range is unmapped (after doing the rest); EBUSY for
/// MS_INVALIDATE over a locked VMA. Linux: `SYSCALL_DEFINE3(msync)`.
#[no_mangle]
#[inline(never)]
pub fn sys_msync(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (mut start, len, flags) = (a.0[0], a.0[1], a.0[2]);
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
    crate::mm::syscalls::with_mm(|mm, _, _| {
        let mut unmapped = Ok(0);
        loop {
            let Some(vma) = find_vma(mm, start) else {
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
    })?
}

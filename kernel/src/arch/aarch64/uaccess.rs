//! Reaching user memory from the kernel. Linux: `arch/arm64/include/asm/uaccess.h`,
//! `lib/usercopy.c`, `lib/strncpy_from_user.c`.
//!
//! Two defences, as Linux has: `access_ok` rejects ranges outside the user half, and the
//! copies use unprivileged `ldtr`/`sttr` so EL0's permissions apply. A fault that the page
//! fault handler cannot resolve ends at the exception-table fixup and the system call
//! returns EFAULT instead of crashing. (cortex-a72 has no PAN, ARMv8.1; the unprivileged
//! accesses give the same protection for these paths.)
use crate::arch::cpu;
use crate::errno::{Errno, KResult};

/// First address above user space (48-bit VA): Linux `TASK_SIZE`.
pub const TASK_SIZE: usize = 1 << 48;

/// Is `[addr, addr + size)` inside user space? Linux: `access_ok`.
pub fn access_ok(addr: usize, size: usize) -> bool {
    addr.checked_add(size).is_some_and(|end| end <= TASK_SIZE)
}

/// Copy user bytes into `dst`. Linux: `copy_from_user` (all-or-EFAULT here).
pub fn copy_from_user(dst: &mut [u8], src: usize) -> KResult<()> {
    if !access_ok(src, dst.len()) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `dst` is a valid slice of that length.
    match unsafe { cpu::raw_copy_from_user(dst.as_mut_ptr(), src, dst.len()) } {
        0 => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// Copy `src` to user memory. Linux: `copy_to_user`.
pub fn copy_to_user(dst: usize, src: &[u8]) -> KResult<()> {
    if !access_ok(dst, src.len()) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: `src` is a valid slice of that length.
    match unsafe { cpu::raw_copy_to_user(dst, src.as_ptr(), src.len()) } {
        0 => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// Read a plain value from user memory (Linux: `get_user`).
pub fn get_user<T: Copy + Default>(addr: usize) -> KResult<T> {
    let mut v = T::default();
    // SAFETY: T is plain data; we fill all its bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, core::mem::size_of::<T>())
    };
    copy_from_user(bytes, addr)?;
    Ok(v)
}

/// Write a plain value to user memory (Linux: `put_user`).
pub fn put_user<T: Copy>(addr: usize, v: T) -> KResult<()> {
    // SAFETY: reading the bytes of a Copy value.
    let bytes = unsafe {
        core::slice::from_raw_parts(&v as *const T as *const u8, core::mem::size_of::<T>())
    };
    copy_to_user(addr, bytes)
}

/// Copy a NUL-terminated string of at most `buf.len() - 1` bytes; its length.
/// ENAMETOOLONG when no NUL fits (Linux: `strncpy_from_user` + the caller's check).
pub fn strncpy_from_user(buf: &mut [u8], src: usize) -> KResult<usize> {
    for (i, slot) in buf.iter_mut().enumerate() {
        let mut c = [0u8];
        copy_from_user(&mut c, src.checked_add(i).ok_or(Errno::EFAULT)?)?;
        *slot = c[0];
        if c[0] == 0 {
            return Ok(i);
        }
    }
    Err(Errno::ENAMETOOLONG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_ok_rejects_kernel_and_wrapping_ranges() {
        assert!(access_ok(0x40_0000, 4096));
        assert!(access_ok(TASK_SIZE - 8, 8));
        assert!(!access_ok(TASK_SIZE - 8, 9));
        assert!(!access_ok(0xffff_0000_4020_0000, 1));
        assert!(!access_ok(usize::MAX - 2, 8));
    }

    #[test]
    fn strncpy_stops_at_nul_or_reports_too_long() {
        let s = b"init\0junk";
        let mut buf = [0u8; 16];
        assert_eq!(strncpy_from_user(&mut buf, s.as_ptr() as usize), Ok(4));
        assert_eq!(&buf[..4], b"init");
        let mut small = [0u8; 3];
        assert_eq!(
            strncpy_from_user(&mut small, s.as_ptr() as usize),
            Err(Errno::ENAMETOOLONG)
        );
    }
}

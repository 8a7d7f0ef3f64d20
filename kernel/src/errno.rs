//! Error numbers, as Linux arm64 returns them (negated) from system calls.
//! Linux: `include/uapi/asm-generic/errno-base.h`, `errno.h`.
#![allow(missing_docs)]

/// A Linux errno value. System calls return `-(errno as isize)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
#[allow(clippy::upper_case_acronyms)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    ETXTBSY = 26,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    EPIPE = 32,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    EIDRM = 43,
    EOVERFLOW = 75,
    EOPNOTSUPP = 95,
}

impl Errno {
    /// The value a system call returns in x0: `-errno`.
    pub const fn as_ret(self) -> isize {
        -(self as i32 as isize)
    }
}

/// Result of kernel operations that fail with an errno.
pub type KResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_linux() {
        assert_eq!(Errno::ENOMEM as i32, 12);
        assert_eq!(Errno::EINVAL.as_ret(), -22);
        assert_eq!(Errno::ENOSYS as i32, 38);
        assert_eq!(Errno::EOVERFLOW as i32, 75);
        assert_eq!(Errno::EIDRM as i32, 43);
    }
}

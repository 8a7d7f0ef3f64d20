//! Error numbers, as Linux arm64 returns them (negated) from system calls.
//! Linux: `include/uapi/asm-generic/errno-base.h`, `errno.h`.
#![allow(missing_docs)]

/// A Linux errno value. System calls return `-(errno as isize)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
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
    ENOTSOCK = 88,
    EPROTONOSUPPORT = 93,
    ESOCKTNOSUPPORT = 94,
    /// Message too long (a record socket's write).
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EAFNOSUPPORT = 97,
    ECONNRESET = 104,
    /// Connection timed out; also a futex wait's timeout (Linux: `ETIMEDOUT`).
    ETIMEDOUT = 110,
    /// Memory page has hardware error (Linux: `EHWPOISON`; gup with FOLL_HWPOISON).
    EHWPOISON = 133,
    /// Kernel-internal (never seen by user space, Linux: `include/linux/errno.h`): an
    /// interrupted sleep; restart the system call if the handler has SA_RESTART or no
    /// handler runs, else EINTR.
    ERESTARTSYS = 512,
    /// Kernel-internal: always restart, handler or not.
    ERESTARTNOINTR = 513,
    /// Kernel-internal: restart only if no handler runs, else EINTR.
    ERESTARTNOHAND = 514,
    /// Kernel-internal: restart through restart_syscall(2) and the task's `restart_block`
    /// if no handler runs, else EINTR.
    ERESTART_RESTARTBLOCK = 516,
}

impl Errno {
    /// Is this one of the kernel-internal restart codes that `do_signal` turns into a
    /// restart or EINTR on the way back to user space?
    pub const fn is_restart(self) -> bool {
        matches!(
            self,
            Errno::ERESTARTSYS
                | Errno::ERESTARTNOINTR
                | Errno::ERESTARTNOHAND
                | Errno::ERESTART_RESTARTBLOCK
        )
    }

    /// The restart code a system call left in x0 (`-512`...), if it is one.
    pub const fn restart_from_ret(x0: u64) -> Option<Errno> {
        match x0 as i64 {
            -512 => Some(Errno::ERESTARTSYS),
            -513 => Some(Errno::ERESTARTNOINTR),
            -514 => Some(Errno::ERESTARTNOHAND),
            -516 => Some(Errno::ERESTART_RESTARTBLOCK),
            _ => None,
        }
    }

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
        assert_eq!(Errno::ERESTARTSYS.as_ret(), -512);
        assert_eq!(Errno::ERESTART_RESTARTBLOCK as i32, 516);
    }

    #[test]
    fn restart_codes_round_trip_through_x0() {
        for e in [
            Errno::ERESTARTSYS,
            Errno::ERESTARTNOINTR,
            Errno::ERESTARTNOHAND,
            Errno::ERESTART_RESTARTBLOCK,
        ] {
            assert!(e.is_restart());
            assert_eq!(Errno::restart_from_ret(e.as_ret() as u64), Some(e));
        }
        assert!(!Errno::EINTR.is_restart());
        assert_eq!(Errno::restart_from_ret(Errno::EINTR.as_ret() as u64), None);
        assert_eq!(Errno::restart_from_ret(512), None);
    }
}

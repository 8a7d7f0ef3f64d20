//! The socket system calls and sockfs. Linux: `net/socket.c` (`__sys_socketpair`,
//! `__sys_shutdown`, `sock_alloc`, `sock_alloc_file`, `sockfd_lookup`, `__sock_create`).
//!
//! Only AF_UNIX SOCK_STREAM pairs exist ([`super::unix`]). Each socket is an inode of
//! the internal sockfs (mode `S_IFSOCK | 0777`, owned by its creator, as `sock_alloc`
//! makes it) and an open file `socket:[ino]` whose device is the socket.
use super::unix::{unix_stream_socketpair, UnixSock};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::copy_to_user;
use crate::errno::{Errno, KResult};
use crate::fs::char_dev::CharDevice;
use crate::fs::file::File;
use crate::fs::inode::{Inode, InodeAttr, SuperBlock, S_IFSOCK};
use crate::fs::{O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::syscall::SyscallArgs;
use crate::task::RLIMIT_NOFILE;
use alloc::sync::Arc;

/// Unix domain (Linux: `AF_UNIX`, = `AF_LOCAL`).
pub const AF_UNIX: usize = 1;
/// IPv4.
pub const AF_INET: usize = 2;
/// IPv6.
pub const AF_INET6: usize = 10;
/// Netlink.
pub const AF_NETLINK: usize = 16;
/// One past the last address family (Linux: `NPROTO` = `AF_MAX`: 45 in 5.10, AF_XDP
/// being 44; 5.15 added AF_MCTP, 45).
pub const NPROTO: usize = 45;
/// Byte stream.
pub const SOCK_STREAM: usize = 1;
/// Datagrams.
pub const SOCK_DGRAM: usize = 2;
/// Raw (AF_UNIX treats it as SOCK_DGRAM).
pub const SOCK_RAW: usize = 3;
/// Reliable datagrams.
pub const SOCK_SEQPACKET: usize = 5;
/// One past the last type (Linux: `SOCK_MAX`).
pub const SOCK_MAX: usize = 11;
/// The type part of socket(2)'s `type` (Linux: `SOCK_TYPE_MASK`).
pub const SOCK_TYPE_MASK: usize = 0xf;
/// Close on exec (= O_CLOEXEC).
pub const SOCK_CLOEXEC: usize = O_CLOEXEC as usize;
/// Non-blocking (= O_NONBLOCK on arm64).
pub const SOCK_NONBLOCK: usize = O_NONBLOCK as usize;

/// The inode of a socket (Linux: `struct socket_alloc`'s inode in sockfs).
struct SockInode {
    attr: InodeAttr,
}

impl Inode for SockInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }
}

/// The internal sockfs instance (Linux: `sock_mnt`).
static SOCKFS: spin::Once<Arc<SuperBlock>> = spin::Once::new();

/// An open file for `sock` (Linux: `sock_alloc` + `sock_alloc_file`): a new sockfs
/// inode, S_IFSOCK with every permission bit, owned by the caller; read/write with
/// O_NONBLOCK from `flags`.
fn sock_alloc_file(sock: UnixSock, flags: u32) -> Arc<File> {
    let sb =
        SOCKFS.call_once(|| SuperBlock::new("sockfs", crate::fs::inode::get_anon_bdev(), false, 1));
    let ino = sb.get_next_ino();
    let inode: Arc<dyn Inode> = Arc::new(SockInode {
        attr: InodeAttr::new(sb, ino, S_IFSOCK | 0o777, 1, 0),
    });
    crate::fs::attr::inode_init_owner(&*inode, None, S_IFSOCK | 0o777);
    let dev: Arc<dyn CharDevice> = Arc::new(sock);
    Arc::new(File::new(
        alloc::format!("socket:[{ino}]"),
        inode,
        Some(dev),
        O_RDWR | (flags & O_NONBLOCK),
    ))
}

/// Which pair `socketpair(family, type, protocol)` asks for, in Linux's order of checks
/// (`__sock_create`: EAFNOSUPPORT for a family out of range, EINVAL for a type out of
/// range, EAFNOSUPPORT for a family this kernel lacks; AF_INET, AF_INET6 and AF_NETLINK
/// exist in Linux but cannot make pairs: EOPNOTSUPP, their `sock_no_socketpair`;
/// `unix_create`: EPROTONOSUPPORT for a protocol other than 0 or PF_UNIX,
/// ESOCKTNOSUPPORT for an unknown type; SOCK_RAW is taken as SOCK_DGRAM).
pub fn socketpair_check(family: usize, ty: usize, protocol: usize) -> KResult<()> {
    if family >= NPROTO {
        return Err(Errno::EAFNOSUPPORT);
    }
    if ty >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    match family {
        AF_UNIX => {}
        AF_INET | AF_INET6 | AF_NETLINK => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    if protocol != 0 && protocol != AF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match ty {
        SOCK_STREAM | SOCK_DGRAM | SOCK_RAW | SOCK_SEQPACKET => Ok(()),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// socketpair(2) (199): `socketpair(family, type, protocol, int sv[2])`; `type` may carry
/// SOCK_CLOEXEC and SOCK_NONBLOCK (other high bits: EINVAL). EMFILE without two free
/// descriptors, EFAULT when `sv` cannot be written (no descriptor is left behind).
/// Linux checks the family after reserving the descriptors and writing `sv`; we check it
/// first, so a bad family with a bad `sv` is EAFNOSUPPORT here, EFAULT there.
/// Linux: `__sys_socketpair`.
pub fn sys_socketpair(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (family, ty, protocol, sv) = (
        a.0[0] as u32 as usize,
        a.0[1] as u32 as usize,
        a.0[2] as u32 as usize,
        a.0[3],
    );
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(SOCK_CLOEXEC | SOCK_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    socketpair_check(family, ty & SOCK_TYPE_MASK, protocol)?;
    let (s1, s2) = if ty & SOCK_TYPE_MASK == SOCK_STREAM {
        unix_stream_socketpair()
    } else {
        crate::net::unix::unix_socketpair(true)
    };
    let (f1, f2) = (
        sock_alloc_file(s1, flags as u32),
        sock_alloc_file(s2, flags as u32),
    );
    let task = crate::task::current().ok_or(Errno::ESRCH)?;
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    let cloexec = flags & SOCK_CLOEXEC != 0;
    let (fd1, fd2) = {
        let mut files = task.files.lock();
        let fd1 = files.alloc_fd(f1, cloexec, limit)?;
        match files.alloc_fd(f2, cloexec, limit) {
            Ok(fd2) => (fd1, fd2),
            Err(e) => {
                let _ = files.close(fd1);
                return Err(e);
            }
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fd1.to_ne_bytes());
    out[4..].copy_from_slice(&fd2.to_ne_bytes());
    if let Err(e) = copy_to_user(sv, &out) {
        let mut files = task.files.lock();
        let _ = files.close(fd1);
        let _ = files.close(fd2);
        return Err(e);
    }
    Ok(0)
}

/// shutdown(2) (210): `shutdown(fd, how)`: EBADF for a bad fd, ENOTSOCK for a file that
/// is not a socket (Linux: `sockfd_lookup`), then the protocol's `unix_shutdown`
/// (EINVAL for `how` other than SHUT_RD, SHUT_WR, SHUT_RDWR). Linux: `__sys_shutdown`.
pub fn sys_shutdown(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let file = crate::fs::sys::fget(a.0[0] as i32)?;
    let sock = file
        .cdev()
        .and_then(|c| c.as_any())
        .and_then(|any| any.downcast_ref::<UnixSock>())
        .ok_or(Errno::ENOTSOCK)?;
    sock.unix_shutdown(a.0[1] as u32)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socketpair_errnos_in_sock_create_then_unix_create_order() {
        assert_eq!(socketpair_check(AF_UNIX, SOCK_STREAM, 0), Ok(()));
        assert_eq!(socketpair_check(AF_UNIX, SOCK_STREAM, AF_UNIX), Ok(()));
        assert_eq!(socketpair_check(NPROTO, 99, 9), Err(Errno::EAFNOSUPPORT));
        assert_eq!(socketpair_check(AF_UNIX, SOCK_MAX, 9), Err(Errno::EINVAL));
        assert_eq!(
            socketpair_check(AF_INET, SOCK_STREAM, 0),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            socketpair_check(7, SOCK_STREAM, 0),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(socketpair_check(AF_UNIX, 4, 2), Err(Errno::EPROTONOSUPPORT));
        assert_eq!(socketpair_check(AF_UNIX, 4, 0), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(socketpair_check(AF_UNIX, SOCK_DGRAM, 0), Ok(()));
        assert_eq!(socketpair_check(AF_UNIX, SOCK_SEQPACKET, 0), Ok(()));
    }
}

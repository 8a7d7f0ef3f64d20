//! AF_UNIX stream sockets made by socketpair(2). Linux: `net/unix/af_unix.c`
//! (`unix_create`, `unix_stream_connect`'s pairing as `unix_socketpair` does it,
//! `unix_stream_sendmsg`, `unix_stream_recvmsg`, `unix_shutdown`, `unix_poll`,
//! `unix_release_sock`).
//!
//! Linux queues `sk_buff`s on the receiving socket; each direction of our pair is a pipe
//! ring instead ([`crate::fs::pipe::Pipe`], its reading and waiting code reused): what A
//! writes goes into A's `tx`, which is B's `rx`. Shutting a direction down (shutdown(2)
//! or the last close) closes that ring for good: the reader sees end of file after the
//! data, the writer EPIPE and SIGPIPE. SOCK_SEQPACKET and SOCK_DGRAM pairs keep record
//! boundaries: their rings are in packet mode (one write, one packet; one read, one
//! packet, the rest of it dropped). Differences from Linux: a direction holds 64 KiB (a
//! pipe's), not `sk_sndbuf`'s ~208 KiB; a record is at most a page (EMSGSIZE above; Linux
//! allows up to the send buffer); an empty record is not sent; no SCM_RIGHTS.
use crate::errno::{Errno, KResult};
use crate::fs::char_dev::{
    CharDevice, POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
};
use crate::fs::pipe::Pipe;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// shutdown(2) `how`: no more receptions (Linux: `SHUT_RD`).
pub const SHUT_RD: u32 = 0;
/// No more transmissions.
pub const SHUT_WR: u32 = 1;
/// Neither.
pub const SHUT_RDWR: u32 = 2;

/// One end of a connected unix stream pair (Linux: `struct unix_sock`, with `peer`).
pub struct UnixSock {
    /// What the peer sent us (Linux: our `sk_receive_queue`).
    rx: Arc<Pipe>,
    /// What we send the peer (the peer's receive queue).
    tx: Arc<Pipe>,
    /// A pending ECONNRESET, reported once (Linux: `sk->sk_err`, read by `sock_error`;
    /// ECONNRESET is the only error a socket pair can have).
    sk_err: Arc<AtomicBool>,
    /// The peer's `sk_err`, which our release sets.
    peer_err: Arc<AtomicBool>,
    /// SOCK_SEQPACKET or SOCK_DGRAM: records, not a byte stream.
    records: bool,
}

impl UnixSock {
    /// Take the pending error, if any (Linux: `sock_error`, which clears it).
    fn sock_error(&self) -> Option<Errno> {
        self.sk_err
            .swap(false, Ordering::AcqRel)
            .then_some(Errno::ECONNRESET)
    }

    /// shutdown(2) on this end. Linux: `unix_shutdown`: SHUT_RD stops our receiving and
    /// the peer's sending, SHUT_WR our sending and the peer's receiving (after what is
    /// queued). EINVAL for another `how`.
    #[no_mangle]
    #[inline(never)]
    pub fn unix_shutdown(&self, how: u32) -> KResult<()> {
        if how > SHUT_RDWR {
            return Err(Errno::EINVAL);
        }
        if how == SHUT_RD || how == SHUT_RDWR {
            self.rx.shutdown();
        }
        if how == SHUT_WR || how == SHUT_RDWR {
            self.tx.shutdown();
        }
        Ok(())
    }
}

/// The last close of one end (Linux: `unix_release_sock`): the peer sees both directions
/// shut (end of file after its data, EPIPE on writing); if we leave data unread, the
/// peer's next read or write reports ECONNRESET first, as Linux's `skpair->sk_err`.
impl Drop for UnixSock {
    fn drop(&mut self) {
        if self.rx.poll_state().0 {
            self.peer_err.store(true, Ordering::Release);
        }
        self.rx.shutdown();
        self.tx.shutdown();
    }
}

impl CharDevice for UnixSock {
    /// Linux: `unix_stream_recvmsg` -> `unix_stream_read_generic`: queued data first;
    /// with none, a pending error, then end of file once receiving is shut down.
    fn read(&self, f_flags: u32, _pos: u64, buf: &mut [u8]) -> KResult<usize> {
        if !buf.is_empty() && !self.rx.poll_state().0 {
            if let Some(e) = self.sock_error() {
                return Err(e);
            }
        }
        self.rx.pipe_read(f_flags, buf)
    }

    /// Linux: `unix_stream_sendmsg`: a pending error first (no SIGPIPE for it), EPIPE
    /// and SIGPIPE once sending is shut down (`pipe_err`).
    fn write(&self, f_flags: u32, _pos: u64, buf: &[u8]) -> KResult<usize> {
        if let Some(e) = self.sock_error() {
            return Err(e);
        }
        // Linux: unix_seqpacket_sendmsg / unix_dgram_sendmsg: a record in one piece.
        if self.records && buf.len() > crate::mm::PAGE_SIZE {
            return Err(Errno::EMSGSIZE);
        }
        self.tx.pipe_write(f_flags, buf)
    }

    fn is_stream(&self) -> bool {
        true
    }

    /// Linux: `unix_poll`: POLLERR for a pending error, POLLHUP when shut down both ways,
    /// POLLRDHUP|POLLIN when receiving is shut down, POLLIN with data, POLLOUT while our
    /// direction has room or is shut (a write would not block: it fails at once).
    fn poll(&self) -> u16 {
        let (data, _, rx_shut, _) = self.rx.poll_state();
        let (_, room, _, tx_shut) = self.tx.poll_state();
        let mut mask = 0;
        if self.sk_err.load(Ordering::Acquire) {
            mask |= POLLERR;
        }
        if rx_shut && tx_shut {
            mask |= POLLHUP;
        }
        if rx_shut {
            mask |= POLLRDHUP | POLLIN | POLLRDNORM;
        }
        if data {
            mask |= POLLIN | POLLRDNORM;
        }
        if room || tx_shut {
            mask |= POLLOUT | POLLWRNORM;
        }
        mask
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }
}

/// Two connected stream sockets (Linux: `unix_socketpair` on two `unix_create`d socks).
#[no_mangle]
#[inline(never)]
pub fn unix_stream_socketpair() -> (UnixSock, UnixSock) {
    unix_socketpair(false)
}

/// Two connected sockets, byte streams or (`records`) SOCK_SEQPACKET / SOCK_DGRAM
/// (Linux: `unix_socketpair`).
pub fn unix_socketpair(records: bool) -> (UnixSock, UnixSock) {
    let ring = || {
        if records {
            Pipe::new_packet(1, 1)
        } else {
            Pipe::new(1, 1)
        }
    };
    let ab = ring();
    let ba = ring();
    let (ea, eb) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    (
        UnixSock {
            rx: ba.clone(),
            tx: ab.clone(),
            sk_err: ea.clone(),
            peer_err: eb.clone(),
            records,
        },
        UnixSock {
            rx: ab,
            tx: ba,
            sk_err: eb,
            peer_err: ea,
            records,
        },
    )
}

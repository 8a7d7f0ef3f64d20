//! socketpair_test: socketpair(AF_UNIX, SOCK_STREAM) and shutdown(2) as Linux has them
//! (net/socket.c, net/unix/af_unix.c), with ppoll on the sockets. Run as init.
//!
//! Bytes both ways in order; readv/writev; fstat says S_IFSOCK; no position (ESPIPE);
//! a blocking read waits for a writer in another process; 256 KiB through the pair
//! intact; SOCK_NONBLOCK: EAGAIN when empty and when full; SOCK_CLOEXEC; ppoll: POLLIN
//! only with data, POLLOUT, a timeout, a sleep ended by a writer, POLLRDHUP and POLLHUP;
//! shutdown SHUT_WR (peer reads end of file, we get EPIPE), SHUT_RD (the peer gets EPIPE),
//! close (end of file, SIGPIPE kills a writer; unread data makes the peer's next read
//! ECONNRESET); the errnos of socketpair and shutdown.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::signal::signal_disposition;
use ulib::*;

const AF_UNIX: usize = 1;
const AF_INET: usize = 2;
const SOCK_STREAM: usize = 1;
const SOCK_NONBLOCK: usize = 0o4000;
const SOCK_CLOEXEC: usize = 0o2000000;
const SHUT_RD: usize = 0;
const SHUT_WR: usize = 1;
const SHUT_RDWR: usize = 2;
const S_IFSOCK: u32 = 0o140000;
const F_GETFD: usize = 1;
const F_GETFL: usize = 3;
const O_NONBLOCK: usize = 0o4000;
const SIG_IGN: usize = 1;
const POLLIN: u16 = 0x1;
const POLLOUT: u16 = 0x4;
const POLLHUP: u16 = 0x10;
const POLLRDHUP: u16 = 0x2000;
const ENOTSOCK: i32 = 88;
const EPROTONOSUPPORT: i32 = 93;
const ESOCKTNOSUPPORT: i32 = 94;
const EAFNOSUPPORT: i32 = 97;
const ECONNRESET: i32 = 104;

fn socketpair_raw(family: usize, ty: usize, proto: usize, sv: usize) -> isize {
    unsafe { syscall4(199, family, ty, proto, sv) }
}
fn socketpair(ty: usize, sv: &mut [i32; 2]) -> isize {
    socketpair_raw(AF_UNIX, ty, 0, sv.as_mut_ptr() as usize)
}
fn shutdown(fd: i32, how: usize) -> isize {
    unsafe { syscall3(210, fd as usize, how, 0) }
}
fn fcntl(fd: i32, cmd: usize) -> isize {
    unsafe { syscall3(25, fd as usize, cmd, 0) }
}

/// What ppoll on one fd returned: the ready count and `revents`.
#[derive(Clone, Copy, PartialEq, Eq)]
struct P(isize, u16);

impl core::fmt::Display for P {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "{} ready, revents {:#x}", self.0, self.1)
    }
}

/// ppoll on one fd; `ms` < 0 waits for ever.
fn poll1(fd: i32, events: u16, ms: i64) -> P {
    let (r, revents) = ulib::poll1(fd, events, ms);
    P(r, revents)
}

fn now_ms() -> i64 {
    let mut ts = Timespec::default();
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}

fn byte(i: usize) -> u8 {
    (i * 13 + i / 509) as u8
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("socketpair_test");
    let mut sv = [-1i32; 2];
    if !t.ret("socketpair(AF_UNIX, SOCK_STREAM, 0)", socketpair(SOCK_STREAM, &mut sv), 0) {
        return t.finish();
    }
    let [a, b] = sv;
    t.ok(a >= 0 && b >= 0 && a != b, "two distinct descriptors");
    t.ret("write 5 bytes on one end", write(a, b"hello"), 5);
    let mut buf = [0u8; 64];
    t.ret("read them on the other", read(b, &mut buf), 5);
    t.ok(&buf[..5] == b"hello", "in order");
    t.ret("and the other way", write(b, b"world!"), 6);
    t.ret("read 6", read(a, &mut buf), 6);
    t.ok(&buf[..6] == b"world!", "bytes intact");

    let mut st = Stat::default();
    t.ret("fstat a socket", fstat(a, &mut st), 0);
    t.eq("it is S_IFSOCK", st.st_mode & 0o170000, S_IFSOCK);
    t.eq("with mode 0777", st.st_mode & 0o7777, 0o777);
    t.eq("owned by the creator", st.st_uid, 0);
    t.err("lseek is ESPIPE", lseek(a, 0, 0), ESPIPE);
    t.ret("fd flags without SOCK_CLOEXEC", fcntl(a, F_GETFD), 0);

    // writev / readv.
    let (p1, p2) = (b"abc", b"defgh");
    let iov = [
        p1.as_ptr() as usize,
        p1.len(),
        p2.as_ptr() as usize,
        p2.len(),
    ];
    t.ret("writev of 3 + 5 bytes", unsafe { syscall3(66, a as usize, iov.as_ptr() as usize, 2) }, 8);
    let (mut r1, mut r2) = ([0u8; 2], [0u8; 16]);
    let riov = [
        r1.as_mut_ptr() as usize,
        r1.len(),
        r2.as_mut_ptr() as usize,
        r2.len(),
    ];
    t.ret("readv gets all 8", unsafe { syscall3(65, b as usize, riov.as_ptr() as usize, 2) }, 8);
    t.ok(&r1 == b"ab" && &r2[..6] == b"cdefgh", "readv split them in order");

    // ppoll.
    t.eq("ppoll: nothing to read, timeout 0", poll1(b, POLLIN, 0), P(0, 0));
    t.eq("ppoll: writable", poll1(a, POLLOUT, 0), P(1, POLLOUT));
    write(a, b"x");
    t.eq("ppoll: readable once data is there", poll1(b, POLLIN, 0), P(1, POLLIN));
    read(b, &mut buf);
    let t0 = now_ms();
    t.eq("ppoll with a 100 ms timeout and no data", poll1(b, POLLIN, 100), P(0, 0));
    let waited = now_ms() - t0;
    t.check(waited >= 90, "it slept about 100 ms", waited, ">= 90");
    let child = fork();
    if child == 0 {
        sleep_ms(100);
        write(a, b"late");
        exit(0);
    }
    t.eq(
        "ppoll without timeout wakes when another process writes",
        poll1(b, POLLIN, -1),
        P(1, POLLIN),
    );
    t.ret("the data is there", read(b, &mut buf), 4);
    wait4(child as i32, None, 0);

    // A blocking read waits for the writer; a big transfer arrives intact.
    const BIG: usize = 256 << 10;
    let child = fork();
    if child == 0 {
        close(b);
        let src = mmap_anon(BIG) as usize;
        let s = unsafe { core::slice::from_raw_parts_mut(src as *mut u8, BIG) };
        for (i, x) in s.iter_mut().enumerate() {
            *x = byte(i);
        }
        sleep_ms(50);
        exit(if write(a, s) == BIG as isize { 0 } else { 1 });
    }
    let dst = mmap_anon(BIG) as usize;
    let d = unsafe { core::slice::from_raw_parts_mut(dst as *mut u8, BIG) };
    let mut got = 0;
    while got < BIG {
        let n = read(b, &mut d[got..]);
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    let mut status = 0;
    wait4(child as i32, Some(&mut status), 0);
    t.exited("the child wrote 256 KiB in one write(2)", Wstatus(status), 0);
    t.eq("the reader got all of it", got, BIG);
    t.eq(
        "every byte right",
        (0..BIG).filter(|&i| d[i] != byte(i)).count(),
        0,
    );

    // shutdown(SHUT_WR): the peer reads what was sent, then end of file; we get EPIPE.
    t.ret("write before shutdown", write(a, b"last"), 4);
    t.ret("shutdown(SHUT_WR)", shutdown(a, SHUT_WR), 0);
    t.eq(
        "the peer polls POLLIN|POLLRDHUP",
        poll1(b, POLLIN | POLLRDHUP, 0),
        P(1, POLLIN | POLLRDHUP),
    );
    t.ret("the peer reads the data", read(b, &mut buf), 4);
    t.ret("then end of file", read(b, &mut buf), 0);
    signal_disposition(SIGPIPE, SIG_IGN);
    t.err("writing after SHUT_WR is EPIPE", write(a, b"x"), EPIPE);
    t.ret("the other direction still works", write(b, b"back"), 4);
    t.ret("and is read", read(a, &mut buf), 4);
    t.ret("shutdown(SHUT_RD) too", shutdown(a, SHUT_RD), 0);
    t.err("now the peer's write is EPIPE", write(b, b"x"), EPIPE);
    t.ret("our read is end of file", read(a, &mut buf), 0);
    t.eq(
        "shut both ways: POLLHUP",
        poll1(a, POLLIN, 0).1 & POLLHUP,
        POLLHUP,
    );
    close(a);
    close(b);

    // SHUT_RD alone.
    socketpair(SOCK_STREAM, &mut sv);
    let [a, b] = sv;
    t.ret("write, then shutdown(SHUT_RD) on the reader", write(b, b"queued"), 6);
    t.ret("shutdown(SHUT_RD)", shutdown(a, SHUT_RD), 0);
    t.ret("queued data can still be read", read(a, &mut buf), 6);
    t.ret("then end of file", read(a, &mut buf), 0);
    t.err("the peer's write is EPIPE", write(b, b"x"), EPIPE);
    t.ret("we may still write", write(a, b"ok"), 2);
    t.ret("and the peer reads it", read(b, &mut buf), 2);
    t.ret("shutdown(SHUT_RDWR)", shutdown(b, SHUT_RDWR), 0);
    close(a);
    close(b);

    // close: end of file for the peer, SIGPIPE for a writer.
    socketpair(SOCK_STREAM, &mut sv);
    let [a, b] = sv;
    write(a, b"bye");
    close(a);
    t.ret("after the peer closed, its data is read", read(b, &mut buf), 3);
    t.ret("then end of file", read(b, &mut buf), 0);
    t.err("writing to a closed peer is EPIPE (SIGPIPE ignored)", write(b, b"x"), EPIPE);
    let st = in_child(|| {
        signal_disposition(SIGPIPE, 0);
        write(b, b"x");
        0
    });
    t.killed_by("with SIGPIPE's default action the writer dies", st, SIGPIPE);
    close(b);

    // Closing with unread data: the peer's next read is ECONNRESET, once.
    socketpair(SOCK_STREAM, &mut sv);
    let [a, b] = sv;
    write(b, b"unread");
    close(a);
    t.err("closing with unread data: the peer's read is ECONNRESET", read(b, &mut buf), ECONNRESET);
    t.ret("then end of file", read(b, &mut buf), 0);
    close(b);

    // SOCK_NONBLOCK and SOCK_CLOEXEC.
    t.ret(
        "socketpair(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)",
        socketpair(SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, &mut sv),
        0,
    );
    let [a, b] = sv;
    t.ok(fcntl(a, F_GETFL) as usize & O_NONBLOCK != 0, "F_GETFL shows O_NONBLOCK");
    t.ret("F_GETFD shows FD_CLOEXEC", fcntl(b, F_GETFD), 1);
    t.err("reading an empty socket is EAGAIN", read(b, &mut buf), EAGAIN);
    let chunk = [7u8; 4096];
    let mut sent = 0usize;
    let last = loop {
        let n = write(a, &chunk);
        if n <= 0 {
            break n;
        }
        sent += n as usize;
        if sent > 16 << 20 {
            break 0;
        }
    };
    t.err("writing until full ends in EAGAIN", last, EAGAIN);
    t.ok(sent >= 4096, "after accepting some data");
    t.eq("full: not writable", poll1(a, POLLOUT, 0), P(0, 0));
    close(a);
    close(b);

    // Errors.
    t.err(
        "unknown flag bits in type: EINVAL",
        socketpair(SOCK_STREAM | 0x10, &mut sv),
        EINVAL,
    );
    t.err(
        "a family out of range: EAFNOSUPPORT",
        socketpair_raw(99, SOCK_STREAM, 0, sv.as_mut_ptr() as usize),
        EAFNOSUPPORT,
    );
    t.err(
        "AF_INET has no socket pairs: EOPNOTSUPP",
        socketpair_raw(AF_INET, SOCK_STREAM, 0, sv.as_mut_ptr() as usize),
        EOPNOTSUPP,
    );
    t.err(
        "a type out of range: EINVAL",
        socketpair(12, &mut sv),
        EINVAL,
    );
    t.err(
        "SOCK_RDM in AF_UNIX: ESOCKTNOSUPPORT",
        socketpair(4, &mut sv),
        ESOCKTNOSUPPORT,
    );
    t.err(
        "protocol 2 in AF_UNIX: EPROTONOSUPPORT",
        socketpair_raw(AF_UNIX, SOCK_STREAM, 2, sv.as_mut_ptr() as usize),
        EPROTONOSUPPORT,
    );
    t.err(
        "a bad sv pointer: EFAULT",
        socketpair_raw(AF_UNIX, SOCK_STREAM, 0, unmapped_addr()),
        EFAULT,
    );
    let probe = open(c"/dev/null", O_RDONLY, 0);
    t.eq("and no descriptor was left behind", probe, 3);
    close(probe as i32);
    t.err("shutdown of a bad fd: EBADF", shutdown(99, SHUT_RD), EBADF);
    let mut p = [0i32; 2];
    pipe2(&mut p, 0);
    t.err("shutdown of a pipe: ENOTSOCK", shutdown(p[0], SHUT_RD), ENOTSOCK);
    close(p[0]);
    close(p[1]);
    socketpair(SOCK_STREAM, &mut sv);
    t.err("shutdown how=3: EINVAL", shutdown(sv[0], 3), EINVAL);
    close(sv[0]);
    close(sv[1]);
    records(&mut t);
    t.finish()
}

/// SOCK_SEQPACKET and SOCK_DGRAM pairs keep record boundaries: two writes are two
/// reads, a short read drops the rest of its record (Linux: unix_seqpacket_recvmsg).
fn records(t: &mut Tap) {
    for (ty, name) in [(5usize, "SOCK_SEQPACKET"), (2, "SOCK_DGRAM")] {
        let mut sv = [0i32; 2];
        t.ret(format_args!("socketpair(AF_UNIX, {name})"), socketpair(ty, &mut sv), 0);
        write(sv[0], b"first record");
        write(sv[0], b"second");
        let mut buf = [0u8; 64];
        let n = read(sv[1], &mut buf);
        t.ok(n == 12 && &buf[..12] == b"first record", format_args!("{name}: one read, one record"));
        let mut small = [0u8; 3];
        let n = read(sv[1], &mut small);
        t.ok(n == 3 && &small == b"sec", format_args!("{name}: a short read takes part of the next"));
        write(sv[0], b"third");
        let n = read(sv[1], &mut buf);
        t.ok(n == 5 && &buf[..5] == b"third", format_args!("{name}: the rest of it was dropped"));
        write(sv[1], b"back");
        let n = read(sv[0], &mut buf);
        t.ok(n == 4 && &buf[..4] == b"back", format_args!("{name}: the other way works too"));
        let big = [0u8; 8192];
        t.err(format_args!("{name}: a record over a page: EMSGSIZE"), write(sv[0], &big), 90);
        close(sv[0]);
        close(sv[1]);
    }
}

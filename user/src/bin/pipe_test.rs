//! pipe_test: pipe2(2) as Linux has it (fs/pipe.c). Run as init.
//!
//! Data in order through the pipe; a 256 KiB write from a child against a 64 KiB pipe
//! (the writer waits for the reader) arrives intact; end of file once the last writer
//! closes; O_NONBLOCK: EAGAIN when empty, exactly 64 KiB before EAGAIN when full, room
//! counted in pages as Linux counts it, a larger write partial; no reader: SIGPIPE kills the
//! writer, or EPIPE when it ignores SIGPIPE; the fds are FIFOs without a position; the
//! wrong direction is EBADF; O_CLOEXEC sets FD_CLOEXEC; bad flags EINVAL, a bad pointer
//! EFAULT with no descriptor left behind.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::signal::signal_disposition;
use ulib::*;

const O_NONBLOCK: usize = 0o4000;
const O_CLOEXEC: usize = 0o2000000;
const F_GETFD: usize = 1;
const F_SETFL: usize = 4;
const S_IFIFO: u32 = 0o010000;
const SIG_IGN: usize = 1;

fn byte(i: usize) -> u8 {
    (i * 7 + i / 251) as u8
}

fn fcntl(fd: i32, cmd: usize, arg: usize) -> isize {
    unsafe { syscall3(25, fd as usize, cmd, arg) }
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("pipe_test");
    let mut fds = [-1i32; 2];
    if !t.ret("pipe2", pipe2(&mut fds, 0), 0) {
        return t.finish();
    }
    let [r, w] = fds;
    t.ret("write 5 bytes", write(w, b"hello"), 5);
    let mut buf = [0u8; 16];
    t.ret("read them back", read(r, &mut buf), 5);
    t.ok(&buf[..5] == b"hello", "in order");
    let mut st = Stat::default();
    t.ret("fstat the read end", fstat(r, &mut st), 0);
    t.eq("it is a FIFO", st.st_mode & 0o170000, S_IFIFO);
    t.err("lseek is ESPIPE", lseek(r, 0, 0), ESPIPE);
    t.err("reading the write end is EBADF", read(w, &mut buf), EBADF);
    t.err("writing the read end is EBADF", write(r, b"x"), EBADF);

    // A writer that must wait for the reader.
    const BIG: usize = 256 << 10;
    let child = fork();
    if child == 0 {
        close(r);
        let src = mmap_anon(BIG) as usize;
        let s = unsafe { core::slice::from_raw_parts_mut(src as *mut u8, BIG) };
        for (i, b) in s.iter_mut().enumerate() {
            *b = byte(i);
        }
        exit(if write(w, s) == BIG as isize { 0 } else { 1 });
    }
    close(w);
    let dst = mmap_anon(BIG) as usize;
    let d = unsafe { core::slice::from_raw_parts_mut(dst as *mut u8, BIG) };
    let mut got = 0;
    loop {
        let n = read(r, &mut d[got..]);
        if n <= 0 {
            t.ret("end of file after the last writer closed", n, 0);
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
    close(r);

    // O_NONBLOCK and the capacity.
    t.ret("pipe2(O_NONBLOCK | O_CLOEXEC)", pipe2(&mut fds, O_NONBLOCK | O_CLOEXEC), 0);
    let [r, w] = fds;
    t.eq("O_CLOEXEC set FD_CLOEXEC", fcntl(r, F_GETFD, 0), 1);
    let d = fcntl(r, 0, 10);
    t.ok(d >= 10, "fcntl F_DUPFD 10 gives a descriptor >= 10");
    t.eq("without FD_CLOEXEC", fcntl(d as i32, F_GETFD, 0), 0);
    close(d as i32);
    let d = fcntl(r, 1030, 0);
    t.eq("F_DUPFD_CLOEXEC sets it", fcntl(d as i32, F_GETFD, 0), 1);
    t.ret("F_SETFD 0 clears it", fcntl(d as i32, 2, 0), 0);
    t.eq("cleared", fcntl(d as i32, F_GETFD, 0), 0);
    close(d as i32);
    t.err("F_DUPFD at RLIMIT_NOFILE or above: EINVAL", fcntl(r, 0, 1 << 30), EINVAL);
    t.err("F_GETFD of a closed fd: EBADF", fcntl(999, F_GETFD, 0), EBADF);
    t.err("reading an empty pipe: EAGAIN", read(r, &mut buf), EAGAIN);
    let mut total = 0usize;
    let chunk = [0x5au8; 4096];
    let last = loop {
        let n = write(w, &chunk);
        if n < 0 {
            break n;
        }
        total += n as usize;
    };
    t.err("filling it ends in EAGAIN", last, EAGAIN);
    t.eq("after exactly 64 KiB (16 pages)", total, 65536);
    let mut drain = [0u8; 4000];
    t.ret("read 100 bytes", read(r, &mut drain[..100]), 100);
    // Linux counts a pipe's room in pages: a page partly read is still in use.
    t.err("a PIPE_BUF write finds no free page: EAGAIN", write(w, &chunk), EAGAIN);
    t.err("so does a 100-byte one", write(w, &chunk[..100]), EAGAIN);
    t.ret("read 4000 more: the first page is free", read(r, &mut drain), 4000);
    let two = [2u8; 8192];
    t.ret("an 8 KiB write is partial: one page", write(w, &two), 4096);
    t.ret("a 100-byte one fits no partial page: EAGAIN", write(w, &two[..100]), -(EAGAIN as isize));
    fcntl(r, F_SETFL, 0);
    close(w);
    let mut sink = [0u8; 4096];
    let mut left = 0usize;
    loop {
        let n = read(r, &mut sink);
        if n <= 0 {
            break;
        }
        left += n as usize;
    }
    t.eq("the reader drains the rest, then end of file", left, 65536 - 4100 + 4096);
    close(r);

    // No reader.
    t.ret("pipe2", pipe2(&mut fds, 0), 0);
    let [r, w] = fds;
    close(r);
    let st = in_child(|| {
        write(w, b"x");
        0
    });
    t.killed_by("writing with no reader: SIGPIPE", st, SIGPIPE);
    let st = in_child(|| {
        signal_disposition(SIGPIPE, SIG_IGN);
        -(write(w, b"x") as i32)
    });
    t.exited("with SIGPIPE ignored: EPIPE", st, EPIPE);
    close(w);

    // fsync: a pipe has nothing to sync (EINVAL), a tmpfs file is in sync.
    t.ret("pipe2", pipe2(&mut fds, 0), 0);
    t.err("fsync of a pipe: EINVAL", unsafe { syscall3(82, fds[0] as usize, 0, 0) }, EINVAL);
    close(fds[0]);
    close(fds[1]);
    let f = open(c"/tmp/fsync", O_RDWR | O_CREAT, 0o600);
    t.ret("fsync of a tmpfs file: 0", unsafe { syscall3(82, f as usize, 0, 0) }, 0);
    t.ret("fdatasync of it: 0", unsafe { syscall3(83, f as usize, 0, 0) }, 0);
    close(f as i32);
    unlink(c"/tmp/fsync");
    t.err("fsync of a bad fd: EBADF", unsafe { syscall3(82, 999, 0, 0) }, EBADF);

    // Bad arguments leave nothing behind.
    let probe = open(c"/proc/meminfo", O_RDONLY, 0);
    close(probe as i32);
    t.err("unknown flags: EINVAL", pipe2(&mut fds, 1), EINVAL);
    let r = unsafe { syscall3(nr::PIPE2, 8, 0, 0) };
    t.err("fds at a bad address: EFAULT", r, EFAULT);
    let again = open(c"/proc/meminfo", O_RDONLY, 0);
    t.eq("no descriptor leaked", again, probe);
    close(again as i32);
    t.finish()
}

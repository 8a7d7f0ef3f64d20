//! robustness: bad pointers (NULL, kernel addresses, unmapped pages, pointers running off the
//! end of a mapping), misaligned pointers and absurd lengths for every system call a program
//! can make here. Each must fail with the errno Linux gives (EFAULT, EINVAL, ENOMEM,
//! ENAMETOOLONG, ...) or, for misaligned pointers, just work; none may crash the kernel, and
//! this program must reach its summary line.
//!
//! Linux: `include/asm-generic/access_ok.h` (access_ok: `addr + size <= TASK_SIZE_MAX`),
//! `fs/read_write.c`, `fs/namei.c` (getname: EFAULT, ENAMETOOLONG), `fs/exec.c`,
//! `kernel/exit.c` (wait4), `kernel/sys.c` (prlimit64, uname), `kernel/time/`,
//! `drivers/char/random.c` (getrandom), `fs/readdir.c` (getdents64), `mm/`.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
/// A kernel address: in the linear map, where the kernel image lives on QEMU virt.
const KADDR: usize = 0xffff_0000_4020_0000;
/// Just above user space: not a kernel address either, still not the user's.
const ABOVE_USER: usize = TASK_SIZE;
const TMPFILE: &core::ffi::CStr = c"/tmp/robustness.dat";
/// Where this program lives, for the execve checks.
const SELF: &core::ffi::CStr = c"/bin/robustness";

/// A raw system call with up to four arguments.
fn sys(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    unsafe { syscall6(n, a, b, c, d, 0, 0) }
}

/// The bad user pointers each pointer argument is tried with.
struct Bad {
    /// The last 3 bytes of a mapped page, "abc" with no NUL; the next page is PROT_NONE.
    edge: usize,
}

impl Bad {
    /// NULL, a kernel address, the first address above user space, and an address that is
    /// unmapped right now (found afresh each time: a later mmap may reuse an old hole).
    fn all(&self) -> [(&'static str, usize); 4] {
        [
            ("NULL", 0),
            ("a kernel address", KADDR),
            ("an address above user space", ABOVE_USER),
            ("an unmapped address", unmapped_addr()),
        ]
    }
}

#[no_mangle]
fn main(args: Args) -> i32 {
    // Started by one of our own execve checks that should have failed: say so and stop.
    if args.get(1) == Some("--exec-probe")
        || (0..)
            .map_while(|i| args.env(i))
            .any(|e| e == "ROBUSTNESS_PROBE=1")
    {
        return 99;
    }
    let mut t = Tap::new("robustness");
    let two = mmap_anon(2 * P);
    if !t.success(
        "mmap 2 pages for a string that runs into a PROT_NONE page",
        two,
    ) {
        return t.finish();
    }
    let two = two as usize;
    mprotect(two + P, P, PROT_NONE);
    unsafe { bytes(two + P - 3, 3) }.copy_from_slice(b"abc");
    let bad = Bad { edge: two + P - 3 };

    let fd = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    if !t.success("create /tmp/robustness.dat", fd as isize) {
        return t.finish();
    }
    t.ret("write 11 bytes to it", write(fd, b"hello world"), 11);
    read_write(&mut t, &bad, fd);
    paths(&mut t, &bad);
    info(&mut t, &bad);
    time(&mut t, &bad);
    wait(&mut t);
    limits_random(&mut t, &bad);
    nr_open(&mut t);
    memory(&mut t, &bad);
    stat_dents(&mut t, &bad, fd);
    signals(&mut t);
    other_users(&mut t);
    killed_populate(&mut t);
    exec(&mut t, &bad);
    close(fd);
    unlink(TMPFILE);
    t.finish()
}

/// read(2), write(2), pread64, pwrite64, readv, writev, lseek, close.
fn read_write(t: &mut Tap, bad: &Bad, fd: i32) {
    // pread64/pwrite64 whose offset + count passes the largest loff_t: EINVAL before any
    // byte moves (Linux: rw_verify_area), even on /dev/zero, which has no end to reach.
    let big = mmap_anon(32 * P);
    let zero = open(c"/dev/zero", O_RDWR, 0);
    if big > 0 && zero >= 0 {
        for (what, n) in [("pread64", nr::PREAD64), ("pwrite64", nr::PWRITE64)] {
            let r = sys(
                n,
                zero as usize,
                big as usize,
                32 * P,
                isize::MAX as usize - P,
            );
            t.err(
                format_args!(
                    "{} of 128 KiB on /dev/zero at offset 2^63 - 1 - 4096 fails with EINVAL",
                    what
                ),
                r,
                EINVAL,
            );
        }
        let r = sys(
            nr::PREAD64,
            fd as usize,
            big as usize,
            32 * P,
            isize::MAX as usize - P,
        );
        t.err(
            "pread64 of 128 KiB on a file at offset 2^63 - 1 - 4096 fails with EINVAL",
            r,
            EINVAL,
        );
    }
    close(zero as i32);
    munmap(big as usize, 32 * P);
    let mut buf = [0u8; 32];
    let b = buf.as_mut_ptr() as usize;
    lseek(fd, 0, SEEK_SET); // a read needs bytes to copy: at end of file it returns 0 at once
    for (what, p) in bad.all() {
        let r = sys(nr::WRITE, fd as usize, p, 10, 0);
        t.err(
            format_args!("write from {} fails with EFAULT", what),
            r,
            EFAULT,
        );
        let r = sys(nr::READ, fd as usize, p, 10, 0);
        t.err(
            format_args!("read into {} fails with EFAULT", what),
            r,
            EFAULT,
        );
    }
    for (what, len) in [("usize::MAX", usize::MAX), ("1 << 62", 1 << 62)] {
        let r = sys(nr::WRITE, fd as usize, b, len, 0);
        t.err(
            format_args!("write of {} bytes fails with EFAULT", what),
            r,
            EFAULT,
        );
        let r = sys(nr::READ, fd as usize, b, len, 0);
        t.err(
            format_args!("read of {} bytes fails with EFAULT", what),
            r,
            EFAULT,
        );
    }
    t.ret(
        "write of 0 bytes from NULL returns 0",
        sys(nr::WRITE, fd as usize, 0, 0, 0),
        0,
    );
    t.ret(
        "read of 0 bytes into NULL returns 0",
        sys(nr::READ, fd as usize, 0, 0, 0),
        0,
    );
    t.ret(
        "the failed calls did not move the file position",
        lseek(fd, 0, SEEK_CUR),
        0,
    );
    t.ret(
        "read into a misaligned buffer works",
        sys(nr::READ, fd as usize, b + 1, 5, 0),
        5,
    );
    t.ok(
        &buf[1..6] == b"hello",
        "the misaligned read got the file's first bytes (\"hello\")",
    );
    t.ret(
        "the failed writes wrote nothing (the file is still 11 bytes)",
        lseek(fd, 0, SEEK_END),
        11,
    );
    let odd = b"xhello".as_ptr() as usize + 1;
    t.ret(
        "write from a misaligned buffer works",
        sys(nr::WRITE, fd as usize, odd, 5, 0),
        5,
    );
    t.err(
        "read from fd -1 fails with EBADF",
        sys(nr::READ, usize::MAX, b, 1, 0),
        EBADF,
    );
    t.err(
        "write to fd 1000 (not open) fails with EBADF",
        sys(nr::WRITE, 1000, b, 1, 0),
        EBADF,
    );

    t.err(
        "pread64 into a kernel address fails with EFAULT",
        sys(nr::PREAD64, fd as usize, KADDR, 4, 0),
        EFAULT,
    );
    t.err(
        "pwrite64 from NULL fails with EFAULT",
        sys(nr::PWRITE64, fd as usize, 0, 4, 0),
        EFAULT,
    );
    t.err(
        "pread64 at offset -1 fails with EINVAL",
        sys(nr::PREAD64, fd as usize, b, 4, usize::MAX),
        EINVAL,
    );
    t.err(
        "pwrite64 at offset -1 fails with EINVAL",
        sys(nr::PWRITE64, fd as usize, b, 4, usize::MAX),
        EINVAL,
    );

    let iov = [b + 1, 4usize];
    let bad_iov = [KADDR, 4usize];
    t.err(
        "readv with the iovec array at a kernel address fails with EFAULT",
        sys(nr::READV, fd as usize, KADDR, 1, 0),
        EFAULT,
    );
    t.err(
        "readv with the iovec array at NULL fails with EFAULT",
        sys(nr::READV, fd as usize, 0, 1, 0),
        EFAULT,
    );
    t.err(
        "writev of an iovec whose base is a kernel address fails with EFAULT",
        sys(nr::WRITEV, fd as usize, bad_iov.as_ptr() as usize, 1, 0),
        EFAULT,
    );
    t.err(
        "readv of 1025 iovecs (more than UIO_MAXIOV) fails with EINVAL",
        sys(nr::READV, fd as usize, iov.as_ptr() as usize, 1025, 0),
        EINVAL,
    );
    t.ret(
        "readv of 0 iovecs from NULL returns 0",
        sys(nr::READV, fd as usize, 0, 0, 0),
        0,
    );
    t.ret(
        "pread64 into a misaligned buffer works",
        sys(nr::PREAD64, fd as usize, b + 3, 4, 0),
        4,
    );

    t.err(
        "lseek to offset -1 fails with EINVAL",
        lseek(fd, -1, SEEK_SET),
        EINVAL,
    );
    t.err(
        "lseek with whence 99 fails with EINVAL",
        lseek(fd, 0, 99),
        EINVAL,
    );
    t.err(
        "ftruncate to -1 bytes fails with EINVAL",
        sys(nr::FTRUNCATE, fd as usize, usize::MAX, 0, 0),
        EINVAL,
    );
    t.err("close(-1) fails with EBADF", close(-1), EBADF);
}

/// openat, newfstatat, faccessat, chdir, mkdirat, unlinkat, readlinkat, getcwd: path
/// arguments go through getname (EFAULT, ENAMETOOLONG).
fn paths(t: &mut Tap, bad: &Bad) {
    let cwd = AT_FDCWD as usize;
    let mut st = Stat::default();
    let stp = &mut st as *mut Stat as usize;
    for (what, p) in bad.all() {
        t.err(
            format_args!("openat of a path at {} fails with EFAULT", what),
            sys(nr::OPENAT, cwd, p, O_RDONLY, 0),
            EFAULT,
        );
        t.err(
            format_args!("newfstatat of a path at {} fails with EFAULT", what),
            sys(nr::NEWFSTATAT, cwd, p, stp, 0),
            EFAULT,
        );
    }
    t.err(
        "openat of a path running into a PROT_NONE page (no NUL) fails with EFAULT",
        sys(nr::OPENAT, cwd, bad.edge, O_RDONLY, 0),
        EFAULT,
    );
    t.err(
        "faccessat of a NULL path fails with EFAULT",
        sys(nr::FACCESSAT, cwd, 0, 0, 0),
        EFAULT,
    );
    t.err(
        "chdir to a path at a kernel address fails with EFAULT",
        sys(nr::CHDIR, KADDR, 0, 0, 0),
        EFAULT,
    );
    t.err(
        "mkdirat of a NULL path fails with EFAULT",
        sys(nr::MKDIRAT, cwd, 0, 0o755, 0),
        EFAULT,
    );
    t.err(
        "unlinkat of a path at a kernel address fails with EFAULT",
        sys(nr::UNLINKAT, cwd, KADDR, 0, 0),
        EFAULT,
    );
    let mut link = [0u8; 64];
    let l = link.as_mut_ptr() as usize;
    t.err(
        "readlinkat of a NULL path fails with EFAULT",
        sys(nr::READLINKAT, cwd, 0, l, 64),
        EFAULT,
    );

    // PATH_MAX (4096, with the NUL) and NAME_MAX (255).
    let long = mmap_anon(2 * P);
    if long >= 0 {
        let long = long as usize;
        let s = unsafe { bytes(long, 2 * P) };
        s.fill(b'a');
        s[0] = b'/';
        s[5000] = 0;
        t.err(
            "openat of a 5000-byte path fails with ENAMETOOLONG",
            sys(nr::OPENAT, cwd, long, O_RDONLY, 0),
            ENAMETOOLONG,
        );
        s[..5].copy_from_slice(b"/tmp/");
        s[5 + 300] = 0;
        t.err(
            "openat of a 300-byte name in /tmp fails with ENAMETOOLONG",
            sys(nr::OPENAT, cwd, long, O_RDONLY, 0),
            ENAMETOOLONG,
        );
        munmap(long, 2 * P);
    }
    t.err(
        "openat of an empty path fails with ENOENT",
        sys(nr::OPENAT, cwd, c"".as_ptr() as usize, O_RDONLY, 0),
        ENOENT,
    );
    let odd = b"x/etc/test.txt\0";
    let fd = sys(nr::OPENAT, cwd, odd.as_ptr() as usize + 1, O_RDONLY, 0);
    t.success("openat of a path at a misaligned address works", fd);
    close(fd as i32);
    t.err(
        "openat of a relative path with a bad dirfd fails with EBADF",
        sys(nr::OPENAT, 12345, c"etc".as_ptr() as usize, O_RDONLY, 0),
        EBADF,
    );
    let fd = sys(
        nr::OPENAT,
        12345,
        c"/etc/test.txt".as_ptr() as usize,
        O_RDONLY,
        0,
    );
    t.success("openat of an absolute path ignores a bad dirfd", fd);
    close(fd as i32);
    t.err(
        "openat O_DIRECTORY of a regular file fails with ENOTDIR",
        open(c"/etc/test.txt", O_RDONLY | O_DIRECTORY, 0),
        ENOTDIR,
    );
    t.err(
        "faccessat with mode 8 (not R/W/X/F_OK) fails with EINVAL",
        sys(nr::FACCESSAT, cwd, c"/".as_ptr() as usize, 8, 0),
        EINVAL,
    );
    t.err(
        "unlinkat with flags 1 fails with EINVAL",
        sys(nr::UNLINKAT, cwd, c"/tmp/x".as_ptr() as usize, 1, 0),
        EINVAL,
    );
    t.err(
        "chdir to a regular file fails with ENOTDIR",
        sys(nr::CHDIR, c"/etc/test.txt".as_ptr() as usize, 0, 0, 0),
        ENOTDIR,
    );
    t.err(
        "readlinkat with a buffer size of 0 fails with EINVAL",
        sys(
            nr::READLINKAT,
            cwd,
            c"/etc/test.txt".as_ptr() as usize,
            l,
            0,
        ),
        EINVAL,
    );
    t.err(
        "readlinkat of a file that is not a symlink fails with EINVAL",
        sys(
            nr::READLINKAT,
            cwd,
            c"/etc/test.txt".as_ptr() as usize,
            l,
            64,
        ),
        EINVAL,
    );

    t.err(
        "getcwd into NULL fails with EFAULT",
        sys(nr::GETCWD, 0, 4096, 0, 0),
        EFAULT,
    );
    t.err(
        "getcwd into a kernel address fails with EFAULT",
        sys(nr::GETCWD, KADDR, 4096, 0, 0),
        EFAULT,
    );
    t.err(
        "getcwd with a 1-byte buffer fails with ERANGE",
        sys(nr::GETCWD, l, 1, 0, 0),
        ERANGE,
    );
    t.ret(
        "getcwd of / with a usize::MAX size returns 2 (\"/\" and its NUL)",
        sys(nr::GETCWD, l, usize::MAX, 0, 0),
        2,
    );
}

/// uname(2).
fn info(t: &mut Tap, bad: &Bad) {
    for (what, p) in bad.all() {
        t.err(
            format_args!("uname into {} fails with EFAULT", what),
            sys(nr::UNAME, p, 0, 0, 0),
            EFAULT,
        );
    }
    let mut raw = [0u8; 400];
    let odd = raw.as_mut_ptr() as usize + 1;
    t.ret(
        "uname into a misaligned buffer works",
        sys(nr::UNAME, odd, 0, 0, 0),
        0,
    );
    let field = |i: usize| {
        let f = &raw[1 + 65 * i..1 + 65 * (i + 1)];
        let n = f.iter().position(|&c| c == 0).unwrap_or(65);
        core::str::from_utf8(&f[..n]).unwrap_or("?")
    };
    t.check(
        field(0) == "Linux",
        "uname's sysname is Linux",
        field(0),
        "Linux",
    );
    t.check(
        field(4) == "aarch64",
        "uname's machine is aarch64",
        field(4),
        "aarch64",
    );
}

/// clock_gettime(2), nanosleep(2).
fn time(t: &mut Tap, bad: &Bad) {
    for (what, p) in bad.all() {
        t.err(
            format_args!("clock_gettime into {} fails with EFAULT", what),
            sys(nr::CLOCK_GETTIME, CLOCK_MONOTONIC, p, 0, 0),
            EFAULT,
        );
        t.err(
            format_args!("nanosleep with the request at {} fails with EFAULT", what),
            sys(nr::NANOSLEEP, p, 0, 0, 0),
            EFAULT,
        );
    }
    let mut raw = [0u8; 40];
    let odd = raw.as_mut_ptr() as usize + 1;
    t.err(
        "clock_gettime of clock 1000 fails with EINVAL",
        sys(nr::CLOCK_GETTIME, 1000, odd, 0, 0),
        EINVAL,
    );
    t.ret(
        "clock_gettime into a misaligned timespec works",
        sys(nr::CLOCK_GETTIME, CLOCK_MONOTONIC, odd, 0, 0),
        0,
    );
    let ts = unsafe { core::ptr::read_unaligned(odd as *const Timespec) };
    t.ok(
        ts.tv_nsec >= 0 && ts.tv_nsec < 1_000_000_000 && ts.tv_sec >= 0,
        "the misaligned timespec holds a valid time",
    );
    for (what, req) in [
        (
            "tv_nsec = 1e9",
            Timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            },
        ),
        (
            "tv_nsec = -1",
            Timespec {
                tv_sec: 0,
                tv_nsec: -1,
            },
        ),
        (
            "tv_sec = -1",
            Timespec {
                tv_sec: -1,
                tv_nsec: 0,
            },
        ),
    ] {
        let r = sys(nr::NANOSLEEP, &req as *const Timespec as usize, 0, 0, 0);
        t.err(
            format_args!("nanosleep with {} fails with EINVAL", what),
            r,
            EINVAL,
        );
    }
    let req = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    t.ret(
        "nanosleep with a bad rem pointer succeeds when not interrupted (rem is not written)",
        sys(nr::NANOSLEEP, &req as *const Timespec as usize, KADDR, 0, 0),
        0,
    );
    unsafe { core::ptr::write_unaligned(odd as *mut Timespec, req) };
    t.ret(
        "nanosleep with a misaligned request works",
        sys(nr::NANOSLEEP, odd, 0, 0, 0),
        0,
    );
}

/// wait4(2): the status and rusage are written after the child is reaped.
fn wait(t: &mut Tap) {
    let pid = fork();
    if pid == 0 {
        exit(3);
    }
    t.err(
        "wait4 with a kernel-address status pointer fails with EFAULT",
        sys(nr::WAIT4, pid as usize, KADDR, 0, 0),
        EFAULT,
    );
    t.err(
        "... and the child was reaped anyway (wait4 again: ECHILD)",
        sys(nr::WAIT4, pid as usize, 0, 0, 0),
        ECHILD,
    );
    let pid = fork();
    if pid == 0 {
        exit(4);
    }
    t.err(
        "wait4 with a kernel-address rusage pointer fails with EFAULT",
        sys(nr::WAIT4, pid as usize, 0, 0, KADDR),
        EFAULT,
    );
    t.err(
        "... and that child was reaped too",
        sys(nr::WAIT4, pid as usize, 0, 0, 0),
        ECHILD,
    );
    t.err(
        "wait4 with an unknown option bit (0x100) fails with EINVAL",
        sys(nr::WAIT4, usize::MAX, 0, 0x100, 0),
        EINVAL,
    );
    let pid = fork();
    if pid == 0 {
        exit(5);
    }
    let mut raw = [0u8; 8];
    let odd = raw.as_mut_ptr() as usize + 1;
    t.ret(
        "wait4 with a misaligned status pointer works",
        sys(nr::WAIT4, pid as usize, odd, 0, 0),
        pid,
    );
    let st = Wstatus(unsafe { core::ptr::read_unaligned(odd as *const i32) });
    t.exited("the misaligned status says exit status 5", st, 5);
}

/// prlimit64(2), getrandom(2).
fn limits_random(t: &mut Tap, bad: &Bad) {
    // (NULL is not a bad pointer here: it means "no new limit" or "no old limit".)
    for (what, p) in bad.all().into_iter().skip(1) {
        let r = sys(nr::PRLIMIT64, 0, RLIMIT_NOFILE, 0, p);
        t.err(
            format_args!("prlimit64 with the old limit at {} fails with EFAULT", what),
            r,
            EFAULT,
        );
        let r = sys(nr::PRLIMIT64, 0, RLIMIT_NOFILE, p, 0);
        t.err(
            format_args!("prlimit64 with the new limit at {} fails with EFAULT", what),
            r,
            EFAULT,
        );
    }
    for (what, p) in bad.all() {
        t.err(
            format_args!("getrandom into {} fails with EFAULT", what),
            sys(nr::GETRANDOM, p, 16, 0, 0),
            EFAULT,
        );
    }
    // dup3 to the last descriptor RLIMIT_NOFILE allows (nr_open, 1048576, the most Linux
    // lets root set): Linux grows its fd table to 1M entries; a kernel that cannot must
    // fail with ENOMEM (as expand_files does), not die. In a child, so the limit goes too.
    let st = in_child(|| {
        let big = Rlimit {
            rlim_cur: 1 << 20,
            rlim_max: 1 << 20,
        };
        if prlimit64(RLIMIT_NOFILE, Some(&big), None) != 0 {
            return 1;
        }
        match sys(nr::DUP3, 1, (1 << 20) - 1, 0, 0) {
            r if r == (1 << 20) - 1 || r == -(ENOMEM as isize) => 0,
            _ => 2,
        }
    });
    t.exited(
        "dup3 to fd 1048575 under RLIMIT_NOFILE 1048576 succeeds or fails with ENOMEM",
        st,
        0,
    );
    t.ret(
        "prlimit64 with both pointers NULL succeeds",
        sys(nr::PRLIMIT64, 0, RLIMIT_NOFILE, 0, 0),
        0,
    );
    let mut raw = [0u8; 24];
    let odd = raw.as_mut_ptr() as usize + 1;
    t.err(
        "prlimit64 of resource 1000 fails with EINVAL",
        sys(nr::PRLIMIT64, 0, 1000, 0, odd),
        EINVAL,
    );
    t.err(
        "prlimit64 of a pid that does not exist fails with ESRCH",
        sys(nr::PRLIMIT64, 0x3fff_fff0, RLIMIT_NOFILE, 0, odd),
        ESRCH,
    );
    let inverted = Rlimit {
        rlim_cur: 10,
        rlim_max: 5,
    };
    t.err(
        "prlimit64 with a soft limit above the hard limit fails with EINVAL",
        sys(
            nr::PRLIMIT64,
            0,
            RLIMIT_NOFILE,
            &inverted as *const Rlimit as usize,
            0,
        ),
        EINVAL,
    );
    t.ret(
        "prlimit64 into a misaligned rlimit works",
        sys(nr::PRLIMIT64, 0, RLIMIT_NOFILE, 0, odd),
        0,
    );
    let lim = unsafe { core::ptr::read_unaligned(odd as *const Rlimit) };
    t.ok(
        lim.rlim_cur > 0 && lim.rlim_cur <= lim.rlim_max,
        "the misaligned rlimit holds 0 < soft <= hard",
    );

    t.err(
        "getrandom of usize::MAX bytes into a kernel address fails with EFAULT",
        sys(nr::GETRANDOM, KADDR, usize::MAX, 0, 0),
        EFAULT,
    );
    t.err(
        "getrandom of 1 << 62 bytes into NULL fails with EFAULT",
        sys(nr::GETRANDOM, 0, 1 << 62, 0, 0),
        EFAULT,
    );
    let mut buf = [0u8; 17];
    let b = buf.as_mut_ptr() as usize;
    t.err(
        "getrandom with an unknown flag (0x100) fails with EINVAL",
        sys(nr::GETRANDOM, b, 16, 0x100, 0),
        EINVAL,
    );
    t.err(
        "getrandom with GRND_RANDOM|GRND_INSECURE fails with EINVAL",
        sys(nr::GETRANDOM, b, 16, GRND_RANDOM | GRND_INSECURE, 0),
        EINVAL,
    );
    t.ret(
        "getrandom of 0 bytes returns 0",
        sys(nr::GETRANDOM, 0, 0, 0, 0),
        0,
    );
    t.ret(
        "getrandom of 16 bytes into a misaligned buffer returns 16",
        sys(nr::GETRANDOM, b + 1, 16, 0, 0),
        16,
    );
}

/// mmap, munmap, mprotect, brk, mincore with kernel addresses and absurd lengths.
fn memory(t: &mut Tap, bad: &Bad) {
    const RW: usize = PROT_READ | PROT_WRITE;
    const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
    for (what, len) in [("usize::MAX", usize::MAX), ("1 << 62", 1 << 62)] {
        t.err(
            format_args!("mmap of {} bytes fails with ENOMEM", what),
            mmap(0, len, RW, ANON, -1, 0),
            ENOMEM,
        );
        t.err(
            format_args!("munmap of {} bytes fails with EINVAL", what),
            munmap(P, len),
            EINVAL,
        );
        t.err(
            format_args!("mprotect of {} bytes fails with ENOMEM", what),
            mprotect(P, len, PROT_READ),
            ENOMEM,
        );
        t.err(
            format_args!("mincore of {} bytes fails with ENOMEM", what),
            mincore(P, len, core::ptr::null_mut()),
            ENOMEM,
        );
    }
    t.err(
        "mmap MAP_FIXED at a kernel address fails with ENOMEM",
        mmap(KADDR, P, RW, ANON | MAP_FIXED, -1, 0),
        ENOMEM,
    );
    let a = mmap(KADDR, P, RW, ANON, -1, 0);
    t.check(
        a > 0 && (a as usize) < TASK_SIZE,
        "mmap with a kernel-address hint maps somewhere in user space",
        Ret(a),
        "a user address",
    );
    if a > 0 {
        munmap(a as usize, P);
    }
    t.err(
        "munmap of a kernel address fails with EINVAL",
        munmap(KADDR, P),
        EINVAL,
    );
    t.err(
        "mprotect of a kernel address fails with ENOMEM",
        mprotect(KADDR, P, PROT_READ),
        ENOMEM,
    );
    t.err(
        "mincore of a kernel address fails with ENOMEM",
        mincore(KADDR, P, core::ptr::null_mut()),
        ENOMEM,
    );
    let old = brk(0);
    t.addr(
        "brk to a kernel address returns the old break",
        brk(KADDR),
        old,
    );
    let m = mmap_anon(P);
    if m > 0 {
        for (what, p) in bad.all() {
            t.err(
                format_args!("mincore with the vector at {} fails with EFAULT", what),
                mincore(m as usize, P, p as *mut u8),
                EFAULT,
            );
        }
        let mut v = [0u8; 3];
        t.ret(
            "mincore into a misaligned vector works",
            mincore(m as usize, P, v[1..].as_mut_ptr()),
            0,
        );
        munmap(m as usize, P);
    }
}

/// fstat, newfstatat (the stat buffer), getdents64.
fn stat_dents(t: &mut Tap, bad: &Bad, fd: i32) {
    let path = c"/etc/test.txt".as_ptr() as usize;
    for (what, p) in bad.all() {
        t.err(
            format_args!("newfstatat into {} fails with EFAULT", what),
            sys(nr::NEWFSTATAT, AT_FDCWD as usize, path, p, 0),
            EFAULT,
        );
        t.err(
            format_args!("fstat into {} fails with EFAULT", what),
            sys(nr::FSTAT, fd as usize, p, 0, 0),
            EFAULT,
        );
    }
    let mut st = Stat::default();
    let stp = &mut st as *mut Stat as usize;
    t.err(
        "newfstatat with flags 1 (unknown) fails with EINVAL",
        sys(nr::NEWFSTATAT, AT_FDCWD as usize, path, stp, 1),
        EINVAL,
    );
    t.err(
        "fstat of fd -1 fails with EBADF",
        sys(nr::FSTAT, usize::MAX, stp, 0, 0),
        EBADF,
    );
    let mut raw = [0u8; 136];
    let odd = raw.as_mut_ptr() as usize + 1;
    t.ret(
        "newfstatat into a misaligned stat buffer works",
        sys(nr::NEWFSTATAT, AT_FDCWD as usize, path, odd, 0),
        0,
    );
    let st = unsafe { core::ptr::read_unaligned(odd as *const Stat) };
    t.check(
        st.st_mode & S_IFMT == S_IFREG && st.st_size > P as i64,
        "the misaligned stat says a regular file of more than 4096 bytes",
        st.st_size,
        "> 4096",
    );

    let dir = open(c"/", O_RDONLY | O_DIRECTORY, 0) as i32;
    if !t.success("open / O_DIRECTORY", dir as isize) {
        return;
    }
    for (what, p) in bad.all() {
        t.err(
            format_args!("getdents64 into {} fails with EFAULT", what),
            sys(nr::GETDENTS64, dir as usize, p, 4096, 0),
            EFAULT,
        );
    }
    let mut buf = [0u8; 4097];
    let b = buf.as_mut_ptr() as usize;
    t.err(
        "getdents64 with a 1-byte buffer fails with EINVAL",
        sys(nr::GETDENTS64, dir as usize, b, 1, 0),
        EINVAL,
    );
    t.err(
        "getdents64 of a regular file fails with ENOTDIR",
        sys(nr::GETDENTS64, fd as usize, b, 4096, 0),
        ENOTDIR,
    );
    t.err(
        "getdents64 of fd -1 fails with EBADF",
        sys(nr::GETDENTS64, usize::MAX, b, 4096, 0),
        EBADF,
    );
    let n = sys(nr::GETDENTS64, dir as usize, b + 1, 4096, 0);
    t.success("getdents64 into a misaligned buffer works", n);
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    let (mut dot, mut dotdot, mut etc, mut tmp) = (false, false, false, false);
    let mut off = 1;
    while n > 0 && off < 1 + n as usize {
        let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
        let name = &buf[off + 19..off + reclen];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        dot |= name == b".";
        dotdot |= name == b"..";
        etc |= name == b"etc";
        tmp |= name == b"tmp";
        if reclen == 0 {
            break;
        }
        off += reclen;
    }
    t.ok(
        dot && dotdot && etc && tmp,
        "after the failed calls, getdents64 of / still lists ., .., etc and tmp",
    );
    close(dir);
}

/// rt_sigaction, rt_sigprocmask, kill: bad pointers, sizes and signal numbers.
/// What another user may not do to this (root) process: read its memory through /proc
/// (EACCES at open: `ptrace_may_access`) or change its limits (EPERM:
/// `check_prlimit_permission`); its own /proc files stay open to it.
fn other_users(t: &mut Tap) {
    let parent = getpid();
    let code = |path: &str| -> isize {
        let mut b = [0u8; 48];
        let n = path.len().min(47);
        b[..n].copy_from_slice(&path.as_bytes()[..n]);
        let c = core::ffi::CStr::from_bytes_until_nul(&b).unwrap_or(c"/");
        let fd = open(c, O_RDONLY, 0);
        if fd >= 0 {
            close(fd as i32);
            0
        } else {
            fd
        }
    };
    // Root may.
    let maps = PathBuf::of(format_args!("/proc/{parent}/maps"));
    t.ret(
        "root opens another process's /proc/PID/maps",
        code(maps.as_str()),
        0,
    );
    let st = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 10;
        }
        let mut fails = 0;
        for (i, f) in ["maps", "smaps", "pagemap", "mem"].iter().enumerate() {
            let p = PathBuf::of(format_args!("/proc/{parent}/{f}"));
            if code(p.as_str()) != -(EACCES as isize) {
                fails |= 1 << i;
            }
        }
        if code("/proc/self/maps") != 0 {
            fails |= 1 << 4;
        }
        let lim = Rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        if prlimit_of(parent, RLIMIT_NOFILE, &lim) != -(EPERM as isize) {
            fails |= 1 << 5;
        }
        fails
    });
    t.exited(
        "as uid 1000: /proc/1/{maps,smaps,pagemap,mem} are EACCES, /proc/self/maps opens, \
         prlimit64 of pid 1 is EPERM",
        st,
        0,
    );
}

/// A NUL-terminated path built with `format_args!`, on the stack.
struct PathBuf {
    b: [u8; 48],
    n: usize,
}

impl PathBuf {
    fn of(args: core::fmt::Arguments<'_>) -> PathBuf {
        let mut p = PathBuf { b: [0; 48], n: 0 };
        let _ = core::fmt::Write::write_fmt(&mut p, args);
        p
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("")
    }
}

impl core::fmt::Write for PathBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = (self.n + s.len()).min(self.b.len() - 1);
        self.b[self.n..end].copy_from_slice(&s.as_bytes()[..end - self.n]);
        self.n = end;
        Ok(())
    }
}

/// `pgfault` from /proc/vmstat.
fn pgfault() -> u64 {
    let mut buf = [0u8; 8192];
    let fd = open(c"/proc/vmstat", O_RDONLY, 0);
    if fd < 0 {
        return 0;
    }
    let mut len = 0;
    while len < buf.len() {
        let n = read(fd as i32, &mut buf[len..]);
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    close(fd as i32);
    core::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("pgfault ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// SIGKILL stops a long MAP_POPULATE: the kernel lets the killer run in the middle of it
/// (cond_resched) and gives up at the next page (fatal_signal_pending in gup).
fn killed_populate(t: &mut Tap) {
    const LEN: usize = 256 << 20;
    let before = pgfault();
    let pid = fork();
    if pid == 0 {
        let p = mmap(
            0,
            LEN,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | 0x8000,
            -1,
            0,
        );
        exit(if p < 0 { 2 } else { 3 });
    }
    sleep_ms(20);
    kill(pid as i32, SIGKILL);
    let mut status = 0i32;
    wait4(pid as i32, Some(&mut status), 0);
    let faults = pgfault() - before;
    t.check(
        status & 0x7f == SIGKILL,
        "a child killed in the middle of a 256 MiB MAP_POPULATE dies of SIGKILL",
        status,
        "killed by SIGKILL",
    );
    t.check(
        faults < (LEN / 4096) as u64,
        "and its populate stopped early",
        faults,
        format_args!("< {} faults", LEN / 4096),
    );
}

/// /proc/sys/fs/nr_open caps RLIMIT_NOFILE, for root too (Linux: `do_prlimit` ->
/// EPERM above `sysctl_nr_open`; the sysctl keeps to [64, INT_MAX & ~63]).
fn nr_open(t: &mut Tap) {
    const F: &core::ffi::CStr = c"/proc/sys/fs/nr_open";
    let mut buf = [0u8; 32];
    let n = procfs::read_file(F, &mut buf).unwrap_or(0);
    t.eq(
        "/proc/sys/fs/nr_open is 1048576",
        core::str::from_utf8(&buf[..n]).unwrap_or("?"),
        "1048576\n",
    );
    let set = |v: &[u8]| -> isize {
        let fd = open(F, O_WRONLY, 0) as i32;
        let r = write(fd, v);
        close(fd);
        r
    };
    let nofile = |max: u64| -> isize {
        in_child(|| {
            let l = Rlimit {
                rlim_cur: 64,
                rlim_max: max,
            };
            -(prlimit64(RLIMIT_NOFILE, Some(&l), None) as i32)
        })
        .exit_status() as isize
    };
    t.err("RLIMIT_NOFILE above nr_open: EPERM, even for root", -nofile(1 << 20 | 1), EPERM);
    t.ret("RLIMIT_NOFILE at nr_open is allowed", nofile(1 << 20), 0);
    t.ret("nr_open can be lowered to 4096", set(b"4096\n"), 5);
    t.err("then 4097 is EPERM", -nofile(4097), EPERM);
    t.ret("and 4096 is allowed", nofile(4096), 0);
    t.err("nr_open below 64 is EINVAL", set(b"63\n"), EINVAL);
    t.err("nr_open above INT_MAX & ~63 is EINVAL", set(b"2147483647\n"), EINVAL);
    t.ret("nr_open back to 1048576", set(b"1048576\n"), 8);
}

/// prlimit64(pid, resource, new, NULL).
fn prlimit_of(pid: i32, resource: usize, new: &Rlimit) -> isize {
    sys(
        nr::PRLIMIT64,
        pid as usize,
        resource,
        new as *const Rlimit as usize,
        0,
    )
}

fn signals(t: &mut Tap) {
    const SIG_BLOCK: usize = 0;
    t.err(
        "rt_sigaction with the new action at a kernel address fails with EFAULT",
        sys(nr::RT_SIGACTION, SIGTERM as usize, KADDR, 0, 8),
        EFAULT,
    );
    t.err(
        "rt_sigaction with the old action at a kernel address fails with EFAULT",
        sys(nr::RT_SIGACTION, SIGTERM as usize, 0, KADDR, 8),
        EFAULT,
    );
    t.err(
        "rt_sigaction with sigsetsize 4 fails with EINVAL",
        sys(nr::RT_SIGACTION, SIGTERM as usize, 0, 0, 4),
        EINVAL,
    );
    t.err(
        "rt_sigaction of signal 65 fails with EINVAL",
        sys(nr::RT_SIGACTION, 65, 0, 0, 8),
        EINVAL,
    );
    let dfl = [0u64; 4]; // struct sigaction { handler = SIG_DFL, flags, restorer, mask }
    t.err(
        "rt_sigaction installing an action for SIGKILL fails with EINVAL",
        sys(
            nr::RT_SIGACTION,
            SIGKILL as usize,
            dfl.as_ptr() as usize,
            0,
            8,
        ),
        EINVAL,
    );
    t.err(
        "sigaltstack with a stack_t running off the top of the address space fails with EFAULT",
        sys(nr::SIGALTSTACK, usize::MAX - 7, 0, 0, 0),
        EFAULT,
    );
    t.err(
        "rt_sigprocmask with the set at a kernel address fails with EFAULT",
        sys(nr::RT_SIGPROCMASK, SIG_BLOCK, KADDR, 0, 8),
        EFAULT,
    );
    t.err(
        "rt_sigprocmask with the old set at a kernel address fails with EFAULT",
        sys(nr::RT_SIGPROCMASK, SIG_BLOCK, 0, KADDR, 8),
        EFAULT,
    );
    t.err(
        "rt_sigprocmask with sigsetsize 4 fails with EINVAL",
        sys(nr::RT_SIGPROCMASK, SIG_BLOCK, 0, 0, 4),
        EINVAL,
    );
    let empty = 0u64;
    t.err(
        "rt_sigprocmask with how = 99 fails with EINVAL",
        sys(nr::RT_SIGPROCMASK, 99, &empty as *const u64 as usize, 0, 8),
        EINVAL,
    );
    t.err(
        "kill with signal 65 fails with EINVAL",
        kill(getpid(), 65),
        EINVAL,
    );
    t.err(
        "kill of a pid that does not exist fails with ESRCH",
        kill(0x3fff_fff0, 0),
        ESRCH,
    );
}

/// execve(2), each try in a child (a wrong success would replace the program: the probe
/// marker makes such an image exit with 99 at once). The child exits with the errno.
fn exec(t: &mut Tap, bad: &Bad) {
    let arg0 = c"robustness".as_ptr();
    let probe = c"--exec-probe".as_ptr();
    let env = c"ROBUSTNESS_PROBE=1".as_ptr();
    let null = core::ptr::null::<u8>();
    let argv = [arg0, probe, null];
    let envp = [env, null];
    let a = argv.as_ptr() as usize;
    let e = envp.as_ptr() as usize;
    let try_exec = |path: usize, argv: usize, envp: usize| {
        in_child(move || {
            let r = sys(nr::EXECVE, path, argv, envp, 0);
            if r < 0 {
                -r as i32
            } else {
                98
            }
        })
    };
    let me = SELF.as_ptr() as usize;
    for (what, p) in bad.all() {
        t.exited(
            format_args!("execve of a path at {} fails with EFAULT", what),
            try_exec(p, a, e),
            EFAULT,
        );
    }
    t.exited(
        "execve of a path running into a PROT_NONE page fails with EFAULT",
        try_exec(bad.edge, a, e),
        EFAULT,
    );
    for (what, p) in bad.all().into_iter().skip(1) {
        // (A NULL argv is allowed since Linux 5.18: it becomes { "" }.)
        t.exited(
            format_args!("execve with argv at {} fails with EFAULT", what),
            try_exec(me, p, e),
            EFAULT,
        );
        t.exited(
            format_args!("execve with envp at {} fails with EFAULT", what),
            try_exec(me, a, p),
            EFAULT,
        );
    }
    let bad_arg = [arg0, KADDR as *const u8, null];
    t.exited(
        "execve with argv[1] at a kernel address fails with EFAULT",
        try_exec(me, bad_arg.as_ptr() as usize, e),
        EFAULT,
    );
    let bad_env = [unmapped_addr() as *const u8, null];
    t.exited(
        "execve with envp[0] at an unmapped address fails with EFAULT",
        try_exec(me, a, bad_env.as_ptr() as usize),
        EFAULT,
    );
    let path = c"/bin/does-not-exist".as_ptr() as usize;
    t.exited(
        "execve of a file that does not exist fails with ENOENT",
        try_exec(path, a, e),
        ENOENT,
    );
    t.exited(
        "execve of a directory fails with EACCES",
        try_exec(c"/tmp".as_ptr() as usize, a, e),
        EACCES,
    );

    // MAX_ARG_STRLEN is 32 pages: one argument of 131072 bytes plus its NUL is too long.
    let big = mmap_anon(33 * P);
    if big > 0 {
        let big = big as usize;
        let s = unsafe { bytes(big, 33 * P) };
        s.fill(b'a');
        s[32 * P] = 0;
        let long_arg = [arg0, big as *const u8, null];
        t.exited(
            "execve with an argument longer than MAX_ARG_STRLEN fails with E2BIG",
            try_exec(me, long_arg.as_ptr() as usize, e),
            E2BIG,
        );
        munmap(big, 33 * P);
    }
    t.exited(
        "a child running our own image with the probe argument exits 99 (the probe works)",
        try_exec(me, a, e),
        99,
    );
}

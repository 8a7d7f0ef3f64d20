//! fuzz: a seedable system-call fuzzer. `fuzz SEED CALLS [BATCH]` makes CALLS system calls
//! with arguments drawn from edge values (0, -1, 1, unaligned values, values near and above
//! TASK_SIZE, kernel addresses, huge and wrapping lengths, every single flag bit) and from
//! pointers into memory it prepares (PROT_NONE, unmapped, read-only and writable pages,
//! path strings, iovecs). Every system call in the kernel's table is tried except exit,
//! exit_group, execve, clone (only through fork) and signals to other processes.
//!
//! The calls run in batches of [`BATCH_CALLS`], each in a forked child (the calls may well
//! kill it: that is fine), which also touches its mappings and now and then forks again.
//! The batch child keeps a periodic ITIMER_REAL running with an empty SIGALRM handler
//! installed without SA_RESTART, so a call that blocks (a long nanosleep or ppoll, a read
//! of an empty pipe, a wait4 for a child that sleeps) returns EINTR within [`TICK_US`] and
//! the batch goes on. The parent waits for each child in a blocking wait4 that a one-shot
//! SIGALRM ends at the time limit (then SIGKILL: the calls may have disarmed the timer,
//! blocked SIGALRM or replaced its handler) and prints `fuzz: seed S batch B ok`; the last
//! line is `fuzz: N calls, M batches, done`. Whatever the calls do, the kernel must survive them:
//! `cargo xtask test` / `cargo xtask fuzz` check that no panic, hang or leak follows.
//!
//! A batch's calls depend only on (SEED, B): `fuzz SEED CALLS B` replays batch B alone, and
//! the kernel command line `strace` shows each call.
//!
//! System V segments the calls make are not removed by their creator's exit (Linux keeps
//! them, `kernel.shm_rmid_forced` being 0): the parent removes every segment after each
//! batch, so the run ends with none and the frame-leak check stays exact.
#![no_std]
#![no_main]
use ulib::*;

const P: usize = PAGE_SIZE;
/// System calls per batch (one forked child).
const BATCH_CALLS: usize = 250;
/// A batch child still running after this long is killed (a sleep or wait the fuzzer
/// asked for, not a kernel hang: a kernel hang stops the parent too).
const BATCH_MS: u64 = 3000;
/// How many descendants' pids the shared page can hold, so the parent can kill them.
const MAX_KIDS: usize = 64;
/// The batch child's SIGALRM period in microseconds: the longest a blocking call holds
/// the batch up (unless the calls themselves reset the timer or the handler).
const TICK_US: i64 = 20_000;
/// SIGALRM (Linux's number on arm64).
const SIGALRM: i32 = 14;
/// EINTR as a return value.
const EINTR_RET: isize = -(errno::EINTR as isize);

/// xorshift64*: small, fast and good enough to pick arguments.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so nearby seeds start far apart; never 0.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// 0..n.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True one time in `n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// What an argument is, which decides the values it is drawn from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum A {
    /// A file descriptor.
    Fd,
    /// A user pointer to a buffer or structure.
    Ptr,
    /// A pointer to a path string.
    Path,
    /// A byte count.
    Len,
    /// A flag word / mode / command.
    Flags,
    /// A plain integer (offset, uid, clock id, resource).
    Int,
    /// An address for the memory calls (a mapping's start, an edge).
    Addr,
    /// A pid this process may hurt: itself or its own child.
    Pid,
    /// A signal number.
    Sig,
    /// A pointer to an iovec array.
    Iov,
    /// A pointer to a struct timespec.
    Time,
    /// A System V shared memory identifier: the batch's last one, a small one, junk.
    ShmId,
    /// An ioctl command a file here has (UFFDIO_*, TIOCGWINSZ), or junk.
    Ioctl,
}

use A::*;

/// The system calls the kernel implements (kernel/src/syscall/sys.rs `lookup`), with the
/// kinds of their arguments. Left out: exit, exit_group, execve, clone (fork is done by
/// hand), and kill/tkill get only our own pids.
const CALLS: &[(usize, &str, &[A])] = &[
    (160, "uname", &[Ptr]),
    (174, "getuid", &[]),
    (175, "geteuid", &[]),
    (176, "getgid", &[]),
    (177, "getegid", &[]),
    (146, "setuid", &[Int]),
    (147, "setresuid", &[Int, Int, Int]),
    (148, "getresuid", &[Ptr, Ptr, Ptr]),
    (261, "prlimit64", &[Pid, Int, Ptr, Ptr]),
    (163, "getrlimit", &[Int, Ptr]),
    (164, "setrlimit", &[Int, Ptr]),
    (113, "clock_gettime", &[Int, Ptr]),
    (101, "nanosleep", &[Time, Ptr]),
    (278, "getrandom", &[Ptr, Len, Flags]),
    (260, "wait4", &[Pid, Ptr, Flags, Ptr]),
    (172, "getpid", &[]),
    (178, "gettid", &[]),
    (173, "getppid", &[]),
    (124, "sched_yield", &[]),
    (96, "set_tid_address", &[Ptr]),
    (129, "kill", &[Pid, Sig]),
    (130, "tkill", &[Pid, Sig]),
    (134, "rt_sigaction", &[Sig, Ptr, Ptr, Len]),
    (135, "rt_sigprocmask", &[Int, Ptr, Ptr, Len]),
    (133, "rt_sigsuspend", &[Ptr, Len]),
    (136, "rt_sigpending", &[Ptr, Len]),
    (128, "restart_syscall", &[]),
    (137, "rt_sigtimedwait", &[Ptr, Ptr, Time, Len]),
    (98, "futex", &[Ptr, Flags, Int, Time, Ptr, Int]),
    (165, "getrusage", &[Int, Ptr]),
    (166, "umask", &[Flags]),
    (90, "capget", &[Ptr, Ptr]),
    (91, "capset", &[Ptr, Ptr]),
    (167, "prctl", &[Int, Int, Int, Int, Int]),
    (47, "fallocate", &[Fd, Flags, Int, Len]),
    (122, "sched_setaffinity", &[Pid, Len, Ptr]),
    (123, "sched_getaffinity", &[Pid, Len, Ptr]),
    (115, "clock_nanosleep", &[Int, Flags, Time, Ptr]),
    (153, "times", &[Ptr]),
    (99, "set_robust_list", &[Ptr, Len]),
    (100, "get_robust_list", &[Pid, Ptr, Ptr]),
    (131, "tgkill", &[Pid, Pid, Sig]),
    (56, "openat", &[Fd, Path, Flags, Flags]),
    (57, "close", &[Fd]),
    (63, "read", &[Fd, Ptr, Len]),
    (64, "write", &[Fd, Ptr, Len]),
    (65, "readv", &[Fd, Iov, Len]),
    (66, "writev", &[Fd, Iov, Len]),
    (67, "pread64", &[Fd, Ptr, Len, Int]),
    (68, "pwrite64", &[Fd, Ptr, Len, Int]),
    (62, "lseek", &[Fd, Int, Int]),
    (80, "fstat", &[Fd, Ptr]),
    (43, "statfs", &[Path, Ptr]),
    (44, "fstatfs", &[Fd, Ptr]),
    (59, "pipe2", &[Ptr, Flags]),
    (82, "fsync", &[Fd]),
    (102, "getitimer", &[Int, Ptr]),
    (103, "setitimer", &[Int, Ptr, Ptr]),
    (154, "setpgid", &[Pid, Pid]),
    (155, "getpgid", &[Pid]),
    (156, "getsid", &[Pid]),
    (157, "setsid", &[]),
    (83, "fdatasync", &[Fd]),
    (79, "newfstatat", &[Fd, Path, Ptr, Flags]),
    (61, "getdents64", &[Fd, Ptr, Len]),
    (46, "ftruncate", &[Fd, Int]),
    (29, "ioctl", &[Fd, Int, Ptr]),
    (29, "ioctl", &[Fd, Ioctl, Ptr]),
    (282, "userfaultfd", &[Flags]),
    (34, "mkdirat", &[Fd, Path, Flags]),
    (35, "unlinkat", &[Fd, Path, Flags]),
    (49, "chdir", &[Path]),
    (17, "getcwd", &[Ptr, Len]),
    (48, "faccessat", &[Fd, Path, Flags]),
    (52, "fchmod", &[Fd, Flags]),
    (53, "fchmodat", &[Fd, Path, Flags]),
    (54, "fchownat", &[Fd, Path, Int, Int, Flags]),
    (55, "fchown", &[Fd, Int, Int]),
    (199, "socketpair", &[Int, Flags, Int, Ptr]),
    (210, "shutdown", &[Fd, Int]),
    (23, "dup", &[Fd]),
    (24, "dup3", &[Fd, Fd, Flags]),
    (25, "fcntl", &[Fd, Int, Int]),
    (78, "readlinkat", &[Fd, Path, Ptr, Len]),
    (73, "ppoll", &[Ptr, Len, Time, Ptr, Len]),
    (132, "sigaltstack", &[Ptr, Ptr]),
    (222, "mmap", &[Addr, Len, Flags, Flags, Fd, Int]),
    (215, "munmap", &[Addr, Len]),
    (226, "mprotect", &[Addr, Len, Flags]),
    (214, "brk", &[Addr]),
    (232, "mincore", &[Addr, Len, Ptr]),
    (227, "msync", &[Addr, Len, Flags]),
    (228, "mlock", &[Addr, Len]),
    (229, "munlock", &[Addr, Len]),
    (230, "mlockall", &[Flags]),
    (231, "munlockall", &[]),
    (284, "mlock2", &[Addr, Len, Flags]),
    (233, "madvise", &[Addr, Len, Int]),
    (216, "mremap", &[Addr, Len, Len, Flags, Addr]),
    (194, "shmget", &[Int, Len, Flags]),
    (195, "shmctl", &[ShmId, Int, Ptr]),
    (196, "shmat", &[ShmId, Addr, Flags]),
    (197, "shmdt", &[Addr]),
];

/// Numbers a random "unknown" call must never hit: the ones left out above, the
/// reboot/kill family of real Linux (the program also runs there), and umount2/mount
/// (39, 40): as root they could take /proc or /tmp away from the rest of the run
/// (tmpfs_test checks their errors instead).
const NEVER: &[usize] = &[39, 40, 93, 94, 129, 130, 131, 142, 220, 221, 261, 435];

/// The memory a batch prepares, and the fds it opened.
struct World {
    /// Writable, touched; followed by `guard` (PROT_NONE).
    rw: usize,
    rw_len: usize,
    guard: usize,
    /// Read-only (populated with zeros).
    ro: usize,
    /// PROT_NONE.
    none: usize,
    /// Mapped then unmapped.
    hole: usize,
    /// MAP_SHARED anonymous.
    shared: usize,
    /// A MAP_SHARED mapping of the batch's tmp file (0 if that failed).
    filemap: usize,
    /// Path strings, each NUL-terminated, in `rw`.
    paths: [usize; 16],
    /// An iovec array in `rw`.
    iov: usize,
    /// A valid, short struct timespec in `rw`.
    ts: usize,
    /// The break at start.
    brk: usize,
    fds: [i32; 6],
    me: i32,
    child: i32,
    /// The last mapping a fuzzed mmap or shmat made (0 before one): big buffers, odd
    /// protections, segments.
    last: usize,
    /// The batch's System V segment, or the last one a fuzzed shmget made.
    shm: i32,
}

const PATHS: [&[u8]; 14] = [
    b"/tmp/fuzz.f\0",
    b"/tmp/fuzz.d\0",
    b"/tmp/fuzz.d/x\0",
    b"/\0",
    b".\0",
    b"..\0",
    b"/proc/self/maps\0",
    b"/dev/zero\0",
    b"/dev/null\0",
    b"/bin/fuzz\0",
    b"/tmp\0",
    b"\0",
    b"/nonexistent/x\0",
    b"/tmp/fuzz.f/\0",
];

const TASK: usize = TASK_SIZE;

impl World {
    /// Map and fill everything; `tag` names the tmp files.
    fn new() -> Option<World> {
        let rw_len = 8 * P;
        let rw = mmap_anon(rw_len + P);
        if rw < 0 {
            return None;
        }
        let rw = rw as usize;
        let guard = rw + rw_len;
        mprotect(guard, P, PROT_NONE);
        // SAFETY: [rw, rw + rw_len) was just mapped read-write.
        let mem = unsafe { bytes(rw, rw_len) };
        for (i, b) in mem.iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        let mut paths = [0usize; 16];
        let mut at = 0;
        for (i, p) in PATHS.iter().enumerate() {
            mem[at..at + p.len()].copy_from_slice(p);
            paths[i] = rw + at;
            at += p.len();
        }
        // A path of PATH_MAX bytes with no NUL inside it, and a string running into the guard.
        let long = rw + 4 * P;
        mem[4 * P..5 * P].fill(b'a');
        paths[14] = long;
        mem[rw_len - 3..].copy_from_slice(b"abc");
        paths[15] = rw + rw_len - 3;
        // iovecs: good, NULL-based, huge, into the guard.
        let iov = rw + 2 * P;
        let vecs: [(usize, usize); 6] = [
            (rw + 3 * P, 64),
            (0, 16),
            (rw + 3 * P, usize::MAX),
            (guard - 8, 64),
            (KERNEL_ADDR, 8),
            (rw + 3 * P + 1, P),
        ];
        for (i, (b, l)) in vecs.iter().enumerate() {
            put(iov + 16 * i, *b);
            put(iov + 16 * i + 8, *l);
        }
        // A page of interesting words: a pointer into it reads as a structure (rlimit,
        // timespec, stack_t, pollfd, sigaction) made of edge values.
        for k in 0..P / 8 {
            let v = if k % 2 == 0 {
                EDGES[(k / 2) % EDGES.len()]
            } else {
                WORDS[(k / 2) % WORDS.len()]
            };
            put(rw + 3 * P + 8 * k, v);
        }
        let ts = rw + 2 * P + 512;
        put(ts, 0);
        put(ts + 8, 1_000_000); // 1 ms
        let ro = mmap(0, 2 * P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).max(0) as usize;
        let none = mmap(0, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).max(0) as usize;
        let shared = mmap(
            0,
            2 * P,
            PROT_READ | PROT_WRITE,
            MAP_SHARED | MAP_ANONYMOUS,
            -1,
            0,
        )
        .max(0) as usize;
        if shared != 0 {
            poke(shared, 1);
        }
        let hole = unmapped_addr();
        // fds: 0-2 become /dev/null (no console reads to block on, no garbage printed).
        let null = open(c"/dev/null", O_RDWR, 0) as i32;
        for fd in 0..3 {
            if null >= 0 && null != fd {
                dup3(null, fd);
            }
        }
        if null > 2 {
            close(null);
        }
        let file = open(c"/tmp/fuzz.f", O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
        let mut filemap = 0;
        if file >= 0 {
            // SAFETY: rw is mapped and 8 pages long.
            write(file, unsafe { bytes(rw, 2 * P) });
            let m = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
            if m > 0 {
                filemap = m as usize;
                poke(filemap, 2);
            }
        }
        let dir = open(c"/tmp", O_RDONLY | O_DIRECTORY, 0) as i32;
        let zero = open(c"/dev/zero", O_RDWR, 0) as i32;
        let maps = open(c"/proc/self/maps", O_RDONLY, 0) as i32;
        let ro_file = open(c"/bin/fuzz", O_RDONLY, 0) as i32;
        Some(World {
            rw,
            rw_len,
            guard,
            ro,
            none,
            hole,
            shared,
            filemap,
            paths,
            iov,
            ts,
            brk: brk(0),
            fds: [file, dir, zero, maps, ro_file, 1],
            me: getpid(),
            child: 0,
            last: 0,
            // A segment of the batch's own, so shmat and shmctl meet a live one.
            shm: shmget(IPC_PRIVATE, 4 * P, IPC_CREAT | 0o600) as i32,
        })
    }
}

/// Store a word in our own memory (a prepared page).
fn put(addr: usize, v: usize) {
    // SAFETY: callers pass addresses inside `rw`, mapped read-write and 8-byte aligned.
    unsafe { (addr as *mut usize).write_volatile(v) }
}

fn dup3(old: i32, new: i32) -> isize {
    // SAFETY: dup3 takes no pointers.
    unsafe { syscall6(24, old as usize, new as usize, 0, 0, 0, 0) }
}

/// Edge values every kind of argument may get.
const EDGES: [usize; 16] = [
    0,
    1,
    usize::MAX,
    2,
    7,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    TASK - 1,
    TASK,
    TASK + P,
    KERNEL_ADDR,
    1 << 63,
    isize::MAX as usize,
    usize::MAX - P + 1,
];

/// Words for structures: limits, sizes, counts, nanoseconds, small fds.
const WORDS: [usize; 13] = [
    P,
    5120,
    1 << 20,
    1 << 30,
    999_999_999,
    1_000_000_000,
    3,
    64,
    0x7fff_fff0,
    1 << 24,
    0x1_0000_0003,
    (-100isize) as usize,
    0x8000_0000_0000_0000,
];

/// A value of kind `k`.
fn arg(r: &mut Rng, w: &World, k: A) -> usize {
    if r.one_in(8) {
        return r.pick(&EDGES);
    }
    match k {
        Fd => match r.below(6) {
            0 => r.pick(&[
                usize::MAX,
                (-100isize) as usize,
                1 << 20,
                1 << 24,
                0x7fff_fff0,
                65535,
                1023,
                1024,
                3,
                9,
            ]),
            1 => r.below(12),
            _ => r.pick(&w.fds) as usize,
        },
        Ioctl => match r.below(8) {
            7 => r.next() as usize,
            _ => r.pick(&[
                0xC018_AA3F, // UFFDIO_API
                0xC020_AA00, // UFFDIO_REGISTER
                0x8010_AA01, // UFFDIO_UNREGISTER
                0x8010_AA02, // UFFDIO_WAKE
                0xC028_AA03, // UFFDIO_COPY
                0xC020_AA04, // UFFDIO_ZEROPAGE
                0x5413,      // TIOCGWINSZ
            ]),
        },
        ShmId => match r.below(4) {
            0 | 1 if w.shm >= 0 => w.shm as usize,
            2 => (r.below(8) << 15) | r.below(4),
            _ => r.pick(&[0, 1, usize::MAX, 0x7fff, 0x8000, 1 << 31]),
        },
        Ptr | Time | Iov => {
            if k == Time && r.below(3) != 0 {
                return w.ts;
            }
            if k == Iov && r.below(3) != 0 {
                return w.iov + 16 * r.below(6);
            }
            ptr(r, w)
        }
        Path => {
            if r.below(5) == 0 {
                ptr(r, w)
            } else {
                r.pick(&w.paths)
            }
        }
        Len => match r.below(5) {
            0 => r.pick(&[0, 1, 8, 15, 16, 64, P - 1, P, P + 1, 2 * P, 8 * P]),
            1 => r.pick(&[1 << 20, 1 << 30, 1 << 40, 1 << 47, TASK, TASK + 1]),
            2 => r.pick(&[usize::MAX, usize::MAX - P + 2, 1 << 62, isize::MAX as usize]),
            3 => r.below(3 * P),
            _ => P * (1 + r.below(8)),
        },
        Flags => match r.below(4) {
            0 => 1 << r.below(64),
            1 => r.below(16),
            2 => (1 << r.below(32)) | r.pick(&[0, 1, 2, 3, 0x22, 0x21, 0x12]),
            _ => r.next() as usize & r.pick(&[0xff, 0xffff, 0x1f_ffff, usize::MAX]),
        },
        Int => match r.below(4) {
            0 => r.below(24),
            1 => (r.below(64) as isize - 32) as usize,
            2 => 1 << r.below(64),
            _ => r.next() as usize,
        },
        Addr => addr(r, w),
        Pid => match r.below(4) {
            0 => w.me as usize,
            1 if w.child > 0 => w.child as usize,
            2 => r.pick(&[0x7fff_ffff, 0x4000_0000, (i32::MIN + 1) as usize]),
            _ => w.me as usize,
        },
        Sig => r.pick(&[0, 0, 0, 9, 11, 15, 17, 19, 10, 12, 31, 32, 64, 65, 100]),
    }
}

/// A pointer: into each kind of prepared memory, at edges and unaligned.
fn ptr(r: &mut Rng, w: &World) -> usize {
    match r.below(12) {
        0 => 0,
        1 => w.rw + r.below(w.rw_len),
        2 | 3 => w.rw + 3 * P + 8 * r.below(64),
        4 => w.guard - r.pick(&[1, 3, 4, 7, 8, 15, 16, 64, 100]),
        5 => w.ro + r.below(2 * P),
        6 => w.none + r.below(P),
        7 => w.hole + r.below(P),
        8 => r.pick(&[
            TASK - 8,
            TASK - 1,
            TASK,
            KERNEL_ADDR,
            KERNEL_ADDR + 0x20_0000,
        ]),
        9 if w.shared != 0 => w.shared + r.below(P),
        10 if w.filemap != 0 => w.filemap + r.below(P),
        11 if w.last != 0 => w.last + P * r.below(4),
        _ => w.rw + 3 * P + 1 + r.below(64),
    }
}

/// An address for the memory calls: a mapping's start (sometimes not page aligned), an
/// address inside it, a hole, an edge.
fn addr(r: &mut Rng, w: &World) -> usize {
    let base = match r.below(9) {
        0 => w.rw,
        1 => w.ro,
        2 => w.none,
        3 => w.hole,
        4 => w.shared,
        5 => w.filemap,
        6 => w.brk,
        7 => r.pick(&[
            0x1000_0000,
            0x7f00_0000_0000,
            TASK - P,
            TASK - 2 * P,
            0x10_0000,
        ]),
        8 if w.last != 0 => w.last,
        _ => w.rw + 4 * P,
    };
    match r.below(6) {
        0 => base + P * r.below(4),
        1 => base + r.pick(&[1, 8, P - 1, P + 1]),
        2 => base.wrapping_sub(P),
        _ => base,
    }
}

/// The one system call this step makes.
fn one_call(r: &mut Rng, w: &mut World) -> isize {
    let (nr, args) = if r.one_in(40) {
        // Any number, mostly unimplemented ones: -ENOSYS, never a crash.
        let n = r.below(460);
        if NEVER.contains(&n) {
            return 0;
        }
        let mut a = [0usize; 6];
        for v in a.iter_mut() {
            *v = arg(r, w, Int);
        }
        (n, a)
    } else {
        let (n, _, kinds) = CALLS[r.below(CALLS.len())];
        let mut a = [0usize; 6];
        for (i, k) in kinds.iter().enumerate() {
            a[i] = arg(r, w, *k);
        }
        // Fix-ups that keep the calls inside this process, and useful.
        match n {
            // Signals only to ourselves, our own child or no one (pid 0 and -1 mean the
            // group and everyone, 1 is our parent when we run as init); a fatal one to
            // ourselves ends the batch, so only now and then.
            129 | 130 => {
                if a[0] as i32 != w.me && (a[0] as i32 != w.child || w.child <= 0) {
                    a[0] = if r.one_in(2) {
                        w.me as usize
                    } else {
                        0x7fff_fff0
                    };
                }
                if a[0] as i32 == w.me && !r.one_in(40) {
                    a[1] = 0;
                }
            }
            // Unmapping or protecting megabytes around our mappings hits the stack (just
            // above them) and ends the batch: mostly keep the lengths to a few pages.
            215 | 226 | 233 | 216 | 228 | 284 if (16 * P..TASK).contains(&a[1]) && !r.one_in(6) => {
                a[1] = P * (1 + r.below(8));
            }
            // Calls that sleep until a signal would only idle out the batch: ppoll always
            // gets a timeout (the 1 ms one), and rt_sigsuspend a good mask only with a
            // bad size (its sleep is tested by sig_restart).
            73 if a[2] != w.ts => a[2] = w.ts,
            133 if a[1] == 8 => a[0] = 0,
            137 if a[2] != w.ts => a[2] = w.ts,
            // unlinkat and mkdirat leave /dev/zero and /dev/null alone (any pointer into
            // those two strings, whose tails are relative paths too): as root they would
            // go, and every later batch would find its stdio on the console (reads that
            // block, output on the serial line) and its replay alone would differ.
            34 | 35 if (w.paths[7]..w.paths[9]).contains(&a[1]) => a[1] = w.paths[0],
            // prlimit64 and wait4 on a pid not ours: use ours.
            261 if a[0] != 0 && a[0] as i32 != w.me => a[0] = 0,
            // Most mmaps private or shared anonymous, with a few extra bits.
            222 if r.below(3) != 0 => {
                a[3] = r.pick(&[0x22, 0x21, 0x02, 0x01, 0x03, 0x32, 0x122])
                    | if r.one_in(3) { 1 << r.below(21) } else { 0 };
                a[2] &= 7;
            }
            // shmget: mostly a small segment, private or of a few keys, with IPC_CREAT
            // and a mode.
            194 if r.below(3) != 0 => {
                a[0] = r.pick(&[0, 0, 0x5157, 0x5158]);
                a[1] = P * (1 + r.below(8));
                a[2] = r.pick(&[0o1600, 0o1666, 0o3600, 0o600, 0o1400, 0o1000]);
            }
            // shmat: mostly its flags (SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC), and
            // often anywhere (an address of ours is mostly taken: EINVAL).
            196 if r.below(3) != 0 => {
                a[2] = r.pick(&[0, 0o10000, 0o20000, 0o40000, 0o100000, 0o30000, 0o60000]);
                if r.one_in(2) {
                    a[1] = 0;
                }
            }
            // shmctl: mostly a known command.
            195 if r.below(3) != 0 => {
                a[1] = r.pick(&[0, 1, 2, 3, 11, 12, 13, 14, 15]);
            }
            // madvise: a known advice most of the time.
            233 if r.below(3) != 0 => {
                a[2] = r.pick(&[
                    0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
                    // Not 100 (MADV_HWPOISON): as root it retires every page of a random
                    // range for good, and would eat the machine's memory.
                    101,
                ]);
            }
            _ => {}
        }
        (n, a)
    };
    // SAFETY: the call may fail, or change our memory or kill us; both are what we test
    // (this process is a disposable child, and nothing of it is trusted afterwards).
    let ret = unsafe { syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5]) };
    if (nr == 222 || nr == 196) && ret > 0 {
        w.last = ret as usize;
    }
    if nr == 194 && ret >= 0 {
        w.shm = ret as i32;
    }
    ret
}

/// Touch the prepared mappings (read everything, write the writable ones): faults after
/// whatever the calls did to them. A segfault here is fine.
fn touch(r: &mut Rng, w: &World) {
    for &(a, writable) in &[
        (w.rw, true),
        (w.shared, true),
        (w.filemap, true),
        (w.ro, false),
    ] {
        if a == 0 {
            continue;
        }
        let off = P * r.below(2);
        let v = peek(a + off);
        if writable {
            poke(a + off + 8, v.wrapping_add(1));
        }
    }
}

/// Run `calls` calls (a batch child, or a grandchild); register grandchildren in `kids`.
fn fuzz_calls(r: &mut Rng, w: &mut World, calls: usize, kids: usize, depth: u32) {
    for i in 0..calls {
        if kids != 0 {
            put(kids, i + 1);
        }
        if r.one_in(25) {
            // Touch the mappings in a child of our own (copy-on-write faults after fork), so
            // that finding them unmapped or read-only does not end the batch; now and then
            // here, where it may.
            if r.one_in(8) {
                touch(r, w);
            } else {
                let pid = fork();
                if pid == 0 {
                    touch(r, w);
                    exit_group(0);
                }
                if pid > 0 {
                    register(kids, pid as i32);
                    wait_limited(pid as i32, 500);
                }
            }
        }
        if depth < 2 && r.one_in(60) {
            let pid = fork();
            if pid == 0 {
                w.me = getpid();
                w.child = 0;
                // The grandchild runs a few calls of its own stream, then exits.
                let mut r2 = Rng::new(r.next());
                // Timers are not inherited across fork: the grandchild arms its own.
                arm_alarm(TICK_US, TICK_US);
                touch(&mut r2, w);
                fuzz_calls(&mut r2, w, 20, 0, depth + 1);
                exit_group(0);
            }
            if pid > 0 {
                w.child = pid as i32;
                register(kids, pid as i32);
            }
            continue;
        }
        one_call(r, w);
    }
}

/// Record a descendant's pid in the shared page (slot 0 is the call counter).
fn register(kids: usize, pid: i32) {
    if kids == 0 {
        return;
    }
    for i in 1..MAX_KIDS {
        // SAFETY: `kids` is the shared page, mapped read-write by the parent before fork.
        let slot = unsafe { &*((kids + 8 * i) as *const core::sync::atomic::AtomicUsize) };
        if slot
            .compare_exchange(
                0,
                pid as usize,
                core::sync::atomic::Ordering::SeqCst,
                core::sync::atomic::Ordering::SeqCst,
            )
            .is_ok()
        {
            return;
        }
    }
}

/// The batch child: prepare, fuzz, exit.
fn batch_child(seed: u64, batch: usize, calls: usize, kids: usize) -> i32 {
    let mut r = Rng::new(seed ^ (batch as u64).wrapping_mul(0x1000_0000_01b3));
    let Some(mut w) = World::new() else {
        return 3;
    };
    arm_alarm(TICK_US, TICK_US);
    fuzz_calls(&mut r, &mut w, calls, kids, 0);
    0
}

/// IPC_RMID every System V segment there is: SHM_INFO gives the highest index in use,
/// SHM_STAT_ANY turns each index into its identifier. Every descendant is dead by now,
/// so nothing is attached and each segment goes at once.
fn shm_remove_all() {
    let mut info = ShmInfo::default();
    let max = shmctl(0, SHM_INFO, &mut info as *mut ShmInfo as usize);
    for idx in 0..=max.max(0) as i32 {
        let mut ds = ShmidDs::default();
        let id = shmctl(idx, SHM_STAT_ANY, &mut ds as *mut ShmidDs as usize);
        if id >= 0 {
            shmctl(id as i32, IPC_RMID, 0);
        }
    }
}

/// The SIGALRM handler: nothing to do, its only job is to make a blocking call return
/// EINTR (it is installed without SA_RESTART).
extern "C" fn on_alarm(_: i32, _: *mut signal::Siginfo, _: *mut signal::Ucontext) {}

/// setitimer(ITIMER_REAL): first expiry after `value_us`, then every `interval_us` (0:
/// once; both 0: disarm).
fn arm_alarm(value_us: i64, interval_us: i64) {
    let v: [i64; 4] = [
        interval_us / 1_000_000,
        interval_us % 1_000_000,
        value_us / 1_000_000,
        value_us % 1_000_000,
    ];
    // SAFETY: `v` is a struct itimerval on our stack; no old value is asked for.
    unsafe { syscall6(103, 0, v.as_ptr() as usize, 0, 0, 0, 0) };
}

/// Milliseconds of CLOCK_MONOTONIC.
fn now_ms() -> u64 {
    let mut ts = Timespec::default();
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Wait for `pid` at most `ms` milliseconds, then SIGKILL it; its status, and whether it
/// was killed. The wait4 blocks; it is the caller's SIGALRM (the parent's one-shot, the
/// batch child's periodic timer) that interrupts it so the deadline is looked at.
fn wait_limited(pid: i32, ms: u64) -> (i32, bool) {
    let deadline = now_ms() + ms;
    let mut status = 0i32;
    loop {
        let r = wait4(pid, Some(&mut status), 0);
        if r == pid as isize {
            return (status, false);
        }
        if r != EINTR_RET {
            return (-1, false);
        }
        if now_ms() >= deadline {
            kill(pid, SIGKILL);
            while wait4(pid, Some(&mut status), 0) == EINTR_RET {}
            return (status, true);
        }
    }
}

fn parse(s: Option<&str>) -> Option<u64> {
    let s = s?;
    let mut v: u64 = 0;
    for c in s.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let (Some(seed), Some(calls)) = (parse(args.get(1)), parse(args.get(2))) else {
        eprintln!("usage: fuzz SEED CALLS [BATCH]");
        return 2;
    };
    let calls = calls as usize;
    let only = parse(args.get(3)).map(|b| b as usize);
    let batches = calls.div_ceil(BATCH_CALLS).max(1);
    println!(
        "fuzz: seed {} calls {}: replay with cargo xtask qemu --init \"/bin/fuzz {} {}\"",
        seed, calls, seed, calls
    );
    // One shared page: slot 0 counts the batch's calls, the rest hold descendants' pids.
    let kids = mmap(
        0,
        P,
        PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS,
        -1,
        0,
    );
    let kids = if kids > 0 { kids as usize } else { 0 };
    // Inherited by every batch child (and its children) across fork.
    signal::sigaction(SIGALRM, on_alarm, 0, 0);
    let mut done_calls = 0;
    let mut ran = 0;
    for b in 0..batches {
        if only.is_some_and(|o| o != b) {
            continue;
        }
        let n = (calls - b * BATCH_CALLS).min(BATCH_CALLS);
        if kids != 0 {
            // SAFETY: our own shared page, mapped read-write above.
            unsafe { bytes(kids, P) }.fill(0);
        }
        let pid = fork();
        if pid < 0 {
            println!(
                "fuzz: seed {} batch {}: fork failed {}; replay: cargo xtask qemu --init \"/bin/fuzz {} {} {}\"",
                seed, b, Ret(pid), seed, calls, b
            );
            return 1;
        }
        if pid == 0 {
            exit_group(batch_child(seed, b, n, kids));
        }
        // The first alarm at the limit, then a few more in case it comes a tick early.
        arm_alarm(BATCH_MS as i64 * 1000, TICK_US);
        let (status, killed) = wait_limited(pid as i32, BATCH_MS);
        arm_alarm(0, 0);
        // Descendants still alive are killed; every child we have is reaped.
        let mut made = n;
        if kids != 0 {
            // SAFETY: our shared page; children only store plain words in it.
            let slots = unsafe { core::slice::from_raw_parts(kids as *const usize, MAX_KIDS) };
            made = slots[0].min(n);
            // The page is shared with the batch, whose calls may have written anything
            // into it (a read(2) or uname(2) into a pointer that lands there): only what
            // can be a descendant's pid is killed, never 0, -1, a group or ourselves.
            let me = getpid();
            for &k in &slots[1..] {
                if k > 1 && k <= i32::MAX as usize && k as i32 != me {
                    kill(k as i32, SIGKILL);
                }
            }
        }
        let mut st = 0;
        while wait4(-1, Some(&mut st), WNOHANG) > 0 {}
        // The batch's files go, so page cache does not pile up over the run.
        unlink(c"/tmp/fuzz.d/x");
        // SAFETY: rmdir takes a path we own.
        unsafe {
            syscall6(
                35,
                (-100isize) as usize,
                c"/tmp/fuzz.d".as_ptr() as usize,
                0x200,
                0,
                0,
                0,
            )
        };
        unlink(c"/tmp/fuzz.f");
        // And its System V segments: they outlive their creator, as on Linux, so the
        // harness removes them (as `ipcrm --all=shm` or LTP's cleanup would) before the
        // next batch and before the leak check at the end.
        shm_remove_all();
        done_calls += made;
        ran += 1;
        let st = Wstatus(status);
        if st.signaled() {
            println!(
                "fuzz: seed {} batch {} ok ({} calls, killed by signal {}{})",
                seed,
                b,
                made,
                st.term_sig(),
                if killed { ", timed out" } else { "" }
            );
        } else {
            println!(
                "fuzz: seed {} batch {} ok ({} calls, {})",
                seed, b, made, st
            );
        }
    }
    println!("fuzz: {} calls, {} batches, done", done_calls, ran);
    0
}

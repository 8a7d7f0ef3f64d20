//! thread_exec_test: exec and exit in a process with threads, and many futex waiters.
//!
//! - exec from a thread that is not the leader: the new program runs with the process's
//!   pid as its own tid (getpid() == gettid()), the same parent, and the parent's wait4
//!   reports the pid it forked (Linux: `de_thread` -> `exchange_tids`).
//! - a CLONE_FILES child that execs gets its own descriptor table: its close-on-exec
//!   descriptors close in its copy only, and what the parent opens afterwards is not in
//!   the new program (Linux: `unshare_files` in `bprm_execve`).
//! - a CLONE_SIGHAND child (another process) that execs gets its own signal actions: the
//!   reset of handlers at exec leaves the parent's alone (Linux: `de_thread`'s copy of
//!   the sighand struct).
//! - many threads with signals to the process, then a fatal one: no panic, no leak.
//! - many futex waiters: FUTEX_WAKE in batches, FUTEX_CMP_REQUEUE, timeouts.
//!
//! Every expectation holds on Linux arm64 too.
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use ulib::signal::*;
use ulib::thread::*;
use ulib::*;

const SELF: &core::ffi::CStr = c"/bin/thread_exec_test";
const EBADF: i32 = 9;
const EAGAIN: i32 = 11;
const ETIMEDOUT: i32 = 110;
const F_GETFD: usize = 1;
const SIGTERM: i32 = 15;

fn fcntl(fd: i32, cmd: usize, arg: usize) -> isize {
    unsafe { ulib::syscall::syscall3(25, fd as usize, cmd, arg) }
}

/// `n` in decimal, NUL-terminated, in `buf`.
fn itoa(n: i32, buf: &mut [u8; 16]) -> *const u8 {
    let mut tmp = [0u8; 12];
    let mut v = n.unsigned_abs();
    let mut i = 0;
    loop {
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        i += 1;
        if v == 0 {
            break;
        }
    }
    let mut j = 0;
    if n < 0 {
        buf[0] = b'-';
        j = 1;
    }
    while i > 0 {
        i -= 1;
        buf[j] = tmp[i];
        j += 1;
    }
    buf[j] = 0;
    buf.as_ptr()
}

fn parse(s: Option<&str>) -> i32 {
    s.and_then(|s| s.parse().ok()).unwrap_or(-1)
}

fn threads_now() -> i64 {
    let mut buf = [0u8; 2048];
    let n = ulib::procfs::read_file(c"/proc/self/status", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

/// A word nobody ever changes, to sleep on.
static FOREVER: AtomicU32 = AtomicU32::new(0);
extern "C" fn sleeper(_: usize) -> i32 {
    loop {
        futex(&FOREVER, FUTEX_WAIT, 0, 0, 0, 0);
    }
}

/// The parent's pid, for the exec'ing thread to pass on.
static PARENT: AtomicI32 = AtomicI32::new(0);
extern "C" fn exec_from_thread(_: usize) -> i32 {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    let argv = [
        SELF.as_ptr() as *const u8,
        c"--after-exec".as_ptr() as *const u8,
        itoa(getpid(), &mut a),
        itoa(PARENT.load(Ordering::SeqCst), &mut b),
        core::ptr::null(),
    ];
    let envp = [core::ptr::null()];
    execve(SELF, &argv, &envp);
    exit_group(99)
}

/// Run as the new program of a thread's exec: 42 when pid, tid, parent and thread count
/// are what Linux gives, a different code for each mismatch.
fn after_exec(args: &Args) -> i32 {
    let (pid, parent) = (parse(args.get(2)), parse(args.get(3)));
    if getpid() != pid {
        return 10;
    }
    if gettid() != pid {
        return 11;
    }
    if getppid() != parent {
        return 12;
    }
    if threads_now() != 1 {
        return 13;
    }
    // /proc/self is this process, and its status names the same pid.
    let mut buf = [0u8; 2048];
    let n = ulib::procfs::read_file(c"/proc/self/status", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let proc_pid: i32 = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1);
    if proc_pid != pid {
        return 14;
    }
    42
}

fn exec_from_non_leader(t: &mut Tap) {
    PARENT.store(getpid(), Ordering::SeqCst);
    for (extra, what) in [(0, "leader asleep"), (3, "leader and 3 more threads asleep")] {
        let pid = fork();
        if pid == 0 {
            for _ in 0..extra {
                spawn(sleeper, 0, 0);
            }
            spawn(exec_from_thread, 0, 0);
            sleeper(0);
        }
        let mut st = 0;
        let r = wait4(pid as i32, Some(&mut st), 0);
        t.eq(format_args!("exec from a non-leader thread ({what}): wait4 returns the pid fork returned"), r, pid);
        t.exited(format_args!("... and the new program saw getpid() == gettid() == that pid, same parent, 1 thread ({what})"), Wstatus(st), 42);
    }
    // The leader already exited (a zombie waiting for its threads) when the thread execs.
    let pid = fork();
    if pid == 0 {
        spawn(exec_from_thread, 0, 0);
        // exit(2), not exit_group: the leader alone ends.
        unsafe { ulib::syscall::syscall1(93, 0) };
        exit_group(98);
    }
    let mut st = 0;
    let r = wait4(pid as i32, Some(&mut st), 0);
    t.eq("exec from a thread after the leader exited: wait4 returns the forked pid", r, pid);
    t.exited("... the new program runs as that pid", Wstatus(st), 42);
}

/// The new program of the CLONE_FILES child: reads the number of the descriptor the
/// parent opened after the exec from the pipe, and checks it and the close-on-exec one
/// are not in its table, while the pipe is.
fn files_check(args: &Args) -> i32 {
    let (rfd, cloexec_fd) = (parse(args.get(2)), parse(args.get(3)));
    if fcntl(rfd, F_GETFD, 0) != 0 {
        return 20;
    }
    if fcntl(cloexec_fd, F_GETFD, 0) != -(EBADF as isize) {
        return 21;
    }
    let mut b = [0u8; 4];
    if read(rfd, &mut b) != 4 {
        return 22;
    }
    let later = i32::from_le_bytes(b);
    if fcntl(later, F_GETFD, 0) != -(EBADF as isize) {
        return 23;
    }
    42
}

static FILES_ARGS: [AtomicI32; 2] = [AtomicI32::new(0), AtomicI32::new(0)];
extern "C" fn files_child(_: usize) -> i32 {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    let argv = [
        SELF.as_ptr() as *const u8,
        c"--files-check".as_ptr() as *const u8,
        itoa(FILES_ARGS[0].load(Ordering::SeqCst), &mut a),
        itoa(FILES_ARGS[1].load(Ordering::SeqCst), &mut b),
        core::ptr::null(),
    ];
    let envp = [core::ptr::null()];
    execve(SELF, &argv, &envp);
    exit_group(99)
}

fn clone_files_exec(t: &mut Tap) {
    let cloexec_fd = openat(-100, c"/proc/self/status", O_RDONLY | O_CLOEXEC, 0) as i32;
    let mut p = [0i32; 2];
    pipe2(&mut p, 0);
    FILES_ARGS[0].store(p[0], Ordering::SeqCst);
    FILES_ARGS[1].store(cloexec_fd, Ordering::SeqCst);
    // CLONE_VFORK: we go on once the child has exec'd (or died).
    let stack = mmap_anon(64 * 1024) as usize;
    let pid = unsafe {
        clone(CLONE_FILES | CLONE_VM | CLONE_VFORK | 17, stack + 64 * 1024, None, 0, None, files_child, 0)
    };
    t.ok(pid > 0, "clone(CLONE_FILES | CLONE_VM | CLONE_VFORK) a child that execs");
    t.ret("the parent's close-on-exec descriptor is still open in the parent after the child's exec", fcntl(cloexec_fd, F_GETFD, 0), 1);
    let later = openat(-100, c"/proc/self/status", O_RDONLY, 0) as i32;
    write(p[1], &later.to_le_bytes());
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    t.exited("the exec'd CLONE_FILES child has its own table: no close-on-exec fd, no fd the parent opened later, the pipe kept", Wstatus(st), 42);
    close(later);
    close(cloexec_fd);
    close(p[0]);
    close(p[1]);
}

extern "C" fn on_usr1(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    USR1_SEEN.fetch_add(1, Ordering::SeqCst);
}
static USR1_SEEN: AtomicUsize = AtomicUsize::new(0);

extern "C" fn sighand_child(_: usize) -> i32 {
    let argv = [SELF.as_ptr() as *const u8, c"--noop".as_ptr() as *const u8, core::ptr::null()];
    let envp = [core::ptr::null()];
    execve(SELF, &argv, &envp);
    exit_group(99)
}

fn clone_sighand_exec(t: &mut Tap) {
    sigaction(SIGUSR1, on_usr1, 0, 0);
    let stack = mmap_anon(64 * 1024) as usize;
    let pid = unsafe {
        clone(CLONE_SIGHAND | CLONE_VM | CLONE_VFORK | 17, stack + 64 * 1024, None, 0, None, sighand_child, 0)
    };
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    t.exited("a CLONE_SIGHAND child (another process) execs", Wstatus(st), 0);
    let mut old = Sigaction::default();
    rt_sigaction(SIGUSR1, None, Some(&mut old));
    t.eq("... and the parent's SIGUSR1 handler is still installed", old.sa_handler, on_usr1 as *const () as usize);
    USR1_SEEN.store(0, Ordering::SeqCst);
    kill(getpid(), SIGUSR1);
    t.eq("... and still runs", USR1_SEEN.load(Ordering::SeqCst), 1);
}

const MANY: usize = 48;

fn many_threads_signals(t: &mut Tap) {
    let st = in_child(|| {
        sigaction(SIGUSR1, on_usr1, 0, 0);
        let mut n = 0;
        for _ in 0..MANY {
            if spawn(sleeper, 0, 0).is_some() {
                n += 1;
            }
        }
        if n != MANY || threads_now() != MANY as i64 + 1 {
            return 1;
        }
        // Process-directed signals while every other thread sleeps: some thread takes each.
        for _ in 0..20 {
            kill(getpid(), SIGUSR1);
            sched_yield();
        }
        for _ in 0..100 {
            if USR1_SEEN.load(Ordering::SeqCst) >= 1 {
                break;
            }
            sleep_ms(5);
        }
        if USR1_SEEN.load(Ordering::SeqCst) == 0 {
            return 2;
        }
        // A fatal one: every thread goes.
        kill(getpid(), SIGTERM);
        sleeper(0)
    });
    t.killed_by(format_args!("{MANY} threads, process-directed SIGUSR1s, then SIGTERM: all die"), st, SIGTERM);
    let st = in_child(|| {
        for _ in 0..MANY {
            spawn(sleeper, 0, 0);
        }
        exit_group(5)
    });
    t.exited(format_args!("{MANY} threads and exit_group(5)"), st, 5);
}

static WORD: AtomicU32 = AtomicU32::new(0);
static WORD2: AtomicU32 = AtomicU32::new(0);
static WOKEN: AtomicUsize = AtomicUsize::new(0);
static READY: AtomicUsize = AtomicUsize::new(0);
extern "C" fn waiter(_: usize) -> i32 {
    READY.fetch_add(1, Ordering::SeqCst);
    while WORD.load(Ordering::SeqCst) == 0 {
        futex(&WORD, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, 0, 0, 0);
        // Woken from the requeue target too: WORD2 flips with WORD.
    }
    WOKEN.fetch_add(1, Ordering::SeqCst);
    0
}

/// Wait (up to ~2 s) for `cond`.
fn wait_for(cond: impl Fn() -> bool) -> bool {
    for _ in 0..400 {
        if cond() {
            return true;
        }
        sleep_ms(5);
    }
    cond()
}

fn futex_stress(t: &mut Tap) {
    const N: usize = 32;
    let st = in_child(|| {
        let mut th = [const { None }; N];
        for slot in th.iter_mut() {
            *slot = spawn(waiter, 0, 0);
        }
        if th.iter().any(|x| x.is_none()) {
            return 1;
        }
        wait_for(|| READY.load(Ordering::SeqCst) == N);
        sleep_ms(20); // let them all reach FUTEX_WAIT
        // Nobody is woken while the word is 0: FUTEX_WAKE wakes, they re-check and sleep.
        let woke = futex(&WORD, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 5, 0, 0, 0);
        if woke != 5 {
            return 2;
        }
        sleep_ms(20);
        // Requeue all but 4 onto WORD2 (val3 = the expected value of WORD).
        let moved = futex(&WORD, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 4, N - 4, WORD2.as_ptr() as usize, 0);
        if moved != N as isize {
            return 3;
        }
        // A wrong expected value: EAGAIN, nothing moves.
        if futex(&WORD, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG, 0, 1, WORD2.as_ptr() as usize, 7) != -(EAGAIN as isize) {
            return 4;
        }
        sleep_ms(20); // the 4 it woke see WORD still 0 and sleep on it again
        WORD.store(1, Ordering::SeqCst);
        let w1 = futex(&WORD, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, i32::MAX as u32, 0, 0, 0);
        let w2 = futex(&WORD2, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, i32::MAX as u32, 0, 0, 0);
        if w1 != 4 || w2 != (N - 4) as isize {
            return 5;
        }
        for x in th.iter().flatten() {
            x.join();
        }
        if WOKEN.load(Ordering::SeqCst) != N {
            return 6;
        }
        0
    });
    t.exited(format_args!("{N} futex waiters: wake 5, wake 4 + requeue 28, then 4 on the first word and 28 on the second: all woken, all joined"), st, 0);

    // Timed waits that expire leave no waiter behind: a later wake finds nobody.
    static TW: AtomicU32 = AtomicU32::new(0);
    static TIMEDOUT: AtomicUsize = AtomicUsize::new(0);
    extern "C" fn timed(_: usize) -> i32 {
        let ts: [i64; 2] = [0, 20_000_000];
        let r = futex(&TW, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, ts.as_ptr() as usize, 0, 0);
        if r == -(ETIMEDOUT as isize) {
            TIMEDOUT.fetch_add(1, Ordering::SeqCst);
        }
        0
    }
    let st = in_child(|| {
        let mut th = [const { None }; 16];
        for slot in th.iter_mut() {
            *slot = spawn(timed, 0, 0);
        }
        for x in th.iter().flatten() {
            x.join();
        }
        if TIMEDOUT.load(Ordering::SeqCst) != 16 {
            return 1;
        }
        if futex(&TW, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 100, 0, 0, 0) != 0 {
            return 2;
        }
        0
    });
    t.exited("16 timed futex waits expire (ETIMEDOUT) and leave no waiter queued", st, 0);
}

#[no_mangle]
fn main(args: Args) -> i32 {
    match args.get(1) {
        Some("--after-exec") => return after_exec(&args),
        Some("--files-check") => return files_check(&args),
        Some("--noop") => return 0,
        _ => {}
    }
    let mut t = Tap::new("thread_exec_test");
    exec_from_non_leader(&mut t);
    clone_files_exec(&mut t);
    clone_sighand_exec(&mut t);
    many_threads_signals(&mut t);
    futex_stress(&mut t);
    t.finish()
}

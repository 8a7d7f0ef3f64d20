//! thread_test: threads as Linux makes them. clone(2) with pthread_create's flags shares
//! the address space, descriptors and signal actions and joins the caller's thread group
//! (one pid, a tid each); CLONE_SETTLS gives each its own TPIDR_EL0, kept across context
//! switches; CLONE_CHILD_CLEARTID + futex(2) make pthread_join; futexes make mutexes;
//! exit(2) ends one thread, exit_group(2) (or a fatal signal) all of them, and the parent
//! sees one process end; kill(2) goes to whichever thread does not block the signal,
//! tgkill(2) to one; exec leaves one thread; vfork borrows the parent's memory.
//!
//! Linux: `kernel/fork.c` (`copy_process`, `mm_release`), `kernel/exit.c`
//! (`do_exit`, `do_group_exit`, `wait_task_zombie`), `kernel/signal.c` (`complete_signal`,
//! `do_tkill`), `kernel/futex.c`, `fs/exec.c` (`de_thread`).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use ulib::signal::*;
use ulib::thread::*;
use ulib::*;

const SELF: &core::ffi::CStr = c"/bin/thread_test";
const EAGAIN: i32 = 11;
const EINVAL: i32 = 22;
const ESRCH: i32 = 3;
const ENOSYS: i32 = 38;
const ETIMEDOUT: i32 = 110;
const SIGTERM: i32 = 15;

/// What the first thread saw, for the parent to check.
static SEEN_PID: AtomicI32 = AtomicI32::new(0);
static SEEN_TID: AtomicI32 = AtomicI32::new(0);
static SEEN_TP: AtomicU64 = AtomicU64::new(0);
static SEEN_PPID: AtomicI32 = AtomicI32::new(0);
/// A descriptor the thread opened (CLONE_FILES: the parent can use it).
static THREAD_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn first_thread(arg: usize) -> i32 {
    SEEN_PID.store(getpid(), Ordering::SeqCst);
    SEEN_TID.store(gettid(), Ordering::SeqCst);
    SEEN_TP.store(read_tp(), Ordering::SeqCst);
    SEEN_PPID.store(getppid(), Ordering::SeqCst);
    THREAD_FD.store(
        openat(-100, c"/proc/self/status", O_RDONLY, 0) as i32,
        Ordering::SeqCst,
    );
    arg as i32
}

/// Each spinner keeps its own thread pointer across many switches.
static TP_BAD: AtomicUsize = AtomicUsize::new(0);
extern "C" fn tp_spinner(arg: usize) -> i32 {
    for _ in 0..200 {
        if read_tp() != arg as u64 {
            TP_BAD.fetch_add(1, Ordering::SeqCst);
        }
        sched_yield();
    }
    0
}

/// A counter under a futex mutex.
static MUTEX: FutexMutex = FutexMutex::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);
const ROUNDS: usize = 300;
extern "C" fn incrementer(_: usize) -> i32 {
    for i in 0..ROUNDS {
        MUTEX.lock();
        // A non-atomic read-modify-write with a yield in the middle: without the mutex,
        // other threads would overwrite each other's increments.
        let v = COUNTER.load(Ordering::Relaxed);
        if i % 16 == 0 {
            sched_yield();
        }
        COUNTER.store(v + 1, Ordering::Relaxed);
        MUTEX.unlock();
    }
    0
}

/// A word nobody ever changes, to sleep on.
static FOREVER: AtomicU32 = AtomicU32::new(0);
extern "C" fn sleeper(_: usize) -> i32 {
    loop {
        futex(&FOREVER, FUTEX_WAIT, 0, 0, 0, 0);
    }
}

extern "C" fn group_exiter(code: usize) -> i32 {
    sleep_ms(20);
    exit_group(code as i32)
}

extern "C" fn late_exiter(code: usize) -> i32 {
    sleep_ms(30);
    code as i32
}

/// Which thread ran the SIGUSR1 handler.
static HANDLER_TID: AtomicI32 = AtomicI32::new(0);
extern "C" fn on_usr1(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    HANDLER_TID.store(gettid(), Ordering::SeqCst);
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

extern "C" fn unblocked_waiter(_: usize) -> i32 {
    // Leave SIGUSR1 unblocked (the creator blocked it before clone: undo that here).
    sigprocmask(SIG_UNBLOCK, Some(sigbit(SIGUSR1)), None);
    wait_for(|| HANDLER_TID.load(Ordering::SeqCst) != 0);
    0
}

/// `/proc/self/status`'s Threads: line.
fn threads_now() -> i64 {
    let mut buf = [0u8; 2048];
    let n = ulib::procfs::read_file(c"/proc/self/status", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

fn basics(t: &mut Tap) {
    let me = getpid();
    let th = spawn(first_thread, 7, 0x1234_5670).expect("spawn");
    th.join();
    t.ok(th.ctid.load(Ordering::SeqCst) == 0, "pthread_join: CLONE_CHILD_CLEARTID cleared the tid word and woke the joiner");
    t.eq("the thread's getpid() is the process's", SEEN_PID.load(Ordering::SeqCst), me);
    t.ok(th.tid != me && th.tid > 0, "clone returned a new tid");
    t.eq("the thread's gettid() is what clone returned", SEEN_TID.load(Ordering::SeqCst), th.tid);
    t.eq("the thread's getppid() is the process's parent", SEEN_PPID.load(Ordering::SeqCst), getppid());
    t.eq("CLONE_SETTLS set the thread's TPIDR_EL0", SEEN_TP.load(Ordering::SeqCst), 0x1234_5670);
    let fd = THREAD_FD.load(Ordering::SeqCst);
    let mut b = [0u8; 4];
    t.ok(fd >= 0 && read(fd, &mut b) == 4, "CLONE_FILES: a descriptor the thread opened works in the main thread");
    close(fd);
    t.eq("gettid() of the main thread is its pid", gettid(), me);
}

fn tls_and_futex(t: &mut Tap) {
    let main_tp = 0x0000_7000_0000_1110u64;
    let old = read_tp();
    unsafe { core::arch::asm!("msr tpidr_el0, {0}", in(reg) main_tp) };
    let a = spawn(tp_spinner, 0x0000_7000_0000_aaa0, 0x0000_7000_0000_aaa0).unwrap();
    let b = spawn(tp_spinner, 0x0000_7000_0000_bbb0, 0x0000_7000_0000_bbb0).unwrap();
    let mut main_bad = 0;
    for _ in 0..200 {
        if read_tp() != main_tp {
            main_bad += 1;
        }
        sched_yield();
    }
    a.join();
    b.join();
    unsafe { core::arch::asm!("msr tpidr_el0, {0}", in(reg) old) };
    t.eq("each thread's TPIDR_EL0 survives 200 switches among three threads", TP_BAD.load(Ordering::SeqCst) + main_bad, 0);

    let ths: [Thread; 4] = core::array::from_fn(|_| spawn(incrementer, 0, 0).unwrap());
    for th in &ths {
        th.join();
    }
    t.eq("4 threads x 300 increments under a futex mutex", COUNTER.load(Ordering::SeqCst), 4 * ROUNDS as u64);

    let w = AtomicU32::new(5);
    t.err("FUTEX_WAIT on a word that changed: EAGAIN", futex(&w, FUTEX_WAIT, 4, 0, 0, 0), EAGAIN);
    let ts = Timespec { tv_sec: 0, tv_nsec: 20_000_000 };
    t.err("FUTEX_WAIT with a 20 ms timeout: ETIMEDOUT", futex(&w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 5, &ts as *const _ as usize, 0, 0), ETIMEDOUT);
    t.err("FUTEX_WAIT_BITSET with bitset 0: EINVAL", futex(&w, FUTEX_WAIT_BITSET, 5, 0, 0, 0), EINVAL);
    t.err("futex on an unaligned word: EINVAL", futex_raw(w.as_ptr() as usize + 1, FUTEX_WAKE, 1, 0), EINVAL);
    t.err("FUTEX_WAIT on an unmapped word: EFAULT", futex_raw(unmapped_addr(), FUTEX_WAIT, 0, 0), 14);
    t.err("FUTEX_LOCK_PI: ENOSYS (no PI futexes)", futex(&w, FUTEX_LOCK_PI, 0, 0, 0, 0), ENOSYS);
    t.ret("FUTEX_WAKE with nobody waiting wakes 0", futex(&w, FUTEX_WAKE, 1, 0, 0, 0), 0);
    let bad_ts = Timespec { tv_sec: 0, tv_nsec: 1_000_000_000 };
    t.err("FUTEX_WAIT with tv_nsec = 1e9: EINVAL", futex(&w, FUTEX_WAIT, 5, &bad_ts as *const _ as usize, 0, 0), EINVAL);

    // Wake-op: *uaddr2 += 1 and wake nobody; the old value comes back through the word.
    let w2 = AtomicU32::new(10);
    let op = (1u32 << 28) | (1 << 12); // FUTEX_OP(ADD, 1, CMP_EQ, 0)
    t.ret("FUTEX_WAKE_OP with no waiters wakes 0", futex(&w, FUTEX_WAKE_OP, 1, 1, w2.as_ptr() as usize, op), 0);
    t.eq("FUTEX_WAKE_OP applied ADD 1 to the second word", w2.load(Ordering::SeqCst), 11);
    t.err("FUTEX_CMP_REQUEUE with a stale value: EAGAIN", futex(&w, FUTEX_CMP_REQUEUE, 1, 1, w2.as_ptr() as usize, 99), EAGAIN);

    // Bitset wake: a sleeper with bitset 2 is not woken by bitset 1, is by bitset 2.
    static BITW: AtomicU32 = AtomicU32::new(0);
    static BIT_DONE: AtomicU32 = AtomicU32::new(0);
    extern "C" fn bit_sleeper(_: usize) -> i32 {
        let r = futex(&BITW, FUTEX_WAIT_BITSET, 0, 0, 0, 2);
        BIT_DONE.store(if r == 0 { 1 } else { 2 }, Ordering::SeqCst);
        0
    }
    let s = spawn(bit_sleeper, 0, 0).unwrap();
    sleep_ms(20);
    let none = futex(&BITW, FUTEX_WAKE_BITSET, 1, 0, 0, 1);
    let one = futex(&BITW, FUTEX_WAKE_BITSET, 1, 0, 0, 2);
    s.join();
    t.ok(none == 0 && one == 1 && BIT_DONE.load(Ordering::SeqCst) == 1, "FUTEX_WAKE_BITSET wakes only waiters whose bitset meets it");
}

fn exits(t: &mut Tap) {
    // exit_group from a second thread ends the process, the main thread included.
    let st = in_child(|| {
        spawn(group_exiter, 7, 0);
        sleeper(0)
    });
    t.exited("exit_group(7) in a second thread ends the whole process with status 7", st, 7);

    // The leader exits alone (exit(2)); the process lives on in its other thread, whose
    // exit_group(5) gives the status.
    let st = in_child(|| {
        spawn(group_exiter, 5, 0);
        ulib::exit(0)
    });
    t.exited("leader exit(0), then exit_group(5) from the last thread: status 5", st, 5);

    // Without exit_group, the process's status is the leader's.
    let pid = fork();
    if pid == 0 {
        spawn(late_exiter, 9, 0);
        ulib::exit(3)
    }
    let mut status = 0;
    sleep_ms(5);
    let early = wait4(pid as i32, Some(&mut status), 1);
    let r = wait4(pid as i32, Some(&mut status), 0);
    t.ok(early == 0, "wait4 WNOHANG: a zombie leader with a live thread is not reaped yet");
    t.ok(r == pid && Wstatus(status).exited() && Wstatus(status).exit_status() == 3, "leader exit(3), last thread exit(9): the process's status is the leader's 3");

    // Threads: in /proc/self/status.
    let before = threads_now();
    let s = spawn(sleeper, 0, 0);
    let during = threads_now();
    t.ok(before == 1 && during == 2 && s.is_some(), "/proc/self/status counts the threads (1, then 2)");
    // Leave the sleeper: the next test's exec (in a child) and our exit end it.
    let st = in_child(|| {
        spawn(sleeper, 0, 0);
        spawn(sleeper, 0, 0);
        let argv = [SELF.as_ptr() as *const u8, c"--exec-check".as_ptr() as *const u8, core::ptr::null()];
        let envp = [core::ptr::null()];
        execve(SELF, &argv, &envp);
        99
    });
    t.exited("exec from a 3-thread process: the new program runs alone (Threads: 1)", st, 42);
}

fn signals(t: &mut Tap) {
    sigaction(SIGUSR1, on_usr1, 0, 0);
    // The main thread blocks SIGUSR1, the other does not: kill(getpid()) lands there.
    sigprocmask(SIG_BLOCK, Some(sigbit(SIGUSR1)), None);
    let w = spawn(unblocked_waiter, 0, 0).unwrap();
    kill(getpid(), SIGUSR1);
    w.join();
    t.eq("kill(2) to the process: the thread that does not block SIGUSR1 takes it", HANDLER_TID.load(Ordering::SeqCst), w.tid);
    sigprocmask(SIG_UNBLOCK, Some(sigbit(SIGUSR1)), None);

    HANDLER_TID.store(0, Ordering::SeqCst);
    let w = spawn(unblocked_waiter, 0, 0).unwrap();
    t.ret("tgkill(pid, tid, SIGUSR1)", tgkill(getpid(), w.tid, SIGUSR1), 0);
    w.join();
    t.eq("tgkill: that thread ran the handler", HANDLER_TID.load(Ordering::SeqCst), w.tid);
    HANDLER_TID.store(0, Ordering::SeqCst);
    t.ret("tkill(gettid(), SIGUSR1)", tkill(gettid(), SIGUSR1), 0);
    t.eq("tkill: the caller ran its own handler", HANDLER_TID.load(Ordering::SeqCst), gettid());
    t.err("tgkill with the wrong tgid: ESRCH", tgkill(getpid() + 1000, gettid(), SIGUSR1), ESRCH);
    t.err("tgkill with tid 0: EINVAL", tgkill(getpid(), 0, SIGUSR1), EINVAL);

    // A fatal signal to the process kills every thread, even one sent while the main
    // thread blocks it.
    let st = in_child(|| {
        spawn(sleeper, 0, 0); // before the mask: a new thread inherits its creator's
        sigprocmask(SIG_BLOCK, Some(sigbit(SIGTERM)), None);
        kill(getpid(), SIGTERM);
        sleeper(0)
    });
    t.killed_by("SIGTERM to a process whose main thread blocks it: all threads die", st, SIGTERM);
}

fn fork_vfork_robust(t: &mut Tap) {
    // fork from a second thread: the child is a one-thread process whose parent is us.
    static CHILD_ST: AtomicI32 = AtomicI32::new(-1);
    extern "C" fn forker(_: usize) -> i32 {
        let pid = fork();
        if pid == 0 {
            exit_group(if getppid() == SEEN_PID.load(Ordering::SeqCst) { 21 } else { 22 })
        }
        let mut st = 0;
        wait4(pid as i32, Some(&mut st), 0);
        CHILD_ST.store(st, Ordering::SeqCst);
        0
    }
    SEEN_PID.store(getpid(), Ordering::SeqCst);
    spawn(forker, 0, 0).unwrap().join();
    let st = Wstatus(CHILD_ST.load(Ordering::SeqCst));
    t.exited("fork in a thread: the child's parent is the process", st, 21);

    // glibc's fork: CLONE_CHILD_SETTID stores the child's tid in the child's memory.
    static TIDW: AtomicU32 = AtomicU32::new(0);
    let pid = clone_raw(CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | 17, 0, 0, TIDW.as_ptr() as usize);
    if pid == 0 {
        exit_group(if TIDW.load(Ordering::SeqCst) as i32 == getpid() { 0 } else { 1 });
    }
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    t.exited("CLONE_CHILD_SETTID: the fork child finds its tid in its copy of the word", Wstatus(st), 0);
    t.eq("... and the parent's word is untouched", TIDW.load(Ordering::SeqCst), 0);

    // vfork: the parent sleeps until the child exits; the child's writes are ours.
    static VF: AtomicU32 = AtomicU32::new(0);
    extern "C" fn vfork_child(_: usize) -> i32 {
        sleep_ms(10);
        VF.store(1, Ordering::SeqCst);
        exit_group(4)
    }
    let stack = mmap_anon(64 * 1024) as usize;
    let pid = unsafe { clone(CLONE_VM | CLONE_VFORK | 17, stack + 64 * 1024, None, 0, None, vfork_child, 0) };
    let seen = VF.load(Ordering::SeqCst);
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    t.ok(seen == 1, "vfork: the parent resumed only after the child, whose store it sees");
    t.exited("vfork child's status", Wstatus(st), 4);

    // Robust futexes: a thread dies holding one; the word gets FUTEX_OWNER_DIED.
    #[repr(C)]
    struct RobustHead {
        next: AtomicU64,
        futex_offset: i64,
        pending: u64,
    }
    #[repr(C)]
    struct RobustLock {
        next: AtomicU64,
        word: AtomicU32,
    }
    static LOCK: RobustLock = RobustLock { next: AtomicU64::new(0), word: AtomicU32::new(0) };
    static HEAD: RobustHead = RobustHead { next: AtomicU64::new(0), futex_offset: 8, pending: 0 };
    extern "C" fn dies_holding(_: usize) -> i32 {
        let head = &HEAD as *const RobustHead as usize;
        let r = unsafe { ulib::syscall::syscall3(ulib::thread::nr::SET_ROBUST_LIST, head, 24, 0) };
        if r != 0 {
            return 1;
        }
        LOCK.word.store(gettid() as u32 | 0x8000_0000, Ordering::SeqCst);
        LOCK.next.store(head as u64, Ordering::SeqCst);
        HEAD.next.store(&LOCK as *const RobustLock as u64, Ordering::SeqCst);
        0
    }
    HEAD.next.store(&HEAD as *const RobustHead as u64, Ordering::SeqCst);
    spawn(dies_holding, 0, 0).unwrap().join();
    let w = LOCK.word.load(Ordering::SeqCst);
    t.ok(w & 0x4000_0000 != 0 && w & 0x3fff_ffff == 0 && w & 0x8000_0000 != 0, "robust list: the dead owner's futex is FUTEX_OWNER_DIED | FUTEX_WAITERS");
    let r = unsafe { ulib::syscall::syscall3(ulib::thread::nr::SET_ROBUST_LIST, 0, 23, 0) };
    t.err("set_robust_list with a wrong length: EINVAL", r, EINVAL);
    let (mut head, mut len) = (0usize, 0usize);
    unsafe { ulib::syscall::syscall3(ulib::thread::nr::SET_ROBUST_LIST, 0x1000, 24, 0) };
    let r = unsafe { ulib::syscall::syscall3(ulib::thread::nr::GET_ROBUST_LIST, 0, &mut head as *mut _ as usize, &mut len as *mut _ as usize) };
    t.ok(r == 0 && head == 0x1000 && len == 24, "get_robust_list returns what set_robust_list stored");
    unsafe { ulib::syscall::syscall3(ulib::thread::nr::SET_ROBUST_LIST, 0, 24, 0) };

    // copy_process's flag rules.
    t.err("clone CLONE_THREAD without CLONE_SIGHAND: EINVAL", clone_raw(CLONE_THREAD | CLONE_VM, 0, 0, 0), EINVAL);
    t.err("clone CLONE_SIGHAND without CLONE_VM: EINVAL", clone_raw(CLONE_SIGHAND, 0, 0, 0), EINVAL);
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some("--exec-check") {
        return if threads_now() == 1 { 42 } else { 43 };
    }
    let mut t = Tap::new("thread_test");
    basics(&mut t);
    tls_and_futex(&mut t);
    signals(&mut t);
    fork_vfork_robust(&mut t);
    exits(&mut t);
    t.finish()
}

//! Threads without a libc: clone(2) with a stack and a function, futex(2), tkill/tgkill,
//! gettid, set_robust_list. What a libc's `pthread_create` / `pthread_join` / mutexes do
//! underneath, in the smallest form that tests the kernel.
use crate::syscall::{syscall3, syscall6};
use core::sync::atomic::{AtomicU32, Ordering};

/// System-call numbers (arm64) used here.
pub mod nr {
    pub const FUTEX: usize = 98;
    pub const SET_ROBUST_LIST: usize = 99;
    pub const GET_ROBUST_LIST: usize = 100;
    pub const TKILL: usize = 130;
    pub const TGKILL: usize = 131;
    pub const GETTID: usize = 178;
    pub const SET_TID_ADDRESS: usize = 96;
    pub const CLONE: usize = 220;
}

/// clone(2) flags.
pub const CLONE_VM: usize = 0x100;
/// Share the current directory.
pub const CLONE_FS: usize = 0x200;
/// Share the descriptor table.
pub const CLONE_FILES: usize = 0x400;
/// Share signal actions.
pub const CLONE_SIGHAND: usize = 0x800;
/// The parent sleeps until the child execs or exits.
pub const CLONE_VFORK: usize = 0x4000;
/// Same thread group.
pub const CLONE_THREAD: usize = 0x1_0000;
/// Share SysV undo lists.
pub const CLONE_SYSVSEM: usize = 0x4_0000;
/// Set TPIDR_EL0.
pub const CLONE_SETTLS: usize = 0x8_0000;
/// Store the tid in the parent.
pub const CLONE_PARENT_SETTID: usize = 0x10_0000;
/// Clear and wake the tid word at exit.
pub const CLONE_CHILD_CLEARTID: usize = 0x20_0000;
/// Store the tid in the child.
pub const CLONE_CHILD_SETTID: usize = 0x100_0000;
/// What glibc's pthread_create passes.
pub const PTHREAD_FLAGS: usize = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID;

/// futex(2) operations.
pub const FUTEX_WAIT: usize = 0;
/// Wake.
pub const FUTEX_WAKE: usize = 1;
/// Requeue with a value check.
pub const FUTEX_CMP_REQUEUE: usize = 4;
/// Wake-op.
pub const FUTEX_WAKE_OP: usize = 5;
/// A PI lock (ENOSYS here).
pub const FUTEX_LOCK_PI: usize = 6;
/// Wait with a bitset and an absolute timeout.
pub const FUTEX_WAIT_BITSET: usize = 9;
/// Wake by bitset.
pub const FUTEX_WAKE_BITSET: usize = 10;
/// Process-private futex.
pub const FUTEX_PRIVATE_FLAG: usize = 128;

extern "C" {
    fn __ulib_clone(
        flags: usize,
        stack_top: usize,
        ptid: usize,
        tls: usize,
        ctid: usize,
        f: extern "C" fn(usize) -> i32,
        arg: usize,
    ) -> isize;
}

// The child cannot return into the caller's frame (it runs on another stack): the
// function and its argument travel on the new stack, and the child calls it, then exit(2)
// with its result (a thread's end, not the process's).
core::arch::global_asm!(
    ".section .text.__ulib_clone, \"ax\"",
    ".global __ulib_clone",
    "__ulib_clone:",
    "and x1, x1, #~15",
    "stp x5, x6, [x1, #-16]!",
    "mov x8, #220",
    "svc #0",
    "cbz x0, 1f",
    "ret",
    "1:",
    "ldp x1, x0, [sp], #16",
    "mov x29, #0",
    "mov x30, #0",
    "blr x1",
    "mov x8, #93",
    "svc #0",
    "brk #0",
);

/// clone(2) running `f(arg)` in the child on the stack whose top is `stack_top` (needed
/// whenever the child shares the memory). Returns the child's tid or `-errno`.
///
/// # Safety
/// `stack_top` must be the top of memory only the child uses, and `f` must not return
/// into anything but the trampoline (it is `extern "C"`).
pub unsafe fn clone(
    flags: usize,
    stack_top: usize,
    ptid: Option<&AtomicU32>,
    tls: usize,
    ctid: Option<&AtomicU32>,
    f: extern "C" fn(usize) -> i32,
    arg: usize,
) -> isize {
    let p = |a: Option<&AtomicU32>| a.map_or(0, |a| a.as_ptr() as usize);
    __ulib_clone(flags, stack_top, p(ptid), tls, p(ctid), f, arg)
}

/// A raw clone(2) with no function (fork-like: the child returns 0 here, on the same
/// stack, so the flags must not include CLONE_VM).
pub fn clone_raw(flags: usize, ptid: usize, tls: usize, ctid: usize) -> isize {
    unsafe { syscall6(nr::CLONE, flags, 0, ptid, tls, ctid, 0) }
}

/// A thread started by [`spawn`]: its tid and the word the kernel clears when it exits.
pub struct Thread {
    /// Its tid.
    pub tid: i32,
    /// CLONE_CHILD_CLEARTID's word: the tid until the thread exits, then 0.
    pub ctid: &'static AtomicU32,
}

impl Thread {
    /// Wait until the thread has exited (pthread_join: sleep on the tid word until the
    /// kernel clears it and wakes us).
    pub fn join(&self) {
        loop {
            let v = self.ctid.load(Ordering::Acquire);
            if v == 0 {
                return;
            }
            futex(&self.ctid, FUTEX_WAIT, v, 0, 0, 0);
        }
    }
}

/// Start a thread running `f(arg)` with glibc's pthread_create flags and TPIDR_EL0 =
/// `tls`, on a fresh 64 KiB stack (never freed: tests start a handful). None when mmap
/// or clone fails.
pub fn spawn(f: extern "C" fn(usize) -> i32, arg: usize, tls: usize) -> Option<Thread> {
    const STACK: usize = 64 * 1024;
    let stack = crate::mmap_anon(STACK);
    if stack < 0 {
        return None;
    }
    // The tid word lives at the bottom of the stack mapping: the thread never gets there.
    // As glibc does, CLONE_PARENT_SETTID and CLONE_CHILD_CLEARTID name the same word: the
    // kernel stores the tid there before the thread can run, and clears it at its exit.
    let ctid: &'static AtomicU32 = unsafe { &*(stack as usize as *const AtomicU32) };
    let tid = unsafe {
        clone(
            PTHREAD_FLAGS,
            stack as usize + STACK,
            Some(ctid),
            tls,
            Some(ctid),
            f,
            arg,
        )
    };
    if tid <= 0 {
        return None;
    }
    Some(Thread {
        tid: tid as i32,
        ctid,
    })
}

/// futex(2) with a word, an operation, a value and the remaining arguments raw.
pub fn futex(word: &AtomicU32, op: usize, val: u32, utime: usize, uaddr2: usize, val3: u32) -> isize {
    unsafe {
        syscall6(
            nr::FUTEX,
            word.as_ptr() as usize,
            op,
            val as usize,
            utime,
            uaddr2,
            val3 as usize,
        )
    }
}

/// futex(2) on a raw address (for the error cases).
pub fn futex_raw(addr: usize, op: usize, val: u32, utime: usize) -> isize {
    unsafe { syscall6(nr::FUTEX, addr, op, val as usize, utime, 0, 0) }
}

/// gettid(2).
pub fn gettid() -> i32 {
    unsafe { syscall3(nr::GETTID, 0, 0, 0) as i32 }
}

/// tgkill(2).
pub fn tgkill(tgid: i32, tid: i32, sig: i32) -> isize {
    unsafe { syscall3(nr::TGKILL, tgid as usize, tid as usize, sig as usize) }
}

/// tkill(2).
pub fn tkill(tid: i32, sig: i32) -> isize {
    unsafe { syscall3(nr::TKILL, tid as usize, sig as usize, 0) }
}

/// The thread pointer, TPIDR_EL0.
pub fn read_tp() -> u64 {
    let v: u64;
    // SAFETY: TPIDR_EL0 is readable at EL0; no memory is touched.
    unsafe { core::arch::asm!("mrs {0}, tpidr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// A mutex on one futex word: 0 free, 1 locked, 2 locked with waiters (Drepper's
/// "Futexes Are Tricky", mutex 2).
pub struct FutexMutex(pub AtomicU32);

impl FutexMutex {
    /// Unlocked.
    pub const fn new() -> Self {
        FutexMutex(AtomicU32::new(0))
    }

    /// Take it, sleeping in the kernel while another thread holds it.
    pub fn lock(&self) {
        if self
            .0
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return;
        }
        while self.0.swap(2, Ordering::Acquire) != 0 {
            futex(&self.0, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 2, 0, 0, 0);
        }
    }

    /// Let it go, waking one sleeper if there may be one.
    pub fn unlock(&self) {
        if self.0.swap(0, Ordering::Release) == 2 {
            futex(&self.0, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, 0, 0, 0);
        }
    }
}

impl Default for FutexMutex {
    fn default() -> Self {
        Self::new()
    }
}

//! Tasks and the scheduler. Linux: `include/linux/sched.h` (task_struct),
//! `kernel/sched/core.c` (`schedule`, `__schedule`, `wake_up_process`, `schedule_tail`),
//! `kernel/fork.c` (`kernel_thread`), `arch/arm64/kernel/process.c` (`copy_thread`).
//!
//! One CPU, round robin. The boot thread becomes the idle task (pid 0). A task is switched
//! out only inside `schedule()` (kernel code is not preempted); the timer sets
//! `need_resched`, honoured on the way back to user space, as in a
//! `CONFIG_PREEMPT_NONE` Linux.
use crate::arch::cpu;
use crate::mm::page::page_address;
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::sync::SpinLockIrq;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering,
};

/// Kernel stacks are 2^3 pages = 32 KiB. Linux arm64 has 16 KiB, but the unoptimised
/// (debug) kernel that tests and GDB run needs more: a syscall from a test program went
/// within 504 bytes of the end of 16 KiB, and an interrupt taken there ran the stack
/// into the page below it (seen as user text pages overwritten with stack words, and the
/// program dying of SIGILL). `STACK_END_MAGIC` now catches any overrun.
pub const THREAD_SIZE_ORDER: usize = 3;
/// Bytes of kernel stack.
pub const THREAD_SIZE: usize = crate::arch::PAGE_SIZE << THREAD_SIZE_ORDER;
/// The lowest word of every kernel stack: a stack that grew past its end overwrites it,
/// and the scheduler notices (Linux: `STACK_END_MAGIC`, `set_task_stack_end_magic`). An
/// overrun writes into whatever page lies below the stack, a page-cache page as likely
/// as any, so it must stop the kernel rather than pass silently.
pub const STACK_END_MAGIC: u64 = 0x57AC_6E9D;

/// Callee-saved registers kept across `cpu_switch_to` (Linux: `struct cpu_context`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuContext {
    /// x19..x28.
    pub x19_x28: [u64; 10],
    /// x29.
    pub fp: u64,
    /// Kernel stack pointer.
    pub sp: u64,
    /// Where `cpu_switch_to` returns to.
    pub pc: u64,
}

/// Task states (Linux: `TASK_RUNNING`, `TASK_INTERRUPTIBLE`, `EXIT_ZOMBIE`, `EXIT_DEAD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum TaskState {
    /// Running or on the run queue.
    Running = 0,
    /// Sleeping until woken.
    Interruptible = 1,
    /// Exited, waiting for its parent's wait4.
    Zombie = 2,
    /// Reaped.
    Dead = 3,
    /// Sleeping until the event only: disk I/O, a page lock, a semaphore (Linux:
    /// `TASK_UNINTERRUPTIBLE`, "D" in /proc).
    Uninterruptible = 4,
}

/// Credentials (Linux: `struct cred`). Permission checks other than the capability
/// sets' users treat euid 0 as holding every capability; the sets themselves (what
/// capget/capset and /proc show, and what CAP_IPC_LOCK and CAP_SYS_RAWIO in mm/ follow)
/// start full for root and change with setuid(2) and capset(2) as Linux's do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    /// Real user id.
    pub uid: u32,
    /// Effective user id (permission checks).
    pub euid: u32,
    /// Saved user id.
    pub suid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Capabilities in force (Linux: `cap_effective`), bit n for capability n.
    pub cap_effective: u64,
    /// Capabilities the task may take on (Linux: `cap_permitted`).
    pub cap_permitted: u64,
    /// Capabilities kept across exec (Linux: `cap_inheritable`).
    pub cap_inheritable: u64,
}

/// Every capability, 0..=CAP_LAST_CAP (40: CAP_CHECKPOINT_RESTORE in 5.10).
pub const CAP_FULL_SET: u64 = (1 << 41) - 1;
/// Lock memory (mlock, SHM_LOCK) past RLIMIT_MEMLOCK.
pub const CAP_IPC_LOCK: u32 = 14;
/// Raw I/O (mmap of /dev/mem and the like).
pub const CAP_SYS_RAWIO: u32 = 17;
/// Administration (swapon, mount, MADV_HWPOISON).
pub const CAP_SYS_ADMIN: u32 = 21;

impl Cred {
    /// Root with every capability: init's credentials.
    pub const fn root() -> Self {
        Cred {
            uid: 0,
            euid: 0,
            suid: 0,
            gid: 0,
            egid: 0,
            cap_effective: CAP_FULL_SET,
            cap_permitted: CAP_FULL_SET,
            cap_inheritable: 0,
        }
    }

    /// Does the task hold `cap` (Linux: `capable`, without the LSM hooks)?
    pub fn capable(&self, cap: u32) -> bool {
        self.cap_effective & (1 << cap) != 0
    }

    /// The capability consequences of a uid change from `old` (Linux:
    /// `cap_emulate_setxuid`): leaving uid 0 in all of real, effective and saved ids drops
    /// the permitted and effective sets; leaving euid 0 drops the effective set; gaining
    /// euid 0 raises it to the permitted set.
    pub fn emulate_setxuid(&mut self, old: &Cred) {
        let had_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
        if had_root && self.uid != 0 && self.euid != 0 && self.suid != 0 {
            self.cap_permitted = 0;
            self.cap_effective = 0;
        }
        if old.euid == 0 && self.euid != 0 {
            self.cap_effective = 0;
        }
        if old.euid != 0 && self.euid == 0 {
            self.cap_effective = self.cap_permitted;
        }
    }

    /// exec's capabilities (Linux: `cap_bprm_creds_from_file` with no file capabilities):
    /// root (real or effective uid 0) gets the full permitted set, and the effective set
    /// too when its euid is 0; anyone else keeps nothing.
    pub fn exec_caps(&mut self) {
        if self.uid == 0 || self.euid == 0 {
            self.cap_permitted = CAP_FULL_SET;
            self.cap_effective = if self.euid == 0 { CAP_FULL_SET } else { 0 };
        } else {
            self.cap_permitted = 0;
            self.cap_effective = 0;
        }
    }
}

pub use crate::kernel::resource::{
    default_rlimits, RLimit, RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_NLIMITS, RLIMIT_NOFILE,
    RLIMIT_STACK, RLIM_INFINITY,
};

/// A task (Linux: `struct task_struct`).
pub struct Task {
    /// Task id: the thread's own id, what gettid(2) returns (Linux: `pid`). Read it with
    /// [`Task::pid`]; only `de_thread` changes it, when a thread that is not the leader
    /// execs and takes over the leader's pid (Linux: `exchange_tids`).
    pid: AtomicI32,
    /// Thread-group id: the process id getpid(2) returns, the `pid` of the group's first
    /// thread, its leader (Linux: `tgid`). Equal to `pid` for a process's main thread.
    pub tgid: i32,
    /// Parent process's id (its tgid; Linux: `real_parent->tgid`). Threads of a process
    /// share the parent of their leader.
    pub ppid: AtomicI32,
    /// Command name (Linux: `comm`, 16 bytes).
    pub comm: SpinLockIrq<[u8; 16]>,
    state: AtomicU8,
    /// Saved registers while switched out (Linux: `thread.cpu_context`).
    thread: UnsafeCell<CpuContext>,
    /// User FP/SIMD registers while switched out (Linux: `thread.uw.fpsimd_state`).
    fpsimd: UnsafeCell<cpu::FpsimdState>,
    /// The user thread pointer, TPIDR_EL0, while switched out (Linux: `thread.uw.tp_value`).
    /// While the task runs the register itself is the truth.
    tp_value: AtomicU64,
    /// Linear-map address of the kernel stack's lowest byte (0 for the idle task).
    kstack: usize,
    /// Exit status for wait4 (Linux: `exit_code`, already encoded as wait status).
    pub exit_code: AtomicI32,
    /// Credentials.
    pub cred: SpinLockIrq<Cred>,
    /// The user address space; None for kernel threads (Linux: `mm`). Change it only
    /// with `set_mm`, which keeps `mm_ptr` in step.
    pub mm: SpinLockIrq<Option<Arc<crate::mm::mm_types::MmStruct>>>,
    /// The same mm as a plain pointer (null for none), for the fault path of the running
    /// task, which reads `current->mm` without a lock as Linux does: only the task itself
    /// replaces its mm (exec, exit), never while it is in a fault, and `mm` keeps it alive.
    mm_ptr: AtomicPtr<crate::mm::mm_types::MmStruct>,
    /// Open files, shared with CLONE_FILES (Linux: `files`); exec gives a sharer its own
    /// copy (`unshare_files`).
    pub files: files::TaskFiles,
    /// Current directory, absolute, shared with CLONE_FS (Linux: `fs->pwd`).
    pub cwd: Arc<SpinLockIrq<alloc::string::String>>,
    /// File-creation mask, shared with CLONE_FS like `cwd` (Linux: `fs->umask`; 0022 for
    /// init, inherited).
    pub umask: Arc<core::sync::atomic::AtomicU32>,
    /// Signals pending for this thread alone, bit n-1 for signal n (Linux:
    /// `pending.signal`); the process's shared set is in `sig`.
    pub pending: core::sync::atomic::AtomicU64,
    /// This thread's blocked mask, pending siginfo, last fault (Linux: `blocked`, the
    /// pending queue, `thread.fault_address`).
    pub signal: SpinLockIrq<alloc::boxed::Box<signal::SignalState>>,
    /// Signal actions, shared with CLONE_SIGHAND (Linux: `sighand`); read with
    /// [`Task::sighand`]. exec replaces it with a copy when another process shares it.
    sighand: SpinLockIrq<Arc<signal::SighandStruct>>,
    /// The thread group's shared pending set and exit state (Linux: `signal`).
    pub sig: Arc<signal::SignalStruct>,
    /// Resource limits, shared by the thread group (Linux keeps them in `signal_struct`).
    pub rlim: Arc<SpinLockIrq<[RLimit; RLIMIT_NLIMITS]>>,
    /// Where to write 0 and wake a futex waiter when this thread exits: set by
    /// CLONE_CHILD_CLEARTID or set_tid_address(2); pthread_join waits on it (Linux:
    /// `clear_child_tid`).
    pub clear_child_tid: AtomicU64,
    /// Where the new task writes its tid when it first runs, CLONE_CHILD_SETTID (Linux:
    /// `set_child_tid`).
    pub set_child_tid: AtomicU64,
    /// The robust futex list head registered by set_robust_list(2), and its length
    /// (Linux: `robust_list`).
    pub robust_list: AtomicU64,
    /// The signal the parent gets when this process ends: SIGCHLD from fork, the clone
    /// flags' low byte, 0 for threads (Linux: `exit_signal`, -1 for threads).
    /// Read with [`Task::exit_signal`]: `de_thread` gives an exec'ing thread the leader's.
    exit_signal: AtomicU32,
    /// This task's link in its thread group's list, `sig.thread_head` (Linux:
    /// `thread_node`); see [`for_each_thread`].
    thread_node: ThreadNode,
    /// Set while a vfork parent waits for this child to exec or exit (Linux:
    /// `vfork_done`).
    pub vfork_done: SpinLockIrq<Option<Arc<fork::VforkDone>>>,
    /// Nanoseconds of user time, charged a tick at a time (Linux: `utime`).
    pub utime: AtomicU64,
    /// Nanoseconds of system time (Linux: `stime`).
    pub stime: AtomicU64,
    /// Switches away while sleeping: the task gave up the CPU to wait for something
    /// (Linux: `nvcsw`, `voluntary_ctxt_switches` in /proc/<pid>/status).
    pub nvcsw: AtomicU64,
    /// Switches away while still runnable: preempted at a tick, or `sched_yield` (Linux:
    /// `nivcsw`, `nonvoluntary_ctxt_switches`).
    pub nivcsw: AtomicU64,
    /// The OOM killer's bias, -1000 (never) to 1000 (first), /proc/<pid>/oom_score_adj;
    /// inherited by fork, kept across exec (Linux: `signal->oom_score_adj`).
    pub oom_score_adj: Arc<AtomicI16>,
    /// How low an unprivileged writer may set `oom_score_adj` again: the last value root
    /// wrote (Linux: `signal->oom_score_adj_min`).
    pub oom_score_adj_min: Arc<AtomicI16>,
    /// Killed by the OOM killer and not yet gone (Linux: `signal->oom_mm` set by
    /// `mark_oom_victim`, `tsk_is_oom_victim`).
    pub oom_victim: AtomicBool,
    /// Process group (Linux: `task_pgrp_nr`): inherited at fork, changed by setpgid and
    /// setsid. 0 for the kernel's own tasks and init until it calls setsid, as in Linux.
    pub pgid: Arc<AtomicI32>,
    /// Session (Linux: `task_session_nr`). Like `pgid`, the thread group's.
    pub sid: Arc<AtomicI32>,
    /// PR_SET_PDEATHSIG's signal (Linux: `pdeath_signal`; remembered, not sent).
    pub pdeath_signal: AtomicU32,
    /// PR_SET_DUMPABLE (Linux: `mm->flags`' dumpable bits; 1 by default).
    pub dumpable: AtomicU32,
    /// Which mappings a core dump includes, /proc/<pid>/coredump_filter (Linux: the
    /// MMF_DUMP_* bits of `mm->flags`, 0x33 by default); the thread group's, inherited by
    /// fork and kept across exec, as Linux's `MMF_INIT_MASK` keeps it.
    pub coredump_filter: Arc<AtomicU32>,
    /// Has run execve since fork: its parent may no longer setpgid it (EACCES; Linux:
    /// `exec_id != parent_exec_id`).
    pub did_exec: AtomicBool,
}

// SAFETY: `thread` is only touched by `schedule` with interrupts off on the one CPU.
unsafe impl Sync for Task {}
// SAFETY: as for Sync: the only non-Send fields are the saved contexts, moved between
// CPUs only by `schedule` with interrupts off.
unsafe impl Send for Task {}

impl Task {
    /// The task's id (Linux: `task_pid_nr`, the `pid` field): gettid(2)'s answer.
    pub fn pid(&self) -> i32 {
        self.pid.load(Ordering::Relaxed)
    }
    /// The signal the parent gets when this process ends, 0 for a thread (Linux:
    /// `exit_signal`).
    pub fn exit_signal(&self) -> u32 {
        self.exit_signal.load(Ordering::Relaxed)
    }
    /// The signal actions this task uses (Linux: `tsk->sighand`).
    pub fn sighand(&self) -> Arc<signal::SighandStruct> {
        self.sighand.lock().clone()
    }
    /// Use `new` as the signal actions from now on, returning the old ones (Linux: the
    /// `rcu_assign_pointer(tsk->sighand, newsighand)` of `de_thread`'s `unshare_sighand`).
    pub fn set_sighand(&self, new: Arc<signal::SighandStruct>) -> Arc<signal::SighandStruct> {
        core::mem::replace(&mut *self.sighand.lock(), new)
    }
    /// Current state.
    pub fn state(&self) -> TaskState {
        match self.state.load(Ordering::Acquire) {
            0 => TaskState::Running,
            1 => TaskState::Interruptible,
            2 => TaskState::Zombie,
            4 => TaskState::Uninterruptible,
            _ => TaskState::Dead,
        }
    }
    /// Set the state (Linux: `set_current_state` / `__set_task_state`).
    pub fn set_state(&self, s: TaskState) {
        self.state.store(s as u8, Ordering::Release);
    }
    /// Command name as a string.
    pub fn comm(&self) -> alloc::string::String {
        let c = self.comm.lock();
        let n = c.iter().position(|&b| b == 0).unwrap_or(16);
        alloc::string::String::from_utf8_lossy(&c[..n]).into_owned()
    }
    /// Set the command name (truncated to 15 bytes, as Linux's `set_task_comm`).
    pub fn set_comm(&self, name: &str) {
        let mut c = self.comm.lock();
        *c = [0; 16];
        let n = name.len().min(15);
        c[..n].copy_from_slice(&name.as_bytes()[..n]);
    }
    /// Install `mm` as the task's address space (None: none), returning the old one
    /// (Linux: `tsk->mm = mm` in `exec_mmap` and `copy_mm`, cleared by `exit_mm`).
    pub fn set_mm(
        &self,
        mm: Option<Arc<crate::mm::mm_types::MmStruct>>,
    ) -> Option<Arc<crate::mm::mm_types::MmStruct>> {
        let mut slot = self.mm.lock();
        let ptr = mm
            .as_ref()
            .map_or(core::ptr::null_mut(), |m| Arc::as_ptr(m) as *mut _);
        let old = core::mem::replace(&mut *slot, mm);
        self.mm_ptr.store(ptr, Ordering::Release);
        old
    }

    /// The task's mm as a raw pointer (null for none); see `mm_ptr`.
    pub fn mm_ptr(&self) -> *const crate::mm::mm_types::MmStruct {
        self.mm_ptr.load(Ordering::Acquire)
    }

    /// Top of the kernel stack.
    pub fn kstack_top(&self) -> usize {
        self.kstack + THREAD_SIZE
    }

    /// The frame pointer the task was switched out with, for a backtrace of a task that is
    /// not running (Linux: `thread_saved_fp`). Meaningless for the running task.
    pub fn thread_saved_fp(&self) -> usize {
        // SAFETY: a plain read of a word that only `cpu_switch_to` writes, for a task that
        // is switched out; a torn or stale value only makes the backtrace stop early.
        unsafe { (*self.thread.get()).fp as usize }
    }

    /// Has the kernel stack run past its lowest word, the magic `alloc_task` put there?
    /// Linux: `task_stack_end_corrupted`. Tasks without a stack of their own (idle, on the
    /// boot stack) never are.
    pub fn stack_end_corrupted(&self) -> bool {
        // SAFETY: `kstack` is the base of this task's live stack allocation.
        self.kstack != 0 && unsafe { *(self.kstack as *const u64) } != STACK_END_MAGIC
    }
}

/// The fewest bytes any task left unused on its kernel stack so far (Linux:
/// `lowest_to_date` in `check_stack_usage`).
static LOWEST_STACK_LEFT: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(THREAD_SIZE);

/// Bytes at the end of a stack that were never written: stacks start zeroed, so count
/// zero words up from the canary (Linux: `stack_not_used`).
fn stack_not_used(kstack: usize) -> usize {
    let words = THREAD_SIZE / 8;
    // SAFETY: `kstack` is the base of a live THREAD_SIZE stack; reads only.
    let unused = (1..words)
        .take_while(|&i| unsafe { *((kstack + i * 8) as *const u64) } == 0)
        .count();
    unused * 8
}

/// At a task's end, report a new low of unused kernel stack, as Linux's
/// CONFIG_DEBUG_STACK_USAGE does (`check_stack_usage`, same message). On in builds with
/// debug assertions (the debug kernel tests run, and the fuzz kernel): their frames are
/// the big ones, and a new low is the warning before the canary trips.
fn check_stack_usage(task: &Task) {
    if !cfg!(debug_assertions) || task.kstack == 0 {
        return;
    }
    let free = stack_not_used(task.kstack);
    if LOWEST_STACK_LEFT.fetch_min(free, Ordering::Relaxed) > free {
        crate::pr_info!(
            "{} ({}) used greatest stack depth: {} bytes left",
            task.comm(),
            task.pid(),
            free
        );
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        check_stack_usage(self);
        if self.kstack != 0 {
            let pa = crate::arch::virt_to_phys(self.kstack);
            __free_pages(
                crate::mm::page::pfn_to_page(crate::mm::phys_pfn(pa)),
                THREAD_SIZE_ORDER,
            );
        }
    }
}

struct RunQueue {
    queue: VecDeque<Arc<Task>>,
    idle: Option<Arc<Task>>,
}

static RQ: SpinLockIrq<RunQueue> = SpinLockIrq::new(RunQueue {
    queue: VecDeque::new(),
    idle: None,
});
/// Every live task by pid (Linux: the pid hash).
static TASKS: SpinLockIrq<BTreeMap<i32, Arc<Task>>> = SpinLockIrq::new(BTreeMap::new());
static CURRENT: AtomicPtr<Task> = AtomicPtr::new(core::ptr::null_mut());
static NEXT_PID: AtomicI32 = AtomicI32::new(1);
/// A thread that exited and released itself, kept alive until the next task has switched
/// away from its stack (Linux: the `TASK_DEAD` prev that `finish_task_switch` puts).
static TASK_DEAD: AtomicPtr<Task> = AtomicPtr::new(core::ptr::null_mut());
/// Set by the timer tick: switch tasks at the next chance (Linux: TIF_NEED_RESCHED).
pub static NEED_RESCHED: AtomicBool = AtomicBool::new(false);

/// The running task (Linux: `current`). Before `sched_init` there is none.
pub fn current() -> Option<Arc<Task>> {
    let p = CURRENT.load(Ordering::Acquire);
    if p.is_null() {
        return None;
    }
    // SAFETY: CURRENT always holds a pointer from Arc::into_raw kept alive by TASKS/RQ.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Run `f` on the running task without taking a reference (the hot paths: fault entry,
/// return to user space). The running task cannot be freed while it runs.
pub fn with_current<R>(f: impl FnOnce(&Task) -> R) -> Option<R> {
    let p = CURRENT.load(Ordering::Acquire);
    // SAFETY: CURRENT points at the running task, kept alive by TASKS or the idle slot.
    (!p.is_null()).then(|| f(unsafe { &*p }))
}

/// Look a task up by pid (Linux: `find_task_by_vpid`).
pub fn find_task(pid: i32) -> Option<Arc<Task>> {
    TASKS.lock().get(&pid).cloned()
}

/// Call `f` on every task in the pid table, in pid order, until it returns `Break`
/// (Linux: `for_each_process_thread`). Allocates nothing, and holds the pid table's lock
/// only to find the next task, never while `f` runs: `f` may sleep, send signals, look
/// tasks up or release them. A task created during the walk is visited if its pid is
/// above the cursor, as Linux's RCU walk may or may not see it.
pub fn for_each_process_thread(mut f: impl FnMut(&Arc<Task>) -> core::ops::ControlFlow<()>) {
    let mut from = i32::MIN;
    loop {
        let next = TASKS
            .lock()
            .range(from..)
            .next()
            .map(|(&pid, t)| (pid, t.clone()));
        let Some((pid, t)) = next else { return };
        if f(&t).is_break() {
            return;
        }
        match pid.checked_add(1) {
            Some(p) => from = p,
            None => return,
        }
    }
}

/// A task's link in its thread group's list (Linux: `task_struct::thread_node`). Both
/// pointers change only under the group's `sig.thread_head` lock.
struct ThreadNode {
    prev: UnsafeCell<*const Task>,
    next: UnsafeCell<*const Task>,
}

impl ThreadNode {
    const fn new() -> Self {
        ThreadNode {
            prev: UnsafeCell::new(core::ptr::null()),
            next: UnsafeCell::new(core::ptr::null()),
        }
    }
}

/// The tasks of one thread group, in creation order, linked through their `thread_node`
/// (Linux: `signal_struct::thread_head`). Walking it allocates nothing, which matters
/// because user space decides how many threads there are and the walks run on signal
/// delivery, exit and exec. A task is on it from `alloc_task` until it leaves the pid
/// table (`release_task`), and the pid table's reference keeps every linked task alive.
pub struct ThreadHead {
    first: *const Task,
    last: *const Task,
}

// SAFETY: the pointers are only followed under the `SpinLockIrq` that holds the head, and
// every task they name is kept alive by the pid table while it is linked.
unsafe impl Send for ThreadHead {}

impl ThreadHead {
    /// An empty list (a new `SignalStruct`; its first task links itself in).
    pub const fn new() -> Self {
        ThreadHead {
            first: core::ptr::null(),
            last: core::ptr::null(),
        }
    }
}

impl Default for ThreadHead {
    fn default() -> Self {
        Self::new()
    }
}

/// Link a new task at the tail of its group's list (Linux: the
/// `list_add_tail_rcu(&p->thread_node, &p->signal->thread_head)` of `copy_process`).
fn attach_thread(task: &Arc<Task>) {
    let mut head = task.sig.thread_head.lock();
    let me = Arc::as_ptr(task);
    // SAFETY: the node is ours and the list's nodes change only under `head`, which we
    // hold; `head.last`, when not null, is a linked task the pid table keeps alive.
    unsafe {
        *task.thread_node.prev.get() = head.last;
        *task.thread_node.next.get() = core::ptr::null();
        if head.last.is_null() {
            head.first = me;
        } else {
            *(*head.last).thread_node.next.get() = me;
        }
    }
    head.last = me;
}

/// Unlink a task that leaves the pid table (Linux: `list_del_rcu(&p->thread_node)` in
/// `__unhash_process`). Safe to call twice: an unlinked task is recognised.
fn detach_thread(task: &Task) {
    let mut head = task.sig.thread_head.lock();
    let me = task as *const Task;
    // SAFETY: as in `attach_thread`: we hold the list's lock, and the neighbours are
    // linked tasks the pid table keeps alive.
    unsafe {
        let prev = *task.thread_node.prev.get();
        let next = *task.thread_node.next.get();
        if prev.is_null() && head.first != me {
            return; // not linked
        }
        if prev.is_null() {
            head.first = next;
        } else {
            *(*prev).thread_node.next.get() = next;
        }
        if next.is_null() {
            head.last = prev;
        } else {
            *(*next).thread_node.prev.get() = prev;
        }
        *task.thread_node.prev.get() = core::ptr::null();
        *task.thread_node.next.get() = core::ptr::null();
    }
}

/// Call `f` on each task of `t`'s thread group, in creation order (a zombie leader
/// included, exited threads not), until it returns `Break`. Allocates nothing. Linux:
/// `for_each_thread` / `__for_each_thread` over `signal->thread_head`.
///
/// Locking: runs `f` under the group's `thread_head` lock with interrupts off, so `f`
/// must not sleep, must not walk the same group again, must not add or release tasks
/// (`alloc_task`, `release_task`) and must not take the pid table lock (`find_task`):
/// the order is pid table, then `thread_head`, then a task's `signal` or `sighand`
/// lock, then the run queue (`wake_up_process`).
pub fn for_each_thread(t: &Task, mut f: impl FnMut(&Arc<Task>) -> core::ops::ControlFlow<()>) {
    let head = t.sig.thread_head.lock();
    let mut p = head.first;
    while !p.is_null() {
        // SAFETY: `p` came from `Arc::as_ptr` of a task that is still linked (we hold the
        // lock), so the pid table still holds a strong reference; ManuallyDrop lends that
        // reference to `f` without changing the count.
        let th = core::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) });
        if f(&th).is_break() {
            break;
        }
        // SAFETY: `th` is linked and we hold the lock that guards its node.
        p = unsafe { *th.thread_node.next.get() };
    }
    drop(head);
}

/// The first task of `t`'s group for which `pred` holds (Linux: a `for_each_thread` loop
/// that breaks out). Same locking rules as [`for_each_thread`].
pub fn find_thread(t: &Task, mut pred: impl FnMut(&Task) -> bool) -> Option<Arc<Task>> {
    let mut found = None;
    for_each_thread(t, |th| {
        if pred(th) {
            found = Some(th.clone());
            core::ops::ControlFlow::Break(())
        } else {
            core::ops::ControlFlow::Continue(())
        }
    });
    found
}

/// Has process `leader` no thread left but itself (Linux: `thread_group_empty`)? Its
/// parent may reap it only then.
pub fn thread_group_empty(leader: &Task) -> bool {
    let head = leader.sig.thread_head.lock();
    head.first == head.last
}

/// Every task's pid (for /proc and tests).
pub fn all_pids() -> alloc::vec::Vec<i32> {
    TASKS.lock().keys().copied().collect()
}

/// Make the boot thread the idle task (pid 0, "swapper"). Linux: `sched_init` + `init_idle`.
pub fn sched_init() {
    let idle = Arc::new(Task {
        pid: AtomicI32::new(0),
        tgid: 0,
        ppid: AtomicI32::new(0),
        comm: SpinLockIrq::new(*b"swapper\0\0\0\0\0\0\0\0\0"),
        state: AtomicU8::new(TaskState::Running as u8),
        thread: UnsafeCell::new(CpuContext::default()),
        fpsimd: UnsafeCell::new(cpu::FpsimdState::new()),
        tp_value: AtomicU64::new(0),
        kstack: 0,
        exit_code: AtomicI32::new(0),
        cred: SpinLockIrq::new(Cred::root()),
        pending: core::sync::atomic::AtomicU64::new(0),
        signal: SpinLockIrq::new(alloc::boxed::Box::default()),
        sighand: SpinLockIrq::new(Arc::new(signal::SighandStruct::new())),
        sig: Arc::new(signal::SignalStruct::new()),
        rlim: Arc::new(SpinLockIrq::new(default_rlimits())),
        clear_child_tid: AtomicU64::new(0),
        set_child_tid: AtomicU64::new(0),
        robust_list: AtomicU64::new(0),
        exit_signal: AtomicU32::new(0),
        thread_node: ThreadNode::new(),
        vfork_done: SpinLockIrq::new(None),
        files: files::TaskFiles::new(Arc::new(SpinLockIrq::new(files::FilesStruct::new()))),
        cwd: Arc::new(SpinLockIrq::new(alloc::string::String::from("/"))),
        umask: Arc::new(core::sync::atomic::AtomicU32::new(0o022)),
        mm: SpinLockIrq::new(None),
        mm_ptr: AtomicPtr::new(core::ptr::null_mut()),
        utime: AtomicU64::new(0),
        stime: AtomicU64::new(0),
        nvcsw: AtomicU64::new(0),
        nivcsw: AtomicU64::new(0),
        oom_score_adj: Arc::new(AtomicI16::new(0)),
        oom_score_adj_min: Arc::new(AtomicI16::new(0)),
        oom_victim: AtomicBool::new(false),
        pgid: Arc::new(AtomicI32::new(0)),
        sid: Arc::new(AtomicI32::new(0)),
        pdeath_signal: AtomicU32::new(0),
        dumpable: AtomicU32::new(1),
        coredump_filter: Arc::new(AtomicU32::new(0x33)),
        did_exec: AtomicBool::new(false),
    });
    CURRENT.store(Arc::as_ptr(&idle) as *mut Task, Ordering::Release);
    RQ.lock().idle = Some(idle);
    crate::sync::wait::register_sched_ops(&SCHED_OPS);
    crate::mm::oom_kill::register_oom_ops(&oom::OOM_OPS);
}

/// A task as a wait-queue sleeper (Linux: the `private` of a `wait_queue_entry`).
struct TaskWaiter(Arc<Task>);

impl crate::sync::wait::Waiter for TaskWaiter {
    fn wake_up(&self) {
        wake_up_process(&self.0);
    }
}

/// What the lower floors (wait queues, semaphores, page locks) need of the scheduler.
static SCHED_OPS: crate::sync::wait::SchedOps = crate::sync::wait::SchedOps {
    current: || {
        let t = current()?;
        // The idle task never sleeps on a queue: it has nobody to hand the CPU to.
        (t.pid() != 0).then(|| Arc::new(TaskWaiter(t)) as Arc<dyn crate::sync::wait::Waiter>)
    },
    set_current_state: |s| {
        use crate::sync::wait::SleepState;
        let state = match s {
            SleepState::Running => TaskState::Running,
            SleepState::Interruptible | SleepState::Killable => TaskState::Interruptible,
            SleepState::Uninterruptible => TaskState::Uninterruptible,
        };
        with_current(|t| t.set_state(state));
    },
    schedule,
    signal_pending: signal::signal_pending,
    fatal_signal_pending: signal::fatal_signal_pending,
    cond_resched: || {
        if NEED_RESCHED.load(Ordering::Relaxed) && current().is_some_and(|t| t.pid() != 0) {
            schedule();
        }
    },
};

/// Allocate a task with a kernel stack; it starts in `ret_from_fork` with `f(arg)` for a
/// kernel thread, or returns to user space through the `PtRegs` at the stack top when
/// `f` is None. `clone_flags` (CLONE_*) say what it shares with the current task rather
/// than copies: CLONE_FILES the descriptor table, CLONE_FS the directory, CLONE_SIGHAND
/// the actions, CLONE_THREAD the thread group (pid, pending set, limits, process group);
/// the low byte is the exit signal. Returns the task and its pt_regs. Linux:
/// `copy_process` (`copy_files`, `copy_fs`, `copy_sighand`, `copy_signal`) + `copy_thread`.
pub fn alloc_task(
    name: &str,
    f: Option<extern "C" fn(usize)>,
    arg: usize,
    clone_flags: usize,
) -> Option<(Arc<Task>, *mut crate::arch::aarch64::traps::PtRegs)> {
    use crate::arch::aarch64::traps::PtRegs;
    use fork::{CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD};
    let parent = current();
    let shares = |flag: usize| clone_flags & flag != 0 && parent.is_some();
    // The parent's descriptor table first: it may be too big for the heap (ENOMEM).
    let files = match &parent {
        Some(c) if shares(CLONE_FILES) => c.files.get(),
        Some(c) => Arc::new(SpinLockIrq::new(c.files.lock().try_clone()?)),
        None => Arc::new(SpinLockIrq::new(files::FilesStruct::new())),
    };
    let stack = alloc_pages(
        GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO,
        THREAD_SIZE_ORDER,
    )?;
    // Counted as a user of the shared table only now that nothing can fail any more.
    if shares(CLONE_FILES) {
        files.lock().get_shared();
    }
    let kstack = page_address(stack);
    // SAFETY: the stack is ours, freshly allocated; its lowest word is the overrun canary.
    unsafe { *(kstack as *mut u64) = STACK_END_MAGIC };
    let regs = (kstack + THREAD_SIZE - core::mem::size_of::<PtRegs>()) as *mut PtRegs;
    let ctx = CpuContext {
        x19_x28: [
            f.map_or(0, |f| f as usize as u64),
            arg as u64,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ],
        fp: 0,
        sp: regs as u64,
        pc: cpu::ret_from_fork_addr() as u64,
    };
    let pid = NEXT_PID.fetch_add(1, Ordering::Relaxed);
    let thread = shares(CLONE_THREAD);
    let p = parent.as_deref();
    // copy_signal: a new process gets its own copies; a thread the group's.
    let sig = match p {
        Some(c) if thread => {
            c.sig.live.fetch_add(1, Ordering::SeqCst);
            c.sig.clone()
        }
        _ => Arc::new(signal::SignalStruct::new()),
    };
    let task = Arc::new(Task {
        pid: AtomicI32::new(pid),
        tgid: match p {
            Some(c) if thread => c.tgid,
            _ => pid,
        },
        // A thread (or CLONE_PARENT) shares its creator's parent (Linux: `real_parent`).
        ppid: AtomicI32::new(match p {
            Some(c) if thread || clone_flags & fork::CLONE_PARENT != 0 => {
                c.ppid.load(Ordering::SeqCst)
            }
            Some(c) => c.tgid,
            None => 0,
        }),
        comm: SpinLockIrq::new([0; 16]),
        state: AtomicU8::new(TaskState::Interruptible as u8),
        thread: UnsafeCell::new(ctx),
        fpsimd: UnsafeCell::new(cpu::FpsimdState::new()),
        tp_value: AtomicU64::new(0),
        kstack,
        exit_code: AtomicI32::new(0),
        cred: SpinLockIrq::new(p.map_or(Cred::root(), |c| *c.cred.lock())),
        pending: core::sync::atomic::AtomicU64::new(0),
        signal: SpinLockIrq::new(match p {
            Some(c) => {
                let mut st = c.signal.lock().fork_copy();
                // copy_process: a child sharing the memory but not a vfork (a thread)
                // must not run handlers on its creator's alternate stack.
                if clone_flags & (fork::CLONE_VM | fork::CLONE_VFORK) == fork::CLONE_VM {
                    st.thread.altstack.sas_ss_reset();
                }
                st
            }
            None => Default::default(),
        }),
        sighand: SpinLockIrq::new(match p {
            Some(c) if shares(CLONE_SIGHAND) => {
                let sh = c.sighand();
                sh.count.fetch_add(1, Ordering::SeqCst);
                sh
            }
            Some(c) => Arc::new(c.sighand().copy()),
            None => Arc::new(signal::SighandStruct::new()),
        }),
        sig,
        rlim: match p {
            Some(c) if thread => c.rlim.clone(),
            Some(c) => Arc::new(SpinLockIrq::new(*c.rlim.lock())),
            None => Arc::new(SpinLockIrq::new(default_rlimits())),
        },
        clear_child_tid: AtomicU64::new(0),
        set_child_tid: AtomicU64::new(0),
        robust_list: AtomicU64::new(0),
        exit_signal: AtomicU32::new(if thread {
            0
        } else {
            (clone_flags & fork::CSIGNAL) as u32
        }),
        thread_node: ThreadNode::new(),
        vfork_done: SpinLockIrq::new(None),
        files: files::TaskFiles::new(files),
        cwd: match p {
            Some(c) if shares(CLONE_FS) => c.cwd.clone(),
            Some(c) => Arc::new(SpinLockIrq::new(c.cwd.lock().clone())),
            None => Arc::new(SpinLockIrq::new(alloc::string::String::from("/"))),
        },
        umask: match p {
            Some(c) if shares(CLONE_FS) => c.umask.clone(),
            Some(c) => Arc::new(core::sync::atomic::AtomicU32::new(
                c.umask.load(Ordering::Relaxed),
            )),
            None => Arc::new(core::sync::atomic::AtomicU32::new(0o022)),
        },
        mm: SpinLockIrq::new(None),
        mm_ptr: AtomicPtr::new(core::ptr::null_mut()),
        utime: AtomicU64::new(0),
        stime: AtomicU64::new(0),
        nvcsw: AtomicU64::new(0),
        nivcsw: AtomicU64::new(0),
        // copy_signal: the OOM settings and process group are the parent's.
        oom_score_adj: share_or_copy_atomic16(thread, p.map(|c| &c.oom_score_adj)),
        oom_score_adj_min: share_or_copy_atomic16(thread, p.map(|c| &c.oom_score_adj_min)),
        oom_victim: AtomicBool::new(false),
        pgid: share_or_copy_atomic32(thread, p.map(|c| &c.pgid)),
        sid: share_or_copy_atomic32(thread, p.map(|c| &c.sid)),
        pdeath_signal: AtomicU32::new(0),
        dumpable: AtomicU32::new(1),
        coredump_filter: match p {
            Some(c) if thread => c.coredump_filter.clone(),
            Some(c) => Arc::new(AtomicU32::new(c.coredump_filter.load(Ordering::Relaxed))),
            None => Arc::new(AtomicU32::new(0x33)),
        },
        did_exec: AtomicBool::new(false),
    });
    task.set_comm(name);
    TASKS.lock().insert(pid, task.clone());
    attach_thread(&task);
    Some((task, regs))
}

/// A thread's share of its group's value, or a new process's copy of its parent's.
fn share_or_copy_atomic32(thread: bool, theirs: Option<&Arc<AtomicI32>>) -> Arc<AtomicI32> {
    match theirs {
        Some(a) if thread => a.clone(),
        _ => Arc::new(AtomicI32::new(
            theirs.map_or(0, |a| a.load(Ordering::Relaxed)),
        )),
    }
}

/// [`share_or_copy_atomic32`] for the OOM settings.
fn share_or_copy_atomic16(thread: bool, theirs: Option<&Arc<AtomicI16>>) -> Arc<AtomicI16> {
    match theirs {
        Some(a) if thread => a.clone(),
        _ => Arc::new(AtomicI16::new(
            theirs.map_or(0, |a| a.load(Ordering::Relaxed)),
        )),
    }
}

/// Start a kernel thread running `f(arg)`. Linux: `kernel_thread`.
pub fn kernel_thread(name: &str, f: extern "C" fn(usize), arg: usize) -> Option<Arc<Task>> {
    let (task, _) = alloc_task(name, Some(f), arg, 0)?;
    wake_up_process(&task);
    Some(task)
}

/// Make `task` runnable (Linux: `wake_up_process`).
pub fn wake_up_process(task: &Arc<Task>) {
    let mut rq = RQ.lock();
    if matches!(
        task.state(),
        TaskState::Interruptible | TaskState::Uninterruptible
    ) || (task.state() == TaskState::Running && task.pid() != 0)
    {
        let queued = rq.queue.iter().any(|t| Arc::ptr_eq(t, task));
        let is_current = core::ptr::eq(CURRENT.load(Ordering::Relaxed), Arc::as_ptr(task));
        task.set_state(TaskState::Running);
        if !queued && !is_current {
            rq.queue.push_back(task.clone());
        }
    }
}

/// Pick the next task and switch to it (Linux: `schedule` -> `__schedule` ->
/// `context_switch`). The current task stays queued if still running.
///
/// A switch is counted as Linux's `__schedule` counts it, only when another task really
/// runs next: voluntary (`nvcsw`) when the task leaves sleeping (it set a sleep state
/// before calling us: a wait queue, a zombie), involuntary (`nivcsw`) when it was still
/// runnable (preempted at a tick on the way back to user space, or `sched_yield`).
#[no_mangle]
#[inline(never)]
pub fn schedule() {
    let flags = cpu::local_irq_save();
    NEED_RESCHED.store(false, Ordering::Relaxed);
    let Some(prev) = current() else {
        cpu::local_irq_restore(flags);
        return;
    };
    // Linux: schedule_debug.
    if prev.stack_end_corrupted() {
        panic!(
            "corrupted stack end detected inside scheduler ({}[{}])",
            prev.comm(),
            prev.pid()
        );
    }
    let next = {
        let mut rq = RQ.lock();
        if prev.state() == TaskState::Running && prev.pid() != 0 {
            rq.queue.push_back(prev.clone());
        }
        loop {
            match rq.queue.pop_front() {
                Some(t) if t.state() == TaskState::Running => break t,
                Some(_) => continue,
                None => break rq.idle.clone().expect("sched_init not called"),
            }
        }
    };
    if Arc::ptr_eq(&prev, &next) {
        cpu::local_irq_restore(flags);
        return;
    }
    if prev.state() == TaskState::Running {
        prev.nivcsw.fetch_add(1, Ordering::Relaxed);
    } else {
        prev.nvcsw.fetch_add(1, Ordering::Relaxed);
    }
    CURRENT.store(Arc::as_ptr(&next) as *mut Task, Ordering::Release);
    crate::kernel::trace::ftrace_graph_set_pid(next.pid());
    switch_mm_hook(&prev, &next);
    // The FP/SIMD registers hold user state only (the kernel is soft-float).
    // SAFETY: both tasks are alive; only schedule() touches these, with IRQs off.
    unsafe {
        cpu::fpsimd_save(prev.fpsimd.get());
        cpu::fpsimd_load(next.fpsimd.get());
    }
    tls_thread_switch(&prev, &next);
    let (p, n) = (prev.thread.get(), next.thread.get());
    // Drop our references before switching: a dead task never comes back to drop them.
    // TASKS (or the idle slot, or TASK_DEAD for a thread that released itself) keeps both
    // alive until the task is reaped.
    drop(prev);
    drop(next);
    // SAFETY: both contexts belong to live tasks; interrupts are off.
    unsafe { cpu::cpu_switch_to(p as *mut u8, n as *const u8) };
    finish_task_switch();
    cpu::local_irq_restore(flags);
}

/// Hand the exiting, self-released current thread to the next `finish_task_switch`, which
/// frees it once its stack is no longer in use (Linux: the final `put_task_struct` of a
/// TASK_DEAD task in `finish_task_switch`).
pub fn set_task_dead(task: Arc<Task>) {
    let old = TASK_DEAD.swap(Arc::into_raw(task) as *mut Task, Ordering::AcqRel);
    if !old.is_null() {
        // SAFETY: every pointer in TASK_DEAD came from Arc::into_raw and is taken once.
        drop(unsafe { Arc::from_raw(old) });
    }
}

/// After a switch, on the new task's stack: drop the thread that exited before it, whose
/// stack nobody runs on any more (Linux: `finish_task_switch`).
fn finish_task_switch() {
    let dead = TASK_DEAD.load(Ordering::Acquire);
    if dead.is_null() || core::ptr::eq(dead, CURRENT.load(Ordering::Relaxed)) {
        return;
    }
    if TASK_DEAD
        .compare_exchange(
            dead,
            core::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        // SAFETY: taken from TASK_DEAD once; its task is not running (it is not current).
        drop(unsafe { Arc::from_raw(dead) });
    }
}

/// Swap the user thread pointer: keep `prev`'s TPIDR_EL0 in its thread state and load
/// `next`'s. Without this a task resumes with whatever thread pointer the last task left,
/// and its libc's `errno` (and every other thread-local) lands in someone else's memory.
/// Linux: `tls_thread_switch`, called from `__switch_to` (arch/arm64/kernel/process.c).
#[no_mangle]
#[inline(never)]
pub fn tls_thread_switch(prev: &Task, next: &Task) {
    prev.tp_value
        .store(cpu::read_tpidr_el0(), Ordering::Relaxed);
    cpu::write_tpidr_el0(next.tp_value.load(Ordering::Relaxed));
}

/// The new task's user thread state at fork: the parent's live TPIDR_EL0 (a fork child
/// runs on a copy of the parent's memory, so the same thread pointer is right for it).
/// Linux: the `*task_user_tls(p) = read_sysreg(tpidr_el0)` of `copy_thread`.
pub fn copy_thread_tls(child: &Task) {
    child
        .tp_value
        .store(cpu::read_tpidr_el0(), Ordering::Relaxed);
}

impl Task {
    /// Give a task that has not run yet its user thread pointer (CLONE_SETTLS; Linux:
    /// `*task_user_tls(p) = tls` in `copy_thread`).
    pub fn tp_value_set(&self, tls: u64) {
        self.tp_value.store(tls, Ordering::Relaxed);
    }
}

/// Reset the per-thread user state a new program must not inherit: the thread pointer
/// (TPIDR_EL0 = 0) and the FP/SIMD registers (all zero). Called by exec once the old image
/// is gone. Linux: `flush_thread` -> `fpsimd_flush_thread` + `tls_thread_flush`.
#[no_mangle]
#[inline(never)]
pub fn flush_thread(task: &Task) {
    // tls_thread_flush
    cpu::write_tpidr_el0(0);
    task.tp_value.store(0, Ordering::Relaxed);
    // fpsimd_flush_thread: the registers are the running task's user state.
    let zero = cpu::FpsimdState::new();
    // SAFETY: `zero` is a live FpsimdState on our stack; the kernel is soft-float, so the
    // FP/SIMD registers hold only this (current) task's user state.
    unsafe { cpu::fpsimd_load(&zero) };
}

/// First thing a new task runs (from `ret_from_fork`): free the thread that exited before
/// it, store its tid where CLONE_CHILD_SETTID asked (in its own address space, now
/// installed), interrupts back on. Linux: `schedule_tail` (`finish_task_switch`,
/// `put_user(task_pid_vnr(current), current->set_child_tid)`).
#[no_mangle]
pub extern "C" fn schedule_tail() {
    finish_task_switch();
    cpu::local_irq_enable();
    with_current(|t| {
        let at = t.set_child_tid.load(Ordering::Relaxed);
        if at != 0 {
            // A bad address is the program's problem, as in Linux (the error is ignored).
            let _ = crate::arch::aarch64::uaccess::put_user(at as usize, t.pid());
        }
    });
}

/// A kernel thread's function returned (from `ret_from_fork`). Linux: a kernel thread
/// either calls `do_exit` or, for init, returns to user space after `kernel_execve`.
#[no_mangle]
pub extern "C" fn kthread_return() {
    if !exec_hook_has_user_mm() {
        do_exit_kthread();
    }
}

fn exec_hook_has_user_mm() -> bool {
    current().is_some_and(|t| t.mm.lock().is_some())
}

/// End the current kernel thread: it becomes a zombie for its reaper and never runs again.
pub fn do_exit_kthread() -> ! {
    let me = current().expect("do_exit without a task");
    me.set_state(TaskState::Zombie);
    drop(me);
    schedule();
    unreachable!("a zombie was scheduled");
}

/// One turn of the idle loop once `schedule()` found nothing to run: sleep in `wfi` until
/// an interrupt. Interrupts are masked while the run queue is checked and across the
/// `wfi` (a pending interrupt still ends it, Arm ARM D1.16.2), then unmasked, so the
/// handler runs at once: a wake-up between the check and the `wfi` cannot be lost.
/// Linux: `do_idle` -> `cpuidle_idle_call` -> `arch_cpu_idle` -> `cpu_do_idle` (not
/// `cpu_idle_poll`, which spins).
#[no_mangle]
#[inline(never)]
pub fn do_idle() {
    let flags = cpu::local_irq_save();
    let idle = RQ.lock().queue.is_empty() && !NEED_RESCHED.load(Ordering::Relaxed);
    if idle {
        cpu::wfi();
    }
    cpu::local_irq_restore(flags);
}

/// Give up the CPU voluntarily (Linux: `sched_yield` -> `schedule`).
pub fn yield_now() {
    schedule();
}

/// Take the exiting current thread out of the pid table and hand back the table's
/// reference, which must live until the switch away from its stack ([`set_task_dead`]).
/// Linux: `release_task` of an autoreaping thread, from its own `exit_notify`.
pub fn release_task_self(pid: i32) -> Option<Arc<Task>> {
    let t = TASKS.lock().remove(&pid)?;
    detach_thread(&t);
    Some(t)
}

/// Swap the ids of `left` and `right`, in the tasks and in the pid table, so each is
/// found under the other's old id (Linux: `exchange_tids` in kernel/pid.c, which swaps
/// the `thread_pid` links and the `pid` fields). `de_thread` uses it to give an exec'ing
/// thread its leader's pid. Both must be in the table; nothing is allocated (the two
/// slots trade their contents).
pub fn exchange_tids(left: &Arc<Task>, right: &Arc<Task>) {
    let mut tasks = TASKS.lock();
    let (l, r) = (left.pid(), right.pid());
    let (Some(ls), Some(rs)) = (tasks.get(&l).cloned(), tasks.get(&r).cloned()) else {
        return;
    };
    if let Some(slot) = tasks.get_mut(&l) {
        *slot = rs;
    }
    if let Some(slot) = tasks.get_mut(&r) {
        *slot = ls;
    }
    left.pid.store(r, Ordering::Relaxed);
    right.pid.store(l, Ordering::Relaxed);
}

impl Task {
    /// Change the signal the parent gets at this task's end (Linux: `tsk->exit_signal =
    /// SIGCHLD` for the new leader in `de_thread`, -1 (our 0) for the old one).
    pub fn set_exit_signal(&self, sig: u32) {
        self.exit_signal.store(sig, Ordering::Relaxed);
    }
}

/// Remove a reaped task from the pid table (its stack is freed when the last Arc drops).
pub fn release_task(pid: i32) {
    let t = TASKS.lock().remove(&pid);
    if let Some(t) = t {
        detach_thread(&t);
        t.set_state(TaskState::Dead);
    }
}

/// Install `next`'s address space in TTBR0, or the empty table for a kernel thread.
/// Linux: `context_switch` -> `switch_mm_irqs_off` (kernel threads borrow the previous
/// mm lazily in Linux; we simply point TTBR0 at nothing).
pub fn switch_mm_hook(_prev: &Arc<Task>, next: &Arc<Task>) {
    match next
        .mm
        .try_lock()
        .as_ref()
        .and_then(|m| m.as_ref().cloned())
    {
        Some(mm) => crate::mm::mmu_context::switch_mm(&mm),
        None => crate::mm::mmu_context::switch_to_reserved_ttbr0(),
    }
}

/// Copy `task`'s resource limits and the root-only capabilities the mm code checks
/// (CAP_IPC_LOCK, CAP_SYS_RAWIO, CAP_SYS_ADMIN) into `mm` (Linux reads `current->signal->rlim` and
/// `capable()` directly; our mm/ cannot see tasks). Takes `mmap_lock` for write briefly.
pub fn sync_mm_limits(task: &Task, mm: &crate::mm::mm_types::MmStruct) {
    let rlim = *task.rlim.lock();
    let cred = *task.cred.lock();
    let mut m = crate::mm::mmap_lock::mmap_write_lock(mm);
    m.rlim = rlim;
    m.cap_ipc_lock = cred.capable(CAP_IPC_LOCK);
    m.cap_sys_rawio = cred.capable(CAP_SYS_RAWIO);
    m.cap_sys_admin = cred.capable(CAP_SYS_ADMIN);
}

/// Drop the task's address space at exit (Linux: `exit_mm` -> `mmput`, which runs
/// `exit_mmap` when the last user, the last thread, lets go; then `exit_files`: the last
/// thread closes the descriptors). TTBR0 leaves the mm first, so its tables can be freed
/// under us.
pub fn exit_mm(task: &Arc<Task>) {
    let old = task.set_mm(None);
    crate::mm::mmu_context::switch_to_reserved_ttbr0();
    drop(old);
    task.files.lock().put();
    // Linux: `__cleanup_sighand` from `__exit_signal`.
    task.sighand().count.fetch_sub(1, Ordering::SeqCst);
}
pub mod binfmt_elf;
pub mod exec;
pub mod exit;
pub mod files;
pub mod fork;
pub mod oom;
pub mod signal;
/// In-kernel scheduler tests.
pub mod tests;

//! Fast user-space mutexes: the sleeping half of pthread mutexes, condition variables,
//! `pthread_join` and semaphores. User space does the uncontended case with atomics on a
//! 32-bit word; only a thread that must wait (FUTEX_WAIT) or wake others (FUTEX_WAKE)
//! comes here.
//!
//! Linux 5.10: `kernel/futex.c` (`do_futex`, `get_futex_key`, `futex_wait` ->
//! `futex_wait_setup` + `futex_wait_queue_me`, `futex_wake`, `futex_requeue`,
//! `futex_wake_op`, `exit_robust_list`, `handle_futex_death`, `sys_set_robust_list`);
//! 6.x split the file into `kernel/futex/{core,waitwake,requeue,syscalls}.c` with the
//! same functions.
//!
//! As in Linux, a waiter's queue entry (`FutexQ`, Linux's `futex_q`) lives on its own
//! kernel stack and is linked into one of 256 hash buckets, so waiting allocates nothing
//! here however many threads user space puts to sleep (the timeout's `HrTimerSleeper` and
//! the wait queue underneath are the sleeping machinery's, shared with every sleep).
//!
//! Differences from Linux: a bucket's list is in arrival order rather than a plist by
//! priority (no priorities: first come, first woken); a shared
//! futex (a MAP_SHARED mapping, without FUTEX_PRIVATE_FLAG) is keyed by the physical
//! page rather than (inode, offset), so it is the same futex in every process that maps
//! the page while the page stays resident; PI futexes (FUTEX_LOCK_PI...) are ENOSYS.
//!
//! Why the value check cannot race with a waker: there is one CPU and kernel code is not
//! preempted, so between reading the user word (any fault it takes is resolved before
//! the load completes) and queueing the waiter no other task runs. Linux needs the
//! bucket lock and `get_futex_value_locked` for that.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{get_user, put_user};
use crate::errno::{Errno, KResult};
use crate::kernel::hrtimer::{hrtimer_sleep_until, ktime_get_ns, HrTimerSleeper};
use crate::mm::mm_types::MmStruct;
use crate::sync::wait::SleepState;
use crate::sync::SpinLockIrq;
use crate::syscall::SyscallArgs;
use crate::task::{current, Task};
use alloc::sync::Arc;
use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// futex(2) operations (`op & FUTEX_CMD_MASK`).
pub const FUTEX_WAIT: usize = 0;
/// Wake up to `val` waiters.
pub const FUTEX_WAKE: usize = 1;
/// Wake `val`, move up to `val2` others to `uaddr2`.
pub const FUTEX_REQUEUE: usize = 3;
/// FUTEX_REQUEUE if `*uaddr == val3`.
pub const FUTEX_CMP_REQUEUE: usize = 4;
/// Change `*uaddr2`, wake on `uaddr` and, if the old value compares, on `uaddr2`.
pub const FUTEX_WAKE_OP: usize = 5;
/// FUTEX_WAIT with an absolute timeout and a bitset.
pub const FUTEX_WAIT_BITSET: usize = 9;
/// FUTEX_WAKE of the waiters whose bitset meets `val3`.
pub const FUTEX_WAKE_BITSET: usize = 10;
/// The futex is private to the process: key by address, no VMA lookup.
pub const FUTEX_PRIVATE_FLAG: usize = 128;
/// The absolute timeout is CLOCK_REALTIME (ours equals CLOCK_MONOTONIC).
pub const FUTEX_CLOCK_REALTIME: usize = 256;
/// Bits that select the operation.
pub const FUTEX_CMD_MASK: usize = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
/// Every waiter's bitset for plain FUTEX_WAIT / FUTEX_WAKE.
pub const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// Robust futex word: waiters exist (user space set it before sleeping).
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
/// Robust futex word: the owner died holding it.
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
/// Robust futex word: the owner's tid.
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Most entries `exit_robust_list` walks: a corrupt or circular list ends there.
pub const ROBUST_LIST_LIMIT: usize = 2048;
/// `sizeof(struct robust_list_head)`: next, futex_offset, list_op_pending.
pub const ROBUST_LIST_HEAD_SIZE: usize = 24;

/// What identifies a futex (Linux: `union futex_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FutexKey {
    /// Private memory: this address in this address space (Linux: `key.private`).
    Private {
        /// The mm, as an address.
        mm: usize,
        /// The user address.
        addr: usize,
    },
    /// Shared memory: this byte of physical memory (Linux keys it by inode and offset,
    /// `key.shared`).
    Shared {
        /// Page frame number.
        pfn: usize,
        /// Offset in the page.
        offset: usize,
    },
}

/// How many hash buckets the futex queues have (Linux: `futex_hashsize`, 256 per CPU
/// rounded to a power of two: 256 on our one CPU).
const FUTEX_HASHSIZE: usize = 256;

/// `FutexQ::bucket` of a waiter on no queue: not queued yet, or woken (Linux: a NULL
/// `lock_ptr`).
const NOT_QUEUED: usize = usize::MAX;

/// One waiting thread (Linux: `struct futex_q`). It lives on the waiter's kernel stack,
/// in `futex_wait`, and is linked into its hash bucket's list while it waits: queueing a
/// waiter allocates nothing. Everything but `bitset` and `sleeper` changes only under
/// the lock of the bucket that holds it.
struct FutexQ {
    /// Neighbours on the bucket's list (Linux: the `plist_node list`).
    prev: Cell<*const FutexQ>,
    /// See `prev`.
    next: Cell<*const FutexQ>,
    /// The futex it waits on; a requeue changes it (Linux: `key`).
    key: Cell<FutexKey>,
    /// Index of the bucket whose list holds it, or `NOT_QUEUED` (Linux: `lock_ptr`, the
    /// bucket's lock). A waker stores `NOT_QUEUED` last, with release ordering: from then
    /// on the waiter may return and its stack frame, this entry, be gone.
    bucket: AtomicUsize,
    /// Whom FUTEX_WAKE_BITSET may wake.
    bitset: u32,
    /// The sleeper's wait queue and its timeout; a waker takes a reference before it
    /// marks the entry woken (Linux: `wake_q_add(wake_q, q->task)` in `mark_wake_futex`).
    sleeper: Arc<HrTimerSleeper>,
}

impl FutexQ {
    fn new(key: FutexKey, bitset: u32, sleeper: Arc<HrTimerSleeper>) -> Self {
        FutexQ {
            prev: Cell::new(core::ptr::null()),
            next: Cell::new(core::ptr::null()),
            key: Cell::new(key),
            bucket: AtomicUsize::new(NOT_QUEUED),
            bitset,
            sleeper,
        }
    }

    /// Is it on a bucket's list (Linux: `!plist_node_empty(&q->list)` seen through
    /// `lock_ptr`)?
    fn is_queued(&self) -> bool {
        self.bucket.load(Ordering::Acquire) != NOT_QUEUED
    }
}

impl Drop for FutexQ {
    /// An entry never leaves its stack frame still linked: that would leave a dangling
    /// pointer in the bucket.
    fn drop(&mut self) {
        unqueue_me(self);
    }
}

/// One hash bucket: the waiters of the futexes whose keys hash here, in arrival order
/// (Linux: `struct futex_hash_bucket`, whose `chain` is a plist by priority; we have no
/// priorities, so a plain list: first come, first woken).
struct FutexHashBucket {
    head: *const FutexQ,
    tail: *const FutexQ,
}

// SAFETY: the pointers are followed only under the `SpinLockIrq` that holds the bucket,
// and a linked entry stays valid until it is unlinked under that lock (its owner's
// `futex_wait` does not return, and its Drop does not finish, before that).
unsafe impl Send for FutexHashBucket {}

impl FutexHashBucket {
    const fn new() -> Self {
        FutexHashBucket {
            head: core::ptr::null(),
            tail: core::ptr::null(),
        }
    }

    /// Append `q` (Linux: `plist_add` in `__queue_me`).
    ///
    /// # Safety
    /// `q` is not on any list and stays where it is until it has been unlinked.
    unsafe fn link_tail(&mut self, q: &FutexQ) {
        q.prev.set(self.tail);
        q.next.set(core::ptr::null());
        if self.tail.is_null() {
            self.head = q;
        } else {
            // SAFETY: `tail` is a linked entry, valid while linked (caller holds the lock).
            unsafe { (*self.tail).next.set(q) };
        }
        self.tail = q;
    }

    /// Take `q` off the list (Linux: `plist_del` in `__unqueue_futex`).
    ///
    /// # Safety
    /// `q` is on this bucket's list.
    unsafe fn unlink(&mut self, q: &FutexQ) {
        let (prev, next) = (q.prev.get(), q.next.get());
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: a linked neighbour, valid while linked.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        q.prev.set(core::ptr::null());
        q.next.set(core::ptr::null());
    }
}

/// The buckets (Linux: `futex_queues`).
static FUTEX_QUEUES: [SpinLockIrq<FutexHashBucket>; FUTEX_HASHSIZE] =
    [const { SpinLockIrq::new(FutexHashBucket::new()) }; FUTEX_HASHSIZE];

/// The bucket of `key` (Linux: `hash_futex`, jhash2 of the key).
fn hash_futex(key: &FutexKey) -> usize {
    let (a, b, kind) = match *key {
        FutexKey::Private { mm, addr } => (mm as u64, addr as u64, 1u64),
        FutexKey::Shared { pfn, offset } => (pfn as u64, offset as u64, 2u64),
    };
    let h = (a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.rotate_left(29) ^ kind)
        .wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    (h >> 56) as usize % FUTEX_HASHSIZE
}

/// Queue `q` on its key's bucket (Linux: `queue_me`). `q` must stay where it is until
/// [`unqueue_me`] or a waker has taken it off.
fn queue_me(q: &FutexQ) {
    let idx = hash_futex(&q.key.get());
    let mut hb = FUTEX_QUEUES[idx].lock();
    // SAFETY: `q` is on no list (new) and its owner keeps it in place until unqueued.
    unsafe { hb.link_tail(q) };
    q.bucket.store(idx, Ordering::Release);
}

/// Take `q` off its bucket if no waker did: true if it was still queued (a timeout or a
/// signal ended the wait), false if it was woken. A requeue may move it between buckets,
/// hence the check after locking. Linux: `unqueue_me`.
fn unqueue_me(q: &FutexQ) -> bool {
    loop {
        let idx = q.bucket.load(Ordering::Acquire);
        if idx == NOT_QUEUED {
            return false;
        }
        let mut hb = FUTEX_QUEUES[idx].lock();
        if q.bucket.load(Ordering::Acquire) != idx {
            continue; // requeued (or woken) meanwhile
        }
        // SAFETY: `bucket` says `q` is on this list, and we hold its lock.
        unsafe { hb.unlink(q) };
        q.bucket.store(NOT_QUEUED, Ordering::Release);
        return true;
    }
}

/// Take the linked `q` off `hb` and wake its sleeper (Linux: `mark_wake_futex` +
/// `wake_up_q`). Linux collects the tasks on a `wake_q` and wakes them after dropping the
/// bucket lock, to keep the lock short on SMP; on our one CPU, with interrupts off under
/// the lock, waking here is the same and needs no list.
///
/// # Safety
/// `q` is on `hb`'s list and the caller holds `hb`'s lock.
unsafe fn mark_wake_futex(hb: &mut FutexHashBucket, q: &FutexQ) {
    let sleeper = q.sleeper.clone();
    // SAFETY: the caller's contract.
    unsafe { hb.unlink(q) };
    // The last touch of `q`: the waiter may return (and its entry vanish) from now on.
    q.bucket.store(NOT_QUEUED, Ordering::Release);
    sleeper.wake();
}

/// The current task's address space (futexes live in user memory).
fn current_mm() -> KResult<Arc<MmStruct>> {
    current()
        .and_then(|t| t.mm.lock().clone())
        .ok_or(Errno::EFAULT)
}

/// Find the key of the futex at `uaddr`: EINVAL if not 4-byte aligned, EFAULT if not
/// mapped. A private futex, or one in private memory, is (mm, address); one in a
/// MAP_SHARED mapping is the physical page and offset, found by faulting the page in.
/// Linux: `get_futex_key`.
#[no_mangle]
#[inline(never)]
pub fn get_futex_key(mm: &Arc<MmStruct>, uaddr: usize, private: bool) -> KResult<FutexKey> {
    use crate::mm::vma::VmFlags;
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let private_key = FutexKey::Private {
        mm: Arc::as_ptr(mm) as usize,
        addr: uaddr,
    };
    if private {
        return Ok(private_key);
    }
    let shared = {
        let m = crate::mm::mmap_lock::mmap_read_lock(mm);
        match crate::mm::vma::find_vma(&m, uaddr) {
            Some(v) if v.vm_start <= uaddr => v.vm_flags.contains(VmFlags::VM_SHARED),
            _ => return Err(Errno::EFAULT),
        }
    };
    if !shared {
        return Ok(private_key);
    }
    let page_addr = uaddr & !(crate::mm::PAGE_SIZE - 1);
    let pages =
        crate::mm::gup::get_user_pages_remote(mm, page_addr, 1, crate::mm::gup::FollFlags::empty())
            .map_err(|_| Errno::EFAULT)?;
    let page = pages.first().ok_or(Errno::EFAULT)?;
    let pfn = crate::mm::page::page_to_pfn(page);
    for p in &pages {
        crate::mm::page::put_page(p);
    }
    Ok(FutexKey::Shared {
        pfn,
        offset: uaddr - page_addr,
    })
}

/// Sleep on the futex at `uaddr` if it still holds `val` (EAGAIN otherwise), until a
/// FUTEX_WAKE whose bitset meets `bitset`, the absolute monotonic `deadline` (ETIMEDOUT)
/// or a signal (EINTR). Linux: `futex_wait` (`futex_wait_setup`, `futex_wait_queue_me`,
/// `unqueue_me`).
#[no_mangle]
#[inline(never)]
pub fn futex_wait(
    uaddr: usize,
    private: bool,
    val: u32,
    deadline: Option<u64>,
    bitset: u32,
) -> KResult<usize> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let mm = current_mm()?;
    let key = get_futex_key(&mm, uaddr, private)?;
    drop(mm);
    // futex_wait_setup: the value and the queueing, with nothing run in between.
    let now: u32 = get_user(uaddr)?;
    if now != val {
        return Err(Errno::EAGAIN);
    }
    // The queue entry is this stack frame's (Linux: `struct futex_q q` in futex_wait);
    // it does not move until it is off the queue again.
    let q = FutexQ::new(
        key,
        bitset,
        HrTimerSleeper::new(deadline.unwrap_or(u64::MAX)),
    );
    queue_me(&q);
    let slept = hrtimer_sleep_until(&q.sleeper, SleepState::Interruptible, || !q.is_queued());
    // unqueue_me: a waker that took us off the queue has woken us; else we leave.
    if !unqueue_me(&q) {
        return Ok(0);
    }
    slept?;
    if q.sleeper.fired() {
        return Err(Errno::ETIMEDOUT);
    }
    Err(Errno::EINTR)
}

/// Wake up to `nr` waiters of `key` whose bitset meets `bitset`, in arrival order;
/// returns how many (Linux: `futex_wake` -> `mark_wake_futex` + `wake_up_q`).
fn wake_key(key: FutexKey, nr: usize, bitset: u32) -> usize {
    let mut hb = FUTEX_QUEUES[hash_futex(&key)].lock();
    let mut woken = 0;
    let mut p = hb.head;
    while !p.is_null() && woken < nr {
        // SAFETY: `p` is linked on this bucket, whose lock we hold.
        let q = unsafe { &*p };
        p = q.next.get();
        if q.key.get() == key && q.bitset & bitset != 0 {
            // SAFETY: `q` is on `hb`, locked.
            unsafe { mark_wake_futex(&mut hb, q) };
            woken += 1;
        }
    }
    woken
}

/// Wake up to `nr` waiters of the futex at `uaddr` (Linux: `futex_wake`).
#[no_mangle]
#[inline(never)]
pub fn futex_wake(uaddr: usize, private: bool, nr: usize, bitset: u32) -> KResult<usize> {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let mm = current_mm()?;
    let key = get_futex_key(&mm, uaddr, private)?;
    Ok(wake_key(key, nr, bitset))
}

/// Wake one waiter of `addr` in `mm` for a thread that exits: the cleared tid word of
/// CLONE_CHILD_CLEARTID, or a robust futex whose owner died (Linux: `do_futex(uaddr,
/// FUTEX_WAKE, 1, ..)` from `mm_release`, `futex_wake` from `handle_futex_death`).
pub fn futex_wake_addr(mm: &Arc<MmStruct>, addr: usize, nr: usize) -> usize {
    match get_futex_key(mm, addr, false) {
        Ok(key) => wake_key(key, nr, FUTEX_BITSET_MATCH_ANY),
        Err(_) => 0,
    }
}

/// Wake `nr_wake` waiters of `uaddr1` and move up to `nr_requeue` more to `uaddr2`
/// without waking them; with `cmpval`, only if `*uaddr1` still holds it (EAGAIN). Returns
/// the number woken plus requeued. Linux: `futex_requeue` (non-PI).
#[no_mangle]
#[inline(never)]
pub fn futex_requeue(
    uaddr1: usize,
    private: bool,
    uaddr2: usize,
    nr_wake: usize,
    nr_requeue: usize,
    cmpval: Option<u32>,
) -> KResult<usize> {
    let mm = current_mm()?;
    let key1 = get_futex_key(&mm, uaddr1, private)?;
    let key2 = get_futex_key(&mm, uaddr2, private)?;
    if let Some(cmp) = cmpval {
        let now: u32 = get_user(uaddr1)?;
        if now != cmp {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(requeue_keys(key1, key2, nr_wake, nr_requeue))
}

/// The locked part of [`futex_requeue`]: wake `nr_wake` waiters of `key1`, move up to
/// `nr_requeue` more to `key2`; both buckets locked together, the lower index first
/// (Linux: `double_lock_hb`, `requeue_futex`).
fn requeue_keys(key1: FutexKey, key2: FutexKey, nr_wake: usize, nr_requeue: usize) -> usize {
    let (i1, i2) = (hash_futex(&key1), hash_futex(&key2));
    let (mut hb1, mut hb2) = if i1 == i2 {
        (FUTEX_QUEUES[i1].lock(), None)
    } else if i1 < i2 {
        let a = FUTEX_QUEUES[i1].lock();
        (a, Some(FUTEX_QUEUES[i2].lock()))
    } else {
        let b = FUTEX_QUEUES[i2].lock();
        (FUTEX_QUEUES[i1].lock(), Some(b))
    };
    // Linux's `task_count`: woken plus requeued.
    let mut count = 0;
    let mut p = hb1.head;
    while !p.is_null() {
        if count >= nr_wake && count - nr_wake >= nr_requeue {
            break;
        }
        // SAFETY: `p` is linked on `hb1`, whose lock we hold.
        let q = unsafe { &*p };
        p = q.next.get();
        if q.key.get() != key1 {
            continue;
        }
        count += 1;
        if count <= nr_wake {
            // SAFETY: `q` is on `hb1`, locked.
            unsafe { mark_wake_futex(&mut hb1, q) };
            continue;
        }
        // requeue_futex: onto the other bucket if the key hashes elsewhere; the key
        // changes either way (Linux requeues onto the same futex too, to no effect).
        if let Some(hb2) = hb2.as_mut() {
            // SAFETY: `q` is on `hb1` and both locks are held; it stays in place on its
            // owner's stack.
            unsafe {
                hb1.unlink(q);
                hb2.link_tail(q);
            }
            q.bucket.store(i2, Ordering::Release);
        }
        q.key.set(key2);
    }
    count
}

/// The operation FUTEX_WAKE_OP encodes in `val3`: `*uaddr2 = op(old, oparg)`, then
/// compare `old` with `cmparg`. ENOSYS for an unknown operation or comparison (Linux:
/// `arch_futex_atomic_op_inuser` + `futex_atomic_op_inuser`).
fn wake_op_decode(encoded: u32) -> KResult<(impl Fn(u32) -> u32, impl Fn(u32) -> bool)> {
    let sext12 = |v: u32| (((v & 0xfff) << 20) as i32 >> 20) as u32;
    let mut op = (encoded >> 28) & 0xf;
    let cmp = (encoded >> 24) & 0xf;
    let mut oparg = sext12(encoded >> 12);
    let cmparg = sext12(encoded);
    if op & 8 != 0 {
        // FUTEX_OP_OPARG_SHIFT: oparg is a shift count (Linux warns above 31).
        op &= 7;
        oparg = 1u32.wrapping_shl(oparg & 31);
    }
    if op > 4 || cmp > 5 {
        return Err(Errno::ENOSYS);
    }
    let apply = move |old: u32| match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        _ => old ^ oparg,
    };
    let test = move |old: u32| {
        let (o, c) = (old as i32, cmparg as i32);
        match cmp {
            0 => o == c,
            1 => o != c,
            2 => o < c,
            3 => o <= c,
            4 => o > c,
            _ => o >= c,
        }
    };
    Ok((apply, test))
}

/// FUTEX_WAKE_OP: change `*uaddr2` as `encoded` says, wake `nr1` waiters of `uaddr1` and,
/// if the old value of `*uaddr2` compares true, `nr2` of `uaddr2`. Linux: `futex_wake_op`.
#[no_mangle]
#[inline(never)]
pub fn futex_wake_op(
    uaddr1: usize,
    private: bool,
    uaddr2: usize,
    nr1: usize,
    nr2: usize,
    encoded: u32,
) -> KResult<usize> {
    let mm = current_mm()?;
    let key1 = get_futex_key(&mm, uaddr1, private)?;
    let key2 = get_futex_key(&mm, uaddr2, private)?;
    let (apply, test) = wake_op_decode(encoded)?;
    if !uaddr2.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    // Make the page present and writable first (a COW break may sleep), so the
    // read-modify-write below takes no fault and runs with nothing in between.
    let first: u32 = get_user(uaddr2)?;
    put_user(uaddr2, first)?;
    let old: u32 = get_user(uaddr2)?;
    put_user(uaddr2, apply(old))?;
    let mut n = wake_key(key1, nr1, FUTEX_BITSET_MATCH_ANY);
    if test(old) {
        n += wake_key(key2, nr2, FUTEX_BITSET_MATCH_ANY);
    }
    Ok(n)
}

/// futex(2): `uaddr`, `op`, `val`, `utime` (a timeout, or `val2` for the requeue and
/// wake-op commands), `uaddr2`, `val3`. Linux: `sys_futex` -> `do_futex`.
#[no_mangle]
#[inline(never)]
pub fn sys_futex(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (uaddr, op, val, utime, uaddr2, val3) =
        (a.0[0], a.0[1], a.0[2] as u32, a.0[3], a.0[4], a.0[5] as u32);
    let cmd = op & FUTEX_CMD_MASK & 0xffff_ffff;
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    if op & FUTEX_CLOCK_REALTIME != 0 && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
        return Err(Errno::ENOSYS);
    }
    // val2 travels in the timeout argument for these (Linux: `(u32) utime`).
    let val2 = utime as u32 as usize;
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            let deadline = if utime == 0 {
                None
            } else {
                let ns = crate::kernel::sys::get_timespec_ns(utime)?;
                // FUTEX_WAIT's timeout is relative; FUTEX_WAIT_BITSET's absolute.
                Some(if cmd == FUTEX_WAIT {
                    ktime_get_ns().saturating_add(ns)
                } else {
                    ns
                })
            };
            futex_wait(uaddr, private, val, deadline, bitset)
        }
        FUTEX_WAKE => futex_wake(uaddr, private, val as usize, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET => futex_wake(uaddr, private, val as usize, val3),
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            // Linux: negative counts are EINVAL.
            if (val as i32) < 0 || (val2 as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            let cmp = (cmd == FUTEX_CMP_REQUEUE).then_some(val3);
            futex_requeue(uaddr, private, uaddr2, val as usize, val2, cmp)
        }
        FUTEX_WAKE_OP => futex_wake_op(uaddr, private, uaddr2, val as usize, val2, val3),
        // The PI family and anything unknown.
        _ => Err(Errno::ENOSYS),
    }
}

/// set_robust_list(2): remember the list of robust futexes this thread holds, so that
/// they are marked FUTEX_OWNER_DIED if it dies holding them. EINVAL unless `len` is
/// `sizeof(struct robust_list_head)`. Linux: `sys_set_robust_list`.
pub fn sys_set_robust_list(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    if a.0[1] != ROBUST_LIST_HEAD_SIZE {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    me.robust_list.store(a.0[0] as u64, Ordering::Relaxed);
    Ok(0)
}

/// get_robust_list(2): the list head of thread `pid` (0: the caller) and its size.
/// ESRCH when no such thread, EPERM unless the caller may read that process (same user
/// or root; Linux: `ptrace_may_access(PTRACE_MODE_READ_REALCREDS)`), EFAULT.
pub fn sys_get_robust_list(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, head_ptr, len_ptr) = (a.0[0] as i32, a.0[1], a.0[2]);
    let me = current().ok_or(Errno::ESRCH)?;
    let t = if pid == 0 {
        me.clone()
    } else {
        crate::task::find_task(pid).ok_or(Errno::ESRCH)?
    };
    // Two statements: the guards must not overlap (t may be me).
    let mine = *me.cred.lock();
    let theirs = *t.cred.lock();
    if mine.euid != 0 && (mine.euid != theirs.uid || mine.euid != theirs.euid) {
        return Err(Errno::EPERM);
    }
    put_user(head_ptr, t.robust_list.load(Ordering::Relaxed))?;
    put_user(len_ptr, ROBUST_LIST_HEAD_SIZE as u64)?;
    Ok(0)
}

/// The owner `tid` died: if the futex at `uaddr` names it, mark it FUTEX_OWNER_DIED
/// (keeping FUTEX_WAITERS) and wake a waiter so that it can take the lock over. Linux:
/// `handle_futex_death`.
fn handle_futex_death(mm: &Arc<MmStruct>, uaddr: usize, tid: u32) {
    let Ok(val) = get_user::<u32>(uaddr) else {
        return;
    };
    if val & FUTEX_TID_MASK != tid {
        return;
    }
    let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if put_user(uaddr, new).is_ok() && val & FUTEX_WAITERS != 0 {
        futex_wake_addr(mm, uaddr, 1);
    }
}

/// Walk the robust list of the exiting `task` (in its own, still installed address
/// space) and release every futex it holds, the one it was taking or dropping
/// (`list_op_pending`) included; at most [`ROBUST_LIST_LIMIT`] entries. Linux:
/// `exit_robust_list` (`fetch_robust_entry`: bit 0 of each pointer marks a PI futex).
#[no_mangle]
#[inline(never)]
pub fn exit_robust_list(task: &Task) {
    let head = task.robust_list.swap(0, Ordering::Relaxed) as usize;
    if head == 0 {
        return;
    }
    let Some(mm) = task.mm.lock().clone() else {
        return;
    };
    let tid = task.pid() as u32;
    let (Ok(mut entry), Ok(offset), Ok(pending)) = (
        get_user::<u64>(head),
        get_user::<i64>(head + 8),
        get_user::<u64>(head + 16),
    ) else {
        return;
    };
    let futex_of = |e: u64| (e & !1).wrapping_add(offset as u64) as usize;
    let pending = pending & !1;
    for _ in 0..ROBUST_LIST_LIMIT {
        let e = entry & !1;
        if e as usize == head || e == 0 {
            break;
        }
        // Read the next entry first: handling this one may let another thread free it.
        let next = get_user::<u64>(e as usize).unwrap_or(0);
        if e != pending {
            handle_futex_death(&mm, futex_of(e), tid);
        }
        entry = next;
    }
    if pending != 0 {
        handle_futex_death(&mm, futex_of(pending), tid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_op_encodings_follow_the_uapi() {
        // FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 0): add one, wake if old > 0.
        let (apply, test) = wake_op_decode((1 << 28) | (4 << 24) | (1 << 12)).unwrap();
        assert_eq!(apply(5), 6);
        assert!(test(1));
        assert!(!test(0));
        // FUTEX_OP_SET with FUTEX_OP_OPARG_SHIFT: oparg 3 -> 1 << 3.
        let (apply, _) = wake_op_decode((8 << 28) | (3 << 12)).unwrap();
        assert_eq!(apply(0xff), 8);
        // ANDN with a negative (sign-extended) argument and a signed comparison.
        let (apply, test) = wake_op_decode((3 << 28) | (2 << 24) | (0xfff << 12) | 0xfff).unwrap();
        assert_eq!(apply(0xffff_ffff), 0);
        assert!(test((-2i32) as u32));
        assert!(!test(0));
        // Unknown op or comparison: ENOSYS.
        assert_eq!(wake_op_decode(5 << 28).err(), Some(Errno::ENOSYS));
        assert_eq!(wake_op_decode(6 << 24).err(), Some(Errno::ENOSYS));
    }
    /// A private key no other test uses (the buckets are global; tests run in parallel).
    fn key(mm: usize, addr: usize) -> FutexKey {
        FutexKey::Private { mm, addr }
    }

    fn waiter(k: FutexKey, bitset: u32) -> FutexQ {
        FutexQ::new(k, bitset, HrTimerSleeper::new(u64::MAX))
    }

    #[test]
    fn futex_wake_takes_waiters_in_arrival_order_and_honours_the_bitset() {
        let k = key(0x1000_0001, 0x40);
        let qs = [waiter(k, 1), waiter(k, 2), waiter(k, 1), waiter(k, 1)];
        for q in &qs {
            queue_me(q);
        }
        // FUTEX_WAKE_BITSET 2: only the second.
        assert_eq!(wake_key(k, 10, 2), 1);
        assert!(qs[0].is_queued() && !qs[1].is_queued() && qs[2].is_queued());
        // Two of the rest, oldest first.
        assert_eq!(wake_key(k, 2, FUTEX_BITSET_MATCH_ANY), 2);
        assert!(!qs[0].is_queued() && !qs[2].is_queued() && qs[3].is_queued());
        // unqueue_me: the woken one finds itself woken, the last leaves on its own.
        assert!(!unqueue_me(&qs[0]));
        assert!(unqueue_me(&qs[3]));
        assert_eq!(wake_key(k, 10, FUTEX_BITSET_MATCH_ANY), 0);
    }

    #[test]
    fn futex_wake_leaves_other_keys_of_the_same_bucket() {
        let k1 = key(0x2000_0001, 0x80);
        // Another key that hashes to the same bucket.
        let k2 = (0..100_000usize)
            .map(|i| key(0x2000_0001, 0x1000 + 4 * i))
            .find(|k| hash_futex(k) == hash_futex(&k1))
            .expect("a colliding key");
        let (a, b, c) = (waiter(k1, 1), waiter(k2, 1), waiter(k1, 1));
        queue_me(&a);
        queue_me(&b);
        queue_me(&c);
        assert_eq!(wake_key(k1, 10, FUTEX_BITSET_MATCH_ANY), 2);
        assert!(b.is_queued());
        assert_eq!(wake_key(k2, 10, FUTEX_BITSET_MATCH_ANY), 1);
        assert!(!a.is_queued() && !b.is_queued() && !c.is_queued());
    }

    #[test]
    fn futex_requeue_wakes_nr_wake_then_moves_nr_requeue_and_counts_both() {
        let (k1, k2) = (key(0x3000_0001, 0x10), key(0x3000_0001, 0x20));
        let qs = [waiter(k1, 1), waiter(k1, 1), waiter(k1, 1), waiter(k1, 1)];
        for q in &qs {
            queue_me(q);
        }
        // Linux's return value: woken plus requeued.
        assert_eq!(requeue_keys(k1, k2, 1, 2), 3);
        assert!(!qs[0].is_queued());
        assert!(qs[1].key.get() == k2 && qs[2].key.get() == k2 && qs[3].key.get() == k1);
        assert_eq!(qs[1].bucket.load(Ordering::Relaxed), hash_futex(&k2));
        // A requeued waiter leaves from its new bucket (unqueue_me follows `bucket`).
        assert!(unqueue_me(&qs[2]));
        assert_eq!(wake_key(k2, 10, FUTEX_BITSET_MATCH_ANY), 1);
        assert_eq!(wake_key(k1, 10, FUTEX_BITSET_MATCH_ANY), 1);
        // nr_wake 0 and nr_requeue 0: nothing happens.
        let q = waiter(k1, 1);
        queue_me(&q);
        assert_eq!(requeue_keys(k1, k2, 0, 0), 0);
        assert!(q.is_queued() && q.key.get() == k1);
    }

    #[test]
    fn a_dropped_futex_q_is_never_left_on_its_bucket() {
        let k = key(0x4000_0001, 0x10);
        {
            let q = waiter(k, 1);
            queue_me(&q);
        }
        assert_eq!(wake_key(k, 10, FUTEX_BITSET_MATCH_ANY), 0);
    }
}

//! CPU time accounting: each tick charges its 4 ms to the interrupted task, as user time
//! when the tick came from EL0, as system time otherwise. Linux: `kernel/sched/cputime.c`
//! (`account_process_tick`, `account_user_time`, `account_system_time`,
//! `thread_group_cputime`) with `CONFIG_TICK_CPU_ACCOUNTING`, the default, which is
//! just as coarse; `kernel/sys.c` (`getrusage`, `times`).
//!
//! A thread's times are its own (`Task::utime`, `stime`); a process's are the sum over
//! its live threads plus what its dead threads left in the group's `SignalStruct`; what
//! its reaped children used is added there too, for RUSAGE_CHILDREN and times(2).
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::copy_to_user;
use crate::errno::{Errno, KResult};
use crate::syscall::SyscallArgs;
use crate::task::{current, with_current, Task};
use core::sync::atomic::{AtomicBool, Ordering};

/// Nanoseconds in one tick (Linux: `TICK_NSEC`).
pub const TICK_NSEC: u64 = 1_000_000_000 / crate::drivers::arch_timer::HZ;
/// The clock ticks times(2) counts in (Linux: `USER_HZ`).
pub const USER_HZ: u64 = 100;

/// Did the interrupt being handled come from user space? Set by the IRQ entry (one CPU:
/// one interrupt at a time), read by the tick (Linux: `user_mode(get_irq_regs())`).
pub static IRQ_FROM_USER: AtomicBool = AtomicBool::new(false);

/// Charge the tick to the running task: user time if the tick interrupted EL0, system
/// time if it interrupted the kernel on the task's behalf; the idle task's ticks are
/// nobody's. Interrupt context: atomics only. Linux: `account_process_tick`.
#[no_mangle]
#[inline(never)]
pub fn account_process_tick(user_tick: bool) {
    with_current(|t| {
        if t.pid() == 0 {
            return;
        }
        if user_tick {
            t.utime.fetch_add(TICK_NSEC, Ordering::Relaxed);
        } else {
            t.stime.fetch_add(TICK_NSEC, Ordering::Relaxed);
        }
    });
}

/// A process's (user, system) nanoseconds: its live threads and the dead ones (Linux:
/// `thread_group_cputime`).
pub fn thread_group_cputime(t: &Task) -> (u64, u64) {
    let (mut u, mut s) = (
        t.sig.dead_utime.load(Ordering::Relaxed),
        t.sig.dead_stime.load(Ordering::Relaxed),
    );
    // An exited thread's times are in dead_*; a zombie leader is still listed.
    crate::task::for_each_thread(t, |th| {
        if th.state() != crate::task::TaskState::Zombie {
            u += th.utime.load(Ordering::Relaxed);
            s += th.stime.load(Ordering::Relaxed);
        }
        core::ops::ControlFlow::Continue(())
    });
    (u, s)
}

/// A thread exits: its times stay with the process (Linux: `__exit_signal`).
pub fn exit_thread_cputime(t: &Task) {
    t.sig
        .dead_utime
        .fetch_add(t.utime.load(Ordering::Relaxed), Ordering::Relaxed);
    t.sig
        .dead_stime
        .fetch_add(t.stime.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// `parent` reaped the process `child`: its times and its own children's become the
/// parent's children's times (Linux: `wait_task_zombie`'s `psig->cutime += ...`).
pub fn reap_cputime(parent: &Task, child: &Task) {
    let (u, s) = thread_group_cputime(child);
    let cu = u + child.sig.cutime.load(Ordering::Relaxed);
    let cs = s + child.sig.cstime.load(Ordering::Relaxed);
    parent.sig.cutime.fetch_add(cu, Ordering::Relaxed);
    parent.sig.cstime.fetch_add(cs, Ordering::Relaxed);
}

/// `struct rusage`: the two `timeval`s; the other fields stay 0 (we keep no RSS
/// high-water mark or fault counts per task).
fn rusage_bytes(utime: u64, stime: u64) -> [u8; 144] {
    let mut b = [0u8; 144];
    let tv = |ns: u64| {
        (
            (ns / 1_000_000_000) as i64,
            (ns % 1_000_000_000 / 1000) as i64,
        )
    };
    let (us, uu) = tv(utime);
    let (ss, su) = tv(stime);
    for (i, v) in [us, uu, ss, su].iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// The `struct rusage` wait4 stores for a reaped child (its times, its children's).
pub fn child_rusage(child: &Task) -> [u8; 144] {
    let (u, s) = thread_group_cputime(child);
    rusage_bytes(
        u + child.sig.cutime.load(Ordering::Relaxed),
        s + child.sig.cstime.load(Ordering::Relaxed),
    )
}

/// getrusage(2): RUSAGE_SELF (0, the process), RUSAGE_CHILDREN (-1, the reaped
/// children), RUSAGE_THREAD (1, the caller alone); EINVAL otherwise, EFAULT. Only the
/// times are filled (Linux: `getrusage`).
pub fn sys_getrusage(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let me = current().ok_or(Errno::ESRCH)?;
    let r = match a.0[0] as i32 {
        0 => {
            let (u, s) = thread_group_cputime(&me);
            rusage_bytes(u, s)
        }
        -1 => rusage_bytes(
            me.sig.cutime.load(Ordering::Relaxed),
            me.sig.cstime.load(Ordering::Relaxed),
        ),
        1 => rusage_bytes(
            me.utime.load(Ordering::Relaxed),
            me.stime.load(Ordering::Relaxed),
        ),
        _ => return Err(Errno::EINVAL),
    };
    copy_to_user(a.0[1], &r)?;
    Ok(0)
}

/// times(2): the process's and its reaped children's times in USER_HZ ticks (NULL: only
/// the return value), and the ticks since boot (Linux: `sys_times`, `jiffies_64_to_clock_t`).
pub fn sys_times(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let me = current().ok_or(Errno::ESRCH)?;
    let ticks = |ns: u64| ns / (1_000_000_000 / USER_HZ);
    if a.0[0] != 0 {
        let (u, s) = thread_group_cputime(&me);
        let mut b = [0u8; 32];
        let vals = [
            ticks(u),
            ticks(s),
            ticks(me.sig.cutime.load(Ordering::Relaxed)),
            ticks(me.sig.cstime.load(Ordering::Relaxed)),
        ];
        for (i, v) in vals.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        copy_to_user(a.0[0], &b)?;
    }
    Ok(
        crate::drivers::arch_timer::jiffies() as usize * USER_HZ as usize
            / crate::drivers::arch_timer::HZ as usize,
    )
}

/// CLOCK_PROCESS_CPUTIME_ID / CLOCK_THREAD_CPUTIME_ID for clock_gettime(2), in ns.
pub fn cpu_clock_ns(thread: bool) -> u64 {
    let Some(me) = current() else { return 0 };
    if thread {
        me.utime.load(Ordering::Relaxed) + me.stime.load(Ordering::Relaxed)
    } else {
        let (u, s) = thread_group_cputime(&me);
        u + s
    }
}

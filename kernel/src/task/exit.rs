//! Ending processes and reaping them. Linux: `kernel/exit.c` (`do_exit`,
//! `do_group_exit`, `exit_notify`, `forget_original_parent`, `do_wait`, `release_task`).
use super::{all_pids, current, find_task, release_task, schedule, wake_up_process, TaskState};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::put_user;
use crate::errno::{Errno, KResult};
use crate::syscall::SyscallArgs;
use core::sync::atomic::Ordering;

/// The pid that adopts orphans (Linux: the child reaper, init).
pub const CHILD_REAPER: i32 = 1;

/// End the current task with wait status `status` (exit code << 8, or the signal).
/// Releases its address space, reparents its children, becomes a zombie, wakes the
/// parent and never returns. Linux: `do_exit`.
#[no_mangle]
#[inline(never)]
pub fn do_exit(status: i32) -> ! {
    let me = current().expect("do_exit without a task");
    if me.pid == CHILD_REAPER {
        zap_pid_ns_processes(&me);
    }
    super::exit_mm(&me);
    crate::kernel::itimer::exit_itimers(me.pid);
    me.exit_code.store(status, Ordering::SeqCst);
    // forget_original_parent: orphans go to init, which reaps them.
    for pid in all_pids() {
        if let Some(child) = find_task(pid) {
            if child.ppid.load(Ordering::SeqCst) == me.pid {
                child.ppid.store(CHILD_REAPER, Ordering::SeqCst);
                if child.state() == TaskState::Zombie {
                    if let Some(reaper) = find_task(CHILD_REAPER) {
                        wake_up_process(&reaper);
                    }
                }
            }
        }
    }
    me.set_state(TaskState::Zombie);
    // exit_notify: wake the parent sleeping in wait4.
    if let Some(parent) = find_task(me.ppid.load(Ordering::SeqCst)) {
        wake_up_process(&parent);
    }
    drop(me);
    schedule();
    unreachable!("a zombie ran again");
}

/// The child reaper is going: every other process gets SIGKILL now, while they can still
/// be scheduled (Linux: `zap_pid_ns_processes`, which the dying init of a pid namespace
/// runs). Without it, a process that never sleeps would keep the CPU from the idle loop
/// that reaps what init leaves behind, and the machine would never finish.
fn zap_pid_ns_processes(me: &super::Task) {
    for pid in all_pids() {
        if pid == 0 || pid == me.pid {
            continue;
        }
        if let Some(t) = find_task(pid) {
            if t.state() != TaskState::Zombie {
                super::signal::send_signal(&t, super::signal::SIGKILL);
            }
        }
    }
}

/// exit(2) and exit_group(2) (one thread per process, so the same). Linux: `do_group_exit`.
pub fn sys_exit_group(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_exit(((a.0[0] & 0xff) << 8) as i32)
}

/// wait4(2): wait for a child (pid > 0: that one; -1: any; 0: any in the caller's
/// process group; < -1: any in group -pid) to become a zombie, store its status, reap it. WNOHANG (1) returns 0 when none has exited. ECHILD without matching
/// children. Linux: `kernel_wait4` -> `do_wait`. rusage is zeroed.
pub fn sys_wait4(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, status_ptr, options, rusage) = (a.0[0] as i32, a.0[1], a.0[2], a.0[3]);
    const WNOHANG: usize = 1;
    if options & !(WNOHANG | 2 | 8 | 0x0100_0000 | 0x4000_0000 | 0x8000_0000) != 0 {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ECHILD)?;
    let wanted = |t: &super::Task| match pid {
        -1 => true,
        0 => t.pgid.load(Ordering::Relaxed) == me.pgid.load(Ordering::Relaxed),
        p if p < -1 => t.pgid.load(Ordering::Relaxed) == p.wrapping_neg(),
        p => t.pid == p,
    };
    loop {
        let children: alloc::vec::Vec<_> = all_pids()
            .into_iter()
            .filter_map(find_task)
            .filter(|t| t.ppid.load(Ordering::SeqCst) == me.pid && wanted(t))
            .collect();
        if children.is_empty() {
            return Err(Errno::ECHILD);
        }
        if let Some(z) = children.iter().find(|t| t.state() == TaskState::Zombie) {
            let (zpid, status) = (z.pid, z.exit_code.load(Ordering::SeqCst));
            // The child is reaped even if the status cannot be stored (Linux: do_wait
            // releases it, then kernel_wait4's put_user fails with EFAULT).
            drop(children);
            release_task(zpid);
            if status_ptr != 0 {
                put_user(status_ptr, status)?;
            }
            if rusage != 0 {
                crate::arch::aarch64::uaccess::copy_to_user(rusage, &[0u8; 144])?;
            }
            return Ok(zpid as usize);
        }
        if options & WNOHANG != 0 {
            return Ok(0);
        }
        drop(children);
        me.set_state(TaskState::Interruptible);
        schedule();
        if super::signal::signal_pending() {
            me.set_state(TaskState::Running);
            // Linux: do_wait's -ERESTARTSYS: restarted under SA_RESTART, else EINTR.
            return Err(Errno::ERESTARTSYS);
        }
    }
}

/// getpid(2).
pub fn sys_getpid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(current().map_or(0, |t| t.pid) as usize)
}

/// gettid(2): one thread per process.
pub fn sys_gettid(a: SyscallArgs, r: &mut PtRegs) -> KResult<usize> {
    sys_getpid(a, r)
}

/// getppid(2).
pub fn sys_getppid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(current().map_or(0, |t| t.ppid.load(Ordering::SeqCst)) as usize)
}

/// sched_yield(2).
pub fn sys_sched_yield(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    schedule();
    Ok(0)
}

/// set_tid_address(2): remembered nowhere (no threads); returns the tid as Linux does.
pub fn sys_set_tid_address(a: SyscallArgs, r: &mut PtRegs) -> KResult<usize> {
    sys_getpid(a, r)
}

//! Ending processes and reaping them. Linux: `kernel/exit.c` (`do_exit`,
//! `do_group_exit`, `exit_notify`, `forget_original_parent`, `do_wait`, `release_task`).
use super::{current, find_task, release_task, schedule, TaskState};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::put_user;
use crate::errno::{Errno, KResult};
use crate::syscall::SyscallArgs;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering;

/// The pid that adopts orphans (Linux: the child reaper, init).
pub const CHILD_REAPER: i32 = 1;

/// End the current thread with wait status `status` (exit code << 8, or the signal).
/// Lets go of the address space (waking a pthread_join waiter through the cleared tid
/// word), and when it is the last thread of its process, reparents the children and
/// tells the parent. A thread other than the leader is reaped at once; a leader becomes
/// a zombie that its parent reaps once no thread is left. Never returns.
/// Linux: `do_exit` (`exit_mm` -> `mm_release`, `exit_files`, `exit_notify`).
#[no_mangle]
#[inline(never)]
pub fn do_exit(status: i32) -> ! {
    let me = current().expect("do_exit without a task");
    if me.tgid == CHILD_REAPER && me.sig.live.load(Ordering::SeqCst) == 1 {
        zap_pid_ns_processes(&me);
    }
    let mm = me.mm.lock().clone();
    if let Some(mm) = mm {
        super::fork::mm_release(&me, &mm);
    }
    super::exit_mm(&me);
    crate::kernel::cputime::exit_thread_cputime(&me);
    me.exit_code.store(status, Ordering::SeqCst);
    let group_dead = me.sig.live.fetch_sub(1, Ordering::SeqCst) == 1;
    if group_dead {
        crate::kernel::itimer::exit_itimers(me.tgid);
        forget_original_parent(&me);
    }
    exit_notify(me, group_dead)
}

/// Orphans go to init, which reaps them (Linux: `forget_original_parent`): every task
/// whose parent was this process, threads of those children included.
fn forget_original_parent(me: &super::Task) {
    let mut zombie = false;
    super::for_each_process_thread(|child| {
        if child.ppid.load(Ordering::SeqCst) == me.tgid && child.tgid != me.tgid {
            child.ppid.store(CHILD_REAPER, Ordering::SeqCst);
            zombie |= child.state() == TaskState::Zombie;
        }
        ControlFlow::Continue(())
    });
    if zombie {
        if let Some(reaper) = find_task(CHILD_REAPER) {
            wake_wait_chldexit(&reaper);
        }
    }
}

/// Become a zombie for the parent, or, for a thread that is not its process's leader,
/// leave the pid table at once (Linux: `exit_notify`: autoreap when `exit_signal` is -1,
/// `release_task`). The last thread out lets the parent reap the leader.
fn exit_notify(me: alloc::sync::Arc<super::Task>, group_dead: bool) -> ! {
    if me.pid() != me.tgid {
        let leader = find_task(me.tgid);
        me.set_state(TaskState::Dead);
        if let Some(released) = super::release_task_self(me.pid()) {
            super::set_task_dead(released);
        }
        if group_dead {
            if let Some(l) = leader.filter(|l| l.state() == TaskState::Zombie) {
                if do_notify_parent(&l) {
                    release_task(l.pid());
                }
            }
        }
    } else {
        me.set_state(TaskState::Zombie);
        if group_dead && do_notify_parent(&me) {
            // The parent wants no zombies: gone at once (Linux: autoreap -> EXIT_DEAD,
            // release_task).
            me.set_state(TaskState::Dead);
            if let Some(released) = super::release_task_self(me.pid()) {
                super::set_task_dead(released);
            }
        }
    }
    drop(me);
    schedule();
    unreachable!("a dead task ran again");
}

/// The process `leader` is gone: send its parent the exit signal (SIGCHLD unless clone
/// asked for another; ignored by default) and wake its wait4. Returns true when the
/// parent asked for no zombies (SIGCHLD set to SIG_IGN, or SA_NOCLDWAIT): the caller
/// reaps the child at once, and the parent's wait4 finds no child (ECHILD). Linux:
/// `do_notify_parent`, `__wake_up_parent`.
fn do_notify_parent(leader: &super::Task) -> bool {
    use super::signal::{SA_NOCLDWAIT, SIGCHLD, SIG_IGN};
    let Some(parent) = find_task(leader.ppid.load(Ordering::SeqCst)) else {
        return false;
    };
    let mut sig = leader.exit_signal();
    let mut autoreap = false;
    if sig == SIGCHLD && parent.pid() != 0 {
        let ka = parent.sighand().action.lock()[SIGCHLD as usize - 1];
        if ka.sa_handler == SIG_IGN || ka.sa_flags & SA_NOCLDWAIT != 0 {
            autoreap = true;
            if ka.sa_handler == SIG_IGN {
                sig = 0;
            }
        }
    }
    if sig != 0 && parent.pid() != 0 {
        let status = if leader.sig.group_exit.load(Ordering::SeqCst) {
            leader.sig.group_exit_code.load(Ordering::SeqCst)
        } else {
            leader.exit_code.load(Ordering::SeqCst)
        };
        super::signal::send_signal_info(
            &parent,
            sig,
            super::signal::KSiginfo {
                si_signo: sig,
                si_code: if status & 0x7f == 0 { 1 } else { 2 }, // CLD_EXITED, CLD_KILLED
                si_pid: leader.tgid,
                si_uid: leader.cred.lock().uid,
                ..Default::default()
            },
        );
    }
    wake_wait_chldexit(&parent);
    autoreap
}

/// Wake every thread of `parent`'s process sleeping in wait4 (Linux: `wait_chldexit`).
fn wake_wait_chldexit(parent: &super::Task) {
    parent.sig.chld_events.fetch_add(1, Ordering::SeqCst);
    parent.sig.wait_chldexit.wake_up();
}

/// The child reaper is going: every other process gets SIGKILL now, while they can still
/// be scheduled (Linux: `zap_pid_ns_processes`, which the dying init of a pid namespace
/// runs). Without it, a process that never sleeps would keep the CPU from the idle loop
/// that reaps what init leaves behind, and the machine would never finish.
fn zap_pid_ns_processes(me: &super::Task) {
    super::for_each_process_thread(|t| {
        if t.pid() != 0 && t.pid() != me.pid() && t.state() != TaskState::Zombie {
            super::signal::send_signal(t, super::signal::SIGKILL);
        }
        ControlFlow::Continue(())
    });
}

/// exit(2): end this thread only (pthread_exit; the process goes on while another thread
/// lives). Linux: `sys_exit` -> `do_exit`.
pub fn sys_exit(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_exit(((a.0[0] & 0xff) << 8) as i32)
}

/// exit_group(2): end every thread of the process. Linux: `sys_exit_group`.
pub fn sys_exit_group(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_group_exit(((a.0[0] & 0xff) << 8) as i32)
}

/// End the whole thread group with `status`: the first thread to get here sets the
/// group's exit code and sends SIGKILL to the others, which exit on their way back to user
/// space; a thread that gets here later takes that code. Linux: `do_group_exit`
/// (`zap_other_threads`).
#[no_mangle]
#[inline(never)]
pub fn do_group_exit(status: i32) -> ! {
    let me = current().expect("do_group_exit without a task");
    let sig = me.sig.clone();
    let status = if sig.signal_group_exit() {
        // Someone else is ending the group (or exec is cutting it down): just go.
        if sig.group_exit.load(Ordering::SeqCst) {
            sig.group_exit_code.load(Ordering::SeqCst)
        } else {
            status
        }
    } else {
        sig.group_exit_code.store(status, Ordering::SeqCst);
        sig.group_exit.store(true, Ordering::SeqCst);
        if sig.live.load(Ordering::SeqCst) > 1 {
            super::signal::zap_other_threads(&me);
        }
        status
    };
    drop(sig);
    drop(me);
    do_exit(status)
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
    const WCLONE: usize = 0x8000_0000;
    const WALL: usize = 0x4000_0000;
    let me = current().ok_or(Errno::ECHILD)?;
    let wanted = |t: &super::Task| match pid {
        -1 => true,
        0 => t.pgid.load(Ordering::Relaxed) == me.pgid.load(Ordering::Relaxed),
        p if p < -1 => t.pgid.load(Ordering::Relaxed) == p.wrapping_neg(),
        p => t.pid() == p,
    };
    // eligible_child: a "clone" child (exit signal other than SIGCHLD) only with
    // __WCLONE, the others only without it; __WALL takes both.
    let kind_ok = |t: &super::Task| {
        options & WALL != 0
            || ((t.exit_signal() != super::signal::SIGCHLD) == (options & WCLONE != 0))
    };
    loop {
        // Any thread of the process may wait for the children of any of its threads.
        let seen = me.sig.chld_events.load(Ordering::SeqCst);
        // do_wait_thread over the pid table, without a list of children: any at all,
        // and the first zombie that may be reaped (delay_group_leader: a zombie leader
        // waits for its last thread).
        let mut any = false;
        let mut zombie = None;
        super::for_each_process_thread(|t| {
            if t.pid() == t.tgid
                && t.ppid.load(Ordering::SeqCst) == me.tgid
                && wanted(t)
                && kind_ok(t)
            {
                any = true;
                if t.state() == TaskState::Zombie && super::thread_group_empty(t) {
                    zombie = Some(t.clone());
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !any {
            return Err(Errno::ECHILD);
        }
        if let Some(z) = zombie {
            // wait_task_zombie: exit_group's or a fatal signal's code, else the leader's.
            let status = if z.sig.group_exit.load(Ordering::SeqCst) {
                z.sig.group_exit_code.load(Ordering::SeqCst)
            } else {
                z.exit_code.load(Ordering::SeqCst)
            };
            let zpid = z.pid();
            let ru = crate::kernel::cputime::child_rusage(&z);
            crate::kernel::cputime::reap_cputime(&me, &z);
            // The child is reaped even if the status cannot be stored (Linux: do_wait
            // releases it, then kernel_wait4's put_user fails with EFAULT).
            drop(z);
            release_task(zpid);
            if status_ptr != 0 {
                put_user(status_ptr, status)?;
            }
            if rusage != 0 {
                crate::arch::aarch64::uaccess::copy_to_user(rusage, &ru)?;
            }
            return Ok(zpid as usize);
        }
        if options & WNOHANG != 0 {
            return Ok(0);
        }
        me.sig
            .wait_chldexit
            .wait_event_interruptible(|| me.sig.chld_events.load(Ordering::SeqCst) != seen)?;
    }
}

/// getpid(2): the thread group's id (Linux: `task_tgid_vnr`).
pub fn sys_getpid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(current().map_or(0, |t| t.tgid) as usize)
}

/// gettid(2): this thread's own id (Linux: `task_pid_vnr`).
pub fn sys_gettid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(current().map_or(0, |t| t.pid()) as usize)
}

/// getppid(2).
pub fn sys_getppid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(current().map_or(0, |t| t.ppid.load(Ordering::SeqCst)) as usize)
}

/// The task `pid` names for the affinity calls (0: the caller); ESRCH if none.
fn affinity_task(pid: i32) -> KResult<alloc::sync::Arc<super::Task>> {
    if pid == 0 {
        return current().ok_or(Errno::ESRCH);
    }
    find_task(pid)
        .filter(|t| t.pid() > 0 && t.state() != TaskState::Dead)
        .ok_or(Errno::ESRCH)
}

/// sched_getaffinity(2): the CPUs `pid` may run on, one: CPU 0. Returns the bytes written
/// (Linux's raw call returns the size of its mask, `nr_cpu_ids` rounded up to longs: 8).
/// EINVAL for a length that is not a multiple of 8 or too small, ESRCH, EFAULT. Linux:
/// `sys_sched_getaffinity`.
pub fn sys_sched_getaffinity(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, len, mask) = (a.0[0] as i32, a.0[1], a.0[2]);
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    affinity_task(pid)?;
    put_user(mask, 1u64)?;
    Ok(8)
}

/// sched_setaffinity(2): a mask must include CPU 0, the only one (EINVAL otherwise);
/// ESRCH, EFAULT; EPERM for another user's task unless root. Linux: `sys_sched_setaffinity`.
pub fn sys_sched_setaffinity(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, len, mask) = (a.0[0] as i32, a.0[1], a.0[2]);
    let t = affinity_task(pid)?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let first: u8 = crate::arch::aarch64::uaccess::get_user(mask)?;
    let me = current().ok_or(Errno::ESRCH)?;
    let mine = *me.cred.lock();
    let theirs = *t.cred.lock();
    if mine.euid != 0 && mine.euid != theirs.uid && mine.euid != theirs.euid {
        return Err(Errno::EPERM);
    }
    if first & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// sched_yield(2).
pub fn sys_sched_yield(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    schedule();
    Ok(0)
}

/// set_tid_address(2): where to clear the tid and wake a futex waiter when this thread
/// exits (as CLONE_CHILD_CLEARTID); returns the tid. Linux: `sys_set_tid_address`.
pub fn sys_set_tid_address(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let me = current().ok_or(Errno::ESRCH)?;
    me.clear_child_tid.store(a.0[0] as u64, Ordering::Relaxed);
    Ok(me.pid() as usize)
}

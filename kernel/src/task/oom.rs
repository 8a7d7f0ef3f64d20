//! The task side of the OOM killer: what `mm/oom_kill.rs` may not import, handed to it as
//! an [`OomOps`] table at `sched_init`. Linux reads the same things directly in
//! `mm/oom_kill.c`: `for_each_process`, `task->signal->oom_score_adj`, `find_lock_task_mm`,
//! `get_mm_rss`, `do_send_sig_info(SIGKILL, SEND_SIG_PRIV, ...)`, `mark_oom_victim`.
use super::signal::{send_signal, sigmask, SIGKILL};
use super::{current, find_task, Task, TaskState};
use crate::fs::proc::task_mmu::{count_pgtables, get_mm_rss};
use crate::mm::oom_kill::{OomMmCounters, OomOps, OomTaskInfo, ProcessVisitor};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

/// The operations `register_oom_ops` installs.
pub static OOM_OPS: OomOps = OomOps {
    for_each_process,
    current: || current().map(|t| oom_task_info(&t)),
    kill: oom_kill_task,
    mark_oom_victim,
};

/// Describe `task` for the OOM killer: its ids and settings, and its mm's counters read
/// under `mmap_read_trylock` (an mm whose lock is held for writing counts as empty: the
/// OOM killer may run with that lock held by the allocating task, so it must not wait).
pub fn oom_task_info(task: &Task) -> OomTaskInfo {
    let mm = task.mm.lock().clone();
    let mut counters = OomMmCounters::default();
    if let Some(mm) = &mm {
        if let Some(guard) = crate::mm::mmap_lock::mmap_read_trylock(mm) {
            let rss = get_mm_rss(&guard, mm.pgd);
            counters = OomMmCounters {
                total_vm: guard.total_vm as u64,
                anon_rss: rss.anon,
                file_rss: rss.file,
                shmem_rss: rss.shmem,
                swapents: rss.swapents,
                pgtables_bytes: count_pgtables(mm.pgd).mm_pgtables_bytes(),
            };
        }
    }
    let exiting = task.state() == TaskState::Zombie
        || task.pending.load(Ordering::SeqCst) & sigmask(SIGKILL) != 0;
    OomTaskInfo {
        pid: task.pid(),
        comm: *task.comm.lock(),
        uid: task.cred.lock().uid,
        oom_score_adj: task.oom_score_adj.load(Ordering::Relaxed),
        // No PF_KTHREAD flag here: a task without a user address space is a kernel thread
        // (or gone, which the OOM killer skips as well).
        kthread: task.pid() == 0 || mm.is_none(),
        mm_id: mm.as_ref().map_or(0, |m| Arc::as_ptr(m) as usize),
        oom_victim: task.oom_victim.load(Ordering::Relaxed),
        exiting,
        counters,
    }
}

/// Every process but the idle task, in pid order (Linux: `for_each_process`).
fn for_each_process(f: ProcessVisitor<'_>) {
    // Out of memory is the worst time to build a list of tasks: walk the table instead.
    super::for_each_process_thread(|task| {
        if task.pid() <= 0 {
            return core::ops::ControlFlow::Continue(());
        }
        let info = oom_task_info(task);
        if f(&info) {
            core::ops::ControlFlow::Break(())
        } else {
            core::ops::ControlFlow::Continue(())
        }
    });
}

/// SIGKILL from the kernel (Linux: `do_send_sig_info(SIGKILL, SEND_SIG_PRIV, victim,
/// PIDTYPE_TGID)`): it cannot be blocked or caught, and wakes the task if it sleeps.
fn oom_kill_task(pid: i32) -> bool {
    match find_task(pid) {
        Some(t) if t.state() != TaskState::Zombie => {
            send_signal(&t, SIGKILL);
            true
        }
        _ => false,
    }
}

/// Linux: `mark_oom_victim`: the OOM killer waits for this one rather than kill another.
fn mark_oom_victim(pid: i32) {
    if let Some(t) = find_task(pid) {
        t.oom_victim.store(true, Ordering::Relaxed);
    }
}

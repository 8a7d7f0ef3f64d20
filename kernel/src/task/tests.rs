//! In-kernel tests of the scheduler (run from the idle task by `ktest=`).
use super::*;
use alloc::{format, string::String, vec::Vec};

static LOG: SpinLockIrq<Vec<u8>> = SpinLockIrq::new(Vec::new());

extern "C" fn ping(tag: usize) {
    for _ in 0..3 {
        LOG.lock().push(tag as u8);
        yield_now();
    }
}

/// Two kernel threads that yield after each step run interleaved, become zombies when
/// they return, and free their stacks when reaped.
pub fn kthreads_interleave() -> Result<String, String> {
    let before = crate::mm::page_alloc::nr_free_pages();
    LOG.lock().clear();
    let a = kernel_thread("ping-a", ping, b'a' as usize).ok_or("kernel_thread failed")?;
    let b = kernel_thread("ping-b", ping, b'b' as usize).ok_or("kernel_thread failed")?;
    let (pa, pb) = (a.pid, b.pid);
    let mut spins = 0;
    while a.state() != TaskState::Zombie || b.state() != TaskState::Zombie {
        yield_now();
        spins += 1;
        if spins > 1000 {
            return Err("threads did not finish".into());
        }
    }
    drop((a, b));
    release_task(pa);
    release_task(pb);
    let log = String::from_utf8(LOG.lock().clone()).unwrap_or_default();
    let after = crate::mm::page_alloc::nr_free_pages();
    if log != "ababab" {
        return Err(format!("order {log:?}, want \"ababab\""));
    }
    if before != after {
        return Err(format!(
            "free pages {before} -> {after}: a kernel stack leaked"
        ));
    }
    Ok(format!(
        "order {log}, pids {pa} and {pb} reaped, free pages back to {after}"
    ))
}

/// A new task's kernel stack ends (lowest word) in STACK_END_MAGIC, and a write there,
/// as an overrun makes, is what `stack_end_corrupted` (the scheduler's check) sees.
pub fn stack_end_magic() -> Result<String, String> {
    let before = crate::mm::page_alloc::nr_free_pages();
    let (t, _regs) = alloc_task("stack-test", None, 0).ok_or("alloc_task failed")?;
    if t.stack_end_corrupted() {
        return Err("a fresh stack reads as corrupted".into());
    }
    let end = t.kstack as *mut u64;
    // SAFETY: the task never ran; its stack is ours to write until it is dropped.
    unsafe { end.write_volatile(0xdead_beef) };
    let seen = t.stack_end_corrupted();
    // SAFETY: as above.
    unsafe { end.write_volatile(STACK_END_MAGIC) };
    if !seen {
        return Err("an overwritten stack end went unnoticed".into());
    }
    let (size, pid) = (THREAD_SIZE, t.pid);
    drop(t);
    release_task(pid); // alloc_task entered it in the pid table
    let after = crate::mm::page_alloc::nr_free_pages();
    if before != after {
        return Err(format!("free pages {before} -> {after}: the stack leaked"));
    }
    Ok(format!(
        "{size}-byte stack, magic {STACK_END_MAGIC:#x} at its end, overwrite detected"
    ))
}

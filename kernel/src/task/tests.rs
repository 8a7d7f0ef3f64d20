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

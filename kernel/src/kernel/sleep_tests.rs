//! In-kernel tests that waiting means sleeping (`ktest=sleep`): a disk read, a page lock
//! and a console read each put the waiting kernel thread to sleep (state D or S) while
//! another task or the idle loop has the CPU, and the event (the device interrupt,
//! `unlock_page`, the UART receive interrupt) wakes it. Each fails on a kernel that polls:
//! there the waiter stays runnable ('R') and nobody else runs while it waits.
//!
//! These run from the idle task, which cannot sleep itself: it starts kernel threads and
//! watches them, running `schedule()` and the idle `wfi` between looks.
use crate::drivers::arch_timer::{jiffies, HZ};
use crate::mm::page::{page_to_pfn, pfn_to_page};
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::mm::pagemap::{lock_page, page_locked, trylock_page, unlock_page};
use crate::sync::wait::SleepState;
use crate::sync::SpinLockIrq;
use crate::task::{do_idle, find_task, kernel_thread, release_task, schedule, TaskState};
use alloc::{format, string::String, vec, vec::Vec};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

type TestResult = Result<String, String>;

/// Let the threads run until every one of `pids` is a zombie (or `secs` pass), calling
/// `watch` at each turn of the idle loop; then reap them.
pub(crate) fn run_until_exit(
    pids: &[i32],
    secs: u64,
    mut watch: impl FnMut(),
) -> Result<(), String> {
    let deadline = jiffies() + secs * HZ;
    loop {
        watch();
        let done = pids
            .iter()
            .all(|&p| find_task(p).is_none_or(|t| t.state() == TaskState::Zombie));
        if done {
            break;
        }
        if jiffies() > deadline {
            return Err(format!("threads {pids:?} still running after {secs} s"));
        }
        schedule();
        do_idle();
    }
    for &p in pids {
        release_task(p);
    }
    Ok(())
}

fn state_of(pid: i32) -> Option<TaskState> {
    find_task(pid).map(|t| t.state())
}

// --- Disk read ----------------------------------------------------------------------------

const READS: usize = 64;
const READ_LEN: usize = 4096;
static READER_PID: AtomicI32 = AtomicI32::new(0);
static READER_DONE: AtomicBool = AtomicBool::new(false);
static READ_DATA: SpinLockIrq<Vec<u8>> = SpinLockIrq::new(Vec::new());
static READ_ERR: AtomicBool = AtomicBool::new(false);
/// Times B saw a request in flight, and with A asleep in D state.
static SEEN_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static SEEN_READER_D: AtomicUsize = AtomicUsize::new(0);
static OTHER_RAN: AtomicUsize = AtomicUsize::new(0);

fn disk() -> Option<alloc::sync::Arc<crate::drivers::virtio_blk::VirtioBlk>> {
    crate::drivers::virtio_blk::virtio_blk_devices()
        .into_iter()
        .next()
}

/// Interrupt wake-ups counted by the device before the test started.
static WOKEN0: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// At most this many requests: QEMU may complete a request before its submitter gets to
/// sleep (its I/O thread can outrun a loaded host's vCPU), so A goes on reading until one
/// request did sleep, was woken by the interrupt, and B saw one in flight.
const MAX_READS: usize = 2048;

/// A: read READS blocks straight from the device (below the page cache: every read is a
/// real request), then more until the sleep was seen (or MAX_READS).
extern "C" fn disk_reader(_: usize) {
    let Some(dev) = disk() else { return };
    let mut data = vec![0u8; READS * READ_LEN];
    for (i, chunk) in data.chunks_mut(READ_LEN).enumerate() {
        if dev.read_at((i * 3 * READ_LEN) as u64, chunk).is_err() {
            READ_ERR.store(true, Ordering::Relaxed);
        }
    }
    let mut extra = [0u8; READ_LEN];
    for i in 0..MAX_READS - READS {
        let seen = dev.nr_irq_wakeups.load(Ordering::Relaxed) > WOKEN0.load(Ordering::Relaxed)
            && SEEN_IN_FLIGHT.load(Ordering::Relaxed) > 0;
        if seen {
            break;
        }
        let off = (i * READ_LEN) as u64 % (dev.capacity * 512 - READ_LEN as u64);
        if dev.read_at(off, &mut extra).is_err() {
            READ_ERR.store(true, Ordering::Relaxed);
        }
    }
    *READ_DATA.lock() = data;
    READER_DONE.store(true, Ordering::Release);
}

/// B: run while A's requests are in flight, and say what it saw.
extern "C" fn disk_bystander(_: usize) {
    let Some(dev) = disk() else { return };
    let a = READER_PID.load(Ordering::Relaxed);
    while !READER_DONE.load(Ordering::Acquire) {
        OTHER_RAN.fetch_add(1, Ordering::Relaxed);
        if dev.request_in_flight() {
            SEEN_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
            if state_of(a) == Some(TaskState::Uninterruptible) {
                SEEN_READER_D.fetch_add(1, Ordering::Relaxed);
            }
        }
        crate::task::yield_now();
    }
}

/// Thread A reads disk blocks; thread B runs while A's request is in flight (submitted,
/// result not yet collected: with polling A would keep the CPU until then), the device
/// interrupt wakes A; A's data equals what a polled read (from the idle task) returns.
/// Whether B also catches A still in D state depends on how fast QEMU completes the
/// request (usually before B gets there), so that count is reported, not required.
pub fn disk_read_sleeps() -> TestResult {
    let dev = disk().ok_or("no virtio-blk device")?;
    READER_DONE.store(false, Ordering::Relaxed);
    READ_ERR.store(false, Ordering::Relaxed);
    SEEN_IN_FLIGHT.store(0, Ordering::Relaxed);
    SEEN_READER_D.store(0, Ordering::Relaxed);
    OTHER_RAN.store(0, Ordering::Relaxed);
    let slept0 = dev.nr_slept.load(Ordering::Relaxed);
    let woken0 = dev.nr_irq_wakeups.load(Ordering::Relaxed);
    WOKEN0.store(woken0, Ordering::Relaxed);
    let a = kernel_thread("blk-reader", disk_reader, 0).ok_or("kernel_thread failed")?;
    READER_PID.store(a.pid(), Ordering::Relaxed);
    let b = kernel_thread("blk-bystander", disk_bystander, 0).ok_or("kernel_thread failed")?;
    let pids = [a.pid(), b.pid()];
    drop((a, b));
    run_until_exit(&pids, 5, || {})?;
    if READ_ERR.load(Ordering::Relaxed) {
        return Err("a read failed".into());
    }
    let slept = dev.nr_slept.load(Ordering::Relaxed) - slept0;
    let (seen, seen_d) = (
        SEEN_IN_FLIGHT.load(Ordering::Relaxed),
        SEEN_READER_D.load(Ordering::Relaxed),
    );
    let woken = dev.nr_irq_wakeups.load(Ordering::Relaxed) - woken0;
    if slept == 0 || woken == 0 {
        return Err(format!(
            "{slept} requests slept, {woken} woken by the device interrupt"
        ));
    }
    if seen == 0 {
        return Err(format!(
            "B never ran while a request was in flight ({seen} times, A in D state {seen_d} times)"
        ));
    }
    // The same blocks again, polled by the idle task.
    let mut polled = vec![0u8; READ_LEN];
    let data = READ_DATA.lock().clone();
    for (i, chunk) in data.chunks(READ_LEN).enumerate() {
        dev.read_at((i * 3 * READ_LEN) as u64, &mut polled)
            .map_err(|e| format!("polled read: {e:?}"))?;
        if polled[..] != chunk[..] {
            return Err(format!("block {i}: sleeping and polled reads differ"));
        }
    }
    Ok(format!(
        "{slept} requests slept, {woken} woken by the interrupt; B ran {} times, {seen} with a request in flight ({seen_d} with A in D state); data matches a polled read",
        OTHER_RAN.load(Ordering::Relaxed)
    ))
}

// --- Page lock ----------------------------------------------------------------------------

static HOLDER_LOCKED: AtomicBool = AtomicBool::new(false);
static HOLDER_RELEASED: AtomicBool = AtomicBool::new(false);
static TRYLOCK_FAILED: AtomicBool = AtomicBool::new(false);
static GOT_AFTER_RELEASE: AtomicBool = AtomicBool::new(false);

/// Holds the page lock for 40 ms (asleep on a timer), then unlocks.
extern "C" fn page_holder(pfn: usize) {
    let page = pfn_to_page(pfn);
    lock_page(page);
    HOLDER_LOCKED.store(true, Ordering::Release);
    let until = crate::kernel::hrtimer::ktime_get_ns() + 40_000_000;
    let _ = crate::kernel::hrtimer::schedule_hrtimeout(until, SleepState::Uninterruptible);
    HOLDER_RELEASED.store(true, Ordering::Release);
    unlock_page(page);
}

/// Waits for the holder to have the lock, then takes it (sleeping).
extern "C" fn page_waiter(pfn: usize) {
    let page = pfn_to_page(pfn);
    while !HOLDER_LOCKED.load(Ordering::Acquire) {
        crate::task::yield_now();
    }
    TRYLOCK_FAILED.store(!trylock_page(page), Ordering::Relaxed);
    lock_page(page);
    GOT_AFTER_RELEASE.store(HOLDER_RELEASED.load(Ordering::Acquire), Ordering::Relaxed);
    unlock_page(page);
}

/// A second thread's lock_page sleeps (D state) until the holder's unlock_page.
pub fn lock_page_sleeps() -> TestResult {
    for f in [
        &HOLDER_LOCKED,
        &HOLDER_RELEASED,
        &TRYLOCK_FAILED,
        &GOT_AFTER_RELEASE,
    ] {
        f.store(false, Ordering::Relaxed);
    }
    let page = alloc_pages(GfpFlags::GFP_KERNEL, 0).ok_or("alloc_pages failed")?;
    let pfn = page_to_pfn(page);
    let h = kernel_thread("page-holder", page_holder, pfn).ok_or("kernel_thread failed")?;
    let w = kernel_thread("page-waiter", page_waiter, pfn).ok_or("kernel_thread failed")?;
    let (hp, wp) = (h.pid(), w.pid());
    drop(h);
    let mut seen_d = 0;
    let r = run_until_exit(&[hp, wp], 5, || {
        if TRYLOCK_FAILED.load(Ordering::Relaxed)
            && !HOLDER_RELEASED.load(Ordering::Relaxed)
            && w.state() == TaskState::Uninterruptible
        {
            seen_d += 1;
        }
    });
    let switches = w.nvcsw.load(Ordering::Relaxed);
    drop(w);
    let locked = page_locked(page);
    __free_pages(page, 0);
    r?;
    if !TRYLOCK_FAILED.load(Ordering::Relaxed) {
        return Err("trylock_page succeeded on a locked page".into());
    }
    if !GOT_AFTER_RELEASE.load(Ordering::Relaxed) {
        return Err("the waiter got the lock before the holder released it".into());
    }
    if seen_d == 0 {
        return Err("the waiter was never seen asleep (D) in lock_page".into());
    }
    if locked {
        return Err("the page is still locked".into());
    }
    Ok(format!(
        "waiter seen in D state {seen_d} times, {switches} voluntary switches, got the lock after unlock_page"
    ))
}

// --- Console read -------------------------------------------------------------------------

static CONSOLE_LINE: SpinLockIrq<Vec<u8>> = SpinLockIrq::new(Vec::new());

extern "C" fn console_reader(_: usize) {
    use crate::fs::char_dev::CharDevice;
    let mut buf = [0u8; 64];
    if let Ok(n) = crate::fs::console::ConsoleDevice.read(0, 0, &mut buf) {
        *CONSOLE_LINE.lock() = buf[..n].to_vec();
    }
}

/// Input typed before a read is kept; a read with nothing typed sleeps (S) with the CPU
/// idle until the receive interrupt path brings a line, and is woken once.
pub fn console_read_sleeps() -> TestResult {
    use crate::drivers::pl011::console_rx_inject;
    use crate::fs::char_dev::CharDevice;
    // Type-ahead, read by the idle task (the data is there: no wait).
    console_rx_inject(b"ktest typed ahead\r");
    let mut buf = [0u8; 64];
    let n = crate::fs::console::ConsoleDevice
        .read(0, 0, &mut buf)
        .map_err(|e| format!("type-ahead read: {e:?}"))?;
    if &buf[..n] != b"ktest typed ahead\n" {
        return Err(format!(
            "type-ahead read {:?}",
            String::from_utf8_lossy(&buf[..n])
        ));
    }
    CONSOLE_LINE.lock().clear();
    let r = kernel_thread("console-reader", console_reader, 0).ok_or("kernel_thread failed")?;
    let pid = r.pid();
    // Watch it for 40 ms: it must be asleep at every look after its first run.
    let until = jiffies() + HZ / 25;
    let (mut looks, mut asleep) = (0, 0);
    let mut switches0 = None;
    while jiffies() < until {
        schedule();
        if r.state() == TaskState::Interruptible {
            switches0
                .get_or_insert(r.nvcsw.load(Ordering::Relaxed) + r.nivcsw.load(Ordering::Relaxed));
            asleep += 1;
        }
        looks += 1;
        do_idle();
    }
    let switches1 = r.nvcsw.load(Ordering::Relaxed) + r.nivcsw.load(Ordering::Relaxed);
    console_rx_inject(b"ktest late line\r");
    drop(r);
    run_until_exit(&[pid], 2, || {})?;
    let line = CONSOLE_LINE.lock().clone();
    if line != b"ktest late line\n" {
        return Err(format!(
            "the sleeping read returned {:?}",
            String::from_utf8_lossy(&line)
        ));
    }
    let Some(switches0) = switches0 else {
        return Err(format!("the reader was never asleep in {looks} looks"));
    };
    if asleep + 2 < looks {
        return Err(format!(
            "the reader was asleep at only {asleep} of {looks} looks"
        ));
    }
    if switches1 - switches0 > 1 {
        return Err(format!(
            "the reader switched {} times while waiting",
            switches1 - switches0
        ));
    }
    Ok(format!(
        "type-ahead kept; reader asleep at {asleep} of {looks} looks over 40 ms, {} switches while waiting",
        switches1 - switches0
    ))
}

//! In-kernel test of swap page I/O through the real disk (`ktest=swap`, with a swap disk
//! and `swap=/dev/vdb` on the command line): `swap_writepage` writes two pages to two
//! slots, `swap_readpage` reads the first back into a third page, and the bytes match;
//! then 70 pages go out through a `SwapPlug`, as reclaim writes them, in one request per
//! run of consecutive slots (at most 64 pages each), and all read back.
//! The I/O runs in a kernel thread so it can sleep on the device's interrupt, as reclaim
//! and the fault path do.
//!
//! Without an active swap area (the plain `ktest=all` runs) the test says so and passes.
use crate::drivers::virtio_blk::virtio_blk_devices;
use crate::mm::page::{page_address, Page, PageFlags};
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::mm::page_io::{swap_readpage, swap_writepage, SwapPlug, SWAP_PLUG_PAGES};
use crate::mm::pagemap::{page_locked, trylock_page};
use crate::mm::swapfile::{get_swap_page, put_swap_page, swap_slots_in_use, total_swap_pages};
use crate::mm::swapops::{swp_offset, SwpEntry};
use crate::mm::vmstat::{global_page_state, VmStat};
use crate::mm::PAGE_SIZE;
use crate::sync::SpinLockIrq;
use crate::task::kernel_thread;
use alloc::{format, string::String};
use core::sync::atomic::{AtomicU64, Ordering};

type TestResult = Result<String, String>;

/// The thread's verdict (None until it finishes).
static OUTCOME: SpinLockIrq<Option<TestResult>> = SpinLockIrq::new(None);

fn pattern(seed: u64, i: usize) -> u8 {
    (seed as usize * 131 + i * 7 + (i >> 9)) as u8
}

/// A page holding `pattern(seed, ..)`, in the swap cache's shape: `private` is the entry,
/// locked (as `add_to_swap` leaves a page for `pageout`).
fn swap_page(entry: SwpEntry, seed: Option<u64>) -> Result<&'static Page, String> {
    let page = alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0).ok_or("no page")?;
    if let Some(seed) = seed {
        // SAFETY: a page we just allocated, PAGE_SIZE bytes of the linear map.
        let data =
            unsafe { core::slice::from_raw_parts_mut(page_address(page) as *mut u8, PAGE_SIZE) };
        for (i, b) in data.iter_mut().enumerate() {
            *b = pattern(seed, i);
        }
    }
    page.private.store(entry.val as usize, Ordering::Relaxed);
    if !trylock_page(page) {
        return Err("a fresh page is locked".into());
    }
    Ok(page)
}

fn release(page: &Page) {
    page.private.store(0, Ordering::Relaxed);
    page.clear_flags(PageFlags::PG_uptodate);
    __free_pages(page, 0);
}

fn round_trip() -> TestResult {
    let (out0, in0) = (
        global_page_state(VmStat::PSWPOUT),
        global_page_state(VmStat::PSWPIN),
    );
    let used0 = swap_slots_in_use();
    let e1 = get_swap_page().ok_or("get_swap_page: no free slot")?;
    let e2 = get_swap_page().ok_or("get_swap_page: no second slot")?;
    let (a, b) = (swap_page(e1, Some(1))?, swap_page(e2, Some(2))?);
    for p in [a, b] {
        swap_writepage(p, None).map_err(|e| format!("swap_writepage: {e:?}"))?;
        if p.test(PageFlags::PG_writeback) || page_locked(p) {
            return Err("after swap_writepage: still under writeback or locked".into());
        }
    }
    let c = swap_page(e1, None)?;
    swap_readpage(c, true).map_err(|e| format!("swap_readpage: {e:?}"))?;
    if !c.test(PageFlags::PG_uptodate) || page_locked(c) {
        return Err("after swap_readpage: not uptodate, or still locked".into());
    }
    // SAFETY: c is ours, read complete, PAGE_SIZE bytes.
    let data = unsafe { core::slice::from_raw_parts(page_address(c) as *const u8, PAGE_SIZE) };
    let bad = (0..PAGE_SIZE).find(|&i| data[i] != pattern(1, i));
    for p in [a, b, c] {
        release(p);
    }
    put_swap_page(e1);
    put_swap_page(e2);
    if let Some(i) = bad {
        return Err(format!(
            "byte {i} read back {:#x}, written {:#x}",
            data[i],
            pattern(1, i)
        ));
    }
    let (outs, ins) = (
        global_page_state(VmStat::PSWPOUT) - out0,
        global_page_state(VmStat::PSWPIN) - in0,
    );
    if (outs, ins) != (2, 1) {
        return Err(format!("pswpout +{outs}, pswpin +{ins}: expected +2, +1"));
    }
    if swap_slots_in_use() != used0 {
        return Err(format!(
            "{} slots in use after put_swap_page, {used0} before",
            swap_slots_in_use()
        ));
    }
    Ok(format!(
        "slots {:#x} and {:#x} written, the first read back: round trip matches; pswpout +2, pswpin +1",
        swp_offset(e1),
        swp_offset(e2)
    ))
}

/// Pages [`plugged_round_trip`] writes: more than one plug's worth.
const PLUGGED: usize = SWAP_PLUG_PAGES + 6;

/// Write [`PLUGGED`] pages through a [`SwapPlug`]: each stays under writeback until the
/// plug is flushed (or fills, or meets a slot that does not follow), the disk sees one
/// request per run of consecutive slots of at most a plug's worth, and every page reads
/// back as written.
fn plugged_round_trip() -> TestResult {
    let mut entries = alloc::vec::Vec::new();
    let mut pages = alloc::vec::Vec::new();
    let r = (|| {
        for i in 0..PLUGGED {
            let e = get_swap_page().ok_or("get_swap_page: no free slot")?;
            entries.push(e);
            pages.push(swap_page(e, Some(10 + i as u64))?);
        }
        // The requests a plug should make: a new one where a slot does not follow the
        // previous one, and after every SWAP_PLUG_PAGES pages of one run.
        let mut expected = 0u64;
        let mut run = 0;
        for (i, e) in entries.iter().enumerate() {
            let follows = i > 0 && swp_offset(*e) == swp_offset(entries[i - 1]) + 1;
            if !follows || run == SWAP_PLUG_PAGES {
                (expected, run) = (expected + 1, 0);
            }
            run += 1;
        }
        let req0 = requests();
        let mut plug = SwapPlug::new();
        for p in pages.iter() {
            swap_writepage(p, Some(&mut plug)).map_err(|e| format!("swap_writepage: {e:?}"))?;
        }
        let last = pages[PLUGGED - 1];
        if !last.test(PageFlags::PG_writeback) || page_locked(last) {
            return Err("a plugged page is not under writeback, or still locked".into());
        }
        plug.flush();
        let reqs = requests() - req0;
        if pages.iter().any(|p| p.test(PageFlags::PG_writeback)) {
            return Err("a page is still under writeback after the flush".into());
        }
        if reqs != expected {
            return Err(format!(
                "{PLUGGED} plugged pages took {reqs} requests, expected {expected}"
            ));
        }
        for (i, e) in entries.iter().enumerate() {
            let c = swap_page(*e, None)?;
            let r = swap_readpage(c, true).map_err(|e| format!("swap_readpage: {e:?}"));
            // SAFETY: c is ours, read complete, PAGE_SIZE bytes.
            let data =
                unsafe { core::slice::from_raw_parts(page_address(c) as *const u8, PAGE_SIZE) };
            let bad = (0..PAGE_SIZE).find(|&j| data[j] != pattern(10 + i as u64, j));
            release(c);
            r?;
            if let Some(j) = bad {
                return Err(format!("plugged page {i}: byte {j} differs after the read"));
            }
        }
        Ok(format!(
            "{PLUGGED} pages through a plug: {reqs} requests, all read back"
        ))
    })();
    for p in pages {
        release(p);
    }
    for e in entries {
        put_swap_page(e);
    }
    r
}

/// Requests submitted to every disk.
fn requests() -> u64 {
    virtio_blk_devices()
        .iter()
        .map(|d| d.nr_requests.load(Ordering::Relaxed))
        .sum()
}

extern "C" fn swap_io_thread(_: usize) {
    let r = round_trip().and_then(|a| plugged_round_trip().map(|b| format!("{a}; {b}")));
    *OUTCOME.lock() = Some(r);
}

/// Requests of every disk that slept for their interrupt, and that were polled.
fn io_counts() -> (u64, u64) {
    virtio_blk_devices().iter().fold((0, 0), |(s, p), d| {
        (
            s + d.nr_slept.load(Ordering::Relaxed),
            p + d.nr_polled.load(Ordering::Relaxed),
        )
    })
}

static SLEPT0: AtomicU64 = AtomicU64::new(0);
static POLLED0: AtomicU64 = AtomicU64::new(0);

/// `swap: ...` ktest: see the file comment.
pub fn swap_page_io_round_trip() -> TestResult {
    if total_swap_pages() == 0 {
        return Ok("skipped: no active swap area (boot with --swap and swap=/dev/vdb)".into());
    }
    *OUTCOME.lock() = None;
    let (s0, p0) = io_counts();
    SLEPT0.store(s0, Ordering::Relaxed);
    POLLED0.store(p0, Ordering::Relaxed);
    let t = kernel_thread("swap-io", swap_io_thread, 0).ok_or("kernel_thread failed")?;
    let pid = t.pid();
    drop(t);
    crate::kernel::sleep_tests::run_until_exit(&[pid], 10, || {})?;
    let r = OUTCOME.lock().take().ok_or("the thread left no result")?;
    let detail = r?;
    // The thread's requests wait on the device's wait queue for the interrupt, never by
    // polling (QEMU may complete one before its submitter gets to sleep, so the number
    // that actually slept can be 0).
    let (s1, p1) = io_counts();
    let polled = p1 - POLLED0.load(Ordering::Relaxed);
    if polled != 0 {
        return Err(format!("{polled} swap requests polled instead of sleeping"));
    }
    Ok(format!(
        "{detail}; no request polled, {} slept",
        s1 - SLEPT0.load(Ordering::Relaxed)
    ))
}

//! Swap I/O: write a page to its swap slot, read it back.
//!
//! Linux: `mm/page_io.c` (`swap_writepage`, `__swap_writepage`, `swap_readpage`,
//! `end_swap_bio_write`, `end_swap_bio_read`). Callers: reclaim's `pageout` (through the
//! swap cache's writepage) and the swap-in path (`do_swap_page`, `swapin_readahead`,
//! `try_to_unuse`), all in mm/.
//!
//! The slot is the page's `private` field, a [`SwpEntry`] value, set when the page joined
//! the swap cache (Linux: `page_private(page)` holding `swp_entry_t.val`). The slot's first
//! sector is `offset * 8` (eight 512-byte sectors per page) on the area's device, which
//! [`map_swap_entry`] finds.
//!
//! Linux builds a `bio`, submits it and returns; the completion (`end_swap_bio_*`) runs
//! from the device's interrupt. Here the device's page I/O call is itself the
//! submit-and-sleep (the task sleeps TASK_UNINTERRUPTIBLE until the virtio interrupt, see
//! `drivers/virtio_blk.rs`), and the completion steps run when it returns, in the same
//! order Linux runs them. Interrupts are never masked while waiting.
use crate::errno::{Errno, KResult};
use crate::mm::page::{page_address, Page, PageFlags};
use crate::mm::pagemap::{end_page_writeback, unlock_page};
use crate::mm::swapfile::map_swap_entry;
use crate::mm::swapops::SwpEntry;
use crate::mm::vmstat::{count_vm_event, count_vm_events, VmStat};
use crate::mm::PAGE_SIZE;
use core::sync::atomic::Ordering;

/// The swap entry a swap-cache page stands for (Linux: `page_private` of a PageSwapCache
/// page, as `swp_entry_t`).
fn page_swap_entry(page: &Page) -> SwpEntry {
    SwpEntry {
        val: page.private.load(Ordering::Relaxed) as u64,
    }
}

/// Write `page` to the swap slot in its `private` field. Called with the page locked (the
/// writepage contract); sets PG_writeback, unlocks the page, writes it, and ends the
/// writeback (clears PG_writeback and wakes waiters) when the device is done, as Linux's
/// `__swap_writepage` + `end_swap_bio_write`. Counts `pswpout`. On a device error the page
/// is marked dirty again and keeps no PG_reclaim, so reclaim keeps it (Linux: SetPageError
/// + set_page_dirty + ClearPageReclaim); EIO. EINVAL if `private` names no swap slot.
///
/// Linux 5.10: `swap_writepage` first tries `try_to_free_swap` (nothing maps the slot any
/// more: skip the write) and goes through frontswap; the caller does that check here.
/// Sleeps: yes, on the device's interrupt.
#[no_mangle]
#[inline(never)]
pub fn swap_writepage(page: &Page) -> KResult<()> {
    let entry = page_swap_entry(page);
    let Some((bdev, sector)) = map_swap_entry(entry) else {
        unlock_page(page); // the contract: writepage returns with the page unlocked
        return Err(Errno::EINVAL);
    };
    page.set_flags(PageFlags::PG_writeback);
    unlock_page(page);
    count_vm_event(VmStat::PSWPOUT);
    // SAFETY: a page frame is PAGE_SIZE bytes of the linear map; PG_writeback keeps it
    // from being freed or changed under us by reclaim (the contents are stable while
    // under writeback: no PTE maps it writably once it was unmapped for swap-out).
    let data = unsafe { core::slice::from_raw_parts(page_address(page) as *const u8, PAGE_SIZE) };
    let r = bdev.write_sectors(sector, data);
    end_swap_bio_write(page, r.is_ok());
    r
}

/// The write of `page` is over (Linux: `end_swap_bio_write`, from the bio's completion).
#[no_mangle]
#[inline(never)]
pub fn end_swap_bio_write(page: &Page, ok: bool) {
    if !ok {
        page.set_flags(PageFlags::PG_dirty);
        page.clear_flags(PageFlags::PG_reclaim);
        pr_warn!("Write-error on swap-device");
    }
    end_page_writeback(page);
}

/// Read `page` from the swap slot in its `private` field. Called with the page locked and
/// not uptodate; returns with PG_uptodate set (or, after a device error, clear with EIO)
/// and the page unlocked, as Linux's `swap_readpage` + `end_swap_bio_read`. Counts
/// `pswpin`. EINVAL (page unlocked) if `private` names no swap slot.
///
/// `synchronous`: Linux waits in `swap_readpage` (polling the queue) only for
/// SWP_SYNCHRONOUS_IO devices and otherwise lets the caller `lock_page` to wait for the
/// read; here every read waits for its completion, sleeping, so the flag changes nothing
/// (kept for Linux's signature).
/// Sleeps: yes, on the device's interrupt.
#[no_mangle]
#[inline(never)]
pub fn swap_readpage(page: &Page, synchronous: bool) -> KResult<()> {
    let _ = synchronous;
    let entry = page_swap_entry(page);
    let Some((bdev, sector)) = map_swap_entry(entry) else {
        unlock_page(page);
        return Err(Errno::EINVAL);
    };
    count_vm_event(VmStat::PSWPIN);
    // SAFETY: the page is locked and not uptodate: nobody else reads or writes it until
    // end_swap_bio_read unlocks it; it is PAGE_SIZE bytes of the linear map.
    let data = unsafe { core::slice::from_raw_parts_mut(page_address(page) as *mut u8, PAGE_SIZE) };
    let r = bdev.read_sectors(sector, data);
    end_swap_bio_read(page, r.is_ok());
    r
}

/// Read `pages`, locked swap-cache pages of consecutive slots on one device (the first
/// slot in `pages[0].private`), with one request where the device can (Linux: the bios
/// `swap_readpage` submits for a readahead cluster inside `blk_start_plug` /
/// `blk_finish_plug` merge into one request). Each page ends as `swap_readpage` leaves it:
/// up to date (or not, after an error) and unlocked. Counts `pswpin` per page.
#[no_mangle]
#[inline(never)]
pub fn swap_readpages_plugged(pages: &[&Page]) {
    let Some(&first) = pages.first() else {
        return;
    };
    let Some((bdev, sector)) = map_swap_entry(page_swap_entry(first)) else {
        for page in pages {
            end_swap_bio_read(page, false);
        }
        return;
    };
    let mut bufs: alloc::vec::Vec<&mut [u8]> = alloc::vec::Vec::new();
    let ok = bufs.try_reserve(pages.len()).is_ok() && {
        for page in pages {
            // SAFETY: each page is locked and not up to date: nobody else reads or writes
            // it until end_swap_bio_read unlocks it; PAGE_SIZE bytes of the linear map.
            bufs.push(unsafe {
                core::slice::from_raw_parts_mut(page_address(page) as *mut u8, PAGE_SIZE)
            });
        }
        count_vm_events(VmStat::PSWPIN, pages.len());
        bdev.read_sectors_vectored(sector, &mut bufs).is_ok()
    };
    drop(bufs);
    for page in pages {
        end_swap_bio_read(page, ok);
    }
}

/// The read of `page` is over (Linux: `end_swap_bio_read`): uptodate on success, and the
/// page lock released either way so waiters see the outcome.
#[no_mangle]
#[inline(never)]
pub fn end_swap_bio_read(page: &Page, ok: bool) {
    if ok {
        page.set_flags(PageFlags::PG_uptodate);
    } else {
        page.clear_flags(PageFlags::PG_uptodate);
        pr_warn!("Read-error on swap-device");
    }
    unlock_page(page);
}

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
use crate::mm::swapfile::{map_swap_entry, SwapBdev, PAGE_SECTORS};
use crate::mm::swapops::SwpEntry;
use crate::mm::vmstat::{count_vm_event, count_vm_events, VmStat};
use crate::mm::PAGE_SIZE;
use alloc::sync::Arc;
use alloc::vec::Vec;
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
/// With a `plug` the write only joins it and the page stays under writeback until
/// [`SwapPlug::flush`] writes the gathered pages (Linux: `submit_bio` while the task holds
/// a `blk_plug` queues the bio on the plug; `current->plug` there, an argument here,
/// because mm cannot see the task).
///
/// Linux 5.10: `swap_writepage` first tries `try_to_free_swap` (nothing maps the slot any
/// more: skip the write) and goes through frontswap; the caller does that check here.
/// Sleeps: yes, on the device's interrupt (with a plug: only when the plug is full).
#[no_mangle]
#[inline(never)]
pub fn swap_writepage(page: &'static Page, plug: Option<&mut SwapPlug>) -> KResult<()> {
    let entry = page_swap_entry(page);
    let Some((bdev, sector)) = map_swap_entry(entry) else {
        unlock_page(page); // the contract: writepage returns with the page unlocked
        return Err(Errno::EINVAL);
    };
    page.set_flags(PageFlags::PG_writeback);
    unlock_page(page);
    count_vm_event(VmStat::PSWPOUT);
    match plug {
        Some(plug) if plug.gathers() => {
            plug.add(page, bdev, sector);
            Ok(())
        }
        _ => write_one(page, &*bdev, sector),
    }
}

/// Write one page under writeback at `sector` of `bdev` and end its writeback. Always
/// inlined: it is the body of `swap_writepage` (Linux: `__swap_writepage`'s submit),
/// not a frame of its own between it and the device.
#[inline(always)]
fn write_one(page: &Page, bdev: &dyn SwapBdev, sector: u64) -> KResult<()> {
    // SAFETY: a page frame is PAGE_SIZE bytes of the linear map; PG_writeback keeps it
    // from being freed or changed under us by reclaim (the contents are stable while
    // under writeback: no PTE maps it writably once it was unmapped for swap-out).
    let data = unsafe { core::slice::from_raw_parts(page_address(page) as *const u8, PAGE_SIZE) };
    let r = bdev.write_sectors(sector, data);
    end_swap_bio_write(page, r.is_ok());
    r
}

/// Most pages a [`SwapPlug`] gathers before it writes them: 256 KiB, what virtio-blk
/// moves in one request through its bounce buffer.
pub const SWAP_PLUG_PAGES: usize = 64;

/// Swap writes held back so that pages going to consecutive slots reach the device as one
/// request (Linux: `struct blk_plug`; 5.10's `shrink_lruvec` holds one around reclaim,
/// and the bios `swap_writepage` submits meanwhile merge when `blk_finish_plug` flushes
/// it). Each page in it is unlocked and under writeback, as after Linux's `submit_bio`;
/// [`flush`](Self::flush) writes them and ends their writeback. Linux's completions come
/// later from the interrupt; ours when the flush returns, so the caller can free the
/// pages right after it (`shrink_page_list`'s "synchronous write" case).
pub struct SwapPlug {
    pages: Vec<&'static Page>,
    bdev: Option<Arc<dyn SwapBdev>>,
    /// The first page's sector; the pages follow it back to back.
    sector: u64,
}

impl SwapPlug {
    /// An empty plug (Linux: `blk_start_plug`). Its page list is reserved now; without
    /// memory for it the plug stays empty and every write goes out on its own.
    pub fn new() -> Self {
        let mut pages = Vec::new();
        let _ = pages.try_reserve_exact(SWAP_PLUG_PAGES);
        SwapPlug {
            pages,
            bdev: None,
            sector: 0,
        }
    }

    /// Can the plug hold pages at all (its list was allocated)? If not, the caller
    /// writes each page itself.
    fn gathers(&self) -> bool {
        self.pages.capacity() != 0
    }

    /// Queue `page` (under writeback) for `sector` of `bdev`, first flushing what the
    /// plug holds if the page does not follow it on the same device or the plug is full
    /// (Linux: the merge checks of `blk_attempt_plug_merge`).
    fn add(&mut self, page: &'static Page, bdev: Arc<dyn SwapBdev>, sector: u64) {
        let follows = self.bdev.as_ref().is_some_and(|b| Arc::ptr_eq(b, &bdev))
            && sector == self.sector + self.pages.len() as u64 * PAGE_SECTORS;
        if !follows || self.pages.len() == self.pages.capacity() {
            self.flush();
        }
        if self.pages.is_empty() {
            (self.bdev, self.sector) = (Some(bdev), sector);
        }
        self.pages.push(page);
    }

    /// Write every page the plug holds with one vectored write, and end each page's
    /// writeback (Linux: `blk_finish_plug` -> `blk_flush_plug_list`, then
    /// `end_swap_bio_write` per page as the request completes). Sleeps on the device.
    pub fn flush(&mut self) {
        let Some(bdev) = self.bdev.take() else {
            return;
        };
        let mut bufs: Vec<&[u8]> = Vec::new();
        let ok = if bufs.try_reserve_exact(self.pages.len()).is_ok() {
            for page in self.pages.iter() {
                // SAFETY: each page is under writeback: PAGE_SIZE bytes of the linear map
                // that nobody frees or changes until end_swap_bio_write (see write_one).
                bufs.push(unsafe {
                    core::slice::from_raw_parts(page_address(page) as *const u8, PAGE_SIZE)
                });
            }
            bdev.write_sectors_vectored(self.sector, &bufs).is_ok()
        } else {
            // No memory for the gather list: one write per page.
            let mut ok = true;
            for (i, page) in self.pages.iter().enumerate() {
                let at = self.sector + i as u64 * PAGE_SECTORS;
                // SAFETY: as above.
                let data = unsafe {
                    core::slice::from_raw_parts(page_address(page) as *const u8, PAGE_SIZE)
                };
                ok &= bdev.write_sectors(at, data).is_ok();
            }
            ok
        };
        drop(bufs);
        for page in self.pages.drain(..) {
            end_swap_bio_write(page, ok);
        }
    }
}

impl Default for SwapPlug {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SwapPlug {
    /// Nothing may stay under writeback forever: a plug dropped unflushed writes its pages.
    fn drop(&mut self) {
        self.flush();
    }
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

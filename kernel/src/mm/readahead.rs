//! File readahead: read the pages a reader is about to want before it faults on them.
//!
//! Linux: `mm/readahead.c` (5.10), with the mmap half in `mm/filemap.c`
//! (`do_sync_mmap_readahead`, `do_async_mmap_readahead`). Callers: `filemap_fault` and
//! the unlocked tail of a VM_FAULT_RETRY fault (`mm/filemap.rs`), `read(2)` through
//! `generic_file_buffered_read`, and MADV_WILLNEED (`mm/madvise.rs`).
//!
//! ```text
//!  page_cache_sync_readahead   a miss            \
//!  page_cache_async_readahead  a PG_readahead hit -> ondemand_readahead (size the window)
//!                                                     -> ra_submit -> do_page_cache_ra
//!  force_page_cache_readahead  MADV_WILLNEED     ----------------------> do_page_cache_ra
//!  do_page_cache_ra -> page_cache_ra_unbounded (allocate + insert locked) -> read_pages
//! ```
//!
//! Each open file keeps a [`FileRaState`] (Linux: `file->f_ra`): the current window
//! `[start, start + size)` and how much of its tail is "async" (`async_size`). The page at
//! `start + size - async_size` carries PG_readahead: when a reader reaches it, the next
//! window is read while the reader still consumes this one, so a sequential reader never
//! waits for the disk after its first miss.
//!
//! Differences from Linux 5.10: `read_pages` calls `a_ops->readahead` (5.8+) for the run,
//! and the root fs reads it with one disk request through the driver's bounce buffer
//! (Linux reads into the pages themselves), synchronously: "asynchronous" readahead here
//! means it runs before the reader needs the pages, not that the CPU goes on while the
//! disk works. No per-device `bdi`: the window
//! is `VM_READAHEAD_PAGES` and the device's largest request is [`BDI_IO_PAGES`].
//! Linux 5.18 reworked this file around folios (`page_cache_ra_order`); we follow 5.10.
//!
//! Locking: the window is computed under the `FileRaState` spin lock (Linux updates
//! `f_ra` without a lock, tolerating races); the I/O runs with no spin lock held and,
//! on the fault path, without `mmap_lock`.
use crate::mm::filemap::{
    add_to_page_cache_lru, page_cache_delete_failed, page_cache_next_miss, page_cache_prev_miss,
    AddressSpace, AddressSpaceOperations,
};
use crate::mm::page::{get_page, put_page, Page, PageFlags};
use crate::mm::page_alloc::{alloc_pages, GfpFlags};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};
use crate::sync::SpinLock;
use alloc::vec::Vec;

/// Default readahead window in pages: 128 KiB (Linux: `VM_READAHEAD_PAGES`, the
/// `read_ahead_kb` default of a backing device).
pub const VM_READAHEAD_PAGES: usize = (128 * 1024) / PAGE_SIZE;

/// Largest request the root disk takes, in pages (Linux: `bdi->io_pages`, from the queue's
/// `max_sectors`; virtio-blk gets BLK_DEF_MAX_SECTORS, 2560 sectors = 1280 KiB). A read
/// larger than the window may grow up to it.
pub const BDI_IO_PAGES: usize = (2560 * 512) / PAGE_SIZE;

/// Chunk in which forced readahead (MADV_WILLNEED) is issued: 2 MiB (Linux:
/// `force_page_cache_ra`).
const FORCE_RA_CHUNK_PAGES: usize = (2 * 1024 * 1024) / PAGE_SIZE;

/// Readahead state of one open file (Linux: `struct file_ra_state`, `file->f_ra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRaState {
    /// First page of the current window.
    pub start: usize,
    /// Pages in the current window.
    pub size: usize,
    /// Pages at the window's tail whose first one is marked PG_readahead: reaching it
    /// starts the next window.
    pub async_size: usize,
    /// Largest window (Linux: `ra_pages`, `bdi->ra_pages`; 0 turns readahead off).
    pub ra_pages: usize,
    /// mmap faults that missed the cache minus those that hit read-ahead pages: past
    /// `MMAP_LOTSAMISS` the file is read page by page (Linux: `mmap_miss`).
    pub mmap_miss: usize,
    /// Byte position after the last `read(2)`, -1 before the first (Linux: `prev_pos`).
    pub prev_pos: i64,
}

impl FileRaState {
    /// The state of a newly opened file (Linux: `file_ra_state_init`).
    pub const fn new() -> Self {
        FileRaState {
            start: 0,
            size: 0,
            async_size: 0,
            ra_pages: VM_READAHEAD_PAGES,
            mmap_miss: 0,
            prev_pos: -1,
        }
    }
}

impl Default for FileRaState {
    fn default() -> Self {
        Self::new()
    }
}

/// The readahead state as an open file holds it: a spin lock around [`FileRaState`],
/// never held across I/O.
pub type FileRa = SpinLock<FileRaState>;

/// Where a readahead reads (Linux 5.10: `struct readahead_control`, built with
/// `DEFINE_READAHEAD`): the file's page cache, how to fill it, its size, and the first
/// page (`_index`).
pub struct ReadaheadControl<'a> {
    /// The page cache (Linux: `ractl->mapping`).
    pub mapping: &'a AddressSpace,
    /// How pages are read (Linux: `mapping->a_ops`).
    pub a_ops: &'a dyn AddressSpaceOperations,
    /// File size in bytes (Linux: `i_size_read(mapping->host)`).
    pub i_size: u64,
    /// The page the next read starts at (Linux: `ractl->_index`).
    pub index: usize,
}

/// Allocation flags for readahead pages (Linux: `readahead_gfp_mask`: the mapping's mask
/// plus `__GFP_NORETRY | __GFP_NOWARN`): the pages are a bet, so when memory is short the
/// allocation fails after one round of reclaim and readahead stops quietly, never
/// retrying reclaim or reaching the OOM killer for them.
pub fn readahead_gfp_mask() -> GfpFlags {
    GfpFlags::GFP_KERNEL | GfpFlags::__GFP_NORETRY | GfpFlags::__GFP_NOWARN
}

/// First window for a read of `size` pages, at most `max` (Linux: `get_init_ra_size`):
/// round up to a power of two and grow it 4x when small, 2x when medium, else `max`.
pub fn get_init_ra_size(size: usize, max: usize) -> usize {
    let newsize = size.max(1).next_power_of_two();
    if newsize <= max / 32 {
        newsize * 4
    } else if newsize <= max / 4 {
        newsize * 2
    } else {
        max
    }
}

/// The window after `ra`'s current one (Linux: `get_next_ra_size`): 4x while small,
/// 2x up to half of `max`, then `max`.
pub fn get_next_ra_size(ra: &FileRaState, max: usize) -> usize {
    let cur = ra.size;
    if cur < max / 16 {
        4 * cur
    } else if cur <= max / 2 {
        2 * cur
    } else {
        max
    }
}

/// What `ondemand_readahead` decided to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaDecision {
    /// Nothing.
    Nothing,
    /// The window now in the state: `ra_submit`.
    Window,
    /// `req_size` pages at the index, no mark, state untouched (a lone random read).
    Plain(usize),
}

/// Pages cached just before `index`, at most `max` (Linux: `count_history_pages`).
fn count_history_pages(
    index: usize,
    max: usize,
    prev_miss: &dyn Fn(usize, usize) -> usize,
) -> usize {
    let head = prev_miss(index.wrapping_sub(1), max);
    index.wrapping_sub(1).wrapping_sub(head)
}

/// A read that matches no window: if the pages before it are cached (another stream, or
/// the state was lost), start a window from that history (Linux: `try_context_readahead`).
fn try_context_readahead(
    ra: &mut FileRaState,
    index: usize,
    req_size: usize,
    max: usize,
    prev_miss: &dyn Fn(usize, usize) -> usize,
) -> bool {
    let mut size = count_history_pages(index, max, prev_miss);
    if size <= req_size {
        return false; // too little history: probably a random read
    }
    if size >= index {
        size *= 2; // cached from the file's start: a long stream
    }
    ra.start = index;
    ra.size = (size + req_size).min(max);
    ra.async_size = 1;
    true
}

/// The window arithmetic of [`ondemand_readahead`], apart from the page cache so host
/// tests can drive it: `next_miss(index, max)` and `prev_miss(index, max)` answer
/// `page_cache_next_miss` / `page_cache_prev_miss`. Linux 5.10: the body of
/// `ondemand_readahead`, in its order: file start, the expected next index, a marker hit
/// without state, an oversize read, a sequential miss (`prev_pos`), context, else a lone
/// read.
pub fn ondemand_window(
    ra: &mut FileRaState,
    hit_readahead_marker: bool,
    index: usize,
    req_size: usize,
    next_miss: &dyn Fn(usize, usize) -> usize,
    prev_miss: &dyn Fn(usize, usize) -> usize,
) -> RaDecision {
    let mut max_pages = ra.ra_pages;
    // A request larger than the window may use the device's largest request.
    if req_size > max_pages && BDI_IO_PAGES > max_pages {
        max_pages = req_size.min(BDI_IO_PAGES);
    }
    let initial = |ra: &mut FileRaState| {
        ra.start = index;
        ra.size = get_init_ra_size(req_size, max_pages);
        ra.async_size = if ra.size > req_size {
            ra.size - req_size
        } else {
            ra.size
        };
    };
    let prev_index = ((ra.prev_pos as u64) >> PAGE_SHIFT) as usize;
    if index == 0 {
        initial(ra);
    } else if index == ra.start + ra.size - ra.async_size || index == ra.start + ra.size {
        // The reader is where this window said it would be: slide and grow it.
        ra.start += ra.size;
        ra.size = get_next_ra_size(ra, max_pages);
        ra.async_size = ra.size;
    } else if hit_readahead_marker {
        // A marked page but the state is someone else's (interleaved readers): the
        // cached run after it says how big the old window was.
        let start = next_miss(index + 1, max_pages);
        if start == 0 || start - index > max_pages {
            return RaDecision::Nothing;
        }
        ra.start = start;
        ra.size = start - index + req_size;
        ra.size = get_next_ra_size(ra, max_pages);
        ra.async_size = ra.size;
    } else if req_size > max_pages || index.wrapping_sub(prev_index) <= 1 {
        // An oversize read, or a miss right after the previous read: a new stream.
        initial(ra);
    } else if !try_context_readahead(ra, index, req_size, max_pages, prev_miss) {
        return RaDecision::Plain(req_size);
    }
    // If the reader starts at this window and all of it is async, it would hit its own
    // mark at once: read the next window now, in the same request.
    if index == ra.start && ra.size == ra.async_size {
        let add = get_next_ra_size(ra, max_pages);
        if ra.size + add <= max_pages {
            ra.async_size = add;
            ra.size += add;
        } else {
            ra.size = max_pages;
            ra.async_size = max_pages >> 1;
        }
    }
    RaDecision::Window
}

/// The mmap read-around window (Linux: the end of `do_sync_mmap_readahead`): `ra_pages`
/// centred on the fault at `pgoff`, clamped at the file's start, its last quarter async.
pub fn mmap_read_around(ra: &mut FileRaState, pgoff: usize) {
    ra.start = pgoff.saturating_sub(ra.ra_pages / 2);
    ra.size = ra.ra_pages;
    ra.async_size = ra.ra_pages / 4;
}

/// Size and start a readahead for a read of `req_size` pages at `ractl.index`, then read
/// it (Linux: `ondemand_readahead`). `hit_readahead_marker`: called for a PG_readahead
/// page (async) rather than a miss (sync). Locking: `ra` is locked only to compute the
/// window; no `mmap_lock` is needed.
#[no_mangle]
#[inline(never)]
pub fn ondemand_readahead(
    ractl: &mut ReadaheadControl<'_>,
    ra: &FileRa,
    hit_readahead_marker: bool,
    req_size: usize,
) {
    let mapping = ractl.mapping;
    let next_miss = |i: usize, max: usize| page_cache_next_miss(mapping, i, max);
    let prev_miss = |i: usize, max: usize| page_cache_prev_miss(mapping, i, max);
    let (decision, state) = {
        let mut st = ra.lock();
        let d = ondemand_window(
            &mut st,
            hit_readahead_marker,
            ractl.index,
            req_size,
            &next_miss,
            &prev_miss,
        );
        (d, *st)
    };
    match decision {
        RaDecision::Nothing => {}
        RaDecision::Plain(nr) => do_page_cache_ra(ractl, nr, 0),
        RaDecision::Window => ra_submit(&state, ractl),
    }
}

/// Read the window `ra` describes (Linux: `ra_submit`).
#[no_mangle]
#[inline(never)]
pub fn ra_submit(ra: &FileRaState, ractl: &mut ReadaheadControl<'_>) {
    ractl.index = ra.start;
    do_page_cache_ra(ractl, ra.size, ra.async_size);
}

/// A miss at `ractl.index` by a reader wanting `req_count` pages: read ahead as the
/// access pattern suggests (Linux 5.10: `page_cache_sync_readahead` ->
/// `page_cache_sync_ra`). Nothing when readahead is off (`ra_pages == 0`).
#[no_mangle]
#[inline(never)]
pub fn page_cache_sync_readahead(ractl: &mut ReadaheadControl<'_>, ra: &FileRa, req_count: usize) {
    if ra.lock().ra_pages == 0 {
        return;
    }
    ondemand_readahead(ractl, ra, false, req_count);
}

/// A reader reached `page`, marked PG_readahead: clear the mark and read the next window
/// (Linux 5.10: `page_cache_async_readahead` -> `page_cache_async_ra`).
#[no_mangle]
#[inline(never)]
pub fn page_cache_async_readahead(
    ractl: &mut ReadaheadControl<'_>,
    ra: &FileRa,
    page: &Page,
    req_count: usize,
) {
    if ra.lock().ra_pages == 0 {
        return;
    }
    if page.test(PageFlags::PG_writeback) {
        return; // Linux: the page is still being written; try again at the next access
    }
    page.clear_flags(PageFlags::PG_readahead);
    ondemand_readahead(ractl, ra, true, req_count);
}

/// Read `nr_to_read` pages from `ractl.index` whatever the access pattern, in 2 MiB
/// chunks, at most the larger of the window and the device's largest request (Linux 5.10:
/// `force_page_cache_readahead` -> `force_page_cache_ra`; callers: MADV_WILLNEED,
/// POSIX_FADV_WILLNEED). No page is marked PG_readahead.
#[no_mangle]
#[inline(never)]
pub fn force_page_cache_readahead(
    ractl: &mut ReadaheadControl<'_>,
    ra: &FileRa,
    nr_to_read: usize,
) {
    let max_pages = ra.lock().ra_pages.max(BDI_IO_PAGES);
    let mut nr_to_read = nr_to_read.min(max_pages);
    let mut index = ractl.index;
    while nr_to_read > 0 {
        let chunk = nr_to_read.min(FORCE_RA_CHUNK_PAGES);
        ractl.index = index;
        do_page_cache_ra(ractl, chunk, 0);
        index += chunk;
        nr_to_read -= chunk;
    }
}

/// Read `nr_to_read` pages from `ractl.index`, clipped at end of file, marking the page
/// `lookahead_size` before the end PG_readahead (Linux 5.10: `do_page_cache_ra`; before
/// 5.9 `__do_page_cache_readahead`).
#[no_mangle]
#[inline(never)]
pub fn do_page_cache_ra(
    ractl: &mut ReadaheadControl<'_>,
    nr_to_read: usize,
    lookahead_size: usize,
) {
    if ractl.i_size == 0 {
        return;
    }
    let end_index = ((ractl.i_size - 1) >> PAGE_SHIFT) as usize;
    if ractl.index > end_index {
        return;
    }
    let nr_to_read = nr_to_read.min(end_index - ractl.index + 1);
    page_cache_ra_unbounded(ractl, nr_to_read, lookahead_size);
}

/// The missing pages of `[ractl.index, + nr_to_read)`: allocate each (readahead GFP
/// flags), insert it locked and not up to date, mark the one at
/// `nr_to_read - lookahead_size` PG_readahead, and read the runs between cached pages
/// (Linux 5.10: `page_cache_ra_unbounded`). Stops quietly when a page cannot be
/// allocated. Pages already cached are left alone, and so is their mark.
#[no_mangle]
#[inline(never)]
pub fn page_cache_ra_unbounded(
    ractl: &mut ReadaheadControl<'_>,
    nr_to_read: usize,
    lookahead_size: usize,
) {
    let first = ractl.index;
    let mut batch: Vec<&'static Page> = Vec::new();
    for i in 0..nr_to_read {
        let index = first + i;
        if let Some(page) = crate::mm::filemap::find_get_page(ractl.mapping, index) {
            // Cached already: read what we have so far, as one contiguous run.
            put_page(page);
            read_pages(ractl, &mut batch);
            continue;
        }
        let Some(page) = alloc_pages(readahead_gfp_mask(), 0) else {
            break;
        };
        crate::mm::pagemap::trylock_page(page); // new and ours alone (Linux: __SetPageLocked)
        get_page(page); // the batch's reference; the cache takes the allocation's
        if add_to_page_cache_lru(page, ractl.mapping, index).is_err() {
            // A reader inserted it meanwhile: theirs wins.
            crate::mm::pagemap::unlock_page(page);
            put_page(page);
            put_page(page);
            read_pages(ractl, &mut batch);
            continue;
        }
        // (A window clipped at end of file may have lost its marked page.)
        if lookahead_size != 0 && nr_to_read.checked_sub(lookahead_size) == Some(i) {
            page.set_flags(PageFlags::PG_readahead);
        }
        batch.push(page);
    }
    read_pages(ractl, &mut batch);
}

/// Read the locked, not-up-to-date pages of `batch` (consecutive indices), set each up
/// to date and unlock it, dropping the batch's references (Linux: `read_pages`): one
/// `a_ops->readahead` for the run, which the root fs turns into one disk request. If it
/// fails, each page is tried on its own with `readpage`, and a page whose read fails
/// leaves the cache, so a later reader tries it again and reports the error.
#[no_mangle]
#[inline(never)]
pub fn read_pages(ractl: &ReadaheadControl<'_>, batch: &mut Vec<&'static Page>) {
    let Some(&first) = batch.first() else {
        return;
    };
    let index = first.index.load(core::sync::atomic::Ordering::Relaxed);
    let all_read = ractl.a_ops.readahead(batch, index).is_ok();
    for page in batch.drain(..) {
        let index = page.index.load(core::sync::atomic::Ordering::Relaxed);
        if all_read || ractl.a_ops.readpage(page, index).is_ok() {
            page.set_flags(PageFlags::PG_uptodate);
            crate::mm::pagemap::unlock_page(page);
        } else {
            page.clear_flags(PageFlags::PG_readahead);
            page_cache_delete_failed(ractl.mapping, page);
        }
        put_page(page);
    }
}

#[cfg(test)]
#[path = "readahead_tests.rs"]
mod tests;

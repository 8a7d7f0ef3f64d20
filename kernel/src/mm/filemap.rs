//! The page cache: file pages kept in memory, one `address_space` per inode.
//!
//! Linux: `mm/filemap.c` (`find_get_page`, `add_to_page_cache_lru`, `read_cache_page`,
//! `generic_file_buffered_read` — called `filemap_read` since 5.16 — and `filemap_fault`)
//! and `mm/truncate.c` (`truncate_inode_pages`). Callers: the root fs (`fs/cpiofs.rs`),
//! whose pages come from the disk, and tmpfs (`fs/tmpfs.rs`), whose pages are the data.
//!
//! Each cached page has `mapping` = the owning [`AddressSpace`], `index` = its page offset
//! in the file, `PG_uptodate` once filled, and one reference held by the cache; lookups
//! return it with a second reference (`get_page`) that the caller drops with `put_page`.
//! The fault path (`filemap_fault`, later) maps the page returned by [`read_cache_page`]
//! and keeps that reference as the mapping's.
//!
//! `add_to_page_cache_lru` also puts each new page on the inactive file list (the
//! inactive anon list for a swap-backed tmpfs page), where reclaim finds it
//! (`mm/vmscan.rs`, which takes clean pages back out with `remove_mapping_if_unused`).
//!
//! Locking: `i_pages` is a spinlock with interrupts off (Linux: the xarray lock, taken
//! `xa_lock_irq`). It is never held across I/O: a miss allocates and fills the page
//! unlocked, then inserts it, and the loser of a race frees its copy.
use crate::errno::{Errno, KResult};
use crate::mm::memory::{FaultFlags, FaultResult, FaultRetry};
use crate::mm::page::{get_page, page_address, put_page, Page, PageFlags};
use crate::mm::page_alloc::{alloc_pages, GfpFlags};
use crate::mm::readahead::{
    mmap_read_around, page_cache_async_readahead, page_cache_sync_readahead, ra_submit, FileRa,
    ReadaheadControl,
};
use crate::mm::swapops::SwpEntry;
use crate::mm::vma::{MappedFile, VmFault, VmFlags, VmOperationsStruct};
use crate::mm::vmstat::{count_vm_event, VmStat};
use crate::mm::PAGE_SIZE;
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Pages in all page caches (Linux: the `NR_FILE_PAGES` counter, `Cached:` in meminfo).
pub(in crate::mm) static NR_FILE_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Pages held by page caches now, tmpfs included (Linux:
/// `global_node_page_state(NR_FILE_PAGES)`). Leak checks subtract it: pages of the
/// read-only root fs stay cached once read.
pub fn nr_file_pages() -> usize {
    NR_FILE_PAGES.load(Ordering::Relaxed)
}

/// How a file system fills a page of the cache, and writes one back (Linux: `struct
/// address_space_operations`).
pub trait AddressSpaceOperations {
    /// Fill `page` with file page `index`, zeroing what lies past end of file. Linux:
    /// `a_ops->readpage`.
    fn readpage(&self, page: &Page, index: usize) -> KResult<()>;
    /// Fill `pages`, file pages `index`, `index + 1`, ... in order, as one read where the
    /// file system can (Linux 5.8+: `a_ops->readahead`, which replaced `readpages`). The
    /// default reads them one `readpage` at a time. On an error none is taken as read.
    fn readahead(&self, pages: &[&'static Page], index: usize) -> KResult<()> {
        for (i, page) in pages.iter().enumerate() {
            self.readpage(page, index + i)?;
        }
        Ok(())
    }

    /// Write a locked, dirty page of this mapping back for reclaim (Linux:
    /// `a_ops->writepage` with `wbc->for_reclaim`; `pageout` in `mm/vmscan.rs` calls it
    /// after clearing PG_dirty). None: the mapping has no writepage (Linux: a NULL
    /// `a_ops->writepage`, and `pageout` activates the page). tmpfs has one:
    /// `shmem_writepage`, which moves the page to the swap cache.
    fn writepage(&self, _page: &'static Page) -> Option<Writepage> {
        None
    }
}

/// What `a_ops->writepage` did with the page reclaim handed it (Linux: its return value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writepage {
    /// Written (here the I/O is synchronous, so it is done), and unlocked; the page may
    /// have changed hands on the way (shmem: it is now in the swap cache).
    Written,
    /// Not written: the page is dirty again and still locked; reclaim activates it
    /// (Linux: `AOP_WRITEPAGE_ACTIVATE`).
    Activate,
    /// The write failed; the page is dirty again and unlocked (Linux: a negative errno).
    Error(Errno),
}

/// What `i_pages` holds at an index (Linux: an xarray slot: a page pointer, or a "value
/// entry"). Only tmpfs stores value entries: the swap entry of a page that
/// `shmem_writepage` sent to swap (Linux: `swp_to_radix_entry(swap)`), until
/// `shmem_swapin_page` brings it back or truncation frees the slot.
#[derive(Clone, Copy)]
pub enum PageCacheEntry {
    /// A page of the cache.
    Page(&'static Page),
    /// A tmpfs page that is out on swap (Linux: `xa_is_value(entry)`).
    Swap(SwpEntry),
}

impl PageCacheEntry {
    /// The page, if this entry is one (Linux: `!xa_is_value(entry)`).
    pub fn page(self) -> Option<&'static Page> {
        match self {
            PageCacheEntry::Page(p) => Some(p),
            PageCacheEntry::Swap(_) => None,
        }
    }
}

/// The cached pages of one file (Linux: `struct address_space`, `inode->i_mapping`).
///
/// Must not move while it holds pages (`page.mapping` points at it): file systems keep it
/// inside their `Arc`'d inode.
pub struct AddressSpace {
    /// Page index -> page, or (tmpfs) the swap entry of a page out on swap (Linux:
    /// `i_pages`, an xarray with value entries). mm/shmem.rs moves pages between here
    /// and the swap cache under this lock.
    pub(in crate::mm) i_pages: SpinLockIrq<BTreeMap<usize, PageCacheEntry>>,
    /// Swap entries in `i_pages` (Linux 5.10: `mapping->nrexceptional`; `nrpages` counts
    /// the pages only). Changed under the `i_pages` lock.
    pub(in crate::mm) nrexceptional: AtomicUsize,
    /// The file system's operations on this mapping, if it gave them here (Linux:
    /// `mapping->a_ops`); reclaim reaches `writepage` through them. Files that read
    /// through `read_cache_page` pass theirs to each call instead.
    pub a_ops: Option<&'static (dyn AddressSpaceOperations + Sync)>,
    /// Every VMA that maps this file, for the walks that start from the file or one of
    /// its pages (`unmap_mapping_range`, `rmap_walk_file`). Linux: `i_mmap`, an interval
    /// tree under `i_mmap_rwsem`; see `mm/interval_tree.rs`.
    pub i_mmap: crate::mm::interval_tree::IMmap,
    /// A tmpfs file's share of its instance's `size=` limit (Linux: `info->alloced`
    /// against `SHMEM_SB(inode->i_sb)`); None for other files and for the internal
    /// instance behind shared anonymous memory, which has no limit.
    pub(in crate::mm) shmem_acct: Option<crate::mm::shmem::ShmemAcct>,
}

impl AddressSpace {
    /// An empty mapping.
    pub const fn new() -> Self {
        Self::with_a_ops(None)
    }

    /// An empty mapping whose writeback goes through `a_ops` (tmpfs: `shmem_aops`).
    pub const fn with_a_ops(a_ops: Option<&'static (dyn AddressSpaceOperations + Sync)>) -> Self {
        AddressSpace {
            i_pages: SpinLockIrq::new(BTreeMap::new()),
            nrexceptional: AtomicUsize::new(0),
            a_ops,
            i_mmap: crate::mm::interval_tree::IMmap::new(),
            shmem_acct: None,
        }
    }

    /// An empty tmpfs mapping whose pages count against `sbinfo`'s `size=` limit.
    pub fn shmem(
        a_ops: &'static (dyn AddressSpaceOperations + Sync),
        sbinfo: alloc::sync::Arc<crate::mm::shmem::ShmemSbInfo>,
    ) -> Self {
        let mut mapping = Self::with_a_ops(Some(a_ops));
        mapping.shmem_acct = Some(crate::mm::shmem::ShmemAcct::new(sbinfo));
        mapping
    }

    /// Pages cached (Linux: `mapping->nrpages`): swap entries of tmpfs do not count.
    pub fn nrpages(&self) -> usize {
        let pages = self.i_pages.lock();
        pages.len() - self.nrexceptional.load(Ordering::Relaxed)
    }

    /// Swap entries held in place of pages (Linux 5.10: `mapping->nrexceptional`).
    pub fn nrexceptional(&self) -> usize {
        self.nrexceptional.load(Ordering::Relaxed)
    }

    /// The address that page-cache pages of this mapping keep in `page.mapping`.
    pub(in crate::mm) fn token(&self) -> usize {
        self as *const AddressSpace as usize
    }

    /// The mapping a page-cache page's `mapping` field points at.
    ///
    /// # Safety
    /// `token` is the `mapping` of a page still in that mapping's cache (or otherwise
    /// known to point at a live `AddressSpace`).
    pub unsafe fn from_token<'a>(token: usize) -> &'a AddressSpace {
        // SAFETY: the caller's contract: a live AddressSpace, which does not move.
        unsafe { &*(token as *const AddressSpace) }
    }

    /// Up to `max` cached pages with index in `start..=end`, in index order, each with a
    /// reference for the caller (Linux: `find_get_pages_range`, or the `pagevec_lookup`
    /// that `invalidate_mapping_pages` runs).
    pub fn find_get_pages_range(&self, start: usize, end: usize, max: usize) -> Vec<&'static Page> {
        let pages = self.i_pages.lock();
        // Swap entries are skipped, as Linux's lookup skips value entries.
        pages
            .range(start..=end)
            .filter_map(|(_, e)| e.page())
            .take(max)
            .inspect(|p| get_page(p))
            .collect()
    }

    /// Does any VMA map this file (Linux: `mapping_mapped`)?
    pub fn mapping_mapped(&self) -> bool {
        !self.i_mmap.is_empty()
    }
}

/// The mappings marked unevictable, by token (Linux: the `AS_UNEVICTABLE` bit of
/// `mapping->flags`, set for SHM_LOCKed segments and ramfs). Linux reads the bit through
/// `page_mapping(page)` under RCU, which keeps a dying mapping readable; we have no RCU,
/// so reclaim asks this set about the page's `mapping` word and never dereferences it.
static UNEVICTABLE_MAPPINGS: SpinLockIrq<alloc::collections::BTreeSet<usize>> =
    SpinLockIrq::new(alloc::collections::BTreeSet::new());
/// Entries in `UNEVICTABLE_MAPPINGS`, so the common case (none) takes no lock.
static NR_UNEVICTABLE_MAPPINGS: AtomicUsize = AtomicUsize::new(0);

/// Reclaim must not evict this mapping's pages (Linux: `mapping_set_unevictable`, from
/// `shmem_lock` for SHM_LOCK). Pages already on the evictable lists move to the
/// unevictable list when reclaim next meets them, as in Linux.
pub fn mapping_set_unevictable(mapping: &AddressSpace) {
    if UNEVICTABLE_MAPPINGS.lock().insert(mapping.token()) {
        NR_UNEVICTABLE_MAPPINGS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Undo `mapping_set_unevictable` (Linux: `mapping_clear_unevictable`); the caller moves
/// the pages back (`shmem_unlock_mapping`).
pub fn mapping_clear_unevictable(mapping: &AddressSpace) {
    if NR_UNEVICTABLE_MAPPINGS.load(Ordering::Relaxed) == 0 {
        return;
    }
    if UNEVICTABLE_MAPPINGS.lock().remove(&mapping.token()) {
        NR_UNEVICTABLE_MAPPINGS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Is the mapping marked unevictable (Linux: `mapping_unevictable`)?
pub fn mapping_unevictable(mapping: &AddressSpace) -> bool {
    token_unevictable(mapping.token())
}

/// Is `token`, a page's `mapping` word, an unevictable mapping? Anonymous pages
/// (PAGE_MAPPING_ANON set) never are. The common case, no SHM_LOCKed segment, is one
/// load where `page_evictable` is called (every LRU add and putback): inlined, with the
/// set lookup out of line.
#[inline(always)]
pub(in crate::mm) fn token_unevictable(token: usize) -> bool {
    if token == 0 || NR_UNEVICTABLE_MAPPINGS.load(Ordering::Relaxed) == 0 {
        return false;
    }
    token_in_unevictable_set(token)
}

#[inline(never)]
fn token_in_unevictable_set(token: usize) -> bool {
    UNEVICTABLE_MAPPINGS.lock().contains(&token)
}

impl Drop for AddressSpace {
    /// The inode is going away: drop every page and free the swap slots of tmpfs pages
    /// out on swap. Linux: `truncate_inode_pages_final` (tmpfs: `shmem_evict_inode`,
    /// which also takes the inode off `shmem_swaplist`).
    fn drop(&mut self) {
        crate::mm::shmem::shmem_swaplist_del(self);
        truncate_inode_pages(self, 0);
        mapping_clear_unevictable(self);
    }
}

/// The cached page at `index`, with a reference for the caller, or None. Linux:
/// `find_get_page` (`pagecache_get_page` without FGP flags).
#[no_mangle]
#[inline(never)]
pub fn find_get_page(mapping: &AddressSpace, index: usize) -> Option<&'static Page> {
    find_get_entry(mapping, index)?.page()
}

/// What `i_pages` holds at `index`: a page (with a reference for the caller) or a tmpfs
/// swap entry (Linux 5.10: `find_get_entry`, which returns value entries too; tmpfs
/// looks with it to know a swapped page from a hole).
#[no_mangle]
#[inline(never)]
pub fn find_get_entry(mapping: &AddressSpace, index: usize) -> Option<PageCacheEntry> {
    let pages = mapping.i_pages.lock();
    let entry = *pages.get(&index)?;
    if let PageCacheEntry::Page(page) = entry {
        get_page(page);
    }
    Some(entry)
}

/// The first index in `[index, index + max_scan)` with no page cached, or
/// `index + max_scan` when all are (Linux: `page_cache_next_miss`). Readahead asks it how
/// far a cached run reaches.
pub fn page_cache_next_miss(mapping: &AddressSpace, index: usize, max_scan: usize) -> usize {
    let pages = mapping.i_pages.lock();
    let mut i = index;
    while i.wrapping_sub(index) < max_scan {
        if !matches!(pages.get(&i), Some(PageCacheEntry::Page(_))) {
            return i;
        }
        i = i.wrapping_add(1);
    }
    i
}

/// The first index going down from `index` (at most `max_scan` pages) with no page
/// cached, or `index - max_scan` when all are (Linux: `page_cache_prev_miss`).
pub fn page_cache_prev_miss(mapping: &AddressSpace, index: usize, max_scan: usize) -> usize {
    let pages = mapping.i_pages.lock();
    let mut i = index;
    while index.wrapping_sub(i) < max_scan {
        if !matches!(pages.get(&i), Some(PageCacheEntry::Page(_))) {
            return i;
        }
        i = i.wrapping_sub(1);
    }
    i
}

/// A page inserted locked for a read that failed: take it out of the cache (if it is
/// still there), unlock it and drop the cache's reference; the caller drops its own.
/// Waiters in `read_cache_page` then find it gone and read it themselves. Linux leaves
/// such a page in the cache, not up to date, for the next reader to `readpage` again;
/// ours are removed, as `read_cache_page` removes its own failures.
pub fn page_cache_delete_failed(mapping: &AddressSpace, page: &'static Page) {
    let index = page.index.load(Ordering::Relaxed);
    let removed = {
        let mut pages = mapping.i_pages.lock();
        match pages.get(&index) {
            Some(&PageCacheEntry::Page(p)) if core::ptr::eq(p, page) => {
                pages.remove(&index);
                true
            }
            _ => false,
        }
    };
    crate::mm::pagemap::unlock_page(page);
    if removed {
        delete_from_page_cache(page);
    }
}

/// Insert a new, locked-by-ownership `page` at `index`; the cache takes over the caller's
/// reference. EEXIST when another page got there first (the caller frees its own and
/// looks again); ENOSPC when a tmpfs instance is full (`shmem_inode_acct_block`, which
/// Linux calls from `shmem_getpage_gfp` before it allocates). The page then goes on the inactive file list (the inactive anon list
/// for a swap-backed tmpfs page). Linux: `add_to_page_cache_lru`
/// (`__add_to_page_cache_locked` + `lru_cache_add`).
#[no_mangle]
#[inline(never)]
pub fn add_to_page_cache_lru(
    page: &'static Page,
    mapping: &AddressSpace,
    index: usize,
) -> KResult<()> {
    {
        let mut pages = mapping.i_pages.lock();
        if pages.contains_key(&index) {
            return Err(Errno::EEXIST);
        }
        if let Some(acct) = &mapping.shmem_acct {
            crate::mm::shmem::shmem_inode_acct_block(acct, pages.len())?;
        }
        page.mapping.store(mapping.token(), Ordering::Relaxed);
        page.index.store(index, Ordering::Relaxed);
        pages.insert(index, PageCacheEntry::Page(page));
        NR_FILE_PAGES.fetch_add(1, Ordering::Relaxed);
    }
    crate::mm::swap::lru_cache_add(page);
    Ok(())
}

/// Take `page` out of its mapping and drop the cache's reference. Linux:
/// `delete_from_page_cache` (`__delete_from_page_cache` + `page_cache_free_page`). The
/// caller already removed it from `i_pages`.
fn delete_from_page_cache(page: &'static Page) {
    delete_from_page_cache_locked_out(page);
}

/// The rest of deleting a page from the cache once it left `i_pages`: counters,
/// `mapping`, flags, the cache's reference.
pub(in crate::mm) fn delete_from_page_cache_locked_out(page: &'static Page) {
    NR_FILE_PAGES.fetch_sub(1, Ordering::Relaxed);
    if page.test(PageFlags::PG_swapbacked) {
        // A tmpfs page (Linux: __delete_from_page_cache's NR_SHMEM).
        crate::mm::vmstat::mod_state(VmStat::NR_SHMEM, -1);
    }
    page.mapping.store(0, Ordering::Relaxed);
    // PG_swapbacked stays: it says which LRU list the page is on until it is freed.
    page.clear_flags(PageFlags::PG_uptodate | PageFlags::PG_dirty);
    put_page(page);
}

/// Take `page` out of `mapping`'s `i_pages` if it is still there, then finish the
/// deletion (`delete_from_page_cache_locked_out`). False when it was not there.
pub(in crate::mm) fn delete_from_page_cache_if_cached(
    mapping: &AddressSpace,
    page: &'static Page,
) -> bool {
    let index = page.index.load(Ordering::Relaxed);
    {
        let mut pages = mapping.i_pages.lock();
        match pages.get(&index) {
            Some(&PageCacheEntry::Page(p)) if core::ptr::eq(p, page) => {
                pages.remove(&index);
            }
            _ => return false,
        }
    }
    delete_from_page_cache_locked_out(page);
    true
}

/// Take a clean page-cache `page` out of `mapping` if only the cache and one more holder
/// (reclaim's isolation) have references and no PTE maps it; drops the cache's reference.
/// The caller drops its own, which frees the page (Linux: `__remove_mapping` ->
/// `__delete_from_page_cache`, under the i_pages lock, with `page_ref_freeze(page, 2)`).
pub fn remove_mapping_if_unused(mapping: &AddressSpace, page: &'static Page) -> bool {
    let mut pages = mapping.i_pages.lock();
    let index = page.index.load(Ordering::Relaxed);
    let ours =
        matches!(pages.get(&index), Some(&PageCacheEntry::Page(p)) if core::ptr::eq(p, page));
    if !ours
        || page.page_count() != 2
        || page.page_mapcount() > 0
        || page.test(PageFlags::PG_dirty)
        || page.test(PageFlags::PG_locked)
    {
        return false;
    }
    pages.remove(&index);
    drop(pages);
    delete_from_page_cache_locked_out(page);
    true
}

/// File page `index`, read with `a_ops.readpage` on a miss, returned up to date and with a
/// reference for the caller (drop it with [`put_page`], or keep it as a mapping's).
/// Linux: `read_cache_page` (`do_read_cache_page`); `filemap_fault` runs the same
/// find-or-read step for a page fault.
///
/// A miss inserts the new page locked (PG_locked) and not up to date, then reads it, sets
/// PG_uptodate and unlocks it. A reader that finds a page locked and not up to date sleeps
/// in `wait_on_page_locked` until the first reader's I/O is done, instead of reading it a
/// second time; if that I/O failed (the page is gone from the cache), it tries again.
#[no_mangle]
#[inline(never)]
pub fn read_cache_page(
    mapping: &AddressSpace,
    index: usize,
    a_ops: &dyn AddressSpaceOperations,
) -> KResult<&'static Page> {
    use crate::mm::pagemap::{trylock_page, unlock_page, wait_on_page_locked};
    loop {
        if let Some(page) = find_get_page(mapping, index) {
            if !page.test(PageFlags::PG_uptodate) {
                wait_on_page_locked(page);
                if !page.test(PageFlags::PG_uptodate) {
                    put_page(page); // its read failed and it left the cache: retry
                    continue;
                }
            }
            return Ok(page);
        }
        let page = alloc_pages(GfpFlags::GFP_KERNEL, 0).ok_or(Errno::ENOMEM)?;
        trylock_page(page); // new and ours alone (Linux: __SetPageLocked)
        get_page(page); // the caller's reference; the cache keeps the allocation's
        if add_to_page_cache_lru(page, mapping, index).is_err() {
            // Lost a race with another reader: use theirs.
            unlock_page(page);
            put_page(page);
            put_page(page);
            continue;
        }
        let r = a_ops.readpage(page, index);
        if let Err(e) = r {
            mapping.i_pages.lock().remove(&index);
            unlock_page(page);
            delete_from_page_cache(page);
            put_page(page);
            return Err(e);
        }
        page.set_flags(PageFlags::PG_uptodate);
        unlock_page(page);
        return Ok(page);
    }
}

/// The bytes of a page (linear map).
///
/// # Safety
/// The caller holds a reference to `page`, and nobody writes it concurrently.
pub unsafe fn page_bytes(page: &Page) -> &'static [u8] {
    // SAFETY: per the caller; a page is PAGE_SIZE bytes of the linear map.
    unsafe { core::slice::from_raw_parts(page_address(page) as *const u8, PAGE_SIZE) }
}

/// The bytes of a page, writable.
///
/// # Safety
/// The caller holds a reference to `page` and is its only accessor for the borrow.
pub unsafe fn page_bytes_mut(page: &Page) -> &'static mut [u8] {
    // SAFETY: per the caller.
    unsafe { core::slice::from_raw_parts_mut(page_address(page) as *mut u8, PAGE_SIZE) }
}

/// Copy file bytes `[pos, pos + buf.len())`, clipped at `i_size`, from the page cache into
/// `buf`, reading missing pages with `a_ops`. Returns the bytes copied (0 at or past end
/// of file). Linux 5.10: `generic_file_buffered_read` (5.16+: `filemap_read`).
///
/// With the open file's readahead state `ra` (None for kernel-internal reads), a miss
/// reads ahead for the rest of the request (`page_cache_sync_readahead`), a page marked
/// PG_readahead starts the next window (`page_cache_async_readahead`), and `prev_pos`
/// records where the read ended, so the next read is recognised as sequential.
#[no_mangle]
#[inline(never)]
pub fn generic_file_buffered_read(
    mapping: &AddressSpace,
    a_ops: &dyn AddressSpaceOperations,
    ra: Option<&FileRa>,
    i_size: u64,
    pos: u64,
    buf: &mut [u8],
) -> KResult<usize> {
    if pos >= i_size {
        return Ok(0);
    }
    let len = (buf.len() as u64).min(i_size - pos) as usize;
    let last_index = (pos + len as u64).div_ceil(PAGE_SIZE as u64) as usize;
    let mut done = 0;
    while done < len {
        let at = pos + done as u64;
        let index = (at / PAGE_SIZE as u64) as usize;
        let offset = (at % PAGE_SIZE as u64) as usize;
        let n = (PAGE_SIZE - offset).min(len - done);
        if let Some(ra) = ra {
            let mut ractl = ReadaheadControl {
                mapping,
                a_ops,
                i_size,
                index,
            };
            match find_get_page(mapping, index) {
                None => page_cache_sync_readahead(&mut ractl, ra, last_index - index),
                Some(page) => {
                    if page.test(PageFlags::PG_readahead) {
                        page_cache_async_readahead(&mut ractl, ra, page, last_index - index);
                    }
                    put_page(page);
                }
            }
        }
        let page = match read_cache_page(mapping, index, a_ops) {
            Ok(p) => p,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break, // a short read, as Linux returns what it copied
        };
        // SAFETY: we hold a reference; cache pages of a read are not written concurrently.
        buf[done..done + n].copy_from_slice(unsafe { &page_bytes(page)[offset..offset + n] });
        // Linux marks each page read (once per page: not again for a second read of the
        // same page within one call, `ra->prev_pos`): two reads activate it.
        if offset == 0 || done == 0 {
            crate::mm::swap::mark_page_accessed(page);
        }
        put_page(page);
        done += n;
    }
    if let Some(ra) = ra {
        ra.lock().prev_pos = (pos + done as u64) as i64;
    }
    Ok(done)
}

/// Drop the cached pages wholly at or past byte `lstart` and zero the rest of the page
/// containing it. Linux: `truncate_inode_pages` (`truncate_inode_pages_range` to the end).
#[no_mangle]
#[inline(never)]
pub fn truncate_inode_pages(mapping: &AddressSpace, lstart: u64) {
    truncate_inode_pages_range(mapping, lstart, u64::MAX);
}

/// Drop the cached pages (and, for tmpfs, swapped-out entries) lying wholly inside
/// bytes `lstart..=lend`, and zero the parts of the cached pages at either edge that fall
/// inside it: a hole punched in the file (fallocate's FALLOC_FL_PUNCH_HOLE, MADV_REMOVE).
/// The caller unmapped the whole pages first and serialises with writes. Linux:
/// `truncate_inode_pages_range` (`shmem_undo_range` for tmpfs).
#[no_mangle]
#[inline(never)]
pub fn truncate_inode_pages_range(mapping: &AddressSpace, lstart: u64, lend: u64) {
    let p = PAGE_SIZE as u64;
    if lend < lstart {
        return;
    }
    let end = lend.saturating_add(1); // exclusive; u64::MAX: to the end of the file
    let (first_whole, end_whole) = (lstart.div_ceil(p) as usize, (end / p) as usize);
    if first_whole < end_whole {
        // The hole moves out as a tree (no copy into a vector: a file can be larger than
        // the kernel heap has room for in one piece) and is freed entry by entry unlocked.
        let removed: BTreeMap<usize, PageCacheEntry> = {
            let mut pages = mapping.i_pages.lock();
            let mut hole = pages.split_off(&first_whole);
            let mut after = hole.split_off(&end_whole);
            pages.append(&mut after);
            let swapped = hole
                .values()
                .filter(|e| matches!(e, PageCacheEntry::Swap(_)))
                .count();
            mapping.nrexceptional.fetch_sub(swapped, Ordering::Relaxed);
            if let Some(acct) = &mapping.shmem_acct {
                crate::mm::shmem::shmem_recalc_inode(acct, pages.len());
            }
            hole
        };
        for entry in removed.into_values() {
            match entry {
                PageCacheEntry::Page(page) => delete_from_page_cache(page),
                // A tmpfs page out on swap: the mapping's count on the slot goes, and the
                // slot with it (Linux: shmem_undo_range -> shmem_free_swap ->
                // free_swap_and_cache; Linux's generic truncate leaves value entries to it).
                PageCacheEntry::Swap(swap) => crate::mm::swapfile::free_swap_and_cache(swap),
            }
        }
    }
    // The edge pages keep their outside bytes; the inside ones become zeros.
    let (first, last) = (lstart / p, lend / p);
    for idx in [first, last]
        .into_iter()
        .take(if first == last { 1 } else { 2 })
    {
        let (page_start, page_end) = (idx * p, (idx * p).saturating_add(p));
        if lstart <= page_start && end >= page_end {
            continue; // whole: dropped above
        }
        let Ok(index) = usize::try_from(idx) else {
            continue;
        };
        if let Some(page) = find_get_page(mapping, index) {
            let from = (lstart.max(page_start) - page_start) as usize;
            let to = (end.min(page_end) - page_start) as usize;
            // SAFETY: we hold a reference; the caller serialises truncation with writes.
            unsafe { page_bytes_mut(page)[from..to].fill(0) };
            put_page(page);
        }
    }
}

/// The page at `vmf.pgoff` of a file with a page cache, for the fault path (Linux:
/// `filemap_fault`). SIGBUS past the end of the file.
///
/// A cached, up-to-date page is returned at once (with a reference); on the way it pays
/// back `mmap_miss` and, when it carries PG_readahead, the next window is due
/// (`do_async_mmap_readahead`): a fault that may drop `mmap_lock` returns VM_FAULT_RETRY
/// for that, and the caller reads the window unlocked and faults again; one that may not
/// reads it here.
///
/// Otherwise this is a major fault (PGMAJFAULT, counted only here: a hit on a read-ahead
/// page is not one). When `vmf.flags` allow a retry and this is not one, nothing is read
/// under `mmap_lock`: the fault returns VM_FAULT_RETRY with the file pinned, and the
/// caller runs `do_sync_mmap_readahead` with the lock dropped and faults again (Linux:
/// `do_sync_mmap_readahead` -> `maybe_unlock_mmap_for_io`). The retry (FAULT_FLAG_TRIED),
/// or a caller that cannot let go of the lock, reads the page here (after readahead, for
/// the latter).
#[no_mangle]
#[inline(never)]
pub fn filemap_fault(vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
    let Some(file) = vmf.vma.vm_file.as_ref() else {
        return Err(FaultResult::Sigbus);
    };
    if (vmf.pgoff as u64).saturating_mul(PAGE_SIZE as u64) >= file.size() {
        return Err(FaultResult::Sigbus);
    }
    let (Some(mapping), Some(a_ops)) = (file.f_mapping(), file.a_ops()) else {
        return Err(FaultResult::Sigbus);
    };
    let may_retry =
        vmf.flags.contains(FaultFlags::ALLOW_RETRY) && !vmf.flags.contains(FaultFlags::TRIED);
    if let Some(page) = find_get_page(mapping, vmf.pgoff) {
        if page.test(PageFlags::PG_uptodate) {
            if !vmf.flags.contains(FaultFlags::TRIED)
                && mmap_readahead_hit(file.as_ref(), vmf.vma.vm_flags, page)
            {
                if may_retry {
                    put_page(page);
                    return Err(FaultResult::Retry);
                }
                // Cannot let go of the lock: read the next window under it.
                do_async_mmap_readahead(FaultRetry {
                    fpin: Some(file.clone()),
                    pgoff: vmf.pgoff,
                    vm_flags: vmf.vma.vm_flags,
                    async_ra: true,
                    swap: None,
                    uffd: None,
                });
            }
            return Ok(page);
        }
        put_page(page); // being read by someone else: wait below, or retry
    }
    count_vm_event(VmStat::PGMAJFAULT);
    if may_retry {
        return Err(FaultResult::Retry);
    }
    if !vmf.flags.contains(FaultFlags::TRIED) {
        // No retry allowed: read ahead with the lock held, as 5.10 does when
        // maybe_unlock_mmap_for_io cannot drop it.
        do_sync_mmap_readahead(FaultRetry {
            fpin: Some(file.clone()),
            pgoff: vmf.pgoff,
            vm_flags: vmf.vma.vm_flags,
            async_ra: false,
            swap: None,
            uffd: None,
        });
    }
    match read_cache_page(mapping, vmf.pgoff, a_ops) {
        Ok(page) => Ok(page),
        Err(Errno::ENOMEM) => Err(FaultResult::Oom),
        Err(_) => Err(FaultResult::Sigbus),
    }
}

/// The locked half of Linux's `do_async_mmap_readahead`: a fault hit cached `page`; pay
/// back one `mmap_miss`, and say whether the page's PG_readahead mark makes the next
/// window due. Nothing under VM_RAND_READ or with readahead off.
fn mmap_readahead_hit(file: &dyn MappedFile, vm_flags: VmFlags, page: &Page) -> bool {
    let Some(ra) = file.f_ra() else {
        return false;
    };
    if vm_flags.contains(VmFlags::VM_RAND_READ) {
        return false;
    }
    {
        let mut st = ra.lock();
        if st.ra_pages == 0 {
            return false;
        }
        st.mmap_miss = st.mmap_miss.saturating_sub(1);
    }
    page.test(PageFlags::PG_readahead)
}

/// The `vm_operations_struct` of files in the page cache (Linux: `generic_file_vm_ops`:
/// `filemap_fault`, `filemap_map_pages`; its `page_mkwrite` comes with writeback).
pub struct GenericFileVmOps;

/// Linux: `generic_file_vm_ops`, installed by `generic_file_mmap`.
pub static GENERIC_FILE_VM_OPS: GenericFileVmOps = GenericFileVmOps;

impl VmOperationsStruct for GenericFileVmOps {
    fn name(&self) -> &'static str {
        "generic_file_vm_ops"
    }
    fn fault(&self, vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
        filemap_fault(vmf)
    }
    fn map_pages(&self, vmf: &mut VmFault<'_>, start_pgoff: usize, end_pgoff: usize) -> bool {
        filemap_map_pages(vmf, start_pgoff, end_pgoff);
        true
    }
}

/// Fault-around (Linux: `filemap_map_pages`): map each page of file offsets
/// `[start_pgoff, end_pgoff]` that is cached and up to date and whose PTE is empty,
/// read-only, as `alloc_set_pte` maps a read fault's page. Pages that are missing,
/// being read, past the end of the file, or marked PG_readahead are left for their own
/// faults (the last so that touching them starts the next readahead window); each page
/// mapped pays back one `mmap_miss`, as in 5.10. Nothing here waits. Locking:
/// `mmap_lock` for read; the page-table lock around the PTE updates.
#[no_mangle]
#[inline(never)]
pub fn filemap_map_pages(vmf: &mut VmFault<'_>, start_pgoff: usize, end_pgoff: usize) {
    let vma = vmf.vma;
    let Some(file) = vma.vm_file.as_ref() else {
        return;
    };
    let Some(mapping) = file.f_mapping() else {
        return;
    };
    let max_pgoff = (file.size() as usize).div_ceil(PAGE_SIZE);
    let end_pgoff = end_pgoff.min(max_pgoff.saturating_sub(1));
    let fault_address = vmf.address;
    // Each page mapped here pays back one miss, counted locally and stored once (Linux
    // 5.10 reads `f_ra.mmap_miss` once and writes it back at the end too).
    let mut mapped = 0;
    // The cached pages of the window, found with one walk of `i_pages` rather than one
    // lookup each (Linux: `xas_for_each` over the window under RCU), then mapped with
    // the cache's lock dropped. A window is at most `FAULT_AROUND_BYTES` of pages (a larger
    // one maps the first of them: fault-around is only a guess).
    const NONE: Option<(usize, &'static Page)> = None;
    let mut found = [NONE; crate::mm::memory::FAULT_AROUND_BYTES / PAGE_SIZE];
    let mut nr = 0;
    if start_pgoff <= end_pgoff {
        let pages = mapping.i_pages.lock();
        for (&pgoff, entry) in pages.range(start_pgoff..=end_pgoff) {
            if nr == found.len() {
                break;
            }
            if let PageCacheEntry::Page(page) = *entry {
                get_page(page);
                found[nr] = Some((pgoff, page));
                nr += 1;
            }
        }
    }
    let _ptl = vmf.mm.page_table_lock.lock();
    for &(pgoff, page) in found.iter().take(nr).flatten() {
        let address = vma.vm_start + ((pgoff - vma.vm_pgoff) << crate::mm::PAGE_SHIFT);
        if !crate::arch::aarch64::pgtable::pte_none(*vmf.pte_at(address)) {
            put_page(page);
            continue;
        }
        if !page.test(PageFlags::PG_uptodate)
            || page.test(PageFlags::PG_locked)
            || page.test(PageFlags::PG_readahead)
        {
            put_page(page);
            continue;
        }
        mapped += 1;
        vmf.address = address;
        crate::mm::memory::alloc_set_pte(vmf, page);
    }
    vmf.address = fault_address;
    if mapped > 0 {
        if let Some(ra) = file.f_ra() {
            let mut st = ra.lock();
            st.mmap_miss = st.mmap_miss.saturating_sub(mapped);
        }
    }
}

/// mmap faults missing this much more than they hit stop read-around (Linux:
/// `MMAP_LOTSAMISS`).
pub const MMAP_LOTSAMISS: usize = 100;

/// The readahead of a file page fault that missed the cache, run after the fault let go
/// of `mmap_lock` (Linux 5.10: `do_sync_mmap_readahead`, whose I/O runs after
/// `maybe_unlock_mmap_for_io`; the read of the page itself, which Linux does on the way
/// out of `filemap_fault`, is done here too). As 5.10 decides:
/// - VM_RAND_READ (MADV_RANDOM), or readahead off: only the page;
/// - VM_SEQ_READ (MADV_SEQUENTIAL): `page_cache_sync_readahead` of `ra_pages`;
/// - otherwise count the miss in `mmap_miss`; past `MMAP_LOTSAMISS` only the page, else
///   read-around: `ra_pages` centred on the fault, the last quarter async.
///
/// Then the page is read if readahead did not bring it (allocation failed quietly). The
/// caller retries the fault with FAULT_FLAG_TRIED and finds the page cached. Locking: no
/// `mmap_lock` held, which is the point: other faults and mmap calls of this mm run
/// meanwhile. `filemap_fault` also calls it under the lock when the fault may not drop it.
#[no_mangle]
#[inline(never)]
pub fn do_sync_mmap_readahead(retry: FaultRetry) {
    let Some(file) = retry.fpin.as_ref() else {
        return;
    };
    let (Some(mapping), Some(a_ops)) = (file.f_mapping(), file.a_ops()) else {
        return;
    };
    if let Some(ra) = file.f_ra() {
        let mut ractl = ReadaheadControl {
            mapping,
            a_ops,
            i_size: file.size(),
            index: retry.pgoff,
        };
        let ra_pages = ra.lock().ra_pages;
        if retry.vm_flags.contains(VmFlags::VM_RAND_READ) || ra_pages == 0 {
            // No readahead wanted: just the page, below.
        } else if retry.vm_flags.contains(VmFlags::VM_SEQ_READ) {
            page_cache_sync_readahead(&mut ractl, ra, ra_pages);
        } else {
            let window = {
                let mut st = ra.lock();
                if st.mmap_miss < MMAP_LOTSAMISS * 10 {
                    st.mmap_miss += 1;
                }
                // Missing far more often than hitting: readahead only wastes memory.
                (st.mmap_miss <= MMAP_LOTSAMISS).then(|| {
                    mmap_read_around(&mut st, retry.pgoff);
                    *st
                })
            };
            if let Some(window) = window {
                ra_submit(&window, &mut ractl);
            }
        }
    }
    // An error (no memory, a failed read) shows again on the retry, which reports it.
    if let Ok(page) = read_cache_page(mapping, retry.pgoff, a_ops) {
        put_page(page);
    }
}

/// The readahead of a fault that hit a page marked PG_readahead, run after the fault let
/// go of `mmap_lock` (Linux 5.10: `do_async_mmap_readahead`, after its
/// `maybe_unlock_mmap_for_io`): if the page still carries the mark (no other reader took
/// it), clear it and read the next window (`page_cache_async_readahead`). The fault is
/// then retried and maps the page; it was never a major fault. `filemap_fault` did the
/// locked half (`mmap_miss`, the VM_RAND_READ check).
#[no_mangle]
#[inline(never)]
pub fn do_async_mmap_readahead(retry: FaultRetry) {
    let Some(file) = retry.fpin.as_ref() else {
        return;
    };
    let (Some(mapping), Some(a_ops), Some(ra)) = (file.f_mapping(), file.a_ops(), file.f_ra())
    else {
        return;
    };
    let Some(page) = find_get_page(mapping, retry.pgoff) else {
        return;
    };
    if page.test(PageFlags::PG_readahead) {
        let mut ractl = ReadaheadControl {
            mapping,
            a_ops,
            i_size: file.size(),
            index: retry.pgoff,
        };
        let ra_pages = ra.lock().ra_pages;
        page_cache_async_readahead(&mut ractl, ra, page, ra_pages);
    }
    put_page(page);
}

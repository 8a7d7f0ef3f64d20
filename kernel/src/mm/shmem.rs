//! Shared memory and the pages of tmpfs files. Linux: `mm/shmem.c` (`shmem_zero_setup`,
//! `shmem_kernel_file_setup`, `shmem_getpage_gfp`, `shmem_writepage`,
//! `shmem_swapin_page`, `shmem_unuse`).
//!
//! A MAP_SHARED|MAP_ANONYMOUS mapping (or a shared mapping of /dev/zero) is backed by an
//! unlinked tmpfs file, "/dev/zero (deleted)" in /proc/self/maps. Our tmpfs lives on the
//! fs floor, above mm, so it registers its file constructor here at boot (as Linux hands
//! mm a file's operations) and mm never imports fs.
//!
//! tmpfs pages are swap-backed and live on the anon LRU lists. Reclaim writes a dirty one
//! out through the mapping's `writepage` (`shmem_writepage`): the page moves from the
//! tmpfs mapping to the swap cache, and the mapping keeps the swap entry at its index
//! (Linux: a value entry in the xarray), which holds one count on the slot. A lookup that
//! meets a swap entry brings the page back (`shmem_swapin_page`); truncation frees the
//! slot (`truncate_inode_pages`); swapoff brings every such page in (`shmem_unuse`). PTEs
//! of tmpfs pages never hold swap entries: reclaim simply clears them, as for file pages.
//! A clean tmpfs page (allocated by a read fault, never written) is dropped by reclaim
//! like a clean file page, as in Linux: it held only zeros, which a later lookup of the
//! hole gives again (Linux's `shmem_recalc_inode` accounts for such drops).
//!
//! Locking: `SHMEM_SWAPLIST` before a mapping's `i_pages` lock, which comes before the
//! swap cache's and `swap_lock`. None is held across I/O or a sleep.
use crate::errno::{Errno, KResult};
use crate::mm::filemap::{
    find_get_entry, AddressSpace, AddressSpaceOperations, PageCacheEntry, Writepage,
};
use crate::mm::memory::FaultResult;
use crate::mm::page::{get_page, put_page, Page, PageFlags};
use crate::mm::page_alloc::{alloc_pages, GfpFlags};
use crate::mm::pagemap::{lock_page, unlock_page, wait_on_page_writeback};
use crate::mm::swap_state::{page_swap_entry, PageSwapCache};
use crate::mm::swapops::{swp_type, SwpEntry};
use crate::mm::vma::{MappedFile, VmArea, VmFault, VmOperationsStruct};
use crate::mm::vmstat::{mod_state, VmStat};
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------
// tmpfs limits: size= and nr_inodes= (Linux: struct shmem_sb_info, shmem_inode_acct_block,
// shmem_recalc_inode, shmem_reserve_inode).
// ---------------------------------------------------------------------------------------

/// One tmpfs instance's limits and usage (Linux: `struct shmem_sb_info`). A limit of 0
/// means none (Linux: the kernel's internal mount, and `size=0` / `nr_inodes=0`).
pub struct ShmemSbInfo {
    /// `size=`, in pages (Linux: `max_blocks`).
    pub max_blocks: AtomicUsize,
    /// Pages charged to the instance's files, in memory or on swap (Linux:
    /// `used_blocks`, a per-CPU counter).
    pub used_blocks: AtomicUsize,
    /// `nr_inodes=` (Linux: `max_inodes`).
    pub max_inodes: AtomicUsize,
    /// Inodes that may still be made (Linux: `free_inodes`).
    pub free_inodes: AtomicUsize,
}

/// `size=` when a mount gives none: half of RAM (Linux: `shmem_default_max_blocks`).
pub fn shmem_default_max_blocks() -> usize {
    crate::mm::util::totalram_pages() / 2
}

/// `nr_inodes=` when a mount gives none: half as many inodes as RAM has pages (Linux:
/// `shmem_default_max_inodes`, min(lowmem pages, RAM pages / 2): all of it is lowmem on
/// arm64).
pub fn shmem_default_max_inodes() -> usize {
    crate::mm::util::totalram_pages() / 2
}

impl ShmemSbInfo {
    /// An instance with `max_blocks` pages and `max_inodes` inodes (0: unlimited).
    pub fn new(max_blocks: usize, max_inodes: usize) -> Self {
        ShmemSbInfo {
            max_blocks: AtomicUsize::new(max_blocks),
            used_blocks: AtomicUsize::new(0),
            max_inodes: AtomicUsize::new(max_inodes),
            free_inodes: AtomicUsize::new(max_inodes),
        }
    }

    /// Take one inode from the instance's allowance (Linux: `shmem_reserve_inode`):
    /// ENOSPC when none is left.
    pub fn shmem_reserve_inode(&self) -> KResult<()> {
        if self.max_inodes.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        self.free_inodes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |f| f.checked_sub(1))
            .map(|_| ())
            .map_err(|_| Errno::ENOSPC)
    }

    /// Give an inode back when it is evicted (Linux: `shmem_free_inode`).
    pub fn shmem_free_inode(&self) {
        if self.max_inodes.load(Ordering::Relaxed) != 0 {
            self.free_inodes.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// A tmpfs file's charge against its instance (Linux: `shmem_inode_info.alloced`, and
/// the inode's super block). Lives in the file's [`AddressSpace`].
pub struct ShmemAcct {
    sbinfo: Arc<ShmemSbInfo>,
    /// Pages charged for this file: entries of `i_pages` (pages and swap entries) as of
    /// the last recalculation. Changed only under the mapping's `i_pages` lock.
    alloced: AtomicUsize,
}

impl ShmemAcct {
    /// No pages charged yet.
    pub fn new(sbinfo: Arc<ShmemSbInfo>) -> Self {
        ShmemAcct {
            sbinfo,
            alloced: AtomicUsize::new(0),
        }
    }
}

/// Give back the charge of entries that left the file since the last look: truncated,
/// or clean pages reclaim dropped (Linux: `shmem_recalc_inode`, which also settles
/// lazily). `entries` is `i_pages`' length; the caller holds the `i_pages` lock.
pub fn shmem_recalc_inode(acct: &ShmemAcct, entries: usize) {
    let alloced = acct.alloced.load(Ordering::Relaxed);
    if alloced > entries {
        acct.alloced.store(entries, Ordering::Relaxed);
        acct.sbinfo
            .used_blocks
            .fetch_sub(alloced - entries, Ordering::AcqRel);
    }
}

/// Charge one more page to the file, ENOSPC if its instance is full (Linux:
/// `shmem_inode_acct_block`, after `shmem_recalc_inode`). `entries` is `i_pages`'
/// length before the new page goes in; the caller holds the `i_pages` lock and inserts
/// the page right after.
pub fn shmem_inode_acct_block(acct: &ShmemAcct, entries: usize) -> KResult<()> {
    shmem_recalc_inode(acct, entries);
    let max = acct.sbinfo.max_blocks.load(Ordering::Relaxed);
    acct.sbinfo
        .used_blocks
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            (max == 0 || used < max).then_some(used + 1)
        })
        .map_err(|_| Errno::ENOSPC)?;
    acct.alloced.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Make an unlinked shmem file of `size` bytes (Linux: `shmem_kernel_file_setup`).
pub type ShmemFileSetup = fn(size: usize) -> KResult<Arc<dyn MappedFile>>;

static SHMEM_FILE_SETUP: spin::Once<ShmemFileSetup> = spin::Once::new();

/// tmpfs registers its constructor at boot.
pub fn register_shmem_file_setup(f: ShmemFileSetup) {
    SHMEM_FILE_SETUP.call_once(|| f);
}

/// Give a shared anonymous VMA its shmem file, from offset 0 (Linux: `shmem_zero_setup`).
/// ENOMEM when no file can be made (or no tmpfs is registered).
#[no_mangle]
#[inline(never)]
pub fn shmem_zero_setup(vma: &mut VmArea) -> KResult<()> {
    let setup = SHMEM_FILE_SETUP.get().ok_or(Errno::ENOMEM)?;
    vma.vm_file = Some(setup(vma.vm_end - vma.vm_start)?);
    vma.vm_pgoff = 0;
    vma.vm_ops = Some(&SHMEM_VM_OPS);
    Ok(())
}

/// SHM_LOCK (`lock`) or SHM_UNLOCK a tmpfs file's pages against reclaim (Linux:
/// `shmem_lock`): the mapping becomes unevictable, so reclaim culls its pages to the
/// unevictable list instead of swapping them. Pages already on swap stay there until
/// touched, as in Linux. The RLIMIT_MEMLOCK charge (`user_shm_lock`) is the caller's.
/// Unlocking only clears the mark; the caller moves the pages back with
/// `shmem_unlock_mapping`, as `shmctl(SHM_UNLOCK)` does.
pub fn shmem_lock(file: &dyn MappedFile, lock: bool) -> KResult<()> {
    let mapping = file.f_mapping().ok_or(Errno::EINVAL)?;
    if lock {
        crate::mm::filemap::mapping_set_unevictable(mapping);
    } else {
        crate::mm::filemap::mapping_clear_unevictable(mapping);
    }
    Ok(())
}

/// Put every cached page of `mapping` that now may be evicted back on its evictable
/// list (Linux: `shmem_unlock_mapping` -> `check_move_unevictable_pages`, a pagevec at
/// a time).
pub fn shmem_unlock_mapping(mapping: &AddressSpace) {
    let mut index = 0;
    loop {
        let pages = mapping.find_get_pages_range(index, usize::MAX, 16);
        let Some(last) = pages.last() else {
            break;
        };
        index = last.index.load(Ordering::Relaxed) + 1;
        crate::mm::vmscan::check_move_unevictable_pages(&pages);
        for page in pages {
            put_page(page);
        }
        if index == 0 {
            break;
        }
    }
}

/// The page at `vmf.pgoff` of a tmpfs file, allocated zeroed when the file has none
/// there yet, read back from swap when it went there (Linux: `shmem_fault` ->
/// `shmem_getpage_gfp`). Never a retry: a swap-in reads under `mmap_lock`, as 5.10's
/// `shmem_fault` does. SIGBUS past the end of the file.
#[no_mangle]
#[inline(never)]
pub fn shmem_fault(vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
    let Some(file) = vmf.vma.vm_file.as_ref() else {
        return Err(FaultResult::Sigbus);
    };
    if (vmf.pgoff as u64).saturating_mul(crate::mm::PAGE_SIZE as u64) >= file.size() {
        return Err(FaultResult::Sigbus);
    }
    let Some(mapping) = file.f_mapping() else {
        return Err(FaultResult::Sigbus);
    };
    let mut major = false;
    match shmem_getpage_gfp(mapping, vmf.pgoff, SgpType::SGP_CACHE, Some(&mut major)) {
        Ok(Some(page)) => Ok(page),
        Ok(None) | Err(Errno::ENOMEM) => Err(FaultResult::Oom),
        Err(_) => Err(FaultResult::Sigbus),
    }
}

/// The `vm_operations_struct` of tmpfs files and shared anonymous memory (Linux:
/// `shmem_vm_ops`).
pub struct ShmemVmOps;

/// Linux: `shmem_vm_ops`, installed by `shmem_mmap` and `shmem_zero_setup`.
pub static SHMEM_VM_OPS: ShmemVmOps = ShmemVmOps;

impl VmOperationsStruct for ShmemVmOps {
    fn name(&self) -> &'static str {
        "shmem_vm_ops"
    }
    fn fault(&self, vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
        shmem_fault(vmf)
    }
    /// Linux: `shmem_vm_ops.map_pages = filemap_map_pages`.
    fn map_pages(&self, vmf: &mut VmFault<'_>, start_pgoff: usize, end_pgoff: usize) -> bool {
        crate::mm::filemap::filemap_map_pages(vmf, start_pgoff, end_pgoff);
        true
    }
}

// ---------------------------------------------------------------------------------------
// tmpfs pages and swap: shmem_getpage_gfp, shmem_writepage, shmem_swapin_page, shmem_unuse.
// ---------------------------------------------------------------------------------------

/// What a lookup of a tmpfs page may do about a hole (Linux: `enum sgp_type`).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SgpType {
    /// Do not allocate: a hole reads as zeros (read(2)).
    SGP_READ,
    /// Allocate a zeroed page for a hole (a page fault).
    SGP_CACHE,
    /// Allocate for a write (write(2)).
    SGP_WRITE,
}

/// The page at `index` of a tmpfs mapping, with a reference for the caller: the cached
/// page, the page read back from swap when the mapping holds a swap entry there
/// (`shmem_swapin_page`), or for a hole a new zeroed page (None for SGP_READ). Linux:
/// `shmem_getpage_gfp`. ENOMEM when no page can be had, ENOSPC when the tmpfs instance
/// is full (`size=`), EIO when swap cannot be read.
///
/// `fault_type`: the fault path's (Linux: `vm_fault_t *fault_type`), set to true for a
/// major fault (the page had to be read from swap, counted in `pgmajfault`); None from
/// read(2), write(2) and truncation (Linux: `shmem_getpage`).
#[no_mangle]
#[inline(never)]
pub fn shmem_getpage_gfp(
    mapping: &AddressSpace,
    index: usize,
    sgp: SgpType,
    mut fault_type: Option<&mut bool>,
) -> KResult<Option<&'static Page>> {
    loop {
        match find_get_entry(mapping, index) {
            Some(PageCacheEntry::Page(page)) => return Ok(Some(page)),
            Some(PageCacheEntry::Swap(swap)) => {
                match shmem_swapin_page(mapping, index, swap, fault_type.as_deref_mut()) {
                    Ok(page) => return Ok(Some(page)),
                    // Someone else moved the entry meanwhile: look again.
                    Err(Errno::EEXIST) => continue,
                    Err(e) => return Err(e),
                }
            }
            None if sgp == SgpType::SGP_READ => return Ok(None),
            None => {}
        }
        let page =
            alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0).ok_or(Errno::ENOMEM)?;
        page.set_flags(PageFlags::PG_uptodate | PageFlags::PG_swapbacked);
        get_page(page);
        match crate::mm::filemap::add_to_page_cache_lru(page, mapping, index) {
            Ok(()) => {
                // Linux: shmem_add_to_page_cache counts NR_SHMEM.
                mod_state(VmStat::NR_SHMEM, 1);
                return Ok(Some(page));
            }
            Err(e) => {
                // Another task put a page (or a swap entry) there first: use that. Or
                // the tmpfs instance is full (ENOSPC).
                page.clear_flags(PageFlags::PG_uptodate | PageFlags::PG_swapbacked);
                put_page(page);
                put_page(page);
                if e != Errno::EEXIST {
                    return Err(e);
                }
            }
        }
    }
}

/// [`shmem_getpage_gfp`] outside a fault (Linux: `shmem_getpage`).
pub fn shmem_getpage(
    mapping: &AddressSpace,
    index: usize,
    sgp: SgpType,
) -> KResult<Option<&'static Page>> {
    shmem_getpage_gfp(mapping, index, sgp, None)
}

/// Put `page` (locked, from the swap cache) at `index` of `mapping` in place of the swap
/// entry `expected`; the cache takes a reference. EEXIST when the mapping no longer holds
/// `expected` there (truncated, or another task brought the page in). Linux:
/// `shmem_add_to_page_cache` with its `expected` value entry.
#[no_mangle]
#[inline(never)]
pub fn shmem_add_to_page_cache(
    page: &'static Page,
    mapping: &AddressSpace,
    index: usize,
    expected: SwpEntry,
) -> KResult<()> {
    let mut pages = mapping.i_pages.lock();
    if !matches!(pages.get(&index), Some(PageCacheEntry::Swap(e)) if *e == expected) {
        return Err(Errno::EEXIST);
    }
    get_page(page);
    page.mapping.store(mapping.token(), Ordering::Relaxed);
    page.index.store(index, Ordering::Relaxed);
    pages.insert(index, PageCacheEntry::Page(page));
    mapping.nrexceptional.fetch_sub(1, Ordering::Relaxed);
    drop(pages);
    crate::mm::filemap::NR_FILE_PAGES.fetch_add(1, Ordering::Relaxed);
    mod_state(VmStat::NR_SHMEM, 1);
    Ok(())
}

/// Read a tmpfs page from swap, with readahead around its slot (Linux: `shmem_swapin`,
/// `swapin_readahead` with a pseudo-VMA). None when no page could be had or the slot
/// was freed meanwhile.
#[no_mangle]
#[inline(never)]
pub fn shmem_swapin(swap: SwpEntry) -> Option<&'static Page> {
    crate::mm::swap_state::swapin_readahead(swap, GfpFlags::GFP_KERNEL)
}

/// Bring the page of swap entry `swap`, found at `index` of `mapping`, back into the
/// mapping (Linux: `shmem_swapin_page`): find it in the swap cache or read it, lock it,
/// wait for a write of it to end, put it into the mapping in place of the entry
/// (`shmem_add_to_page_cache`), take it out of the swap cache (`delete_from_swap_cache`),
/// mark it dirty (memory holds the only copy now) and drop the mapping's count on the
/// slot (`swap_free`), which frees it. Returns the page with a reference for the caller.
/// EEXIST when the entry changed meanwhile (the caller looks again), ENOMEM, EIO.
/// Locking: sleeps (I/O, the page lock); the caller holds no spinlock.
#[no_mangle]
#[inline(never)]
pub fn shmem_swapin_page(
    mapping: &AddressSpace,
    index: usize,
    swap: SwpEntry,
    fault_type: Option<&mut bool>,
) -> KResult<&'static Page> {
    let still_there = || matches!(mapping.i_pages.lock().get(&index), Some(PageCacheEntry::Swap(e)) if *e == swap);
    let page = match crate::mm::swap_state::lookup_swap_cache(swap) {
        Some(page) => page,
        None => {
            // A fault that must wait for the disk is a major one (Linux counts it here,
            // before the read).
            if let Some(major) = fault_type {
                *major = true;
                crate::mm::vmstat::count_vm_event(VmStat::PGMAJFAULT);
            }
            match shmem_swapin(swap) {
                Some(page) => page,
                None if still_there() => return Err(Errno::ENOMEM),
                None => return Err(Errno::EEXIST),
            }
        }
    };
    lock_page(page);
    if !PageSwapCache(page) || page_swap_entry(page) != swap || !still_there() {
        // Another task took it out of the swap cache first.
        unlock_page(page);
        put_page(page);
        return Err(Errno::EEXIST);
    }
    if !page.test(PageFlags::PG_uptodate) {
        unlock_page(page);
        put_page(page);
        return Err(Errno::EIO);
    }
    // Reclaim may still be writing it (it unlocked the page for the I/O).
    wait_on_page_writeback(page);
    if let Err(e) = shmem_add_to_page_cache(page, mapping, index, swap) {
        unlock_page(page);
        put_page(page);
        return Err(e);
    }
    crate::mm::swap_state::delete_from_swap_cache(page);
    page.set_flags(PageFlags::PG_dirty);
    crate::mm::swapfile::swap_free(swap);
    unlock_page(page);
    Ok(page)
}

/// Write a locked tmpfs page out to swap for reclaim (Linux: `shmem_writepage`, tmpfs's
/// `a_ops->writepage`; `pageout` has cleared PG_dirty). A swap slot
/// (`get_swap_page`), the page into the swap cache (`add_to_swap_cache`), one count on
/// the slot for the mapping (`swap_shmem_alloc`), the swap entry in the mapping in place
/// of the page (`shmem_delete_from_page_cache`), all under the `i_pages` lock so a lookup
/// sees the page or the entry, never neither; then `swap_writepage`. Reclaim then frees
/// the page from the swap cache as it frees an anonymous page (`__remove_mapping`).
/// Without a slot the page is dirtied again and stays (`Writepage::Activate`).
#[no_mangle]
#[inline(never)]
pub fn shmem_writepage(page: &'static Page) -> Writepage {
    let redirty = || {
        page.set_flags(PageFlags::PG_dirty);
        Writepage::Activate
    };
    let token = page.mapping.load(Ordering::Acquire);
    if token == 0
        || token & crate::mm::rmap::PAGE_MAPPING_FLAGS != 0
        || !page.test(PageFlags::PG_uptodate)
        || crate::mm::swapfile::total_swap_pages() == 0
    {
        return redirty();
    }
    // SAFETY: a page in a page cache (reclaim found `mapping` set, and the page is locked
    // and isolated) points at that live AddressSpace.
    let mapping = unsafe { AddressSpace::from_token(token) };
    let Some(swap) = crate::mm::swapfile::get_swap_page() else {
        return redirty();
    };
    let index = page.index.load(Ordering::Relaxed);
    {
        // On the list (held until the entry is in) before the entry appears, so
        // shmem_unuse can neither miss it nor take the mapping off meanwhile.
        let mut list = SHMEM_SWAPLIST.lock();
        list.insert(mapping.token());
        let mut pages = mapping.i_pages.lock();
        let ours =
            matches!(pages.get(&index), Some(PageCacheEntry::Page(p)) if core::ptr::eq(*p, page));
        if !ours || crate::mm::swap_state::add_to_swap_cache(page, swap).is_err() {
            drop(pages);
            drop(list);
            crate::mm::swapfile::put_swap_page(swap);
            return redirty();
        }
        if crate::mm::swapfile::swap_shmem_alloc(swap).is_err() {
            // Cannot happen: the slot is ours (SWAP_HAS_CACHE) with no count yet.
            crate::mm::swap_state::__delete_from_swap_cache(page, swap);
            put_page(page);
            drop(pages);
            drop(list);
            crate::mm::swapfile::put_swap_page(swap);
            return redirty();
        }
        // Linux: shmem_delete_from_page_cache(page, swp_to_radix_entry(swap)).
        pages.insert(index, PageCacheEntry::Swap(swap));
        mapping.nrexceptional.fetch_add(1, Ordering::Relaxed);
    }
    crate::mm::filemap::NR_FILE_PAGES.fetch_sub(1, Ordering::Relaxed);
    mod_state(VmStat::NR_SHMEM, -1);
    page.mapping.store(0, Ordering::Relaxed);
    put_page(page); // the page cache's reference; the swap cache holds its own
    match crate::mm::page_io::swap_writepage(page, None) {
        Ok(()) => Writepage::Written,
        Err(e) => Writepage::Error(e),
    }
}

/// tmpfs's `address_space_operations` (Linux: `shmem_aops`): pages are the data, so
/// there is nothing to read, and reclaim writes through `shmem_writepage`.
pub struct ShmemAops;

/// Linux: `shmem_aops`, the `a_ops` of every tmpfs mapping.
pub static SHMEM_AOPS: ShmemAops = ShmemAops;

impl AddressSpaceOperations for ShmemAops {
    /// Never called: tmpfs looks its pages up with `shmem_getpage_gfp` (Linux's
    /// `shmem_aops` has no `readpage` either). A hole reads as zeros.
    fn readpage(&self, page: &Page, _index: usize) -> KResult<()> {
        // SAFETY: the caller owns the new page it asks us to fill.
        unsafe { crate::mm::filemap::page_bytes_mut(page).fill(0) };
        Ok(())
    }
    fn writepage(&self, page: &'static Page) -> Option<Writepage> {
        Some(shmem_writepage(page))
    }
}

/// tmpfs mappings that may hold swap entries, by their `token` (Linux: `shmem_swaplist`,
/// the inodes with swapped pages, under `shmem_swaplist_mutex`). A mapping joins in
/// `shmem_writepage` and leaves when it is dropped or `shmem_unuse` finds it has none.
static SHMEM_SWAPLIST: SpinLockIrq<BTreeSet<usize>> = SpinLockIrq::new(BTreeSet::new());

/// Take `mapping` off the swap list; called as it goes away, before its entries are
/// freed (Linux: `shmem_evict_inode`'s `list_del_init(&info->swaplist)`). After this
/// returns, `shmem_unuse` no longer touches it.
pub fn shmem_swaplist_del(mapping: &AddressSpace) {
    SHMEM_SWAPLIST.lock().remove(&mapping.token());
}

/// swapoff's first step: bring every tmpfs page on swap device `ty` back into its
/// mapping (Linux: `shmem_unuse`, called by `try_to_unuse` before it walks the mms).
/// The entries are gathered under the list lock; each page is then read (or found in the
/// swap cache) with no lock held, and put back only if its mapping is still on the list
/// and still holds the entry (a truncation meanwhile freed the slot instead). A mapping
/// dropped and another made at the same address cannot hold the same entry: no new
/// slots come from a device being turned off. ENOMEM or EIO: what was read stays, the
/// rest stays on the device (swapoff then fails, nothing lost).
#[no_mangle]
#[inline(never)]
pub fn shmem_unuse(ty: usize) -> KResult<()> {
    let found: Vec<(usize, usize, SwpEntry)> = {
        let mut list = SHMEM_SWAPLIST.lock();
        let mut found = Vec::new();
        list.retain(|&token| {
            // SAFETY: a mapping leaves the list (under this lock) before it is dropped.
            let mapping = unsafe { AddressSpace::from_token(token) };
            let pages = mapping.i_pages.lock();
            for (&index, entry) in pages.iter() {
                if let PageCacheEntry::Swap(swap) = entry {
                    if swp_type(*swap) == ty {
                        found.push((token, index, *swap));
                    }
                }
            }
            mapping.nrexceptional.load(Ordering::Relaxed) != 0
        });
        found
    };
    for (token, index, swap) in found {
        let page = match crate::mm::swap_state::lookup_swap_cache(swap) {
            Some(page) => page,
            None => {
                match crate::mm::swap_state::read_swap_cache_async(swap, GfpFlags::GFP_KERNEL) {
                    Some(page) => page,
                    // Freed meanwhile (truncated): nothing to bring back.
                    None if crate::mm::swapfile::__swap_count(swap) == 0 => continue,
                    None => return Err(Errno::ENOMEM),
                }
            }
        };
        lock_page(page);
        if !page.test(PageFlags::PG_uptodate) {
            unlock_page(page);
            put_page(page);
            return Err(Errno::EIO);
        }
        wait_on_page_writeback(page);
        let moved = PageSwapCache(page) && page_swap_entry(page) == swap && {
            let list = SHMEM_SWAPLIST.lock();
            list.contains(&token) && {
                // SAFETY: on the list, so not dropped (it leaves the list first).
                let mapping = unsafe { AddressSpace::from_token(token) };
                shmem_add_to_page_cache(page, mapping, index, swap).is_ok()
            }
        };
        if moved {
            crate::mm::swap_state::delete_from_swap_cache(page);
            page.set_flags(PageFlags::PG_dirty);
            crate::mm::swapfile::swap_free(swap);
        }
        unlock_page(page);
        put_page(page);
    }
    Ok(())
}

#[cfg(test)]
#[path = "shmem_tests.rs"]
mod tests;

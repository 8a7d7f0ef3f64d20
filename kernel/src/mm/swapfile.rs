//! Swap devices: the table of active swap areas, their on-disk header, and the slot
//! allocator every swapped-out page takes a place from.
//!
//! Linux: `mm/swapfile.c` (`swap_info`, `read_swap_header`, `setup_swap_map_and_extents`,
//! `get_swap_page`, `swap_duplicate`, `swapcache_prepare`, `swap_free`, `put_swap_page`,
//! `sys_swapon`/`sys_swapoff`'s bodies) and `include/linux/swap.h` (`union swap_header`,
//! `struct swap_info_struct`, the `SWAP_*` map values).
//!
//! Callers: the system calls swapon(2)/swapoff(2) (`syscall/mm.rs`, which resolves the path
//! and hands us the device as a [`SwapBdev`] trait object: mm never imports fs/ or drivers/),
//! boot-time `swap=` (`init/`), `mm/page_io.rs` (the slot's device and sector), and the swap
//! cache and reclaim (`add_to_swap`, `do_swap_page`, fork and zap of swap PTEs).
//!
//! Every slot of a device has one byte in `swap_map`: the number of swap PTEs naming it
//! (up to [`SWAP_MAP_MAX`]) plus [`SWAP_HAS_CACHE`] while a page of the swap cache stands
//! for it. A byte of 0 is a free slot; [`SWAP_MAP_BAD`] marks slot 0 (the header) and the
//! bad pages the header lists.
//!
//! Locking: one `swap_lock` (a spin lock, interrupts off) over the whole table, taken for a
//! few loads and stores only; device I/O (the header read at swapon) happens outside it.
//! Linux 5.10 has the global `swap_lock` for the table plus a per-device `si->lock` and
//! per-cluster locks for the map; one CPU makes one lock enough here.
use crate::errno::{Errno, KResult};
use crate::mm::swapops::{swp_entry, swp_offset, swp_type, SwpEntry, MAX_SWAPFILES};
use crate::mm::PAGE_SIZE;
use crate::sync::SpinLockIrq;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// A block device as the swap code needs it: whole pages read and written at a sector
/// (Linux: a `struct block_device` reached through `bio`s, `submit_bio_wait`). Implemented
/// by the virtio-blk driver, and by [`RamSwapDev`] for host tests. Both calls may sleep
/// until the device's interrupt; callers must be allowed to.
pub trait SwapBdev: Send + Sync {
    /// Fill `buf` (a multiple of 512 bytes) from 512-byte sector `sector`.
    fn read_sectors(&self, sector: u64, buf: &mut [u8]) -> KResult<()>;
    /// Write `buf` (a multiple of 512 bytes) at 512-byte sector `sector`.
    fn write_sectors(&self, sector: u64, buf: &[u8]) -> KResult<()>;
    /// Fill `bufs` one after the other from sector `sector`, as one contiguous read: a
    /// device that can do it in fewer requests overrides this (Linux: bios merged into
    /// one request under a plug). The default reads each buffer on its own.
    fn read_sectors_vectored(&self, sector: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        let mut at = sector;
        for buf in bufs.iter_mut() {
            self.read_sectors(at, buf)?;
            at += (buf.len() / 512) as u64;
        }
        Ok(())
    }
    /// Write `bufs` one after the other from sector `sector`, as one contiguous write: a
    /// device that can do it in fewer requests overrides this (Linux: the swap bios that
    /// reclaim submits under a plug merge into one request). The default writes each
    /// buffer on its own.
    fn write_sectors_vectored(&self, sector: u64, bufs: &[&[u8]]) -> KResult<()> {
        let mut at = sector;
        for buf in bufs {
            self.write_sectors(at, buf)?;
            at += (buf.len() / 512) as u64;
        }
        Ok(())
    }
    /// Capacity in 512-byte sectors (Linux: `bdev_nr_sectors`).
    fn nr_sectors(&self) -> u64;
}

/// 512-byte sectors per page (Linux: `PAGE_SECTORS`).
pub const PAGE_SECTORS: u64 = (PAGE_SIZE / 512) as u64;

/// A swap area in memory (Linux has no such device; host tests and a RAM-only demo).
pub struct RamSwapDev(pub SpinLockIrq<Vec<u8>>);

impl RamSwapDev {
    /// A device holding `image`.
    pub fn new(image: Vec<u8>) -> Self {
        RamSwapDev(SpinLockIrq::new(image))
    }
}

impl SwapBdev for RamSwapDev {
    fn read_sectors(&self, sector: u64, buf: &mut [u8]) -> KResult<()> {
        let img = self.0.lock();
        let start = (sector as usize).checked_mul(512).ok_or(Errno::EIO)?;
        let end = start.checked_add(buf.len()).ok_or(Errno::EIO)?;
        buf.copy_from_slice(img.get(start..end).ok_or(Errno::EIO)?);
        Ok(())
    }

    fn write_sectors(&self, sector: u64, buf: &[u8]) -> KResult<()> {
        let mut img = self.0.lock();
        let start = (sector as usize).checked_mul(512).ok_or(Errno::EIO)?;
        let end = start.checked_add(buf.len()).ok_or(Errno::EIO)?;
        img.get_mut(start..end)
            .ok_or(Errno::EIO)?
            .copy_from_slice(buf);
        Ok(())
    }

    fn nr_sectors(&self) -> u64 {
        (self.0.lock().len() / 512) as u64
    }
}

// --- The on-disk header ----------------------------------------------------------------

/// The signature in the last ten bytes of page 0 (Linux: `union swap_header.magic`).
pub const SWAP_MAGIC: &[u8; 10] = b"SWAPSPACE2";
/// Where the signature starts in page 0.
pub const SWAP_MAGIC_OFFSET: usize = PAGE_SIZE - 10;
/// Where `info` starts: after the 1024 bytes left for a boot block (Linux: `bootbits`).
pub const SWAP_INFO_OFFSET: usize = 1024;
/// Byte offsets inside page 0 of the `info` fields (all little-endian `u32`s but the two
/// 16-byte arrays): version, last_page, nr_badpages, sws_uuid, sws_volume, 117 words of
/// padding, then badpages[] up to the signature.
pub const SWAP_VERSION_OFFSET: usize = SWAP_INFO_OFFSET;
/// `info.last_page`: the last usable page of the area (the area is pages 0..=last_page).
pub const SWAP_LAST_PAGE_OFFSET: usize = SWAP_INFO_OFFSET + 4;
/// `info.nr_badpages`.
pub const SWAP_NR_BADPAGES_OFFSET: usize = SWAP_INFO_OFFSET + 8;
/// `info.sws_uuid[16]`.
pub const SWAP_UUID_OFFSET: usize = SWAP_INFO_OFFSET + 12;
/// `info.sws_volume[16]` (the label).
pub const SWAP_VOLUME_OFFSET: usize = SWAP_INFO_OFFSET + 28;
/// `info.badpages[]`, after `padding[117]`.
pub const SWAP_BADPAGES_OFFSET: usize = SWAP_VOLUME_OFFSET + 16 + 117 * 4;
/// Most bad pages page 0 can list (Linux: `MAX_SWAP_BADPAGES`, the words between
/// `badpages` and the signature): 637 with 4 KiB pages.
pub const MAX_SWAP_BADPAGES: usize = (SWAP_MAGIC_OFFSET - SWAP_BADPAGES_OFFSET) / 4;

/// What `read_swap_header` learned from page 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapHeader {
    /// `info.last_page` (after byte-swapping a header written on the other endianness).
    pub last_page: u32,
    /// Slots in use by the area: `last_page + 1`, clamped to what a swap PTE can address
    /// (Linux: `maxpages`).
    pub maxpages: usize,
    /// `info.badpages[..nr_badpages]`.
    pub badpages: Vec<u32>,
    /// `info.sws_uuid`.
    pub uuid: [u8; 16],
    /// `info.sws_volume`.
    pub label: [u8; 16],
}

fn get_u32(page: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([page[off], page[off + 1], page[off + 2], page[off + 3]])
}

/// Largest number of slots a device may have: the offsets an arm64 swap PTE can hold
/// (Linux: `max_swapfile_size` = `generic_max_swapfile_size`, 50 offset bits on arm64).
pub const MAX_SWAPFILE_SIZE: usize = 1 << 50;

/// Check page 0 of a would-be swap area of `dev_pages` pages and read its header. Linux
/// 5.10: `read_swap_header`. EINVAL, with Linux's message, for: no `SWAPSPACE2` signature,
/// a version other than 1, `last_page` 0 ("Empty swap-file"), an area longer than the
/// device ("Swap area shorter than signature indicates"), or more bad pages than page 0
/// holds. A header written on a big-endian machine (version reads as 1 byte-swapped) is
/// swapped, as Linux does. A `last_page` beyond what a swap PTE can address is truncated
/// with a warning, as in Linux.
#[no_mangle]
#[inline(never)]
pub fn read_swap_header(page: &[u8], dev_pages: u64) -> KResult<SwapHeader> {
    if page.len() < PAGE_SIZE || &page[SWAP_MAGIC_OFFSET..PAGE_SIZE] != SWAP_MAGIC {
        pr_info!("Unable to find swap-space signature");
        return Err(Errno::EINVAL);
    }
    let mut version = get_u32(page, SWAP_VERSION_OFFSET);
    let swapped = version.swap_bytes() == 1;
    let fix = |v: u32| if swapped { v.swap_bytes() } else { v };
    version = fix(version);
    if version != 1 {
        pr_warn!("Unable to handle swap header version {version}");
        return Err(Errno::EINVAL);
    }
    let last_page = fix(get_u32(page, SWAP_LAST_PAGE_OFFSET));
    let nr_badpages = fix(get_u32(page, SWAP_NR_BADPAGES_OFFSET)) as usize;
    if last_page == 0 {
        pr_warn!("Empty swap-file");
        return Err(Errno::EINVAL);
    }
    let mut maxpages = MAX_SWAPFILE_SIZE;
    if last_page as usize > maxpages {
        pr_warn!(
            "Truncating oversized swap area, only using {}k out of {}k",
            maxpages << 2,
            (last_page as usize) << 2
        );
    }
    if maxpages > last_page as usize {
        maxpages = last_page as usize + 1;
    }
    if dev_pages != 0 && maxpages as u64 > dev_pages {
        pr_warn!("Swap area shorter than signature indicates");
        return Err(Errno::EINVAL);
    }
    if nr_badpages > MAX_SWAP_BADPAGES {
        return Err(Errno::EINVAL);
    }
    let badpages = (0..nr_badpages)
        .map(|i| fix(get_u32(page, SWAP_BADPAGES_OFFSET + 4 * i)))
        .collect();
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&page[SWAP_UUID_OFFSET..SWAP_UUID_OFFSET + 16]);
    let mut label = [0u8; 16];
    label.copy_from_slice(&page[SWAP_VOLUME_OFFSET..SWAP_VOLUME_OFFSET + 16]);
    Ok(SwapHeader {
        last_page,
        maxpages,
        badpages,
        uuid,
        label,
    })
}

/// Write a version-1 header for an area of `pages` pages into `page` (one page, zeroed
/// first): what `mkswap` writes. Used by host tests and the in-kernel tests; xtask has its
/// own copy of the layout for the disk images it makes.
pub fn mkswap_header(page: &mut [u8], pages: u32, badpages: &[u32], uuid: [u8; 16], label: &[u8]) {
    page[..PAGE_SIZE].fill(0);
    page[SWAP_VERSION_OFFSET..SWAP_VERSION_OFFSET + 4].copy_from_slice(&1u32.to_le_bytes());
    page[SWAP_LAST_PAGE_OFFSET..SWAP_LAST_PAGE_OFFSET + 4]
        .copy_from_slice(&(pages - 1).to_le_bytes());
    page[SWAP_NR_BADPAGES_OFFSET..SWAP_NR_BADPAGES_OFFSET + 4]
        .copy_from_slice(&(badpages.len() as u32).to_le_bytes());
    page[SWAP_UUID_OFFSET..SWAP_UUID_OFFSET + 16].copy_from_slice(&uuid);
    let n = label.len().min(16);
    page[SWAP_VOLUME_OFFSET..SWAP_VOLUME_OFFSET + n].copy_from_slice(&label[..n]);
    for (i, b) in badpages.iter().enumerate() {
        let off = SWAP_BADPAGES_OFFSET + 4 * i;
        page[off..off + 4].copy_from_slice(&b.to_le_bytes());
    }
    page[SWAP_MAGIC_OFFSET..PAGE_SIZE].copy_from_slice(SWAP_MAGIC);
}

// --- swap_map values --------------------------------------------------------------------

/// A slot that must never be used: page 0 (the header) or a bad page (Linux:
/// `SWAP_MAP_BAD`).
pub const SWAP_MAP_BAD: u8 = 0x3f;
/// Most swap PTEs one slot's byte can count (Linux: `SWAP_MAP_MAX`). Linux goes on
/// counting in continuation pages (`COUNT_CONTINUED`, `add_swap_count_continuation`); we
/// do not have them, so a 63rd reference fails with ENOMEM.
pub const SWAP_MAP_MAX: u8 = 0x3e;
/// A swap-cache page stands for this slot (Linux: `SWAP_HAS_CACHE`).
pub const SWAP_HAS_CACHE: u8 = 0x40;
/// Linux: `COUNT_CONTINUED`; never set here (see [`SWAP_MAP_MAX`]).
pub const COUNT_CONTINUED: u8 = 0x80;

/// The reference count part of a map byte (Linux: `swap_count`).
#[inline]
pub const fn swap_count(ent: u8) -> u8 {
    ent & !SWAP_HAS_CACHE
}

bitflags::bitflags! {
    /// State of a swap area (Linux: the `SWP_*` bits of `swap_info_struct.flags`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SwpFlags: u32 {
        /// The `swap_info` entry is taken (Linux: `SWP_USED`).
        const SWP_USED = 1 << 0;
        /// New slots may be allocated from it (Linux: `SWP_WRITEOK`); cleared first by
        /// swapoff.
        const SWP_WRITEOK = 1 << 1;
        /// A block device, not a swap file (Linux: `SWP_BLKDEV`).
        const SWP_BLKDEV = 1 << 6;
    }
}

/// Swapon flags (Linux: `include/linux/swap.h`).
/// Use the priority in the low bits (Linux: `SWAP_FLAG_PREFER`).
pub const SWAP_FLAG_PREFER: u32 = 0x8000;
/// The priority bits (Linux: `SWAP_FLAG_PRIO_MASK`).
pub const SWAP_FLAG_PRIO_MASK: u32 = 0x7fff;
/// Discard freed clusters (Linux: `SWAP_FLAG_DISCARD`).
pub const SWAP_FLAG_DISCARD: u32 = 0x10000;
/// Discard the whole area once at swapon (Linux: `SWAP_FLAG_DISCARD_ONCE`).
pub const SWAP_FLAG_DISCARD_ONCE: u32 = 0x20000;
/// Discard freed pages (Linux: `SWAP_FLAG_DISCARD_PAGES`).
pub const SWAP_FLAG_DISCARD_PAGES: u32 = 0x40000;
/// Every flag swapon(2) accepts (Linux: `SWAP_FLAGS_VALID`).
pub const SWAP_FLAGS_VALID: u32 = SWAP_FLAG_PRIO_MASK
    | SWAP_FLAG_PREFER
    | SWAP_FLAG_DISCARD
    | SWAP_FLAG_DISCARD_ONCE
    | SWAP_FLAG_DISCARD_PAGES;

/// One active swap area (Linux: `struct swap_info_struct`, without the cluster list,
/// per-CPU cluster, discard work, swap extents and the `percpu_ref` of 5.10).
pub struct SwapInfoStruct {
    /// Linux: `flags`.
    pub flags: SwpFlags,
    /// Priority: higher is used first (Linux: `prio`).
    pub prio: i16,
    /// Index in `swap_info`, the `type` of its entries (Linux: `type`).
    pub ty: usize,
    /// Usable slots: `max` less the header and bad pages (Linux: `pages`).
    pub pages: usize,
    /// Slots allocated (Linux: `inuse_pages`).
    pub inuse_pages: usize,
    /// Slots in `swap_map`, the header's `last_page + 1` (Linux: `max`).
    pub max: usize,
    /// Lowest and highest slot that may be free (Linux: `lowest_bit`, `highest_bit`): the
    /// scan's bounds.
    pub lowest_bit: usize,
    /// See `lowest_bit`.
    pub highest_bit: usize,
    /// Where the next scan starts (Linux: `cluster_next`).
    pub cluster_next: usize,
    /// One byte per slot (Linux: `swap_map`).
    pub swap_map: Vec<u8>,
    /// The device (Linux: `bdev`).
    pub bdev: Arc<dyn SwapBdev>,
    /// The path swapon was given, as /proc/swaps prints it (Linux: `d_path(swap_file)`).
    pub name: String,
    /// The header's UUID and label, kept for messages.
    pub uuid: [u8; 16],
}

impl SwapInfoStruct {
    /// Slot `offset` is allocated: move the scan bounds, count it (Linux:
    /// `swap_range_alloc`).
    fn swap_range_alloc(&mut self, offset: usize) {
        if offset == self.lowest_bit {
            self.lowest_bit += 1;
        }
        if offset == self.highest_bit {
            self.highest_bit -= 1;
        }
        self.inuse_pages += 1;
        if self.inuse_pages == self.pages {
            self.lowest_bit = self.max;
            self.highest_bit = 0;
        }
    }

    /// Slot `offset` is free again (Linux: `swap_range_free`).
    fn swap_range_free(&mut self, offset: usize) {
        if offset < self.lowest_bit {
            self.lowest_bit = offset;
        }
        if offset > self.highest_bit {
            self.highest_bit = offset;
        }
        self.inuse_pages -= 1;
    }

    /// A free slot by next-fit from `cluster_next`, marked SWAP_HAS_CACHE (Linux:
    /// `scan_swap_map_slots`, which 5.10 runs per 256-slot cluster with a per-CPU
    /// cluster and batches of slots in per-CPU `swap_slots_cache`s: that spreads CPUs and
    /// keeps a CPU's pages together; one CPU and a plain scan suffice here).
    fn scan_swap_map_slot(&mut self) -> Option<usize> {
        if self.inuse_pages >= self.pages || self.lowest_bit > self.highest_bit {
            return None;
        }
        let (lo, hi) = (self.lowest_bit, self.highest_bit);
        let start = self.cluster_next.clamp(lo, hi);
        let found = (start..=hi)
            .chain(lo..start)
            .find(|&o| self.swap_map[o] == 0)?;
        self.swap_map[found] = SWAP_HAS_CACHE;
        self.swap_range_alloc(found);
        self.cluster_next = found + 1;
        Some(found)
    }
}

/// The table of swap areas (Linux: `swap_info[]`, `nr_swapfiles`, `least_priority`, and the
/// counters `nr_swap_pages` / `total_swap_pages`), under `swap_lock`. A value, so host tests
/// make their own; the kernel has one, [`SWAP_INFO`].
pub struct SwapTable {
    /// Linux: `swap_info`.
    pub swap_info: [Option<SwapInfoStruct>; MAX_SWAPFILES],
    /// The priority the next swapon without SWAP_FLAG_PREFER gets, less one (Linux:
    /// `least_priority`, which starts at -1 in 5.10 so the first area is -2).
    pub least_priority: i16,
    /// Free slots of writable areas (Linux: `nr_swap_pages`, an `atomic_long_t`: while
    /// swapoff runs, the area's in-use slots are counted against it, so it can dip
    /// below the free slots of the other areas until `try_to_unuse` frees them).
    pub nr_swap_pages: isize,
    /// Usable slots of writable areas (Linux: `total_swap_pages`).
    pub total_swap_pages: usize,
}

impl Default for SwapTable {
    fn default() -> Self {
        Self::new()
    }
}

/// Do two handles name the same device? (Compares the objects, not the vtables.)
fn same_bdev(a: &Arc<dyn SwapBdev>, b: &Arc<dyn SwapBdev>) -> bool {
    core::ptr::eq(Arc::as_ptr(a) as *const u8, Arc::as_ptr(b) as *const u8)
}

/// The result of a lookup of an entry's slot.
fn slot_of(t: &SwapTable, entry: SwpEntry) -> Option<(usize, usize)> {
    let (ty, off) = (swp_type(entry), swp_offset(entry) as usize);
    let si = t.swap_info.get(ty)?.as_ref()?;
    (off < si.max).then_some((ty, off))
}

impl SwapTable {
    /// An empty table.
    pub const fn new() -> Self {
        SwapTable {
            swap_info: [const { None }; MAX_SWAPFILES],
            least_priority: -1,
            nr_swap_pages: 0,
            total_swap_pages: 0,
        }
    }

    fn si(&self, ty: usize) -> &SwapInfoStruct {
        self.swap_info[ty].as_ref().expect("slot_of checked it")
    }

    fn si_mut(&mut self, ty: usize) -> &mut SwapInfoStruct {
        self.swap_info[ty].as_mut().expect("slot_of checked it")
    }

    /// Activate the area of `bdev` whose page 0 is `header_page`. See [`do_swapon`].
    pub fn swapon(
        &mut self,
        name: &str,
        bdev: Arc<dyn SwapBdev>,
        header_page: &[u8],
        swap_flags: u32,
    ) -> KResult<usize> {
        if swap_flags & !SWAP_FLAGS_VALID != 0 {
            return Err(Errno::EINVAL);
        }
        // Linux `claim_swapfile`: the device is opened exclusively, so a second swapon of
        // an active one fails with EBUSY.
        let busy = self.swap_info.iter().flatten().any(|si| {
            Arc::as_ptr(&si.bdev) as *const () == Arc::as_ptr(&bdev) as *const () || si.name == name
        });
        if busy {
            return Err(Errno::EBUSY);
        }
        // Linux `alloc_swap_info`: the first free type; EPERM when all are taken.
        let ty = self
            .swap_info
            .iter()
            .position(|s| s.is_none())
            .ok_or(Errno::EPERM)?;
        let dev_pages = bdev.nr_sectors() / PAGE_SECTORS;
        let hdr = read_swap_header(header_page, dev_pages)?;
        // Linux `setup_swap_map_and_extents`: slot 0 is the header, bad pages are marked.
        let maxpages = hdr.maxpages;
        let mut swap_map: Vec<u8> = Vec::new();
        swap_map
            .try_reserve_exact(maxpages)
            .map_err(|_| Errno::ENOMEM)?;
        swap_map.resize(maxpages, 0);
        let mut nr_good_pages = maxpages - 1;
        for &b in &hdr.badpages {
            if b == 0 || b > hdr.last_page {
                return Err(Errno::EINVAL);
            }
            if (b as usize) < maxpages && swap_map[b as usize] != SWAP_MAP_BAD {
                swap_map[b as usize] = SWAP_MAP_BAD;
                nr_good_pages -= 1;
            }
        }
        if nr_good_pages == 0 {
            pr_warn!("Empty swap-file");
            return Err(Errno::EINVAL);
        }
        swap_map[0] = SWAP_MAP_BAD;
        // Linux `_enable_swap_info`: a given priority, else one below the last default.
        let prio = if swap_flags & SWAP_FLAG_PREFER != 0 {
            (swap_flags & SWAP_FLAG_PRIO_MASK) as i16
        } else {
            self.least_priority -= 1;
            self.least_priority
        };
        // SWAP_FLAG_DISCARD*: accepted and ignored. Linux sends discards (TRIM) to an SSD
        // that supports them; virtio-blk here has no discard, and Linux also just skips
        // them on a device without the feature.
        self.swap_info[ty] = Some(SwapInfoStruct {
            flags: SwpFlags::SWP_USED | SwpFlags::SWP_WRITEOK | SwpFlags::SWP_BLKDEV,
            prio,
            ty,
            pages: nr_good_pages,
            inuse_pages: 0,
            max: maxpages,
            lowest_bit: 1,
            highest_bit: maxpages - 1,
            cluster_next: 1,
            swap_map,
            bdev,
            name: String::from(name),
            uuid: hdr.uuid,
        });
        self.nr_swap_pages += nr_good_pages as isize;
        self.total_swap_pages += nr_good_pages;
        Ok(ty)
    }

    /// The type of the active area on `bdev` (Linux: the `swap_info` scan of
    /// `sys_swapoff` comparing `f_mapping`, so any path to the device names it).
    pub fn find_by_bdev(&self, bdev: &Arc<dyn SwapBdev>) -> Option<usize> {
        self.swap_info
            .iter()
            .flatten()
            .find(|si| same_bdev(&si.bdev, bdev) && si.flags.contains(SwpFlags::SWP_WRITEOK))
            .map(|si| si.ty)
    }

    /// First half of swapoff: no new slots from `ty`, its pages leave the totals (Linux:
    /// `del_from_avail_list` + the `nr_swap_pages`/`total_swap_pages` updates + clearing
    /// SWP_WRITEOK, in `sys_swapoff` before `try_to_unuse`).
    pub fn swapoff_begin(&mut self, ty: usize) {
        let si = self.si_mut(ty);
        si.flags.remove(SwpFlags::SWP_WRITEOK);
        let pages = si.pages;
        self.nr_swap_pages -= pages as isize;
        self.total_swap_pages -= pages;
    }

    /// `try_to_unuse` failed: make the area writable again (Linux: `reinsert_swap_info`).
    pub fn reinsert_swap_info(&mut self, ty: usize) {
        let si = self.si_mut(ty);
        si.flags.insert(SwpFlags::SWP_WRITEOK);
        let pages = si.pages;
        self.nr_swap_pages += pages as isize;
        self.total_swap_pages += pages;
    }

    /// Last half of swapoff: forget the area; default priorities below it move up one
    /// (Linux: the end of `sys_swapoff`). Returns the area (the caller drops its map and
    /// device outside the lock).
    pub fn swapoff_end(&mut self, ty: usize) -> Option<SwapInfoStruct> {
        let si = self.swap_info[ty].take()?;
        if si.prio < 0 {
            for other in self.swap_info.iter_mut().flatten() {
                if other.prio < si.prio {
                    other.prio += 1;
                }
            }
            self.least_priority += 1;
        }
        Some(si)
    }

    /// See [`get_swap_page`].
    pub fn get_swap_page(&mut self) -> Option<SwpEntry> {
        if self.nr_swap_pages <= 0 {
            return None;
        }
        // Highest priority first; among equals the lowest type (Linux keeps
        // `swap_avail_heads`, a priority list it rotates so equal priorities take turns).
        let mut order: Vec<(i16, usize)> = self
            .swap_info
            .iter()
            .flatten()
            .filter(|si| si.flags.contains(SwpFlags::SWP_WRITEOK))
            .map(|si| (si.prio, si.ty))
            .collect();
        order.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, ty) in order {
            if let Some(off) = self.si_mut(ty).scan_swap_map_slot() {
                self.nr_swap_pages -= 1;
                return Some(swp_entry(ty, off as u64));
            }
        }
        None
    }

    /// Linux `__swap_duplicate`: add `usage` (1 for a PTE, SWAP_HAS_CACHE for the swap
    /// cache) to the slot's byte, with Linux's errors.
    fn swap_duplicate_usage(&mut self, entry: SwpEntry, usage: u8) -> KResult<()> {
        let (ty, off) = slot_of(self, entry).ok_or(Errno::EINVAL)?;
        let map = &mut self.si_mut(ty).swap_map[off];
        let mut count = swap_count(*map);
        if count == SWAP_MAP_BAD {
            return Err(Errno::ENOENT);
        }
        let mut has_cache = *map & SWAP_HAS_CACHE;
        if usage == SWAP_HAS_CACHE {
            if has_cache != 0 {
                return Err(Errno::EEXIST);
            }
            if count == 0 {
                return Err(Errno::ENOENT);
            }
            has_cache = SWAP_HAS_CACHE;
        } else if count != 0 || has_cache != 0 {
            if count < SWAP_MAP_MAX {
                count += usage;
            } else if count > SWAP_MAP_MAX {
                return Err(Errno::EINVAL);
            } else {
                return Err(Errno::ENOMEM);
            }
        } else {
            return Err(Errno::ENOENT);
        }
        *map = count | has_cache;
        Ok(())
    }

    /// Linux `__swap_entry_free_locked` (+ `swap_entry_free` when the byte reaches 0):
    /// take `usage` off the slot's byte; free the slot at 0. Returns the new byte.
    fn swap_entry_free(&mut self, entry: SwpEntry, usage: u8) -> Option<u8> {
        let Some((ty, off)) = slot_of(self, entry) else {
            pr_warn!("swap_free: Bad swap file entry {entry:?}");
            return None;
        };
        let si = self.si_mut(ty);
        let map = si.swap_map[off];
        let mut count = swap_count(map);
        let mut has_cache = map & SWAP_HAS_CACHE;
        if map == 0 || count == SWAP_MAP_BAD {
            pr_warn!("swap_free: Unused swap offset entry {entry:?}");
            return None;
        }
        if usage == SWAP_HAS_CACHE {
            debug_assert!(has_cache != 0, "put_swap_page without SWAP_HAS_CACHE");
            has_cache = 0;
        } else {
            count = count.saturating_sub(1);
        }
        let usage = count | has_cache;
        si.swap_map[off] = usage;
        if usage == 0 {
            // Also during swapoff: swapoff_begin took all the area's pages out, the
            // in-use ones included, and each freed one gives its share back.
            si.swap_range_free(off);
            self.nr_swap_pages += 1;
        }
        Some(usage)
    }

    /// See [`__swap_count`].
    pub fn swap_count_of(&self, entry: SwpEntry) -> usize {
        slot_of(self, entry)
            .map(|(ty, off)| swap_count(self.si(ty).swap_map[off]) as usize)
            .unwrap_or(0)
    }

    /// See [`swap_has_cache`].
    pub fn has_cache(&self, entry: SwpEntry) -> bool {
        slot_of(self, entry)
            .map(|(ty, off)| self.si(ty).swap_map[off] & SWAP_HAS_CACHE != 0)
            .unwrap_or(false)
    }

    /// See [`si_swapinfo`].
    pub fn si_swapinfo(&self) -> (usize, usize) {
        let to_be_unused: usize = self
            .swap_info
            .iter()
            .flatten()
            .filter(|si| !si.flags.contains(SwpFlags::SWP_WRITEOK))
            .map(|si| si.inuse_pages)
            .sum();
        (
            self.total_swap_pages + to_be_unused,
            (self.nr_swap_pages + to_be_unused as isize).max(0) as usize,
        )
    }

    /// Slots allocated on every area.
    pub fn slots_in_use(&self) -> usize {
        self.swap_info
            .iter()
            .flatten()
            .map(|si| si.inuse_pages)
            .sum()
    }

    /// `/proc/swaps` (Linux: `swap_show` with its header line).
    pub fn proc_swaps(&self) -> String {
        use core::fmt::Write;
        let mut s = String::from("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        for si in self.swap_info.iter().flatten() {
            if !si.flags.contains(SwpFlags::SWP_WRITEOK) {
                continue; // being turned off: Linux shows only SWP_USED|SWP_WRITEOK ones
            }
            let ty = if si.flags.contains(SwpFlags::SWP_BLKDEV) {
                "partition"
            } else {
                "file\t"
            };
            // Linux: the path padded with spaces to 40 columns (at least one), then the
            // fields separated by a tab, and a second tab after a size or use below
            // 10000000 KiB so the columns line up.
            let pad = 40usize.saturating_sub(si.name.len()).max(1);
            let (size, used) = (si.pages << 2, si.inuse_pages << 2);
            let tab = |v: usize| if v < 10_000_000 { "\t" } else { "" };
            let _ = writeln!(
                s,
                "{}{:pad$}{}\t{}\t{}{}\t{}{}",
                si.name,
                "",
                ty,
                size,
                tab(size),
                used,
                tab(used),
                si.prio,
                pad = pad
            );
        }
        s
    }
}

/// The kernel's swap areas (Linux: `swap_info` under `swap_lock`).
pub static SWAP_INFO: SpinLockIrq<SwapTable> = SpinLockIrq::new(SwapTable::new());

/// swapon(2) and boot-time `swap=` after the path lookup: read page 0 of `bdev`, check the
/// header and enable the area with priority from `swap_flags`. Returns the new type.
/// Linux 5.10: `sys_swapon` from `alloc_swap_info` on (the caller did `claim_swapfile`'s
/// checks that the file is a block device). Errors: EINVAL (bad flags, no signature, wrong
/// version, empty area, area longer than the device, bad-page list), EBUSY (the device is
/// already active), EPERM (all MAX_SWAPFILES types in use), ENOMEM, EIO.
/// Locking: takes `swap_lock` after the header read, which sleeps on the device.
#[no_mangle]
#[inline(never)]
pub fn do_swapon(name: &str, bdev: Arc<dyn SwapBdev>, swap_flags: u32) -> KResult<usize> {
    if swap_flags & !SWAP_FLAGS_VALID != 0 {
        return Err(Errno::EINVAL);
    }
    let mut page: Vec<u8> = Vec::new();
    page.try_reserve_exact(PAGE_SIZE)
        .map_err(|_| Errno::ENOMEM)?;
    page.resize(PAGE_SIZE, 0);
    if bdev.nr_sectors() < PAGE_SECTORS {
        pr_info!("Unable to find swap-space signature");
        return Err(Errno::EINVAL);
    }
    bdev.read_sectors(0, &mut page)?;
    let mut t = SWAP_INFO.lock();
    let ty = t.swapon(name, bdev, &page, swap_flags)?;
    let si = t.si(ty);
    let (pages, prio) = (si.pages, si.prio);
    drop(t);
    // Linux's line; the trailing "FS" is what a Debian kernel (CONFIG_FRONTSWAP) prints,
    // kept so the two logs read the same, though we have no frontswap.
    pr_info!(
        "Adding {}k swap on {}.  Priority:{} extents:1 across:{}k FS",
        pages << 2,
        name,
        prio,
        pages << 2
    );
    Ok(ty)
}

/// swapoff(2) after the path lookup: stop allocating from the area on `bdev`, bring
/// every page back ([`try_to_unuse`]) and forget it. Linux 5.10: `sys_swapoff`. EINVAL
/// when no active area is on that device; on a failure of `try_to_unuse` the area is made
/// writable again (`reinsert_swap_info`) and the error returned.
#[no_mangle]
#[inline(never)]
pub fn do_swapoff(bdev: &Arc<dyn SwapBdev>) -> KResult<()> {
    let ty = {
        let mut t = SWAP_INFO.lock();
        let ty = t.find_by_bdev(bdev).ok_or(Errno::EINVAL)?;
        t.swapoff_begin(ty);
        ty
    };
    if let Err(e) = try_to_unuse(ty) {
        SWAP_INFO.lock().reinsert_swap_info(ty);
        return Err(e);
    }
    let si = SWAP_INFO.lock().swapoff_end(ty);
    drop(si); // the map and the device reference go outside the lock
    Ok(())
}

/// A free slot on the highest-priority writable area, its map byte set to SWAP_HAS_CACHE
/// (the caller adds the page to the swap cache); None without swap or when all are full.
/// Linux 5.10: `get_swap_page` (through the per-CPU slot cache, `get_swap_pages` and
/// `scan_swap_map_slots`; see `SwapInfoStruct::scan_swap_map_slot` for what we leave out).
/// 5.10 takes the page, for THP; one page here.
#[no_mangle]
#[inline(never)]
pub fn get_swap_page() -> Option<SwpEntry> {
    SWAP_INFO.lock().get_swap_page()
}

/// One more swap PTE names `entry` (fork copying a swap PTE). Linux 5.10: `swap_duplicate`
/// -> `__swap_duplicate(entry, 1)`. Errors as `__swap_duplicate`'s: EINVAL for an entry of
/// no active area; ENOENT for a free or bad slot; ENOMEM when the count is at
/// SWAP_MAP_MAX (Linux would add a continuation page and go on; we have none). 5.10's
/// `swap_duplicate` returns 0 for the EINVAL/ENOENT cases (it only loops on ENOMEM); we
/// pass them on so a caller's bug shows.
#[no_mangle]
#[inline(never)]
pub fn swap_duplicate(entry: SwpEntry) -> KResult<()> {
    SWAP_INFO.lock().swap_duplicate_usage(entry, 1)
}

/// The count a tmpfs mapping holds on the slot of a page it sent to swap: the swap entry
/// it keeps at the page's index (Linux: `swap_shmem_alloc`, called by `shmem_writepage`
/// on a slot that has only SWAP_HAS_CACHE). Linux marks such a slot with the special
/// count SWAP_MAP_SHMEM, which `swap_duplicate` cannot raise (a shmem entry is never
/// copied); ours is an ordinary count of one, which no one else copies either, and
/// `swap_free` / `free_swap_and_cache` drop it as they drop a PTE's.
#[no_mangle]
#[inline(never)]
pub fn swap_shmem_alloc(entry: SwpEntry) -> KResult<()> {
    SWAP_INFO.lock().swap_duplicate_usage(entry, 1)
}

/// Mark `entry` as having a swap-cache page, before a read from it is started (Linux:
/// `swapcache_prepare`). EEXIST when a page already stands for it (another fault is
/// reading it), ENOENT when the slot is free (the entry went away meanwhile), EINVAL for
/// an entry of no active area.
#[no_mangle]
#[inline(never)]
pub fn swapcache_prepare(entry: SwpEntry) -> KResult<()> {
    SWAP_INFO.lock().swap_duplicate_usage(entry, SWAP_HAS_CACHE)
}

/// A swap PTE naming `entry` is gone (zap, or do_swap_page mapped the page): one reference
/// less; the slot is free when nothing is left (Linux: `swap_free`).
#[no_mangle]
#[inline(never)]
pub fn swap_free(entry: SwpEntry) {
    SWAP_INFO.lock().swap_entry_free(entry, 1);
}

/// The swap-cache page of `entry` is gone: clear SWAP_HAS_CACHE, freeing the slot if no
/// PTE names it (Linux 5.10: `put_swap_page(page, entry)`, which also takes the page for
/// THP; one page here).
#[no_mangle]
#[inline(never)]
pub fn put_swap_page(entry: SwpEntry) {
    SWAP_INFO.lock().swap_entry_free(entry, SWAP_HAS_CACHE);
}

/// Swap PTEs naming `entry` (Linux: `__swap_count`); 0 for an entry of no area.
#[allow(non_snake_case)]
pub fn __swap_count(entry: SwpEntry) -> usize {
    SWAP_INFO.lock().swap_count_of(entry)
}

/// All references to `entry` from page tables (Linux: `swp_swapcount`, which adds the
/// continuation pages; without them it is `__swap_count`).
pub fn swp_swapcount(entry: SwpEntry) -> usize {
    __swap_count(entry)
}

/// Does a swap-cache page stand for `entry`? (Linux: the SWAP_HAS_CACHE test of
/// `swap_page_trans_huge_swapped` / `__swap_has_cache` callers.)
pub fn swap_has_cache(entry: SwpEntry) -> bool {
    SWAP_INFO.lock().has_cache(entry)
}

/// Free swap slots on writable areas (Linux: `get_nr_swap_pages`).
pub fn get_nr_swap_pages() -> usize {
    SWAP_INFO.lock().nr_swap_pages.max(0) as usize
}

/// Usable slots of writable areas (Linux: `total_swap_pages`).
pub fn total_swap_pages() -> usize {
    SWAP_INFO.lock().total_swap_pages
}

/// `(SwapTotal, SwapFree)` in pages, as /proc/meminfo prints them (Linux: `si_swapinfo`:
/// the in-use slots of an area being turned off still count, as total and as free, so
/// the numbers do not jump while `try_to_unuse` runs).
pub fn si_swapinfo() -> (usize, usize) {
    SWAP_INFO.lock().si_swapinfo()
}

/// Slots allocated on all areas (leak checks after a scenario).
pub fn swap_slots_in_use() -> usize {
    SWAP_INFO.lock().slots_in_use()
}

/// `/proc/swaps` (Linux: `swaps_proc_show` / `swap_show`).
pub fn proc_swaps() -> String {
    SWAP_INFO.lock().proc_swaps()
}

/// The device and first sector of `entry`'s slot (Linux 5.10: `map_swap_entry`, through
/// the swap extents; a block device has one extent starting at sector 0). None for an
/// entry of no area.
#[no_mangle]
#[inline(never)]
pub fn map_swap_entry(entry: SwpEntry) -> Option<(Arc<dyn SwapBdev>, u64)> {
    let t = SWAP_INFO.lock();
    let (ty, off) = slot_of(&t, entry)?;
    Some((t.si(ty).bdev.clone(), off as u64 * PAGE_SECTORS))
}

// ---------------------------------------------------------------------------------------
// The swap cache's side: freeing a cached copy, reuse on a write, and swapoff's walk.
// ---------------------------------------------------------------------------------------

/// Drop the swap cache's copy of `page` if no PTE needs its slot any more, freeing the
/// slot (Linux: `try_to_free_swap`). Not while it is being written. The caller holds the
/// page lock. True if the page left the swap cache; it is then dirty: memory holds the
/// only copy.
#[no_mangle]
#[inline(never)]
pub fn try_to_free_swap(page: &crate::mm::page::Page) -> bool {
    use crate::mm::page::PageFlags;
    use crate::mm::swap_state::{delete_from_swap_cache, page_swap_entry, PageSwapCache};
    if !PageSwapCache(page) || page.test(PageFlags::PG_writeback) {
        return false;
    }
    if __swap_count(page_swap_entry(page)) != 0 {
        return false; // Linux: page_swapped()
    }
    delete_from_swap_cache(page);
    page.set_flags(PageFlags::PG_dirty);
    true
}

/// A swap PTE is gone (zap, munmap, exit): drop its count on the slot, and if only the
/// swap cache is left holding it and no one maps the cached page, free both (Linux:
/// `free_swap_and_cache` -> `__try_to_reclaim_swap`). Nothing for a `non_swap_entry`
/// (a hwpoison entry), as in Linux.
#[no_mangle]
#[inline(never)]
pub fn free_swap_and_cache(entry: SwpEntry) {
    use crate::mm::pagemap::{trylock_page, unlock_page};
    if crate::mm::swapops::non_swap_entry(entry) {
        return; // a hwpoison entry: no slot, nothing to free
    }
    swap_free(entry);
    if __swap_count(entry) != 0 || !swap_has_cache(entry) {
        return;
    }
    let Some(page) = crate::mm::swap_state::lookup_swap_cache(entry) else {
        return;
    };
    if !crate::mm::rmap::page_mapped(page) && trylock_page(page) {
        try_to_free_swap(page);
        unlock_page(page);
    }
    crate::mm::page::put_page(page);
}

/// May a write fault make this anonymous page writable in place, instead of copying it
/// (Linux 5.10: `reuse_swap_page`)? Only if its mappings plus the swap PTEs that still
/// name its slot (the faulting one's included: the caller has not dropped it yet) come
/// to one: nobody else can see the page. Then, unless it is being written, it leaves the
/// swap cache, dirty: it is about to differ from its slot.
#[no_mangle]
#[inline(never)]
pub fn reuse_swap_page(page: &crate::mm::page::Page) -> bool {
    use crate::mm::page::PageFlags;
    use crate::mm::swap_state::{delete_from_swap_cache, page_swap_entry, PageSwapCache};
    let mut count = page.page_mapcount().max(0) as usize;
    if PageSwapCache(page) {
        count += __swap_count(page_swap_entry(page));
    }
    if count == 1 && PageSwapCache(page) && !page.test(PageFlags::PG_writeback) {
        delete_from_swap_cache(page);
        page.set_flags(PageFlags::PG_dirty);
    }
    count <= 1
}

/// Is more than half of swap in use (Linux: `vm_swap_full`, what `mem_cgroup_swap_full`
/// falls back to without memory cgroups)? Then a page swapped in gives its slot up at once.
pub fn vm_swap_full() -> bool {
    get_nr_swap_pages() * 2 < total_swap_pages()
}

/// Put a page read back by swapoff into the PTE that held `entry`, if it still does
/// (Linux: `unuse_pte`): mapped as the VMA's protection says (read-only for private
/// memory: a write then takes the usual write fault), back in the rmap, one count off
/// the slot.
#[no_mangle]
#[inline(never)]
pub fn unuse_pte(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    addr: usize,
    entry: SwpEntry,
    page: &'static crate::mm::page::Page,
) {
    use crate::arch::aarch64::pgtable::{mk_pte, pte_mkold};
    let _ptl = mm.page_table_lock.lock();
    let Some(pte) = crate::mm::memory::pte_offset(mm.pgd, addr, false) else {
        return;
    };
    if *pte != crate::mm::swapops::swp_entry_to_pte(entry) {
        return; // faulted in or unmapped meanwhile
    }
    crate::mm::page::get_page(page);
    crate::mm::rmap::page_add_anon_rmap(page, vma, addr, false);
    *pte = pte_mkold(mk_pte(
        crate::mm::page::page_to_phys(page),
        vma.vm_page_prot,
    ));
    swap_free(entry);
}

/// Bring every swap entry of device `ty` in `vma` back into memory (Linux: `unuse_vma`
/// -> `unuse_pte_range`). The entries of 64 pages at a time are gathered under the
/// page-table lock, then each page is read (or found in the swap cache) with no spinlock
/// held. ENOMEM when a page
/// cannot be had: what was brought in stays, the rest stays on the device.
fn unuse_vma(
    mm: &crate::mm::mm_types::MmStruct,
    vma: &crate::mm::vma::VmArea,
    ty: usize,
) -> KResult<()> {
    use crate::mm::pagemap::{lock_page, unlock_page, wait_on_page_locked};
    use crate::mm::swapops::{is_swap_pte, pte_to_swp_entry, swp_type};
    // A batch of pages at a time, on the stack: no allocation grows with the VMA.
    const BATCH: usize = 64;
    let mut from = vma.vm_start;
    while from < vma.vm_end {
        let to = vma.vm_end.min(from + BATCH * PAGE_SIZE);
        let mut found = [(0usize, SwpEntry::default()); BATCH];
        let mut n = 0;
        {
            let _ptl = mm.page_table_lock.lock();
            crate::mm::memory::for_each_pte(mm.pgd, from, to, |va, pte| {
                if is_swap_pte(*pte) && swp_type(pte_to_swp_entry(*pte)) == ty {
                    found[n] = (va, pte_to_swp_entry(*pte));
                    n += 1;
                }
            });
        }
        for &(addr, entry) in &found[..n] {
            let page = match crate::mm::swap_state::lookup_swap_cache(entry) {
                Some(page) => page,
                None => crate::mm::swap_state::read_swap_cache_async(
                    entry,
                    crate::mm::page_alloc::GfpFlags::GFP_KERNEL,
                )
                .ok_or(Errno::ENOMEM)?,
            };
            wait_on_page_locked(page);
            if !page.test(crate::mm::page::PageFlags::PG_uptodate) {
                crate::mm::page::put_page(page);
                return Err(Errno::EIO);
            }
            unuse_pte(mm, vma, addr, entry, page);
            lock_page(page);
            try_to_free_swap(page);
            unlock_page(page);
            crate::mm::page::put_page(page);
        }
        from = to;
    }
    Ok(())
}

/// swapoff's work: bring every page on device `ty` back into memory and free its slots
/// (Linux: `try_to_unuse`): tmpfs pages (`shmem_unuse`), each mm's anonymous VMAs
/// (`unuse_mm`, over the mm list), then
/// the swap-cache pages no PTE names any more. The device takes no new pages meanwhile
/// (SWP_WRITEOK is off). ENOMEM (nothing lost: the caller puts the device back) when
/// memory runs out; EBUSY if slots are still in use after the walk.
#[no_mangle]
#[inline(never)]
pub fn try_to_unuse(ty: usize) -> KResult<()> {
    // tmpfs pages first, as 5.10 does: their entries live in tmpfs mappings, not PTEs.
    crate::mm::shmem::shmem_unuse(ty)?;
    let mut result = Ok(());
    crate::mm::mm_types::for_each_mm(|mm| {
        if result.is_err() {
            return;
        }
        // Linux: unuse_mm, under mmap_read_lock.
        let guard = crate::mm::mmap_lock::mmap_read_lock(mm);
        for vma in guard.vmas() {
            if vma.anon_vma.is_some() {
                if let Err(e) = unuse_vma(mm, vma, ty) {
                    result = Err(e);
                    break;
                }
            }
        }
    });
    result?;
    crate::mm::swap_state::free_swap_cache_of_type(ty);
    if inuse_pages_of(ty) != 0 {
        return Err(Errno::EBUSY);
    }
    Ok(())
}

/// Slots in use on area `ty` (its `inuse_pages`); 0 for no area.
fn inuse_pages_of(ty: usize) -> usize {
    let t = SWAP_INFO.lock();
    t.swap_info
        .get(ty)
        .and_then(|s| s.as_ref())
        .map_or(0, |si| si.inuse_pages)
}

#[cfg(test)]
#[path = "swapfile_tests.rs"]
mod tests;

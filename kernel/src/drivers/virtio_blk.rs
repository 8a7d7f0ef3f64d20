//! virtio-blk over virtio-mmio: the disk the root file system lives on.
//!
//! Linux: `drivers/block/virtio_blk.c` (`virtblk_probe`, `virtblk_request`) on top of
//! `drivers/virtio/virtio_mmio.c` (`vm_probe`). The virtqueue and request formats come from
//! the `virtio-drivers` crate; this file supplies its [`Hal`] (DMA memory from the page
//! allocator, physical = linear-map address, no IOMMU) and probes the device tree's
//! virtio-mmio slots (most are empty: device id 0).
//!
//! Requests complete by interrupt: the submitter puts the request on the virtqueue
//! (`read_blocks_nb`), drops the device lock and sleeps TASK_UNINTERRUPTIBLE on the
//! device's wait queue; the device's interrupt (`virtblk_done`) sees the used ring move,
//! marks the request done and wakes it; the submitter takes the lock again to collect the
//! result (`complete_read_blocks`). Another task runs meanwhile. One request is in flight
//! per device (the bounce buffer is shared): `busy` is the queue's only tag, and later
//! submitters sleep on the same wait queue until it is free (Linux: blk-mq's tag wait).
//!
//! A caller that cannot sleep polls the used ring instead: early boot before the
//! scheduler (probe, mounting the cpio root), the idle task (`wfi` between looks), and a
//! caller with interrupts masked, which holds a `SpinLockIrq` (a file's `f_pos` lock
//! during read(2)): sleeping there would leave the lock held while other tasks run, and
//! one of them spinning on it with interrupts off would never give the CPU back.
//!
//! Callers: `fs::prepare_namespace` (probe, find the cpio root disk), the root fs's
//! `readpage` through [`BlockDevice::read_bytes`].
use crate::arch::{virt_to_phys, PAGE_SIZE};
use crate::errno::{Errno, KResult};
use crate::fs::block_dev::BlockDevice;
use crate::mm::page::{page_address, page_to_phys, pfn_to_page, pfn_valid};
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::mm::phys_pfn;
use crate::mm::swapfile::SwapBdev;
use crate::sync::wait::{can_sleep, sched_ops};
use crate::sync::{SpinLockIrq, WaitQueueHead};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use virtio_drivers::device::blk::{BlkReq, BlkResp, RespStatus, VirtIOBlk, SECTOR_SIZE};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

/// The `virtio-drivers` glue: DMA pages from the buddy allocator, addresses through the
/// linear map. Linux does the same job with the DMA API (`dma_alloc_coherent`,
/// `dma_map_single`), which on a machine without an IOMMU is also the identity.
pub struct KernelHal;

/// Smallest order whose block holds `pages` pages.
fn order_for(pages: usize) -> usize {
    pages.max(1).next_power_of_two().trailing_zeros() as usize
}

// SAFETY: dma_alloc returns zeroed, exclusively owned, page-aligned linear-map memory; the
// other methods translate addresses of memory the caller owns.
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match alloc_pages(
            GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO,
            order_for(pages),
        ) {
            Some(page) => (
                page_to_phys(page) as PhysAddr,
                NonNull::new(page_address(page) as *mut u8).expect("linear map address is 0"),
            ),
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        __free_pages(pfn_to_page(phys_pfn(paddr as usize)), order_for(pages));
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // Only the PCI transport asks; map it like any other device window.
        let va = crate::mm::ioremap::ioremap(paddr as usize, size);
        NonNull::new(va as *mut u8).expect("ioremap returned 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        // No IOMMU, no bounce: the device sees the buffer's physical address. Buffers are
        // in the linear map (pages, heap, kernel stacks) and physically contiguous.
        virt_to_phys(buffer.as_ptr() as *mut u8 as usize) as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// Pages in each device's bounce buffer: reads of arbitrary byte ranges go through it.
/// 256 KiB: one request carries a whole default readahead window (Linux:
/// `VM_READAHEAD_PAGES`, 32 pages, 128 KiB) even from a start that is not sector-aligned
/// (cpio file data is aligned to 4 bytes only), and larger windows in a few.
const BOUNCE_ORDER: usize = 6;
const BOUNCE_BYTES: usize = PAGE_SIZE << BOUNCE_ORDER;

struct VirtioBlkInner {
    dev: VirtIOBlk<KernelHal, MmioTransport<'static>>,
    /// Linear-map address of a physically contiguous DMA buffer of `BOUNCE_BYTES`.
    bounce: usize,
    /// The request header and status of the request in flight: boxed, so the device
    /// sees the same addresses from submission to completion.
    req: Box<BlkReq>,
    resp: Box<BlkResp>,
    /// Descriptor token of the request in flight.
    token: Option<u16>,
}

// SAFETY: the transport's MMIO window is ours alone (mapped once, never unmapped), and all
// access goes through the device lock.
unsafe impl Send for VirtioBlkInner {}

/// One virtio block device (Linux: `struct virtio_blk` + its `gendisk`).
pub struct VirtioBlk {
    inner: SpinLockIrq<VirtioBlkInner>,
    /// A request owns the virtqueue and the bounce buffer (Linux: the one tag of a
    /// queue of depth 1). Taken and released outside the device lock.
    busy: AtomicBool,
    /// The interrupt saw the request in flight complete (Linux: `blk_mq_complete_request`).
    done: AtomicBool,
    /// A request was submitted and its submitter has not collected the result yet.
    in_flight: AtomicBool,
    /// Submitters waiting for `busy` or `done` (Linux: the tag wait queue and the
    /// waiter of `submit_bio_wait`).
    wait: WaitQueueHead,
    /// Requests submitted, reads and writes (for tests: a plug's pages are one request).
    pub nr_requests: AtomicU64,
    /// Requests whose submitter went to sleep before the device completed them (for tests).
    pub nr_slept: AtomicU64,
    /// Requests completed by polling.
    pub nr_polled: AtomicU64,
    /// Completions whose interrupt found a submitter asleep and woke it (for tests).
    pub nr_irq_wakeups: AtomicU64,
    /// GIC INTID of the device's interrupt (0: none, poll always).
    pub irq: u32,
    /// The interrupt handler is installed: requests may sleep for their completion.
    irq_ok: AtomicBool,
    /// Physical base of the virtio-mmio window (for messages).
    pub mmio_base: usize,
    /// Probe index: 0 for `vda`, 1 for `vdb`... (Linux: `virtblk_name_format`, from the
    /// `vd_index_ida` in probe order).
    pub index: usize,
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    /// The device only allows reads (`VIRTIO_BLK_F_RO`, `readonly=on` in QEMU).
    pub readonly: bool,
}

/// Are interrupts unmasked here? Masked means the caller holds a `SpinLockIrq` (or runs
/// in an interrupt handler): it must neither sleep nor schedule (Linux: `in_atomic()`,
/// `irqs_disabled()`).
fn irqs_enabled() -> bool {
    let flags = crate::arch::cpu::local_irq_save();
    crate::arch::cpu::local_irq_restore(flags);
    flags & DAIF_I == 0
}

/// DAIF.I: IRQs masked (Arm ARM C5.2.2).
const DAIF_I: usize = 1 << 7;

/// Wait until `cond()` holds without sleeping on a queue. With interrupts on (the idle
/// task), `schedule()` first so a task that holds the device can finish, then `wfi`.
/// With interrupts masked (early boot, a caller under a `SpinLockIrq`), spin on `cond`:
/// the caller must not switch away, and a masked interrupt need not end a `wfi` on every
/// machine (seen: QEMU `secure=on`, where the device's interrupt is not signalled to EL1).
fn poll_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        if irqs_enabled() {
            if let Some(ops) = sched_ops() {
                (ops.schedule)();
            }
            if cond() {
                break;
            }
            crate::arch::cpu::wfi();
        } else {
            core::hint::spin_loop();
        }
    }
}

impl VirtioBlk {
    /// `vda`, `vdb`, ... `vdz`, `vdaa`... (Linux: `virtblk_name_format`).
    pub fn disk_name(&self) -> alloc::string::String {
        let mut n = self.index;
        let mut name = alloc::vec::Vec::new();
        loop {
            name.push(b'a' + (n % 26) as u8);
            if n < 26 {
                break;
            }
            n = n / 26 - 1;
        }
        name.extend_from_slice(b"dv");
        name.reverse();
        alloc::string::String::from_utf8(name).unwrap_or_default()
    }

    /// Is a request in flight: submitted, and its result not yet collected by its submitter
    /// (it may be asleep waiting for the interrupt, or woken and not yet run)?
    pub fn request_in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Read whole sectors from `sector` into the `len` bytes at `buf` (`write` false), or
    /// write them from there (`write` true), by interrupt and sleeping when the caller can,
    /// else by polling. `buf` is the linear-map address of physically contiguous memory
    /// the device may use until this returns: the bounce buffer, or a page frame of the
    /// swap code's (see [`SwapBdev`] below). The caller owns `busy`. Linux:
    /// `virtio_queue_rq` (submit), `virtblk_done` (completion), `submit_bio_wait` (the
    /// sleep).
    #[no_mangle]
    #[inline(never)]
    pub fn virtblk_rw_sectors(
        &self,
        sector: u64,
        buf: usize,
        len: usize,
        write: bool,
    ) -> KResult<()> {
        if write && self.readonly {
            return Err(Errno::EROFS);
        }
        let sleep = can_sleep() && irqs_enabled() && self.irq_ok.load(Ordering::Acquire);
        let token = {
            let mut inner = self.inner.lock();
            let inner = &mut *inner;
            self.done.store(false, Ordering::Relaxed);
            // SAFETY: `buf` is `len` bytes the caller lends the device until we return (the
            // bounce buffer is ours while we own `busy`); a write only reads it. req, resp
            // (boxed) and the buffer stay untouched until complete_*_blocks below: we own
            // `busy`, nobody else uses them.
            let token = unsafe {
                if write {
                    let src = core::slice::from_raw_parts(buf as *const u8, len);
                    inner
                        .dev
                        .write_blocks_nb(sector as usize, &mut inner.req, src, &mut inner.resp)
                } else {
                    let dma = core::slice::from_raw_parts_mut(buf as *mut u8, len);
                    inner
                        .dev
                        .read_blocks_nb(sector as usize, &mut inner.req, dma, &mut inner.resp)
                }
            }
            .map_err(|_| Errno::EIO)?;
            inner.token = Some(token);
            self.in_flight.store(true, Ordering::Release);
            self.nr_requests.fetch_add(1, Ordering::Relaxed);
            token
        };
        if sleep {
            // The device lock is dropped: the interrupt takes it to look at the used ring.
            if !self.done.load(Ordering::Acquire) {
                self.nr_slept.fetch_add(1, Ordering::Relaxed);
            }
            self.wait.wait_event(|| self.done.load(Ordering::Acquire));
        } else {
            poll_until(|| {
                self.done.load(Ordering::Acquire)
                    || self.inner.lock().dev.peek_used() == Some(token)
            });
            self.nr_polled.fetch_add(1, Ordering::Relaxed);
        }
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        inner.token = None;
        self.in_flight.store(false, Ordering::Release);
        // SAFETY: the same req, buffer (as above) and resp that *_blocks_nb was given for
        // `token`.
        let r = unsafe {
            if write {
                let src = core::slice::from_raw_parts(buf as *const u8, len);
                inner
                    .dev
                    .complete_write_blocks(token, &inner.req, src, &mut inner.resp)
            } else {
                let dma = core::slice::from_raw_parts_mut(buf as *mut u8, len);
                inner
                    .dev
                    .complete_read_blocks(token, &inner.req, dma, &mut inner.resp)
            }
        };
        match r {
            Ok(()) if inner.resp.status() == RespStatus::OK => Ok(()),
            _ => Err(Errno::EIO),
        }
    }

    /// The device interrupt: acknowledge it and, when the request in flight is on the used
    /// ring, mark it done and wake its submitter. Linux: `vm_interrupt` -> `vring_interrupt`
    /// -> `virtblk_done`.
    fn handle_irq(&self) {
        let mut inner = self.inner.lock();
        inner.dev.ack_interrupt();
        let completed = inner.token.is_some() && inner.dev.peek_used() == inner.token;
        drop(inner);
        if completed {
            self.done.store(true, Ordering::Release);
            if self.wait.waitqueue_active() {
                self.nr_irq_wakeups.fetch_add(1, Ordering::Relaxed);
            }
            self.wait.wake_up();
        }
    }

    /// Read `buf.len()` bytes from byte offset `off`, whatever the alignment: whole sectors
    /// into the bounce buffer, then copied out. One request in flight per device: later
    /// callers wait (sleeping, TASK_UNINTERRUPTIBLE) for the device to be free. Linux: a
    /// bio through `virtio_queue_rq` and `virtblk_done`, plus the block layer's handling
    /// of partial sectors (which Linux leaves to buffer heads).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EINVAL)?;
        if end > self.capacity * SECTOR_SIZE as u64 {
            return Err(Errno::EIO);
        }
        self.get_busy();
        let r = self.read_through_bounce(off, buf);
        self.put_busy();
        r
    }

    /// Take the device's one request slot, sleeping (TASK_UNINTERRUPTIBLE) while another
    /// request holds it, or polling where sleeping is not allowed (Linux: the tag wait of
    /// `blk_mq_get_tag`).
    fn get_busy(&self) {
        let get = || {
            self.busy
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        };
        if can_sleep() && irqs_enabled() {
            self.wait.wait_event(get);
        } else {
            poll_until(get);
        }
    }

    /// Give the request slot back and wake the next submitter.
    fn put_busy(&self) {
        self.busy.store(false, Ordering::Release);
        self.wait.wake_up();
    }

    /// Write whole sectors: `buf` (a multiple of 512 bytes) at sector `sector`, through
    /// the bounce buffer a piece at a time. Sleeps like [`read_at`](Self::read_at). Linux:
    /// a write bio through `virtio_queue_rq`.
    pub fn write_sectors_at(&self, sector: u64, buf: &[u8]) -> KResult<()> {
        self.check_sectors(sector, buf.len())?;
        self.get_busy();
        let bounce = self.inner.lock().bounce;
        let mut r = Ok(());
        for (i, chunk) in buf.chunks(BOUNCE_BYTES).enumerate() {
            // SAFETY: the bounce buffer is ours while we own `busy`; no request is in
            // flight between two chunks.
            let dma = unsafe { core::slice::from_raw_parts_mut(bounce as *mut u8, chunk.len()) };
            bounce_copy(dma, chunk);
            let at = sector + (i * BOUNCE_BYTES / SECTOR_SIZE) as u64;
            r = self.virtblk_rw_sectors(at, bounce, chunk.len(), true);
            if r.is_err() {
                break;
            }
        }
        self.put_busy();
        r
    }

    /// Write the buffers of `bufs` (each whole sectors) one after the other from sector
    /// `sector`, as one contiguous write: the buffers are gathered into the bounce buffer
    /// and written with as few requests as it allows (Linux: the bios of a plug merged
    /// into one request, `blk_mq_flush_plug_list`). Sleeps like [`read_at`](Self::read_at).
    pub fn write_sectors_at_vectored(&self, sector: u64, bufs: &[&[u8]]) -> KResult<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if bufs.iter().any(|b| !b.len().is_multiple_of(SECTOR_SIZE)) {
            return Err(Errno::EINVAL);
        }
        self.check_sectors(sector, total)?;
        self.get_busy();
        let bounce = self.inner.lock().bounce;
        let (mut at, mut filled) = (sector, 0usize);
        let mut r = Ok(());
        let mut pending = bufs.iter().peekable();
        while let Some(buf) = pending.next() {
            let mut src: &[u8] = buf;
            while !src.is_empty() {
                let n = src.len().min(BOUNCE_BYTES - filled);
                // SAFETY: the bounce buffer is ours while we own `busy`; no request is in
                // flight while it fills.
                let dma =
                    unsafe { core::slice::from_raw_parts_mut((bounce + filled) as *mut u8, n) };
                bounce_copy(dma, &src[..n]);
                (src, filled) = (&src[n..], filled + n);
                // Full, or nothing more to gather: one request for what it holds.
                if filled == BOUNCE_BYTES || (src.is_empty() && pending.peek().is_none()) {
                    r = self.virtblk_rw_sectors(at, bounce, filled, true);
                    at += (filled / SECTOR_SIZE) as u64;
                    filled = 0;
                    if r.is_err() {
                        break;
                    }
                }
            }
            if r.is_err() {
                break;
            }
        }
        self.put_busy();
        r
    }

    /// Read whole sectors into `buf` (a multiple of 512 bytes) from sector `sector`.
    pub fn read_sectors_at(&self, sector: u64, buf: &mut [u8]) -> KResult<()> {
        self.check_sectors(sector, buf.len())?;
        self.read_at(sector * SECTOR_SIZE as u64, buf)
    }

    /// Read (`write` false) or write one whole page frame at `sector` with no bounce
    /// buffer, the device reading or writing the frame itself, as Linux's virtio-blk maps
    /// a bio's pages for the device (`blk_rq_map_sg`). Only for `buf` page-aligned and one
    /// page long in the linear map, which is then one physically contiguous frame; None
    /// for any other buffer (the caller bounces it).
    fn rw_page_frame(
        &self,
        sector: u64,
        buf: usize,
        len: usize,
        write: bool,
    ) -> Option<KResult<()>> {
        if len != PAGE_SIZE
            || !buf.is_multiple_of(PAGE_SIZE)
            || !pfn_valid(phys_pfn(virt_to_phys(buf)))
        {
            return None;
        }
        if let Err(e) = self.check_sectors(sector, len) {
            return Some(Err(e));
        }
        self.get_busy();
        let r = self.virtblk_rw_sectors(sector, buf, len, write);
        self.put_busy();
        Some(r)
    }

    /// EINVAL for a length that is not whole sectors, EIO past the end.
    fn check_sectors(&self, sector: u64, len: usize) -> KResult<()> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return Err(Errno::EINVAL);
        }
        let end = sector
            .checked_add((len / SECTOR_SIZE) as u64)
            .ok_or(Errno::EIO)?;
        if end > self.capacity {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    /// Fill the buffers of `bufs` one after the other from byte offset `off`, as one
    /// contiguous read: as few requests as the bounce buffer allows (Linux: one bio with
    /// a segment per page, `mpage_readahead`). Sleeps like [`read_at`](Self::read_at).
    pub fn read_at_vectored(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let end = off.checked_add(total as u64).ok_or(Errno::EINVAL)?;
        if end > self.capacity * SECTOR_SIZE as u64 {
            return Err(Errno::EIO);
        }
        self.get_busy();
        let bounce = self.inner.lock().bounce;
        let (mut buf, mut at) = (0usize, 0usize); // the buffer being filled, and where
        let mut done = 0usize;
        let mut r = Ok(());
        while done < total {
            let pos = off + done as u64;
            let sector = pos / SECTOR_SIZE as u64;
            let skip = (pos % SECTOR_SIZE as u64) as usize;
            let want = (total - done).min(BOUNCE_BYTES - skip);
            let sectors_bytes = (skip + want).next_multiple_of(SECTOR_SIZE);
            if let Err(e) = self.virtblk_rw_sectors(sector, bounce, sectors_bytes, false) {
                r = Err(e);
                break;
            }
            // SAFETY: the bounce buffer is ours while we own `busy`, and the device is done.
            let dma = unsafe { core::slice::from_raw_parts(bounce as *const u8, sectors_bytes) };
            let mut from = skip;
            let mut left = want;
            while left > 0 {
                let dst = &mut bufs[buf];
                let n = (dst.len() - at).min(left);
                bounce_copy(&mut dst[at..at + n], &dma[from..from + n]);
                (from, left, at) = (from + n, left - n, at + n);
                if at == dst.len() {
                    (buf, at) = (buf + 1, 0);
                }
            }
            done += want;
        }
        self.put_busy();
        r
    }

    /// The body of `read_at`, with `busy` held.
    fn read_through_bounce(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        let bounce = self.inner.lock().bounce;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let sector = pos / SECTOR_SIZE as u64;
            let skip = (pos % SECTOR_SIZE as u64) as usize;
            let want = (buf.len() - done).min(BOUNCE_BYTES - skip);
            let sectors_bytes = (skip + want).next_multiple_of(SECTOR_SIZE);
            self.virtblk_rw_sectors(sector, bounce, sectors_bytes, false)?;
            // SAFETY: the bounce buffer is ours while we own `busy`, and the device is done.
            let dma = unsafe { core::slice::from_raw_parts(bounce as *const u8, sectors_bytes) };
            bounce_copy(&mut buf[done..done + want], &dma[skip..skip + want]);
            done += want;
        }
        Ok(())
    }
}

/// Copy between the bounce buffer and a caller's buffer: a whole page with the unrolled
/// page copy (most transfers are pages: swap, readahead), anything else byte-wise. The
/// ldp/stp of the page copy accept the 4-byte alignment cpio file data may have: both
/// sides are Normal memory.
fn bounce_copy(dst: &mut [u8], src: &[u8]) {
    if dst.len() == PAGE_SIZE && src.len() == PAGE_SIZE {
        // SAFETY: two distinct PAGE_SIZE buffers (one is the bounce buffer, which no
        // caller's buffer overlaps).
        unsafe { crate::arch::cpu::copy_page(dst.as_mut_ptr() as usize, src.as_ptr() as usize) };
    } else {
        dst.copy_from_slice(src);
    }
}

/// The swap code's view of the disk: whole pages at a sector (Linux: the bios
/// `__swap_writepage` and `swap_readpage` submit to the swap area's block device). Swap
/// I/O is one page frame (`page_address`) at a time, which the device reads or writes in
/// place: copying it through the bounce buffer cost about 2,000 instructions a page
/// (`cargo xtask bench swap`).
impl SwapBdev for VirtioBlk {
    fn read_sectors(&self, sector: u64, buf: &mut [u8]) -> KResult<()> {
        let frame = buf.as_mut_ptr() as usize;
        self.rw_page_frame(sector, frame, buf.len(), false)
            .unwrap_or_else(|| self.read_sectors_at(sector, buf))
    }

    fn write_sectors(&self, sector: u64, buf: &[u8]) -> KResult<()> {
        let frame = buf.as_ptr() as usize;
        self.rw_page_frame(sector, frame, buf.len(), true)
            .unwrap_or_else(|| self.write_sectors_at(sector, buf))
    }

    fn write_sectors_vectored(&self, sector: u64, bufs: &[&[u8]]) -> KResult<()> {
        if let [buf] = bufs {
            return self.write_sectors(sector, buf);
        }
        self.write_sectors_at_vectored(sector, bufs)
    }

    fn read_sectors_vectored(&self, sector: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        if let [buf] = bufs {
            return self.read_sectors(sector, buf);
        }
        self.read_at_vectored(sector * SECTOR_SIZE as u64, bufs)
    }

    fn nr_sectors(&self) -> u64 {
        self.capacity
    }
}

impl BlockDevice for VirtioBlk {
    fn read_bytes(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        self.read_at(off, buf)
    }

    fn read_bytes_vectored(&self, off: u64, bufs: &mut [&mut [u8]]) -> KResult<()> {
        self.read_at_vectored(off, bufs)
    }

    fn size_bytes(&self) -> u64 {
        self.capacity * SECTOR_SIZE as u64
    }
}

/// Every virtio block device found, in slot order.
static VIRTIO_BLKS: SpinLockIrq<Vec<Arc<VirtioBlk>>> = SpinLockIrq::new(Vec::new());

/// The block devices found by [`virtio_blk_init`].
pub fn virtio_blk_devices() -> Vec<Arc<VirtioBlk>> {
    VIRTIO_BLKS.lock().clone()
}

/// Set up one virtio-mmio slot if it holds a block device. Linux: `vm_probe` (magic,
/// version, device id) then `virtblk_probe` (features, capacity, virtqueue).
#[no_mangle]
#[inline(never)]
pub fn virtblk_probe(base: usize, size: usize, irq: u32, index: usize) -> Option<Arc<VirtioBlk>> {
    let va = crate::mm::ioremap::ioremap(base, size);
    let header = NonNull::new(va as *mut VirtIOHeader)?;
    // SAFETY: `va` maps the whole slot as device memory, forever, and nothing else uses it.
    // An empty slot (device id 0) or a bad magic is an error, not a fault.
    let transport = unsafe { MmioTransport::new(header, size) }.ok()?;
    if transport.device_type() != DeviceType::Block {
        return None;
    }
    let dev = match VirtIOBlk::<KernelHal, _>::new(transport) {
        Ok(dev) => dev,
        Err(e) => {
            pr_warn!("virtio_blk: device at {base:#x} failed to initialise: {e:?}");
            return None;
        }
    };
    let bounce = alloc_pages(GfpFlags::GFP_KERNEL, BOUNCE_ORDER)?;
    let (capacity, readonly) = (dev.capacity(), dev.readonly());
    Some(Arc::new(VirtioBlk {
        inner: SpinLockIrq::new(VirtioBlkInner {
            dev,
            bounce: page_address(bounce),
            req: Box::default(),
            resp: Box::default(),
            token: None,
        }),
        busy: AtomicBool::new(false),
        done: AtomicBool::new(false),
        in_flight: AtomicBool::new(false),
        wait: WaitQueueHead::new(),
        nr_requests: AtomicU64::new(0),
        nr_slept: AtomicU64::new(0),
        nr_polled: AtomicU64::new(0),
        nr_irq_wakeups: AtomicU64::new(0),
        irq,
        irq_ok: AtomicBool::new(false),
        mmio_base: base,
        index,
        capacity,
        readonly,
    }))
}

/// Probe every virtio-mmio slot of the device tree and register the block devices.
/// Returns how many were found. Linux: `virtio_blk_init` + the virtio bus's probing.
#[no_mangle]
#[inline(never)]
pub fn virtio_blk_init() -> usize {
    let info = crate::init::boot_info();
    let mut found = Vec::new();
    // Highest address first. QEMU's `virt` plugs the first `-device` of its command line
    // into the virtio-mmio transport with the highest address, the next one below it, and
    // writes the device-tree nodes so that Linux, probing in tree order, meets them in
    // command-line order: the root disk (xtask's first drive) is vda, a swap disk vdb.
    // Our slot list is sorted by address, so walk it backwards to get the same names.
    for slot in info.virtio[..info.nr_virtio].iter().rev() {
        if let Some(blk) = virtblk_probe(slot.base, slot.size.max(0x200), slot.irq, found.len()) {
            pr_info!(
                "virtio_blk: {} @ {:#x} irq {}: {} sectors ({} KiB){}",
                blk.disk_name(),
                slot.base,
                slot.irq,
                blk.capacity,
                blk.capacity / 2,
                if blk.readonly { ", read-only" } else { "" }
            );
            found.push(blk);
        }
    }
    let n = found.len();
    *VIRTIO_BLKS.lock() = found.clone();
    for blk in found.iter().filter(|b| b.irq != 0) {
        // Devices may share a line; the handler looks at every device anyway.
        let shared = found
            .iter()
            .any(|o| o.irq == blk.irq && o.irq_ok.load(Ordering::Relaxed));
        if shared || crate::drivers::irqchip::request_irq(blk.irq, virtblk_interrupt).is_ok() {
            blk.irq_ok.store(true, Ordering::Release);
        } else {
            pr_warn!(
                "virtio_blk: no handler slot for irq {}: requests will be polled",
                blk.irq
            );
        }
    }
    n
}

/// The interrupt of every virtio block device (the handler table passes no argument, so
/// each device looks at its own used ring). Linux: `vm_interrupt` for each virtio-mmio
/// device.
#[no_mangle]
#[inline(never)]
pub fn virtblk_interrupt() {
    // try_lock: the list is only written at boot; an interrupt never waits for it.
    let Some(devs) = VIRTIO_BLKS.try_lock() else {
        return;
    };
    for d in devs.iter() {
        d.handle_irq();
    }
}

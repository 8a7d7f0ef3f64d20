//! virtio-blk over virtio-mmio: the disk the root file system lives on.
//!
//! Linux: `drivers/block/virtio_blk.c` (`virtblk_probe`, `virtblk_request`) on top of
//! `drivers/virtio/virtio_mmio.c` (`vm_probe`). The virtqueue and request formats come from
//! the `virtio-drivers` crate; this file supplies its [`Hal`] (DMA memory from the page
//! allocator, physical = linear-map address, no IOMMU) and probes the device tree's
//! virtio-mmio slots (most are empty: device id 0).
//!
//! Requests are polled: the submitting CPU spins on the used ring with the device lock held
//! (interrupts off), which for QEMU's in-process disk is a few microseconds of host time.
//! Callers: `fs::prepare_namespace` (probe, find the cpio root disk), the root fs's
//! `readpage` through [`BlockDevice::read_bytes`].
use crate::arch::{virt_to_phys, PAGE_SIZE};
use crate::errno::{Errno, KResult};
use crate::fs::block_dev::BlockDevice;
use crate::mm::page::{page_address, page_to_phys, pfn_to_page};
use crate::mm::page_alloc::{__free_pages, alloc_pages, GfpFlags};
use crate::mm::phys_pfn;
use crate::sync::SpinLockIrq;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;
use virtio_drivers::device::blk::{VirtIOBlk, SECTOR_SIZE};
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
const BOUNCE_ORDER: usize = 1;
const BOUNCE_BYTES: usize = PAGE_SIZE << BOUNCE_ORDER;

struct VirtioBlkInner {
    dev: VirtIOBlk<KernelHal, MmioTransport<'static>>,
    /// Linear-map address of a physically contiguous DMA buffer of `BOUNCE_BYTES`.
    bounce: usize,
}

// SAFETY: the transport's MMIO window is ours alone (mapped once, never unmapped), and all
// access goes through the device lock.
unsafe impl Send for VirtioBlkInner {}

/// One virtio block device (Linux: `struct virtio_blk` + its `gendisk`).
pub struct VirtioBlk {
    inner: SpinLockIrq<VirtioBlkInner>,
    /// Physical base of the virtio-mmio window (for messages).
    pub mmio_base: usize,
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    /// The device only allows reads (`VIRTIO_BLK_F_RO`, `readonly=on` in QEMU).
    pub readonly: bool,
}

impl VirtioBlk {
    /// Read `buf.len()` bytes from byte offset `off`, whatever the alignment: whole sectors
    /// into the bounce buffer, then copied out. Polled. Linux: a bio through
    /// `virtio_queue_rq` and `virtblk_done`, plus the block layer's handling of partial
    /// sectors (which Linux leaves to buffer heads).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EINVAL)?;
        if end > self.capacity * SECTOR_SIZE as u64 {
            return Err(Errno::EIO);
        }
        let mut inner = self.inner.lock();
        let bounce = inner.bounce;
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let sector = pos / SECTOR_SIZE as u64;
            let skip = (pos % SECTOR_SIZE as u64) as usize;
            let want = (buf.len() - done).min(BOUNCE_BYTES - skip);
            let sectors_bytes = (skip + want).next_multiple_of(SECTOR_SIZE);
            // SAFETY: the bounce buffer is ours, BOUNCE_BYTES long, and only used under the lock.
            let dma = unsafe { core::slice::from_raw_parts_mut(bounce as *mut u8, sectors_bytes) };
            inner
                .dev
                .read_blocks(sector as usize, dma)
                .map_err(|_| Errno::EIO)?;
            buf[done..done + want].copy_from_slice(&dma[skip..skip + want]);
            done += want;
        }
        Ok(())
    }
}

impl BlockDevice for VirtioBlk {
    fn read_bytes(&self, off: u64, buf: &mut [u8]) -> KResult<()> {
        self.read_at(off, buf)
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
pub fn virtblk_probe(base: usize, size: usize) -> Option<Arc<VirtioBlk>> {
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
        }),
        mmio_base: base,
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
    for slot in &info.virtio[..info.nr_virtio] {
        if let Some(blk) = virtblk_probe(slot.base, slot.size.max(0x200)) {
            pr_info!(
                "virtio_blk: vd{} @ {:#x} irq {}: {} sectors ({} KiB){}",
                (b'a' + found.len() as u8) as char,
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
    *VIRTIO_BLKS.lock() = found;
    n
}

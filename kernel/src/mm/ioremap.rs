//! Mapping device registers into the kernel's address space. Linux: `mm/ioremap.c`,
//! `arch/arm64/mm/ioremap.c` (`__ioremap_caller`).
//!
//! MMIO windows get Device-nGnRE pages from a simple bump area above `IOREMAP_START`
//! (Linux carves them out of vmalloc space). Page tables come from memblock during boot
//! and from the page allocator afterwards.
use crate::arch::aarch64::memory::{align_down, align_up, IOREMAP_END, IOREMAP_START};
use crate::arch::aarch64::mmu::create_pgd_mapping;
use crate::arch::aarch64::pgtable::PROT_DEVICE_NGNRE;
use crate::arch::PAGE_SIZE;
use crate::sync::SpinLockIrq;

static NEXT_VA: SpinLockIrq<usize> = SpinLockIrq::new(IOREMAP_START);

/// Map `size` bytes of device memory at physical `pa`; the virtual address of `pa`.
/// Panics when the area is exhausted (only boot-time drivers call it).
#[no_mangle]
#[inline(never)]
pub fn ioremap(pa: usize, size: usize) -> usize {
    let base = align_down(pa, PAGE_SIZE);
    let len = align_up(pa + size, PAGE_SIZE) - base;
    let mut next = NEXT_VA.lock();
    let va = *next;
    assert!(va + len <= IOREMAP_END, "ioremap: area exhausted");
    // A guard page between windows catches overruns.
    *next = va + len + PAGE_SIZE;
    drop(next);
    create_pgd_mapping(
        crate::mm::init_mm::swapper_pg_dir(),
        va,
        base,
        len,
        PROT_DEVICE_NGNRE,
        &mut crate::mm::init_mm::pgtable_alloc,
    )
    .expect("ioremap: out of memory for page tables");
    va + (pa - base)
}

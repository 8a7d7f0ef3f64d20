//! Installing an address space on the CPU. Linux: `arch/arm64/include/asm/mmu_context.h`
//! (`switch_mm`), `arch/arm64/mm/context.c` (`check_and_switch_context`, the ASID
//! allocator with generations and rollover).
//!
//! The allocator itself is arch code (`arch::aarch64::context`); this file keeps its one
//! instance and ties it to `mm->context`.
use crate::arch::aarch64::context::{AsidAllocator, ASID_BITS};
use crate::arch::cpu;
use crate::mm::mm_types::MmStruct;
use crate::sync::SpinLockIrq;
use core::sync::atomic::Ordering;

static ASIDS: SpinLockIrq<Option<AsidAllocator>> = SpinLockIrq::new(None);

/// Make `mm` the live user address space in TTBR0, giving it a current-generation ASID
/// first (Linux: `switch_mm` -> `check_and_switch_context` -> `cpu_switch_mm`). Called by
/// the scheduler with interrupts off, and by exec; takes no sleeping lock.
pub fn switch_mm(mm: &MmStruct) {
    let mut guard = ASIDS.lock();
    let alloc = guard.get_or_insert_with(|| AsidAllocator::new(ASID_BITS));
    let r = alloc.check_and_switch_context(mm.context.id.load(Ordering::Relaxed));
    mm.context.id.store(r.context_id, Ordering::Relaxed);
    let asid = alloc.asid(r.context_id);
    drop(guard);
    if r.flush_all {
        cpu::flush_tlb_all();
    }
    cpu::set_ttbr0(mm.pgd, asid);
}

/// Point TTBR0 at the empty table: no user space (kernel threads, an exiting task).
/// Linux: `cpu_uninstall_idmap`-like `cpu_set_reserved_ttbr0`.
pub fn switch_to_reserved_ttbr0() {
    cpu::set_ttbr0(cpu::reserved_pg_dir(), 0);
}

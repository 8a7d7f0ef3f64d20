//! Host stand-in for `arch::aarch64::cpu`, so the pure kernel code links into unit tests.
//! TLB and barrier operations are no-ops (there is no TLB); the counter counts calls.
use crate::arch::aarch64::extable::ProbeFault;
use core::sync::atomic::{AtomicU64, Ordering};

static FAKE_CNTVCT: AtomicU64 = AtomicU64::new(0);

/// No-op on the host.
pub fn dsb_ishst() {}
/// No-op on the host.
pub fn dsb_ish_isb() {}
/// No-op on the host.
pub fn flush_tlb_all() {}
/// No-op on the host.
pub fn flush_tlb_kernel_page(_va: usize) {}
/// No-op on the host.
pub fn set_ttbr0(_pgd_pa: usize, _asid: u16) {}
/// No-op on the host.
pub fn replace_ttbr1(_pgd_pa: usize) {}
/// No reserved table on the host.
pub fn reserved_pg_dir() -> usize {
    0
}
/// Interrupts do not exist on the host.
pub fn local_irq_save() -> usize {
    0
}
/// Interrupts do not exist on the host.
pub fn local_irq_restore(_flags: usize) {}
/// Interrupts do not exist on the host.
pub fn local_irq_enable() {}
/// Interrupts do not exist on the host.
pub fn local_irq_disable() {}
/// No-op on the host.
pub fn wfi() {}
/// A counter that advances by one per read.
pub fn read_cntvct() -> u64 {
    FAKE_CNTVCT.fetch_add(1, Ordering::Relaxed)
}
/// QEMU virt's counter frequency.
pub fn read_cntfrq() -> u64 {
    62_500_000
}
/// No timer on the host.
pub fn arm_virtual_timer(_ticks: u64) {}
/// No frame chain to walk on the host.
pub fn frame_pointer() -> usize {
    0
}
/// The kernel runs at EL1.
pub fn current_el() -> u64 {
    1
}
/// No vectors on the host.
pub fn set_vbar(_addr: usize) {}
/// GICv3 CPU interface stand-ins.
pub mod icc {
    /// No-op.
    pub fn enable_sre() {}
    /// No-op.
    pub fn set_pmr(_v: u64) {}
    /// No-op.
    pub fn set_igrpen1(_v: u64) {}
    /// Always spurious.
    pub fn read_iar1() -> u64 {
        1023
    }
    /// No-op.
    pub fn write_eoir1(_v: u64) {}
}
/// No firmware on the host.
pub fn psci_call(_use_smc: bool, _func: u64, _a1: u64, _a2: u64, _a3: u64) -> u64 {
    u64::MAX
}
/// No semihosting on the host.
pub fn semihosting_call(_op: u64, _param: usize) -> u64 {
    u64::MAX
}
/// Plain read on the host.
pub fn probe_read_u64(addr: usize) -> Result<u64, ProbeFault> {
    // SAFETY: host tests probe only addresses of their own simulated RAM.
    Ok(unsafe { (addr as *const u64).read_volatile() })
}
/// Plain write on the host.
pub fn probe_write_u64(addr: usize, val: u64) -> Result<(), ProbeFault> {
    // SAFETY: host tests probe only addresses of their own simulated RAM.
    unsafe { (addr as *mut u64).write_volatile(val) };
    Ok(())
}
/// Not possible on the host.
pub fn probe_exec(_addr: usize) -> Result<(), ProbeFault> {
    Err(ProbeFault)
}
/// A made-up image layout for host tests.
pub fn kernel_image() -> crate::arch::aarch64::memory::KernelImage {
    crate::arch::aarch64::memory::KernelImage {
        start: 0xffff_0000_4020_0000,
        text_end: 0xffff_0000_4024_0000,
        rodata_end: 0xffff_0000_4030_0000,
        bss_start: 0xffff_0000_4031_0000,
        end: 0xffff_0000_4040_0000,
    }
}
/// Plain copy on the host (tests pass ordinary pointers as "user" addresses).
/// # Safety
/// The kernel-side buffer must be valid for `n` bytes.
pub unsafe fn raw_copy_from_user(dst: *mut u8, src: usize, n: usize) -> usize {
    // SAFETY: the caller's contract: both buffers are valid for `n` bytes (on the host, user memory is ordinary memory).
    unsafe { core::ptr::copy(src as *const u8, dst, n) };
    0
}
/// Plain copy on the host.
/// # Safety
/// The kernel-side buffer must be valid for `n` bytes.
pub unsafe fn raw_copy_to_user(dst: usize, src: *const u8, n: usize) -> usize {
    // SAFETY: the caller's contract: both buffers are valid for `n` bytes.
    unsafe { core::ptr::copy(src, dst as *mut u8, n) };
    0
}
/// No-op on the host.
pub fn flush_tlb_page(_asid: u16, _va: usize) {}
/// No-op on the host.
pub fn flush_tlb_asid(_asid: u16) {}
/// FP/SIMD register file stand-in.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FpsimdState {
    /// q0..q31.
    pub vregs: [u128; 32],
    /// FPSR.
    pub fpsr: u32,
    /// FPCR.
    pub fpcr: u32,
}
impl FpsimdState {
    /// All zero.
    pub const fn new() -> Self {
        FpsimdState {
            vregs: [0; 32],
            fpsr: 0,
            fpcr: 0,
        }
    }
}
/// No-op on the host.
///
/// # Safety
/// None needed.
pub unsafe fn fpsimd_save(_st: *mut FpsimdState) {}
/// No-op on the host.
///
/// # Safety
/// None needed.
pub unsafe fn fpsimd_load(_st: *const FpsimdState) {}
/// No-op on the host.
pub fn enable_user_fp_and_counter() {}
/// The host has no ID registers: every one reads as 0.
pub fn read_cpuid_reg(_id: u32) -> u64 {
    0
}
/// The host has no TPIDR_EL0: reads as 0.
pub fn read_tpidr_el0() -> u64 {
    0
}
/// No-op on the host.
pub fn write_tpidr_el0(_v: u64) {}
/// There is no second kernel stack on the host: scheduling never switches.
///
/// # Safety
/// None needed.
pub unsafe fn cpu_switch_to(_prev: *mut u8, _next: *const u8) {
    unreachable!("cpu_switch_to on the host")
}
/// No entry code on the host.
pub fn ret_from_fork_addr() -> usize {
    0
}
/// Zero a page with plain stores on the host.
///
/// # Safety
/// `va` must point to a whole writable page.
pub unsafe fn clear_page(va: usize) {
    // SAFETY: the caller's contract: `va` is a whole writable page.
    unsafe { core::ptr::write_bytes(va as *mut u8, 0, crate::arch::PAGE_SIZE) };
}
/// Copy a page with memcpy on the host.
///
/// # Safety
/// Both must point to whole pages.
pub unsafe fn copy_page(dst: usize, src: usize) {
    // SAFETY: the caller's contract: both are whole, distinct pages.
    unsafe {
        core::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, crate::arch::PAGE_SIZE)
    };
}

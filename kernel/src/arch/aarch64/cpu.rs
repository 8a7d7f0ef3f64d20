//! The system instructions the rest of the kernel needs, and nothing else: barriers, TLB
//! maintenance, translation-table base registers, the interrupt mask, the counter.
//! `arch/host.rs` has the same functions for unit tests. Linux: `asm/barrier.h`,
//! `asm/tlbflush.h`, `asm/mmu_context.h`, `asm/irqflags.h`, `asm/arch_timer.h`.
use super::extable::ProbeFault;
use aarch64_cpu::{asm::barrier, registers::*};
use core::arch::asm;

/// `dsb ishst`: make page-table stores visible to the table walker (before a TLBI).
#[inline(always)]
pub fn dsb_ishst() {
    // SAFETY: a barrier: it orders memory accesses and changes no state the compiler tracks.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) }
}

/// `dsb ish; isb`: wait for TLB maintenance, then resynchronise the pipeline.
#[inline(always)]
pub fn dsb_ish_isb() {
    // SAFETY: barriers: they order accesses and the instruction stream, nothing else.
    unsafe { asm!("dsb ish", "isb", options(nostack, preserves_flags)) }
}

/// Invalidate every EL1&0 TLB entry (Linux: `flush_tlb_all`).
#[inline(always)]
pub fn flush_tlb_all() {
    // SAFETY: TLB maintenance and barriers at EL1 invalidate cached translations only; the page tables the kernel uses are unchanged.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    }
}

/// Invalidate the kernel (global) entries for one page (Linux: `flush_tlb_kernel_range`).
#[inline(always)]
pub fn flush_tlb_kernel_page(va: usize) {
    let arg = (va >> 12) & ((1 << 44) - 1);
    // SAFETY: invalidates one kernel VA's TLB entries at EL1; the tables themselves are unchanged.
    unsafe {
        asm!("dsb ishst", "tlbi vaale1is, {0}", "dsb ish", "isb", in(reg) arg, options(nostack, preserves_flags))
    }
}

/// Point TTBR0 (user half) at `pgd_pa`, with ASID `asid`.
#[inline(always)]
pub fn set_ttbr0(pgd_pa: usize, asid: u16) {
    TTBR0_EL1.write(TTBR0_EL1::ASID.val(asid as u64) + TTBR0_EL1::BADDR.val(pgd_pa as u64 >> 1));
    barrier::isb(barrier::SY);
}

/// Replace the kernel's TTBR1 tables with break-before-make, running from the identity
/// map (Linux: `cpu_replace_ttbr1`). The identity map must still be live in TTBR0.
pub fn replace_ttbr1(pgd_pa: usize) {
    extern "C" {
        fn idmap_cpu_replace_ttbr1(pgd_pa: usize);
    }
    let f = idmap_cpu_replace_ttbr1 as *const () as usize;
    let phys = super::memory::virt_to_phys(f);
    // SAFETY: the trampoline runs from the identity map that replace_ttbr1 needs and returns with the new table live; it clobbers only the registers listed.
    unsafe {
        asm!("blr {f}", f = in(reg) phys, in("x0") pgd_pa, out("x1") _, lateout("x0") _,
             out("x30") _, options(nostack))
    }
}

/// Physical address of the always-empty table installed in TTBR0 when no user space runs.
pub fn reserved_pg_dir() -> usize {
    extern "C" {
        static reserved_pg_dir: u8;
    }
    // SAFETY: taking the address of a linker-provided symbol reads nothing.
    super::memory::virt_to_phys(unsafe { &reserved_pg_dir as *const u8 as usize })
}

/// Mask IRQs and return the previous DAIF (Linux: `arch_local_irq_save`).
#[inline(always)]
pub fn local_irq_save() -> usize {
    let flags: usize;
    // SAFETY: reads DAIF and masks IRQs at EL1: only PSTATE changes.
    unsafe {
        asm!("mrs {0}, daif", "msr daifset, #2", out(reg) flags, options(nostack, preserves_flags))
    }
    flags
}

/// Restore DAIF saved by `local_irq_save`.
#[inline(always)]
pub fn local_irq_restore(flags: usize) {
    // SAFETY: restores a DAIF value that local_irq_save read: only PSTATE changes.
    unsafe { asm!("msr daif, {0}", in(reg) flags, options(nostack, preserves_flags)) }
}

/// Unmask IRQs.
#[inline(always)]
pub fn local_irq_enable() {
    // SAFETY: unmasks IRQs at EL1: only PSTATE changes; handlers save what they use.
    unsafe { asm!("msr daifclr, #2", options(nostack, preserves_flags)) }
}

/// Mask IRQs.
#[inline(always)]
pub fn local_irq_disable() {
    // SAFETY: masks IRQs at EL1: only PSTATE changes.
    unsafe { asm!("msr daifset, #2", options(nostack, preserves_flags)) }
}

/// Wait for an interrupt (Linux: `cpu_do_idle`).
#[inline(always)]
pub fn wfi() {
    // SAFETY: waits for an interrupt; no memory or register the compiler tracks changes.
    unsafe { asm!("dsb sy", "wfi", options(nostack, preserves_flags)) }
}

/// The virtual counter (CNTVCT_EL0). Under `-icount shift=0` one tick is 1/freq s of
/// virtual time, and one guest instruction is 1 ns of it.
#[inline(always)]
pub fn read_cntvct() -> u64 {
    barrier::isb(barrier::SY);
    CNTVCT_EL0.get()
}

/// Counter frequency in Hz (CNTFRQ_EL0).
#[inline(always)]
pub fn read_cntfrq() -> u64 {
    CNTFRQ_EL0.get()
}

/// Program the EL1 virtual timer to fire in `ticks` counter ticks.
#[inline(always)]
pub fn arm_virtual_timer(ticks: u64) {
    CNTV_TVAL_EL0.set(ticks);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// The frame pointer (x29) of the caller's frame.
#[inline(always)]
pub fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reads the frame-pointer register; no memory access.
    unsafe { asm!("mov {0}, x29", out(reg) fp, options(nomem, nostack, preserves_flags)) }
    fp
}

/// The current exception level.
#[inline(always)]
pub fn current_el() -> u64 {
    CurrentEL.read(CurrentEL::EL)
}

/// Set VBAR_EL1.
#[inline(always)]
pub fn set_vbar(addr: usize) {
    VBAR_EL1.set(addr as u64);
    barrier::isb(barrier::SY);
}

/// Read one GICv3 CPU-interface system register or write one; see `drivers::irqchip`.
pub mod icc {
    use core::arch::asm;
    /// Enable the system-register interface at EL1 (ICC_SRE_EL1.SRE).
    pub fn enable_sre() {
        // SAFETY: enables the GICv3 system-register interface at EL1 (the CPU has one: only called on GICv3).
        unsafe {
            asm!("mrs {t}, ICC_SRE_EL1", "orr {t}, {t}, #1", "msr ICC_SRE_EL1, {t}", "isb", t = out(reg) _)
        }
    }
    /// ICC_PMR_EL1: priority mask.
    pub fn set_pmr(v: u64) {
        // SAFETY: writes the GICv3 priority mask; the interface was enabled by enable_sre.
        unsafe { asm!("msr ICC_PMR_EL1, {0}", in(reg) v) }
    }
    /// ICC_IGRPEN1_EL1: enable group-1 interrupts.
    pub fn set_igrpen1(v: u64) {
        // SAFETY: enables group 1 interrupts in the GICv3 CPU interface.
        unsafe { asm!("msr ICC_IGRPEN1_EL1, {0}", "isb", in(reg) v) }
    }
    /// ICC_IAR1_EL1: acknowledge; returns the INTID.
    pub fn read_iar1() -> u64 {
        let v: u64;
        // SAFETY: acknowledges the highest-priority pending interrupt (a GICv3 register read).
        unsafe { asm!("mrs {0}, ICC_IAR1_EL1", out(reg) v) }
        v
    }
    /// ICC_EOIR1_EL1: end of interrupt.
    pub fn write_eoir1(v: u64) {
        // SAFETY: signals end of interrupt for an INTID read from IAR1.
        unsafe { asm!("msr ICC_EOIR1_EL1, {0}", "isb", in(reg) v) }
    }
}

/// Make a PSCI call through `hvc` (`use_smc` false) or `smc` (Linux: `__invoke_psci_fn_hvc`).
pub fn psci_call(use_smc: bool, func: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let ret: u64;
    // SAFETY: a PSCI call through the conduit the device tree names; firmware preserves what the SMCCC says it does and x0-x3 are marked clobbered.
    unsafe {
        if use_smc {
            asm!("smc #0", inlateout("x0") func => ret, in("x1") a1, in("x2") a2, in("x3") a3, options(nostack))
        } else {
            asm!("hvc #0", inlateout("x0") func => ret, in("x1") a1, in("x2") a2, in("x3") a3, options(nostack))
        }
    }
    ret
}

/// An Arm semihosting call (`hlt #0xf000`); QEMU must run with `-semihosting`.
pub fn semihosting_call(op: u64, param: usize) -> u64 {
    let ret: u64;
    // SAFETY: a semihosting call: QEMU reads the parameter block `param` points at, which the caller keeps alive.
    unsafe { asm!("hlt #0xf000", inlateout("x0") op => ret, in("x1") param, options(nostack)) }
    ret
}

/// Read a u64 at `addr`; a fault is caught through the exception table and reported as
/// `Err(ProbeFault)` instead of killing the kernel (Linux: `get_kernel_nofault`).
pub fn probe_read_u64(addr: usize) -> Result<u64, ProbeFault> {
    let (val, err): (u64, u64);
    // SAFETY: a probed load: a fault at the load is fixed up through the exception table, which records the faulting address.
    unsafe {
        asm!(
            "mov {err}, #0",
            "1: ldr {val}, [{addr}]",
            "b 3f",
            "2: mov {err}, #1",
            "mov {val}, #0",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 1b, 2b",
            ".popsection",
            addr = in(reg) addr, val = out(reg) val, err = out(reg) err, options(nostack)
        )
    }
    if err == 0 {
        Ok(val)
    } else {
        Err(ProbeFault)
    }
}

/// Write a u64 at `addr`, catching a fault as `probe_read_u64` does
/// (Linux: `copy_to_kernel_nofault`).
pub fn probe_write_u64(addr: usize, val: u64) -> Result<(), ProbeFault> {
    let err: u64;
    // SAFETY: a probed store: a fault is fixed up through the exception table.
    unsafe {
        asm!(
            "mov {err}, #0",
            "1: str {val}, [{addr}]",
            "b 3f",
            "2: mov {err}, #1",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 1b, 2b",
            ".popsection",
            addr = in(reg) addr, val = in(reg) val, err = out(reg) err, options(nostack)
        )
    }
    if err == 0 {
        Ok(())
    } else {
        Err(ProbeFault)
    }
}

/// Branch-and-link to `addr`, which must hold a `ret` if it is executable at all. If the
/// fetch faults, `fault.rs` returns to our link register with x0 = 1 (see
/// `extable::EXEC_PROBE`). For the W^X tests only.
pub fn probe_exec(addr: usize) -> Result<(), ProbeFault> {
    super::extable::EXEC_PROBE.store(addr, core::sync::atomic::Ordering::SeqCst);
    let err: u64;
    // SAFETY: a probed call: a fault at the target returns to here with x0 = 1 (fixup_exception's EXEC_PROBE).
    unsafe {
        asm!("blr {addr}", addr = in(reg) addr, inlateout("x0") 0u64 => err, out("x30") _,
             clobber_abi("C"))
    }
    super::extable::EXEC_PROBE.store(0, core::sync::atomic::Ordering::SeqCst);
    if err == 0 {
        Ok(())
    } else {
        Err(ProbeFault)
    }
}

/// The kernel image's sections, as linear-map addresses from the link script.
pub fn kernel_image() -> super::memory::KernelImage {
    extern "C" {
        static __kernel_start: u8;
        static __text_end: u8;
        static __rodata_end: u8;
        static __kernel_end: u8;
        static __bss_start: u8;
    }
    // SAFETY: the section symbols are defined by linker.ld; only their addresses are taken.
    unsafe {
        super::memory::KernelImage {
            start: &__kernel_start as *const u8 as usize,
            text_end: &__text_end as *const u8 as usize,
            rodata_end: &__rodata_end as *const u8 as usize,
            bss_start: &__bss_start as *const u8 as usize,
            end: &__kernel_end as *const u8 as usize,
        }
    }
}

/// Copy `n` bytes from user `src` to kernel `dst` with unprivileged loads (`ldtrb`), so
/// the access is checked with EL0's permissions: a kernel address or an unmapped page
/// faults, and the exception-table fixup turns that into `Err`. Returns bytes not copied
/// (0 on success), like Linux's `raw_copy_from_user`. Faults on mapped-but-absent pages
/// go through the page-fault handler first (demand paging) and only fail if it cannot
/// resolve them.
/// # Safety
/// The kernel-side buffer must be valid for `n` bytes.
pub unsafe fn raw_copy_from_user(dst: *mut u8, src: usize, n: usize) -> usize {
    let left: usize;
    // SAFETY: ldtr loads at EL0 permission; a fault is fixed up through the exception table, and `dst` has room for `n` bytes (the caller's contract).
    unsafe {
        asm!(
            "cbz {n}, 3f",
            "1: ldtrb {t:w}, [{src}]",
            "strb {t:w}, [{dst}], #1",
            "add {src}, {src}, #1",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 1b, 3b",
            ".popsection",
            n = inout(reg) n => left, src = inout(reg) src => _, dst = inout(reg) dst => _,
            t = out(reg) _, options(nostack)
        )
    }
    left
}

/// Copy `n` bytes from kernel `src` to user `dst` with unprivileged stores (`sttrb`);
/// returns bytes not copied (Linux: `raw_copy_to_user`).
/// # Safety
/// The kernel-side buffer must be valid for `n` bytes.
pub unsafe fn raw_copy_to_user(dst: usize, src: *const u8, n: usize) -> usize {
    let left: usize;
    // SAFETY: sttr stores at EL0 permission; a fault is fixed up through the exception table, and `src` holds `n` readable bytes (the caller's contract).
    unsafe {
        asm!(
            "cbz {n}, 3f",
            "2: ldrb {t:w}, [{src}], #1",
            "1: sttrb {t:w}, [{dst}]",
            "add {dst}, {dst}, #1",
            "subs {n}, {n}, #1",
            "b.ne 2b",
            "3:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 1b, 3b",
            ".popsection",
            n = inout(reg) n => left, src = inout(reg) src => _, dst = inout(reg) dst => _,
            t = out(reg) _, options(nostack)
        )
    }
    left
}

/// Invalidate one user page's translation for `asid` on all CPUs (Linux: `flush_tlb_page`).
#[inline(always)]
pub fn flush_tlb_page(asid: u16, va: usize) {
    let arg = ((asid as usize) << 48) | ((va >> 12) & ((1 << 44) - 1));
    // SAFETY: invalidates one user page's TLB entries for this ASID; the tables are unchanged.
    unsafe {
        asm!("dsb ishst", "tlbi vale1is, {0}", "dsb ish", "isb", in(reg) arg, options(nostack, preserves_flags))
    }
}

/// Invalidate every translation tagged with `asid` (Linux: `flush_tlb_mm`).
#[inline(always)]
pub fn flush_tlb_asid(asid: u16) {
    let arg = (asid as usize) << 48;
    // SAFETY: invalidates every TLB entry of one ASID; the tables are unchanged.
    unsafe {
        asm!("dsb ishst", "tlbi aside1is, {0}", "dsb ish", "isb", in(reg) arg, options(nostack, preserves_flags))
    }
}

/// FP/SIMD register file of a task (Linux: `struct user_fpsimd_state`).
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
    /// All zero (the state a new program starts with).
    pub const fn new() -> Self {
        FpsimdState {
            vregs: [0; 32],
            fpsr: 0,
            fpcr: 0,
        }
    }
}

/// Save the live FP/SIMD registers into `st` (Linux: `fpsimd_save_state`).
///
/// # Safety
/// `st` must be valid for writes.
pub unsafe fn fpsimd_save(st: *mut FpsimdState) {
    extern "C" {
        fn fpsimd_save_state(st: *mut FpsimdState);
    }
    // SAFETY: the caller's contract: `st` points at a live task's FP/SIMD save area.
    unsafe { fpsimd_save_state(st) }
}

/// Load the FP/SIMD registers from `st` (Linux: `fpsimd_load_state`).
///
/// # Safety
/// `st` must be valid for reads.
pub unsafe fn fpsimd_load(st: *const FpsimdState) {
    extern "C" {
        fn fpsimd_load_state(st: *const FpsimdState);
    }
    // SAFETY: the caller's contract: `st` points at a live task's FP/SIMD save area.
    unsafe { fpsimd_load_state(st) }
}

/// The user thread pointer, TPIDR_EL0 (Linux: `read_sysreg(tpidr_el0)`).
#[inline(always)]
pub fn read_tpidr_el0() -> u64 {
    TPIDR_EL0.get()
}

/// Set the user thread pointer, TPIDR_EL0 (Linux: `write_sysreg(val, tpidr_el0)`).
#[inline(always)]
pub fn write_tpidr_el0(v: u64) {
    TPIDR_EL0.set(v);
}

/// Read the ID register `id` (a `cpufeature::sys_reg` encoding) from the hardware: MIDR_EL1
/// and the AArch64 feature registers `cpufeature::ARM64_FTR_REGS` tracks; 0 for any other.
/// Linux: `read_cpuid_id` and `read_sysreg_s(SYS_ID_AA64*_EL1)` in `init_cpu_features`.
pub fn read_cpuid_reg(id: u32) -> u64 {
    use super::cpufeature::*;
    macro_rules! mrs {
        ($reg:literal) => {{
            let v: u64;
            // SAFETY: reads an ID register, which every ARMv8.0 CPU has at EL1 (an
            // unallocated ID-space encoding reads as zero); nothing else changes.
            unsafe {
                asm!(concat!("mrs {0}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags))
            };
            v
        }};
    }
    match id {
        SYS_MIDR_EL1 => mrs!("midr_el1"),
        SYS_ID_AA64PFR0_EL1 => mrs!("s3_0_c0_c4_0"),
        SYS_ID_AA64PFR1_EL1 => mrs!("s3_0_c0_c4_1"),
        SYS_ID_AA64ZFR0_EL1 => mrs!("s3_0_c0_c4_4"),
        SYS_ID_AA64DFR0_EL1 => mrs!("s3_0_c0_c5_0"),
        SYS_ID_AA64ISAR0_EL1 => mrs!("s3_0_c0_c6_0"),
        SYS_ID_AA64ISAR1_EL1 => mrs!("s3_0_c0_c6_1"),
        SYS_ID_AA64MMFR0_EL1 => mrs!("s3_0_c0_c7_0"),
        SYS_ID_AA64MMFR1_EL1 => mrs!("s3_0_c0_c7_1"),
        SYS_ID_AA64MMFR2_EL1 => mrs!("s3_0_c0_c7_2"),
        _ => 0,
    }
}

/// Let EL0 (and EL1) use FP/SIMD without trapping: CPACR_EL1.FPEN = 0b11. Also let EL0
/// read the virtual counter (CNTKCTL_EL1.EL0VCTEN), as Linux does. Linux: `fpsimd_init`,
/// `arch_counter_set_user_access`.
pub fn enable_user_fp_and_counter() {
    CPACR_EL1.write(CPACR_EL1::FPEN::TrapNothing);
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EL0VCTEN::SET);
    barrier::isb(barrier::SY);
}

/// Switch kernel stacks and callee-saved registers (`entry.S`: `cpu_switch_to`); returns
/// when `prev` is scheduled again. The contexts are `task::CpuContext`s.
///
/// # Safety
/// Both pointers must be live task contexts; interrupts must be off.
pub unsafe fn cpu_switch_to(prev: *mut u8, next: *const u8) {
    extern "C" {
        fn cpu_switch_to(prev: *mut u8, next: *const u8);
    }
    // SAFETY: the caller's contract: both contexts belong to live tasks and IRQs are off.
    unsafe { cpu_switch_to(prev, next) }
}

/// Address of `ret_from_fork` (`entry.S`), where new tasks start.
pub fn ret_from_fork_addr() -> usize {
    extern "C" {
        fn ret_from_fork();
    }
    ret_from_fork as *const () as usize
}

/// Zero one page with `dc zva` (a cache-line-sized block per instruction, 64 bytes on
/// cortex-a72), as Linux's `clear_page` does; the block size comes from DCZID_EL0.
///
/// # Safety
/// `va` must be a page-aligned, writable kernel address of a whole page.
pub unsafe fn clear_page(va: usize) {
    let dczid: u64;
    // SAFETY: reads DCZID_EL0, a read-only ID register.
    unsafe { asm!("mrs {0}, dczid_el0", out(reg) dczid, options(nomem, nostack, preserves_flags)) };
    if dczid & (1 << 4) != 0 {
        // DC ZVA prohibited: plain stores.
        // SAFETY: the caller's contract: `va` is a page the caller owns in the linear map.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, super::memory::PAGE_SIZE) };
        return;
    }
    let block = 4usize << (dczid & 0xf);
    let mut p = va;
    let end = va + super::memory::PAGE_SIZE;
    while p < end {
        // SAFETY: zeroes one DC ZVA block inside the page the caller owns.
        unsafe { asm!("dc zva, {0}", in(reg) p, options(nostack, preserves_flags)) };
        p += block;
    }
}

/// Copy one page, 64 bytes per iteration with paired loads and stores (Linux:
/// `copy_page` in arch/arm64/lib/copy_page.S).
///
/// # Safety
/// Both must be page-aligned kernel addresses of whole pages, not overlapping.
pub unsafe fn copy_page(dst: usize, src: usize) {
    // SAFETY: the caller's contract: both pages are mapped and PAGE_SIZE long and do not overlap.
    unsafe {
        asm!(
            "1:",
            "ldp {a}, {b}, [{s}], #16",
            "ldp {c}, {d}, [{s}], #16",
            "stp {a}, {b}, [{t}], #16",
            "stp {c}, {d}, [{t}], #16",
            "ldp {a}, {b}, [{s}], #16",
            "ldp {c}, {d}, [{s}], #16",
            "stp {a}, {b}, [{t}], #16",
            "stp {c}, {d}, [{t}], #16",
            "subs {n}, {n}, #1",
            "b.ne 1b",
            s = inout(reg) src => _, t = inout(reg) dst => _, n = inout(reg) super::memory::PAGE_SIZE / 64 => _,
            a = out(reg) _, b = out(reg) _, c = out(reg) _, d = out(reg) _,
            options(nostack)
        )
    }
}

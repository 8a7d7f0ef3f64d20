//! id_regs: with HWCAP_CPUID in AT_HWCAP, a program may read the CPU ID registers with
//! `mrs` from EL0; the kernel emulates the read (the sanitised value, the pc stepped past
//! the instruction). Other system registers stay undefined: SIGILL.
//!
//! Linux: `arch/arm64/kernel/cpufeature.c` (`emulate_mrs`, `do_emulate_mrs`, the
//! `ftr_id_aa64*` tables), `traps.c` (`do_undefinstr`, `do_sysinstr`),
//! Documentation/arm64/cpu-feature-registers.rst.
#![no_std]
#![no_main]
use ulib::*;

/// AT_HWCAP and its CPUID bit (Linux: `HWCAP_CPUID`, bit 11).
const AT_HWCAP: usize = 16;
const HWCAP_CPUID: usize = 1 << 11;

macro_rules! mrs {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: reads a system register; it traps to the kernel, which either emulates
        // the read or sends SIGILL. No memory is touched.
        unsafe { core::arch::asm!(concat!("mrs {0}, ", $reg), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// The 4-bit field at `shift`.
fn field(v: u64, shift: u32) -> u64 {
    (v >> shift) & 0xf
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("id_regs");
    let hwcap = args.auxv(AT_HWCAP).unwrap_or(0);
    t.ok(hwcap & HWCAP_CPUID != 0, "AT_HWCAP advertises HWCAP_CPUID");

    let midr = mrs!("midr_el1");
    t.ok(true, "mrs x, midr_el1 from EL0 returns (emulated)");
    t.check(
        midr >> 24 == 0x41,
        "MIDR_EL1.Implementer is 0x41 (Arm) on QEMU's cortex-a72",
        format_args!("{:#x}", midr),
        "0x41xxxxxx",
    );
    t.check(
        (midr >> 16) & 0xf == 0xf,
        "MIDR_EL1.Architecture reads 0xf (ID registers by CPUID scheme)",
        format_args!("{:#x}", midr),
        "0x?f????",
    );

    let isar0 = mrs!("id_aa64isar0_el1");
    t.ok(true, "mrs x, id_aa64isar0_el1 from EL0 returns");
    t.eq(
        "ID_AA64ISAR0_EL1 bits a visible field never uses are 0 (fields [3:0], [27:24])",
        isar0 & 0x0f00_000f,
        0,
    );

    let pfr0 = mrs!("id_aa64pfr0_el1");
    t.ok(true, "mrs x, id_aa64pfr0_el1 from EL0 returns");
    t.eq(
        "ID_AA64PFR0_EL1.EL0 reads 1: hidden, shown as its safe value (AArch64 only)",
        field(pfr0, 0),
        1,
    );
    t.eq(
        "ID_AA64PFR0_EL1.FP reads 0 (implemented)",
        field(pfr0, 16),
        0,
    );
    t.eq("ID_AA64PFR0_EL1.GIC is hidden (0)", field(pfr0, 24), 0);

    let mpidr = mrs!("mpidr_el1");
    t.ok(
        mpidr & (1 << 31) != 0,
        "MPIDR_EL1 reads with bit 31 (RES1) set",
    );
    t.eq("REVIDR_EL1 reads 0", mrs!("revidr_el1"), 0);
    // ID_AA64AFR0_EL1 (IMPLEMENTATION DEFINED, untracked) reads as zero.
    t.eq("ID_AA64AFR0_EL1 reads 0", mrs!("s3_0_c0_c5_4"), 0);

    // Every destination register works, XZR included, and the pc moves by 4 each time.
    let x17: u64;
    // SAFETY: an emulated ID-register read into x17 and one into xzr.
    unsafe {
        core::arch::asm!("mrs x17, midr_el1", "mrs xzr, midr_el1", out("x17") x17, options(nomem, nostack))
    };
    t.eq("mrs into x17, then into xzr: x17 has MIDR_EL1", x17, midr);

    t.killed_by(
        "mrs x0, sctlr_el1 (not an ID register) from EL0 is SIGILL",
        in_child(|| mrs!("sctlr_el1") as i32),
        SIGILL,
    );
    t.killed_by(
        "mrs of the AArch32 ID_PFR0_EL1 (CRm 1, not emulated) is SIGILL",
        in_child(|| mrs!("s3_0_c0_c1_0") as i32),
        SIGILL,
    );
    t.killed_by(
        "msr midr_el1 (a write) is SIGILL",
        in_child(|| {
            // SAFETY: traps; the child dies of SIGILL.
            unsafe { core::arch::asm!("msr s3_0_c0_c0_0, xzr", options(nomem, nostack)) };
            0
        }),
        SIGILL,
    );
    t.finish()
}

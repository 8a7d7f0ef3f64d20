//! The CPU ID registers as user space may see them: EL0 `mrs` of an ID register traps, and
//! the kernel answers with the sanitised value, as Linux does since it advertises
//! HWCAP_CPUID. Linux: `arch/arm64/kernel/cpufeature.c` (`struct arm64_ftr_bits`, the
//! `ftr_id_aa64*` tables, `arm64_ftr_reg_user_value`, `emulate_sys_reg`, `do_emulate_mrs`,
//! `emulate_mrs`), hooked from `traps.c` (`do_undefinstr`, `do_sysinstr`: see traps.rs).
//!
//! Only the ID space `Op0 = 3, Op1 = 0, CRn = 0, CRm = {0, 4..7}` is emulated. With
//! CRm = 0 only MIDR_EL1 (as is), MPIDR_EL1 (a safe constant) and REVIDR_EL1 (0) exist;
//! in CRm 4..7 a register in the table below reads as its visible fields (the hardware's
//! value) plus each hidden field's safe value, and any other register reads as 0.
//! Everything else (CRm 1..3, the AArch32 ID registers, or any non-ID register such as
//! SCTLR_EL1) stays undefined: SIGILL.
//!
//! The tables follow Linux 5.10-5.11's `ftr_id_aa64*` arrays field by field. One CPU here,
//! so the "system-wide safe value" Linux folds over all CPUs is just this CPU's value.
use super::traps::PtRegs;

/// A system register's encoding, as Linux's `sys_reg(op0, op1, crn, crm, op2)`: the
/// instruction's bits [20:5] (`o0`, `op1`, `CRn`, `CRm`, `op2`) in place.
pub const fn sys_reg(op0: u32, op1: u32, crn: u32, crm: u32, op2: u32) -> u32 {
    (op0 << 19) | (op1 << 16) | (crn << 12) | (crm << 8) | (op2 << 5)
}

/// Linux: `sys_reg_Op0`.
pub const fn sys_reg_op0(id: u32) -> u32 {
    (id >> 19) & 3
}
/// Linux: `sys_reg_Op1`.
pub const fn sys_reg_op1(id: u32) -> u32 {
    (id >> 16) & 7
}
/// Linux: `sys_reg_CRn`.
pub const fn sys_reg_crn(id: u32) -> u32 {
    (id >> 12) & 0xf
}
/// Linux: `sys_reg_CRm`.
pub const fn sys_reg_crm(id: u32) -> u32 {
    (id >> 8) & 0xf
}

/// Main ID register: implementer, variant, part number, revision.
pub const SYS_MIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 0);
/// Multiprocessor affinity.
pub const SYS_MPIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 5);
/// Revision ID (IMPLEMENTATION DEFINED).
pub const SYS_REVIDR_EL1: u32 = sys_reg(3, 0, 0, 0, 6);
/// AArch64 processor feature register 0.
pub const SYS_ID_AA64PFR0_EL1: u32 = sys_reg(3, 0, 0, 4, 0);
/// AArch64 processor feature register 1.
pub const SYS_ID_AA64PFR1_EL1: u32 = sys_reg(3, 0, 0, 4, 1);
/// SVE feature ID register 0.
pub const SYS_ID_AA64ZFR0_EL1: u32 = sys_reg(3, 0, 0, 4, 4);
/// AArch64 debug feature register 0.
pub const SYS_ID_AA64DFR0_EL1: u32 = sys_reg(3, 0, 0, 5, 0);
/// AArch64 instruction set attribute register 0.
pub const SYS_ID_AA64ISAR0_EL1: u32 = sys_reg(3, 0, 0, 6, 0);
/// AArch64 instruction set attribute register 1.
pub const SYS_ID_AA64ISAR1_EL1: u32 = sys_reg(3, 0, 0, 6, 1);
/// AArch64 memory model feature register 0.
pub const SYS_ID_AA64MMFR0_EL1: u32 = sys_reg(3, 0, 0, 7, 0);
/// AArch64 memory model feature register 1.
pub const SYS_ID_AA64MMFR1_EL1: u32 = sys_reg(3, 0, 0, 7, 1);
/// AArch64 memory model feature register 2.
pub const SYS_ID_AA64MMFR2_EL1: u32 = sys_reg(3, 0, 0, 7, 2);

/// What user space reads for MPIDR_EL1: bit 31 (RES1) only, no topology (Linux 5.10:
/// `SYS_MPIDR_SAFE_VAL`).
pub const SYS_MPIDR_SAFE_VAL: u64 = 1 << 31;

/// One field of an ID register (Linux: `struct arm64_ftr_bits`): where it is, whether
/// user space sees the hardware's value (`FTR_VISIBLE`) or only `safe_val` (`FTR_HIDDEN`).
#[derive(Clone, Copy, Debug)]
pub struct Arm64FtrBits {
    /// FTR_VISIBLE (true) or FTR_HIDDEN.
    pub visible: bool,
    /// Lowest bit of the field.
    pub shift: u32,
    /// Width in bits.
    pub width: u32,
    /// The value shown for a hidden field (and the safe value across CPUs in Linux).
    pub safe_val: u64,
}

/// An ID register the kernel tracks (Linux: `struct arm64_ftr_reg` in `arm64_ftr_regs[]`).
#[derive(Clone, Copy, Debug)]
pub struct Arm64FtrReg {
    /// Its encoding.
    pub sys_id: u32,
    /// Linux's name, for messages and tests.
    pub name: &'static str,
    /// The fields; bits not covered read as 0.
    pub ftr_bits: &'static [Arm64FtrBits],
}

/// Linux: `ARM64_FTR_BITS(FTR_VISIBLE, ..., shift, 4, safe)`.
const fn visible(shift: u32, safe_val: u64) -> Arm64FtrBits {
    Arm64FtrBits {
        visible: true,
        shift,
        width: 4,
        safe_val,
    }
}

/// Linux: `ARM64_FTR_BITS(FTR_HIDDEN, ..., shift, 4, safe)`.
const fn hidden(shift: u32, safe_val: u64) -> Arm64FtrBits {
    Arm64FtrBits {
        visible: false,
        shift,
        width: 4,
        safe_val,
    }
}

/// Linux: `ftr_id_aa64isar0`: every instruction-set field but TLB (range TLBI) is shown.
static FTR_ID_AA64ISAR0: [Arm64FtrBits; 14] = [
    visible(60, 0), // RNDR
    hidden(56, 0),  // TLB
    visible(52, 0), // TS
    visible(48, 0), // FHM
    visible(44, 0), // DP
    visible(40, 0), // SM4
    visible(36, 0), // SM3
    visible(32, 0), // SHA3
    visible(28, 0), // RDM
    visible(20, 0), // ATOMICS
    visible(16, 0), // CRC32
    visible(12, 0), // SHA2
    visible(8, 0),  // SHA1
    visible(4, 0),  // AES
];

/// Linux: `ftr_id_aa64isar1` (pointer authentication shown, CONFIG_ARM64_PTR_AUTH=y).
static FTR_ID_AA64ISAR1: [Arm64FtrBits; 14] = [
    visible(52, 0), // I8MM
    visible(48, 0), // DGH
    visible(44, 0), // BF16
    hidden(40, 0),  // SPECRES
    visible(36, 0), // SB
    visible(32, 0), // FRINTTS
    visible(28, 0), // GPI
    visible(24, 0), // GPA
    visible(20, 0), // LRCPC
    visible(16, 0), // FCMA
    visible(12, 0), // JSCVT
    visible(8, 0),  // API
    visible(4, 0),  // APA
    visible(0, 0),  // DPB
];

/// Linux: `ftr_id_aa64pfr0`. FP and AdvSIMD are shown (safe value 0xf: not implemented);
/// the exception levels are hidden, EL0 and EL1 reading as 1, "AArch64 only".
static FTR_ID_AA64PFR0: [Arm64FtrBits; 15] = [
    hidden(60, 0),    // CSV3
    hidden(56, 0),    // CSV2
    visible(48, 0),   // DIT
    hidden(44, 0),    // AMU
    hidden(40, 0),    // MPAM
    hidden(36, 0),    // SEL2
    visible(32, 0),   // SVE (CONFIG_ARM64_SVE=y)
    hidden(28, 0),    // RAS
    hidden(24, 0),    // GIC
    visible(20, 0xf), // ASIMD, safe ID_AA64PFR0_ASIMD_NI
    visible(16, 0xf), // FP, safe ID_AA64PFR0_FP_NI
    hidden(12, 0),    // EL3
    hidden(8, 0),     // EL2
    hidden(4, 1),     // EL1, safe ID_AA64PFR0_EL1_64BIT_ONLY
    hidden(0, 1),     // EL0, safe ID_AA64PFR0_EL0_64BIT_ONLY
];

/// Linux: `ftr_id_aa64pfr1`.
static FTR_ID_AA64PFR1: [Arm64FtrBits; 5] = [
    hidden(16, 0), // MPAMFRAC
    hidden(12, 0), // RASFRAC
    visible(8, 0), // MTE (CONFIG_ARM64_MTE=y)
    visible(4, 0), // SSBS
    visible(0, 0), // BT (CONFIG_ARM64_BTI=y)
];

/// Linux: `ftr_id_aa64zfr0`: every field shown (CONFIG_ARM64_SVE=y).
static FTR_ID_AA64ZFR0: [Arm64FtrBits; 9] = [
    visible(56, 0), // F64MM
    visible(52, 0), // F32MM
    visible(44, 0), // I8MM
    visible(40, 0), // SM4
    visible(32, 0), // SHA3
    visible(20, 0), // BF16
    visible(16, 0), // BITPERM
    visible(4, 0),  // AES
    visible(0, 0),  // SVEVER
];

/// Linux: `ftr_id_aa64dfr0`: all hidden; DebugVer reads as 6 (ARMv8 debug).
static FTR_ID_AA64DFR0: [Arm64FtrBits; 7] = [
    hidden(36, 0),  // DOUBLELOCK
    hidden(32, 0),  // PMSVER
    hidden(28, 0),  // CTX_CMPS
    hidden(20, 0),  // WRPS
    hidden(12, 0),  // BRPS
    hidden(8, 0),   // PMUVER
    hidden(0, 0x6), // DEBUGVER
];

/// Linux: `ftr_id_aa64mmfr0`: all hidden; the granule fields read as their safe values.
static FTR_ID_AA64MMFR0: [Arm64FtrBits; 14] = [
    hidden(60, 0),   // ECV
    hidden(56, 0),   // FGT
    hidden(44, 0),   // EXS
    hidden(40, 1),   // TGRAN4_2
    hidden(36, 1),   // TGRAN64_2
    hidden(32, 1),   // TGRAN16_2
    hidden(28, 0xf), // TGRAN4, safe ID_AA64MMFR0_TGRAN4_NI
    hidden(24, 0xf), // TGRAN64, safe ID_AA64MMFR0_TGRAN64_NI
    hidden(20, 0),   // TGRAN16, safe ID_AA64MMFR0_TGRAN16_NI
    hidden(16, 0),   // BIGENDEL0
    hidden(12, 0),   // SNSMEM
    hidden(8, 0),    // BIGENDEL
    hidden(4, 0),    // ASID
    hidden(0, 0),    // PARANGE
];

/// Linux: `ftr_id_aa64mmfr1`: all hidden, all 0.
static FTR_ID_AA64MMFR1: [Arm64FtrBits; 0] = [];

/// Linux: `ftr_id_aa64mmfr2`: only AT (unaligned atomics) is shown.
static FTR_ID_AA64MMFR2: [Arm64FtrBits; 1] = [
    visible(32, 0), // AT
];

/// The tracked ID registers of the emulated space (Linux: `arm64_ftr_regs[]`, AArch64 part).
pub static ARM64_FTR_REGS: [Arm64FtrReg; 9] = [
    Arm64FtrReg {
        sys_id: SYS_ID_AA64PFR0_EL1,
        name: "ID_AA64PFR0_EL1",
        ftr_bits: &FTR_ID_AA64PFR0,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64PFR1_EL1,
        name: "ID_AA64PFR1_EL1",
        ftr_bits: &FTR_ID_AA64PFR1,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64ZFR0_EL1,
        name: "ID_AA64ZFR0_EL1",
        ftr_bits: &FTR_ID_AA64ZFR0,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64DFR0_EL1,
        name: "ID_AA64DFR0_EL1",
        ftr_bits: &FTR_ID_AA64DFR0,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64ISAR0_EL1,
        name: "ID_AA64ISAR0_EL1",
        ftr_bits: &FTR_ID_AA64ISAR0,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64ISAR1_EL1,
        name: "ID_AA64ISAR1_EL1",
        ftr_bits: &FTR_ID_AA64ISAR1,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64MMFR0_EL1,
        name: "ID_AA64MMFR0_EL1",
        ftr_bits: &FTR_ID_AA64MMFR0,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64MMFR1_EL1,
        name: "ID_AA64MMFR1_EL1",
        ftr_bits: &FTR_ID_AA64MMFR1,
    },
    Arm64FtrReg {
        sys_id: SYS_ID_AA64MMFR2_EL1,
        name: "ID_AA64MMFR2_EL1",
        ftr_bits: &FTR_ID_AA64MMFR2,
    },
];

/// The tracked register `sys_id`, if any (Linux: `get_arm64_ftr_reg`).
pub fn get_arm64_ftr_reg(sys_id: u32) -> Option<&'static Arm64FtrReg> {
    ARM64_FTR_REGS.iter().find(|r| r.sys_id == sys_id)
}

/// What user space sees of `reg` whose hardware value is `sys_val`: the visible fields as
/// they are, each hidden field as its safe value, everything else 0. Linux:
/// `arm64_ftr_reg_user_value` (`user_val | (sys_val & user_mask)`, both built by
/// `init_cpu_ftr_reg`).
pub fn arm64_ftr_reg_user_value(reg: &Arm64FtrReg, sys_val: u64) -> u64 {
    reg.ftr_bits.iter().fold(0, |val, f| {
        let mask = ((1u64 << f.width) - 1) << f.shift;
        let field = if f.visible {
            sys_val & mask
        } else {
            (f.safe_val << f.shift) & mask
        };
        val | field
    })
}

/// Is `id` in the space EL0 reads are emulated for: Op0 = 3, Op1 = 0, CRn = 0,
/// CRm = 0 or 4..7? Linux: `is_emulated`.
pub const fn is_emulated(id: u32) -> bool {
    sys_reg_op0(id) == 3
        && sys_reg_op1(id) == 0
        && sys_reg_crn(id) == 0
        && (sys_reg_crm(id) == 0 || (sys_reg_crm(id) >= 4 && sys_reg_crm(id) <= 7))
}

/// The value an EL0 `mrs` of `id` gets, or None when it must stay undefined (SIGILL).
/// `read` reads a tracked register from the hardware (the `cpu` seam; tests pass their
/// own). Linux: `emulate_sys_reg` + `emulate_id_reg`.
pub fn emulate_sys_reg(id: u32, read: impl Fn(u32) -> u64) -> Option<u64> {
    if !is_emulated(id) {
        return None;
    }
    if sys_reg_crm(id) == 0 {
        return match id {
            SYS_MIDR_EL1 => Some(read(SYS_MIDR_EL1)),
            SYS_MPIDR_EL1 => Some(SYS_MPIDR_SAFE_VAL),
            // IMPLEMENTATION DEFINED values are emulated with 0.
            SYS_REVIDR_EL1 => Some(0),
            _ => None,
        };
    }
    // The untracked ones are IMPLEMENTATION DEFINED (ID_AA64AFR0_EL1) or reserved: RAZ.
    Some(get_arm64_ftr_reg(id).map_or(0, |r| arm64_ftr_reg_user_value(r, read(id))))
}

/// Emulate an `mrs` of `sys_reg` into `x<rt>` for user space: write the value (Rt = 31
/// is XZR: discarded) and step over the instruction. False if the register is not one
/// user space may read. Linux: `do_emulate_mrs` (`pt_regs_write_reg` +
/// `arm64_skip_faulting_instruction`).
#[no_mangle]
#[inline(never)]
pub fn do_emulate_mrs(regs: &mut PtRegs, sys_reg: u32, rt: u32) -> bool {
    let Some(val) = emulate_sys_reg(sys_reg, crate::arch::cpu::read_cpuid_reg) else {
        return false;
    };
    if rt != 31 {
        regs.regs[rt as usize] = val;
    }
    regs.pc += 4;
    true
}

/// `mrs` with Op0 = 2 or 3 (`MRS <Xt>, <sysreg>`): bits [31:20] are 0xd53 (Linux: the
/// `mrs_hook` undef hook's `instr_mask` / `instr_val`).
pub const MRS_INSN_MASK: u32 = 0xfff0_0000;
/// See `MRS_INSN_MASK`.
pub const MRS_INSN_VAL: u32 = 0xd530_0000;

/// An undefined instruction that is an `mrs`: decode it and emulate (Linux: `emulate_mrs`,
/// the `mrs_hook` of `do_undefinstr`). The register is the instruction's bits [20:5].
#[no_mangle]
#[inline(never)]
pub fn emulate_mrs(regs: &mut PtRegs, insn: u32) -> bool {
    if insn & MRS_INSN_MASK != MRS_INSN_VAL {
        return false;
    }
    let sys_reg = insn & 0x001f_ffe0;
    let rt = insn & 0x1f;
    do_emulate_mrs(regs, sys_reg, rt)
}

/// The register an ESR of class SYS64 (a trapped MSR/MRS/SYS) names, and its Rt and
/// direction (true: a read, `mrs`). ISS: Op0 [21:20], Op2 [19:17], Op1 [16:14],
/// CRn [13:10], Rt [9:5], CRm [4:1], Direction [0]. Linux: `esr_sys64_to_sysreg`,
/// `ESR_ELx_SYS64_ISS_RT`, `ESR_ELx_SYS64_ISS_DIR_READ`.
pub const fn esr_sys64_to_sysreg(esr: u64) -> (u32, u32, bool) {
    let iss = (esr & 0x1ff_ffff) as u32;
    let op0 = (iss >> 20) & 3;
    let op2 = (iss >> 17) & 7;
    let op1 = (iss >> 14) & 7;
    let crn = (iss >> 10) & 0xf;
    let rt = (iss >> 5) & 0x1f;
    let crm = (iss >> 1) & 0xf;
    (sys_reg(op0, op1, crn, crm, op2), rt, iss & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU's cortex-a72 (r0p3) MIDR and ID_AA64PFR0 (EL0-EL3 AArch64+AArch32, FP, SIMD,
    /// GIC system registers).
    const A72_MIDR: u64 = 0x410f_d083;
    const A72_PFR0: u64 = 0x0100_2222;

    fn hw(id: u32) -> u64 {
        match id {
            SYS_MIDR_EL1 => A72_MIDR,
            SYS_ID_AA64PFR0_EL1 => A72_PFR0,
            SYS_ID_AA64ISAR0_EL1 => 0x0000_0000_0001_1120,
            SYS_ID_AA64DFR0_EL1 => 0x1012_4106,
            SYS_ID_AA64MMFR0_EL1 => 0x0000_1124,
            _ => 0xffff_ffff_ffff_ffff,
        }
    }

    #[test]
    fn midr_reads_as_the_hardware_value() {
        assert_eq!(emulate_sys_reg(SYS_MIDR_EL1, hw), Some(A72_MIDR));
        assert_eq!(emulate_sys_reg(SYS_MPIDR_EL1, hw), Some(1 << 31));
        assert_eq!(emulate_sys_reg(SYS_REVIDR_EL1, hw), Some(0));
    }

    #[test]
    fn pfr0_hides_gic_and_shows_el0_el1_as_aarch64_only() {
        // GIC (bits 27:24) hidden -> 0; EL0/EL1 -> 1; EL2/EL3 -> 0; FP/SIMD shown (0).
        assert_eq!(emulate_sys_reg(SYS_ID_AA64PFR0_EL1, hw), Some(0x11));
    }

    #[test]
    fn isar0_shows_the_instruction_set_fields() {
        assert_eq!(
            emulate_sys_reg(SYS_ID_AA64ISAR0_EL1, hw),
            Some(0x0000_0000_0001_1120)
        );
    }

    #[test]
    fn hidden_registers_read_as_their_safe_values() {
        assert_eq!(emulate_sys_reg(SYS_ID_AA64DFR0_EL1, hw), Some(0x6));
        assert_eq!(
            emulate_sys_reg(SYS_ID_AA64MMFR0_EL1, hw),
            Some(0x0000_0111_ff00_0000)
        );
        assert_eq!(emulate_sys_reg(SYS_ID_AA64MMFR1_EL1, hw), Some(0));
    }

    #[test]
    fn untracked_registers_in_the_space_read_as_zero() {
        // ID_AA64AFR0_EL1 (3,0,0,5,4) and a reserved slot (3,0,0,7,7).
        assert_eq!(emulate_sys_reg(sys_reg(3, 0, 0, 5, 4), hw), Some(0));
        assert_eq!(emulate_sys_reg(sys_reg(3, 0, 0, 7, 7), hw), Some(0));
    }

    #[test]
    fn registers_outside_the_space_stay_undefined() {
        // SCTLR_EL1 (3,0,1,0,0), the AArch32 ID_PFR0_EL1 (3,0,0,1,0), an unknown CRm=0 one.
        assert_eq!(emulate_sys_reg(sys_reg(3, 0, 1, 0, 0), hw), None);
        assert_eq!(emulate_sys_reg(sys_reg(3, 0, 0, 1, 0), hw), None);
        assert_eq!(emulate_sys_reg(sys_reg(3, 0, 0, 0, 1), hw), None);
    }

    #[test]
    fn emulate_mrs_decodes_the_instruction_and_steps_over_it() {
        let mut regs = PtRegs {
            regs: [0; 31],
            sp: 0,
            pc: 0x40_0000,
            pstate: 0,
            esr: 0,
            far: 0,
            orig_x0: 0,
            syscallno: crate::arch::aarch64::traps::NO_SYSCALL,
            stackframe: [0; 2],
        };
        // mrs x3, midr_el1 = 0xd5380003; the host seam reads MIDR as 0.
        assert!(emulate_mrs(&mut regs, 0xd538_0003));
        assert_eq!(regs.pc, 0x40_0004);
        // mrs x0, sctlr_el1 = 0xd5381000: not emulated, nothing changes.
        assert!(!emulate_mrs(&mut regs, 0xd538_1000));
        assert_eq!(regs.pc, 0x40_0004);
        // mrs xzr, id_aa64pfr0_el1: the value is dropped, the pc still moves.
        assert!(emulate_mrs(&mut regs, 0xd538_041f));
        assert_eq!(regs.pc, 0x40_0008);
    }

    #[test]
    fn sys64_iss_decodes_to_the_register() {
        // mrs x5, id_aa64isar0_el1 trapped: Op0=3 Op2=0 Op1=0 CRn=0 Rt=5 CRm=6 read.
        let iss = (3 << 20) | (5 << 5) | (6 << 1) | 1;
        let esr = (0x18u64 << 26) | (1 << 25) | iss;
        assert_eq!(esr_sys64_to_sysreg(esr), (SYS_ID_AA64ISAR0_EL1, 5, true));
    }
}

//! Exception Syndrome Register decoding, in words. Linux: `arch/arm64/include/asm/esr.h`,
//! `esr_get_class_string`, and the `fault_info[]` table in `arch/arm64/mm/fault.c`.
use core::fmt;

/// ESR_ELx.EC values we name (Arm ARM D17.2.37).
pub mod ec {
    pub const UNKNOWN: u64 = 0x00;
    pub const WFX: u64 = 0x01;
    pub const FP_ASIMD: u64 = 0x07;
    pub const ILL: u64 = 0x0e;
    pub const SVC64: u64 = 0x15;
    pub const HVC64: u64 = 0x16;
    pub const SMC64: u64 = 0x17;
    pub const SYS64: u64 = 0x18;
    pub const IABT_LOW: u64 = 0x20;
    pub const IABT_CUR: u64 = 0x21;
    pub const PC_ALIGN: u64 = 0x22;
    pub const DABT_LOW: u64 = 0x24;
    pub const DABT_CUR: u64 = 0x25;
    pub const SP_ALIGN: u64 = 0x26;
    pub const SERROR: u64 = 0x2f;
    pub const BRK64: u64 = 0x3c;
}

/// The exception class of `esr`.
pub const fn esr_ec(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Linux's `esr_get_class_string`.
pub fn class_string(ec_val: u64) -> &'static str {
    match ec_val {
        ec::UNKNOWN => "Unknown/Uncategorized",
        ec::WFX => "WFI/WFE",
        ec::FP_ASIMD => "ASIMD",
        ec::ILL => "PSTATE.IL",
        ec::SVC64 => "SVC (AArch64)",
        ec::HVC64 => "HVC (AArch64)",
        ec::SMC64 => "SMC (AArch64)",
        ec::SYS64 => "MSR/MRS (AArch64)",
        ec::IABT_LOW => "IABT (lower EL)",
        ec::IABT_CUR => "IABT (current EL)",
        ec::PC_ALIGN => "PC Alignment",
        ec::DABT_LOW => "DABT (lower EL)",
        ec::DABT_CUR => "DABT (current EL)",
        ec::SP_ALIGN => "SP Alignment",
        ec::SERROR => "SError",
        ec::BRK64 => "BRK (AArch64)",
        _ => "UNRECOGNIZED EC",
    }
}

/// The fault-status kinds of a data or instruction abort (DFSC/IFSC, ISS bits [5:0]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultKind {
    /// Address size fault at a level.
    AddressSize(u8),
    /// No valid descriptor at a level.
    Translation(u8),
    /// Access flag clear at a level (how "young" is tracked without FEAT_HAFDBS).
    AccessFlag(u8),
    /// The descriptor forbids this access at a level.
    Permission(u8),
    /// Synchronous external abort.
    SyncExternal,
    /// Alignment fault.
    Alignment,
    /// TLB conflict abort.
    TlbConflict,
    /// Any other code.
    Other(u8),
}

impl FaultKind {
    /// Decode a DFSC/IFSC value (Linux: the `fault_info[]` table).
    pub fn from_fsc(fsc: u8) -> Self {
        let level = fsc & 0b11;
        match fsc & 0b11_1100 {
            0b00_0000 => FaultKind::AddressSize(level),
            0b00_0100 => FaultKind::Translation(level),
            0b00_1000 => FaultKind::AccessFlag(level),
            0b00_1100 => FaultKind::Permission(level),
            _ => match fsc {
                0b01_0000 => FaultKind::SyncExternal,
                0b10_0001 => FaultKind::Alignment,
                0b11_0000 => FaultKind::TlbConflict,
                _ => FaultKind::Other(fsc),
            },
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::AddressSize(l) => write!(f, "level {l} address size fault"),
            FaultKind::Translation(l) => write!(f, "level {l} translation fault"),
            FaultKind::AccessFlag(l) => write!(f, "level {l} access flag fault"),
            FaultKind::Permission(l) => write!(f, "level {l} permission fault"),
            FaultKind::SyncExternal => f.write_str("synchronous external abort"),
            FaultKind::Alignment => f.write_str("alignment fault"),
            FaultKind::TlbConflict => f.write_str("TLB conflict abort"),
            FaultKind::Other(c) => write!(f, "fault status 0x{c:02x}"),
        }
    }
}

/// An ESR value, decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Esr {
    /// The raw register.
    pub raw: u64,
}

impl Esr {
    /// Exception class.
    pub fn ec(&self) -> u64 {
        esr_ec(self.raw)
    }
    /// Is this a data or instruction abort?
    pub fn is_abort(&self) -> bool {
        matches!(
            self.ec(),
            ec::DABT_LOW | ec::DABT_CUR | ec::IABT_LOW | ec::IABT_CUR
        )
    }
    /// Is this an instruction abort (a fetch)?
    pub fn is_instruction_abort(&self) -> bool {
        matches!(self.ec(), ec::IABT_LOW | ec::IABT_CUR)
    }
    /// For a data abort: was it a write (ISS.WnR)? Cache maintenance reports as a write;
    /// Linux checks ISS.CM too.
    pub fn is_write(&self) -> bool {
        matches!(self.ec(), ec::DABT_LOW | ec::DABT_CUR)
            && self.raw & (1 << 6) != 0
            && self.raw & (1 << 8) == 0
    }
    /// The fault kind, for aborts.
    pub fn fault(&self) -> Option<FaultKind> {
        self.is_abort()
            .then(|| FaultKind::from_fsc((self.raw & 0x3f) as u8))
    }
}

impl fmt::Display for Esr {
    /// `ESR 0x96000047: DABT (current EL), level 3 translation fault, write`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ESR 0x{:08x}: {}", self.raw, class_string(self.ec()))?;
        if let Some(kind) = self.fault() {
            write!(f, ", {kind}")?;
            if self.is_instruction_abort() {
                f.write_str(", instruction fetch")?;
            } else if self.is_write() {
                f.write_str(", write")?;
            } else {
                f.write_str(", read")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn write_to_read_only_page_decodes() {
        // EC=0x25, IL, WnR, DFSC=0b001111 (permission, level 3).
        let e = Esr { raw: 0x9600_004f };
        assert_eq!(e.fault(), Some(FaultKind::Permission(3)));
        assert!(e.is_write());
        assert_eq!(
            e.to_string(),
            "ESR 0x9600004f: DABT (current EL), level 3 permission fault, write"
        );
    }

    #[test]
    fn fetch_from_xn_page_decodes() {
        let e = Esr { raw: 0x8600_000f };
        assert!(e.is_instruction_abort());
        assert_eq!(e.fault(), Some(FaultKind::Permission(3)));
        assert!(e.to_string().ends_with("instruction fetch"));
    }

    #[test]
    fn level0_translation_fault_read() {
        let e = Esr { raw: 0x9600_0004 };
        assert_eq!(e.fault(), Some(FaultKind::Translation(0)));
        assert!(!e.is_write());
    }

    #[test]
    fn access_flag_and_other_classes() {
        assert_eq!(FaultKind::from_fsc(0b00_1011), FaultKind::AccessFlag(3));
        assert_eq!(FaultKind::from_fsc(0b10_0001), FaultKind::Alignment);
        assert_eq!(Esr { raw: 0x5600_0000 }.fault(), None); // SVC
        assert_eq!(class_string(esr_ec(0x5600_0000)), "SVC (AArch64)");
        assert_eq!(class_string(0x3f), "UNRECOGNIZED EC");
    }
}

//! The exception table: kernel instructions allowed to fault, and where to resume.
//! Linux: `arch/arm64/mm/extable.c` (`fixup_exception`) and `kernel/extable.c`
//! (`search_exception_tables`). uaccess (copy_{from,to}_user) will use the same table.
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// One entry: the faulting instruction and its fixup, as absolute addresses.
/// (Linux stores 32-bit relative offsets to halve the table; we keep it readable.)
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionTableEntry {
    /// Address of the instruction that may fault.
    pub insn: usize,
    /// Where to continue when it does.
    pub fixup: usize,
}

/// Find the fixup for a faulting `pc` in `table` (unsorted: entries come in link order).
pub fn search_extable(table: &[ExceptionTableEntry], pc: usize) -> Option<usize> {
    table.iter().find(|e| e.insn == pc).map(|e| e.fixup)
}

/// The kernel's own table, between the link script's `__start___ex_table` and
/// `__stop___ex_table`.
pub fn kernel_extable() -> &'static [ExceptionTableEntry] {
    #[cfg(target_os = "none")]
    {
        extern "C" {
            static __start___ex_table: ExceptionTableEntry;
            static __stop___ex_table: ExceptionTableEntry;
        }
        // SAFETY: the link script places the entries contiguously between the two symbols.
        unsafe {
            let start = &__start___ex_table as *const ExceptionTableEntry;
            let stop = &__stop___ex_table as *const ExceptionTableEntry;
            core::slice::from_raw_parts(start, stop.offset_from(start) as usize)
        }
    }
    #[cfg(not(target_os = "none"))]
    {
        &[]
    }
}

/// A kernel access that faulted and was absorbed by its fixup (the probe functions
/// error; the syndrome is kept for `take_last_fixup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeFault;

/// Target of an in-flight `cpu::probe_exec`, or 0: an instruction abort at exactly this
/// address returns to the caller instead of being fatal.
pub static EXEC_PROBE: AtomicUsize = AtomicUsize::new(0);

static LAST_FIXUP_ESR: AtomicU64 = AtomicU64::new(0);
static LAST_FIXUP_FAR: AtomicU64 = AtomicU64::new(0);

/// Remember the syndrome of a fault that a fixup absorbed (read by in-kernel tests).
pub fn record_fixup(esr: u64, far: u64) {
    LAST_FIXUP_ESR.store(esr, Ordering::SeqCst);
    LAST_FIXUP_FAR.store(far, Ordering::SeqCst);
}

/// The last absorbed fault as (ESR, FAR), clearing it.
pub fn take_last_fixup() -> Option<(u64, u64)> {
    let esr = LAST_FIXUP_ESR.swap(0, Ordering::SeqCst);
    let far = LAST_FIXUP_FAR.swap(0, Ordering::SeqCst);
    (esr != 0).then_some((esr, far))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixup_found_only_for_listed_instruction() {
        let t = [
            ExceptionTableEntry {
                insn: 0x1000,
                fixup: 0x2000,
            },
            ExceptionTableEntry {
                insn: 0x1004,
                fixup: 0x2008,
            },
        ];
        assert_eq!(search_extable(&t, 0x1004), Some(0x2008));
        assert_eq!(search_extable(&t, 0x1008), None);
    }

    #[test]
    fn last_fixup_is_taken_once() {
        record_fixup(0x9600_004f, 0xdead_0000);
        assert_eq!(take_last_fixup(), Some((0x9600_004f, 0xdead_0000)));
        assert_eq!(take_last_fixup(), None);
    }
}

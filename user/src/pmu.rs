//! Counting instructions with the PMU from EL0, for benchmarks.
//!
//! The kernel programs event counter 0 with INST_RETIRED at EL0 and EL1 at boot
//! (`kernel/src/arch/aarch64/perf_event.rs`) and lets EL0 read it when
//! `/proc/sys/kernel/perf_user_access` is 1 (Linux 6.2+'s arm64 sysctl of that name; the
//! kernel command line sets it with `sysctl.kernel.perf_user_access=1`). Without that, the
//! `mrs` traps and the kernel sends SIGILL, as Linux does: so [`InstCounter::open`] reads
//! the sysctl first and returns None rather than trapping.
//!
//! Unlike the virtual counter, which under `qemu -icount` jumps ahead while the guest
//! idles waiting for the disk, this counts only instructions executed (the kernel's too,
//! and every task's: it is a system-wide count). QEMU counts INST_RETIRED only under
//! `-icount`.
//!
//! The event counter has 32 bits and wraps after 2^32 (4.29e9) instructions:
//! [`InstCounter`] keeps a 64-bit total by adding the wrapping difference of each reading
//! to the last, so it must be sampled (`read`) at least once per 2^32 instructions: once
//! per page touched in a benchmark loop is plenty.
use crate::procfs::read_file;

/// Is `/proc/sys/kernel/perf_user_access` 1 (EL0 may read the counters)?
pub fn perf_user_access() -> bool {
    let mut buf = [0u8; 8];
    read_file(c"/proc/sys/kernel/perf_user_access", &mut buf)
        .is_some_and(|n| buf[..n].starts_with(b"1"))
}

/// PMEVCNTR0_EL0: instructions retired (modulo 2^32). Traps (SIGILL) unless EL0 access is
/// on; use [`InstCounter`], which checks first, unless testing that very trap.
#[inline(always)]
pub fn read_pmevcntr0() -> u32 {
    let v: u64;
    // SAFETY: a register read; it traps to the kernel when EL0 access is off.
    unsafe { core::arch::asm!("isb", "mrs {0}, pmevcntr0_el0", out(reg) v) };
    v as u32
}

/// The instructions between two 32-bit readings `prev` then `now`, assuming fewer than
/// 2^32 went by.
pub const fn wrapping_delta(prev: u32, now: u32) -> u64 {
    now.wrapping_sub(prev) as u64
}

/// A 64-bit instruction count built from the 32-bit PMU counter.
pub struct InstCounter {
    last: u32,
    total: u64,
}

impl InstCounter {
    /// Start counting from now; None when EL0 may not read the PMU.
    pub fn open() -> Option<Self> {
        perf_user_access().then(|| InstCounter {
            last: read_pmevcntr0(),
            total: 0,
        })
    }

    /// Instructions since `open` (sample at least every 2^32 instructions).
    #[inline(always)]
    pub fn read(&mut self) -> u64 {
        let now = read_pmevcntr0();
        self.total += wrapping_delta(self.last, now);
        self.last = now;
        self.total
    }
}

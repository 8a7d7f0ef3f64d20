//! The PMUv3 as a free-running instruction counter that user programs may read.
//!
//! Linux: `arch/arm64/kernel/perf_event.c` (`armv8pmu_probe_pmu` via `__armv8pmu_probe_pmu`,
//! `armv8pmu_reset`, `armv8pmu_write_evtype`, `armv8pmu_enable_counter`,
//! `armv8pmu_enable_user_access`). Linux hands counters out per perf event
//! (`perf_event_open`), per task, and since 6.2 lets a task read its own counter from EL0
//! when the sysctl `kernel.perf_user_access` is 1. We have no perf events: at boot, event
//! counter 0 is programmed once with INST_RETIRED (event 0x08) counting at EL0 and EL1,
//! and EL0 may read it when the command line says `sysctl.kernel.perf_user_access=1`
//! (Linux's way of setting a sysctl from the command line, 5.8+) or the shorter
//! `perf_user_access=1`; `/proc/sys/kernel/perf_user_access` shows and changes it.
//!
//! No per-task state: there is one CPU, the counter is never reprogrammed, and
//! PMUSERENR_EL0 is a per-CPU register that `cpu_switch_to` does not touch, so the
//! counter and its EL0 access survive every context switch unchanged. A program reading it
//! twice sees the instructions retired in between by everyone (itself, the kernel on its
//! behalf, other tasks that ran meanwhile): a system-wide count, which is what a
//! benchmark run as the only program wants. Linux 6.x instead saves and restores
//! PMUSERENR per task (`armv8pmu_sched_task`) so only tasks with an open event read it.
//!
//! The overflow interrupt is never enabled (PMINTENCLR_EL1 clears all), so a wrap raises
//! no PMU interrupt we would have to handle; the overflow flag is cleared and left alone.
//! Event counters are 32 bits on PMUv3 before v3p5 (PMCR_EL0.LP), so the count wraps
//! after 2^32 instructions (about 4.29e9): readers must sample it more often than that and
//! add the deltas modulo 2^32 (`ulib::pmu`). The 64-bit cycle counter (PMCCNTR_EL0) would
//! not wrap, but QEMU derives it from the virtual clock, which under `-icount` jumps ahead
//! while the guest idles waiting for the disk: it counts idle time, not instructions.
//!
//! QEMU (TCG) counts INST_RETIRED only under `-icount` (it reads the instruction counter
//! that icount keeps); otherwise PMCEID0_EL0 bit 8 is clear and the counter stays still.
//! The cortex-a72 model has a PMUv3 without any `-cpu` option.
#[cfg(target_os = "none")]
use aarch64_cpu::registers::ID_AA64DFR0_EL1;
use core::sync::atomic::{AtomicBool, Ordering};

/// Architectural event: instruction architecturally executed (Linux:
/// `ARMV8_PMUV3_PERFCTR_INST_RETIRED`).
pub const ARMV8_PMUV3_PERFCTR_INST_RETIRED: u64 = 0x08;

/// PMCR_EL0.E: enable the counters (Linux: `ARMV8_PMU_PMCR_E`).
pub const ARMV8_PMU_PMCR_E: u64 = 1 << 0;
/// PMCR_EL0.P: reset the event counters to 0 (Linux: `ARMV8_PMU_PMCR_P`).
pub const ARMV8_PMU_PMCR_P: u64 = 1 << 1;
/// PMCR_EL0.N: the number of event counters, bits 15:11 (Linux: `ARMV8_PMU_PMCR_N_SHIFT`).
pub const ARMV8_PMU_PMCR_N_SHIFT: u64 = 11;

/// PMUSERENR_EL0.EN: EL0 may use every PMU register (Linux: `ARMV8_PMU_USERENR_EN`).
pub const ARMV8_PMU_USERENR_EN: u64 = 1 << 0;
/// PMUSERENR_EL0.CR: EL0 may read the cycle counter (`ARMV8_PMU_USERENR_CR`).
pub const ARMV8_PMU_USERENR_CR: u64 = 1 << 2;
/// PMUSERENR_EL0.ER: EL0 may read the event counters (`ARMV8_PMU_USERENR_ER`).
pub const ARMV8_PMU_USERENR_ER: u64 = 1 << 3;

/// PMEVTYPER<n>_EL0.P: do not count at EL1 (Linux: `ARMV8_PMU_EXCLUDE_EL1`).
pub const ARMV8_PMU_EXCLUDE_EL1: u64 = 1 << 31;
/// PMEVTYPER<n>_EL0.U: do not count at EL0 (Linux: `ARMV8_PMU_EXCLUDE_EL0`).
pub const ARMV8_PMU_EXCLUDE_EL0: u64 = 1 << 30;

/// The event type word for counter 0: INST_RETIRED with neither exclude bit, so both EL0
/// and EL1 count (NSH clear: EL2 does not, which only matters when entered at EL2 and
/// never runs code there after boot).
pub const fn inst_retired_evtype() -> u64 {
    ARMV8_PMUV3_PERFCTR_INST_RETIRED & !(ARMV8_PMU_EXCLUDE_EL1 | ARMV8_PMU_EXCLUDE_EL0)
}

/// What PMUSERENR_EL0 holds for `user_access` (Linux 6.x `armv8pmu_enable_user_access`
/// sets ER and CR, never EN, which would also let EL0 write the counters).
pub const fn pmuserenr_for(user_access: bool) -> u64 {
    if user_access {
        ARMV8_PMU_USERENR_ER | ARMV8_PMU_USERENR_CR
    } else {
        0
    }
}

/// Does ID_AA64DFR0_EL1.PMUVer (bits 11:8) name an architected PMUv3? 0 is none and 0xF an
/// IMPLEMENTATION DEFINED one (Linux: `pmuver == ID_AA64DFR0_PMUVER_IMP_DEF` or 0 fails
/// the probe); 1 is PMUv3, 4.. its later versions.
pub const fn pmuver_is_pmuv3(dfr0: u64) -> bool {
    let v = (dfr0 >> 8) & 0xf;
    v != 0 && v != 0xf
}

/// Whether a PMUv3 was found and counter 0 counts instructions.
static PMU_PRESENT: AtomicBool = AtomicBool::new(false);
/// Whether counter 0 really counts (QEMU: only under `-icount`).
static INST_COUNTED: AtomicBool = AtomicBool::new(false);

/// Does counter 0 count retired instructions? The tracer's clock uses it when so.
pub fn inst_counter_counts() -> bool {
    INST_COUNTED.load(Ordering::Relaxed)
}

/// The sysctl `kernel.perf_user_access` (0 or 1).
static PERF_USER_ACCESS: AtomicBool = AtomicBool::new(false);

/// The value of `kernel.perf_user_access` (Linux 6.2+: `sysctl_perf_user_access`).
pub fn perf_user_access() -> bool {
    PERF_USER_ACCESS.load(Ordering::Relaxed)
}

/// Set `kernel.perf_user_access` and apply it to PMUSERENR_EL0 at once (one CPU: the
/// register is not per task). Without a PMU only the value changes: EL0 reads still trap.
pub fn set_perf_user_access(on: bool) {
    PERF_USER_ACCESS.store(on, Ordering::Relaxed);
    if PMU_PRESENT.load(Ordering::Relaxed) {
        write_pmuserenr(pmuserenr_for(on));
    }
}

/// A write to `/proc/sys/kernel/perf_user_access` (Linux: `proc_dointvec_minmax` between
/// 0 and 1): EINVAL for anything else; a write past position 0 changes nothing.
pub fn perf_user_access_write(pos: u64, buf: &[u8]) -> crate::errno::KResult<usize> {
    use crate::errno::Errno;
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    if !(0..=1).contains(&val) {
        return Err(Errno::EINVAL);
    }
    set_perf_user_access(val == 1);
    Ok(used)
}

#[cfg(target_os = "none")]
fn write_pmuserenr(v: u64) {
    // SAFETY: PMUSERENR_EL0 only gates EL0's access to the PMU; EL1 writes it freely.
    unsafe { core::arch::asm!("msr pmuserenr_el0, {0}", "isb", in(reg) v) };
}

#[cfg(not(target_os = "none"))]
fn write_pmuserenr(_v: u64) {}

/// Probe the PMU and start counter 0 counting instructions at EL0 and EL1; let EL0 read
/// it if `user_access`. Called once at boot before the first task runs. Linux:
/// `armv8_pmu_driver_init` -> `armv8pmu_probe_pmu`, then `armv8pmu_reset` and, per event,
/// `armv8pmu_enable_event`.
#[cfg(target_os = "none")]
#[no_mangle]
#[inline(never)]
pub fn armv8pmu_init(user_access: bool) {
    use aarch64_cpu::registers::Readable;
    let dfr0 = ID_AA64DFR0_EL1.get();
    if !pmuver_is_pmuv3(dfr0) {
        pr_info!(
            "perf: no PMUv3 (ID_AA64DFR0_EL1.PMUVer {})",
            (dfr0 >> 8) & 0xf
        );
        PERF_USER_ACCESS.store(user_access, Ordering::Relaxed);
        return;
    }
    let (pmcr, ceid0): (u64, u64);
    // SAFETY: reading PMU ID and control registers at EL1 has no side effects.
    unsafe {
        core::arch::asm!("mrs {0}, pmcr_el0", out(reg) pmcr);
        core::arch::asm!("mrs {0}, pmceid0_el0", out(reg) ceid0);
    }
    let nr_counters = (pmcr >> ARMV8_PMU_PMCR_N_SHIFT) & 0x1f;
    if nr_counters == 0 {
        pr_info!("perf: PMUv3 without event counters");
        PERF_USER_ACCESS.store(user_access, Ordering::Relaxed);
        return;
    }
    let counted = ceid0 & (1 << ARMV8_PMUV3_PERFCTR_INST_RETIRED) != 0;
    // SAFETY: programming the PMU at EL1: no interrupt is enabled (PMINTENCLR_EL1 clears
    // them all), so nothing but the counter values changes.
    unsafe {
        core::arch::asm!(
            "msr pmintenclr_el1, {all}",
            "msr pmovsclr_el0, {all}",
            "msr pmcntenclr_el0, {all}",
            "msr pmevtyper0_el0, {ty}",
            "msr pmevcntr0_el0, xzr",
            "msr pmcntenset_el0, {one}",
            "isb",
            "msr pmcr_el0, {cr}",
            "isb",
            all = in(reg) u64::from(u32::MAX),
            ty = in(reg) inst_retired_evtype(),
            one = in(reg) 1u64,
            cr = in(reg) (pmcr & !0xff) | ARMV8_PMU_PMCR_E | ARMV8_PMU_PMCR_P,
        );
    }
    PMU_PRESENT.store(true, Ordering::Relaxed);
    INST_COUNTED.store(counted, Ordering::Relaxed);
    set_perf_user_access(user_access);
    pr_info!(
        "perf: PMUv{} with {} counters, counter 0 = INST_RETIRED{}, EL0 access {}",
        if (dfr0 >> 8) & 0xf == 1 { "3" } else { "3+" },
        nr_counters,
        if counted {
            ""
        } else {
            " (not counted by this CPU model: QEMU needs -icount)"
        },
        if user_access { "on" } else { "off" }
    );
}

/// Host builds: no PMU.
#[cfg(not(target_os = "none"))]
pub fn armv8pmu_init(user_access: bool) {
    PERF_USER_ACCESS.store(user_access, Ordering::Relaxed);
}

/// Counter 0 now (instructions retired at EL0 and EL1 since boot, modulo 2^32); 0 without
/// a PMU. For in-kernel checks.
#[cfg(target_os = "none")]
pub fn read_inst_counter() -> u64 {
    if !PMU_PRESENT.load(Ordering::Relaxed) {
        return 0;
    }
    let v: u64;
    // SAFETY: reading an event counter at EL1 has no side effects.
    unsafe { core::arch::asm!("isb", "mrs {0}, pmevcntr0_el0", out(reg) v) };
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evtype_counts_el0_and_el1_inst_retired() {
        assert_eq!(inst_retired_evtype(), 0x08);
        assert_eq!(inst_retired_evtype() & ARMV8_PMU_EXCLUDE_EL0, 0);
        assert_eq!(inst_retired_evtype() & ARMV8_PMU_EXCLUDE_EL1, 0);
    }

    #[test]
    fn user_access_sets_er_and_cr_only() {
        assert_eq!(pmuserenr_for(false), 0);
        assert_eq!(pmuserenr_for(true), 0b1100);
        assert_eq!(pmuserenr_for(true) & ARMV8_PMU_USERENR_EN, 0);
    }

    #[test]
    fn pmuver_field() {
        // QEMU's cortex-a72: ID_AA64DFR0_EL1 = 0x10305106 (PMUVer 1).
        assert!(pmuver_is_pmuv3(0x1030_5106));
        assert!(pmuver_is_pmuv3(0x400));
        assert!(!pmuver_is_pmuv3(0x1030_5006));
        assert!(!pmuver_is_pmuv3(0xf00));
    }
}

//! PSCI: asking the firmware (here QEMU) to power off. Linux: `drivers/firmware/psci/psci.c`.
//! The conduit is `hvc`, or `smc` when QEMU gives us EL2 (the DTB's `/psci/method` says).
use core::sync::atomic::{AtomicBool, Ordering};

/// PSCI 0.2 SYSTEM_OFF function id.
pub const PSCI_0_2_FN_SYSTEM_OFF: u64 = 0x8400_0008;
/// PSCI 0.2 SYSTEM_RESET function id.
pub const PSCI_0_2_FN_SYSTEM_RESET: u64 = 0x8400_0009;

static USE_SMC: AtomicBool = AtomicBool::new(false);
static PRESENT: AtomicBool = AtomicBool::new(false);

/// Record the conduit named by the device tree ("hvc" or "smc").
/// An empty method means no PSCI (e.g. `-M virt,secure=on` without firmware).
pub fn set_method(method: &str) {
    USE_SMC.store(method == "smc", Ordering::Relaxed);
    PRESENT.store(method == "smc" || method == "hvc", Ordering::Relaxed);
}

/// The conduit in use.
pub fn method() -> &'static str {
    if !PRESENT.load(Ordering::Relaxed) {
        "none"
    } else if USE_SMC.load(Ordering::Relaxed) {
        "smc"
    } else {
        "hvc"
    }
}

/// Reset the machine (QEMU, run with `-no-reboot` as xtask runs it, exits). Linux:
/// `psci_sys_reset`. Without PSCI the semihosting exit does the same job.
pub fn psci_sys_reset() -> ! {
    if !PRESENT.load(Ordering::Relaxed) {
        super::semihosting::exit(0);
    }
    crate::arch::cpu::psci_call(
        USE_SMC.load(Ordering::Relaxed),
        PSCI_0_2_FN_SYSTEM_RESET,
        0,
        0,
        0,
    );
    loop {
        crate::arch::cpu::wfi();
    }
}

/// Power the machine off (QEMU exits with status 0). Linux: `psci_sys_poweroff`.
/// Without PSCI (no firmware behind EL3) the semihosting exit does the same job.
pub fn psci_sys_poweroff() -> ! {
    if !PRESENT.load(Ordering::Relaxed) {
        super::semihosting::exit(0);
    }
    crate::arch::cpu::psci_call(
        USE_SMC.load(Ordering::Relaxed),
        PSCI_0_2_FN_SYSTEM_OFF,
        0,
        0,
        0,
    );
    loop {
        crate::arch::cpu::wfi();
    }
}

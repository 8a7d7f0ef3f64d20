//! The Arm generic timer: the EL1 virtual timer ticks the kernel at HZ.
//! Linux: `drivers/clocksource/arm_arch_timer.c` and `kernel/time/` (jiffies, tick).
use crate::arch::cpu;
use core::sync::atomic::{AtomicU64, Ordering};

/// Timer interrupts per second (Linux arm64 defconfig: CONFIG_HZ=250).
pub const HZ: u64 = 250;

/// Ticks since the timer started (Linux: `jiffies_64`).
pub static JIFFIES: AtomicU64 = AtomicU64::new(0);
static TICKS_PER_JIFFY: AtomicU64 = AtomicU64::new(0);

/// Current jiffies.
pub fn jiffies() -> u64 {
    JIFFIES.load(Ordering::Relaxed)
}

/// The tick: re-arm, count a jiffy. Linux: `arch_timer_handler_virt` -> `tick_handle_periodic`.
#[no_mangle]
#[inline(never)]
pub fn arch_timer_handler_virt() {
    cpu::arm_virtual_timer(TICKS_PER_JIFFY.load(Ordering::Relaxed));
    JIFFIES.fetch_add(1, Ordering::Relaxed);
    // Linux: update_process_times -> account_process_tick.
    crate::kernel::cputime::account_process_tick(
        crate::kernel::cputime::IRQ_FROM_USER.load(Ordering::Relaxed),
    );
    // Sleepers whose deadline passed (Linux: tick_periodic -> update_process_times ->
    // run_local_timers -> hrtimer_run_queues).
    crate::kernel::hrtimer::hrtimer_run_queues();
    // Round robin: every tick asks for a switch (honoured on return to user space).
    crate::task::NEED_RESCHED.store(true, Ordering::Relaxed);
}

/// Start ticking on `intid`. Linux: `arch_timer_of_init` + `tick_setup_periodic`.
pub fn arch_timer_init(intid: u32) {
    let per = (cpu::read_cntfrq() / HZ).max(1);
    TICKS_PER_JIFFY.store(per, Ordering::Relaxed);
    crate::drivers::irqchip::request_irq(intid, arch_timer_handler_virt).expect("timer irq");
    cpu::arm_virtual_timer(per);
}

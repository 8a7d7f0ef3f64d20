//! arm64. Linux: `arch/arm64/`.
pub mod context;
pub mod cpufeature;
pub mod esr;
pub mod ftrace;
pub mod memory;
pub mod mmu;
pub mod perf_event;
pub mod pgtable;
pub mod stacktrace;

#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod entry;
pub mod extable;
pub mod fault;
pub mod psci;
pub mod semihosting;
pub mod signal;
pub mod traps;
pub mod uaccess;

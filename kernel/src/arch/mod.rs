//! Architecture code. Only arm64 exists; its pure parts (descriptor formats, ESR decoding,
//! page-table construction) build on the host too. `cpu` is the one seam: the real system
//! instructions on aarch64, a stand-in on the host for unit tests.
pub mod aarch64;

pub use aarch64::memory::{phys_to_virt, virt_to_phys, PAGE_OFFSET, PAGE_SHIFT, PAGE_SIZE};

#[cfg(target_os = "none")]
pub use aarch64::cpu;
#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub use host as cpu;

//! mmkern: a teaching kernel for Linux memory management on arm64.
//!
//! The library holds the whole kernel; `main.rs` only adds the boot assembly. Everything
//! that does not execute system instructions compiles on the host too, so `cargo test`
//! checks descriptor encoding, the device-tree parser, memblock and the frame allocator
//! against simulated physical memory. The one seam is `arch::cpu` (real on aarch64, a
//! stand-in elsewhere).
#![no_std]
#![allow(clippy::new_without_default)]
// Every unsafe block says why it is sound (STYLE.md); the `clippy` step of
// `cargo xtask test` enforces it.
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[macro_use]
pub mod kernel;
pub mod arch;
pub mod drivers;
pub mod errno;
pub mod fs;
pub mod init;
pub mod ipc;
// Linux's lib/ (rbtree); the path is explicit because this file is the crate root.
#[path = "lib/mod.rs"]
pub mod lib;
pub mod mm;
pub mod net;
pub mod sync;
pub mod syscall;
pub mod task;

//! Library routines the rest of the kernel builds on (Linux: `lib/`).
//!
//! Declared from the crate root as `#[path = "lib/mod.rs"] pub mod lib;` because the
//! crate root itself is `kernel/src/lib.rs`: the directory is where a Linux reader looks
//! for `lib/rbtree.c`. Nothing here may use mm/, task/, fs/ or any other kernel floor.
pub mod rbtree;

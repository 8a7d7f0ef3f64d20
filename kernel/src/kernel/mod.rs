//! Core kernel services. Linux: `kernel/` (printk, panic, kallsyms, params) plus our
//! in-kernel test runner and the console monitor.
#[macro_use]
pub mod printk;
pub mod cmdline;
pub mod kallsyms;
pub mod ktest;
pub mod monitor;
pub mod panic;
pub mod sys;

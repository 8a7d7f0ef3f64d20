//! Core kernel services. Linux: `kernel/` (printk, panic, kallsyms, params) plus our
//! in-kernel test runner.
#[macro_use]
pub mod printk;
pub mod capability;
pub mod cmdline;
pub mod configs;
pub mod cputime;
pub mod futex;
pub mod hrtimer;
pub mod itimer;
pub mod kallsyms;
pub mod ktest;
pub mod panic;
pub mod posix_cpu_timers;
pub mod resource;
pub mod sleep_tests;
pub mod swap_tests;
pub mod sys;
pub mod trace;

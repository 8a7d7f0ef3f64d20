//! orphan_spin: init leaves a child behind that never sleeps, then exits.
//!
//! When the child reaper dies, every other process must be killed at once (Linux:
//! `zap_pid_ns_processes`, run by the dying init of a pid namespace). A kernel that only
//! reaps leftovers from its idle loop never gets there: the spinning child is always
//! runnable, so the idle loop never runs and the machine never finishes. The scenario
//! `user-orphan-spin` expects init's exit line and the leak checks after it.
#![no_std]
#![no_main]
use ulib::*;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let pid = fork();
    if pid == 0 {
        let mut x: u64 = 0;
        loop {
            x = core::hint::black_box(x.wrapping_add(1));
        }
    }
    if pid < 0 {
        println!("orphan_spin: fork failed {}", pid);
        return 1;
    }
    // Let the child run a few ticks first, so it is the CPU's runnable task when we go.
    sleep_ms(20);
    println!("orphan_spin: exiting with child {} still spinning", pid);
    0
}

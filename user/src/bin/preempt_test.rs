//! preempt_test: a long system call does not stop other processes (issue 13: preemption
//! points). The kernel is not preemptible; like Linux's non-preemptible build it gives
//! the CPU away at `cond_resched` points in its long loops: per page in
//! `__get_user_pages`, per page table in `zap_page_range`, per 32 MiB in
//! `free_pgtables`. Run as init, under
//! `-icount shift=0` so time is counted in instructions and the gaps do not depend on
//! the host.
//!
//! A heartbeat child reads CLOCK_MONOTONIC in a loop and keeps the longest gap between
//! two reads, while a second child maps 1 GiB read-only with MAP_POPULATE (262,144
//! zero-page PTEs: seconds, a thousand ticks) and unmaps it again. The longest gap must stay
//! within two scheduler ticks (one tick's slice for the other child, plus the tick that
//! ends it); without the preemption points it is the whole populate.
#![no_std]
#![no_main]
use ulib::*;

const LEN: usize = 1 << 30;
const MAP_POPULATE: usize = 0x8000;
/// The scheduler tick (CONFIG_HZ 250).
const TICK_NS: i64 = 4_000_000;

fn now_ns() -> i64 {
    let mut ts = Timespec::default();
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Shared between the three processes: [stop flag, longest gap, heartbeats, populate ns].
fn shared() -> &'static mut [i64; 4] {
    let p = mmap(
        0,
        4096,
        PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_ANONYMOUS,
        -1,
        0,
    );
    assert!(p > 0, "mmap of the shared page");
    // SAFETY: a fresh shared page, zeroed, inherited by the children at fork.
    unsafe { &mut *(p as *mut [i64; 4]) }
}

fn volatile_read(p: &i64) -> i64 {
    // SAFETY: a valid reference; volatile so the loop sees the other processes' writes.
    unsafe { (p as *const i64).read_volatile() }
}

fn volatile_write(p: &mut i64, v: i64) {
    // SAFETY: as above.
    unsafe { (p as *mut i64).write_volatile(v) }
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("preempt_test");
    let s = shared();
    let heart = fork();
    if heart == 0 {
        let (mut last, mut worst, mut beats) = (now_ns(), 0, 0);
        while volatile_read(&s[0]) == 0 {
            let n = now_ns();
            worst = worst.max(n - last);
            last = n;
            beats += 1;
        }
        volatile_write(&mut s[1], worst);
        volatile_write(&mut s[2], beats);
        exit(0);
    }
    // Let the heartbeat start beating first.
    sleep_ms(20);
    let worker = fork();
    if worker == 0 {
        let t0 = now_ns();
        let p = mmap(
            0,
            LEN,
            PROT_READ,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
            -1,
            0,
        );
        let t1 = now_ns();
        if p < 0 || munmap(p as usize, LEN) != 0 {
            exit(1);
        }
        volatile_write(&mut s[3], t1 - t0);
        exit(0);
    }
    let mut status = 0;
    wait4(worker as i32, Some(&mut status), 0);
    t.exited("the 1 GiB MAP_POPULATE + munmap child", Wstatus(status), 0);
    volatile_write(&mut s[0], 1);
    wait4(heart as i32, Some(&mut status), 0);
    let (worst, beats, populate) = (s[1], s[2], s[3]);
    println!(
        "preempt_test: populate of 1 GiB took {} ms; heartbeat: {beats} beats, longest gap {} us",
        populate / 1_000_000,
        worst / 1000
    );
    t.check(
        populate > 25 * TICK_NS,
        "the populate is long enough to matter (over 25 ticks)",
        format_args!("{} ms", populate / 1_000_000),
        "> 100 ms",
    );
    t.check(
        worst <= 2 * TICK_NS,
        "the heartbeat never stopped for more than two ticks",
        format_args!("{} us", worst / 1000),
        format_args!("<= {} us", 2 * TICK_NS / 1000),
    );
    t.ok(beats > 1000, "the heartbeat ran throughout");
    t.finish()
}

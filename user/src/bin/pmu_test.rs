//! pmu_test: the PMU's instruction counter read from EL0 (`ulib::pmu`).
//!
//! `pmu_test on` (booted with `sysctl.kernel.perf_user_access=1`, under `-icount`, where
//! QEMU counts INST_RETIRED): /proc/sys/kernel/perf_user_access reads 1; two readings
//! around a loop of a known number of instructions differ by about that number; the
//! counter also counts kernel instructions (system calls), keeps counting across
//! context switches (a child runs in between), wraps are folded by `InstCounter`; and a
//! root write of 0 to the sysctl turns access off (SIGILL), a write of 1 back on.
//!
//! `pmu_test off` (no such option): the sysctl reads 0, `InstCounter::open` says no, and
//! a child that reads the counter anyway dies of SIGILL, as on Linux (`el0_sys` ->
//! `do_sysinstr` finds no hook for PMU registers -> `do_undefinstr`); the kernel and this
//! parent carry on. A non-root write to the sysctl is EACCES; a value of 2 is EINVAL.
#![no_std]
#![no_main]
use ulib::pmu::{perf_user_access, read_pmevcntr0, wrapping_delta, InstCounter};
use ulib::*;

/// Iterations of the timed loop; two instructions each (`subs`, `b.ne`).
const ITERS: u64 = 1_000_000;

/// Run exactly 2 * `n` instructions (n >= 1).
#[inline(never)]
fn spin(n: u64) {
    // SAFETY: register arithmetic only.
    unsafe {
        core::arch::asm!(
            "1: subs {0}, {0}, #1",
            "b.ne 1b",
            inout(reg) n => _,
            options(nomem, nostack)
        )
    };
}

fn write_sysctl(val: &[u8]) -> isize {
    let fd = open(c"/proc/sys/kernel/perf_user_access", O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, val);
    close(fd as i32);
    r
}

fn on(t: &mut Tap) {
    t.ok(
        perf_user_access(),
        "/proc/sys/kernel/perf_user_access reads 1",
    );
    let Some(mut c) = InstCounter::open() else {
        t.ok(false, "InstCounter::open gives a counter");
        return;
    };
    let a = c.read();
    spin(ITERS);
    let b = c.read();
    let d = b - a;
    t.check(
        d >= 2 * ITERS && d < 3 * ITERS,
        "a loop of 2,000,000 instructions counts 2,000,000 (+ reads and timer ticks, < 1.5x)",
        d,
        "2000000..3000000",
    );
    let e = c.read();
    t.ok(
        e > b,
        format_args!("readings keep increasing ({b} then {e})"),
    );

    // Kernel instructions count too (EL1 not excluded): a system call is far more than
    // the few user instructions around it.
    let a = c.read();
    for _ in 0..1000 {
        getpid();
    }
    let per = (c.read() - a) / 1000;
    t.check(
        per > 40,
        "getpid counts its kernel instructions (EL1 counted)",
        per,
        "> 40 per call",
    );

    // Across context switches: a child runs 2,000,000 instructions while we wait; the
    // counter (system-wide, not per task) saw them.
    let a = c.read();
    let st = in_child(|| {
        spin(ITERS);
        0
    });
    let d = c.read() - a;
    t.exited("child ran", st, 0);
    t.check(
        d >= 2 * ITERS,
        "the count spans context switches (a child's loop is in it)",
        d,
        ">= 2000000",
    );
    // And the child could read it too: EL0 access is not per task.
    let st = in_child(|| {
        let a = read_pmevcntr0();
        spin(1000);
        i32::from(wrapping_delta(a, read_pmevcntr0()) < 2000)
    });
    t.exited("a forked child reads the counter too", st, 0);

    // Wraps: 2^32 - 10 to 5 is 15 instructions.
    t.eq(
        "wrapping_delta folds a wrap",
        wrapping_delta(u32::MAX - 9, 5),
        15,
    );

    // Root turns access off and on again through the sysctl.
    t.ret("write 0 to perf_user_access", write_sysctl(b"0\n"), 2);
    t.ok(
        InstCounter::open().is_none(),
        "InstCounter::open says no once it is 0",
    );
    let st = in_child(|| read_pmevcntr0() as i32);
    t.killed_by("reading the counter with access off", st, SIGILL);
    t.ret("write 1 to perf_user_access", write_sysctl(b"1"), 1);
    t.ok(
        InstCounter::open().is_some(),
        "InstCounter::open works again",
    );
    t.err("write 2: out of 0..=1", write_sysctl(b"2"), errno::EINVAL);
}

fn off(t: &mut Tap) {
    t.ok(
        !perf_user_access(),
        "/proc/sys/kernel/perf_user_access reads 0",
    );
    t.ok(InstCounter::open().is_none(), "InstCounter::open says no");
    let st = in_child(|| read_pmevcntr0() as i32);
    t.killed_by("a child reading PMEVCNTR0_EL0 from EL0", st, SIGILL);
    t.ok(getpid() > 0, "the kernel and this parent carry on");
    let st = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 2;
        }
        let r = write_sysctl(b"1");
        i32::from(r != -(errno::EACCES as isize))
    });
    t.exited("a non-root write to perf_user_access is EACCES", st, 0);
    t.ok(!perf_user_access(), "still 0");
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("pmu_test");
    match args.get(1) {
        Some("on") => on(&mut t),
        Some("off") => off(&mut t),
        _ => {
            t.ok(false, "usage: pmu_test on|off");
        }
    }
    t.finish()
}

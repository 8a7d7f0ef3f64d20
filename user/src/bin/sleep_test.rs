//! sleep_test: a task that waits gives up the CPU and is woken once, instead of polling.
//!
//! nanosleep(2) must sleep (TASK_INTERRUPTIBLE, "S") until its deadline: the caller's
//! `voluntary_ctxt_switches` in /proc/self/status grows by one or two, and its
//! `nonvoluntary_ctxt_switches` hardly at all, even while a forked child spins on the CPU.
//! A kernel that polls (yield, wfi, check the clock, yield again) would hand the CPU to the
//! spinning child at every tick and count one involuntary switch per tick (25 in 100 ms at
//! HZ=250), and none voluntary. A signal must end the sleep at once (SIGKILL of a child
//! sleeping for 10 s), and nanosleep keeps its errors (EINVAL, EFAULT).
//!
//! Linux: `kernel/time/hrtimer.c` (`hrtimer_nanosleep`, `do_nanosleep`),
//! `kernel/sched/core.c` (`__schedule` counts `nvcsw`/`nivcsw`), `fs/proc/array.c`
//! (`task_context_switch_counts`). Written from the man pages and proc(5): it passes on
//! Linux arm64 (one CPU or many).
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

/// Room for /proc/self/status.
const BUF_LEN: usize = 8192;

/// (voluntary, nonvoluntary) context switches of this process so far.
fn ctxt_switches(buf: &mut [u8]) -> Option<(u64, u64)> {
    let fd = open(c"/proc/self/status", O_RDONLY, 0);
    if fd < 0 {
        return None;
    }
    let mut len = 0;
    loop {
        let n = read(fd as i32, &mut buf[len..]);
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    close(fd as i32);
    let text = core::str::from_utf8(&buf[..len]).ok()?;
    let field = |key: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(":\t"))?
            .trim()
            .parse()
            .ok()
    };
    Some((
        field("voluntary_ctxt_switches")?,
        field("nonvoluntary_ctxt_switches")?,
    ))
}

/// Monotonic time in nanoseconds.
fn now_ns() -> u64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    clock_gettime(CLOCK_MONOTONIC, &mut ts);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Fork a child that burns CPU until killed; its pid.
fn spinner() -> i32 {
    let pid = fork();
    if pid == 0 {
        let mut x: u64 = 0;
        loop {
            x = core::hint::black_box(x.wrapping_add(1));
        }
    }
    pid as i32
}

fn kill_and_reap(pid: i32) -> Wstatus {
    kill(pid, SIGKILL);
    let mut st = 0;
    let r = wait4(pid, Some(&mut st), 0);
    Wstatus(if r == pid as isize { st } else { r as i32 })
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("sleep_test");
    let mut buf = [0u8; BUF_LEN];

    // Errors first (they also fault in the code of the calls measured below).
    let bad_nsec = Timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000_000,
    };
    t.err(
        "nanosleep with tv_nsec 1e9 fails with EINVAL",
        nanosleep(&bad_nsec),
        EINVAL,
    );
    let negative = Timespec {
        tv_sec: -1,
        tv_nsec: 0,
    };
    t.err(
        "nanosleep with tv_sec -1 fails with EINVAL",
        nanosleep(&negative),
        EINVAL,
    );
    let r = unsafe { syscall3(nr::NANOSLEEP, 0, 0, 0) };
    t.err("nanosleep of a NULL timespec fails with EFAULT", r, EFAULT);
    t.ret("nanosleep of 1 ms returns 0", sleep_ms(1), 0);
    let first = ctxt_switches(&mut buf);
    t.ok(
        first.is_some(),
        "/proc/self/status has voluntary_ctxt_switches and nonvoluntary_ctxt_switches",
    );

    // 100 ms alone.
    let (v0, n0) = ctxt_switches(&mut buf).unwrap_or_default();
    let start = now_ns();
    let r = sleep_ms(100);
    let slept = now_ns() - start;
    let (v1, n1) = ctxt_switches(&mut buf).unwrap_or_default();
    t.ret("nanosleep of 100 ms returns 0", r, 0);
    t.check(
        slept >= 100_000_000,
        "nanosleep of 100 ms lasts at least 100 ms",
        format_args!("{} us", slept / 1000),
        ">= 100000 us",
    );
    t.check(
        (1..=3).contains(&(v1 - v0)),
        "nanosleep of 100 ms adds 1 to 3 voluntary context switches",
        v1 - v0,
        "1..=3",
    );
    t.check(
        n1 - n0 <= 3,
        "nanosleep of 100 ms adds at most 3 involuntary context switches",
        n1 - n0,
        "<= 3",
    );

    // 100 ms while a child spins: the sleeper must not be handed the CPU at every tick.
    let child = spinner();
    t.success("fork a child that spins", child as isize);
    sleep_ms(10); // let the child start
    let (v0, n0b) = ctxt_switches(&mut buf).unwrap_or_default();
    let r = sleep_ms(100);
    let (v1, n1b) = ctxt_switches(&mut buf).unwrap_or_default();
    t.ret(
        "nanosleep of 100 ms beside a spinning child returns 0",
        r,
        0,
    );
    t.check(
        (1..=3).contains(&(v1 - v0)),
        "beside a spinning child, nanosleep of 100 ms adds 1 to 3 voluntary context switches",
        v1 - v0,
        "1..=3",
    );
    t.check(
        n1b - n0b <= 3,
        "beside a spinning child, nanosleep of 100 ms adds at most 3 involuntary context switches",
        n1b - n0b,
        "<= 3 (a polling sleep adds one per tick)",
    );
    t.killed_by(
        "the spinning child dies of SIGKILL",
        kill_and_reap(child),
        SIGKILL,
    );

    // A signal ends the sleep at once.
    let sleeper = fork();
    if sleeper == 0 {
        sleep_ms(10_000);
        exit(0);
    }
    sleep_ms(50); // the child is asleep now
    let start = now_ns();
    let st = kill_and_reap(sleeper as i32);
    let waited = now_ns() - start;
    t.killed_by("a child sleeping 10 s dies of SIGKILL", st, SIGKILL);
    t.check(
        waited < 1_000_000_000,
        "SIGKILL ends a 10 s nanosleep at once",
        format_args!("{} ms", waited / 1_000_000),
        "< 1000 ms",
    );
    t.finish()
}

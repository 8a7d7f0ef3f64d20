//! oom_test: the OOM killer and /proc/<pid>/oom_score_adj, as Linux 5.10 has them
//! (`mm/oom_kill.c`: out_of_memory, select_bad_process, oom_badness, oom_kill_process;
//! `fs/proc/base.c`: oom_score_adj_write, __set_oom_adj, proc_oom_score). Run as init
//! (root) at 64 MiB with no swap; the same binary passes on Linux arm64 run as root there.
//!
//! The rows:
//! - oom_score_adj reads `0\n`, takes -1000..1000 (EINVAL outside or for junk), is
//!   inherited by fork and kept across execve; an unprivileged process may raise it but
//!   not take it below `oom_score_adj_min` (the last value root wrote), EACCES.
//! - The kill: a "protected" child (oom_score_adj -1000) fills most of free memory, a
//!   small bystander sleeps, and a "hog" touches anonymous memory without bound. The hog
//!   dies of SIGKILL (the protected child is bigger: without its oom_score_adj it would
//!   be chosen; -1000 itself, never chosen, shows as oom_score 0), the
//!   protected child's memory is intact, the bystander and this process (init) live on,
//!   /proc/vmstat `oom_kill` grew by one, and MemFree comes back. The hog prints
//!   `oom_test: hog pid N` so the scenario can find the kernel's
//!   `Out of memory: Killed process N (oom_test) ...` line for it.
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
/// argv[1] of the re-executed program that reports its own oom_score_adj.
const PRINT_ADJ: &str = "--exit-adj-plus-1000-div-10";
/// Created by the parent once the hog is dead: the protected child then checks its
/// memory and exits.
const DONE: &CStr = c"/tmp/oom_test.done";

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some(PRINT_ADJ) {
        // (adj + 1000) / 10 fits an exit status for adj in -1000..1000 step 10.
        return (read_adj(c"/proc/self/oom_score_adj").unwrap_or(-2000) + 1000) / 10;
    }
    let mut t = Tap::new("oom_test");
    if getuid() != 0 {
        t.ok(false, "oom_test runs as root (uid 0)");
        return t.finish();
    }
    adj_rows(&mut t);
    sub(&mut t, "oom_score_adj in a child", adj_write_rows);
    sub(&mut t, "as uid 1000", nonroot_rows);
    inherit_rows(&mut t, &args);
    kill_rows(&mut t);
    t.finish()
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

/// Run `f` in a forked child with its own Tap and check that none of its checks failed.
fn sub(t: &mut Tap, what: &str, f: fn(&mut Tap)) {
    let st = in_child(|| {
        let mut ct = Tap::new("oom_test");
        f(&mut ct);
        ct.failed().min(255) as i32
    });
    t.exited(format_args!("{}: every check passed", what), st, 0);
}

/// Read a small file into `buf`; its length, or the negative errno of open/read.
fn read_small(path: &CStr, buf: &mut [u8]) -> isize {
    let fd = open(path, O_RDONLY, 0);
    if fd < 0 {
        return fd;
    }
    let mut len = 0;
    while len < buf.len() {
        let n = read(fd as i32, &mut buf[len..]);
        if n < 0 {
            close(fd as i32);
            return n;
        }
        if n == 0 {
            break;
        }
        len += n as usize;
    }
    close(fd as i32);
    len as isize
}

/// Parse a decimal integer (an optional `-`) at the start of `s`.
fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let n = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in &digits[..n] {
        v = v * 10 + i64::from(c - b'0');
    }
    Some(if neg { -v } else { v })
}

/// The integer an oom_score/oom_score_adj file holds.
fn read_adj(path: &CStr) -> Option<i32> {
    let mut buf = [0u8; 32];
    let n = read_small(path, &mut buf);
    (n > 0 && buf[n as usize - 1] == b'\n')
        .then(|| parse_int(&buf[..n as usize]))
        .flatten()
        .map(|v| v as i32)
}

/// The text an oom_score_adj file reads as, for messages.
fn adj_text(path: &CStr) -> maps::Text {
    let mut buf = [0u8; 32];
    let n = read_small(path, &mut buf).max(0) as usize;
    let mut t = maps::Text::new();
    for &c in &buf[..n] {
        t.push(if c == b'\n' { b'$' } else { c });
    }
    t
}

/// write(2) `text` to `path` in one call: the count, or `-errno` of open or write.
fn write_file(path: &CStr, text: &[u8]) -> isize {
    let fd = open(path, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, text);
    close(fd as i32);
    r
}

/// A `name value` line of /proc/vmstat, or a `Name: value kB` line of /proc/meminfo.
fn proc_value(path: &CStr, name: &str) -> Option<i64> {
    let mut buf = [0u8; 8192];
    let n = read_small(path, &mut buf);
    if n <= 0 {
        return None;
    }
    for line in buf[..n as usize].split(|&c| c == b'\n') {
        if line.len() > name.len()
            && line.starts_with(name.as_bytes())
            && matches!(line[name.len()], b' ' | b':')
        {
            let rest = &line[name.len() + 1..];
            let skip = rest.iter().take_while(|&&c| c == b' ').count();
            return parse_int(&rest[skip..]);
        }
    }
    None
}

/// `/proc/<pid>/<file>` as a C string in `buf`.
fn pid_path<'a>(buf: &'a mut [u8; 64], pid: i32, file: &str) -> &'a CStr {
    use core::fmt::Write;
    struct W<'b>(&'b mut [u8], usize);
    impl Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            if end >= self.0.len() {
                return Err(core::fmt::Error);
            }
            self.0[self.1..end].copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    *buf = [0; 64];
    let _ = write!(W(&mut buf[..], 0), "/proc/{}/{}", pid, file);
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/proc/self/oom_score_adj")
}

/// Fill `pages` pages from `addr` with a pattern derived from `seed`.
fn fill_pattern(addr: usize, pages: usize, seed: u8) {
    for i in 0..pages {
        let p = (addr + i * P) as *mut u64;
        let v = (i as u64) << 8 | u64::from(seed);
        // SAFETY: the caller mapped `pages` writable pages at `addr`.
        unsafe {
            p.write_volatile(v);
            p.add(P / 16).write_volatile(!v);
        }
    }
}

/// Does the pattern `fill_pattern` wrote still hold?
fn pattern_holds(addr: usize, pages: usize, seed: u8) -> bool {
    (0..pages).all(|i| {
        let p = (addr + i * P) as *const u64;
        let v = (i as u64) << 8 | u64::from(seed);
        // SAFETY: the caller mapped `pages` readable pages at `addr`.
        unsafe { p.read_volatile() == v && p.add(P / 16).read_volatile() == !v }
    })
}

// ---------------------------------------------------------------------------------------
// /proc/<pid>/oom_score_adj and oom_score.
// ---------------------------------------------------------------------------------------

const SELF_ADJ: &CStr = c"/proc/self/oom_score_adj";
const SELF_SCORE: &CStr = c"/proc/self/oom_score";

/// What a fresh process reads.
fn adj_rows(t: &mut Tap) {
    t.check(
        read_adj(SELF_ADJ) == Some(0),
        "/proc/self/oom_score_adj reads \"0\\n\"",
        adj_text(SELF_ADJ).as_str(),
        "0$",
    );
    let score = read_adj(SELF_SCORE);
    t.check(
        score.is_some_and(|s| (0..=2000).contains(&s)),
        "/proc/self/oom_score reads a number in 0..2000",
        adj_text(SELF_SCORE).as_str(),
        "0..2000",
    );
    // init is never chosen, but its score is still its badness (Linux: proc_oom_score
    // asks oom_badness, which says LONG_MIN for init: 0).
    t.check(
        read_adj(c"/proc/1/oom_score") == Some(0),
        "/proc/1/oom_score is 0: init is never chosen",
        adj_text(c"/proc/1/oom_score").as_str(),
        "0$",
    );
}

/// Writes, as root, in a child (the values stay there).
fn adj_write_rows(t: &mut Tap) {
    for bad in [&b"1001"[..], b"-1001", b"abc", b"12x", b"99999999999"] {
        let r = write_file(SELF_ADJ, bad);
        t.check(
            r == -(EINVAL as isize) || (bad == b"99999999999" && r == -(ERANGE as isize)),
            format_args!(
                "writing {:?} to oom_score_adj fails with EINVAL (ERANGE for overflow)",
                core::str::from_utf8(bad).unwrap_or("?")
            ),
            Ret(r),
            "-EINVAL",
        );
    }
    let score0 = read_adj(SELF_SCORE).unwrap_or(-1);
    t.ret("writing \"500\\n\" succeeds", write_file(SELF_ADJ, b"500\n"), 4);
    t.check(
        read_adj(SELF_ADJ) == Some(500),
        "and reads back 500",
        adj_text(SELF_ADJ).as_str(),
        "500$",
    );
    // oom_badness adds 500 * (totalpages / 1000) pages; proc_oom_score scales by
    // 1000 / totalpages and 2 / 3: about 333 more, less the rounding of totalpages / 1000
    // (under 10% from 10000 pages up).
    let high = read_adj(SELF_SCORE).unwrap_or(-1);
    t.check(
        (300..=334).contains(&(high - score0)),
        "oom_score_adj 500 raises oom_score by about 500 * 2 / 3",
        format_args!("{} -> {}", score0, high),
        "+300..=334",
    );
    t.ret("root may write -1000", write_file(SELF_ADJ, b"-1000"), 5);
    t.check(
        read_adj(SELF_SCORE) == Some(0),
        "oom_score with oom_score_adj -1000 is 0",
        adj_text(SELF_SCORE).as_str(),
        "0$",
    );
    t.ret(
        "leading and trailing white space is stripped",
        write_file(SELF_ADJ, b"  7 \n"),
        5,
    );
    t.eq("and the value is 7", read_adj(SELF_ADJ).unwrap_or(-1), 7);
    t.ret("1000 is the top of the range", write_file(SELF_ADJ, b"1000"), 4);
    t.eq("and reads 1000", read_adj(SELF_ADJ).unwrap_or(-1), 1000);
}

/// Unprivileged writers: raising is fine, going below `oom_score_adj_min` is EACCES.
/// The file is opened while still root: on Linux, dropping root makes the process
/// non-dumpable, which gives its /proc files to root; the check that matters is made at
/// write time, against the writer's capabilities (CAP_SYS_RESOURCE).
fn nonroot_rows(t: &mut Tap) {
    // As root first: this sets oom_score_adj_min to 200 as well.
    t.ret("root writes 200", write_file(SELF_ADJ, b"200"), 3);
    let fd = open(SELF_ADJ, O_WRONLY, 0);
    if !t.success("open oom_score_adj for writing as root", fd) {
        return;
    }
    let fd = fd as i32;
    if !t.ret("setresuid(1000, 1000, 1000)", setresuid(1000, 1000, 1000), 0) {
        return;
    }
    t.ret("uid 1000 may raise it to 300", write(fd, b"300"), 3);
    t.ret(
        "uid 1000 may lower it back to oom_score_adj_min (200)",
        write(fd, b"200"),
        3,
    );
    t.err(
        "uid 1000 may not go below oom_score_adj_min: EACCES",
        write(fd, b"199"),
        EACCES,
    );
    t.err(
        "uid 1000 may not set -1000: EACCES",
        write(fd, b"-1000"),
        EACCES,
    );
    close(fd);
    t.eq(
        "the value is still 200",
        read_adj(SELF_ADJ).unwrap_or(-1),
        200,
    );
    t.err(
        "uid 1000 may not open init's oom_score_adj for writing: EACCES",
        open(c"/proc/1/oom_score_adj", O_WRONLY, 0),
        EACCES,
    );
}

/// fork copies oom_score_adj; execve keeps it (it lives in signal_struct).
fn inherit_rows(t: &mut Tap, args: &Args) {
    let mut path = [0u8; 128];
    let me = args.get(0).unwrap_or("/bin/oom_test");
    let n = me.len().min(path.len() - 1);
    path[..n].copy_from_slice(&me.as_bytes()[..n]);
    let st = in_child(|| {
        if write_file(SELF_ADJ, b"-300") != 4 {
            return 200;
        }
        // A grandchild reads its own value.
        let st = in_child(|| (read_adj(SELF_ADJ).unwrap_or(-2000) + 1000) / 10);
        if !(st.exited() && st.exit_status() == 70) {
            return 201;
        }
        let Ok(p) = CStr::from_bytes_until_nul(&path) else {
            return 202;
        };
        let argv = [
            p.as_ptr() as *const u8,
            c"--exit-adj-plus-1000-div-10".as_ptr() as *const u8,
            core::ptr::null(),
        ];
        let envp = [core::ptr::null::<u8>()];
        execve(p, &argv, &envp);
        203
    });
    t.exited(
        "oom_score_adj -300 is inherited by fork and kept across execve",
        st,
        70,
    );
    t.eq(
        "and the parent's own value is untouched",
        read_adj(SELF_ADJ).unwrap_or(-1),
        0,
    );
}

// ---------------------------------------------------------------------------------------
// The kill.
// ---------------------------------------------------------------------------------------

/// The protected child: oom_score_adj -1000, `pages` pages filled, then wait for DONE
/// and check the memory. Exit 0 if intact.
fn protected_child(pages: usize) -> i32 {
    if write_file(SELF_ADJ, b"-1000") != 5 {
        return 10;
    }
    let a = mmap_anon(pages * P);
    if a < 0 {
        return 11;
    }
    fill_pattern(a as usize, pages, 0x5a);
    println!("oom_test: protected child holds {} pages", pages);
    loop {
        if open(DONE, O_RDONLY, 0) >= 0 {
            break;
        }
        sleep_ms(20);
    }
    if pattern_holds(a as usize, pages, 0x5a) {
        0
    } else {
        12
    }
}

/// The bystander: small, oom_score_adj 0, sleeps until DONE.
fn bystander_child() -> i32 {
    let a = mmap_anon(16 * P);
    if a < 0 {
        return 20;
    }
    fill_pattern(a as usize, 16, 0x33);
    loop {
        if open(DONE, O_RDONLY, 0) >= 0 {
            break;
        }
        sleep_ms(20);
    }
    if pattern_holds(a as usize, 16, 0x33) {
        0
    } else {
        21
    }
}

/// The hog: map and touch 1 MiB after 1 MiB, forever. Only the OOM killer ends it.
fn hog_child() -> i32 {
    println!("oom_test: hog pid {}", getpid());
    let mut total = 0usize;
    loop {
        let a = mmap_anon(256 * P);
        if a < 0 {
            println!("oom_test: hog mmap failed after {} pages: {}", total, Ret(a));
            return 30;
        }
        for i in 0..256 {
            poke(a as usize + i * P, 1);
        }
        total += 256;
    }
}

/// Fork `f` as a child; its pid.
fn spawn(f: impl FnOnce() -> i32) -> i32 {
    let pid = fork();
    if pid == 0 {
        exit(f());
    }
    pid as i32
}

fn wait_for(pid: i32) -> Wstatus {
    let mut st = 0;
    let r = wait4(pid, Some(&mut st), 0);
    if r != pid as isize {
        return Wstatus(if r < 0 { r as i32 } else { -ECHILD });
    }
    Wstatus(st)
}

fn kill_rows(t: &mut Tap) {
    unlink(DONE);
    let kills0 = proc_value(c"/proc/vmstat", "oom_kill");
    if !t.ok(kills0.is_some(), "/proc/vmstat has oom_kill") {
        return;
    }
    let free0 = proc_value(c"/proc/meminfo", "MemFree").unwrap_or(0);
    // Most of free memory, so that without its -1000 the protected child would be the
    // biggest process when the hog runs out.
    let protected_pages = (free0 as usize * 1024 / P) * 6 / 10;
    let protected = spawn(|| protected_child(protected_pages));
    let bystander = spawn(bystander_child);
    t.ok(protected > 0 && bystander > 0, "fork the protected child and a bystander");
    // Let both fill their memory first.
    let want_free = free0 - (protected_pages * P / 1024) as i64;
    for _ in 0..500 {
        if proc_value(c"/proc/meminfo", "MemFree").unwrap_or(0) <= want_free {
            break;
        }
        sleep_ms(10);
    }
    let mut path = [0u8; 64];
    t.check(
        read_adj(pid_path(&mut path, protected, "oom_score_adj")) == Some(-1000),
        "the protected child's oom_score_adj is -1000",
        adj_text(pid_path(&mut path, protected, "oom_score_adj")).as_str(),
        "-1000$",
    );
    let free1 = proc_value(c"/proc/meminfo", "MemFree").unwrap_or(0);
    let hog = spawn(hog_child);
    let st = wait_for(hog);
    t.killed_by("the hog is killed by SIGKILL", st, SIGKILL);
    let free2 = proc_value(c"/proc/meminfo", "MemFree").unwrap_or(0);
    t.check(
        free2 + 1024 >= free1,
        "the hog's memory is freed: MemFree is back (within 1 MiB)",
        format_args!("{} kB", free2),
        format_args!(">= {} kB", free1 - 1024),
    );
    let kills1 = proc_value(c"/proc/vmstat", "oom_kill").unwrap_or(0);
    t.eq(
        "/proc/vmstat oom_kill grew by one",
        kills1 - kills0.unwrap_or(0),
        1,
    );
    let mut st = 0;
    t.ret(
        "the protected child is still alive (wait4 WNOHANG finds nothing)",
        wait4(protected, Some(&mut st), WNOHANG),
        0,
    );
    t.ret(
        "the bystander is still alive",
        wait4(bystander, Some(&mut st), WNOHANG),
        0,
    );
    let fd = open(DONE, O_WRONLY | O_CREAT, 0o644);
    t.success("create the done flag", fd);
    close(fd as i32);
    t.exited(
        "the protected child (oom_score_adj -1000) survives with its memory intact",
        wait_for(protected),
        0,
    );
    t.exited(
        "the bystander survives with its memory intact",
        wait_for(bystander),
        0,
    );
    unlink(DONE);
}

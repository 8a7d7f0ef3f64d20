//! pgrp_test: process groups and sessions (Linux: kernel/sys.c `setpgid`, `getpgid`,
//! `getsid`, `setsid`; kernel/signal.c `kill_something_info`; kernel/exit.c `do_wait`).
//! Run as init.
//!
//! init starts in group and session 0, as on Linux; setsid makes it leader of both; a
//! child moves into its own group (by itself, then by its parent) and back; a child that
//! ran execve can no longer be moved (EACCES); kill(-pgid) reaches the whole group and
//! nobody else, kill(0) the caller's group, kill(-1) everyone but init and the caller;
//! wait4(0) and wait4(-pgid) choose children by group; each error is Linux's.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

fn sys(n: usize, a: usize, b: usize) -> isize {
    unsafe { syscall3(n, a, b, 0) }
}
fn setpgid(pid: i32, pgid: i32) -> isize {
    sys(154, pid as usize, pgid as usize)
}
fn getpgid(pid: i32) -> isize {
    sys(155, pid as usize, 0)
}
fn getsid(pid: i32) -> isize {
    sys(156, pid as usize, 0)
}
fn setsid() -> isize {
    sys(157, 0, 0)
}

/// A child that waits to be killed (at most 5 s).
fn sleeper(pgid: Option<i32>) -> i32 {
    let pid = fork();
    if pid == 0 {
        if let Some(g) = pgid {
            if setpgid(0, g) != 0 {
                exit(7);
            }
        }
        for _ in 0..500 {
            sleep_ms(10);
        }
        exit(0);
    }
    pid as i32
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some("sleep") {
        sleep_ms(300);
        return 0;
    }
    let mut t = Tap::new("pgrp_test");
    t.ret("init starts in group 0", getpgid(0), 0);
    t.ret("and session 0", getsid(0), 0);
    t.ret("setsid: a new session, led by init", setsid(), 1);
    t.ret("getsid(0) is 1", getsid(0), 1);
    t.ret("getpgid(0) is 1", getpgid(0), 1);
    t.err("setsid again: already a group leader", setsid(), EPERM);
    t.err("setpgid of a session leader: EPERM", setpgid(0, 0), EPERM);
    t.err("a negative pgid: EINVAL", setpgid(0, -1), EINVAL);
    t.err("getpgid of no such process: ESRCH", getpgid(4242), ESRCH);
    t.err("setpgid of no such process: ESRCH", setpgid(4242, 0), ESRCH);

    // A child moves itself, then is moved by its parent.
    let a = sleeper(None);
    t.ret("a child inherits the group", getpgid(a), 1);
    t.ret("and the session", getsid(a), 1);
    t.ret("the parent puts it in its own group", setpgid(a, 0), 0);
    t.ret("its group is its pid", getpgid(a), a as isize);
    t.ret("and back into the parent's", setpgid(a, 1), 0);
    t.err("a group that does not exist: EPERM", setpgid(a, 4242), EPERM);
    kill(a, SIGKILL);
    wait4(a, None, 0);

    // After execve the parent may not move it.
    let e = fork();
    if e == 0 {
        let argv = [
            c"/bin/pgrp_test".as_ptr() as *const u8,
            c"sleep".as_ptr() as *const u8,
            core::ptr::null(),
        ];
        let envp = [core::ptr::null()];
        execve(c"/bin/pgrp_test", &argv, &envp);
        exit(9);
    }
    sleep_ms(100);
    t.err("setpgid of a child that ran execve: EACCES", setpgid(e as i32, 0), EACCES);
    wait4(e as i32, None, 0);

    // Group signals.
    let g = sleeper(Some(0));
    sleep_ms(20);
    let g2 = sleeper(Some(g));
    let other = sleeper(None);
    sleep_ms(20);
    t.ret("the second child joined the first's group", getpgid(g2), g as isize);
    t.ret("kill(-pgid, 0): the group exists", kill(-g, 0), 0);
    t.err("kill of an empty group: ESRCH", kill(-4242, 0), ESRCH);
    t.ret("kill(-pgid, SIGTERM)", kill(-g, SIGTERM), 0);
    let mut st = 0;
    t.ret(
        "wait4(0, WNOHANG) looks only at the caller's group: the bystander, alive",
        wait4(0, Some(&mut st), WNOHANG),
        0,
    );
    let mut reaped = 0;
    for _ in 0..2 {
        let r = wait4(-g, Some(&mut st), 0);
        if r > 0 && Wstatus(st).signaled() && Wstatus(st).term_sig() == SIGTERM {
            reaped += 1;
        }
    }
    t.eq("wait4(-pgid) reaps both, killed by SIGTERM", reaped, 2);
    t.err("wait4(-pgid) with none left: ECHILD", wait4(-g, None, WNOHANG), ECHILD);
    t.ret("the bystander lives", kill(other, 0), 0);
    t.ret("kill(-1, SIGKILL): everyone but init", kill(-1, SIGKILL), 0);
    let r = wait4(0, Some(&mut st), 0);
    t.ret("wait4(0) reaps the bystander (same group)", r, other as isize);
    t.ok(Wstatus(st).signaled() && Wstatus(st).term_sig() == SIGKILL, "killed by SIGKILL");
    t.err("kill(-1) with nobody else: ESRCH", kill(-1, 0), ESRCH);

    let mut buf = [0u8; 2048];
    let n = procfs::read_file(c"/proc/self/status", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    t.ok(text.contains("NSpgid:\t1\n"), "/proc/self/status shows NSpgid 1");
    t.ok(text.contains("NSsid:\t1\n"), "and NSsid 1");
    t.finish()
}

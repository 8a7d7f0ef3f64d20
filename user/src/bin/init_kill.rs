//! init_kill: nothing a process sends can end init. Run as init (pid 1): kill(2) and
//! tkill(2) of SIGKILL, SIGSTOP or a signal whose action is SIG_DFL, to pid 1 or to
//! init's process group (from init itself or from a root child), return 0 and init goes
//! on, while the other members of the group die; a signal init has a handler for is
//! delivered. Linux: `kernel/signal.c` `sig_task_ignored` (`is_global_init`,
//! SIGNAL_UNKILLABLE). The fuzzer found this: its batch parent, running as init, once
//! read a garbage pid 0 and sent SIGKILL to its own group.
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use ulib::signal::*;
use ulib::*;

const SIGTERM: i32 = 15;

static USR1: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_usr1(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    USR1.fetch_add(1, SeqCst);
}

fn tkill(tid: i32, sig: i32) -> isize {
    // SAFETY: tkill takes no pointers.
    unsafe { syscall3(130, tid as usize, sig as usize, 0) }
}

/// A child that sleeps until killed; its pid.
fn sleeper() -> i32 {
    let pid = fork();
    if pid == 0 {
        loop {
            sleep_ms(1000);
        }
    }
    pid as i32
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("init_kill");
    t.eq("running as pid 1", getpid(), 1);
    for (what, sig) in [("SIGKILL", SIGKILL), ("SIGSTOP", SIGSTOP), ("SIGTERM", SIGTERM)] {
        t.ret(format_args!("kill(1, {what}) from init returns 0"), kill(1, sig), 0);
        t.ret(format_args!("tkill(1, {what}) returns 0"), tkill(1, sig), 0);
    }
    t.ok(true, "init is alive and running after them");

    // kill(0): the whole group but init.
    let child = sleeper();
    t.ret("kill(0, SIGKILL) from init returns 0", kill(0, SIGKILL), 0);
    let mut st = 0;
    t.ret("wait4 reaps the child", wait4(child, Some(&mut st), 0), child as isize);
    t.killed_by("the child of the group died of SIGKILL", Wstatus(st), SIGKILL);
    t.ok(true, "init lives after kill(0, SIGKILL)");

    // From a root child: kill(1, ...) and kill(0, SIGKILL) (which ends the child itself).
    let pid = fork();
    if pid == 0 {
        let a = kill(1, SIGKILL);
        let b = kill(1, SIGTERM);
        let c = kill(1, SIGSTOP);
        if a != 0 || b != 0 || c != 0 {
            exit_group(1);
        }
        kill(0, SIGKILL);
        exit_group(2);
    }
    wait4(pid as i32, Some(&mut st), 0);
    t.killed_by(
        "a root child's kill(1, SIGKILL/SIGTERM/SIGSTOP) return 0, its kill(0, SIGKILL) ends it",
        Wstatus(st),
        SIGKILL,
    );
    t.ok(true, "init lives after them");

    // A signal init handles is delivered.
    sigaction(SIGUSR1, on_usr1, 0, 0);
    let pid = fork();
    if pid == 0 {
        exit_group(kill(1, SIGUSR1) as i32);
    }
    // The handler may interrupt this wait4 (EINTR, no SA_RESTART): wait again.
    while wait4(pid as i32, Some(&mut st), 0) < 0 {}
    t.exited("a child's kill(1, SIGUSR1) returns 0", Wstatus(st), 0);
    t.eq("init's SIGUSR1 handler ran once", USR1.load(SeqCst), 1);
    t.ret("kill(1, SIGUSR1) from init itself", kill(1, SIGUSR1), 0);
    t.eq("and ran again", USR1.load(SeqCst), 2);

    // Kernel threads (kswapd0 is pid 2, ktimerd pid 3) ignore what processes send,
    // SIGKILL too: the call returns 0 and they go on. The fuzz campaign found it: a
    // garbage word made init kill pid 3, and then no alarm ever fired again.
    for (pid, name) in [(2, "kswapd0"), (3, "ktimerd")] {
        t.ret(format_args!("kill({pid} = {name}, SIGKILL)"), kill(pid, SIGKILL), 0);
        t.ret(format_args!("tkill({pid}, SIGKILL)"), tkill(pid, SIGKILL), 0);
    }
    sleep_ms(20);
    let mut buf = [0u8; 512];
    let n = ulib::procfs::read_file(c"/proc/3/status", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    t.ok(text.starts_with("Name:\tktimerd") && !text.contains("zombie"), "ktimerd is alive");
    // And it still delivers alarms: setitimer(ITIMER_REAL, 30 ms), SIGALRM caught.
    static ALRM: AtomicU32 = AtomicU32::new(0);
    extern "C" fn on_alrm(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
        ALRM.fetch_add(1, SeqCst);
    }
    sigaction(14, on_alrm, 0, 0);
    let v: [i64; 4] = [0, 0, 0, 30_000];
    // SAFETY: a struct itimerval on our stack.
    unsafe { syscall3(103, 0, v.as_ptr() as usize, 0) };
    for _ in 0..50 {
        if ALRM.load(SeqCst) != 0 {
            break;
        }
        sleep_ms(10);
    }
    t.eq("an alarm still fires", ALRM.load(SeqCst), 1);
    t.finish()
}

//! tls_switch: the user thread pointer (TPIDR_EL0, where libcs keep `errno` and every
//! thread-local) belongs to the task. A fork child starts with its parent's value, a new
//! program starts with 0, and whatever a child does with the register, the parent finds
//! its own value again when it runs.
//!
//! Linux: `arch/arm64/kernel/process.c` (`tls_thread_switch` in `__switch_to`,
//! `copy_thread`, `flush_thread` -> `tls_thread_flush`).
#![no_std]
#![no_main]
use ulib::*;

/// Where this program lives, to exec itself as a "new program" probe.
const SELF: &core::ffi::CStr = c"/bin/tls_switch";
/// The parent's thread pointer: any recognisable value works, EL0 may write any.
const PARENT_TP: u64 = 0x0000_7fff_1234_5670;
/// A child's, different from the parent's.
const CHILD_TP: u64 = 0x0000_5555_dead_bee0;

fn read_tp() -> u64 {
    let v: u64;
    // SAFETY: TPIDR_EL0 is readable and writable at EL0; no memory is touched.
    unsafe { core::arch::asm!("mrs {0}, tpidr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

fn write_tp(v: u64) {
    // SAFETY: as read_tp.
    unsafe { core::arch::asm!("msr tpidr_el0, {0}", in(reg) v, options(nomem, nostack)) };
}

/// A child that checks it inherited `PARENT_TP`, replaces it, gives up the CPU a few times
/// (so the parent can run with the child's value live, if the kernel lets it leak), then
/// execs `argv`. Exit status 3: wrong inherited value; 4: exec failed.
fn child_then_exec(path: &core::ffi::CStr, argv: &[*const u8]) -> i32 {
    if read_tp() != PARENT_TP {
        return 3;
    }
    write_tp(CHILD_TP);
    for _ in 0..3 {
        sched_yield();
    }
    let envp = [core::ptr::null()];
    execve(path, argv, &envp);
    4
}

#[no_mangle]
fn main(args: Args) -> i32 {
    // Started by our own exec: a new program's thread pointer must be 0.
    if args.get(1) == Some("--new-program") {
        return if read_tp() == 0 { 0 } else { 5 };
    }
    let mut t = Tap::new("tls_switch");
    write_tp(PARENT_TP);
    t.addr(
        "TPIDR_EL0 written from user space reads back",
        read_tp() as usize,
        PARENT_TP as usize,
    );

    let st = in_child(|| {
        child_then_exec(
            c"/bin/cat",
            &[
                c"cat".as_ptr() as *const u8,
                c"/etc/motd".as_ptr() as *const u8,
                core::ptr::null(),
            ],
        )
    });
    t.exited(
        "a fork child starts with the parent's TPIDR_EL0, sets its own and execs cat",
        st,
        0,
    );
    t.addr(
        "after the child set another TPIDR_EL0 and exec'd, the parent's is unchanged",
        read_tp() as usize,
        PARENT_TP as usize,
    );

    let st = in_child(|| {
        child_then_exec(
            SELF,
            &[
                c"tls_switch".as_ptr() as *const u8,
                c"--new-program".as_ptr() as *const u8,
                core::ptr::null(),
            ],
        )
    });
    t.exited("a program started by execve sees TPIDR_EL0 == 0", st, 0);
    t.addr(
        "the parent's TPIDR_EL0 survives a second child's exec",
        read_tp() as usize,
        PARENT_TP as usize,
    );

    // Two tasks taking turns on the CPU, each with its own value, many switches each.
    let pid = fork();
    if pid == 0 {
        write_tp(CHILD_TP);
        for _ in 0..50 {
            sched_yield();
            if read_tp() != CHILD_TP {
                exit(6);
            }
        }
        exit(0);
    }
    let mut kept = true;
    for _ in 0..50 {
        sched_yield();
        kept &= read_tp() == PARENT_TP;
    }
    let mut status = 0;
    wait4(pid as i32, Some(&mut status), 0);
    t.ok(
        kept,
        "the parent keeps its TPIDR_EL0 across 50 switches to a child with another",
    );
    t.exited(
        "the child keeps its own TPIDR_EL0 across the same switches",
        Wstatus(status),
        0,
    );
    t.finish()
}

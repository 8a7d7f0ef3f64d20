//! Identity, limits and system information. Linux: `kernel/sys.c` (`sys_newuname`,
//! `sys_getuid`..., `do_prlimit`), `kernel/time/posix-timers.c` (`clock_gettime`),
//! `kernel/time/hrtimer.c` (`nanosleep`).
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{copy_to_user, get_user, put_user};
use crate::arch::cpu;
use crate::errno::{Errno, KResult};
use crate::sync::wait::SleepState;
use crate::syscall::SyscallArgs;
use crate::task::{current, Cred, RLimit, RLIMIT_NLIMITS};

/// `struct new_utsname`: six 65-byte fields.
const UTS_LEN: usize = 65;

/// reboot(2)'s first magic (Linux: `LINUX_REBOOT_MAGIC1`).
pub const LINUX_REBOOT_MAGIC1: u32 = 0xfee1_dead;
/// The second magics reboot(2) accepts (Linux: `LINUX_REBOOT_MAGIC2`, `2A`, `2B`, `2C`:
/// Linus's and his daughters' birthdays).
pub const LINUX_REBOOT_MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
/// reboot(2) commands (Linux: `LINUX_REBOOT_CMD_*`).
pub const LINUX_REBOOT_CMD_RESTART: u32 = 0x0123_4567;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_HALT: u32 = 0xcdef_0123;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_CAD_ON: u32 = 0x89ab_cdef;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_CAD_OFF: u32 = 0;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_POWER_OFF: u32 = 0x4321_fedc;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_RESTART2: u32 = 0xa1b2_c3d4;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_SW_SUSPEND: u32 = 0xd000_fce2;
/// See [`LINUX_REBOOT_CMD_RESTART`].
pub const LINUX_REBOOT_CMD_KEXEC: u32 = 0x4558_4543;

/// Ctrl-Alt-Del reboots at once (Linux: `C_A_D`); only recorded, there is no keyboard.
static C_A_D: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(true);

/// reboot(2): `reboot(magic1, magic2, cmd, arg)`. Linux's `sys_reboot` order: EPERM
/// without CAP_SYS_BOOT (root here), EINVAL for wrong magics; POWER_OFF powers the machine
/// off ("reboot: Power down", QEMU exits 0), RESTART and RESTART2 reset it (QEMU with
/// `-no-reboot` exits), HALT stops it as Linux does (interrupts off, `wfi` for ever),
/// CAD_ON/CAD_OFF set the Ctrl-Alt-Del flag; SW_SUSPEND is ENOSYS (no hibernation), KEXEC
/// and anything else EINVAL. Nothing is synced: there is no dirty data (see fsync).
pub fn sys_reboot(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (magic1, magic2, cmd) = (a.0[0] as u32, a.0[1] as u32, a.0[2] as u32);
    if cred().euid != 0 {
        return Err(Errno::EPERM);
    }
    if magic1 != LINUX_REBOOT_MAGIC1 || !LINUX_REBOOT_MAGIC2.contains(&magic2) {
        return Err(Errno::EINVAL);
    }
    match cmd {
        LINUX_REBOOT_CMD_POWER_OFF => {
            pr_info!("reboot: Power down");
            crate::arch::aarch64::psci::psci_sys_poweroff()
        }
        LINUX_REBOOT_CMD_RESTART | LINUX_REBOOT_CMD_RESTART2 => {
            pr_info!("reboot: Restarting system");
            crate::arch::aarch64::psci::psci_sys_reset()
        }
        LINUX_REBOOT_CMD_HALT => {
            pr_info!("reboot: System halted");
            let _ = crate::arch::cpu::local_irq_save();
            loop {
                crate::arch::cpu::wfi();
            }
        }
        LINUX_REBOOT_CMD_CAD_ON | LINUX_REBOOT_CMD_CAD_OFF => {
            C_A_D.store(
                cmd == LINUX_REBOOT_CMD_CAD_ON,
                core::sync::atomic::Ordering::Relaxed,
            );
            Ok(0)
        }
        LINUX_REBOOT_CMD_SW_SUSPEND => Err(Errno::ENOSYS),
        _ => Err(Errno::EINVAL),
    }
}

/// uname's `sysname` (Linux: `UTS_SYSNAME`).
pub const UTS_SYSNAME: &str = "Linux";
/// uname's `release`: the Linux release whose behaviour this kernel follows.
pub const UTS_RELEASE: &str = "5.10.0-mmkern";
/// uname's `version` (Linux: `UTS_VERSION`, `#1 SMP` and the build date there).
pub const UTS_VERSION: &str = "#1 SMP mmkern teaching kernel";

/// /proc/version (Linux: `linux_proc_banner`, "%s version %s (%s@%s) (%s) %s\n": the
/// sysname, release, who built it where, the compiler, the version).
pub fn proc_version() -> alloc::string::String {
    alloc::format!(
        "{UTS_SYSNAME} version {UTS_RELEASE} (mmkern@mmkern) (rustc, stable) {UTS_VERSION}\n"
    )
}

/// uname(2). Linux: `sys_newuname`.
pub fn sys_uname(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let mut buf = [0u8; UTS_LEN * 6];
    let fields: [&str; 6] = [
        UTS_SYSNAME,
        "mmkern",
        UTS_RELEASE,
        UTS_VERSION,
        "aarch64",
        "(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        buf[i * UTS_LEN..i * UTS_LEN + f.len()].copy_from_slice(f.as_bytes());
    }
    copy_to_user(a.0[0], &buf)?;
    Ok(0)
}

fn cred() -> Cred {
    current().map(|t| *t.cred.lock()).unwrap_or_default()
}

/// getuid(2).
pub fn sys_getuid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(cred().uid as usize)
}
/// geteuid(2).
pub fn sys_geteuid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(cred().euid as usize)
}
/// getgid(2).
pub fn sys_getgid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(cred().gid as usize)
}
/// getegid(2).
pub fn sys_getegid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(cred().egid as usize)
}

/// setresuid(2): only root may set arbitrary ids; others may only pick among their own
/// real/effective/saved ids (Linux: `__sys_setresuid`). -1 leaves an id unchanged.
pub fn sys_setresuid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let task = current().ok_or(Errno::ESRCH)?;
    let mut c = task.cred.lock();
    let old = *c;
    let want = [a.0[0] as u32, a.0[1] as u32, a.0[2] as u32];
    let privileged = c.euid == 0;
    let own = [c.uid, c.euid, c.suid];
    for &w in &want {
        if w != u32::MAX && !privileged && !own.contains(&w) {
            return Err(Errno::EPERM);
        }
    }
    if want[0] != u32::MAX {
        c.uid = want[0];
    }
    if want[1] != u32::MAX {
        c.euid = want[1];
    }
    if want[2] != u32::MAX {
        c.suid = want[2];
    }
    c.emulate_setxuid(&old);
    Ok(0)
}

/// setuid(2): root sets all three ids; others may set the effective id to the real or
/// saved one (Linux: `__sys_setuid`).
pub fn sys_setuid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let task = current().ok_or(Errno::ESRCH)?;
    let mut c = task.cred.lock();
    let old = *c;
    let uid = a.0[0] as u32;
    if c.euid == 0 {
        c.uid = uid;
        c.euid = uid;
        c.suid = uid;
    } else if uid == c.uid || uid == c.suid {
        c.euid = uid;
    } else {
        return Err(Errno::EPERM);
    }
    c.emulate_setxuid(&old);
    Ok(0)
}

/// getresuid(2).
pub fn sys_getresuid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let c = cred();
    put_user(a.0[0], c.uid)?;
    put_user(a.0[1], c.euid)?;
    put_user(a.0[2], c.suid)?;
    Ok(0)
}

/// May the caller change `task`'s limits? Itself; a task whose real, effective and saved
/// uids and gids are the caller's real uid and gid; or root (CAP_SYS_RESOURCE). Linux:
/// `check_prlimit_permission`.
fn check_prlimit_permission(task: &crate::task::Task) -> KResult<()> {
    let me = current().ok_or(Errno::ESRCH)?;
    if me.pid() == task.pid() {
        return Ok(());
    }
    let cred = *me.cred.lock();
    let tcred = *task.cred.lock();
    let same = cred.uid == tcred.euid
        && cred.uid == tcred.suid
        && cred.uid == tcred.uid
        && cred.gid == tcred.egid
        && cred.gid == tcred.gid;
    if same || cred.euid == 0 {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// prlimit64(2) (Linux: `SYSCALL_DEFINE4(prlimit64)` -> `do_prlimit`), errors in Linux's
/// order: EFAULT reading the new limit, ESRCH for no such pid, EPERM unless
/// `check_prlimit_permission` allows it, EINVAL for a bad resource or soft > hard, EPERM
/// to raise the hard limit without CAP_SYS_RESOURCE (the caller's: root).
pub fn sys_prlimit64(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (pid, res, new, old) = (a.0[0] as i32, a.0[1], a.0[2], a.0[3]);
    let new_lim = if new != 0 {
        let cur: u64 = get_user(new)?;
        let max: u64 = get_user(new + 8)?;
        Some(RLimit { cur, max })
    } else {
        None
    };
    let task = if pid == 0 {
        current()
    } else {
        crate::task::find_task(pid)
    }
    .ok_or(Errno::ESRCH)?;
    check_prlimit_permission(&task)?;
    if res >= RLIMIT_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let caller_is_root = current().is_some_and(|me| me.cred.lock().euid == 0);
    let mut lims = task.rlim.lock();
    let prev = lims[res];
    if let Some(n) = new_lim {
        if n.cur > n.max {
            return Err(Errno::EINVAL);
        }
        // Linux: do_prlimit's check against sysctl_nr_open, root or not.
        if res == crate::task::RLIMIT_NOFILE
            && n.max
                > crate::task::files::SYSCTL_NR_OPEN.load(core::sync::atomic::Ordering::Relaxed)
                    as u64
        {
            return Err(Errno::EPERM);
        }
        if n.max > prev.max && !caller_is_root {
            return Err(Errno::EPERM);
        }
        lims[res] = n;
    }
    drop(lims);
    if old != 0 {
        put_user(old, prev.cur)?;
        put_user(old + 8, prev.max)?;
    }
    Ok(0)
}

/// The task `pid` names for the process-group calls: 0 is the caller. ESRCH if none (or
/// only a zombie, which has left its group).
fn pgrp_task(pid: i32) -> KResult<alloc::sync::Arc<crate::task::Task>> {
    let me = current().ok_or(Errno::ESRCH)?;
    let t = if pid == 0 {
        me
    } else {
        crate::task::find_task(pid).ok_or(Errno::ESRCH)?
    };
    if t.state() == crate::task::TaskState::Zombie {
        return Err(Errno::ESRCH);
    }
    Ok(t)
}

/// Does a live process satisfy `pred`? Live: a user task's main thread, not a zombie,
/// not the idle task and not a kernel thread (which Linux keeps in group 0 but which
/// ignore signals). A walk of the task table that allocates nothing (Linux:
/// `find_vpid` / `do_each_pid_task` over the group's list).
fn any_live_task(mut pred: impl FnMut(&crate::task::Task) -> bool) -> bool {
    let mut found = false;
    crate::task::for_each_process_thread(|t| {
        if t.pid() > 0
            && t.pid() == t.tgid
            && t.state() != crate::task::TaskState::Zombie
            && t.mm.lock().is_some()
            && pred(t)
        {
            found = true;
            core::ops::ControlFlow::Break(())
        } else {
            core::ops::ControlFlow::Continue(())
        }
    });
    found
}

/// setpgid(2): move process `pid` (0: the caller) into group `pgid` (0: its own pid).
/// Linux `sys_setpgid`'s checks: EINVAL for a negative pgid; ESRCH unless `pid` is the
/// caller or its child; EPERM for a child in another session; EACCES for a child that
/// has run execve; EPERM for a session leader; EPERM when `pgid` is another group that
/// no process of the caller's session leads or belongs to.
pub fn sys_setpgid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use core::sync::atomic::Ordering::Relaxed;
    let (pid, pgid) = (a.0[0] as i32, a.0[1] as i32);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = current().ok_or(Errno::ESRCH)?;
    let p = pgrp_task(pid)?;
    let pgid = if pgid == 0 { p.pid() } else { pgid };
    if p.pid() != me.pid() {
        if p.ppid.load(Relaxed) != me.pid() {
            return Err(Errno::ESRCH);
        }
        if p.sid.load(Relaxed) != me.sid.load(Relaxed) {
            return Err(Errno::EPERM);
        }
        if p.did_exec.load(Relaxed) {
            return Err(Errno::EACCES);
        }
    }
    let sid = p.sid.load(Relaxed);
    if sid == p.pid() {
        return Err(Errno::EPERM); // a session leader stays in its group
    }
    if pgid != p.pid()
        && !any_live_task(|t| {
            t.pgid.load(Relaxed) == pgid && t.sid.load(Relaxed) == me.sid.load(Relaxed)
        })
    {
        return Err(Errno::EPERM);
    }
    p.pgid.store(pgid, Relaxed);
    Ok(0)
}

/// getpgid(2): the process group of `pid` (0: the caller); ESRCH if none.
pub fn sys_getpgid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(pgrp_task(a.0[0] as i32)?
        .pgid
        .load(core::sync::atomic::Ordering::Relaxed) as usize)
}

/// getsid(2): the session of `pid` (0: the caller); ESRCH if none.
pub fn sys_getsid(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    Ok(pgrp_task(a.0[0] as i32)?
        .sid
        .load(core::sync::atomic::Ordering::Relaxed) as usize)
}

/// setsid(2): a new session and group led by the caller, whose id it returns; EPERM
/// when the caller already leads a process group (some process has its pid as pgid).
/// Linux: `ksys_setsid`.
pub fn sys_setsid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use core::sync::atomic::Ordering::Relaxed;
    let me = current().ok_or(Errno::ESRCH)?;
    if any_live_task(|t| t.pgid.load(Relaxed) == me.pid()) {
        return Err(Errno::EPERM);
    }
    me.sid.store(me.pid(), Relaxed);
    me.pgid.store(me.pid(), Relaxed);
    Ok(me.pid() as usize)
}

/// getrlimit(2).
pub fn sys_getrlimit(a: SyscallArgs, r: &mut PtRegs) -> KResult<usize> {
    sys_prlimit64(SyscallArgs([0, a.0[0], 0, a.0[1], 0, 0]), r)
}

/// setrlimit(2).
pub fn sys_setrlimit(a: SyscallArgs, r: &mut PtRegs) -> KResult<usize> {
    sys_prlimit64(SyscallArgs([0, a.0[0], a.0[1], 0, 0, 0]), r)
}

/// Nanoseconds of the virtual counter since boot.
pub fn ktime_get_ns() -> u64 {
    let (t, f) = (cpu::read_cntvct() as u128, cpu::read_cntfrq() as u128);
    (t * 1_000_000_000 / f) as u64
}

/// clock_gettime(2): CLOCK_REALTIME (0), CLOCK_MONOTONIC (1), CLOCK_BOOTTIME (7) and the
/// coarse/raw variants all read the counter (no RTC: realtime starts at the epoch);
/// CLOCK_PROCESS_CPUTIME_ID (2) and CLOCK_THREAD_CPUTIME_ID (3) the CPU time charged so
/// far, tick by tick (kernel/cputime.rs).
pub fn sys_clock_gettime(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let ns = match a.0[0] {
        0 | 1 | 4 | 5 | 6 | 7 => ktime_get_ns(),
        2 => crate::kernel::cputime::cpu_clock_ns(false),
        3 => crate::kernel::cputime::cpu_clock_ns(true),
        _ => return Err(Errno::EINVAL),
    };
    put_user(a.0[1], ns / 1_000_000_000)?;
    put_user(a.0[1] + 8, ns % 1_000_000_000)?;
    Ok(0)
}

/// Read a user `struct timespec` as nanoseconds: EFAULT for a bad pointer, EINVAL for a
/// negative time or nanoseconds outside [0, 1e9) (Linux: `get_timespec64` +
/// `timespec64_valid`). nanosleep, clock_nanosleep, ppoll, futex and rt_sigtimedwait
/// take their times through it.
pub fn get_timespec_ns(uts: usize) -> KResult<u64> {
    let sec: i64 = get_user(uts)?;
    let nsec: i64 = get_user(uts + 8)?;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

/// nanosleep(2): sleep on a timer until the deadline, TASK_INTERRUPTIBLE (another task or
/// the idle loop's `wfi` has the CPU meanwhile). EINVAL for a negative or out-of-range
/// timespec, EFAULT for a bad pointer. A signal ends the sleep with the remaining time
/// written to `rmtp` (if given) and ERESTART_RESTARTBLOCK: after a handler the call fails
/// with EINTR (SA_RESTART or not, as man 7 signal says of nanosleep); when no handler runs
/// restart_syscall(2) sleeps on to the same deadline. Linux: `sys_nanosleep` ->
/// `hrtimer_nanosleep` -> `do_nanosleep`.
pub fn sys_nanosleep(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let ns = get_timespec_ns(a.0[0])?;
    let deadline = ktime_get_ns().saturating_add(ns);
    do_nanosleep(deadline, a.0[1]).map(|()| 0)
}

/// clock_nanosleep(2): nanosleep on CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME or
/// CLOCK_TAI (one clock here), with TIMER_ABSTIME (1) an absolute deadline (and no
/// remaining time written). EINVAL for other clocks (Linux sleeps on
/// CLOCK_PROCESS_CPUTIME_ID too; we do not), unknown flags or a bad timespec. What glibc's
/// nanosleep, usleep and sleep call. Linux: `sys_clock_nanosleep` -> `common_nsleep`.
pub fn sys_clock_nanosleep(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    const TIMER_ABSTIME: usize = 1;
    let (clock, flags, req, rmtp) = (a.0[0], a.0[1], a.0[2], a.0[3]);
    if !matches!(clock, 0 | 1 | 7 | 11) || flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    let ns = get_timespec_ns(req)?;
    if flags & TIMER_ABSTIME != 0 {
        return do_nanosleep(ns, 0).map(|()| 0);
    }
    do_nanosleep(ktime_get_ns().saturating_add(ns), rmtp).map(|()| 0)
}

/// Sleep until the monotonic clock reaches `expires`; on a signal write what is left to
/// `rmtp` (0: nowhere; EFAULT if it cannot be written), record the deadline in the
/// restart block and return ERESTART_RESTARTBLOCK. nanosleep and its continuation by
/// restart_syscall both end here. Linux: `do_nanosleep` + `nanosleep_copyout`, with
/// `hrtimer_nanosleep_restart` as the restart block's function.
#[no_mangle]
#[inline(never)]
pub fn do_nanosleep(expires: u64, rmtp: usize) -> KResult<()> {
    use crate::task::signal::{set_restart_block, RestartBlock};
    if crate::kernel::hrtimer::schedule_hrtimeout(expires, SleepState::Interruptible).is_ok() {
        return Ok(());
    }
    if rmtp != 0 {
        let left = expires.saturating_sub(ktime_get_ns());
        put_user(rmtp, left / 1_000_000_000)?;
        put_user(rmtp + 8, left % 1_000_000_000)?;
    }
    set_restart_block(RestartBlock::Nanosleep { expires, rmtp });
    Err(Errno::ERESTART_RESTARTBLOCK)
}

/// getrandom(2): not cryptographic; a counter-seeded xorshift, enough for libc's needs.
pub fn sys_getrandom(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    // GRND_NONBLOCK 1, GRND_RANDOM 2, GRND_INSECURE 4; RANDOM with INSECURE is EINVAL.
    let flags = a.0[2];
    if flags & !7 != 0 || flags & 6 == 6 {
        return Err(Errno::EINVAL);
    }
    let len = a.0[1].min(256);
    let mut x = cpu::read_cntvct() | 1;
    let mut buf = [0u8; 256];
    for b in buf[..len].iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    copy_to_user(a.0[0], &buf[..len])?;
    Ok(len)
}

/// prctl(2) (167): the options programs and libraries ask for. PR_SET_PDEATHSIG (1,
/// remembered, not acted on) / PR_GET_PDEATHSIG (2); PR_GET_DUMPABLE (3) / PR_SET_DUMPABLE
/// (4, 0 or 1); PR_GET_KEEPCAPS (7) / PR_SET_KEEPCAPS (8, accepted); PR_SET_NAME (15) /
/// PR_GET_NAME (16, the 16-byte comm); PR_CAPBSET_READ (23: every capability is in the
/// bounding set); PR_SET_NO_NEW_PRIVS (38, accepted) / PR_GET_NO_NEW_PRIVS (39); anything
/// else EINVAL, as Linux answers an unknown option. Linux: `sys_prctl`.
pub fn sys_prctl(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use core::sync::atomic::Ordering::Relaxed;
    let me = current().ok_or(Errno::ESRCH)?;
    let (option, arg2) = (a.0[0] as u32, a.0[1]);
    match option {
        1 => {
            if arg2 > 64 {
                return Err(Errno::EINVAL);
            }
            me.pdeath_signal.store(arg2 as u32, Relaxed);
            Ok(0)
        }
        2 => {
            put_user(arg2, me.pdeath_signal.load(Relaxed) as i32)?;
            Ok(0)
        }
        3 => Ok(me.dumpable.load(Relaxed) as usize),
        4 => {
            if arg2 > 1 {
                return Err(Errno::EINVAL);
            }
            me.dumpable.store(arg2 as u32, Relaxed);
            Ok(0)
        }
        7 => Ok(0),
        8 if arg2 <= 1 => Ok(0),
        15 => {
            // Up to 15 bytes, a longer name cut there (Linux: strncpy_from_user into
            // the 16-byte comm).
            let mut name = [0u8; 15];
            let mut n = 0;
            while n < name.len() {
                let c: u8 = crate::arch::aarch64::uaccess::get_user(arg2 + n)?;
                if c == 0 {
                    break;
                }
                name[n] = c;
                n += 1;
            }
            me.set_comm(core::str::from_utf8(&name[..n]).unwrap_or(""));
            Ok(0)
        }
        16 => {
            let comm = *me.comm.lock();
            copy_to_user(arg2, &comm)?;
            Ok(0)
        }
        23 => {
            if arg2 > 40 {
                return Err(Errno::EINVAL);
            }
            Ok(1)
        }
        38 if arg2 == 1 && a.0[2] == 0 && a.0[3] == 0 && a.0[4] == 0 => Ok(0),
        39 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

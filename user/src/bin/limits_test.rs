//! limits_test: what LTP's harness and its setrlimit tests meet first. umask(2) takes
//! its bits off new files and directories; sched_getaffinity(2) reports one CPU and
//! sched_setaffinity(2) refuses a mask without it; RLIMIT_FSIZE cuts a write at the limit,
//! then answers SIGXFSZ and EFBIG (and kills by default), and ftruncate past it is EFBIG.
//!
//! Linux: `kernel/sys.c` (`sys_umask`), `kernel/sched/core.c` (`sched_getaffinity`),
//! `mm/filemap.c` (`generic_write_check_limits`), `fs/attr.c` (`inode_newsize_ok`).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU32, Ordering};
use ulib::signal::*;
use ulib::*;

const EINVAL: i32 = 22;
const EFBIG: i32 = 27;
const SIGXFSZ: i32 = 25;
const RLIMIT_FSIZE: usize = 1;

static XFSZ: AtomicU32 = AtomicU32::new(0);
extern "C" fn on_xfsz(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    XFSZ.fetch_add(1, Ordering::SeqCst);
}

fn umask(m: usize) -> isize {
    unsafe { syscall3(166, m, 0, 0) }
}

fn mode_of(path: &core::ffi::CStr) -> u32 {
    let mut st = Stat::default();
    fstatat(-100, path, &mut st, 0);
    st.st_mode & 0o7777
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("limits_test");

    // umask
    t.ret("umask(027) returns the default 022", umask(0o027), 0o022);
    let fd = openat(-100, c"/tmp/um_file", O_CREAT | O_RDWR, 0o666) as i32;
    close(fd);
    t.eq("a 0666 file is created 0640 under umask 027", mode_of(c"/tmp/um_file"), 0o640);
    unsafe { syscall3(34, -100isize as usize, c"/tmp/um_dir".as_ptr() as usize, 0o777) };
    t.eq("a 0777 directory is created 0750", mode_of(c"/tmp/um_dir"), 0o750);
    t.ret("umask(01777) keeps only 0777 and returns 027", umask(0o1777), 0o027);
    t.ret("... and reads back 0777", umask(0o022), 0o777);
    let st = in_child(|| if umask(0) == 0o022 { 0 } else { 1 });
    t.exited("fork inherits the umask", st, 0);

    // affinity
    let mut mask = [0u64; 2];
    let r = unsafe { syscall3(123, 0, 16, mask.as_mut_ptr() as usize) };
    t.ok(r == 8 && mask[0] == 1, "sched_getaffinity: 8 bytes, CPU 0 only");
    t.err("sched_getaffinity with a 4-byte mask: EINVAL", unsafe { syscall3(123, 0, 4, mask.as_mut_ptr() as usize) }, EINVAL);
    let none = [0u64; 1];
    t.err("sched_setaffinity without CPU 0: EINVAL", unsafe { syscall3(122, 0, 8, none.as_ptr() as usize) }, EINVAL);
    let one = [1u64; 1];
    t.ret("sched_setaffinity(CPU 0)", unsafe { syscall3(122, 0, 8, one.as_ptr() as usize) }, 0);
    t.err("sched_getaffinity of no such pid: ESRCH", unsafe { syscall3(123, 99_999, 8, mask.as_mut_ptr() as usize) }, 3);

    // RLIMIT_FSIZE, in a child (the limit and the signal stay there).
    let st = in_child(|| {
        sigaction(SIGXFSZ, on_xfsz, 0, 0);
        let lim = Rlimit { rlim_cur: 10, rlim_max: 10 };
        prlimit64(RLIMIT_FSIZE, Some(&lim), None);
        let fd = openat(-100, c"/tmp/fsize", O_CREAT | O_RDWR | O_TRUNC, 0o600) as i32;
        let buf = [b'x'; 26];
        if write(fd, &buf) != 10 {
            return 1;
        }
        if write(fd, &buf) != -(EFBIG as isize) || XFSZ.load(Ordering::SeqCst) != 1 {
            return 2;
        }
        if ftruncate(fd, 100) != -(EFBIG as isize) || XFSZ.load(Ordering::SeqCst) != 2 {
            return 3;
        }
        if ftruncate(fd, 5) != 0 {
            return 4;
        }
        0
    });
    t.exited("RLIMIT_FSIZE 10: a 26-byte write writes 10, the next is EFBIG + SIGXFSZ, ftruncate past it too", st, 0);
    let st = in_child(|| {
        let lim = Rlimit { rlim_cur: 10, rlim_max: 10 };
        prlimit64(RLIMIT_FSIZE, Some(&lim), None);
        let fd = openat(-100, c"/tmp/fsize2", O_CREAT | O_RDWR | O_TRUNC, 0o600) as i32;
        let buf = [b'x'; 26];
        write(fd, &buf);
        write(fd, &buf);
        0
    });
    t.killed_by("... and without a handler SIGXFSZ kills", st, SIGXFSZ);

    // SIGCHLD ignored, or SA_NOCLDWAIT: no zombies, wait4 finds no child.
    let st = in_child(|| {
        signal_disposition(SIGCHLD, SIG_IGN);
        let pid = fork();
        if pid == 0 {
            exit(3);
        }
        let mut s = 0;
        // wait4 sleeps until the child is gone, then has nothing to report.
        if wait4(-1, Some(&mut s), 0) != -10 {
            return 1;
        }
        0
    });
    t.exited("SIGCHLD = SIG_IGN: the child is reaped by the kernel, wait4 says ECHILD", st, 0);
    let st = in_child(|| {
        sigaction(SIGCHLD, on_chld, SA_NOCLDWAIT, 0);
        let pid = fork();
        if pid == 0 {
            exit(3);
        }
        let mut s = 0;
        let r = wait4(-1, Some(&mut s), 0);
        // The handler may run before wait4 sleeps or interrupt it (EINTR): both fine.
        if r != -10 && r != -4 {
            return 1;
        }
        for _ in 0..100 {
            if CHLD.load(Ordering::SeqCst) != 0 {
                break;
            }
            sleep_ms(2);
        }
        if CHLD.load(Ordering::SeqCst) != 1 || wait4(-1, Some(&mut s), 1) != -10 {
            return 2;
        }
        0
    });
    t.exited("SA_NOCLDWAIT: no zombie, yet the SIGCHLD handler runs", st, 0);
    caps(&mut t);
    t.finish()
}

/// capget(2) with version 3: (effective, permitted, inheritable) as 64-bit sets.
fn capget() -> (u64, u64, u64) {
    let hdr = [0x2008_0522u32, 0];
    let mut d = [0u32; 6];
    unsafe { syscall3(90, hdr.as_ptr() as usize, d.as_mut_ptr() as usize, 0) };
    let set = |i: usize| d[i] as u64 | (d[3 + i] as u64) << 32;
    (set(0), set(1), set(2))
}

fn capset(eff: u64, perm: u64, inh: u64) -> isize {
    let hdr = [0x2008_0522u32, 0];
    let d = [
        eff as u32, perm as u32, inh as u32,
        (eff >> 32) as u32, (perm >> 32) as u32, (inh >> 32) as u32,
    ];
    unsafe { syscall3(91, hdr.as_ptr() as usize, d.as_ptr() as usize, 0) }
}

fn prctl(option: usize, arg2: usize) -> isize {
    unsafe { syscall3(167, option, arg2, 0) }
}

/// Capabilities (capget/capset, setuid's effect, CAP_IPC_LOCK and RLIMIT_MEMLOCK) and the
/// prctl options libraries use.
fn caps(t: &mut Tap) {
    const FULL: u64 = (1 << 41) - 1;
    const IPC_LOCK: u64 = 1 << 14;
    t.ok(capget() == (FULL, FULL, 0), "capget: root holds every capability");
    let mut hdr = [0x1234u32, 0];
    let r = unsafe { syscall3(90, hdr.as_mut_ptr() as usize, 0, 0) };
    t.ok(r == 0 && hdr[0] == 0x2008_0522, "capget with an unknown version and no data: the preferred version comes back");
    let st = in_child(|| {
        let lim = Rlimit { rlim_cur: 64 * 1024, rlim_max: 64 * 1024 };
        prlimit64(8, Some(&lim), None); // RLIMIT_MEMLOCK
        let m = mmap_anon(1 << 20) as usize;
        if mlock(m, 1 << 20) != 0 {
            return 1; // root may lock past the limit
        }
        munlock(m, 1 << 20);
        if capset(FULL & !IPC_LOCK, FULL & !IPC_LOCK, 0) != 0 || capget().0 & IPC_LOCK != 0 {
            return 2;
        }
        if mlock(m, 1 << 20) != -12 {
            return 3; // ENOMEM: past RLIMIT_MEMLOCK without CAP_IPC_LOCK
        }
        if mlock(m, 32 * 1024) != 0 {
            return 4;
        }
        if capset(FULL, FULL, 0) != -1 {
            return 5; // EPERM: a dropped capability does not come back
        }
        0
    });
    t.exited("capset drops CAP_IPC_LOCK: mlock past RLIMIT_MEMLOCK is ENOMEM, within it works; no way back", st, 0);
    let st = in_child(|| {
        unsafe { syscall3(146, 1000, 0, 0) }; // setuid
        if capget() != (0, 0, 0) {
            return 1;
        }
        0
    });
    t.exited("setuid(1000) from root empties the capability sets", st, 0);
    t.ret("prctl(PR_GET_DUMPABLE)", prctl(3, 0), 1);
    t.ret("prctl(PR_CAPBSET_READ, CAP_IPC_LOCK)", prctl(23, 14), 1);
    t.ret("prctl(PR_SET_NAME)", prctl(15, c"limits-renamed-and-cut".as_ptr() as usize), 0);
    let mut name = [0u8; 16];
    prctl(16, name.as_mut_ptr() as usize);
    t.ok(&name[..15] == b"limits-renamed-" && name[15] == 0, "PR_GET_NAME: the first 15 bytes");
    t.err("an unknown prctl option: EINVAL", prctl(0x7fff, 0), EINVAL);
}

const SIGCHLD: i32 = 17;
const SA_NOCLDWAIT: u64 = 2;
static CHLD: AtomicU32 = AtomicU32::new(0);
extern "C" fn on_chld(_: i32, _: *mut Siginfo, _: *mut Ucontext) {
    CHLD.fetch_add(1, Ordering::SeqCst);
}

//! mmap_checks: do_mmap's checks of the open file, row by row, and overcommit accounting
//! through /proc/sys/vm/overcommit_{memory,ratio,kbytes} and /proc/meminfo.
//!
//! Written from the mmap(2), mprotect(2) and proc(5) man pages,
//! Documentation/vm/overcommit-accounting.rst and Linux 5.10's `do_mmap` (mm/mmap.c),
//! `__vm_enough_memory` and the overcommit sysctl handlers (mm/util.c), `dup_mmap`
//! (kernel/fork.c) and `mmap_zero` (drivers/char/mem.c). It passes on Linux arm64 as root
//! (it changes the overcommit sysctls for a moment and puts back what it found).
//!
//! Needs: `/etc/test.txt` (read-only root fs), a writable tmpfs on `/tmp`, `/dev/zero`,
//! `/proc/meminfo`, `/proc/sys/vm/overcommit_*`.
//!
//! Not checked here: an append-only inode (`chattr +a`, Linux's IS_APPEND; tmpfs has no
//! such attribute in 5.10, nor do our file systems) and a noexec mount (we have none):
//! the host tests in kernel/src/mm/mmap_tests.rs cover both rows.
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
const TMPFILE: &CStr = c"/tmp/mmap_checks.dat";
const MEMORY: &CStr = c"/proc/sys/vm/overcommit_memory";
const RATIO: &CStr = c"/proc/sys/vm/overcommit_ratio";
const KBYTES: &CStr = c"/proc/sys/vm/overcommit_kbytes";
const MIB: usize = 1 << 20;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("mmap_checks");
    // Grow the stack now: in mode 2 below the committed total, growing it later would be
    // a refused charge (acct_stack_growth), that is a SIGSEGV.
    prefault_stack();
    file_rows(&mut t);
    dev_zero_rows(&mut t);
    overcommit_rows(&mut t);
    t.finish()
}

#[inline(never)]
fn prefault_stack() {
    let mut b = [0u8; 192 * 1024];
    for i in (0..b.len()).step_by(P) {
        b[i] = 1;
    }
    core::hint::black_box(&mut b);
}

/// The open mode of a regular file limits the mapping (do_mmap's MAP_SHARED and
/// MAP_PRIVATE cases).
fn file_rows(t: &mut Tap) {
    let ro = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    t.success("open /etc/test.txt O_RDONLY", ro as isize);
    let rw = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    t.success("create /tmp/mmap_checks.dat O_RDWR", rw as isize);
    t.ret("ftruncate it to 2 pages", ftruncate(rw, 2 * P), 0);
    let wo = open(TMPFILE, O_WRONLY, 0) as i32;
    t.success("open /tmp/mmap_checks.dat O_WRONLY", wo as isize);
    let app = open(TMPFILE, O_RDWR | O_APPEND, 0) as i32;
    t.success("open /tmp/mmap_checks.dat O_RDWR|O_APPEND", app as isize);

    t.err(
        "mmap MAP_SHARED PROT_WRITE of a file opened O_RDONLY fails with EACCES",
        mmap(0, P, RW, MAP_SHARED, ro, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_SHARED_VALIDATE PROT_WRITE of a file opened O_RDONLY fails with EACCES",
        mmap(0, P, RW, MAP_SHARED_VALIDATE, ro, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_SHARED PROT_READ of a file opened O_WRONLY fails with EACCES",
        mmap(0, P, PROT_READ, MAP_SHARED, wo, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_PRIVATE PROT_READ of a file opened O_WRONLY fails with EACCES",
        mmap(0, P, PROT_READ, MAP_PRIVATE, wo, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_PRIVATE PROT_NONE of a file opened O_WRONLY fails with EACCES",
        mmap(0, P, PROT_NONE, MAP_PRIVATE, wo, 0),
        EACCES,
    );

    // O_APPEND is not the append-only inode attribute IS_APPEND tests.
    let a = mmap(0, P, RW, MAP_SHARED, app, 0);
    t.success(
        "mmap MAP_SHARED PROT_WRITE of a file opened O_RDWR|O_APPEND succeeds",
        a,
    );
    if a >= 0 {
        munmap(a as usize, P);
    }

    // Shared, read-only open: no VM_MAYWRITE, but VM_MAYREAD and VM_MAYEXEC.
    let a = mmap(0, P, PROT_READ, MAP_SHARED, ro, 0);
    if t.success(
        "mmap MAP_SHARED PROT_READ of a file opened O_RDONLY succeeds",
        a,
    ) {
        let a = a as usize;
        t.err(
            "mprotect PROT_WRITE of that shared mapping fails with EACCES",
            mprotect(a, P, RW),
            EACCES,
        );
        t.ret(
            "mprotect PROT_READ|PROT_EXEC of that shared mapping succeeds",
            mprotect(a, P, PROT_READ | PROT_EXEC),
            0,
        );
        munmap(a, P);
    }
    // Shared, read-write open: VM_MAYWRITE, so write permission can come back.
    let a = mmap(0, P, PROT_READ, MAP_SHARED, rw, 0);
    if t.success(
        "mmap MAP_SHARED PROT_READ of a file opened O_RDWR succeeds",
        a,
    ) {
        t.ret(
            "mprotect PROT_WRITE of that shared mapping succeeds",
            mprotect(a as usize, P, RW),
            0,
        );
        munmap(a as usize, P);
    }
    // Private: copy on write, so a read-only open is enough for PROT_WRITE.
    let a = mmap(0, P, PROT_READ, MAP_PRIVATE, ro, 0);
    if t.success(
        "mmap MAP_PRIVATE PROT_READ of a file opened O_RDONLY succeeds",
        a,
    ) {
        t.ret(
            "mprotect PROT_WRITE of that private mapping succeeds",
            mprotect(a as usize, P, RW),
            0,
        );
        munmap(a as usize, P);
    }
    close(ro);
    close(rw);
    close(wo);
    close(app);
    t.ret("unlink /tmp/mmap_checks.dat", unlink(TMPFILE), 0);
}

/// /dev/zero: do_mmap checks the open mode before `mmap_zero` makes the mapping shmem
/// (VM_SHARED) or anonymous.
fn dev_zero_rows(t: &mut Tap) {
    let zro = open(c"/dev/zero", O_RDONLY, 0) as i32;
    t.success("open /dev/zero O_RDONLY", zro as isize);
    let zwo = open(c"/dev/zero", O_WRONLY, 0) as i32;
    t.success("open /dev/zero O_WRONLY", zwo as isize);
    let zrw = open(c"/dev/zero", O_RDWR, 0) as i32;
    t.success("open /dev/zero O_RDWR", zrw as isize);

    t.err(
        "mmap MAP_SHARED PROT_WRITE of /dev/zero opened O_RDONLY fails with EACCES",
        mmap(0, P, RW, MAP_SHARED, zro, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_PRIVATE PROT_READ of /dev/zero opened O_WRONLY fails with EACCES",
        mmap(0, P, PROT_READ, MAP_PRIVATE, zwo, 0),
        EACCES,
    );
    let a = mmap(0, P, PROT_READ, MAP_SHARED, zro, 0);
    if t.success(
        "mmap MAP_SHARED PROT_READ of /dev/zero opened O_RDONLY succeeds",
        a,
    ) {
        let a = a as usize;
        t.eq("it reads as zero", peek(a), 0);
        t.err(
            "mprotect PROT_WRITE of that mapping fails with EACCES (no VM_MAYWRITE)",
            mprotect(a, P, RW),
            EACCES,
        );
        munmap(a, P);
    }
    let a = mmap(0, P, RW, MAP_PRIVATE, zro, 0);
    if t.success(
        "mmap MAP_PRIVATE PROT_WRITE of /dev/zero opened O_RDONLY succeeds",
        a,
    ) {
        poke(a as usize, 7);
        t.eq(
            "that private mapping is writable memory",
            peek(a as usize),
            7,
        );
        munmap(a as usize, P);
    }
    let a = mmap(0, P, RW, MAP_SHARED, zrw, 0);
    if t.success(
        "mmap MAP_SHARED PROT_WRITE of /dev/zero opened O_RDWR succeeds",
        a,
    ) {
        let a = a as usize;
        let st = in_child(|| {
            poke(a, 0x5a);
            0
        });
        t.exited("a child writes to the shared /dev/zero mapping", st, 0);
        t.eq(
            "the parent sees the child's write (shared memory)",
            peek(a),
            0x5a,
        );
        munmap(a, P);
    }
    close(zro);
    close(zwo);
    close(zrw);
}

/// Read a small /proc file into `buf`; the text, or the negative errno.
fn slurp<'a>(path: &CStr, buf: &'a mut [u8]) -> Result<&'a str, isize> {
    let fd = open(path, O_RDONLY, 0);
    if fd < 0 {
        return Err(fd);
    }
    let mut len = 0;
    while len < buf.len() {
        let n = read(fd as i32, &mut buf[len..]);
        if n < 0 {
            close(fd as i32);
            return Err(n);
        }
        if n == 0 {
            break;
        }
        len += n as usize;
    }
    close(fd as i32);
    Ok(core::str::from_utf8(&buf[..len]).unwrap_or(""))
}

/// A sysctl's value, or None when it cannot be read or parsed.
fn sysctl(path: &CStr) -> Option<i64> {
    let mut buf = [0u8; 64];
    slurp(path, &mut buf).ok()?.trim().parse().ok()
}

/// Write `text` to a sysctl: write(2)'s return value, or open's error.
fn set_sysctl(path: &CStr, text: &str) -> isize {
    let fd = open(path, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, text.as_bytes());
    close(fd as i32);
    r
}

/// Write a number (and a newline) to a sysctl.
fn set_num(path: &CStr, v: i64) -> isize {
    let mut buf = [0u8; 32];
    let mut n = 0;
    let (neg, mut m) = (v < 0, v.unsigned_abs());
    let mut digits = [0u8; 24];
    let mut d = 0;
    loop {
        digits[d] = b'0' + (m % 10) as u8;
        d += 1;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if neg {
        buf[n] = b'-';
        n += 1;
    }
    while d > 0 {
        d -= 1;
        buf[n] = digits[d];
        n += 1;
    }
    buf[n] = b'\n';
    n += 1;
    set_sysctl(path, core::str::from_utf8(&buf[..n]).unwrap_or("x"))
}

/// A `/proc/meminfo` line's value in kB.
fn meminfo_kb(key: &str) -> Option<usize> {
    let mut buf = [0u8; 4096];
    let text = slurp(c"/proc/meminfo", &mut buf).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k != key {
            return None;
        }
        v.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

fn committed_kb() -> usize {
    meminfo_kb("Committed_AS").unwrap_or(0)
}

/// Round bytes up to whole pages.
fn pages(bytes: usize) -> usize {
    bytes.div_ceil(P) * P
}

/// The overcommit sysctls and where mmap, mprotect, brk, fork, exit and munmap charge and
/// give back. Every value the test changes is put back at the end.
fn overcommit_rows(t: &mut Tap) {
    let (Some(mode0), Some(ratio0), Some(kbytes0)) =
        (sysctl(MEMORY), sysctl(RATIO), sysctl(KBYTES))
    else {
        t.ok(false, "read /proc/sys/vm/overcommit_{memory,ratio,kbytes}");
        return;
    };
    t.ok(true, "read /proc/sys/vm/overcommit_{memory,ratio,kbytes}");
    let (Some(ram_kb), Some(swap_kb)) = (meminfo_kb("MemTotal"), meminfo_kb("SwapTotal")) else {
        t.ok(false, "read MemTotal and SwapTotal from /proc/meminfo");
        return;
    };

    // The handlers' EINVAL rows: the value stays.
    t.err(
        "writing 3 to overcommit_memory fails with EINVAL",
        set_sysctl(MEMORY, "3\n"),
        EINVAL,
    );
    t.err(
        "writing -1 to overcommit_memory fails with EINVAL",
        set_sysctl(MEMORY, "-1\n"),
        EINVAL,
    );
    t.err(
        "writing abc to overcommit_memory fails with EINVAL",
        set_sysctl(MEMORY, "abc\n"),
        EINVAL,
    );
    t.err(
        "writing 5x to overcommit_ratio fails with EINVAL",
        set_sysctl(RATIO, "5x\n"),
        EINVAL,
    );
    t.eq(
        "overcommit_memory is unchanged after the refused writes",
        sysctl(MEMORY).unwrap_or(-1),
        mode0,
    );

    // Mode 1: anything goes.
    let huge = pages(4 * (ram_kb + swap_kb) * 1024);
    t.ret(
        "writing 1 to overcommit_memory succeeds",
        set_sysctl(MEMORY, "1\n"),
        2,
    );
    t.eq("overcommit_memory reads 1", sysctl(MEMORY).unwrap_or(-1), 1);
    let a = mmap(0, huge, RW, ANON, -1, 0);
    t.success(
        "mode 1: a private writable mmap of 4 x (RAM + swap) succeeds",
        a,
    );
    if a >= 0 {
        munmap(a as usize, huge);
    }

    // Mode 0: only a single request bigger than RAM + swap is refused.
    t.ret(
        "writing 0 to overcommit_memory succeeds",
        set_sysctl(MEMORY, "0\n"),
        2,
    );
    t.err(
        "mode 0: a private writable mmap of 4 x (RAM + swap) fails with ENOMEM",
        mmap(0, huge, RW, ANON, -1, 0),
        ENOMEM,
    );
    let a = mmap(0, huge, RW, ANON | MAP_NORESERVE, -1, 0);
    t.success("mode 0: the same with MAP_NORESERVE succeeds", a);
    if a >= 0 {
        munmap(a as usize, huge);
    }
    let a = mmap(0, huge, PROT_READ, ANON, -1, 0);
    t.success("mode 0: the same PROT_READ (not accounted) succeeds", a);
    if a >= 0 {
        munmap(a as usize, huge);
    }

    strict_ratio_rows(t, ram_kb, swap_kb);
    strict_kbytes_rows(t, ram_kb, swap_kb);

    // Put back what we found: the ratio or the kbytes (each write zeroes the other),
    // then the mode.
    if kbytes0 != 0 {
        set_num(KBYTES, kbytes0);
    } else {
        set_num(RATIO, ratio0);
    }
    set_num(MEMORY, mode0);
    t.ok(
        sysctl(MEMORY) == Some(mode0)
            && sysctl(RATIO) == Some(ratio0)
            && sysctl(KBYTES) == Some(kbytes0),
        "overcommit_memory, overcommit_ratio and overcommit_kbytes are restored",
    );
}

/// Mode 2 with overcommit_ratio 1: CommitLimit is 1% of RAM plus swap, below what is
/// already committed on most systems, so every new charge is refused.
fn strict_ratio_rows(t: &mut Tap, ram_kb: usize, swap_kb: usize) {
    t.ret(
        "writing 1 to overcommit_ratio succeeds",
        set_sysctl(RATIO, "1\n"),
        2,
    );
    t.eq(
        "overcommit_kbytes reads 0 after a write of overcommit_ratio",
        sysctl(KBYTES).unwrap_or(-1),
        0,
    );
    t.ret(
        "writing 2 to overcommit_memory succeeds",
        set_sysctl(MEMORY, "2\n"),
        2,
    );
    let limit = meminfo_kb("CommitLimit").unwrap_or(0);
    let want = ram_kb / 100 + swap_kb;
    t.check(
        limit.abs_diff(want) <= 8,
        "CommitLimit is 1% of MemTotal plus SwapTotal",
        limit,
        want,
    );
    let big = pages(limit * 1024 + 16 * MIB);
    t.err(
        "mode 2: a private writable mmap of CommitLimit + 16 MiB fails with ENOMEM",
        mmap(0, big, RW, ANON, -1, 0),
        ENOMEM,
    );
    t.err(
        "mode 2: MAP_NORESERVE does not help (ENOMEM)",
        mmap(0, big, RW, ANON | MAP_NORESERVE, -1, 0),
        ENOMEM,
    );
    let a = mmap(0, big, PROT_READ, ANON, -1, 0);
    if t.success("mode 2: the same PROT_READ (not accounted) succeeds", a) {
        t.err(
            "mode 2: mprotect PROT_WRITE of it (a charge) fails with ENOMEM",
            mprotect(a as usize, big, RW),
            ENOMEM,
        );
        munmap(a as usize, big);
    }
    let cur = brk(0);
    t.addr(
        "mode 2: brk growth by CommitLimit + 16 MiB leaves the break where it was",
        brk(cur + big),
        cur,
    );
}

/// Mode 2 with overcommit_kbytes: fork charges the child's copy of the private writable
/// memory, exit and munmap give it back.
fn strict_kbytes_rows(t: &mut Tap, ram_kb: usize, swap_kb: usize) {
    // Bigger than twice the swap, so half of it cannot hide in swap's share of the limit.
    let m_kb = 2 * swap_kb + ram_kb / 2;
    let m = pages(m_kb * 1024);
    let slack = m_kb / 8;
    let c0 = committed_kb();
    t.success(
        "writing overcommit_kbytes succeeds",
        set_num(KBYTES, (c0 + 4 * m_kb) as i64),
    );
    t.eq(
        "overcommit_ratio reads 0 after a write of overcommit_kbytes",
        sysctl(RATIO).unwrap_or(-1),
        0,
    );
    let limit = meminfo_kb("CommitLimit").unwrap_or(0);
    t.check(
        limit.abs_diff(c0 + 4 * m_kb + swap_kb) <= 4,
        "CommitLimit is overcommit_kbytes plus SwapTotal",
        limit,
        c0 + 4 * m_kb + swap_kb,
    );
    let a = mmap(0, m, RW, ANON, -1, 0);
    if !t.success(
        "mode 2: a private writable mmap within CommitLimit succeeds",
        a,
    ) {
        return;
    }
    let a = a as usize;
    let c1 = committed_kb();
    t.check(
        c1 + slack >= c0 + m_kb,
        "Committed_AS grows by the mapping",
        c1,
        format_args!(">= {}", c0 + m_kb - slack),
    );

    // Room for the parent's charge but not for the child's copy of it.
    set_num(KBYTES, (c1 + m_kb / 2) as i64);
    let st = in_child(|| 0);
    t.check(
        st.0 == -ENOMEM,
        "mode 2: fork fails with ENOMEM when the child's copy of the mapping does not fit",
        st,
        "fork/wait4 failed with -ENOMEM",
    );

    set_num(KBYTES, (c1 + 4 * m_kb) as i64);
    let st = in_child(|| {
        if committed_kb() + slack >= c1 + m_kb {
            0
        } else {
            1
        }
    });
    t.exited(
        "in a forked child, Committed_AS counts the copy of the mapping",
        st,
        0,
    );
    let c2 = committed_kb();
    t.check(
        c2 <= c1 + slack,
        "the child's charge is given back when it exits",
        c2,
        format_args!("<= {}", c1 + slack),
    );
    t.ret("munmap of the mapping succeeds", munmap(a, m), 0);
    let c3 = committed_kb();
    t.check(
        c3 + m_kb <= c2 + slack,
        "munmap gives the mapping's charge back",
        c3,
        format_args!("<= {}", (c2 + slack).saturating_sub(m_kb)),
    );
}

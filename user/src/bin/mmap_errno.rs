//! mmap_errno: the ERRORS rows of mmap(2), munmap(2), mprotect(2) and brk(2) that apply to a
//! kernel with anonymous, file and shmem mappings, each checked against what Linux arm64
//! answers (the same binary passes on a Linux 6.1 arm64 kernel).
//!
//! Linux: `arch/arm64/kernel/sys.c` (sys_mmap: the offset check), `mm/mmap.c` (ksys_mmap_pgoff,
//! do_mmap, get_unmapped_area, __do_munmap, sys_brk), `mm/mprotect.c` (do_mprotect_pkey).
//! Needs: `/etc/test.txt` (read-only root fs, more than 4096 bytes), a writable tmpfs on `/tmp`,
//! `/proc/self/maps`.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
const P: usize = PAGE_SIZE;
const TMPFILE: &core::ffi::CStr = c"/tmp/mmap_errno.dat";

/// The files the checks map.
struct Files {
    /// /etc/test.txt, O_RDONLY.
    ro: i32,
    /// /tmp/mmap_errno.dat (8 KiB), O_RDWR.
    rw: i32,
    /// /tmp/mmap_errno.dat, O_WRONLY.
    wo: i32,
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("mmap_errno");
    let ro = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    t.success("open /etc/test.txt O_RDONLY", ro as isize);
    let rw = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    t.success("create /tmp/mmap_errno.dat O_RDWR", rw as isize);
    t.ret(
        "ftruncate /tmp/mmap_errno.dat to 8192 bytes",
        ftruncate(rw, 2 * P),
        0,
    );
    let wo = open(TMPFILE, O_WRONLY, 0) as i32;
    t.success("open /tmp/mmap_errno.dat O_WRONLY", wo as isize);
    let f = Files { ro, rw, wo };

    // A private PROT_NONE reservation: MAP_FIXED checks below only ever land inside it.
    let res = mmap(0, 16 * P, PROT_NONE, ANON, -1, 0);
    if !t.success("reserve 16 pages PROT_NONE for the MAP_FIXED checks", res) {
        return t.finish();
    }
    let res = res as usize;

    mmap_einval(&mut t, &f, res);
    mmap_eopnotsupp(&mut t, &f);
    mmap_ebadf(&mut t);
    mmap_eacces(&mut t, &f);
    mmap_enodev(&mut t);
    mmap_enomem(&mut t);
    mmap_eexist(&mut t, res);
    mmap_eoverflow(&mut t, &f);
    munmap_rows(&mut t);
    mprotect_rows(&mut t, &f);
    brk_rows(&mut t);

    munmap(res, 16 * P);
    close(f.ro);
    close(f.rw);
    close(f.wo);
    t.ret("unlink /tmp/mmap_errno.dat", unlink(TMPFILE), 0);
    t.finish()
}

/// mmap(2) EINVAL: "We don't like addr, length, or offset", "length was 0", "flags contained
/// none of MAP_PRIVATE, MAP_SHARED, or MAP_SHARED_VALIDATE".
fn mmap_einval(t: &mut Tap, f: &Files, res: usize) {
    t.err(
        "mmap anonymous with length 0 fails with EINVAL",
        mmap(0, 0, RW, ANON, -1, 0),
        EINVAL,
    );
    t.err(
        "mmap of a file with length 0 fails with EINVAL",
        mmap(0, 0, PROT_READ, MAP_PRIVATE, f.ro, 0),
        EINVAL,
    );
    t.err(
        "mmap with neither MAP_PRIVATE nor MAP_SHARED (type 0) fails with EINVAL",
        mmap(0, P, RW, MAP_ANONYMOUS, -1, 0),
        EINVAL,
    );
    t.err(
        "mmap with mapping type 0xf fails with EINVAL",
        mmap(0, P, RW, 0xf | MAP_ANONYMOUS, -1, 0),
        EINVAL,
    );
    t.err(
        "mmap of a file with mapping type 0 fails with EINVAL",
        mmap(0, P, PROT_READ, 0, f.ro, 0),
        EINVAL,
    );
    t.err(
        "mmap MAP_FIXED at an address that is not page aligned fails with EINVAL",
        mmap(res + 100, P, RW, ANON | MAP_FIXED, -1, 0),
        EINVAL,
    );
    t.err(
        "mmap of a file at an offset that is not page aligned fails with EINVAL",
        mmap(0, P, PROT_READ, MAP_PRIVATE, f.ro, 100),
        EINVAL,
    );
    // arm64's sys_mmap checks the offset before it looks at anything else.
    t.err(
        "mmap anonymous with an offset that is not page aligned fails with EINVAL",
        mmap(0, P, RW, ANON, -1, 100),
        EINVAL,
    );
    // Without MAP_FIXED the address is only a hint: rounded, never an error.
    let a = mmap(res + 100, P, RW, ANON, -1, 0);
    t.check(
        a >= 0 && (a as usize).is_multiple_of(P),
        "mmap with an unaligned hint (no MAP_FIXED) succeeds page aligned",
        Ret(a),
        "a page-aligned address",
    );
    if a >= 0 && a as usize != res {
        munmap(a as usize, P);
    }
}

/// mmap(2) EOPNOTSUPP: "MAP_SHARED_VALIDATE ... with an unknown flag"; MAP_SHARED keeps the
/// legacy behaviour of ignoring unknown flags.
fn mmap_eopnotsupp(t: &mut Tap, f: &Files) {
    const UNKNOWN: usize = 0x200000; // no MAP_* flag has this bit
    t.err(
        "mmap MAP_SHARED_VALIDATE with an unknown flag fails with EOPNOTSUPP",
        mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE | UNKNOWN, f.rw, 0),
        EOPNOTSUPP,
    );
    t.err(
        "mmap MAP_SHARED_VALIDATE|MAP_SYNC of a tmpfs file (no DAX) fails with EOPNOTSUPP",
        mmap(0, P, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, f.rw, 0),
        EOPNOTSUPP,
    );
    let a = mmap(0, P, PROT_READ, MAP_SHARED | UNKNOWN, f.rw, 0);
    t.success("mmap MAP_SHARED ignores an unknown flag", a);
    if a >= 0 {
        munmap(a as usize, P);
    }
    let a = mmap(0, P, RW, MAP_SHARED_VALIDATE, f.rw, 0);
    t.success(
        "mmap MAP_SHARED_VALIDATE with only known flags maps the file",
        a,
    );
    if a >= 0 {
        munmap(a as usize, P);
    }
}

/// mmap(2) EBADF: "fd is not a valid file descriptor (and MAP_ANONYMOUS was not set)".
fn mmap_ebadf(t: &mut Tap) {
    t.err(
        "mmap of fd -1 without MAP_ANONYMOUS fails with EBADF",
        mmap(0, P, PROT_READ, MAP_PRIVATE, -1, 0),
        EBADF,
    );
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    close(fd);
    t.err(
        "mmap of a closed fd fails with EBADF",
        mmap(0, P, PROT_READ, MAP_PRIVATE, fd, 0),
        EBADF,
    );
    let a = mmap(0, P, RW, ANON, 12345, 0);
    t.success("mmap MAP_ANONYMOUS ignores the fd", a);
    if a >= 0 {
        munmap(a as usize, P);
    }
}

/// mmap(2) EACCES: "a file descriptor refers to a non-regular file. Or a file mapping was
/// requested, but fd is not open for reading. Or MAP_SHARED was requested and PROT_WRITE is
/// set, but fd is not open in read/write (O_RDWR) mode."
fn mmap_eacces(t: &mut Tap, f: &Files) {
    t.err(
        "mmap MAP_PRIVATE PROT_READ of a file opened O_WRONLY fails with EACCES",
        mmap(0, P, PROT_READ, MAP_PRIVATE, f.wo, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_SHARED PROT_READ|PROT_WRITE of a file opened O_WRONLY fails with EACCES",
        mmap(0, P, RW, MAP_SHARED, f.wo, 0),
        EACCES,
    );
    t.err(
        "mmap MAP_SHARED PROT_WRITE of a file opened O_RDONLY fails with EACCES",
        mmap(0, P, RW, MAP_SHARED, f.ro, 0),
        EACCES,
    );
    let a = mmap(0, P, PROT_READ, MAP_SHARED, f.ro, 0);
    t.success(
        "mmap MAP_SHARED PROT_READ of a file opened O_RDONLY succeeds",
        a,
    );
    if a >= 0 {
        munmap(a as usize, P);
    }
    let a = mmap(0, P, RW, MAP_PRIVATE, f.ro, 0);
    t.success(
        "mmap MAP_PRIVATE PROT_WRITE of a file opened O_RDONLY succeeds (copy on write)",
        a,
    );
    if a >= 0 {
        munmap(a as usize, P);
    }
}

/// mmap(2) ENODEV: "The underlying filesystem of the specified file does not support memory
/// mapping" (no f_op->mmap: directories, /proc seq files).
fn mmap_enodev(t: &mut Tap) {
    for (path, what) in [
        (c"/", "mmap of the directory / fails with ENODEV"),
        (
            c"/tmp",
            "mmap of the tmpfs directory /tmp fails with ENODEV",
        ),
        (
            c"/proc/self/maps",
            "mmap of /proc/self/maps fails with ENODEV",
        ),
    ] {
        let fd = open(path, O_RDONLY, 0) as i32;
        if fd < 0 {
            t.check(
                false,
                what,
                format_args!("open failed with {}", Ret(fd as isize)),
                "-ENODEV",
            );
            continue;
        }
        t.err(what, mmap(0, P, PROT_READ, MAP_PRIVATE, fd, 0), ENODEV);
        close(fd);
    }
}

/// mmap(2) ENOMEM: "No memory is available", "The process's maximum number of mappings would
/// have been exceeded", and Linux's address-range checks in get_unmapped_area.
fn mmap_enomem(t: &mut Tap) {
    t.err(
        "mmap of more than TASK_SIZE bytes fails with ENOMEM",
        mmap(0, TASK_SIZE * 2, RW, ANON, -1, 0),
        ENOMEM,
    );
    t.err(
        "mmap of usize::MAX bytes fails with ENOMEM (the page rounding overflows)",
        mmap(0, usize::MAX, RW, ANON, -1, 0),
        ENOMEM,
    );
    t.err(
        "mmap MAP_FIXED whose end passes TASK_SIZE fails with ENOMEM",
        mmap(TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED, -1, 0),
        ENOMEM,
    );
    t.err(
        "mmap MAP_FIXED at a kernel address fails with ENOMEM",
        mmap(KERNEL_ADDR, P, RW, ANON | MAP_FIXED, -1, 0),
        ENOMEM,
    );
}

/// mmap(2) EEXIST: "MAP_FIXED_NOREPLACE was specified in flags, and the range covered by addr
/// and length clashes with an existing mapping."
fn mmap_eexist(t: &mut Tap, res: usize) {
    t.err(
        "mmap MAP_FIXED_NOREPLACE over an existing mapping fails with EEXIST",
        mmap(res, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
        EEXIST,
    );
    // Free the upper half of the reservation: [res + 8P, res + 16P).
    t.ret(
        "munmap the upper half of the reservation",
        munmap(res + 8 * P, 8 * P),
        0,
    );
    t.err(
        "mmap MAP_FIXED_NOREPLACE over a partly mapped range fails with EEXIST",
        mmap(res + 7 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
        EEXIST,
    );
    let want = (res + 8 * P) as isize;
    t.ret(
        "mmap MAP_FIXED_NOREPLACE on a free range maps exactly there",
        mmap(res + 8 * P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
        want,
    );
    let want = res as isize;
    t.ret(
        "mmap MAP_FIXED over an existing mapping replaces it",
        mmap(res, P, RW, ANON | MAP_FIXED, -1, 0),
        want,
    );
    // Put the reservation back together for later users.
    mmap(res, 16 * P, PROT_NONE, ANON | MAP_FIXED, -1, 0);
}

/// mmap(2) EOVERFLOW. The man page's row is about 32-bit page counts; on 64-bit Linux the
/// same errno comes from file_mmap_ok(): offset + length beyond MAX_LFS_FILESIZE (2^63 - 1).
fn mmap_eoverflow(t: &mut Tap, f: &Files) {
    t.err(
        "mmap of a file at offset 2^63 fails with EOVERFLOW",
        mmap(0, P, PROT_READ, MAP_PRIVATE, f.ro, 1 << 63),
        EOVERFLOW,
    );
    t.err(
        "mmap of a file at the last page offset (2^64 - 4096) fails with EOVERFLOW",
        mmap(0, P, PROT_READ, MAP_PRIVATE, f.ro, usize::MAX & !(P - 1)),
        EOVERFLOW,
    );
    let a = mmap(0, P, PROT_READ, MAP_PRIVATE, f.ro, 1 << 20);
    t.success(
        "mmap of a file wholly beyond its end succeeds (only an access raises SIGBUS)",
        a,
    );
    if a >= 0 {
        munmap(a as usize, P);
    }
}

/// True when nothing is mapped in `[addr, addr + len)` (MAP_FIXED_NOREPLACE succeeds there).
fn is_free(addr: usize, len: usize) -> bool {
    let a = mmap(addr, len, PROT_NONE, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    if a >= 0 {
        munmap(a as usize, len);
    }
    a == addr as isize
}

/// munmap(2) EINVAL: "We don't like addr, length, or offset"; "(since Linux 2.6.12) length was
/// 0"; and "It is not an error if the indicated range does not contain any mapped pages."
fn munmap_rows(t: &mut Tap) {
    let a = mmap_anon(3 * P);
    if !t.success("mmap 3 pages for the munmap checks", a) {
        return;
    }
    let a = a as usize;
    t.err(
        "munmap of an address that is not page aligned fails with EINVAL",
        munmap(a + 1, P),
        EINVAL,
    );
    t.err("munmap of length 0 fails with EINVAL", munmap(a, 0), EINVAL);
    t.err(
        "munmap of a range that passes TASK_SIZE fails with EINVAL",
        munmap(TASK_SIZE - P, 2 * P),
        EINVAL,
    );
    t.err(
        "munmap of a kernel address fails with EINVAL",
        munmap(KERNEL_ADDR, P),
        EINVAL,
    );
    t.err(
        "munmap of usize::MAX bytes fails with EINVAL",
        munmap(a, usize::MAX),
        EINVAL,
    );
    t.ret(
        "munmap of an unmapped range succeeds",
        munmap(unmapped_addr(), P),
        0,
    );
    t.ret("munmap of the middle page succeeds", munmap(a + P, P), 0);
    t.ret(
        "munmap of a range with a hole in it succeeds",
        munmap(a, 3 * P),
        0,
    );
    t.ok(
        is_free(a, 3 * P),
        "the whole range around the hole is unmapped",
    );
    let b = mmap_anon(2 * P);
    if b >= 0 {
        let b = b as usize;
        t.ret("munmap with length 4097 succeeds", munmap(b, P + 1), 0);
        t.ok(
            is_free(b, 2 * P),
            "munmap rounds the length up to whole pages",
        );
    }
}

/// mprotect(2) EINVAL: "addr is not a valid pointer, or not a multiple of the system page
/// size"; "Invalid flags specified in prot"; "Both PROT_GROWSUP and PROT_GROWSDOWN were
/// specified". ENOMEM: "Addresses in the range [addr, addr+len-1] are invalid for the address
/// space of the process, or specify one or more pages that are not mapped." EACCES: "The memory
/// cannot be given the specified access ... mmap(2) a file to which you have read-only access,
/// then ask mprotect() to mark it PROT_WRITE."
fn mprotect_rows(t: &mut Tap, f: &Files) {
    const PROT_GROWSDOWN: usize = 0x0100_0000;
    const PROT_GROWSUP: usize = 0x0200_0000;
    let a = mmap_anon(3 * P);
    if !t.success("mmap 3 pages for the mprotect checks", a) {
        return;
    }
    let a = a as usize;
    t.err(
        "mprotect of an address that is not page aligned fails with EINVAL",
        mprotect(a + 8, P, PROT_READ),
        EINVAL,
    );
    t.err(
        "mprotect with an unknown prot bit (0x80) fails with EINVAL",
        mprotect(a, P, PROT_READ | 0x80),
        EINVAL,
    );
    t.err(
        "mprotect with both PROT_GROWSDOWN and PROT_GROWSUP fails with EINVAL",
        mprotect(a, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP),
        EINVAL,
    );
    t.ret(
        "mprotect of length 0 succeeds, even on an unmapped address",
        mprotect(unmapped_addr(), 0, PROT_READ),
        0,
    );
    t.err(
        "mprotect of an unmapped range fails with ENOMEM",
        mprotect(unmapped_addr(), P, PROT_READ),
        ENOMEM,
    );
    t.err(
        "mprotect of a kernel address fails with ENOMEM",
        mprotect(KERNEL_ADDR, P, PROT_READ),
        ENOMEM,
    );
    t.err(
        "mprotect whose end wraps around fails with ENOMEM",
        mprotect(a, usize::MAX, PROT_READ),
        ENOMEM,
    );

    // PROT_NONE: the contents stay, but any touch is a SIGSEGV.
    unsafe { bytes(a, P)[0] = 0x5a };
    t.ret(
        "mprotect PROT_NONE of a written page succeeds",
        mprotect(a, P, PROT_NONE),
        0,
    );
    t.killed_by(
        "reading a PROT_NONE page kills a child with SIGSEGV",
        in_child(|| peek(a) as i32),
        SIGSEGV,
    );
    t.ret(
        "mprotect PROT_READ again succeeds",
        mprotect(a, P, PROT_READ),
        0,
    );
    t.eq(
        "the page keeps its contents across PROT_NONE",
        peek(a),
        0x5a,
    );
    t.killed_by(
        "writing a PROT_READ page kills a child with SIGSEGV",
        in_child(|| {
            poke(a, 1);
            0
        }),
        SIGSEGV,
    );

    // A hole: Linux changes the VMAs before the hole, then reports ENOMEM.
    t.ret(
        "mprotect back to read-write succeeds",
        mprotect(a, 3 * P, RW),
        0,
    );
    munmap(a + P, P);
    t.err(
        "mprotect over a hole fails with ENOMEM",
        mprotect(a, 3 * P, PROT_READ),
        ENOMEM,
    );
    t.killed_by(
        "mprotect over a hole still changed the pages before the hole (write gives SIGSEGV)",
        in_child(|| {
            poke(a, 1);
            0
        }),
        SIGSEGV,
    );
    t.exited(
        "mprotect over a hole left the pages after the hole alone (write works)",
        in_child(|| {
            poke(a + 2 * P, 1);
            0
        }),
        0,
    );
    munmap(a, 3 * P);

    // File mappings: VM_MAYWRITE is clear for MAP_SHARED of a file not open for writing.
    let s = mmap(0, P, PROT_READ, MAP_SHARED, f.ro, 0);
    if t.success("mmap MAP_SHARED PROT_READ of /etc/test.txt (O_RDONLY)", s) {
        t.err(
            "mprotect PROT_WRITE of a MAP_SHARED mapping of a read-only fd fails with EACCES",
            mprotect(s as usize, P, RW),
            EACCES,
        );
        munmap(s as usize, P);
    }
    let p = mmap(0, P, PROT_READ, MAP_PRIVATE, f.ro, 0);
    if t.success("mmap MAP_PRIVATE PROT_READ of /etc/test.txt (O_RDONLY)", p) {
        t.ret(
            "mprotect PROT_WRITE of a MAP_PRIVATE mapping of a read-only fd succeeds",
            mprotect(p as usize, P, RW),
            0,
        );
        munmap(p as usize, P);
    }
    let s = mmap(0, P, PROT_READ, MAP_SHARED, f.rw, 0);
    if t.success(
        "mmap MAP_SHARED PROT_READ of /tmp/mmap_errno.dat (O_RDWR)",
        s,
    ) {
        t.ret(
            "mprotect PROT_WRITE of a MAP_SHARED mapping of a read-write fd succeeds",
            mprotect(s as usize, P, RW),
            0,
        );
        munmap(s as usize, P);
    }
}

/// brk(2): "On success, brk() returns the new program break; on failure it returns the current
/// break" (the raw system call; glibc's wrapper turns that into -1/ENOMEM).
fn brk_rows(t: &mut Tap) {
    let b0 = brk(0);
    t.addr("brk(0) twice returns the same break", brk(0), b0);
    t.check(
        b0.is_multiple_of(P) && b0 != 0,
        "the initial break is page aligned",
        format_args!("{:#x}", b0),
        "a page-aligned address",
    );
    t.addr(
        "brk grows the break by 3 pages and returns it",
        brk(b0 + 3 * P),
        b0 + 3 * P,
    );
    let heap = unsafe { bytes(b0, 3 * P) };
    t.ok(
        heap.iter().all(|&b| b == 0),
        "memory from brk reads as zero",
    );
    heap.fill(0xa5);
    t.ok(
        heap.iter().all(|&b| b == 0xa5),
        "memory from brk is writable",
    );
    t.addr(
        "brk to an unaligned address returns exactly that address",
        brk(b0 + 3 * P - 100),
        b0 + 3 * P - 100,
    );
    t.addr(
        "brk(0) then returns that unaligned break",
        brk(0),
        b0 + 3 * P - 100,
    );
    t.exited(
        "the rest of the page above an unaligned break is still usable",
        in_child(|| {
            poke(b0 + 3 * P - 1, 1);
            0
        }),
        0,
    );
    t.addr(
        "brk shrinks the break by a page",
        brk(b0 + 2 * P),
        b0 + 2 * P,
    );
    t.killed_by(
        "the page above a shrunk break is unmapped (SIGSEGV)",
        in_child(|| peek(b0 + 2 * P) as i32),
        SIGSEGV,
    );
    t.addr("brk grows the break again", brk(b0 + 3 * P), b0 + 3 * P);
    t.ok(
        unsafe { bytes(b0 + 2 * P, P) }.iter().all(|&b| b == 0),
        "memory given back by brk and grown again reads as zero",
    );
    let cur = b0 + 3 * P;
    t.addr(
        "brk below the start of the heap returns the old break",
        brk(b0 - P),
        cur,
    );
    t.addr("brk(1) returns the old break", brk(1), cur);
    t.addr(
        "brk beyond TASK_SIZE returns the old break",
        brk(TASK_SIZE + P),
        cur,
    );
    t.addr(
        "brk(usize::MAX) returns the old break",
        brk(usize::MAX),
        cur,
    );

    // A mapping 64 pages above the break: brk may not run into it, and Linux also keeps at
    // least one free page between the break and the next mapping (sys_brk: `newbrk +
    // PAGE_SIZE > vm_start_gap(next)` fails).
    let next = cur + 64 * P;
    let m = mmap(next, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    if t.ret("mmap a page 64 pages above the break", m, next as isize) {
        t.addr(
            "brk across an existing mapping returns the old break",
            brk(next + 64 * P),
            cur,
        );
        t.addr(
            "brk right up to the start of a mapping returns the old break (a free page must stay between)",
            brk(next),
            cur,
        );
        t.addr(
            "brk to one page below a mapping succeeds",
            brk(next - P),
            next - P,
        );
        munmap(next, P);
    }
    t.addr("brk back to the initial break succeeds", brk(b0), b0);
}

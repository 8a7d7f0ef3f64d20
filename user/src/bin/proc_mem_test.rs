//! proc_mem_test: /proc/self/mem reads and writes through the kernel's
//! `access_remote_vm -> get_user_pages_remote` with FOLL_FORCE, and the Dirty COW rules
//! (CVE-2016-5195): a forced write to a private read-only mapping of a file changes the
//! process's own copy of the page, never the file, also when MADV_DONTNEED throws that
//! copy away between writes. Every check also holds on Linux.
#![no_std]
#![no_main]
use ulib::*;

const MADV_DONTNEED: usize = 4;
const PAGE: usize = 4096;

fn fill_file(path: &core::ffi::CStr, byte: u8) -> i32 {
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600);
    if fd < 0 {
        return fd as i32;
    }
    let page = [byte; PAGE];
    for _ in 0..2 {
        write(fd as i32, &page);
    }
    close(fd as i32);
    open(path, O_RDONLY, 0) as i32
}

/// The first byte of the file at `off`, by pread(2).
fn file_byte(fd: i32, off: usize) -> u8 {
    let mut b = [0u8; 1];
    pread(fd, &mut b, off);
    b[0]
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("proc_mem_test");
    let path = c"/tmp/proc_mem_test.file";
    let fd = fill_file(path, b'A');
    if !t.success("a 2-page file of 'A', reopened read-only", fd as isize) {
        return t.finish();
    }
    let p = mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    if !t.success("mmap(PROT_READ, MAP_PRIVATE) of it", p) {
        return t.finish();
    }
    let p = p as usize;
    let mem = open(c"/proc/self/mem", O_RDWR, 0);
    if !t.success("open /proc/self/mem read-write", mem) {
        return t.finish();
    }
    let mem = mem as i32;

    // Read through /proc/self/mem: the file's bytes, faulted in by the kernel.
    let mut b = [0u8; 4];
    t.ret("pread of the mapping through mem", pread(mem, &mut b, p), 4);
    t.ok(b == *b"AAAA", "reads the file's bytes");

    // A forced write to the read-only private mapping: the process's copy changes...
    t.ret(
        "pwrite into the read-only mapping through mem",
        pwrite(mem, b"BBBB", p + 8),
        4,
    );
    t.eq("the mapping shows the write", peek(p + 8), b'B');
    t.eq("the byte before it is the file's", peek(p + 7), b'A');
    // ... and the file never does.
    t.eq("the file is unchanged", file_byte(fd, 8), b'A');
    let mut r = [0u8; 4];
    pread(mem, &mut r, p + 8);
    t.ok(r == *b"BBBB", "mem reads back the process's copy");
    // The copy is in a PROT_READ mapping: its PTE must stay read-only (maybe_mkwrite).
    let st = in_child(|| {
        poke(p + 8, b'C');
        0
    });
    t.killed_by(
        "a user write to the copied page still faults (the PTE stayed read-only)",
        st,
        SIGSEGV,
    );

    // MADV_DONTNEED throws the private copy away: the file's page again.
    t.ret(
        "madvise(MADV_DONTNEED)",
        madvise(p, 2 * PAGE, MADV_DONTNEED),
        0,
    );
    t.eq(
        "after DONTNEED the mapping is the file's again",
        peek(p + 8),
        b'A',
    );

    // Dirty COW's pattern, write then DONTNEED, over and over: the file must never change.
    let mut file_changed = false;
    let mut copy_wrong = false;
    for i in 0..200usize {
        let off = p + (i % (2 * PAGE - 8));
        if pwrite(mem, b"XYZW", off) != 4 || peek(off) != b'X' {
            copy_wrong = true;
        }
        madvise(p, 2 * PAGE, MADV_DONTNEED);
        if file_byte(fd, off - p) != b'A' || peek(off) != b'A' {
            file_changed = true;
        }
    }
    t.ok(
        !copy_wrong,
        "200 forced writes each land in the process's copy",
    );
    t.ok(!file_changed, "and never in the file (the Dirty COW rule)");

    // Nothing mapped: EIO both ways.
    let hole = unmapped_addr();
    t.err(
        "pread of an unmapped address is EIO",
        pread(mem, &mut b, hole),
        errno::EIO,
    );
    t.err(
        "pwrite to an unmapped address is EIO",
        pwrite(mem, b"x", hole),
        errno::EIO,
    );

    close(mem);
    munmap(p, 2 * PAGE);
    close(fd);
    unlink(path);
    t.finish()
}

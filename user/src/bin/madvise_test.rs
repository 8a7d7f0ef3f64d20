//! madvise_test: the ERRORS rows and the effects of madvise(2) that a kernel without swap,
//! KSM or huge pages can show: MADV_DONTNEED, MADV_FREE, MADV_WILLNEED,
//! MADV_POPULATE_READ/WRITE (Linux 5.14), and the flag advice (MADV_RANDOM/SEQUENTIAL/
//! NORMAL, MADV_DONTFORK/DOFORK, MADV_WIPEONFORK/KEEPONFORK, MADV_DONTDUMP/DODUMP).
//! Written from the man page and Linux's `mm/madvise.c`, so it passes on Linux arm64
//! (5.14 or later, for MADV_POPULATE_*).
//!
//! Seen through mincore(2) (residency), /proc/self/maps (VMA splits and merges), the
//! memory's contents, and forked children. Needs `/etc/test.txt` (read-only root fs,
//! more than 4096 bytes) and a writable tmpfs on `/tmp`.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::maps::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const TMPFILE: &core::ffi::CStr = c"/tmp/madvise_test.dat";

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("madvise_test");
    einval_rows(&mut t);
    enomem_rows(&mut t);
    dontneed_rows(&mut t);
    dontneed_file_rows(&mut t);
    free_rows(&mut t);
    willneed_rows(&mut t);
    populate_rows(&mut t);
    populate_file_rows(&mut t);
    flag_rows(&mut t);
    fork_rows(&mut t);
    t.finish()
}

// ---------------------------------------------------------------------------------------
// Helpers (as in mlock_test).
// ---------------------------------------------------------------------------------------

/// The first byte of each of `n` pages, as "ab 00 ab" (for messages).
fn firsts(addr: usize, n: usize) -> Text {
    use core::fmt::Write;
    let mut s = Text::new();
    for i in 0..n {
        let _ = write!(
            s,
            "{}{:02x}",
            if i == 0 { "" } else { " " },
            peek(addr + i * P)
        );
    }
    s
}

/// Check the contents of `n` pages: page i must be all `want[i]`.
fn contents_are(t: &mut Tap, what: &str, addr: usize, want: &[u8]) {
    let ok = want
        .iter()
        .enumerate()
        .all(|(i, &v)| all(addr + i * P, P, v));
    let mut w = Text::new();
    {
        use core::fmt::Write;
        for (i, v) in want.iter().enumerate() {
            let _ = write!(w, "{}{:02x}", if i == 0 { "" } else { " " }, v);
        }
    }
    t.check(ok, what, firsts(addr, want.len()).as_str(), w.as_str());
}

// ---------------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------------

/// EINVAL: "addr is not page-aligned or length is negative", "advice is not valid", and
/// the length that rounds up to 0 or wraps; length 0 succeeds.
fn einval_rows(t: &mut Tap) {
    let r = region(2, RW);
    if !t.ok(r != 0, "map 2 pages between guard pages") {
        return;
    }
    t.err(
        "madvise at an unaligned address fails with EINVAL",
        madvise(r + 100, P, MADV_DONTNEED),
        EINVAL,
    );
    t.err(
        "madvise with unknown advice 1000 fails with EINVAL",
        madvise(r, P, 1000),
        EINVAL,
    );
    t.err(
        "madvise with advice -1 fails with EINVAL",
        madvise(r, P, u32::MAX as usize),
        EINVAL,
    );
    t.err(
        "unknown advice is EINVAL even for unmapped memory (checked first)",
        madvise(unmapped_addr(), P, 1000),
        EINVAL,
    );
    t.err(
        "a length that rounds up to 0 (SIZE_MAX) fails with EINVAL",
        madvise(r, usize::MAX, MADV_WILLNEED),
        EINVAL,
    );
    t.err(
        "a range whose end wraps fails with EINVAL",
        madvise(r, usize::MAX & !(P - 1), MADV_WILLNEED),
        EINVAL,
    );
    t.ret("length 0 succeeds", madvise(r, 0, MADV_DONTNEED), 0);
    t.ret(
        "length 0 of unmapped memory succeeds",
        madvise(unmapped_addr(), 0, MADV_DONTNEED),
        0,
    );
    t.ret(
        "a length that is not a page multiple is rounded up",
        madvise(r, P + 1, MADV_WILLNEED),
        0,
    );
    unregion(r, 2);
}

/// ENOMEM: "Addresses in the specified range are not currently mapped".
fn enomem_rows(t: &mut Tap) {
    let u = unmapped_addr();
    for (advice, name) in [
        (MADV_WILLNEED, "MADV_WILLNEED"),
        (MADV_DONTNEED, "MADV_DONTNEED"),
        (MADV_POPULATE_READ, "MADV_POPULATE_READ"),
        (MADV_RANDOM, "MADV_RANDOM"),
    ] {
        t.err(
            format_args!("{} of unmapped memory fails with ENOMEM", name),
            madvise(u, P, advice),
            ENOMEM,
        );
    }
}

// ---------------------------------------------------------------------------------------
// MADV_DONTNEED, MADV_FREE.
// ---------------------------------------------------------------------------------------

fn dontneed_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages between guard pages") {
        return;
    }
    fill(r, 4 * P, 0xab);
    resident_is(t, "written pages are resident", r, 4, "1111");
    t.ret(
        "MADV_DONTNEED of page 1",
        madvise(r + P, P, MADV_DONTNEED),
        0,
    );
    resident_is(t, "MADV_DONTNEED dropped page 1 (mincore)", r, 4, "1011");
    contents_are(
        t,
        "page 1 reads back as zeros, the others keep their data",
        r,
        &[0xab, 0, 0xab, 0xab],
    );
    shape_is(t, "MADV_DONTNEED does not split the VMA", r, 4, "0-4");

    fill(r, 4 * P, 0xcd);
    t.ret("unmap page 2 to make a hole", munmap(r + 2 * P, P), 0);
    t.err(
        "MADV_DONTNEED across the hole fails with ENOMEM",
        madvise(r, 4 * P, MADV_DONTNEED),
        ENOMEM,
    );
    let ok = all(r, 2 * P, 0) && all(r + 3 * P, P, 0);
    t.ok(
        ok,
        "but every mapped page around the hole was dropped (zeros)",
    );

    fill(r, 2 * P, 0x11);
    fill(r + 3 * P, P, 0x11);
    t.ret("mlock of page 3", mlock(r + 3 * P, P), 0);
    t.err(
        "MADV_DONTNEED on locked memory fails with EINVAL",
        madvise(r + 3 * P, P, MADV_DONTNEED),
        EINVAL,
    );
    t.ok(all(r + 3 * P, P, 0x11), "the locked page keeps its data");
    t.ret("mlock of page 1", mlock(r + P, P), 0);
    t.err(
        "MADV_DONTNEED of pages 0..2 stops with EINVAL at the locked page 1",
        madvise(r, 2 * P, MADV_DONTNEED),
        EINVAL,
    );
    contents_are(
        t,
        "page 0 before it was dropped, page 1 kept",
        r,
        &[0, 0x11],
    );
    munlock(r, 4 * P);
    unregion(r, 4);

    let s = mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap 2 shared anonymous pages", s) {
        let s = s as usize;
        fill(s, 2 * P, 0x33);
        t.ret(
            "MADV_DONTNEED of shared memory",
            madvise(s, 2 * P, MADV_DONTNEED),
            0,
        );
        t.ok(
            all(s, 2 * P, 0x33),
            "shared memory keeps its data after MADV_DONTNEED",
        );
        munmap(s, 2 * P);
    }
}

/// A private file mapping: MADV_DONTNEED drops the private copy, the file shows again.
fn dontneed_file_rows(t: &mut Tap) {
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    if !t.success("open /etc/test.txt", fd as isize) {
        return;
    }
    let m = mmap(0, P, RW, MAP_PRIVATE, fd, 0);
    close(fd);
    if !t.success("mmap /etc/test.txt private read-write", m) {
        return;
    }
    let m = m as usize;
    let orig = peek(m);
    poke(m, !orig);
    t.ok(peek(m) == !orig, "a write makes a private copy of the page");
    t.ret(
        "MADV_DONTNEED of the private file page",
        madvise(m, P, MADV_DONTNEED),
        0,
    );
    t.check(
        peek(m) == orig,
        "the page reads back the file's data",
        format_args!("{:#x}", peek(m)),
        format_args!("{:#x}", orig),
    );
    t.err(
        "MADV_FREE of a file mapping fails with EINVAL",
        madvise(m, P, MADV_FREE),
        EINVAL,
    );
    munmap(m, P);
}

/// MADV_FREE: private anonymous memory may be freed; reads give the old data or zeros;
/// a write after it keeps the page.
fn free_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages between guard pages") {
        return;
    }
    fill(r, 4 * P, 0x44);
    t.ret(
        "MADV_FREE of 4 written pages",
        madvise(r, 4 * P, MADV_FREE),
        0,
    );
    let ok = (0..4).all(|i| all(r + i * P, P, 0x44) || all(r + i * P, P, 0));
    t.ok(ok, "after MADV_FREE each page holds its old data or zeros");
    fill(r, 4 * P, 0x55);
    t.ok(
        all(r, 4 * P, 0x55),
        "pages written after MADV_FREE keep the new data",
    );
    t.ret("mlock of the pages", mlock(r, 4 * P), 0);
    t.err(
        "MADV_FREE of locked memory fails with EINVAL",
        madvise(r, 4 * P, MADV_FREE),
        EINVAL,
    );
    munlock(r, 4 * P);
    unregion(r, 4);
    let s = mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap a shared anonymous page", s) {
        t.err(
            "MADV_FREE of shared memory fails with EINVAL",
            madvise(s as usize, P, MADV_FREE),
            EINVAL,
        );
        munmap(s as usize, P);
    }
}

// ---------------------------------------------------------------------------------------
// MADV_WILLNEED, MADV_POPULATE_READ/WRITE.
// ---------------------------------------------------------------------------------------

/// MADV_WILLNEED only reads back swapped-out pages (and reads files ahead): it maps
/// nothing.
fn willneed_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages between guard pages") {
        return;
    }
    t.ret(
        "MADV_WILLNEED of untouched anonymous memory",
        madvise(r, 4 * P, MADV_WILLNEED),
        0,
    );
    resident_is(
        t,
        "MADV_WILLNEED does not fault anonymous memory in",
        r,
        4,
        "0000",
    );
    t.ret(
        "MADV_WILLNEED of a PROT_NONE guard page succeeds",
        madvise(r - P, P, MADV_WILLNEED),
        0,
    );
    t.ret("unmap page 2", munmap(r + 2 * P, P), 0);
    t.err(
        "MADV_WILLNEED across a hole fails with ENOMEM",
        madvise(r, 4 * P, MADV_WILLNEED),
        ENOMEM,
    );
    unregion(r, 4);
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    if t.success("open /etc/test.txt", fd as isize) {
        let m = mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if t.success("mmap /etc/test.txt shared read-only", m) {
            t.ret(
                "MADV_WILLNEED of a file mapping",
                madvise(m as usize, P, MADV_WILLNEED),
                0,
            );
            munmap(m as usize, P);
        }
    }
}

/// MADV_POPULATE_READ/WRITE fault pages in like reads/writes would, with the access
/// the mapping allows: EINVAL otherwise.
fn populate_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages between guard pages") {
        return;
    }
    t.ret(
        "MADV_POPULATE_READ of 2 untouched pages",
        madvise(r, 2 * P, MADV_POPULATE_READ),
        0,
    );
    resident_is(
        t,
        "MADV_POPULATE_READ faulted exactly those pages in",
        r,
        4,
        "1100",
    );
    t.ok(all(r, 2 * P, 0), "and they read as zeros");
    t.ret(
        "MADV_POPULATE_WRITE of pages 2..4",
        madvise(r + 2 * P, 2 * P, MADV_POPULATE_WRITE),
        0,
    );
    resident_is(t, "MADV_POPULATE_WRITE faulted them in", r, 4, "1111");
    t.ok(all(r, 4 * P, 0), "still zeros");
    fill(r, 4 * P, 0x5c);
    t.ret(
        "MADV_POPULATE_WRITE of pages already written",
        madvise(r, 4 * P, MADV_POPULATE_WRITE),
        0,
    );
    t.ok(all(r, 4 * P, 0x5c), "does not change their data");
    t.ret("unmap page 2", munmap(r + 2 * P, P), 0);
    t.ret(
        "MADV_DONTNEED of pages 0, 1 and 3",
        madvise(r, 2 * P, MADV_DONTNEED) | madvise(r + 3 * P, P, MADV_DONTNEED),
        0,
    );
    t.err(
        "MADV_POPULATE_READ across a hole fails with ENOMEM",
        madvise(r, 4 * P, MADV_POPULATE_READ),
        ENOMEM,
    );
    resident_is(t, "after faulting in pages 0 and 1", r, 2, "11");
    resident_is(t, "and page 3 after the hole", r + 3 * P, 1, "1");
    unregion(r, 4);

    let ro = region(2, PROT_READ);
    if t.ok(ro != 0, "map 2 read-only pages") {
        t.err(
            "MADV_POPULATE_WRITE of read-only memory fails with EINVAL",
            madvise(ro, 2 * P, MADV_POPULATE_WRITE),
            EINVAL,
        );
        resident_is(t, "and faults nothing in", ro, 2, "00");
        t.ret(
            "MADV_POPULATE_READ of read-only memory",
            madvise(ro, 2 * P, MADV_POPULATE_READ),
            0,
        );
        resident_is(t, "faults it in", ro, 2, "11");
        unregion(ro, 2);
    }
    let none = region(2, PROT_NONE);
    if t.ok(none != 0, "map 2 PROT_NONE pages") {
        t.err(
            "MADV_POPULATE_READ of PROT_NONE memory fails with EINVAL",
            madvise(none, 2 * P, MADV_POPULATE_READ),
            EINVAL,
        );
        t.err(
            "MADV_POPULATE_WRITE of PROT_NONE memory fails with EINVAL",
            madvise(none, 2 * P, MADV_POPULATE_WRITE),
            EINVAL,
        );
        unregion(none, 2);
    }
    let lk = region(4, RW);
    if t.ok(lk != 0, "map 4 pages between guard pages") {
        t.ret(
            "mlock2(MLOCK_ONFAULT) of 4 untouched pages",
            mlock2(lk, 4 * P, MLOCK_ONFAULT),
            0,
        );
        resident_is(t, "nothing faulted in yet", lk, 4, "0000");
        t.ret(
            "MADV_POPULATE_READ of the MLOCK_ONFAULT range",
            madvise(lk, 4 * P, MADV_POPULATE_READ),
            0,
        );
        resident_is(t, "populates MLOCK_ONFAULT memory too", lk, 4, "1111");
        munlock(lk, 4 * P);
        unregion(lk, 4);
    }
}

/// MADV_POPULATE_* of file mappings: EINVAL without the permission, EFAULT past the end
/// of the file (where an access would raise SIGBUS).
fn populate_file_rows(t: &mut Tap) {
    let fd = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    if !t.success("create /tmp/madvise_test.dat", fd as isize) {
        return;
    }
    t.ret("make it one page long", ftruncate(fd, P), 0);
    let m = mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
    if t.success("mmap 2 pages of the 1-page file shared", m) {
        let m = m as usize;
        t.err(
            "MADV_POPULATE_READ past the end of the file fails with EFAULT",
            madvise(m, 2 * P, MADV_POPULATE_READ),
            EFAULT,
        );
        resident_is(t, "after faulting in the page inside the file", m, 2, "10");
        t.ret(
            "MADV_POPULATE_WRITE of the page inside the file",
            madvise(m, P, MADV_POPULATE_WRITE),
            0,
        );
        munmap(m, 2 * P);
    }
    close(fd);
    t.ret("unlink /tmp/madvise_test.dat", unlink(TMPFILE), 0);

    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    if t.success("open /etc/test.txt", fd as isize) {
        let m = mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if t.success("mmap /etc/test.txt shared read-only", m) {
            let m = m as usize;
            t.err(
                "MADV_POPULATE_WRITE of a read-only shared file fails with EINVAL",
                madvise(m, P, MADV_POPULATE_WRITE),
                EINVAL,
            );
            t.ret(
                "MADV_POPULATE_READ of it succeeds",
                madvise(m, P, MADV_POPULATE_READ),
                0,
            );
            resident_is(t, "and the page is resident", m, 1, "1");
            munmap(m, P);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Flag advice: VMA splits and merges, fork.
// ---------------------------------------------------------------------------------------

fn flag_rows(t: &mut Tap) {
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 pages between guard pages") {
        return;
    }
    t.ret(
        "MADV_RANDOM of pages 2..5",
        madvise(r + 2 * P, 3 * P, MADV_RANDOM),
        0,
    );
    shape_is(
        t,
        "MADV_RANDOM splits the VMA in three",
        r,
        8,
        "0-2 2-5 5-8",
    );
    t.ret(
        "MADV_SEQUENTIAL of page 3",
        madvise(r + 3 * P, P, MADV_SEQUENTIAL),
        0,
    );
    shape_is(
        t,
        "MADV_SEQUENTIAL splits page 3 out",
        r,
        8,
        "0-2 2-3 3-4 4-5 5-8",
    );
    t.ret(
        "MADV_NORMAL of all 8 pages",
        madvise(r, 8 * P, MADV_NORMAL),
        0,
    );
    shape_is(t, "MADV_NORMAL merges them back into one VMA", r, 8, "0-8");
    t.ret(
        "MADV_DONTDUMP of pages 0..4",
        madvise(r, 4 * P, MADV_DONTDUMP),
        0,
    );
    shape_is(t, "MADV_DONTDUMP splits the VMA", r, 8, "0-4 4-8");
    t.ret("MADV_DODUMP of them", madvise(r, 4 * P, MADV_DODUMP), 0);
    shape_is(t, "MADV_DODUMP merges it back", r, 8, "0-8");
    t.ret(
        "flag advice that changes nothing (MADV_NORMAL)",
        madvise(r, 8 * P, MADV_NORMAL),
        0,
    );
    shape_is(t, "leaves the VMA alone", r, 8, "0-8");
    unregion(r, 8);

    let s = mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap a shared anonymous page", s) {
        t.err(
            "MADV_WIPEONFORK of shared memory fails with EINVAL",
            madvise(s as usize, P, MADV_WIPEONFORK),
            EINVAL,
        );
        munmap(s as usize, P);
    }
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    if t.success("open /etc/test.txt", fd as isize) {
        let m = mmap(0, P, RW, MAP_PRIVATE, fd, 0);
        close(fd);
        if t.success("mmap /etc/test.txt private", m) {
            t.err(
                "MADV_WIPEONFORK of a file mapping fails with EINVAL",
                madvise(m as usize, P, MADV_WIPEONFORK),
                EINVAL,
            );
            munmap(m as usize, P);
        }
    }
}

/// MADV_DONTFORK: the child has no such mapping; MADV_WIPEONFORK: the child sees zeros.
fn fork_rows(t: &mut Tap) {
    let r = region(2, RW);
    if !t.ok(r != 0, "map 2 pages between guard pages") {
        return;
    }
    fill(r, 2 * P, 0x66);
    t.ret("MADV_DONTFORK", madvise(r, 2 * P, MADV_DONTFORK), 0);
    let st = in_child(|| peek(r) as i32);
    t.killed_by(
        "a child touching MADV_DONTFORK memory gets SIGSEGV (not mapped)",
        st,
        SIGSEGV,
    );
    t.ret("MADV_DOFORK", madvise(r, 2 * P, MADV_DOFORK), 0);
    let st = in_child(|| !all(r, 2 * P, 0x66) as i32);
    t.exited("after MADV_DOFORK the child sees the data", st, 0);

    t.ret("MADV_WIPEONFORK", madvise(r, 2 * P, MADV_WIPEONFORK), 0);
    let st = in_child(|| !all(r, 2 * P, 0) as i32);
    t.exited("a child sees MADV_WIPEONFORK memory as zeros", st, 0);
    t.ok(all(r, 2 * P, 0x66), "the parent keeps its data");
    t.ret("MADV_KEEPONFORK", madvise(r, 2 * P, MADV_KEEPONFORK), 0);
    let st = in_child(|| !all(r, 2 * P, 0x66) as i32);
    t.exited("after MADV_KEEPONFORK the child sees the data", st, 0);
    unregion(r, 2);
}

//! fault_kinds: a demand fault for each kind of mapping, and what each must show: anonymous
//! private (zero page, then a private copy), file private (the file's bytes, copy on write that
//! never reaches the file), shared anonymous (seen across fork), shared file (the page cache
//! that read(2)/write(2) use), SIGBUS beyond end of file, and stack growth.
//!
//! Linux: `mm/memory.c` (handle_mm_fault: do_anonymous_page, do_read_fault, do_cow_fault,
//! do_shared_fault, do_wp_page), `mm/filemap.c` (filemap_fault), `mm/shmem.c` (shmem_fault),
//! `arch/arm64/mm/fault.c` (stack expansion). Needs `/etc/test.txt` (> 4096 bytes) and `/tmp`.
#![no_std]
#![no_main]
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const TMPFILE: &core::ffi::CStr = c"/tmp/fault_kinds.dat";

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("fault_kinds");
    anon_private(&mut t);
    file_private(&mut t);
    shared_anon(&mut t);
    shared_file(&mut t);
    beyond_eof(&mut t);
    stack_growth(&mut t);
    t.finish()
}

/// The byte the checks write at offset `i` of a pattern numbered `n`.
fn pattern(n: u8, i: usize) -> u8 {
    (i as u8).wrapping_mul(31).wrapping_add(n)
}

/// Anonymous private memory: a read fault maps the shared zero page, a write fault a private
/// zeroed page; writing one page never shows in another.
fn anon_private(t: &mut Tap) {
    let a = mmap_anon(4 * P);
    if !t.success("mmap 4 anonymous private pages", a) {
        return;
    }
    let m = unsafe { bytes(a as usize, 4 * P) };
    t.ok(
        m[..P].iter().all(|&b| b == 0),
        "a read fault on an anonymous page reads zeros",
    );
    t.ok(
        m[3 * P..].iter().all(|&b| b == 0),
        "a second page read-faulted reads zeros too",
    );
    for (i, b) in m[P..2 * P].iter_mut().enumerate() {
        *b = pattern(1, i);
    }
    t.ok(
        m[P..2 * P]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == pattern(1, i)),
        "a write fault on an untouched anonymous page keeps what was written",
    );
    m[..P].fill(0x77);
    t.ok(
        m[..P].iter().all(|&b| b == 0x77),
        "writing a page that was read first (the zero page) keeps what was written",
    );
    t.ok(
        m[3 * P..].iter().all(|&b| b == 0) && m[2 * P..3 * P].iter().all(|&b| b == 0),
        "other zero-page mappings still read zeros after that write",
    );
    munmap(a as usize, 4 * P);
}

/// File MAP_PRIVATE: reads give the file's bytes; a write makes a private copy that neither
/// the file nor other mappings see.
fn file_private(t: &mut Tap) {
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    if !t.success("open /etc/test.txt", fd as isize) {
        return;
    }
    let mut st = Stat::default();
    fstat(fd, &mut st);
    let size = st.st_size as usize;
    t.check(
        size > P,
        "/etc/test.txt is larger than one page",
        size,
        "> 4096",
    );
    let mut file = [0u8; 2 * P];
    let n = pread(fd, &mut file, 0);
    t.ret(
        "pread of the first two pages of /etc/test.txt",
        n,
        size.min(2 * P) as isize,
    );
    let n = n.max(0) as usize;

    let a = mmap(0, 2 * P, PROT_READ, MAP_PRIVATE, fd, 0);
    if t.success("mmap /etc/test.txt MAP_PRIVATE PROT_READ, 2 pages", a) {
        let m = unsafe { bytes(a as usize, 2 * P) };
        t.ok(
            m[..P] == file[..P],
            "the first page of the mapping equals read(2) of bytes 0..4096",
        );
        t.ok(
            m[P..n] == file[P..n],
            "the second page of the mapping equals read(2) of the bytes from 4096",
        );
        t.ok(
            m[n..].iter().all(|&b| b == 0),
            "bytes past the end of file in the last page read as zero",
        );
    }
    let b = mmap(0, P, PROT_READ, MAP_PRIVATE, fd, P);
    if t.success("mmap /etc/test.txt at offset 4096", b) {
        let m = unsafe { bytes(b as usize, n - P) };
        t.ok(
            m[..] == file[P..n],
            "a mapping at file offset 4096 equals read(2) at offset 4096",
        );
        munmap(b as usize, P);
    }

    let c = mmap(0, 2 * P, RW, MAP_PRIVATE, fd, 0);
    if t.success(
        "mmap /etc/test.txt MAP_PRIVATE PROT_READ|PROT_WRITE (fd is O_RDONLY)",
        c,
    ) {
        let m = unsafe { bytes(c as usize, 2 * P) };
        let first = m[0]; // read fault first: the page cache page, mapped read-only
        t.eq(
            "reading the writable private mapping gives the file's first byte",
            first,
            file[0],
        );
        m[0] = !first; // then the write fault copies it
        m[P + 1] = !file[P + 1]; // a write fault on a page never read
        t.eq(
            "a write to a MAP_PRIVATE file page (read first) is seen through the mapping",
            m[0],
            !file[0],
        );
        t.eq(
            "a write to a MAP_PRIVATE file page (not read before) is seen through the mapping",
            m[P + 1],
            !file[P + 1],
        );
        t.ok(
            m[1..P] == file[1..P] && m[P + 2..n] == file[P + 2..n],
            "the rest of the copied pages keeps the file's bytes",
        );
        let mut now = [0u8; 2];
        pread(fd, &mut now[..1], 0);
        pread(fd, &mut now[1..], P + 1);
        t.ok(
            now[0] == file[0] && now[1] == file[P + 1],
            "writes to a MAP_PRIVATE file mapping do not change the file (pread)",
        );
        if a >= 0 {
            let other = unsafe { bytes(a as usize, 2 * P) };
            t.ok(
                other[0] == file[0] && other[P + 1] == file[P + 1],
                "another MAP_PRIVATE mapping of the file does not see them",
            );
        }
        munmap(c as usize, 2 * P);
    }
    if a >= 0 {
        munmap(a as usize, 2 * P);
    }
    close(fd);
}

/// MAP_SHARED|MAP_ANONYMOUS: one shmem object, the same pages in parent and child.
fn shared_anon(t: &mut Tap) {
    let s = mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if !t.success("mmap 2 pages MAP_SHARED|MAP_ANONYMOUS", s) {
        return;
    }
    let s = s as usize;
    let m = unsafe { bytes(s, 2 * P) };
    m[..P].fill(0x11); // page 0 written before fork; page 1 untouched by anyone yet
    let st = in_child(|| {
        let m = unsafe { bytes(s, 2 * P) };
        if m[..P].iter().any(|&b| b != 0x11) {
            return 1;
        }
        if m[P..].iter().any(|&b| b != 0) {
            return 2;
        }
        m[..P].fill(0x22);
        m[P..].fill(0x33);
        0
    });
    t.exited("a child sees the parent's pre-fork writes to a MAP_SHARED anonymous page (and zeros in an untouched one)", st, 0);
    t.ok(
        m[..P].iter().all(|&b| b == 0x22),
        "the parent sees the child's write to a shared anonymous page after wait4",
    );
    t.ok(
        m[P..].iter().all(|&b| b == 0x33),
        "the parent sees the child's write to a shared anonymous page first touched by the child",
    );
    munmap(s, 2 * P);
}

/// MAP_SHARED of a tmpfs file: the mapping and read(2)/write(2) share the page cache.
fn shared_file(t: &mut Tap) {
    let fd = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    if !t.success("create /tmp/fault_kinds.dat", fd as isize) {
        return;
    }
    let mut data = [0u8; 2 * P];
    for (i, b) in data.iter_mut().enumerate() {
        *b = pattern(5, i);
    }
    t.ret(
        "write 8192 bytes to /tmp/fault_kinds.dat",
        write(fd, &data),
        (2 * P) as isize,
    );
    let a = mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
    if !t.success("mmap /tmp/fault_kinds.dat MAP_SHARED read-write", a) {
        close(fd);
        return;
    }
    let a = a as usize;
    let m = unsafe { bytes(a, 2 * P) };
    t.ok(
        m[..] == data[..],
        "a MAP_SHARED file mapping shows the bytes written with write(2)",
    );
    m[10] = 0xe1;
    m[P + 100] = 0xe2;
    let mut got = [0u8; 2];
    pread(fd, &mut got[..1], 10);
    pread(fd, &mut got[1..], P + 100);
    t.ok(
        got == [0xe1, 0xe2],
        "writes through a MAP_SHARED file mapping are seen by pread(2)",
    );
    pwrite(fd, &[0xd1], 20);
    t.eq(
        "pwrite(2) to the file is seen through the MAP_SHARED mapping",
        m[20],
        0xd1,
    );
    let b = mmap(0, P, PROT_READ, MAP_SHARED, fd, P);
    if b >= 0 {
        t.eq(
            "a second MAP_SHARED mapping (offset 4096) sees the first one's write",
            peek(b as usize + 100),
            0xe2,
        );
        munmap(b as usize, P);
    }
    let p = mmap(0, P, PROT_READ, MAP_PRIVATE, fd, 0);
    if p >= 0 {
        let _ = peek(p as usize + 30); // read fault: maps the page cache page
        pwrite(fd, &[0xd2], 30);
        // POSIX leaves this unspecified; Linux maps the page cache page until a write copies it.
        t.eq(
            "an unwritten MAP_PRIVATE page of the file sees a later pwrite(2) (Linux)",
            peek(p as usize + 30),
            0xd2,
        );
        munmap(p as usize, P);
    }
    let st = in_child(|| {
        poke(a + P + 200, 0xc3);
        0
    });
    t.exited(
        "a child writes through the inherited MAP_SHARED file mapping",
        st,
        0,
    );
    let mut one = [0u8; 1];
    pread(fd, &mut one, P + 200);
    t.eq(
        "the parent's pread(2) sees the child's write after wait4",
        one[0],
        0xc3,
    );
    t.ret(
        "msync(MS_SYNC) of the shared file mapping succeeds",
        msync(a, 2 * P, 4),
        0,
    );
    munmap(a, 2 * P);
    close(fd);
    let fd = open(TMPFILE, O_RDONLY, 0) as i32;
    let mut got = [0u8; 3];
    pread(fd, &mut got[..1], 10);
    pread(fd, &mut got[1..2], P + 100);
    pread(fd, &mut got[2..], P + 200);
    t.ok(
        got == [0xe1, 0xe2, 0xc3],
        "the writes stay in the file after munmap and close",
    );
    close(fd);
    t.ret("unlink /tmp/fault_kinds.dat", unlink(TMPFILE), 0);
}

/// "SIGBUS: Attempted access to a page of the buffer that lies beyond the end of the mapped
/// file" (mmap(2)).
fn beyond_eof(t: &mut Tap) {
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    let mut st = Stat::default();
    fstat(fd, &mut st);
    let last = (st.st_size as usize).div_ceil(P) * P; // first page wholly beyond EOF
    let a = mmap(0, last + P, PROT_READ, MAP_PRIVATE, fd, 0);
    if t.success("mmap /etc/test.txt one page longer than the file", a) {
        let a = a as usize;
        t.exited(
            "reading the file's last (partial) page works",
            in_child(|| {
                peek(a + last - 1);
                0
            }),
            0,
        );
        t.killed_by(
            "reading a page wholly beyond the end of file raises SIGBUS",
            in_child(|| peek(a + last) as i32),
            SIGBUS,
        );
        munmap(a, last + P);
    }
    close(fd);

    let fd = open(TMPFILE, O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    ftruncate(fd, 2 * P);
    let a = mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
    if t.success("mmap a 2-page tmpfs file MAP_SHARED", a) {
        let a = a as usize;
        poke(a + P, 1);
        t.ret("ftruncate the mapped file to one page", ftruncate(fd, P), 0);
        t.killed_by(
            "touching a mapped page beyond the new end of file raises SIGBUS",
            in_child(|| peek(a + P) as i32),
            SIGBUS,
        );
        t.exited(
            "the page before the new end of file still works",
            in_child(|| {
                poke(a, 2);
                0
            }),
            0,
        );
        munmap(a, 2 * P);
    }
    close(fd);
    unlink(TMPFILE);
}

/// One 4 KiB frame per call: `depth` calls use `depth` pages of stack below the caller.
#[inline(never)]
fn recurse(depth: usize) -> u64 {
    let mut frame = [0u8; P];
    for (i, b) in frame.iter_mut().enumerate() {
        *b = (depth + i) as u8;
    }
    let frame = core::hint::black_box(&mut frame);
    let below = if depth == 0 { 0 } else { recurse(depth - 1) };
    below + frame.iter().map(|&b| b as u64).sum::<u64>()
}

/// The stack VMA grows down on demand (Linux: expand_stack from the fault handler).
fn stack_growth(t: &mut Tap) {
    const DEPTH: usize = 64; // 64 frames of 4 KiB: 256 KiB, beyond Linux's initial 128 KiB
    let mut want = 0u64;
    for d in 0..=DEPTH {
        want += (0..P).map(|i| (d + i) as u8 as u64).sum::<u64>();
    }
    let st = in_child(move || (recurse(DEPTH) != want) as i32);
    t.exited(
        "a recursive function using 256 KiB of stack runs and computes the right sum",
        st,
        0,
    );
    t.eq("the same recursion in the parent", recurse(DEPTH), want);
}

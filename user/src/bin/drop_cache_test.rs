//! drop_cache_test: /proc/sys/vm/drop_caches (Linux: `fs/drop_caches.c` over
//! `invalidate_mapping_pages`). Run as init (root).
//!
//! Reads 8 MiB of /data/reclaim.bin with read(2) so its pages are cached, maps the same
//! 8 MiB shared without touching it (mincore reports the cached pages resident), and
//! maps its first 16 pages a second time and touches them. Writing 1 must drop the
//! untouched pages (Cached and mincore fall, MemFree rises, `drop_pagecache` counts
//! one) and keep the 16 mapped ones; the data reads back right from the disk; a tmpfs
//! file keeps its data. The file is 0200: reading it is EACCES even for root, writing
//! it as another user is EACCES; 0 and 5 are EINVAL; 2 counts `drop_slab`; 4 silences
//! the kernel's log line, so the write of 3 after it is not logged (the scenario checks
//! the console).
#![no_std]
#![no_main]
use ulib::procfs::{read_file, vmstat};
use ulib::*;

const FILE: &core::ffi::CStr = c"/data/reclaim.bin";
const LEN: usize = 8 << 20;
const PAGES: usize = LEN / 4096;
const KEPT: usize = 16;
const DROP: &core::ffi::CStr = c"/proc/sys/vm/drop_caches";

/// Word `i` of the file: xtask's `reclaim_word`.
fn word(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xa5a5_a5a5_a5a5_a5a5
}

/// A /proc/meminfo value in kB.
fn meminfo(key: &str) -> u64 {
    let mut buf = [0u8; 4096];
    let n = read_file(c"/proc/meminfo", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn drop_caches(val: &[u8]) -> isize {
    let fd = open(DROP, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, val);
    close(fd as i32);
    r
}

/// Resident pages among the first `n` of the mapping at `base`, per mincore.
fn resident(base: usize, from: usize, to: usize) -> usize {
    let mut vec = [0u8; PAGES];
    if mincore(base, PAGES * 4096, vec.as_mut_ptr()) != 0 {
        return usize::MAX;
    }
    vec[from..to].iter().filter(|&&b| b & 1 != 0).count()
}

/// Read the first LEN bytes of the file with read(2); words that are wrong.
fn read_all(fd: i32) -> usize {
    let mut buf = [0u8; 4096];
    let mut bad = 0;
    for p in 0..PAGES {
        if pread(fd, &mut buf, p * 4096) != 4096 {
            return usize::MAX;
        }
        for (j, w) in buf.chunks_exact(8).enumerate() {
            let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
            if v != word((p * 512 + j) as u64) {
                bad += 1;
            }
        }
    }
    bad
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("drop_cache_test");
    t.ret("write 1 (start from a clean cache)", drop_caches(b"1"), 1);
    let fd = open(FILE, O_RDONLY, 0) as i32;
    if !t.success("open /data/reclaim.bin", fd as isize) {
        return t.finish();
    }
    let cached0 = meminfo("Cached:");
    t.eq("read 8 MiB with read(2): every word right", read_all(fd), 0);
    let cached1 = meminfo("Cached:");
    t.check(
        cached1 >= cached0 + (LEN as u64 >> 10),
        "Cached grew by the 8 MiB read",
        format_args!("{cached0} -> {cached1} kB"),
        "+8192 kB",
    );
    let a = mmap(0, LEN, PROT_READ, MAP_SHARED, fd, 0);
    let b = mmap(0, KEPT * 4096, PROT_READ, MAP_SHARED, fd, 0);
    if !t.success("map the 8 MiB", a) || !t.success("map its first 16 pages again", b) {
        return t.finish();
    }
    let (a, b) = (a as usize, b as usize);
    let mut sum = 0u64;
    for i in 0..KEPT {
        sum = sum.wrapping_add(peek(b + i * 4096) as u64);
    }
    let _ = sum;
    t.eq(
        "mincore: all 2048 pages resident",
        resident(a, 0, PAGES),
        PAGES,
    );

    // A tmpfs file: its pages are its data and must survive.
    let tfd = open(c"/tmp/dc", O_RDWR | O_CREAT | O_TRUNC, 0o600) as i32;
    let chunk = [0x5au8; 4096];
    for _ in 0..64 {
        write(tfd, &chunk);
    }

    let (free0, dp0, ds0) = (
        meminfo("MemFree:"),
        vmstat("drop_pagecache").unwrap_or(0),
        vmstat("drop_slab").unwrap_or(0),
    );
    t.ret("write 1 to drop_caches", drop_caches(b"1\n"), 2);
    let (cached2, free1) = (meminfo("Cached:"), meminfo("MemFree:"));
    t.check(
        cached2 + ((PAGES - KEPT) as u64 * 4) <= cached1 + 256 + 64 * 4,
        "Cached fell by the dropped pages",
        format_args!("{cached1} -> {cached2} kB"),
        "-8128 kB",
    );
    t.check(
        free1 >= free0 + ((PAGES - KEPT) as u64 * 4) - 512,
        "MemFree rose by about as much",
        format_args!("{free0} -> {free1} kB"),
        "+8128 kB",
    );
    t.eq(
        "mincore: the untouched pages are gone",
        resident(a, KEPT, PAGES),
        0,
    );
    t.eq(
        "mincore: the 16 mapped pages stay",
        resident(a, 0, KEPT),
        KEPT,
    );
    t.eq(
        "drop_pagecache counted once",
        vmstat("drop_pagecache").unwrap_or(0),
        dp0 + 1,
    );
    let mut ok = true;
    for i in 0..KEPT {
        // SAFETY: `b` maps KEPT readable pages of the file.
        let w = unsafe { ((b + i * 4096) as *const u64).read_volatile() };
        ok &= w == word((i * 512) as u64);
    }
    t.ok(ok, "the kept mapped pages still hold the file's data");
    t.eq("reading the file again: every word right", read_all(fd), 0);
    let mut back = [0u8; 4096];
    let mut tmp_ok = true;
    for p in 0..64 {
        tmp_ok &= pread(tfd, &mut back, p * 4096) == 4096 && back == chunk;
    }
    t.ok(tmp_ok, "a tmpfs file keeps its data");
    close(tfd);
    unlink(c"/tmp/dc");
    munmap(a, LEN);
    munmap(b, KEPT * 4096);
    close(fd);

    t.ret(
        "write 2 (slab: nothing to shrink here)",
        drop_caches(b"2"),
        1,
    );
    t.eq(
        "drop_slab counted",
        vmstat("drop_slab").unwrap_or(0),
        ds0 + 1,
    );
    t.err(
        "open for reading: EACCES, root too (mode 0200)",
        open(DROP, O_RDONLY, 0),
        errno::EACCES,
    );
    t.err("write 0: EINVAL (min 1)", drop_caches(b"0"), errno::EINVAL);
    t.err("write 5: EINVAL (max 4)", drop_caches(b"5"), errno::EINVAL);
    t.err("write abc: EINVAL", drop_caches(b"abc"), errno::EINVAL);
    let st = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 2;
        }
        i32::from(open(DROP, O_WRONLY, 0) != -(errno::EACCES as isize))
    });
    t.exited("a non-root open for writing: EACCES", st, 0);
    t.ret("write 4 (silence the log)", drop_caches(b"4"), 1);
    let dp = vmstat("drop_pagecache").unwrap_or(0);
    t.ret("write 3 (not logged any more)", drop_caches(b"3"), 1);
    t.eq(
        "3 drops the page cache",
        vmstat("drop_pagecache").unwrap_or(0),
        dp + 1,
    );
    t.finish()
}

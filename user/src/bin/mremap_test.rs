//! mremap_test: mremap(2) as Linux 5.10 does it (mm/mremap.c): the errno rows in order,
//! shrink in place, grow in place when the next VMA leaves room, move with
//! MREMAP_MAYMOVE (the pages travel: contents kept, nothing copied), MREMAP_FIXED over an
//! existing mapping, MREMAP_DONTUNMAP (the old range stays mapped, empty), a locked
//! mapping that grows is populated, and /proc/self/maps after each. Checked on the man
//! page's rules; also correct on Linux.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

const P: usize = 4096;
const MAYMOVE: usize = 1;
const FIXED: usize = 2;
const DONTUNMAP: usize = 4;

/// A private anonymous RW mapping of `n` pages with a guard page (PROT_NONE) after it,
/// so it cannot grow in place.
fn region(n: usize) -> usize {
    let p = mmap(
        0,
        (n + 1) * P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if p < 0 {
        exit(2);
    }
    mprotect(p as usize + n * P, P, PROT_NONE);
    p as usize
}

/// Write page number + 1 into the first byte of each of `n` pages.
fn stamp(a: usize, n: usize) {
    for i in 0..n {
        poke(a + i * P, (i + 1) as u8);
    }
}

/// Do the `n` pages from `a` hold their stamps?
fn stamped(a: usize, n: usize) -> bool {
    (0..n).all(|i| peek(a + i * P) == (i + 1) as u8)
}

/// Is `a` mapped (mincore succeeds)?
fn mapped(a: usize) -> bool {
    let mut v = [0u8; 1];
    mincore(a, P, v.as_mut_ptr()) == 0
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("mremap_test");
    let a = region(4);
    stamp(a, 4);

    // The EINVAL rows, in the order Linux checks them.
    t.err("unknown flags are EINVAL", mremap(a, P, P, 8, 0), EINVAL);
    t.err(
        "MREMAP_FIXED without MAYMOVE is EINVAL",
        mremap(a, P, P, FIXED, 0),
        EINVAL,
    );
    t.err(
        "MREMAP_DONTUNMAP without MAYMOVE is EINVAL",
        mremap(a, P, P, DONTUNMAP, 0),
        EINVAL,
    );
    t.err(
        "MREMAP_DONTUNMAP with a size change is EINVAL",
        mremap(a, P, 2 * P, DONTUNMAP | MAYMOVE, 0),
        EINVAL,
    );
    t.err(
        "an unaligned address is EINVAL",
        mremap(a + 1, P, P, 0, 0),
        EINVAL,
    );
    t.err("new_len 0 is EINVAL", mremap(a, P, 0, 0, 0), EINVAL);
    t.err(
        "growing an unmapped address is EFAULT",
        mremap(unmapped_addr(), P, 2 * P, MAYMOVE, 0),
        EFAULT,
    );
    t.err(
        "old_len across the end of the VMA is EFAULT",
        mremap(a, 6 * P, 8 * P, MAYMOVE, 0),
        EFAULT,
    );
    t.err(
        "growing in place without MAYMOVE where the next VMA is in the way is ENOMEM",
        mremap(a, 4 * P, 6 * P, 0, 0),
        ENOMEM,
    );
    t.err(
        "MREMAP_FIXED onto an overlapping range is EINVAL",
        mremap(a, 2 * P, 2 * P, MAYMOVE | FIXED, a + P),
        EINVAL,
    );

    // Shrink in place: the tail goes away.
    t.ret(
        "shrinking 4 pages to 3 stays in place",
        mremap(a, 4 * P, 3 * P, 0, 0),
        a as isize,
    );
    t.ok(stamped(a, 3), "the first 3 pages keep their contents");
    t.ok(!mapped(a + 3 * P), "the 4th page is unmapped");

    // Move with MAYMOVE: the guard page blocks growing in place.
    let b = mremap(a, 3 * P, 6 * P, MAYMOVE, 0);
    t.check(
        b > 0 && b as usize != a,
        "growing with MAYMOVE moves the mapping",
        b,
        "a new address",
    );
    let b = b as usize;
    if b > 0 {
        t.ok(stamped(b, 3), "the moved pages keep their contents");
        t.ok(!mapped(a), "the old address is unmapped");
        t.eq("the grown part reads as zeros", peek(b + 4 * P), 0);
        poke(b + 5 * P, 9);
        t.eq("and is writable", peek(b + 5 * P), 9);
    }

    // Grow in place: a mapping with free space after it.
    let c = mmap(
        0,
        2 * P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    ) as usize;
    stamp(c, 2);
    munmap(c + 2 * P, 0); // nothing
    let hole = mmap(
        c + 2 * P,
        2 * P,
        PROT_READ,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        -1,
        0,
    );
    munmap(hole as usize, 2 * P); // make sure 2 free pages follow
    t.ret(
        "growing into free space after the VMA stays in place",
        mremap(c, 2 * P, 4 * P, 0, 0),
        c as isize,
    );
    t.ok(stamped(c, 2), "and keeps the contents");
    poke(c + 3 * P, 7);
    t.eq("the grown pages are usable", peek(c + 3 * P), 7);

    // MREMAP_FIXED: onto an existing mapping, which is unmapped first.
    let d = region(2);
    stamp(d, 2);
    let target = region(2);
    poke(target, 0xee);
    let r = mremap(d, 2 * P, 2 * P, MAYMOVE | FIXED, target);
    t.ret(
        "MREMAP_FIXED moves onto the given address",
        r,
        target as isize,
    );
    t.ok(stamped(target, 2), "which now holds the moved pages");
    t.ok(!mapped(d), "and the source is gone");

    // MREMAP_DONTUNMAP: the old range stays mapped but empty.
    let e = region(2);
    stamp(e, 2);
    let f = mremap(e, 2 * P, 2 * P, MAYMOVE | DONTUNMAP, 0);
    t.check(
        f > 0 && f as usize != e,
        "MREMAP_DONTUNMAP moves",
        f,
        "a new address",
    );
    if f > 0 {
        t.ok(
            stamped(f as usize, 2),
            "the pages arrive at the new address",
        );
        t.ok(mapped(e), "the old range is still mapped");
        t.eq("and reads as zeros (its pages left)", peek(e), 0);
    }

    // A locked mapping that grows is populated.
    let g = mmap(
        0,
        P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED,
        -1,
        0,
    );
    if g > 0 {
        let g2 = mremap(g as usize, P, 4 * P, MAYMOVE, 0);
        let mut v = [0u8; 4];
        let m = mincore(g2 as usize, 4 * P, v.as_mut_ptr());
        t.check(
            m == 0 && v.iter().all(|&b| b & 1 == 1),
            "a MAP_LOCKED mapping grown by mremap is resident at once",
            format_args!("{:?}", v),
            "all resident",
        );
    }
    t.finish()
}

//! mlock_test: the ERRORS rows and the behaviour of mlock(2), mlock2(2), munlock(2),
//! mlockall(2) and munlockall(2), written from the man pages and Linux 5.10's
//! `mm/mlock.c` + `mm/gup.c` (so the same binary passes on Linux arm64 when run as root).
//!
//! What is seen from user space: residency through mincore(2), VMA splits and merges
//! through /proc/self/maps, "is this VMA locked?" through madvise(MADV_DONTNEED), which
//! Linux refuses with EINVAL on VM_LOCKED memory, and the RLIMIT_MEMLOCK accounting
//! (`locked_vm`) through what a non-root child (uid 1000) may still lock. If
//! /proc/self/status and /proc/self/smaps exist, VmLck, Locked and the `lo` VmFlag too.
//!
//! Linux: `mm/mlock.c` (do_mlock, apply_vma_lock_flags, mlock_fixup, count_mm_mlocked_page_nr,
//! apply_mlockall_flags), `mm/gup.c` (__mm_populate), `mm/mmap.c` (MAP_LOCKED,
//! mlock_future_check, munmap), `kernel/fork.c` (dup_mmap, mm_init), `mm/msync.c`.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::maps::*;
use ulib::procfs::{read_file, vmstat};
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
/// The RLIMIT_MEMLOCK the non-root checks run with, in pages.
const LIMIT: usize = 8;
/// argv[1] of the program re-executed by `exec_rows`.
const AFTER_EXEC: &str = "--after-exec";

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some(AFTER_EXEC) {
        return after_exec();
    }
    let mut t = Tap::new("mlock_test");
    if getuid() != 0 {
        t.ok(false, "mlock_test runs as root (uid 0)");
        return t.finish();
    }
    lock_unlock_rows(&mut t);
    split_merge_rows(&mut t);
    hole_rows(&mut t);
    prot_none_rows(&mut t);
    mlock2_rows(&mut t);
    map_locked_rows(&mut t);
    mlockall_einval_rows(&mut t);
    sub(&mut t, "mlockall and munlockall in a child", mlockall_rows);
    sub(&mut t, "locks are not inherited by fork", fork_rows);
    sub(
        &mut t,
        "a page locked through two VMAs stays locked until both munlock",
        shared_lock_rows,
    );
    exec_rows(&mut t, &args);
    sub(
        &mut t,
        "as uid 1000 with RLIMIT_MEMLOCK 0",
        nonroot_eperm_rows,
    );
    sub(
        &mut t,
        "as uid 1000 with RLIMIT_MEMLOCK 8 pages",
        nonroot_limit_rows,
    );
    sub(
        &mut t,
        "/proc/self/status and smaps of locked memory",
        proc_rows,
    );
    t.finish()
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

/// Run `f` in a forked child with its own Tap (its lines print as they come) and check
/// that none of its checks failed.
fn sub(t: &mut Tap, what: &str, f: fn(&mut Tap)) {
    let st = in_child(|| {
        let mut ct = Tap::new("mlock_test");
        f(&mut ct);
        ct.failed().min(255) as i32
    });
    t.exited(format_args!("{}: every check passed", what), st, 0);
}

/// All `n` pages from `addr` resident, or none.
fn all_resident(addr: usize, n: usize) -> bool {
    residency(addr, n).as_str().bytes().all(|c| c == b'1')
}
fn none_resident(addr: usize, n: usize) -> bool {
    residency(addr, n).as_str().bytes().all(|c| c == b'0')
}

/// Is the VMA at `addr` locked? Linux refuses MADV_DONTNEED on VM_LOCKED memory with
/// EINVAL (`can_madv_lru_vma`); on unlocked memory it drops the pages (so only ask about
/// memory whose contents do not matter).
fn dontneed(addr: usize, len: usize) -> isize {
    madvise(addr, len, MADV_DONTNEED)
}

/// Set RLIMIT_MEMLOCK (soft and hard) to `pages` pages.
fn set_memlock(pages: usize) -> isize {
    let r = Rlimit {
        rlim_cur: (pages * P) as u64,
        rlim_max: (pages * P) as u64,
    };
    prlimit64(RLIMIT_MEMLOCK, Some(&r), None)
}

/// Become uid 1000 (real, effective and saved), which drops CAP_IPC_LOCK.
fn become_user(t: &mut Tap) -> bool {
    let r = setresuid(1000, 1000, 1000);
    t.ret("setresuid(1000, 1000, 1000) drops root", r, 0) && t.eq("geteuid()", geteuid(), 1000)
}

// ---------------------------------------------------------------------------------------
// Root: locking, splitting and merging, holes, PROT_NONE, mlock2, MAP_LOCKED.
// ---------------------------------------------------------------------------------------

/// mlock faults every page in; munlock keeps them; the lock is visible to madvise.
fn lock_unlock_rows(t: &mut Tap) {
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 pages read-write between guard pages") {
        return;
    }
    resident_is(t, "a fresh mapping has no page resident", r, 8, "00000000");
    t.ret("mlock of 8 untouched pages", mlock(r, 8 * P), 0);
    resident_is(
        t,
        "after mlock every page is resident (mincore)",
        r,
        8,
        "11111111",
    );
    t.ok(all(r, 8 * P, 0), "locked anonymous pages read as zeros");
    fill(r, 8 * P, 0x5a);
    t.err(
        "MADV_DONTNEED on locked memory fails with EINVAL",
        dontneed(r, 8 * P),
        EINVAL,
    );
    t.ok(all(r, 8 * P, 0x5a), "locked pages keep their data");
    t.ret(
        "mlock of an already locked range succeeds",
        mlock(r, 8 * P),
        0,
    );
    t.err(
        "msync(MS_INVALIDATE) of locked memory fails with EBUSY",
        msync(r, P, MS_INVALIDATE),
        EBUSY,
    );
    t.ret("munlock of the 8 pages", munlock(r, 8 * P), 0);
    resident_is(t, "munlock leaves the pages resident", r, 8, "11111111");
    t.ret(
        "msync(MS_INVALIDATE) after munlock succeeds",
        msync(r, P, MS_INVALIDATE),
        0,
    );
    t.ret(
        "MADV_DONTNEED after munlock succeeds",
        dontneed(r, 8 * P),
        0,
    );
    t.ret(
        "munlock of memory that is not locked succeeds",
        munlock(r, 8 * P),
        0,
    );
    unregion(r, 8);
}

/// A partial mlock splits the VMA (seen in /proc/self/maps) and the matching munlock
/// merges it again when the parts share an anon_vma; addresses are rounded to pages.
fn split_merge_rows(t: &mut Tap) {
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 pages read-write between guard pages") {
        return;
    }
    shape_is(t, "the region is one VMA", r, 8, "0-8");
    t.ret("mlock of pages 2..5", mlock(r + 2 * P, 3 * P), 0);
    shape_is(
        t,
        "mlock of pages 2..5 splits the VMA in three",
        r,
        8,
        "0-2 2-5 5-8",
    );
    resident_is(t, "only the locked pages were faulted in", r, 8, "00111000");
    t.ret("munlock of pages 2..5", munlock(r + 2 * P, 3 * P), 0);
    // Linux 5.10 (and 6.1): populate gave the middle part an anon_vma its untouched
    // neighbours lack; is_mergeable_anon_vma refuses to merge it into a VMA whose
    // anon_vma_chain is empty (list_is_singular is false for an empty list).
    shape_is(
        t,
        "munlock leaves it in three: only the middle has an anon_vma",
        r,
        8,
        "0-2 2-5 5-8",
    );
    unregion(r, 8);
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 fresh pages and write them all") {
        return;
    }
    for i in 0..8 {
        // SAFETY: page i of the fresh read-write region just mapped.
        unsafe { ((r + i * P) as *mut u8).write_volatile(1) };
    }
    t.ret("mlock of pages 2..5", mlock(r + 2 * P, 3 * P), 0);
    shape_is(t, "splits it in three again", r, 8, "0-2 2-5 5-8");
    t.ret("munlock of pages 2..5", munlock(r + 2 * P, 3 * P), 0);
    shape_is(
        t,
        "the matching munlock merges the VMA again (one anon_vma)",
        r,
        8,
        "0-8",
    );
    t.ret(
        "mlock(addr + 100, 1) rounds the address down to its page",
        mlock(r + P + 100, 1),
        0,
    );
    shape_is(t, "only page 1 is locked", r, 8, "0-1 1-2 2-8");
    t.ret(
        "munlock(addr + 100, 1) unlocks that page",
        munlock(r + P + 100, 1),
        0,
    );
    shape_is(t, "page 1 merged back", r, 8, "0-8");
    t.ret(
        "mlock with length 0 at a page boundary succeeds",
        mlock(r + 3 * P, 0),
        0,
    );
    shape_is(t, "mlock with length 0 locks nothing", r, 8, "0-8");
    t.ret(
        "mlock with length 0 of an unmapped page succeeds",
        mlock(unmapped_addr(), 0),
        0,
    );
    t.ret(
        "mlock(addr + 1, 0) locks the page (the length grows by the offset)",
        mlock(r + 3 * P + 1, 0),
        0,
    );
    shape_is(
        t,
        "mlock(addr + 1, 0) split out page 3",
        r,
        8,
        "0-3 3-4 4-8",
    );
    t.ret("munlock(addr + 1, 0)", munlock(r + 3 * P + 1, 0), 0);
    shape_is(t, "page 3 merged back", r, 8, "0-8");
    unregion(r, 8);
}

/// Holes: ENOMEM, with the VMAs before the hole already changed and nothing faulted in.
fn hole_rows(t: &mut Tap) {
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 pages read-write between guard pages") {
        return;
    }
    t.ret("unmap page 4 to make a hole", munmap(r + 4 * P, P), 0);
    t.err(
        "mlock of pages 2..7 across the hole fails with ENOMEM",
        mlock(r + 2 * P, 5 * P),
        ENOMEM,
    );
    shape_is(
        t,
        "pages 2..4 before the hole were locked (split out)",
        r,
        8,
        "0-2 2-4 5-8",
    );
    t.err(
        "the pages before the hole are locked (MADV_DONTNEED: EINVAL)",
        dontneed(r + 2 * P, 2 * P),
        EINVAL,
    );
    t.ret(
        "the pages after the hole are not locked",
        dontneed(r + 5 * P, 3 * P),
        0,
    );
    resident_is(t, "mlock failed before faulting anything in", r, 4, "0000");
    t.err(
        "munlock across the hole fails with ENOMEM",
        munlock(r + 2 * P, 5 * P),
        ENOMEM,
    );
    shape_is(
        t,
        "munlock unlocked (and merged) the pages before the hole",
        r,
        8,
        "0-4 5-8",
    );
    t.ret(
        "the pages before the hole are unlocked",
        dontneed(r + 2 * P, 2 * P),
        0,
    );
    t.err(
        "mlock starting in the hole fails with ENOMEM",
        mlock(r + 4 * P, 2 * P),
        ENOMEM,
    );
    shape_is(
        t,
        "mlock starting in the hole changed nothing",
        r,
        8,
        "0-4 5-8",
    );
    t.ret("so page 5 is not locked", dontneed(r + 5 * P, P), 0);
    let u = unmapped_addr();
    t.err(
        "mlock of unmapped memory fails with ENOMEM",
        mlock(u, P),
        ENOMEM,
    );
    t.err(
        "munlock of unmapped memory fails with ENOMEM",
        munlock(u, P),
        ENOMEM,
    );
    t.err(
        "mlock2 of unmapped memory fails with ENOMEM",
        mlock2(u, P, MLOCK_ONFAULT),
        ENOMEM,
    );
    let wrap = usize::MAX & !(P - 1);
    t.err(
        "mlock whose addr + len wraps fails with EINVAL",
        mlock(r, wrap),
        EINVAL,
    );
    t.err(
        "munlock whose addr + len wraps fails with EINVAL",
        munlock(r, wrap),
        EINVAL,
    );
    t.err(
        "mlock2 whose addr + len wraps fails with EINVAL",
        mlock2(r, wrap, 0),
        EINVAL,
    );
    unregion(r, 8);
}

/// PROT_NONE memory: Linux 5.10 marks it VM_LOCKED, then __mm_populate cannot fault it
/// (no FOLL_FORCE for inaccessible VMAs, check_vma_flags: EFAULT), which
/// __mlock_posix_error_return reports as ENOMEM. The VMA stays locked.
fn prot_none_rows(t: &mut Tap) {
    let r = region(4, PROT_NONE);
    if !t.ok(r != 0, "map 4 PROT_NONE pages between readable guard pages") {
        return;
    }
    t.err(
        "mlock of PROT_NONE pages 1..3 fails with ENOMEM",
        mlock(r + P, 2 * P),
        ENOMEM,
    );
    shape_is(
        t,
        "the PROT_NONE pages were split out and locked anyway",
        r,
        4,
        "0-1 1-3 3-4",
    );
    t.err(
        "the PROT_NONE pages are locked (MADV_DONTNEED: EINVAL)",
        dontneed(r + P, 2 * P),
        EINVAL,
    );
    t.ret(
        "mprotect(PROT_READ|PROT_WRITE) of the locked pages",
        mprotect(r + P, 2 * P, RW),
        0,
    );
    resident_is(
        t,
        "a locked private VMA made writable is faulted in by mprotect",
        r,
        4,
        "0110",
    );
    t.ret(
        "mlock of the now accessible pages succeeds",
        mlock(r + P, 2 * P),
        0,
    );
    unregion(r, 4);
}

/// mlock2: flags, and MLOCK_ONFAULT locking without faulting.
fn mlock2_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages read-write between guard pages") {
        return;
    }
    t.err(
        "mlock2 with an unknown flag (2) fails with EINVAL",
        mlock2(r, P, 2),
        EINVAL,
    );
    t.err(
        "mlock2 with flags -1 fails with EINVAL",
        mlock2(r, P, u32::MAX as usize),
        EINVAL,
    );
    shape_is(t, "a refused mlock2 changes nothing", r, 4, "0-4");
    t.ret(
        "mlock2(MLOCK_ONFAULT) of 4 untouched pages",
        mlock2(r, 4 * P, MLOCK_ONFAULT),
        0,
    );
    resident_is(
        t,
        "after mlock2(MLOCK_ONFAULT) untouched pages are not resident",
        r,
        4,
        "0000",
    );
    t.err(
        "MLOCK_ONFAULT memory is locked (MADV_DONTNEED: EINVAL)",
        dontneed(r, 4 * P),
        EINVAL,
    );
    poke(r + P, 1);
    resident_is(
        t,
        "a page touched after mlock2(MLOCK_ONFAULT) is resident",
        r,
        4,
        "0100",
    );
    t.ret("mlock of the MLOCK_ONFAULT range", mlock(r, 4 * P), 0);
    resident_is(t, "plain mlock faults the rest in", r, 4, "1111");
    t.ok(peek(r + P) == 1, "the touched page kept its data");
    t.ret("mlock2 with flags 0 is mlock", mlock2(r, 4 * P, 0), 0);
    unregion(r, 4);
}

/// MAP_LOCKED: populated and locked at mmap; munmap takes the lock away with the memory.
fn map_locked_rows(t: &mut Tap) {
    let m = mmap(0, 4 * P, RW, ANON | MAP_LOCKED, -1, 0);
    if !t.success("mmap MAP_LOCKED of 4 pages", m) {
        return;
    }
    let m = m as usize;
    resident_is(t, "MAP_LOCKED memory is resident at once", m, 4, "1111");
    t.err(
        "MAP_LOCKED memory is locked (MADV_DONTNEED: EINVAL)",
        dontneed(m, 4 * P),
        EINVAL,
    );
    t.ret("munmap of locked memory succeeds", munmap(m, 4 * P), 0);
    t.err(
        "the unmapped range cannot be locked any more",
        mlock(m, 4 * P),
        ENOMEM,
    );
}

/// mlockall's EINVAL rows, checked in this process: they change nothing.
fn mlockall_einval_rows(t: &mut Tap) {
    t.err("mlockall(0) fails with EINVAL", mlockall(0), EINVAL);
    t.err(
        "mlockall with an unknown flag (8) fails with EINVAL",
        mlockall(MCL_CURRENT | 8),
        EINVAL,
    );
    t.err(
        "mlockall(MCL_ONFAULT) alone fails with EINVAL",
        mlockall(MCL_ONFAULT),
        EINVAL,
    );
    t.err(
        "mlockall(-1) fails with EINVAL",
        mlockall(u32::MAX as usize),
        EINVAL,
    );
    t.ret("munlockall never fails", munlockall(), 0);
}

// ---------------------------------------------------------------------------------------
// Children: mlockall, fork, exec.
// ---------------------------------------------------------------------------------------

/// mlockall(MCL_CURRENT | MCL_FUTURE) faults in what is mapped and every later mmap and
/// brk; munlockall stops it; MCL_ONFAULT locks without faulting.
fn mlockall_rows(t: &mut Tap) {
    let pre = mmap_anon(4 * P);
    if !t.success("map 4 untouched pages", pre) {
        return;
    }
    let pre = pre as usize;
    t.ret(
        "mlockall(MCL_CURRENT | MCL_FUTURE)",
        mlockall(MCL_CURRENT | MCL_FUTURE),
        0,
    );
    resident_is(
        t,
        "MCL_CURRENT faulted in memory mapped before",
        pre,
        4,
        "1111",
    );
    let m = mmap_anon(4 * P);
    if t.success("mmap after mlockall(MCL_FUTURE)", m) {
        resident_is(
            t,
            "memory mapped after MCL_FUTURE is resident at once",
            m as usize,
            4,
            "1111",
        );
        t.err(
            "and locked (MADV_DONTNEED: EINVAL)",
            dontneed(m as usize, 4 * P),
            EINVAL,
        );
    }
    let old = brk(0);
    let new = brk(old + 3 * P);
    if t.addr("brk grows the heap by 3 pages", new, old + 3 * P) {
        let first = (old + P - 1) & !(P - 1);
        let last = (new + P - 1) & !(P - 1);
        t.ok(
            all_resident(first, (last - first) / P),
            "heap grown under MCL_FUTURE is resident at once",
        );
    }
    t.ret("munlockall", munlockall(), 0);
    t.ret(
        "munlockall unlocked the memory mapped before",
        dontneed(pre, 4 * P),
        0,
    );
    let m2 = mmap_anon(4 * P);
    if t.success("mmap after munlockall", m2) {
        resident_is(
            t,
            "after munlockall new memory is not faulted in",
            m2 as usize,
            4,
            "0000",
        );
    }
    let old = brk(0);
    let new = brk(old + 3 * P);
    if t.addr("brk grows the heap by 3 more pages", new, old + 3 * P) {
        let first = (old + P - 1) & !(P - 1);
        let last = (new + P - 1) & !(P - 1);
        t.ok(
            none_resident(first, (last - first) / P),
            "after munlockall heap growth is not faulted in",
        );
    }

    t.ret(
        "mlockall(MCL_FUTURE | MCL_ONFAULT)",
        mlockall(MCL_FUTURE | MCL_ONFAULT),
        0,
    );
    let m3 = mmap_anon(4 * P);
    if t.success("mmap after mlockall(MCL_FUTURE | MCL_ONFAULT)", m3) {
        let m3 = m3 as usize;
        resident_is(
            t,
            "memory mapped under MCL_ONFAULT is not faulted in",
            m3,
            4,
            "0000",
        );
        t.err(
            "but it is locked (MADV_DONTNEED: EINVAL)",
            dontneed(m3, 4 * P),
            EINVAL,
        );
    }
    t.ret(
        "MCL_FUTURE alone did not lock the memory mapped before",
        dontneed(m2 as usize, 4 * P),
        0,
    );
    t.ret(
        "mlockall(MCL_CURRENT | MCL_ONFAULT)",
        mlockall(MCL_CURRENT | MCL_ONFAULT),
        0,
    );
    resident_is(
        t,
        "MCL_CURRENT | MCL_ONFAULT does not fault untouched memory in",
        m2 as usize,
        4,
        "0000",
    );
    t.err(
        "but locks it (MADV_DONTNEED: EINVAL)",
        dontneed(m2 as usize, 4 * P),
        EINVAL,
    );
    let m4 = mmap_anon(4 * P);
    if t.success("mmap after mlockall(MCL_CURRENT | MCL_ONFAULT)", m4) {
        t.ret(
            "mlockall without MCL_FUTURE ended the future locking",
            dontneed(m4 as usize, 4 * P),
            0,
        );
    }
    t.ret("munlockall", munlockall(), 0);
}

/// VM_LOCKED and mlockall(MCL_FUTURE) are not inherited (dup_mmap clears VM_LOCKED,
/// mm_init drops def_flags), and what the child does leaves the parent's locks alone.
fn fork_rows(t: &mut Tap) {
    t.ret(
        "mlockall(MCL_CURRENT | MCL_FUTURE) in the parent",
        mlockall(MCL_CURRENT | MCL_FUTURE),
        0,
    );
    let x = mmap_anon(4 * P);
    if !t.success("map 4 locked pages", x) {
        return;
    }
    let x = x as usize;
    fill(x, 4 * P, 0x77);
    let st = in_child(|| {
        let mut ct = Tap::new("mlock_test");
        ct.ret(
            "in the child the parent's locked pages are not locked",
            dontneed(x, 4 * P),
            0,
        );
        ct.ok(
            all(x, 4 * P, 0),
            "so MADV_DONTNEED dropped the child's copies (zeros)",
        );
        let y = mmap_anon(4 * P);
        if ct.success("mmap in the child", y) {
            resident_is(
                &mut ct,
                "the child does not inherit MCL_FUTURE",
                y as usize,
                4,
                "0000",
            );
        }
        ct.ret("munlockall in the child", munlockall(), 0);
        ct.ret("mlock in the child", mlock(x, 4 * P), 0);
        ct.ret("munlock in the child", munlock(x, 4 * P), 0);
        ct.failed().min(255) as i32
    });
    t.exited("the child's checks passed", st, 0);
    t.ok(
        all(x, 4 * P, 0x77),
        "the parent's locked pages kept their data",
    );
    resident_is(t, "and stay resident", x, 4, "1111");
    t.err(
        "the child's munlockall left the parent's pages locked",
        dontneed(x, 4 * P),
        EINVAL,
    );
    let z = mmap_anon(4 * P);
    if t.success("mmap in the parent after the child exited", z) {
        resident_is(t, "the parent still has MCL_FUTURE", z as usize, 4, "1111");
    }
    munlockall();
}


/// Seed 001's munlock rule: a page mapped by two VM_LOCKED VMAs (a parent's read-only
/// locked pages, shared copy-on-write with a child that locks its copy too) stays mlocked
/// when one of them munlocks: `munlock_vma_page` clears the mark, then `try_to_munlock`
/// walks rmap, finds the other locked VMA still mapping the page, and marks it again. Only
/// the second munlock unlocks it (nr_mlock falls, unevictable_pgs_munlocked counts).
fn shared_lock_rows(t: &mut Tap) {
    let x = mmap_anon(4 * P);
    if !t.success("map 4 pages", x) {
        return;
    }
    let x = x as usize;
    fill(x, 4 * P, 0x5a);
    t.ret(
        "make them read-only",
        mprotect(x, 4 * P, PROT_READ) as isize,
        0,
    );
    t.ret("mlock them in the parent", mlock(x, 4 * P), 0);
    let st = in_child(|| {
        let mut ct = Tap::new("mlock_test");
        ct.ret(
            "mlock the shared pages in the child too",
            mlock(x, 4 * P),
            0,
        );
        let (m0, u0) = (vmstat("nr_mlock"), vmstat("unevictable_pgs_munlocked"));
        ct.ret("munlock them in the child", munlock(x, 4 * P), 0);
        let (m1, u1) = (vmstat("nr_mlock"), vmstat("unevictable_pgs_munlocked"));
        ct.check(
            m0.is_some() && m1 == m0,
            "nr_mlock does not move: the parent's VMA still locks them",
            format_args!("{:?} -> {:?}", m0, m1),
            "unchanged",
        );
        ct.check(
            u0.is_some() && u1 == u0,
            "and unevictable_pgs_munlocked does not count them",
            format_args!("{:?} -> {:?}", u0, u1),
            "unchanged",
        );
        ct.failed().min(255) as i32
    });
    t.exited("the child's checks passed", st, 0);
    let (m0, u0) = (vmstat("nr_mlock"), vmstat("unevictable_pgs_munlocked"));
    t.ret("munlock them in the parent", munlock(x, 4 * P), 0);
    let (m1, u1) = (vmstat("nr_mlock"), vmstat("unevictable_pgs_munlocked"));
    t.check(
        m0.zip(m1).is_some_and(|(a, b)| a == b + 4),
        "now nr_mlock falls by 4",
        format_args!("{:?} -> {:?}", m0, m1),
        "4 fewer",
    );
    t.check(
        u0.zip(u1).is_some_and(|(a, b)| b == a + 4),
        "and unevictable_pgs_munlocked counts 4",
        format_args!("{:?} -> {:?}", u0, u1),
        "4 more",
    );
    munmap(x, 4 * P);
}

/// exec gives the program a new mm without locks: after mlockall(MCL_FUTURE) and
/// execve, new memory is neither locked nor faulted in.
fn exec_rows(t: &mut Tap, args: &Args) {
    let mut path = [0u8; 128];
    let me = args.get(0).unwrap_or("/bin/mlock_test");
    let n = me.len().min(path.len() - 1);
    path[..n].copy_from_slice(&me.as_bytes()[..n]);
    let st = in_child(|| {
        if mlockall(MCL_CURRENT | MCL_FUTURE) != 0 {
            return 100;
        }
        let Ok(p) = core::ffi::CStr::from_bytes_until_nul(&path) else {
            return 101;
        };
        let argv = [
            p.as_ptr() as *const u8,
            c"--after-exec".as_ptr() as *const u8,
            core::ptr::null(),
        ];
        let envp = [core::ptr::null::<u8>()];
        execve(p, &argv, &envp);
        102
    });
    t.exited(
        "after mlockall(MCL_FUTURE) and execve, new memory is neither resident nor locked",
        st,
        0,
    );
}

/// The re-executed program (see `exec_rows`): exit 0 if exec dropped the locks.
fn after_exec() -> i32 {
    let mut t = Tap::new("mlock_test");
    let m = mmap_anon(4 * P);
    if t.success("mmap after execve", m) {
        resident_is(
            &mut t,
            "after execve MCL_FUTURE is gone: new memory is not faulted in",
            m as usize,
            4,
            "0000",
        );
        t.ret(
            "after execve new memory is not locked",
            dontneed(m as usize, 4 * P),
            0,
        );
    }
    t.failed().min(255) as i32
}

// ---------------------------------------------------------------------------------------
// Non-root: EPERM and RLIMIT_MEMLOCK.
// ---------------------------------------------------------------------------------------

/// RLIMIT_MEMLOCK 0 without CAP_IPC_LOCK: EPERM, checked before the range (and after
/// the flags).
fn nonroot_eperm_rows(t: &mut Tap) {
    let r = region(4, RW);
    if !t.ok(r != 0, "map 4 pages between guard pages") {
        return;
    }
    t.ret("set RLIMIT_MEMLOCK to 0", set_memlock(0), 0);
    if !become_user(t) {
        return;
    }
    t.err("mlock fails with EPERM", mlock(r, P), EPERM);
    t.err(
        "mlock of unmapped memory fails with EPERM (before ENOMEM)",
        mlock(unmapped_addr(), P),
        EPERM,
    );
    t.err(
        "mlock2(MLOCK_ONFAULT) fails with EPERM",
        mlock2(r, P, MLOCK_ONFAULT),
        EPERM,
    );
    t.err(
        "mlock2 with a bad flag fails with EINVAL (before EPERM)",
        mlock2(r, P, 2),
        EINVAL,
    );
    t.err(
        "mlockall(MCL_CURRENT) fails with EPERM",
        mlockall(MCL_CURRENT),
        EPERM,
    );
    t.err(
        "mlockall(MCL_FUTURE) fails with EPERM",
        mlockall(MCL_FUTURE),
        EPERM,
    );
    t.err(
        "mlockall(0) fails with EINVAL (before EPERM)",
        mlockall(0),
        EINVAL,
    );
    t.err(
        "mmap MAP_LOCKED fails with EPERM",
        mmap(0, P, RW, ANON | MAP_LOCKED, -1, 0),
        EPERM,
    );
    t.ret("munlock needs no permission", munlock(r, P), 0);
    t.ret("munlockall needs no permission", munlockall(), 0);
    shape_is(t, "nothing was locked", r, 4, "0-4");
}

/// RLIMIT_MEMLOCK of 8 pages: ENOMEM past it (pages already locked are not counted
/// twice), MAP_LOCKED and MCL_FUTURE mappings past it are EAGAIN, munmap gives the
/// allowance back, and a forked child starts from nothing locked.
fn nonroot_limit_rows(t: &mut Tap) {
    let r = region(16, RW);
    if !t.ok(r != 0, "map 16 pages between guard pages") {
        return;
    }
    t.ret("set RLIMIT_MEMLOCK to 8 pages", set_memlock(LIMIT), 0);
    if !become_user(t) {
        return;
    }
    t.err(
        "mlock of 9 pages fails with ENOMEM",
        mlock(r, (LIMIT + 1) * P),
        ENOMEM,
    );
    shape_is(t, "the refused mlock changed no VMA", r, 16, "0-16");
    t.ret("mlock of 8 pages succeeds", mlock(r, LIMIT * P), 0);
    resident_is(
        t,
        "the 8 locked pages are resident",
        r,
        16,
        "1111111100000000",
    );
    t.ret(
        "locking the same 8 pages again succeeds (count_mm_mlocked_page_nr)",
        mlock(r, LIMIT * P),
        0,
    );
    t.ret(
        "and so does locking a part of them",
        mlock(r + 2 * P, 3 * P),
        0,
    );
    t.err(
        "mlock of pages 4..12 fails with ENOMEM (4 of them are new)",
        mlock(r + 4 * P, LIMIT * P),
        ENOMEM,
    );
    t.err(
        "one more page fails with ENOMEM",
        mlock(r + 8 * P, P),
        ENOMEM,
    );
    t.ret("munlock of page 7", munlock(r + 7 * P, P), 0);
    t.ret("frees room for page 8", mlock(r + 8 * P, P), 0);
    shape_is(
        t,
        "pages 0..7 and 8 locked, 7 not",
        r,
        16,
        "0-7 7-8 8-9 9-16",
    );
    t.ret("munmap of 4 locked pages", munmap(r, 4 * P), 0);
    t.ret(
        "gives their allowance back: 4 more pages can be locked",
        mlock(r + 9 * P, 4 * P),
        0,
    );
    t.err("and then no more", mlock(r + 13 * P, P), ENOMEM);

    // A forked child's locked_vm starts at 0: it may lock 8 pages of its own.
    let st = in_child(|| {
        let mut ct = Tap::new("mlock_test");
        ct.ret(
            "a forked child may lock 8 pages although its parent has 8 locked",
            mlock(r + 4 * P, LIMIT * P),
            0,
        );
        ct.ret("munlockall in that child", munlockall(), 0);
        ct.failed().min(255) as i32
    });
    t.exited("the child's checks passed", st, 0);
    t.err(
        "the parent still has 8 pages locked",
        mlock(r + 13 * P, P),
        ENOMEM,
    );
    t.ret("munlockall", munlockall(), 0);
    t.ret(
        "after munlockall 8 pages can be locked again",
        mlock(r + 8 * P, LIMIT * P),
        0,
    );
    t.ret("munlockall", munlockall(), 0);

    let m = mmap(0, 16 * P, RW, ANON | MAP_LOCKED, -1, 0);
    t.err("mmap MAP_LOCKED of 16 pages fails with EAGAIN", m, EAGAIN);
    let m = mmap(0, 4 * P, RW, ANON | MAP_LOCKED, -1, 0);
    if t.success("mmap MAP_LOCKED of 4 pages", m) {
        resident_is(t, "and they are resident", m as usize, 4, "1111");
        t.err(
            "MAP_LOCKED counts against the limit: 5 more pages fail with EAGAIN",
            mmap(0, 5 * P, RW, ANON | MAP_LOCKED, -1, 0),
            EAGAIN,
        );
        t.err(
            "and mlock of 5 more pages with ENOMEM",
            mlock(r + 8 * P, 5 * P),
            ENOMEM,
        );
        munmap(m as usize, 4 * P);
    }

    t.err(
        "mlockall(MCL_CURRENT) with more mapped than the limit fails with ENOMEM",
        mlockall(MCL_CURRENT),
        ENOMEM,
    );
    t.ret("and locks nothing", dontneed(r + 8 * P, P), 0);
    t.ret(
        "mlockall(MCL_FUTURE) does not look at what is mapped",
        mlockall(MCL_FUTURE),
        0,
    );
    let m = mmap_anon(4 * P);
    if t.success("mmap of 4 pages under MCL_FUTURE", m) {
        resident_is(t, "is resident", m as usize, 4, "1111");
    }
    t.err(
        "mmap of 8 more pages under MCL_FUTURE fails with EAGAIN",
        mmap_anon(LIMIT * P),
        EAGAIN,
    );
    let old = brk(0);
    t.addr(
        "brk by 8 pages under MCL_FUTURE fails (the break stays)",
        brk(old + LIMIT * P),
        old,
    );
    t.ret("munlockall", munlockall(), 0);
    let m2 = mmap_anon(LIMIT * P);
    t.success("after munlockall the 8-page mmap succeeds", m2);
}

// ---------------------------------------------------------------------------------------
// /proc: VmLck, Locked, `lo`.
// ---------------------------------------------------------------------------------------

/// The number (kB) after `key` in `text` ("VmLck:", "Locked:").
fn field_kb(text: &str, key: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The smaps block of the VMA starting at `start` (its header line to the next header).
fn smaps_block(text: &str, start: usize) -> Option<&str> {
    let mut from = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let is_header = line
            .split(' ')
            .next()
            .and_then(|r| r.split_once('-'))
            .is_some_and(|(a, b)| hex(a).is_some() && hex(b.trim()).is_some());
        if is_header {
            if let Some(f) = from {
                return Some(&text[f..pos]);
            }
            if line.split('-').next().and_then(hex) == Some(start) {
                from = Some(pos);
            }
        }
        pos += line.len();
    }
    from.map(|f| &text[f..])
}

/// VmLck in /proc/self/status is locked_vm, Locked in /proc/self/smaps the locked
/// resident memory of the VMA, VmFlags shows `lo`; each only if the file exists.
fn proc_rows(t: &mut Tap) {
    let mut buf = [0u8; 16384];
    let have_status = read_file(c"/proc/self/status", &mut buf).is_some();
    let mut sbuf = [0u8; 32768];
    let have_smaps = read_file(c"/proc/self/smaps", &mut sbuf).is_some();
    if !have_status && !have_smaps {
        println!("# no /proc/self/status or /proc/self/smaps: VmLck and Locked not checked");
        return;
    }
    let r = region(8, RW);
    if !t.ok(r != 0, "map 8 pages between guard pages") {
        return;
    }
    let vmlck = |buf: &mut [u8]| -> Option<usize> {
        let n = read_file(c"/proc/self/status", buf)?;
        field_kb(core::str::from_utf8(&buf[..n]).ok()?, "VmLck:")
    };
    if have_status {
        let got = vmlck(&mut buf);
        t.check(
            got == Some(0),
            "VmLck is 0 kB before mlock",
            format_args!("{:?}", got),
            "Some(0)",
        );
    }
    t.ret("mlock of 8 pages", mlock(r, 8 * P), 0);
    t.ret("and again", mlock(r, 8 * P), 0);
    if have_status {
        let got = vmlck(&mut buf);
        t.check(
            got == Some(32),
            "VmLck is 32 kB after locking 8 pages twice",
            format_args!("{:?}", got),
            "Some(32)",
        );
    }
    if have_smaps {
        let n = read_file(c"/proc/self/smaps", &mut sbuf).unwrap_or(0);
        let text = core::str::from_utf8(&sbuf[..n]).unwrap_or("");
        let block = smaps_block(text, r).unwrap_or("");
        let locked = field_kb(block, "Locked:");
        t.check(
            locked == Some(32),
            "smaps: Locked is 32 kB for the 8 locked resident pages",
            format_args!("{:?}", locked),
            "Some(32)",
        );
        let lo = block
            .lines()
            .find(|l| l.starts_with("VmFlags:"))
            .is_some_and(|l| l.split(' ').any(|f| f == "lo"));
        t.ok(lo, "smaps: VmFlags of the locked VMA has lo");
    }
    if have_smaps {
        // After mlock every page of the VMA is resident and locked: Rss == Size == Locked.
        let n = read_file(c"/proc/self/smaps", &mut sbuf).unwrap_or(0);
        let text = core::str::from_utf8(&sbuf[..n]).unwrap_or("");
        let block = smaps_block(text, r).unwrap_or("");
        let (size, rss, locked) = (
            field_kb(block, "Size:"),
            field_kb(block, "Rss:"),
            field_kb(block, "Locked:"),
        );
        t.check(
            size == Some(32) && rss == size && locked == size,
            "smaps after mlock: Rss == Size == Locked (32 kB)",
            format_args!("Size {:?} Rss {:?} Locked {:?}", size, rss, locked),
            "all Some(32)",
        );
    }
    t.ret("munlock of the 8 pages", munlock(r, 8 * P), 0);
    if have_status {
        let got = vmlck(&mut buf);
        t.check(
            got == Some(0),
            "VmLck is 0 kB after munlock",
            format_args!("{:?}", got),
            "Some(0)",
        );
    }
    if have_smaps {
        let n = read_file(c"/proc/self/smaps", &mut sbuf).unwrap_or(0);
        let text = core::str::from_utf8(&sbuf[..n]).unwrap_or("");
        let block = smaps_block(text, r).unwrap_or("");
        let locked = field_kb(block, "Locked:");
        t.check(
            locked == Some(0),
            "smaps: Locked is 0 kB after munlock",
            format_args!("{:?}", locked),
            "Some(0)",
        );
    }
    unregion(r, 8);
    if have_smaps {
        // mlock2(MLOCK_ONFAULT) then one touched page: Rss < Size, VmFlags still has lo.
        let o = region(8, RW);
        if t.ok(o != 0, "map 8 more pages between guard pages") {
            t.ret(
                "mlock2(MLOCK_ONFAULT) of 8 pages",
                mlock2(o, 8 * P, MLOCK_ONFAULT),
                0,
            );
            poke(o, 1);
            let n = read_file(c"/proc/self/smaps", &mut sbuf).unwrap_or(0);
            let text = core::str::from_utf8(&sbuf[..n]).unwrap_or("");
            let block = smaps_block(text, o).unwrap_or("");
            let (size, rss) = (field_kb(block, "Size:"), field_kb(block, "Rss:"));
            t.check(
                size == Some(32) && rss == Some(4),
                "smaps after mlock2(MLOCK_ONFAULT) and one touch: Rss 4 kB < Size 32 kB",
                format_args!("Size {:?} Rss {:?}", size, rss),
                "Size Some(32) Rss Some(4)",
            );
            let lo = block
                .lines()
                .find(|l| l.starts_with("VmFlags:"))
                .is_some_and(|l| l.split(' ').any(|f| f == "lo"));
            t.ok(lo, "smaps: VmFlags of the MLOCK_ONFAULT VMA has lo");
            unregion(o, 8);
        }
    }
}

//! slab_test: kernel memory as Linux 5.10 manages it: VMAs live in a slab cache
//! (`vm_area_cachep`, `mm/slab_common.c` + `mm/slub.c`) that grows from and shrinks back to
//! the page allocator, /proc/slabinfo lists the caches, /proc/meminfo's `Slab` follows
//! them, and making VMAs without end ends in ENOMEM, never in a dead kernel
//! (`mm/mprotect.c`: mprotect_fixup -> split_vma; `mm/mmap.c`: __split_vma).
//!
//! `slab_test vmas` (run at 64 MiB, as root):
//! - mprotect every other page of a large PROT_READ mapping: ENOMEM exactly when the VMA
//!   count reaches /proc/sys/vm/max_map_count (65530), then munmap gives them all back;
//! - with max_map_count raised to 10,000,000 (in a child): the VMAs run the machine out of
//!   kernel memory first; the mprotect that finds none fails with ENOMEM (Linux may
//!   OOM-kill the child instead: SIGKILL is accepted), and afterwards fork, exit and the
//!   unmapping all work.
//!
//! `slab_test slab` (run at 512 MiB): 50,000 VMAs raise /proc/meminfo `Slab` by at least
//! 100 bytes each; /proc/slabinfo (Linux's 2.1 format) shows a `vm_area_struct` line with
//! at least 50,000 active objects and non-empty kmalloc caches; after the munmap `Slab` is
//! back within a quarter of the rise.
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::procfs::{meminfo_kb, read_file};
use ulib::*;

const P: usize = PAGE_SIZE;
const MAX_MAP_COUNT: &CStr = c"/proc/sys/vm/max_map_count";

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("slab_test");
    match args.get(1) {
        Some("vmas") => vmas_rows(&mut t),
        Some("slab") => slab_rows(&mut t),
        _ => {
            t.ok(false, "usage: slab_test vmas|slab");
        }
    }
    t.finish()
}

/// The number in a sysctl file, or None.
fn sysctl(path: &CStr) -> Option<i64> {
    let mut buf = [0u8; 32];
    let n = read_file(path, &mut buf)?;
    core::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// write(2) `text` to a sysctl: its return value, or open's error.
fn set_sysctl(path: &CStr, text: &str) -> isize {
    let fd = open(path, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, text.as_bytes());
    close(fd as i32);
    r
}

/// Map `pages` pages PROT_READ, never touched (no memory, no commit charge), and
/// mprotect pages 1, 3, 5... to PROT_NONE until one fails or `max_calls` succeeded. Each
/// success adds two VMAs. Returns (base, calls that succeeded, the failing return or 0).
fn split_until_failure(pages: usize, max_calls: usize) -> (usize, usize, isize) {
    let base = mmap(
        0,
        pages * P,
        PROT_READ,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
        -1,
        0,
    );
    if base < 0 {
        return (0, 0, base);
    }
    let base = base as usize;
    let mut done = 0;
    while done < max_calls && 2 * done + 1 < pages {
        let r = mprotect(base + (2 * done + 1) * P, P, PROT_NONE);
        if r != 0 {
            return (base, done, r);
        }
        done += 1;
    }
    (base, done, 0)
}

/// Lines of /proc/self/maps: the VMA count (Linux's map_count) without reading the whole
/// file at once.
fn map_count() -> usize {
    let fd = open(c"/proc/self/maps", O_RDONLY, 0);
    if fd < 0 {
        return 0;
    }
    let mut buf = [0u8; 4096];
    let mut lines = 0;
    loop {
        let n = read(fd as i32, &mut buf);
        if n <= 0 {
            break;
        }
        lines += buf[..n as usize].iter().filter(|&&b| b == b'\n').count();
    }
    close(fd as i32);
    lines
}

fn vmas_rows(t: &mut Tap) {
    let limit = sysctl(MAX_MAP_COUNT).unwrap_or(-1);
    t.eq("/proc/sys/vm/max_map_count is 65530", limit, 65530);
    let before = map_count();
    // 140,000 pages: room for more splits than the limit allows.
    let (base, done, r) = split_until_failure(140_000, usize::MAX);
    t.err("mprotect splitting VMAs fails with ENOMEM at the limit", r, ENOMEM);
    // The failing split would have made map_count + 1 > max_map_count (split_vma's check;
    // the middle page needs two).
    let at_failure = before + 1 + 2 * done;
    t.check(
        (65529..=65530).contains(&at_failure),
        "the VMA count at the failure is max_map_count",
        at_failure,
        "65529 or 65530",
    );
    let slab_full = meminfo_kb("Slab").unwrap_or(0);
    t.ret("munmap of the split mapping", munmap(base, 140_000 * P), 0);
    t.eq("the VMAs are gone", map_count(), before);
    let slab_after = meminfo_kb("Slab").unwrap_or(0);
    t.check(
        slab_after < slab_full,
        "meminfo Slab falls after the munmap",
        format_args!("{slab_after} kB (was {slab_full} kB)"),
        "less",
    );

    // Past the limit: memory runs out first.
    t.success(
        "max_map_count raised to 10000000",
        set_sysctl(MAX_MAP_COUNT, "10000000\n"),
    );
    let st = in_child(|| {
        let before = map_count();
        let (base, done, r) = split_until_failure(2_000_000, usize::MAX);
        let vmas = before + 1 + 2 * done;
        println!("slab_test: mprotect returned {} after {} VMAs", Ret(r), vmas);
        if r != -(ENOMEM as isize) || vmas <= 65530 {
            return 1;
        }
        // fork must copy every VMA: it succeeds or fails with ENOMEM, cleanly.
        let child = in_child(|| 7);
        let fork_ok = (child.exited() && child.exit_status() == 7) || child.0 == -ENOMEM;
        println!("slab_test: fork with {} VMAs: {}", vmas, child);
        if !fork_ok {
            return 2;
        }
        if munmap(base, 2_000_000 * P) != 0 {
            return 3;
        }
        // Memory is back: a fork works now.
        let child = in_child(|| 7);
        if !(child.exited() && child.exit_status() == 7) {
            println!("slab_test: fork after the munmap: {}", child);
            return 4;
        }
        0
    });
    t.check(
        (st.exited() && st.exit_status() == 0) || (st.signaled() && st.term_sig() == SIGKILL),
        "VMAs beyond what memory holds: ENOMEM (or the OOM killer), then fork and munmap work",
        st,
        "exit status 0 (or killed by SIGKILL)",
    );
    t.success(
        "max_map_count back to 65530",
        set_sysctl(MAX_MAP_COUNT, "65530\n"),
    );
    let again = in_child(|| 0);
    t.exited("a fork after it all", again, 0);
}

/// The `<active_objs>` of the /proc/slabinfo line of cache `name`, or None.
fn slab_active(text: &str, name: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn slab_rows(t: &mut Tap) {
    const VMAS: usize = 50_000;
    let slab0 = meminfo_kb("Slab").unwrap_or(0);
    let (base, done, r) = split_until_failure(VMAS + 2, VMAS / 2);
    t.ret("25,000 mprotect calls make 50,000 VMAs", r, 0);
    t.eq("all of them", done, VMAS / 2);
    let slab1 = meminfo_kb("Slab").unwrap_or(0);
    let rise = slab1.saturating_sub(slab0);
    t.check(
        rise >= (VMAS as u64 * 100) / 1024,
        "meminfo Slab rises with 50,000 VMAs",
        format_args!("{slab0} kB -> {slab1} kB"),
        format_args!("a rise of at least {} kB", VMAS * 100 / 1024),
    );
    let mut buf = [0u8; 16384];
    let n = read_file(c"/proc/slabinfo", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    t.ok(
        text.starts_with("slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n"),
        "/proc/slabinfo starts with Linux's 2.1 header",
    );
    let vma_objs = slab_active(text, "vm_area_struct").unwrap_or(0);
    t.check(
        vma_objs >= VMAS as u64,
        "/proc/slabinfo: vm_area_struct has the VMAs",
        vma_objs,
        "at least 50000 active objects",
    );
    let listed = |name: &str| {
        text.lines()
            .filter(|l| l.split_whitespace().next() == Some(name))
            .count()
    };
    t.eq(
        "/proc/slabinfo lists vm_area_struct once",
        listed("vm_area_struct"),
        1,
    );
    t.eq("/proc/slabinfo lists kmalloc-8 once", listed("kmalloc-8"), 1);
    let kmalloc = ["kmalloc-64", "kmalloc-128", "kmalloc-256", "kmalloc-512"]
        .iter()
        .filter(|c| slab_active(text, c).unwrap_or(0) > 0)
        .count();
    t.check(
        kmalloc > 0,
        "/proc/slabinfo: kmalloc caches hold objects",
        kmalloc,
        "at least one of kmalloc-64..512 non-empty",
    );
    if let Some(line) = text.lines().find(|l| l.starts_with("vm_area_struct ")) {
        println!("slab_test: {line}");
    }
    t.ret("munmap of the 50,000 VMAs", munmap(base, (VMAS + 2) * P), 0);
    let slab2 = meminfo_kb("Slab").unwrap_or(0);
    println!("slab_test: Slab {slab0} kB, with the VMAs {slab1} kB, after munmap {slab2} kB");
    t.check(
        slab2 <= slab0 + rise / 4,
        "meminfo Slab falls back after the munmap",
        format_args!("{slab0} kB -> {slab1} kB -> {slab2} kB"),
        format_args!("at most {} kB", slab0 + rise / 4),
    );
}

//! swap_bench: what swapping anonymous memory costs, in instructions, for
//! `cargo xtask bench swap` (`--memory 128M`, a 384 MiB swap disk as /dev/vdb). Counts
//! with the PMU's INST_RETIRED (`ulib::pmu`), not the virtual counter: under `-icount`
//! the virtual clock jumps ahead while the guest idles waiting for the disk, the
//! instruction counter does not. The count is system-wide, so kswapd's work is in it.
//!
//! `swap_bench` turns swap on (`swapon /dev/vdb`, arm64 224) itself, then:
//!
//! 1. `write`: maps 2.5x MemTotal of anonymous memory and stores one 8-byte word in each
//!    page, in order, never reading back. Every store is a write fault; once memory is
//!    full, reclaim writes the oldest pages to the disk. Instructions over the pswpout
//!    delta: per page swapped out (the faults of all pages are in the numerator, as they
//!    are in Linux's figure of the same workload).
//! 2. `read`: loads that word of each page, in order, and checks it. Pages on the disk
//!    come back through `do_swap_page` (with swap readahead), and reading them back pushes
//!    others out again (those read since their last write are clean in the swap cache and
//!    leave without a write). Instructions over the pswpin delta: per page read from the
//!    disk, which is what Linux's pswpin counts too (readahead pages included).
//! 3. `pageout`: unmaps that (freeing its slots), writes a fresh 16 MiB region, and pages
//!    all of it out with one `madvise(MADV_PAGEOUT)` (21). The call's instructions over
//!    the pswpout delta (system-wide, like the count: a few pages kswapd writes meanwhile
//!    are in both).
//! 4. `touch`: loads one word of each of those pages, checking it. Instructions over the
//!    region's pages (4096), every one of which was on the disk.
//!
//! Each phase prints `bench: <phase> insns N pages N` (pages: the divisor) and a line of
//! the other counters; TAP lines check the data and that swapping happened, and
//! `swap_bench: N passed, M failed` ends it. `swap_bench check` does the same at a small
//! scale (1.5x MemTotal, a 1 MiB region) for the scenario that keeps it working.
#![no_std]
#![no_main]
use ulib::pmu::InstCounter;
use ulib::procfs::{meminfo_kb, pagemap_of, vmstat};
use ulib::*;

const P: usize = 4096;
const MADV_PAGEOUT: usize = 21;

/// The word stored in page `i` of a region with `salt`: differs per page and per region.
fn word(i: usize, salt: u64) -> u64 {
    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt
}

fn v(key: &str) -> u64 {
    vmstat(key).unwrap_or(0)
}

/// One store per page of `n` pages at `base`; the PMU sampled once per page (the 32-bit
/// counter must not wrap between samples).
fn write_pages(c: &mut Option<InstCounter>, base: usize, n: usize, salt: u64) {
    for i in 0..n {
        // SAFETY: `base` maps `n` writable pages.
        unsafe { ((base + i * P) as *mut u64).write_volatile(word(i, salt)) };
        if let Some(c) = c {
            c.read();
        }
    }
}

/// One load per page of `n` pages at `base`; how many held the wrong word.
fn read_pages(c: &mut Option<InstCounter>, base: usize, n: usize, salt: u64) -> usize {
    let mut bad = 0;
    for i in 0..n {
        // SAFETY: `base` maps `n` readable pages.
        let w = unsafe { ((base + i * P) as *const u64).read_volatile() };
        bad += usize::from(w != word(i, salt));
        if let Some(c) = c {
            c.read();
        }
    }
    bad
}

fn now(c: &mut Option<InstCounter>) -> u64 {
    c.as_mut().map_or(0, |c| c.read())
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("swap_bench");
    // (RAM multiple in tenths, pages of the MADV_PAGEOUT region)
    let (tenths, region) = match args.get(1) {
        None => (25, (16 << 20) / P),
        Some("check") => (15, (1 << 20) / P),
        Some(_) => {
            println!("swap_bench: usage: swap_bench [check]");
            return 2;
        }
    };
    let mut c = InstCounter::open();
    if c.is_none() {
        println!("swap_bench: no EL0 access to the PMU (boot with sysctl.kernel.perf_user_access=1): counts are 0");
    }
    let r = swapon(c"/dev/vdb", 0);
    if !t.ret("swapon /dev/vdb", r, 0) {
        return t.finish();
    }
    let total = meminfo_kb("MemTotal").unwrap_or(0) as usize * 1024;
    let n = total / P * tenths / 10;
    println!(
        "swap_bench: MemTotal {} KiB, SwapTotal {} KiB: writing {} pages",
        total >> 10,
        meminfo_kb("SwapTotal").unwrap_or(0),
        n
    );
    let m = mmap(
        0,
        n * P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if !t.success("map the pressure region, anonymous", m) {
        return t.finish();
    }
    let m = m as usize;

    // 1. Write, page by page.
    let (out0, i0) = (v("pswpout"), now(&mut c));
    write_pages(&mut c, m, n, 0xa5a5_a5a5_a5a5_a5a5);
    let (i1, out1) = (now(&mut c), v("pswpout"));
    println!("bench: write insns {} pages {}", i1 - i0, out1 - out0);
    t.ok(out1 > out0, "writing past RAM swapped pages out");

    // 2. Read back, in order.
    let (in0, out0, maj0, i0) = (v("pswpin"), v("pswpout"), v("pgmajfault"), now(&mut c));
    let bad = read_pages(&mut c, m, n, 0xa5a5_a5a5_a5a5_a5a5);
    let i1 = now(&mut c);
    let (in1, out1, maj1) = (v("pswpin"), v("pswpout"), v("pgmajfault"));
    println!("bench: read insns {} pages {}", i1 - i0, in1 - in0);
    println!(
        "swap_bench: read back {n} pages: pgmajfault +{}, pswpout +{} meanwhile",
        maj1 - maj0,
        out1 - out0
    );
    t.ok(in1 > in0, "reading back swapped pages in");
    t.eq("every page read back holds its word", bad, 0);
    t.ret("unmap it (its slots are freed)", munmap(m, n * P), 0);

    // 3. MADV_PAGEOUT of a fresh, written region.
    let a = mmap(
        0,
        region * P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if !t.success("map the MADV_PAGEOUT region", a) {
        return t.finish();
    }
    let a = a as usize;
    write_pages(&mut None, a, region, 0x5a5a_5a5a_5a5a_5a5a);
    let (out0, i0) = (v("pswpout"), now(&mut c));
    let r = madvise(a, region * P, MADV_PAGEOUT);
    let (i1, out1) = (now(&mut c), v("pswpout"));
    t.ret("MADV_PAGEOUT of the region", r, 0);
    println!("bench: pageout insns {} pages {}", i1 - i0, out1 - out0);
    // pswpout is system-wide: kswapd may write a few other pages meanwhile.
    t.ok(
        (out1 - out0) as usize >= region,
        "pswpout counted the region's pages",
    );
    let swapped = (0..region)
        .filter(|i| pagemap_of(a + i * P) >> 62 & 1 == 1)
        .count();
    t.eq("pagemap shows every page of it swapped", swapped, region);

    // 4. Touch it back.
    let (in0, maj0, i0) = (v("pswpin"), v("pgmajfault"), now(&mut c));
    let bad = read_pages(&mut c, a, region, 0x5a5a_5a5a_5a5a_5a5a);
    let i1 = now(&mut c);
    let (in1, maj1) = (v("pswpin"), v("pgmajfault"));
    println!("bench: touch insns {} pages {}", i1 - i0, region);
    println!(
        "swap_bench: touched {region} pages back: pswpin +{}, pgmajfault +{}",
        in1 - in0,
        maj1 - maj0
    );
    t.ok(
        (in1 - in0) as usize >= region,
        "every page came back from the disk (pswpin)",
    );
    t.eq("and holds its word", bad, 0);
    t.ret("unmap it", munmap(a, region * P), 0);
    t.finish()
}

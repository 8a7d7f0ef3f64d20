//! reclaim_bench: the cost of reclaiming clean file pages, in instructions, for
//! `cargo xtask bench reclaim`. Counts with the PMU's INST_RETIRED (`ulib::pmu`), not the
//! virtual counter: under `-icount` the virtual clock jumps ahead while the guest idles
//! waiting for the disk, the instruction counter does not.
//!
//! `reclaim_bench normal|random`: maps `/data/bench256.bin` (256 MiB, only in the bench
//! image) shared and read-only, with MADV_RANDOM for `random` (no readahead, once
//! readahead exists), and reads it through twice, one 8-byte word per page (checked
//! against the generator's formula, so user work per page is a few instructions and the
//! count is the kernel's: faults, disk reads, reclaim). At `--memory 128M` the file does
//! not fit, so both passes read every page from the disk and reclaim makes room; with
//! enough memory the first pass reads each page once and the second finds it mapped.
//! Prints `bench: insns N`, `pgsteal N`, `pgmajfault N`, `pages N`, then `bench: done`;
//! xtask divides.
#![no_std]
#![no_main]
use ulib::pmu::InstCounter;
use ulib::procfs::vmstat;
use ulib::*;

const FILE: &core::ffi::CStr = c"/data/bench256.bin";
const SIZE: usize = 256 << 20;
const PAGES: usize = SIZE / 4096;

/// Word `i` of the file: xtask's `reclaim_word`.
fn word(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xa5a5_a5a5_a5a5_a5a5
}

fn steal() -> u64 {
    vmstat("pgsteal_kswapd").unwrap_or(0) + vmstat("pgsteal_direct").unwrap_or(0)
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let advice = match args.get(1) {
        Some("normal") => MADV_NORMAL,
        Some("random") => MADV_RANDOM,
        _ => {
            println!("bench: usage: reclaim_bench normal|random");
            return 2;
        }
    };
    let Some(mut c) = InstCounter::open() else {
        println!("bench: no EL0 access to the PMU (boot with sysctl.kernel.perf_user_access=1)");
        return 1;
    };
    let fd = open(FILE, O_RDONLY, 0) as i32;
    if fd < 0 {
        println!("bench: cannot open {:?}: {}", FILE, Ret(fd as isize));
        return 1;
    }
    let m = mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if m < 0 {
        println!("bench: mmap: {}", Ret(m));
        return 1;
    }
    let base = m as usize;
    if madvise(base, SIZE, advice) != 0 {
        println!("bench: madvise failed");
        return 1;
    }
    let (steal0, maj0) = (steal(), vmstat("pgmajfault").unwrap_or(0));
    let i0 = c.read();
    let mut bad = 0usize;
    for _pass in 0..2 {
        for p in 0..PAGES {
            // SAFETY: `base` maps SIZE readable bytes of the file.
            let w = unsafe { ((base + p * 4096) as *const u64).read_volatile() };
            bad += usize::from(w != word((p * 512) as u64));
            // Once per page: far more often than the 32-bit counter wraps.
            c.read();
        }
    }
    let i1 = c.read();
    let (steal1, maj1) = (steal(), vmstat("pgmajfault").unwrap_or(0));
    println!("bench: insns {}", i1 - i0);
    println!("bench: pgsteal {}", steal1 - steal0);
    println!("bench: pgmajfault {}", maj1 - maj0);
    println!("bench: pages {}", PAGES);
    println!("bench: bad words {}", bad);
    munmap(base, SIZE);
    close(fd);
    println!("bench: done");
    i32::from(bad != 0)
}

//! swap_demo: one anonymous page's trip to the swap disk and back, for the book and the
//! GDB checks, at `--memory 64M` with a swap disk as /dev/vdb.
//!
//! 1. `swapon /dev/vdb`.
//! 2. Pressure: write twice RAM of anonymous memory, page by page, never reading it back.
//!    Reclaim (kswapd, then direct reclaim) takes the oldest pages from the inactive anon
//!    list: `shrink_page_list` -> `add_to_swap` (a slot, the swap cache) -> `try_to_unmap`
//!    (each PTE now holds the slot's entry) -> `pageout` -> `swap_writepage` ->
//!    `__remove_mapping` (out of the swap cache, freed). The GDB check
//!    `gdb-swap-writepage-chain` stops at the first `swap_writepage`.
//! 3. The memory is unmapped: `zap_pte_range` frees the slots (`free_swap_and_cache`).
//! 4. Sixteen pages are written and paged out on purpose (`MADV_PAGEOUT`): pagemap shows
//!    them swapped (bit 62, type and offset). Touching one takes a major fault:
//!    `do_swap_page` -> `swapin_readahead` -> `swap_readpage`, which reads its neighbours
//!    on the disk too. The GDB check `gdb-do-swap-page-chain` stops at that first
//!    `do_swap_page` of the boot.
#![no_std]
#![no_main]
use ulib::procfs::{meminfo_kb, pagemap_of, vmstat};
use ulib::*;

const P: usize = 4096;
const N: usize = 16;
const MADV_PAGEOUT: usize = 21;

fn v(key: &str) -> u64 {
    vmstat(key).unwrap_or(0)
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("swap_demo");
    let r = swapon(c"/dev/vdb", 0);
    if !t.ret("swapon /dev/vdb", r, 0) {
        return t.finish();
    }
    let total = meminfo_kb("MemTotal").unwrap_or(0) as usize * 1024;
    let n = 2 * total / P;
    let m = mmap(0, n * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if !t.success("map twice RAM, anonymous", m) {
        return t.finish();
    }
    let out0 = v("pswpout");
    for i in 0..n {
        poke(m as usize + i * P, i as u8);
    }
    let out1 = v("pswpout");
    println!("swap_demo: wrote {n} pages; pswpout +{}", out1 - out0);
    t.ok(out1 > out0, "pressure swapped pages out");
    t.ret("unmap them (their slots are freed)", munmap(m as usize, n * P), 0);

    let a = mmap(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if !t.success("map 16 pages", a) {
        return t.finish();
    }
    let a = a as usize;
    for i in 0..N {
        poke(a + i * P, 0x40 + i as u8);
    }
    t.ret("MADV_PAGEOUT of the 16 pages", madvise(a, N * P, MADV_PAGEOUT), 0);
    let pm = pagemap_of(a);
    println!(
        "swap_demo: pagemap of the first page: {pm:#x} (swapped {}, type {}, offset {:#x})",
        pm >> 62 & 1,
        pm & 0x1f,
        (pm & ((1 << 55) - 1)) >> 5
    );
    let swapped = (0..N).filter(|i| pagemap_of(a + i * P) >> 62 & 1 == 1).count();
    t.eq("all 16 are swapped out", swapped, N);
    let (maj0, in0) = (v("pgmajfault"), v("pswpin"));
    let first = peek(a);
    println!(
        "swap_demo: first page back: {first:#x}; pgmajfault +{}, pswpin +{}",
        v("pgmajfault") - maj0,
        v("pswpin") - in0
    );
    t.eq("its content came back", first, 0x40);
    let bad = (0..N).filter(|&i| peek(a + i * P) != 0x40 + i as u8).count();
    t.eq("and every page's", bad, 0);
    t.finish()
}

//! mmap_demo: the program the page-fault chapter follows in GDB. Maps 4 anonymous pages
//! and writes one byte to each from user space: every write takes a translation fault
//! at EL0, `el0_da -> do_mem_abort -> do_translation_fault -> do_page_fault ->
//! __do_page_fault -> handle_mm_fault -> __handle_mm_fault -> handle_pte_fault ->
//! do_anonymous_page`. Try: `cargo xtask gdb --scenario demo-mmap`, then
//! `break do_anonymous_page if ((vmf.flags.0).0 & 0x41) == 0x41`, `continue`, `bt`.
#![no_std]
#![no_main]
use ulib::*;

const PAGES: usize = 4;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let p = mmap(
        0,
        PAGES * 4096,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if p < 0 {
        println!("mmap_demo: mmap failed: {}", Ret(p));
        return 1;
    }
    for i in 0..PAGES {
        poke(p as usize + i * 4096, i as u8 + 1);
    }
    let sum: usize = (0..PAGES)
        .map(|i| peek(p as usize + i * 4096) as usize)
        .sum();
    println!("mmap_demo: wrote {PAGES} pages at {:#x}, sum {sum}", p);
    if sum == 10 {
        0
    } else {
        1
    }
}

//! populate_demo: mmap(MAP_POPULATE) of 16 pages: the kernel faults them in before mmap
//! returns, through `vm_mmap_pgoff -> mm_populate -> __mm_populate ->
//! populate_vma_page_range -> __get_user_pages -> faultin_page -> handle_mm_fault`.
#![no_std]
#![no_main]
use ulib::*;

const LEN: usize = 16 * 4096;
const MAP_POPULATE: usize = 0x8000;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let p = mmap(
        0,
        LEN,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
        -1,
        0,
    );
    if p < 0 {
        println!("populate_demo: mmap failed: {}", Ret(p));
        return 1;
    }
    let mut vec = [0u8; 16];
    let m = mincore(p as usize, LEN, vec.as_mut_ptr());
    let resident = vec.iter().filter(|&&b| b & 1 == 1).count();
    println!(
        "populate_demo: mmap(MAP_POPULATE) = {:#x}; mincore = {}, {} of 16 pages resident",
        p,
        Ret(m),
        resident
    );
    if resident == 16 {
        0
    } else {
        1
    }
}

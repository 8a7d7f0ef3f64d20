//! mlock_demo: the program the mlock chapter follows in GDB. Maps 16 pages without
//! touching them, then mlock()s them: the kernel faults every page in through
//! `__mm_populate -> populate_vma_page_range -> __get_user_pages -> faultin_page ->
//! handle_mm_fault` and marks them mlocked. Try: `cargo xtask gdb --scenario demo-mlock`,
//! then `break __mm_populate`, `continue`, `break handle_mm_fault`, `continue`, `bt`.
//! Then it munlock()s them again: `break munlock_vma_page` stops in
//! `munlock_vma_pages_range`'s walk, under `mlock_fixup`.
//! Each step is marked in the function-graph trace (`trace_marker`): try
//! `cargo xtask trace --init /bin/mlock_demo`.
#![no_std]
#![no_main]
use ulib::*;

const LEN: usize = 16 * 4096;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let p = mmap(
        0,
        LEN,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if p < 0 {
        println!("mlock_demo: mmap failed: {}", Ret(p));
        return 1;
    }
    ulib::tracing::trace_marker("mlock_demo: mlock 16 pages");
    let r = unsafe { syscall3(228, p as usize, LEN, 0) }; // mlock
    println!("mlock_demo: mlock({:#x}, {}) = {}", p, LEN, Ret(r));
    let mut vec = [0u8; 16];
    let m = mincore(p as usize, LEN, vec.as_mut_ptr());
    let resident = vec.iter().filter(|&&b| b & 1 == 1).count();
    println!(
        "mlock_demo: mincore = {}, {} of 16 pages resident",
        Ret(m),
        resident
    );
    ulib::tracing::trace_marker("mlock_demo: munlock");
    let u = munlock(p as usize, LEN);
    println!("mlock_demo: munlock = {}", Ret(u));
    if r == 0 && resident == 16 && u == 0 {
        0
    } else {
        1
    }
}

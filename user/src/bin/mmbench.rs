//! Guest-instruction costs of the memory-management paths, per 4 KiB page over 16 MiB,
//! for `cargo xtask bench`. Run under `qemu -icount shift=0`: one instruction is one
//! nanosecond of virtual time, which the program reads from the virtual counter
//! (CNTVCT_EL0, readable at EL0 as on Linux). Each line: `bench: <name> <insns>/page`.
#![no_std]
#![no_main]
use ulib::*;

const LEN: usize = 16 << 20;
const PAGES: usize = LEN / 4096;
const PROT_RW: usize = 0x3;
const MAP_PRIVATE_ANON: usize = 0x02 | 0x20;

fn cntvct() -> u64 {
    let v: u64;
    unsafe { core::arch::asm!("isb", "mrs {0}, cntvct_el0", out(reg) v) };
    v
}

fn cntfrq() -> u64 {
    let v: u64;
    unsafe { core::arch::asm!("mrs {0}, cntfrq_el0", out(reg) v) };
    v
}

/// Instructions (= ns under icount shift=0) per page between two counter reads.
fn per_page(t0: u64, t1: u64) -> u64 {
    ((t1 - t0) as u128 * 1_000_000_000 / cntfrq() as u128 / PAGES as u128) as u64
}

fn map() -> usize {
    let p = mmap(0, LEN, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    if p < 0 {
        println!("bench: mmap failed: {}", p);
        exit_group(1);
    }
    p as usize
}

fn touch_write(base: usize) {
    for i in 0..PAGES {
        unsafe { ((base + i * 4096) as *mut u8).write_volatile(1) };
    }
}

fn touch_read(base: usize) -> u64 {
    let mut sum = 0u64;
    for i in 0..PAGES {
        sum += unsafe { ((base + i * 4096) as *const u8).read_volatile() } as u64;
    }
    sum
}

/// A 16 MiB tmpfs file, written so its pages are cached, mapped private read-only and
/// read a byte per page.
fn file_read_fault() {
    let path = c"/tmp/mmbench.file";
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600);
    if fd < 0 {
        println!("bench: open failed: {}", fd);
        return;
    }
    let chunk = [7u8; 4096];
    for _ in 0..PAGES {
        if write(fd as i32, &chunk) != 4096 {
            println!("bench: write failed");
            close(fd as i32);
            return;
        }
    }
    let f = mmap(0, LEN, 0x1, 0x02, fd as i32, 0);
    if f < 0 {
        println!("bench: file mmap failed: {}", f);
    } else {
        let t0 = cntvct();
        let s = touch_read(f as usize);
        let t1 = cntvct();
        println!(
            "bench: file_read_fault {}/page",
            per_page(t0, t1) + s / (7 * PAGES as u64) - 1
        );
        munmap(f as usize, LEN);
    }
    close(fd as i32);
    unlink(path);
}

/// Cost of one mmap(1 page, anonymous private) + one write to it + munmap when the address
/// space holds `nr_vmas` VMAs besides the program's own: a reservation of `nr_vmas` pages
/// is split into one VMA per page by mprotecting every other page read-only. With a VMA
/// list walked linearly, get_unmapped_area grows with `nr_vmas`; with Linux's augmented
/// tree it does not. Averaged over ITERS rounds; prints `bench: <name> <insns>/op`.
fn mmap_touch_munmap(name: &str, nr_vmas: usize, breakdown: bool) {
    const ITERS: u64 = 64;
    let len = nr_vmas * 4096;
    let r = mmap(0, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    if r < 0 {
        println!("bench: reservation failed: {}", r);
        return;
    }
    let r = r as usize;
    for i in (1..nr_vmas).step_by(2) {
        if mprotect(r + i * 4096, 4096, 0x1) != 0 {
            println!("bench: mprotect failed at VMA {}", i);
            munmap(r, len);
            return;
        }
    }
    // One round outside the timing, so the page tables above the new page exist.
    let warm = mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
    if warm < 0 {
        println!("bench: mmap failed: {}", warm);
        munmap(r, len);
        return;
    }
    unsafe { (warm as *mut u8).write_volatile(1) };
    munmap(warm as usize, 4096);
    let t0 = cntvct();
    for _ in 0..ITERS {
        let p = mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
        unsafe { (p as *mut u8).write_volatile(1) };
        munmap(p as usize, 4096);
    }
    let t1 = cntvct();
    println!("bench: {} {}/op", name, per_op(t0, t1, ITERS));
    if breakdown {
        // Where the instructions go: the three calls timed apart, and a null syscall.
        let (mut mm, mut wr, mut un) = (0, 0, 0);
        for _ in 0..ITERS {
            let t0 = cntvct();
            let p = mmap(0, 4096, PROT_RW, MAP_PRIVATE_ANON, -1, 0);
            let t1 = cntvct();
            unsafe { (p as *mut u8).write_volatile(1) };
            let t2 = cntvct();
            munmap(p as usize, 4096);
            let t3 = cntvct();
            mm += t1 - t0;
            wr += t2 - t1;
            un += t3 - t2;
        }
        let t0 = cntvct();
        for _ in 0..ITERS {
            getpid();
        }
        let t1 = cntvct();
        println!("bench: {}_mmap {}/op", name, per_op(0, mm, ITERS));
        println!("bench: {}_touch {}/op", name, per_op(0, wr, ITERS));
        println!("bench: {}_munmap {}/op", name, per_op(0, un, ITERS));
        println!("bench: null_syscall {}/op", per_op(t0, t1, ITERS));
    }
    // All at once: the kernel must cope with 65,001 VMAs in one munmap.
    munmap(r, len);
}

/// Instructions per operation between two counter reads.
fn per_op(t0: u64, t1: u64, n: u64) -> u64 {
    ((t1 - t0) as u128 * 1_000_000_000 / cntfrq() as u128 / n as u128) as u64
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    // Anonymous write fault: a new zeroed page per touch.
    let a = map();
    let t0 = cntvct();
    touch_write(a);
    let t1 = cntvct();
    println!("bench: anon_write_fault {}/page", per_page(t0, t1));

    // munmap of the populated range.
    let t0 = cntvct();
    munmap(a, LEN);
    let t1 = cntvct();
    println!("bench: munmap_populated {}/page", per_page(t0, t1));

    // Anonymous read fault: the zero page.
    let b = map();
    let t0 = cntvct();
    let s = touch_read(b);
    let t1 = cntvct();
    println!("bench: anon_read_fault {}/page", per_page(t0, t1) + s);
    munmap(b, LEN);

    // brk grow + touch.
    let cur = brk(0);
    let t0 = cntvct();
    let new = brk(cur + LEN);
    if new != cur + LEN {
        println!("bench: brk failed");
        return 1;
    }
    touch_write(cur);
    let t1 = cntvct();
    println!("bench: brk_grow_touch {}/page", per_page(t0, t1));
    brk(cur);

    // mmap(MAP_POPULATE): the kernel faults every page in before returning.
    let t0 = cntvct();
    let p = mmap(0, LEN, PROT_RW, MAP_PRIVATE_ANON | 0x8000, -1, 0);
    let t1 = cntvct();
    if p < 0 {
        println!("bench: populate failed: {}", p);
    } else {
        println!("bench: populate {}/page", per_page(t0, t1));
        munmap(p as usize, LEN);
    }

    // mlock of an untouched range (populates and mlocks), then munlock.
    let m = map();
    let t0 = cntvct();
    let r = unsafe { syscall3(228, m, LEN, 0) };
    let t1 = cntvct();
    if r != 0 {
        println!("bench: mlock failed: {}", r);
    } else {
        println!("bench: mlock {}/page", per_page(t0, t1));
        let t0 = cntvct();
        unsafe { syscall3(229, m, LEN, 0) };
        let t1 = cntvct();
        println!("bench: munlock {}/page", per_page(t0, t1));
    }
    munmap(m, LEN);

    // fork of a populated 16 MiB, then a COW fault per page in the child.
    let c = map();
    touch_write(c);
    let t0 = cntvct();
    let pid = fork();
    if pid == 0 {
        let t1 = cntvct();
        let t2 = cntvct();
        touch_write(c);
        let t3 = cntvct();
        println!("bench: fork {}/page", per_page(t0, t1));
        println!("bench: cow_fault {}/page", per_page(t2, t3));
        exit_group(0);
    }
    let mut status = 0i32;
    wait4(pid as i32, Some(&mut status), 0);
    munmap(c, LEN);

    // File read fault on a cached file (tmpfs): with fault-around, one fault maps the
    // cached pages of its 64 KiB window.
    file_read_fault();

    // get_unmapped_area at scale: few VMAs, then 65,001 (Linux's limit is 65,530).
    mmap_touch_munmap("mmap_touch_munmap_11", 11, true);
    mmap_touch_munmap("mmap_touch_munmap_65001", 65_001, true);
    println!("bench: done");
    0
}

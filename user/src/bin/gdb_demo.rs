//! gdb_demo: the kernel's own report of an address space, for the GDB helpers to agree with.
//! Maps 4 pages, mlock()s and writes them, then prints `/proc/self/maps` (each line as
//! `maps: LINE`), the `/proc/self/pagemap` frame of the first page, `/proc/vmstat`'s
//! `nr_mlock` and LRU sizes (`vmstat: LINE`) and the `/proc/meminfo` lines the GDB helpers
//! compute (`meminfo: LINE`), and finally munlock()s the pages. Nothing runs between the
//! printing and the munlock: the GDB checks `gdb-helpers-agree`, `gdb-pt` and
//! `gdb-lru-meminfo` stop at `sys_munlock` and compare `mm-vmas`, `mm-pte`, `mm-page`,
//! `mm-vmstat`, `mm-pt`, `mm-lru` and `mm-meminfo` with these lines.
//! Try: `cargo xtask gdb --init gdb_demo --break sys_munlock`, then `mm-vmas`, `mm-pte start`.
#![no_std]
#![no_main]
use ulib::*;

const PAGES: usize = 4;

/// The /proc/meminfo lines `mm-meminfo` computes from kernel state.
const MEMINFO: &[&str] = &[
    "MemTotal:",
    "MemFree:",
    "MemAvailable:",
    "Cached:",
    "SwapCached:",
    "Active:",
    "Inactive:",
    "Active(anon):",
    "Inactive(anon):",
    "Active(file):",
    "Inactive(file):",
    "Unevictable:",
    "Mlocked:",
    "SwapTotal:",
    "SwapFree:",
    "AnonPages:",
    "Mapped:",
    "Shmem:",
    "Committed_AS:",
];

/// Print every line of file `path` that starts with one of `only` (all if empty) with
/// `prefix` in front.
fn print_file(path: &core::ffi::CStr, prefix: &str, only: &[&str]) -> bool {
    let fd = open(path, O_RDONLY, 0);
    if fd < 0 {
        println!("gdb_demo: open {:?} failed: {}", path, Ret(fd));
        return false;
    }
    let mut line = [0u8; 256];
    let mut n = 0;
    let mut buf = [0u8; 512];
    loop {
        let r = read(fd as i32, &mut buf);
        if r <= 0 {
            break;
        }
        for &c in &buf[..r as usize] {
            if c == b'\n' {
                let s = core::str::from_utf8(&line[..n]).unwrap_or("?");
                if only.is_empty() || only.iter().any(|w| s.starts_with(w)) {
                    println!("{}{}", prefix, s);
                }
                n = 0;
            } else if n < line.len() {
                line[n] = c;
                n += 1;
            }
        }
    }
    close(fd as i32);
    true
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let len = PAGES * PAGE_SIZE;
    let p = mmap(
        0,
        len,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if p < 0 {
        println!("gdb_demo: mmap failed: {}", Ret(p));
        return 1;
    }
    let a = p as usize;
    let r = mlock(a, len);
    for i in 0..PAGES {
        poke(a + i * PAGE_SIZE, 0x5a);
    }
    println!("gdb_demo: mlock({:#x}, {}) = {}", a, len, Ret(r));
    let ok = print_file(c"/proc/self/maps", "maps: ", &[]);
    // pagemap: one u64 per page; bit 63 present, bits 0-54 the frame number.
    let fd = open(c"/proc/self/pagemap", O_RDONLY, 0);
    let mut e = [0u8; 8];
    let n = if fd >= 0 {
        pread(fd as i32, &mut e, a / PAGE_SIZE * 8)
    } else {
        fd
    };
    if fd >= 0 {
        close(fd as i32);
    }
    let entry = u64::from_ne_bytes(e);
    if n == 8 && entry >> 63 == 1 {
        println!(
            "gdb_demo: pagemap va {:#x} pfn {:#x}",
            a,
            entry & ((1 << 55) - 1)
        );
    } else {
        println!("gdb_demo: pagemap read {} entry {:#x}", Ret(n), entry);
    }
    let ok = ok
        && print_file(
            c"/proc/vmstat",
            "vmstat: ",
            &["nr_mlock ", "nr_zone_", "nr_anon_pages ", "nr_mapped "],
        );
    let ok = ok && print_file(c"/proc/meminfo", "meminfo: ", MEMINFO);
    let u = munlock(a, len);
    println!("gdb_demo: munlock = {}", Ret(u));
    if r == 0 && u == 0 && ok {
        0
    } else {
        1
    }
}

//! file_populate: mlock() and mmap(MAP_POPULATE) of file mappings whose pages are not in
//! the page cache yet. The kernel reads each page from disk with `mmap_lock` dropped
//! (the fault returns VM_FAULT_RETRY to `faultin_page`, `__mm_populate` takes the lock
//! again), and the mapping must read exactly like the file. `cargo xtask test` also
//! stops in GDB at `do_sync_mmap_readahead` under this program's mlock and checks that
//! the lock is free at that moment (gdb-fault-retry).
#![no_std]
#![no_main]
use ulib::*;

const MAP_POPULATE: usize = 0x8000;
const PAGE: usize = 4096;

/// `pgmajfault` from /proc/vmstat.
fn pgmajfault() -> Option<u64> {
    let mut buf = [0u8; 8192];
    let fd = open(c"/proc/vmstat", O_RDONLY, 0);
    if fd < 0 {
        return None;
    }
    let mut len = 0;
    loop {
        let n = read(fd as i32, &mut buf[len..]);
        if n <= 0 || len + n as usize == buf.len() {
            len += n.max(0) as usize;
            break;
        }
        len += n as usize;
    }
    close(fd as i32);
    let text = core::str::from_utf8(&buf[..len]).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("pgmajfault "))
        .and_then(|v| v.trim().parse().ok())
}

/// Pages of `[addr, addr + len)` that mincore reports resident (for a file mapping: in
/// the page cache, mapped or not).
fn resident(addr: usize, len: usize) -> usize {
    let mut vec = [0u8; 512];
    let pages = len.div_ceil(PAGE).min(vec.len());
    if mincore(addr, pages * PAGE, vec.as_mut_ptr()) != 0 {
        return usize::MAX;
    }
    vec[..pages].iter().filter(|&&b| b & 1 == 1).count()
}

/// Does the mapping at `addr` hold the first `len` bytes of the file `fd`, read with
/// pread(2)?
fn same_as_file(fd: i32, addr: usize, len: usize) -> bool {
    let mut buf = [0u8; PAGE];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(PAGE);
        if pread(fd, &mut buf[..n], off) != n as isize {
            return false;
        }
        // SAFETY: `[addr, addr + len)` is a readable mapping of ours.
        let mapped = unsafe { bytes(addr + off, n) };
        if mapped != &buf[..n] {
            return false;
        }
        off += n;
    }
    true
}

/// Map `path` privately read-only (with `flags`), the length capped at 512 pages.
fn map_file(t: &mut Tap, path: &core::ffi::CStr, flags: usize) -> Option<(i32, usize, usize)> {
    let fd = open(path, O_RDONLY, 0);
    if !t.success(format_args!("open {path:?}"), fd) {
        return None;
    }
    let mut st = Stat::default();
    fstat(fd as i32, &mut st);
    let len = (st.st_size as usize).min(512 * PAGE);
    let p = mmap(0, len, PROT_READ, MAP_PRIVATE | flags, fd as i32, 0);
    if !t.success(format_args!("mmap {path:?}, {len} bytes"), p) {
        return None;
    }
    Some((fd as i32, p as usize, len))
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("file_populate");

    // mlock of an uncached file mapping.
    if let Some((fd, p, len)) = map_file(&mut t, c"/bin/hello_std", 0) {
        let pages = len.div_ceil(PAGE);
        let cached = resident(p, len);
        println!("# {cached} of {pages} pages of /bin/hello_std cached before mlock");
        let maj0 = pgmajfault().unwrap_or(0);
        t.ret("mlock of the file mapping succeeds", mlock(p, len), 0);
        let maj1 = pgmajfault().unwrap_or(0);
        t.eq(
            "after mlock every page is resident",
            resident(p, len),
            pages,
        );
        t.check(
            cached == pages || maj1 > maj0,
            "pages read from disk count as major faults (pgmajfault grows)",
            maj1 - maj0,
            "> 0",
        );
        t.ok(
            same_as_file(fd, p, len),
            "the locked mapping reads as the file does",
        );
        // Again, now that the pages are cached: no disk, no retry, the same bytes.
        munmap(p, len);
        let q = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
        let maj2 = pgmajfault().unwrap_or(0);
        t.ret(
            "mlock of the cached file succeeds",
            mlock(q as usize, len),
            0,
        );
        t.eq(
            "mlock of cached pages makes no major fault",
            pgmajfault().unwrap_or(0),
            maj2,
        );
        t.ok(
            same_as_file(fd, q as usize, len),
            "and reads the same as through the retry path",
        );
        munmap(q as usize, len);
        close(fd);
    }

    // MAP_POPULATE of another uncached file.
    let maj0 = pgmajfault().unwrap_or(0);
    if let Some((fd, p, len)) = map_file(&mut t, c"/bin/mmbench", MAP_POPULATE) {
        let maj1 = pgmajfault().unwrap_or(0);
        t.eq(
            "after mmap(MAP_POPULATE) every page is resident",
            resident(p, len),
            len.div_ceil(PAGE),
        );
        t.check(
            maj1 > maj0,
            "MAP_POPULATE read pages from disk",
            maj1 - maj0,
            "> 0",
        );
        t.ok(
            same_as_file(fd, p, len),
            "the populated mapping reads as the file does",
        );
        munmap(p, len);
        close(fd);
    }
    t.finish()
}

//! kpageflags_test: /proc/kpageflags, /proc/kpagecount and /proc/sys/vm/swappiness as
//! Linux's tools use them: take a PFN from /proc/self/pagemap (root sees PFNs), read the
//! u64 at offset `pfn * 8`. Written from Documentation/admin-guide/mm/pagemap.rst,
//! include/uapi/linux/kernel-page-flags.h, Linux 5.10's `fs/proc/page.c`
//! (`stable_page_flags`, `kpageflags_read`, `kpagecount_read`) and
//! Documentation/admin-guide/sysctl/vm.rst (swappiness, 0..200 since 5.8), so the same
//! binary passes on Linux arm64 when run as root.
//!
//! Linux: `fs/proc/page.c`, `fs/proc/task_mmu.c` (`pagemap_read`), `mm/vmscan.c`
//! (`vm_swappiness`), `kernel/sysctl.c` (`proc_dointvec_minmax`).
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;

const KPAGEFLAGS: &CStr = c"/proc/kpageflags";
const KPAGECOUNT: &CStr = c"/proc/kpagecount";
const SWAPPINESS: &CStr = c"/proc/sys/vm/swappiness";

// Bit numbers: include/uapi/linux/kernel-page-flags.h, and 32+ from
// include/linux/kernel-page-flags.h (which 5.10's stable_page_flags reports too).
const KPF_UPTODATE: u32 = 3;
const KPF_MMAP: u32 = 11;
const KPF_ANON: u32 = 12;
const KPF_SWAPBACKED: u32 = 14;
const KPF_BUDDY: u32 = 10;
const KPF_NOPAGE: u32 = 20;
const KPF_ZERO_PAGE: u32 = 24;
const KPF_MLOCKED: u32 = 33;

// pagemap bits (Documentation/admin-guide/mm/pagemap.rst).
const PM_PRESENT: u64 = 1 << 63;
const PM_PFRAME_MASK: u64 = (1 << 55) - 1;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("kpageflags_test");
    if getuid() != 0 {
        t.ok(false, "kpageflags_test runs as root (uid 0)");
        return t.finish();
    }
    anon_rows(&mut t);
    fork_rows(&mut t);
    mlock_rows(&mut t);
    file_rows(&mut t);
    zero_page_rows(&mut t);
    whole_file_rows(&mut t);
    errno_rows(&mut t);
    let st = in_child(|| {
        let mut ct = Tap::new("kpageflags_test");
        nonroot_rows(&mut ct);
        ct.failed().min(255) as i32
    });
    t.exited("as uid 1000: every check passed", st, 0);
    swappiness_rows(&mut t);
    t.finish()
}

// ---------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------

/// The u64 at byte offset `off` of `path`, or the negative errno of open or pread.
fn read_u64(path: &CStr, off: usize) -> Result<u64, isize> {
    let fd = open(path, O_RDONLY, 0);
    if fd < 0 {
        return Err(fd);
    }
    let mut b = [0u8; 8];
    let n = pread(fd as i32, &mut b, off);
    close(fd as i32);
    match n {
        8 => Ok(u64::from_ne_bytes(b)),
        n if n < 0 => Err(n),
        _ => Err(-(EIO as isize)),
    }
}

/// The /proc/self/pagemap entry of the page at `va`.
fn pagemap(va: usize) -> Result<u64, isize> {
    read_u64(c"/proc/self/pagemap", va / P * 8)
}

/// The frame behind `va`, if pagemap says it is present and shows a PFN.
fn pfn_of(va: usize) -> Option<usize> {
    let e = pagemap(va).ok()?;
    (e & PM_PRESENT != 0 && e & PM_PFRAME_MASK != 0).then_some((e & PM_PFRAME_MASK) as usize)
}

fn kpageflags(pfn: usize) -> Result<u64, isize> {
    read_u64(KPAGEFLAGS, pfn * 8)
}

fn kpagecount(pfn: usize) -> Result<u64, isize> {
    read_u64(KPAGECOUNT, pfn * 8)
}

fn has(flags: u64, kpf: u32) -> bool {
    flags & (1 << kpf) != 0
}

/// Read the sysctl as a number.
fn sysctl(path: &CStr) -> Option<i64> {
    let fd = open(path, O_RDONLY, 0);
    if fd < 0 {
        return None;
    }
    let mut b = [0u8; 32];
    let n = read(fd as i32, &mut b);
    close(fd as i32);
    let s = core::str::from_utf8(b.get(..usize::try_from(n).ok()?)?).ok()?;
    s.trim().parse().ok()
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

// ---------------------------------------------------------------------------------------
// Rows.
// ---------------------------------------------------------------------------------------

/// A written private anonymous page: ANON, MMAP and SWAPBACKED, mapped once.
fn anon_rows(t: &mut Tap) {
    let r = mmap(0, 4 * P, RW, ANON, -1, 0);
    if !t.ok(r > 0, "mmap 4 anonymous pages") {
        return;
    }
    let r = r as usize;
    poke(r, 0x5a);
    let Some(pfn) = pfn_of(r) else {
        t.ok(false, "pagemap shows root the PFN of a written page");
        return;
    };
    t.ok(
        true,
        format_args!("pagemap shows root the PFN of a written page ({pfn:#x})"),
    );
    match kpageflags(pfn) {
        Ok(f) => {
            t.ok(
                has(f, KPF_ANON) && has(f, KPF_MMAP) && has(f, KPF_SWAPBACKED),
                format_args!("a written anonymous page is ANON|MMAP|SWAPBACKED ({f:#x})"),
            );
            t.ok(
                !has(f, KPF_NOPAGE) && !has(f, KPF_BUDDY) && !has(f, KPF_ZERO_PAGE),
                format_args!("and not NOPAGE, BUDDY or ZERO_PAGE ({f:#x})"),
            );
        }
        Err(e) => {
            t.ok(false, format_args!("read /proc/kpageflags: {}", Ret(e)));
        }
    }
    t.eq(
        "its kpagecount is 1",
        kpagecount(pfn).unwrap_or(u64::MAX),
        1,
    );
    munmap(r, 4 * P);
}

/// After fork the child maps the same page (COW, not yet written): count 2 while both
/// map it, 1 again once the child is gone.
fn fork_rows(t: &mut Tap) {
    let r = mmap(0, P, RW, ANON, -1, 0);
    if !t.ok(r > 0, "mmap 1 anonymous page") {
        return;
    }
    let r = r as usize;
    poke(r, 1);
    let Some(pfn) = pfn_of(r) else {
        t.ok(false, "PFN of the page before fork");
        return;
    };
    let st = in_child(|| {
        let mut ct = Tap::new("kpageflags_test");
        ct.eq(
            "the child maps the parent's frame",
            pfn_of(r).unwrap_or(0),
            pfn,
        );
        ct.eq(
            "kpagecount is 2 while parent and child map it",
            kpagecount(pfn).unwrap_or(u64::MAX),
            2,
        );
        ct.failed().min(255) as i32
    });
    t.exited("fork: every check passed in the child", st, 0);
    t.eq(
        "kpagecount is 1 after the child exits",
        kpagecount(pfn).unwrap_or(u64::MAX),
        1,
    );
    munmap(r, P);
}

/// mlock sets PG_mlocked: KPF_MLOCKED (33, a "kernel hacking" bit 5.10 reports); munlock
/// clears it.
fn mlock_rows(t: &mut Tap) {
    let r = mmap(0, P, RW, ANON, -1, 0);
    if !t.ok(r > 0, "mmap 1 anonymous page to lock") {
        return;
    }
    let r = r as usize;
    t.ret("mlock", mlock(r, P), 0);
    let Some(pfn) = pfn_of(r) else {
        t.ok(false, "PFN of the locked page");
        return;
    };
    let f = kpageflags(pfn).unwrap_or(0);
    t.ok(
        has(f, KPF_MLOCKED),
        format_args!("an mlocked page shows KPF_MLOCKED ({f:#x})"),
    );
    t.ret("munlock", munlock(r, P), 0);
    let f = kpageflags(pfn).unwrap_or(1 << KPF_MLOCKED);
    t.ok(
        !has(f, KPF_MLOCKED),
        format_args!("after munlock KPF_MLOCKED is clear ({f:#x})"),
    );
    munmap(r, P);
}

/// A page of a file on the root file system mapped shared and read: MMAP and UPTODATE,
/// not ANON.
fn file_rows(t: &mut Tap) {
    let fd = open(c"/etc/test.txt", O_RDONLY, 0);
    if !t.ok(fd >= 0, "open /etc/test.txt") {
        return;
    }
    let r = mmap(0, P, PROT_READ, MAP_SHARED, fd as i32, 0);
    close(fd as i32);
    if !t.ok(r > 0, "mmap it MAP_SHARED") {
        return;
    }
    let r = r as usize;
    let _ = peek(r);
    let Some(pfn) = pfn_of(r) else {
        t.ok(false, "PFN of the file page");
        return;
    };
    let f = kpageflags(pfn).unwrap_or(0);
    t.ok(
        has(f, KPF_MMAP) && has(f, KPF_UPTODATE) && !has(f, KPF_ANON),
        format_args!("a mapped file page is MMAP|UPTODATE and not ANON ({f:#x})"),
    );
    t.ok(
        kpagecount(pfn).is_ok_and(|c| c >= 1),
        "its kpagecount is at least 1",
    );
    munmap(r, P);
}

/// A read of untouched private anonymous memory maps the shared zero page.
fn zero_page_rows(t: &mut Tap) {
    let r = mmap(0, 2 * P, RW, ANON, -1, 0);
    if !t.ok(r > 0, "mmap 2 anonymous pages") {
        return;
    }
    let r = r as usize;
    t.eq("reading untouched memory gives 0", peek(r), 0);
    let _ = peek(r + P);
    let Some(pfn) = pfn_of(r) else {
        t.ok(false, "PFN of the zero page");
        return;
    };
    t.eq(
        "both pages read map the same frame",
        pfn_of(r + P).unwrap_or(0),
        pfn,
    );
    let f = kpageflags(pfn).unwrap_or(0);
    t.ok(
        has(f, KPF_ZERO_PAGE) && !has(f, KPF_ANON),
        format_args!("that frame is ZERO_PAGE and not ANON ({f:#x})"),
    );
    munmap(r, 2 * P);
}

/// The files start at pfn 0, which on QEMU virt has no RAM: NOPAGE, count 0; read to
/// the end, some frames are free.
fn whole_file_rows(t: &mut Tap) {
    t.eq(
        "pfn 0 (no RAM) is KPF_NOPAGE",
        kpageflags(0).unwrap_or(0),
        1u64 << KPF_NOPAGE,
    );
    t.eq(
        "pfn 0 has kpagecount 0",
        kpagecount(0).unwrap_or(u64::MAX),
        0,
    );
    let fd = open(KPAGEFLAGS, O_RDONLY, 0);
    if !t.ok(fd >= 0, "open /proc/kpageflags") {
        return;
    }
    let (mut frames, mut buddy, mut nopage) = (0u64, 0u64, 0u64);
    let mut buf = [0u8; 4096];
    loop {
        let n = read(fd as i32, &mut buf);
        if n <= 0 {
            t.ret("reading it to the end ends with 0 (no error)", n, 0);
            break;
        }
        for e in buf[..n as usize].chunks_exact(8) {
            let f = u64::from_ne_bytes(e.try_into().unwrap_or([0; 8]));
            frames += 1;
            buddy += u64::from(has(f, KPF_BUDDY));
            nopage += u64::from(has(f, KPF_NOPAGE));
        }
    }
    close(fd as i32);
    t.ok(
        buddy > 0 && nopage > 0 && buddy + nopage < frames,
        format_args!("{frames} frames: {buddy} free (BUDDY), {nopage} without a struct page"),
    );
}

/// Offsets and lengths must be multiples of 8; a bad buffer is EFAULT.
fn errno_rows(t: &mut Tap) {
    let fd = open(KPAGEFLAGS, O_RDONLY, 0);
    if !t.ok(fd >= 0, "open /proc/kpageflags as root") {
        return;
    }
    let fd = fd as i32;
    let mut b = [0u8; 16];
    t.err(
        "pread at an offset not a multiple of 8 fails with EINVAL",
        pread(fd, &mut b[..8], 4),
        EINVAL,
    );
    t.err(
        "pread of 12 bytes fails with EINVAL",
        pread(fd, &mut b[..12], 0),
        EINVAL,
    );
    t.ret("pread of 16 bytes at 8 reads 16", pread(fd, &mut b, 8), 16);
    t.ret(
        "pread far past the last frame reads 0",
        pread(fd, &mut b, 1 << 50),
        0,
    );
    // SAFETY: the kernel only writes through the pointer if it is mapped; it is not.
    let r = unsafe { syscall3(nr::READ, fd as usize, unmapped_addr(), 8) };
    t.err("read into an unmapped buffer fails with EFAULT", r, EFAULT);
    close(fd);
    let fd = open(KPAGECOUNT, O_RDONLY, 0);
    if t.ok(fd >= 0, "open /proc/kpagecount as root") {
        t.err(
            "kpagecount: pread at offset 3 fails with EINVAL",
            pread(fd as i32, &mut b[..8], 3),
            EINVAL,
        );
        close(fd as i32);
    }
}

/// As uid 1000: the 0400 root files refuse to open, pagemap hides PFNs, swappiness
/// cannot be written.
fn nonroot_rows(t: &mut Tap) {
    let r = mmap(0, P, RW, ANON, -1, 0);
    if !t.ok(r > 0, "mmap 1 anonymous page") {
        return;
    }
    poke(r as usize, 1);
    let r2 = setresuid(1000, 1000, 1000);
    if !t.ret("setresuid(1000, 1000, 1000) drops root", r2, 0) {
        return;
    }
    t.err(
        "open /proc/kpageflags fails with EACCES",
        open(KPAGEFLAGS, O_RDONLY, 0),
        EACCES,
    );
    t.err(
        "open /proc/kpagecount fails with EACCES",
        open(KPAGECOUNT, O_RDONLY, 0),
        EACCES,
    );
    t.err(
        "open /proc/sys/vm/swappiness for writing fails with EACCES",
        open(SWAPPINESS, O_WRONLY, 0),
        EACCES,
    );
    t.ok(sysctl(SWAPPINESS).is_some(), "but it can be read");
    match pagemap(r as usize) {
        Ok(e) => t.ok(
            e & PM_PRESENT != 0 && e & PM_PFRAME_MASK == 0,
            format_args!("pagemap shows the page present with PFN 0 ({e:#x})"),
        ),
        Err(e) => t.ok(false, format_args!("read /proc/self/pagemap: {}", Ret(e))),
    };
}

/// vm.swappiness: 60 at boot, 0..200, EINVAL outside; put back what was there.
fn swappiness_rows(t: &mut Tap) {
    let old = sysctl(SWAPPINESS);
    t.eq("swappiness is 60 at boot", old.unwrap_or(-1), 60);
    t.ret("write 100", set_sysctl(SWAPPINESS, "100\n"), 4);
    t.eq("reads back 100", sysctl(SWAPPINESS).unwrap_or(-1), 100);
    t.ret(
        "write 200 (the 5.8+ maximum)",
        set_sysctl(SWAPPINESS, "200"),
        3,
    );
    t.err(
        "write 201 fails with EINVAL",
        set_sysctl(SWAPPINESS, "201"),
        EINVAL,
    );
    t.err(
        "write -1 fails with EINVAL",
        set_sysctl(SWAPPINESS, "-1"),
        EINVAL,
    );
    t.eq("the value stays 200", sysctl(SWAPPINESS).unwrap_or(-1), 200);
    t.ret("write 60 back", set_sysctl(SWAPPINESS, "60\n"), 3);
    t.eq("reads back 60", sysctl(SWAPPINESS).unwrap_or(-1), 60);
}

//! vma_layout: the VMAs a process sees in /proc/self/maps, merged and split exactly as Linux
//! does, plus mincore(2) (its errors and page residency).
//!
//! Linux: `fs/proc/task_mmu.c` (show_map_vma: `start-end perms offset major:minor inode name`),
//! `mm/mmap.c` (vma_merge on mmap, brk's `[heap]`), `mm/mprotect.c` (mprotect_fixup: split and
//! merge), `mm/mincore.c`. Needs `/proc/self/maps` and `/etc/test.txt` (> 4096 bytes).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU64, Ordering};
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;

/// Read-only data: lands in the program's r--p segment.
static RODATA: [u8; 64] = [7; 64];
/// Initialised writable data: lands in the program's rw-p segment.
static DATA: AtomicU64 = AtomicU64::new(0x1234_5678);

/// One line of /proc/self/maps, as show_map_vma prints it.
#[derive(Clone, Copy)]
struct Vma<'a> {
    start: usize,
    end: usize,
    perms: &'a str,
    offset: usize,
    /// Device major and minor.
    dev: (u32, u32),
    inode: u64,
    /// Path or `[heap]`/`[stack]`/...; empty for anonymous memory.
    name: &'a str,
}

/// A hex field of at least `min` lower-case digits.
fn hex(s: &str, min: usize) -> Option<usize> {
    let ok = s.len() >= min
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    if ok {
        usize::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// Parse `start-end perms offset major:minor inode [name]`, strictly.
fn parse(line: &str) -> Option<Vma<'_>> {
    let mut rest = line;
    let mut field = || {
        let s = rest.trim_start_matches(' ');
        let n = s.find(' ').unwrap_or(s.len());
        rest = &s[n..];
        &s[..n]
    };
    let range = field();
    let perms = field();
    let offset = field();
    let dev = field();
    let inode = field();
    let name = rest.trim();
    let (start, end) = range.split_once('-')?;
    let (major, minor) = dev.split_once(':')?;
    let p = perms.as_bytes();
    let perms_ok = p.len() == 4
        && matches!(p[0], b'r' | b'-')
        && matches!(p[1], b'w' | b'-')
        && matches!(p[2], b'x' | b'-')
        && matches!(p[3], b'p' | b's');
    let vma = Vma {
        start: hex(start, 8)?,
        end: hex(end, 8)?,
        perms,
        offset: hex(offset, 8)?,
        dev: (hex(major, 2)? as u32, hex(minor, 2)? as u32),
        inode: inode.parse().ok()?,
        name,
    };
    (perms_ok && vma.start < vma.end && vma.start.is_multiple_of(P) && vma.end.is_multiple_of(P))
        .then_some(vma)
}

/// A copy of /proc/self/maps taken at one moment.
struct Maps {
    buf: [u8; 32768],
    len: usize,
}

impl Maps {
    /// Read the whole file (None if it cannot be opened or read).
    fn read() -> Option<Maps> {
        let mut m = Maps {
            buf: [0; 32768],
            len: 0,
        };
        let fd = open(c"/proc/self/maps", O_RDONLY, 0) as i32;
        if fd < 0 {
            return None;
        }
        loop {
            let n = read(fd, &mut m.buf[m.len..]);
            if n < 0 {
                close(fd);
                return None;
            }
            if n == 0 || m.len + n as usize == m.buf.len() {
                m.len += n as usize;
                break;
            }
            m.len += n as usize;
        }
        close(fd);
        Some(m)
    }
    fn text(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
    /// The parsed lines (unparsable ones are skipped; `all_parse` reports them).
    fn vmas(&self) -> impl Iterator<Item = Vma<'_>> {
        self.text().lines().filter_map(parse)
    }
    fn all_parse(&self) -> (usize, usize) {
        let total = self.text().lines().count();
        (self.vmas().count(), total)
    }
    /// The line whose range contains `addr`.
    fn find(&self, addr: usize) -> Option<Vma<'_>> {
        self.vmas().find(|v| v.start <= addr && addr < v.end)
    }
    /// The lines that intersect `[start, end)`, as `start-end perms` pieces relative to
    /// `base` in pages ("2-5 rw-p 3-4 r--p"), for comparing a region's shape in one check.
    fn shape(&self, start: usize, end: usize, base: usize) -> Shape {
        let mut s = Shape { b: [0; 160], n: 0 };
        for v in self.vmas().filter(|v| v.start < end && start < v.end) {
            use core::fmt::Write;
            let sep = if s.n == 0 { "" } else { " " };
            let _ = write!(
                s,
                "{}{}-{} {}",
                sep,
                (v.start - base) / P,
                (v.end - base) / P,
                v.perms
            );
        }
        s
    }
}

/// A short string built on the stack.
struct Shape {
    b: [u8; 160],
    n: usize,
}

impl core::fmt::Write for Shape {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = (self.n + s.len()).min(self.b.len());
        self.b[self.n..end].copy_from_slice(&s.as_bytes()[..end - self.n]);
        self.n = end;
        Ok(())
    }
}

impl Shape {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
    }
}

/// Check that `[base, base + 8 pages)` shows exactly `want` (see `Maps::shape`).
fn shape_is(t: &mut Tap, what: &str, base: usize, want: &str) {
    match Maps::read() {
        Some(m) => {
            let got = m.shape(base, base + 8 * P, base);
            t.check(
                got.as_str() == want,
                what,
                format_args!("\"{}\"", got.as_str()),
                format_args!("\"{}\"", want),
            );
        }
        None => {
            t.check(
                false,
                what,
                "no /proc/self/maps",
                format_args!("\"{}\"", want),
            );
        }
    }
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("vma_layout");
    let Some(m) = Maps::read() else {
        t.ok(false, "/proc/self/maps can be opened and read");
        return t.finish();
    };
    t.ok(m.len > 0, "/proc/self/maps can be opened and read");
    format_rows(&mut t, &m);
    merge_split_rows(&mut t);
    heap_rows(&mut t);
    file_rows(&mut t);
    mincore_rows(&mut t);
    t.finish()
}

/// The format, and the program's own segments and stack.
fn format_rows(t: &mut Tap, m: &Maps) {
    let (parsed, total) = m.all_parse();
    t.check(
        parsed == total && total > 0,
        "every line parses as `start-end perms offset major:minor inode [name]`",
        format_args!("{} of {} lines", parsed, total),
        "all",
    );
    let mut sorted = true;
    let mut prev_end = 0;
    for v in m.vmas() {
        sorted &= v.start >= prev_end;
        prev_end = v.end;
    }
    t.ok(sorted, "lines are sorted by address and do not overlap");

    let text_addr = main as *const () as usize;
    match m.find(text_addr) {
        Some(v) => {
            t.check(
                v.perms == "r-xp",
                "the program text is mapped r-xp",
                v.perms,
                "r-xp",
            );
            t.check(
                v.offset == 0,
                "the program text maps the file from offset 0",
                format_args!("{:#x}", v.offset),
                "0",
            );
            t.check(
                v.name.starts_with('/') && v.inode != 0,
                "the program text is named by its file's path",
                v.name,
                "an absolute path",
            );
            let ro = core::hint::black_box(RODATA.as_ptr()) as usize;
            match m.find(ro) {
                Some(r) => {
                    t.check(
                        r.perms == "r--p",
                        "read-only data is mapped r--p",
                        r.perms,
                        "r--p",
                    );
                    t.check(
                        r.name == v.name && r.offset != 0,
                        "read-only data maps the program file at a non-zero offset",
                        format_args!("{} at {:#x}", r.name, r.offset),
                        v.name,
                    );
                }
                None => {
                    t.ok(false, "read-only data is mapped r--p");
                }
            }
            DATA.fetch_add(1, Ordering::Relaxed);
            match m.find(&DATA as *const AtomicU64 as usize) {
                Some(d) => {
                    t.check(
                        d.perms == "rw-p",
                        "initialised data is mapped rw-p",
                        d.perms,
                        "rw-p",
                    );
                    t.check(
                        d.name == v.name,
                        "initialised data maps the program file",
                        d.name,
                        v.name,
                    );
                }
                None => {
                    t.ok(false, "initialised data is mapped rw-p");
                }
            }
        }
        None => {
            t.ok(false, "the program text is mapped r-xp");
        }
    }

    let local = 0u64;
    let sp = core::hint::black_box(&local) as *const u64 as usize;
    match m.find(sp) {
        Some(v) => {
            t.check(
                v.name == "[stack]",
                "the line holding the stack pointer is named [stack]",
                v.name,
                "[stack]",
            );
            t.check(v.perms == "rw-p", "the stack is rw-p", v.perms, "rw-p");
            t.check(
                v.offset == 0 && v.dev == (0, 0) && v.inode == 0,
                "the stack is anonymous: offset 0, device 00:00, inode 0",
                format_args!("{:x} {:02x}:{:02x} {}", v.offset, v.dev.0, v.dev.1, v.inode),
                "0 00:00 0",
            );
        }
        None => {
            t.ok(false, "the line holding the stack pointer is named [stack]");
        }
    }
}

/// vma_merge and split_vma, seen through /proc/self/maps. The region: 8 pages whose pages 2..5
/// we map; pages 0-1 and 6-7 stay free so nothing outside can merge in.
fn merge_split_rows(t: &mut Tap) {
    let r = mmap(0, 8 * P, PROT_NONE, ANON, -1, 0);
    if !t.success("reserve 8 free pages", r) {
        return;
    }
    let r = r as usize;
    munmap(r, 8 * P);
    let mut placed = true;
    for i in 2..5 {
        placed &= mmap(r + i * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0) == (r + i * P) as isize;
    }
    t.ok(
        placed,
        "three adjacent one-page anonymous mmaps are placed with MAP_FIXED_NOREPLACE",
    );
    shape_is(
        t,
        "three adjacent anonymous mmaps with the same protection show as one line",
        r,
        "2-5 rw-p",
    );
    if let Some(m) = Maps::read() {
        let v = m.find(r + 2 * P);
        let ok = v
            .is_some_and(|v| v.offset == 0 && v.dev == (0, 0) && v.inode == 0 && v.name.is_empty());
        t.ok(
            ok,
            "an anonymous mapping shows offset 00000000, device 00:00, inode 0 and no name",
        );
    }
    unsafe { bytes(r + 2 * P, 3 * P) }.fill(1); // give the VMA its anon_vma, as real use does
    t.ret(
        "mprotect PROT_READ of the middle page",
        mprotect(r + 3 * P, P, PROT_READ),
        0,
    );
    shape_is(
        t,
        "mprotect of the middle page splits the line in three",
        r,
        "2-3 rw-p 3-4 r--p 4-5 rw-p",
    );
    t.ret(
        "mprotect the middle page back to PROT_READ|PROT_WRITE",
        mprotect(r + 3 * P, P, RW),
        0,
    );
    shape_is(
        t,
        "mprotect back merges the three lines into one",
        r,
        "2-5 rw-p",
    );
    t.ret(
        "mprotect PROT_READ of the first page",
        mprotect(r + 2 * P, P, PROT_READ),
        0,
    );
    shape_is(
        t,
        "mprotect of the first page splits the line in two",
        r,
        "2-3 r--p 3-5 rw-p",
    );
    t.ret(
        "mprotect PROT_READ of the other two pages",
        mprotect(r + 3 * P, 2 * P, PROT_READ),
        0,
    );
    shape_is(
        t,
        "mprotect of the rest to the same protection merges again",
        r,
        "2-5 r--p",
    );
    mprotect(r + 2 * P, 3 * P, RW);
    t.ret("munmap of the middle page", munmap(r + 3 * P, P), 0);
    shape_is(
        t,
        "munmap of the middle page leaves two lines",
        r,
        "2-3 rw-p 4-5 rw-p",
    );
    let a = mmap(r + 3 * P, P, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    t.ret("mmap the hole again", a, (r + 3 * P) as isize);
    shape_is(
        t,
        "mapping the hole with the same protection merges all three into one line",
        r,
        "2-5 rw-p",
    );
    let s = mmap(
        r + 5 * P,
        P,
        RW,
        MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
        -1,
        0,
    );
    t.ret(
        "mmap a MAP_SHARED anonymous page right after them",
        s,
        (r + 5 * P) as isize,
    );
    shape_is(
        t,
        "a shared anonymous page does not merge with private ones and shows rw-s",
        r,
        "2-5 rw-p 5-6 rw-s",
    );
    munmap(r, 8 * P);
    shape_is(t, "munmap of the whole region removes every line", r, "");
}

/// brk's VMA is named `[heap]` (show_map_vma: it overlaps `[start_brk, brk]`).
fn heap_rows(t: &mut Tap) {
    let b0 = brk(0);
    t.addr("brk grows the heap by 2 pages", brk(b0 + 2 * P), b0 + 2 * P);
    unsafe { bytes(b0, 2 * P) }.fill(2);
    let Some(m) = Maps::read() else { return };
    let Some(h) = m.find(b0) else {
        t.ok(false, "the break's line is named [heap]");
        return;
    };
    let (start, end) = (h.start, h.end);
    t.check(
        h.name == "[heap]",
        "the break's line is named [heap]",
        h.name,
        "[heap]",
    );
    t.check(h.perms == "rw-p", "the heap is rw-p", h.perms, "rw-p");
    t.addr("the [heap] line ends at the break", end, b0 + 2 * P);
    t.addr(
        "brk grows the heap by 3 more pages",
        brk(b0 + 5 * P),
        b0 + 5 * P,
    );
    let Some(m) = Maps::read() else { return };
    match m.find(b0) {
        Some(h) => {
            t.check(
                h.name == "[heap]" && h.start == start,
                "the grown heap is still one [heap] line with the same start",
                format_args!("{:#x} {}", h.start, h.name),
                format_args!("{:#x} [heap]", start),
            );
            t.addr("the [heap] line grows to the new break", h.end, b0 + 5 * P);
        }
        None => {
            t.ok(
                false,
                "the grown heap is still one [heap] line with the same start",
            );
        }
    }
    brk(b0);
}

/// A file mapping shows the file's offset, device, inode and path.
fn file_rows(t: &mut Tap) {
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    let mut st = Stat::default();
    if !t.ret("fstat /etc/test.txt", fstat(fd, &mut st), 0) {
        return;
    }
    let a = mmap(0, P, PROT_READ, MAP_PRIVATE, fd, P);
    if !t.success("mmap /etc/test.txt at offset 4096", a) {
        return;
    }
    let a = a as usize;
    if let Some(m) = Maps::read() {
        match m.find(a) {
            Some(v) => {
                t.check(
                    v.name == "/etc/test.txt",
                    "a file mapping is named by the file's path",
                    v.name,
                    "/etc/test.txt",
                );
                t.check(
                    v.perms == "r--p" && v.start == a && v.end == a + P,
                    "a one-page MAP_PRIVATE PROT_READ file mapping is one r--p page",
                    v.perms,
                    "r--p",
                );
                t.check(
                    v.offset == P,
                    "a file mapping shows its file offset (00001000)",
                    format_args!("{:08x}", v.offset),
                    "00001000",
                );
                t.check(
                    v.inode == st.st_ino,
                    "a file mapping shows the file's inode number",
                    v.inode,
                    st.st_ino,
                );
                let major = ((st.st_dev >> 8) & 0xfff) as u32;
                let minor = ((st.st_dev & 0xff) | ((st.st_dev >> 12) & 0xfff00)) as u32;
                t.check(
                    v.dev == (major, minor),
                    "a file mapping shows the file's device as major:minor",
                    format_args!("{:02x}:{:02x}", v.dev.0, v.dev.1),
                    format_args!("{:02x}:{:02x}", major, minor),
                );
            }
            None => {
                t.ok(false, "a file mapping is named by the file's path");
            }
        }
    }
    munmap(a, P);
    close(fd);
}

/// mincore(2): EINVAL "addr is not a multiple of the page size"; ENOMEM "length is greater than
/// (TASK_SIZE - addr)... or addr to addr + length contained unmapped memory"; EFAULT "vec points
/// to an invalid address"; and the residency byte (bit 0).
fn mincore_rows(t: &mut Tap) {
    let a = mmap_anon(4 * P);
    if !t.success("mmap 4 anonymous pages for mincore", a) {
        return;
    }
    let a = a as usize;
    let mut vec = [0xffu8; 8];
    let v = vec.as_mut_ptr();
    t.err(
        "mincore of an unaligned address fails with EINVAL",
        mincore(a + 1, P, v),
        EINVAL,
    );
    t.err(
        "mincore of an unmapped range fails with ENOMEM",
        mincore(unmapped_addr(), P, v),
        ENOMEM,
    );
    t.err(
        "mincore of a kernel address fails with ENOMEM",
        mincore(KERNEL_ADDR, P, v),
        ENOMEM,
    );
    t.err(
        "mincore of a range passing TASK_SIZE fails with ENOMEM",
        mincore(a, TASK_SIZE, v),
        ENOMEM,
    );
    t.err(
        "mincore with a kernel-address vector fails with EFAULT",
        mincore(a, P, KERNEL_ADDR as *mut u8),
        EFAULT,
    );
    t.err(
        "mincore with a NULL vector fails with EFAULT",
        mincore(a, P, core::ptr::null_mut()),
        EFAULT,
    );
    t.ret("mincore of length 0 succeeds", mincore(a, 0, v), 0);

    t.ret(
        "mincore of 4 untouched pages succeeds",
        mincore(a, 4 * P, v),
        0,
    );
    t.check(
        vec[..4].iter().all(|&b| b & 1 == 0),
        "untouched anonymous pages are not resident",
        format_args!("{:?}", &vec[..4]),
        "[0, 0, 0, 0]",
    );
    poke(a, 1);
    let _ = peek(a + P);
    vec = [0xff; 8];
    t.ret(
        "mincore after touching pages 0 (write) and 1 (read) succeeds",
        mincore(a, 4 * P, vec.as_mut_ptr()),
        0,
    );
    t.eq("a written page is resident", vec[0] & 1, 1);
    t.eq(
        "a page only read is resident too (the zero page is mapped)",
        vec[1] & 1,
        1,
    );
    t.ok(
        vec[2] & 1 == 0 && vec[3] & 1 == 0,
        "pages not touched stay non-resident",
    );
    t.eq(
        "mincore does not write past the last page's byte",
        vec[4],
        0xff,
    );
    vec = [0xff; 8];
    t.ret(
        "mincore of length 4097 succeeds",
        mincore(a, P + 1, vec.as_mut_ptr()),
        0,
    );
    t.ok(
        vec[1] != 0xff && vec[2] == 0xff,
        "mincore rounds the length up to whole pages (2 bytes written)",
    );
    munmap(a + 3 * P, P);
    t.err(
        "mincore of a range running into a hole fails with ENOMEM",
        mincore(a, 4 * P, vec.as_mut_ptr()),
        ENOMEM,
    );
    munmap(a, 3 * P);

    // A file mapping: residency is the page cache's, whether or not this mapping touched it.
    let fd = open(c"/etc/test.txt", O_RDONLY, 0) as i32;
    let mut buf = [0u8; 16];
    pread(fd, &mut buf, 0);
    let f = mmap(0, P, PROT_READ, MAP_PRIVATE, fd, 0);
    if f >= 0 {
        vec = [0xff; 8];
        t.ret(
            "mincore of an untouched file mapping succeeds",
            mincore(f as usize, P, vec.as_mut_ptr()),
            0,
        );
        t.eq(
            "a file page in the page cache (read with pread) is resident before any fault",
            vec[0] & 1,
            1,
        );
        munmap(f as usize, P);
    }
    close(fd);
}

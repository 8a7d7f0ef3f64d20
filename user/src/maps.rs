//! Helpers shared by the test programs that look at their own address space through
//! /proc/self/maps: a small fixed-size text buffer and the "shape" of the VMAs covering a
//! range, as page numbers ("0-2 2-3 3-8"), so a check reads like the split it expects;
//! isolated test regions between guard pages, and page residency through mincore.
use crate::*;

const P: usize = 4096;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;

/// A short string on the stack.
pub struct Text {
    b: [u8; 200],
    n: usize,
}
impl Text {
    /// Empty.
    pub fn new() -> Text {
        Text { b: [0; 200], n: 0 }
    }
    /// Append a byte (dropped when full).
    pub fn push(&mut self, c: u8) {
        if self.n < self.b.len() {
            self.b[self.n] = c;
            self.n += 1;
        }
    }
    /// The text so far.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
    }
}
impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.bytes() {
            self.push(c);
        }
        Ok(())
    }
}
/// A hexadecimal number as /proc/self/maps prints addresses.
pub fn hex(s: &str) -> Option<usize> {
    usize::from_str_radix(s, 16).ok()
}
/// The VMAs of /proc/self/maps that intersect `[start, end)`, as "a-b" page numbers
/// relative to `start`.
pub fn shape(start: usize, end: usize) -> Text {
    use core::fmt::Write;
    let mut buf = [0u8; 32768];
    let mut s = Text::new();
    let fd = open(c"/proc/self/maps", O_RDONLY, 0) as i32;
    if fd < 0 {
        let _ = write!(s, "no /proc/self/maps");
        return s;
    }
    let mut len = 0;
    while len < buf.len() {
        let n = read(fd, &mut buf[len..]);
        if n <= 0 {
            break;
        }
        len += n as usize;
    }
    close(fd);
    let text = core::str::from_utf8(&buf[..len]).unwrap_or("");
    for line in text.lines() {
        let range = line.split(' ').next().unwrap_or("");
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Some(a), Some(b)) = (hex(a), hex(b)) else {
            continue;
        };
        if a < end && start < b {
            let sep = if s.n == 0 { "" } else { " " };
            let _ = write!(
                s,
                "{}{}-{}",
                sep,
                (a as isize - start as isize) / P as isize,
                (b as isize - start as isize) / P as isize
            );
        }
    }
    s
}
/// Check that the `n` pages from `r` are covered by VMAs shaped `want` ("0-2 2-8").
pub fn shape_is(t: &mut Tap, what: &str, r: usize, n: usize, want: &str) {
    let got = shape(r, r + n * P);
    t.check(
        got.as_str() == want,
        what,
        format_args!("\"{}\"", got.as_str()),
        format_args!("\"{}\"", want),
    );
}
/// Fill `len` bytes at `addr` with `v`.
pub fn fill(addr: usize, len: usize, v: u8) {
    unsafe { bytes(addr, len) }.fill(v);
}
/// Are all `len` bytes at `addr` equal to `v`?
pub fn all(addr: usize, len: usize, v: u8) -> bool {
    unsafe { bytes(addr, len) }.iter().all(|&b| b == v)
}

/// `n` pages of `prot` memory between two guard pages of another protection, so that
/// its VMA never merges with a neighbour. Returns the first page (0 on failure).
pub fn region(n: usize, prot: usize) -> usize {
    let guard = if prot == PROT_NONE {
        PROT_READ
    } else {
        PROT_NONE
    };
    let g = mmap(0, (n + 2) * P, guard, ANON, -1, 0);
    if g < 0 {
        return 0;
    }
    let r = mmap(g as usize + P, n * P, prot, ANON | MAP_FIXED, -1, 0);
    if r < 0 {
        munmap(g as usize, (n + 2) * P);
        return 0;
    }
    r as usize
}
/// Unmap a `region` with its guards.
pub fn unregion(r: usize, n: usize) {
    munmap(r - P, (n + 2) * P);
}
/// Resident pages of `[addr, addr + n pages)` as a string of 0/1 (mincore), or the
/// errno.
pub fn residency(addr: usize, n: usize) -> Text {
    let mut v = [0u8; 64];
    let mut s = Text::new();
    let r = mincore(addr, n.min(64) * P, v.as_mut_ptr());
    if r < 0 {
        use core::fmt::Write;
        let _ = write!(s, "mincore {}", Ret(r));
        return s;
    }
    for b in &v[..n.min(64)] {
        s.push(if b & 1 == 1 { b'1' } else { b'0' });
    }
    s
}
/// Check the residency string of `[addr, addr + n pages)`.
pub fn resident_is(t: &mut Tap, what: &str, addr: usize, n: usize, want: &str) {
    let got = residency(addr, n);
    t.check(
        got.as_str() == want,
        what,
        format_args!("\"{}\"", got.as_str()),
        format_args!("\"{}\"", want),
    );
}

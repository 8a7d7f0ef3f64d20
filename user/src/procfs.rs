//! Reading /proc from test programs: whole files, /proc/vmstat counters, and the
//! /proc/kpageflags word of a mapped page (through /proc/self/pagemap).
use crate::syscall::*;

/// Read a whole file into `buf`; its length, or None if it cannot be opened.
pub fn read_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Option<usize> {
    let fd = open(path, O_RDONLY, 0) as i32;
    if fd < 0 {
        return None;
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
    Some(len)
}

/// A /proc/vmstat counter, or None.
pub fn vmstat(key: &str) -> Option<u64> {
    let mut buf = [0u8; 4096];
    let n = read_file(c"/proc/vmstat", &mut buf)?;
    let text = core::str::from_utf8(&buf[..n]).ok()?;
    let line = text.lines().find(|l| l.split(' ').next() == Some(key))?;
    line[key.len()..].trim().parse().ok()
}

/// One u64 at byte `off` of the file `path` (pread), or None.
pub fn read_u64(path: &core::ffi::CStr, off: usize) -> Option<u64> {
    let mut e = [0u8; 8];
    let fd = open(path, O_RDONLY, 0) as i32;
    if fd < 0 {
        return None;
    }
    let ok = pread(fd, &mut e, off) == 8;
    close(fd);
    ok.then(|| u64::from_le_bytes(e))
}

/// The /proc/kpageflags word of the page mapped at `va` in this process (0 if the page
/// is not present or the files cannot be read: root only).
pub fn kpageflags_of(va: usize) -> u64 {
    let Some(entry) = read_u64(c"/proc/self/pagemap", (va / 4096) * 8) else {
        return 0;
    };
    if entry >> 63 == 0 {
        return 0;
    }
    let pfn = (entry & ((1 << 55) - 1)) as usize;
    read_u64(c"/proc/kpageflags", pfn * 8).unwrap_or(0)
}

/// The /proc/self/pagemap entry of `va` (bit 63 present, bit 62 swapped; 0 if unreadable).
pub fn pagemap_of(va: usize) -> u64 {
    read_u64(c"/proc/self/pagemap", (va / 4096) * 8).unwrap_or(0)
}

/// A /proc/meminfo value in kB (`key` without the colon), or None.
pub fn meminfo_kb(key: &str) -> Option<u64> {
    let mut buf = [0u8; 4096];
    let n = read_file(c"/proc/meminfo", &mut buf)?;
    let text = core::str::from_utf8(&buf[..n]).ok()?;
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(key))?;
    line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// A /proc/self/status value in kB (`key` without the colon, e.g. "VmSwap"), or None.
pub fn status_kb(key: &str) -> Option<u64> {
    let mut buf = [0u8; 2048];
    let n = read_file(c"/proc/self/status", &mut buf)?;
    let text = core::str::from_utf8(&buf[..n]).ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(key))?;
    line[key.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

//! proc_test: the /proc files a memory-management learner reads, in Linux's formats,
//! read with read(2) and parsed strictly: /proc/<pid>/smaps, status and pagemap,
//! /proc/meminfo and /proc/vmstat, for this process and for a forked child.
//!
//! Written from Linux's documentation (Documentation/filesystems/proc.rst,
//! Documentation/admin-guide/mm/pagemap.rst) and the 5.10 sources of `fs/proc/task_mmu.c`,
//! `array.c` and `meminfo.c`, not from our implementation: it passes on Linux 5.10 and
//! 6.1 arm64. Run as root to check PFNs (Linux shows them only with CAP_SYS_ADMIN; for
//! other users the checks become "the PFN reads as 0").
//!
//! Every test mapping sits between PROT_NONE guard pages, so it never merges with a
//! neighbour and its smaps entry is exactly the mapping. Mappings stay under 2 MiB so
//! transparent huge pages never back them on Linux.
#![no_std]
#![no_main]
use core::ffi::CStr;
use core::fmt::{self, Write};
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const ANON: usize = MAP_PRIVATE | MAP_ANONYMOUS;
/// Room for one /proc file.
const BUF_LEN: usize = 256 * 1024;
/// Linux arm64 `geteuid`, `setuid`, `prctl`.
const NR_GETEUID: usize = 175;
const NR_SETUID: usize = 146;
const NR_PRCTL: usize = 167;
/// prctl option: whether the process may be dumped (and so owns its /proc files).
const PR_SET_DUMPABLE: usize = 4;

/// The fields of one smaps entry after its maps line, in Linux 5.10's order (6.0+ adds
/// Pss_Dirty after Pss).
const SMAPS_FIELDS: [&str; 22] = [
    "Size",
    "KernelPageSize",
    "MMUPageSize",
    "Rss",
    "Pss",
    "Shared_Clean",
    "Shared_Dirty",
    "Private_Clean",
    "Private_Dirty",
    "Referenced",
    "Anonymous",
    "LazyFree",
    "AnonHugePages",
    "ShmemPmdMapped",
    "FilePmdMapped",
    "Shared_Hugetlb",
    "Private_Hugetlb",
    "Swap",
    "SwapPss",
    "Locked",
    "THPeligible",
    "VmFlags",
];

/// status lines every 5.10+ kernel prints for a live process, in order (others, which
/// depend on the config or the version, may come between them).
const STATUS_ORDER: [&str; 44] = [
    "Name",
    "Umask",
    "State",
    "Tgid",
    "Ngid",
    "Pid",
    "PPid",
    "TracerPid",
    "Uid",
    "Gid",
    "FDSize",
    "Groups",
    "VmPeak",
    "VmSize",
    "VmLck",
    "VmPin",
    "VmHWM",
    "VmRSS",
    "RssAnon",
    "RssFile",
    "RssShmem",
    "VmData",
    "VmStk",
    "VmExe",
    "VmLib",
    "VmPTE",
    "VmSwap",
    "Threads",
    "SigQ",
    "SigPnd",
    "ShdPnd",
    "SigBlk",
    "SigIgn",
    "SigCgt",
    "CapInh",
    "CapPrm",
    "CapEff",
    "CapBnd",
    "CapAmb",
    "NoNewPrivs",
    "Cpus_allowed",
    "Cpus_allowed_list",
    "voluntary_ctxt_switches",
    "nonvoluntary_ctxt_switches",
];

/// The memory lines of status (`task_mem`): `Name:\t` and the kB value in 8 columns.
const STATUS_KB: [&str; 15] = [
    "VmPeak", "VmSize", "VmLck", "VmPin", "VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem",
    "VmData", "VmStk", "VmExe", "VmLib", "VmPTE", "VmSwap",
];

/// meminfo lines every 5.10+ arm64 kernel prints, in order (config-dependent ones and
/// newer ones may come between them).
const MEMINFO_ORDER: [&str; 42] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "SwapCached",
    "Active",
    "Inactive",
    "Active(anon)",
    "Inactive(anon)",
    "Active(file)",
    "Inactive(file)",
    "Unevictable",
    "Mlocked",
    "SwapTotal",
    "SwapFree",
    "Dirty",
    "Writeback",
    "AnonPages",
    "Mapped",
    "Shmem",
    "KReclaimable",
    "Slab",
    "SReclaimable",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
    "NFS_Unstable",
    "Bounce",
    "WritebackTmp",
    "CommitLimit",
    "Committed_AS",
    "VmallocTotal",
    "VmallocUsed",
    "VmallocChunk",
    "Percpu",
    "HugePages_Total",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
    "Hugepagesize",
    "Hugetlb",
];

/// pagemap bits (Documentation/admin-guide/mm/pagemap.rst).
const PM_PFRAME_MASK: u64 = (1 << 55) - 1;
const PM_MMAP_EXCLUSIVE: u64 = 1 << 56;
const PM_FILE: u64 = 1 << 61;
const PM_SWAP: u64 = 1 << 62;
const PM_PRESENT: u64 = 1 << 63;

/// A short string on the stack (paths, expected lines).
struct Small {
    b: [u8; 160],
    n: usize,
}

impl Small {
    fn new() -> Small {
        Small { b: [0; 160], n: 0 }
    }
    fn of(args: fmt::Arguments<'_>) -> Small {
        let mut s = Small::new();
        let _ = s.write_fmt(args);
        s
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
    }
    /// The text as a C string (cut at 159 bytes).
    fn cstr(&mut self) -> &CStr {
        let n = self.n.min(self.b.len() - 1);
        self.b[n] = 0;
        CStr::from_bytes_with_nul(&self.b[..=n]).unwrap_or(c"")
    }
}

impl Write for Small {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = (self.n + s.len()).min(self.b.len() - 1);
        self.b[self.n..end].copy_from_slice(&s.as_bytes()[..end - self.n]);
        self.n = end;
        Ok(())
    }
}

/// Read the whole file at `path` into `buf` with read(2); the text, or -errno.
fn slurp<'a>(path: &str, buf: &'a mut [u8]) -> Result<&'a str, isize> {
    let mut p = Small::of(format_args!("{path}"));
    let fd = open(p.cstr(), O_RDONLY, 0);
    if fd < 0 {
        return Err(fd);
    }
    let mut len = 0;
    loop {
        let n = read(fd as i32, &mut buf[len..]);
        if n < 0 {
            close(fd as i32);
            return Err(n);
        }
        len += n as usize;
        if n == 0 || len == buf.len() {
            break;
        }
    }
    close(fd as i32);
    Ok(core::str::from_utf8(&buf[..len]).unwrap_or(""))
}

/// The value of `key:` in a `Key:<spaces or tab>value` file, trimmed.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k == key).then(|| v.trim())
    })
}

/// A `Key: N kB` value.
fn kb(text: &str, key: &str) -> Option<u64> {
    field(text, key)?.strip_suffix(" kB")?.trim().parse().ok()
}

/// A plain number value.
fn num(text: &str, key: &str) -> Option<u64> {
    field(text, key)?.parse().ok()
}

/// Do the `Key:` names of `text` contain `want` in this order (other lines allowed
/// between)? Returns the first name not found in order.
fn in_order<'a>(text: &str, want: &[&'a str]) -> Option<&'a str> {
    let mut i = 0;
    for l in text.lines() {
        if i < want.len() && l.split_once(':').is_some_and(|(k, _)| k == want[i]) {
            i += 1;
        }
    }
    want.get(i).copied()
}

/// Is this a maps/smaps header line (`start-end perms ...`)? Field lines start with an
/// upper-case letter; addresses are lower-case hex.
fn is_header(line: &str) -> bool {
    line.bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// The smaps entries of `text`, each its header line and field lines.
fn entries(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .match_indices('\n')
            .map(|(i, _)| i + 1)
            .find(|&i| rest[i..].lines().next().is_some_and(is_header))
            .unwrap_or(rest.len());
        let (entry, tail) = rest.split_at(end);
        rest = tail;
        Some(entry)
    })
}

/// The smaps entry of the VMA starting at `start`.
fn smaps_entry(text: &str, start: usize) -> Option<&str> {
    let head = Small::of(format_args!("{start:08x}-"));
    entries(text).find(|e| e.starts_with(head.as_str()))
}

/// One entry's lines after the header are exactly Linux's fields, each kB line padded
/// like `Size:               8 kB` (the name and padding fill 16 columns, or 17 for
/// Private_Hugetlb with a 7-column number: 27 characters either way), THPeligible a 0 or
/// 1, VmFlags two-letter names each followed by a space. None if so, else the bad line.
fn smaps_entry_format(entry: &str) -> Option<&str> {
    let mut lines = entry.lines();
    lines.next(); // the header
    let mut n = 0;
    for l in lines {
        let Some((name, value)) = l.split_once(':') else {
            return Some(l);
        };
        // Linux 6.0 added Pss_Dirty after Pss; 5.10 has none.
        let pss_dirty = name == "Pss_Dirty" && n > 0 && SMAPS_FIELDS[n - 1] == "Pss";
        if SMAPS_FIELDS.get(n) != Some(&name) && !pss_dirty {
            return Some(l);
        }
        if !pss_dirty {
            n += 1;
        }
        let ok = match name {
            "THPeligible" => matches!(value.trim(), "0" | "1"),
            "VmFlags" => {
                value.starts_with(' ')
                    && value[1..].len() % 3 == 0
                    && value[1..]
                        .as_bytes()
                        .chunks(3)
                        .all(|c| c[2] == b' ' && c[..2].iter().all(u8::is_ascii_alphabetic))
            }
            _ => {
                l.len() == 27
                    && l.ends_with(" kB")
                    && value[..value.len() - 3].trim().parse::<u64>().is_ok()
            }
        };
        if !ok {
            return Some(l);
        }
    }
    (n != SMAPS_FIELDS.len()).then_some("(missing fields)")
}

/// Map `pages` pages `prot` between two PROT_NONE guard pages; the first mapped address.
fn guarded_mmap(pages: usize, prot: usize) -> Option<usize> {
    let r = mmap(0, (pages + 2) * P, PROT_NONE, ANON, -1, 0);
    if r < 0 {
        return None;
    }
    let a = r as usize + P;
    (mmap(a, pages * P, prot, ANON | MAP_FIXED, -1, 0) == a as isize).then_some(a)
}

/// Write one byte into each of `n` pages from `a`.
fn touch(a: usize, n: usize) {
    for i in 0..n {
        poke(a + i * P, 0x5a);
    }
}

/// The pagemap entry of `addr` in `/proc/<who>/pagemap`, or -errno.
fn pagemap(who: &str, addr: usize) -> Result<u64, isize> {
    let mut p = Small::of(format_args!("/proc/{who}/pagemap"));
    let fd = open(p.cstr(), O_RDONLY, 0);
    if fd < 0 {
        return Err(fd);
    }
    let mut e = [0u8; 8];
    let r = pread(fd as i32, &mut e, addr / P * 8);
    close(fd as i32);
    if r != 8 {
        return Err(if r < 0 { r } else { -(EIO as isize) });
    }
    Ok(u64::from_ne_bytes(e))
}

/// A pagemap entry in words, for messages.
struct Pme(u64);

impl fmt::Display for Pme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(
            f,
            "{:#x} (present {}, exclusive {}, file {}, pfn {:#x})",
            e,
            e >> 63,
            (e >> 56) & 1,
            (e >> 61) & 1,
            e & PM_PFRAME_MASK
        )
    }
}

/// Names in a directory, via getdents64.
fn dir_has(path: &str, names: &[&str], buf: &mut [u8]) -> Result<bool, isize> {
    let mut p = Small::of(format_args!("{path}"));
    let fd = open(p.cstr(), O_RDONLY | O_DIRECTORY, 0);
    if fd < 0 {
        return Err(fd);
    }
    let mut found = [false; 8];
    loop {
        let n = getdents64(fd as i32, buf);
        if n <= 0 {
            close(fd as i32);
            if n < 0 {
                return Err(n);
            }
            break;
        }
        let mut off = 0;
        while off < n as usize {
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
            let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let name = &buf[off + 19..off + reclen];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
            for (i, want) in names.iter().enumerate() {
                found[i] |= name == want.as_bytes();
            }
            off += reclen;
        }
    }
    Ok(found[..names.len()].iter().all(|&f| f))
}

/// Buffers for two files at once, mapped and touched before anything is measured.
struct Bufs {
    a: &'static mut [u8],
    b: &'static mut [u8],
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("proc_test");
    let r = mmap(0, 2 * BUF_LEN, RW, ANON, -1, 0);
    if !t.success("map the read buffers", r) {
        return t.finish();
    }
    // SAFETY: freshly mapped, ours alone.
    let all = unsafe { bytes(r as usize, 2 * BUF_LEN) };
    all.fill(0);
    let (a, b) = all.split_at_mut(BUF_LEN);
    let mut bufs = Bufs { a, b };
    let root = unsafe { syscall1(NR_GETEUID, 0) } == 0;
    println!("# euid 0: {root} (PFNs checked only for root)");

    smaps_rows(&mut t, &mut bufs);
    status_rows(&mut t, &mut bufs);
    pagemap_rows(&mut t, root);
    vmstat_rows(&mut t, &mut bufs);
    counter_rows(&mut t, &mut bufs);
    meminfo_rows(&mut t, &mut bufs);
    readdir_rows(&mut t, &mut bufs);
    child_rows(&mut t, &mut bufs, root);
    cmdline_rows(&mut t, &mut bufs, &args);
    version_rows(&mut t);
    config_rows(&mut t);
    kernel_sysctl_rows(&mut t);
    t.finish()
}

/// /proc/sys/kernel/tainted ("0": a clean kernel) and core_pattern ("core", settable), which
/// LTP's madvise tests read and set.
fn kernel_sysctl_rows(t: &mut Tap) {
    let mut buf = [0u8; 160];
    let n = procfs::read_file(c"/proc/sys/kernel/tainted", &mut buf).unwrap_or(0);
    t.ok(&buf[..n] == b"0\n", "/proc/sys/kernel/tainted reads 0");
    let n = procfs::read_file(c"/proc/sys/kernel/core_pattern", &mut buf).unwrap_or(0);
    t.ok(&buf[..n] == b"core\n", "/proc/sys/kernel/core_pattern reads core");
    let fd = open(c"/proc/sys/kernel/core_pattern", O_WRONLY, 0) as i32;
    let w = write(fd, b"/tmp/core.%p\n");
    close(fd);
    let n = procfs::read_file(c"/proc/sys/kernel/core_pattern", &mut buf).unwrap_or(0);
    t.ok(w == 13 && &buf[..n] == b"/tmp/core.%p\n", "... and takes a new pattern");
    let fd = open(c"/proc/sys/kernel/core_pattern", O_WRONLY, 0) as i32;
    write(fd, b"core\n");
    close(fd);
}

/// /proc/config.gz is a gzip member (RFC 1952) whose deflate blocks are stored ones
/// (all the kernel writes): unpack them, check the CRC-32 and length trailer, and find
/// the options LTP's tst_kconfig asks about.
fn config_rows(t: &mut Tap) {
    let mut gz = [0u8; 8192];
    let n = procfs::read_file(c"/proc/config.gz", &mut gz).unwrap_or(0);
    t.ok(n > 18 && gz[..4] == [0x1f, 0x8b, 8, 0], "/proc/config.gz starts with a gzip header");
    let mut text = [0u8; 8192];
    let (mut at, mut len, mut last) = (10usize, 0usize, false);
    while !last && at + 5 <= n {
        last = gz[at] & 1 != 0;
        let stored = gz[at] & 6 == 0;
        let l = u16::from_le_bytes([gz[at + 1], gz[at + 2]]) as usize;
        let nl = u16::from_le_bytes([gz[at + 3], gz[at + 4]]);
        if !stored || nl != !(l as u16) || at + 5 + l > n || len + l > text.len() {
            break;
        }
        text[len..len + l].copy_from_slice(&gz[at + 5..at + 5 + l]);
        len += l;
        at += 5 + l;
    }
    let mut crc = !0u32;
    for &b in &text[..len] {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    let trailer_ok = last
        && at + 8 == n
        && u32::from_le_bytes([gz[at], gz[at + 1], gz[at + 2], gz[at + 3]]) == !crc
        && u32::from_le_bytes([gz[at + 4], gz[at + 5], gz[at + 6], gz[at + 7]]) as usize == len;
    t.ok(trailer_ok, "its blocks unpack and match the CRC-32 and size trailer");
    let cfg = core::str::from_utf8(&text[..len]).unwrap_or("");
    t.ok(
        cfg.lines().any(|l| l == "CONFIG_SWAP=y")
            && cfg.lines().any(|l| l == "# CONFIG_TRANSPARENT_HUGEPAGE is not set"),
        "the config says CONFIG_SWAP=y and that THP is not set",
    );
}

/// /proc/version is Linux's banner built from uname's fields: "SYSNAME version RELEASE
/// (...) (...) VERSION".
fn version_rows(t: &mut Tap) {
    let mut u = Utsname::default();
    t.ret("uname", uname(&mut u), 0);
    fn field(f: &[u8; 65]) -> &str {
        let n = f.iter().position(|&b| b == 0).unwrap_or(65);
        core::str::from_utf8(&f[..n]).unwrap_or("")
    }
    let mut buf = [0u8; 256];
    let n = procfs::read_file(c"/proc/version", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let (sys, rel, ver) = (field(&u.sysname), field(&u.release), field(&u.version));
    let start_ok = !sys.is_empty()
        && text.starts_with(sys)
        && text[sys.len()..].starts_with(" version ")
        && text[sys.len() + 9..].starts_with(rel);
    t.ok(start_ok, "/proc/version starts with `SYSNAME version RELEASE` from uname");
    t.ok(
        !ver.is_empty() && text.ends_with('\n') && text.trim_end().ends_with(ver),
        "and ends with uname's version",
    );
}

/// /proc/self/cmdline is argv, each argument NUL-terminated, read by the kernel from
/// our own memory (Linux: get_mm_cmdline -> access_remote_vm).
fn cmdline_rows(t: &mut Tap, bufs: &mut Bufs, args: &Args) {
    let mut want = [0u8; 256];
    let mut n = 0;
    for i in 0..args.len() {
        let a = args.get(i).unwrap_or("").as_bytes();
        if n + a.len() + 1 > want.len() {
            break;
        }
        want[n..n + a.len()].copy_from_slice(a);
        n += a.len() + 1;
    }
    match slurp("/proc/self/cmdline", bufs.a) {
        Ok(text) => t.ok(
            text.as_bytes() == &want[..n],
            "/proc/self/cmdline is argv, NUL-separated",
        ),
        Err(e) => t.err("/proc/self/cmdline can be read", e, 0),
    };
}

/// smaps: the format of every entry, and the counts of two fresh mappings.
fn smaps_rows(t: &mut Tap, bufs: &mut Bufs) {
    const PAGES: usize = 16;
    const WRITTEN: usize = 5;
    const READ: usize = 4;
    let (Some(w), Some(ro)) = (guarded_mmap(PAGES, RW), guarded_mmap(PAGES, RW)) else {
        t.ok(false, "map two 16-page anonymous regions");
        return;
    };
    touch(w + 3 * P, WRITTEN);
    for i in 0..READ {
        peek(ro + i * 2 * P);
    }
    let text = match slurp("/proc/self/smaps", bufs.a) {
        Ok(s) => s,
        Err(e) => {
            t.ret("/proc/self/smaps can be read", e, 0);
            return;
        }
    };
    let maps = slurp("/proc/self/maps", bufs.b).unwrap_or("");
    let headers = text.lines().filter(|l| is_header(l)).count();
    t.check(
        headers == maps.lines().count() && headers > 0,
        "/proc/self/smaps has one entry per /proc/self/maps line",
        format_args!("{} entries, {} maps lines", headers, maps.lines().count()),
        "equal",
    );
    let mut bad = None;
    for entry in entries(text) {
        let header = entry.lines().next().unwrap_or("");
        if !is_header(header) || !maps.lines().any(|m| m == header) {
            bad.get_or_insert(header);
        } else if let Some(l) = smaps_entry_format(entry) {
            bad.get_or_insert(l);
        }
    }
    t.check(
        bad.is_none(),
        "every smaps entry is its maps line then Size..VmFlags in Linux's order and padding",
        format_args!("\"{}\"", bad.unwrap_or("")),
        "none bad",
    );

    match smaps_entry(text, w) {
        Some(e) => {
            let want = Small::of(format_args!(
                "{:08x}-{:08x} rw-p 00000000 00:00 0 ",
                w,
                w + PAGES * P
            ));
            t.check(
                e.lines().next() == Some(want.as_str()),
                "the entry of a private anonymous mapping starts with its maps line",
                format_args!("\"{}\"", e.lines().next().unwrap_or("")),
                format_args!("\"{}\"", want.as_str()),
            );
            let size = Small::of(format_args!("Size:{:>19} kB", PAGES * 4));
            t.check(
                e.lines().nth(1) == Some(size.as_str()),
                "Size is the mapping's size, padded as Linux pads it",
                format_args!("\"{}\"", e.lines().nth(1).unwrap_or("")),
                format_args!("\"{}\"", size.as_str()),
            );
            let kbw = (WRITTEN * 4) as u64;
            for (key, want, why) in [
                ("KernelPageSize", 4, "4 KiB pages"),
                ("MMUPageSize", 4, "4 KiB pages"),
                ("Rss", kbw, "after writing 5 pages of 16"),
                ("Pss", kbw, "pages mapped once count whole"),
                ("Anonymous", kbw, "equals Rss for anonymous memory"),
                ("Private_Dirty", kbw, "written pages mapped once"),
                ("Private_Clean", 0, "nothing clean"),
                ("Shared_Clean", 0, "nothing shared"),
                ("Shared_Dirty", 0, "nothing shared"),
                ("Referenced", kbw, "the written pages were accessed"),
                ("Swap", 0, "no swap use"),
                ("Locked", 0, "not mlocked"),
            ] {
                t.check(
                    kb(e, key) == Some(want),
                    format_args!("smaps {key} is {want} kB: {why}"),
                    format_args!("{:?}", kb(e, key)),
                    want,
                );
            }
            t.check(
                e.lines().last() == Some("VmFlags: rd wr mr mw me ac "),
                "VmFlags of a PROT_READ|PROT_WRITE private anonymous mapping are `rd wr mr mw me ac `",
                format_args!("\"{}\"", e.lines().last().unwrap_or("")),
                "\"VmFlags: rd wr mr mw me ac \"",
            );
        }
        None => {
            t.ok(false, "smaps has an entry for the written mapping");
        }
    }
    match smaps_entry(text, ro) {
        Some(e) => {
            t.check(
                kb(e, "Rss") == Some(0) && kb(e, "Pss") == Some(0),
                "a mapping only read from has Rss 0: the shared zero page is not counted",
                format_args!("Rss {:?}, Pss {:?}", kb(e, "Rss"), kb(e, "Pss")),
                "0 and 0",
            );
            t.eq(
                "Anonymous of the read-only-touched mapping",
                kb(e, "Anonymous").unwrap_or(99),
                0,
            );
            t.eq("its Size is still 64 kB", kb(e, "Size").unwrap_or(0), 64);
        }
        None => {
            t.ok(
                false,
                "smaps has an entry for the read-only-touched mapping",
            );
        }
    }
    munmap(w - P, (PAGES + 2) * P);
    munmap(ro - P, (PAGES + 2) * P);
}

/// status: the fields and their format, and VmSize/VmRSS following mmap and writes.
fn status_rows(t: &mut Tap, bufs: &mut Bufs) {
    let text = match slurp("/proc/self/status", bufs.a) {
        Ok(s) => s,
        Err(e) => {
            t.ret("/proc/self/status can be read", e, 0);
            return;
        }
    };
    t.check(
        text.lines().next() == Some("Name:\tproc_test"),
        "the first status line is `Name:\\tproc_test`",
        format_args!("\"{}\"", text.lines().next().unwrap_or("")),
        "\"Name:\\tproc_test\"",
    );
    let missing = in_order(text, &STATUS_ORDER);
    t.check(
        missing.is_none(),
        "status has Name..nonvoluntary_ctxt_switches in Linux's order",
        format_args!("{} missing or out of order", missing.unwrap_or("")),
        "all in order",
    );
    let untabbed = text.lines().find(|l| !l.contains(":\t"));
    t.check(
        untabbed.is_none(),
        "every status line is `Name:\\tvalue`",
        format_args!("\"{}\"", untabbed.unwrap_or("")),
        "none without",
    );
    let badkb = text.lines().find(|l| {
        l.split_once(":\t").is_some_and(|(k, v)| {
            STATUS_KB.contains(&k)
                && !(v.len() == 11 && v.ends_with(" kB") && v[..8].trim().parse::<u64>().is_ok())
        })
    });
    t.check(
        badkb.is_none(),
        "the Vm*/Rss* lines are a tab, the kB value right-aligned in 8, ` kB` (`VmLck:\\t       0 kB`)",
        format_args!("\"{}\"", badkb.unwrap_or("")),
        "all so",
    );
    t.eq(
        "State is R (running) for the reader itself",
        field(text, "State").unwrap_or(""),
        "R (running)",
    );
    let me = getpid() as u64;
    t.eq("Pid is getpid()", num(text, "Pid").unwrap_or(0), me);
    t.eq(
        "Tgid is getpid() (one thread)",
        num(text, "Tgid").unwrap_or(0),
        me,
    );
    t.eq(
        "PPid is getppid()",
        num(text, "PPid").unwrap_or(u64::MAX),
        getppid() as u64,
    );
    let uid_ok = field(text, "Uid").is_some_and(|v| {
        v.split('\t').count() == 4 && v.split('\t').all(|n| n.parse::<u32>().is_ok())
    });
    t.ok(
        uid_ok,
        "Uid lists real, effective, saved and filesystem ids, tab-separated",
    );
    t.eq("Threads is 1", num(text, "Threads").unwrap_or(0), 1);
    let (rss, anon, file, shmem) = (
        kb(text, "VmRSS").unwrap_or(0),
        kb(text, "RssAnon").unwrap_or(0),
        kb(text, "RssFile").unwrap_or(0),
        kb(text, "RssShmem").unwrap_or(0),
    );
    t.check(
        rss == anon + file + shmem && rss > 0,
        "VmRSS is RssAnon + RssFile + RssShmem",
        format_args!("{rss} vs {anon} + {file} + {shmem}"),
        "equal",
    );
    let (size, peak, hwm) = (
        kb(text, "VmSize").unwrap_or(0),
        kb(text, "VmPeak").unwrap_or(0),
        kb(text, "VmHWM").unwrap_or(0),
    );
    t.check(
        peak >= size && hwm >= rss,
        "VmPeak >= VmSize and VmHWM >= VmRSS",
        format_args!("{peak} >= {size}, {hwm} >= {rss}"),
        "both",
    );

    // Map 256 pages: VmSize grows by exactly 1024 kB. Write them: VmRSS and RssAnon grow
    // by 1024 kB. Linux 5.10 batches each thread's RSS counts (synced every 64 faults),
    // so there the growth may fall short by up to 64 pages; we allow that much.
    const N: usize = 256;
    let Some(a) = guarded_mmap(N, RW) else {
        t.ok(false, "map 256 pages");
        return;
    };
    let after_map = slurp("/proc/self/status", bufs.b).unwrap_or("");
    let size2 = kb(after_map, "VmSize").unwrap_or(0);
    // The guards are in VmSize too.
    t.eq(
        "VmSize grows by the mapping (256 pages + 2 guard pages = 1032 kB)",
        size2 as i64 - size as i64,
        ((N + 2) * 4) as i64,
    );
    let rss1 = kb(after_map, "VmRSS").unwrap_or(0);
    let anon1 = kb(after_map, "RssAnon").unwrap_or(0);
    touch(a, N);
    let after_touch = slurp("/proc/self/status", bufs.a).unwrap_or("");
    let grow = kb(after_touch, "VmRSS").unwrap_or(0) as i64 - rss1 as i64;
    let grow_anon = kb(after_touch, "RssAnon").unwrap_or(0) as i64 - anon1 as i64;
    let want = (N * 4) as i64;
    let near = |g: i64| (want - 64 * 4..=want + 8 * 4).contains(&g);
    t.check(
        near(grow) && near(grow_anon),
        "writing 256 fresh pages grows VmRSS and RssAnon by 1024 kB (less up to 64 pages of Linux's batching)",
        format_args!("VmRSS +{grow} kB, RssAnon +{grow_anon} kB"),
        "+1024 kB",
    );
    munmap(a - P, (N + 2) * P);
}

/// pagemap: present, PFN, exclusive and file bits; holes; EINVAL for unaligned reads.
fn pagemap_rows(t: &mut Tap, root: bool) {
    let (Some(w), Some(r)) = (guarded_mmap(4, RW), guarded_mmap(4, RW)) else {
        t.ok(false, "map two 4-page regions");
        return;
    };
    poke(w, 1);
    peek(r);
    peek(r + 2 * P);
    let get = |a| pagemap("self", a).unwrap_or(0xdead);
    let (written, untouched, read0, read2) = (get(w), get(w + P), get(r), get(r + 2 * P));
    t.check(
        written & (PM_PRESENT | PM_MMAP_EXCLUSIVE | PM_FILE | PM_SWAP) == PM_PRESENT | PM_MMAP_EXCLUSIVE,
        "pagemap: a written anonymous page is present (bit 63), exclusively mapped (56), not file (61)",
        Pme(written),
        "bits 63 and 56",
    );
    let pfn = written & PM_PFRAME_MASK;
    t.check(
        if root { pfn != 0 } else { pfn == 0 },
        "pagemap: its PFN (bits 0-54) is shown to root only",
        Pme(written),
        if root { "a PFN" } else { "PFN 0" },
    );
    t.check(
        untouched & (PM_PRESENT | PM_SWAP | PM_PFRAME_MASK) == 0,
        "pagemap: an untouched page of the mapping is not present, PFN 0",
        Pme(untouched),
        "not present",
    );
    t.check(
        read0 & (PM_PRESENT | PM_MMAP_EXCLUSIVE | PM_FILE) == PM_PRESENT,
        "pagemap: a page only read is present (the zero page) but neither exclusive nor file",
        Pme(read0),
        "bit 63 only",
    );
    if root {
        t.check(
            read0 & PM_PFRAME_MASK == read2 & PM_PFRAME_MASK && read0 & PM_PFRAME_MASK != pfn,
            "pagemap: two pages only read map the same frame (the zero page), not the written one",
            format_args!("{} and {}", Pme(read0), Pme(read2)),
            "equal PFNs",
        );
        t.eq(
            "pagemap: the PFN is stable across reads",
            get(w) & PM_PFRAME_MASK,
            pfn,
        );
    }
    if root {
        // As another user. Linux makes a process that drops root undumpable (its /proc
        // files become root's); PR_SET_DUMPABLE gives them back (ENOSYS here is fine).
        let st = in_child(|| {
            if unsafe { syscall1(NR_SETUID, 65534) } != 0 {
                return 2;
            }
            unsafe { syscall3(NR_PRCTL, PR_SET_DUMPABLE, 1, 0) };
            match pagemap("self", w) {
                Ok(e) if e & PM_PRESENT != 0 && e & PM_PFRAME_MASK == 0 => 0,
                Ok(_) => 1,
                Err(_) => 3,
            }
        });
        t.exited(
            "pagemap: a reader that is not root sees the page present with PFN 0",
            st,
            0,
        );
    }
    let text = get(main as *const () as usize);
    t.check(
        text & (PM_PRESENT | PM_FILE) == PM_PRESENT | PM_FILE,
        "pagemap: the page of the running program text is present and a file page (bit 61)",
        Pme(text),
        "bits 63 and 61",
    );
    t.eq(
        "pagemap: an unmapped address reads as 0",
        get(unmapped_addr()),
        0,
    );

    let mut path = Small::of(format_args!("/proc/self/pagemap"));
    let fd = open(path.cstr(), O_RDONLY, 0) as i32;
    let mut two = [0u8; 16];
    t.ret(
        "pagemap: a 16-byte read gives two entries",
        pread(fd, &mut two, w / P * 8),
        16,
    );
    t.check(
        u64::from_ne_bytes(two[..8].try_into().unwrap()) == get(w)
            && u64::from_ne_bytes(two[8..].try_into().unwrap()) == untouched,
        "pagemap: entry i of a read is the page at (offset / 8 + i) * 4096",
        "different entries",
        "the single-entry reads",
    );
    t.err(
        "pagemap: a read at an offset not a multiple of 8 fails with EINVAL",
        pread(fd, &mut two[..8], w / P * 8 + 4),
        EINVAL,
    );
    t.err(
        "pagemap: a read of a length not a multiple of 8 fails with EINVAL",
        pread(fd, &mut two[..12], w / P * 8),
        EINVAL,
    );
    t.ret(
        "pagemap: a read beyond the address space returns 0 bytes",
        pread(fd, &mut two[..8], (1usize << 52) / P * 8),
        0,
    );
    close(fd);
    munmap(w - P, 6 * P);
    munmap(r - P, 6 * P);
}

/// vmstat: `name value` lines; pgfault counts a fault.
fn vmstat_rows(t: &mut Tap, bufs: &mut Bufs) {
    let first = match slurp("/proc/vmstat", bufs.a) {
        Ok(s) => s,
        Err(e) => {
            t.ret("/proc/vmstat can be read", e, 0);
            return;
        }
    };
    let bad = first.lines().find(|l| {
        !l.split_once(' ').is_some_and(|(k, v)| {
            !k.is_empty()
                && k.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
                && v.parse::<u64>().is_ok()
        })
    });
    t.check(
        bad.is_none() && first.starts_with("nr_free_pages "),
        "every /proc/vmstat line is `name value`, starting with nr_free_pages",
        format_args!("\"{}\"", bad.unwrap_or(first.lines().next().unwrap_or(""))),
        "all so",
    );
    let before = first
        .lines()
        .find_map(|l| l.strip_prefix("pgfault "))
        .and_then(|v| v.parse::<u64>().ok());
    let Some(a) = guarded_mmap(1, RW) else {
        return;
    };
    poke(a, 1);
    let after = slurp("/proc/vmstat", bufs.b)
        .unwrap_or("")
        .lines()
        .find_map(|l| l.strip_prefix("pgfault "))
        .and_then(|v| v.parse::<u64>().ok());
    t.check(
        matches!((before, after), (Some(b), Some(a)) if a > b),
        "pgfault in /proc/vmstat grows across a page fault",
        format_args!("{before:?} then {after:?}"),
        "an increase",
    );
    munmap(a - P, 3 * P);
}

/// A `name value` line of /proc/vmstat.
fn vmstat_value(text: &str, name: &str) -> Option<i64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == name).then(|| v.trim().parse().ok())?
    })
}

/// nr_anon_pages, nr_mapped and nr_shmem move as pages are mapped, and meminfo's
/// AnonPages, Mapped and Shmem say the same (within 1 MiB, for a busy Linux).
fn counter_rows(t: &mut Tap, bufs: &mut Bufs) {
    const N: usize = 64;
    let vm = |bufs: &mut Bufs, name: &str| {
        slurp("/proc/vmstat", bufs.a)
            .ok()
            .and_then(|s| vmstat_value(s, name))
            .unwrap_or(-1)
    };
    let anon0 = vm(bufs, "nr_anon_pages");
    let Some(a) = guarded_mmap(N, RW) else {
        return;
    };
    touch(a, N);
    let anon1 = vm(bufs, "nr_anon_pages");
    t.check(
        anon1 - anon0 >= N as i64,
        "nr_anon_pages grows by the anonymous pages written",
        anon1 - anon0,
        format_args!(">= {N}"),
    );
    munmap(a - P, (N + 2) * P);
    let anon2 = vm(bufs, "nr_anon_pages");
    t.check(
        anon1 - anon2 >= N as i64 - 8,
        "and drops when they are unmapped",
        anon1 - anon2,
        format_args!("about {N}"),
    );

    // A 16-page tmpfs file: shmem pages; mapped and read: mapped pages.
    let path = c"/tmp/proc_test.shm";
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600);
    if !t.success("create a tmpfs file", fd) {
        return;
    }
    let shmem0 = vm(bufs, "nr_shmem");
    let page = [1u8; 4096];
    for _ in 0..16 {
        write(fd as i32, &page);
    }
    let shmem1 = vm(bufs, "nr_shmem");
    t.check(
        shmem1 - shmem0 >= 16,
        "nr_shmem counts the tmpfs file's pages",
        shmem1 - shmem0,
        ">= 16",
    );
    let mapped0 = vm(bufs, "nr_mapped");
    let m = mmap(0, 16 * P, PROT_READ, MAP_SHARED, fd as i32, 0);
    if t.success("mmap the tmpfs file shared", m) {
        for i in 0..16 {
            peek(m as usize + i * P);
        }
        let mapped1 = vm(bufs, "nr_mapped");
        t.check(
            mapped1 - mapped0 >= 16,
            "nr_mapped counts its pages once mapped",
            mapped1 - mapped0,
            ">= 16",
        );
        // Agreement with meminfo while they are mapped.
        let vmstat: [i64; 3] = [
            vm(bufs, "nr_anon_pages"),
            vm(bufs, "nr_mapped"),
            vm(bufs, "nr_shmem"),
        ];
        let meminfo = slurp("/proc/meminfo", bufs.b).unwrap_or("");
        for (i, key) in ["AnonPages", "Mapped", "Shmem"].iter().enumerate() {
            let kb_val = kb(meminfo, key).map_or(-1, |v| v as i64);
            t.check(
                (kb_val - vmstat[i] * 4).abs() <= 1024,
                format_args!("meminfo {key} agrees with /proc/vmstat"),
                format_args!("{kb_val} kB vs {} pages", vmstat[i]),
                "the same",
            );
        }
        munmap(m as usize, 16 * P);
    }
    close(fd as i32);
    unlink(path);
    let shmem2 = vm(bufs, "nr_shmem");
    t.check(
        shmem1 - shmem2 >= 16,
        "nr_shmem drops when the file is removed",
        shmem1 - shmem2,
        ">= 16",
    );
}

/// meminfo: the fields in order, their padding, MemTotal >= MemFree.
fn meminfo_rows(t: &mut Tap, bufs: &mut Bufs) {
    let text = match slurp("/proc/meminfo", bufs.a) {
        Ok(s) => s,
        Err(e) => {
            t.ret("/proc/meminfo can be read", e, 0);
            return;
        }
    };
    t.check(
        text.starts_with("MemTotal:"),
        "/proc/meminfo starts with MemTotal",
        format_args!("\"{}\"", text.lines().next().unwrap_or("")),
        "MemTotal",
    );
    let missing = in_order(text, &MEMINFO_ORDER);
    t.check(
        missing.is_none(),
        "meminfo has MemTotal..Hugetlb in Linux's order",
        format_args!("{} missing or out of order", missing.unwrap_or("")),
        "all in order",
    );
    // `show_val_kb`: name and padding fill 16 columns, the value 8 (wider values push
    // the line longer), then ` kB`.
    let bad = text.lines().find(|l| {
        let Some(v) = l.strip_suffix(" kB") else {
            // HugePages_*: `%5lu` after a 19-column name.
            return !(l.len() == 24
                && l.starts_with("HugePages_")
                && l[19..].trim().parse::<u64>().is_ok());
        };
        let digits = v.len() - v.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let padded = if digits <= 8 {
            l.len() == 27
        } else {
            v.len() == 16 + digits
        };
        !(padded && digits > 0 && v[..v.len() - digits].ends_with(' '))
    });
    t.check(
        bad.is_none(),
        "meminfo lines are padded as Linux pads them (`MemTotal:       %8lu kB`)",
        format_args!("\"{}\"", bad.unwrap_or("")),
        "all",
    );
    let (total, free, avail) = (
        kb(text, "MemTotal").unwrap_or(0),
        kb(text, "MemFree").unwrap_or(u64::MAX),
        kb(text, "MemAvailable").unwrap_or(u64::MAX),
    );
    t.check(
        total > 0 && total >= free && total >= avail,
        "MemTotal >= MemFree and MemTotal >= MemAvailable",
        format_args!("{total}, {free}, {avail}"),
        "ordered",
    );
}

/// The directories list the files.
fn readdir_rows(t: &mut Tap, bufs: &mut Bufs) {
    let me = Small::of(format_args!("{}", getpid()));
    t.check(
        dir_has("/proc", &["self", "meminfo", "vmstat", me.as_str()], bufs.a) == Ok(true),
        "/proc lists self, meminfo, vmstat and our pid",
        "some missing",
        "all",
    );
    t.check(
        dir_has(
            "/proc/self",
            &["status", "maps", "smaps", "pagemap"],
            bufs.a,
        ) == Ok(true),
        "/proc/self lists status, maps, smaps and pagemap",
        "some missing",
        "all",
    );
}

/// Another process: a forked child's status, smaps (Pss halves shared pages) and pagemap
/// (the same frame until a copy-on-write), then its zombie's status.
fn child_rows(t: &mut Tap, bufs: &mut Bufs, root: bool) {
    const PAGES: usize = 16;
    const WRITTEN: usize = 4;
    let Some(b) = guarded_mmap(PAGES, RW) else {
        t.ok(false, "map 16 pages");
        return;
    };
    touch(b, WRITTEN);
    let pid = fork();
    if pid == 0 {
        sleep_ms(20_000);
        exit(0);
    }
    if !t.success("fork a child that sleeps", pid) {
        return;
    }
    let pid = pid as i32;
    let who = Small::of(format_args!("{pid}"));
    let path = Small::of(format_args!("/proc/{pid}/status"));
    match slurp(path.as_str(), bufs.a) {
        Ok(s) => {
            t.eq(
                "the child's status has Name proc_test",
                field(s, "Name").unwrap_or(""),
                "proc_test",
            );
            t.eq(
                "the child's status has its Pid",
                num(s, "Pid").unwrap_or(0),
                pid as u64,
            );
            t.eq(
                "the child's PPid is us",
                num(s, "PPid").unwrap_or(0),
                getpid() as u64,
            );
            let st = field(s, "State").unwrap_or("");
            t.check(
                st == "S (sleeping)" || st == "R (running)",
                "the child's State is S (sleeping) or R (running)",
                st,
                "S or R",
            );
            t.check(
                kb(s, "VmSize").is_some() && kb(s, "VmRSS").is_some_and(|r| r > 0),
                "the child's status has its memory lines",
                "missing",
                "VmSize and VmRSS",
            );
        }
        Err(e) => {
            t.ret("/proc/<child>/status can be read", e, 0);
        }
    }
    let wkb = (WRITTEN * 4) as u64;
    for (whose, path) in [
        ("our", Small::of(format_args!("/proc/self/smaps"))),
        ("the child's", Small::of(format_args!("/proc/{pid}/smaps"))),
    ] {
        let s = slurp(path.as_str(), bufs.a).unwrap_or("");
        let e = smaps_entry(s, b).unwrap_or("");
        let got = (
            kb(e, "Rss"),
            kb(e, "Pss"),
            kb(e, "Shared_Dirty"),
            kb(e, "Private_Dirty"),
        );
        t.check(
            got == (Some(wkb), Some(wkb / 2), Some(wkb), Some(0)),
            format_args!("after fork {whose} smaps shows the 4 written pages as shared: Rss 16, Pss 8, Shared_Dirty 16 kB"),
            format_args!("{got:?}"),
            "(16, 8, 16, 0)",
        );
    }
    let mine = pagemap("self", b).unwrap_or(0);
    let theirs = pagemap(who.as_str(), b).unwrap_or(0);
    t.check(
        mine & PM_PRESENT != 0
            && theirs & PM_PRESENT != 0
            && (mine | theirs) & PM_MMAP_EXCLUSIVE == 0
            && mine & PM_PFRAME_MASK == theirs & PM_PFRAME_MASK,
        "after fork parent and child map the same frame, exclusive in neither",
        format_args!("{} and {}", Pme(mine), Pme(theirs)),
        "same PFN, bit 56 clear",
    );
    poke(b, 2); // copy-on-write in the parent
    let mine2 = pagemap("self", b).unwrap_or(0);
    let theirs2 = pagemap(who.as_str(), b).unwrap_or(0);
    t.check(
        mine2 & PM_MMAP_EXCLUSIVE != 0 && theirs2 & PM_MMAP_EXCLUSIVE != 0,
        "after our write (copy-on-write) the page is exclusive on both sides",
        format_args!("{} and {}", Pme(mine2), Pme(theirs2)),
        "bit 56 in both",
    );
    if root {
        t.check(
            mine2 & PM_PFRAME_MASK != mine & PM_PFRAME_MASK
                && theirs2 & PM_PFRAME_MASK == theirs & PM_PFRAME_MASK,
            "the writer got a new frame; the child kept the old one",
            format_args!("{} / {}", Pme(mine2), Pme(theirs2)),
            "new PFN here, old PFN there",
        );
    }
    kill(pid, SIGKILL);
    let mut status = 0;
    let r = wait4(pid, Some(&mut status), 0);
    t.killed_by(
        "the sleeping child is killed",
        if r == pid as isize {
            Wstatus(status)
        } else {
            Wstatus(r as i32)
        },
        SIGKILL,
    );
    munmap(b - P, (PAGES + 2) * P);

    // A zombie has no address space: State Z, no memory lines; reaped, it is gone.
    let pid = fork();
    if pid == 0 {
        exit(0);
    }
    if !t.success("fork a child that exits at once", pid) {
        return;
    }
    let pid = pid as i32;
    let path = Small::of(format_args!("/proc/{pid}/status"));
    let mut zombie = false;
    let mut vm_lines = true;
    for _ in 0..300 {
        if let Ok(s) = slurp(path.as_str(), bufs.a) {
            if field(s, "State") == Some("Z (zombie)") {
                zombie = true;
                vm_lines = field(s, "VmSize").is_some() || field(s, "VmRSS").is_some();
                break;
            }
        }
        sleep_ms(10);
    }
    t.ok(zombie, "an exited, unreaped child's State is Z (zombie)");
    t.ok(
        !vm_lines,
        "a zombie's status has no Vm lines (it has no mm)",
    );
    wait4(pid, None, 0);
    let mut p = Small::of(format_args!("/proc/{pid}/status"));
    t.err(
        "a reaped child's /proc/<pid>/status is gone",
        open(p.cstr(), O_RDONLY, 0),
        ENOENT,
    );
}

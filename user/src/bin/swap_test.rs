//! swap_test: swapon(2) and swapoff(2) as the man page and Linux 5.10's `mm/swapfile.c`
//! (`sys_swapon`, `claim_swapfile`, `read_swap_header`, `sys_swapoff`, `swap_show`) give
//! them, seen through their return values, /proc/swaps, /proc/meminfo and
//! /proc/partitions. Run as root with a 16 MiB swap disk as /dev/vdb (the same binary
//! passes on Linux arm64 with such a disk, the root file system on /dev/vda).
//!
//! `swap_test` (an image made by xtask's own header writer): the errno rows, turning swap
//! on and off, priorities. `swap_test nosig` (a disk of zeroes): swapon is EINVAL.
//! `swap_test mkswap` (an image made by the host's mkswap): swapon accepts it.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::procfs::read_file;
use ulib::*;

/// /proc/swaps with no area.
const HEADER: &str = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
/// 16 MiB = 4096 pages, less the header page, in KiB.
const SIZE_KB: i64 = 16380;

fn text<'a>(path: &core::ffi::CStr, buf: &'a mut [u8]) -> &'a str {
    let n = read_file(path, buf).unwrap_or(0);
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// A /proc/meminfo value in kB (-1 when the line is missing).
fn meminfo(key: &str) -> i64 {
    let mut buf = [0u8; 4096];
    let t = text(c"/proc/meminfo", &mut buf);
    t.lines()
        .find(|l| l.starts_with(key))
        .and_then(|line| line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(-1)
}

/// The /proc/swaps line of a 16 MiB /dev/vdb with priority `prio` and nothing used.
fn swaps_line(prio: i32, buf: &mut [u8; 256]) -> &str {
    let mut w = Buf { buf, len: 0 };
    let _ = core::fmt::write(
        &mut w,
        format_args!(
            "{HEADER}/dev/vdb{:32}partition\t{SIZE_KB}\t\t0\t\t{prio}\n",
            ""
        ),
    );
    let len = w.len;
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}

struct Buf<'a> {
    buf: &'a mut [u8; 256],
    len: usize,
}

impl core::fmt::Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(core::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn check_swaps(t: &mut Tap, what: &str, want: &str) {
    let mut buf = [0u8; 1024];
    let got = text(c"/proc/swaps", &mut buf);
    t.check(got == want, what, format_args!("{got:?}"), format_args!("{want:?}"));
}

/// The errno rows that do not need a valid swap disk.
fn errno_rows(t: &mut Tap) {
    t.err(
        "swapon of a path that does not exist is ENOENT",
        swapon(c"/no/such/dev", 0),
        ENOENT,
    );
    t.err(
        "swapon of a character device (/dev/console) is EINVAL",
        swapon(c"/dev/console", 0),
        EINVAL,
    );
    t.err(
        "swapon with an unknown flag (0x80000) is EINVAL",
        swapon(c"/dev/vdb", 0x80000),
        EINVAL,
    );
    t.err(
        "swapon of the disk the root file system is mounted from is EBUSY",
        swapon(c"/dev/vda", 0),
        EBUSY,
    );
    let st = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 10;
        }
        if swapon(c"/dev/vdb", 0) != -(EPERM as isize) {
            return 11;
        }
        if swapoff(c"/dev/vdb") != -(EPERM as isize) {
            return 12;
        }
        0
    });
    t.exited(
        "as uid 1000, swapon and swapoff are EPERM (no CAP_SYS_ADMIN)",
        st,
        0,
    );
    t.err(
        "swapoff of a path that does not exist is ENOENT",
        swapoff(c"/no/such/dev"),
        ENOENT,
    );
    t.err(
        "swapoff of a device that is not swap is EINVAL",
        swapoff(c"/dev/console"),
        EINVAL,
    );
}

fn partitions_row(t: &mut Tap) {
    let mut buf = [0u8; 1024];
    let p = text(c"/proc/partitions", &mut buf);
    t.ok(
        p.starts_with("major minor  #blocks  name\n\n"),
        "/proc/partitions starts with Linux's header and a blank line",
    );
    t.ok(
        p.lines().any(|l| l == " 254       16      16384 vdb"),
        "/proc/partitions lists vdb as 254:16 with 16384 1K-blocks",
    );
    t.ok(
        p.lines().any(|l| l.starts_with(" 254        0 ") && l.ends_with(" vda")),
        "/proc/partitions lists the root disk as vda, 254:0",
    );
}

/// Swap on and off on the 16 MiB disk of our own header writer.
fn on_off_rows(t: &mut Tap) {
    let mut line = [0u8; 256];
    check_swaps(t, "/proc/swaps has only its header before swapon", HEADER);
    t.eq("SwapTotal before swapon", meminfo("SwapTotal:"), 0);
    t.ret("swapon(\"/dev/vdb\", 0) turns swap on", swapon(c"/dev/vdb", 0), 0);
    check_swaps(
        t,
        "/proc/swaps: /dev/vdb, partition, 16380 KiB, 0 used, priority -2",
        swaps_line(-2, &mut line),
    );
    t.eq("SwapTotal after swapon", meminfo("SwapTotal:"), SIZE_KB);
    t.eq("SwapFree after swapon", meminfo("SwapFree:"), SIZE_KB);
    t.eq("SwapCached", meminfo("SwapCached:"), 0);
    t.err(
        "swapon of an active swap device is EBUSY",
        swapon(c"/dev/vdb", 0),
        EBUSY,
    );
    t.ret("swapoff(\"/dev/vdb\") turns it off", swapoff(c"/dev/vdb"), 0);
    check_swaps(t, "/proc/swaps is empty again after swapoff", HEADER);
    t.eq("SwapTotal after swapoff", meminfo("SwapTotal:"), 0);
    t.eq("SwapFree after swapoff", meminfo("SwapFree:"), 0);
    t.err(
        "swapoff of a device that is no longer swap is EINVAL",
        swapoff(c"/dev/vdb"),
        EINVAL,
    );
    // Priorities: SWAP_FLAG_PREFER sets one; discard is accepted.
    t.ret(
        "swapon with SWAP_FLAG_PREFER | 7 | SWAP_FLAG_DISCARD",
        swapon(c"/dev/vdb", SWAP_FLAG_PREFER | 7 | SWAP_FLAG_DISCARD),
        0,
    );
    check_swaps(t, "/proc/swaps shows priority 7", swaps_line(7, &mut line));
    t.ret("swapoff", swapoff(c"/dev/vdb"), 0);
    // The default priority given back at swapoff: the next default one is -2 again.
    t.ret("swapon again with the default priority", swapon(c"/dev/vdb", 0), 0);
    check_swaps(
        t,
        "/proc/swaps shows priority -2 again (swapoff gave -2 back)",
        swaps_line(-2, &mut line),
    );
    t.ret("swapoff", swapoff(c"/dev/vdb"), 0);
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut t = Tap::new("swap_test");
    if getuid() != 0 {
        t.ok(false, "swap_test runs as root (uid 0)");
        return t.finish();
    }
    match args.get(1).unwrap_or("") {
        "nosig" => {
            t.err(
                "swapon of a disk without the SWAPSPACE2 signature is EINVAL",
                swapon(c"/dev/vdb", 0),
                EINVAL,
            );
            check_swaps(&mut t, "/proc/swaps stays empty", HEADER);
            t.eq("SwapTotal stays 0", meminfo("SwapTotal:"), 0);
        }
        "mkswap" => {
            let mut line = [0u8; 256];
            t.ret(
                "swapon of an image made by the host's mkswap",
                swapon(c"/dev/vdb", 0),
                0,
            );
            check_swaps(
                &mut t,
                "/proc/swaps: 16380 KiB, priority -2",
                swaps_line(-2, &mut line),
            );
            t.eq("SwapTotal", meminfo("SwapTotal:"), SIZE_KB);
            t.ret("swapoff", swapoff(c"/dev/vdb"), 0);
        }
        _ => {
            errno_rows(&mut t);
            partitions_row(&mut t);
            on_off_rows(&mut t);
        }
    }
    t.finish()
}

//! hwpoison_test: MADV_HWPOISON and the SIGBUS a poisoned page gives (CONFIG_MEMORY_FAILURE).
//! LTP's madvise07 flow first (a child poisons one anonymous page it wrote, then writes it
//! again and must die of SIGBUS), then what Linux 5.10 does around it: the siginfo
//! (BUS_MCEERR_AR, si_addr, si_addr_lsb = PAGE_SHIFT), EPERM without CAP_SYS_ADMIN, a page
//! shared with a forked child (both die on touch, the neighbours keep their data, a
//! grandchild forked afterwards inherits the poison), read(2) into the page (EFAULT),
//! mincore, /proc/self/pagemap (a swap-type entry of type 31 naming the pfn),
//! /proc/kpageflags (KPF_HWPOISON), /proc/meminfo HardwareCorrupted, mremap and mprotect
//! keeping the poison, MADV_DONTNEED dropping it (a fresh zero page), munmap, a second
//! MADV_HWPOISON of the same address (EFAULT: gup without FOLL_HWPOISON), and an mlocked
//! page (poisoned all the same, no longer Mlocked, not in VmSwap).
//!
//! Written from Linux's `mm/memory-failure.c`, `mm/madvise.c` and arm64's `do_page_fault`,
//! so it passes on Linux arm64 5.10 with CONFIG_MEMORY_FAILURE as root.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::procfs::{kpageflags_of, meminfo_kb, pagemap_of, read_u64};
use ulib::signal::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const RW: usize = PROT_READ | PROT_WRITE;
const MADV_HWPOISON: usize = 100;
const MADV_SOFT_OFFLINE: usize = 101;
/// si_code of a memory error the access consumed (Linux: `BUS_MCEERR_AR`).
const BUS_MCEERR_AR: i32 = 4;
/// /proc/kpageflags bit of a poisoned frame.
const KPF_HWPOISON: u32 = 19;
/// /proc/<pid>/pagemap: "swapped" (a swap-type entry).
const PM_SWAP: u64 = 1 << 62;
/// The swap type of a hwpoison entry (Linux: SWP_HWPOISON = MAX_SWAPFILES).
const SWP_HWPOISON: u64 = 31;

/// One private anonymous page (or more), written with `fill`.
fn map_filled(pages: usize, fill: u8) -> usize {
    let a = mmap_anon(pages * P);
    assert!(a > 0, "mmap failed");
    let a = a as usize;
    for i in 0..pages {
        // SAFETY: inside the fresh read-write mapping.
        unsafe { core::ptr::write_bytes((a + i * P) as *mut u8, fill + i as u8, P) };
    }
    a
}

/// Does the page at `a` still hold `fill` in every byte?
fn holds(a: usize, fill: u8) -> bool {
    // SAFETY: the caller passes a mapped, readable page.
    let s = unsafe { core::slice::from_raw_parts(a as *const u8, P) };
    s.iter().all(|&b| b == fill)
}

/// What the SIGBUS handler saw: si_code, si_addr, si_addr_lsb.
static mut SEEN: (i32, usize, u16) = (0, 0, 0);
/// Where the handler child touched.
static mut WANT: usize = 0;

extern "C" fn on_sigbus(_sig: i32, info: *mut Siginfo, _uc: *mut Ucontext) {
    // SAFETY: the kernel passes a valid siginfo_t; si_addr_lsb is the short at offset 24.
    let (code, addr, lsb) = unsafe {
        let lsb = *((info as *const u8).add(24) as *const u16);
        ((*info).si_code, (*info).si_addr, lsb)
    };
    // SAFETY: one thread; the handler runs once and exits.
    let want = unsafe { WANT };
    let bad =
        (code != BUS_MCEERR_AR) as i32 | ((addr != want) as i32) << 1 | ((lsb != 12) as i32) << 2;
    // SAFETY: as above.
    unsafe { SEEN = (code, addr, lsb) };
    // Returning would fault again: leave with what we saw.
    exit(10 + bad);
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("hwpoison_test");
    let hc0 = meminfo_kb("HardwareCorrupted");
    t.ok(hc0.is_some(), "/proc/meminfo has a HardwareCorrupted line");
    let hc0 = hc0.unwrap_or(0);

    // LTP madvise07: the child writes its page, poisons it, writes again.
    t.killed_by(
        "madvise07: writing a page after MADV_HWPOISON kills the child with SIGBUS",
        in_child(|| {
            let a = map_filled(1, b'a');
            let r = madvise(a, P, MADV_HWPOISON);
            if r != 0 {
                return 100 + (-r) as i32;
            }
            poke(a, 1);
            0
        }),
        SIGBUS,
    );
    t.eq(
        "HardwareCorrupted grows by 4 kB for the poisoned page",
        meminfo_kb("HardwareCorrupted").unwrap_or(0),
        hc0 + 4,
    );

    t.exited(
        "the SIGBUS handler sees si_code BUS_MCEERR_AR, si_addr of the touched byte, si_addr_lsb 12",
        in_child(|| {
            let a = map_filled(1, b'b');
            sigaction(SIGBUS, on_sigbus, SA_SIGINFO, 0);
            if madvise(a, P, MADV_HWPOISON) != 0 {
                return 1;
            }
            // SAFETY: one thread; the handler reads it.
            unsafe { WANT = a + 123 };
            peek(a + 123) as i32
        }),
        10,
    );

    t.exited(
        "MADV_HWPOISON without CAP_SYS_ADMIN (uid 65534) fails with EPERM, the page intact",
        in_child(|| {
            let a = map_filled(1, b'c');
            if setresuid(65534, 65534, 65534) != 0 {
                return 1;
            }
            let r = madvise(a, P, MADV_HWPOISON);
            if r != -(EPERM as isize) {
                return 2;
            }
            if !holds(a, b'c') {
                return 3;
            }
            0
        }),
        0,
    );

    t.err(
        "MADV_SOFT_OFFLINE fails with EINVAL (no page migration here)",
        in_child_ret(|a| madvise(a, P, MADV_SOFT_OFFLINE)),
        EINVAL,
    );
    t.err(
        "MADV_HWPOISON of an unmapped address fails with EFAULT",
        madvise(unmapped_addr(), P, MADV_HWPOISON),
        EFAULT,
    );

    t.exited(
        "a page shared with a forked child: each dies touching it, the neighbours keep their data",
        in_child(shared_with_child),
        0,
    );

    t.exited(
        "read(2) into a poisoned buffer fails with EFAULT; write(2) from it too",
        in_child(|| {
            let a = map_filled(1, b'd');
            if madvise(a, P, MADV_HWPOISON) != 0 {
                return 1;
            }
            let mut fds = [0i32; 2];
            if pipe2(&mut fds, 0) != 0 {
                return 2;
            }
            if write(fds[1], b"0123456789") != 10 {
                return 3;
            }
            // SAFETY: the kernel must refuse to touch the poisoned page, not us.
            let buf = unsafe { core::slice::from_raw_parts_mut(a as *mut u8, 10) };
            if read(fds[0], buf) != -(EFAULT as isize) {
                return 4;
            }
            if write(fds[1], buf) != -(EFAULT as isize) {
                return 5;
            }
            0
        }),
        0,
    );

    t.exited(
        "mincore, pagemap, kpageflags and a second MADV_HWPOISON see the poisoned page",
        in_child(proc_views),
        0,
    );

    t.exited(
        "mprotect and mremap keep the poison; MADV_DONTNEED drops it; munmap of it works",
        in_child(moves),
        0,
    );

    let mlocked0 = meminfo_kb("Mlocked").unwrap_or(0);
    t.exited(
        "an mlocked page is poisoned too (SIGBUS on touch), and no longer counts as Mlocked",
        in_child(move || {
            let a = map_filled(1, b'L');
            if mlock(a, P) != 0 {
                return 1;
            }
            if meminfo_kb("Mlocked").unwrap_or(0) != mlocked0 + 4 {
                return 2;
            }
            if madvise(a, P, MADV_HWPOISON) != 0 {
                return 3;
            }
            if meminfo_kb("Mlocked").unwrap_or(0) != mlocked0 {
                return 4;
            }
            // Not swapped: VmSwap counts swap slots only.
            if vm_swap_kb() != 0 {
                return 5;
            }
            let st = in_child(|| peek(a) as i32);
            if !(st.signaled() && st.term_sig() == SIGBUS) {
                return 6;
            }
            if munlock(a, P) != 0 || munmap(a, P) != 0 {
                return 7;
            }
            0
        }),
        0,
    );

    t.killed_by(
        "a tmpfs page (MAP_SHARED, LTP madvise01): poisoned, its neighbours intact, the file has a hole there, SIGBUS on touch",
        in_child(tmpfs_page),
        SIGBUS,
    );
    t.success("unlink the tmpfs file", unsafe {
        syscall3(
            35,
            -100isize as usize,
            c"/tmp/hwpoison_file".as_ptr() as usize,
            0,
        )
    });
    t.exited(
        "a clean page of a disk file (/bin/cat): poisoned and dropped, the next read maps the file's data again",
        in_child(disk_file_page),
        0,
    );

    t.eq(
        "HardwareCorrupted counts every page poisoned here (10), in kB",
        meminfo_kb("HardwareCorrupted").unwrap_or(0),
        hc0 + 10 * 4,
    );
    t.finish()
}

/// /proc/self/status `VmSwap`, in kB.
fn vm_swap_kb() -> u64 {
    ulib::procfs::status_kb("VmSwap").unwrap_or(u64::MAX)
}

/// Run `f` on a fresh page in a child and return its madvise result (exit code = -ret).
fn in_child_ret(f: impl FnOnce(usize) -> isize) -> isize {
    let st = in_child(|| {
        let a = map_filled(1, b'e');
        -(f(a) as i32)
    });
    if st.exited() {
        -(st.exit_status() as isize)
    } else {
        -1000
    }
}

/// Three pages; fork a child that waits; poison the middle one; both sides check.
fn shared_with_child() -> i32 {
    let a = map_filled(3, b'A');
    let mut fds = [0i32; 2];
    if pipe2(&mut fds, 0) != 0 {
        return 1;
    }
    let pid = fork();
    if pid == 0 {
        let mut b = [0u8; 1];
        if read(fds[0], &mut b) != 1 {
            exit(20);
        }
        if !holds(a, b'A') || !holds(a + 2 * P, b'C') {
            exit(21);
        }
        let st = in_child(|| peek(a + P) as i32);
        exit(if st.signaled() && st.term_sig() == SIGBUS {
            0
        } else {
            22
        });
    }
    if madvise(a + P, P, MADV_HWPOISON) != 0 {
        return 2;
    }
    if write(fds[1], b"x") != 1 {
        return 3;
    }
    let mut status = 0;
    if wait4(pid as i32, Some(&mut status), 0) != pid {
        return 4;
    }
    if status != 0 {
        return 5 + ((status >> 8) & 0xff);
    }
    if !holds(a, b'A') || !holds(a + 2 * P, b'C') {
        return 6;
    }
    // A grandchild forked now inherits the poisoned entry (copy_page_range).
    let st = in_child(|| {
        poke(a + P, 1);
        0
    });
    if !(st.signaled() && st.term_sig() == SIGBUS) {
        return 7;
    }
    // And so do we.
    let st = in_child(|| peek(a + P) as i32);
    if !(st.signaled() && st.term_sig() == SIGBUS) {
        return 8;
    }
    0
}

/// What /proc and mincore say about a poisoned page, and a second poisoning.
fn proc_views() -> i32 {
    let a = map_filled(1, b'f');
    let before = pagemap_of(a);
    if before >> 63 == 0 {
        return 1;
    }
    let pfn = before & ((1 << 55) - 1);
    if madvise(a, P, MADV_HWPOISON) != 0 {
        return 2;
    }
    let mut v = [0u8; 1];
    if mincore(a, P, v.as_mut_ptr()) != 0 || v[0] & 1 != 1 {
        return 3; // Linux: hwpoison entries are "always uptodate"
    }
    let after = pagemap_of(a);
    if after & PM_SWAP == 0 || after >> 63 != 0 {
        return 4;
    }
    if after & 0x1f != SWP_HWPOISON || (after & ((1 << 55) - 1)) >> 5 != pfn {
        return 5;
    }
    match read_u64(c"/proc/kpageflags", pfn as usize * 8) {
        Some(f) if f & (1 << KPF_HWPOISON) != 0 => {}
        _ => return 6,
    }
    // Still read through the mapping: the page is gone from it.
    if kpageflags_of(a) != 0 {
        return 7;
    }
    // The address faults now: gup fails (EFAULT; EHWPOISON only with FOLL_HWPOISON).
    if madvise(a, P, MADV_HWPOISON) != -(EFAULT as isize) {
        return 8;
    }
    if munmap(a, P) != 0 {
        return 9;
    }
    0
}

/// mprotect / mremap carry the entry along; MADV_DONTNEED zaps it (Linux's zap_pte_range
/// clears a hwpoison entry like any other), so the next touch is a new zero page.
fn moves() -> i32 {
    let a = map_filled(2, b'M');
    if madvise(a, P, MADV_HWPOISON) != 0 {
        return 1;
    }
    if mprotect(a, 2 * P, PROT_READ) != 0 || mprotect(a, 2 * P, RW) != 0 {
        return 2;
    }
    let st = in_child(|| peek(a) as i32);
    if !(st.signaled() && st.term_sig() == SIGBUS) {
        return 3;
    }
    // Move both pages onto a mapping of our own (MREMAP_MAYMOVE | MREMAP_FIXED).
    let dst = mmap_anon(2 * P);
    if dst <= 0 {
        return 4;
    }
    let b = mremap(a, 2 * P, 2 * P, 3, dst as usize);
    if b != dst {
        return 4;
    }
    let b = b as usize;
    if !holds(b + P, b'N') {
        return 5;
    }
    let st = in_child(|| peek(b) as i32);
    if !(st.signaled() && st.term_sig() == SIGBUS) {
        return 6;
    }
    if madvise(b, P, MADV_DONTNEED) != 0 {
        return 7;
    }
    if peek(b) != 0 {
        return 8; // a new zero page
    }
    if madvise(b + P, P, MADV_HWPOISON) != 0 {
        return 9;
    }
    if munmap(b, 2 * P) != 0 {
        return 10;
    }
    0
}

/// A tmpfs file's page, mapped shared: `memory_failure` takes it out of the file
/// (`generic_error_remove_page`), the mapping gets a hwpoison entry. 5.10 leaves a hole,
/// so read(2) there sees zeros. Returns only if the final touch does not kill us.
fn tmpfs_page() -> i32 {
    const O_RDWR: usize = 2;
    const O_CREAT: usize = 0o100;
    let fd = open(c"/tmp/hwpoison_file", O_RDWR | O_CREAT, 0o600);
    if fd < 0 {
        return 1;
    }
    let fd = fd as i32;
    let page = [b'T'; P];
    for _ in 0..3 {
        if write(fd, &page) != P as isize {
            return 2;
        }
    }
    let a = mmap(0, 3 * P, 3, 1, fd, 0); // PROT_READ|PROT_WRITE, MAP_SHARED
    if a < 0 {
        return 3;
    }
    let a = a as usize;
    if peek(a + P) != b'T' {
        return 4;
    }
    if madvise(a + P, P, MADV_HWPOISON) != 0 {
        return 5;
    }
    if peek(a) != b'T' || peek(a + 2 * P + P - 1) != b'T' {
        return 7;
    }
    let mut buf = [0xffu8; 16];
    // pread64 at the poisoned page's offset: a hole now.
    let r = unsafe { syscall4(67, fd as usize, buf.as_mut_ptr() as usize, 16, P + 100) };
    if r != 16 || buf.iter().any(|&b| b != 0) {
        return 8;
    }
    // Last: our own touch of the poisoned page (a fork child would not do: it does not
    // inherit a shared file mapping's PTEs, and would fault the hole in afresh).
    peek(a + P + 5) as i32
}

/// A clean page-cache page of a file on the root disk: it can be read again, so
/// `hwpoison_user_mappings` only clears the PTEs (TTU_IGNORE_HWPOISON) and the next touch
/// faults the file's data back in, from a new frame.
fn disk_file_page() -> i32 {
    let fd = open(c"/bin/cat", 0, 0);
    if fd < 0 {
        return 1;
    }
    let a = mmap(0, P, 1, 2, fd as i32, 0); // PROT_READ, MAP_PRIVATE
    if a < 0 {
        return 2;
    }
    let a = a as usize;
    let magic = [peek(a), peek(a + 1), peek(a + 2), peek(a + 3)];
    if magic != *b"\x7fELF" {
        return 3;
    }
    if madvise(a, P, MADV_HWPOISON) != 0 {
        return 4;
    }
    let again = [peek(a), peek(a + 1), peek(a + 2), peek(a + 3)];
    if again != magic {
        return 5;
    }
    if munmap(a, P) != 0 || close(fd as i32) != 0 {
        return 6;
    }
    0
}

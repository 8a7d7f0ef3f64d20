//! coredump_test: a process killed by SIGSEGV leaves an ELF core file when RLIMIT_CORE
//! allows it: named by /proc/sys/kernel/core_pattern (`%p`: the pid), holding its
//! anonymous memory as PT_LOAD segments and its signal in an NT_PRSTATUS note, without
//! what MADV_DONTDUMP excluded or what /proc/self/coredump_filter leaves out; the wait
//! status's core bit says whether a core was written. What LTP's madvise08 checks.
//!
//! Linux: `fs/coredump.c` (`do_coredump`, `format_corename`), `fs/binfmt_elf.c`
//! (`elf_core_dump`, `vma_dump_size`).
#![no_std]
#![no_main]
use ulib::*;

const RLIMIT_CORE: usize = 4;
const MADV_DONTDUMP: usize = 16;

fn write_file(path: &core::ffi::CStr, text: &[u8]) -> bool {
    let fd = open(path, O_WRONLY, 0) as i32;
    let ok = fd >= 0 && write(fd, text) == text.len() as isize;
    close(fd);
    ok
}

/// Fill `len` bytes at `at` with 'x', then 'y's, then 'z': a sequence to look for.
fn pattern(at: usize, len: usize, y: u8) {
    poke(at, b'x');
    for i in 1..len - 1 {
        poke(at + i, y);
    }
    poke(at + len - 1, b'z');
}

/// Read the whole core file into `buf` (up to its size); the bytes read.
fn read_core(path: &core::ffi::CStr, buf: &mut [u8]) -> usize {
    let fd = open(path, O_RDONLY, 0) as i32;
    if fd < 0 {
        return 0;
    }
    let mut n = 0;
    while n < buf.len() {
        let r = read(fd, &mut buf[n..]);
        if r <= 0 {
            break;
        }
        n += r as usize;
    }
    close(fd);
    n
}

/// Does `hay` hold 'x', `count` times `y`, 'z'?
fn has_sequence(hay: &[u8], y: u8, count: usize) -> bool {
    hay.windows(count + 2)
        .any(|w| w[0] == b'x' && w[count + 1] == b'z' && w[1..=count].iter().all(|&c| c == y))
}

fn crash_child(region: usize, dontdump: usize, filter: Option<&[u8]>) -> (i32, Wstatus) {
    let pid = fork();
    if pid == 0 {
        if let Some(f) = filter {
            write_file(c"/proc/self/coredump_filter", f);
        }
        madvise(dontdump, PAGE_SIZE, MADV_DONTDUMP);
        let _ = region;
        poke(0x10, 1); // SIGSEGV: the default action dumps core
        exit(9);
    }
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    (pid as i32, Wstatus(st))
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("coredump_test");
    let mut buf = [0u8; 32];
    let n = ulib::procfs::read_file(c"/proc/self/coredump_filter", &mut buf).unwrap_or(0);
    t.ok(&buf[..n] == b"00000033\n", "/proc/self/coredump_filter reads 00000033");

    let region = mmap_anon(2 * PAGE_SIZE) as usize;
    pattern(region, 300, b'y');
    let hidden = mmap_anon(PAGE_SIZE) as usize;
    pattern(hidden, 300, b'q');

    // RLIMIT_CORE is 0 by default (soft), as in Linux: no core, no core bit.
    write_file(c"/proc/sys/kernel/core_pattern", b"/tmp/core.%p");
    let (pid, st) = crash_child(region, hidden, None);
    t.killed_by("SIGSEGV with RLIMIT_CORE 0", st, 11);
    t.ok(!st.core_dump(), "... no core dumped");
    let mut name = [0u8; 32];
    let path = fmt_path(&mut name, pid);
    t.err("... and no file", open(path, O_RDONLY, 0), errno::ENOENT);

    let lim = Rlimit { rlim_cur: u64::MAX, rlim_max: u64::MAX };
    prlimit64(RLIMIT_CORE, Some(&lim), None);
    let (pid, st) = crash_child(region, hidden, None);
    t.ok(st.signaled() && st.term_sig() == 11 && st.core_dump(), "RLIMIT_CORE unlimited: killed by SIGSEGV, core dumped");
    let path = fmt_path(&mut name, pid);
    let mut head = [0u8; 16384];
    let n = read_core(path, &mut head);
    let c = &head[..n];
    t.ok(n > 64 && c[..4] == *b"\x7fELF" && c[16] == 4 && c[18] == 183, "/tmp/core.PID is an ELF core file for AArch64 (ET_CORE, EM_AARCH64)");
    let note_off = if n > 128 { u64_at(c, 64 + 8) as usize } else { 0 };
    let signo = if note_off + 24 <= n { u32_at(c, note_off + 20) } else { 0 };
    t.ok(n > 128 && u32_at(c, 64) == 4 && u32_at(c, note_off + 8) == 1 && signo == 11, "its PT_NOTE's NT_PRSTATUS names SIGSEGV");
    let (off, filesz) = load_of(c, region);
    let mut page = [0u8; 400];
    let fd = open(path, O_RDONLY, 0) as i32;
    let got = pread(fd, &mut page, off);
    close(fd);
    t.ok(filesz == 2 * PAGE_SIZE && got == 400 && has_sequence(&page, b'y', 298), "the anonymous memory is in it, at its PT_LOAD's offset");
    t.eq("the MADV_DONTDUMP page's PT_LOAD has no bytes in the file", load_of(c, hidden).1, 0);
    unlink(path);

    // coredump_filter 0: no anonymous memory at all.
    let (pid, st) = crash_child(region, hidden, Some(b"0x0\n"));
    let path = fmt_path(&mut name, pid);
    let n = read_core(path, &mut head);
    t.ok(st.core_dump() && n > 64 && load_of(&head[..n], region).1 == 0, "coredump_filter 0: a core without the anonymous memory");
    unlink(path);

    // A dump of 64 GiB of untouched memory walks hole after hole: the CPU stays ours to
    // share, and SIGKILL ends the dump (no core bit).
    let pid = fork();
    if pid == 0 {
        let huge = mmap(0, 64 << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if huge < 0 {
            exit(2);
        }
        poke(0x10, 1);
        exit(9);
    }
    sleep_ms(300); // the parent runs while the child's dump is going on
    kill(pid as i32, 9);
    let mut s = 0;
    wait4(pid as i32, Some(&mut s), 0);
    let st = Wstatus(s);
    t.ok(st.signaled() && !st.core_dump(), "a dump of 64 GiB of holes yields the CPU and SIGKILL stops it");
    unlink(fmt_path(&mut name, pid as i32));

    // An existing file is not overwritten (O_EXCL): no core.
    write_file(c"/proc/sys/kernel/core_pattern", b"/tmp/core.fixed");
    let fd = open(c"/tmp/core.fixed", O_RDWR | O_CREAT, 0o600);
    close(fd as i32);
    let (_, st) = crash_child(region, hidden, None);
    t.ok(st.signaled() && !st.core_dump(), "an existing file is left alone: no core bit");
    unlink(c"/tmp/core.fixed");
    write_file(c"/proc/sys/kernel/core_pattern", b"core");
    t.finish()
}

fn u64_at(c: &[u8], o: usize) -> u64 {
    c.get(o..o + 8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

fn u32_at(c: &[u8], o: usize) -> u32 {
    c.get(o..o + 4).map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
}

/// The file offset and size of the PT_LOAD that starts at `vaddr` ((0, usize::MAX): none).
fn load_of(c: &[u8], vaddr: usize) -> (usize, usize) {
    let phnum = c.get(56..58).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize);
    for i in 0..phnum {
        let p = 64 + 56 * i;
        if u32_at(c, p) == 1 && u64_at(c, p + 16) as usize == vaddr {
            return (u64_at(c, p + 8) as usize, u64_at(c, p + 32) as usize);
        }
    }
    (0, usize::MAX)
}

/// "/tmp/core.PID" as a C string in `buf`.
fn fmt_path(buf: &mut [u8; 32], pid: i32) -> &core::ffi::CStr {
    let prefix = b"/tmp/core.";
    buf.fill(0);
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 12];
    let mut n = 0;
    let mut v = pid as u32;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        buf[prefix.len() + i] = digits[n - 1 - i];
    }
    core::ffi::CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/tmp/core.0")
}

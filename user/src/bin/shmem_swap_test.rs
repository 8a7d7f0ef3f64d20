//! shmem_swap_test: tmpfs pages out to the swap disk and back (issue 10, item 5), checked
//! from user space. Run at `--memory 64M` with a swap disk as /dev/vdb: the test turns
//! swap on itself, mounts a tmpfs with `size=200%` (the default, half of RAM, as on
//! Linux, could not hold it), writes a file of 1.5x RAM there with write(2) and fills a
//! MAP_SHARED|MAP_ANONYMOUS region of 1x RAM, so reclaim must send tmpfs pages to swap
//! (`shmem_writepage`); then reads everything back through read(2) and through mappings
//! (`shmem_swapin_page`), pages a shared range out with MADV_PAGEOUT, unlinks the file
//! (its slots come free), and turns swap off with a small shared region still out
//! (`shmem_unuse`): ENOMEM while the big region does not fit, success once it is gone.
#![no_std]
#![no_main]
use ulib::procfs::{meminfo_kb, pagemap_of, vmstat};
use ulib::pattern::{check, check_at, fill, fill_at};
use ulib::*;

const P: usize = 4096;
const MADV_PAGEOUT: usize = 21;
const PM_PRESENT: u64 = 1 << 63;
/// Pages per write(2)/read(2) call.
const CHUNK: usize = 16;

fn v(key: &str) -> u64 {
    vmstat(key).unwrap_or(0)
}

fn kb(key: &str) -> u64 {
    meminfo_kb(key).unwrap_or(0)
}

/// Swap in use, in kB.
fn swap_used_kb() -> u64 {
    kb("SwapTotal") - kb("SwapFree")
}

/// This program's own private pages on swap, in kB (/proc/self/status `VmSwap`): its
/// stack, data, buffers and `[sigpage]` are anonymous memory that reclaim may send out
/// too, besides the shmem this test is about.
fn vm_swap_kb() -> u64 {
    ulib::procfs::status_kb("VmSwap").unwrap_or(0)
}

/// Pages of `[base, base + n pages)` that pagemap shows present.
fn present(base: usize, n: usize) -> usize {
    (0..n).filter(|i| pagemap_of(base + i * P) & PM_PRESENT != 0).count()
}

/// A tmpfs of twice RAM is mounted here (Linux: `mount -t tmpfs -o size=200% tmpfs DIR`).
const DIR: &core::ffi::CStr = c"/tmp/big";
const FILE: &core::ffi::CStr = c"/tmp/big/shmem_swap_test";
const FILE_GEN: u64 = 0x51;
const BIG_GEN: u64 = 0xb16;
const SMALL_GEN: u64 = 0x5a11;

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("shmem_swap_test");
    if !t.ret("swapon /dev/vdb", swapon(c"/dev/vdb", 0), 0) {
        return t.finish();
    }
    t.ret("mkdir /tmp/big", mkdir(DIR, 0o755), 0);
    let r = mount(c"tmpfs", DIR, c"tmpfs", 0, c"size=200%");
    if !t.ret("mount a tmpfs of twice RAM on /tmp/big", r, 0) {
        return t.finish();
    }
    let total_kb = kb("MemTotal") as usize;
    println!("shmem_swap_test: MemTotal {total_kb} kB, SwapTotal {} kB", kb("SwapTotal"));
    let ram_pages = total_kb * 1024 / P;
    // A bounce buffer for read(2)/write(2).
    let buf = mmap_anon(CHUNK * P);
    if !t.success("map a 64 KiB buffer", buf) {
        return t.finish();
    }
    let buf = buf as usize;
    // SAFETY: `buf` maps CHUNK pages, ours alone.
    let bytes = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, CHUNK * P) };

    // 1. A tmpfs file of 1.5x RAM, written with write(2).
    let nf = (3 * ram_pages / 2) / CHUNK * CHUNK;
    let fd = open(FILE, O_RDWR | O_CREAT | O_TRUNC, 0o600);
    if !t.success("create /tmp/big/shmem_swap_test", fd) {
        return t.finish();
    }
    let fd = fd as i32;
    let out0 = v("pswpout");
    let mut short = 0;
    for c in (0..nf).step_by(CHUNK) {
        (0..CHUNK).for_each(|i| fill_at(buf + i * P, c + i, FILE_GEN));
        if pwrite(fd, bytes, c * P) != (CHUNK * P) as isize {
            short += 1;
        }
    }
    t.eq("write(2) of 1.5x RAM into the tmpfs: no short write", short, 0);
    let out1 = v("pswpout");
    let shmem_kb = kb("Shmem");
    let file_kb = (nf * P / 1024) as u64;
    println!("shmem_swap_test: wrote {nf} pages, pswpout +{}, Shmem {shmem_kb} kB", out1 - out0);
    t.ok(out1 > out0 + nf as u64 / 4, "tmpfs pages went to swap (pswpout grew)");
    t.ok(shmem_kb < file_kb, "meminfo Shmem counts only resident pages (below what was written)");
    let mut st = Stat::default();
    t.ret("fstat the file", fstat(fd, &mut st), 0);
    t.eq("st_blocks counts swapped pages too", st.st_blocks as u64, (nf * P / 512) as u64);

    // 2. A MAP_SHARED|MAP_ANONYMOUS region of 1x RAM (shmem-backed), and a small one.
    let nb = ram_pages;
    let big = mmap(0, nb * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    let ns = 512;
    let small = mmap(0, ns * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if !t.success("map 1x RAM shared anonymous", big) || !t.success("and 2 MiB more", small) {
        return t.finish();
    }
    let (big, small) = (big as usize, small as usize);
    (0..nb).for_each(|i| fill(big, i, BIG_GEN));
    (0..ns).for_each(|i| fill(small, i, SMALL_GEN));
    println!("shmem_swap_test: filled {nb}+{ns} shared pages, pswpout +{}", v("pswpout") - out1);

    // 3. Everything back: the file through read(2), then through a mapping.
    let in0 = v("pswpin");
    let mut bad = 0;
    for c in (0..nf).step_by(CHUNK) {
        if pread(fd, bytes, c * P) != (CHUNK * P) as isize {
            bad += 1;
            continue;
        }
        bad += (0..CHUNK).map(|i| check_at(buf + i * P, c + i, FILE_GEN)).sum::<usize>();
    }
    t.eq("read(2) of the file: every word right", bad, 0);
    let in1 = v("pswpin");
    println!("shmem_swap_test: read(2) back, pswpin +{}", in1 - in0);
    t.ok(in1 > in0, "read(2) brought tmpfs pages back from swap (pswpin grew)");
    let fm = mmap(0, nf * P, PROT_READ, MAP_SHARED, fd, 0);
    if t.success("map the file shared", fm) {
        let fm = fm as usize;
        let bad: usize = (0..nf).rev().map(|i| check(fm, i, FILE_GEN)).sum();
        t.eq("the file through the mapping (backwards): every word right", bad, 0);
        t.ret("unmap it", munmap(fm, nf * P), 0);
    }
    let bad: usize = (0..nb).map(|i| check(big, i, BIG_GEN)).sum();
    t.eq("the 1x RAM shared anonymous region: every word right", bad, 0);
    let bad: usize = (0..ns).map(|i| check(small, i, SMALL_GEN)).sum();
    t.eq("the small shared region: every word right", bad, 0);

    // 4. MADV_PAGEOUT of shared anonymous pages mapped once: 5.10 reclaims them too.
    const K: usize = 64;
    let (at, out2) = (small + 16 * P, v("pswpout"));
    let _ = check(small, 16, SMALL_GEN); // touched just now: resident
    t.eq("the range is resident before", present(at, K), K);
    t.ret("MADV_PAGEOUT of 64 shared pages", madvise(at, K * P, MADV_PAGEOUT), 0);
    t.eq("pagemap: none of them present any more", present(at, K), 0);
    let mut vec = [1u8; K];
    t.ret("mincore of the range", mincore(at, K * P, vec.as_mut_ptr()), 0);
    t.eq(
        "mincore: none resident (out on swap, not in the swap cache)",
        vec.iter().filter(|&&b| b & 1 != 0).count(),
        0,
    );
    t.ok(v("pswpout") >= out2 + K as u64, "they were written to swap (pswpout +64)");
    let (in2, maj2) = (v("pswpin"), v("pgmajfault"));
    let bad: usize = (16..16 + K).map(|i| check(small, i, SMALL_GEN)).sum();
    t.eq("touched again, every word is right", bad, 0);
    t.ok(v("pswpin") > in2, "and they came back from swap");
    t.ok(v("pgmajfault") > maj2, "through major faults (shmem_fault read them)");

    // 5. Truncate into a page that is out on swap: it comes back, and its tail reads as
    // zeros once the file grows again.
    let last = nf - 1;
    let fm = mmap(0, P, PROT_READ, MAP_SHARED, fd, last * P);
    if t.success("map the file's last page", fm) {
        let fm = fm as usize;
        let _ = check_at(fm, last, FILE_GEN);
        t.ret("MADV_PAGEOUT of it", madvise(fm, P, MADV_PAGEOUT), 0);
        t.eq("it is out (pagemap)", present(fm, 1), 0);
        t.ret("unmap it", munmap(fm, P), 0);
    }
    t.ret("ftruncate 100 bytes into the last page", ftruncate(fd, last * P + 100), 0);
    t.ret("and back to the full size", ftruncate(fd, nf * P), 0);
    fill_at(buf + P, last, FILE_GEN);
    let got = pread(fd, &mut bytes[..P], last * P);
    t.ok(
        got == P as isize
            && bytes[..100] == bytes[P..P + 100]
            && bytes[100..P].iter().all(|&b| b == 0),
        "the last page: 100 bytes kept, the rest zeros",
    );

    // 6. Unlink the file: its slots come free.
    t.ret("close the file", close(fd), 0);
    let used0 = swap_used_kb();
    t.ret("unlink it", unlink(FILE), 0);
    let used1 = swap_used_kb();
    println!("shmem_swap_test: swap used {used0} kB before unlink, {used1} kB after");
    t.ok(used1 < used0, "unlink gave the file's swap slots back (SwapFree grew)");
    t.ok(
        used1 <= ((nb + ns) * P / 1024) as u64 + vm_swap_kb(),
        "what is left on swap is at most the shared regions (and our own private pages)",
    );

    // 7. swapoff: the big region does not fit in memory with everything else, the small
    // one does.
    let pushed = (0..ns).map(|i| check(small, i, SMALL_GEN)).sum::<usize>()
        + (0..nb).map(|i| check(big, i, BIG_GEN)).sum::<usize>();
    t.eq("both shared regions still right", pushed, 0);
    t.err("swapoff while 1x RAM of shmem is out: ENOMEM", swapoff(c"/dev/vdb"), 12);
    let bad: usize = (0..nb).map(|i| check(big, i, BIG_GEN)).sum();
    t.eq("after the failed swapoff nothing is lost", bad, 0);
    t.ret("unmap the big region", munmap(big, nb * P), 0);
    let in3 = v("pswpin");
    let used2 = swap_used_kb();
    // Left on swap: at most the small region and this program's own private memory
    // (its buffer, stack, [sigpage]: anonymous memory reclaim may have sent out too).
    t.ok(
        used2 <= (ns * P / 1024) as u64 + vm_swap_kb(),
        "its slots came free with its last mapping",
    );
    t.ret("swapoff with the small region partly out", swapoff(c"/dev/vdb"), 0);
    println!("shmem_swap_test: swapoff read {} pages back", v("pswpin") - in3);
    t.eq("SwapTotal is 0 again", kb("SwapTotal"), 0);
    let bad: usize = (0..ns).map(|i| check(small, i, SMALL_GEN)).sum();
    t.eq("the small shared region after swapoff: every word right", bad, 0);
    t.ok(kb("Shmem") >= (ns * P / 1024) as u64, "meminfo Shmem counts it resident");
    t.ret("umount2 /tmp/big", umount2(DIR, 0), 0);
    t.finish()
}

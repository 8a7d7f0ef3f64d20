//! swap_stress: anonymous memory out to the swap disk and back (the swap issue's acceptance),
//! checked from user space. Run at `--memory 64M` with a swap disk as /dev/vdb: the test
//! turns swap on itself (swapon(2)), fills three times RAM with anonymous pages whose
//! every word is a function of its address, reads it all back twice in different orders,
//! shares RAM's worth of it with a child (fork under swap: both write half and check
//! all), keeps an
//! mlocked region resident throughout, pages a known range out with MADV_PAGEOUT and
//! watches it in /proc/self/pagemap, and finally turns swap off (ENOMEM while the data
//! does not fit, success once it does, with every word intact).
#![no_std]
#![no_main]
use ulib::procfs::{meminfo_kb, pagemap_of, vmstat};
use ulib::pattern::{check, fill};
use ulib::*;

const P: usize = 4096;
const MADV_PAGEOUT: usize = 21;
const PM_SWAP: u64 = 1 << 62;
const PM_PRESENT: u64 = 1 << 63;

fn v(key: &str) -> u64 {
    vmstat(key).unwrap_or(0)
}

/// Pages of `[base, base + n pages)` whose pagemap entry has `bit`.
fn count_pm(base: usize, n: usize, bit: u64) -> usize {
    (0..n).filter(|i| pagemap_of(base + i * P) & bit != 0).count()
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("swap_stress");
    if !t.ret("swapon /dev/vdb", swapon(c"/dev/vdb", 0), 0) {
        return t.finish();
    }
    let total_kb = meminfo_kb("MemTotal").unwrap_or(0) as usize;
    let swap_kb = meminfo_kb("SwapTotal").unwrap_or(0);
    println!("swap_stress: MemTotal {total_kb} kB, SwapTotal {swap_kb} kB");
    t.ok(swap_kb > 0, "SwapTotal is the disk's size");

    // An mlocked region first: it must stay resident through all that follows.
    const LOCKED: usize = 256;
    let lk = mmap(0, LOCKED * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if !t.success("map 1 MiB to lock", lk) {
        return t.finish();
    }
    let lk = lk as usize;
    t.ret("mlock it", mlock(lk, LOCKED * P), 0);
    (0..LOCKED).for_each(|i| fill(lk, i, 7));

    // Three times RAM of anonymous memory.
    let n = 3 * total_kb * 1024 / P;
    let m = mmap(0, n * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if !t.success("map three times RAM, anonymous", m) {
        return t.finish();
    }
    let base = m as usize;
    let (out0, in0) = (v("pswpout"), v("pswpin"));
    (0..n).for_each(|i| fill(base, i, 1));
    let out1 = v("pswpout");
    println!("swap_stress: filled {n} pages, pswpout +{}", out1 - out0);
    t.ok(out1 > out0 + n as u64 / 2, "filling 3x RAM swapped pages out (pswpout grew)");
    t.eq(
        "the mlocked region stayed present throughout",
        count_pm(lk, LOCKED, PM_PRESENT),
        LOCKED,
    );
    // And reclaim saw it where mlock put it: on the unevictable list, counted mlocked.
    let (mlocked, unevictable) = (
        meminfo_kb("Mlocked").unwrap_or(0),
        meminfo_kb("Unevictable").unwrap_or(0),
    );
    println!("swap_stress: Mlocked {mlocked} kB, Unevictable {unevictable} kB");
    t.ok(
        mlocked >= (LOCKED * P / 1024) as u64 && unevictable >= (LOCKED * P / 1024) as u64,
        "Mlocked and Unevictable count the locked region under pressure",
    );
    // Read back twice: a scattered order, then backwards.
    let step = 7919 % n;
    let bad1: usize = (0..n).map(|k| check(base, (k * step) % n, 1)).sum();
    t.eq("first read-back (scattered order): every word right", bad1, 0);
    let bad2: usize = (0..n).rev().map(|k| check(base, k, 1)).sum();
    t.eq("second read-back (backwards): every word right", bad2, 0);
    let in1 = v("pswpin");
    println!("swap_stress: read back twice, pswpin +{}", in1 - in0);
    t.ok(in1 > in0, "pages came back from the disk (pswpin grew)");
    t.eq(
        "the mlocked region is still present",
        count_pm(lk, LOCKED, PM_PRESENT),
        LOCKED,
    );
    let bad: usize = (0..LOCKED).map(|i| check(lk, i, 7)).sum();
    t.eq("and every word of it is right", bad, 0);

    // Keep two thirds (twice RAM) for what follows: the fork below adds copies of what
    // each side rewrites, and all of it must fit in RAM plus swap.
    let m = 2 * n / 3;
    t.ret("unmap the last third", munmap(base + m * P, (n - m) * P), 0);
    // Fork on the first half of that: the parent rewrites [0, m/4) with generation 4.
    fork_rows(&mut t, base, m / 2);
    let gen_of = |i: usize| if i < m / 4 { 4 } else { 1 };

    // MADV_PAGEOUT of a known range: exactly those pages go out.
    const K: usize = 64;
    let a = mmap(0, (K + 2) * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as usize;
    (0..K + 2).for_each(|i| fill(a, i, 3));
    t.ret("MADV_PAGEOUT of 64 pages", madvise(a + P, K * P, MADV_PAGEOUT), 0);
    t.eq("pagemap: exactly those 64 are swapped", count_pm(a, K + 2, PM_SWAP), K);
    t.ok(
        pagemap_of(a) & PM_PRESENT != 0 && pagemap_of(a + (K + 1) * P) & PM_PRESENT != 0,
        "their neighbours stay present",
    );
    let maj0 = v("pgmajfault");
    let bad: usize = (1..=K).map(|i| check(a, i, 3)).sum();
    t.eq("touched again, every word is right", bad, 0);
    t.ok(v("pgmajfault") > maj0, "bringing them back took major faults");
    t.eq("and they are present again", count_pm(a + P, K, PM_PRESENT), K);

    // Unlocked, the locked region can go too.
    t.ret("munlock the locked region", munlock(lk, LOCKED * P), 0);
    t.ret("MADV_PAGEOUT of it", madvise(lk, LOCKED * P, MADV_PAGEOUT), 0);
    t.eq("pagemap: all of it swapped now", count_pm(lk, LOCKED, PM_SWAP), LOCKED);

    // swapoff: not while the data does not fit in memory, then yes.
    t.err("swapoff while twice RAM is out: ENOMEM", swapoff(c"/dev/vdb"), 12);
    let bad: usize = (0..m).map(|i| check(base, i, gen_of(i))).sum();
    t.eq("after the failed swapoff nothing is lost", bad, 0);
    t.ret("unmap the big region", munmap(base, m * P), 0);
    let in2 = v("pswpin");
    t.ret("swapoff with a little out", swapoff(c"/dev/vdb"), 0);
    t.ok(v("pswpin") > in2, "swapoff read the pages back (pswpin grew)");
    t.eq("pagemap: nothing swapped any more", count_pm(lk, LOCKED, PM_SWAP), 0);
    let bad: usize = (0..LOCKED).map(|i| check(lk, i, 7)).sum::<usize>()
        + (0..K + 2).map(|i| check(a, i, 3)).sum::<usize>();
    t.eq("every word of what was out is right", bad, 0);
    t.eq("SwapTotal is 0 again", meminfo_kb("SwapTotal").unwrap_or(1), 0);
    t.finish()
}

/// Fork under swap, on the first `n` pages: the child shares the swapped pages (each slot
/// counted twice), each side rewrites its half and checks everything.
fn fork_rows(t: &mut Tap, base: usize, n: usize) {
    let half = n / 2;
    let pid = fork();
    if pid == 0 {
        (half..n).for_each(|i| fill(base, i, 2));
        let bad: usize = (0..half).map(|i| check(base, i, 1)).sum::<usize>()
            + (half..n).map(|i| check(base, i, 2)).sum::<usize>();
        exit(if bad == 0 { 0 } else { 1 });
    }
    if !t.success("fork with most of the memory on swap", pid) {
        return;
    }
    (0..half).for_each(|i| fill(base, i, 4));
    let bad: usize = (0..half).map(|i| check(base, i, 4)).sum::<usize>()
        + (half..n).map(|i| check(base, i, 1)).sum::<usize>();
    t.eq("parent: its half rewritten, the child's half as before", bad, 0);
    let mut status = -1;
    wait4(pid as i32, Some(&mut status), 0);
    t.eq("child: its half rewritten, the parent's half as before", status, 0);
}

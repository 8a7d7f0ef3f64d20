//! reclaim_demo: seed 001's story of mlock and reclaim, end to end, at `--memory 64M`.
//!
//! 1. The parent maps 16 pages of `/data/reclaim.bin` shared, locks them with
//!    `mlock2(MLOCK_ONFAULT)` and reads them: file pages faulted into a VM_LOCKED VMA are
//!    not marked mlocked by the fault (5.10), so they sit on the inactive file list. A
//!    child maps and reads the same pages: two mappings.
//! 2. Memory pressure (reading the rest of the 64 MiB file, twice): reclaim scans the
//!    pages; `page_referenced_one` meets the VM_LOCKED VMA and stops, so
//!    `page_check_references` says PAGEREF_RECLAIM; `try_to_unmap_one` meets it too and
//!    calls `mlock_vma_page`: the pages are culled to the unevictable list, never freed.
//! 3. The child locks its mapping too; the parent munlocks: `munlock_vma_page` ->
//!    `try_to_munlock` finds the child's VM_LOCKED VMA and marks them mlocked again.
//! 4. The child munlocks (and unmaps): the pages go back to an evictable list (rescued);
//!    after MADV_COLD (`deactivate_page`) more pressure reclaims them.
//!
//! Checked through /proc/vmstat, /proc/kpageflags (KPF_MLOCKED 33, KPF_UNEVICTABLE 18)
//! and mincore. The GDB check `gdb-reclaim-mlock-chain` stops in step 2's
//! `mlock_vma_page`.
#![no_std]
#![no_main]
use ulib::*;

const FILE: &core::ffi::CStr = c"/data/reclaim.bin";
const SIZE: usize = 64 << 20;
const P: usize = 4096;
/// The pages locked and shared.
const N: usize = 16;
const KPF_LRU: u64 = 1 << 5;
const KPF_UNEVICTABLE: u64 = 1 << 18;
const KPF_MLOCKED: u64 = 1 << 33;

/// A /proc/vmstat counter (0 if missing).
fn vmstat(key: &str) -> u64 {
    ulib::procfs::vmstat(key).unwrap_or(0)
}

/// How many of the N shared pages have all of `flags` (as seen through the mapping `va`).
fn count_with(va: usize, flags: u64) -> usize {
    (0..N)
        .filter(|i| ulib::procfs::kpageflags_of(va + i * P) & flags == flags)
        .count()
}

/// Read every page of `[N pages, 64 MiB)` of the file through a fresh mapping, twice: more
/// than memory holds, so reclaim runs.
fn pressure(fd: i32) {
    let m = mmap(0, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if m < 0 {
        return;
    }
    for _ in 0..2 {
        for i in N..SIZE / P {
            peek(m as usize + i * P);
        }
    }
    munmap(m as usize, SIZE);
}

/// Read each of the N pages at `va`.
fn touch(va: usize) {
    for i in 0..N {
        peek(va + i * P);
    }
}

/// The step word shared with the child.
fn step(sync: usize) -> &'static core::sync::atomic::AtomicU32 {
    // SAFETY: `sync` is a shared anonymous page mapped for the whole run.
    unsafe { &*(sync as *const core::sync::atomic::AtomicU32) }
}

fn wait_for(sync: usize, want: u32) {
    while step(sync).load(core::sync::atomic::Ordering::SeqCst) != want {
        sleep_ms(1);
    }
}

fn set(sync: usize, v: u32) {
    step(sync).store(v, core::sync::atomic::Ordering::SeqCst);
}

fn resident(va: usize) -> usize {
    let mut vec = [0u8; N];
    if mincore(va, N * P, vec.as_mut_ptr()) != 0 {
        return usize::MAX;
    }
    vec.iter().filter(|&&b| b & 1 != 0).count()
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("reclaim_demo");
    let fd = open(FILE, O_RDONLY, 0) as i32;
    let sync = mmap(0, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    let a = mmap(0, N * P, PROT_READ, MAP_SHARED, fd, 0);
    if !t.success("open the file, map 16 of its pages and a page to talk to the child", a)
        || fd < 0
        || sync < 0
    {
        return t.finish();
    }
    let (a, sync) = (a as usize, sync as usize);

    // 1. Lock on fault, then fault: the pages are not marked (file pages, 5.10).
    t.ret("mlock2(MLOCK_ONFAULT) of the 16 pages", mlock2(a, N * P, MLOCK_ONFAULT), 0);
    touch(a);
    t.eq(
        "read-faulted into the VM_LOCKED VMA, none is mlocked yet",
        count_with(a, KPF_MLOCKED),
        0,
    );
    let child = fork();
    if child == 0 {
        let b = mmap(0, N * P, PROT_READ, MAP_SHARED, fd, 0) as usize;
        touch(b);
        set(sync, 1);
        wait_for(sync, 2);
        mlock(b, N * P);
        set(sync, 3);
        wait_for(sync, 4);
        munlock(b, N * P);
        munmap(b, N * P);
        set(sync, 5);
        wait_for(sync, 6);
        exit(0);
    }
    wait_for(sync, 1);
    println!("reclaim_demo: parent and child both map the 16 pages");

    // 2. Pressure: reclaim culls the pages it finds in the VM_LOCKED VMA.
    let (culled0, mlocked0) = (vmstat("unevictable_pgs_culled"), vmstat("unevictable_pgs_mlocked"));
    pressure(fd);
    let (culled1, mlocked1) = (vmstat("unevictable_pgs_culled"), vmstat("unevictable_pgs_mlocked"));
    println!(
        "reclaim_demo: after pressure: unevictable_pgs_culled +{}, unevictable_pgs_mlocked +{}",
        culled1 - culled0,
        mlocked1 - mlocked0
    );
    t.eq("reclaim never evicted them: all 16 resident", resident(a), N);
    t.eq(
        "all 16 are mlocked and unevictable now (try_to_unmap_one -> mlock_vma_page)",
        count_with(a, KPF_MLOCKED | KPF_UNEVICTABLE),
        N,
    );
    t.ok(
        culled1 - culled0 >= N as u64 && mlocked1 - mlocked0 >= N as u64,
        "unevictable_pgs_culled and unevictable_pgs_mlocked counted them",
    );

    // 3. The child locks too; the parent's munlock keeps them locked (try_to_munlock).
    set(sync, 2);
    wait_for(sync, 3);
    let nr_mlock = vmstat("nr_mlock");
    t.ret("munlock in the parent", munlock(a, N * P), 0);
    t.eq(
        "still mlocked and unevictable: try_to_munlock found the child's VM_LOCKED VMA",
        count_with(a, KPF_MLOCKED | KPF_UNEVICTABLE),
        N,
    );
    t.eq("nr_mlock did not move", vmstat("nr_mlock"), nr_mlock);

    // 4. The child munlocks: rescued to an evictable list, and reclaimable again.
    let rescued0 = vmstat("unevictable_pgs_rescued");
    set(sync, 4);
    wait_for(sync, 5);
    let rescued1 = vmstat("unevictable_pgs_rescued");
    t.eq(
        "after the child's munlock none is mlocked or unevictable",
        count_with(a, KPF_MLOCKED) + count_with(a, KPF_UNEVICTABLE),
        0,
    );
    t.eq("and all are on an LRU list", count_with(a, KPF_LRU), N);
    t.ok(
        rescued1 - rescued0 >= N as u64,
        "unevictable_pgs_rescued counted them",
    );
    // They were used more than once, so they may sit on the active list, which streaming
    // pressure alone does not age: MADV_COLD deactivates them (now mapped only here).
    t.ret("MADV_COLD on the 16 pages", madvise(a, N * P, 20), 0);
    t.eq(
        "MADV_COLD left them inactive",
        count_with(a, 1 << 6),
        0,
    );
    pressure(fd);
    let left = resident(a);
    println!("reclaim_demo: after more pressure {left} of the 16 pages are resident");
    t.ok(left < N, "more pressure reclaims some of them now");

    // MADV_PAGEOUT reclaims clean file pages at once (reclaim_pages).
    touch(a);
    t.eq("read back in: all 16 resident", resident(a), N);
    t.ret("MADV_PAGEOUT on the 16 pages", madvise(a, N * P, 21), 0);
    t.eq("MADV_PAGEOUT reclaimed them all", resident(a), 0);

    set(sync, 6);
    let mut status = 0;
    wait4(child as i32, Some(&mut status), 0);
    t.exited("the child's part ran", Wstatus(status), 0);
    munmap(a, N * P);
    close(fd);
    t.finish()
}

//! In-kernel tests: checks that need the real MMU, exceptions and devices. Selected with
//! `ktest=all` or `ktest=<name prefix>` on the command line; prints TAP-like lines and
//! exits QEMU with 0 when all pass. Linux: KUnit (`lib/kunit/`), in miniature.
use crate::arch::aarch64::esr::{ec, Esr, FaultKind};
use crate::arch::aarch64::extable::take_last_fixup;
use crate::arch::cpu;
use crate::drivers::arch_timer::{jiffies, HZ};
use crate::mm::page::{page_address, page_to_pfn, PageFlags};
use crate::mm::page_alloc::{__free_pages, alloc_pages, nr_free_pages, GfpFlags};
use alloc::{format, string::String, vec::Vec};

type TestResult = Result<String, String>;

/// One test: a name (prefix-matched by `ktest=`) and a body returning a detail line.
pub struct KTest {
    /// `area: what is checked`.
    pub name: &'static str,
    /// The check.
    pub run: fn() -> TestResult,
}

/// Every in-kernel test, in run order.
pub static KTESTS: &[KTest] = &[
    KTest {
        name: "mm: write to kernel text raises a permission fault",
        run: write_to_text_faults,
    },
    KTest {
        name: "mm: write to kernel rodata raises a permission fault",
        run: write_to_rodata_faults,
    },
    KTest {
        name: "mm: instruction fetch from kernel data raises a permission fault",
        run: exec_from_data_faults,
    },
    KTest {
        name: "mm: read of the old identity-mapped address raises a translation fault",
        run: identity_map_gone,
    },
    KTest {
        name: "mm: linear map covers the first and last byte of RAM",
        run: linear_map_covers_ram,
    },
    KTest {
        name: "mm: alloc_pages hands out zeroed, referenced, aligned pages",
        run: alloc_pages_basics,
    },
    KTest {
        name: "mm: allocating every free frame then freeing restores the free count",
        run: alloc_all_frames,
    },
    KTest {
        name: "mm: kernel heap serves Vec and Box",
        run: heap_works,
    },
    KTest {
        name: "mm: slab caches grow from and shrink back to the page allocator",
        run: slab_grows_and_shrinks,
    },
    KTest {
        name: "time: the timer advances jiffies",
        run: timer_ticks,
    },
    KTest {
        name: "sched: kernel threads interleave and are reaped",
        run: crate::task::tests::kthreads_interleave,
    },
    KTest {
        name: "sched: a kernel stack ends in STACK_END_MAGIC and an overrun of it is seen",
        run: crate::task::tests::stack_end_magic,
    },
    KTest {
        name: "rmap: a page is found in its mm, in both after fork, in one after munmap",
        run: crate::task::tests::rmap_walk_after_fork,
    },
    KTest {
        name:
            "sleep: a disk read sleeps (D) while another task runs, woken by the device interrupt",
        run: crate::kernel::sleep_tests::disk_read_sleeps,
    },
    KTest {
        name: "sleep: lock_page by a second thread sleeps (D) until unlock_page",
        run: crate::kernel::sleep_tests::lock_page_sleeps,
    },
    KTest {
        name: "sleep: a console read sleeps (S) until the receive interrupt brings a line",
        run: crate::kernel::sleep_tests::console_read_sleeps,
    },
    KTest {
        name: "swap: swap_writepage and swap_readpage round-trip pages through the swap disk",
        run: crate::kernel::swap_tests::swap_page_io_round_trip,
    },
    KTest {
        name: "fs: /etc/test.txt read through virtio-blk and the page cache matches",
        run: crate::fs::tests::read_test_txt,
    },
    KTest {
        name: "fs: fault_page returns the cached page with a reference, tail zero-filled",
        run: crate::fs::tests::fault_page_of_root_file,
    },
    KTest {
        name: "fs: getdents64 lists /, /etc and /dev",
        run: crate::fs::tests::getdents_root,
    },
    KTest {
        name: "fs: stat reports sizes, types, devices and mounts",
        run: crate::fs::tests::stat_sizes_and_types,
    },
    KTest {
        name: "fs: tmpfs write, read back, ftruncate, unlink returns every page",
        run: crate::fs::tests::tmpfs_write_read_truncate,
    },
    KTest {
        name: "fs: tmpfs mkdir, relative paths, rmdir",
        run: crate::fs::tests::tmpfs_directories,
    },
    KTest {
        name: "fs: /dev/zero, /dev/null and /dev/console",
        run: crate::fs::tests::char_devices,
    },
    KTest {
        name: "fs: open, lookup and file errors have Linux's errno",
        run: crate::fs::tests::open_errors,
    },
];

/// Run the tests whose name starts with `filter` (or all for "all"); the failure count.
pub fn run_ktests(filter: &str) -> usize {
    let (mut passed, mut failed) = (0, 0);
    for t in KTESTS
        .iter()
        .filter(|t| filter == "all" || t.name.starts_with(filter))
    {
        match (t.run)() {
            Ok(detail) => {
                passed += 1;
                pr_info!(
                    "ok - {}{}{}",
                    t.name,
                    if detail.is_empty() { "" } else { ": " },
                    detail
                );
            }
            Err(why) => {
                failed += 1;
                pr_info!("not ok - {}: {}", t.name, why);
            }
        }
    }
    pr_info!("ktest: {passed} passed, {failed} failed");
    failed
}

/// The fault a probe just absorbed must be of `kind` (any level) and class `ec_want`, at `addr`.
fn expect_fault(addr: usize, ec_want: u64, kind: FaultKind, write: bool) -> TestResult {
    let (esr, far) = take_last_fixup().ok_or("no fault was recorded")?;
    let esr = Esr { raw: esr };
    // The level depends on whether the section got a block or pages; the kind must match.
    let same_kind = core::mem::discriminant(&esr.fault().unwrap_or(FaultKind::Other(0xff)))
        == core::mem::discriminant(&kind);
    if esr.ec() != ec_want || !same_kind || (ec_want == ec::DABT_CUR && esr.is_write() != write) {
        return Err(format!("unexpected syndrome: {esr}"));
    }
    if far as usize != addr {
        return Err(format!("FAR {far:#x} != {addr:#x}"));
    }
    Ok(format!("{esr}, FAR {far:#x}"))
}

fn write_to_text_faults() -> TestResult {
    let addr = run_ktests as *const () as usize & !7;
    if cpu::probe_write_u64(addr, 0).is_ok() {
        return Err("kernel text is writable".into());
    }
    expect_fault(addr, ec::DABT_CUR, FaultKind::Permission(3), true)
}

static RODATA_WORD: u64 = 0x5a5a_5a5a;

fn write_to_rodata_faults() -> TestResult {
    let addr = core::hint::black_box(&RODATA_WORD as *const u64 as usize);
    if cpu::probe_write_u64(addr, 0).is_ok() {
        return Err("rodata is writable".into());
    }
    expect_fault(addr, ec::DABT_CUR, FaultKind::Permission(3), true)
}

/// A `ret` instruction in .data: executable only if W^X is broken.
#[repr(align(16))]
struct DataInsn(core::cell::UnsafeCell<u32>);
// SAFETY: nobody writes the instruction; the test only jumps to it.
unsafe impl Sync for DataInsn {}
static RET_IN_DATA: DataInsn = DataInsn(core::cell::UnsafeCell::new(0xd65f_03c0));

fn exec_from_data_faults() -> TestResult {
    let addr = RET_IN_DATA.0.get() as usize;
    if cpu::probe_exec(addr).is_ok() {
        return Err("kernel data is executable".into());
    }
    expect_fault(addr, ec::IABT_CUR, FaultKind::Permission(3), false)
}

fn identity_map_gone() -> TestResult {
    // The kernel's physical address was identity-mapped through TTBR0 during boot.
    let addr = crate::arch::virt_to_phys(cpu::kernel_image().start);
    if cpu::probe_read_u64(addr).is_ok() {
        return Err(format!("{addr:#x} is still mapped"));
    }
    expect_fault(addr, ec::DABT_CUR, FaultKind::Translation(0), false)
}

fn linear_map_covers_ram() -> TestResult {
    let info = crate::init::boot_info();
    let (base, size) = info.memory[info.nr_memory - 1];
    let first = crate::arch::phys_to_virt(info.memory[0].0);
    let last = crate::arch::phys_to_virt(base + size - 8);
    cpu::probe_read_u64(first).map_err(|_| format!("{first:#x} unreadable"))?;
    cpu::probe_read_u64(last).map_err(|_| format!("{last:#x} unreadable"))?;
    Ok(format!("{first:#x}..{:#x}", last + 8))
}

fn alloc_pages_basics() -> TestResult {
    let before = nr_free_pages();
    let page = alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, 0)
        .ok_or("alloc_pages(0) failed")?;
    let va = page_address(page);
    // SAFETY: the page was just allocated to this test and is mapped by the linear map.
    let zeroed = (0..512).all(|i| unsafe { (va as *const u64).add(i).read() } == 0);
    let refcount = page.page_count();
    let big = alloc_pages(GfpFlags::GFP_KERNEL, 9).ok_or("alloc_pages(9) failed")?;
    let big_pfn = page_to_pfn(big);
    let head = big.test(PageFlags::PG_head);
    __free_pages(big, 9);
    __free_pages(page, 0);
    let after = nr_free_pages();
    match () {
        _ if !zeroed => Err("__GFP_ZERO page not zeroed".into()),
        _ if refcount != 1 => Err(format!("refcount {refcount}")),
        _ if !big_pfn.is_multiple_of(512) => Err(format!("order-9 block at pfn {big_pfn:#x}")),
        _ if !head => Err("order-9 head lacks PG_head".into()),
        _ if before != after => Err(format!("free pages {before} -> {after}")),
        _ => Ok(format!("order-9 block at pfn {big_pfn:#x}")),
    }
}

fn alloc_all_frames() -> TestResult {
    let start = nr_free_pages();
    // Chain the pages through their own first word so the test needs no heap.
    let mut head: usize = 0;
    let mut n = 0usize;
    while let Some(page) = alloc_pages(GfpFlags::__GFP_HIGH, 0) {
        let va = page_address(page);
        // SAFETY: the page was just allocated to this test and is mapped by the linear map.
        unsafe { (va as *mut usize).write(head) };
        head = va;
        n += 1;
    }
    let at_empty = nr_free_pages();
    while head != 0 {
        // SAFETY: `head` is a page this test allocated and linked above.
        let next = unsafe { (head as *const usize).read() };
        let pfn = crate::mm::phys_pfn(crate::arch::virt_to_phys(head));
        __free_pages(crate::mm::page::pfn_to_page(pfn), 0);
        head = next;
    }
    let end = nr_free_pages();
    if n != start || at_empty != 0 || end != start {
        return Err(format!(
            "free {start}, allocated {n}, left {at_empty}, after freeing {end}"
        ));
    }
    Ok(format!(
        "{n} frames allocated and freed, free count back to {end}"
    ))
}

fn heap_works() -> TestResult {
    let v: Vec<u64> = (0..10_000).collect();
    let sum: u64 = v.iter().sum();
    let b = alloc::boxed::Box::new([7u8; 4096]);
    if sum != 49_995_000 || b.iter().any(|&x| x != 7) {
        return Err("heap data corrupted".into());
    }
    Ok(format!(
        "{} slab pages in use",
        crate::mm::slab::nr_slab_pages()
    ))
}

/// A cache only this test uses: its slabs are all the test's.
static KTEST_CACHEP: crate::mm::slab::KmemCache =
    crate::mm::slab::kmem_cache_create("ktest_cache", 200, 8);

/// Allocate 1000 objects from a fresh cache: they are distinct and lie in PG_slab pages
/// that point back at the cache; freeing them all and shrinking gives every page back.
fn slab_grows_and_shrinks() -> TestResult {
    use crate::mm::page::PageFlags;
    use crate::mm::slab::{get_slabinfo, kmem_cache_alloc, kmem_cache_free, kmem_cache_shrink};
    let s = &KTEST_CACHEP;
    let free0 = crate::mm::page_alloc::nr_free_pages();
    let mut objs: Vec<usize> = Vec::with_capacity(1000);
    for i in 0..1000usize {
        let p = kmem_cache_alloc(s, crate::mm::slab::GFP_SLAB_USER);
        if p.is_null() {
            return Err("kmem_cache_alloc failed".into());
        }
        // SAFETY: a fresh 200-byte object of ours.
        unsafe { (p as *mut usize).write(i) };
        objs.push(p as usize);
    }
    let info = get_slabinfo(s);
    let want_slabs = 1000usize.div_ceil(s.objects);
    if info.active_objs != 1000 || info.num_slabs != want_slabs {
        return Err(format!(
            "slabinfo {info:?}, want 1000 objects in {want_slabs} slabs"
        ));
    }
    for (i, &p) in objs.iter().enumerate() {
        let page = crate::mm::page::pfn_to_page(crate::arch::virt_to_phys(p) >> 12);
        // SAFETY: still our object.
        if unsafe { (p as *const usize).read() } != i {
            return Err("objects overlap".into());
        }
        if !page.test(PageFlags::PG_slab)
            || page.mapping.load(core::sync::atomic::Ordering::Relaxed) != s as *const _ as usize
        {
            return Err("slab page not marked PG_slab with its cache".into());
        }
    }
    let used = free0 - crate::mm::page_alloc::nr_free_pages();
    for &p in &objs {
        // SAFETY: allocated above from `s`, freed once.
        unsafe { kmem_cache_free(s, p as *mut u8) };
    }
    kmem_cache_shrink(s);
    let info = get_slabinfo(s);
    if info != crate::mm::slab::SlabInfo::default() {
        return Err(format!("after free + shrink: {info:?}"));
    }
    drop(objs);
    Ok(format!(
        "{want_slabs} slabs of {} objects ({used} pages) taken and given back",
        s.objects
    ))
}

fn timer_ticks() -> TestResult {
    let j0 = jiffies();
    let t0 = cpu::read_cntvct();
    let limit = cpu::read_cntfrq(); // give it one second of virtual time
    while jiffies() < j0 + 3 {
        if cpu::read_cntvct() - t0 > limit {
            return Err(format!("jiffies stuck at {} after 1 s", jiffies()));
        }
        cpu::wfi();
    }
    let ticks = cpu::read_cntvct() - t0;
    Ok(format!("3 jiffies in {ticks} counter ticks (HZ={HZ})"))
}

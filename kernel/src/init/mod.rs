//! From the boot assembly to a running kernel. Linux: `init/main.c` (`start_kernel`,
//! `mm_init`), `arch/arm64/kernel/setup.c` (`setup_arch`), `arch/arm64/mm/mmu.c`
//! (`paging_init`, `map_kernel`, `map_mem`), `arch/arm64/mm/init.c` (`mem_init`).
use crate::arch::aarch64::memory::{align_down, align_up};
use crate::arch::aarch64::mmu::create_pgd_mapping;
use crate::arch::aarch64::pgtable::{PgProt, PAGE_KERNEL, PAGE_KERNEL_RO, PAGE_KERNEL_ROX};
use crate::arch::aarch64::psci;
use crate::arch::{cpu, phys_to_virt, virt_to_phys, PAGE_SIZE};
use crate::drivers::of::{setup_machine_fdt, BootInfo};
use crate::drivers::{arch_timer, irqchip, pl011::Pl011};
use crate::kernel::{cmdline, ktest};
use crate::mm::page::{set_mem_map, Page, PageFlags};
use crate::mm::page_alloc::ZONE_NORMAL;
use crate::mm::{page, phys_pfn};
use core::sync::atomic::{AtomicUsize, Ordering};

static BOOT_INFO: spin::Once<BootInfo> = spin::Once::new();
static ENTRY_EL: AtomicUsize = AtomicUsize::new(0);

/// The device-tree description of the machine.
pub fn boot_info() -> &'static BootInfo {
    BOOT_INFO.get().expect("boot_info before setup_arch")
}

pub use crate::mm::init_mm::{pgtable_alloc, swapper_pg_dir};
use crate::mm::init_mm::{BUDDY_READY, MEMBLOCK, SWAPPER_PG_DIR};

/// The C entry point, called by `boot/head.S` with the MMU on, at EL1, on the boot stack.
/// Linux: `start_kernel`.
///
/// # Safety
/// Called once, by the boot code.
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn start_kernel(dtb_pa: usize, entry_el: usize) -> ! {
    ENTRY_EL.store(entry_el, Ordering::Relaxed);
    setup_arch(dtb_pa);
    let info = boot_info();
    pr_info!(
        "mmkern {}: Linux-mm teaching kernel for arm64",
        env!("CARGO_PKG_VERSION")
    );
    pr_info!(
        "boot: entered at EL{}, running at EL{}",
        entry_el,
        cpu::current_el()
    );
    for &(base, size) in &info.memory[..info.nr_memory] {
        pr_info!(
            "dt: memory {:#x}..{:#x} ({} MiB)",
            base,
            base + size,
            size >> 20
        );
    }
    if let Some(g) = info.gic {
        let second = if g.version == 3 { "redist" } else { "cpu" };
        pr_info!(
            "dt: gic v{} dist {:#x} {} {:#x}",
            g.version,
            g.dist.0,
            second,
            g.cpu_or_redist.0
        );
    }
    if let Some(u) = info.uart {
        pr_info!("dt: uart pl011 @ {:#x} irq {}", u.base, u.irq);
    }
    pr_info!(
        "dt: timer irq {}, psci method {}, {} virtio-mmio slots",
        info.timer_irq.unwrap_or(0),
        if info.psci_method.is_empty() {
            "none"
        } else {
            info.psci_method
        },
        info.nr_virtio
    );
    pr_info!("Kernel command line: {}", info.cmdline());

    paging_init();
    console_init();
    mem_init();
    crate::ipc::shm::shm_init();

    let gic = irqchip::init_irq(
        &info
            .gic
            .expect("no interrupt controller in the device tree"),
    );
    arch_timer::arch_timer_init(
        info.timer_irq
            .expect("no timer interrupt in the device tree"),
    );
    if let (Some(u), Some(uart)) = (info.uart, crate::kernel::printk::console_uart()) {
        irqchip::request_irq(u.irq, crate::drivers::pl011::pl011_int).expect("uart irq");
        uart.enable_rx_interrupt(crate::drivers::pl011::console_rx_push);
    }
    // The disks, the root file system, /dev, /tmp (Linux: initcalls + prepare_namespace).
    crate::fs::prepare_namespace();
    cpu::enable_user_fp_and_counter();
    crate::arch::aarch64::perf_event::armv8pmu_init(
        cmdline::parse_args(info.cmdline()).perf_user_access,
    );
    crate::task::sched_init();
    cpu::local_irq_enable();

    let (t, f) = (cpu::read_cntvct(), cpu::read_cntfrq());
    pr_info!(
        "mmkern ready: RAM {} MiB, GICv{}, entered at EL{}, boot cntvct {} @ {} Hz",
        info.ram_bytes() >> 20,
        gic.version(),
        entry_el,
        t,
        f
    );
    rest_init(info.cmdline())
}

/// What to do after boot, as the command line says. Linux: `rest_init` -> init.
fn rest_init(cmdline: &str) -> ! {
    let params = cmdline::parse_args(cmdline);
    crate::syscall::STRACE.store(params.strace, core::sync::atomic::Ordering::Relaxed);
    if let Some(dev) = params.swap {
        // Before the tests and init, so both find swap on (Linux: `swapon -a` early in
        // the init scripts).
        if let Err(e) = crate::syscall::mm::ksys_swapon("/", dev, 0) {
            pr_warn!("swap={dev}: swapon failed: {e:?}");
        }
    }
    if let Some(filter) = params.ktest {
        let failed = ktest::run_ktests(filter);
        crate::arch::aarch64::semihosting::exit(if failed == 0 { 0 } else { 1 });
    }
    if params.test_oops {
        // No fixup covers this load: do_mem_abort -> die, as Linux's NULL dereference oops.
        let null = core::hint::black_box(0x10usize) as *const u64;
        // SAFETY: not safe at all; that is the point of the test.
        let _ = unsafe { core::ptr::read_volatile(null) };
    }
    if params.test_panic {
        panic!("test_panic on the command line: deliberate panic");
    }
    if params.poweroff {
        pr_info!("reboot: Power down");
        psci::psci_sys_poweroff()
    }
    if let Some(filter) = params.trace {
        // Linux: `ftrace=function_graph` starts the tracer at boot (`tracer_alloc_buffers`
        // + `register_tracer`), `ftrace_graph_filter=` sets its filter.
        use crate::kernel::trace;
        trace::ftrace::trace_clock_init(crate::arch::aarch64::perf_event::inst_counter_counts());
        if let Err(e) = trace::ftrace_set_graph_function(filter) {
            pr_warn!("trace={filter}: bad filter: {e:?}");
        }
        trace::tracing_on(true);
        pr_info!(
            "ftrace: function_graph on, filter `{filter}`, clock {}",
            trace::ftrace::trace_clock_name()
        );
    }
    let status = run_init(
        params.init.unwrap_or("/bin/init"),
        params.init_args.unwrap_or(""),
    );
    if params.trace.is_some() {
        crate::kernel::trace::ftrace_dump();
    }
    crate::arch::aarch64::semihosting::exit(status)
}

static INIT_PATH: spin::Once<(alloc::string::String, alloc::string::String)> = spin::Once::new();

/// The init kernel thread: become the user program (Linux: `kernel_init` ->
/// `run_init_process`). Returning from here enters user space.
extern "C" fn kernel_init(_: usize) {
    let (path, args) = INIT_PATH.get().expect("init path");
    let mut argv: alloc::vec::Vec<&str> = alloc::vec![path.as_str()];
    argv.extend(args.split_ascii_whitespace());
    let envp = ["HOME=/", "TERM=linux", "PATH=/bin"];
    // console_on_rootfs: fds 0, 1 and 2 are /dev/console.
    match crate::fs::open::filp_open("/dev/console", crate::fs::O_RDWR, 0) {
        Ok(console) => {
            let task = crate::task::current().expect("init task");
            let mut files = task.files.lock();
            for fd in 0..3 {
                let _ = files.install_at(fd, console.clone(), false); // 3 slots: fits
            }
        }
        Err(e) => pr_warn!("Warning: unable to open an initial console ({e:?})"),
    }
    if let Err(e) = crate::task::exec::kernel_execve(path, &argv, &envp) {
        panic!("Requested init {path} failed ({e:?}). No working init found.");
    }
}

/// The pages the leak check accounts for: free, in a page cache (files outlive their
/// users), in a slab (kernel objects: page-cache trees, inodes and dentries of files
/// that remain), or retired by `memory_failure` (HardwareCorrupted: held for ever on
/// purpose; a poisoned page that was freed anyway would count twice and show too). Spare empty slabs are given back first (`kmem_cache_shrink` on every
/// cache), so a cache that kept one does not read as a leak; a page a process leaked is in
/// none of the three and still shows.
fn pages_not_leaked() -> usize {
    crate::mm::slab::kmem_cache_shrink_all();
    crate::mm::page_alloc::nr_free_pages()
        + crate::mm::filemap::nr_file_pages()
        + crate::mm::slab::nr_slab_pages()
        + crate::mm::memory_failure::num_poisoned_pages()
}

/// Objects in the caches only processes use (VMAs and their anon_vma chains): all of
/// them go when the processes do, so a count above the boot baseline is a leak the page
/// count (which includes slab pages) would not show.
fn process_objects() -> (usize, usize) {
    (
        crate::mm::slab::get_slabinfo(&crate::mm::vma::VM_AREA_CACHEP).active_objs,
        crate::mm::slab::get_slabinfo(&crate::mm::rmap::ANON_VMA_CHAIN_CACHEP).active_objs,
    )
}

/// Start `path` as pid 1, let user space run until it exits, reap everything, check that
/// no page leaked, and return the status QEMU should exit with (init's exit code, or
/// 128 + signal). Linux would panic when init exits; a teaching kernel reports instead.
fn run_init(path: &str, args: &str) -> u32 {
    use crate::task::{all_pids, find_task, release_task, TaskState};
    crate::mm::memory::zero_page_phys(); // allocated once, before the baseline
                                         // The tracer's buffers, if tracing starts during the run, are not a leak.
    let tracer = crate::kernel::trace::ftrace::ftrace_pages;
    let baseline = pages_not_leaked() + tracer();
    let objs_baseline = process_objects();
    INIT_PATH.call_once(|| {
        (
            alloc::string::String::from(path),
            alloc::string::String::from(args),
        )
    });
    let init = crate::task::kernel_thread("init", kernel_init, 0).expect("no memory for init");
    let init_pid = init.pid();
    drop(init);
    // Reclaim's thread (Linux: kswapd_run from kswapd_init, one per node). It exits on
    // the SIGKILL the final reaper sends, so its stack is back before the leak check.
    if crate::task::kernel_thread("kswapd0", crate::mm::vmscan::kswapd, 0).is_none() {
        pr_warn!("kswapd: no memory for the thread; only direct reclaim will run");
    }
    crate::kernel::itimer::itimer_init();
    // The idle loop (Linux: cpu_startup_entry -> do_idle): run whatever is runnable,
    // else wait in wfi for the interrupt that makes something runnable. Orphans are
    // reparented to init; once init itself is a zombie, everything left is killed and
    // reaped here.
    let mut hung = HungTaskCheck::default();
    loop {
        crate::task::schedule();
        let init_done = find_task(init_pid).is_none_or(|t| t.state() == TaskState::Zombie);
        if init_done {
            break;
        }
        hung.check();
        crate::task::do_idle();
    }
    let status = find_task(init_pid).map_or(0, |t| {
        t.exit_code.load(core::sync::atomic::Ordering::SeqCst)
    });
    let reap_start = crate::kernel::hrtimer::ktime_get_ns();
    let mut reported = false;
    loop {
        let live: alloc::vec::Vec<_> = all_pids()
            .into_iter()
            .filter(|&p| p != 0)
            .filter_map(find_task)
            .collect();
        let running: alloc::vec::Vec<_> = live
            .iter()
            .filter(|t| t.state() != TaskState::Zombie)
            .cloned()
            .collect();
        if running.is_empty() {
            for t in live {
                release_task(t.pid());
            }
            break;
        }
        // A task that outlives SIGKILL by seconds sleeps where no signal reaches it: say
        // which and where, once (Linux: khungtaskd's "blocked for more than N seconds").
        if !reported && crate::kernel::hrtimer::ktime_get_ns() - reap_start > 10_000_000_000 {
            reported = true;
            for t in &running {
                pr_info!(
                    "INFO: task {}:{} blocked for more than 10 seconds after SIGKILL (state {:?})",
                    t.comm(),
                    t.pid(),
                    t.state()
                );
                crate::kernel::panic::dump_backtrace(t.thread_saved_fp(), false);
            }
        }
        for t in running {
            crate::task::signal::send_signal(&t, crate::task::signal::SIGKILL);
        }
        crate::task::schedule();
        crate::task::do_idle();
    }
    let code = if status & 0x7f == 0 {
        (status >> 8) & 0xff
    } else {
        128 + (status & 0x7f)
    };
    pr_info!("init: {} exited with status {}", path, code);
    let now = pages_not_leaked() + tracer();
    let objs_now = process_objects();
    if objs_now != objs_baseline {
        // A VMA or an anon_vma chain outlived every process: its pages may be counted
        // as slab above, but the objects say what leaked.
        pr_info!(
            "mm: LEAK: vm_area_struct/anon_vma_chain objects {:?} -> {:?} after all processes exited",
            objs_baseline,
            objs_now
        );
    } else if now == baseline {
        pr_info!(
            "mm: no leak: free + page-cache + slab + poisoned pages back to {} after all processes exited",
            now
        );
    } else {
        pr_info!(
            "mm: LEAK: free + page-cache + slab + poisoned pages {} -> {} after all processes exited",
            baseline,
            now
        );
    }
    // Every overcommit charge made for the processes is given back by now.
    let committed = crate::mm::util::vm_committed_as_sum();
    if committed == 0 {
        pr_info!("mm: no commit leak: Committed_AS back to 0 after all processes exited");
    } else {
        pr_info!(
            "mm: LEAK: Committed_AS {} pages after all processes exited",
            committed
        );
    }
    // Every swap slot a process took is free again (swap entries die with their PTEs and
    // the swap cache gives its slots back).
    let slots = crate::mm::swapfile::swap_slots_in_use();
    if slots == 0 {
        pr_info!("mm: no swap leak: 0 swap slots in use after all processes exited");
    } else {
        pr_info!("mm: LEAK: {slots} swap slots in use after all processes exited");
    }
    if cfg!(debug_assertions) {
        use core::sync::atomic::Ordering::Relaxed;
        pr_info!(
            "mm: consistency: {} address spaces checked at exit, {} failed",
            crate::mm::debug::MM_CHECKED.load(Relaxed),
            crate::mm::debug::MM_CHECK_FAILURES.load(Relaxed)
        );
    }
    code as u32
}

/// Find the DTB, describe the machine, seed memblock. Linux: `setup_arch` +
/// `setup_machine_fdt` + `arm64_memblock_init`.
fn setup_arch(dtb_pa: usize) {
    // Linux Image protocol passes the DTB in x0; for an ELF kernel QEMU puts it at the
    // start of RAM, which on `virt` is the 1 GiB-aligned base below the kernel.
    let image = cpu::kernel_image();
    let dtb_pa = if dtb_pa != 0 {
        dtb_pa
    } else {
        align_down(virt_to_phys(image.start), 1 << 30)
    };
    let header = phys_to_virt(dtb_pa) as *const u32;
    // SAFETY: the boot map covers the 1 GiB around the kernel, where QEMU put the DTB.
    let (magic, size) = unsafe { (u32::from_be(*header), u32::from_be(*header.add(1)) as usize) };
    if magic != 0xd00d_feed {
        panic!("no device tree at {dtb_pa:#x} (magic {magic:#x})");
    }
    // SAFETY: the blob stays reserved (below) and mapped for the kernel's lifetime.
    let blob = unsafe { core::slice::from_raw_parts(phys_to_virt(dtb_pa) as *const u8, size) };
    let info = match setup_machine_fdt(blob) {
        Ok(info) => info,
        Err(e) => panic!("unusable device tree at {dtb_pa:#x}: {e:?}"),
    };
    psci::set_method(info.psci_method);

    let mut mb = MEMBLOCK.lock();
    for &(base, size) in &info.memory[..info.nr_memory] {
        mb.add(base, size);
    }
    mb.reserve(virt_to_phys(image.start), image.end - image.start);
    mb.reserve(dtb_pa, size);
    // Until paging_init, only the boot map's 1 GiB block is reachable.
    mb.current_limit = align_down(virt_to_phys(image.start), 1 << 30) + (1 << 30);
    drop(mb);
    BOOT_INFO.call_once(|| info);
}

/// Build the final kernel page tables and switch to them. Linux: `paging_init`
/// (`map_kernel` + `map_mem`), then `cpu_replace_ttbr1` and dropping the identity map.
///
/// RAM is mapped RW+XN with the largest blocks that fit, except the kernel image, whose
/// sections get their own permissions: text RX, rodata R, data/bss RW (W^X).
#[no_mangle]
#[inline(never)]
pub fn paging_init() {
    let pgd = MEMBLOCK
        .lock()
        .alloc_zeroed(PAGE_SIZE, PAGE_SIZE)
        .expect("paging_init: no memory for pgd");
    SWAPPER_PG_DIR.store(pgd, Ordering::Relaxed);
    let img = cpu::kernel_image();
    let map = |va: usize, end: usize, prot: PgProt| {
        if end > va {
            create_pgd_mapping(
                pgd,
                va,
                virt_to_phys(va),
                end - va,
                prot,
                &mut pgtable_alloc,
            )
            .expect("paging_init: out of memory for page tables");
        }
    };
    // map_kernel: one mapping per section.
    map(img.start, img.text_end, PAGE_KERNEL_ROX);
    map(img.text_end, img.rodata_end, PAGE_KERNEL_RO);
    map(img.rodata_end, align_up(img.end, PAGE_SIZE), PAGE_KERNEL);
    // map_mem: the rest of RAM around the image.
    let info = boot_info();
    let (kstart, kend) = (
        virt_to_phys(img.start),
        align_up(virt_to_phys(img.end), PAGE_SIZE),
    );
    for &(base, size) in &info.memory[..info.nr_memory] {
        let end = base + size;
        if kstart >= base && kend <= end {
            map(phys_to_virt(base), phys_to_virt(kstart), PAGE_KERNEL);
            map(phys_to_virt(kend), phys_to_virt(end), PAGE_KERNEL);
        } else {
            map(phys_to_virt(base), phys_to_virt(end), PAGE_KERNEL);
        }
    }
    cpu::replace_ttbr1(pgd);
    // The identity map is no longer needed: TTBR0 gets the empty table until user space.
    cpu::set_ttbr0(cpu::reserved_pg_dir(), 0);
    cpu::flush_tlb_all();
    MEMBLOCK.lock().current_limit = usize::MAX;
}

/// Map the UART and make it the console. Linux: `pl011_console_setup` + `register_console`.
fn console_init() {
    let Some(u) = boot_info().uart else { return };
    let va = crate::mm::ioremap::ioremap(u.base, u.size.max(0x1000));
    // SAFETY: freshly mapped PL011 registers.
    let uart = unsafe { Pl011::new(va) };
    uart.init(crate::drivers::pl011::console_rx_push);
    crate::kernel::printk::register_console(uart);
}

/// Allocate `mem_map`, then release all free memory to the buddy allocator, which the
/// slab caches (the kernel heap) take their pages from. Linux: `mm_init` -> `mem_init`
/// (arm64) -> `memblock_free_all`.
#[no_mangle]
#[inline(never)]
pub fn mem_init() {
    let info = boot_info();
    let ram_pages = info.ram_bytes() / PAGE_SIZE;
    let first = info.memory[0];
    let last = info.memory[info.nr_memory - 1];
    let (min_pfn, max_pfn) = (phys_pfn(first.0), phys_pfn(last.0 + last.1));
    let span = max_pfn - min_pfn;

    // mem_map: a struct Page for every frame in the span (Linux: alloc_node_mem_map).
    let map_bytes = span * core::mem::size_of::<Page>();
    let map_pa = MEMBLOCK
        .lock()
        .phys_alloc(map_bytes, PAGE_SIZE)
        .expect("no memory for mem_map");
    let map = phys_to_virt(map_pa) as *mut Page;
    for i in 0..span {
        // SAFETY: inside the reservation just made.
        unsafe { map.add(i).write(Page::new()) };
    }
    // SAFETY: initialised above; memblock keeps it reserved forever.
    unsafe { set_mem_map(map, min_pfn, span) };

    memblock_free_all(ram_pages);
}

/// Mark reserved frames PG_reserved and give every free range to the buddy allocator;
/// returns the pages released. Linux: `memblock_free_all` -> `free_low_memory_core_early`.
#[no_mangle]
#[inline(never)]
pub fn memblock_free_all(ram_pages: usize) -> usize {
    let mb = MEMBLOCK.lock();
    for r in mb.reserved.iter() {
        for pfn in phys_pfn(r.base)..phys_pfn(r.base + r.size) {
            if page::pfn_valid(pfn) {
                page::pfn_to_page(pfn).set_flags(PageFlags::PG_reserved);
            }
        }
    }
    let mut zone = ZONE_NORMAL.lock();
    mb.for_each_free_range(|start, end| zone.add_free_range(start, end));
    let (freed, wm) = (zone.nr_free, zone.watermarks);
    drop(zone);
    let reserved_kb = mb.reserved.total_size() / 1024;
    drop(mb);
    BUDDY_READY.store(true, Ordering::Release);
    let img = cpu::kernel_image();
    pr_info!(
        "Memory: {}K/{}K available ({}K kernel code, {}K rodata, {}K rwdata+bss, {}K reserved)",
        freed * 4,
        ram_pages * 4,
        (img.text_end - img.start) / 1024,
        (img.rodata_end - img.text_end) / 1024,
        (img.end - img.rodata_end) / 1024,
        reserved_kb
    );
    pr_info!(
        "Zone Normal: {} free pages, watermarks min {} low {} high {}",
        freed,
        wm.min,
        wm.low,
        wm.high
    );
    freed
}

/// Tasks that sleep uninterruptibly ("D") without being switched in for more than
/// `HUNG_TASK_TIMEOUT_NS` are reported once, with their kernel backtrace: a lost wake-up
/// or a deadlock shows in the serial log instead of as a silent hang (Linux: khungtaskd,
/// `check_hung_uninterruptible_tasks`, which compares each D task's switch count with
/// the one it saw a period earlier). Run from the idle loop.
#[derive(Default)]
struct HungTaskCheck {
    last_ns: u64,
    /// pid -> (voluntary + involuntary switches at the last look, already reported).
    seen: alloc::collections::BTreeMap<i32, (u64, bool)>,
}

/// Linux's default `hung_task_timeout_secs` is 120; a test run cannot wait that long.
const HUNG_TASK_TIMEOUT_NS: u64 = 10_000_000_000;

impl HungTaskCheck {
    fn check(&mut self) {
        let now = crate::kernel::hrtimer::ktime_get_ns();
        if now - self.last_ns < HUNG_TASK_TIMEOUT_NS {
            return;
        }
        self.last_ns = now;
        let mut next = alloc::collections::BTreeMap::new();
        use crate::task::{all_pids, find_task, TaskState};
        for t in all_pids().into_iter().filter_map(find_task) {
            if t.state() != TaskState::Uninterruptible {
                continue;
            }
            let switches = t.nvcsw.load(core::sync::atomic::Ordering::Relaxed)
                + t.nivcsw.load(core::sync::atomic::Ordering::Relaxed);
            let mut reported = false;
            if let Some(&(before, done)) = self.seen.get(&t.pid()) {
                reported = done;
                if before == switches && !done {
                    pr_info!(
                        "INFO: task {}:{} blocked for more than 10 seconds.",
                        t.comm(),
                        t.pid()
                    );
                    crate::kernel::panic::dump_backtrace(t.thread_saved_fp(), false);
                    reported = true;
                }
            }
            next.insert(t.pid(), (switches, reported));
        }
        self.seen = next;
    }
}

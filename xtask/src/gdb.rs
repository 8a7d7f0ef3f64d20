//! `cargo xtask gdb` (QEMU halted in the background, gdb-multiarch in the foreground) and the
//! batch GDB check that `cargo xtask test` runs.

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::qemu::{QemuConfig, Spawned};
use crate::test::Outcome;
use crate::{bail, build, scenarios, setup, workspace_root, Arg, Args, Result};

const CHECK_TIMEOUT: Duration = Duration::from_secs(90);

/// One batch GDB check: boot with `cmdline`, run `breaks` (each a gdb command; the last
/// breakpoint's hit is where `bt` runs), and expect `chain` in the backtrace in order,
/// innermost first, and optionally a line of `frame 1` + `info locals`.
#[derive(Clone, Copy, Debug)]
pub struct GdbCheck {
    /// Result name.
    pub name: &'static str,
    /// Kernel command line.
    pub cmdline: &'static str,
    /// Guest RAM (`-m`), e.g. `512M`; reclaim checks boot small.
    pub memory: &'static str,
    /// A swap disk to attach as /dev/vdb (`SwapDisk::None` for most).
    pub swap: crate::swap::SwapDisk,
    /// gdb commands after connecting, ending at the stop to inspect.
    pub breaks: &'static [&'static str],
    /// Expected frames, innermost first (names without their module path).
    pub chain: &'static [&'static str],
    /// A line `frame 1` + `info locals` must print, if any.
    pub local: Option<&'static str>,
    /// GDB commands run after `bt`, each with a text its output must contain (e.g.
    /// `frame function __mm_populate` then `p mm.mmap_lock.count.v.value`, `= 1`).
    pub exprs: &'static [(&'static str, &'static str)],
    /// GDB commands run at the stop (frame 0, before `exprs`), each with a prefix of serial
    /// lines: every serial line that starts with the prefix must, without it, appear in the
    /// command's output (whitespace runs compared as one space), and there must be at least
    /// one. This is how a helper is checked against what the kernel itself printed.
    pub serial: &'static [(&'static str, &'static str)],
    /// A relation between the whole gdb output and the serial console that containment
    /// cannot express (`mm-pt`'s ranges lie inside `/proc/PID/maps`' VMAs); returns why
    /// they disagree (empty: they agree).
    pub agree: Option<fn(gdb: &str, serial: &str) -> Vec<String>>,
}

/// Every GDB check `cargo xtask test` runs.
pub const CHECKS: &[GdbCheck] = &[
    GdbCheck {
        name: "gdb-mlock-chain",
        cmdline: "init=/bin/mlock_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // mlock_demo maps without populating, then mlock()s: the first __mm_populate of
        // the boot is mlock's, and the next handle_mm_fault one of its pages.
        breaks: &[
            "break __mm_populate",
            "continue",
            "break handle_mm_fault",
            "continue",
        ],
        chain: &[
            "handle_mm_fault",
            "faultin_page",
            "__get_user_pages",
            "populate_vma_page_range",
            "__mm_populate",
            "do_mlock",
            "sys_mlock",
            "invoke_syscall",
            "el0_svc",
        ],
        local: None,
        // __mm_populate holds mmap_lock for read (count 1), not for write (-1).
        exprs: &[
            ("frame function __mm_populate", "__mm_populate"),
            ("p mm.mmap_lock.count.v.value", "= 1"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-readahead",
        cmdline: "init=/bin/readahead_test",
        memory: "64M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // readahead_test's first case touches pages 256.. of /data/readahead.bin in order:
        // the miss at 256 read [240, 272) around itself and marked 264 PG_readahead. The
        // touch of 264 returns VM_FAULT_RETRY; with mmap_lock dropped, do_page_fault reads
        // the next window. (exec maps the program, as Linux does, so its own text faults
        // read ahead too: the condition picks the data file's marker.)
        breaks: &[
            "break ondemand_readahead if hit_readahead_marker && ractl.index == 264",
            "continue",
        ],
        chain: &[
            "ondemand_readahead",
            "page_cache_async_readahead",
            "do_async_mmap_readahead",
            "do_page_fault",
            "do_mem_abort",
            "el0_da",
        ],
        local: None,
        exprs: &[
            ("p ractl.index", "= 264"),
            ("p ra.inner.data.value.start", "= 240"),
            ("p ra.inner.data.value.async_size", "= 8"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-fault-retry",
        cmdline: "init=/bin/file_populate",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // file_populate mlock()s a mapping of /bin/hello_std, whose pages are not cached
        // yet: the fault returns VM_FAULT_RETRY, faultin_page drops mmap_lock and reads
        // the page. The first do_sync_mmap_readahead after sys_mlock is that read.
        breaks: &[
            "break sys_mlock",
            "continue",
            "break do_sync_mmap_readahead",
            "continue",
        ],
        chain: &[
            "do_sync_mmap_readahead",
            "faultin_page",
            "__get_user_pages",
            "populate_vma_page_range",
            "__mm_populate",
            "do_mlock",
            "sys_mlock",
        ],
        local: None,
        // The I/O runs with mmap_lock free (count 0) and `locked` = None (Linux's 0).
        exprs: &[
            ("frame function faultin_page", "faultin_page"),
            ("p *locked", "::None"),
            ("frame function __mm_populate", "__mm_populate"),
            ("p mm.mmap_lock.count.v.value", "= 0"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-hwpoison-unmap",
        cmdline: "init=/bin/hwpoison_test",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // No reclaim at 512M: the first try_to_unmap of the boot is memory_failure's,
        // turning the madvise07 child's page table entry into a hwpoison entry.
        breaks: &["break try_to_unmap", "continue"],
        chain: &[
            "try_to_unmap",
            "hwpoison_user_mappings",
            "memory_failure",
            "madvise_inject_error",
            "do_madvise",
            "sys_madvise",
        ],
        local: None,
        exprs: &[],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-hwpoison-fault",
        cmdline: "init=/bin/hwpoison_test",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // No swap: the first do_swap_page of the boot is the child's write to its poisoned
        // page, which returns VM_FAULT_HWPOISON and becomes SIGBUS in __do_user_fault.
        breaks: &["break do_swap_page", "continue"],
        chain: &[
            "do_swap_page",
            "handle_pte_fault",
            "__handle_mm_fault",
            "handle_mm_fault",
            "__do_page_fault",
            "do_page_fault",
        ],
        local: None,
        exprs: &[],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-userfaultfd",
        cmdline: "init=/bin/userfaultfd_test",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // The first fault in a registered range: the main thread's read of page 0, which
        // do_anonymous_page hands to handle_userfault (book 3.19).
        breaks: &["break handle_userfault", "continue"],
        chain: &[
            "handle_userfault",
            "do_anonymous_page",
            "handle_pte_fault",
            "__handle_mm_fault",
            "handle_mm_fault",
            "__do_page_fault",
            "do_page_fault",
        ],
        local: None,
        exprs: &[],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-anon-fault-chain",
        cmdline: "init=/bin/mmap_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // The first user (FAULT_FLAG_USER 0x40) write (0x01) fault on anonymous memory:
        // mmap_demo's first store to its fresh mapping. (`(vmf.flags.0).0`: GDB would
        // read `.0.0` as a float.)
        breaks: &[
            "break do_anonymous_page if ((vmf.flags.0).0 & 0x41) == 0x41",
            "continue",
        ],
        chain: &[
            "do_anonymous_page",
            "handle_pte_fault",
            "__handle_mm_fault",
            "handle_mm_fault",
            "__do_page_fault",
            "do_page_fault",
            "do_translation_fault",
            "do_mem_abort",
            "el0_da",
        ],
        local: None,
        // A user write, and mmap_lock held for read by the faulting task.
        exprs: &[
            ("p/x (vmf.flags.0).0 & 0x41", "= 0x41"),
            ("p vmf.mm.mmap_lock.count.v.value", "= 1"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-munlock-chain",
        cmdline: "init=/bin/mlock_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // mlock_demo munlock()s its 16 locked pages: the walk finds each with
        // follow_page(FOLL_GET | FOLL_DUMP) and clears its mark, under mlock_fixup (5.10).
        breaks: &["break munlock_vma_page", "continue"],
        chain: &[
            "munlock_vma_page",
            "munlock_vma_pages_range",
            "mlock_fixup",
            "apply_vma_lock_flags",
            "sys_munlock",
        ],
        local: None,
        exprs: &[
            ("p/x page.flags.v.value & (1 << 21)", "= 0x200000"),
            (
                "frame function munlock_vma_pages_range",
                "munlock_vma_pages_range",
            ),
            ("p/x (vma.vm_flags.0).0 & 0x2000", "= 0x0"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-swap-writepage-chain",
        cmdline: "init=/bin/swap_demo",
        memory: "64M",
        swap: crate::swap::SwapDisk::Ours("128M"),
        agree: None,
        // swap_demo writes twice RAM of anonymous memory: reclaim gives the oldest pages
        // slots (add_to_swap), unmaps them (swap entries in the PTEs) and writes them:
        // the first swap_writepage of the boot is reclaim's pageout.
        breaks: &["break swap_writepage", "continue"],
        chain: &[
            "swap_writepage",
            "pageout",
            "shrink_page_list",
            "shrink_inactive_list",
            "shrink_list",
            "shrink_lruvec",
            "shrink_node",
        ],
        local: None,
        exprs: &[
            // In the swap cache (PG_swapbacked 19, PG_swapcache 10), locked for the write.
            ("p/x page.flags.v.value & 0x80401", "= 0x80401"),
            ("p/x page.private.v.value != 0", "= 0x1"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-do-swap-page-chain",
        cmdline: "init=/bin/swap_demo",
        memory: "64M",
        swap: crate::swap::SwapDisk::Ours("128M"),
        agree: None,
        // After the pressure phase, which only writes, swap_demo pages 16 pages out with
        // MADV_PAGEOUT and touches the first: the first do_swap_page of the boot.
        breaks: &["break do_swap_page", "continue"],
        chain: &[
            "do_swap_page",
            "handle_pte_fault",
            "__handle_mm_fault",
            "handle_mm_fault",
            "__do_page_fault",
            "do_page_fault",
        ],
        local: None,
        exprs: &[
            // The PTE holds a swap entry: valid bit clear, not empty.
            ("p/x vmf.orig_pte.__0 & 1", "= 0x0"),
            ("p/x vmf.orig_pte.__0 != 0", "= 0x1"),
            // The Pte printer decodes it (type 0: the only swap area).
            ("p vmf.orig_pte", "swap entry type 0 offset 0x"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-reclaim-mlock-chain",
        cmdline: "init=/bin/reclaim_demo",
        memory: "64M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // Seed 001: reclaim finds a page mapped in a VM_LOCKED VMA (mlock2 MLOCK_ONFAULT,
        // then a read fault: file pages are not mlocked by the fault), try_to_unmap's rmap
        // walk meets the VMA and marks the page mlocked: culled to the unevictable list.
        breaks: &["break mlock_vma_page", "continue"],
        chain: &[
            "mlock_vma_page",
            "try_to_unmap_one",
            "rmap_walk_file",
            "rmap_walk",
            "try_to_unmap",
            "shrink_page_list",
            "shrink_inactive_list",
            "shrink_lruvec",
            "shrink_node",
        ],
        local: None,
        exprs: &[
            ("p/x page.flags.v.value & (1 << 21)", "= 0x0"),
            ("p/x (vma.vm_flags.0).0 & 0x2000", "= 0x2000"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-reclaim-munlock-chain",
        cmdline: "init=/bin/reclaim_demo",
        memory: "64M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // Seed 001's munlock: reclaim_demo's parent munlock()s 16 pages its child also maps
        // and has locked. munlock_vma_page clears PG_mlocked, isolates the page and, as it
        // is mapped twice, asks rmap (try_to_munlock, TTU_MUNLOCK); the walk skips the
        // parent's VMA, no longer VM_LOCKED, and finds the child's, whose mlock_vma_page
        // marks the page again. The first try_to_munlock of the boot is this one.
        breaks: &["break try_to_munlock", "continue"],
        chain: &[
            "try_to_munlock",
            "__munlock_isolated_page",
            "munlock_vma_page",
            "munlock_vma_pages_range",
            "mlock_fixup",
            "apply_vma_lock_flags",
            "sys_munlock",
        ],
        local: None,
        exprs: &[
            // PG_mlocked already cleared; two mappings (_mapcount counts from -1).
            ("p/x page.flags.v.value & (1 << 21)", "= 0x0"),
            ("p page._mapcount.v.value", "= 1"),
            // The VMA being unlocked lost VM_LOCKED before its walk.
            (
                "frame function munlock_vma_pages_range",
                "munlock_vma_pages_range",
            ),
            ("p/x (vma.vm_flags.0).0 & 0x2000", "= 0x0"),
            // The walk (TTU_MUNLOCK = 0x8) finds the child's VM_LOCKED VMA, in another mm.
            ("break mlock_vma_page", "Breakpoint"),
            ("continue", "mlock_vma_page"),
            ("frame function try_to_unmap_one", "try_to_unmap_one"),
            ("p/x arg", "= 0x8"),
            ("p/x (vma.vm_flags.0).0 & 0x2000", "= 0x2000"),
            ("p vma.vm_mm == $mm()", "= false"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-anon-rmap",
        cmdline: "init=/bin/mmap_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // At mmap_demo's first anonymous write fault, the new page gets its rmap: after
        // page_add_new_anon_rmap, `page->mapping` is the VMA's anon_vma with the
        // PAGE_MAPPING_ANON bit, and `page->index` the page's linear index in the VMA.
        breaks: &[
            "break do_anonymous_page if ((vmf.flags.0).0 & 0x41) == 0x41",
            "continue",
            "delete",
            "break page_add_new_anon_rmap",
            "continue",
        ],
        chain: &[
            "page_add_new_anon_rmap",
            "do_anonymous_page",
            "handle_pte_fault",
            "__handle_mm_fault",
            "handle_mm_fault",
        ],
        local: None,
        exprs: &[
            ("p vma.anon_vma_chain.inner.data.value.len", "= 1"),
            ("break lru_cache_add_inactive_or_unevictable", "Breakpoint"),
            ("continue", "lru_cache_add_inactive_or_unevictable"),
            ("frame function do_anonymous_page", "do_anonymous_page"),
            ("p/x page.mapping.v.value & 1", "= 0x1"),
            (
                "p page.index.v.value == ((address - vma.vm_start) >> 12) + vma.vm_pgoff",
                "= true",
            ),
            ("p page._mapcount.v.value", "= 0"),
            ("mm-page page", "anon (anon_vma"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-vma-list",
        cmdline: "init=/bin/mmap_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // Linux's `p vma->vm_next` is `p *vmf.vma.vm_next` here (GDB's Rust syntax): at
        // mmap_demo's first anonymous write fault, the faulting VMA's list neighbours point
        // back at it, and the list runs upwards in address order.
        breaks: &[
            "break do_anonymous_page if ((vmf.flags.0).0 & 0x41) == 0x41",
            "continue",
        ],
        chain: &["do_anonymous_page", "handle_pte_fault"],
        local: None,
        exprs: &[
            ("p (*vmf.vma.vm_next).vm_prev == vmf.vma", "= true"),
            ("p (*vmf.vma.vm_next).vm_start >= vmf.vma.vm_end", "= true"),
            ("p *vmf.vma.vm_next", "= VmArea { "),
            ("p (*vmf.vma.vm_prev).vm_next == vmf.vma", "= true"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-mlock-vma-page-chain",
        cmdline: "init=/bin/mlock_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: Some(mlock_page_agrees),
        // The README's session, `cargo xtask gdb --init /bin/mlock_demo --break
        // mlock_vma_page`: mlock_demo maps 16 untouched pages and mlock()s them (nothing
        // mlocks before it: the first hit of the boot is its). The fault marks each new
        // page mlocked (lru_cache_add_inactive_or_unevictable), then follow_page_pte,
        // under FOLL_MLOCK, calls mlock_vma_page, as in Linux 5.10. The helpers must
        // agree with the kernel's own walk (mlock_page_agrees).
        breaks: &["break mlock_vma_page", "continue"],
        chain: &[
            "mlock_vma_page",
            "follow_page_pte",
            "follow_page_mask",
            "__get_user_pages",
            "populate_vma_page_range",
            "__mm_populate",
            "do_mlock",
            "sys_mlock",
        ],
        local: None,
        // Indexes 0, 1, 5 and 6 are read by mlock_page_agrees (MLOCK_*_EXPR).
        exprs: &[
            ("mm-vmas", "rw-p"),
            ("mm-page page", "PG_lru"),
            ("p *$page", "lru unevictable"),
            ("frame function follow_page_pte", "follow_page_pte"),
            ("p *vma", "VM_LOCKED"),
            ("p/x address", "= 0x"),
            ("mm-pte address", "AP=rw EL1+EL0 nG PXN UXN Normal"),
            // mmkern-hex-args: address arguments in hex in backtraces.
            ("bt 2", "address=0x"),
        ],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-backtrace",
        cmdline: "poweroff",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        breaks: &["break memblock_free_all", "continue"],
        chain: &["memblock_free_all", "mem_init", "start_kernel"],
        // 512 MiB / 4 KiB.
        local: Some("ram_pages = 131072"),
        exprs: &[],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-populate-chain",
        cmdline: "init=/bin/populate_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // The first __mm_populate of this boot is populate_demo's mmap(MAP_POPULATE);
        // from there, the next handle_mm_fault is one of its pages.
        breaks: &[
            "break __mm_populate",
            "continue",
            "break handle_mm_fault",
            "continue",
        ],
        chain: &[
            "handle_mm_fault",
            "faultin_page",
            "__get_user_pages",
            "populate_vma_page_range",
            "__mm_populate",
            "mm_populate",
            "vm_mmap_pgoff",
            "ksys_mmap_pgoff",
            "invoke_syscall",
            "el0_svc",
        ],
        local: None,
        exprs: &[],
        serial: &[],
    },
    GdbCheck {
        name: "gdb-helpers-agree",
        cmdline: "init=/bin/gdb_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: None,
        // gdb_demo mlock()s and writes 4 pages, prints its /proc/self/maps, the pagemap
        // frame of the first page and /proc/vmstat's nr_mlock, then munlock()s: at
        // sys_munlock the helpers (scripts/gdb/mmkern.py) must tell the same story.
        breaks: &["break sys_munlock", "continue"],
        chain: &["sys_munlock", "invoke_syscall", "el0_svc"],
        local: None,
        serial: &[
            ("mm-vmas", "maps: "),
            ("mm-pte start", "gdb_demo: pagemap "),
            ("mm-page start", "gdb_demo: pagemap "),
            ("mm-vmstat", "vmstat: "),
        ],
        exprs: &[
            // The mlocked, written page, through the Page pretty-printer.
            ("p *$page", "PG_mlocked"),
            ("p *$page", "mapcount 1"),
            // The MmStruct printer: nobody holds mmap_lock yet; 4 pages locked.
            ("p *mm", "mmap_lock free"),
            ("p *mm", "locked_vm 4,"),
            ("mm-tasks", "gdb_demo"),
            ("p/x mm.mmap_lock.count.v.value", "= 0x0"),
            // munlock takes mmap_lock for write before it changes the VMA flags.
            ("break apply_vma_lock_flags", "Breakpoint"),
            ("continue", "apply_vma_lock_flags"),
            ("p *$mm()", "mmap_lock writer"),
        ],
    },
    GdbCheck {
        name: "gdb-pt",
        cmdline: "init=/bin/gdb_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: Some(pt_agrees_with_maps),
        // At gdb_demo's sys_munlock (after it printed /proc/self/maps): `mm-pt` dumps both
        // halves; pt_agrees_with_maps holds the user ranges to the maps lines and the
        // kernel half to W^X and no EL0 access.
        breaks: &["break sys_munlock", "continue"],
        chain: &["sys_munlock", "invoke_syscall", "el0_svc"],
        local: None,
        serial: &[],
        exprs: &[
            ("mm-pt", "kernel half (TTBR1_EL1)"),
            // The 4 mlocked pages: one range, user rw-, never executable at EL1.
            (
                "mm-pt user",
                "16K page 4K   EL0 rw- EL1 rw- Normal        [anon]",
            ),
            ("mm-pt kernel", "[kernel rodata]"),
        ],
    },
    GdbCheck {
        name: "gdb-lru-meminfo-dmesg",
        cmdline: "init=/bin/gdb_demo",
        memory: "512M",
        swap: crate::swap::SwapDisk::None,
        agree: Some(lru_pages_on_their_lists),
        // gdb_demo printed /proc/vmstat's LRU sizes and /proc/meminfo, then calls munlock:
        // parked at sys_munlock nothing has run since, so the lists, the counters and
        // the log read from kernel memory must say what the kernel printed.
        breaks: &["break sys_munlock", "continue"],
        chain: &["sys_munlock", "invoke_syscall", "el0_svc"],
        local: None,
        serial: &[
            ("mm-lru", "vmstat: nr_zone_"),
            ("mm-meminfo", "meminfo: "),
            ("mm-dmesg", "Memory: "),
            ("mm-dmesg", "Kernel command line: "),
        ],
        exprs: &[
            // The 4 mlocked pages, oldest first, PG_mlocked.
            ("mm-lru 1", "unevictable 4 pages, oldest first:"),
            (
                "mm-lru 1",
                "PG_unevictable|PG_mlocked refcount 1 mapcount 1 anon",
            ),
            // The last line of the boot log is the kernel's, not gdb_demo's: program
            // output to /dev/console is not printk.
            ("mm-dmesg 1", "mmkern ready"),
        ],
    },
];

/// `cargo xtask gdb [--scenario NAME | --init "PROG ARGS"] [--extra DIR]... [--break FUNC]...
/// [--batch FILE] [--memory SIZE] [--swap SIZE|IMAGE] [--release] [--port N]`.
pub fn cmd_gdb(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut release = false;
    let mut scenario = None;
    let mut port: u16 = 1234;
    let mut init: Option<String> = None;
    let mut init_args: Vec<String> = Vec::new();
    let mut breaks: Vec<String> = Vec::new();
    let mut batch: Option<std::path::PathBuf> = None;
    let mut memory: Option<String> = None;
    let mut swap: Option<String> = None;
    let mut extra_dirs: Vec<std::path::PathBuf> = Vec::new();
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) => match name.as_str() {
                "release" => {
                    Args::flag(&name, inline)?;
                    release = true
                }
                "extra" => extra_dirs.push(args.value(&name, inline)?.into()),
                "scenario" => {
                    let n = args.value(&name, inline)?;
                    scenario = Some(scenarios::find(&n).ok_or_else(|| {
                        let names: Vec<&str> =
                            scenarios::SCENARIOS.iter().map(|s| s.name).collect();
                        format!("unknown scenario `{n}`; known: {}", names.join(", "))
                    })?);
                }
                "port" => {
                    let v = args.value(&name, inline)?;
                    port = v.parse().map_err(|_| format!("bad --port `{v}`"))?;
                }
                "init" => init = Some(args.value(&name, inline)?),
                "break" => breaks.push(args.value(&name, inline)?),
                "batch" => batch = Some(args.value(&name, inline)?.into()),
                "memory" => memory = Some(args.value(&name, inline)?),
                "swap" => swap = Some(args.value(&name, inline)?),
                _ => bail!("gdb: unknown option --{name}"),
            },
            Arg::Pos(p) if init.is_some() => init_args.push(p),
            Arg::Pos(p) => bail!("gdb: unexpected argument `{p}`"),
        }
    }
    if !args.rest.is_empty() {
        bail!("gdb: no extra arguments are taken after --");
    }
    if scenario.is_some() && init.is_some() {
        bail!("gdb: --scenario and --init both choose init; give one");
    }
    if let Some(f) = &batch {
        if !f.is_file() {
            bail!("gdb: --batch {}: no such file", f.display());
        }
    }
    setup::check(setup::Needs {
        qemu: true,
        gdb: true,
    })?;
    let kernel = build::build_kernel(release)?;
    let mut cfg = match scenario {
        Some(s) => {
            if !s.input.is_empty() {
                eprintln!(
                    "xtask: note: scenario {} types into the console; under gdb nobody does",
                    s.name
                );
            }
            s.qemu_config()
        }
        None => QemuConfig::default(),
    };
    if let Some(spec) = init {
        cfg.cmdline = Some(crate::qemu::init_cmdline(
            cfg.cmdline.take(),
            &spec,
            init_args,
        ));
    }
    if let Some(m) = memory {
        cfg.memory = m;
    }
    // A scenario's swap disk, unless --swap names one.
    if let Some(s) = scenario.filter(|_| swap.is_none()) {
        match crate::swap::prepare(s.swap, s.name)? {
            crate::swap::Prepared::Image(p) => cfg.swap = Some(p),
            crate::swap::Prepared::Nothing => {}
            crate::swap::Prepared::Skip(why) => bail!("gdb: scenario {}: {why}", s.name),
        }
    }
    if let Some(v) = swap {
        cfg.swap = Some(crate::swap::swap_option(&v)?);
    }
    // As `cargo xtask qemu --extra DIR`: DIR's files join the root file system.
    if !extra_dirs.is_empty() {
        let img = crate::rootfs::extra_image_path();
        crate::rootfs::build_rootfs(&img, &extra_dirs)?;
        cfg.rootfs = Some(img);
    }
    if TcpListener::bind(("127.0.0.1", port)).is_err() {
        bail!("port {port} is busy (another QEMU with -gdb still running?); try --port N");
    }
    cfg.gdb_port = Some(port);

    // QEMU in the background: stdin from /dev/null (so it leaves the terminal alone), serial
    // and QEMU's own messages to a log file, its own process group (so Ctrl-C in gdb
    // interrupts the guest instead of killing QEMU).
    let log_path = build::profile_dir(release).join("serial.log");
    let log =
        File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    let mut qemu = cfg.command(&kernel);
    qemu.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        qemu.process_group(0);
    }
    eprintln!("xtask: {}", cfg.display(&kernel));
    let mut qemu = qemu
        .spawn()
        .map_err(|e| format!("starting qemu-system-aarch64: {e}"))?;
    eprintln!(
        "xtask: QEMU is halted, waiting for GDB on port {port}; serial output goes to\n\
         xtask:     {}   (watch it with `tail -f` in another terminal)",
        log_path.display()
    );

    let gdbinit = workspace_root().join("xtask").join("gdbinit");
    let mut gdb = Command::new("gdb-multiarch");
    gdb.arg("-q");
    if batch.is_some() {
        gdb.arg("-batch");
    }
    if gdbinit.exists() {
        gdb.arg("-x").arg(&gdbinit);
    }
    // Rust's own printers (Vec, String, BTreeMap...), as rust-gdb loads them, then ours.
    if let Some(std_printers) = rust_gdb_printers() {
        gdb.arg("-x").arg(std_printers);
    }
    gdb.arg("-x").arg(helpers_script());
    gdb.arg("-ex").arg(format!("target remote :{port}"));
    for b in &breaks {
        gdb.arg("-ex").arg(format!("break {b}"));
    }
    if !breaks.is_empty() {
        gdb.arg("-ex").arg("continue");
    }
    if let Some(f) = &batch {
        gdb.arg("-x").arg(f);
        // Leave QEMU stopped, not running on, when the script ends.
        gdb.arg("-ex").arg("kill");
    }
    gdb.arg(&kernel);
    let gdb_result = gdb.spawn();
    // From here on Ctrl-C belongs to gdb; we only wait for it and clean up.
    crate::ignore_sigint();
    let status = gdb_result.and_then(|mut child| child.wait());
    let _ = qemu.kill();
    let _ = qemu.wait();
    let status = status.map_err(|e| format!("running gdb-multiarch: {e}"))?;
    Ok(crate::qemu::status_code(status))
}

/// The toolchain's GDB pretty-printers for std types (`lib/rustlib/etc`, what `rust-gdb`
/// loads), if this toolchain ships them.
fn rust_gdb_printers() -> Option<std::path::PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = String::from_utf8(out.stdout).ok()?;
    let f = Path::new(sysroot.trim()).join("lib/rustlib/etc/gdb_load_rust_pretty_printers.py");
    f.is_file().then_some(f)
}

/// A free TCP port on localhost (bind to 0, read it, release it).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Run one batch GDB check in a 512 MiB GICv2 boot.
pub fn check(kernel: &Path, c: &GdbCheck) -> Outcome {
    match run_check(kernel, c) {
        Ok(outcome) => outcome,
        Err(e) => Outcome::fail(c.name, e.0, Vec::new()),
    }
}

fn run_check(kernel: &Path, c: &GdbCheck) -> Result<Outcome> {
    let port = free_port()?;
    let mut cfg = QemuConfig {
        memory: c.memory.into(),
        gic: 2,
        cmdline: Some(c.cmdline.into()),
        gdb_port: Some(port),
        ..QemuConfig::default()
    };
    match crate::swap::prepare(c.swap, c.name)? {
        crate::swap::Prepared::Image(p) => cfg.swap = Some(p),
        crate::swap::Prepared::Nothing => {}
        crate::swap::Prepared::Skip(why) => bail!("{why}"),
    }
    let start = Instant::now();
    let qemu = Spawned::spawn(cfg.command(kernel))
        .map_err(|e| format!("starting qemu-system-aarch64: {e}"))?;
    let mut gdb = Command::new("gdb-multiarch");
    gdb.args(["-nx", "-batch"]);
    let mut commands = vec![
        "set pagination off".to_string(),
        "set confirm off".to_string(),
        format!("file {}", kernel.display()),
        // gdb retries a refused connection for `tcp connect-timeout` (15 s): QEMU may still be
        // starting up.
        format!("target remote localhost:{port}"),
        format!("source {}", helpers_script().display()),
    ];
    commands.extend(c.breaks.iter().map(|b| b.to_string()));
    commands.extend([
        "bt".to_string(),
        "frame 1".to_string(),
        "info locals".to_string(),
    ]);
    if !c.serial.is_empty() {
        commands.push("frame 0".to_string());
    }
    for (i, (cmd, _)) in c.serial.iter().enumerate() {
        commands.push(format!("echo {SERIAL_MARK}{i}\\n"));
        commands.push(cmd.to_string());
    }
    for (i, (cmd, _)) in c.exprs.iter().enumerate() {
        commands.push(format!("echo {EXPR_MARK}{i}\\n"));
        commands.push(cmd.to_string());
    }
    commands.push(format!("echo {EXPR_MARK}end\\n"));
    commands.push("kill".to_string());
    for c in &commands {
        gdb.arg("-ex").arg(c);
    }
    let gdb_run = Spawned::spawn(gdb)
        .map_err(|e| format!("starting gdb-multiarch: {e}"))?
        .run(&[], CHECK_TIMEOUT.saturating_sub(start.elapsed()));
    let serial = qemu.finish();
    let gdb_text = gdb_run.text();
    let serial_text = serial.text();
    let mut why = Vec::new();
    if gdb_run.timed_out {
        why.push(format!("timeout after {}s", CHECK_TIMEOUT.as_secs()));
    }
    why.extend(judge(&gdb_text, c));
    why.extend(judge_serial(&gdb_text, &serial_text, c));
    if let Some(agree) = c.agree {
        why.extend(agree(&gdb_text, &serial_text));
    }
    if why.is_empty() {
        return Ok(Outcome::pass(c.name));
    }
    let mut tail = vec!["--- gdb output ---".to_string()];
    tail.extend(crate::tail_lines(&gdb_text, 60));
    if !serial_text.trim().is_empty() {
        tail.push("--- serial ---".to_string());
        tail.extend(crate::tail_lines(&serial_text, 20));
    }
    Ok(Outcome::fail(c.name, why.join("; "), tail))
}

/// The function a backtrace line (`#1  0x... in mem_init (..) at ...` or
/// `#0  memblock_free_all () at ...`) names, without any path (`kernel::mm::`).
fn frame_function(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('#')?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let mut rest = rest[digits..].trim_start();
    if rest.starts_with("0x") {
        rest = rest.split_once(" in ")?.1;
    }
    // A trait method (`<T as Trait>::f`) keeps its whole name: it is plumbing the chain
    // check rejects.
    if rest.starts_with('<') {
        return rest.split(" (").next();
    }
    let name = rest.split([' ', '(']).next()?;
    Some(name.rsplit("::").next().unwrap_or(name))
}

/// Printed before each of a check's `exprs`, so its output can be told apart.
const EXPR_MARK: &str = "@@expr ";
/// Printed before each of a check's `serial` commands.
const SERIAL_MARK: &str = "@@serial ";

/// The mm helpers GDB sources (`cargo xtask gdb` and the batch checks).
pub fn helpers_script() -> std::path::PathBuf {
    workspace_root().join("scripts/gdb/mmkern.py")
}

/// The output of expression `i` of a check: the lines between its mark and the next.
fn expr_output(text: &str, i: usize) -> String {
    marked_output(text, &format!("{EXPR_MARK}{i}"))
}

/// The lines between `mark` and the next `@@` mark.
fn marked_output(text: &str, mark: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim() == mark {
            inside = true;
        } else if line.trim_start().starts_with("@@") {
            inside = false;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Why the gdb output fails the check (empty: it passes).
fn judge(text: &str, c: &GdbCheck) -> Vec<String> {
    // The first backtrace: the `#N` lines from the first `#0` on, while the numbers count up
    // (the `#1` that `frame 1` prints afterwards ends it).
    let mut frames: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(func) = frame_function(line) else {
            continue;
        };
        let n: usize = line[1..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or(usize::MAX);
        if n == frames.len() {
            frames.push(func);
        } else if !frames.is_empty() {
            break;
        }
    }
    let mut why = Vec::new();
    if frames.is_empty() {
        why.push(format!(
            "no backtrace (breakpoint on {} not hit?)",
            c.chain[0]
        ));
    } else {
        let mut pos = 0;
        for &want in c.chain {
            match frames[pos..].iter().position(|f| *f == want) {
                Some(i) => pos += i + 1,
                None => {
                    why.push(format!(
                        "backtrace lacks `{want}` in order {} (got {})",
                        c.chain.join(" <- "),
                        frames.join(" <- ")
                    ));
                    break;
                }
            }
        }
    }
    // Between the first and the last frame the chain names, only real functions: no
    // closure (`{closure#0}`) or trait-shim (`<T as Trait>::f`) frames of Rust plumbing.
    if why.is_empty() && !frames.is_empty() {
        let last = c.chain.last().copied().unwrap_or_default();
        let end = frames.iter().position(|f| *f == last).unwrap_or(0);
        if let Some(bad) = frames[..=end]
            .iter()
            .find(|f| f.contains('{') || f.contains('<'))
        {
            why.push(format!(
                "backtrace has a plumbing frame `{bad}` inside the chain ({})",
                frames[..=end].join(" <- ")
            ));
        }
    }
    for (i, (cmd, want)) in c.exprs.iter().enumerate() {
        let out = expr_output(text, i);
        if !out.contains(want) {
            why.push(format!("`{cmd}` printed `{}`, want `{want}`", out.trim()));
        }
    }
    if let Some(local) = c.local {
        if !text
            .lines()
            .any(|l| l.trim().trim_end_matches(',') == local)
        {
            why.push(format!("`info locals` in frame 1 lacks `{local}`"));
        }
    }
    why
}

/// `s` with every run of whitespace as one space, trimmed.
fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Does `line` contain `words` as whole words (`nr_mlock 4` is not in `nr_mlock 40`, nor
/// `active_anon 1` in `inactive_anon 1`)?
fn contains_words(line: &str, words: &str) -> bool {
    line.match_indices(words).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + words.len()..].chars().next();
        before.is_none_or(char::is_whitespace) && after.is_none_or(char::is_whitespace)
    })
}

/// Why the helpers' output disagrees with the serial console (empty: it agrees).
fn judge_serial(gdb_text: &str, serial_text: &str, c: &GdbCheck) -> Vec<String> {
    let mut why = Vec::new();
    for (i, (cmd, prefix)) in c.serial.iter().enumerate() {
        let out: Vec<String> = marked_output(gdb_text, &format!("{SERIAL_MARK}{i}"))
            .lines()
            .map(squeeze)
            .collect();
        let wanted: Vec<String> = serial_text
            .lines()
            .map(crate::sanitize)
            .filter_map(|l| l.trim_start().strip_prefix(prefix).map(squeeze))
            .collect();
        if wanted.is_empty() {
            why.push(format!(
                "the serial output has no `{prefix}` line for `{cmd}`"
            ));
        }
        for w in wanted {
            if !out.iter().any(|o| contains_words(o, &w)) {
                why.push(format!(
                    "`{cmd}` lacks `{w}` (printed by the kernel as `{prefix}...`)"
                ));
            }
        }
    }
    why
}

/// A `/proc/PID/maps` line's range and permissions (`00400000-00403000 r-xp ...`).
fn maps_range(line: &str) -> Option<(u64, u64, String)> {
    let mut words = line.split_whitespace();
    let (a, b) = words.next()?.split_once('-')?;
    let perms = words.next()?.to_string();
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
        perms,
    ))
}

/// One `mm-pt` line: (start, end, EL0 rwx, EL1 rwx, what).
fn pt_line(line: &str) -> Option<(u64, u64, String, String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (a, b) = words.first()?.split_once('-')?;
    let after = |tag: &str| -> Option<String> {
        let i = words.iter().position(|w| *w == tag)?;
        Some(words.get(i + 1)?.to_string())
    };
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
        after("EL0")?,
        after("EL1")?,
        words.last()?.to_string(),
    ))
}

/// May a VMA with maps permissions `vma` (`rw-p`) hold a page EL0 may access as `el0`
/// (`rw-`)? Every right the page table gives EL0 must be one the VMA has (a COW page
/// is mapped with less, never more); arm64 cannot give write without read, so a
/// write-only VMA's pages are readable.
fn el0_fits(el0: &str, vma: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (el0.chars().collect(), vma.chars().collect());
    if p.len() < 3 || v.len() < 3 {
        return false;
    }
    (p[0] != 'r' || v[0] == 'r' || v[1] == 'w')
        && (p[1] != 'w' || v[1] == 'w')
        && (p[2] != 'x' || v[2] == 'x')
}

/// `gdb-pt`: every user range `mm-pt` prints lies inside the VMAs the program printed from
/// `/proc/self/maps` (lines `maps: ...`), each with permissions that allow it; the kernel
/// text is EL1 r-x and EL0 ---, and the rest of the kernel half is EL0 --- too.
fn pt_agrees_with_maps(gdb_text: &str, serial_text: &str) -> Vec<String> {
    let vmas: Vec<(u64, u64, String)> = serial_text
        .lines()
        .map(crate::sanitize)
        .filter_map(|l| maps_range(l.trim_start().strip_prefix("maps: ")?))
        .collect();
    let mut why = Vec::new();
    if vmas.is_empty() {
        why.push("the serial output has no `maps: ` lines".to_string());
    }
    let (mut user, mut text, mut kernel) = (0, 0, 0);
    for line in gdb_text.lines() {
        let Some((start, end, el0, el1, what)) = pt_line(line) else {
            continue;
        };
        if start < 1 << 48 {
            user += 1;
            // Walk the range through the VMAs that cover it.
            let mut at = start;
            while at < end {
                match vmas
                    .iter()
                    .find(|(s, e, _)| *s <= at && at < *e)
                    .filter(|(_, _, p)| el0_fits(&el0, p))
                {
                    Some((_, e, _)) => at = (*e).min(end),
                    None => {
                        why.push(format!(
                            "mm-pt user range {start:x}-{end:x} EL0 {el0}: {at:x} is in no \
                             VMA of /proc/self/maps that allows it"
                        ));
                        break;
                    }
                }
            }
        } else {
            kernel += 1;
            if el0 != "---" {
                why.push(format!(
                    "mm-pt: kernel range {start:x}-{end:x} is EL0 {el0}"
                ));
            }
            if what == "text]" {
                text += 1;
                if el1 != "r-x" {
                    why.push(format!("mm-pt: kernel text {start:x}-{end:x} is EL1 {el1}"));
                }
            }
        }
    }
    if user == 0 || kernel == 0 || text == 0 {
        why.push(format!(
            "mm-pt printed {user} user, {kernel} kernel and {text} kernel-text ranges"
        ));
    }
    why
}

/// `gdb-lru-meminfo-dmesg`: no page `mm-lru` shows sits on a list its flags disagree with.
fn lru_pages_on_their_lists(gdb_text: &str, _serial: &str) -> Vec<String> {
    let mut why: Vec<String> = gdb_text
        .lines()
        .filter(|l| l.contains("!! flags say"))
        .map(|l| format!("mm-lru: {}", l.trim()))
        .collect();
    if !gdb_text
        .lines()
        .any(|l| l.trim_start().starts_with("pfn 0x"))
    {
        why.push("mm-lru showed no page".to_string());
    }
    why
}

/// `gdb-mlock-vma-page-chain` (the README's `--break mlock_vma_page` session): `mm-pte
/// address` reaches the frame the kernel's walk found (`mm-page page`), and `mm-vmas`
/// shows the VMA holding `address`.
fn mlock_page_agrees(gdb_text: &str, _serial: &str) -> Vec<String> {
    let hex_after = |text: &str, tag: &str| -> Option<u64> {
        let rest = &text[text.find(tag)? + tag.len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len());
        u64::from_str_radix(&rest[..end], 16).ok()
    };
    let mut why = Vec::new();
    let pte = marked_output(gdb_text, &format!("{EXPR_MARK}{}", MLOCK_PTE_EXPR));
    let page = marked_output(gdb_text, &format!("{EXPR_MARK}{}", MLOCK_PAGE_EXPR));
    let addr = marked_output(gdb_text, &format!("{EXPR_MARK}{}", MLOCK_ADDR_EXPR));
    let vmas = marked_output(gdb_text, &format!("{EXPR_MARK}{}", MLOCK_VMAS_EXPR));
    let pte_pfn = pte
        .lines()
        .filter(|l| l.starts_with("va 0x"))
        .find_map(|l| hex_after(l, " pfn 0x"));
    let page_pfn = hex_after(&page, "Page { pfn 0x");
    if pte_pfn.is_none() || pte_pfn != page_pfn {
        why.push(format!(
            "mm-pte address found pfn {pte_pfn:x?}, the kernel's page is pfn {page_pfn:x?}"
        ));
    }
    let addr = hex_after(&addr, "= 0x");
    let inside = addr.is_some_and(|a| {
        vmas.lines()
            .filter_map(maps_range)
            .any(|(s, e, p)| s <= a && a < e && p == "rw-p")
    });
    if !inside {
        why.push(format!("mm-vmas has no rw-p VMA holding address {addr:x?}"));
    }
    why
}

/// Indexes into `gdb-mlock-vma-page-chain`'s exprs that [`mlock_page_agrees`] reads.
const MLOCK_VMAS_EXPR: usize = 0;
const MLOCK_PAGE_EXPR: usize = 1;
const MLOCK_ADDR_EXPR: usize = 5;
const MLOCK_PTE_EXPR: usize = 6;

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
Breakpoint 1 at 0x40081234: file kernel/src/mm/memblock.rs, line 10.

Breakpoint 1, memblock_free_all () at kernel/src/mm/memblock.rs:10
10\t    let x = 1;
#0  memblock_free_all () at kernel/src/mm/memblock.rs:10
#1  0xffff000040082000 in kernel::mm::init::mem_init (mem_bytes=536870912) at kernel/src/mm/init.rs:20
#2  0xffff000040083000 in start_kernel () at kernel/src/main.rs:30
#3  0xffff000040080040 in _start ()
#1  0xffff000040082000 in kernel::mm::init::mem_init (mem_bytes=536870912) at kernel/src/mm/init.rs:20
20\t    memblock_free_all();
ram_pages = 131072
[Inferior 1 (process 1) killed]
";

    #[test]
    fn closure_and_trait_frames_inside_the_chain_fail() {
        let c = GdbCheck {
            name: "t",
            cmdline: "",
            memory: "512M",
            swap: crate::swap::SwapDisk::None,
            agree: None,
            breaks: &[],
            chain: &["a", "c"],
            local: None,
            exprs: &[("p x", "= 1")],
            serial: &[],
        };
        let bt = "#0  a () at x.rs:1\n#1  0x1 in k::m::b::{closure#0} () at x.rs:2\n#2  0x2 in k::c () at x.rs:3\n@@expr 0\n$1 = 1\n@@expr end\n";
        let why = judge(bt, &c);
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains("{closure#0}"));
        let bt = "#0  a () at x.rs:1\n#1  0x1 in <k::P as k::T>::f (self=0x1) at x.rs:2\n#2  0x2 in k::c () at x.rs:3\n@@expr 0\n$1 = 2\n@@expr end\n";
        let why = judge(bt, &c);
        assert_eq!(why.len(), 2, "{why:?}");
        let bt = "#0  a () at x.rs:1\n#1  0x2 in k::c () at x.rs:3\n@@expr 0\n$1 = 1\n@@expr end\n";
        assert!(judge(bt, &c).is_empty());
    }

    #[test]
    fn helper_output_must_contain_each_serial_line() {
        let c = GdbCheck {
            name: "t",
            cmdline: "",
            memory: "512M",
            swap: crate::swap::SwapDisk::None,
            agree: None,
            breaks: &[],
            chain: &["a"],
            local: None,
            exprs: &[],
            serial: &[("mm-vmas", "maps: ")],
        };
        let serial =
            "boot\nmaps: 00400000-00401000 r-xp 00000000 fe:00 7    /bin/x\r\nmaps: 10-20 rw-p\n";
        let good = "@@serial 0\n00400000-00401000 r-xp 00000000 fe:00 7 /bin/x\n10-20 rw-p 0\n@@expr end\n";
        assert!(judge_serial(good, serial, &c).is_empty());
        let missing = "@@serial 0\n00400000-00401000 r-xp 00000000 fe:00 7 /bin/x\n@@expr end\n";
        assert_eq!(judge_serial(missing, serial, &c).len(), 1);
        assert_eq!(judge_serial(good, "boot\n", &c).len(), 1);
    }

    #[test]
    fn munlock_chain_needs_the_munlock_path_and_the_other_locked_vma() {
        let c = CHECKS
            .iter()
            .find(|c| c.name == "gdb-reclaim-munlock-chain")
            .unwrap();
        let frames = [
            "try_to_munlock",
            "__munlock_isolated_page",
            "munlock_vma_page",
            "munlock_vma_pages_range",
            "mlock_fixup",
            "apply_vma_lock_flags",
            "sys_munlock",
        ];
        let bt = |frames: &[&str]| -> String {
            frames
                .iter()
                .enumerate()
                .map(|(i, f)| format!("#{i}  0x1 in kernel::mm::x::{f} () at x.rs:1\n"))
                .collect()
        };
        let outputs = [
            "$1 = 0x0",
            "$2 = 1",
            "#3 munlock_vma_pages_range",
            "$3 = 0x0",
            "Breakpoint 2 at 0x1",
            "Breakpoint 2, kernel::mm::mlock::mlock_vma_page (page=0x1)",
            "#1 try_to_unmap_one",
            "$4 = 0x8",
            "$5 = 0x2000",
            "$6 = false",
        ];
        let exprs = |outputs: &[&str]| -> String {
            let mut s = String::new();
            for (i, o) in outputs.iter().enumerate() {
                s.push_str(&format!("{EXPR_MARK}{i}\n{o}\n"));
            }
            s + &format!("{EXPR_MARK}end\n")
        };
        let good = bt(&frames) + &exprs(&outputs);
        assert!(judge(&good, c).is_empty(), "{:?}", judge(&good, c));
        // Reached some other way (no munlock_vma_page above it): fails.
        let mut other = frames;
        other[2] = "shrink_page_list";
        assert_eq!(judge(&(bt(&other) + &exprs(&outputs)), c).len(), 1);
        // The walk found the munlocking VMA itself (same mm, TTU flags 0): fails twice.
        let mut wrong = outputs;
        wrong[7] = "$4 = 0x0";
        wrong[9] = "$6 = true";
        assert_eq!(judge(&(bt(&frames) + &exprs(&wrong)), c).len(), 2);
    }

    #[test]
    fn serial_lines_match_whole_words_only() {
        assert!(contains_words("nr_mlock 4", "nr_mlock 4"));
        assert!(!contains_words("nr_mlock 40", "nr_mlock 4"));
        assert!(!contains_words("inactive_anon 1 page", "active_anon 1"));
        assert!(contains_words("x active_anon 1 page", "active_anon 1"));
    }

    #[test]
    fn pt_ranges_must_fit_the_maps_and_kernel_text_must_be_rx() {
        let serial = "maps: 00400000-00403000 r-xp 00000000 fe:00 9   /bin/x\r\n\
                      maps: fffff7ffc000-fffff8000000 rw-p 00000000 00:00 0\n";
        let line = |r: &str, el0: &str, el1: &str, what: &str| {
            format!("{r}    12K page 4K   EL0 {el0} EL1 {el1} Normal        {what}\n")
        };
        let kernel = line(
            "ffff000040200000-ffff000040378000",
            "---",
            "r-x",
            "[kernel text]",
        ) + &line(
            "ffff000040378000-ffff00004049e000",
            "---",
            "r--",
            "[kernel rodata]",
        );
        let good = line("0000000000400000-0000000000403000", "r-x", "r--", "/bin/x")
            + &line("0000fffff7ffc000-0000fffff8000000", "r--", "r--", "[anon]")
            + &kernel;
        assert!(pt_agrees_with_maps(&good, serial).is_empty());
        // Writable where the VMA is not; outside every VMA; kernel text writable or
        // reachable from EL0.
        let bad = line("0000000000400000-0000000000403000", "rw-", "rw-", "/bin/x")
            + &line("0000000000500000-0000000000501000", "r--", "r--", "?")
            + &line(
                "ffff000040200000-ffff000040378000",
                "r--",
                "rwx",
                "[kernel text]",
            );
        assert_eq!(pt_agrees_with_maps(&bad, serial).len(), 4);
        // No kernel half at all.
        let user = line("0000000000400000-0000000000403000", "r-x", "r--", "/bin/x");
        assert_eq!(pt_agrees_with_maps(&user, serial).len(), 1);
    }

    #[test]
    fn mlock_session_needs_the_walk_and_the_kernel_to_agree() {
        let text = |pte_pfn: &str, addr: &str| {
            format!(
                "{EXPR_MARK}0\nfffff7ff0000-fffff8000000 rw-p 00000000 00:00 0\n\
                 {EXPR_MARK}1\nPage {{ pfn 0x5e7c5, flags PG_lru }}\n\
                 {EXPR_MARK}5\n$3 = {addr}\n\
                 {EXPR_MARK}6\nva 0xfffff7ff0000: pgd at pa 0x1\n\
                 va 0xfffff7ff0000 pfn {pte_pfn} pa 0x5e7c5000\n{EXPR_MARK}end\n"
            )
        };
        assert!(mlock_page_agrees(&text("0x5e7c5", "0xfffff7ff0000"), "").is_empty());
        assert_eq!(
            mlock_page_agrees(&text("0x5e7c6", "0xfffff7ff0000"), "").len(),
            1
        );
        assert_eq!(mlock_page_agrees(&text("0x5e7c5", "0x1000"), "").len(), 1);
    }

    #[test]
    fn frame_names() {
        assert_eq!(
            frame_function("#0  memblock_free_all () at x.rs:1"),
            Some("memblock_free_all")
        );
        assert_eq!(
            frame_function("#12 0x00000000400812a4 in kernel::mm::mem_init (a=1) at y.rs:2"),
            Some("mem_init")
        );
        assert_eq!(
            frame_function("#1  0x0 in start_kernel ()"),
            Some("start_kernel")
        );
        assert_eq!(frame_function("#x"), None);
        assert_eq!(frame_function("ram_pages = 1"), None);
    }

    #[test]
    fn judge_good_and_bad() {
        let c = CHECKS.iter().find(|c| c.name == "gdb-backtrace").unwrap();
        assert!(judge(GOOD, c).is_empty(), "{:?}", judge(GOOD, c));
        let swapped = GOOD
            .replace(
                "#1  0xffff000040082000 in kernel",
                "#1  0xffff000040082000 in X",
            )
            .replace("in start_kernel", "in kernel::mm::init::mem_init")
            .replace("in X::mm::init::mem_init", "in start_kernel");
        let why = judge(&swapped, c);
        assert!(why.iter().any(|w| w.contains("in order")), "{why:?}");
        let no_locals = GOOD.replace("ram_pages = 131072", "ram_pages = 16384");
        assert_eq!(judge(&no_locals, c).len(), 1);
        assert_eq!(judge("Remote connection closed\nNo stack.\n", c).len(), 2);
    }
}

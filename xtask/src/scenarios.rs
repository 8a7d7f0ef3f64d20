//! The QEMU scenarios `cargo xtask test` runs: a data table. To add one, copy an entry; every
//! field not given comes from [`BASE`].
//!
//! Each scenario boots the debug kernel with its memory size, GIC version, entry EL and
//! command line, optionally types into the console, and checks the serial output and QEMU's
//! exit status (semihosting exit code: 0 ok, 1 ktest failure, 101 panic; PSCI SYSTEM_OFF
//! is always 0). A `Kernel panic` line fails any scenario with `panic_expected: false`.

use crate::qemu::{InputStep, QemuConfig};
pub use crate::swap::SwapDisk;

/// One check on the serial output.
#[derive(Clone, Copy, Debug)]
pub enum Check {
    /// The text appears somewhere in the output.
    Contains(&'static str),
    /// Some line starts with `prefix` and ends with `suffix`.
    Line {
        prefix: &'static str,
        suffix: &'static str,
    },
    /// No line starts with this text.
    NoLineStartsWith(&'static str),
    /// A line starts with `marker` followed by a word W (a pid the program printed), and
    /// a line starts with `prefix`, W and `suffix` (the kernel's report about it).
    NamedLine {
        marker: &'static str,
        prefix: &'static str,
        suffix: &'static str,
    },
}

impl Check {
    /// `None` if the check holds, else why not.
    pub fn failure(&self, text: &str) -> Option<String> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        match *self {
            Check::Contains(s) => (!text.contains(s)).then(|| format!("missing `{s}`")),
            Check::Line { prefix, suffix } => (!lines
                .any(|l| l.starts_with(prefix) && l.ends_with(suffix)))
            .then(|| format!("no line `{prefix}...{suffix}`")),
            Check::NoLineStartsWith(p) => lines
                .find(|l| l.starts_with(p))
                .map(|l| format!("found `{}`", crate::sanitize(l))),
            Check::NamedLine {
                marker,
                prefix,
                suffix,
            } => {
                let Some(word) = lines
                    .clone()
                    .find_map(|l| l.strip_prefix(marker))
                    .and_then(|rest| rest.split_whitespace().next())
                else {
                    return Some(format!("no line `{marker}...`"));
                };
                let want = format!("{prefix}{word}{suffix}");
                (!lines.any(|l| l.starts_with(&want))).then(|| format!("no line `{want}...`"))
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// `-m`, e.g. "64M", "2G".
    pub memory: &'static str,
    /// 2 or 3.
    pub gic: u8,
    /// Enter at EL2 (`virtualization=on`).
    pub el2: bool,
    /// Enter at EL3 (`secure=on`).
    pub el3: bool,
    /// `-append` text; empty for none.
    pub cmdline: &'static str,
    /// `-icount shift=0` (QEMU counts the PMU's INST_RETIRED event only then).
    pub icount: bool,
    /// Console input, step by step.
    pub input: &'static [InputStep],
    pub checks: &'static [Check],
    /// QEMU's expected exit status.
    pub exit_status: i32,
    /// A panic report is the expected outcome (else `Kernel panic` fails the scenario).
    pub panic_expected: bool,
    pub timeout_secs: u64,
    /// For user test programs: the summary line's prefix (`prog: `), which must end in
    /// `, 0 failed`.
    pub summary_prefix: &'static str,
    /// A second disk for swap (`/dev/vdb` in the guest), made fresh for each run.
    pub swap: SwapDisk,
}

impl Scenario {
    pub fn qemu_config(&self) -> QemuConfig {
        QemuConfig {
            memory: self.memory.to_string(),
            gic: self.gic,
            el2: self.el2,
            el3: self.el3,
            cmdline: (!self.cmdline.is_empty()).then(|| self.cmdline.to_string()),
            icount: self.icount,
            ..QemuConfig::default()
        }
    }
}

/// Defaults for table entries.
pub const BASE: Scenario = Scenario {
    name: "",
    memory: "512M",
    gic: 2,
    el2: false,
    el3: false,
    cmdline: "poweroff",
    icount: false,
    input: &[],
    checks: &[],
    exit_status: 0,
    panic_expected: false,
    timeout_secs: 60,
    summary_prefix: "",
    swap: SwapDisk::None,
};

const KTEST_CHECKS: &[Check] = &[
    Check::Line {
        prefix: "ktest: ",
        suffix: ", 0 failed",
    },
    Check::NoLineStartsWith("not ok"),
];

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "boot-64M-el1-gicv2",
        memory: "64M",
        checks: &[
            Check::Contains("dt: memory 0x40000000..0x44000000 (64 MiB)"),
            Check::Contains("boot: entered at EL1"),
            Check::Contains("mmkern ready: RAM 64 MiB, GICv2, entered at EL1"),
        ],
        ..BASE
    },
    Scenario {
        name: "boot-512M-el2-gicv3",
        memory: "512M",
        gic: 3,
        el2: true,
        checks: &[
            Check::Contains("(512 MiB)"),
            Check::Contains("entered at EL2"),
            Check::Contains("mmkern ready: RAM 512 MiB, GICv3, entered at EL2"),
        ],
        ..BASE
    },
    Scenario {
        name: "boot-2G-el1-gicv3",
        memory: "2G",
        gic: 3,
        checks: &[
            Check::Contains("(2048 MiB)"),
            Check::Contains("mmkern ready: RAM 2048 MiB, GICv3, entered at EL1"),
        ],
        ..BASE
    },
    Scenario {
        name: "boot-2G-el2-gicv2",
        memory: "2G",
        el2: true,
        checks: &[
            Check::Contains("(2048 MiB)"),
            Check::Contains("mmkern ready: RAM 2048 MiB, GICv2, entered at EL2"),
        ],
        ..BASE
    },
    Scenario {
        name: "boot-512M-el1-gicv2",
        checks: &[
            Check::Contains("dt: memory 0x40000000..0x60000000 (512 MiB)"),
            Check::Contains("boot: entered at EL1"),
            Check::Contains("mmkern ready: RAM 512 MiB, GICv2, entered at EL1"),
        ],
        ..BASE
    },
    Scenario {
        name: "boot-512M-el3-gicv2",
        el3: true,
        checks: &[
            Check::Contains("boot: entered at EL3, running at EL1"),
            Check::Contains("psci method none"),
            Check::Contains("mmkern ready: RAM 512 MiB, GICv2, entered at EL3"),
        ],
        ..BASE
    },
    Scenario {
        name: "ktest-512M-gicv2",
        cmdline: "ktest=all",
        checks: KTEST_CHECKS,
        ..BASE
    },
    Scenario {
        name: "ktest-64M-el2-gicv3",
        memory: "64M",
        gic: 3,
        el2: true,
        cmdline: "ktest=all",
        checks: KTEST_CHECKS,
        ..BASE
    },
    Scenario {
        name: "panic-report",
        cmdline: "test_panic",
        checks: &[
            Check::Contains("Kernel panic - not syncing: test_panic on the command line"),
            Check::Contains("Backtrace:"),
            Check::Line {
                prefix: "  #",
                suffix: "",
            },
            Check::Contains(" kernel::init::rest_init+0x"),
            Check::Contains(" start_kernel+0x"),
        ],
        exit_status: 101,
        panic_expected: true,
        ..BASE
    },
    Scenario {
        name: "oops-report",
        cmdline: "test_oops",
        checks: &[
            Check::Contains(
                "Internal error: Unable to handle kernel NULL pointer dereference at virtual address 0000000000000010",
            ),
            Check::Contains("DABT (current EL), level 0 translation fault, read"),
            Check::Contains("FAR 0x0000000000000010 (pc at "),
            Check::Contains(" kernel::init::rest_init+0x"),
            Check::Contains("x29: "),
            Check::Contains("Backtrace:"),
            Check::Contains(" start_kernel+0x"),
            Check::Contains("Kernel panic - not syncing: Fatal exception"),
        ],
        exit_status: 101,
        panic_expected: true,
        ..BASE
    },
    Scenario {
        name: "shell-console-irq-rx",
        cmdline: "",
        input: &[
            InputStep {
                wait_for: "$ ",
                send: "echo hello from the shell\r",
            },
            InputStep {
                wait_for: "hello from the shell\r\n$ ",
                send: "cat /etc/motd\r",
            },
            InputStep {
                wait_for: "page cache.",
                send: "ls /bin\r",
            },
            InputStep {
                wait_for: "mmap_errno",
                send: "exit 7\r",
            },
        ],
        checks: &[
            Check::Contains("init: pid 1, starting /bin/sh"),
            Check::Contains("hello from the shell"),
            Check::Contains("Welcome to mmkern"),
            Check::Contains("init: /bin/init exited with status 7"),
            Check::Contains("mm: no leak"),
        ],
        exit_status: 7,
        ..BASE
    },
    Scenario {
        // `printf 'cmd\nexit\n' | cargo xtask qemu`: the input is there before the kernel
        // boots and must be kept for the shell (type-ahead), as a tty keeps it.
        name: "shell-piped-typeahead",
        cmdline: "",
        input: &[InputStep {
            wait_for: "",
            send: "echo typed before boot\rexit 5\r",
        }],
        checks: &[
            Check::Contains("\ntyped before boot\r\n"),
            Check::Contains("init: /bin/init exited with status 5"),
            Check::Contains("mm: no leak"),
        ],
        exit_status: 5,
        ..BASE
    },
    user_test("user-mmap-errno", "init=/bin/mmap_errno", "mmap_errno: "),
    user_test("user-mmap-checks", "init=/bin/mmap_checks", "mmap_checks: "),
    user_test("user-vma-layout", "init=/bin/vma_layout", "vma_layout: "),
    user_test("user-fault-kinds", "init=/bin/fault_kinds", "fault_kinds: "),
    user_test("user-fork-cow", "init=/bin/fork_cow", "fork_cow: "),
    // The same user programs on the other machine shapes: GICv3 entered at EL2 with 64 MiB
    // (timer preemption and ASIDs under a different interrupt controller), and 2 GiB.
    Scenario {
        memory: "64M",
        gic: 3,
        el2: true,
        ..user_test("user-fork-cow-64M-el2-gicv3", "init=/bin/fork_cow", "fork_cow: ")
    },
    Scenario {
        memory: "2G",
        ..user_test("user-vma-layout-2G", "init=/bin/vma_layout", "vma_layout: ")
    },
    user_test("user-segv", "init=/bin/segv", "segv: "),
    user_test("user-robustness", "init=/bin/robustness", "robustness: "),
    Scenario {
        // Issue 13: VMAs made without end at 64 MiB end in ENOMEM (at max_map_count, then,
        // with the limit raised, when the slab runs out of memory), never in a panic.
        memory: "64M",
        timeout_secs: 240,
        ..user_test("user-slab-vmas-64M", "init=/bin/slab_test -- vmas", "slab_test: ")
    },
    Scenario {
        // Issue 13: a large executable, huge argument lists, thousands of long tmpfs
        // names and a far descriptor end as Linux's calls do, never in a panic.
        memory: "64M",
        timeout_secs: 240,
        ..user_test("user-slab-abuse-64M", "init=/bin/slab_test -- abuse", "slab_test: ")
    },
    Scenario {
        // Issue 13: 50,000 VMAs raise meminfo's Slab, /proc/slabinfo shows them in
        // vm_area_struct, and Slab falls back after the munmap.
        timeout_secs: 120,
        ..user_test("user-slab-512M", "init=/bin/slab_test -- slab", "slab_test: ")
    },
    user_test("user-mlock", "init=/bin/mlock_test", "mlock_test: "),
    Scenario {
        // Seed 001 end to end: pages locked in one of two mappings are culled by reclaim,
        // kept locked by try_to_munlock, rescued by the last munlock.
        memory: "64M",
        timeout_secs: 180,
        ..user_test("user-reclaim-mlock-64M", "init=/bin/reclaim_demo", "reclaim_demo: ")
    },
    Scenario {
        // /data/reclaim.bin (64 MiB) does not fit: reading it twice through a shared
        // mapping makes the kernel reclaim clean file pages and read them again.
        memory: "64M",
        timeout_secs: 180,
        ..user_test("user-reclaim-64M", "init=/bin/reclaim_test", "reclaim_test: ")
    },
    Scenario {
        // The swap issue's acceptance: 3x RAM of anonymous memory out to a 256 MiB swap
        // disk and back (twice, in different orders), fork under swap, an mlocked region
        // that never leaves, MADV_PAGEOUT of a known range, swapoff (ENOMEM, then done).
        memory: "64M",
        swap: SwapDisk::Ours("256M"),
        timeout_secs: 300,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains(" failed"),
        ],
        ..user_test("user-swap-64M", "init=/bin/swap_stress", "swap_stress: ")
    },
    Scenario {
        // tmpfs pages out to swap and back (issue 10, item 5): a /dev/shm file of 1.5x RAM
        // and 1x RAM of MAP_SHARED|MAP_ANONYMOUS through shmem_writepage and
        // shmem_swapin_page, read(2) and mappings, MADV_PAGEOUT of shared pages, unlink
        // freeing slots, swapoff bringing shmem pages back (shmem_unuse).
        memory: "64M",
        swap: SwapDisk::Ours("256M"),
        timeout_secs: 300,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains(" failed"),
        ],
        ..user_test(
            "user-shmem-swap-64M",
            "init=/bin/shmem_swap_test",
            "shmem_swap_test: ",
        )
    },
    Scenario {
        // System V shared memory (issue 12): shmget/shmat/shmdt/shmctl over a shmem file
        // mapped by do_mmap; every errno of the man pages, limits through
        // /proc/sys/kernel/shm*, nattch across fork, split, exec and exit, IPC_RMID freeing
        // at the last detach (meminfo Shmem), SHM_RDONLY's SIGSEGV, /proc/sysvipc/shm, and
        // SHM_LOCK keeping a segment resident under MADV_PAGEOUT and 1.5x RAM of pressure
        // while its unlocked twin goes to swap.
        memory: "64M",
        swap: SwapDisk::Ours("256M"),
        timeout_secs: 240,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains("ok - /proc/sysvipc/shm line"),
            Check::Contains("ok - after pressure the locked segment is still all resident"),
            Check::Contains(" failed"),
        ],
        ..user_test("user-shm-64M", "init=/bin/shm_test", "shm_test: ")
    },
    Scenario {
        // The book's walk-through: pressure writes pages out, MADV_PAGEOUT and a touch
        // bring one back (the two GDB swap checks stop in this program).
        memory: "64M",
        swap: SwapDisk::Ours("128M"),
        timeout_secs: 180,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains(" failed"),
        ],
        ..user_test("user-swap-demo-64M", "init=/bin/swap_demo", "swap_demo: ")
    },
    Scenario {
        // `cargo xtask bench swap`'s program at a small scale, so it keeps working: 1.5x
        // RAM written and read back, a 1 MiB MADV_PAGEOUT and touch, data checked, the PMU
        // read from EL0 (under icount: QEMU counts INST_RETIRED only then).
        memory: "32M",
        swap: SwapDisk::Ours("64M"),
        icount: true,
        timeout_secs: 120,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::NoLineStartsWith("swap_bench: no EL0 access"),
            Check::Line {
                prefix: "bench: pageout insns ",
                suffix: " pages 256",
            },
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains(" failed"),
        ],
        ..user_test(
            "user-swap-bench-check-32M",
            "sysctl.kernel.perf_user_access=1 init=/bin/swap_bench -- check",
            "swap_bench: ",
        )
    },
    Scenario {
        // swapon(2)/swapoff(2) errnos, /proc/swaps, /proc/partitions and SwapTotal/SwapFree
        // on a 16 MiB disk formatted by xtask's own SWAPSPACE2 writer.
        swap: SwapDisk::Ours("16M"),
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains("Adding 16380k swap on /dev/vdb.  Priority:-2"),
        ],
        ..user_test("user-swapon", "init=/bin/swap_test", "swap_test: ")
    },
    Scenario {
        // A disk of zeroes: no signature, swapon is EINVAL with Linux's message.
        swap: SwapDisk::Raw("16M"),
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("Unable to find swap-space signature"),
            Check::Contains("mm: no swap leak"),
        ],
        ..user_test(
            "user-swapon-nosig",
            "init=/bin/swap_test -- nosig",
            "swap_test: ",
        )
    },
    Scenario {
        // An image made by the host's mkswap (util-linux): accepted. Skipped, with a note,
        // on a host without mkswap.
        swap: SwapDisk::HostMkswap("16M"),
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no swap leak"),
            Check::Contains("Adding 16380k swap on /dev/vdb.  Priority:-2"),
        ],
        ..user_test(
            "user-swapon-mkswap",
            "init=/bin/swap_test -- mkswap",
            "swap_test: ",
        )
    },
    Scenario {
        // What the book tells a learner to type: swap on from the shell, look, swap off.
        name: "shell-swapon",
        cmdline: "",
        swap: SwapDisk::Ours("16M"),
        input: &[
            InputStep {
                wait_for: "$ ",
                send: "swapon /dev/vdb\r",
            },
            InputStep {
                wait_for: "Adding 16380k swap on /dev/vdb.",
                send: "cat /proc/swaps\r",
            },
            InputStep {
                wait_for: "partition",
                send: "swapoff /dev/vdb\r",
            },
            // One line at a time, as a learner types (shell-typeahead sends bursts).
            InputStep {
                wait_for: "$ swapoff /dev/vdb",
                send: "",
            },
            InputStep {
                wait_for: "$ ",
                send: "swapoff /dev/vdb\r",
            },
            InputStep {
                wait_for: "swapoff failed: EINVAL",
                send: "exit 3\r",
            },
        ],
        checks: &[
            Check::Contains("/dev/vdb                                partition\t16380\t\t0\t\t-2"),
            Check::Contains("swapoff: /dev/vdb: swapoff failed: EINVAL"),
            Check::Contains("mm: no swap leak"),
            Check::Contains("init: /bin/init exited with status 3"),
            Check::Contains("mm: no leak"),
        ],
        exit_status: 3,
        ..BASE
    },
    Scenario {
        // Lines typed ahead while programs run, in bursts: every byte must reach the
        // shell. (The RX interrupt used to be acknowledged after the FIFO was drained,
        // which could strand a burst's tail in the FIFO with no interrupt: a CI run of
        // shell-swapon timed out that way.)
        name: "shell-typeahead",
        cmdline: "",
        input: &[
            InputStep {
                wait_for: "$ ",
                send: "cat /proc/swaps\recho one two\rcat /proc/version\recho three\r",
            },
            InputStep {
                wait_for: "three",
                send: "cat /proc/meminfo\recho four five six seven\rls /bin\recho eight\rexit 4\r",
            },
        ],
        checks: &[
            Check::Contains("one two"),
            Check::Contains("Linux version"),
            Check::Contains("MemTotal:"),
            Check::Contains("four five six seven"),
            Check::Contains("zcat_test"),
            Check::Contains("eight"),
            Check::Contains("init: /bin/init exited with status 4"),
            Check::Contains("mm: no leak"),
        ],
        exit_status: 4,
        ..BASE
    },
    Scenario {
        // `swap=/dev/vdb` turns swap on at boot; an in-kernel test writes two pages with
        // swap_writepage and reads one back with swap_readpage through the real disk.
        name: "ktest-swap-io",
        cmdline: "swap=/dev/vdb ktest=swap",
        swap: SwapDisk::Ours("16M"),
        checks: &[
            Check::Line {
                prefix: "ktest: 1 passed",
                suffix: ", 0 failed",
            },
            Check::NoLineStartsWith("not ok"),
            Check::Contains("Adding 16380k swap on /dev/vdb.  Priority:-2"),
            Check::Contains("round trip matches; pswpout +2, pswpin +1"),
        ],
        ..BASE
    },
    Scenario {
        // File readahead as 5.10: read-around, PG_readahead marks, MADV_RANDOM /
        // MADV_SEQUENTIAL / MADV_WILLNEED, read(2), counted with pgmajfault and mincore on
        // /data/readahead.bin, which nothing else reads.
        memory: "64M",
        timeout_secs: 120,
        ..user_test("user-readahead-64M", "init=/bin/readahead_test", "readahead_test: ")
    },
    user_test("user-madvise", "init=/bin/madvise_test", "madvise_test: "),
    Scenario {
        // MADV_HWPOISON -> memory_failure and the SIGBUS (BUS_MCEERR_AR) of a touch: LTP
        // madvise07's flow, siginfo, EPERM, fork, uaccess EFAULT, /proc views, and the
        // leak check counting the retired pages as HardwareCorrupted.
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains(" failed"),
            Check::Contains("Injecting memory failure for pfn"),
            Check::Contains("recovery action for dirty LRU page: Recovered"),
            Check::Contains("memory failure (hardware poisoned page)"),
        ],
        ..user_test("user-hwpoison", "init=/bin/hwpoison_test", "hwpoison_test: ")
    },
    Scenario {
        // The PMU's instruction counter read from EL0 when the command line allows it
        // (under icount: QEMU counts INST_RETIRED only then), the sysctl turning it off
        // (SIGILL) and on again.
        icount: true,
        ..user_test(
            "user-pmu",
            "sysctl.kernel.perf_user_access=1 init=/bin/pmu_test -- on",
            "pmu_test: ",
        )
    },
    // Without the option: reading the counter from EL0 is SIGILL, as on Linux.
    user_test("user-pmu-off", "init=/bin/pmu_test -- off", "pmu_test: "),
    Scenario {
        // drop_caches frees the unused clean page cache, keeps mapped pages, is root-only
        // and write-only, takes 1..=4, logs who asked.
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains(" failed"),
            Check::Line {
                prefix: "drop_cache_test (1): drop_caches: ",
                suffix: "1",
            },
            Check::Contains("): drop_caches: 4"),
            Check::NoLineStartsWith("drop_cache_test (1): drop_caches: 3"),
        ],
        ..user_test(
            "user-drop-caches",
            "init=/bin/drop_cache_test",
            "drop_cache_test: ",
        )
    },
    user_test("user-proc", "init=/bin/proc_test", "proc_test: "),
    user_test("user-proc-mem", "init=/bin/proc_mem_test", "proc_mem_test: "),
    user_test(
        "user-kpageflags",
        "init=/bin/kpageflags_test",
        "kpageflags_test: ",
    ),
    user_test("user-mremap", "init=/bin/mremap_test", "mremap_test: "),
    // The gzip decompressor behind /bin/zcat, and zcat /proc/config.gz.
    user_test("user-zcat", "init=/bin/zcat_test", "zcat_test: "),
    // userfaultfd(2): UFFDIO_API/REGISTER/COPY/ZEROPAGE/WAKE/UNREGISTER, a handler thread,
    // signals and kernel accesses while a fault waits, MREMAP_DONTUNMAP, fork, close.
    user_test(
        "user-userfaultfd",
        "init=/bin/userfaultfd_test",
        "userfaultfd_test: ",
    ),
    user_test("user-pipe", "init=/bin/pipe_test", "pipe_test: "),
    // fchmod/fchmodat/fchown/fchownat and the mode bits open and access obey, as root and
    // as uid 1000.
    user_test("user-chmod", "init=/bin/chmod_test", "chmod_test: "),
    // socketpair(AF_UNIX, SOCK_STREAM), shutdown, ppoll on sockets.
    user_test(
        "user-socketpair",
        "init=/bin/socketpair_test",
        "socketpair_test: ",
    ),
    user_test("user-pgrp", "init=/bin/pgrp_test", "pgrp_test: "),
    user_test("user-init-kill", "init=/bin/init_kill", "init_kill: "),
    user_test("user-timer", "init=/bin/timer_test", "timer_test: "),
    // umask, CPU affinity, RLIMIT_FSIZE (SIGXFSZ, EFBIG).
    user_test("user-limits", "init=/bin/limits_test", "limits_test: "),
    // Core dumps: RLIMIT_CORE, core_pattern, coredump_filter, MADV_DONTDUMP.
    user_test("user-coredump", "init=/bin/coredump_test", "coredump_test: "),
    // CPU time: tick accounting, getrusage/times/wait4 rusage, CPU clocks,
    // ITIMER_VIRTUAL/PROF, RLIMIT_CPU's SIGXCPU and SIGKILL.
    Scenario {
        timeout_secs: 180,
        ..user_test("user-cputime", "init=/bin/cputime_test", "cputime_test: ")
    },
    // Threads: clone with pthread_create's flags, futexes, exit vs exit_group, signals to
    // a thread group, exec and vfork with threads, robust futexes.
    Scenario {
        timeout_secs: 180,
        ..user_test("user-threads", "init=/bin/thread_test", "thread_test: ")
    },
    // exec from a non-leader thread (it takes the leader's pid), CLONE_FILES and
    // CLONE_SIGHAND sharers that exec (their own table and actions), many threads with
    // signals, many futex waiters.
    Scenario {
        timeout_secs: 180,
        ..user_test("user-thread-exec", "init=/bin/thread_exec_test", "thread_exec_test: ")
    },
    Scenario {
        // init powers the machine off itself: no leak lines (init never exits), QEMU's
        // status 0 and the kernel's line instead.
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("reboot: Power down"),
        ],
        ..user_test("user-reboot", "init=/bin/reboot_test", "reboot_test: ")
    },
    Scenario {
        // Time in instructions (-icount): the heartbeat's gaps do not depend on the host.
        icount: true,
        timeout_secs: 120,
        ..user_test("user-preempt", "init=/bin/preempt_test", "preempt_test: ")
    },
    Scenario {
        // /tmp's default size= is half of RAM: at 64M it fills to ENOSPC quickly.
        memory: "64M",
        ..user_test("user-tmpfs-64M", "init=/bin/tmpfs_test", "tmpfs_test: ")
    },
    // The tracer's runtime switch: /sys/kernel/tracing used as on Linux.
    user_test("user-trace", "init=/bin/trace_test", "trace_test: "),
    user_test(
        "user-file-populate",
        "init=/bin/file_populate",
        "file_populate: ",
    ),
    user_test("user-sleep", "init=/bin/sleep_test", "sleep_test: "),
    user_test("user-tls-switch", "init=/bin/tls_switch", "tls_switch: "),
    Scenario {
        // The SIGILL report names the trapping instruction word (here `mrs x0, sctlr_el1`,
        // which id_regs runs at EL0) and the PSTATE it came from.
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains(" failed"),
            Check::Contains("Unknown/Uncategorized, insn 0xd5381000, pstate 0x60000000"),
        ],
        ..user_test("user-id-regs", "init=/bin/id_regs", "id_regs: ")
    },
    user_test("user-sig-handlers", "init=/bin/sig_handlers", "sig_handlers: "),
    // SA_RESTART, EINTR and restart_syscall; alarm vs rt_sigsuspend/ppoll; sigaltstack
    // and a stack overflow handled on the alternate stack.
    user_test("user-sig-restart", "init=/bin/sig_restart", "sig_restart: "),
    Scenario {
        // The OOM killer at 64 MiB: the hog dies with Linux's report, the -1000 child,
        // a bystander and init live on, and every page comes back.
        memory: "64M",
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains(" failed"),
            Check::Line {
                prefix: "oom_test invoked oom-killer: gfp_mask=0x0(), order=0, ",
                suffix: "oom_score_adj=0",
            },
            Check::Contains("Mem-Info:"),
            Check::Contains("Tasks state (memory values in pages):"),
            Check::Line {
                prefix: "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task=oom_test,pid=",
                suffix: ",uid=0",
            },
            Check::NamedLine {
                marker: "oom_test: hog pid ",
                prefix: "Out of memory: Killed process ",
                suffix: " (oom_test) total-vm:",
            },
            Check::Contains(" UID:0 pgtables:"),
        ],
        // Before the kill, reclaim evicts the programs' own text (no swap for the anon
        // pages) and they fault it back from the disk: slow, not stuck.
        timeout_secs: 240,
        ..user_test("user-oom-64M", "init=/bin/oom_test", "oom_test: ")
    },
    Scenario {
        name: "user-orphan-spin",
        cmdline: "init=/bin/orphan_spin",
        // init exits with a child that never sleeps: the kernel must still kill it, reap
        // it and finish (Linux: zap_pid_ns_processes).
        checks: &[
            Check::Contains("orphan_spin: exiting with child"),
            Check::Contains("init: /bin/orphan_spin exited with status 0"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
        ],
        timeout_secs: 30,
        ..BASE
    },
    Scenario {
        name: "demo-mlock",
        cmdline: "init=/bin/mlock_demo",
        checks: &[
            Check::Contains("mlock_demo: mlock("),
            Check::Contains("mincore = 0, 16 of 16 pages resident"),
            Check::Contains("mlock_demo: munlock = 0"),
            Check::Contains("mm: no leak"),
        ],
        ..BASE
    },
    Scenario {
        name: "demo-mmap",
        cmdline: "init=/bin/mmap_demo",
        checks: &[
            Check::Contains("mmap_demo: wrote 4 pages at"),
            Check::Contains(", sum 10"),
            Check::Contains("mm: no leak"),
        ],
        ..BASE
    },
    Scenario {
        name: "demo-populate",
        cmdline: "init=/bin/populate_demo",
        checks: &[
            Check::Contains("mincore = 0, 16 of 16 pages resident"),
            Check::Contains("mm: no leak"),
        ],
        ..BASE
    },
    // glibc programs from user/c, built by the aarch64 Linux cross compiler (`cargo xtask
    // test` installs it): glibc's start-up (ID registers, TLS, rseq/robust-list probes)
    // and its pthreads (clone, futex, tgkill) on our kernel.
    Scenario {
        name: "user-glibc-hello",
        cmdline: "init=/bin/hello_glibc",
        checks: &[
            Check::Contains("hello from glibc (pid 1)"),
            Check::Contains("init: /bin/hello_glibc exited with status 0"),
            Check::Contains("mm: no leak"),
        ],
        ..BASE
    },
    Scenario {
        timeout_secs: 180,
        ..user_test(
            "user-glibc-pthread",
            "init=/bin/pthread_glibc",
            "pthread_glibc: ",
        )
    },
    Scenario {
        name: "user-libc-std-musl",
        cmdline: "init=/bin/hello_std",
        checks: &[
            Check::Contains(
                "hello from Rust std on musl: sum=500500 map[42]=value 42 big=7340032",
            ),
            Check::Contains("init: /bin/hello_std exited with status 0"),
            Check::Contains("mm: no leak"),
        ],
        ..BASE
    },
    // The system-call fuzzer, a few seeds briefly (`cargo xtask fuzz` runs it long): no
    // panic, no hang, no leak whatever the calls. Seed 1 found the sigaltstack overflow.
    fuzz("fuzz-512M-seed-1", "512M", "init=/bin/fuzz -- 1 3000"),
    fuzz("fuzz-512M-seed-2", "512M", "init=/bin/fuzz -- 2 3000"),
    fuzz("fuzz-64M-seed-3", "64M", "init=/bin/fuzz -- 3 3000"),
    fuzz("fuzz-64M-seed-4", "64M", "init=/bin/fuzz -- 4 3000"),
];

/// A fuzz run as init (`crate::fuzz::CHECKS`): `fuzz: ... done`, exit status 0, the leak
/// lines.
const fn fuzz(name: &'static str, memory: &'static str, cmdline: &'static str) -> Scenario {
    Scenario {
        name,
        memory,
        cmdline,
        checks: crate::fuzz::CHECKS,
        timeout_secs: 120,
        ..BASE
    }
}

/// A user test program run as init: every line `ok`, the summary says 0 failed, it
/// exits 0, and the kernel finds no leaked page and no overcommit charge left once it is
/// gone.
const fn user_test(name: &'static str, cmdline: &'static str, summary: &'static str) -> Scenario {
    Scenario {
        name,
        cmdline,
        checks: &[
            Check::NoLineStartsWith("not ok"),
            Check::Contains("mm: no leak"),
            Check::Contains("mm: no commit leak"),
            Check::Contains(" failed"),
        ],
        summary_prefix: summary,
        ..BASE
    }
}

/// Look a scenario up by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Why a finished run fails its scenario (empty: it passed). `code` is QEMU's exit status,
/// `None` if QEMU was killed.
pub fn judge(s: &Scenario, text: &str, code: Option<i32>) -> Vec<String> {
    let mut why = Vec::new();
    if !s.panic_expected && text.contains("Kernel panic") {
        why.push("kernel panicked".to_string());
    }
    // A reference-count bug shows first as a page freed while still mapped (the kernel's
    // `bad_page` report), long before anything crashes: it fails every run.
    if text.contains("BUG: Bad page state") {
        why.push("kernel reported a bad page state".to_string());
    }
    // Debug kernels check every address space as its process exits (mm/debug.rs).
    if let Some(l) = text.lines().find(|l| l.contains("mm: CONSISTENCY: ")) {
        why.push(format!("kernel consistency check failed: {}", l.trim()));
    }
    match code {
        Some(c) if c == s.exit_status => {}
        Some(c) => why.push(format!("exit status {c}, expected {}", s.exit_status)),
        None => why.push("QEMU was killed".to_string()),
    }
    why.extend(s.checks.iter().filter_map(|c| c.failure(text)));
    if !s.summary_prefix.is_empty() {
        let ok = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .any(|l| l.starts_with(s.summary_prefix) && l.ends_with(", 0 failed"));
        if !ok {
            why.push(format!(
                "no summary line `{}N passed, 0 failed`",
                s.summary_prefix
            ));
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consistency_report_fails_any_run() {
        let s = &BASE;
        let ok = "mm: no leak";
        assert!(judge(s, ok, Some(0)).is_empty());
        let bad = "mm: CONSISTENCY: a PTE at 0x1000 outside every VMA\nmm: no leak";
        assert_eq!(judge(s, bad, Some(0)).len(), 1);
    }

    #[test]
    fn names_are_unique_and_sane() {
        for (i, s) in SCENARIOS.iter().enumerate() {
            assert!(!s.name.is_empty() && !s.name.contains(' '));
            assert!(
                SCENARIOS[..i].iter().all(|o| o.name != s.name),
                "{}",
                s.name
            );
            assert!(s.gic == 2 || s.gic == 3);
            assert!(s.timeout_secs > 0);
        }
        assert!(find("panic-report").is_some());
        assert!(find("nope").is_none());
    }

    #[test]
    fn ktest_checks() {
        let s = find("ktest-512M-gicv2").unwrap();
        let good = "ok - a\r\nok - b\r\nktest: 2 passed, 0 failed\r\n";
        assert!(judge(s, good, Some(0)).is_empty());
        let bad = "ok - a\nnot ok - b: oops\nktest: 1 passed, 10 failed\n";
        let why = judge(s, bad, Some(1));
        assert_eq!(why.len(), 3, "{why:?}");
        assert!(why[2].contains("not ok - b"));
        assert!(!judge(s, "nothing", Some(0)).is_empty());
    }

    #[test]
    fn named_line_follows_the_printed_word() {
        let c = Check::NamedLine {
            marker: "prog: child pid ",
            prefix: "Killed process ",
            suffix: " (prog)",
        };
        let good = "prog: child pid 7\r\nKilled process 6 (prog)\r\nKilled process 7 (prog) x\r\n";
        assert_eq!(c.failure(good), None);
        let wrong = "prog: child pid 7\nKilled process 6 (prog)\n";
        assert_eq!(
            c.failure(wrong).unwrap(),
            "no line `Killed process 7 (prog)...`"
        );
        assert!(c.failure("Killed process 7 (prog)\n").is_some());
    }

    #[test]
    fn panic_rules() {
        let boot = find("boot-512M-el1-gicv2").unwrap();
        let text = "dt: memory 0x40000000..0x60000000 (512 MiB)\nboot: entered at EL1\n\
                    mmkern ready: RAM 512 MiB, GICv2, entered at EL1, boot cntvct 1 @ 2 Hz\n";
        assert!(judge(boot, text, Some(0)).is_empty());
        let panicked = format!("{text}Kernel panic - oops\n");
        assert_eq!(judge(boot, &panicked, Some(0)), vec!["kernel panicked"]);
        let p = find("panic-report").unwrap();
        let report = "Kernel panic - not syncing: test_panic on the command line: x\n\
                      Backtrace:\n  #0 0xffff0000402 kernel::init::rest_init+0x40\n\
                      \x20 #1 0xffff0000403 start_kernel+0x80\n";
        assert!(judge(p, report, Some(101)).is_empty());
        assert_eq!(judge(p, report, Some(0)).len(), 1);
        assert_eq!(judge(p, report, None), vec!["QEMU was killed"]);
    }
}

//! `cargo xtask bench [NAME...]`: guest instruction counts under `-icount shift=0`, where one
//! guest instruction is one nanosecond of virtual time, beside Linux 6.1's numbers
//! (DESIGN.md section 9). `boot` and `mm` read the virtual counter; `reclaim` and `swap`
//! read the PMU's instruction counter (`ulib::pmu`), because their runs wait for the disk
//! and the virtual clock jumps ahead while the guest idles.

use std::time::Duration;

use crate::qemu::{self, QemuConfig};
use crate::{bail, build, setup, thousands, Arg, Args, Result};

/// Known benchmarks: name and what it measures.
const BENCHES: &[(&str, &str)] = &[
    ("boot", "reset to the `mmkern ready` banner"),
    (
        "mm",
        "per-page costs of faults, munmap, brk, fork, COW and file faults (/bin/mmbench, 16 MiB), \
         and mmap+touch+munmap per op with 11 and 65,001 VMAs",
    ),
    (
        "reclaim",
        "instructions per clean file page reclaimed at --memory 128M (a 256 MiB file read \
         twice through a shared mapping; default advice and MADV_RANDOM), and per page \
         of the same workload without memory pressure (--memory 1G), counted with the PMU",
    ),
    (
        "swap",
        "instructions per anonymous page swapped out and read back at --memory 128M with a \
         384 MiB swap disk (2.5x RAM written page by page, then read back), and per page of \
         a 16 MiB MADV_PAGEOUT and of touching it back (/bin/swap_bench), counted with the PMU",
    ),
];

/// Linux 6.1, same QEMU and disk, instructions per page: (row, memory, madvise argument
/// of /bin/reclaim_bench, Linux's figure). The pressure rows divide by pgsteal; the
/// no-pressure row by the file's pages, each read from the disk once (nothing is
/// reclaimed, the second pass finds every page mapped), so the difference between the
/// first and the last row is what reclaiming a page adds.
const RECLAIM_ROWS: &[(&str, &str, &str, u64)] = &[
    ("reclaim_default", "128M", "normal", 10_348),
    ("reclaim_madv_random", "128M", "random", 34_752),
    ("reclaim_no_pressure", "1G", "normal", 4_539),
];
/// Linux 6.1: reclaim itself, default row minus the no-pressure row (about 5,800).
const LINUX_RECLAIM_ITSELF: u64 = 10_348 - 4_539;
const RECLAIM_TIMEOUT: Duration = Duration::from_secs(900);

/// Linux 6.1, same QEMU, `-m 128M`, a 384 MiB swap disk, instructions per page: (row,
/// /bin/swap_bench's phase, what the phase divides by, Linux's figure). The divisors are
/// the phase's pswpout delta (write, pageout), pswpin delta (read: every page read from
/// the disk, readahead's too, as Linux's pswpin counts them) and the region's pages
/// (touch: all 4096 were on the disk).
const SWAP_ROWS: &[(&str, &str, &str, u64)] = &[
    ("swap_write_2.5x_ram", "write", "page swapped out", 18_543),
    ("swap_read_back", "read", "page read back", 22_265),
    ("swap_madv_pageout_16M", "pageout", "page paged out", 8_902),
    ("swap_touch_back_16M", "touch", "page touched", 9_842),
];
const SWAP_MEMORY: &str = "128M";
const SWAP_DISK: u64 = 384 << 20;
const SWAP_TIMEOUT: Duration = Duration::from_secs(900);

/// Linux 6.1 per 4 KiB page over 16 MiB (DESIGN.md section 9), by mmbench's names.
const LINUX_MM: &[(&str, u64)] = &[
    ("anon_write_fault", 3219),
    ("anon_read_fault", 1100),
    ("munmap_populated", 1352),
    ("brk_grow_touch", 3207),
    ("fork", 200),
    ("cow_fault", 4360),
    ("populate", 3138),
    ("mlock", 3213),
    ("munlock", 880),
    ("file_read_fault", 756),
    // Per operation, not per page: mmap(1 page) + one write + munmap with that many VMAs
    // (one reservation split by mprotect of every other page).
    ("mmap_touch_munmap_11", 40_900),
    ("mmap_touch_munmap_65001", 50_800),
];

/// Linux 6.1 boot to the first user instruction, same QEMU, cortex-a72, icount.
const LINUX_BOOT: u128 = 376_000_000;
const BOOT_MEMORY: [&str; 3] = ["512M", "64M", "2G"];
const TIMEOUT: Duration = Duration::from_secs(120);

pub fn cmd_bench(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut names: Vec<String> = Vec::new();
    let mut memory: Vec<String> = Vec::new();
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) if name == "memory" => memory.push(args.value(&name, inline)?),
            Arg::Opt(name, _) => bail!("bench: unknown option --{name}"),
            Arg::Pos(p) => names.push(p),
        }
    }
    if !args.rest.is_empty() {
        bail!("bench: no extra arguments are taken after --");
    }
    for n in &names {
        if !BENCHES.iter().any(|(b, _)| b == n) {
            let known: Vec<String> = BENCHES
                .iter()
                .map(|(b, what)| format!("  {b}: {what}"))
                .collect();
            bail!("unknown bench `{n}`; known benches:\n{}", known.join("\n"));
        }
    }
    if names.is_empty() {
        names = BENCHES.iter().map(|(b, _)| b.to_string()).collect();
    }
    if memory.is_empty() {
        memory = BOOT_MEMORY.iter().map(|m| m.to_string()).collect();
    }
    setup::check(setup::Needs {
        qemu: true,
        gdb: false,
    })?;
    let kernel = build::build_kernel(true)?;
    let mut failed = false;
    for name in &names {
        if name == "mm" {
            match mm(&kernel) {
                Ok(rows) => {
                    for (op, ours, unit) in &rows {
                        let (op, ours) = (op.as_str(), *ours);
                        let linux = LINUX_MM.iter().find(|(n, _)| *n == op).map(|(_, v)| *v);
                        let ratio = linux.map_or(String::new(), |l| {
                            format!("   ({:.2}x Linux)", ours as f64 / l as f64)
                        });
                        println!(
                            "{:<24}{:>9} guest instructions/{:<4}   Linux 6.1: {}{}",
                            op,
                            thousands(ours as u128),
                            unit,
                            linux.map_or("-".to_string(), |l| thousands(l as u128)),
                            ratio
                        );
                    }
                    let scale = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1);
                    if let (Some(few), Some(many)) = (
                        scale("mmap_touch_munmap_11"),
                        scale("mmap_touch_munmap_65001"),
                    ) {
                        println!(
                            "mmap+touch+munmap: 65,001 VMAs cost {:.2}x 11 VMAs (Linux 6.1: 1.24x)",
                            many as f64 / few.max(1) as f64
                        );
                    }
                }
                Err(e) => {
                    println!("mm  FAILED: {e}");
                    failed = true;
                }
            }
        }
        if name == "reclaim" {
            failed |= !run_reclaim(&kernel);
        }
        if name == "swap" {
            failed |= !run_swap(&kernel);
        }
        if name == "boot" {
            for mem in &memory {
                match boot(&kernel, mem) {
                    Ok(insns) => println!(
                        "{:<12}{:>14} guest instructions   Linux 6.1: ~{}",
                        format!("boot ({mem})"),
                        thousands(insns),
                        thousands(LINUX_BOOT),
                    ),
                    Err(e) => {
                        println!("boot ({mem})  FAILED: {e}");
                        failed = true;
                    }
                }
            }
        }
    }
    Ok(i32::from(failed))
}

/// The `reclaim` rows, printed as they finish; false if any failed.
fn run_reclaim(kernel: &std::path::Path) -> bool {
    let image = match crate::rootfs::build_bench_rootfs() {
        Ok(i) => i,
        Err(e) => {
            println!("reclaim  FAILED: bench image: {e}");
            return false;
        }
    };
    let mut ok = true;
    let mut ours: Vec<(&str, u64, ReclaimCounts)> = Vec::new();
    for &(row, memory, advice, linux) in RECLAIM_ROWS {
        match reclaim_run(kernel, &image, memory, advice) {
            Ok(c) => {
                let (per, unit) = if row == "reclaim_no_pressure" {
                    if c.pgsteal != 0 {
                        eprintln!(
                            "xtask: warning: {row}: {} pages reclaimed without pressure",
                            c.pgsteal
                        );
                    }
                    (c.insns / c.pages.max(1), "page")
                } else {
                    (c.insns / c.pgsteal.max(1), "page")
                };
                ours.push((row, per, c));
                println!(
                    "{:<24}{:>9} guest instructions/{:<4}   Linux 6.1: {}   ({:.2}x Linux)",
                    row,
                    thousands(per as u128),
                    unit,
                    thousands(linux as u128),
                    per as f64 / linux as f64
                );
                println!(
                    "    ({memory}, madvise {advice}: {} instructions, pgsteal {}, pgmajfault {}, {} file pages)",
                    thousands(c.insns as u128),
                    thousands(c.pgsteal as u128),
                    thousands(c.pgmajfault as u128),
                    thousands(c.pages as u128)
                );
                if c.pgsteal == 0 && row != "reclaim_no_pressure" {
                    println!("{row}  FAILED: nothing was reclaimed");
                    ok = false;
                }
            }
            Err(e) => {
                println!("{row}  FAILED: {e}");
                ok = false;
            }
        }
    }
    let get = |n: &str| ours.iter().find(|r| r.0 == n).map(|r| (r.1, r.2));
    if let (Some((d, dc)), Some((b, bc))) = (get("reclaim_default"), get("reclaim_no_pressure")) {
        println!(
            "reclaim itself (default - no pressure): {} instructions/page   Linux 6.1: ~{}",
            thousands(d.saturating_sub(b) as u128),
            thousands(LINUX_RECLAIM_ITSELF as u128)
        );
        println!(
            "    (with each page read charged at the no-pressure cost: {} instructions/page reclaimed)",
            thousands(reclaim_alone(&dc, &bc) as u128)
        );
    }
    ok
}

/// The `swap` rows: one boot of /bin/swap_bench, its four phases beside Linux's figures;
/// false if it failed.
fn run_swap(kernel: &std::path::Path) -> bool {
    let phases = match swap_run(kernel) {
        Ok(p) => p,
        Err(e) => {
            println!("swap  FAILED: {e}");
            return false;
        }
    };
    let mut ok = true;
    for &(row, phase, unit, linux) in SWAP_ROWS {
        let Some(&(_, insns, pages)) = phases.iter().find(|p| p.0 == phase) else {
            println!("{row}  FAILED: no `bench: {phase} insns N pages N` line");
            ok = false;
            continue;
        };
        if pages == 0 {
            println!("{row}  FAILED: no pages (nothing was swapped)");
            ok = false;
            continue;
        }
        let per = insns / pages;
        println!(
            "{:<24}{:>9} guest instructions/{unit}   Linux 6.1: {}   ({:.2}x Linux)",
            row,
            thousands(per as u128),
            thousands(linux as u128),
            per as f64 / linux as f64
        );
        println!(
            "    ({SWAP_MEMORY}, {} MiB swap: {} instructions over {} pages)",
            SWAP_DISK >> 20,
            thousands(insns as u128),
            thousands(pages as u128)
        );
    }
    ok
}

/// Boot at [`SWAP_MEMORY`] with a fresh swap image and EL0 PMU access, run /bin/swap_bench;
/// its phases as (name, instructions, pages).
fn swap_run(kernel: &std::path::Path) -> Result<Vec<(String, u64, u64)>> {
    let image = build::target_dir().join("swap").join("bench-swap.img");
    crate::swap::make_swap_image(&image, SWAP_DISK)?;
    let cfg = QemuConfig {
        memory: SWAP_MEMORY.to_string(),
        cmdline: Some("sysctl.kernel.perf_user_access=1 init=/bin/swap_bench".into()),
        icount: true,
        swap: Some(image),
        ..QemuConfig::default()
    };
    let run = qemu::run_captured(&cfg, kernel, &[], SWAP_TIMEOUT)?;
    let text = run.text();
    let tail = || {
        crate::tail_lines(&text, 20)
            .iter()
            .map(|l| format!("\n    | {l}"))
            .collect::<String>()
    };
    if run.timed_out || text.contains("Kernel panic") {
        bail!("swap_bench did not finish{}", tail());
    }
    if !text.contains("swap_bench: ") || !text.contains(", 0 failed") || text.contains("not ok") {
        bail!("swap_bench failed a check{}", tail());
    }
    Ok(parse_swap(&text))
}

/// The `bench: <phase> insns <n> pages <n>` lines of /bin/swap_bench.
fn parse_swap(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_end().strip_prefix("bench: ")?;
            let mut w = rest.split(' ');
            let (phase, k1, insns, k2, pages) =
                (w.next()?, w.next()?, w.next()?, w.next()?, w.next()?);
            if k1 != "insns" || k2 != "pages" || w.next().is_some() {
                return None;
            }
            Some((phase.to_string(), insns.parse().ok()?, pages.parse().ok()?))
        })
        .collect()
}

/// Instructions per reclaimed page once the reads are paid for: the pressure run's count,
/// less its page reads (pgmajfault) at what one read costs without pressure (that run's
/// count over its reads), over pgsteal. The plain difference of the two rows divides the
/// reads by pgsteal too, and so charges reclaim for the reads beyond it.
fn reclaim_alone(pressure: &ReclaimCounts, none: &ReclaimCounts) -> u64 {
    let per_read = none.insns as f64 / none.pgmajfault.max(1) as f64;
    let reads = pressure.pgmajfault as f64 * per_read;
    ((pressure.insns as f64 - reads).max(0.0) / pressure.pgsteal.max(1) as f64) as u64
}

/// What /bin/reclaim_bench reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReclaimCounts {
    insns: u64,
    pgsteal: u64,
    pgmajfault: u64,
    pages: u64,
}

/// Boot the bench image at `memory` with EL0 PMU access and run /bin/reclaim_bench.
fn reclaim_run(
    kernel: &std::path::Path,
    image: &std::path::Path,
    memory: &str,
    advice: &str,
) -> Result<ReclaimCounts> {
    let cfg = QemuConfig {
        memory: memory.to_string(),
        cmdline: Some(format!(
            "sysctl.kernel.perf_user_access=1 init=/bin/reclaim_bench -- {advice}"
        )),
        icount: true,
        rootfs: Some(image.to_path_buf()),
        ..QemuConfig::default()
    };
    let run = qemu::run_captured(&cfg, kernel, &[], RECLAIM_TIMEOUT)?;
    let text = run.text();
    let tail = || {
        crate::tail_lines(&text, 20)
            .iter()
            .map(|l| format!("\n    | {l}"))
            .collect::<String>()
    };
    if run.timed_out || text.contains("Kernel panic") || !text.contains("bench: done") {
        bail!("reclaim_bench did not finish{}", tail());
    }
    if !text.contains("bench: bad words 0") {
        bail!("reclaim_bench read wrong data{}", tail());
    }
    match parse_reclaim(&text) {
        Some(c) => Ok(c),
        None => bail!("no `bench: insns/pgsteal/pgmajfault/pages` lines{}", tail()),
    }
}

/// The `bench: <key> <n>` lines of /bin/reclaim_bench.
fn parse_reclaim(text: &str) -> Option<ReclaimCounts> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            l.trim_end()
                .strip_prefix("bench: ")?
                .strip_prefix(key)?
                .strip_prefix(' ')?
                .parse()
                .ok()
        })
    };
    Some(ReclaimCounts {
        insns: get("insns")?,
        pgsteal: get("pgsteal")?,
        pgmajfault: get("pgmajfault")?,
        pages: get("pages")?,
    })
}

/// Boot with `poweroff` under icount and return guest instructions from reset to the banner.
fn boot(kernel: &std::path::Path, memory: &str) -> Result<u128> {
    let cfg = QemuConfig {
        memory: memory.to_string(),
        cmdline: Some("poweroff".into()),
        icount: true,
        ..QemuConfig::default()
    };
    let run = qemu::run_captured(&cfg, kernel, &[], TIMEOUT)?;
    let text = run.text();
    let tail = || {
        crate::tail_lines(&text, 20)
            .iter()
            .map(|l| format!("\n    | {l}"))
            .collect::<String>()
    };
    if run.timed_out {
        bail!("timeout after {}s{}", TIMEOUT.as_secs(), tail());
    }
    if text.contains("Kernel panic") {
        bail!("kernel panicked{}", tail());
    }
    let Some((ticks, freq)) = parse_banner(&text) else {
        bail!(
            "no `mmkern ready: ... boot cntvct <T> @ <F> Hz` banner{}",
            tail()
        );
    };
    if run.code() != Some(0) {
        eprintln!(
            "xtask: warning: QEMU exited with {:?} after the banner",
            run.code()
        );
    }
    Ok(instructions(ticks, freq))
}

/// Run /bin/mmbench as init under icount; its `bench: <op> <n>/page` (or `/op`) lines.
fn mm(kernel: &std::path::Path) -> Result<Vec<(String, u64, &'static str)>> {
    let cfg = QemuConfig {
        memory: "512M".to_string(),
        cmdline: Some("init=/bin/mmbench".into()),
        icount: true,
        ..QemuConfig::default()
    };
    let run = qemu::run_captured(&cfg, kernel, &[], TIMEOUT)?;
    let text = run.text();
    if run.timed_out || text.contains("Kernel panic") || !text.contains("bench: done") {
        let tail: String = crate::tail_lines(&text, 20)
            .iter()
            .map(|l| format!("\n    | {l}"))
            .collect();
        bail!("mmbench did not finish{tail}");
    }
    Ok(parse_mm(&text))
}

/// `bench: anon_write_fault 1234/page` and `bench: mmap_touch_munmap_11 5678/op` lines:
/// (name, instructions, unit).
fn parse_mm(text: &str) -> Vec<(String, u64, &'static str)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_end().strip_prefix("bench: ")?;
            let (op, val) = rest.split_once(' ')?;
            let (n, unit) = match val.strip_suffix("/page") {
                Some(n) => (n, "page"),
                None => (val.strip_suffix("/op")?, "op"),
            };
            Some((op.to_string(), n.parse().ok()?, unit))
        })
        .collect()
}

/// `T` and `F` from the banner's `boot cntvct <T> @ <F> Hz`.
fn parse_banner(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.contains("mmkern ready:"))?;
    let rest = &line[line.find("boot cntvct ")? + "boot cntvct ".len()..];
    let (ticks, rest) = rest.split_once(" @ ")?;
    let freq = rest.trim_end().strip_suffix("Hz")?.trim();
    let ticks = ticks.trim().parse().ok()?;
    let freq: u64 = freq.parse().ok()?;
    (freq != 0).then_some((ticks, freq))
}

/// Ticks at `freq` Hz as nanoseconds, which under `-icount shift=0` are guest instructions.
fn instructions(ticks: u64, freq: u64) -> u128 {
    u128::from(ticks) * 1_000_000_000 / u128::from(freq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm_lines() {
        let text = "bench: anon_write_fault 1500/page\r\nnoise\nbench: fork 90/page\n\
                    bench: mmap_touch_munmap_11 9000/op\nbench: x 5/s\nbench: done\n";
        assert_eq!(
            parse_mm(text),
            vec![
                ("anon_write_fault".to_string(), 1500, "page"),
                ("fork".to_string(), 90, "page"),
                ("mmap_touch_munmap_11".to_string(), 9000, "op"),
            ]
        );
    }

    #[test]
    fn reclaim_lines() {
        let text = "bench: insns 123456789\r\nbench: pgsteal 1000\nbench: pgmajfault 1200\n\
                    bench: pages 65536\nbench: bad words 0\nbench: done\n";
        assert_eq!(
            parse_reclaim(text),
            Some(ReclaimCounts {
                insns: 123_456_789,
                pgsteal: 1000,
                pgmajfault: 1200,
                pages: 65536
            })
        );
        assert_eq!(parse_reclaim("bench: insns 5\nbench: pgsteal 1\n"), None);
        assert_eq!(
            parse_reclaim("bench: insnsx 5\nbench: pgsteal 1\nbench: pgmajfault 1\nbench: pages 1"),
            None
        );
    }

    #[test]
    fn swap_lines() {
        let text = "bench: write insns 1000 pages 10\r\nswap_bench: noise\n\
                    bench: read insns 20 pages x\nbench: pageout insns 30 pages 3 more\n\
                    bench: touch insns 40 pages 4\n";
        assert_eq!(
            parse_swap(text),
            vec![
                ("write".to_string(), 1000, 10),
                ("touch".to_string(), 40, 4)
            ]
        );
        // Every row's phase is one swap_bench prints.
        for (_, phase, _, _) in SWAP_ROWS {
            assert!(["write", "read", "pageout", "touch"].contains(phase));
        }
    }

    #[test]
    fn reclaim_alone_subtracts_the_reads() {
        let none = ReclaimCounts {
            insns: 1000 * 100,
            pgsteal: 0,
            pgmajfault: 100,
            pages: 100,
        };
        // 200 reads at 1000 each, plus 150 reclaimed pages at 300 each.
        let pressure = ReclaimCounts {
            insns: 200 * 1000 + 150 * 300,
            pgsteal: 150,
            pgmajfault: 200,
            pages: 100,
        };
        assert_eq!(reclaim_alone(&pressure, &none), 300);
        // Never negative.
        let cheap = ReclaimCounts {
            insns: 10,
            ..pressure
        };
        assert_eq!(reclaim_alone(&cheap, &none), 0);
    }

    #[test]
    fn banner() {
        let text = "boot: entered at EL1, running at EL1\r\n\
                    mmkern ready: RAM 512 MiB, GICv2, entered at EL1, boot cntvct 257710 @ 62500000 Hz\r\n";
        assert_eq!(parse_banner(text), Some((257_710, 62_500_000)));
        assert_eq!(instructions(257_710, 62_500_000), 4_123_360);
        assert_eq!(
            parse_banner("mmkern ready: RAM 1 MiB, boot cntvct x @ 1 Hz"),
            None
        );
        assert_eq!(parse_banner("mmkern ready: boot cntvct 5 @ 0 Hz"), None);
        assert_eq!(parse_banner("nothing"), None);
        // No overflow with huge values.
        assert_eq!(
            instructions(u64::MAX, 1),
            u128::from(u64::MAX) * 1_000_000_000
        );
    }
}

//! `cargo xtask bench [NAME...]`: guest instruction counts under `-icount shift=0`, where one
//! guest instruction is one nanosecond of virtual time, beside Linux 6.1's numbers
//! (DESIGN.md section 9).

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
];

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

//! `cargo xtask bench [NAME...]`: guest instruction counts under `-icount shift=0`, where one
//! guest instruction is one nanosecond of virtual time, beside Linux 6.1's numbers
//! (DESIGN.md section 9).

use std::time::Duration;

use crate::qemu::{self, QemuConfig};
use crate::{bail, build, setup, thousands, Arg, Args, Result};

/// Known benchmarks: name and what it measures.
const BENCHES: &[(&str, &str)] = &[("boot", "reset to the `mmkern ready` banner")];

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
        // Only "boot" for now; new benches get their own arm.
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

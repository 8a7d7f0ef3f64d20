//! `cargo xtask fuzz`: the system-call fuzzer (`user/src/bin/fuzz.rs`) run long, one QEMU
//! boot per seed, each judged like a scenario: `fuzz: N calls, M batches, done`, exit
//! status 0, no `Kernel panic`, no `mm: CONSISTENCY:` line, and the leak lines once init
//! has exited. A failing seed prints the one command that replays it. `cargo xtask test`
//! runs a few seeds briefly (the `fuzz-*` entries of `scenarios.rs`) on the debug kernel;
//! the long runs use the `fuzz` cargo profile (optimised, with debug assertions, so
//! mm/debug.rs checks every address space at exit) because QEMU runs the unoptimised
//! kernel several times slower.

use std::time::Duration;

use crate::scenarios::{self, Check, Scenario, BASE};
use crate::test::Outcome;
use crate::{bail, build, qemu, setup, Arg, Args, Result};

/// What every fuzz run must show.
pub const CHECKS: &[Check] = &[
    Check::Line {
        prefix: "fuzz: ",
        suffix: " batches, done",
    },
    Check::Contains("init: /bin/fuzz exited with status 0"),
    Check::Contains("mm: no leak"),
    Check::Contains("mm: no commit leak"),
    // The consistency check ran (a kernel without debug assertions would skip it and
    // pass for nothing) and found nothing; judge() also fails on any `mm: CONSISTENCY:`.
    Check::Line {
        prefix: "mm: consistency: ",
        suffix: " address spaces checked at exit, 0 failed",
    },
];

/// The kernel command line that runs `fuzz SEED CALLS` as init.
pub fn cmdline(seed: u64, calls: u64) -> String {
    format!("init=/bin/fuzz -- {seed} {calls}")
}

/// The command that replays one run on the console, on the kernel of cargo profile
/// `profile` (`dev`: the debug kernel, the default of `cargo xtask qemu`).
pub fn replay(seed: u64, calls: u64, memory: &str, profile: &str) -> String {
    let p = if profile == "dev" {
        String::new()
    } else {
        format!("--profile {profile} ")
    };
    format!("cargo xtask qemu {p}--memory {memory} --init \"/bin/fuzz {seed} {calls}\"")
}

/// A time limit that grows with the calls: a batch of 250 calls may spend its 3 s limit
/// in a sleep, on a loaded machine.
pub fn timeout_secs(calls: u64) -> u64 {
    60 + calls / 40
}

/// `cargo xtask fuzz [--seeds N] [--first S] [--calls M] [--memory SIZE] [--jobs J]
/// [--debug]`.
pub fn cmd_fuzz(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let (mut seeds, mut first, mut calls, mut jobs) = (20u64, 1u64, 20_000u64, 2usize);
    let mut memory = String::from("512M");
    let mut profile = build::FUZZ_PROFILE;
    while let Some(arg) = args.next_arg() {
        let Arg::Opt(name, inline) = arg else {
            bail!("fuzz: unexpected argument (see `cargo xtask help`)");
        };
        if name == "debug" {
            Args::flag(&name, inline)?;
            profile = "dev";
            continue;
        }
        let v = args.value(&name, inline)?;
        let num = |v: &str| -> Result<u64> {
            v.parse()
                .map_err(|_| crate::Error(format!("fuzz: bad --{name} `{v}`")))
        };
        match name.as_str() {
            "seeds" => seeds = num(&v)?,
            "first" | "seed" => first = num(&v)?,
            "calls" => calls = num(&v)?,
            "jobs" => jobs = num(&v)?.max(1) as usize,
            "memory" => memory = v,
            _ => bail!("fuzz: unknown option --{name} (see `cargo xtask help`)"),
        }
    }
    setup::check(setup::Needs {
        qemu: true,
        gdb: false,
    })?;
    let kernel = build::build_kernel_profile(profile)?;
    let started = std::time::Instant::now();
    let queue = std::sync::Mutex::new((first..first.saturating_add(seeds)).collect::<Vec<_>>());
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let Some(seed) = queue.lock().unwrap().pop() else {
                    break;
                };
                let o = run_seed(&kernel, seed, calls, &memory, profile);
                print_outcome(&o);
                if !o.passed {
                    failed.lock().unwrap().push(seed);
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    println!(
        "fuzz: {} seeds of {} calls at {memory} ({profile} kernel, {} jobs): {} passed, {} failed in {}s",
        seeds,
        calls,
        jobs,
        seeds as usize - failed.len(),
        failed.len(),
        started.elapsed().as_secs()
    );
    for seed in &failed {
        println!("replay: {}", replay(*seed, calls, &memory, profile));
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn print_outcome(o: &Outcome) {
    if o.passed {
        println!("PASS {}", o.name);
    } else {
        println!("FAIL {}: {}", o.name, o.reason);
        for l in &o.tail {
            println!("    | {l}");
        }
    }
}

/// Boot `fuzz SEED CALLS` as init and judge it like a scenario.
fn run_seed(
    kernel: &std::path::Path,
    seed: u64,
    calls: u64,
    memory: &str,
    profile: &str,
) -> Outcome {
    // The table wants 'static strings; a long fuzz run makes a handful of these.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let s = Scenario {
        name: leak(format!("fuzz-{memory}-seed-{seed}")),
        memory: leak(memory.to_string()),
        cmdline: leak(cmdline(seed, calls)),
        checks: CHECKS,
        timeout_secs: timeout_secs(calls),
        ..BASE
    };
    let timeout = Duration::from_secs(s.timeout_secs);
    let run = match qemu::run_captured(&s.qemu_config(), kernel, &[], timeout) {
        Ok(run) => run,
        Err(e) => return Outcome::fail(s.name, e.0, Vec::new()),
    };
    let text = run.text();
    let mut why = if run.timed_out {
        vec![format!("timeout after {}s", s.timeout_secs)]
    } else {
        scenarios::judge(&s, &text, run.code())
    };
    if run.timed_out && text.contains("Kernel panic") {
        why.push("kernel panicked".into());
    }
    if why.is_empty() {
        return Outcome::pass(s.name);
    }
    why.push(format!("replay: {}", replay(seed, calls, memory, profile)));
    Outcome::fail(s.name, why.join("; "), crate::tail_lines(&text, 40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_scenarios_check_done_and_leaks() {
        let text = "fuzz: seed 1 batch 0 ok (250 calls, exit status 0)\n\
                    fuzz: 250 calls, 1 batches, done\n\
                    init: /bin/fuzz exited with status 0\n\
                    mm: no leak: free + page-cache pages back to 1 after all processes exited\n\
                    mm: no commit leak: Committed_AS back to 0 after all processes exited\n\
                    mm: consistency: 12 address spaces checked at exit, 0 failed\n";
        let s = Scenario {
            checks: CHECKS,
            ..BASE
        };
        assert!(scenarios::judge(&s, text, Some(0)).is_empty());
        let leaked = text.replace("mm: no leak", "mm: LEAK");
        assert_eq!(scenarios::judge(&s, &leaked, Some(0)).len(), 1);
        let failed = text.replace("exit, 0 failed", "exit, 1 failed");
        assert_eq!(scenarios::judge(&s, &failed, Some(0)).len(), 1);
        let unchecked = text.replace("mm: consistency: 12", "mm: 12");
        assert_eq!(scenarios::judge(&s, &unchecked, Some(0)).len(), 1);
        let cut = &text[..text.find("fuzz: 250").unwrap()];
        assert!(!scenarios::judge(&s, cut, Some(0)).is_empty());
        assert_eq!(cmdline(3, 4000), "init=/bin/fuzz -- 3 4000");
        assert_eq!(
            replay(3, 4000, "64M", "dev"),
            "cargo xtask qemu --memory 64M --init \"/bin/fuzz 3 4000\""
        );
        assert_eq!(
            replay(3, 4000, "64M", "fuzz"),
            "cargo xtask qemu --profile fuzz --memory 64M --init \"/bin/fuzz 3 4000\""
        );
    }
}

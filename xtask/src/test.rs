//! `cargo xtask test`: host unit tests, then every QEMU scenario and the GDB check (two at a
//! time), one line per result, ending with `N passed, N failed`.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::scenarios::{self, Scenario, SCENARIOS};
use crate::{bail, build, cargo, gdb, qemu, setup, workspace_root, Arg, Args, Result};

/// Lines of serial output shown with a failure.
const TAIL: usize = 40;

/// One reported result.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    pub passed: bool,
    pub reason: String,
    /// Shown under a failure (serial tail, compiler output...).
    pub tail: Vec<String>,
}

impl Outcome {
    pub fn pass(name: &str) -> Self {
        Outcome {
            name: name.to_string(),
            passed: true,
            reason: String::new(),
            tail: Vec::new(),
        }
    }

    pub fn fail(name: &str, reason: impl Into<String>, tail: Vec<String>) -> Self {
        Outcome {
            name: name.to_string(),
            passed: false,
            reason: reason.into(),
            tail,
        }
    }

    fn print(&self) {
        let mut out = std::io::stdout().lock();
        if self.passed {
            let _ = writeln!(out, "PASS {}", self.name);
        } else {
            let _ = writeln!(out, "FAIL {}: {}", self.name, self.reason);
            for l in &self.tail {
                let _ = writeln!(out, "    | {l}");
            }
        }
        let _ = out.flush();
    }
}

/// Tallies: host unit tests count one each, scenarios and the GDB check one each.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    /// Count an outcome worth `count` results (a failure counts at least one).
    fn add(&mut self, o: &Outcome, count: usize) {
        if o.passed {
            self.passed += count;
        } else {
            self.failed += count.max(1);
        }
    }

    /// Print and count.
    fn report(&mut self, o: &Outcome, count: usize) {
        o.print();
        self.add(o, count);
    }
}

enum Job {
    Scenario(&'static Scenario),
    GdbCheck(&'static gdb::GdbCheck),
    Trace(&'static crate::trace::TraceCheck),
}

impl Job {
    fn name(&self) -> &'static str {
        match self {
            Job::Scenario(s) => s.name,
            Job::GdbCheck(c) => c.name,
            Job::Trace(c) => c.name,
        }
    }
}

/// `cargo xtask test [--jobs N] [--list] [NAME...]`.
pub fn cmd_test(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut jobs = 2usize;
    let mut filters: Vec<String> = Vec::new();
    let mut list = false;
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) => match name.as_str() {
                "jobs" => {
                    let v = args.value(&name, inline)?;
                    jobs = v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("bad --jobs `{v}`"))?;
                }
                "list" => {
                    Args::flag(&name, inline)?;
                    list = true
                }
                _ => bail!("test: unknown option --{name}"),
            },
            Arg::Pos(p) => filters.push(p),
        }
    }
    if !args.rest.is_empty() {
        bail!("test: no extra arguments are taken after --");
    }
    let selected = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    let queue: VecDeque<Job> = SCENARIOS
        .iter()
        .map(Job::Scenario)
        .chain(gdb::CHECKS.iter().map(Job::GdbCheck))
        .chain(crate::trace::CHECKS.iter().map(Job::Trace))
        .filter(|j| selected(j.name()))
        .collect();
    let host = ["host:kernel", "host:xtask", "layering", "clippy"];
    // docs/linux-map.md against the built kernel's symbol table.
    let linux_map = selected("linux-map");
    if list {
        let hosts = host.iter().copied().filter(|h| selected(h));
        let hosts = hosts.chain(linux_map.then_some("linux-map"));
        for name in hosts.chain(queue.iter().map(Job::name)) {
            println!("{name}");
        }
        return Ok(0);
    }
    setup::check(setup::Needs {
        qemu: true,
        gdb: true,
    })?;
    setup::check_cross_cc()?;

    let mut tally = Tally::default();

    // 1. Host unit tests.
    if selected(host[0]) {
        match host_triple() {
            Ok(triple) => host_tests(
                host[0],
                &["test", "-p", "kernel", "--lib", "--target", &triple],
                &mut tally,
            ),
            Err(e) => tally.report(&Outcome::fail(host[0], e.0, vec![]), 1),
        }
    }
    if selected(host[1]) {
        host_tests(host[1], &["test", "-p", "xtask"], &mut tally);
    }
    // The floors: mm/ imports nothing from task/, fs/, init/ or syscall/.
    if selected(host[2]) {
        let dir = crate::workspace_root().join("kernel/src/mm");
        let o = match crate::layering::check_dir(&dir) {
            Ok(found) if found.is_empty() => Outcome::pass(host[2]),
            Ok(found) => Outcome::fail(host[2], "mm/ imports a higher floor", found),
            Err(e) => Outcome::fail(host[2], format!("reading {}: {e}", dir.display()), vec![]),
        };
        tally.report(&o, 1);
    }
    // Lints, warnings denied: among them `undocumented_unsafe_blocks` (kernel/src/lib.rs),
    // so every unsafe block keeps its SAFETY comment.
    if selected(host[3]) {
        let o = match host_triple() {
            Ok(triple) => clippy(host[3], &triple),
            Err(e) => Outcome::fail(host[3], e.0, vec![]),
        };
        tally.report(&o, 1);
    }

    // 2. The kernel, then the QEMU runs.
    if !queue.is_empty() || linux_map {
        eprintln!("xtask: building the kernel (debug)");
        match build::build_kernel_quiet(false) {
            Ok(kernel) => {
                if linux_map {
                    let root = workspace_root();
                    let mut why = crate::linux_map::check_docs(&root);
                    why.extend(crate::linux_map::check_elf(&root, &kernel));
                    let o = if why.is_empty() {
                        Outcome::pass("linux-map")
                    } else {
                        Outcome::fail(
                            "linux-map",
                            "docs/linux-map.md disagrees with the kernel",
                            why,
                        )
                    };
                    tally.report(&o, 1);
                }
                for o in run_jobs(&kernel, queue, jobs) {
                    tally.add(&o, 1);
                }
            }
            Err((why, output)) => {
                let tail = crate::tail_lines(&output, TAIL);
                Outcome::fail("kernel-build", why, tail).print();
                for job in queue {
                    let o = Outcome::fail(job.name(), "not run: the kernel did not build", vec![]);
                    tally.report(&o, 1);
                }
            }
        }
    }

    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 { 0 } else { 1 })
}

/// Run the QEMU jobs on `jobs` threads; each outcome is printed as soon as it is known.
fn run_jobs(kernel: &Path, queue: VecDeque<Job>, jobs: usize) -> Vec<Outcome> {
    let queue = Mutex::new(queue);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let outcome = match job {
                    Job::Scenario(s) => run_scenario(s, kernel),
                    Job::GdbCheck(c) => gdb::check(kernel, c),
                    Job::Trace(c) => crate::trace::check(kernel, c),
                };
                outcome.print();
                results.lock().unwrap().push(outcome);
            });
        }
    });
    results.into_inner().unwrap()
}

/// Boot one scenario and judge it.
pub fn run_scenario(s: &Scenario, kernel: &Path) -> Outcome {
    let timeout = Duration::from_secs(s.timeout_secs);
    let mut cfg = s.qemu_config();
    match crate::swap::prepare(s.swap, s.name) {
        Ok(crate::swap::Prepared::Image(p)) => cfg.swap = Some(p),
        Ok(crate::swap::Prepared::Nothing) => {}
        Ok(crate::swap::Prepared::Skip(why)) => {
            // Counted as passed, with the reason on its line.
            let mut o = Outcome::pass(s.name);
            o.name = format!("{} ({why})", s.name);
            return o;
        }
        Err(e) => return Outcome::fail(s.name, format!("swap disk: {}", e.0), Vec::new()),
    }
    let run = match qemu::run_captured(&cfg, kernel, s.input, timeout) {
        Ok(run) => run,
        Err(e) => return Outcome::fail(s.name, e.0, Vec::new()),
    };
    let text = run.text();
    let why = if run.timed_out {
        let mut why = vec![format!("timeout after {}s", s.timeout_secs)];
        if !s.panic_expected && text.contains("Kernel panic") {
            why.push("kernel panicked".to_string());
        }
        why
    } else if run.flooded {
        vec![format!(
            "more than {} MiB of output",
            qemu::OUTPUT_LIMIT >> 20
        )]
    } else {
        scenarios::judge(s, &text, run.code())
    };
    if why.is_empty() {
        return Outcome::pass(s.name);
    }
    let mut why = why;
    // A fuzz seed: say how to replay it.
    if let Some(args) = s.cmdline.strip_prefix("init=/bin/fuzz -- ") {
        why.push(format!(
            "replay: cargo xtask qemu --memory {} --init \"/bin/fuzz {args}\"",
            s.memory
        ));
    }
    Outcome::fail(s.name, why.join("; "), crate::tail_lines(&text, TAIL))
}

/// `host: ...` from `rustc -vV` (run in the workspace, so rust-toolchain.toml applies).
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_string())
        .ok_or_else(|| "no `host:` line in `rustc -vV` output".into())
}

/// `cargo clippy` on the kernel for its target and, with its tests, for the host.
fn clippy(name: &str, host_triple: &str) -> Outcome {
    let runs: [&[&str]; 2] = [
        &[
            "clippy",
            "-p",
            "kernel",
            "--target",
            crate::build::KERNEL_TARGET,
            "--",
            "-D",
            "warnings",
        ],
        &[
            "clippy",
            "-p",
            "kernel",
            "--lib",
            "--tests",
            "--target",
            host_triple,
            "--",
            "-D",
            "warnings",
        ],
    ];
    for args in runs {
        eprintln!("xtask: cargo {}", args.join(" "));
        let out = Command::new(cargo())
            .args(args)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .output();
        let out = match out {
            Ok(out) => out,
            Err(e) => return Outcome::fail(name, format!("running cargo clippy: {e}"), vec![]),
        };
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            let why = if text.contains("no such command") {
                "cargo clippy is not installed (rustup component add clippy)".to_string()
            } else {
                format!("cargo {} failed", args.join(" "))
            };
            return Outcome::fail(name, why, crate::tail_lines(&text, TAIL));
        }
    }
    Outcome::pass(name)
}

/// Run one `cargo test` and record its outcome(s): one PASS line with the count, or one FAIL
/// line per failing test (or for a build failure).
fn host_tests(name: &str, args: &[&str], tally: &mut Tally) {
    eprintln!("xtask: cargo {}", args.join(" "));
    let out = Command::new(cargo())
        .args(args)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            tally.report(
                &Outcome::fail(name, format!("running cargo: {e}"), vec![]),
                1,
            );
            return;
        }
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let summary = parse_libtest(&text);
    if summary.results == 0 {
        // No test binary ran: the build failed (or cargo did).
        let why = format!("cargo test did not run ({})", out.status);
        tally.report(&Outcome::fail(name, why, crate::tail_lines(&text, TAIL)), 1);
        return;
    }
    if summary.passed > 0 || summary.failed == 0 {
        let o = Outcome {
            name: format!("{name} ({} passed)", summary.passed),
            ..Outcome::pass(name)
        };
        tally.report(&o, summary.passed);
    }
    for (test, details) in &summary.failures {
        let o = Outcome::fail(&format!("{name} {test}"), "test failed", details.clone());
        tally.report(&o, 1);
    }
    // Failures we could not name (or a crash after the results): still a failure.
    let unnamed = summary.failed.saturating_sub(summary.failures.len());
    if unnamed > 0 {
        let why = format!("{unnamed} failed test(s)");
        tally.report(
            &Outcome::fail(name, why, crate::tail_lines(&text, TAIL)),
            unnamed,
        );
    } else if !out.status.success() && summary.failed == 0 {
        let why = format!("cargo test failed ({})", out.status);
        tally.report(&Outcome::fail(name, why, crate::tail_lines(&text, TAIL)), 1);
    }
}

#[derive(Debug, Default, PartialEq)]
struct LibtestSummary {
    /// `test result:` lines seen.
    results: usize,
    passed: usize,
    failed: usize,
    /// Failed test name and its captured output (from the `---- name stdout ----` section).
    failures: Vec<(String, Vec<String>)>,
}

/// Sum libtest's `test result: ok. N passed; M failed; ...` lines and collect failing tests.
fn parse_libtest(text: &str) -> LibtestSummary {
    let mut s = LibtestSummary::default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines {
        if let Some(rest) = line.strip_prefix("test result: ") {
            s.results += 1;
            for part in rest.split(';') {
                let part = part
                    .trim()
                    .trim_start_matches("ok. ")
                    .trim_start_matches("FAILED. ");
                if let Some(n) = part.strip_suffix(" passed") {
                    s.passed += n.trim().parse::<usize>().unwrap_or(0);
                } else if let Some(n) = part.strip_suffix(" failed") {
                    s.failed += n.trim().parse::<usize>().unwrap_or(0);
                }
            }
        } else if let Some(rest) = line.strip_prefix("test ") {
            if let Some(test) = rest.strip_suffix(" ... FAILED") {
                let header = format!("---- {test} stdout ----");
                let details: Vec<String> = lines
                    .iter()
                    .skip_while(|l| **l != header)
                    .skip(1)
                    .take_while(|l| !l.starts_with("---- ") && **l != "failures:")
                    .take(TAIL)
                    .map(|l| crate::sanitize(l))
                    .collect();
                s.failures.push((test.to_string(), details));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_output() {
        let text = "\
running 3 tests
test a::one ... ok
test a::two ... FAILED
test a::three ... ok

failures:

---- a::two stdout ----
thread 'a::two' panicked at src/a.rs:3:5:
assertion failed: false

failures:
    a::two

test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

running 4 tests
test result: ok. 4 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s
";
        let s = parse_libtest(text);
        assert_eq!(s.results, 2);
        assert_eq!(s.passed, 6);
        assert_eq!(s.failed, 1);
        assert_eq!(s.failures.len(), 1);
        assert_eq!(s.failures[0].0, "a::two");
        assert_eq!(
            s.failures[0].1,
            vec![
                "thread 'a::two' panicked at src/a.rs:3:5:",
                "assertion failed: false",
                ""
            ]
        );
        assert_eq!(parse_libtest("error[E0425]: cannot find value").results, 0);
    }
}

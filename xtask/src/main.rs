//! `cargo xtask`: the host-side developer tool for mmkern.
//!
//! Plain std Rust, no async, hand-parsed arguments. Every command first runs the set-up check
//! (`setup.rs`), then builds the kernel (`build.rs`) and does its job:
//!
//! * `qemu`  — boot the kernel interactively (`qemu.rs`)
//! * `test`  — host unit tests, QEMU scenarios and the GDB check (`test.rs`, `scenarios.rs`)
//! * `gdb`   — QEMU halted in the background plus gdb-multiarch in the foreground (`gdb.rs`)
//! * `bench` — guest instruction counts under `-icount shift=0` (`bench.rs`)
//! * `ksyms` — dump the symbol table patched into `kernel.elf` (`ksyms.rs`)
//! * `fuzz`  — the system-call fuzzer, many seeds, one QEMU boot each (`fuzz.rs`)
//! * `trace` — a function-graph trace of one program, drawn (`trace.rs`)

mod bench;
mod build;
#[cfg(test)]
mod docs_parity;
mod fuzz;
mod gdb;
mod ksyms;
mod layering;
mod linux_map;
mod qemu;
mod rootfs;
mod scenarios;
mod setup;
mod swap;
mod test;
mod trace;
mod user;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The error type of every xtask operation: a message for the user.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Return early with an [`Error`] built like `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::Error(format!($($arg)*)))
    };
}

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  qemu  [--release | --profile fuzz] [--memory 512M] [--cpu cortex-a72] [--gic 2|3] [--el2] [--el3] [--init \"PROG ARGS\"]
        [--cmdline \"...\"] [--icount] [--extra DIR]... [--swap SIZE|IMAGE] [-- extra qemu args]
        build the kernel and boot it on the console (Ctrl-A X quits QEMU);
        --extra adds DIR's files to the root file system image
  test  [--jobs N] [--list] [NAME...]
        host unit tests, every QEMU scenario and the GDB check; NAMEs select the
        results whose name contains one of them (e.g. `test boot`)
  gdb   [--scenario NAME | --init \"PROG ARGS\"] [--extra DIR]... [--break FUNC]...
        [--batch FILE] [--memory SIZE] [--swap SIZE|IMAGE] [--release] [--port 1234]
        start QEMU halted and attach gdb-multiarch with the mm helpers
        (scripts/gdb/mmkern.py: mm-tasks, mm-vmas, mm-pte, mm-pt, mm-page, mm-lru,
        mm-meminfo, mm-vmstat, mm-dmesg); --break continues to the first hit,
        --batch runs FILE and exits
  bench [boot|mm|reclaim|swap]... [--memory SIZE]
        guest instructions under -icount shift=0 (release build); reclaim counts
        with the PMU and builds target/rootfs-bench.cpio (a 256 MiB file); swap
        counts with the PMU at 128M with a fresh 384 MiB swap disk
  trace --init \"PROG ARGS\" [--filter mm] [--icount] [--memory 512M] [--debug]
        boot with PROG as init and trace=FILTER (names, prefix*, or mm for the whole
        teaching path); write target/trace/PROG.{raw.txt,txt,callgraph.svg,flame.svg}:
        the records, ftrace's function_graph text, a call graph and a flame graph;
        --icount counts instructions (PMU) instead of counter ticks
  fuzz  [--seeds 20] [--first 1] [--calls 20000] [--memory 512M] [--jobs 2] [--debug]
        run /bin/fuzz SEED CALLS as init for each seed (no panic, hang, consistency
        failure or leak) on the `fuzz` profile's kernel (optimised, debug assertions
        and the mm consistency check on; --debug: the debug kernel); a failing seed
        prints the command that replays it
  ksyms [--release | PATH]
        print the symbol table patched into kernel.elf
  help  this text
";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    }
    let command = args.remove(0);
    let result = match command.as_str() {
        "qemu" => qemu::cmd_qemu(args),
        "test" => test::cmd_test(args),
        "gdb" => gdb::cmd_gdb(args),
        "bench" => bench::cmd_bench(args),
        "ksyms" => ksyms::cmd_ksyms(args),
        "fuzz" => fuzz::cmd_fuzz(args),
        "trace" => trace::cmd_trace(args),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(0)
        }
        other => Err(Error(format!("unknown command `{other}`\n\n{USAGE}"))),
    };
    match result {
        Ok(code) => exit_code(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Map a process-style exit status (possibly outside 0..=255) to an [`ExitCode`].
fn exit_code(code: i32) -> ExitCode {
    match u8::try_from(code) {
        Ok(c) => ExitCode::from(c),
        Err(_) => ExitCode::FAILURE,
    }
}

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// The cargo that runs us (`$CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A tiny hand-written argument scanner: `--name value`, `--name=value`, flags, positionals
/// and everything after `--`.
pub struct Args {
    items: std::vec::IntoIter<String>,
    /// Everything after a bare `--`.
    pub rest: Vec<String>,
}

/// One item from [`Args::next`].
pub enum Arg {
    /// `--name` or `--name=value` (value kept for [`Args::value`]).
    Opt(String, Option<String>),
    /// A positional argument.
    Pos(String),
}

impl Args {
    pub fn new(args: Vec<String>) -> Self {
        Args {
            items: args.into_iter(),
            rest: Vec::new(),
        }
    }

    /// The next option or positional argument; stops at `--` (collecting the rest).
    pub fn next_arg(&mut self) -> Option<Arg> {
        let arg = self.items.next()?;
        if arg == "--" {
            self.rest = self.items.by_ref().collect();
            return None;
        }
        if let Some(opt) = arg.strip_prefix("--") {
            return Some(match opt.split_once('=') {
                Some((name, value)) => Arg::Opt(name.to_string(), Some(value.to_string())),
                None => Arg::Opt(opt.to_string(), None),
            });
        }
        if arg.len() > 1 && arg.starts_with('-') {
            // Short options: `-m 64M` is accepted as `--memory 64M`, `-j 2` as `--jobs 2`.
            let name = match arg.as_str() {
                "-m" => "memory",
                "-j" => "jobs",
                "-h" => "help",
                _ => return Some(Arg::Opt(arg.trim_start_matches('-').to_string(), None)),
            };
            return Some(Arg::Opt(name.to_string(), None));
        }
        Some(Arg::Pos(arg))
    }

    /// The value of option `name`: the inline `=value` or the next argument.
    pub fn value(&mut self, name: &str, inline: Option<String>) -> Result<String> {
        match inline.or_else(|| self.items.next()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => bail!("option --{name} needs a value"),
        }
    }

    /// Reject a value given to a flag (`--release=yes`).
    pub fn flag(name: &str, inline: Option<String>) -> Result<()> {
        match inline {
            None => Ok(()),
            Some(_) => bail!("option --{name} takes no value"),
        }
    }
}

/// Ignore SIGINT in this process from now on (children spawned earlier keep the default).
/// Used while gdb runs in the foreground: Ctrl-C is gdb's, not ours.
pub fn ignore_sigint() {
    #[cfg(unix)]
    {
        extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        const SIGINT: i32 = 2;
        const SIG_IGN: usize = 1;
        // SAFETY: installing SIG_IGN for SIGINT has no memory-safety implications.
        unsafe {
            signal(SIGINT, SIG_IGN);
        }
    }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The last `n` lines of `text`, with control characters made visible so a garbage-spewing
/// kernel cannot wreck the terminal.
pub fn tail_lines(text: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| {
            let l = sanitize(l);
            match l.char_indices().nth(MAX_LINE) {
                Some((cut, _)) => format!("{} [... {} more bytes]", &l[..cut], l.len() - cut),
                None => l,
            }
        })
        .collect()
}

/// Longest line [`tail_lines`] shows in full (a kernel printing garbage has no newlines).
const MAX_LINE: usize = 200;

/// Replace control characters (except tab) by their escaped form; drop a trailing `\r`.
pub fn sanitize(line: &str) -> String {
    let line = line.trim_end_matches('\r');
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(376_000_000), "376,000,000");
        assert_eq!(thousands(4_123_456), "4,123,456");
    }

    #[test]
    fn tail_is_sanitized() {
        let t = tail_lines("a\nb\r\nc\x1b[2J\nd", 3);
        assert_eq!(t, vec!["b", "c\\u{1b}[2J", "d"]);
        let long = "x".repeat(1000);
        let t = tail_lines(&long, 40);
        assert_eq!(t.len(), 1);
        assert!(t[0].ends_with("[... 800 more bytes]"), "{}", t[0]);
    }

    #[test]
    fn args_forms() {
        let mut a = Args::new(
            ["--memory=64M", "--el2", "-m", "2G", "x", "--", "-s", "-d"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        let mut seen = Vec::new();
        while let Some(arg) = a.next_arg() {
            match arg {
                Arg::Opt(name, inline) if name == "memory" => {
                    seen.push(a.value(&name, inline).unwrap())
                }
                Arg::Opt(name, inline) => {
                    Args::flag(&name, inline).unwrap();
                    seen.push(name)
                }
                Arg::Pos(p) => seen.push(p),
            }
        }
        assert_eq!(seen, vec!["64M", "el2", "2G", "x"]);
        assert_eq!(a.rest, vec!["-s", "-d"]);
    }
}

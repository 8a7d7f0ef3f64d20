//! Running QEMU: the command line, the interactive `cargo xtask qemu`, and captured runs with
//! a timeout and scripted console input (used by scenarios, the GDB check and bench).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{bail, build, setup, Arg, Args, Result};

/// How to run the `virt` machine.
#[derive(Clone, Debug)]
pub struct QemuConfig {
    pub memory: String,
    pub cpu: String,
    pub gic: u8,
    pub el2: bool,
    /// Enter at EL3 (`secure=on`, no firmware: QEMU starts the kernel in EL3).
    pub el3: bool,
    pub cmdline: Option<String>,
    pub icount: bool,
    /// `-S -gdb tcp::<port>`: start halted, waiting for GDB.
    pub gdb_port: Option<u16>,
    /// The root file system image, attached as a read-only virtio-blk disk (`rootfs.rs`).
    pub rootfs: Option<PathBuf>,
    /// A swap disk image (`swap.rs`), attached writable after the root disk so the guest
    /// names it vdb (QEMU's `virt` gives `-device`s transports in command-line order).
    pub swap: Option<PathBuf>,
    pub extra: Vec<String>,
}

impl Default for QemuConfig {
    fn default() -> Self {
        QemuConfig {
            memory: "512M".into(),
            cpu: "cortex-a72".into(),
            gic: 2,
            el2: false,
            el3: false,
            cmdline: None,
            icount: false,
            gdb_port: None,
            rootfs: Some(crate::rootfs::image_path()),
            swap: None,
            extra: Vec::new(),
        }
    }
}

impl QemuConfig {
    /// The QEMU argument list (without the program name).
    pub fn args(&self, kernel: &Path) -> Vec<String> {
        let mut machine = String::from("virt");
        if self.gic == 3 {
            machine.push_str(",gic-version=3");
        }
        if self.el2 {
            machine.push_str(",virtualization=on");
        }
        if self.el3 {
            machine.push_str(",secure=on");
        }
        let mut args: Vec<String> = vec![
            "-M".into(),
            machine,
            "-cpu".into(),
            self.cpu.clone(),
            "-m".into(),
            self.memory.clone(),
            "-nographic".into(),
            "-semihosting".into(),
            "-no-reboot".into(),
            "-kernel".into(),
            kernel.display().to_string(),
        ];
        if let Some(img) = &self.rootfs {
            args.push("-drive".into());
            args.push(format!(
                "file={},format=raw,if=none,id=rootfs,readonly=on",
                img.display()
            ));
            args.push("-device".into());
            args.push("virtio-blk-device,drive=rootfs".into());
        }
        if let Some(img) = &self.swap {
            args.push("-drive".into());
            args.push(format!("file={},format=raw,if=none,id=swap", img.display()));
            args.push("-device".into());
            args.push("virtio-blk-device,drive=swap".into());
        }
        if let Some(cmdline) = &self.cmdline {
            args.push("-append".into());
            args.push(cmdline.clone());
        }
        if self.icount {
            args.push("-icount".into());
            args.push("shift=0".into());
        }
        if let Some(port) = self.gdb_port {
            args.push("-S".into());
            args.push("-gdb".into());
            args.push(format!("tcp::{port}"));
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    pub fn command(&self, kernel: &Path) -> Command {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(self.args(kernel));
        cmd
    }

    /// The command as one shell-like line, for logs.
    pub fn display(&self, kernel: &Path) -> String {
        let mut line = String::from("qemu-system-aarch64");
        for a in self.args(kernel) {
            line.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                line.push_str(&format!("'{}'", a.replace('\'', "'\\''")));
            } else {
                line.push_str(&a);
            }
        }
        line
    }
}

/// The kernel command line for `--init PROG [ARGS]` (used by `qemu` and `gdb`): `base`,
/// then `init=/bin/PROG` (a bare name is looked up in /bin) and `-- ARGS`. `spec` may hold
/// the arguments too (`--init "ls -l /bin"`, quoted so options reach the program); `more`
/// are further words after it (`--init ls /bin`).
pub fn init_cmdline(base: Option<String>, spec: &str, mut more: Vec<String>) -> String {
    let mut words = spec.split_whitespace().map(String::from);
    let prog = words.next().unwrap_or_default();
    let mut args: Vec<String> = words.collect();
    args.append(&mut more);
    let prog = if prog.contains('/') {
        prog
    } else {
        format!("/bin/{prog}")
    };
    let mut line = base.unwrap_or_default();
    line.push_str(&format!(" init={prog}"));
    if !args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.join(" "));
    }
    line.trim().to_string()
}

/// Parse `--gic`.
pub fn parse_gic(v: &str) -> Result<u8> {
    match v {
        "2" | "v2" => Ok(2),
        "3" | "v3" => Ok(3),
        _ => bail!("--gic must be 2 or 3, not `{v}`"),
    }
}

/// `cargo xtask qemu ...`: boot interactively and exit with QEMU's status.
pub fn cmd_qemu(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut cfg = QemuConfig::default();
    let mut profile = String::from("dev");
    let mut extra_dirs: Vec<PathBuf> = Vec::new();
    let mut init: Option<String> = None;
    let mut init_args: Vec<String> = Vec::new();
    let mut swap: Option<String> = None;
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) => match name.as_str() {
                "release" => {
                    Args::flag(&name, inline)?;
                    profile = "release".into()
                }
                // `--profile fuzz`: the kernel `cargo xtask fuzz` runs (its replay lines).
                "profile" => profile = args.value(&name, inline)?,
                "memory" => cfg.memory = args.value(&name, inline)?,
                "cpu" => cfg.cpu = args.value(&name, inline)?,
                "gic" => cfg.gic = parse_gic(&args.value(&name, inline)?)?,
                "el2" => {
                    Args::flag(&name, inline)?;
                    cfg.el2 = true
                }
                "el3" => {
                    Args::flag(&name, inline)?;
                    cfg.el3 = true
                }
                "cmdline" | "append" => cfg.cmdline = Some(args.value(&name, inline)?),
                "icount" => {
                    Args::flag(&name, inline)?;
                    cfg.icount = true
                }
                "extra" => extra_dirs.push(args.value(&name, inline)?.into()),
                "init" => init = Some(args.value(&name, inline)?),
                "swap" => swap = Some(args.value(&name, inline)?),
                _ => bail!("qemu: unknown option --{name} (see `cargo xtask help`)"),
            },
            Arg::Pos(p) if init.is_some() => init_args.push(p),
            Arg::Pos(p) => bail!("qemu: unexpected argument `{p}` (QEMU arguments go after --)"),
        }
    }
    // --init PROG [ARGS]: the kernel runs PROG as pid 1 and QEMU exits with its status.
    if let Some(spec) = init {
        cfg.cmdline = Some(init_cmdline(cfg.cmdline.take(), &spec, init_args));
    }
    cfg.extra = std::mem::take(&mut args.rest);
    setup::check(setup::Needs {
        qemu: true,
        gdb: false,
    })?;
    if let Some(v) = swap {
        cfg.swap = Some(crate::swap::swap_option(&v)?);
    }
    let kernel = build::build_kernel_profile(&profile)?;
    if !extra_dirs.is_empty() {
        let img = crate::rootfs::extra_image_path();
        crate::rootfs::build_rootfs(&img, &extra_dirs)?;
        cfg.rootfs = Some(img);
    }
    eprintln!("xtask: {}", cfg.display(&kernel));
    eprintln!("xtask: Ctrl-A X quits QEMU, Ctrl-A C toggles its monitor");
    let status = cfg
        .command(&kernel)
        .status()
        .map_err(|e| format!("starting qemu-system-aarch64: {e}"))?;
    Ok(status_code(status))
}

/// An exit status as a shell would report it (128 + signal when killed).
pub fn status_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// Bytes written to the child's stdin once `wait_for` has appeared in its output (after the
/// point where the previous step's text appeared).
#[derive(Clone, Copy, Debug)]
pub struct InputStep {
    pub wait_for: &'static str,
    pub send: &'static str,
}

/// The result of a captured run.
#[derive(Debug)]
pub struct Captured {
    /// `None` when it was killed by us (timeout, output flood).
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    /// More output than [`OUTPUT_LIMIT`]: killed.
    pub flooded: bool,
    /// stdout and stderr interleaved, as raw bytes.
    pub output: Vec<u8>,
}

impl Captured {
    /// The output as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.map(status_code)
    }
}

/// A run producing more output than this is stopped: a kernel printing garbage in a loop.
pub const OUTPUT_LIMIT: usize = 64 << 20;

#[derive(Default)]
struct Shared {
    state: Mutex<SharedState>,
    cond: Condvar,
}

#[derive(Default)]
struct SharedState {
    output: Vec<u8>,
    flooded: bool,
}

/// A child process whose stdout and stderr are collected by two threads.
pub struct Spawned {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    readers: Vec<JoinHandle<()>>,
    start: Instant,
}

impl Spawned {
    /// Start `cmd` with stdin a pipe (kept open until the end) and stdout/stderr captured.
    pub fn spawn(mut cmd: Command) -> std::io::Result<Self> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let shared = Arc::new(Shared::default());
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(reader(out, shared.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(reader(err, shared.clone()));
        }
        Ok(Spawned {
            stdin: child.stdin.take(),
            child,
            shared,
            readers,
            start: Instant::now(),
        })
    }

    /// Wait for exit, feeding `input`, killing the child after `timeout`.
    pub fn run(mut self, input: &[InputStep], timeout: Duration) -> Captured {
        let deadline = self.start + timeout;
        let mut step = 0;
        let mut search_from = 0;
        let mut timed_out = false;
        let status = loop {
            {
                let state = self.shared.state.lock().unwrap();
                while let Some(s) = input.get(step) {
                    let hay = &state.output[search_from..];
                    let Some(pos) = find(hay, s.wait_for.as_bytes()) else {
                        break;
                    };
                    search_from += pos + s.wait_for.len();
                    if let Some(stdin) = self.stdin.as_mut() {
                        // The child may be gone already: a broken pipe is not our failure.
                        let _ = stdin.write_all(s.send.as_bytes());
                        let _ = stdin.flush();
                    }
                    step += 1;
                }
                if state.flooded {
                    break None;
                }
            }
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(_) => break None,
            }
            let now = Instant::now();
            if now >= deadline {
                timed_out = true;
                break None;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            let state = self.shared.state.lock().unwrap();
            let _ = self.shared.cond.wait_timeout(state, wait).unwrap();
        };
        let mut captured = self.finish();
        if status.is_some() {
            captured.status = status;
        }
        captured.timed_out = timed_out;
        captured
    }

    /// Kill the child if it still runs, reap it and collect all output.
    pub fn finish(mut self) -> Captured {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                None
            }
        };
        drop(self.stdin.take());
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let state = std::mem::take(&mut *self.shared.state.lock().unwrap());
        Captured {
            status,
            timed_out: false,
            flooded: state.flooded,
            output: state.output,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // Never leave a QEMU behind, whatever path we took.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn reader(mut stream: impl Read + Send + 'static, shared: Arc<Shared>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let mut state = shared.state.lock().unwrap();
                    if state.output.len() + n > OUTPUT_LIMIT {
                        state.flooded = true;
                    } else {
                        state.output.extend_from_slice(&buf[..n]);
                    }
                    shared.cond.notify_all();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Run QEMU captured: spawn, feed `input`, wait up to `timeout`.
pub fn run_captured(
    cfg: &QemuConfig,
    kernel: &Path,
    input: &[InputStep],
    timeout: Duration,
) -> Result<Captured> {
    let spawned = Spawned::spawn(cfg.command(kernel))
        .map_err(|e| format!("starting qemu-system-aarch64: {e}"))?;
    Ok(spawned.run(input, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let cfg = QemuConfig {
            gic: 3,
            el2: true,
            cmdline: Some("ktest=all".into()),
            icount: true,
            gdb_port: Some(4321),
            rootfs: Some("r.cpio".into()),
            swap: Some("s.img".into()),
            extra: vec!["-d".into(), "int".into()],
            ..QemuConfig::default()
        };
        let args = cfg.args(Path::new("k.elf"));
        let line = args.join(" ");
        assert_eq!(
            line,
            "-M virt,gic-version=3,virtualization=on -cpu cortex-a72 -m 512M -nographic \
             -semihosting -no-reboot -kernel k.elf -drive \
             file=r.cpio,format=raw,if=none,id=rootfs,readonly=on -device \
             virtio-blk-device,drive=rootfs -drive file=s.img,format=raw,if=none,id=swap \
             -device virtio-blk-device,drive=swap -append ktest=all -icount shift=0 -S \
             -gdb tcp::4321 -d int"
        );
        let plain = QemuConfig::default().args(Path::new("k.elf")).join(" ");
        assert!(plain.starts_with("-M virt -cpu"));
        assert!(!plain.contains("-append"));
        assert!(cfg
            .display(Path::new("k.elf"))
            .contains("-append ktest=all"));
        let spaced = QemuConfig {
            cmdline: Some("a b".into()),
            ..QemuConfig::default()
        };
        assert!(spaced.display(Path::new("k")).contains("-append 'a b'"));
    }

    #[test]
    fn find_bytes() {
        assert_eq!(find(b"hello mmkern> ", b"mmkern> "), Some(6));
        assert_eq!(find(b"\xff\xfe jiffies", b"jiffies"), Some(3));
        assert_eq!(find(b"abc", b"abcd"), None);
    }

    #[test]
    fn captured_run_with_input_and_exit_status() {
        // A stand-in for QEMU: prints a prompt, echoes one line of input, exits 3.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "printf 'boot\\nprompt> '; read line; printf 'got %s\\n' \"$line\"; \
             printf '\\377\\376 bad utf8\\n' >&2; exit 3",
        ]);
        let steps = [InputStep {
            wait_for: "prompt> ",
            send: "uptime\n",
        }];
        let c = Spawned::spawn(cmd)
            .unwrap()
            .run(&steps, Duration::from_secs(20));
        assert!(!c.timed_out);
        assert_eq!(c.code(), Some(3));
        let text = c.text();
        assert!(text.contains("got uptime"), "{text}");
        assert!(text.contains("\u{fffd}\u{fffd} bad utf8"), "{text}");
    }

    #[test]
    fn captured_run_times_out() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let c = Spawned::spawn(cmd)
            .unwrap()
            .run(&[], Duration::from_millis(500));
        assert!(c.timed_out);
        assert_eq!(c.status, None);
        assert!(c.text().contains("started"));
    }
}

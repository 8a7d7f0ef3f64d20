//! The set-up check every command runs first (DESIGN.md section 8).
//!
//! * the two bare-metal rustup targets are installed (added with `rustup target add` if not;
//!   never `rustup update` or `rustup toolchain install`);
//! * `qemu-system-aarch64` (and `gdb-multiarch` for `test` and `gdb`) are on PATH; if not, they
//!   are installed with apt-get when we may (root or sudo), else we print the one command that
//!   installs them and stop;
//! * for `test`, the aarch64 Linux cross C compiler with its static glibc
//!   (`gcc-aarch64-linux-gnu`, `libc6-dev-arm64-cross`), which builds `user/c/*.c` as real
//!   glibc programs: installed the same way ([`check_cross_cc`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{bail, workspace_root, Result};

/// The targets the kernel and user programs need (`rust-toolchain.toml` lists them too).
pub const TARGETS: [&str; 3] = [
    "aarch64-unknown-none-softfloat",
    "aarch64-unknown-none",
    // user/std-hello: a static Rust std program on musl (a real libc binary).
    "aarch64-unknown-linux-musl",
];

/// The Debian package that provides each tool.
const TOOLS: [(&str, &str); 2] = [
    ("qemu-system-aarch64", "qemu-system-arm"),
    ("gdb-multiarch", "gdb-multiarch"),
];

/// What a command needs besides the Rust targets.
#[derive(Clone, Copy)]
pub struct Needs {
    pub qemu: bool,
    pub gdb: bool,
}

/// Run the whole check. Errors (or exits 1 after printing the install command) when the
/// machine cannot run the command.
pub fn check(needs: Needs) -> Result<()> {
    check_targets()?;
    check_tools(needs)
}

fn check_targets() -> Result<()> {
    let root = workspace_root();
    // rustup from the workspace root, so rust-toolchain.toml's channel is the one checked.
    let out = match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "xtask: rustup not found; assuming {} are installed",
                TARGETS.join(" and ")
            );
            return Ok(());
        }
        Err(e) => bail!("running `rustup target list --installed`: {e}"),
    };
    if !out.status.success() {
        bail!(
            "`rustup target list --installed` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    let installed = String::from_utf8_lossy(&out.stdout);
    let missing = missing_targets(&installed);
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: adding rustup targets: {}", missing.join(" "));
    let status = Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .current_dir(&root)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("running `rustup target add`: {e}"))?;
    if !status.success() {
        bail!(
            "`rustup target add {}` failed ({status}). Do not `rustup update`: the preinstalled \
             toolchain is the one to use (DESIGN.md 8); the preinstalled nightly can add the \
             targets if stable cannot.",
            missing.join(" ")
        );
    }
    Ok(())
}

/// The required targets absent from `rustup target list --installed` output.
fn missing_targets(installed: &str) -> Vec<&'static str> {
    TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect()
}

fn check_tools(needs: Needs) -> Result<()> {
    let wanted: Vec<(&str, &str)> = TOOLS
        .iter()
        .copied()
        .filter(|(tool, _)| match *tool {
            "qemu-system-aarch64" => needs.qemu,
            _ => needs.gdb,
        })
        .collect();
    install_missing(&wanted)
}

/// The C cross compiler `user/c` is built with, and the Debian packages that provide it
/// and glibc's static libraries for arm64.
pub const CROSS_CC: (&str, &str) = (
    "aarch64-linux-gnu-gcc",
    "gcc-aarch64-linux-gnu libc6-dev-arm64-cross",
);

/// Make sure `aarch64-linux-gnu-gcc` is there (install it, or print the command and stop):
/// `cargo xtask test` runs glibc programs built from `user/c`.
pub fn check_cross_cc() -> Result<()> {
    install_missing(&[CROSS_CC])
}

/// Install the packages of the tools not on PATH, or print the command and exit.
fn install_missing(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<(&str, &str)> = wanted
        .iter()
        .copied()
        .filter(|(tool, _)| find_in_path(tool).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let tools: Vec<&str> = missing.iter().map(|(t, _)| *t).collect();
    let packages: Vec<&str> = missing
        .iter()
        .flat_map(|(_, p)| p.split_whitespace())
        .collect();
    let have_apt = find_in_path("apt-get").is_some();
    let root = is_root();
    let sudo = !root && find_in_path("sudo").is_some();
    if !have_apt || !(root || sudo) {
        eprintln!(
            "error: {} not found on PATH; install with:",
            tools.join(" and ")
        );
        let su = if root { "" } else { "sudo " };
        eprintln!(
            "    {su}apt-get update && {su}apt-get install -y {}",
            packages.join(" ")
        );
        std::process::exit(1);
    }
    eprintln!(
        "xtask: {} missing; installing {} with apt-get",
        tools.join(" and "),
        packages.join(" ")
    );
    apt_get(sudo, &["update"])?;
    apt_get(sudo, &[&["install", "-y"][..], &packages[..]].concat())?;
    let still: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_in_path(t).is_none())
        .collect();
    if !still.is_empty() {
        bail!(
            "{} still not on PATH after apt-get install",
            still.join(" and ")
        );
    }
    Ok(())
}

fn apt_get(sudo: bool, args: &[&str]) -> Result<()> {
    let mut cmd = if sudo {
        let mut c = Command::new("sudo");
        // sudo may reset the environment: pass DEBIAN_FRONTEND through env(1).
        c.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        c
    } else {
        let mut c = Command::new("apt-get");
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    cmd.args(args);
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("running apt-get: {e}"))?;
    if !status.success() {
        bail!(
            "`{}apt-get {}` failed ({status})",
            if sudo { "sudo " } else { "" },
            args.join(" ")
        );
    }
    Ok(())
}

/// Whether we run as root (`id -u` is 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The first executable file named `name` in a PATH directory.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_targets_are_found() {
        let all = "aarch64-unknown-linux-musl\naarch64-unknown-none\n\
                   aarch64-unknown-none-softfloat\nx86_64-unknown-linux-gnu\n";
        assert!(missing_targets(all).is_empty());
        assert_eq!(
            missing_targets("aarch64-unknown-none\naarch64-unknown-linux-musl\n"),
            vec!["aarch64-unknown-none-softfloat"]
        );
        assert_eq!(missing_targets(""), TARGETS.to_vec());
    }

    #[test]
    fn path_lookup() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("no-such-tool-xtask-test").is_none());
    }
}

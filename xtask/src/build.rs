//! Building the kernel: `cargo build -p kernel --bin kernel --target
//! aarch64-unknown-none-softfloat`, then a copy `kernel.elf` with the symbol table patched into
//! its `.ksyms` section (`ksyms.rs`). QEMU and GDB get `kernel.elf`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{bail, cargo, ksyms, workspace_root, Result};

/// The kernel's target: softfloat, so the compiler emits no SIMD (DESIGN.md 8).
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";

/// `target/` (or `$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// `target/aarch64-unknown-none-softfloat/{debug,release}`.
pub fn profile_dir(release: bool) -> PathBuf {
    profile_dir_of(if release { "release" } else { "dev" })
}

/// The output directory of cargo profile `profile` (`dev` builds into `debug`).
fn profile_dir_of(profile: &str) -> PathBuf {
    target_dir()
        .join(KERNEL_TARGET)
        .join(if profile == "dev" { "debug" } else { profile })
}

/// The cargo profile `cargo xtask fuzz` builds by default (Cargo.toml `[profile.fuzz]`):
/// optimised, with debug assertions, so the mm consistency check still runs.
pub const FUZZ_PROFILE: &str = "fuzz";

/// Build the kernel and return the path of the patched `kernel.elf`. Cargo's output goes to
/// our stderr.
pub fn build_kernel(release: bool) -> Result<PathBuf> {
    build_kernel_profile(if release { "release" } else { "dev" })
}

/// [`build_kernel`] with any cargo profile: `dev`, `release` or [`FUZZ_PROFILE`].
pub fn build_kernel_profile(profile: &str) -> Result<PathBuf> {
    let mut cmd = build_command(profile);
    let status = cmd
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() {
        bail!("kernel build failed ({status})");
    }
    finish(profile)
}

/// Like [`build_kernel`] but capturing cargo's output: on failure the error carries it.
pub fn build_kernel_quiet(release: bool) -> std::result::Result<PathBuf, (String, String)> {
    let profile = if release { "release" } else { "dev" };
    let out = build_command(profile)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| (format!("running cargo build: {e}"), String::new()))?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err((format!("kernel build failed ({})", out.status), text));
    }
    finish(profile).map_err(|e| (e.0, String::new()))
}

fn build_command(profile: &str) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "-p",
            "kernel",
            "--bin",
            "kernel",
            "--target",
            KERNEL_TARGET,
        ])
        .stdin(Stdio::null());
    cmd.args(["--profile", profile]);
    cmd
}

/// Copy `kernel` to `kernel.elf` and patch the symbol table into the copy.
/// Also builds the user programs into `target/user-bin/` and the root file system image
/// (`target/rootfs.cpio`, `rootfs.rs`).
fn finish(profile: &str) -> Result<PathBuf> {
    crate::user::build_user(&workspace_root())?;
    crate::rootfs::build_rootfs(&crate::rootfs::image_path(), &[])?;
    let dir = profile_dir_of(profile);
    let elf = dir.join("kernel");
    let out = dir.join("kernel.elf");
    let mut data = std::fs::read(&elf).map_err(|e| format!("reading {}: {e}", elf.display()))?;
    let info = ksyms::patch(&mut data).map_err(|e| format!("{}: {e}", elf.display()))?;
    // Write to a temporary name and rename, so a running QEMU/GDB never sees half a file.
    let tmp = dir.join("kernel.elf.tmp");
    std::fs::write(&tmp, &data).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &out).map_err(|e| format!("renaming to {}: {e}", out.display()))?;
    eprintln!(
        "xtask: {} ({} symbols, {} of {} bytes of {})",
        out.strip_prefix(workspace_root()).unwrap_or(&out).display(),
        info.count,
        info.used,
        info.capacity,
        ksyms::SECTION
    );
    Ok(out)
}

//! Building the user programs (`user/`, a separate cargo workspace) as static Linux arm64
//! ELF binaries, and staging them in `target/user-bin/` for the root file system.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user target: EL0 code does not need FP (so no FP state yet to save per task).
pub const USER_TARGET: &str = "aarch64-unknown-none-softfloat";

/// Build every program in `user/src/bin` (release: small and fast) and copy them to
/// `target/user-bin/`; returns that directory.
pub fn build_user(root: &Path) -> Result<PathBuf, String> {
    let target_dir = root.join("target/user");
    let status = Command::new(crate::cargo())
        .current_dir(root.join("user"))
        .args([
            "build",
            "--release",
            "--bins",
            "--target",
            USER_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("running cargo for user/: {e}"))?;
    if !status.success() {
        return Err("building user programs failed".into());
    }
    let out = root.join("target/user-bin");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let built = target_dir.join(USER_TARGET).join("release");
    let bins = root.join("user/src/bin");
    let entries = std::fs::read_dir(&bins).map_err(|e| format!("{}: {e}", bins.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let src = built.join(&name);
        std::fs::copy(&src, out.join(&name)).map_err(|e| format!("{}: {e}", src.display()))?;
    }
    build_std_hello(root, &out)?;
    build_c_programs(root, &out)?;
    Ok(out)
}

/// Build every `user/c/*.c` with the aarch64 Linux cross compiler as a static glibc
/// program into `out/<name>` (genuine glibc binaries: glibc's start-up, TLS, pthreads).
/// Without the compiler (a `cargo xtask qemu` on a machine that never ran the tests) they
/// are left out; `cargo xtask test` installs it first (`setup::check_cross_cc`).
fn build_c_programs(root: &Path, out: &Path) -> Result<(), String> {
    let cc = crate::setup::CROSS_CC.0;
    if crate::setup::find_in_path(cc).is_none() {
        return Ok(());
    }
    let dir = root.join("user/c");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let src = entry.path();
        if src.extension().and_then(|e| e.to_str()) != Some("c") {
            continue;
        }
        let name = src.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let dst = out.join(name);
        let fresh = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if fresh(&dst).is_some() && fresh(&dst) >= fresh(&src) {
            continue;
        }
        let status = Command::new(cc)
            .args(["-static", "-O2", "-Wall", "-Werror", "-pthread", "-o"])
            .arg(&dst)
            .arg(&src)
            .status()
            .map_err(|e| format!("running {cc}: {e}"))?;
        if !status.success() {
            return Err(format!("{cc} failed on {}", src.display()));
        }
    }
    Ok(())
}

/// The libc target: Rust's std on musl, linked statically with rust-lld and the musl
/// that ships with the target (no cross C toolchain needed).
pub const LIBC_TARGET: &str = "aarch64-unknown-linux-musl";

/// Build `user/std-hello` (a genuine static Linux binary using libc's malloc and stdio)
/// into `out/hello_std`.
fn build_std_hello(root: &Path, out: &Path) -> Result<(), String> {
    let target_dir = root.join("target/user-std");
    let status = Command::new(crate::cargo())
        .current_dir(root.join("user/std-hello"))
        .env(
            "RUSTFLAGS",
            "-C linker=rust-lld -C link-self-contained=yes -C target-feature=+crt-static",
        )
        .args([
            "build",
            "--release",
            "--target",
            LIBC_TARGET,
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("running cargo for user/std-hello: {e}"))?;
    if !status.success() {
        return Err("building user/std-hello failed".into());
    }
    let src = target_dir.join(LIBC_TARGET).join("release/hello_std");
    std::fs::copy(&src, out.join("hello_std")).map_err(|e| format!("{}: {e}", src.display()))?;
    Ok(())
}

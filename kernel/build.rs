//! Hands the link script to the kernel binary when building for the bare-metal target;
//! host builds (unit tests) link normally.
fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!("cargo:rerun-if-changed=../linker.ld");
    println!("cargo:rerun-if-changed=../boot/head.S");
    println!("cargo:rerun-if-changed=src/arch/aarch64/entry.S");
    if target_os == "none" {
        let script = root.join("linker.ld").canonicalize().expect("linker.ld");
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--no-relax");
    }
}

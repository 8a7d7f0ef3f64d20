//! Link user programs as static Linux executables at 0x400000 with page-aligned segments.
fn main() {
    println!("cargo:rerun-if-changed=user.ld");
    let ld = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("user.ld");
    println!("cargo:rustc-link-arg-bins=-T{}", ld.display());
    println!("cargo:rustc-link-arg-bins=-static");
}

//! The kernel image: the early boot assembly plus the `kernel` library, which holds
//! everything else (and is unit-tested on the host). Linux: `vmlinux`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("../../boot/head.S"), options(raw));

// `start_kernel` and the exception vectors live in the library; naming one item pulls
// the library into the link.
#[cfg(target_os = "none")]
#[used]
static START_KERNEL: unsafe extern "C" fn(usize, usize) -> ! = kernel::init::start_kernel;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the kernel runs under QEMU: use `cargo xtask qemu`");
}

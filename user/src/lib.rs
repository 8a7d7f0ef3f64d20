//! ulib: the smallest runtime a static Linux arm64 program needs. `_start` reads argc,
//! argv and envp from the stack (as the kernel's exec laid them out), calls the program's
//! `main(args)`, and exits with its status. System calls follow the Linux arm64 ABI:
//! number in x8, arguments in x0-x5, `svc #0`, `-errno` back in x0.
#![no_std]

pub mod syscall;
#[macro_use]
pub mod io;

pub use syscall::*;

/// The program's arguments and environment, as `&str`s.
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
}

unsafe fn cstr<'a>(p: *const u8) -> &'a str {
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    core::str::from_utf8(core::slice::from_raw_parts(p, n)).unwrap_or("?")
}

impl Args {
    /// Number of arguments.
    pub fn len(&self) -> usize {
        self.argc
    }
    /// True without arguments (never for a program started by exec with argv[0]).
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }
    /// Argument `i`.
    pub fn get(&self, i: usize) -> Option<&'static str> {
        (i < self.argc).then(|| unsafe { cstr(*self.argv.add(i)) })
    }
    /// Environment entry `i` (`NAME=value`).
    pub fn env(&self, i: usize) -> Option<&'static str> {
        unsafe {
            let p = *self.envp.add(i);
            (!p.is_null()).then(|| cstr(p))
        }
    }
    /// The auxiliary vector entry `key` (AT_*), if present.
    pub fn auxv(&self, key: usize) -> Option<usize> {
        unsafe {
            let mut p = self.envp;
            while !(*p).is_null() {
                p = p.add(1);
            }
            let mut a = p.add(1) as *const usize;
            while *a != 0 {
                if *a == key {
                    return Some(*a.add(1));
                }
                a = a.add(2);
            }
            None
        }
    }
}

/// Called by `_start` with the initial stack pointer.
#[no_mangle]
unsafe extern "C" fn __ulib_start(sp: *const usize) -> ! {
    extern "Rust" {
        fn main(args: Args) -> i32;
    }
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let envp = sp.add(2 + argc) as *const *const u8;
    let code = main(Args { argc, argv, envp });
    exit_group(code)
}

core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "bl __ulib_start",
);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    eprintln!("panic: {}", info.message());
    exit_group(134)
}

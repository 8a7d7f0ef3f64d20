//! ulib: the smallest runtime a static Linux arm64 program needs. `_start` reads argc,
//! argv and envp from the stack (as the kernel's exec laid them out), calls the program's
//! `main(args)`, and exits with its status. System calls follow the Linux arm64 ABI:
//! number in x8, arguments in x0-x5, `svc #0`, `-errno` back in x0.
#![no_std]

pub mod inflate;
pub mod maps;
pub mod pattern;
pub mod pmu;
pub mod procfs;
pub mod signal;
pub mod syscall;
pub mod thread;
pub mod tracing;
#[macro_use]
pub mod io;

pub use syscall::*;

use core::fmt;

/// The page size of arm64 Linux with the 4 KiB granule.
pub const PAGE_SIZE: usize = 4096;
/// Linux arm64 TASK_SIZE with 48-bit virtual addresses: user space is `[0, TASK_SIZE)`.
pub const TASK_SIZE: usize = 1 << 48;
/// A kernel (TTBR1) address: user pointers there must be refused, never followed.
pub const KERNEL_ADDR: usize = 0xffff_0000_4000_0000;

/// A system-call return value for messages: `-EINVAL` for an error, the address in hex for
/// a large value, the number otherwise.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ret(pub isize);

impl fmt::Display for Ret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            r if (-4095..0).contains(&r) => write!(f, "-{}", errno::name(-r as i32)),
            r if !(-0xffff..=0xffff).contains(&r) => write!(f, "{:#x}", r as usize),
            r => write!(f, "{}", r),
        }
    }
}

/// A wait4(2) status word, or (negative) the errno of a failed fork/wait4.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Wstatus(pub i32);

impl Wstatus {
    /// WIFEXITED: the child called exit.
    pub fn exited(self) -> bool {
        self.0 >= 0 && self.0 & 0x7f == 0
    }
    /// WEXITSTATUS: its exit code (low 8 bits).
    pub fn exit_status(self) -> i32 {
        (self.0 >> 8) & 0xff
    }
    /// WIFSIGNALED: the child was killed by a signal.
    pub fn signaled(self) -> bool {
        self.0 >= 0 && self.0 & 0x7f != 0 && self.0 & 0x7f != 0x7f
    }
    /// WTERMSIG: the signal that killed it.
    pub fn term_sig(self) -> i32 {
        self.0 & 0x7f
    }
    /// WCOREDUMP: a core dump was written (never required by the tests).
    pub fn core_dump(self) -> bool {
        self.0 & 0x80 != 0
    }
}

impl fmt::Display for Wstatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "fork/wait4 failed with {}", Ret(self.0 as isize))
        } else if self.exited() {
            write!(f, "exit status {}", self.exit_status())
        } else if self.signaled() {
            write!(f, "killed by {}", signal_name(self.term_sig()))
        } else {
            write!(f, "wait status {:#x}", self.0)
        }
    }
}

/// Run `f` in a forked child that exits with `f`'s return value, and wait for it. The child
/// shares nothing with the parent but what fork gives it, so it reports through its exit
/// status (or its death by a signal).
pub fn in_child(f: impl FnOnce() -> i32) -> Wstatus {
    let pid = fork();
    if pid < 0 {
        return Wstatus(pid as i32);
    }
    if pid == 0 {
        exit(f());
    }
    let mut status = 0;
    let r = wait4(pid as i32, Some(&mut status), 0);
    if r != pid {
        return Wstatus(if r < 0 { r as i32 } else { -errno::ECHILD });
    }
    Wstatus(status)
}

/// One TAP-like line per check (`ok - what` / `not ok - what: got X, want Y`) and a summary
/// `prog: N passed, M failed`; `finish` returns M, the program's exit status.
pub struct Tap {
    prog: &'static str,
    passed: u32,
    failed: u32,
}

impl Tap {
    /// Start counting for program `prog`.
    pub const fn new(prog: &'static str) -> Tap {
        Tap {
            prog,
            passed: 0,
            failed: 0,
        }
    }

    /// The check `what` passed if `cond`; otherwise say what we got and wanted.
    pub fn check(
        &mut self,
        cond: bool,
        what: impl fmt::Display,
        got: impl fmt::Display,
        want: impl fmt::Display,
    ) -> bool {
        if cond {
            self.passed += 1;
            println!("ok - {}", what);
        } else {
            self.failed += 1;
            println!("not ok - {}: got {}, want {}", what, got, want);
        }
        cond
    }

    /// A check with nothing useful to print on failure.
    pub fn ok(&mut self, cond: bool, what: impl fmt::Display) -> bool {
        self.check(cond, what, "false", "true")
    }

    /// `got == want`.
    pub fn eq<T: PartialEq + fmt::Display>(
        &mut self,
        what: impl fmt::Display,
        got: T,
        want: T,
    ) -> bool {
        let c = got == want;
        self.check(c, what, got, want)
    }

    /// A system call returned exactly `want` (a value, or `-errno`).
    pub fn ret(&mut self, what: impl fmt::Display, got: isize, want: isize) -> bool {
        self.check(got == want, what, Ret(got), Ret(want))
    }

    /// An address (a break, a mapping) is `want`; printed in hex.
    pub fn addr(&mut self, what: impl fmt::Display, got: usize, want: usize) -> bool {
        self.check(
            got == want,
            what,
            format_args!("{:#x}", got),
            format_args!("{:#x}", want),
        )
    }

    /// A system call failed with `errno` (it returned `-errno`).
    pub fn err(&mut self, what: impl fmt::Display, got: isize, errno: i32) -> bool {
        self.ret(what, got, -(errno as isize))
    }

    /// A system call succeeded (returned a non-negative value).
    pub fn success(&mut self, what: impl fmt::Display, got: isize) -> bool {
        self.check(got >= 0, what, Ret(got), "success")
    }

    /// A child exited normally with `code`.
    pub fn exited(&mut self, what: impl fmt::Display, st: Wstatus, code: i32) -> bool {
        let c = st.exited() && st.exit_status() == code;
        self.check(c, what, st, format_args!("exit status {}", code))
    }

    /// A child was killed by signal `sig` (a core dump may or may not be flagged).
    pub fn killed_by(&mut self, what: impl fmt::Display, st: Wstatus, sig: i32) -> bool {
        let c = st.signaled() && st.term_sig() == sig;
        self.check(c, what, st, format_args!("killed by {}", signal_name(sig)))
    }

    /// Number of failed checks so far.
    pub fn failed(&self) -> u32 {
        self.failed
    }

    /// Print `prog: N passed, M failed`; returns M (capped at 255) as the exit status.
    pub fn finish(&self) -> i32 {
        println!(
            "{}: {} passed, {} failed",
            self.prog, self.passed, self.failed
        );
        self.failed.min(255) as i32
    }
}

/// Load one byte from `addr` with a single `ldrb`: a deliberate access that may fault (the
/// compiler can neither drop it nor assume anything about the address).
#[inline(never)]
pub fn peek(addr: usize) -> u8 {
    let v: u32;
    unsafe {
        core::arch::asm!("ldrb {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack))
    };
    v as u8
}

/// Store one byte to `addr` with a single `strb` (may fault).
#[inline(never)]
pub fn poke(addr: usize, v: u8) {
    unsafe {
        core::arch::asm!("strb {v:w}, [{a}]", a = in(reg) addr, v = in(reg) v as u32, options(nostack))
    };
}

/// Branch with link to `addr` (may fault); the code there must be a bare `ret`.
#[inline(never)]
pub fn call(addr: usize) {
    unsafe { core::arch::asm!("blr {a}", a = in(reg) addr, out("x30") _, options(nostack)) };
}

/// An anonymous private read-write mapping of `len` bytes anywhere (a negative errno on failure).
pub fn mmap_anon(len: usize) -> isize {
    mmap(
        0,
        len,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    )
}

/// A user address that is certainly unmapped: one page mapped then unmapped again.
pub fn unmapped_addr() -> usize {
    let a = mmap(0, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if a < 0 {
        return 0x10_0000_0000; // a low, unused address in our programs' layout
    }
    munmap(a as usize, PAGE_SIZE);
    a as usize
}

/// The bytes of `[addr, addr + len)` of our own memory as a slice.
///
/// # Safety
/// The range must be mapped readable for the lifetime used.
pub unsafe fn bytes<'a>(addr: usize, len: usize) -> &'a mut [u8] {
    core::slice::from_raw_parts_mut(addr as *mut u8, len)
}

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

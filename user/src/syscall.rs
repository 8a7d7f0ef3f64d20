//! Linux arm64 system calls: numbers from `include/uapi/asm-generic/unistd.h`.

/// System-call numbers used by the programs.
pub mod nr {
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const EXIT: usize = 93;
    pub const EXIT_GROUP: usize = 94;
    pub const SCHED_YIELD: usize = 124;
    pub const KILL: usize = 129;
    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const BRK: usize = 214;
    pub const MUNMAP: usize = 215;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const MMAP: usize = 222;
    pub const MPROTECT: usize = 226;
    pub const WAIT4: usize = 260;
}

/// Raw system call with up to six arguments; returns x0 (negative errno on failure).
#[inline(always)]
pub unsafe fn syscall6(n: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
    let ret: isize;
    core::arch::asm!("svc #0", inlateout("x0") a0 as isize => ret, in("x1") a1, in("x2") a2,
        in("x3") a3, in("x4") a4, in("x5") a5, in("x8") n, options(nostack));
    ret
}

/// Raw system call with three arguments.
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> isize {
    syscall6(n, a0, a1, a2, 0, 0, 0)
}

/// write(2).
pub fn write(fd: i32, buf: &[u8]) -> isize {
    unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) }
}

/// exit_group(2).
pub fn exit_group(code: i32) -> ! {
    unsafe { syscall3(nr::EXIT_GROUP, code as usize, 0, 0) };
    loop {}
}

/// getpid(2).
pub fn getpid() -> i32 {
    unsafe { syscall3(nr::GETPID, 0, 0, 0) as i32 }
}

/// getppid(2).
pub fn getppid() -> i32 {
    unsafe { syscall3(nr::GETPPID, 0, 0, 0) as i32 }
}

/// brk(2): returns the new (or unchanged) break.
pub fn brk(addr: usize) -> usize {
    unsafe { syscall3(nr::BRK, addr, 0, 0) as usize }
}

/// mmap(2); returns the address or a negative errno.
pub fn mmap(addr: usize, len: usize, prot: usize, flags: usize, fd: i32, off: usize) -> isize {
    unsafe { syscall6(nr::MMAP, addr, len, prot, flags, fd as usize, off) }
}

/// munmap(2).
pub fn munmap(addr: usize, len: usize) -> isize {
    unsafe { syscall3(nr::MUNMAP, addr, len, 0) }
}

/// mprotect(2).
pub fn mprotect(addr: usize, len: usize, prot: usize) -> isize {
    unsafe { syscall3(nr::MPROTECT, addr, len, prot) }
}

/// sched_yield(2).
pub fn sched_yield() -> isize {
    unsafe { syscall3(nr::SCHED_YIELD, 0, 0, 0) }
}

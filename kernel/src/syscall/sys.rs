//! The table itself: number -> handler. Grows as subsystems add system calls.
use super::mm;
use super::{nr, SyscallArgs};
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::KResult;
use crate::fs::sys as fs;
use crate::kernel::sys as ksys;
use crate::task;

/// A system-call handler: decoded arguments, the trap frame (for clone/execve/exit).
pub type SyscallFn = fn(SyscallArgs, &mut PtRegs) -> KResult<usize>;

/// The handler for system call `n`. Linux: `sys_call_table[n]`.
pub fn lookup(n: usize) -> Option<SyscallFn> {
    Some(match n {
        nr::UNAME => ksys::sys_uname,
        nr::GETUID => ksys::sys_getuid,
        nr::GETEUID => ksys::sys_geteuid,
        nr::GETGID => ksys::sys_getgid,
        nr::GETEGID => ksys::sys_getegid,
        nr::SETUID => ksys::sys_setuid,
        nr::SETRESUID => ksys::sys_setresuid,
        nr::GETRESUID => ksys::sys_getresuid,
        nr::PRLIMIT64 => ksys::sys_prlimit64,
        nr::GETRLIMIT => ksys::sys_getrlimit,
        nr::SETRLIMIT => ksys::sys_setrlimit,
        nr::CLOCK_GETTIME => ksys::sys_clock_gettime,
        nr::NANOSLEEP => ksys::sys_nanosleep,
        nr::GETRANDOM => ksys::sys_getrandom,
        nr::EXIT | nr::EXIT_GROUP => task::exit::sys_exit_group,
        nr::WAIT4 => task::exit::sys_wait4,
        nr::GETPID => task::exit::sys_getpid,
        nr::GETTID => task::exit::sys_gettid,
        nr::GETPPID => task::exit::sys_getppid,
        nr::SCHED_YIELD => task::exit::sys_sched_yield,
        nr::SET_TID_ADDRESS => task::exit::sys_set_tid_address,
        nr::KILL => task::signal::sys_kill,
        nr::RT_SIGACTION => task::signal::sys_rt_sigaction,
        nr::RT_SIGPROCMASK => task::signal::sys_rt_sigprocmask,
        nr::RT_SIGRETURN => crate::arch::aarch64::signal::sys_rt_sigreturn,
        nr::OPENAT => fs::sys_openat,
        nr::CLOSE => fs::sys_close,
        nr::READ => fs::sys_read,
        nr::WRITE => fs::sys_write,
        nr::READV => fs::sys_readv,
        nr::WRITEV => fs::sys_writev,
        nr::PREAD64 => fs::sys_pread64,
        nr::PWRITE64 => fs::sys_pwrite64,
        nr::LSEEK => fs::sys_lseek,
        nr::FSTAT => fs::sys_fstat,
        nr::NEWFSTATAT => fs::sys_newfstatat,
        nr::GETDENTS64 => fs::sys_getdents64,
        nr::FTRUNCATE => fs::sys_ftruncate,
        nr::IOCTL => fs::sys_ioctl,
        nr::MKDIRAT => fs::sys_mkdirat,
        nr::UNLINKAT => fs::sys_unlinkat,
        nr::CHDIR => fs::sys_chdir,
        nr::GETCWD => fs::sys_getcwd,
        nr::FACCESSAT => fs::sys_faccessat,
        nr::DUP => fs::sys_dup,
        nr::DUP3 => fs::sys_dup3,
        nr::FCNTL => fs::sys_fcntl,
        nr::READLINKAT => fs::sys_readlinkat,
        nr::PPOLL => fs::sys_ppoll,
        nr::TKILL => task::signal::sys_kill,
        nr::SIGALTSTACK => task::signal::sys_sigaltstack,
        nr::CLONE => task::fork::sys_clone,
        nr::EXECVE => task::exec::sys_execve,
        nr::MMAP => mm::__arm64_sys_mmap,
        nr::MUNMAP => mm::__arm64_sys_munmap,
        nr::MPROTECT => mm::__arm64_sys_mprotect,
        nr::BRK => mm::__arm64_sys_brk,
        nr::MINCORE => mm::__arm64_sys_mincore,
        nr::MSYNC => mm::__arm64_sys_msync,
        nr::SWAPON => mm::__arm64_sys_swapon,
        nr::SWAPOFF => mm::__arm64_sys_swapoff,
        nr::MLOCK => mm::__arm64_sys_mlock,
        nr::MUNLOCK => mm::__arm64_sys_munlock,
        nr::MLOCKALL => mm::__arm64_sys_mlockall,
        nr::MUNLOCKALL => mm::__arm64_sys_munlockall,
        nr::MLOCK2 => mm::__arm64_sys_mlock2,
        nr::MADVISE => mm::__arm64_sys_madvise,
        nr::MREMAP => mm::__arm64_sys_mremap,
        _ => return None,
    })
}

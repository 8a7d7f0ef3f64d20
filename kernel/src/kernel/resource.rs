//! Resource limits (Linux: `include/uapi/asm-generic/resource.h`, `struct rlimit64`,
//! `INIT_RLIMITS` in `include/asm-generic/resource.h`).
//!
//! A leaf module: the task floor keeps each task's limits, and mm/ reads them (the
//! mmap, brk, mlock and stack-growth limits) without importing task/.

/// One resource limit (Linux: `struct rlimit64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RLimit {
    /// Soft limit.
    pub cur: u64,
    /// Hard limit.
    pub max: u64,
}

/// RLIM_INFINITY.
pub const RLIM_INFINITY: u64 = u64::MAX;
/// Number of resources (Linux: RLIM_NLIMITS).
pub const RLIMIT_NLIMITS: usize = 16;
/// CPU time in seconds: SIGXCPU at the soft limit, SIGKILL at the hard one.
pub const RLIMIT_CPU: usize = 0;
/// Largest file a process may write, in bytes: SIGXFSZ and EFBIG past it.
pub const RLIMIT_FSIZE: usize = 1;
/// Largest core file, in bytes (0: no core dumps, Linux's default soft limit).
pub const RLIMIT_CORE: usize = 4;
/// Resource numbers used by mm (Linux: `include/uapi/asm-generic/resource.h`).
pub const RLIMIT_DATA: usize = 2;
/// Stack size.
pub const RLIMIT_STACK: usize = 3;
/// Open files.
pub const RLIMIT_NOFILE: usize = 7;
/// Locked memory.
pub const RLIMIT_MEMLOCK: usize = 8;
/// Address space.
pub const RLIMIT_AS: usize = 9;

/// Linux's defaults for init (`INIT_RLIMITS`): stack 8 MiB, memlock 8 MiB (5.10's
/// MLOCK_LIMIT), nofile 1024/4096, core 0 (soft) / unlimited, the rest unlimited.
pub const fn default_rlimits() -> [RLimit; RLIMIT_NLIMITS] {
    let inf = RLimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
    let mut r = [inf; RLIMIT_NLIMITS];
    r[RLIMIT_STACK] = RLimit {
        cur: 8 << 20,
        max: RLIM_INFINITY,
    };
    r[RLIMIT_MEMLOCK] = RLimit {
        cur: 8 << 20,
        max: 8 << 20,
    };
    r[RLIMIT_NOFILE] = RLimit {
        cur: 1024,
        max: 4096,
    };
    r[RLIMIT_CORE] = RLimit {
        cur: 0,
        max: RLIM_INFINITY,
    };
    r
}

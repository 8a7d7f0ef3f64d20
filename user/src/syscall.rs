//! Linux arm64 system calls: numbers from `include/uapi/asm-generic/unistd.h`.

/// System-call numbers used by the programs.
#[allow(missing_docs)]
pub mod nr {
    pub const GETCWD: usize = 17;
    pub const DUP3: usize = 24;
    pub const MKDIRAT: usize = 34;
    pub const UNLINKAT: usize = 35;
    pub const UMOUNT2: usize = 39;
    pub const MOUNT: usize = 40;
    pub const STATFS: usize = 43;
    pub const FSTATFS: usize = 44;
    pub const PIPE2: usize = 59;
    pub const FTRUNCATE: usize = 46;
    pub const FACCESSAT: usize = 48;
    pub const CHDIR: usize = 49;
    pub const OPENAT: usize = 56;
    pub const CLOSE: usize = 57;
    pub const GETDENTS64: usize = 61;
    pub const LSEEK: usize = 62;
    pub const READ: usize = 63;
    pub const WRITE: usize = 64;
    pub const READV: usize = 65;
    pub const WRITEV: usize = 66;
    pub const PREAD64: usize = 67;
    pub const PWRITE64: usize = 68;
    pub const READLINKAT: usize = 78;
    pub const NEWFSTATAT: usize = 79;
    pub const FSTAT: usize = 80;
    pub const EXIT: usize = 93;
    pub const EXIT_GROUP: usize = 94;
    pub const NANOSLEEP: usize = 101;
    pub const CLOCK_GETTIME: usize = 113;
    pub const SCHED_YIELD: usize = 124;
    pub const KILL: usize = 129;
    pub const RESTART_SYSCALL: usize = 128;
    pub const SIGALTSTACK: usize = 132;
    pub const RT_SIGSUSPEND: usize = 133;
    pub const RT_SIGPENDING: usize = 136;
    pub const RT_SIGTIMEDWAIT: usize = 137;
    pub const SETITIMER: usize = 103;
    pub const PPOLL: usize = 73;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const RT_SIGRETURN: usize = 139;
    pub const SETRESUID: usize = 147;
    pub const UNAME: usize = 160;
    pub const GETPID: usize = 172;
    pub const GETPPID: usize = 173;
    pub const GETUID: usize = 174;
    pub const GETEUID: usize = 175;
    pub const BRK: usize = 214;
    pub const MUNMAP: usize = 215;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const MMAP: usize = 222;
    pub const MPROTECT: usize = 226;
    pub const MSYNC: usize = 227;
    pub const SWAPON: usize = 224;
    pub const SWAPOFF: usize = 225;
    pub const MLOCK: usize = 228;
    pub const MUNLOCK: usize = 229;
    pub const MLOCKALL: usize = 230;
    pub const MUNLOCKALL: usize = 231;
    pub const MINCORE: usize = 232;
    pub const MADVISE: usize = 233;
    pub const MREMAP: usize = 216;
    pub const SHMGET: usize = 194;
    pub const SHMCTL: usize = 195;
    pub const SHMAT: usize = 196;
    pub const SHMDT: usize = 197;
    pub const WAIT4: usize = 260;
    pub const PRLIMIT64: usize = 261;
    pub const GETRANDOM: usize = 278;
    pub const MLOCK2: usize = 284;
}

/// Linux error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`).
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const EINTR: i32 = 4;
    pub const EIO: i32 = 5;
    pub const ENXIO: i32 = 6;
    pub const E2BIG: i32 = 7;
    pub const ENOEXEC: i32 = 8;
    pub const EBADF: i32 = 9;
    pub const ECHILD: i32 = 10;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EBUSY: i32 = 16;
    pub const EEXIST: i32 = 17;
    pub const ENODEV: i32 = 19;
    pub const ENOTDIR: i32 = 20;
    pub const EISDIR: i32 = 21;
    pub const EINVAL: i32 = 22;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const ETXTBSY: i32 = 26;
    pub const EFBIG: i32 = 27;
    pub const ENOSPC: i32 = 28;
    pub const ESPIPE: i32 = 29;
    pub const EPIPE: i32 = 32;
    pub const EROFS: i32 = 30;
    pub const ERANGE: i32 = 34;
    pub const ENAMETOOLONG: i32 = 36;
    pub const ENOSYS: i32 = 38;
    pub const ENOTEMPTY: i32 = 39;
    pub const ELOOP: i32 = 40;
    pub const EIDRM: i32 = 43;
    pub const EOVERFLOW: i32 = 75;
    pub const EOPNOTSUPP: i32 = 95;

    /// The symbolic name of error number `e` ("EINVAL"), or "E?" for one not listed here.
    pub fn name(e: i32) -> &'static str {
        const NAMES: [(i32, &str); 35] = [
            (EPERM, "EPERM"),
            (ENOENT, "ENOENT"),
            (ESRCH, "ESRCH"),
            (EINTR, "EINTR"),
            (EIO, "EIO"),
            (ENXIO, "ENXIO"),
            (E2BIG, "E2BIG"),
            (ENOEXEC, "ENOEXEC"),
            (EBADF, "EBADF"),
            (ECHILD, "ECHILD"),
            (EAGAIN, "EAGAIN"),
            (ENOMEM, "ENOMEM"),
            (EACCES, "EACCES"),
            (EFAULT, "EFAULT"),
            (EBUSY, "EBUSY"),
            (EEXIST, "EEXIST"),
            (ENODEV, "ENODEV"),
            (ENOTDIR, "ENOTDIR"),
            (EISDIR, "EISDIR"),
            (EINVAL, "EINVAL"),
            (ENFILE, "ENFILE"),
            (EMFILE, "EMFILE"),
            (ETXTBSY, "ETXTBSY"),
            (EFBIG, "EFBIG"),
            (ENOSPC, "ENOSPC"),
            (ESPIPE, "ESPIPE"),
            (EROFS, "EROFS"),
            (ERANGE, "ERANGE"),
            (ENAMETOOLONG, "ENAMETOOLONG"),
            (ENOSYS, "ENOSYS"),
            (ENOTEMPTY, "ENOTEMPTY"),
            (ELOOP, "ELOOP"),
            (EIDRM, "EIDRM"),
            (EOVERFLOW, "EOVERFLOW"),
            (EOPNOTSUPP, "EOPNOTSUPP"),
        ];
        NAMES
            .iter()
            .find(|&&(n, _)| n == e)
            .map_or("E?", |&(_, s)| s)
    }
}

// mmap(2), mprotect(2): `include/uapi/asm-generic/mman-common.h`, `linux/mman.h`.
/// Page may be read.
pub const PROT_READ: usize = 0x1;
/// Page may be written.
pub const PROT_WRITE: usize = 0x2;
/// Page may be executed.
pub const PROT_EXEC: usize = 0x4;
/// Page may not be accessed.
pub const PROT_NONE: usize = 0x0;
/// Share changes (the mapping type, `flags & MAP_TYPE`).
pub const MAP_SHARED: usize = 0x01;
/// Changes are private (copy on write).
pub const MAP_PRIVATE: usize = 0x02;
/// MAP_SHARED, but reject unknown flags with EOPNOTSUPP.
pub const MAP_SHARED_VALIDATE: usize = 0x03;
/// The mask of the mapping type.
pub const MAP_TYPE: usize = 0x0f;
/// Interpret addr exactly, replacing what is there.
pub const MAP_FIXED: usize = 0x10;
/// No file; fd is ignored (use -1) and memory is zero-filled.
pub const MAP_ANONYMOUS: usize = 0x20;
/// Stack-like segment (VM_GROWSDOWN).
pub const MAP_GROWSDOWN: usize = 0x0100;
/// Lock the pages (mlock).
pub const MAP_LOCKED: usize = 0x2000;
/// Do not reserve swap space.
pub const MAP_NORESERVE: usize = 0x4000;
/// Prefault the page tables.
pub const MAP_POPULATE: usize = 0x8000;
/// Synchronous page faults for DAX (only with MAP_SHARED_VALIDATE).
pub const MAP_SYNC: usize = 0x80000;
/// Like MAP_FIXED, but fail with EEXIST instead of replacing a mapping.
pub const MAP_FIXED_NOREPLACE: usize = 0x100000;
/// mmap's error return.
pub const MAP_FAILED: isize = -1;

// openat(2) flags for arm64 (`arch/arm64/include/uapi/asm/fcntl.h` over asm-generic).
/// Open for reading only.
pub const O_RDONLY: usize = 0;
/// Open for writing only.
pub const O_WRONLY: usize = 1;
/// Open for reading and writing.
pub const O_RDWR: usize = 2;
/// Create the file if missing.
pub const O_CREAT: usize = 0o100;
/// With O_CREAT: fail if the file exists.
pub const O_EXCL: usize = 0o200;
/// Truncate to length 0.
pub const O_TRUNC: usize = 0o1000;
/// Append on each write.
pub const O_APPEND: usize = 0o2000;
/// Fail unless a directory (arm64 value; x86 has 0o200000).
pub const O_DIRECTORY: usize = 0o40000;
/// Close on exec.
pub const O_CLOEXEC: usize = 0o2000000;
/// The `dirfd` meaning "the current directory".
pub const AT_FDCWD: i32 = -100;
/// lseek(2) whence: from the start.
pub const SEEK_SET: usize = 0;
/// lseek(2) whence: from the current position.
pub const SEEK_CUR: usize = 1;
/// lseek(2) whence: from the end.
pub const SEEK_END: usize = 2;

// Signals (`asm-generic/signal.h`) and wait4(2).
/// Illegal instruction.
pub const SIGILL: i32 = 4;
/// Abort.
pub const SIGABRT: i32 = 6;
/// Bus error (e.g. a file mapping beyond EOF).
pub const SIGBUS: i32 = 7;
/// Write to a pipe with no reader.
pub const SIGPIPE: i32 = 13;
/// Kill (cannot be caught).
pub const SIGKILL: i32 = 9;
/// Invalid memory reference.
pub const SIGSEGV: i32 = 11;
/// Termination.
pub const SIGTERM: i32 = 15;
/// Child stopped or terminated: the exit signal fork uses.
pub const SIGCHLD: i32 = 17;
/// wait4: return 0 at once if no child has changed state.
pub const WNOHANG: usize = 1;

/// The name of signal `s` ("SIGSEGV"), or "SIG?".
pub fn signal_name(s: i32) -> &'static str {
    match s {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        SIGILL => "SIGILL",
        5 => "SIGTRAP",
        SIGABRT => "SIGABRT",
        SIGBUS => "SIGBUS",
        8 => "SIGFPE",
        SIGKILL => "SIGKILL",
        10 => "SIGUSR1",
        SIGSEGV => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        SIGTERM => "SIGTERM",
        SIGCHLD => "SIGCHLD",
        _ => "SIG?",
    }
}

/// clock_gettime(2): the monotonic clock.
pub const CLOCK_MONOTONIC: usize = 1;
/// clock_gettime(2): the wall clock.
pub const CLOCK_REALTIME: usize = 0;
/// prlimit64(2): the stack size limit.
pub const RLIMIT_STACK: usize = 3;
/// prlimit64(2): the open files limit.
pub const RLIMIT_NOFILE: usize = 7;
/// prlimit64(2): bytes of memory that may be locked (mlock, MAP_LOCKED, mlockall).
pub const RLIMIT_MEMLOCK: usize = 8;
/// prlimit64(2): no limit.
pub const RLIM_INFINITY: u64 = u64::MAX;
/// mlock2(2): lock pages when they are faulted in, not now.
pub const MLOCK_ONFAULT: usize = 1;
/// mlockall(2): lock all pages mapped now.
pub const MCL_CURRENT: usize = 1;
/// mlockall(2): lock all pages mapped from now on.
pub const MCL_FUTURE: usize = 2;
/// mlockall(2): with MCL_CURRENT/MCL_FUTURE, lock pages only when faulted in.
pub const MCL_ONFAULT: usize = 4;
/// msync(2): invalidate other mappings of the file (EBUSY on locked memory).
pub const MS_INVALIDATE: usize = 2;
/// madvise(2) advice (`include/uapi/asm-generic/mman-common.h`).
pub const MADV_NORMAL: usize = 0;
/// madvise(2): expect random access.
pub const MADV_RANDOM: usize = 1;
/// madvise(2): expect sequential access.
pub const MADV_SEQUENTIAL: usize = 2;
/// madvise(2): will need these pages soon.
pub const MADV_WILLNEED: usize = 3;
/// madvise(2): drop these pages (anonymous memory reads back as zeros).
pub const MADV_DONTNEED: usize = 4;
/// madvise(2): free these pages when memory is needed.
pub const MADV_FREE: usize = 8;
/// madvise(2): not inherited by fork.
pub const MADV_DONTFORK: usize = 10;
/// madvise(2): inherited by fork again.
pub const MADV_DOFORK: usize = 11;
/// madvise(2): left out of core dumps.
pub const MADV_DONTDUMP: usize = 16;
/// madvise(2): in core dumps again.
pub const MADV_DODUMP: usize = 17;
/// madvise(2): the child of fork sees zeros here.
pub const MADV_WIPEONFORK: usize = 18;
/// madvise(2): undo MADV_WIPEONFORK.
pub const MADV_KEEPONFORK: usize = 19;
/// madvise(2): fault the pages in readable (Linux 5.14).
pub const MADV_POPULATE_READ: usize = 22;
/// madvise(2): fault the pages in writable (Linux 5.14).
pub const MADV_POPULATE_WRITE: usize = 23;
/// getrandom(2): do not block.
pub const GRND_NONBLOCK: usize = 1;
/// getrandom(2): the (legacy) blocking pool.
pub const GRND_RANDOM: usize = 2;
/// getrandom(2): do not wait for the pool to be initialised.
pub const GRND_INSECURE: usize = 4;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Timespec {
    /// Seconds.
    pub tv_sec: i64,
    /// Nanoseconds, 0..1e9.
    pub tv_nsec: i64,
}

/// `struct rlimit64`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Rlimit {
    /// Soft limit.
    pub rlim_cur: u64,
    /// Hard limit.
    pub rlim_max: u64,
}

/// `struct stat` of arm64 (the asm-generic layout, 128 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
#[allow(missing_docs)]
pub struct Stat {
    pub st_dev: u64,
    pub st_ino: u64,
    pub st_mode: u32,
    pub st_nlink: u32,
    pub st_uid: u32,
    pub st_gid: u32,
    pub st_rdev: u64,
    pub __pad1: u64,
    pub st_size: i64,
    pub st_blksize: i32,
    pub __pad2: i32,
    pub st_blocks: i64,
    pub st_atime: i64,
    pub st_atime_nsec: u64,
    pub st_mtime: i64,
    pub st_mtime_nsec: u64,
    pub st_ctime: i64,
    pub st_ctime_nsec: u64,
    pub __unused4: u32,
    pub __unused5: u32,
}

/// File type bits of `st_mode`.
pub const S_IFMT: u32 = 0o170000;
/// A directory.
pub const S_IFDIR: u32 = 0o040000;
/// A regular file.
pub const S_IFREG: u32 = 0o100000;

/// `struct new_utsname`: six NUL-terminated 65-byte fields.
#[repr(C)]
#[allow(missing_docs)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

impl Default for Utsname {
    fn default() -> Self {
        Utsname {
            sysname: [0; 65],
            nodename: [0; 65],
            release: [0; 65],
            version: [0; 65],
            machine: [0; 65],
            domainname: [0; 65],
        }
    }
}

/// Raw system call with up to six arguments; returns x0 (negative errno on failure).
///
/// # Safety
/// The kernel may read or write memory through the arguments as system call `n` defines.
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    let ret: isize;
    core::arch::asm!("svc #0", inlateout("x0") a0 as isize => ret, in("x1") a1, in("x2") a2,
        in("x3") a3, in("x4") a4, in("x5") a5, in("x8") n, options(nostack));
    ret
}

/// Raw system call with three arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> isize {
    syscall6(n, a0, a1, a2, 0, 0, 0)
}

/// Raw system call with one argument.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a0: usize) -> isize {
    syscall6(n, a0, 0, 0, 0, 0, 0)
}

/// Raw system call with four arguments.
///
/// # Safety
/// As for [`syscall6`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a0: usize, a1: usize, a2: usize, a3: usize) -> isize {
    syscall6(n, a0, a1, a2, a3, 0, 0)
}

/// write(2).
pub fn write(fd: i32, buf: &[u8]) -> isize {
    unsafe { syscall3(nr::WRITE, fd as usize, buf.as_ptr() as usize, buf.len()) }
}

/// exit_group(2).
pub fn exit_group(code: i32) -> ! {
    unsafe { syscall3(nr::EXIT_GROUP, code as usize, 0, 0) };
    loop {
        core::hint::spin_loop();
    }
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

/// exit(2): end this thread (this process, as we have no threads).
pub fn exit(code: i32) -> ! {
    unsafe { syscall3(nr::EXIT, code as usize, 0, 0) };
    loop {
        core::hint::spin_loop();
    }
}

/// openat(2) relative to `dirfd`; returns the fd or a negative errno.
pub fn openat(dirfd: i32, path: &core::ffi::CStr, flags: usize, mode: usize) -> isize {
    unsafe {
        syscall4(
            nr::OPENAT,
            dirfd as usize,
            path.as_ptr() as usize,
            flags,
            mode,
        )
    }
}

/// open(2), as `openat(AT_FDCWD, ...)`: `open(c"/etc/test.txt", O_RDONLY, 0)`.
pub fn open(path: &core::ffi::CStr, flags: usize, mode: usize) -> isize {
    openat(AT_FDCWD, path, flags, mode)
}

/// close(2).
pub fn close(fd: i32) -> isize {
    unsafe { syscall1(nr::CLOSE, fd as usize) }
}

/// read(2) into `buf`.
pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    unsafe { syscall3(nr::READ, fd as usize, buf.as_mut_ptr() as usize, buf.len()) }
}

/// pread64(2): read at offset `off` without moving the file position.
pub fn pread(fd: i32, buf: &mut [u8], off: usize) -> isize {
    unsafe {
        syscall4(
            nr::PREAD64,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
            off,
        )
    }
}

/// pwrite64(2): write at offset `off` without moving the file position.
pub fn pwrite(fd: i32, buf: &[u8], off: usize) -> isize {
    unsafe {
        syscall4(
            nr::PWRITE64,
            fd as usize,
            buf.as_ptr() as usize,
            buf.len(),
            off,
        )
    }
}

/// lseek(2).
pub fn lseek(fd: i32, off: isize, whence: usize) -> isize {
    unsafe { syscall3(nr::LSEEK, fd as usize, off as usize, whence) }
}

/// ftruncate(2).
pub fn ftruncate(fd: i32, len: usize) -> isize {
    unsafe { syscall3(nr::FTRUNCATE, fd as usize, len, 0) }
}

/// fstat(2).
pub fn fstat(fd: i32, st: &mut Stat) -> isize {
    unsafe { syscall3(nr::FSTAT, fd as usize, st as *mut Stat as usize, 0) }
}

/// newfstatat(2) (what glibc's stat calls on arm64).
pub fn fstatat(dirfd: i32, path: &core::ffi::CStr, st: &mut Stat, flags: usize) -> isize {
    unsafe {
        syscall4(
            nr::NEWFSTATAT,
            dirfd as usize,
            path.as_ptr() as usize,
            st as *mut Stat as usize,
            flags,
        )
    }
}

/// getdents64(2): fill `buf` with `struct linux_dirent64` records; returns bytes used.
pub fn getdents64(fd: i32, buf: &mut [u8]) -> isize {
    unsafe {
        syscall3(
            nr::GETDENTS64,
            fd as usize,
            buf.as_mut_ptr() as usize,
            buf.len(),
        )
    }
}

/// unlinkat(2) of a file relative to the current directory.
pub fn unlink(path: &core::ffi::CStr) -> isize {
    unsafe { syscall3(nr::UNLINKAT, AT_FDCWD as usize, path.as_ptr() as usize, 0) }
}

/// mkdirat(2) relative to the cwd.
pub fn mkdir(path: &core::ffi::CStr, mode: u32) -> isize {
    unsafe { syscall3(nr::MKDIRAT, AT_FDCWD as usize, path.as_ptr() as usize, mode as usize) }
}

/// rmdir: unlinkat(2) with AT_REMOVEDIR.
pub fn rmdir(path: &core::ffi::CStr) -> isize {
    unsafe { syscall3(nr::UNLINKAT, AT_FDCWD as usize, path.as_ptr() as usize, 0x200) }
}

/// pipe2(2): `fds[0]` reads, `fds[1]` writes.
pub fn pipe2(fds: &mut [i32; 2], flags: usize) -> isize {
    unsafe { syscall3(nr::PIPE2, fds.as_mut_ptr() as usize, flags, 0) }
}

/// mount(2) with raw pointers (0 for NULL), so tests can pass bad ones too.
pub fn mount_raw(source: usize, target: usize, fstype: usize, flags: usize, data: usize) -> isize {
    unsafe { syscall6(nr::MOUNT, source, target, fstype, flags, data, 0) }
}

/// mount(2): mount a new `fstype` instance on `target` with `data` options.
pub fn mount(
    source: &core::ffi::CStr,
    target: &core::ffi::CStr,
    fstype: &core::ffi::CStr,
    flags: usize,
    data: &core::ffi::CStr,
) -> isize {
    mount_raw(
        source.as_ptr() as usize,
        target.as_ptr() as usize,
        fstype.as_ptr() as usize,
        flags,
        data.as_ptr() as usize,
    )
}

/// umount2(2).
pub fn umount2(target: &core::ffi::CStr, flags: usize) -> isize {
    unsafe { syscall3(nr::UMOUNT2, target.as_ptr() as usize, flags, 0) }
}

/// `struct statfs` on arm64 (120 bytes).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Statfs {
    pub f_type: u64,
    pub f_bsize: u64,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_fsid: [u32; 2],
    pub f_namelen: u64,
    pub f_frsize: u64,
    pub f_flags: u64,
    pub f_spare: [u64; 4],
}

/// statfs(2).
pub fn statfs(path: &core::ffi::CStr, buf: &mut Statfs) -> isize {
    unsafe { syscall3(nr::STATFS, path.as_ptr() as usize, buf as *mut Statfs as usize, 0) }
}

/// fstatfs(2).
pub fn fstatfs(fd: i32, buf: &mut Statfs) -> isize {
    unsafe { syscall3(nr::FSTATFS, fd as usize, buf as *mut Statfs as usize, 0) }
}

/// uname(2).
pub fn uname(u: &mut Utsname) -> isize {
    unsafe { syscall1(nr::UNAME, u as *mut Utsname as usize) }
}

/// clock_gettime(2).
pub fn clock_gettime(clock: usize, ts: &mut Timespec) -> isize {
    unsafe { syscall3(nr::CLOCK_GETTIME, clock, ts as *mut Timespec as usize, 0) }
}

/// nanosleep(2) without a remainder pointer.
pub fn nanosleep(req: &Timespec) -> isize {
    unsafe { syscall3(nr::NANOSLEEP, req as *const Timespec as usize, 0, 0) }
}

/// Sleep for `ms` milliseconds (nanosleep).
pub fn sleep_ms(ms: u64) -> isize {
    nanosleep(&Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    })
}

/// fork(2), as arm64 libcs do it: `clone(SIGCHLD, 0, 0, 0, 0)`. 0 in the child, the child's
/// pid in the parent, or a negative errno.
pub fn fork() -> isize {
    unsafe { syscall6(nr::CLONE, SIGCHLD as usize, 0, 0, 0, 0, 0) }
}

/// wait4(2) without rusage: the pid reaped (0 with WNOHANG if none yet) or a negative errno.
pub fn wait4(pid: i32, status: Option<&mut i32>, options: usize) -> isize {
    let st = status.map_or(0, |s| s as *mut i32 as usize);
    unsafe { syscall4(nr::WAIT4, pid as usize, st, options, 0) }
}

/// execve(2) with NULL-terminated arrays of C-string pointers; returns only on failure.
pub fn execve(path: &core::ffi::CStr, argv: &[*const u8], envp: &[*const u8]) -> isize {
    unsafe {
        syscall3(
            nr::EXECVE,
            path.as_ptr() as usize,
            argv.as_ptr() as usize,
            envp.as_ptr() as usize,
        )
    }
}

/// kill(2).
pub fn kill(pid: i32, sig: i32) -> isize {
    unsafe { syscall3(nr::KILL, pid as usize, sig as usize, 0) }
}

/// prlimit64(2) for the calling process (pid 0).
pub fn prlimit64(resource: usize, new: Option<&Rlimit>, old: Option<&mut Rlimit>) -> isize {
    let n = new.map_or(0, |r| r as *const Rlimit as usize);
    let o = old.map_or(0, |r| r as *mut Rlimit as usize);
    unsafe { syscall4(nr::PRLIMIT64, 0, resource, n, o) }
}

/// getrandom(2).
pub fn getrandom(buf: &mut [u8], flags: usize) -> isize {
    unsafe { syscall3(nr::GETRANDOM, buf.as_mut_ptr() as usize, buf.len(), flags) }
}

/// mincore(2): one byte per page of `[addr, addr + len)` into `vec` (a raw pointer, so tests
/// can pass bad ones).
pub fn mincore(addr: usize, len: usize, vec: *mut u8) -> isize {
    unsafe { syscall3(nr::MINCORE, addr, len, vec as usize) }
}

/// msync(2).
pub fn msync(addr: usize, len: usize, flags: usize) -> isize {
    unsafe { syscall3(nr::MSYNC, addr, len, flags) }
}

/// shmget(2): the segment's identifier or a negative errno.
pub fn shmget(key: i32, size: usize, shmflg: usize) -> isize {
    unsafe { syscall3(nr::SHMGET, key as usize, size, shmflg) }
}

/// shmat(2): the attach address or a negative errno.
pub fn shmat(shmid: i32, addr: usize, shmflg: usize) -> isize {
    unsafe { syscall3(nr::SHMAT, shmid as usize, addr, shmflg) }
}

/// shmdt(2).
pub fn shmdt(addr: usize) -> isize {
    unsafe { syscall3(nr::SHMDT, addr, 0, 0) }
}

/// shmctl(2); `buf` is a raw pointer (a `ShmidDs`, `ShmInfo` or `Shminfo`, or a bad one).
pub fn shmctl(shmid: i32, cmd: i32, buf: usize) -> isize {
    unsafe { syscall3(nr::SHMCTL, shmid as usize, cmd as usize, buf) }
}

/// `struct ipc64_perm` (arm64, generic layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct IpcPerm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u32,
    pub seq: u16,
    pub pad2: u16,
    pub unused: [u64; 2],
}

/// `struct shmid64_ds` (arm64, generic layout: 112 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct ShmidDs {
    pub shm_perm: IpcPerm,
    pub shm_segsz: u64,
    pub shm_atime: i64,
    pub shm_dtime: i64,
    pub shm_ctime: i64,
    pub shm_cpid: i32,
    pub shm_lpid: i32,
    pub shm_nattch: u64,
    pub unused: [u64; 2],
}

/// `struct shm_info` (SHM_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct ShmInfo {
    pub used_ids: i32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}

/// `struct shminfo64` (IPC_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct Shminfo {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    pub shmall: u64,
    pub unused: [u64; 4],
}

pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: usize = 0o1000;
pub const IPC_EXCL: usize = 0o2000;
pub const IPC_RMID: i32 = 0;
pub const IPC_SET: i32 = 1;
pub const IPC_STAT: i32 = 2;
pub const IPC_INFO: i32 = 3;
pub const SHM_LOCK: i32 = 11;
pub const SHM_UNLOCK: i32 = 12;
pub const SHM_STAT: i32 = 13;
pub const SHM_INFO: i32 = 14;
pub const SHM_STAT_ANY: i32 = 15;
pub const SHM_RDONLY: usize = 0o10000;
pub const SHM_RND: usize = 0o20000;
pub const SHM_REMAP: usize = 0o40000;
pub const SHM_EXEC: usize = 0o100000;
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;

/// mremap(2).
pub fn mremap(addr: usize, old_len: usize, new_len: usize, flags: usize, new_addr: usize) -> isize {
    unsafe { syscall6(nr::MREMAP, addr, old_len, new_len, flags, new_addr, 0) }
}

/// madvise(2).
pub fn madvise(addr: usize, len: usize, advice: usize) -> isize {
    unsafe { syscall3(nr::MADVISE, addr, len, advice) }
}

/// mlock(2).
pub fn mlock(addr: usize, len: usize) -> isize {
    unsafe { syscall3(nr::MLOCK, addr, len, 0) }
}

/// mlock2(2) with `flags` (MLOCK_ONFAULT).
pub fn mlock2(addr: usize, len: usize, flags: usize) -> isize {
    unsafe { syscall3(nr::MLOCK2, addr, len, flags) }
}

/// munlock(2).
pub fn munlock(addr: usize, len: usize) -> isize {
    unsafe { syscall3(nr::MUNLOCK, addr, len, 0) }
}

/// mlockall(2) with MCL_* `flags`.
pub fn mlockall(flags: usize) -> isize {
    unsafe { syscall1(nr::MLOCKALL, flags) }
}

/// munlockall(2).
pub fn munlockall() -> isize {
    unsafe { syscall1(nr::MUNLOCKALL, 0) }
}

/// setresuid(2); `u32::MAX` (-1) leaves an id unchanged.
pub fn setresuid(ruid: u32, euid: u32, suid: u32) -> isize {
    unsafe { syscall3(nr::SETRESUID, ruid as usize, euid as usize, suid as usize) }
}

/// getuid(2).
pub fn getuid() -> u32 {
    unsafe { syscall1(nr::GETUID, 0) as u32 }
}

/// geteuid(2).
pub fn geteuid() -> u32 {
    unsafe { syscall1(nr::GETEUID, 0) as u32 }
}

/// swapon(2) flag: use the priority in the low bits (Linux: `SWAP_FLAG_PREFER`).
pub const SWAP_FLAG_PREFER: usize = 0x8000;
/// swapon(2): the priority bits (Linux: `SWAP_FLAG_PRIO_MASK`).
pub const SWAP_FLAG_PRIO_MASK: usize = 0x7fff;
/// swapon(2): discard freed swap pages (Linux: `SWAP_FLAG_DISCARD`).
pub const SWAP_FLAG_DISCARD: usize = 0x10000;

/// swapon(2): start swapping to the block device (or file) `path`.
pub fn swapon(path: &core::ffi::CStr, flags: usize) -> isize {
    unsafe { syscall3(nr::SWAPON, path.as_ptr() as usize, flags, 0) }
}

/// swapoff(2): stop swapping to `path`, bringing its pages back into memory.
pub fn swapoff(path: &core::ffi::CStr) -> isize {
    unsafe { syscall3(nr::SWAPOFF, path.as_ptr() as usize, 0, 0) }
}

/// One entry of ppoll(2)'s array (`struct pollfd`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct PollFd {
    /// The descriptor.
    pub fd: i32,
    /// POLL* bits asked for.
    pub events: u16,
    /// POLL* bits that hold.
    pub revents: u16,
}

/// ppoll(2) on one descriptor for `events`, waiting `ms` milliseconds (< 0: for ever):
/// the ready count (or -errno) and `revents`.
pub fn poll1(fd: i32, events: u16, ms: i64) -> (isize, u16) {
    let mut p = PollFd {
        fd,
        events,
        revents: 0,
    };
    let ts = Timespec {
        tv_sec: ms.max(0) / 1000,
        tv_nsec: (ms.max(0) % 1000) * 1_000_000,
    };
    let tsp = if ms < 0 {
        0
    } else {
        &ts as *const Timespec as usize
    };
    let r = unsafe { syscall4(73, &mut p as *mut PollFd as usize, 1, tsp, 0) };
    (r, p.revents)
}

/// open(2) of a path given as a Rust string (a command-line argument), at most 255
/// bytes: the descriptor or -errno.
pub fn open_str(path: &str, flags: usize, mode: usize) -> isize {
    let mut buf = [0u8; 256];
    let l = path.len().min(255);
    buf[..l].copy_from_slice(&path.as_bytes()[..l]);
    open(
        core::ffi::CStr::from_bytes_until_nul(&buf).unwrap_or(c""),
        flags,
        mode,
    )
}

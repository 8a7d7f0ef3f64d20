//! tmpfs_test: tmpfs's limits and mount(2), umount2(2), statfs(2), /proc/mounts, as
//! Linux has them (mm/shmem.c: `shmem_sb_info`, `shmem_parse_one`, `shmem_statfs`;
//! fs/namespace.c; fs/statfs.c; fs/proc_namespace.c). Run as init (root).
//!
//! 1. /tmp has Linux's defaults: `size=` half of RAM and `nr_inodes=` half as many as RAM
//!    has pages (statfs), and writing to it ends in ENOSPC at that size, not in an OOM.
//! 2. A tmpfs mounted with `size=64k,nr_inodes=4,mode=700` shows them in statfs and in
//!    /proc/mounts; a write past 64 KiB is short, then ENOSPC; truncation gives the
//!    space back; a mapped hole past the limit gets SIGBUS; the fifth inode is ENOSPC and
//!    an unlink gives one back.
//! 3. mount's and umount2's errors: EPERM for a user, ENODEV, EINVAL for bad options,
//!    flags or a target that is not a mount, ENOENT, ENOTDIR, EFAULT, EBUSY with a mount
//!    below, which MNT_DETACH takes too; a proc mount works; fstatfs gives the types.
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::procfs::{meminfo_kb, read_file};
use ulib::*;

const TMPFS_MAGIC: u64 = 0x0102_1994;
const PROC_SUPER_MAGIC: u64 = 0x9fa0;
const ST_RDONLY: u64 = 1;
const MNT_DETACH: usize = 2;
const LIM: &CStr = c"/tmp/lim";
const P: usize = 4096;

fn st(path: &CStr) -> (isize, Statfs) {
    let mut s = Statfs::default();
    let r = statfs(path, &mut s);
    (r, s)
}

/// Does /proc/mounts hold `line`?
fn mounts_has(line: &str) -> bool {
    let mut buf = [0u8; 4096];
    let n = read_file(c"/proc/mounts", &mut buf).unwrap_or(0);
    core::str::from_utf8(&buf[..n])
        .unwrap_or("")
        .lines()
        .any(|l| l == line)
}

fn create(path: &CStr) -> isize {
    open(path, O_RDWR | O_CREAT, 0o644)
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("tmpfs_test");
    defaults(&mut t);
    limits(&mut t);
    errors(&mut t);
    falloc(&mut t);
    t.finish()
}

fn fallocate(fd: i32, mode: usize, off: i64, len: i64) -> isize {
    unsafe { syscall4(47, fd as usize, mode, off as usize, len as usize) }
}

fn size_blocks(fd: i32) -> (i64, i64) {
    let mut st = Stat::default();
    fstat(fd, &mut st);
    (st.st_size, st.st_blocks)
}

/// fallocate(2) on tmpfs (Linux: `shmem_fallocate`) and MADV_REMOVE, which punches the
/// same hole through a shared mapping (`madvise_remove` -> `vfs_fallocate`).
fn falloc(t: &mut Tap) {
    const P: usize = PAGE_SIZE;
    const KEEP: usize = 1;
    const PUNCH: usize = 2;
    let fd = create(c"/tmp/falloc") as i32;
    t.ret("fallocate(0, 8 pages)", fallocate(fd, 0, 0, 8 * P as i64), 0);
    t.ok(size_blocks(fd) == ((8 * P) as i64, 64), "... the file grows to 8 pages, all allocated");
    t.ret("fallocate(KEEP_SIZE, 16 pages)", fallocate(fd, KEEP, 0, 16 * P as i64), 0);
    t.ok(size_blocks(fd) == ((8 * P) as i64, 128), "... the size stays, the blocks double");
    let buf = [b'a'; 3 * P];
    pwrite(fd, &buf, 0);
    let m = mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) as usize;
    t.ok(peek(m + 2 * P) == b'a', "a shared mapping sees the data");
    t.ret("punch a hole at [100, 2 pages + 100)", fallocate(fd, PUNCH | KEEP, 100, 2 * P as i64), 0);
    let mut back = [0u8; 3 * P];
    pread(fd, &mut back, 0);
    let want = |i: usize| if (100..2 * P + 100).contains(&i) { 0 } else { b'a' };
    t.ok((0..3 * P).all(|i| back[i] == want(i)), "read(2): zeros inside the hole, the data around it");
    // Before any fault: a read fault of the hole would allocate a zero page (shmem_fault).
    let (size, blocks) = size_blocks(fd);
    t.check(size == (8 * P) as i64 && blocks == 120, "the one whole page inside the hole is freed", blocks, 120);
    t.ok(peek(m + 99) == b'a' && peek(m + 100) == 0 && peek(m + P) == 0 && peek(m + 2 * P + 99) == 0 && peek(m + 2 * P + 100) == b'a', "the shared mapping sees the same");
    t.err("PUNCH_HOLE without KEEP_SIZE: EOPNOTSUPP", fallocate(fd, PUNCH, 0, P as i64), EOPNOTSUPP);
    t.err("an unknown mode bit: EOPNOTSUPP", fallocate(fd, 0x80, 0, P as i64), EOPNOTSUPP);
    t.err("len 0: EINVAL", fallocate(fd, 0, 0, 0), EINVAL);
    t.err("a negative offset: EINVAL", fallocate(fd, 0, -1, P as i64), EINVAL);
    let ro = open(c"/tmp/falloc", O_RDONLY, 0) as i32;
    t.err("a read-only descriptor: EBADF", fallocate(ro, 0, 0, P as i64), EBADF);
    let mut pfd = [0i32; 2];
    pipe2(&mut pfd, 0);
    t.err("a pipe: ESPIPE", fallocate(pfd[1], 0, 0, P as i64), ESPIPE);
    let null = open(c"/dev/null", O_RDWR, 0) as i32;
    t.err("a character device: ENODEV", fallocate(null, 0, 0, P as i64), ENODEV);
    for f in [ro, pfd[0], pfd[1], null] {
        close(f);
    }

    // MADV_REMOVE: the same hole through the mapping.
    poke(m + 3 * P, b'z');
    t.ret("madvise(MADV_REMOVE) of the 4th page", madvise(m + 3 * P, P, 9), 0);
    t.ok(peek(m + 3 * P) == 0, "... it reads back as zeros");
    let anon = mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) as usize;
    poke(anon, 7);
    poke(anon + P, 8);
    t.ret("MADV_REMOVE on shared anonymous memory", madvise(anon, P, 9), 0);
    t.ok(peek(anon) == 0 && peek(anon + P) == 8, "... the page is zero again, its neighbour kept");
    let private = mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as usize;
    t.err("MADV_REMOVE on private anonymous memory: EINVAL", madvise(private, P, 9), EINVAL);
    let fp = mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) as usize;
    t.err("MADV_REMOVE on a private file mapping: EACCES", madvise(fp, P, 9), EACCES);
    munmap(m, 4 * P);
    munmap(anon, 2 * P);
    munmap(private, P);
    munmap(fp, P);
    close(fd);
    unlink(c"/tmp/falloc");
}

/// 1. /tmp's defaults, and ENOSPC at them.
fn defaults(t: &mut Tap) {
    let ram_pages = meminfo_kb("MemTotal").unwrap_or(0) / 4;
    let (r, s) = st(c"/tmp");
    t.ret("statfs /tmp", r, 0);
    t.eq("f_type is TMPFS_MAGIC", s.f_type, TMPFS_MAGIC);
    t.eq("f_bsize", s.f_bsize, P as u64);
    t.eq("f_blocks: size= is half of RAM", s.f_blocks, ram_pages / 2);
    t.eq("f_files: nr_inodes= is half of RAM's pages", s.f_files, ram_pages / 2);
    t.eq("f_namelen", s.f_namelen, 255);
    t.ok(
        mounts_has("tmpfs /tmp tmpfs rw 0 0"),
        "/proc/mounts lists /tmp with default options",
    );
    let fd = create(c"/tmp/fill") as i32;
    if !t.success("create /tmp/fill", fd as isize) {
        return;
    }
    let free = st(c"/tmp").1.f_bfree as usize;
    let chunk = mmap_anon(1 << 20);
    let buf = unsafe { core::slice::from_raw_parts(chunk as *const u8, 1 << 20) };
    let mut total = 0usize;
    let last = loop {
        let r = write(fd, buf);
        if r <= 0 {
            break r;
        }
        total += r as usize;
    };
    t.err("writing /tmp past its size= ends in ENOSPC", last, ENOSPC);
    t.eq("bytes written: the free blocks", total / P, free);
    t.eq("f_bfree is 0 when full", st(c"/tmp").1.f_bfree, 0);
    close(fd);
    t.ret("unlink /tmp/fill", unlink(c"/tmp/fill"), 0);
    t.eq("the blocks come back", st(c"/tmp").1.f_bfree as usize, free);
    munmap(chunk as usize, 1 << 20);
}

/// 2. A small instance: size=, nr_inodes=, mode=.
fn limits(t: &mut Tap) {
    t.ret("mkdir /tmp/lim", mkdir(LIM, 0o755), 0);
    let r = mount(c"tmpfs", LIM, c"tmpfs", 0, c"size=64k,nr_inodes=4,mode=700");
    if !t.ret("mount -t tmpfs -o size=64k,nr_inodes=4,mode=700", r, 0) {
        return;
    }
    let (r, s) = st(LIM);
    t.ret("statfs of the mount", r, 0);
    t.eq("f_blocks: 16 pages", s.f_blocks, 16);
    t.eq("f_files: 4 inodes", s.f_files, 4);
    t.eq("f_ffree: the root took one", s.f_ffree, 3);
    t.ok(
        mounts_has("tmpfs /tmp/lim tmpfs rw,size=64k,nr_inodes=4,mode=700 0 0"),
        "/proc/mounts shows the options",
    );
    let mut sb = Stat::default();
    t.ret("stat of the mount's root", fstatat(AT_FDCWD, LIM, &mut sb, 0), 0);
    t.eq("its root has mode=700", sb.st_mode & 0o7777, 0o700);

    // Blocks.
    let fd = create(c"/tmp/lim/a") as i32;
    t.success("create a file in it", fd as isize);
    let big = mmap_anon(100 << 10);
    let buf = unsafe { core::slice::from_raw_parts(big as *const u8, 100 << 10) };
    t.ret("a 100 KiB write is short: 64 KiB", write(fd, buf), 64 << 10);
    t.err("the next write is ENOSPC", write(fd, &buf[..1]), ENOSPC);
    t.eq("f_bfree 0", st(LIM).1.f_bfree, 0);
    t.ret("truncate it to 0", ftruncate(fd, 0), 0);
    t.eq("truncation gives the blocks back", st(LIM).1.f_bfree, 16);
    // A mapping larger than the limit: a fault past it is SIGBUS (Linux: shmem_fault's
    // ENOSPC -> VM_FAULT_SIGBUS), the pages before it are fine.
    t.ret("truncate it up to 128 KiB (a hole)", ftruncate(fd, 128 << 10), 0);
    let m = mmap(0, 128 << 10, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if t.success("map it shared", m) {
        let m = m as usize;
        let st16 = in_child(|| {
            for i in 0..16 {
                unsafe { ((m + i * P) as *mut u8).write_volatile(1) };
            }
            0
        });
        t.exited("touching 16 pages of it is fine", st16, 0);
        let st17 = in_child(|| {
            unsafe { ((m + 16 * P) as *mut u8).write_volatile(1) };
            0
        });
        t.killed_by("the 17th page gets SIGBUS", st17, SIGBUS);
        munmap(m, 128 << 10);
    }
    close(fd);
    munmap(big as usize, 100 << 10);

    // Inodes: the root and "a" hold two of four.
    let fd = create(c"/tmp/lim/b");
    t.success("a third inode", fd);
    close(fd as i32);
    t.ret("a fourth inode (a directory)", mkdir(c"/tmp/lim/d", 0o755), 0);
    t.err("a fifth is ENOSPC", create(c"/tmp/lim/c"), ENOSPC);
    t.err("a fifth directory too", mkdir(c"/tmp/lim/e", 0o755), ENOSPC);
    let held = open(c"/tmp/lim/b", O_RDONLY, 0) as i32;
    t.ret("unlink one, still open", unlink(c"/tmp/lim/b"), 0);
    t.err(
        "its inode stays in use while open: ENOSPC",
        create(c"/tmp/lim/c"),
        ENOSPC,
    );
    close(held);
    let fd = create(c"/tmp/lim/c");
    t.success("once closed, there is room again", fd);
    close(fd as i32);
    for p in [c"/tmp/lim/a", c"/tmp/lim/c"] {
        unlink(p);
    }
    rmdir(c"/tmp/lim/d");
    t.eq("all blocks and inodes free", st(LIM).1.f_ffree, 3);
    t.ret("umount2 it", umount2(LIM, 0), 0);
    t.ok(
        !mounts_has("tmpfs /tmp/lim tmpfs rw,size=64k,nr_inodes=4,mode=700 0 0"),
        "/proc/mounts no longer lists it",
    );
    t.err("umount2 again: not a mount point", umount2(LIM, 0), EINVAL);
}

/// 3. The errors, and the other file systems.
fn errors(t: &mut Tap) {
    let tmpfs = c"tmpfs";
    t.err(
        "an unknown type is ENODEV",
        mount(tmpfs, LIM, c"ext9", 0, c""),
        ENODEV,
    );
    t.err(
        "a bad size= is EINVAL",
        mount(tmpfs, LIM, tmpfs, 0, c"size=lots"),
        EINVAL,
    );
    t.err(
        "an unknown option is EINVAL",
        mount(tmpfs, LIM, tmpfs, 0, c"colour=blue"),
        EINVAL,
    );
    t.err(
        "a missing target is ENOENT",
        mount(tmpfs, c"/tmp/nowhere", tmpfs, 0, c""),
        ENOENT,
    );
    let fd = create(c"/tmp/file");
    close(fd as i32);
    t.err(
        "a file as target is ENOTDIR",
        mount(tmpfs, c"/tmp/file", tmpfs, 0, c""),
        ENOTDIR,
    );
    unlink(c"/tmp/file");
    let target = LIM.as_ptr() as usize;
    t.err(
        "a NULL type is EINVAL",
        mount_raw(0, target, 0, 0, 0),
        EINVAL,
    );
    t.err(
        "a type at a bad address is EFAULT",
        mount_raw(0, target, 8, 0, 0),
        EFAULT,
    );
    t.err(
        "options at a bad address are EFAULT",
        mount_raw(0, target, tmpfs.as_ptr() as usize, 0, 8),
        EFAULT,
    );
    t.err("umount2 with an unknown flag is EINVAL", umount2(LIM, 0x100), EINVAL);
    let user = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 90;
        }
        if mount(tmpfs, LIM, tmpfs, 0, c"") != -(EPERM as isize) {
            return 1;
        }
        if umount2(c"/tmp", 0) != -(EPERM as isize) {
            return 2;
        }
        0
    });
    t.exited("mount and umount2 as uid 1000 are EPERM", user, 0);

    // A mount below a mount keeps the upper one busy.
    t.ret("mount tmpfs on /tmp/lim", mount(tmpfs, LIM, tmpfs, 0, c""), 0);
    t.ret("mkdir inside it", mkdir(c"/tmp/lim/sub", 0o755), 0);
    t.ret(
        "mount tmpfs read-only below it",
        mount(tmpfs, c"/tmp/lim/sub", tmpfs, 1, c""),
        0,
    );
    let (_, s) = st(c"/tmp/lim/sub");
    t.eq("statfs says read-only", s.f_flags & ST_RDONLY, ST_RDONLY);
    t.err(
        "a file cannot be made in it (EROFS)",
        create(c"/tmp/lim/sub/x"),
        EROFS,
    );
    t.err("umount2 of the upper one is EBUSY", umount2(LIM, 0), EBUSY);
    t.ret(
        "with MNT_DETACH both go",
        umount2(LIM, MNT_DETACH),
        0,
    );
    t.err(
        "the lower one went with it",
        umount2(c"/tmp/lim/sub", 0),
        ENOENT,
    );

    // proc.
    t.ret("mount proc on /tmp/lim", mount(c"proc", LIM, c"proc", 0, c""), 0);
    let (_, s) = st(LIM);
    t.eq("its f_type is PROC_SUPER_MAGIC", s.f_type, PROC_SUPER_MAGIC);
    let mut buf = [0u8; 64];
    t.ok(
        read_file(c"/tmp/lim/meminfo", &mut buf).is_some_and(|n| buf[..n].starts_with(b"MemTotal:")),
        "its meminfo reads",
    );
    t.ok(mounts_has("proc /tmp/lim proc rw 0 0"), "/proc/mounts lists it");
    t.ret("umount2 it", umount2(LIM, 0), 0);
    t.ret("rmdir /tmp/lim", rmdir(LIM), 0);

    let fd = open(c"/proc/meminfo", O_RDONLY, 0) as i32;
    let mut s = Statfs::default();
    t.ret("fstatfs of a /proc file", fstatfs(fd, &mut s), 0);
    t.eq("proc's magic", s.f_type, PROC_SUPER_MAGIC);
    close(fd);
    t.err("fstatfs of a bad fd is EBADF", fstatfs(-1, &mut s), EBADF);
    let r = unsafe { syscall3(nr::STATFS, c"/tmp".as_ptr() as usize, 8, 0) };
    t.err("statfs into a bad buffer is EFAULT", r, EFAULT);
    t.err("statfs of a missing path is ENOENT", st(c"/tmp/none").0, ENOENT);
}

//! shm_test: System V shared memory as man 2 shmget/shmat/shmdt/shmctl and svipc(7)
//! describe it on Linux arm64: one `ok -` line per behaviour and errno. Run at 64M with a
//! swap disk as /dev/vdb (the SHM_LOCK part turns swap on and pushes pages out).
//! `shm_test nattch ID` (run through execve by the test itself) prints nothing and
//! exits with segment ID's shm_nattch, so the parent sees what exec left attached.
#![no_std]
#![no_main]
use core::fmt::Write;
use ulib::procfs::{meminfo_kb, read_file, vmstat};
use ulib::*;

const P: usize = 4096;
const MADV_PAGEOUT: usize = 21;
const SIGSEGV: i32 = 11;

/// A line of text on the stack.
struct Line {
    b: [u8; 512],
    n: usize,
}
impl Line {
    fn new() -> Line {
        Line { b: [0; 512], n: 0 }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.b[..self.n]).unwrap_or("?")
    }
}
impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.bytes() {
            if self.n < self.b.len() {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
        Ok(())
    }
}

fn stat(id: i32) -> (isize, ShmidDs) {
    let mut ds = ShmidDs::default();
    let r = shmctl(id, IPC_STAT, &mut ds as *mut ShmidDs as usize);
    (r, ds)
}

fn nattch(id: i32) -> u64 {
    stat(id).1.shm_nattch
}

fn rmid(id: i32) -> isize {
    shmctl(id, IPC_RMID, 0)
}

/// Write `text` to a /proc/sys file.
fn sysctl_write(path: &core::ffi::CStr, text: &str) -> isize {
    let fd = open(path, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, text.as_bytes());
    close(fd as i32);
    r
}

/// A /proc/sys value.
fn sysctl_read(path: &core::ffi::CStr) -> u64 {
    let mut buf = [0u8; 64];
    let n = read_file(path, &mut buf).unwrap_or(0);
    core::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Resident pages of `[addr, addr + n pages)` per mincore.
fn resident(addr: usize, n: usize) -> usize {
    let mut vec = [0u8; 1024];
    if mincore(addr, n * P, vec.as_mut_ptr()) != 0 {
        return usize::MAX;
    }
    vec[..n].iter().filter(|&&b| b & 1 != 0).count()
}

/// The line of /proc/self/maps that starts at `addr`.
fn maps_line(addr: usize) -> Line {
    let mut buf = [0u8; 16384];
    let n = read_file(c"/proc/self/maps", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let mut want = Line::new();
    let _ = write!(want, "{:x}-", addr);
    let mut out = Line::new();
    if let Some(l) = text.lines().find(|l| l.starts_with(want.as_str())) {
        let _ = out.write_str(l);
    }
    out
}

/// The /proc/sysvipc/shm line of segment `id` (rss/swap columns included), and the
/// header line.
fn sysvipc_line(id: i32) -> (Line, Line) {
    let mut buf = [0u8; 16384];
    let n = read_file(c"/proc/sysvipc/shm", &mut buf).unwrap_or(0);
    let text = core::str::from_utf8(&buf[..n]).unwrap_or("");
    let mut head = Line::new();
    let mut line = Line::new();
    let mut lines = text.lines();
    if let Some(h) = lines.next() {
        let _ = head.write_str(h);
    }
    for l in lines {
        if l.split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<i32>().ok())
            == Some(id)
        {
            let _ = line.write_str(l);
        }
    }
    (line, head)
}

/// Column `i` (0-based) of a /proc/sysvipc/shm line.
fn col(l: &Line, i: usize) -> u64 {
    l.as_str()
        .split_whitespace()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX)
}

fn fill(addr: usize, pages: usize, seed: u8) {
    for i in 0..pages {
        poke(addr + i * P, seed.wrapping_add(i as u8));
        poke(addr + i * P + P - 1, seed ^ 0x5a);
    }
}

fn same(addr: usize, pages: usize, seed: u8) -> bool {
    (0..pages).all(|i| {
        peek(addr + i * P) == seed.wrapping_add(i as u8)
            && peek(addr + i * P + P - 1) == seed ^ 0x5a
    })
}

/// `shm_test nattch ID`: exit with the segment's attach count.
fn exec_child(args: &Args) -> i32 {
    let id: i32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(-1);
    nattch(id) as i32
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.get(1) == Some("nattch") {
        return exec_child(&args);
    }
    let mut t = Tap::new("shm_test");
    limits(&mut t);
    get_errors(&mut t);
    attach_and_fork(&mut t);
    attach_errors(&mut t);
    rdonly_and_exec(&mut t);
    ctl(&mut t);
    permissions(&mut t);
    rmid_frees(&mut t);
    lock(&mut t);
    t.finish()
}

/// IPC_INFO and the kernel.shm* sysctls; ENOSPC and EINVAL from the limits.
fn limits(t: &mut Tap) {
    let mut info = Shminfo::default();
    let r = shmctl(0, IPC_INFO, &mut info as *mut Shminfo as usize);
    t.ok(r >= 0, "IPC_INFO succeeds");
    t.eq("IPC_INFO shmmin is 1", info.shmmin, 1);
    t.eq(
        "IPC_INFO shmmax is /proc/sys/kernel/shmmax (Linux's default ULONG_MAX - 2^24)",
        info.shmmax,
        sysctl_read(c"/proc/sys/kernel/shmmax"),
    );
    t.eq("default shmmax", info.shmmax, u64::MAX - (1 << 24));
    t.eq(
        "IPC_INFO shmall is /proc/sys/kernel/shmall",
        info.shmall,
        sysctl_read(c"/proc/sys/kernel/shmall"),
    );
    t.eq(
        "IPC_INFO shmmni is /proc/sys/kernel/shmmni (4096)",
        info.shmmni,
        4096,
    );
    t.eq("IPC_INFO shmseg is shmmni", info.shmseg, info.shmmni);

    // shmmax: a segment larger than it is EINVAL.
    t.ret(
        "write 8192 to shmmax",
        sysctl_write(c"/proc/sys/kernel/shmmax", "8192\n"),
        5,
    );
    t.eq(
        "shmmax reads 8192",
        sysctl_read(c"/proc/sys/kernel/shmmax"),
        8192,
    );
    t.err(
        "shmget above shmmax: EINVAL",
        shmget(IPC_PRIVATE, 3 * P, 0o600),
        errno::EINVAL,
    );
    let id = shmget(IPC_PRIVATE, 8192, 0o600);
    t.ok(id >= 0, "shmget of exactly shmmax succeeds");
    rmid(id as i32);
    let mut max = Line::new();
    let _ = write!(max, "{}\n", u64::MAX - (1 << 24));
    sysctl_write(c"/proc/sys/kernel/shmmax", max.as_str());
    t.eq(
        "shmmax restored",
        sysctl_read(c"/proc/sys/kernel/shmmax"),
        u64::MAX - (1 << 24),
    );

    // shmall (pages): a segment that would pass it is ENOSPC.
    let all = sysctl_read(c"/proc/sys/kernel/shmall");
    let ram_pages = ulib::procfs::meminfo_kb("MemTotal").unwrap_or(0) / 4;
    t.eq(
        "default shmall is a quarter of RAM (Linux: unlimited; see ipc/shm.rs shm_init)",
        all,
        ram_pages / 4,
    );
    t.err(
        "so a segment of half of RAM is ENOSPC",
        shmget(IPC_PRIVATE, (ram_pages / 2) as usize * P, 0o600),
        errno::ENOSPC,
    );
    sysctl_write(c"/proc/sys/kernel/shmall", "4\n");
    t.err(
        "shmget past shmall pages: ENOSPC",
        shmget(IPC_PRIVATE, 5 * P, 0o600),
        errno::ENOSPC,
    );
    let id = shmget(IPC_PRIVATE, 4 * P, 0o600);
    t.ok(id >= 0, "shmget up to shmall succeeds");
    t.err(
        "a second one passes shmall: ENOSPC",
        shmget(IPC_PRIVATE, 1, 0o600),
        errno::ENOSPC,
    );
    rmid(id as i32);
    let mut s = Line::new();
    let _ = write!(s, "{all}\n");
    sysctl_write(c"/proc/sys/kernel/shmall", s.as_str());
    t.eq(
        "shmall restored",
        sysctl_read(c"/proc/sys/kernel/shmall"),
        all,
    );

    // shmmni: one segment allowed, the second is ENOSPC.
    sysctl_write(c"/proc/sys/kernel/shmmni", "1\n");
    let id = shmget(IPC_PRIVATE, P, 0o600);
    t.ok(id >= 0, "with shmmni 1 the first segment is made");
    t.err(
        "the second segment: ENOSPC",
        shmget(IPC_PRIVATE, P, 0o600),
        errno::ENOSPC,
    );
    rmid(id as i32);
    t.err(
        "shmmni above IPCMNI (32768): EINVAL",
        sysctl_write(c"/proc/sys/kernel/shmmni", "32769\n"),
        errno::EINVAL,
    );
    sysctl_write(c"/proc/sys/kernel/shmmni", "4096\n");
    t.eq(
        "shmmni restored",
        sysctl_read(c"/proc/sys/kernel/shmmni"),
        4096,
    );
}

const KEY: i32 = 0x5157_0001;

/// shmget by key: ENOENT, EEXIST, EINVAL for a size below SHMMIN or above the segment's.
fn get_errors(t: &mut Tap) {
    t.err(
        "shmget of size 0: EINVAL",
        shmget(IPC_PRIVATE, 0, 0o600),
        errno::EINVAL,
    );
    t.err(
        "shmget of a missing key without IPC_CREAT: ENOENT",
        shmget(KEY, P, 0o600),
        errno::ENOENT,
    );
    let id = shmget(KEY, 2 * P, IPC_CREAT | 0o600);
    if !t.success("shmget(KEY, IPC_CREAT) makes a segment", id) {
        return;
    }
    let id = id as i32;
    t.ret(
        "shmget(KEY, IPC_CREAT) again finds it",
        shmget(KEY, P, IPC_CREAT | 0o600),
        id as isize,
    );
    t.ret(
        "shmget(KEY, size 0, 0) finds it",
        shmget(KEY, 0, 0),
        id as isize,
    );
    t.err(
        "shmget(KEY, IPC_CREAT|IPC_EXCL) of an existing key: EEXIST",
        shmget(KEY, P, IPC_CREAT | IPC_EXCL | 0o600),
        errno::EEXIST,
    );
    t.err(
        "shmget(KEY) larger than the segment: EINVAL",
        shmget(KEY, 3 * P, 0),
        errno::EINVAL,
    );
    let other = shmget(IPC_PRIVATE, P, 0o600);
    t.ok(
        other >= 0 && other as i32 != id,
        "IPC_PRIVATE always makes a new segment",
    );
    let (r, ds) = stat(id);
    t.ret("IPC_STAT", r, 0);
    t.eq("shm_perm.key", ds.shm_perm.key, KEY);
    t.eq(
        "shm_perm.mode is the 9 bits asked for",
        ds.shm_perm.mode,
        0o600,
    );
    t.eq("shm_segsz", ds.shm_segsz, 2 * P as u64);
    t.eq("shm_cpid is the creator", ds.shm_cpid, getpid());
    t.eq("shm_lpid is 0 before any attach", ds.shm_lpid, 0);
    t.eq("shm_nattch starts at 0", ds.shm_nattch, 0);
    t.eq("shm_atime is 0 before any attach", ds.shm_atime, 0);
    t.eq(
        "shm_perm.uid/cuid are the creator's",
        (ds.shm_perm.uid, ds.shm_perm.cuid) == (0, 0),
        true,
    );
    t.ret("IPC_RMID of an unattached segment", rmid(id), 0);
    t.err("IPC_STAT after IPC_RMID: EINVAL", stat(id).0, errno::EINVAL);
    t.err(
        "shmget(KEY) after IPC_RMID: ENOENT",
        shmget(KEY, P, 0),
        errno::ENOENT,
    );
    rmid(other as i32);
}

/// Attach, share with a child across fork, nattch per VMA, shmdt.
fn attach_and_fork(t: &mut Tap) {
    let id = shmget(IPC_PRIVATE, 8 * P, 0o600);
    if !t.success("shmget 8 pages", id) {
        return;
    }
    let id = id as i32;
    let ctime = stat(id).1.shm_ctime;
    sleep_ms(1100);
    let a = shmat(id, 0, 0);
    if !t.success("shmat anywhere", a) {
        return;
    }
    let a = a as usize;
    t.ok(a % P == 0, "the address is page aligned");
    let (_, ds) = stat(id);
    t.eq("shm_nattch 1 after shmat", ds.shm_nattch, 1);
    t.eq("shm_lpid is the attacher", ds.shm_lpid, getpid());
    t.ok(
        ds.shm_atime > ctime,
        "shm_atime set by shmat, after shm_ctime",
    );
    let line = maps_line(a);
    let mut want = Line::new();
    let _ = write!(want, "/SYSV{:08x} (deleted)", 0);
    t.ok(
        line.as_str().contains(" rw-s ") && line.as_str().ends_with(want.as_str()),
        format_args!("maps shows rw-s /SYSV00000000 (deleted): {}", line.as_str()),
    );
    let ino = line
        .as_str()
        .split_whitespace()
        .nth(4)
        .and_then(|s| s.parse::<i32>().ok());
    t.eq("maps' inode column is the shmid", ino == Some(id), true);
    fill(a, 8, 7);
    let b = shmat(id, 0, 0);
    t.ok(
        b > 0 && b as usize != a,
        "a second attach gets another address",
    );
    let b = b as usize;
    t.eq("the second attach sees the same pages", same(b, 8, 7), true);
    t.eq("shm_nattch 2 with two attaches", nattch(id), 2);

    // fork: the child inherits both attaches and writes through one.
    let st = in_child(|| {
        let n = nattch(id);
        poke(a + 3 * P + 1, 0xc5);
        if n == 4 {
            0
        } else {
            n as i32 + 10
        }
    });
    t.exited(
        "after fork the child sees shm_nattch 4 (both attaches, twice)",
        st,
        0,
    );
    t.eq(
        "the parent sees the child's write",
        peek(b + 3 * P + 1),
        0xc5,
    );
    t.eq("the child's exit detached its attaches", nattch(id), 2);
    t.ok(
        stat(id).1.shm_dtime >= stat(id).1.shm_atime,
        "shm_dtime set by the child's exit",
    );
    t.eq(
        "shm_lpid is the child that detached last",
        stat(id).1.shm_lpid != getpid(),
        true,
    );

    // A piece split off by mprotect is one more VMA, hence one more attach (Linux's
    // shm_open on the split); shmdt takes both pieces.
    t.ret(
        "mprotect the upper half of the second attach",
        mprotect(b + 4 * P, 4 * P, PROT_READ),
        0,
    );
    t.eq("split attach: shm_nattch 3", nattch(id), 3);
    t.ret("shmdt the split attach", shmdt(b), 0);
    t.eq("both pieces went: shm_nattch 1", nattch(id), 1);
    t.err("shmdt of it again: EINVAL", shmdt(b), errno::EINVAL);
    t.eq(
        "shm_lpid is us again after our shmdt",
        stat(id).1.shm_lpid,
        getpid(),
    );
    t.err(
        "shmdt of an unaligned address: EINVAL",
        shmdt(a + 1),
        errno::EINVAL,
    );
    let anon = mmap_anon(P) as usize;
    t.err(
        "shmdt of a private mapping: EINVAL",
        shmdt(anon),
        errno::EINVAL,
    );
    munmap(anon, P);
    t.ret("shmdt", shmdt(a), 0);
    t.eq("shm_nattch 0", nattch(id), 0);
    rmid(id);
}

/// shmat's EINVAL cases, SHM_RND, SHM_REMAP, SHM_EXEC, ENOMEM.
fn attach_errors(t: &mut Tap) {
    let id = shmget(IPC_PRIVATE, 2 * P, 0o600);
    if !t.success("shmget 2 pages", id) {
        return;
    }
    let id = id as i32;
    t.err(
        "shmat of a negative id: EINVAL",
        shmat(-1, 0, 0),
        errno::EINVAL,
    );
    t.err(
        "shmat of an unused id: EINVAL",
        shmat(id + 4321, 0, 0),
        errno::EINVAL,
    );
    t.err(
        "SHM_REMAP without an address: EINVAL",
        shmat(id, 0, SHM_REMAP),
        errno::EINVAL,
    );
    let hole = mmap(0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) as usize;
    munmap(hole, 4 * P);
    t.err(
        "an unaligned address without SHM_RND: EINVAL",
        shmat(id, hole + 12, 0),
        errno::EINVAL,
    );
    let r = shmat(id, hole + 12, SHM_RND);
    t.addr(
        "SHM_RND rounds down to SHMLBA (a page on arm64)",
        r as usize,
        hole,
    );
    t.ret("shmdt it", shmdt(hole), 0);
    let anon = mmap_anon(4 * P) as usize;
    t.err(
        "an address over a mapping without SHM_REMAP: EINVAL",
        shmat(id, anon + P, 0),
        errno::EINVAL,
    );
    let r = shmat(id, anon + P, SHM_REMAP);
    t.addr("SHM_REMAP replaces the mapping there", r as usize, anon + P);
    poke(anon + P, 1);
    t.ret("shmdt the remapped attach", shmdt(anon + P), 0);
    munmap(anon, 4 * P);
    let x = shmat(id, 0, SHM_EXEC);
    t.ok(
        x > 0 && maps_line(x as usize).as_str().contains(" rwxs "),
        "SHM_EXEC maps rwxs",
    );
    shmdt(x as usize);
    rmid(id);

    // A segment bigger than the address space can be made but not attached (with
    // shmall raised to Linux's default first: ours is a quarter of RAM).
    let all = sysctl_read(c"/proc/sys/kernel/shmall");
    let mut lim = Line::new();
    let _ = write!(lim, "{}\n", u64::MAX - (1 << 24));
    sysctl_write(c"/proc/sys/kernel/shmall", lim.as_str());
    let big = shmget(IPC_PRIVATE, 1 << 48, 0o600);
    if t.success(
        "shmget of 256 TiB (below shmmax; nothing is allocated)",
        big,
    ) {
        t.err(
            "shmat of it: ENOMEM (no room)",
            shmat(big as i32, 0, 0),
            errno::ENOMEM,
        );
        t.eq("the failed shmat left no attach", nattch(big as i32), 0);
        rmid(big as i32);
    }
    let mut old = Line::new();
    let _ = write!(old, "{all}\n");
    sysctl_write(c"/proc/sys/kernel/shmall", old.as_str());
}

/// SHM_RDONLY: a write faults, mprotect cannot add PROT_WRITE; exec and exit detach.
fn rdonly_and_exec(t: &mut Tap) {
    let id = shmget(IPC_PRIVATE, P, 0o600);
    if !t.success("shmget", id) {
        return;
    }
    let id = id as i32;
    let a = shmat(id, 0, SHM_RDONLY);
    if !t.success("shmat SHM_RDONLY", a) {
        return;
    }
    let a = a as usize;
    t.ok(
        maps_line(a).as_str().contains(" r--s "),
        "SHM_RDONLY maps r--s",
    );
    t.eq("reading it works", peek(a), 0);
    let st = in_child(|| {
        poke(a, 1);
        0
    });
    t.killed_by("a write to a SHM_RDONLY attach: SIGSEGV", st, SIGSEGV);
    t.err(
        "mprotect(PROT_WRITE) of a SHM_RDONLY attach: EACCES",
        mprotect(a, P, PROT_READ | PROT_WRITE),
        errno::EACCES,
    );
    shmdt(a);

    // exec drops the attaches of the old image.
    let mut arg = Line::new();
    let _ = write!(arg, "{id}\0");
    let st = in_child(|| {
        if shmat(id, 0, 0) < 0 || nattch(id) != 1 {
            return 99;
        }
        let argv = [
            c"/bin/shm_test".as_ptr() as *const u8,
            c"nattch".as_ptr() as *const u8,
            arg.b.as_ptr(),
            core::ptr::null(),
        ];
        let envp = [core::ptr::null()];
        execve(c"/bin/shm_test", &argv, &envp);
        98
    });
    t.exited("after execve the new image sees shm_nattch 0", st, 0);
    let st = in_child(|| {
        shmat(id, 0, 0);
        shmat(id, 0, 0);
        0
    });
    t.exited("a child attaches twice and exits", st, 0);
    t.eq("exit detached both", nattch(id), 0);
    rmid(id);
}

/// IPC_SET, SHM_STAT, SHM_STAT_ANY, SHM_INFO, bad commands and buffers, /proc/sysvipc/shm.
fn ctl(t: &mut Tap) {
    let key = KEY + 1;
    let id = shmget(key, 3 * P, IPC_CREAT | 0o640);
    if !t.success("shmget", id) {
        return;
    }
    let id = id as i32;
    let mut ds = stat(id).1;
    ds.shm_perm.mode = 0o1604; // only the low 9 bits are taken
    ds.shm_perm.uid = 7;
    ds.shm_perm.gid = 8;
    t.ret(
        "IPC_SET",
        shmctl(id, IPC_SET, &ds as *const ShmidDs as usize),
        0,
    );
    let (_, now) = stat(id);
    t.eq("IPC_SET takes the 9 mode bits", now.shm_perm.mode, 0o604);
    t.eq(
        "IPC_SET takes uid and gid",
        (now.shm_perm.uid, now.shm_perm.gid) == (7, 8),
        true,
    );
    t.eq("cuid stays", now.shm_perm.cuid, 0);
    t.err(
        "IPC_SET from a bad buffer: EFAULT",
        shmctl(id, IPC_SET, 16),
        errno::EFAULT,
    );
    t.err(
        "IPC_STAT to a bad buffer: EFAULT",
        shmctl(id, IPC_STAT, 16),
        errno::EFAULT,
    );
    t.err(
        "an unknown command: EINVAL",
        shmctl(id, 99, 0),
        errno::EINVAL,
    );
    t.err(
        "IPC_STAT of an unused id: EINVAL",
        stat(id + 4321).0,
        errno::EINVAL,
    );

    let a = shmat(id, 0, 0) as usize;
    fill(a, 2, 3);
    let idx = id & 0x7fff;
    let mut sds = ShmidDs::default();
    let r = shmctl(idx, SHM_STAT, &mut sds as *mut ShmidDs as usize);
    t.ret("SHM_STAT by index returns the identifier", r, id as isize);
    t.eq(
        "SHM_STAT fills the same shm_segsz",
        sds.shm_segsz,
        3 * P as u64,
    );
    let r = shmctl(idx, SHM_STAT_ANY, &mut sds as *mut ShmidDs as usize);
    t.ret("SHM_STAT_ANY too", r, id as isize);
    t.err(
        "SHM_STAT of an unused index: EINVAL",
        shmctl(4000, SHM_STAT, &mut sds as *mut ShmidDs as usize),
        errno::EINVAL,
    );
    let mut info = ShmInfo::default();
    let r = shmctl(0, SHM_INFO, &mut info as *mut ShmInfo as usize);
    t.ok(
        r >= idx as isize,
        "SHM_INFO returns the highest index in use",
    );
    t.ok(info.used_ids >= 1, "SHM_INFO used_ids counts ours");
    t.ok(
        info.shm_tot >= 3 && info.shm_rss >= 2,
        "SHM_INFO shm_tot and shm_rss count its pages",
    );

    // /proc/sysvipc/shm: Linux's header and a line per segment.
    let (line, head) = sysvipc_line(id);
    t.eq(
        "/proc/sysvipc/shm header",
        head.as_str(),
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap",
    );
    let (_, ds) = stat(id);
    let mut want = Line::new();
    let _ = write!(
        want,
        "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}",
        key, id, 0o604, 3 * P, getpid(), getpid(), 1, 7, 8, 0, 0, ds.shm_atime, ds.shm_dtime, ds.shm_ctime, 2 * P, 0
    );
    t.eq("/proc/sysvipc/shm line", line.as_str(), want.as_str());
    shmdt(a);
    rmid(id);
}

/// Mode bits and ownership: EACCES, EPERM for others; root passes.
fn permissions(t: &mut Tap) {
    let key = KEY + 2;
    // Mode 0644: the child below keeps gid 0, the creator's group, so it gets the group
    // bits (r) as Linux's ipcperms gives them.
    let id = shmget(key, P, IPC_CREAT | 0o644);
    if !t.success("shmget mode 0644 as root", id) {
        return;
    }
    let id = id as i32;
    let private = shmget(IPC_PRIVATE, P, 0o600) as i32;
    let st = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 90;
        }
        let mut bad = 0;
        let mut ck = |cond: bool, bit: i32| {
            if !cond {
                bad |= bit;
            }
        };
        ck(shmget(key, P, 0o600) == -(errno::EACCES as isize), 1);
        ck(shmget(key, P, 0o004) == id as isize, 2);
        ck(shmat(id, 0, 0) == -(errno::EACCES as isize), 4);
        let r = shmat(id, 0, SHM_RDONLY);
        ck(r > 0, 8);
        ck(stat(id).0 == 0, 16);
        ck(stat(private).0 == -(errno::EACCES as isize), 32);
        ck(rmid(id) == -(errno::EPERM as isize), 64);
        ck(shmctl(id, SHM_LOCK, 0) == -(errno::EPERM as isize), 128);
        let ds = stat(id).1;
        ck(
            shmctl(id, IPC_SET, &ds as *const ShmidDs as usize) == -(errno::EPERM as isize),
            256,
        );
        bad
    });
    t.exited(
        "uid 1000 in group 0: rw shmget and shmat EACCES, read-only ones work, IPC_STAT of 0600 EACCES, IPC_RMID/IPC_SET/SHM_LOCK EPERM",
        st,
        0,
    );
    t.ret("root removes it", rmid(id), 0);
    rmid(private);
}

/// IPC_RMID while attached: SHM_DEST, key gone, the memory stays until the last detach,
/// then Shmem in /proc/meminfo falls back.
fn rmid_frees(t: &mut Tap) {
    const N: usize = 256;
    let shmem0 = meminfo_kb("Shmem").unwrap_or(0);
    let key = KEY + 3;
    let id = shmget(key, N * P, IPC_CREAT | 0o600);
    if !t.success("shmget 1 MiB", id) {
        return;
    }
    let id = id as i32;
    let a = shmat(id, 0, 0) as usize;
    fill(a, N, 9);
    let shmem1 = meminfo_kb("Shmem").unwrap_or(0);
    t.ok(
        shmem1 >= shmem0 + 1000,
        format_args!("Shmem grows by the 1 MiB touched ({shmem0} -> {shmem1} kB)"),
    );
    let pid = fork();
    if pid == 0 {
        // Keeps its inherited attach until killed.
        loop {
            sleep_ms(1000);
        }
    }
    t.ret("IPC_RMID while attached", rmid(id), 0);
    let (r, ds) = stat(id);
    t.ret("IPC_STAT still works", r, 0);
    t.eq("mode has SHM_DEST", ds.shm_perm.mode & SHM_DEST, SHM_DEST);
    t.eq("the key became IPC_PRIVATE", ds.shm_perm.key, 0);
    t.err(
        "shmget of the key: ENOENT",
        shmget(key, 0, 0),
        errno::ENOENT,
    );
    let b = shmat(id, 0, 0);
    t.ok(
        b > 0,
        "shmat of a removed but attached segment still works (as Linux)",
    );
    t.eq("and sees the data", same(b as usize, N, 9), true);
    shmdt(b as usize);
    t.ret("shmdt ours", shmdt(a), 0);
    t.eq("the child still holds it: shm_nattch 1", nattch(id), 1);
    t.ok(
        meminfo_kb("Shmem").unwrap_or(0) >= shmem0 + 1000,
        "its pages are still there",
    );
    kill(pid as i32, 9);
    wait4(pid as i32, None, 0);
    t.err(
        "after the last detach it is gone: EINVAL",
        stat(id).0,
        errno::EINVAL,
    );
    let shmem2 = meminfo_kb("Shmem").unwrap_or(0);
    t.ok(
        shmem2 <= shmem0 + 64,
        format_args!("Shmem falls back ({shmem1} -> {shmem2} kB, was {shmem0})"),
    );
}

/// SHM_LOCK keeps the pages in memory under MADV_PAGEOUT and memory pressure while an
/// unlocked twin goes to swap; SHM_UNLOCK lets them go again.
fn lock(t: &mut Tap) {
    const N: usize = 256;
    if !t.ret("swapon /dev/vdb", swapon(c"/dev/vdb", 0), 0) {
        return;
    }
    let locked = shmget(IPC_PRIVATE, N * P, 0o600) as i32;
    let free = shmget(IPC_PRIVATE, N * P, 0o600) as i32;
    let a = shmat(locked, 0, 0);
    let b = shmat(free, 0, 0);
    if !t.ok(a > 0 && b > 0, "two 1 MiB segments attached") {
        return;
    }
    let (a, b) = (a as usize, b as usize);
    t.ret("SHM_LOCK", shmctl(locked, SHM_LOCK, 0), 0);
    t.eq(
        "mode has SHM_LOCKED",
        stat(locked).1.shm_perm.mode & SHM_LOCKED,
        SHM_LOCKED,
    );
    t.ret("SHM_LOCK twice is fine", shmctl(locked, SHM_LOCK, 0), 0);
    fill(a, N, 1);
    fill(b, N, 2);
    t.ret(
        "MADV_PAGEOUT the locked one",
        madvise(a, N * P, MADV_PAGEOUT),
        0,
    );
    t.ret(
        "MADV_PAGEOUT the unlocked one",
        madvise(b, N * P, MADV_PAGEOUT),
        0,
    );
    t.eq("the locked segment stays resident", resident(a, N), N);
    t.ok(resident(b, N) < N / 2, "the unlocked one went out");
    let (lline, _) = sysvipc_line(locked);
    let (fline, _) = sysvipc_line(free);
    t.eq(
        "/proc/sysvipc/shm: perms 2600 (SHM_LOCKED)",
        col(&lline, 2),
        2600,
    );
    t.eq("locked: swap column 0", col(&lline, 15), 0);
    t.ok(
        col(&fline, 15) > 0 && col(&fline, 15) != u64::MAX,
        "unlocked: swap column counts its pages on swap",
    );
    t.ok(
        meminfo_kb("Unevictable").unwrap_or(0) >= (N * P / 1024) as u64,
        "the locked pages are on the unevictable list (meminfo Unevictable)",
    );

    // Pressure: 1.5x RAM of anonymous memory, touched.
    let total = meminfo_kb("MemTotal").unwrap_or(0) as usize * 1024;
    let len = total / 2 * 3;
    let big = mmap_anon(len);
    if t.success("map 1.5x RAM", big) {
        for off in (0..len).step_by(P) {
            poke(big as usize + off, 1);
        }
        munmap(big as usize, len);
    }
    t.eq(
        "after pressure the locked segment is still all resident",
        resident(a, N),
        N,
    );
    t.eq("its data are intact", same(a, N, 1), true);
    t.eq(
        "the unlocked one's data come back from swap",
        same(b, N, 2),
        true,
    );

    let rescued = vmstat("unevictable_pgs_rescued").unwrap_or(0);
    t.ret("SHM_UNLOCK", shmctl(locked, SHM_UNLOCK, 0), 0);
    t.eq(
        "SHM_LOCKED cleared",
        stat(locked).1.shm_perm.mode & SHM_LOCKED,
        0,
    );
    t.ok(
        vmstat("unevictable_pgs_rescued").unwrap_or(0) >= rescued + N as u64,
        "SHM_UNLOCK moves the pages back (unevictable_pgs_rescued)",
    );
    t.ret(
        "MADV_PAGEOUT after SHM_UNLOCK",
        madvise(a, N * P, MADV_PAGEOUT),
        0,
    );
    t.ok(resident(a, N) < N / 2, "now it can go out");
    t.eq("and comes back intact", same(a, N, 1), true);
    shmdt(a);
    shmdt(b);
    rmid(locked);
    rmid(free);
    t.ret("swapoff /dev/vdb", swapoff(c"/dev/vdb"), 0);
}

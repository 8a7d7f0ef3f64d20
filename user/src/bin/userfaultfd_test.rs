//! userfaultfd_test: userfaultfd(2) as Linux 5.10 has it for anonymous memory
//! (fs/userfaultfd.c, mm/userfaultfd.c). Run as init.
//!
//! The handshake (UFFDIO_API) and its errnos; UFFDIO_REGISTER's checks; a handler thread
//! that polls, reads `struct uffd_msg` and resolves faults with UFFDIO_COPY and
//! UFFDIO_ZEROPAGE (read and write faults, the WRITE flag); EEXIST, ENOENT, a partial
//! COPY's count; a signal while a fault waits (the handler runs, the access faults
//! again); a kernel access (write(2) from a registered buffer) that waits like a user
//! one; COPY_MODE_DONTWAKE + UFFDIO_WAKE; mremap(MREMAP_DONTUNMAP) leaving the old range
//! registered and missing (what LTP's mremap07 does); a fork child that is not
//! registered; UFFDIO_UNREGISTER; closing the descriptor wakes a waiting fault;
//! UFFD_FEATURE_SIGBUS.
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use ulib::errno::*;
use ulib::thread::{gettid, spawn, tgkill};
use ulib::*;

const NR_USERFAULTFD: usize = 282;
const O_NONBLOCK: usize = 0o4000;
const O_CLOEXEC: usize = 0o2000000;
const UFFD_API: u64 = 0xAA;
const UFFDIO_API: usize = 0xC018_AA3F;
const UFFDIO_REGISTER: usize = 0xC020_AA00;
const UFFDIO_UNREGISTER: usize = 0x8010_AA01;
const UFFDIO_WAKE: usize = 0x8010_AA02;
const UFFDIO_COPY: usize = 0xC028_AA03;
const UFFDIO_ZEROPAGE: usize = 0xC020_AA04;
const MODE_MISSING: u64 = 1;
const MODE_WP: u64 = 2;
const COPY_DONTWAKE: u64 = 1;
const FEATURE_SIGBUS: u64 = 1 << 7;
const EVENT_PAGEFAULT: u8 = 0x12;
const FLAG_WRITE: u64 = 1;
const POLLIN: u16 = 0x1;
const POLLERR: u16 = 0x8;
const MREMAP_MAYMOVE: usize = 1;
const MREMAP_DONTUNMAP: usize = 4;
const SIGUSR1: i32 = 10;
const SIGBUS: i32 = 7;
const PAGE: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdMsg {
    event: u8,
    _r1: u8,
    _r2: u16,
    _r3: u32,
    flags: u64,
    address: u64,
    _feat: u64,
}

fn userfaultfd(flags: usize) -> isize {
    unsafe { syscall1(NR_USERFAULTFD, flags) }
}
fn ioctl<T>(fd: i32, cmd: usize, arg: &mut T) -> isize {
    unsafe { syscall3(29, fd as usize, cmd, arg as *mut T as usize) }
}
/// ppoll on one fd for POLLIN; `ms` < 0 waits for ever. Returns (ready, revents).
fn poll1(fd: i32, ms: i64) -> (isize, u16) {
    ulib::poll1(fd, POLLIN, ms)
}
fn read_msg(fd: i32) -> Result<UffdMsg, isize> {
    let mut m = UffdMsg::default();
    let buf = unsafe { core::slice::from_raw_parts_mut(&mut m as *mut UffdMsg as *mut u8, 32) };
    match read(fd, buf) {
        32 => Ok(m),
        r => Err(r),
    }
}
/// UFFDIO_API with `api` and `features`: the ioctl's result and the struct after it.
fn api(fd: i32, api: u64, features: u64) -> (isize, [u64; 3]) {
    let mut a = [api, features, 0];
    (ioctl(fd, UFFDIO_API, &mut a), a)
}
/// UFFDIO_REGISTER: the result and the ioctls written back.
fn register(fd: i32, start: usize, len: usize, mode: u64) -> (isize, u64) {
    let mut r = [start as u64, len as u64, mode, 0];
    (ioctl(fd, UFFDIO_REGISTER, &mut r), r[3])
}
fn unregister(fd: i32, start: usize, len: usize) -> isize {
    let mut r = [start as u64, len as u64];
    ioctl(fd, UFFDIO_UNREGISTER, &mut r)
}
fn wake(fd: i32, start: usize, len: usize) -> isize {
    let mut r = [start as u64, len as u64];
    ioctl(fd, UFFDIO_WAKE, &mut r)
}
/// UFFDIO_COPY: the result and `copy`.
fn copy(fd: i32, dst: usize, src: usize, len: usize, mode: u64) -> (isize, i64) {
    let mut c = [dst as u64, src as u64, len as u64, mode, 0];
    let r = ioctl(fd, UFFDIO_COPY, &mut c);
    (r, c[4] as i64)
}
/// UFFDIO_ZEROPAGE: the result and `zeropage`.
fn zeropage(fd: i32, dst: usize, len: usize) -> (isize, i64) {
    let mut z = [dst as u64, len as u64, 0, 0];
    let r = ioctl(fd, UFFDIO_ZEROPAGE, &mut z);
    (r, z[3] as i64)
}
fn fill(addr: usize, seed: u8) {
    for i in 0..PAGE {
        poke(addr + i, seed.wrapping_add(i as u8));
    }
}
fn holds(addr: usize, seed: u8) -> bool {
    (0..PAGE).all(|i| peek(addr + i) == seed.wrapping_add(i as u8))
}
fn zeros(addr: usize) -> bool {
    (0..PAGE).all(|i| peek(addr + i) == 0)
}

// What the handler thread saw and did, for the main thread to check.
static UFFD: AtomicI32 = AtomicI32::new(-1);
static SRC: AtomicUsize = AtomicUsize::new(0);
static MSG_ADDR: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
static MSG_FLAGS: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
static MSG_OK: AtomicU32 = AtomicU32::new(0);
static NMSG: AtomicUsize = AtomicUsize::new(0);
static COPY_OK: AtomicU32 = AtomicU32::new(0);
static MAIN_TID: AtomicI32 = AtomicI32::new(0);
static USR1: AtomicU32 = AtomicU32::new(0);

/// Take one fault message (poll, then read) and record it.
fn next_msg(fd: i32) -> Option<UffdMsg> {
    let (r, rev) = poll1(fd, -1);
    if r != 1 || rev & POLLIN == 0 {
        return None;
    }
    let m = read_msg(fd).ok()?;
    let i = NMSG.fetch_add(1, Ordering::SeqCst);
    if i < 8 {
        MSG_ADDR[i].store(m.address as usize, Ordering::SeqCst);
        MSG_FLAGS[i].store(m.flags as usize, Ordering::SeqCst);
    }
    if m.event == EVENT_PAGEFAULT {
        MSG_OK.fetch_add(1, Ordering::SeqCst);
    }
    Some(m)
}

/// The handler: resolve `arg` faults, each with a copy of SRC (seeded by its address),
/// except the one right after a signal test (see `signal_handler_thread`).
extern "C" fn handler_thread(arg: usize) -> i32 {
    let fd = UFFD.load(Ordering::SeqCst);
    for _ in 0..arg {
        let Some(m) = next_msg(fd) else { return 1 };
        let src = SRC.load(Ordering::SeqCst);
        fill(src, (m.address >> 12) as u8);
        let (r, n) = copy(fd, m.address as usize, src, PAGE, 0);
        if r == 0 && n == PAGE as i64 {
            COPY_OK.fetch_add(1, Ordering::SeqCst);
        }
    }
    0
}

/// Read a message, leave the fault waiting, signal the main thread (whose handler runs
/// and whose access faults again: a second message), then resolve that one.
extern "C" fn signal_handler_thread(_: usize) -> i32 {
    let fd = UFFD.load(Ordering::SeqCst);
    if next_msg(fd).is_none() {
        return 1;
    }
    tgkill(getpid(), MAIN_TID.load(Ordering::SeqCst), SIGUSR1);
    let Some(m) = next_msg(fd) else { return 2 };
    let (r, _) = zeropage(fd, m.address as usize, PAGE);
    if r == 0 {
        COPY_OK.fetch_add(1, Ordering::SeqCst);
    }
    0
}

/// Resolve one fault with COPY_MODE_DONTWAKE, then UFFDIO_WAKE.
extern "C" fn dontwake_thread(_: usize) -> i32 {
    let fd = UFFD.load(Ordering::SeqCst);
    let Some(m) = next_msg(fd) else { return 1 };
    let src = SRC.load(Ordering::SeqCst);
    fill(src, 0x5a);
    let (r, _) = copy(fd, m.address as usize, src, PAGE, COPY_DONTWAKE);
    // Nothing woke the fault yet: it is still waiting (its message was read).
    sleep_ms(20);
    let still_waiting = AFTER.load(Ordering::SeqCst) == 0;
    if r == 0 && still_waiting && wake(fd, m.address as usize, PAGE) == 0 {
        COPY_OK.fetch_add(1, Ordering::SeqCst);
    }
    0
}

static AFTER: AtomicU32 = AtomicU32::new(0);
static TOUCHED: AtomicU32 = AtomicU32::new(0);
/// Read one byte of page `arg` (a fault that waits), then record what it saw + 1.
extern "C" fn toucher_thread(arg: usize) -> i32 {
    let v = peek(arg);
    TOUCHED.store(v as u32 + 1, Ordering::SeqCst);
    0
}

extern "C" fn on_usr1(_: i32, _: *mut signal::Siginfo, _: *mut signal::Ucontext) {
    USR1.fetch_add(1, Ordering::SeqCst);
}

fn reset_msgs() {
    NMSG.store(0, Ordering::SeqCst);
    MSG_OK.store(0, Ordering::SeqCst);
    COPY_OK.store(0, Ordering::SeqCst);
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("userfaultfd_test");

    // --- userfaultfd(2) and the handshake.
    t.err(
        "userfaultfd(unknown flag 0x2) is EINVAL",
        userfaultfd(2),
        EINVAL,
    );
    let fd = userfaultfd(O_CLOEXEC | O_NONBLOCK) as i32;
    if !t.ok(
        fd >= 0,
        format_args!("userfaultfd(O_CLOEXEC|O_NONBLOCK) = {fd}"),
    ) {
        return t.finish();
    }
    UFFD.store(fd, Ordering::SeqCst);
    let area = mmap_anon(8 * PAGE) as usize;
    t.err(
        "UFFDIO_REGISTER before UFFDIO_API is EINVAL",
        register(fd, area, PAGE, MODE_MISSING).0,
        EINVAL,
    );
    let mut b = [0u8; 32];
    t.err("read before UFFDIO_API is EINVAL", read(fd, &mut b), EINVAL);
    t.ok(
        poll1(fd, 0).1 & POLLERR != 0,
        "poll before UFFDIO_API: POLLERR",
    );
    let (r, a) = api(fd, 0x55, 0);
    t.err("UFFDIO_API with a wrong api is EINVAL", r, EINVAL);
    t.ok(a == [0, 0, 0], "and zeroes the struct");
    t.err(
        "UFFDIO_API with an unknown feature is EINVAL",
        api(fd, UFFD_API, 1 << 40).0,
        EINVAL,
    );
    let (r, a) = api(fd, UFFD_API, 0);
    t.ret("UFFDIO_API(UFFD_API)", r, 0);
    t.ok(
        a[0] == UFFD_API && a[1] & FEATURE_SIGBUS != 0,
        format_args!("features reported: {:#x}", a[1]),
    );
    t.ok(
        a[2] == (1 << 0 | 1 << 1 | 1 << 0x3f),
        format_args!("ioctls: REGISTER, UNREGISTER, API ({:#x})", a[2]),
    );
    t.err(
        "a second UFFDIO_API is EINVAL",
        api(fd, UFFD_API, 0).0,
        EINVAL,
    );
    t.err(
        "an unknown ioctl is EINVAL",
        ioctl(fd, 0xC018_AA3E, &mut [0u64; 3]),
        EINVAL,
    );

    // --- UFFDIO_REGISTER's checks.
    t.err(
        "register mode 0 is EINVAL",
        register(fd, area, PAGE, 0).0,
        EINVAL,
    );
    t.err(
        "register mode WP is EINVAL (arm64, 5.10)",
        register(fd, area, PAGE, MODE_WP).0,
        EINVAL,
    );
    t.err(
        "register an unaligned start is EINVAL",
        register(fd, area + 1, PAGE, MODE_MISSING).0,
        EINVAL,
    );
    t.err(
        "register length 0 is EINVAL",
        register(fd, area, 0, MODE_MISSING).0,
        EINVAL,
    );
    t.err(
        "register a range with no VMA is EINVAL",
        register(fd, unmapped_addr(), PAGE, MODE_MISSING).0,
        EINVAL,
    );
    let shared = mmap(0, PAGE, 3, 0x21, -1, 0) as usize; // MAP_SHARED | MAP_ANONYMOUS
    t.err(
        "register shared anonymous memory is EINVAL (anonymous private only)",
        register(fd, shared, PAGE, MODE_MISSING).0,
        EINVAL,
    );
    let (r, ioctls) = register(fd, area, 8 * PAGE, MODE_MISSING);
    t.ret("register 8 pages for missing faults", r, 0);
    t.ok(
        ioctls == (1 << 2 | 1 << 3 | 1 << 4),
        format_args!("range ioctls: WAKE, COPY, ZEROPAGE ({ioctls:#x})"),
    );
    let fd2 = userfaultfd(O_NONBLOCK) as i32;
    api(fd2, UFFD_API, 0);
    t.err(
        "registering them with a second userfaultfd is EBUSY",
        register(fd2, area, PAGE, MODE_MISSING).0,
        EBUSY,
    );
    t.err(
        "read with nothing queued (O_NONBLOCK) is EAGAIN",
        read(fd, &mut b),
        EAGAIN,
    );
    t.ok(
        poll1(fd, 0) == (0, 0),
        "poll with nothing queued: not ready",
    );
    let mut small = [0u8; 16];
    t.err(
        "read into less than a message is EINVAL",
        read(fd, &mut small),
        EINVAL,
    );

    // --- A handler thread resolves a read fault and a write fault.
    let src = mmap_anon(PAGE) as usize;
    SRC.store(src, Ordering::SeqCst);
    MAIN_TID.store(gettid(), Ordering::SeqCst);
    let h = spawn(handler_thread, 2, 0).unwrap();
    let p0 = area;
    let p1 = area + PAGE;
    t.ok(
        holds(p0, (p0 >> 12) as u8),
        "a read of a missing page waits until UFFDIO_COPY fills it",
    );
    poke(p1 + 7, 0xee);
    h.join();
    t.ok(
        peek(p1 + 7) == 0xee && peek(p1 + 8) == ((p1 >> 12) as u8).wrapping_add(8),
        "a write fault: the copied page, then our byte",
    );
    t.eq("messages read", NMSG.load(Ordering::SeqCst), 2);
    t.eq("all UFFD_EVENT_PAGEFAULT", MSG_OK.load(Ordering::SeqCst), 2);
    t.ok(
        MSG_ADDR[0].load(Ordering::SeqCst) == p0 && MSG_FLAGS[0].load(Ordering::SeqCst) == 0,
        "first message: the read's page, flags 0",
    );
    t.ok(
        MSG_ADDR[1].load(Ordering::SeqCst) == p1
            && MSG_FLAGS[1].load(Ordering::SeqCst) as u64 == FLAG_WRITE,
        "second: the write's page, UFFD_PAGEFAULT_FLAG_WRITE",
    );
    t.eq(
        "both COPYs returned 0 and copy = 4096",
        COPY_OK.load(Ordering::SeqCst),
        2,
    );

    // --- COPY's errors and a partial copy.
    let (r, n) = copy(fd, p0, src, PAGE, 0);
    t.err("COPY onto a present page is EEXIST", r, EEXIST);
    t.ok(
        n == -(EEXIST as i64),
        format_args!("and copy = -EEXIST ({n})"),
    );
    let (r, n) = copy(fd, src, src, PAGE, 0);
    t.err("COPY into an unregistered range is ENOENT", r, ENOENT);
    t.ok(n == -(ENOENT as i64), "and copy = -ENOENT");
    t.err(
        "COPY with an unknown mode is EINVAL",
        copy(fd, p0, src, PAGE, 8).0,
        EINVAL,
    );
    t.err(
        "COPY from an unreadable source is EFAULT",
        copy(fd, area + 2 * PAGE, unmapped_addr(), PAGE, 0).0,
        EFAULT,
    );
    let two = mmap_anon(2 * PAGE) as usize;
    munmap(two + PAGE, PAGE);
    fill(two, 0x31);
    let (r, n) = copy(fd, area + 2 * PAGE, two, 2 * PAGE, 0);
    t.err(
        "COPY of 2 pages, the first from a readable page and the second not, is EAGAIN",
        r,
        EAGAIN,
    );
    t.ok(n == PAGE as i64, format_args!("with copy = 4096 ({n})"));
    t.ok(holds(area + 2 * PAGE, 0x31), "the first page arrived");
    let (r, n) = zeropage(fd, area + 3 * PAGE, PAGE);
    t.ok(
        r == 0 && n == PAGE as i64,
        format_args!("ZEROPAGE: 0, zeropage = 4096 ({r}, {n})"),
    );
    t.ok(zeros(area + 3 * PAGE), "reads as zeros");
    poke(area + 3 * PAGE, 1);
    t.ok(
        peek(area + 3 * PAGE) == 1,
        "and takes a write (copy on write of the zero page)",
    );

    // --- A signal while a fault waits: the handler runs, the access faults again.
    reset_msgs();
    t.success("SIGUSR1 handler", signal::sigaction(SIGUSR1, on_usr1, 0, 0));
    let h = spawn(signal_handler_thread, 0, 0).unwrap();
    let p4 = area + 4 * PAGE;
    let v = peek(p4);
    h.join();
    t.eq(
        "the SIGUSR1 handler ran while the fault waited",
        USR1.load(Ordering::SeqCst),
        1,
    );
    t.eq(
        "two messages for the page: before and after the handler",
        NMSG.load(Ordering::SeqCst),
        2,
    );
    t.ok(
        v == 0 && COPY_OK.load(Ordering::SeqCst) == 1,
        "resolved by ZEROPAGE the second time",
    );

    // --- A kernel access (write(2) reading from a missing page) waits like a user one.
    reset_msgs();
    let mut pfd = [-1i32; 2];
    pipe2(&mut pfd, 0);
    let h = spawn(handler_thread, 1, 0).unwrap();
    let p5 = area + 5 * PAGE;
    let buf = unsafe { core::slice::from_raw_parts(p5 as *const u8, 64) };
    t.ret(
        "write(2) from a missing registered page",
        write(pfd[1], buf),
        64,
    );
    h.join();
    let mut got = [0u8; 64];
    read(pfd[0], &mut got);
    t.ok(
        NMSG.load(Ordering::SeqCst) == 1 && got[3] == ((p5 >> 12) as u8).wrapping_add(3),
        "the handler got the kernel's fault; the pipe carries the copied bytes",
    );
    close(pfd[0]);
    close(pfd[1]);

    // --- COPY_MODE_DONTWAKE, then UFFDIO_WAKE.
    reset_msgs();
    let h = spawn(dontwake_thread, 0, 0).unwrap();
    let p6 = area + 6 * PAGE;
    let v = peek(p6);
    AFTER.store(1, Ordering::SeqCst);
    h.join();
    t.ok(
        v == 0x5a && holds(p6, 0x5a),
        "a fault resolved with DONTWAKE continues after UFFDIO_WAKE",
    );
    t.eq(
        "DONTWAKE copy left the fault asleep; WAKE returned 0",
        COPY_OK.load(Ordering::SeqCst),
        1,
    );

    // --- A remote access (/proc/self/mem) cannot wait for the handler: EIO, no message.
    let memfd = open(c"/proc/self/mem", 0, 0) as i32;
    let mut rb = [0u8; 8];
    let r = unsafe {
        syscall4(
            67,
            memfd as usize,
            rb.as_mut_ptr() as usize,
            8,
            area + 7 * PAGE,
        )
    };
    t.err(
        "pread of /proc/self/mem at a registered, missing page is EIO",
        r,
        EIO,
    );
    t.ok(poll1(fd, 0) == (0, 0), "and queues no message");
    close(memfd);

    // --- A fork child is not registered: its missing page is simply zero-filled.
    let p7 = area + 7 * PAGE;
    let st = in_child(|| if peek(p7) == 0 { 0 } else { 1 });
    t.exited(
        "the fork child reads the registered, missing page as zeros, no message",
        st,
        0,
    );
    t.ok(poll1(fd, 0) == (0, 0), "nothing queued by the child");

    // --- UFFDIO_UNREGISTER: faults are ordinary again.
    t.ret("UFFDIO_UNREGISTER of page 7", unregister(fd, p7, PAGE), 0);
    t.ok(peek(p7) == 0, "page 7 faults in as zeros, no handler");
    t.err("UFFDIO_WAKE of length 0 is EINVAL", wake(fd, p7, 0), EINVAL);

    // --- mremap(MREMAP_DONTUNMAP): the pages move, the old range stays registered.
    reset_msgs();
    let old = mmap_anon(PAGE) as usize;
    poke(old, b'A');
    t.ret(
        "register a one-page mapping",
        register(fd, old, PAGE, MODE_MISSING).0,
        0,
    );
    let new = mremap(old, PAGE, PAGE, MREMAP_DONTUNMAP | MREMAP_MAYMOVE, 0);
    t.ok(
        new > 0 && new as usize != old,
        "mremap(MREMAP_DONTUNMAP | MREMAP_MAYMOVE) moves it",
    );
    let new = new as usize;
    t.ok(peek(new) == b'A', "the data is at the new address");
    let h = spawn(handler_thread, 1, 0).unwrap();
    let v = peek(old);
    h.join();
    t.ok(
        NMSG.load(Ordering::SeqCst) == 1 && MSG_ADDR[0].load(Ordering::SeqCst) == old,
        "the old address faults to the handler",
    );
    t.ok(
        v == (old >> 12) as u8,
        "and gets the page the handler copied",
    );
    let st = in_child(|| {
        // The new range is not registered: a missing page there is zero-filled.
        unsafe { syscall3(233, new, PAGE, 4) }; // MADV_DONTNEED
        if peek(new) == 0 {
            0
        } else {
            1
        }
    });
    t.exited("the moved range is not registered", st, 0);
    munmap(new, PAGE);
    munmap(old, PAGE);

    // --- Closing the descriptor wakes a waiting fault, which then faults normally.
    TOUCHED.store(0, Ordering::SeqCst);
    let fresh = mmap_anon(PAGE) as usize;
    register(fd, fresh, PAGE, MODE_MISSING);
    let th = spawn(toucher_thread, fresh, 0).unwrap();
    t.ok(poll1(fd, 2000).0 == 1, "a toucher thread's fault is queued");
    close(fd);
    close(fd2);
    th.join();
    t.eq(
        "after close(uffd) the waiting fault got a zero page",
        TOUCHED.load(Ordering::SeqCst),
        1,
    );

    // --- UFFD_FEATURE_SIGBUS.
    let sfd = userfaultfd(0) as i32;
    let (r, _) = api(sfd, UFFD_API, FEATURE_SIGBUS);
    t.ret("UFFDIO_API with UFFD_FEATURE_SIGBUS", r, 0);
    t.ok(
        poll1(sfd, 0).1 & POLLERR != 0,
        "poll on a blocking userfaultfd: POLLERR",
    );
    let sb = mmap_anon(PAGE) as usize;
    register(sfd, sb, PAGE, MODE_MISSING);
    let st = in_child(|| {
        // Re-register in the child's own copy with its own context.
        let cfd = userfaultfd(0) as i32;
        api(cfd, UFFD_API, FEATURE_SIGBUS);
        register(cfd, sb, PAGE, MODE_MISSING);
        peek(sb) as i32 + 100
    });
    t.killed_by(
        "a missing page under UFFD_FEATURE_SIGBUS is SIGBUS",
        st,
        SIGBUS,
    );
    close(sfd);
    munmap(area, 8 * PAGE);
    t.finish()
}

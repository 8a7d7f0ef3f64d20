//! fork_cow: fork(2) copies the address space copy-on-write, and wait4(2) reaps children.
//!
//! The child reports through its exit status: one bit per check it failed, so the parent can
//! print a line per check. Linux: `kernel/fork.c` (copy_mm, dup_mmap), `mm/memory.c`
//! (copy_page_range, do_wp_page), `kernel/exit.c` (do_exit, wait4: do_wait, wait_task_zombie).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicU64, Ordering};
use ulib::errno::*;
use ulib::*;

const P: usize = PAGE_SIZE;
const HEAP_PAGES: usize = 16;

/// Initialised data (.data), written by both sides after fork.
static DATA: AtomicU64 = AtomicU64::new(1000);

/// What the child checks, bit by bit (a set bit in its exit status = that check failed).
const CHILD_CHECKS: [&str; 7] = [
    "in the child, getppid() is the parent's pid",
    "the child sees the private page as it was before fork",
    "the child sees the brk heap as it was before fork",
    "the child sees .data and its stack as they were before fork",
    "the child keeps its own writes to the private page",
    "the child keeps its own writes to odd heap pages and the pre-fork contents of even ones",
    "the child keeps its own writes to .data and its stack",
];

fn all(addr: usize, len: usize, v: u8) -> bool {
    unsafe { bytes(addr, len) }.iter().all(|&b| b == v)
}

fn fill(addr: usize, len: usize, v: u8) {
    unsafe { bytes(addr, len) }.fill(v);
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("fork_cow");
    cow(&mut t);
    untouched_pages(&mut t);
    reap_order(&mut t);
    wait_rows(&mut t);
    t.finish()
}

/// Parent and child write different values to the same private page, heap, .data and stack
/// after fork; each must see only its own.
fn cow(t: &mut Tap) {
    let page = mmap_anon(P);
    if !t.success("mmap a private anonymous page", page) {
        return;
    }
    let page = page as usize;
    fill(page, P, 0x11);
    let heap = brk(0);
    if !t.addr(
        "brk grows the heap by 16 pages",
        brk(heap + HEAP_PAGES * P),
        heap + HEAP_PAGES * P,
    ) {
        return;
    }
    for i in 0..HEAP_PAGES {
        fill(heap + i * P, P, 0x20 + i as u8);
    }
    DATA.store(1000, Ordering::SeqCst);
    let mut stack = [0x44u8; 64];
    let stack_addr = core::hint::black_box(stack.as_mut_ptr()) as usize;
    let parent = getpid();

    let pid = fork();
    if pid == 0 {
        // The child: check what fork gave it, write its own values, let the parent write
        // too, and check again.
        let mut failed = 0;
        let mut fail = |bit: usize, ok: bool| failed |= (!ok as i32) << bit;
        fail(0, getppid() == parent);
        fail(1, all(page, P, 0x11));
        fail(
            2,
            (0..HEAP_PAGES).all(|i| all(heap + i * P, P, 0x20 + i as u8)),
        );
        fail(
            3,
            DATA.load(Ordering::SeqCst) == 1000 && all(stack_addr, 64, 0x44),
        );
        fill(page, P, 0xc1);
        for i in (1..HEAP_PAGES).step_by(2) {
            fill(heap + i * P, P, 0xc2);
        }
        DATA.store(2000, Ordering::SeqCst);
        fill(stack_addr, 64, 0xc4);
        sleep_ms(50);
        fail(4, all(page, P, 0xc1));
        let heap_ok = (0..HEAP_PAGES).all(|i| {
            all(
                heap + i * P,
                P,
                if i % 2 == 1 { 0xc2 } else { 0x20 + i as u8 },
            )
        });
        fail(5, heap_ok);
        fail(
            6,
            DATA.load(Ordering::SeqCst) == 2000 && all(stack_addr, 64, 0xc4),
        );
        exit(failed);
    }
    if !t.check(
        pid > 0,
        "fork returns the child's pid in the parent",
        Ret(pid),
        "a pid > 0",
    ) {
        return;
    }
    // The parent writes right away: the child must not see any of it, whenever it looks.
    fill(page, P, 0xa1);
    for i in (0..HEAP_PAGES).step_by(2) {
        fill(heap + i * P, P, 0xa2);
    }
    DATA.store(3000, Ordering::SeqCst);
    fill(stack_addr, 64, 0xa4);
    let mut status = 0;
    t.ret(
        "wait4 returns the child's pid",
        wait4(pid as i32, Some(&mut status), 0),
        pid,
    );
    let st = Wstatus(status);
    for (bit, what) in CHILD_CHECKS.iter().enumerate() {
        let ok = st.exited() && st.exit_status() & (1 << bit) == 0;
        t.check(ok, what, st, "bit clear in the exit status");
    }
    t.exited(
        "the child exits normally with status 0 (WIFEXITED, WEXITSTATUS)",
        st,
        0,
    );
    t.ok(
        all(page, P, 0xa1),
        "the parent sees its own writes to the private page, not the child's",
    );
    let heap_ok = (0..HEAP_PAGES).all(|i| {
        all(
            heap + i * P,
            P,
            if i % 2 == 0 { 0xa2 } else { 0x20 + i as u8 },
        )
    });
    t.ok(
        heap_ok,
        "the parent sees its own writes to even heap pages and the pre-fork contents of odd ones",
    );
    t.eq(
        "the parent sees its own .data value",
        DATA.load(Ordering::SeqCst),
        3000,
    );
    t.ok(
        all(stack_addr, 64, 0xa4),
        "the parent sees its own stack writes",
    );
    core::hint::black_box(&mut stack);
    brk(heap);
    munmap(page, P);
}

/// Pages never touched, or only read (the zero page), before fork: the child's writes stay
/// in the child.
fn untouched_pages(t: &mut Tap) {
    let a = mmap_anon(2 * P);
    if !t.success("mmap 2 private anonymous pages, not touched", a) {
        return;
    }
    let a = a as usize;
    let _ = peek(a + P); // page 1: read fault before fork (zero page); page 0: never touched
    let st = in_child(|| {
        fill(a, 2 * P, 0x55);
        !all(a, 2 * P, 0x55) as i32
    });
    t.exited(
        "a child writes pages that were untouched or only read before fork",
        st,
        0,
    );
    t.ok(
        all(a, P, 0),
        "the parent still reads zeros from the page never touched before fork",
    );
    t.ok(
        all(a + P, P, 0),
        "the parent still reads zeros from the page only read before fork",
    );
    fill(a, 2 * P, 0x66);
    t.ok(
        all(a, 2 * P, 0x66),
        "the parent can then write both pages itself",
    );
    munmap(a, 2 * P);
}

/// Four children exit in the reverse order of their creation; wait4(-1) reaps each once.
fn reap_order(t: &mut Tap) {
    const N: usize = 4;
    let mut pids = [0isize; N];
    for (i, pid) in pids.iter_mut().enumerate() {
        *pid = fork();
        if *pid == 0 {
            sleep_ms(((N - i) * 150) as u64); // child 3 exits first, child 0 last
            exit(10 + i as i32);
        }
    }
    t.ok(pids.iter().all(|&p| p > 0), "fork 4 children");
    let mut order = [0isize; N];
    let mut statuses_ok = true;
    for slot in order.iter_mut() {
        let mut status = 0;
        *slot = wait4(-1, Some(&mut status), 0);
        let i = pids.iter().position(|&p| p == *slot);
        statuses_ok &= i.is_some_and(|i| {
            Wstatus(status).exited() && Wstatus(status).exit_status() == 10 + i as i32
        });
    }
    let mut each_once = true;
    for p in pids {
        each_once &= order.iter().filter(|&&o| o == p).count() == 1;
    }
    t.ok(
        each_once,
        "wait4(-1) reaps each of the 4 children exactly once",
    );
    t.ok(
        statuses_ok,
        "each reaped child's status is the exit code it exited with",
    );
    let reversed = (0..N).all(|k| order[k] == pids[N - 1 - k]);
    t.ok(
        reversed,
        "wait4(-1) reaps the children in the order they exited",
    );
    t.err(
        "wait4(-1) with no children left fails with ECHILD",
        wait4(-1, None, 0),
        ECHILD,
    );
}

/// wait4(2) options and the life of a zombie.
fn wait_rows(t: &mut Tap) {
    t.err(
        "wait4(-1, WNOHANG) with no children fails with ECHILD",
        wait4(-1, None, WNOHANG),
        ECHILD,
    );
    t.err(
        "wait4 of a pid that is not our child (ourselves) fails with ECHILD",
        wait4(getpid(), None, 0),
        ECHILD,
    );

    let pid = fork();
    if pid == 0 {
        sleep_ms(300);
        exit(7);
    }
    let mut status = -1;
    t.ret(
        "wait4(pid, WNOHANG) returns 0 while the child runs",
        wait4(pid as i32, Some(&mut status), WNOHANG),
        0,
    );
    t.ret(
        "wait4(-1, WNOHANG) returns 0 while the child runs",
        wait4(-1, None, WNOHANG),
        0,
    );
    t.ret(
        "wait4 then blocks and returns the child's pid",
        wait4(pid as i32, Some(&mut status), 0),
        pid,
    );
    t.exited(
        "the child's status says it exited with 7",
        Wstatus(status),
        7,
    );

    let pid = fork();
    if pid == 0 {
        exit_group(300);
    }
    let mut status = 0;
    wait4(pid as i32, Some(&mut status), 0);
    t.exited(
        "an exit code of 300 reaches the parent as 300 & 0xff = 44",
        Wstatus(status),
        44,
    );

    let pid = fork();
    if pid == 0 {
        exit(0);
    }
    sleep_ms(100); // the child is a zombie now
    t.ret(
        "a zombie child still exists for kill(pid, 0) until it is reaped",
        kill(pid as i32, 0),
        0,
    );
    t.ret(
        "wait4 with a NULL status pointer reaps the child",
        wait4(pid as i32, None, 0),
        pid,
    );
    t.err(
        "after wait4, kill(pid, 0) fails with ESRCH",
        kill(pid as i32, 0),
        ESRCH,
    );

    let pid = fork();
    if pid == 0 {
        sleep_ms(5000);
        exit(0);
    }
    t.ret(
        "kill(child, SIGKILL) succeeds",
        kill(pid as i32, SIGKILL),
        0,
    );
    let mut status = 0;
    wait4(pid as i32, Some(&mut status), 0);
    t.killed_by(
        "a child killed with SIGKILL reports WIFSIGNALED and WTERMSIG == SIGKILL",
        Wstatus(status),
        SIGKILL,
    );
    let st = in_child(|| {
        kill(getpid(), SIGTERM);
        sleep_ms(1000);
        0
    });
    t.killed_by(
        "a child that sends itself SIGTERM dies of SIGTERM (default action)",
        st,
        SIGTERM,
    );
    t.ok(!st.core_dump(), "SIGTERM does not dump core");
}

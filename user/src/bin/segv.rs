//! segv: each child does one bad thing and must die of SIGSEGV (wait status: WIFSIGNALED,
//! WTERMSIG == 11; a core-dump bit may be set), while the parent goes on to the next.
//!
//! Linux: `arch/arm64/mm/fault.c` (do_page_fault, do_translation_fault, do_bad_area ->
//! arm64_force_sig_fault), `mm/mmap.c` (acct_stack_growth: RLIMIT_STACK), `kernel/signal.c`.
#![no_std]
#![no_main]
use ulib::*;

const P: usize = PAGE_SIZE;
/// The arm64 `ret` instruction.
const RET: u32 = 0xd65f_03c0;

/// Read-only data: lands in the r--p segment.
static RODATA: [u8; 16] = [3; 16];

/// One 4 KiB frame per call, without end (the bound is never reached).
#[inline(never)]
fn overflow(depth: usize) -> u64 {
    let frame = core::hint::black_box([depth as u8; P]);
    let below = if depth < core::hint::black_box(usize::MAX) {
        overflow(depth + 1)
    } else {
        0
    };
    below + frame.iter().map(|&b| b as u64).sum::<u64>()
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("segv");
    t.exited(
        "a child that does nothing wrong exits with status 0",
        in_child(|| 0),
        0,
    );

    t.killed_by(
        "reading a kernel address (0xffff000040000000) raises SIGSEGV",
        in_child(|| peek(KERNEL_ADDR) as i32),
        SIGSEGV,
    );
    t.killed_by(
        "writing a kernel address raises SIGSEGV",
        in_child(|| {
            poke(KERNEL_ADDR, 1);
            0
        }),
        SIGSEGV,
    );
    t.killed_by(
        "reading NULL raises SIGSEGV",
        in_child(|| peek(0) as i32),
        SIGSEGV,
    );
    t.killed_by(
        "writing NULL raises SIGSEGV",
        in_child(|| {
            poke(0, 1);
            0
        }),
        SIGSEGV,
    );
    let hole = unmapped_addr();
    t.killed_by(
        "reading an unmapped address raises SIGSEGV",
        in_child(|| peek(hole) as i32),
        SIGSEGV,
    );

    let ro = mmap(0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap a PROT_READ anonymous page", ro) {
        let ro = ro as usize;
        t.exited(
            "reading the PROT_READ page works",
            in_child(|| peek(ro) as i32),
            0,
        );
        t.killed_by(
            "writing a PROT_READ mapping raises SIGSEGV",
            in_child(|| {
                poke(ro, 1);
                0
            }),
            SIGSEGV,
        );
        munmap(ro, P);
    }
    let none = mmap(0, P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap a PROT_NONE anonymous page", none) {
        t.killed_by(
            "reading a PROT_NONE mapping raises SIGSEGV",
            in_child(|| peek(none as usize) as i32),
            SIGSEGV,
        );
        munmap(none as usize, P);
    }

    let text = main as *const () as usize;
    t.killed_by(
        "writing the program's own text raises SIGSEGV",
        in_child(|| {
            poke(text, 0);
            0
        }),
        SIGSEGV,
    );
    let rodata = core::hint::black_box(RODATA.as_ptr()) as usize;
    t.killed_by(
        "writing the program's read-only data raises SIGSEGV",
        in_child(|| {
            poke(rodata, 0);
            0
        }),
        SIGSEGV,
    );

    exec_rows(&mut t);

    t.killed_by(
        "calling a kernel address raises SIGSEGV",
        in_child(|| {
            call(KERNEL_ADDR);
            0
        }),
        SIGSEGV,
    );
    t.killed_by(
        "calling NULL raises SIGSEGV",
        in_child(|| {
            call(0);
            0
        }),
        SIGSEGV,
    );
    t.killed_by(
        "calling an unmapped address raises SIGSEGV",
        in_child(|| {
            call(hole);
            0
        }),
        SIGSEGV,
    );

    let st = in_child(|| {
        let lim = Rlimit {
            rlim_cur: 1 << 20,
            rlim_max: u64::MAX,
        };
        if prlimit64(RLIMIT_STACK, Some(&lim), None) != 0 {
            return 100;
        }
        (overflow(0) & 1) as i32
    });
    t.killed_by(
        "recursing past RLIMIT_STACK (lowered to 1 MiB) raises SIGSEGV",
        st,
        SIGSEGV,
    );

    let st = in_child(|| {
        unsafe { core::arch::asm!("udf #0") };
        0
    });
    t.killed_by(
        "an undefined instruction (udf #0) raises SIGILL",
        st,
        SIGILL,
    );
    t.exited(
        "after all that, a child still runs normally",
        in_child(|| 0),
        0,
    );
    t.finish()
}

/// Execute permission: a `ret` written into a PROT_READ|PROT_WRITE page may not run (the
/// PTE has UXN set), and runs once mprotect adds PROT_EXEC.
fn exec_rows(t: &mut Tap) {
    let code = mmap(
        0,
        P,
        PROT_READ | PROT_WRITE,
        MAP_PRIVATE | MAP_ANONYMOUS,
        -1,
        0,
    );
    if !t.success("mmap a PROT_READ|PROT_WRITE page for code", code) {
        return;
    }
    let code = code as usize;
    unsafe { core::ptr::write_volatile(code as *mut u32, RET) };
    t.killed_by(
        "executing from a non-executable mapping raises SIGSEGV",
        in_child(|| {
            call(code);
            0
        }),
        SIGSEGV,
    );
    t.ret(
        "mprotect the page PROT_READ|PROT_EXEC",
        mprotect(code, P, PROT_READ | PROT_EXEC),
        0,
    );
    t.exited(
        "the same `ret` runs once the page is PROT_EXEC",
        in_child(|| {
            call(code);
            0
        }),
        0,
    );
    t.killed_by(
        "writing the PROT_READ|PROT_EXEC page raises SIGSEGV",
        in_child(|| {
            poke(code, 0);
            0
        }),
        SIGSEGV,
    );
    munmap(code, P);
}

//! sig_handlers: signal handlers that run and return. A fault handler gets siginfo
//! (SEGV_ACCERR / SEGV_MAPERR and the address) and a ucontext, fixes the page and
//! returns, and the faulting store is retried and completes; kill(2) to self runs a
//! handler and the program carries on; the mask during a handler blocks the signal (and
//! sa_mask) and rt_sigreturn restores it; rt_sigprocmask holds signals back; registers,
//! FP/SIMD included, survive a handler; SA_NODEFER, SA_RESETHAND and SIG_IGN do what
//! they say; SIGKILL and SIGSTOP can be neither caught nor blocked.
//!
//! Linux: `arch/arm64/kernel/signal.c` (`setup_rt_frame`, `sys_rt_sigreturn`),
//! `kernel/signal.c` (`do_sigaction`, `sigprocmask`, `get_signal`, `signal_delivered`,
//! `force_sig_info_to_task`), `arch/arm64/mm/fault.c` (`__do_user_fault`).
#![no_std]
#![no_main]
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use ulib::errno::EINVAL;
use ulib::signal::*;
use ulib::*;

const P: usize = PAGE_SIZE;

// What the SIGSEGV handler saw.
static SEGV_COUNT: AtomicU32 = AtomicU32::new(0);
static SEGV_CODE: AtomicI32 = AtomicI32::new(-1);
static SEGV_ADDR: AtomicUsize = AtomicUsize::new(0);
static SEGV_UC_FAULT: AtomicU64 = AtomicU64::new(0);
static SEGV_UC_PC: AtomicU64 = AtomicU64::new(0);
static SEGV_FP_MAGIC: AtomicU32 = AtomicU32::new(0);

// What the SIGUSR1 handler saw.
static USR1_COUNT: AtomicU32 = AtomicU32::new(0);
static USR1_DEPTH: AtomicU32 = AtomicU32::new(0);
static USR1_MAX_DEPTH: AtomicU32 = AtomicU32::new(0);
static USR1_MASK: AtomicU64 = AtomicU64::new(0);
static USR1_CODE: AtomicI32 = AtomicI32::new(-1);
static USR1_PID: AtomicI32 = AtomicI32::new(0);
static USR1_RESEND: AtomicU32 = AtomicU32::new(0);

// The SIGUSR2 handlers.
static USR2_COUNT: AtomicU32 = AtomicU32::new(0);
static USR2_DEPTH: AtomicU32 = AtomicU32::new(0);
static USR2_MAX_DEPTH: AtomicU32 = AtomicU32::new(0);
static USR2_MASK: AtomicU64 = AtomicU64::new(!0);

/// Overwrite the caller-saved registers and d8 (callee-saved in the AAPCS64, but only the
/// kernel's frame can bring it back here: this program never saves FP registers).
#[inline(never)]
fn clobber_registers() {
    // SAFETY: writes only registers declared clobbered, and d8 (`fmov d8, xzr`), which
    // this soft-float program never uses outside these tests.
    unsafe {
        core::arch::asm!(
            "mov x2, #0xdead", "mov x3, #0xdead", "mov x9, #0xdead", "mov x10, #0xdead",
            "mov x15, #0xdead", "mov x16, #0xdead", "mov x17, #0xdead",
            ".inst 0x9e6703e8", // fmov d8, xzr
            out("x2") _, out("x3") _, out("x9") _, out("x10") _, out("x15") _,
            out("x16") _, out("x17") _, options(nostack)
        )
    }
}

extern "C" fn on_segv(sig: i32, info: *mut Siginfo, uc: *mut Ucontext) {
    // SAFETY: the kernel passes valid siginfo and ucontext pointers (SA_SIGINFO).
    let (info, uc) = unsafe { (&*info, &*uc) };
    SEGV_COUNT.fetch_add(1, SeqCst);
    SEGV_CODE.store(if sig == SIGSEGV { info.si_code } else { -2 }, SeqCst);
    SEGV_ADDR.store(info.si_addr, SeqCst);
    SEGV_UC_FAULT.store(uc.uc_mcontext.fault_address, SeqCst);
    SEGV_UC_PC.store(uc.uc_mcontext.pc, SeqCst);
    let r = &uc.uc_mcontext.reserved;
    SEGV_FP_MAGIC.store(u32::from_le_bytes([r[0], r[1], r[2], r[3]]), SeqCst);
    // Fix the page up, so that returning retries the access and it succeeds.
    let page = info.si_addr & !(P - 1);
    if info.si_code == SEGV_ACCERR {
        mprotect(page, P, PROT_READ | PROT_WRITE);
    } else {
        mmap(
            page,
            P,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
            -1,
            0,
        );
    }
    clobber_registers();
}

extern "C" fn on_usr1(_sig: i32, info: *mut Siginfo, _uc: *mut Ucontext) {
    // SAFETY: as on_segv.
    let info = unsafe { &*info };
    let depth = USR1_DEPTH.fetch_add(1, SeqCst) + 1;
    USR1_MAX_DEPTH.fetch_max(depth, SeqCst);
    USR1_COUNT.fetch_add(1, SeqCst);
    USR1_MASK.store(blocked_mask(), SeqCst);
    USR1_CODE.store(info.si_code, SeqCst);
    USR1_PID.store(info.si_pid(), SeqCst);
    if USR1_RESEND.swap(0, SeqCst) == 1 {
        // Blocked while we run: stays pending until rt_sigreturn restores the mask.
        kill(getpid(), SIGUSR1);
    }
    clobber_registers();
    USR1_DEPTH.fetch_sub(1, SeqCst);
}

extern "C" fn on_usr2(_sig: i32, _info: *mut Siginfo, _uc: *mut Ucontext) {
    let depth = USR2_DEPTH.fetch_add(1, SeqCst) + 1;
    USR2_MAX_DEPTH.fetch_max(depth, SeqCst);
    USR2_COUNT.fetch_add(1, SeqCst);
    if depth == 1 {
        USR2_MASK.store(blocked_mask(), SeqCst);
        // With SA_NODEFER this nests at once; without, it waits for sigreturn.
        kill(getpid(), SIGUSR2);
    }
    USR2_DEPTH.fetch_sub(1, SeqCst);
}

/// Load x2-x7, x9-x17, x20-x28 and d8 with known values, kill(self, SIGUSR1) (its handler
/// clobbers registers), and count the registers that came back different.
fn registers_survive_a_handler(pid: i32) -> u64 {
    let bad: u64;
    // SAFETY: every register written is declared clobbered (d8 aside: see
    // clobber_registers); the svc is kill(2), whose handler returns through rt_sigreturn.
    unsafe {
        core::arch::asm!(
            "mov x2, #0x102", "mov x3, #0x103", "mov x4, #0x104", "mov x5, #0x105",
            "mov x6, #0x106", "mov x7, #0x107", "mov x9, #0x109", "mov x10, #0x10a",
            "mov x11, #0x10b", "mov x12, #0x10c", "mov x13, #0x10d", "mov x14, #0x10e",
            "mov x15, #0x10f", "mov x16, #0x110", "mov x17, #0x111", "mov x20, #0x114",
            "mov x21, #0x115", "mov x22, #0x116", "mov x23, #0x117", "mov x24, #0x118",
            "mov x25, #0x119", "mov x26, #0x11a", "mov x27, #0x11b", "mov x28, #0x11c",
            ".inst 0x9e670288", // fmov d8, x20
            "mov x8, #129",     // kill
            "svc #0",
            "mov x8, #0",
            "cmp x0, #0", "cinc x8, x8, ne",
            "cmp x2, #0x102", "cinc x8, x8, ne", "cmp x3, #0x103", "cinc x8, x8, ne",
            "cmp x4, #0x104", "cinc x8, x8, ne", "cmp x5, #0x105", "cinc x8, x8, ne",
            "cmp x6, #0x106", "cinc x8, x8, ne", "cmp x7, #0x107", "cinc x8, x8, ne",
            "cmp x9, #0x109", "cinc x8, x8, ne", "cmp x10, #0x10a", "cinc x8, x8, ne",
            "cmp x11, #0x10b", "cinc x8, x8, ne", "cmp x12, #0x10c", "cinc x8, x8, ne",
            "cmp x13, #0x10d", "cinc x8, x8, ne", "cmp x14, #0x10e", "cinc x8, x8, ne",
            "cmp x15, #0x10f", "cinc x8, x8, ne", "cmp x16, #0x110", "cinc x8, x8, ne",
            "cmp x17, #0x111", "cinc x8, x8, ne", "cmp x20, #0x114", "cinc x8, x8, ne",
            "cmp x21, #0x115", "cinc x8, x8, ne", "cmp x22, #0x116", "cinc x8, x8, ne",
            "cmp x23, #0x117", "cinc x8, x8, ne", "cmp x24, #0x118", "cinc x8, x8, ne",
            "cmp x25, #0x119", "cinc x8, x8, ne", "cmp x26, #0x11a", "cinc x8, x8, ne",
            "cmp x27, #0x11b", "cinc x8, x8, ne", "cmp x28, #0x11c", "cinc x8, x8, ne",
            ".inst 0x9e660102", // fmov x2, d8
            "cmp x2, #0x114", "cinc x8, x8, ne",
            inout("x0") pid as usize => _, inout("x1") SIGUSR1 as usize => _,
            out("x2") _, out("x3") _, out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") bad, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
            out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
        )
    }
    bad
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("sig_handlers");
    let me = getpid();

    // --- A fault handler that fixes the page and returns: the store is retried.
    t.success(
        "sigaction(SIGSEGV, SA_SIGINFO handler)",
        sigaction(SIGSEGV, on_segv, 0, 0),
    );
    let ro = mmap(0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if t.success("mmap a PROT_READ page", ro) {
        let ro = ro as usize;
        poke(ro + 8, 42);
        t.eq(
            "a write to a PROT_READ page runs the SIGSEGV handler once",
            SEGV_COUNT.load(SeqCst),
            1,
        );
        t.eq(
            "its si_code is SEGV_ACCERR",
            SEGV_CODE.load(SeqCst),
            SEGV_ACCERR,
        );
        t.addr(
            "its si_addr is the address written",
            SEGV_ADDR.load(SeqCst),
            ro + 8,
        );
        t.addr(
            "uc_mcontext.fault_address is the same address",
            SEGV_UC_FAULT.load(SeqCst) as usize,
            ro + 8,
        );
        let pc = SEGV_UC_PC.load(SeqCst) as usize;
        let poke_at = poke as *const () as usize;
        t.check(
            (poke_at..poke_at + 64).contains(&pc),
            "uc_mcontext.pc is the faulting store (inside poke)",
            format_args!("{pc:#x}"),
            format_args!("{poke_at:#x}+"),
        );
        t.check(
            SEGV_FP_MAGIC.load(SeqCst) == FPSIMD_MAGIC,
            "the first __reserved record is fpsimd_context (FPSIMD_MAGIC)",
            format_args!("{:#x}", SEGV_FP_MAGIC.load(SeqCst)),
            format_args!("{FPSIMD_MAGIC:#x}"),
        );
        t.eq(
            "the handler mprotect'ed the page and returned: the store completed",
            peek(ro + 8),
            42,
        );
        munmap(ro, P);
    }

    let hole = unmapped_addr();
    poke(hole + 16, 7);
    t.eq(
        "a write to an unmapped page runs the handler again",
        SEGV_COUNT.load(SeqCst),
        2,
    );
    t.eq(
        "its si_code is SEGV_MAPERR",
        SEGV_CODE.load(SeqCst),
        SEGV_MAPERR,
    );
    t.addr(
        "its si_addr is the address",
        SEGV_ADDR.load(SeqCst),
        hole + 16,
    );
    t.eq(
        "the handler mapped the page and returned: the store completed",
        peek(hole + 16),
        7,
    );
    munmap(hole, P);

    t.killed_by(
        "a fault while SIGSEGV is blocked kills anyway (the handler is not run)",
        in_child(|| {
            sigprocmask(SIG_BLOCK, Some(sigbit(SIGSEGV)), None);
            let hole = unmapped_addr();
            poke(hole, 1);
            if SEGV_COUNT.load(SeqCst) != 2 {
                return 3;
            }
            0
        }),
        SIGSEGV,
    );

    // --- kill(2) to self runs a handler, and the program goes on.
    t.success(
        "sigaction(SIGUSR1, handler, sa_mask = SIGUSR2)",
        sigaction(SIGUSR1, on_usr1, 0, sigbit(SIGUSR2)),
    );
    t.ret("kill(getpid(), SIGUSR1) returns 0", kill(me, SIGUSR1), 0);
    t.eq(
        "the SIGUSR1 handler ran before kill returned",
        USR1_COUNT.load(SeqCst),
        1,
    );
    t.eq("its si_code is SI_USER", USR1_CODE.load(SeqCst), SI_USER);
    t.eq("its si_pid is our pid", USR1_PID.load(SeqCst), me);
    let m = USR1_MASK.load(SeqCst);
    t.ok(
        m & sigbit(SIGUSR1) != 0 && m & sigbit(SIGUSR2) != 0,
        "during the handler SIGUSR1 (the signal) and SIGUSR2 (sa_mask) are blocked",
    );
    t.eq(
        "after the handler the mask is restored (nothing blocked)",
        blocked_mask(),
        0,
    );

    USR1_RESEND.store(1, SeqCst);
    kill(me, SIGUSR1);
    t.eq(
        "SIGUSR1 sent from inside its own handler waits for it to return",
        USR1_MAX_DEPTH.load(SeqCst),
        1,
    );
    t.eq(
        "... and then runs once more (2 more runs in all)",
        USR1_COUNT.load(SeqCst),
        3,
    );

    // --- rt_sigprocmask holds a signal back until it is unblocked.
    let mut old = !0u64;
    sigprocmask(SIG_BLOCK, Some(sigbit(SIGUSR1)), Some(&mut old));
    t.eq("rt_sigprocmask returns the old mask (empty)", old, 0);
    kill(me, SIGUSR1);
    t.eq(
        "a blocked SIGUSR1 is not delivered",
        USR1_COUNT.load(SeqCst),
        3,
    );
    sigprocmask(SIG_UNBLOCK, Some(sigbit(SIGUSR1)), None);
    t.eq(
        "unblocking it delivers it before rt_sigprocmask returns",
        USR1_COUNT.load(SeqCst),
        4,
    );

    // --- Registers survive a handler.
    t.eq(
        "x2-x7, x9-x17, x20-x28 and d8 are the same after a handler clobbered them",
        registers_survive_a_handler(me),
        0,
    );
    t.eq("(the handler did run)", USR1_COUNT.load(SeqCst), 5);

    // --- The old action, SIG_IGN.
    let mut oact = Sigaction::default();
    rt_sigaction(SIGUSR1, None, Some(&mut oact));
    t.ok(
        oact.sa_handler == on_usr1 as *const () as usize
            && oact.sa_flags & (SA_SIGINFO | SA_RESTORER) == SA_SIGINFO | SA_RESTORER
            && oact.sa_mask == sigbit(SIGUSR2),
        "rt_sigaction returns the installed action (handler, flags, mask)",
    );
    signal_disposition(SIGUSR1, SIG_IGN);
    t.ret("kill with SIGUSR1 ignored returns 0", kill(me, SIGUSR1), 0);
    t.eq(
        "an ignored SIGUSR1 neither kills nor runs the handler",
        USR1_COUNT.load(SeqCst),
        5,
    );

    // --- SA_NODEFER, SA_RESETHAND.
    sigaction(SIGUSR2, on_usr2, SA_NODEFER, 0);
    kill(me, SIGUSR2);
    t.eq(
        "with SA_NODEFER the handler is re-entered by its own signal",
        USR2_MAX_DEPTH.load(SeqCst),
        2,
    );
    t.eq(
        "with SA_NODEFER the signal is not blocked in its handler",
        USR2_MASK.load(SeqCst) & sigbit(SIGUSR2),
        0,
    );
    t.killed_by(
        "with SA_RESETHAND the handler runs once, then the default action kills",
        in_child(|| {
            USR2_COUNT.store(0, SeqCst);
            USR2_DEPTH.store(1, SeqCst); // the handler does not resend
            sigaction(SIGUSR2, on_usr2, SA_RESETHAND, 0);
            kill(getpid(), SIGUSR2);
            let mut now = Sigaction::default();
            rt_sigaction(SIGUSR2, None, Some(&mut now));
            if USR2_COUNT.load(SeqCst) != 1 || now.sa_handler != SIG_DFL {
                return 1;
            }
            kill(getpid(), SIGUSR2);
            2
        }),
        SIGUSR2,
    );

    // --- SIGKILL and SIGSTOP.
    let act = Sigaction {
        sa_handler: on_usr1 as *const () as usize,
        sa_flags: SA_SIGINFO,
        ..Sigaction::default()
    };
    t.err(
        "rt_sigaction(SIGKILL, handler) fails with EINVAL",
        rt_sigaction(SIGKILL, Some(&act), None),
        EINVAL,
    );
    t.err(
        "rt_sigaction(SIGSTOP, handler) fails with EINVAL",
        rt_sigaction(SIGSTOP, Some(&act), None),
        EINVAL,
    );
    t.killed_by(
        "blocking every signal leaves SIGKILL and SIGSTOP unblocked; SIGKILL still kills",
        in_child(|| {
            sigprocmask(SIG_SETMASK, Some(!0), None);
            if blocked_mask() & (sigbit(SIGKILL) | sigbit(SIGSTOP)) != 0 {
                return 1;
            }
            kill(getpid(), SIGKILL);
            2
        }),
        SIGKILL,
    );
    t.finish()
}

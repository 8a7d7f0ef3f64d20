//! The Rust side of the exception vectors. Linux: `arch/arm64/kernel/entry-common.c`
//! (`el1_sync_handler`, `el0_sync_handler`), `traps.c` (`bad_mode`, `die`,
//! `show_regs`), `irq.c` (`handle_arch_irq`).
use super::esr::{class_string, ec, Esr};
use core::fmt;

/// The trap frame `entry.S` builds on the kernel stack (Linux: `struct pt_regs`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PtRegs {
    /// x0..x30.
    pub regs: [u64; 31],
    /// SP_EL0 for an exception from EL0, the interrupted SP_EL1 otherwise.
    pub sp: u64,
    /// ELR_EL1: where the exception returns to.
    pub pc: u64,
    /// SPSR_EL1.
    pub pstate: u64,
    /// ESR_EL1 at entry.
    pub esr: u64,
    /// FAR_EL1 at entry.
    pub far: u64,
    /// x0 as the system call received it: x0 is overwritten by the return value, and a
    /// restarted call needs its first argument back (Linux: `orig_x0`).
    pub orig_x0: u64,
    /// The system call being made, or `NO_SYSCALL` (-1) when this exception is not a
    /// system call or the restart decision has already been taken (Linux: `syscallno`,
    /// `in_syscall`, `forget_syscall`).
    pub syscallno: i64,
    /// Frame record {x29, pc} linking the backtrace through the exception.
    pub stackframe: [u64; 2],
}

const _: () = assert!(core::mem::size_of::<PtRegs>() == 320);

/// `syscallno` of an exception that is not a system call (Linux: `NO_SYSCALL`).
pub const NO_SYSCALL: i64 = -1;

impl PtRegs {
    /// Did the exception come from EL0?
    pub fn user_mode(&self) -> bool {
        self.pstate & 0xf == 0
    }

    /// Is this frame a system call whose result may still be restarted (Linux:
    /// `in_syscall`)?
    pub fn in_syscall(&self) -> bool {
        self.syscallno != NO_SYSCALL
    }

    /// Take no further restart decision for this system call: once `do_signal` has
    /// decided, or after rt_sigreturn has replaced the registers (Linux: `forget_syscall`).
    pub fn forget_syscall(&mut self) {
        self.syscallno = NO_SYSCALL;
    }
}

impl fmt::Display for PtRegs {
    /// Linux's `__show_regs` layout: pc, lr, sp, then x29..x0 three to a line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pc : {:#018x}", self.pc)?;
        writeln!(f, "lr : {:#018x}", self.regs[30])?;
        writeln!(f, "sp : {:#018x}  pstate : {:08x}", self.sp, self.pstate)?;
        let mut i = 29i32;
        while i >= 0 {
            write!(f, "x{:<2}: {:016x}", i, self.regs[i as usize])?;
            if i % 3 == 0 || i == 0 {
                writeln!(f)?;
            } else {
                f.write_str(" ")?;
            }
            i -= 1;
        }
        Ok(())
    }
}

/// Why `bad_mode` was entered (Linux: `handler[]` in traps.c).
const BAD_MODE_REASONS: [&str; 8] = [
    "Synchronous Abort (EL1t)",
    "IRQ (EL1t)",
    "FIQ",
    "SError",
    "AArch32 exception from EL0",
    "IRQ",
    "FIQ (EL0)",
    "SError (EL0)",
];

/// An exception we never expect (wrong stack, FIQ, SError, AArch32). Fatal.
#[no_mangle]
pub extern "C" fn bad_mode(regs: &mut PtRegs, reason: usize) -> ! {
    let what = BAD_MODE_REASONS.get(reason).copied().unwrap_or("unknown");
    die(regs, format_args!("Bad mode in {what} handler detected"))
}

/// Synchronous exception taken from EL1.
#[no_mangle]
#[inline(never)]
pub extern "C" fn el1_sync_handler(regs: &mut PtRegs) {
    let esr = Esr { raw: regs.esr };
    match esr.ec() {
        ec::DABT_CUR | ec::IABT_CUR => el1_abort(regs, esr),
        _ => die(
            regs,
            format_args!("Oops - unexpected synchronous exception in the kernel"),
        ),
    }
}

/// Synchronous exception taken from EL0: a system call, a page fault, or something the
/// program must be killed for. Linux: `el0_sync_handler` -> `el0_svc` / `el0_da` /
/// `el0_ia` / `el0_undef`.
#[no_mangle]
#[inline(never)]
pub extern "C" fn el0_sync_handler(regs: &mut PtRegs) {
    use crate::task::signal::{force_sig_fault, BUS_ADRALN, ILL_ILLOPC, SIGBUS, SIGILL};
    let esr = Esr { raw: regs.esr };
    crate::arch::cpu::local_irq_enable();
    match esr.ec() {
        ec::SVC64 => el0_svc(regs),
        ec::DABT_LOW => el0_da(regs, esr),
        ec::IABT_LOW => el0_ia(regs, esr),
        ec::PC_ALIGN | ec::SP_ALIGN => force_sig_fault(SIGBUS, BUS_ADRALN, regs, "alignment fault"),
        ec::SYS64 => do_sysinstr(esr, regs),
        ec::UNKNOWN => do_undefinstr(regs),
        _ => force_sig_fault(SIGILL, ILL_ILLOPC, regs, class_string(esr.ec())),
    }
    exit_to_user_mode(regs);
}

/// An undefined instruction from EL0 (EC 0, "unknown reason"): an `mrs` of an ID register
/// is emulated (cores without FEAT_IDST trap those this way), anything else is SIGILL.
/// Linux: `el0_undef` -> `do_undefinstr` -> `call_undef_hook` (`mrs_hook`: `emulate_mrs`).
#[no_mangle]
#[inline(never)]
pub fn do_undefinstr(regs: &mut PtRegs) {
    use crate::task::signal::{force_sig_fault, ILL_ILLOPC, SIGILL};
    let insn = super::uaccess::get_user::<u32>(regs.pc as usize);
    if let Ok(insn) = insn {
        if super::cpufeature::emulate_mrs(regs, insn) {
            return;
        }
    }
    let esr = Esr { raw: regs.esr };
    // The instruction word and PSTATE go into the report (Linux prints them in
    // `__show_regs`): they tell a real undefined instruction from a corrupted text page
    // (a word that is not what the binary holds) or a bad return state (nRW or IL set).
    // Formatted in place: a program that traps in a loop must not be able to use up
    // the heap through its reports.
    struct Word(Result<u32, crate::errno::Errno>);
    impl core::fmt::Display for Word {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            match self.0 {
                Ok(w) => write!(f, "{w:#010x}"),
                Err(_) => f.write_str("unreadable"),
            }
        }
    }
    force_sig_fault(
        SIGILL,
        ILL_ILLOPC,
        regs,
        format_args!(
            "{}, insn {}, pstate {:#x}",
            class_string(esr.ec()),
            Word(insn),
            regs.pstate
        ),
    );
}

/// A trapped MSR, MRS or system instruction from EL0 (EC 0x18, SYS64). A read of the ID
/// space (Op0 = 3, Op1 = 0, CRn = 0) is emulated from the ISS, which names the register
/// and Rt without reading the instruction; everything else goes the undefined-instruction
/// way. Linux: `el0_sys` -> `do_sysinstr` (`sys64_hooks[]`: `mrs_handler`), falling back
/// to `do_undefinstr`.
#[no_mangle]
#[inline(never)]
pub fn do_sysinstr(esr: Esr, regs: &mut PtRegs) {
    use super::cpufeature::{esr_sys64_to_sysreg, sys_reg_crn, sys_reg_op0, sys_reg_op1};
    use crate::task::signal::{force_sig_fault, ILL_ILLOPC, SIGILL};
    let (sys_reg, rt, read) = esr_sys64_to_sysreg(esr.raw);
    if read && sys_reg_op0(sys_reg) == 3 && sys_reg_op1(sys_reg) == 0 && sys_reg_crn(sys_reg) == 0 {
        if !super::cpufeature::do_emulate_mrs(regs, sys_reg, rt) {
            force_sig_fault(SIGILL, ILL_ILLOPC, regs, class_string(esr.ec()));
        }
        return;
    }
    do_undefinstr(regs);
}

/// A data or instruction abort taken from EL1 (Linux: `el1_abort`). The fault runs with
/// the interrupt mask of the code it interrupted (Linux: `local_daif_inherit`): a uaccess
/// fault in a system call may then sleep, for a page read from the disk or a lock, as
/// the caller could; masked, it would have to poll, and could spin forever on a device
/// another, sleeping task holds. Masked again before the exception returns.
#[no_mangle]
#[inline(never)]
pub fn el1_abort(regs: &mut PtRegs, esr: Esr) {
    let irqs_were_on = regs.pstate & (1 << 7) == 0; // SPSR.I
    if irqs_were_on {
        crate::arch::cpu::local_irq_enable();
    }
    super::fault::do_mem_abort(regs.far as usize, esr, regs);
    if irqs_were_on {
        crate::arch::cpu::local_irq_disable();
    }
}

/// A data abort taken from EL0 (Linux: `el0_da`).
#[no_mangle]
#[inline(never)]
pub fn el0_da(regs: &mut PtRegs, esr: Esr) {
    super::fault::do_mem_abort(regs.far as usize, esr, regs);
}

/// An instruction abort taken from EL0 (Linux: `el0_ia`).
#[no_mangle]
#[inline(never)]
pub fn el0_ia(regs: &mut PtRegs, esr: Esr) {
    super::fault::do_mem_abort(regs.far as usize, esr, regs);
}

/// `svc #0`. Linux: `el0_svc` -> `do_el0_svc` -> `invoke_syscall`.
#[no_mangle]
#[inline(never)]
pub fn el0_svc(regs: &mut PtRegs) {
    crate::syscall::invoke_syscall(regs);
}

/// Work before returning to user space: reschedule if the tick asked, act on pending
/// signals and on a system call's restart code (so none reaches user space even if the
/// signal that caused it is gone). Returns with interrupts masked (the eret path needs
/// them off). Linux: `exit_to_user_mode` -> `do_notify_resume`.
pub fn exit_to_user_mode(regs: &mut PtRegs) {
    use core::sync::atomic::Ordering;
    loop {
        crate::arch::cpu::local_irq_disable();
        let resched = crate::task::NEED_RESCHED.load(Ordering::Relaxed);
        let signal = crate::task::signal::signal_pending()
            || (regs.in_syscall() && crate::errno::Errno::restart_from_ret(regs.regs[0]).is_some());
        if !resched && !signal {
            return;
        }
        crate::arch::cpu::local_irq_enable();
        if signal {
            super::signal::do_signal(regs);
        }
        if resched {
            // The tick asked: check CPU-time limits and timers first (see
            // kernel/posix_cpu_timers.rs), then let another task run.
            crate::kernel::posix_cpu_timers::run_posix_cpu_timers();
            crate::task::schedule();
        }
    }
}

/// IRQ taken from EL1 (Linux: `el1_irq` -> `handle_arch_irq`).
#[no_mangle]
#[inline(never)]
pub extern "C" fn el1_irq_handler(_regs: &mut PtRegs) {
    crate::kernel::cputime::IRQ_FROM_USER.store(false, core::sync::atomic::Ordering::Relaxed);
    crate::drivers::irqchip::handle_arch_irq();
}

/// IRQ taken from EL0.
#[no_mangle]
#[inline(never)]
pub extern "C" fn el0_irq_handler(regs: &mut PtRegs) {
    crate::kernel::cputime::IRQ_FROM_USER.store(true, core::sync::atomic::Ordering::Relaxed);
    crate::drivers::irqchip::handle_arch_irq();
    exit_to_user_mode(regs);
}

/// Print the oops report (message, decoded syndrome, registers, backtrace) and panic.
/// Linux: `die` -> `__die` -> `show_regs` + `dump_backtrace`.
pub fn die(regs: &PtRegs, msg: fmt::Arguments<'_>) -> ! {
    let esr = Esr { raw: regs.esr };
    crate::kernel::panic::oops(
        format_args!(
            "{msg}\n{esr}\nFAR {:#018x}{}\n{regs}",
            regs.far,
            symbolize(regs.pc as usize)
        ),
        regs.stackframe.as_ptr() as usize,
    )
}

/// " at name+0xoff" for a text address, or nothing.
pub fn symbolize(pc: usize) -> SymbolName {
    SymbolName(pc)
}

/// Formats as ` (pc at name+0xoff)` when the symbol is known.
pub struct SymbolName(usize);

impl fmt::Display for SymbolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::kernel::kallsyms::lookup(self.0) {
            Some((name, off)) => write!(f, " (pc at {name}+{off:#x})"),
            None => Ok(()),
        }
    }
}

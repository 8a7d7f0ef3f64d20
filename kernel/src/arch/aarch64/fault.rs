//! Data and instruction aborts. Linux: `arch/arm64/mm/fault.c` (`do_mem_abort`,
//! `do_page_fault`, `__do_kernel_fault`, `die_kernel_fault`).
//!
//! User faults go `do_page_fault -> handle_user_fault -> handle_mm_fault`; a kernel fault
//! on a user address (uaccess) is demand-paged the same way first, then either has an
//! exception-table fixup (EFAULT) or is fatal, as any other kernel fault.
use super::esr::Esr;
use super::extable::{kernel_extable, record_fixup, search_extable, EXEC_PROBE};
use super::traps::{die, PtRegs};
use core::sync::atomic::Ordering;

/// Entry for every abort taken from EL1.
#[no_mangle]
#[inline(never)]
pub fn do_mem_abort(far: usize, esr: Esr, regs: &mut PtRegs) {
    // uaccess touching a user page that is not faulted in yet: demand-page it, as the
    // user's own access would, and retry the instruction (Linux: do_page_fault with
    // user_mode() false but the address in TASK_SIZE).
    if far < super::uaccess::TASK_SIZE
        && crate::task::current().is_some()
        && crate::mm::memory::handle_user_fault(far, esr) == crate::mm::memory::FaultResult::Handled
    {
        return;
    }
    if fixup_exception(regs) {
        return;
    }
    die_kernel_fault(far, esr, regs)
}

/// Resume at the fixup if the faulting instruction has one. Linux: `fixup_exception`.
pub fn fixup_exception(regs: &mut PtRegs) -> bool {
    let esr = Esr { raw: regs.esr };
    if let Some(fixup) = search_extable(kernel_extable(), regs.pc as usize) {
        record_fixup(regs.esr, regs.far);
        regs.pc = fixup as u64;
        return true;
    }
    // probe_exec: the fault is at the branch target, so return to its caller, x0 = 1.
    let probe = EXEC_PROBE.load(Ordering::SeqCst);
    if probe != 0 && esr.is_instruction_abort() && regs.far as usize == probe {
        record_fixup(regs.esr, regs.far);
        regs.regs[0] = 1;
        regs.pc = regs.regs[30];
        return true;
    }
    false
}

/// An abort the kernel cannot handle: report it like Linux and stop.
fn die_kernel_fault(far: usize, _esr: Esr, regs: &PtRegs) -> ! {
    let what = if far < crate::arch::PAGE_SIZE {
        "NULL pointer dereference"
    } else {
        "paging request"
    };
    die(
        regs,
        format_args!("Unable to handle kernel {what} at virtual address {far:016x}"),
    )
}

/// A data or instruction abort from EL0. Linux: `do_page_fault`: find the VMA, check the
/// access against its flags, `handle_mm_fault`; SIGSEGV/SIGBUS when that fails.
#[no_mangle]
#[inline(never)]
pub fn do_page_fault(far: usize, esr: Esr, regs: &mut PtRegs) {
    use crate::mm::memory::{handle_user_fault, FaultResult};
    use crate::task::signal::{force_sig_fault, SIGBUS, SIGSEGV};
    let result = handle_user_fault(far, esr);
    if result == FaultResult::Handled {
        return; // the common case: no report to build
    }
    let cause = esr
        .fault()
        .map(|k| alloc::format!("{k}"))
        .unwrap_or_default();
    let access = if esr.is_instruction_abort() {
        "exec"
    } else if esr.is_write() {
        "write"
    } else {
        "read"
    };
    match result {
        FaultResult::Handled => {}
        FaultResult::BadArea => force_sig_fault(
            SIGSEGV,
            regs,
            &alloc::format!("{access}: {cause}, no mapping"),
        ),
        FaultResult::BadAccess => force_sig_fault(
            SIGSEGV,
            regs,
            &alloc::format!("{access}: {cause}, not permitted by the mapping"),
        ),
        FaultResult::Sigbus => force_sig_fault(
            SIGBUS,
            regs,
            &alloc::format!("{access}: {cause}, beyond the mapped object"),
        ),
        FaultResult::Oom => force_sig_fault(crate::task::signal::SIGKILL, regs, "out of memory"),
    }
}

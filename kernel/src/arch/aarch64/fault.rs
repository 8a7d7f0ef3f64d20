//! Data and instruction aborts. Linux: `arch/arm64/mm/fault.c` (`do_mem_abort` and its
//! `fault_info[]` table, `do_translation_fault`, `do_page_fault`, `__do_page_fault`,
//! `__do_kernel_fault`, `die_kernel_fault`).
//!
//! Every abort, from EL0 (`el0_da`/`el0_ia`) or EL1 (`el1_abort`), enters
//! `do_mem_abort`, which picks the handler for the fault status code (DFSC/IFSC) from
//! `FAULT_INFO`, as Linux does: translation faults on a user address and permission and
//! access-flag faults go to `do_page_fault`, which takes `mm->mmap_lock` for read and runs
//! `__do_page_fault -> handle_mm_fault`. A kernel fault on a user address (uaccess) is
//! demand-paged the same way, then either has an exception-table fixup (EFAULT) or is
//! fatal. A fault that must wait for the disk lets go of the lock (VM_FAULT_RETRY) and is
//! retried with FAULT_FLAG_TRIED.
//!
//! This is entry code, above mm/: it finds the task's mm and delivers signals.
use super::esr::Esr;
use super::extable::{kernel_extable, record_fixup, search_extable, EXEC_PROBE};
use super::traps::{die, PtRegs};
use core::sync::atomic::Ordering;

/// One row of the abort table (Linux: `struct fault_info`): the handler (0: handled) and
/// what an unhandled fault of this kind means.
#[derive(Clone, Copy)]
pub struct FaultInfo {
    /// Linux: `fn`.
    pub func: fn(usize, Esr, &mut PtRegs) -> i32,
    /// The signal an unhandled user fault gets (Linux: `sig`).
    pub sig: u32,
    /// Its `si_code` (Linux: `code`: SEGV_MAPERR, BUS_ADRALN, ...).
    pub code: i32,
    /// Linux: `name`.
    pub name: &'static str,
}

const fn fault_info_for(fsc: usize) -> FaultInfo {
    use crate::task::signal::{
        BUS_ADRALN, BUS_OBJERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGKILL, SIGSEGV, SI_KERNEL,
    };
    match fsc {
        0..=3 => FaultInfo {
            func: do_bad,
            sig: SIGKILL,
            code: SI_KERNEL,
            name: "address size fault",
        },
        4..=7 => FaultInfo {
            func: do_translation_fault,
            sig: SIGSEGV,
            code: SEGV_MAPERR,
            name: "translation fault",
        },
        9..=11 => FaultInfo {
            func: do_page_fault,
            sig: SIGSEGV,
            code: SEGV_ACCERR,
            name: "access flag fault",
        },
        13..=15 => FaultInfo {
            func: do_page_fault,
            sig: SIGSEGV,
            code: SEGV_ACCERR,
            name: "permission fault",
        },
        16 => FaultInfo {
            func: do_bad,
            sig: SIGBUS,
            code: BUS_OBJERR,
            name: "synchronous external abort",
        },
        33 => FaultInfo {
            func: do_alignment_fault,
            sig: SIGBUS,
            code: BUS_ADRALN,
            name: "alignment fault",
        },
        48 => FaultInfo {
            func: do_bad,
            sig: SIGKILL,
            code: SI_KERNEL,
            name: "TLB conflict abort",
        },
        _ => FaultInfo {
            func: do_bad,
            sig: SIGKILL,
            code: SI_KERNEL,
            name: "unknown fault",
        },
    }
}

/// The handlers by fault status code, ISS bits [5:0] (Linux: `fault_info[]`).
pub static FAULT_INFO: [FaultInfo; 64] = {
    let mut t = [fault_info_for(63); 64];
    let mut i = 0;
    while i < 64 {
        t[i] = fault_info_for(i);
        i += 1;
    }
    t
};

/// Linux: `esr_to_fault_info`.
pub fn esr_to_fault_info(esr: Esr) -> &'static FaultInfo {
    &FAULT_INFO[(esr.raw & 0x3f) as usize]
}

/// Every data or instruction abort, from EL0 or EL1 (Linux: `do_mem_abort`): run the
/// handler `FAULT_INFO` names for the fault status code; a fault it could not handle
/// kills the user task with the table's signal, or the kernel.
#[no_mangle]
#[inline(never)]
pub fn do_mem_abort(far: usize, esr: Esr, regs: &mut PtRegs) {
    let inf = esr_to_fault_info(esr);
    if (inf.func)(far, esr, regs) == 0 {
        return;
    }
    if !regs.user_mode() {
        die(
            regs,
            format_args!(
                "Unhandled fault at {far:#018x}: {}",
                esr.fault()
                    .map_or(inf.name.into(), |k| alloc::format!("{k}"))
            ),
        );
    }
    crate::task::signal::force_sig_fault(inf.sig, inf.code, regs, inf.name);
}

/// A fault status nothing handles (Linux: `do_bad`).
fn do_bad(_far: usize, _esr: Esr, _regs: &mut PtRegs) -> i32 {
    1
}

/// A translation fault: a user address is demand-paged, anything else is a bad area
/// (Linux: `do_translation_fault`).
#[no_mangle]
#[inline(never)]
pub fn do_translation_fault(far: usize, esr: Esr, regs: &mut PtRegs) -> i32 {
    if far < super::uaccess::TASK_SIZE {
        return do_page_fault(far, esr, regs);
    }
    do_bad_area(far, esr, regs);
    0
}

/// An unaligned access (Linux: `do_alignment_fault`): a kernel one is fixed up or fatal,
/// a user one is SIGBUS.
fn do_alignment_fault(far: usize, esr: Esr, regs: &mut PtRegs) -> i32 {
    if regs.user_mode() {
        return 1;
    }
    __do_kernel_fault(far, esr, regs);
    0
}

/// No mapping can make this access work (Linux: `do_bad_area`): SIGSEGV for user space,
/// the fixup or death for the kernel.
fn do_bad_area(far: usize, esr: Esr, regs: &mut PtRegs) {
    if regs.user_mode() {
        __do_user_fault(crate::mm::memory::FaultResult::BadArea, esr, regs);
    } else {
        __do_kernel_fault(far, esr, regs);
    }
}

/// A kernel access that faulted for good: resume at its exception-table fixup (EFAULT for
/// uaccess), or die (Linux: `__do_kernel_fault`).
fn __do_kernel_fault(far: usize, esr: Esr, regs: &mut PtRegs) {
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

/// The signal a user fault gets and its one-line report (Linux: `__do_user_fault` ->
/// `arm64_force_sig_fault`).
fn __do_user_fault(result: crate::mm::memory::FaultResult, esr: Esr, regs: &mut PtRegs) {
    use crate::mm::memory::FaultResult;
    use crate::task::signal::{
        force_sig_fault, BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGKILL, SIGSEGV, SI_KERNEL,
    };
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
        FaultResult::Handled | FaultResult::Retry => {}
        FaultResult::BadArea => force_sig_fault(
            SIGSEGV,
            SEGV_MAPERR,
            regs,
            format_args!("{access}: {cause}, no mapping"),
        ),
        FaultResult::BadAccess => force_sig_fault(
            SIGSEGV,
            SEGV_ACCERR,
            regs,
            format_args!("{access}: {cause}, not permitted by the mapping"),
        ),
        FaultResult::Sigbus => force_sig_fault(
            SIGBUS,
            BUS_ADRERR,
            regs,
            format_args!("{access}: {cause}, beyond the mapped object"),
        ),
        // A retired page (Linux: do_page_fault's VM_FAULT_HWPOISON branch, lsb =
        // PAGE_SHIFT for a small page).
        FaultResult::HwPoison => crate::task::signal::force_sig_mceerr(
            crate::task::signal::BUS_MCEERR_AR,
            crate::arch::PAGE_SHIFT as u16,
            regs,
            format_args!("{access}: {cause}, memory failure (hardware poisoned page)"),
        ),
        // Not reached: do_page_fault hands VM_FAULT_OOM to the OOM killer.
        FaultResult::Oom => force_sig_fault(SIGKILL, SI_KERNEL, regs, "out of memory"),
    }
}

/// A fault on a user address, from EL0 or a uaccess at EL1 (Linux: arm64
/// `do_page_fault`): pick the fault and VMA flags, take `mmap_lock` for read, run
/// `__do_page_fault`; when that returns VM_FAULT_RETRY (it let go of the lock to read a
/// file page), read the page, take the lock again and retry with FAULT_FLAG_TRIED.
/// Then deliver the outcome: nothing, a signal, the OOM killer (VM_FAULT_OOM from user
/// space: `pagefault_out_of_memory`), or (kernel) the fixup. Always 0: every outcome is
/// dealt with here.
#[no_mangle]
#[inline(never)]
pub fn do_page_fault(far: usize, esr: Esr, regs: &mut PtRegs) -> i32 {
    use crate::mm::memory::{FaultFlags, FaultResult};
    use crate::mm::mmap_lock::{mmap_read_lock, mmap_read_trylock};
    use crate::mm::vma::VmFlags;
    let user = regs.user_mode();
    // A kernel address, or no user address space (a kernel thread): no context.
    let mm_ptr = if far < super::uaccess::TASK_SIZE {
        crate::task::with_current(|t| t.mm_ptr()).unwrap_or(core::ptr::null())
    } else {
        core::ptr::null()
    };
    // SAFETY: `current->mm`, read without a lock as Linux does: only the running task
    // replaces its own mm (exec, exit) and it is here, in a fault; `task.mm` keeps it
    // alive until then.
    let mm = unsafe { mm_ptr.as_ref() };
    let Some(mm) = mm else {
        if user {
            __do_user_fault(FaultResult::BadArea, esr, regs);
        } else {
            __do_kernel_fault(far, esr, regs);
        }
        return 0;
    };
    let mut mm_flags = FaultFlags::ALLOW_RETRY | FaultFlags::KILLABLE;
    if user {
        mm_flags |= FaultFlags::USER;
    }
    let vm_flags = if esr.is_instruction_abort() {
        mm_flags |= FaultFlags::INSTRUCTION;
        VmFlags::VM_EXEC
    } else if esr.is_write() {
        mm_flags |= FaultFlags::WRITE;
        VmFlags::VM_WRITE
    } else {
        VmFlags::VM_READ | VmFlags::VM_WRITE | VmFlags::VM_EXEC
    };
    // As Linux: a kernel access that cannot be fixed up must not sleep on the lock (it
    // may be ours); one with a fixup (uaccess) may.
    let mut locked = match mmap_read_trylock(mm) {
        Some(guard) => Some(guard),
        None if !user && search_extable(kernel_extable(), regs.pc as usize).is_none() => {
            __do_kernel_fault(far, esr, regs);
            return 0;
        }
        None => Some(mmap_read_lock(mm)),
    };
    let mut fpin = None;
    let fault = loop {
        let fault = __do_page_fault(mm, far, mm_flags, vm_flags, &mut locked, &mut fpin);
        if fault != FaultResult::Retry {
            break fault;
        }
        // VM_FAULT_RETRY: read the page (or the next readahead window) with the lock
        // dropped, then fault again.
        drop(locked.take());
        match fpin.take() {
            Some(crate::mm::memory::FaultRetry {
                swap: Some(entry), ..
            }) => crate::mm::memory::do_swap_page_io(entry),
            Some(crate::mm::memory::FaultRetry {
                uffd: Some(ctx),
                pgoff,
                ..
            }) => crate::mm::userfaultfd::handle_userfault_wait(
                &ctx,
                pgoff << crate::arch::PAGE_SHIFT,
                user,
            ),
            Some(r) if r.async_ra => crate::mm::filemap::do_async_mmap_readahead(r),
            Some(r) => crate::mm::filemap::do_sync_mmap_readahead(r),
            None => {}
        }
        if crate::task::signal::fatal_signal_pending()
            || (user && crate::task::signal::signal_pending())
        {
            // The task dies on its way out, or a signal handler runs first and the
            // access faults again after it (Linux: fault_signal_pending): nothing to map.
            break FaultResult::Handled;
        }
        mm_flags |= FaultFlags::TRIED;
        locked = Some(mmap_read_lock(mm));
    };
    drop(locked);
    if fault.is_handled() {
        return 0; // the common case: no report to build
    }
    if !user {
        // No context to handle this fault with: the fixup (EFAULT), or death.
        __do_kernel_fault(far, esr, regs);
        return 0;
    }
    if fault == FaultResult::Oom {
        // We ran out of memory: call the OOM killer and return to user space, which
        // retries the fault, or dies if it was the one killed (Linux: as here, with
        // mmap_lock already dropped).
        crate::mm::oom_kill::pagefault_out_of_memory();
        return 0;
    }
    __do_user_fault(fault, esr, regs);
    0
}

/// Find the VMA for `addr` (growing a stack down to it), check the access against its
/// flags, and fault the page in. Linux: arm64 `__do_page_fault` (find_vma, expand_stack,
/// VM_FAULT_BADMAP / VM_FAULT_BADACCESS, `handle_mm_fault`).
///
/// Locking: `*locked` holds `mm.mmap_lock` for read, on entry and on return. Growing a
/// stack needs it for write, so this lets go of the read hold, takes the write lock,
/// grows the stack and downgrades (Linux 6.5's `lock_mm_and_find_vma`; 5.10 grew the
/// stack under the read lock with the anon_vma lock, which we do not have yet). The grown
/// part is not populated: the fault maps the one page it needs.
#[no_mangle]
#[inline(never)]
pub fn __do_page_fault<'a>(
    mm: &'a crate::mm::mm_types::MmStruct,
    addr: usize,
    mm_flags: crate::mm::memory::FaultFlags,
    vm_flags: crate::mm::vma::VmFlags,
    locked: &mut Option<crate::mm::mmap_lock::MmapReadGuard<'a>>,
    fpin: &mut Option<crate::mm::memory::FaultRetry>,
) -> crate::mm::memory::FaultResult {
    use crate::mm::memory::{handle_mm_fault, FaultResult, FaultRetry};
    use crate::mm::mmap_lock::{mmap_write_downgrade, mmap_write_lock};
    use crate::mm::vma::{find_vma, VmFlags};
    let addr_page = addr & !(crate::arch::PAGE_SIZE - 1);
    let guard = locked.as_ref().expect("__do_page_fault without mmap_lock");
    let Some(mut vma) = find_vma(guard, addr) else {
        return FaultResult::BadArea;
    };
    if vma.vm_start > addr {
        if !vma.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
            return FaultResult::BadArea;
        }
        // expand_stack needs the write lock: trade the read hold for it.
        *locked = None;
        let mut pt = mm.pagetables();
        let mut w = mmap_write_lock(mm);
        let grown = match find_vma(&w, addr) {
            Some(v) if v.vm_start <= addr => true,
            Some(v) if v.vm_flags.contains(VmFlags::VM_GROWSDOWN) => {
                let start = v.vm_start;
                crate::mm::mmap::expand_stack(&mut w, &mut pt, start, addr_page).is_ok()
            }
            _ => false,
        };
        let guard = locked.insert(mmap_write_downgrade(w));
        match find_vma(guard, addr) {
            Some(v) if grown && v.vm_start <= addr => vma = v,
            _ => return FaultResult::BadArea,
        }
    }
    // Check that the permissions on the VMA allow for the fault which occurred.
    if !vma.vm_flags.intersects(vm_flags) {
        return FaultResult::BadAccess;
    }
    let fault = handle_mm_fault(mm, vma, addr_page, mm_flags);
    if fault == FaultResult::Retry {
        // Pin the file while the VMA is still ours to look at (Linux:
        // maybe_unlock_mmap_for_io's get_file).
        *fpin = FaultRetry::new(vma, addr_page);
    }
    fault
}

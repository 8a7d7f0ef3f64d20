//! Data and instruction aborts. Linux: `arch/arm64/mm/fault.c` (`do_mem_abort`,
//! `do_page_fault`, `__do_kernel_fault`, `die_kernel_fault`).
//!
//! User faults go `do_page_fault -> __do_page_fault -> handle_mm_fault` under
//! `mm->mmap_lock` held for read; a kernel fault on a user address (uaccess) is
//! demand-paged the same way first, then either has an exception-table fixup (EFAULT) or
//! is fatal, as any other kernel fault. A fault that must wait for the disk lets go of
//! the lock (VM_FAULT_RETRY) and is retried with FAULT_FLAG_TRIED.
//!
//! This is entry code, above mm/: it finds the task's mm and delivers signals.
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
        && do_user_addr_fault(far, esr, false, regs.pc as usize).is_handled()
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
    use crate::mm::memory::FaultResult;
    use crate::task::signal::{force_sig_fault, SIGBUS, SIGSEGV};
    let result = do_user_addr_fault(far, esr, true, regs.pc as usize);
    if result.is_handled() {
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
        // Retries are resolved in do_user_addr_fault.
        FaultResult::Retry(_) => {}
    }
}

/// The body of arm64's `do_page_fault` for a user address, from EL0 (`user`) or from a
/// uaccess at EL1: pick the fault and VMA flags, take `mmap_lock` for read, run
/// `__do_page_fault`, and when that returns VM_FAULT_RETRY (it let go of the lock to
/// read a file page) take the lock again and retry with FAULT_FLAG_TRIED.
fn do_user_addr_fault(
    far: usize,
    esr: Esr,
    user: bool,
    pc: usize,
) -> crate::mm::memory::FaultResult {
    use crate::mm::memory::{FaultFlags, FaultResult};
    use crate::mm::mmap_lock::{mmap_read_lock, mmap_read_trylock};
    use crate::mm::vma::VmFlags;
    let Some(Some(mm)) = crate::task::with_current(|t| t.mm.lock().clone()) else {
        return FaultResult::BadArea;
    };
    crate::mm::vmstat::count_vm_event(crate::mm::vmstat::VmStat::PGFAULT);
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
    let mut locked = match mmap_read_trylock(&mm) {
        Some(guard) => Some(guard),
        None if !user && search_extable(kernel_extable(), pc).is_none() => {
            return FaultResult::BadArea;
        }
        None => Some(mmap_read_lock(&mm)),
    };
    loop {
        let fault = __do_page_fault(&mm, far, mm_flags, vm_flags, &mut locked);
        let FaultResult::Retry(retry) = fault else {
            return fault;
        };
        // VM_FAULT_RETRY: read the page with the lock dropped, then fault again.
        drop(locked.take());
        crate::mm::filemap::do_sync_mmap_readahead(retry);
        if crate::task::signal::fatal_signal_pending() {
            // The task dies on its way out; nothing to map (Linux: fault_signal_pending).
            return FaultResult::Handled;
        }
        mm_flags |= FaultFlags::TRIED;
        locked = Some(mmap_read_lock(&mm));
    }
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
) -> crate::mm::memory::FaultResult {
    use crate::mm::memory::{handle_mm_fault, FaultResult};
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
    handle_mm_fault(mm, vma, addr_page, mm_flags)
}

//! Creating processes: clone with SIGCHLD only (fork). Linux: `kernel/fork.c`
//! (`kernel_clone`, `copy_process`, `copy_mm` -> `dup_mm` -> `dup_mmap`),
//! `mm/memory.c` (`copy_page_range`), `arch/arm64/kernel/process.c` (`copy_thread`).
use super::{alloc_task, current, wake_up_process};
use crate::arch::aarch64::traps::PtRegs;
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::mmap_lock::{mmap_write_lock, mmap_write_lock_killable};
use crate::mm::vma::{VmFlags, VmaPageTables};
use crate::syscall::SyscallArgs;
use alloc::sync::Arc;

/// SIGCHLD: the only exit signal we support, and no CLONE_* flags.
const CSIGNAL: usize = 0xff;

/// Copy the parent's address space: every VMA (except VM_DONTCOPY) with its page-table
/// entries; private writable pages become copy-on-write in both. mlock is not inherited
/// (VM_LOCKED cleared). Each VM_ACCOUNT VMA is charged again for the child
/// (`security_vm_enough_memory_mm`): when the overcommit policy refuses, the fork fails
/// with ENOMEM, and dropping the half-built child mm (`exit_mmap`) gives back what its
/// VMAs were charged. Linux: `dup_mmap` (which charges against the parent's mm; the
/// policy here is system-wide, so the two are the same). Locking: the parent's
/// `mmap_lock` for write (its PTEs become read-only), then the child's, as Linux nests them.
#[no_mangle]
#[inline(never)]
pub fn dup_mmap(parent: &MmStruct) -> KResult<Arc<MmStruct>> {
    let child = MmStruct::new()?;
    {
        let mut pt = child.pagetables();
        let src = mmap_write_lock_killable(parent)?;
        let mut dst = mmap_write_lock(&child);
        dst.mmap_base = src.mmap_base;
        dst.mmap_layout = src.mmap_layout;
        dst.task_size = src.task_size;
        dst.start_code = src.start_code;
        dst.end_code = src.end_code;
        dst.start_data = src.start_data;
        dst.end_data = src.end_data;
        dst.start_brk = src.start_brk;
        dst.brk = src.brk;
        dst.start_stack = src.start_stack;
        dst.arg_start = src.arg_start;
        dst.arg_end = src.arg_end;
        dst.env_start = src.env_start;
        dst.env_end = src.env_end;
        dst.rlim = src.rlim;
        dst.cap_ipc_lock = src.cap_ipc_lock;
        dst.cap_sys_rawio = src.cap_sys_rawio;
        dst.def_flags = src.def_flags & !(VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT);
        for vma in src.mm_rb.values() {
            if vma.vm_flags.contains(VmFlags::VM_DONTCOPY) {
                continue;
            }
            // Linux: vm_area_dup from vm_area_cachep, NULL -> fail_nomem.
            let mut v = crate::mm::vma::vm_area_box(crate::mm::vma::vm_area_dup(vma))?;
            v.vm_flags
                .remove(VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT);
            if crate::mm::rmap::anon_vma_fork(&mut v, vma).is_err() {
                return Err(Errno::ENOMEM);
            }
            let pages = v.vma_pages();
            if v.vm_flags.contains(VmFlags::VM_ACCOUNT) {
                pt.security_vm_enough_memory_mm(pages)?;
            }
            if !vma.vm_flags.contains(VmFlags::VM_WIPEONFORK) {
                let _ptl = parent.page_table_lock.lock();
                let copied = crate::mm::memory::copy_page_range(child.pgd, parent.pgd, vma);
                if copied.is_err() {
                    // This VMA never reaches the child's tree, so exit_mmap will not
                    // give its charge back: do it here.
                    if v.vm_flags.contains(VmFlags::VM_ACCOUNT) {
                        pt.vm_unacct_memory(pages);
                    }
                    return Err(Errno::ENOMEM);
                }
            }
            crate::mm::mmap::vm_stat_account(&mut dst, v.vm_flags, pages as isize);
            crate::mm::vma::vma_link_box(&mut dst, v);
        }
    }
    // The parent's writable PTEs just became read-only: drop its cached translations.
    crate::arch::cpu::flush_tlb_asid(parent.asid());
    Ok(child)
}

/// clone(2) as fork: `flags` must be exactly SIGCHLD (threads, vfork and namespaces are
/// EINVAL); `newsp` (x1) non-zero gives the child that stack. The child returns 0.
/// Linux: `kernel_clone` -> `copy_process`.
pub fn sys_clone(a: SyscallArgs, regs: &mut PtRegs) -> KResult<usize> {
    let (flags, newsp) = (a.0[0], a.0[1]);
    if flags & !CSIGNAL != 0 || flags & CSIGNAL != crate::task::signal::SIGCHLD as usize {
        return Err(Errno::EINVAL);
    }
    let parent = current().ok_or(Errno::ESRCH)?;
    let mm = parent.mm.lock().clone().ok_or(Errno::EINVAL)?;
    let child_mm = dup_mmap(&mm)?;
    let (child, child_regs) = alloc_task(&parent.comm(), None, 0).ok_or(Errno::ENOMEM)?;
    // copy_thread: the child's user registers are ours, returning 0.
    // SAFETY: the pt_regs slot of a task that has not run yet.
    unsafe {
        *child_regs = *regs;
        (*child_regs).regs[0] = 0;
        if newsp != 0 {
            (*child_regs).sp = newsp as u64;
        }
    }
    super::copy_thread_tls(&child);
    child.set_mm(Some(child_mm));
    wake_up_process(&child);
    Ok(child.pid as usize)
}

//! Creating processes and threads: clone(2) (fork, vfork, pthread_create). Linux:
//! `kernel/fork.c` (`kernel_clone`, `copy_process`, `copy_mm` -> `dup_mm` -> `dup_mmap`,
//! `mm_release`), `mm/memory.c` (`copy_page_range`), `arch/arm64/kernel/process.c`
//! (`copy_thread`).
use super::{alloc_task, current, wake_up_process};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::put_user;
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::mmap_lock::{mmap_write_lock, mmap_write_lock_killable};
use crate::mm::vma::{VmFlags, VmaPageTables};
use crate::syscall::SyscallArgs;
use alloc::sync::Arc;

/// The low byte of the clone flags: the signal the parent gets at exit.
pub const CSIGNAL: usize = 0xff;
/// Share the address space (Linux: `CLONE_VM`).
pub const CLONE_VM: usize = 0x100;
/// Share the current directory (Linux: `CLONE_FS`).
pub const CLONE_FS: usize = 0x200;
/// Share the descriptor table (Linux: `CLONE_FILES`).
pub const CLONE_FILES: usize = 0x400;
/// Share the signal actions (Linux: `CLONE_SIGHAND`).
pub const CLONE_SIGHAND: usize = 0x800;
/// Return a pidfd (Linux: `CLONE_PIDFD`; not supported: EINVAL).
pub const CLONE_PIDFD: usize = 0x1000;
/// Be traced too (ignored: no ptrace).
pub const CLONE_PTRACE: usize = 0x2000;
/// The parent sleeps until the child execs or exits (Linux: `CLONE_VFORK`).
pub const CLONE_VFORK: usize = 0x4000;
/// The child's parent is the caller's parent (Linux: `CLONE_PARENT`).
pub const CLONE_PARENT: usize = 0x8000;
/// Same thread group: a thread (Linux: `CLONE_THREAD`).
pub const CLONE_THREAD: usize = 0x1_0000;
/// New mount namespace (not supported: EINVAL).
pub const CLONE_NEWNS: usize = 0x2_0000;
/// Share System V semaphore undo lists (accepted; nothing to share yet).
pub const CLONE_SYSVSEM: usize = 0x4_0000;
/// Set the child's TPIDR_EL0 to the `tls` argument (Linux: `CLONE_SETTLS`).
pub const CLONE_SETTLS: usize = 0x8_0000;
/// Store the child's tid at `parent_tid` in the parent (Linux: `CLONE_PARENT_SETTID`).
pub const CLONE_PARENT_SETTID: usize = 0x10_0000;
/// Clear (and futex-wake) `child_tid` when the child exits (Linux: `CLONE_CHILD_CLEARTID`).
pub const CLONE_CHILD_CLEARTID: usize = 0x20_0000;
/// Obsolete, ignored (Linux: `CLONE_DETACHED`).
pub const CLONE_DETACHED: usize = 0x40_0000;
/// Ignored without ptrace (Linux: `CLONE_UNTRACED`).
pub const CLONE_UNTRACED: usize = 0x80_0000;
/// Store the child's tid at `child_tid` in the child (Linux: `CLONE_CHILD_SETTID`).
pub const CLONE_CHILD_SETTID: usize = 0x100_0000;
/// Share I/O context (accepted: one context).
pub const CLONE_IO: usize = 0x8000_0000;

/// The flags we implement or accept; the namespace flags (CLONE_NEWNS, NEWUTS, NEWIPC,
/// NEWUSER, NEWPID, NEWNET, NEWCGROUP) and CLONE_PIDFD are EINVAL here.
const CLONE_SUPPORTED: usize = CSIGNAL
    | CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_IO;

/// What a vfork parent sleeps on until its child lets go of the borrowed address space
/// (Linux: `struct completion vfork` in `kernel_clone`).
pub struct VforkDone {
    done: core::sync::atomic::AtomicBool,
    wq: crate::sync::WaitQueueHead,
}

impl VforkDone {
    /// Linux: `complete_vfork_done`.
    pub fn complete(&self) {
        self.done.store(true, core::sync::atomic::Ordering::SeqCst);
        self.wq.wake_up();
    }
}

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
        dst.sigpage = src.sigpage;
        dst.arg_start = src.arg_start;
        dst.arg_end = src.arg_end;
        dst.env_start = src.env_start;
        dst.env_end = src.env_end;
        dst.rlim = src.rlim;
        dst.cap_ipc_lock = src.cap_ipc_lock;
        dst.cap_sys_rawio = src.cap_sys_rawio;
        dst.cap_sys_admin = src.cap_sys_admin;
        dst.def_flags = src.def_flags & !(VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT);
        for vma in src.mm_rb.values() {
            if vma.vm_flags.contains(VmFlags::VM_DONTCOPY) {
                continue;
            }
            // Linux: vm_area_dup from vm_area_cachep, NULL -> fail_nomem.
            let mut v = crate::mm::vma::vm_area_box(crate::mm::vma::vm_area_dup(vma))?;
            v.vm_flags
                .remove(VmFlags::VM_LOCKED | VmFlags::VM_LOCKONFAULT);
            crate::mm::userfaultfd::dup_userfaultfd(&mut v);
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

/// clone(2): `flags` (CLONE_*, low byte the exit signal), `newsp` (x1: the child's
/// stack, 0 for the parent's), `parent_tid`, `tls`, `child_tid` in arm64's order. A child
/// without CLONE_VM gets a copy of the address space (fork); with CLONE_VM it shares it
/// (vfork, threads), and with CLONE_THREAD it joins the caller's process. The checks are
/// `copy_process`'s: CLONE_THREAD needs CLONE_SIGHAND, CLONE_SIGHAND needs CLONE_VM,
/// init may not make siblings (CLONE_PARENT / CLONE_THREAD), an exit signal above 64 is
/// EINVAL. The child returns 0; the parent the child's tid. Linux: `kernel_clone` ->
/// `copy_process` (`copy_mm`, `copy_thread`), and `wait_for_vfork_done`.
#[no_mangle]
#[inline(never)]
pub fn sys_clone(a: SyscallArgs, regs: &mut PtRegs) -> KResult<usize> {
    let (flags, newsp, parent_tid, tls, child_tid) = (a.0[0], a.0[1], a.0[2], a.0[3], a.0[4]);
    kernel_clone(flags, newsp, parent_tid, tls, child_tid, regs)
}

/// Linux: `kernel_clone`.
#[no_mangle]
#[inline(never)]
pub fn kernel_clone(
    flags: usize,
    newsp: usize,
    parent_tid: usize,
    tls: usize,
    child_tid: usize,
    regs: &mut PtRegs,
) -> KResult<usize> {
    use core::sync::atomic::Ordering;
    if flags & !CLONE_SUPPORTED != 0 || flags & 0xffff_ffff_0000_0000 != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    let exit_signal = (flags & CSIGNAL) as u32;
    if flags & CLONE_THREAD == 0 && exit_signal > crate::task::signal::NSIG {
        return Err(Errno::EINVAL);
    }
    let parent = current().ok_or(Errno::ESRCH)?;
    // Siblings of init would have no parent to reap them (Linux: EINVAL).
    if flags & CLONE_PARENT != 0 && parent.tgid == super::exit::CHILD_REAPER {
        return Err(Errno::EINVAL);
    }
    let mm = parent.mm.lock().clone().ok_or(Errno::EINVAL)?;
    // copy_mm: share with CLONE_VM (mm_users + 1: one more Arc), else duplicate.
    let child_mm = if flags & CLONE_VM != 0 {
        mm
    } else {
        dup_mmap(&mm)?
    };
    let (child, child_regs) = alloc_task(&parent.comm(), None, 0, flags).ok_or(Errno::ENOMEM)?;
    // copy_thread: the child's user registers are ours, returning 0.
    // SAFETY: the pt_regs slot of a task that has not run yet.
    unsafe {
        *child_regs = *regs;
        (*child_regs).regs[0] = 0;
        if newsp != 0 {
            (*child_regs).sp = newsp as u64;
        }
    }
    if flags & CLONE_SETTLS != 0 {
        child.tp_value_set(tls as u64);
    } else {
        super::copy_thread_tls(&child);
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        child
            .set_child_tid
            .store(child_tid as u64, Ordering::Relaxed);
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        child
            .clear_child_tid
            .store(child_tid as u64, Ordering::Relaxed);
    }
    child.set_mm(Some(child_mm));
    if flags & CLONE_PARENT_SETTID != 0 {
        // Linux ignores a fault here too.
        let _ = put_user(parent_tid, child.pid());
    }
    let vfork = (flags & CLONE_VFORK != 0).then(|| {
        let done = Arc::new(VforkDone {
            done: core::sync::atomic::AtomicBool::new(false),
            wq: crate::sync::WaitQueueHead::new(),
        });
        *child.vfork_done.lock() = Some(done.clone());
        done
    });
    let tid = child.pid();
    wake_up_process(&child);
    drop(child);
    if let Some(done) = vfork {
        // wait_for_vfork_done: killable; the child completes it at exec or exit.
        let _ = done
            .wq
            .wait_event_killable(|| done.done.load(Ordering::SeqCst));
    }
    Ok(tid as usize)
}

/// The thread lets go of its address space at exit or exec: clear and wake the tid word
/// that pthread_join sleeps on (CLONE_CHILD_CLEARTID / set_tid_address) if others still
/// use the mm, release the robust futexes it held, and let a vfork parent go on.
/// Linux: `mm_release` (`futex_exit_release`, the `clear_child_tid` block,
/// `complete_vfork_done`).
#[no_mangle]
#[inline(never)]
pub fn mm_release(task: &super::Task, mm: &Arc<MmStruct>) {
    use core::sync::atomic::Ordering;
    crate::kernel::futex::exit_robust_list(task);
    let tid_addr = task.clear_child_tid.swap(0, Ordering::Relaxed) as usize;
    // Others still use the mm: more users than the task's own and the caller's `Arc`.
    if tid_addr != 0 && crate::mm::mm_types::mm_users(mm) > 2 && put_user(tid_addr, 0u32).is_ok() {
        crate::kernel::futex::futex_wake_addr(mm, tid_addr, 1);
    }
    if let Some(done) = task.vfork_done.lock().take() {
        done.complete();
    }
}

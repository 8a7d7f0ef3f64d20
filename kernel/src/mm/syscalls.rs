//! The memory-management system calls: argument decoding and the task's mm, around the
//! VMA code in `mmap.rs`/`mprotect.rs`. Linux: `arch/arm64/kernel/sys.c` (`sys_mmap`),
//! the SYSCALL_DEFINEs in `mm/mmap.c` (`brk`, `munmap`), `mm/mprotect.c`, `mm/mincore.c`.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{access_ok, copy_to_user};
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::vma::{find_vma, MappedFile};
use crate::syscall::SyscallArgs;
use crate::task::mm::{Mm, MmPageTables};
use crate::task::{current, Task};
use alloc::sync::Arc;

/// Run `f` on the current task's mm under its lock, with the task's limits and
/// capabilities copied in (the mm code reads them from there).
pub fn with_mm<T>(f: impl FnOnce(&mut MmStruct, &mut MmPageTables, &Arc<Mm>) -> T) -> KResult<T> {
    let task = current().ok_or(Errno::ESRCH)?;
    let mm = task.mm.lock().clone().ok_or(Errno::EFAULT)?;
    let mut pt = mm.pagetables();
    let mut guard = mm.lock();
    sync_task_limits(&task, &mut guard);
    Ok(f(&mut guard, &mut pt, &mm))
}

/// Copy rlimits and the root-only capabilities into the mm.
pub fn sync_task_limits(task: &Task, mm: &mut MmStruct) {
    for (dst, src) in mm.rlim.iter_mut().zip(task.rlim.lock().iter()) {
        dst.cur = src.cur;
        dst.max = src.max;
    }
    let root = task.cred.lock().euid == 0;
    mm.cap_ipc_lock = root;
    mm.cap_sys_rawio = root;
}

/// mmap(2). The fd is looked up only without MAP_ANONYMOUS; a bad one is passed as
/// None so `ksys_mmap_pgoff` reports EBADF where Linux does. /dev/zero maps as anonymous
/// memory (Linux: `mmap_zero`).
pub fn sys_mmap(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    use crate::mm::mmap::{MAP_ANONYMOUS, MAP_SHARED, MAP_TYPE};
    let (addr, len, prot, mut flags, fd, off) =
        (a.0[0], a.0[1], a.0[2], a.0[3], a.0[4] as i32, a.0[5]);
    let mut file: Option<Arc<dyn MappedFile>> = None;
    if flags & MAP_ANONYMOUS == 0 {
        if let Ok(f) = crate::fs::sys::fget(fd) {
            let attr = f.inode().attr();
            if crate::fs::inode::s_ischr(attr.i_mode)
                && attr.i_rdev == crate::fs::char_dev::ZERO_DEV
            {
                flags |= MAP_ANONYMOUS;
                if flags & MAP_TYPE != MAP_SHARED {
                    file = None;
                }
            } else {
                file = Some(Arc::new(crate::mm::filemap::FileMapping::new(f)));
            }
        }
    }
    with_mm(|mm, pt, _| crate::mm::mmap::sys_mmap(mm, pt, addr, len, prot, flags, file, off))?
}

/// munmap(2).
pub fn sys_munmap(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    with_mm(|mm, pt, _| crate::mm::mmap::vm_munmap(mm, pt, a.0[0], a.0[1]))??;
    Ok(0)
}

/// mprotect(2).
pub fn sys_mprotect(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    with_mm(|mm, pt, _| crate::mm::mprotect::sys_mprotect(mm, pt, a.0[0], a.0[1], a.0[2]))??;
    Ok(0)
}

/// brk(2): the new break, or the old one on any failure.
pub fn sys_brk(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    with_mm(|mm, pt, _| crate::mm::mmap::sys_brk(mm, pt, a.0[0]))
}

/// mincore(2): one byte per page, 1 when resident. EINVAL for an unaligned start,
/// ENOMEM when the range is not fully mapped (or past TASK_SIZE), EFAULT for a bad
/// vector. Linux: `mm/mincore.c` (`do_mincore`, `mincore_pte_range`).
pub fn sys_mincore(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (start, len, vec) = (a.0[0], a.0[1], a.0[2]);
    if start & 0xfff != 0 {
        return Err(Errno::EINVAL);
    }
    let pages = len.div_ceil(4096);
    let end = pages
        .checked_mul(4096)
        .and_then(|bytes| start.checked_add(bytes));
    if end.is_none_or(|e| e > crate::mm::mm_types::TASK_SIZE) {
        return Err(Errno::ENOMEM);
    }
    if !access_ok(vec, pages) {
        return Err(Errno::EFAULT);
    }
    let mut out = alloc::vec![0u8; pages.min(1 << 20)];
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(out.len());
        let base = start + done * 4096;
        with_mm(|mm, pt, _| -> KResult<()> {
            // Every page must be inside some VMA.
            let mut addr = base;
            while addr < base + n * 4096 {
                let v = find_vma(mm, addr)
                    .filter(|v| v.vm_start <= addr)
                    .ok_or(Errno::ENOMEM)?;
                let end = v.vm_end.min(base + n * 4096);
                while addr < end {
                    let pte = crate::mm::memory::pte_offset(pt.pgd, addr, false).map_or(0, |p| *p);
                    // A present PTE, or (no PTE yet) a file page already in the page
                    // cache (Linux: mincore_pte_range / mincore_unmapped_range).
                    let resident = if crate::arch::aarch64::pgtable::pte_present(pte) {
                        true
                    } else {
                        v.vm_file.as_ref().is_some_and(|f| {
                            f.in_page_cache(((addr - v.vm_start) >> 12) + v.vm_pgoff)
                        })
                    };
                    out[(addr - base) / 4096] = resident as u8;
                    addr += 4096;
                }
            }
            Ok(())
        })??;
        copy_to_user(vec + done, &out[..n])?;
        done += n;
    }
    Ok(0)
}

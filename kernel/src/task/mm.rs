//! A task's address space: the `MmStruct` (VMAs, counters) behind its lock, the page
//! tables and the ASID. Linux: `task_struct.mm`, `mm->mmap_lock`, `mm->context`
//! (`include/linux/mm_types.h`), `mm_alloc`/`mmput`/`dup_mm` (`kernel/fork.c`),
//! `switch_mm` (`arch/arm64/include/asm/mmu_context.h`), `exit_mmap` (`mm/mmap.c`).
//!
//! Lock order: the mm lock is never held across a user access (the fault path takes
//! it), so system calls copy user memory before or after, never during.
use crate::arch::aarch64::context::AsidAllocator;
use crate::arch::aarch64::pgtable::{mk_leaf, pte_present, pte_write, PgProt};
use crate::arch::cpu;
use crate::errno::{Errno, KResult};
use crate::mm::memory::{self, for_each_pte, free_pgd_range, zap_page_range};
use crate::mm::mm_types::{MmStruct, TASK_SIZE};
use crate::mm::vma::{VmArea, VmaPageTables};
use crate::sync::SpinLockIrq;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

static ASIDS: SpinLockIrq<Option<AsidAllocator>> = SpinLockIrq::new(None);

/// An address space shared by the tasks using it (Linux: `struct mm_struct` as reached
/// through `task->mm`; `MmStruct` holds the VMA part).
pub struct Mm {
    /// Physical address of the top-level table (Linux: `mm->pgd`).
    pub pgd: usize,
    /// `generation << 16 | asid` (Linux: `mm->context.id`).
    context_id: AtomicU64,
    /// The VMAs and counters under the mmap lock (Linux: `mm->mmap_lock`).
    inner: spin::Mutex<MmStruct>,
}

impl Mm {
    /// A new empty address space (Linux: `mm_alloc` -> `mm_init` -> `pgd_alloc`).
    pub fn new() -> KResult<Arc<Mm>> {
        let pgd = memory::pgd_alloc().ok_or(Errno::ENOMEM)?;
        let mut mm = MmStruct::new();
        mm.pgd = pgd;
        Ok(Arc::new(Mm {
            pgd,
            context_id: AtomicU64::new(0),
            inner: spin::Mutex::new(mm),
        }))
    }

    /// Take the mmap lock (Linux: `mmap_write_lock`; we do not distinguish readers).
    pub fn lock(&self) -> spin::MutexGuard<'_, MmStruct> {
        self.inner.lock()
    }

    /// Take the lock unless it is held: a fault taken while the lock is held (a kernel
    /// bug or a uaccess under the lock) fails instead of deadlocking.
    pub fn try_lock(&self) -> Option<spin::MutexGuard<'_, MmStruct>> {
        self.inner.try_lock()
    }

    /// The ASID currently assigned (0 before the first switch).
    pub fn asid(&self) -> u16 {
        (self.context_id.load(Ordering::Relaxed) & 0xffff) as u16
    }

    /// The page-table operations for this mm's VMA code.
    pub fn pagetables(&self) -> MmPageTables {
        MmPageTables {
            pgd: self.pgd,
            asid: self.asid(),
        }
    }

    /// Make this address space the live one in TTBR0 (Linux: `switch_mm` ->
    /// `check_and_switch_context` -> `cpu_switch_mm`).
    pub fn activate(&self) {
        let mut guard = ASIDS.lock();
        let alloc = guard
            .get_or_insert_with(|| AsidAllocator::new(crate::arch::aarch64::context::ASID_BITS));
        let r = alloc.check_and_switch_context(self.context_id.load(Ordering::Relaxed));
        self.context_id.store(r.context_id, Ordering::Relaxed);
        let asid = alloc.asid(r.context_id);
        drop(guard);
        if r.flush_all {
            cpu::flush_tlb_all();
        }
        // try_lock: a task that sleeps in a page fault (disk I/O) holds its own mm lock,
        // and is switched back in through here; spinning would deadlock the CPU. The
        // fault path reads the ASID lock-free (`asid()`), and a held lock means its holder
        // is this task, which resumes with the new context_id.
        if let Some(mut guard) = self.try_lock() {
            guard.asid = asid;
        }
        cpu::set_ttbr0(self.pgd, asid);
    }
}

impl Drop for Mm {
    /// The last user is gone: free every page and table (Linux: `mmput` -> `exit_mmap`).
    fn drop(&mut self) {
        let asid = self.asid();
        let inner = self.inner.get_mut();
        // exit_mmap: munlock the pages of locked VMAs before they are freed, so they are
        // counted as munlocked, not as freed while mlocked.
        if inner.locked_vm != 0 {
            for v in inner.mm_rb.values() {
                if v.vm_flags.contains(crate::mm::vma::VmFlags::VM_LOCKED) {
                    crate::mm::mlock::munlock_page_range(self.pgd, v.vm_start, v.vm_end);
                }
            }
        }
        inner.mm_rb.clear();
        memory::free_user_pgtables(self.pgd, asid);
    }
}

/// The page-table side of the VMA code (`mm/mmap.rs`, `mm/mprotect.rs`) for one mm.
pub struct MmPageTables {
    /// The mm's pgd.
    pub pgd: usize,
    /// Its ASID, for TLB invalidation.
    pub asid: u16,
}

impl VmaPageTables for MmPageTables {
    fn unmap_vmas(&mut self, vmas: &[VmArea], start: usize, end: usize) {
        for v in vmas {
            zap_page_range(
                self.pgd,
                start.max(v.vm_start),
                end.min(v.vm_end),
                self.asid,
            );
        }
    }

    fn free_pgtables(&mut self, _vmas: &[VmArea], floor: usize, ceiling: usize) {
        // Our free_pgd_range only frees tables with no entries left, so any range is safe.
        let ceiling = if ceiling == 0 { TASK_SIZE } else { ceiling };
        free_pgd_range(self.pgd, floor, ceiling);
    }

    fn change_protection(
        &mut self,
        vma: &VmArea,
        start: usize,
        end: usize,
        newprot: PgProt,
        _dirty: bool,
    ) -> usize {
        let mut n = 0;
        let shared = vma.vm_flags.contains(crate::mm::vma::VmFlags::VM_SHARED);
        let writable = vma.vm_flags.contains(crate::mm::vma::VmFlags::VM_WRITE);
        for_each_pte(self.pgd, start, end, |va, pte| {
            if !pte_present(*pte) {
                return;
            }
            let pa = crate::arch::aarch64::pgtable::pte_phys(*pte);
            let mut new = mk_leaf(pa, newprot, 3);
            // A private page we already own stays writable when the VMA allows writes
            // (Linux keeps the dirty/write state through pte_modify).
            if writable && !shared && pte_write(*pte) && !memory::is_zero_pte(*pte) {
                new = crate::arch::aarch64::pgtable::pte_mkwrite(new);
            }
            if new != *pte {
                *pte = new;
                cpu::flush_tlb_page(self.asid, va);
                n += 1;
            }
        });
        n
    }

    /// munmap of a locked VMA, and munlock of a range (the VMA cut to it): clear the
    /// mlock of every page mapped there (Linux: `munlock_vma_pages_all` /
    /// `munlock_vma_pages_range`).
    fn munlock_vma_pages_all(&mut self, vma: &VmArea) {
        crate::mm::mlock::munlock_page_range(self.pgd, vma.vm_start, vma.vm_end);
    }

    /// MAP_POPULATE, MAP_LOCKED, brk and mmap under mlockall(MCL_FUTURE): fault the range
    /// in now (Linux: `mm_populate`, called by `vm_mmap_pgoff` / `vm_brk_flags`).
    fn mm_populate(&mut self, mm: &mut MmStruct, start: usize, len: usize) {
        let (pgd, asid) = (self.pgd, self.asid);
        crate::mm::gup::mm_populate(mm, self, pgd, asid, start, len);
    }

    fn shmem_zero_setup(&mut self, vma: &mut VmArea) -> KResult<()> {
        let file = crate::fs::tmpfs::shmem_zero_file(vma.vm_end - vma.vm_start)?;
        vma.vm_file = Some(Arc::new(crate::mm::filemap::FileMapping::new(file)));
        vma.vm_pgoff = 0;
        Ok(())
    }
}

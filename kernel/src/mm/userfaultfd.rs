//! userfaultfd: a missing-page fault in a registered range is handed to a user thread,
//! which reads it from a file descriptor and resolves it by copying a page in.
//!
//! Linux: `mm/userfaultfd.c` (`mcopy_atomic`, `mfill_zeropage`, `mcopy_atomic_pte`,
//! `mfill_zeropage_pte`) and the fault half of `fs/userfaultfd.c` (`struct
//! userfaultfd_ctx`, `handle_userfault`, `userfaultfd_must_wait`, `wake_userfault`,
//! `dup_userfaultfd`, `mremap_userfaultfd_prep`). The file half (the system call, read,
//! poll, the ioctls, release) is in `fs/userfaultfd.rs`.
//!
//! ```text
//! user access to a registered, missing page
//!   do_page_fault -> __do_page_fault -> handle_mm_fault -> handle_pte_fault
//!     -> do_anonymous_page -> handle_userfault   (queue the message, VM_FAULT_RETRY)
//!   do_page_fault drops mmap_lock -> handle_userfault_wait (sleep)
//! the handler thread: poll -> read (uffd_msg) -> ioctl(UFFDIO_COPY)
//!   userfaultfd_copy -> mcopy_atomic -> mcopy_atomic_pte -> wake_userfault
//! the faulting thread wakes, faults again, finds the page.
//! ```
//!
//! Differences from 5.10, which keeps the context in `fs/` and sleeps inside
//! `handle_userfault` after dropping `mmap_lock` itself: our mm may not reach into `fs/`,
//! and our fault callers drop `mmap_lock` on VM_FAULT_RETRY (as they do for file I/O), so
//! the context lives here and the sleep is its own function, `handle_userfault_wait`,
//! which the caller runs once the lock is gone. The message is queued under the lock, as
//! in Linux, so a handler that resolves the page before we sleep still wakes us.
//! Only anonymous private memory can be registered, MISSING mode only (5.10 also takes
//! shmem and hugetlbfs; write-protect mode is x86-only in 5.10, EINVAL on arm64); the
//! only optional feature is UFFD_FEATURE_SIGBUS. VMAs registered with a context never
//! merge with a neighbour (Linux merges equal contexts; `vma_merge` takes no context here).
use crate::errno::{Errno, KResult};
use crate::mm::memory::{FaultFlags, FaultResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::vma::{VmArea, VmFault, VmFlags};
use crate::sync::wait::SleepState;
use crate::sync::{SpinLock, WaitQueueHead};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The API version userfaultfd speaks (Linux: `UFFD_API`).
pub const UFFD_API: u64 = 0xAA;
/// Feature: a fault in a registered range raises SIGBUS instead of queueing a message
/// (Linux: `UFFD_FEATURE_SIGBUS`).
pub const UFFD_FEATURE_SIGBUS: u64 = 1 << 7;
/// The features this kernel offers (Linux: `UFFD_API_FEATURES`, of which we have one).
pub const UFFD_API_FEATURES: u64 = UFFD_FEATURE_SIGBUS;
/// userfaultfd(2) flag: only faults from user space are handled; a kernel access to a
/// missing page fails (Linux 5.11: `UFFD_USER_MODE_ONLY`).
pub const UFFD_USER_MODE_ONLY: u32 = 1;
/// Register mode: report faults on missing pages (Linux: `UFFDIO_REGISTER_MODE_MISSING`).
pub const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
/// Register mode: report writes to write-protected pages (Linux:
/// `UFFDIO_REGISTER_MODE_WP`; x86-only in 5.10, so EINVAL here).
pub const UFFDIO_REGISTER_MODE_WP: u64 = 2;
/// UFFDIO_COPY / UFFDIO_ZEROPAGE mode: do not wake the faulting threads (Linux:
/// `UFFDIO_COPY_MODE_DONTWAKE`, `UFFDIO_ZEROPAGE_MODE_DONTWAKE`).
pub const UFFDIO_COPY_MODE_DONTWAKE: u64 = 1;
/// UFFDIO_COPY mode: map the page write-protected (Linux: `UFFDIO_COPY_MODE_WP`; no
/// uffd-wp on arm64 in 5.10).
pub const UFFDIO_COPY_MODE_WP: u64 = 2;
/// `uffd_msg.event` of a page fault (Linux: `UFFD_EVENT_PAGEFAULT`).
pub const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
/// `uffd_msg.arg.pagefault.flags`: the fault was a write (Linux:
/// `UFFD_PAGEFAULT_FLAG_WRITE`).
pub const UFFD_PAGEFAULT_FLAG_WRITE: u64 = 1;
/// The VMA flags a registration sets (Linux: `__VM_UFFD_FLAGS`).
pub const VM_UFFD_FLAGS: VmFlags = VmFlags::VM_UFFD_MISSING.union(VmFlags::VM_UFFD_WP);

/// One fault waiting for user space (Linux: a `userfaultfd_wait_queue` on the faulting
/// task's stack, first on `fault_pending_wqh`, on `fault_wqh` once read).
struct UffdFault {
    /// The page-aligned faulting address (5.10 reports `vmf->address`, page aligned).
    address: usize,
    /// `UFFD_PAGEFAULT_FLAG_*`.
    flags: u64,
    /// Read by user space already (Linux: moved from `fault_pending_wqh` to `fault_wqh`).
    read: bool,
    /// Who waits: the faulting task ([`crate::sync::wait::current_id`]).
    waiter: usize,
}

/// The message `read(2)` returns for a fault (Linux: `struct uffd_msg`, 32 bytes:
/// `event`, three reserved fields, then `arg.pagefault.{flags, address, feat}`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UffdMsg {
    /// `UFFD_EVENT_*`.
    pub event: u8,
    /// Linux: `reserved1`.
    pub reserved1: u8,
    /// Linux: `reserved2`.
    pub reserved2: u16,
    /// Linux: `reserved3`.
    pub reserved3: u32,
    /// `arg.pagefault.flags`.
    pub flags: u64,
    /// `arg.pagefault.address`.
    pub address: u64,
    /// `arg.pagefault.feat.ptid` (UFFD_FEATURE_THREAD_ID, not offered: 0) and padding.
    pub feat: u64,
}

/// One userfaultfd (Linux: `struct userfaultfd_ctx`). Registered VMAs hold it
/// (`vm_userfaultfd_ctx`); so does the open file.
pub struct UserfaultfdCtx {
    /// The address space it was made in (Linux: `ctx->mm`, held with `mmgrab`: the
    /// struct, not the mappings, so a process's exit is not held up by its own fd).
    pub mm: Weak<MmStruct>,
    /// userfaultfd(2)'s flags (UFFD_USER_MODE_ONLY; Linux: `ctx->flags`).
    pub flags: u32,
    /// The features UFFDIO_API enabled (Linux: `ctx->features`).
    features: AtomicU64,
    /// UFFDIO_API has been done (Linux 5.10: `ctx->state == UFFD_STATE_RUNNING`).
    api_done: AtomicBool,
    /// The file was closed (Linux: `ctx->released`): faults no longer wait.
    released: AtomicBool,
    /// The faults waiting for user space (Linux: `fault_pending_wqh` and `fault_wqh`).
    faults: SpinLock<Vec<UffdFault>>,
    /// Faulting tasks sleep here until their fault is resolved.
    fault_wqh: WaitQueueHead,
    /// read(2) sleeps here for a message (Linux: `fd_wqh`).
    pub fd_wqh: WaitQueueHead,
    /// Wakes poll(2) sleepers (the file layer's poll queue; mm cannot name it).
    poll_wake: fn(),
}

impl UserfaultfdCtx {
    /// A new context for `mm` (Linux: the `kmem_cache_alloc` in `userfaultfd(2)`).
    pub fn new(mm: &Arc<MmStruct>, flags: u32, poll_wake: fn()) -> UserfaultfdCtx {
        UserfaultfdCtx {
            mm: Arc::downgrade(mm),
            flags,
            features: AtomicU64::new(0),
            api_done: AtomicBool::new(false),
            released: AtomicBool::new(false),
            faults: SpinLock::new(Vec::new()),
            fault_wqh: WaitQueueHead::new(),
            fd_wqh: WaitQueueHead::new(),
            poll_wake,
        }
    }

    /// UFFDIO_API: once, with `api == UFFD_API` and only features we have (Linux:
    /// `userfaultfd_api`). Returns the features now on. EINVAL otherwise.
    pub fn api(&self, api: u64, features: u64) -> KResult<u64> {
        if api != UFFD_API || features & !UFFD_API_FEATURES != 0 {
            return Err(Errno::EINVAL);
        }
        if self.api_done.swap(true, Ordering::AcqRel) {
            return Err(Errno::EINVAL);
        }
        self.features.store(features, Ordering::Release);
        Ok(UFFD_API_FEATURES)
    }

    /// Was the file closed?
    pub fn released(&self) -> bool {
        self.released.load(Ordering::Acquire)
    }

    /// Has UFFDIO_API been done (every other ioctl needs it: EINVAL before)?
    pub fn api_done(&self) -> bool {
        self.api_done.load(Ordering::Acquire)
    }

    /// The next unread message, marked read (Linux: `userfaultfd_ctx_read`'s
    /// `find_userfault`, which moves the entry to `fault_wqh`).
    pub fn read_msg(&self) -> Option<UffdMsg> {
        let mut q = self.faults.lock();
        let f = q.iter_mut().find(|f| !f.read)?;
        f.read = true;
        Some(UffdMsg {
            event: UFFD_EVENT_PAGEFAULT,
            flags: f.flags,
            address: f.address as u64,
            ..UffdMsg::default()
        })
    }

    /// Is there a message to read (poll's POLLIN)?
    pub fn has_pending(&self) -> bool {
        self.faults.lock().iter().any(|f| !f.read)
    }

    /// The file was closed: nothing waits from now on (Linux: the tail of
    /// `userfaultfd_release`, after the VMAs were unregistered).
    pub fn release(&self) {
        self.released.store(true, Ordering::Release);
        self.faults.lock().clear();
        self.fault_wqh.wake_up();
        self.fd_wqh.wake_up();
        (self.poll_wake)();
    }
}

/// Is `vma` registered for missing-page faults (Linux: `userfaultfd_missing`)? A
/// registration whose file was closed does not count: closing cannot take `mmap_lock`
/// (the last reference may go under a spin lock), so where Linux's
/// `userfaultfd_release` unregisters every VMA, ours are left marked with a released
/// context and behave as unregistered ones.
#[inline]
pub fn userfaultfd_missing(vma: &VmArea) -> bool {
    vma.vm_flags.contains(VmFlags::VM_UFFD_MISSING)
        && vma
            .vm_userfaultfd_ctx
            .as_ref()
            .is_some_and(|c| !c.released())
}

/// A missing page in a registered VMA: tell user space and have the caller wait (Linux:
/// `handle_userfault`). Queues the message (under `mmap_lock`, as Linux does) and returns
/// VM_FAULT_RETRY; the caller drops the lock and sleeps in `handle_userfault_wait`.
/// SIGBUS when the context asked for it (UFFD_FEATURE_SIGBUS), for a kernel access with
/// UFFD_USER_MODE_ONLY, or for a fault that may not drop the lock (no
/// FAULT_FLAG_ALLOW_RETRY: 5.10 warns and answers SIGBUS too). A closed context: fault
/// again (Linux: VM_FAULT_NOPAGE while release unregisters). OOM when the queue cannot grow.
#[no_mangle]
#[inline(never)]
pub fn handle_userfault(vmf: &VmFault<'_>, reason: VmFlags) -> FaultResult {
    let Some(ctx) = vmf.vma.vm_userfaultfd_ctx.as_ref() else {
        return FaultResult::Sigbus;
    };
    if ctx.released.load(Ordering::Acquire) {
        return FaultResult::Handled;
    }
    if ctx.features.load(Ordering::Acquire) & UFFD_FEATURE_SIGBUS != 0 {
        return FaultResult::Sigbus;
    }
    if !vmf.flags.contains(FaultFlags::USER) && ctx.flags & UFFD_USER_MODE_ONLY != 0 {
        return FaultResult::Sigbus;
    }
    // A fault that may not drop the lock cannot wait. A remote one (/proc/pid/mem, a
    // core dump) counts as such: Linux's `__access_remote_vm` passes no `locked`, so it
    // never has FAULT_FLAG_ALLOW_RETRY; ours keeps the lock through `FOLL_TRIED` instead.
    if !vmf.flags.contains(FaultFlags::ALLOW_RETRY) || vmf.flags.contains(FaultFlags::REMOTE) {
        return FaultResult::Sigbus;
    }
    debug_assert!(reason.contains(VmFlags::VM_UFFD_MISSING));
    let flags = if vmf.flags.contains(FaultFlags::WRITE) {
        UFFD_PAGEFAULT_FLAG_WRITE
    } else {
        0
    };
    let waiter = crate::sync::wait::current_id();
    {
        let mut q = ctx.faults.lock();
        if q.try_reserve(1).is_err() {
            return FaultResult::Oom;
        }
        q.push(UffdFault {
            address: vmf.address,
            flags,
            read: false,
            waiter,
        });
    }
    // Queued first, then checked (Linux: `userfaultfd_must_wait`): a UFFDIO_COPY that
    // filled the page before we queued has also woken before, and would never wake us;
    // one that fills it after this check wakes our entry.
    let filled = {
        let _ptl = vmf.mm.page_table_lock.lock();
        crate::mm::memory::pte_offset(vmf.mm.pgd, vmf.address, false)
            .is_some_and(|pte| !crate::arch::aarch64::pgtable::pte_none(*pte))
    };
    if filled {
        let address = vmf.address;
        ctx.faults
            .lock()
            .retain(|f| !(f.waiter == waiter && f.address == address && !f.read));
        return FaultResult::Handled;
    }
    ctx.fd_wqh.wake_up();
    (ctx.poll_wake)();
    FaultResult::Retry
}

/// The sleeping half of `handle_userfault`, run by the fault's caller once `mmap_lock`
/// is gone: wait until user space resolves the page at `address` (a UFFDIO_COPY,
/// ZEROPAGE or WAKE covering it wakes us) or the file is closed. A user fault sleeps
/// interruptibly (a signal sends the task back to user space, which faults again after
/// its handler), a kernel one killably (Linux: TASK_INTERRUPTIBLE vs TASK_KILLABLE in
/// `handle_userfault`). A task that stops waiting takes its message off the queue.
#[no_mangle]
#[inline(never)]
pub fn handle_userfault_wait(ctx: &UserfaultfdCtx, address: usize, user: bool) {
    let me = crate::sync::wait::current_id();
    let mine = |f: &UffdFault| f.waiter == me && f.address == address;
    let state = if user {
        SleepState::Interruptible
    } else {
        SleepState::Killable
    };
    let done = ctx.fault_wqh.wait_event_state(state, || {
        ctx.released.load(Ordering::Acquire) || !ctx.faults.lock().iter().any(mine)
    });
    if done.is_err() {
        ctx.faults.lock().retain(|f| !mine(f));
    }
}

/// Wake the faults waiting on `[start, start + len)` (Linux: `wake_userfault` ->
/// `__wake_userfault`): their entries leave the queue, read or not.
#[no_mangle]
#[inline(never)]
pub fn wake_userfault(ctx: &UserfaultfdCtx, start: usize, len: usize) {
    let end = start.saturating_add(len);
    let woke = {
        let mut q = ctx.faults.lock();
        let before = q.len();
        q.retain(|f| f.address < start || f.address >= end);
        q.len() != before
    };
    if woke {
        ctx.fault_wqh.wake_up();
    }
}

/// A fork child's copy of a registered VMA: without UFFD_FEATURE_EVENT_FORK (which we do
/// not offer) the child is not registered (Linux: `dup_userfaultfd`).
pub fn dup_userfaultfd(vma: &mut VmArea) {
    vma.vm_userfaultfd_ctx = None;
    vma.vm_flags.remove(VM_UFFD_FLAGS);
}

/// The new VMA of a moved mapping: without UFFD_FEATURE_EVENT_REMAP the handler cannot
/// know where it went, so it is not registered; the old range (kept by MREMAP_DONTUNMAP)
/// stays registered (Linux: `mremap_userfaultfd_prep`).
pub fn mremap_userfaultfd_prep(vma: &mut VmArea) {
    vma.vm_userfaultfd_ctx = None;
    vma.vm_flags.remove(VM_UFFD_FLAGS);
}

/// UFFDIO_COPY (`src` is `Some`) or UFFDIO_ZEROPAGE: fill the missing pages of
/// `[dst, dst + len)` in `mm`, which must lie in one VMA registered with `ctx`, page by
/// page (Linux: `mcopy_atomic` / `mfill_zeropage` -> `__mcopy_atomic`). Returns the
/// bytes filled; an error only if none were (Linux reports the partial count, and
/// -EAGAIN to the caller). ENOENT: the range is not (or no longer) one registered VMA;
/// EINVAL: it is not anonymous private memory; EEXIST: a page is already there; EFAULT:
/// `src` unreadable; ENOMEM.
///
/// Each source page is copied in before `mmap_lock` is taken (5.10 copies under it with
/// page faults disabled and retries without the lock when that fails; a fault on `src`
/// under our lock would be a fault taking the same lock).
#[no_mangle]
#[inline(never)]
pub fn __mcopy_atomic(
    mm: &MmStruct,
    ctx: &Arc<UserfaultfdCtx>,
    dst: usize,
    src: Option<usize>,
    len: usize,
) -> KResult<usize> {
    use crate::arch::PAGE_SIZE;
    let mut copied = 0;
    while copied < len {
        let r = mfill_atomic_pte(mm, ctx, dst, dst + copied, len, src.map(|s| s + copied));
        match r {
            Ok(()) => copied += PAGE_SIZE,
            Err(e) if copied == 0 => return Err(e),
            Err(_) => break,
        }
        if crate::sync::wait::fatal_signal_pending() {
            break;
        }
    }
    Ok(copied)
}

/// Fill one page at `addr` of the range `[dst, dst + len)` (Linux: `mfill_atomic_pte`
/// -> `mcopy_atomic_pte` with a source, `mfill_zeropage_pte` without).
#[no_mangle]
#[inline(never)]
pub fn mfill_atomic_pte(
    mm: &MmStruct,
    ctx: &Arc<UserfaultfdCtx>,
    dst: usize,
    addr: usize,
    len: usize,
    src: Option<usize>,
) -> KResult<()> {
    use crate::arch::aarch64::pgtable::{mk_pte, pte_mkdirty, pte_mkwrite, pte_none};
    use crate::arch::PAGE_SIZE;
    use crate::mm::memory::{pte_offset, zero_page_phys};
    use crate::mm::page::{page_address, page_to_phys, put_page};
    use crate::mm::page_alloc::{alloc_page, GfpFlags};
    // The new page and its contents, before the lock (see __mcopy_atomic).
    let page = match src {
        Some(s) => {
            let page = alloc_page(GfpFlags::GFP_KERNEL).ok_or(Errno::ENOMEM)?;
            // SAFETY: a fresh page, ours alone, mapped in the kernel's linear map.
            let buf = unsafe {
                core::slice::from_raw_parts_mut(page_address(page) as *mut u8, PAGE_SIZE)
            };
            if crate::arch::aarch64::uaccess::copy_from_user(buf, s).is_err() {
                put_page(page);
                return Err(Errno::EFAULT);
            }
            Some(page)
        }
        None => None,
    };
    let give_back = |page: Option<&'static crate::mm::page::Page>| {
        if let Some(p) = page {
            put_page(p);
        }
    };
    let guard = crate::mm::mmap_lock::mmap_read_lock(mm);
    // Linux: find_dst_vma: the whole range in one VMA registered with this context.
    let vma = match crate::mm::vma::find_vma(&guard, addr) {
        Some(v)
            if v.vm_start <= dst
                && dst + len <= v.vm_end
                && v.vm_userfaultfd_ctx
                    .as_ref()
                    .is_some_and(|c| Arc::ptr_eq(c, ctx)) =>
        {
            v
        }
        _ => {
            give_back(page);
            return Err(Errno::ENOENT);
        }
    };
    if vma.vm_file.is_some() || vma.vm_flags.contains(VmFlags::VM_SHARED) {
        give_back(page);
        return Err(Errno::EINVAL);
    }
    if crate::mm::rmap::anon_vma_prepare(vma, &mm.page_table_lock).is_err() {
        give_back(page);
        return Err(Errno::ENOMEM);
    }
    let Some(pte) = pte_offset(mm.pgd, addr, true) else {
        give_back(page);
        return Err(Errno::ENOMEM);
    };
    let _ptl = mm.page_table_lock.lock();
    if !pte_none(*pte) {
        give_back(page);
        return Err(Errno::EEXIST);
    }
    match page {
        Some(page) => {
            let mut entry = pte_mkdirty(mk_pte(page_to_phys(page), vma.vm_page_prot));
            if vma.vm_flags.contains(VmFlags::VM_WRITE) {
                entry = pte_mkwrite(entry);
            }
            crate::mm::rmap::page_add_new_anon_rmap(page, vma, addr);
            crate::mm::swap::lru_cache_add_inactive_or_unevictable(page, vma);
            *pte = entry;
        }
        // Linux: pte_mkspecial(pfn_pte(my_zero_pfn(dst_addr), dst_vma->vm_page_prot)).
        None => *pte = mk_pte(zero_page_phys(), vma.vm_page_prot),
    }
    Ok(())
}

//! The userfaultfd file: userfaultfd(2), read(2) of fault messages, poll(2), the
//! UFFDIO_* ioctls and the close that ends it.
//!
//! Linux: `fs/userfaultfd.c` (`SYSCALL_DEFINE1(userfaultfd)`, `userfaultfd_read`,
//! `userfaultfd_poll`, `userfaultfd_ioctl` -> `userfaultfd_api`, `userfaultfd_register`,
//! `userfaultfd_unregister`, `userfaultfd_wake`, `userfaultfd_copy`,
//! `userfaultfd_zeropage`, `userfaultfd_release`). The context and the fault side are in
//! `mm/userfaultfd.rs`, which the fault path can reach.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{get_user, put_user};
use crate::arch::PAGE_SIZE;
use crate::errno::{Errno, KResult};
use crate::fs::char_dev::{CharDevice, POLLERR, POLLIN, POLLRDNORM, POLL_WAIT};
use crate::fs::file::File;
use crate::fs::inode::{Inode, InodeAttr, SuperBlock};
use crate::fs::{O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::mm::mm_types::{MmStruct, MmapLocked, MMAP_MIN_ADDR};
use crate::mm::userfaultfd::{
    UffdMsg, UserfaultfdCtx, UFFDIO_COPY_MODE_DONTWAKE, UFFDIO_COPY_MODE_WP,
    UFFDIO_REGISTER_MODE_MISSING, UFFDIO_REGISTER_MODE_WP, UFFD_API, UFFD_API_FEATURES,
    UFFD_USER_MODE_ONLY, VM_UFFD_FLAGS,
};
use crate::mm::vma::VmFlags;
use crate::syscall::SyscallArgs;
use crate::task::RLIMIT_NOFILE;
use alloc::sync::Arc;

/// ioctl: handshake, `struct uffdio_api` (Linux: `UFFDIO_API`, `_IOWR(0xAA, 0x3F, ...)`).
pub const UFFDIO_API: u32 = 0xC018_AA3F;
/// ioctl: register a range, `struct uffdio_register` (`_IOWR(0xAA, 0x00, ...)`).
pub const UFFDIO_REGISTER: u32 = 0xC020_AA00;
/// ioctl: unregister a range, `struct uffdio_range` (`_IOR(0xAA, 0x01, ...)`).
pub const UFFDIO_UNREGISTER: u32 = 0x8010_AA01;
/// ioctl: wake the faults in a range, `struct uffdio_range` (`_IOR(0xAA, 0x02, ...)`).
pub const UFFDIO_WAKE: u32 = 0x8010_AA02;
/// ioctl: copy pages in, `struct uffdio_copy` (`_IOWR(0xAA, 0x03, ...)`).
pub const UFFDIO_COPY: u32 = 0xC028_AA03;
/// ioctl: map zero pages, `struct uffdio_zeropage` (`_IOWR(0xAA, 0x04, ...)`).
pub const UFFDIO_ZEROPAGE: u32 = 0xC020_AA04;
/// The ioctls UFFDIO_API reports (Linux: `UFFD_API_IOCTLS`: REGISTER, UNREGISTER, API).
pub const UFFD_API_IOCTLS: u64 = 1 << 0x00 | 1 << 0x01 | 1 << 0x3F;
/// The ioctls UFFDIO_REGISTER reports for a range (Linux: `UFFD_API_RANGE_IOCTLS`:
/// WAKE, COPY, ZEROPAGE).
pub const UFFD_API_RANGE_IOCTLS: u64 = 1 << 0x02 | 1 << 0x03 | 1 << 0x04;

/// The open file of a userfaultfd (Linux: the anon-inode file whose `private_data` is
/// the `userfaultfd_ctx`).
struct UserfaultfdFile {
    ctx: Arc<UserfaultfdCtx>,
}

/// The inode behind it (Linux: the one shared `anon_inode_inode`).
struct AnonInode {
    attr: InodeAttr,
}

impl Inode for AnonInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }
}

/// The internal anon_inodefs instance (Linux: `anon_inode_mnt`).
static ANON_INODEFS: spin::Once<Arc<SuperBlock>> = spin::Once::new();

impl CharDevice for UserfaultfdFile {
    /// Fault messages, 32 bytes each, as many as fit and are queued; the first may wait
    /// unless O_NONBLOCK (Linux: `userfaultfd_read` -> `userfaultfd_ctx_read`). EINVAL
    /// before UFFDIO_API or for a buffer smaller than one message.
    fn read(&self, f_flags: u32, _pos: u64, buf: &mut [u8]) -> KResult<usize> {
        const MSG: usize = core::mem::size_of::<UffdMsg>();
        if !self.ctx.api_done() || buf.len() < MSG {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        while buf.len() - n >= MSG {
            let msg = match self.ctx.read_msg() {
                Some(m) => m,
                None if n > 0 || self.ctx.released() => break,
                None if f_flags & O_NONBLOCK != 0 => return Err(Errno::EAGAIN),
                None => {
                    let ctx = &self.ctx;
                    ctx.fd_wqh
                        .wait_event_interruptible(|| ctx.has_pending() || ctx.released())?;
                    continue;
                }
            };
            // SAFETY: UffdMsg is plain `repr(C)` data without padding holes.
            let bytes =
                unsafe { core::slice::from_raw_parts(&msg as *const UffdMsg as *const u8, MSG) };
            buf[n..n + MSG].copy_from_slice(bytes);
            n += MSG;
        }
        Ok(n)
    }

    /// No write method (Linux: EINVAL from `vfs_write`).
    fn write(&self, _f: u32, _pos: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EINVAL)
    }

    fn is_stream(&self) -> bool {
        true
    }

    fn poll(&self) -> u16 {
        self.poll_file(O_NONBLOCK)
    }

    /// POLLERR before UFFDIO_API and on a blocking descriptor (a poller would
    /// otherwise sleep on its own faults), POLLIN with a message queued (Linux:
    /// `userfaultfd_poll`).
    fn poll_file(&self, f_flags: u32) -> u16 {
        if !self.ctx.api_done() || f_flags & O_NONBLOCK == 0 {
            return POLLERR;
        }
        if self.ctx.has_pending() {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    fn unlocked_ioctl(&self, cmd: u32, arg: usize) -> KResult<usize> {
        userfaultfd_ioctl(&self.ctx, cmd, arg)
    }
}

impl Drop for UserfaultfdFile {
    /// The last descriptor was closed (Linux: `userfaultfd_release`): wake every
    /// waiting fault and stop queueing new ones. The VMAs stay marked but count as
    /// unregistered (see `userfaultfd_missing`): the last reference can go where
    /// `mmap_lock` cannot be taken.
    fn drop(&mut self) {
        self.ctx.release();
    }
}

/// userfaultfd(2): a new context for the caller's mm, as a file (Linux:
/// `SYSCALL_DEFINE1(userfaultfd)` -> `new_userfaultfd`). Flags: O_CLOEXEC, O_NONBLOCK and
/// UFFD_USER_MODE_ONLY (5.11), else EINVAL. Unprivileged use is allowed, as 5.10's
/// default `vm.unprivileged_userfaultfd = 1`.
#[no_mangle]
#[inline(never)]
pub fn sys_userfaultfd(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let flags = a.0[0] as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY) != 0 {
        return Err(Errno::EINVAL);
    }
    let task = crate::task::current().ok_or(Errno::ESRCH)?;
    let mm = task.mm.lock().clone().ok_or(Errno::EINVAL)?;
    let ctx = Arc::new(UserfaultfdCtx::new(
        &mm,
        flags & UFFD_USER_MODE_ONLY,
        poll_wake,
    ));
    let sb = ANON_INODEFS
        .call_once(|| SuperBlock::new("anon_inodefs", super::inode::get_anon_bdev(), false, 1));
    let inode: Arc<dyn Inode> = Arc::new(AnonInode {
        attr: InodeAttr::new(sb, sb.get_next_ino(), 0o600, 1, 0),
    });
    let dev: Arc<dyn CharDevice> = Arc::new(UserfaultfdFile { ctx });
    let file = Arc::new(File::new(
        alloc::string::String::from("anon_inode:[userfaultfd]"),
        inode,
        Some(dev),
        O_RDWR | (flags & O_NONBLOCK),
    ));
    let limit = task.rlim.lock()[RLIMIT_NOFILE].cur as usize;
    let fd = task
        .files
        .lock()
        .alloc_fd(file, flags & O_CLOEXEC != 0, limit)?;
    Ok(fd as usize)
}

/// Wake poll(2) sleepers: a fault was queued or the context closed.
fn poll_wake() {
    POLL_WAIT.wake_up();
}

/// Linux: `userfaultfd_ioctl`. Every command but UFFDIO_API needs the handshake done;
/// an unknown command is EINVAL.
#[no_mangle]
#[inline(never)]
pub fn userfaultfd_ioctl(ctx: &Arc<UserfaultfdCtx>, cmd: u32, arg: usize) -> KResult<usize> {
    if cmd != UFFDIO_API && !ctx.api_done() {
        return Err(Errno::EINVAL);
    }
    match cmd {
        UFFDIO_API => userfaultfd_api(ctx, arg),
        UFFDIO_REGISTER => userfaultfd_register(ctx, arg),
        UFFDIO_UNREGISTER => userfaultfd_unregister(ctx, arg),
        UFFDIO_WAKE => userfaultfd_wake(ctx, arg),
        UFFDIO_COPY => userfaultfd_copy(ctx, arg),
        UFFDIO_ZEROPAGE => userfaultfd_zeropage(ctx, arg),
        _ => Err(Errno::EINVAL),
    }
}

/// UFFDIO_API: check the version and requested features, report ours (Linux:
/// `userfaultfd_api`; a bad request gets the struct zeroed back).
fn userfaultfd_api(ctx: &UserfaultfdCtx, arg: usize) -> KResult<usize> {
    let req: [u64; 3] = get_user(arg)?;
    if ctx.api_done() {
        return Err(Errno::EINVAL);
    }
    if req[0] != UFFD_API || req[1] & !UFFD_API_FEATURES != 0 {
        put_user(arg, [0u64; 3])?;
        return Err(Errno::EINVAL);
    }
    put_user(arg, [UFFD_API, UFFD_API_FEATURES, UFFD_API_IOCTLS])?;
    ctx.api(req[0], req[1])?;
    Ok(0)
}

/// A range user space passed: page aligned, not empty, inside `[mmap_min_addr,
/// TASK_SIZE)`, else EINVAL (Linux: `validate_range`). Returns its end.
fn validate_range(start: u64, len: u64) -> KResult<usize> {
    let (start, len) = (start as usize, len as usize);
    let task_size = crate::arch::aarch64::uaccess::TASK_SIZE;
    if start & (PAGE_SIZE - 1) != 0 || len & (PAGE_SIZE - 1) != 0 || len == 0 {
        return Err(Errno::EINVAL);
    }
    if start < MMAP_MIN_ADDR || start >= task_size || len > task_size - start {
        return Err(Errno::EINVAL);
    }
    Ok(start + len)
}

/// The context's mm while it lives (Linux: `mmget_not_zero(ctx->mm)`); ESRCH once the
/// process is gone.
fn ctx_mm(ctx: &UserfaultfdCtx) -> KResult<Arc<MmStruct>> {
    ctx.mm.upgrade().ok_or(Errno::ESRCH)
}

/// May `vma` be registered (Linux: `vma_can_userfault`)? Anonymous private memory only
/// here (5.10 also takes shmem and hugetlbfs).
fn vma_can_userfault(vma: &crate::mm::vma::VmArea) -> bool {
    vma.vm_ops.is_none() && vma.vm_file.is_none() && !vma.vm_flags.contains(VmFlags::VM_SHARED)
}

/// Give `[start, end)` of the VMA keyed `key` the userfaultfd state `ctx` (None to
/// unregister), splitting it off first (Linux: the `vma_merge` / `split_vma` pair in
/// `userfaultfd_register` and `userfaultfd_unregister`).
fn uffd_fixup(
    mm: &mut MmapLocked,
    key: usize,
    start: usize,
    end: usize,
    ctx: Option<&Arc<UserfaultfdCtx>>,
) -> KResult<()> {
    let mut key = key;
    if start != mm.mm_rb[&key].vm_start {
        crate::mm::vma::split_vma(mm, key, start, true)?;
        key = start;
    }
    if end != mm.mm_rb[&key].vm_end {
        crate::mm::vma::split_vma(mm, key, end, false)?;
    }
    let v = mm.mm_rb.get_mut(&key).ok_or(Errno::ENOMEM)?;
    v.vm_flags.remove(VM_UFFD_FLAGS);
    if ctx.is_some() {
        v.vm_flags |= VmFlags::VM_UFFD_MISSING;
    }
    v.vm_userfaultfd_ctx = ctx.cloned();
    Ok(())
}

/// The keys of the VMAs meeting `[start, end)`, in order; ENOMEM when the list cannot
/// grow (user space picks the range, so it may span many VMAs).
fn vmas_in(mm: &MmapLocked, start: usize, end: usize) -> KResult<alloc::vec::Vec<usize>> {
    let mut keys = alloc::vec::Vec::new();
    let mut k = crate::mm::vma::find_vma_key(mm, start);
    while let Some(key) = k {
        if mm.mm_rb[&key].vm_start >= end {
            break;
        }
        keys.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        keys.push(key);
        k = crate::mm::vma::vma_next(mm, Some(key));
    }
    Ok(keys)
}

/// Does `vma` belong to a live context other than `ctx`?
fn other_ctx(vma: &crate::mm::vma::VmArea, ctx: &Arc<UserfaultfdCtx>) -> bool {
    vma.vm_userfaultfd_ctx
        .as_ref()
        .is_some_and(|c| !Arc::ptr_eq(c, ctx) && !c.released())
}

/// UFFDIO_REGISTER: report missing-page faults of every VMA in the range to `ctx`
/// (Linux: `userfaultfd_register`). EINVAL: no mode or an unknown one, WP mode (not on
/// arm64 in 5.10), a bad range, no VMA in it, a VMA that is not anonymous private
/// memory or was never writable; EBUSY: a VMA registered with another userfaultfd;
/// ENOMEM: too many VMAs to split. Writes back the ioctls the range supports.
#[no_mangle]
#[inline(never)]
pub fn userfaultfd_register(ctx: &Arc<UserfaultfdCtx>, arg: usize) -> KResult<usize> {
    let req: [u64; 4] = get_user(arg)?;
    let (start, len, mode) = (req[0], req[1], req[2]);
    if mode == 0 || mode & !(UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP) != 0 {
        return Err(Errno::EINVAL);
    }
    if mode & UFFDIO_REGISTER_MODE_WP != 0 {
        return Err(Errno::EINVAL);
    }
    let mm = ctx_mm(ctx)?;
    let end = validate_range(start, len)?;
    let start = start as usize;
    {
        let mut w = crate::mm::mmap_lock::mmap_write_lock_killable(&mm)?;
        let keys = vmas_in(&w, start, end)?;
        if keys.is_empty() {
            return Err(Errno::EINVAL);
        }
        for k in &keys {
            let v = &w.mm_rb[k];
            if !vma_can_userfault(v) || !v.vm_flags.contains(VmFlags::VM_MAYWRITE) {
                return Err(Errno::EINVAL);
            }
            if other_ctx(v, ctx) {
                return Err(Errno::EBUSY);
            }
        }
        for k in keys {
            let v = &w.mm_rb[&k];
            let (s, e) = (v.vm_start.max(start), v.vm_end.min(end));
            uffd_fixup(&mut w, k, s, e, Some(ctx))?;
        }
    }
    put_user(arg + 24, UFFD_API_RANGE_IOCTLS)?;
    Ok(0)
}

/// UFFDIO_UNREGISTER: stop reporting faults in the range, waking those waiting (Linux:
/// `userfaultfd_unregister`). EINVAL for a bad range or a VMA that could not have been
/// registered.
#[no_mangle]
#[inline(never)]
pub fn userfaultfd_unregister(ctx: &Arc<UserfaultfdCtx>, arg: usize) -> KResult<usize> {
    let req: [u64; 2] = get_user(arg)?;
    let mm = ctx_mm(ctx)?;
    let end = validate_range(req[0], req[1])?;
    let start = req[0] as usize;
    let mut w = crate::mm::mmap_lock::mmap_write_lock_killable(&mm)?;
    let keys = vmas_in(&w, start, end)?;
    if keys.iter().any(|k| !vma_can_userfault(&w.mm_rb[k])) {
        return Err(Errno::EINVAL);
    }
    for k in keys {
        let v = &w.mm_rb[&k];
        let Some(owner) = v.vm_userfaultfd_ctx.clone() else {
            continue;
        };
        let (s, e) = (v.vm_start.max(start), v.vm_end.min(end));
        // Faults waiting here would never be resolved now: let them fault again.
        crate::mm::userfaultfd::wake_userfault(&owner, s, e - s);
        uffd_fixup(&mut w, k, s, e, None)?;
    }
    Ok(0)
}

/// UFFDIO_WAKE: wake the faults waiting in a range (after a copy with DONTWAKE; Linux:
/// `userfaultfd_wake`).
fn userfaultfd_wake(ctx: &Arc<UserfaultfdCtx>, arg: usize) -> KResult<usize> {
    let req: [u64; 2] = get_user(arg)?;
    validate_range(req[0], req[1])?;
    crate::mm::userfaultfd::wake_userfault(ctx, req[0] as usize, req[1] as usize);
    Ok(0)
}

/// UFFDIO_COPY: copy `len` bytes from `src` into the missing pages at `dst`, then wake
/// the faults there unless DONTWAKE (Linux: `userfaultfd_copy` -> `mcopy_atomic`). The
/// bytes copied, or -errno, go to `uffdio_copy.copy`; a partial copy is EAGAIN.
#[no_mangle]
#[inline(never)]
pub fn userfaultfd_copy(ctx: &Arc<UserfaultfdCtx>, arg: usize) -> KResult<usize> {
    let req: [u64; 4] = get_user(arg)?;
    let (dst, src, len, mode) = (req[0], req[1], req[2], req[3]);
    let mm = ctx_mm(ctx)?;
    validate_range(dst, len)?;
    if src.checked_add(len).is_none_or(|e| e <= src) || src & (PAGE_SIZE as u64 - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !(UFFDIO_COPY_MODE_DONTWAKE | UFFDIO_COPY_MODE_WP) != 0 {
        return Err(Errno::EINVAL);
    }
    let r = if mode & UFFDIO_COPY_MODE_WP != 0 {
        Err(Errno::EINVAL) // no VM_UFFD_WP on arm64 in 5.10
    } else {
        crate::mm::userfaultfd::__mcopy_atomic(
            &mm,
            ctx,
            dst as usize,
            Some(src as usize),
            len as usize,
        )
    };
    mfill_done(ctx, arg + 32, dst, len, mode, r)
}

/// UFFDIO_ZEROPAGE: map the zero page at the missing pages of a range (Linux:
/// `userfaultfd_zeropage` -> `mfill_zeropage`); the result goes to
/// `uffdio_zeropage.zeropage`.
#[no_mangle]
#[inline(never)]
pub fn userfaultfd_zeropage(ctx: &Arc<UserfaultfdCtx>, arg: usize) -> KResult<usize> {
    let req: [u64; 3] = get_user(arg)?;
    let (dst, len, mode) = (req[0], req[1], req[2]);
    let mm = ctx_mm(ctx)?;
    validate_range(dst, len)?;
    if mode & !UFFDIO_COPY_MODE_DONTWAKE != 0 {
        return Err(Errno::EINVAL);
    }
    let r = crate::mm::userfaultfd::__mcopy_atomic(&mm, ctx, dst as usize, None, len as usize);
    mfill_done(ctx, arg + 24, dst, len, mode, r)
}

/// The common tail of COPY and ZEROPAGE: report the count (or -errno) at `out`, wake
/// what was filled, EAGAIN for a partial fill.
fn mfill_done(
    ctx: &UserfaultfdCtx,
    out: usize,
    dst: u64,
    len: u64,
    mode: u64,
    r: KResult<usize>,
) -> KResult<usize> {
    let reported: i64 = match r {
        Ok(n) => n as i64,
        Err(e) => -(e as i64),
    };
    put_user(out, reported)?;
    let done = r?;
    if mode & UFFDIO_COPY_MODE_DONTWAKE == 0 {
        crate::mm::userfaultfd::wake_userfault(ctx, dst as usize, done);
    }
    if done as u64 == len {
        Ok(0)
    } else {
        Err(Errno::EAGAIN)
    }
}

//! System V shared memory: `shmget`, `shmat`, `shmdt`, `shmctl`. Linux: `ipc/shm.c`.
//!
//! A segment is an unlinked tmpfs file (`newseg` -> `shmem_kernel_file_setup`, shown
//! as "/SYSV<key> (deleted)"); `shmat` maps it MAP_SHARED with `do_mmap`, exactly as
//! mmap(2) maps a tmpfs file, so its pages are shmem pages: counted in Shmem of
//! /proc/meminfo, on the anon LRU lists, written to swap by `shmem_writepage`.
//!
//! Each attach makes its own file object ([`ShmFileData`], Linux: the `sfd` file and
//! its `struct shm_file_data`) wrapping the segment's file, and its VMAs get
//! [`SHM_VM_OPS`]. `shm_nattch` counts VMAs, as Linux's does: `shm_mmap` counts the
//! first, `vm_ops->open` (`shm_open`) each copy mm makes (a split by mprotect, an mremap
//! move, fork), `vm_ops->close` (`shm_close`) uncounts each one munmap, shmdt, exit or
//! exec frees, records `shm_dtime`/`shm_lprid`, and destroys the segment once IPC_RMID
//! marked it (SHM_DEST) and nothing is attached.
//!
//! Differences from 5.10: one IPC namespace; `kernel.shmall` defaults to a quarter of
//! RAM, not unlimited (`shm_init`); no `shm_rmid_forced` (segments outlive their
//! creator, as by default); no hugetlb segments (SHM_HUGETLB is ignored); no LSM
//! hooks; root holds CAP_IPC_OWNER, CAP_SYS_ADMIN and CAP_IPC_LOCK, and SHM_LOCK charges
//! nothing against RLIMIT_MEMLOCK.
//!
//! Locking: `SHM_IDS` (Linux: `shm_ids(ns).rwsem`) nests inside `mmap_lock` (an attach's
//! drop runs under it); `do_shmat` lets go of it before taking `mmap_lock`. A segment's
//! own `state` lock is innermost. No tmpfs page is freed under either: the segment's
//! file is dropped after both are released.
use super::util::{
    ipcctl_may_change, ipcperms, Ipc64Perm, IpcCred, IpcIds, KernIpcPerm, IPC_CREAT, IPC_EXCL,
    IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT, S_IRWXUGO,
};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{copy_from_user, copy_to_user};
use crate::errno::{Errno, KResult};
use crate::mm::filemap::{AddressSpace, AddressSpaceOperations};
use crate::mm::memory::FaultResult;
use crate::mm::mmap::{MAP_FIXED, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE};
use crate::mm::page::Page;
use crate::mm::vma::{MappedFile, VmArea, VmFault, VmOperationsStruct};
use crate::mm::{PAGE_SHIFT, PAGE_SIZE};
use crate::sync::{RwSemaphore, SpinLock};
use crate::syscall::SyscallArgs;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Smallest segment (Linux: `SHMMIN`).
pub const SHMMIN: usize = 1;
/// Default most segments (Linux: `SHMMNI`).
pub const SHMMNI: usize = 4096;
/// Default largest segment in bytes (Linux: `SHMMAX`, `ULONG_MAX - (1 << 24)`, so that
/// adding to it does not overflow).
pub const SHMMAX: usize = usize::MAX - (1 << 24);
/// Linux's default for the most pages of all segments together (`SHMALL`): unlimited.
/// Ours is a quarter of RAM ([`shm_init`]).
pub const SHMALL: usize = usize::MAX - (1 << 24);
/// Attach alignment (Linux: `SHMLBA`; arm64 uses the generic `PAGE_SIZE`, its 16 KiB
/// `COMPAT_SHMLBA` is for 32-bit tasks only).
pub const SHMLBA: usize = PAGE_SIZE;

/// shmat: attach read-only (Linux: `SHM_RDONLY`).
pub const SHM_RDONLY: u32 = 0o10000;
/// shmat: round the address down to SHMLBA (Linux: `SHM_RND`).
pub const SHM_RND: u32 = 0o20000;
/// shmat: take over whatever is mapped at the address (Linux: `SHM_REMAP`).
pub const SHM_REMAP: u32 = 0o40000;
/// shmat: executable attach (Linux: `SHM_EXEC`).
pub const SHM_EXEC: u32 = 0o100000;
/// Mode bit: IPC_RMID was asked for; destroyed at the last detach (Linux: `SHM_DEST`).
pub const SHM_DEST: u32 = 0o1000;
/// Mode bit: SHM_LOCKed (Linux: `SHM_LOCKED`).
pub const SHM_LOCKED: u32 = 0o2000;
/// shmctl: keep the pages in memory (Linux: `SHM_LOCK`).
pub const SHM_LOCK: i32 = 11;
/// shmctl: undo SHM_LOCK (Linux: `SHM_UNLOCK`).
pub const SHM_UNLOCK: i32 = 12;
/// shmctl: IPC_STAT by index (Linux: `SHM_STAT`).
pub const SHM_STAT: i32 = 13;
/// shmctl: usage totals (Linux: `SHM_INFO`).
pub const SHM_INFO: i32 = 14;
/// shmctl: SHM_STAT without the read-permission check (Linux: `SHM_STAT_ANY`).
pub const SHM_STAT_ANY: i32 = 15;

/// `kernel.shmmax` (Linux: `ns->shm_ctlmax`).
pub static SHM_CTLMAX: AtomicUsize = AtomicUsize::new(SHMMAX);
/// `kernel.shmall`, in pages (Linux: `ns->shm_ctlall`).
pub static SHM_CTLALL: AtomicUsize = AtomicUsize::new(SHMALL);
/// Set the defaults that depend on the machine (Linux: `shm_init` -> `shm_init_ns`):
/// `kernel.shmall` is a quarter of RAM. Difference from Linux, whose default is
/// unlimited: a segment outlives its creator and, without swap, its pages can be neither
/// reclaimed nor freed by the OOM killer, so segments that an unprivileged program made
/// and touched could leave no memory for init (the fuzz campaign did that: the OOM
/// killer ran out of processes to kill). Root can raise it with the sysctl.
pub fn shm_init() {
    let quarter = crate::mm::util::totalram_pages() / 4;
    SHM_CTLALL.store(quarter.max(1), Ordering::Relaxed);
}

/// `kernel.shmmni` (Linux: `ns->shm_ctlmni`).
pub static SHM_CTLMNI: AtomicUsize = AtomicUsize::new(SHMMNI);
/// Pages of all segments (Linux: `ns->shm_tot`).
static SHM_TOT: AtomicUsize = AtomicUsize::new(0);

/// The segments (Linux: `shm_ids(ns)`, its idr under its rwsem).
static SHM_IDS: RwSemaphore<IpcIds<Arc<ShmidKernel>>> = RwSemaphore::new(IpcIds::new());

/// What changes in a segment after it is made (Linux: the fields of `shmid_kernel`
/// under `shm_perm.lock`).
#[derive(Debug, Default)]
struct ShmState {
    perm: KernIpcPerm,
    atime: u64,
    dtime: u64,
    ctime: u64,
    /// Pid of the creator (Linux: `shm_cprid`).
    cprid: i32,
    /// Pid of the last shmat/shmdt (Linux: `shm_lprid`).
    lprid: i32,
    /// VMAs mapping the segment, plus attaches under way (Linux: `shm_nattch`).
    nattch: usize,
}

/// One segment (Linux: `struct shmid_kernel`).
pub struct ShmidKernel {
    state: SpinLock<ShmState>,
    /// Size asked for, in bytes (Linux: `shm_segsz`).
    segsz: usize,
    /// The tmpfs file holding the pages (Linux: `shm_file`).
    file: Arc<dyn MappedFile>,
    /// Gone from `SHM_IDS` (Linux: `shm_perm.deleted`): a late lookup sees EIDRM.
    deleted: AtomicBool,
}

impl ShmidKernel {
    fn id(&self) -> i32 {
        self.state.lock().perm.id
    }
    fn seq(&self) -> u32 {
        self.state.lock().perm.seq
    }
    fn pages(&self) -> usize {
        self.segsz.div_ceil(PAGE_SIZE)
    }
}

/// Seconds since the epoch (Linux: `ktime_get_real_seconds`; we have no RTC, so the
/// clock starts at 0 at boot, as clock_gettime(CLOCK_REALTIME) does here).
fn ktime_get_real_seconds() -> u64 {
    crate::kernel::sys::ktime_get_ns() / 1_000_000_000
}

/// The caller's pid (Linux: `task_tgid_vnr(current)`).
fn current_tgid() -> i32 {
    crate::task::current().map_or(0, |t| t.tgid)
}

/// The caller's effective ids.
fn current_cred() -> IpcCred {
    let c = crate::task::current()
        .map(|t| *t.cred.lock())
        .unwrap_or_default();
    IpcCred {
        euid: c.euid,
        egid: c.egid,
    }
}

// ---------------------------------------------------------------------------------------
// An attach: the file each shmat maps, and its vm_ops.
// ---------------------------------------------------------------------------------------

/// The file an attach maps (Linux: the `sfd` file `do_shmat` allocates, with `struct
/// shm_file_data`): the segment's tmpfs file seen through the attach's open mode.
/// mm reaches the segment only through this `MappedFile` and [`SHM_VM_OPS`].
pub struct ShmFileData {
    shp: Arc<ShmidKernel>,
    /// "/SYSV<key as 8 hex digits> (deleted)", as /proc/self/maps shows it.
    path: String,
    /// Attached with SHM_RDONLY: the file is open for reading only, so the VMA has no
    /// VM_MAYWRITE and mprotect(PROT_WRITE) fails with EACCES.
    rdonly: bool,
}

impl MappedFile for ShmFileData {
    /// Linux's `newseg` numbers the segment's inode with the identifier.
    fn ino(&self) -> u64 {
        self.shp.id() as u64
    }
    fn dev(&self) -> (u32, u32) {
        self.shp.file.dev()
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.shp.file.size()
    }
    fn readable(&self) -> bool {
        true
    }
    fn writable(&self) -> bool {
        !self.rdonly
    }
    /// Linux: `shm_mmap`: the tmpfs file's mmap method (`shmem_mmap`), then
    /// `shm_open` (shm_atime, shm_lprid) and `shm_vm_ops` in place of `shmem_vm_ops`.
    fn mmap(&self, vma: &mut VmArea) -> KResult<()> {
        self.shp.file.mmap(vma)?;
        vma.vm_ops = Some(&SHM_VM_OPS);
        shm_open(&self.shp);
        Ok(())
    }
    fn private_data(&self) -> Option<&(dyn core::any::Any + Send + Sync)> {
        Some(self)
    }
    fn wants_writenotify(&self) -> bool {
        self.shp.file.wants_writenotify()
    }
    fn in_page_cache(&self, index: usize) -> bool {
        self.shp.file.in_page_cache(index)
    }
    fn f_mapping(&self) -> Option<&AddressSpace> {
        self.shp.file.f_mapping()
    }
    fn a_ops(&self) -> Option<&dyn AddressSpaceOperations> {
        self.shp.file.a_ops()
    }
}

/// The segment a VMA of [`SHM_VM_OPS`] maps (Linux: `shm_file_data(vma->vm_file)`).
fn shm_of(vma: &VmArea) -> Option<&Arc<ShmidKernel>> {
    let sfd = vma.vm_file.as_ref()?.private_data()?;
    sfd.downcast_ref::<ShmFileData>().map(|s| &s.shp)
}

/// One more VMA maps the segment (Linux: `shm_open` -> `__shm_open`): `shm_nattch`,
/// `shm_atime` and `shm_lprid`.
fn shm_open(shp: &ShmidKernel) {
    let mut st = shp.state.lock();
    st.atime = ktime_get_real_seconds();
    st.lprid = current_tgid();
    st.nattch += 1;
}

/// One VMA less maps the segment (Linux: `shm_close`): `shm_nattch`, `shm_dtime`,
/// `shm_lprid`, and the segment goes if IPC_RMID is pending and this was the last
/// (`shm_may_destroy` -> `shm_destroy`). Locking: called under `mmap_lock` from
/// `vm_area_free`; takes `SHM_IDS` as Linux takes `shm_ids(ns).rwsem`. The file is freed
/// after `SHM_IDS` is released, by the last drop of the segment (here or when the VMA's
/// file reference goes).
fn shm_close(shp: &Arc<ShmidKernel>) {
    shm_nattch_put(shp, true);
}

/// Drop one count of `shm_nattch`, recording a detach when `detach` (`shm_close`) and
/// not for the count `do_shmat` holds across its mmap; destroy the segment if that was
/// the last count and IPC_RMID is pending.
fn shm_nattch_put(shp: &Arc<ShmidKernel>, detach: bool) {
    let mut ids = SHM_IDS.write();
    let destroy = {
        let mut st = shp.state.lock();
        if detach {
            st.lprid = current_tgid();
            st.dtime = ktime_get_real_seconds();
        }
        st.nattch = st.nattch.saturating_sub(1);
        shm_may_destroy(&st)
    };
    let gone = destroy.then(|| shm_destroy(&mut ids, shp)).flatten();
    drop(ids);
    drop(gone);
}

/// The `vm_operations_struct` of attached segments (Linux: `shm_vm_ops`), which passes
/// faults to the tmpfs file's own (`shm_fault` -> `shmem_fault`). `ksys_shmdt` finds a
/// segment's VMAs by it.
pub struct ShmVmOps;

/// Linux: `shm_vm_ops`.
pub static SHM_VM_OPS: ShmVmOps = ShmVmOps;

impl VmOperationsStruct for ShmVmOps {
    fn name(&self) -> &'static str {
        "shm_vm_ops"
    }
    fn fault(&self, vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
        crate::mm::shmem::SHMEM_VM_OPS.fault(vmf)
    }
    fn map_pages(&self, vmf: &mut VmFault<'_>, start_pgoff: usize, end_pgoff: usize) -> bool {
        crate::mm::shmem::SHMEM_VM_OPS.map_pages(vmf, start_pgoff, end_pgoff)
    }
    /// Linux: `shm_open`.
    fn open(&self, vma: &VmArea) {
        if let Some(shp) = shm_of(vma) {
            shm_open(shp);
        }
    }
    /// Linux: `shm_close`.
    fn close(&self, vma: &VmArea) {
        if let Some(shp) = shm_of(vma) {
            shm_close(shp);
        }
    }
    fn has_close(&self) -> bool {
        true
    }
}

fn is_shm_vma(vma: &VmArea) -> bool {
    vma.vm_ops.is_some_and(|o| o.name() == SHM_VM_OPS.name())
}

// ---------------------------------------------------------------------------------------
// Creation and destruction.
// ---------------------------------------------------------------------------------------

/// Should the segment go now (Linux 5.10: `shm_may_destroy`, without
/// `shm_rmid_forced`)? IPC_RMID asked for it and nothing is attached.
fn shm_may_destroy(st: &ShmState) -> bool {
    st.perm.mode & SHM_DEST != 0 && st.nattch == 0
}

/// Take the segment out of the set and give back its pages' share of `shm_tot` (Linux:
/// `shm_destroy`: `shm_rmid`, `shm_tot -= ...`, `shmem_lock(.., 0)` if it was locked,
/// `fput(shm_file)`). Returns the segment for the caller to drop once `SHM_IDS` is
/// released, which frees the file and its pages; None if it had already gone.
fn shm_destroy(
    ids: &mut IpcIds<Arc<ShmidKernel>>,
    shp: &Arc<ShmidKernel>,
) -> Option<Arc<ShmidKernel>> {
    if shp.deleted.swap(true, Ordering::AcqRel) {
        return None;
    }
    let gone = ids.rmid(shp.id());
    SHM_TOT.fetch_sub(shp.pages(), Ordering::Relaxed);
    if shp.state.lock().perm.mode & SHM_LOCKED != 0 {
        let _ = crate::mm::shmem::shmem_lock(&*shp.file, false);
    }
    gone
}

/// Make a segment of `size` bytes for `key` (Linux: `newseg`): EINVAL outside
/// [SHMMIN, shmmax], ENOSPC when `shm_tot` would pass shmall or shmmni segments exist,
/// ENOMEM when no file can be made.
#[no_mangle]
#[inline(never)]
pub fn newseg(
    ids: &mut IpcIds<Arc<ShmidKernel>>,
    key: i32,
    shmflg: u32,
    size: usize,
) -> KResult<i32> {
    if size < SHMMIN || size > SHM_CTLMAX.load(Ordering::Relaxed) {
        return Err(Errno::EINVAL);
    }
    let numpages = size.checked_add(PAGE_SIZE - 1).ok_or(Errno::ENOSPC)? >> PAGE_SHIFT;
    let tot = SHM_TOT.load(Ordering::Relaxed);
    match tot.checked_add(numpages) {
        Some(t) if t <= SHM_CTLALL.load(Ordering::Relaxed) => {}
        _ => return Err(Errno::ENOSPC),
    }
    let path = alloc::format!("/SYSV{:08x} (deleted)", key as u32);
    let file = crate::fs::tmpfs::shmem_kernel_file_setup(path, size)?;
    let file: Arc<dyn MappedFile> = Arc::new(crate::fs::file_mmap::FileMapping::new(file));
    let cred = current_cred();
    let now = ktime_get_real_seconds();
    let pid = current_tgid();
    let id = ids.addid(SHM_CTLMNI.load(Ordering::Relaxed), |id, seq| {
        Arc::new(ShmidKernel {
            state: SpinLock::new(ShmState {
                perm: KernIpcPerm {
                    id,
                    key,
                    uid: cred.euid,
                    gid: cred.egid,
                    cuid: cred.euid,
                    cgid: cred.egid,
                    mode: shmflg & S_IRWXUGO,
                    seq,
                },
                ctime: now,
                cprid: pid,
                ..Default::default()
            }),
            segsz: size,
            file,
            deleted: AtomicBool::new(false),
        })
    })?;
    SHM_TOT.fetch_add(numpages, Ordering::Relaxed);
    Ok(id)
}

/// shmget(2) (Linux: `ksys_shmget` -> `ipcget`): IPC_PRIVATE always makes a segment;
/// otherwise a missing key is ENOENT without IPC_CREAT, an existing one EEXIST with
/// IPC_CREAT|IPC_EXCL, EACCES when `shmflg`'s mode asks for more than the caller is
/// granted, EINVAL when it is smaller than `size` (`shm_more_checks`).
#[no_mangle]
#[inline(never)]
pub fn ksys_shmget(key: i32, size: usize, shmflg: u32) -> KResult<i32> {
    let mut ids = SHM_IDS.write();
    if key == IPC_PRIVATE {
        return newseg(&mut ids, key, shmflg, size);
    }
    let found = ids.iter().find(|s| s.state.lock().perm.key == key).cloned();
    let Some(shp) = found else {
        if shmflg & IPC_CREAT == 0 {
            return Err(Errno::ENOENT);
        }
        return newseg(&mut ids, key, shmflg, size);
    };
    if shmflg & IPC_CREAT != 0 && shmflg & IPC_EXCL != 0 {
        return Err(Errno::EEXIST);
    }
    let st = shp.state.lock();
    if !ipcperms(current_cred(), &st.perm, shmflg) {
        return Err(Errno::EACCES);
    }
    if shp.segsz < size {
        return Err(Errno::EINVAL);
    }
    Ok(st.perm.id)
}

/// shmget(2).
pub fn sys_shmget(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    ksys_shmget(a.0[0] as i32, a.0[1], a.0[2] as u32).map(|id| id as usize)
}

// ---------------------------------------------------------------------------------------
// Attach and detach.
// ---------------------------------------------------------------------------------------

/// Attach segment `shmid` at `shmaddr` (0: wherever `get_unmapped_area` finds room) and
/// return the address (Linux: `do_shmat`). EINVAL for a negative or unknown id, an
/// address not SHMLBA aligned without SHM_RND (or rounded to 0 with SHM_REMAP), SHM_REMAP
/// without an address, or an address range already mapped without SHM_REMAP; EIDRM if
/// the segment went meanwhile; EACCES when the mode bits refuse read (and write unless
/// SHM_RDONLY, execute with SHM_EXEC); then `do_mmap`'s errors (ENOMEM).
/// Locking: takes `SHM_IDS`, lets it go, then takes `mmap_lock` for the mapping.
#[no_mangle]
#[inline(never)]
pub fn do_shmat(shmid: i32, shmaddr: usize, shmflg: u32) -> KResult<usize> {
    if shmid < 0 {
        return Err(Errno::EINVAL);
    }
    let mut addr = shmaddr;
    let mut flags = MAP_SHARED;
    if addr != 0 {
        if addr & (SHMLBA - 1) != 0 {
            if shmflg & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(SHMLBA - 1);
            if addr == 0 && shmflg & SHM_REMAP != 0 {
                return Err(Errno::EINVAL);
            }
        }
        flags |= MAP_FIXED;
    } else if shmflg & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut prot, mut acc_mode) = if shmflg & SHM_RDONLY != 0 {
        (PROT_READ, 0o444)
    } else {
        (PROT_READ | PROT_WRITE, 0o666)
    };
    if shmflg & SHM_EXEC != 0 {
        prot |= PROT_EXEC;
        acc_mode |= 0o111;
    }

    let sfd = {
        let ids = SHM_IDS.read();
        let shp = ids.by_id(shmid, |s| s.seq()).ok_or(Errno::EINVAL)?.clone();
        if !ipcperms(current_cred(), &shp.state.lock().perm, acc_mode) {
            return Err(Errno::EACCES);
        }
        if shp.deleted.load(Ordering::Acquire) {
            return Err(Errno::EIDRM);
        }
        // Raised while unlocked, so IPC_RMID meanwhile leaves the segment to the last
        // detach (Linux does the same around its do_mmap).
        let key = {
            let mut st = shp.state.lock();
            st.nattch += 1;
            st.perm.key
        };
        Arc::new(ShmFileData {
            path: alloc::format!("/SYSV{:08x} (deleted)", key as u32),
            shp,
            rdonly: shmflg & SHM_RDONLY != 0,
        })
    };
    let size = sfd.size() as usize;

    let ret = shmat_map(&sfd, addr, size, prot, flags, shmflg);
    shm_nattch_put(&sfd.shp, false); // the count taken above
    ret
}

/// The mapping half of `do_shmat`: under `mmap_lock`, refuse a taken range without
/// SHM_REMAP, then `do_mmap` the attach's file; populate after unlocking.
fn shmat_map(
    sfd: &Arc<ShmFileData>,
    addr: usize,
    size: usize,
    prot: usize,
    flags: usize,
    shmflg: u32,
) -> KResult<usize> {
    let task = crate::task::current().ok_or(Errno::EINVAL)?;
    let mm = task.mm.lock().clone().ok_or(Errno::EINVAL)?;
    crate::task::sync_mm_limits(&task, &mm);
    let mut pt = mm.pagetables();
    let mut guard = crate::mm::mmap_lock::mmap_write_lock_killable(&mm)?;
    let mut populate = 0;
    let ret = if addr != 0
        && shmflg & SHM_REMAP == 0
        && crate::mm::vma::find_vma_intersection(&guard, addr, addr.saturating_add(size)).is_some()
    {
        Err(Errno::EINVAL)
    } else {
        let file: Arc<dyn MappedFile> = sfd.clone();
        crate::mm::mmap::do_mmap(
            &mut guard,
            &mut pt,
            Some(file),
            addr,
            size,
            prot,
            flags,
            0,
            &mut populate,
        )
    };
    crate::mm::mmap_lock::mmap_write_unlock(guard);
    let ret = ret?;
    if populate != 0 {
        crate::mm::gup::mm_populate(&mm, ret, populate);
    }
    Ok(ret)
}

/// shmat(2).
pub fn sys_shmat(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    do_shmat(a.0[0] as i32, a.0[1], a.0[2] as u32)
}

/// Detach the segment attached at `addr` (Linux: `ksys_shmdt`): EINVAL unless `addr`
/// is page aligned and starts an attach. The first VMA at or above `addr` whose offset
/// in its segment equals its distance from `addr` is the attach; it and the VMAs of the
/// same attach within the segment's size from `addr` are unmapped (pieces made by
/// mprotect or munmap included). Locking: `mmap_lock` for write; the last unmap of an
/// attach takes `SHM_IDS` (see [`ShmFileData`]'s drop).
#[no_mangle]
#[inline(never)]
pub fn ksys_shmdt(addr: usize) -> KResult<usize> {
    if addr & (PAGE_SIZE - 1) != 0 {
        return Err(Errno::EINVAL);
    }
    let task = crate::task::current().ok_or(Errno::EINVAL)?;
    let mm = task.mm.lock().clone().ok_or(Errno::EINVAL)?;
    let mut pt = mm.pagetables();
    let mut guard = crate::mm::mmap_lock::mmap_write_lock_killable(&mm)?;
    let matches = |v: &VmArea| is_shm_vma(v) && (v.vm_start - addr) >> PAGE_SHIFT == v.vm_pgoff;
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut first: Option<(usize, usize)> = None; // (file_id, size)
    for v in guard
        .vmas()
        .filter(|v| v.vm_end > addr && v.vm_start >= addr)
    {
        match first {
            None if matches(v) => {
                let f = v.vm_file.as_ref().ok_or(Errno::EINVAL)?;
                let size = (f.size() as usize).next_multiple_of(PAGE_SIZE);
                first = Some((f.file_id(), size));
                ranges.push((v.vm_start, v.vm_end));
            }
            None => {}
            Some((id, size)) => {
                if v.vm_end - addr > size {
                    break;
                }
                if matches(v) && v.vm_file.as_ref().is_some_and(|f| f.file_id() == id) {
                    ranges.push((v.vm_start, v.vm_end));
                }
            }
        }
    }
    let mut ret = Err(Errno::EINVAL);
    for (start, end) in ranges {
        ret = crate::mm::mmap::do_munmap(&mut guard, &mut pt, start, end - start).map(|_| 0);
        if ret.is_err() {
            break;
        }
    }
    crate::mm::mmap_lock::mmap_write_unlock(guard);
    ret
}

/// shmdt(2).
pub fn sys_shmdt(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    ksys_shmdt(a.0[0])
}

// ---------------------------------------------------------------------------------------
// shmctl.
// ---------------------------------------------------------------------------------------

/// `struct shmid64_ds` as arm64 user space reads it (the generic 64-bit layout of
/// `include/uapi/asm-generic/shmbuf.h`, 112 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Shmid64Ds {
    /// `shm_perm`.
    pub shm_perm: Ipc64Perm,
    /// `shm_segsz`.
    pub shm_segsz: u64,
    /// `shm_atime`.
    pub shm_atime: i64,
    /// `shm_dtime`.
    pub shm_dtime: i64,
    /// `shm_ctime`.
    pub shm_ctime: i64,
    /// `shm_cpid`.
    pub shm_cpid: i32,
    /// `shm_lpid`.
    pub shm_lpid: i32,
    /// `shm_nattch`.
    pub shm_nattch: u64,
    /// `__unused4`.
    pub unused4: u64,
    /// `__unused5`.
    pub unused5: u64,
}

/// `struct shminfo64` (IPC_INFO): all `unsigned long`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Shminfo64 {
    /// Largest segment (bytes).
    pub shmmax: u64,
    /// Smallest segment.
    pub shmmin: u64,
    /// Most segments.
    pub shmmni: u64,
    /// Most attaches per process (Linux reports shmmni).
    pub shmseg: u64,
    /// Most pages of all segments.
    pub shmall: u64,
    /// `__unused1..4`.
    pub unused: [u64; 4],
}

/// `struct shm_info` (SHM_INFO).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ShmInfo {
    /// Segments in use.
    pub used_ids: i32,
    /// Pages of all segments.
    pub shm_tot: u64,
    /// Their pages in memory.
    pub shm_rss: u64,
    /// Their pages on swap.
    pub shm_swp: u64,
    /// Unused (0).
    pub swap_attempts: u64,
    /// Unused (0).
    pub swap_successes: u64,
}

fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of this file's `repr(C)` structs of integers, whose padding (in
    // `ShmInfo` after `used_ids`) is zeroed by `Default` and never written otherwise.
    unsafe { core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>()) }
}

/// Pages of a segment in memory and on swap (Linux: `shm_add_rss_swap`).
fn shm_rss_swap(shp: &ShmidKernel) -> (usize, usize) {
    shp.file
        .f_mapping()
        .map_or((0, 0), |m| (m.nrpages(), m.nrexceptional()))
}

/// The segment's `shmid64_ds` (Linux: the IPC_STAT part of `shmctl_stat`).
fn shmid64_ds(shp: &ShmidKernel) -> Shmid64Ds {
    let st = shp.state.lock();
    Shmid64Ds {
        shm_perm: st.perm.to_ipc64(),
        shm_segsz: shp.segsz as u64,
        shm_atime: st.atime as i64,
        shm_dtime: st.dtime as i64,
        shm_ctime: st.ctime as i64,
        shm_cpid: st.cprid,
        shm_lpid: st.lprid,
        shm_nattch: st.nattch as u64,
        ..Default::default()
    }
}

/// IPC_STAT, SHM_STAT, SHM_STAT_ANY (Linux: `shmctl_stat`). IPC_STAT takes an
/// identifier and returns 0; the *_STAT commands take an index and return the
/// identifier. EINVAL for nothing there, EACCES without read permission (not for
/// SHM_STAT_ANY).
fn shmctl_stat(shmid: i32, cmd: i32) -> KResult<(Shmid64Ds, i32)> {
    let ids = SHM_IDS.read();
    let shp = if cmd == IPC_STAT {
        ids.by_id(shmid, |s| s.seq())
    } else {
        usize::try_from(shmid).ok().and_then(|i| ids.by_idx(i))
    }
    .ok_or(Errno::EINVAL)?;
    if cmd != SHM_STAT_ANY && !ipcperms(current_cred(), &shp.state.lock().perm, 0o444) {
        return Err(Errno::EACCES);
    }
    let ds = shmid64_ds(shp);
    let ret = if cmd == IPC_STAT { 0 } else { shp.id() };
    Ok((ds, ret))
}

/// IPC_SET and IPC_RMID (Linux: `shmctl_down`): EINVAL for an unknown id, EPERM unless
/// the caller owns or created the segment (or is root), EFAULT for a bad `buf` (IPC_SET).
/// IPC_SET takes uid, gid and the nine mode bits; IPC_RMID destroys the segment at once
/// when nothing is attached, else marks it SHM_DEST and makes its key IPC_PRIVATE so
/// shmget no longer finds it (Linux: `do_shm_rmid`).
#[no_mangle]
#[inline(never)]
pub fn shmctl_down(shmid: i32, cmd: i32, buf: usize) -> KResult<usize> {
    let new = if cmd == IPC_SET {
        let mut ds = Shmid64Ds::default();
        // SAFETY: `Shmid64Ds` is plain integers; any bytes make a valid value.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(
                &mut ds as *mut Shmid64Ds as *mut u8,
                core::mem::size_of::<Shmid64Ds>(),
            )
        };
        copy_from_user(bytes, buf)?;
        Some(ds)
    } else {
        None
    };
    let mut ids = SHM_IDS.write();
    let shp = ids.by_id(shmid, |s| s.seq()).ok_or(Errno::EINVAL)?.clone();
    let cred = current_cred();
    let gone = {
        let mut st = shp.state.lock();
        if !ipcctl_may_change(cred, &st.perm) {
            return Err(Errno::EPERM);
        }
        if let Some(ds) = new {
            st.perm.uid = ds.shm_perm.uid;
            st.perm.gid = ds.shm_perm.gid;
            st.perm.mode = (st.perm.mode & !S_IRWXUGO) | (ds.shm_perm.mode & S_IRWXUGO);
            st.ctime = ktime_get_real_seconds();
            false
        } else if st.nattch > 0 {
            st.perm.key = IPC_PRIVATE;
            st.perm.mode |= SHM_DEST;
            false
        } else {
            true
        }
    };
    let gone = gone.then(|| shm_destroy(&mut ids, &shp)).flatten();
    drop(ids);
    drop(gone);
    Ok(0)
}

/// SHM_LOCK and SHM_UNLOCK (Linux: the `SHM_LOCK`/`SHM_UNLOCK` case of `ksys_shmctl`):
/// EINVAL for an unknown id; EPERM for a caller that neither owns nor created the
/// segment without CAP_IPC_LOCK (root here); EIDRM if it went meanwhile. Locking marks
/// the tmpfs mapping unevictable (`shmem_lock`), unlocking clears that and moves its
/// pages back to the evictable lists (`shmem_unlock_mapping`). Difference: no
/// RLIMIT_MEMLOCK charge (`user_shm_lock`) for non-root owners.
#[no_mangle]
#[inline(never)]
pub fn shmctl_do_lock(shmid: i32, cmd: i32) -> KResult<usize> {
    let shp = SHM_IDS
        .read()
        .by_id(shmid, |s| s.seq())
        .ok_or(Errno::EINVAL)?
        .clone();
    let cred = current_cred();
    let mut st = shp.state.lock();
    if !cred.capable() && cred.euid != st.perm.uid && cred.euid != st.perm.cuid {
        return Err(Errno::EPERM);
    }
    if shp.deleted.load(Ordering::Acquire) {
        return Err(Errno::EIDRM);
    }
    let locked = st.perm.mode & SHM_LOCKED != 0;
    if cmd == SHM_LOCK {
        if !locked {
            crate::mm::shmem::shmem_lock(&*shp.file, true)?;
            st.perm.mode |= SHM_LOCKED;
        }
        return Ok(0);
    }
    if !locked {
        return Ok(0);
    }
    crate::mm::shmem::shmem_lock(&*shp.file, false)?;
    st.perm.mode &= !SHM_LOCKED;
    drop(st);
    if let Some(mapping) = shp.file.f_mapping() {
        crate::mm::shmem::shmem_unlock_mapping(mapping);
    }
    Ok(0)
}

/// shmctl(2) (Linux: `ksys_shmctl`, IPC_64 being arm64's only version): IPC_INFO and
/// SHM_INFO return the highest index in use (0 when none), *_STAT the identifier, the
/// rest 0. EINVAL for an unknown command, EFAULT for a bad `buf`.
#[no_mangle]
#[inline(never)]
pub fn ksys_shmctl(shmid: i32, cmd: i32, buf: usize) -> KResult<usize> {
    match cmd {
        IPC_INFO => {
            let mni = SHM_CTLMNI.load(Ordering::Relaxed) as u64;
            let info = Shminfo64 {
                shmmax: SHM_CTLMAX.load(Ordering::Relaxed) as u64,
                shmmin: SHMMIN as u64,
                shmmni: mni,
                shmseg: mni,
                shmall: SHM_CTLALL.load(Ordering::Relaxed) as u64,
                ..Default::default()
            };
            copy_to_user(buf, as_bytes(&info))?;
            Ok(SHM_IDS.read().max_idx().max(0) as usize)
        }
        SHM_INFO => {
            let (info, max) = {
                let ids = SHM_IDS.read();
                let mut info = ShmInfo {
                    used_ids: ids.in_use() as i32,
                    shm_tot: SHM_TOT.load(Ordering::Relaxed) as u64,
                    ..Default::default()
                };
                for shp in ids.iter() {
                    let (rss, swp) = shm_rss_swap(shp);
                    info.shm_rss += rss as u64;
                    info.shm_swp += swp as u64;
                }
                (info, ids.max_idx().max(0) as usize)
            };
            copy_to_user(buf, as_bytes(&info))?;
            Ok(max)
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ds, ret) = shmctl_stat(shmid, cmd)?;
            copy_to_user(buf, as_bytes(&ds))?;
            Ok(ret as usize)
        }
        IPC_SET | IPC_RMID => shmctl_down(shmid, cmd, buf),
        SHM_LOCK | SHM_UNLOCK => shmctl_do_lock(shmid, cmd),
        _ => Err(Errno::EINVAL),
    }
}

/// shmctl(2).
pub fn sys_shmctl(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    ksys_shmctl(a.0[0] as i32, a.0[1] as i32, a.0[2])
}

// ---------------------------------------------------------------------------------------
// /proc/sysvipc/shm and the kernel.shm* sysctls.
// ---------------------------------------------------------------------------------------

/// /proc/sysvipc/shm (Linux: `sysvipc_shm_proc_show` under the header `shm_init` gives
/// `ipc_init_proc_interface`, in its 64-bit widths): one line per segment, rss and swap
/// in bytes.
pub fn proc_sysvipc_shm() -> String {
    use core::fmt::Write;
    let mut s = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    );
    let ids = SHM_IDS.read();
    for shp in ids.iter() {
        let (rss, swp) = shm_rss_swap(shp);
        let st = shp.state.lock();
        let _ = writeln!(
            s,
            "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}",
            st.perm.key,
            st.perm.id,
            st.perm.mode,
            shp.segsz,
            st.cprid,
            st.lprid,
            st.nattch,
            st.perm.uid,
            st.perm.gid,
            st.perm.cuid,
            st.perm.cgid,
            st.atime,
            st.dtime,
            st.ctime,
            rss * PAGE_SIZE,
            swp * PAGE_SIZE,
        );
    }
    s
}

/// The value a kernel.shm* sysctl reads as.
pub fn shm_sysctl_read(v: &AtomicUsize) -> String {
    alloc::format!("{}\n", v.load(Ordering::Relaxed))
}

/// Write kernel.shmmax or kernel.shmall (Linux: `proc_doulongvec_minmax` with no bounds):
/// an unsigned decimal; a negative number is skipped. A write at a non-zero position
/// changes nothing (`sysctl_writes_strict`).
pub fn shm_sysctl_write_ulong(v: &AtomicUsize, pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (neg, val, used) = crate::mm::util::proc_get_long(buf)?.ok_or(Errno::EINVAL)?;
    if !neg {
        v.store(
            usize::try_from(val).map_err(|_| Errno::EINVAL)?,
            Ordering::Relaxed,
        );
    }
    Ok(used)
}

/// Write kernel.shmmni (Linux: `proc_dointvec_minmax`, 0 to IPCMNI).
pub fn shm_sysctl_write_mni(pos: u64, buf: &[u8]) -> KResult<usize> {
    if pos != 0 || buf.is_empty() {
        return Ok(buf.len());
    }
    let (val, used) = crate::mm::util::parse_int(buf)?.ok_or(Errno::EINVAL)?;
    if !(0..=super::util::IPCMNI as i64).contains(&val) {
        return Err(Errno::EINVAL);
    }
    SHM_CTLMNI.store(val as usize, Ordering::Relaxed);
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shmid64_ds_has_arm64s_generic_layout() {
        assert_eq!(core::mem::size_of::<Shmid64Ds>(), 112);
        assert_eq!(core::mem::offset_of!(Shmid64Ds, shm_segsz), 48);
        assert_eq!(core::mem::offset_of!(Shmid64Ds, shm_cpid), 80);
        assert_eq!(core::mem::offset_of!(Shmid64Ds, shm_nattch), 88);
        assert_eq!(core::mem::size_of::<Shminfo64>(), 72);
        assert_eq!(core::mem::size_of::<ShmInfo>(), 48);
        assert_eq!(core::mem::offset_of!(ShmInfo, shm_tot), 8);
    }

    #[test]
    fn may_destroy_only_after_rmid_with_nothing_attached() {
        let mut st = ShmState::default();
        assert!(!shm_may_destroy(&st));
        st.perm.mode |= SHM_DEST;
        assert!(shm_may_destroy(&st));
        st.nattch = 1;
        assert!(!shm_may_destroy(&st));
    }
}

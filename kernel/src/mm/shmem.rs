//! Shared anonymous memory. Linux: `mm/shmem.c` (`shmem_zero_setup`,
//! `shmem_kernel_file_setup`).
//!
//! A MAP_SHARED|MAP_ANONYMOUS mapping (or a shared mapping of /dev/zero) is backed by an
//! unlinked tmpfs file, "/dev/zero (deleted)" in /proc/self/maps. Our tmpfs lives on the
//! fs floor, above mm, so it registers its file constructor here at boot (as Linux hands
//! mm a file's operations) and mm never imports fs.
use crate::errno::{Errno, KResult};
use crate::mm::memory::FaultResult;
use crate::mm::page::Page;
use crate::mm::vma::{MappedFile, VmArea, VmFault, VmOperationsStruct};
use alloc::sync::Arc;

/// Make an unlinked shmem file of `size` bytes (Linux: `shmem_kernel_file_setup`).
pub type ShmemFileSetup = fn(size: usize) -> KResult<Arc<dyn MappedFile>>;

static SHMEM_FILE_SETUP: spin::Once<ShmemFileSetup> = spin::Once::new();

/// tmpfs registers its constructor at boot.
pub fn register_shmem_file_setup(f: ShmemFileSetup) {
    SHMEM_FILE_SETUP.call_once(|| f);
}

/// Give a shared anonymous VMA its shmem file, from offset 0 (Linux: `shmem_zero_setup`).
/// ENOMEM when no file can be made (or no tmpfs is registered).
#[no_mangle]
#[inline(never)]
pub fn shmem_zero_setup(vma: &mut VmArea) -> KResult<()> {
    let setup = SHMEM_FILE_SETUP.get().ok_or(Errno::ENOMEM)?;
    vma.vm_file = Some(setup(vma.vm_end - vma.vm_start)?);
    vma.vm_pgoff = 0;
    vma.vm_ops = Some(&SHMEM_VM_OPS);
    Ok(())
}

/// The page at `vmf.pgoff` of a tmpfs file, allocated zeroed when the file has none
/// there yet (Linux: `shmem_fault` -> `shmem_getpage_gfp`). Its pages are the data, so
/// there is no I/O and never a retry; SIGBUS past the end of the file.
#[no_mangle]
#[inline(never)]
pub fn shmem_fault(vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
    let Some(file) = vmf.vma.vm_file.as_ref() else {
        return Err(FaultResult::Sigbus);
    };
    if (vmf.pgoff as u64).saturating_mul(crate::mm::PAGE_SIZE as u64) >= file.size() {
        return Err(FaultResult::Sigbus);
    }
    let Some(mapping) = file.f_mapping() else {
        return Err(FaultResult::Sigbus);
    };
    match crate::mm::filemap::find_or_create_page(mapping, vmf.pgoff) {
        Ok(page) => Ok(page),
        Err(Errno::ENOMEM) => Err(FaultResult::Oom),
        Err(_) => Err(FaultResult::Sigbus),
    }
}

/// The `vm_operations_struct` of tmpfs files and shared anonymous memory (Linux:
/// `shmem_vm_ops`).
pub struct ShmemVmOps;

/// Linux: `shmem_vm_ops`, installed by `shmem_mmap` and `shmem_zero_setup`.
pub static SHMEM_VM_OPS: ShmemVmOps = ShmemVmOps;

impl VmOperationsStruct for ShmemVmOps {
    fn name(&self) -> &'static str {
        "shmem_vm_ops"
    }
    fn fault(&self, vmf: &VmFault<'_>) -> Result<&'static Page, FaultResult> {
        shmem_fault(vmf)
    }
    /// Linux: `shmem_vm_ops.map_pages = filemap_map_pages`.
    fn map_pages(&self, vmf: &mut VmFault<'_>, start_pgoff: usize, end_pgoff: usize) -> bool {
        crate::mm::filemap::filemap_map_pages(vmf, start_pgoff, end_pgoff);
        true
    }
}

//! Shared anonymous memory. Linux: `mm/shmem.c` (`shmem_zero_setup`,
//! `shmem_kernel_file_setup`).
//!
//! A MAP_SHARED|MAP_ANONYMOUS mapping (or a shared mapping of /dev/zero) is backed by an
//! unlinked tmpfs file, "/dev/zero (deleted)" in /proc/self/maps. Our tmpfs lives on the
//! fs floor, above mm, so it registers its file constructor here at boot (as Linux hands
//! mm a file's operations) and mm never imports fs.
use crate::errno::{Errno, KResult};
use crate::mm::vma::{MappedFile, VmArea};
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
    Ok(())
}

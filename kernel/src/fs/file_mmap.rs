//! A regular file as mm sees it when it is mapped: the `vm_file` and `vm_ops` of a file
//! VMA. Linux: `generic_file_mmap` and `generic_file_vm_ops` (`filemap_fault`) in
//! `mm/filemap.c`, reached through `file->f_op->mmap`.
//!
//! mm/ sits below fs/ and knows a file only through the [`MappedFile`] trait (Linux's
//! `struct file` + `f_op` + `vm_ops` as far as mmap and the fault path look at them); this
//! is the fs floor's implementation of it, over an open [`File`] and its page cache.
use super::file::File;
use crate::errno::KResult;
use crate::mm::filemap::{AddressSpace, AddressSpaceOperations};
use crate::mm::vma::{MappedFile, VmArea, VmFlags};
use alloc::sync::Arc;

/// An open file as the VMA code sees it (Linux: `vma->vm_file` plus its
/// `file->f_op->mmap`: `generic_file_mmap` (whose `vm_ops->fault` is `filemap_fault`) or
/// `shmem_mmap` for files, `mmap_zero` for /dev/zero).
///
/// `/dev/zero` (Linux: the character device's `f_op->mmap`, `mmap_zero`): do_mmap checks
/// the open mode first, as for any file: PROT_WRITE with
/// MAP_SHARED needs the fd opened for writing (EACCES), any mapping needs it opened for
/// reading (EACCES), and a MAP_SHARED mapping of an fd opened read-only loses VM_SHARED
/// and VM_MAYWRITE, so mprotect(PROT_WRITE) later is EACCES. Then the mmap method makes
/// a VM_SHARED mapping shmem (`shmem_zero_setup`) and any other one anonymous memory.
/// Difference: Linux keeps `vm_file` (/dev/zero) on the anonymous VMA; we drop it and
/// give the VMA the anonymous `vm_pgoff` (address >> PAGE_SHIFT), so it is plain
/// anonymous memory to rmap and /proc/self/maps.
pub struct FileMapping {
    file: Arc<File>,
    /// The file is /dev/zero (its `f_op->mmap` is `mmap_zero`).
    dev_zero: bool,
}

impl FileMapping {
    /// Wrap an open file for mapping.
    pub fn new(file: Arc<File>) -> Self {
        let attr = file.inode().attr();
        let dev_zero = crate::fs::inode::s_ischr(attr.i_mode())
            && attr.i_rdev == crate::fs::char_dev::ZERO_DEV;
        FileMapping { file, dev_zero }
    }
}

impl MappedFile for FileMapping {
    fn ino(&self) -> u64 {
        self.file.inode().attr().i_ino
    }
    fn dev(&self) -> (u32, u32) {
        let d = self.file.inode().attr().i_sb.s_dev;
        (crate::fs::inode::major(d), crate::fs::inode::minor(d))
    }
    fn path(&self) -> &str {
        self.file.path()
    }
    fn size(&self) -> u64 {
        if self.dev_zero {
            return 0;
        }
        self.file.inode().attr().size()
    }
    fn readable(&self) -> bool {
        self.file
            .f_mode()
            .contains(crate::fs::file::FMode::FMODE_READ)
    }
    fn writable(&self) -> bool {
        self.file
            .f_mode()
            .contains(crate::fs::file::FMode::FMODE_WRITE)
    }
    /// Linux's `IS_APPEND(inode)` is the append-only inode attribute (`chattr +a`,
    /// S_APPEND), not O_APPEND on the open file: a file opened O_RDWR|O_APPEND may be
    /// mapped MAP_SHARED|PROT_WRITE. Our file systems have no inode attributes (no
    /// FS_IOC_SETFLAGS), so no inode is append-only.
    fn append_only(&self) -> bool {
        false
    }
    /// Regular files with a page cache only: directories, devices (other than /dev/zero,
    /// handled by sys_mmap) and /proc files have no `mmap` file operation, so ENODEV.
    fn mmap_supported(&self) -> bool {
        self.dev_zero
            || (crate::fs::inode::s_isreg(self.file.inode().attr().i_mode())
                && self.file.inode().mapping().is_some())
    }
    /// A character device takes any offset (Linux: `file_mmap_size_max` returns
    /// ULONG_MAX for a non-regular file).
    fn mmap_size_max(&self) -> u64 {
        if self.dev_zero {
            u64::MAX
        } else {
            i64::MAX as u64
        }
    }
    /// The file's mmap method (Linux: `call_mmap` -> `f_op->mmap`): `generic_file_mmap` /
    /// `shmem_mmap` give the VMA the file system's `vm_ops`; /dev/zero's `mmap_zero` makes
    /// a shared mapping shmem and any other one anonymous memory.
    fn mmap(&self, vma: &mut VmArea) -> KResult<()> {
        if self.dev_zero {
            if vma.vm_flags.contains(VmFlags::VM_SHARED) {
                return crate::mm::shmem::shmem_zero_setup(vma);
            }
            // vma_set_anonymous.
            vma.vm_file = None;
            vma.vm_ops = None;
            vma.vm_pgoff = vma.vm_start >> crate::mm::PAGE_SHIFT;
            return Ok(());
        }
        vma.vm_ops = self.file.inode().vm_ops();
        Ok(())
    }
    fn f_mapping(&self) -> Option<&AddressSpace> {
        self.file.inode().mapping()
    }
    fn a_ops(&self) -> Option<&dyn AddressSpaceOperations> {
        self.file.inode().a_ops()
    }
    /// Only files read from storage are read ahead (tmpfs has no `a_ops`).
    fn f_ra(&self) -> Option<&crate::mm::readahead::FileRa> {
        self.file.inode().a_ops().map(|_| self.file.f_ra())
    }
    /// The open file itself: two mmaps of one fd wrap it in two FileMappings but are
    /// the same `struct file` to Linux, so their VMAs may merge.
    fn file_id(&self) -> usize {
        Arc::as_ptr(&self.file) as *const u8 as usize
    }
    fn fallocate(&self, mode: u32, offset: u64, len: u64) -> KResult<()> {
        crate::fs::open::vfs_fallocate(&self.file, mode, offset, len)
    }

    fn in_page_cache(&self, index: usize) -> bool {
        let Some(mapping) = self.file.inode().mapping() else {
            return false;
        };
        crate::mm::mincore::mincore_page(mapping, index)
    }
}

/// The shmem file behind a shared anonymous mapping (registered with
/// `mm::shmem::register_shmem_file_setup` at boot).
pub fn shmem_zero_mapping(size: usize) -> KResult<Arc<dyn MappedFile>> {
    Ok(Arc::new(FileMapping::new(super::tmpfs::shmem_zero_file(
        size,
    )?)))
}

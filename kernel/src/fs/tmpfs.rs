//! tmpfs: a file system whose files live only in pages — `/tmp`, `/dev/shm`, and (as
//! devtmpfs) `/dev`.
//!
//! Linux: `mm/shmem.c` (`shmem_get_inode`, `shmem_getpage_gfp`, `shmem_file_read_iter`,
//! `shmem_write_begin/end`, `shmem_setattr`, `shmem_fault`) and `fs/libfs.c` (the
//! `simple_*` directory operations tmpfs uses: `simple_lookup`, `simple_unlink`,
//! `simple_rmdir`, `dcache_readdir`). File data are page-cache pages of the inode's
//! [`AddressSpace`], so a later `mmap(MAP_SHARED)` maps the very same pages.
//!
//! Directories keep their entries in a sorted map; `readdir` positions are indices into
//! it. Pages are looked up with `shmem_getpage_gfp` (mm/shmem.rs), which also brings back
//! a page reclaim sent to swap (`shmem_swapin_page`). Reads of holes return zeros without
//! allocating (Linux: `SGP_READ`); writes allocate zeroed pages (`SGP_WRITE`). No size
//! limit beyond free memory (Linux: `size=50%`).
use super::inode::{
    mode_to_dtype, s_isdir, DirEntry, Inode, InodeAttr, SuperBlock, S_IFCHR, S_IFDIR, S_IFMT,
    S_IFREG,
};
use crate::errno::{Errno, KResult};
use crate::mm::filemap::{page_bytes, page_bytes_mut, truncate_inode_pages, AddressSpace};
use crate::mm::page::{put_page, Page, PageFlags};
use crate::mm::shmem::{shmem_getpage, SgpType, SHMEM_AOPS};
use crate::mm::PAGE_SIZE;
use crate::sync::rwsem::RwSemaphore;
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;

/// Largest file size (Linux: `MAX_LFS_FILESIZE` on 64-bit).
pub const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;

enum ShmemKind {
    /// Children by name (Linux: the dentries under this directory).
    Dir {
        children: SpinLockIrq<BTreeMap<String, Arc<ShmemInode>>>,
        parent_ino: u64,
    },
    /// Data pages; `i_rwsem` serialises writers and truncation. A sleeping lock, as
    /// Linux's: a write may sleep with it held, reading a page back from swap.
    File {
        mapping: AddressSpace,
        i_rwsem: RwSemaphore<()>,
    },
    /// Device nodes, FIFOs, sockets: only attributes.
    Special,
}

/// A tmpfs inode (Linux: `struct shmem_inode_info` + its `struct inode`).
pub struct ShmemInode {
    attr: InodeAttr,
    kind: ShmemKind,
}

/// Mount a new, empty tmpfs instance and return its root directory, with permissions
/// `mode` (0o1777 for /tmp, 0o755 for /dev). `s_type` is `"tmpfs"` or `"devtmpfs"`.
/// Linux: `shmem_fill_super`.
pub fn shmem_fill_super(s_type: &'static str, mode: u32) -> Arc<dyn Inode> {
    let sb = SuperBlock::new(s_type, super::inode::get_anon_bdev(), false, 1);
    let ino = sb.get_next_ino();
    shmem_get_inode(&sb, ino, S_IFDIR | (mode & 0o7777), 0, ino)
}

/// A new inode of `mode` (Linux: `shmem_get_inode`).
fn shmem_get_inode(
    sb: &Arc<SuperBlock>,
    ino: u64,
    mode: u32,
    rdev: u64,
    parent_ino: u64,
) -> Arc<ShmemInode> {
    let (kind, nlink) = match mode & S_IFMT {
        S_IFDIR => (
            ShmemKind::Dir {
                children: SpinLockIrq::new(BTreeMap::new()),
                parent_ino,
            },
            2,
        ),
        S_IFREG => (
            ShmemKind::File {
                mapping: AddressSpace::with_a_ops(Some(&SHMEM_AOPS)),
                i_rwsem: RwSemaphore::new(()),
            },
            1,
        ),
        _ => (ShmemKind::Special, 1),
    };
    let mut attr = InodeAttr::new(sb, ino, mode, nlink, 0);
    attr.i_rdev = rdev;
    Arc::new(ShmemInode { attr, kind })
}

impl ShmemInode {
    fn children(&self) -> KResult<&SpinLockIrq<BTreeMap<String, Arc<ShmemInode>>>> {
        match &self.kind {
            ShmemKind::Dir { children, .. } => Ok(children),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn file(&self) -> KResult<(&AddressSpace, &RwSemaphore<()>)> {
        match &self.kind {
            ShmemKind::File { mapping, i_rwsem } => Ok((mapping, i_rwsem)),
            ShmemKind::Dir { .. } => Err(Errno::EISDIR),
            ShmemKind::Special => Err(Errno::EINVAL),
        }
    }
}

/// Copy `[pos, pos + buf.len())` of the file (clipped at `size`) out of the page cache;
/// holes read as zeros, pages on swap are read back first. Linux: `shmem_file_read_iter`
/// (`shmem_getpage(SGP_READ)` per page). An error on the first page is returned; after
/// that the read is short.
fn shmem_file_read(mapping: &AddressSpace, size: u64, pos: u64, buf: &mut [u8]) -> KResult<usize> {
    if pos >= size {
        return Ok(0);
    }
    let len = (buf.len() as u64).min(size - pos) as usize;
    let mut done = 0;
    while done < len {
        let at = pos + done as u64;
        let (index, offset) = (
            (at / PAGE_SIZE as u64) as usize,
            (at % PAGE_SIZE as u64) as usize,
        );
        let n = (PAGE_SIZE - offset).min(len - done);
        match shmem_getpage(mapping, index, SgpType::SGP_READ) {
            Ok(Some(page)) => {
                // SAFETY: we hold a reference; writers hold i_rwsem, as we do.
                buf[done..done + n]
                    .copy_from_slice(unsafe { &page_bytes(page)[offset..offset + n] });
                put_page(page);
            }
            Ok(None) => buf[done..done + n].fill(0),
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
        done += n;
    }
    Ok(done)
}

impl Inode for ShmemInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }

    /// Linux: `simple_lookup`.
    fn lookup(&self, name: &str) -> KResult<Arc<dyn Inode>> {
        let children = self.children()?.lock();
        match children.get(name) {
            Some(child) => Ok(child.clone()),
            None => Err(Errno::ENOENT),
        }
    }

    /// Linux: `shmem_mknod` (behind `shmem_create`, `shmem_mkdir`).
    fn create(&self, name: &str, mode: u32, rdev: u64) -> KResult<Arc<dyn Inode>> {
        let mut children = self.children()?.lock();
        if children.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let sb = &self.attr.i_sb;
        let rdev = if mode & S_IFMT == S_IFCHR || mode & S_IFMT == super::inode::S_IFBLK {
            rdev
        } else {
            0
        };
        let child = shmem_get_inode(sb, sb.get_next_ino(), mode, rdev, self.attr.i_ino);
        if s_isdir(mode) {
            self.attr.set_nlink(self.attr.nlink() + 1); // the child's ".."
        }
        children.insert(String::from(name), child.clone());
        Ok(child)
    }

    /// Linux: `simple_unlink` / `simple_rmdir` (with `simple_empty`).
    fn unlink(&self, name: &str, rmdir: bool) -> KResult<()> {
        let mut children = self.children()?.lock();
        let child = children.get(name).ok_or(Errno::ENOENT)?;
        match (&child.kind, rmdir) {
            (
                ShmemKind::Dir {
                    children: grand, ..
                },
                true,
            ) => {
                if !grand.lock().is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
                self.attr.set_nlink(self.attr.nlink() - 1);
                child.attr.set_nlink(0);
            }
            (ShmemKind::Dir { .. }, false) => return Err(Errno::EISDIR),
            (_, true) => return Err(Errno::ENOTDIR),
            (_, false) => child.attr.set_nlink(child.attr.nlink().saturating_sub(1)),
        }
        // The pages go when the last open file drops the inode (AddressSpace::drop).
        children.remove(name);
        Ok(())
    }

    /// Linux: `dcache_readdir` (after the dots, which the VFS emits).
    fn readdir(&self, pos: usize) -> KResult<Option<DirEntry>> {
        let children = self.children()?.lock();
        Ok(children.iter().nth(pos).map(|(name, child)| DirEntry {
            name: name.clone(),
            ino: child.attr.i_ino,
            d_type: mode_to_dtype(child.attr.i_mode),
        }))
    }

    fn parent_ino(&self) -> u64 {
        match &self.kind {
            ShmemKind::Dir { parent_ino, .. } => *parent_ino,
            _ => self.attr.i_ino,
        }
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        let (mapping, i_rwsem) = self.file()?;
        let _guard = i_rwsem.read();
        shmem_file_read(mapping, self.attr.size(), pos, buf)
    }

    /// Linux: `generic_perform_write` with `shmem_write_begin` (find or allocate the page)
    /// and `shmem_write_end` (mark it dirty, extend `i_size`).
    fn write_at(&self, pos: u64, buf: &[u8]) -> KResult<usize> {
        let (mapping, i_rwsem) = self.file()?;
        let end = pos.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_LFS_FILESIZE {
            return Err(Errno::EFBIG);
        }
        let _guard = i_rwsem.write();
        let mut done = 0;
        while done < buf.len() {
            let at = pos + done as u64;
            let (index, offset) = (
                (at / PAGE_SIZE as u64) as usize,
                (at % PAGE_SIZE as u64) as usize,
            );
            let n = (PAGE_SIZE - offset).min(buf.len() - done);
            let page = match shmem_getpage(mapping, index, SgpType::SGP_WRITE) {
                Ok(Some(p)) => p,
                Ok(None) if done == 0 => return Err(Errno::ENOMEM),
                Err(e) if done == 0 => return Err(e),
                Ok(None) | Err(_) => break,
            };
            // SAFETY: we hold a reference and i_rwsem.
            unsafe {
                page_bytes_mut(page)[offset..offset + n].copy_from_slice(&buf[done..done + n])
            };
            page.set_flags(PageFlags::PG_dirty);
            put_page(page);
            done += n;
            if at + n as u64 > self.attr.size() {
                self.attr.set_size(at + n as u64);
            }
        }
        Ok(done)
    }

    /// Linux: `shmem_setattr` -> `truncate_setsize` + `shmem_truncate_range`.
    fn setsize(&self, len: u64) -> KResult<()> {
        let (mapping, i_rwsem) = self.file()?;
        if len > MAX_LFS_FILESIZE {
            return Err(Errno::EFBIG);
        }
        let _guard = i_rwsem.write();
        let old = self.attr.size();
        self.attr.set_size(len);
        if len < old {
            // A partial last page on swap comes back first, so its tail is zeroed
            // (Linux: shmem_undo_range's shmem_getpage of the partial page).
            if !len.is_multiple_of(PAGE_SIZE as u64) {
                let index = (len / PAGE_SIZE as u64) as usize;
                if let Ok(Some(page)) = shmem_getpage(mapping, index, SgpType::SGP_READ) {
                    put_page(page);
                }
            }
            truncate_inode_pages(mapping, len);
        }
        Ok(())
    }

    /// Pages in memory and on swap (Linux: `info->alloced`, which counts both).
    fn i_blocks(&self) -> u64 {
        self.mapping().map_or(0, |m| {
            (m.nrpages() + m.nrexceptional()) as u64 * (PAGE_SIZE as u64 / 512)
        })
    }

    fn mapping(&self) -> Option<&AddressSpace> {
        self.file().ok().map(|(m, _)| m)
    }

    /// Linux: `shmem_fault` -> `shmem_getpage(SGP_CACHE)`: a fault allocates.
    fn fault_page(&self, index: usize) -> KResult<&'static Page> {
        let (mapping, _) = self.file()?;
        shmem_getpage(mapping, index, SgpType::SGP_CACHE)?.ok_or(Errno::ENOMEM)
    }

    /// Linux: `shmem_mmap` installs `shmem_vm_ops` (`shmem_fault`).
    fn vm_ops(&self) -> Option<&'static dyn crate::mm::vma::VmOperationsStruct> {
        self.mapping().map(|_| &crate::mm::shmem::SHMEM_VM_OPS as _)
    }
}

/// The internal tmpfs instance behind shared anonymous mappings (Linux: `shm_mnt`).
static SHM_MNT: spin::Once<Arc<SuperBlock>> = spin::Once::new();

/// An unlinked tmpfs file of `size` bytes backing a MAP_SHARED|MAP_ANONYMOUS mapping, so
/// parent and child after fork share its pages. Linux: `shmem_zero_setup` ->
/// `shmem_kernel_file_setup("dev/zero", size)`; /proc/self/maps shows
/// `/dev/zero (deleted)`.
pub fn shmem_zero_file(size: usize) -> KResult<Arc<super::file::File>> {
    let sb =
        SHM_MNT.call_once(|| SuperBlock::new("tmpfs", super::inode::get_anon_bdev(), false, 1));
    let ino = sb.get_next_ino();
    let inode = shmem_get_inode(sb, ino, S_IFREG | 0o777, 0, ino);
    inode.setsize(size as u64)?;
    Ok(Arc::new(super::file::File::new(
        alloc::string::String::from("/dev/zero (deleted)"),
        inode,
        None,
        super::O_RDWR,
    )))
}

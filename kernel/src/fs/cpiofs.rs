//! The root file system: a newc cpio archive on a read-only disk, served in place.
//!
//! Linux unpacks an initramfs into a tmpfs at boot (`init/initramfs.c`,
//! `populate_rootfs`); we keep the archive on the virtio disk instead and read file data
//! through the page cache on demand, as a disk file system does (Linux: `fs/isofs`,
//! `fs/cramfs` — read-only, `readpage` from the block device). Mounting reads only the
//! headers (`cpio_entries`) and builds the directory tree in memory.
//!
//! Names in the archive may start with `./` or `/`; missing parent directories are
//! created; hard links (equal `ino`) are kept as separate files, symbolic links and device
//! nodes are skipped with a warning (the image builder writes neither).
use super::block_dev::BlockDevice;
use super::cpio::{cpio_entries, CpioEntry};
use super::inode::{
    mode_to_dtype, s_isdir, s_isreg, DirEntry, Inode, InodeAttr, SuperBlock, S_IFDIR,
};
use crate::errno::{Errno, KResult};
use crate::mm::filemap::{
    generic_file_buffered_read, page_bytes_mut, read_cache_page, AddressSpace,
    AddressSpaceOperations,
};
use crate::mm::page::Page;
use crate::mm::PAGE_SIZE;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

enum CpioKind {
    /// Sorted children.
    Dir {
        children: Vec<(String, Arc<CpioInode>)>,
        parent_ino: u64,
    },
    /// Data at `data_offset` on the disk, cached in `mapping`.
    File {
        data_offset: u64,
        mapping: AddressSpace,
        bdev: Arc<dyn BlockDevice>,
    },
}

/// An inode of the root file system.
pub struct CpioInode {
    attr: InodeAttr,
    kind: CpioKind,
}

impl AddressSpaceOperations for CpioInode {
    /// Read file page `index` from the disk, zero-filling past end of file. Linux:
    /// `a_ops->readpage` (`mpage_readpage` on a block file system).
    fn readpage(&self, page: &Page, index: usize) -> KResult<()> {
        let CpioKind::File {
            data_offset, bdev, ..
        } = &self.kind
        else {
            return Err(Errno::EISDIR);
        };
        let start = index as u64 * PAGE_SIZE as u64;
        let n = self.attr.size().saturating_sub(start).min(PAGE_SIZE as u64) as usize;
        // SAFETY: a page fresh from the allocator, not yet visible in the cache.
        let bytes = unsafe { page_bytes_mut(page) };
        bdev.read_bytes(data_offset + start, &mut bytes[..n])?;
        bytes[n..].fill(0);
        Ok(())
    }

    /// Read a run of file pages with one contiguous disk read (a cpio file's data is one
    /// extent), zero-filling past end of file. Linux: `a_ops->readahead`
    /// (`mpage_readahead` on a block file system).
    fn readahead(&self, pages: &[&'static Page], index: usize) -> KResult<()> {
        let CpioKind::File {
            data_offset, bdev, ..
        } = &self.kind
        else {
            return Err(Errno::EISDIR);
        };
        let start = index as u64 * PAGE_SIZE as u64;
        let size = self.attr.size();
        let mut bufs: alloc::vec::Vec<&mut [u8]> = alloc::vec::Vec::new();
        bufs.try_reserve(pages.len()).map_err(|_| Errno::ENOMEM)?;
        for (i, page) in pages.iter().enumerate() {
            let at = start + (i * PAGE_SIZE) as u64;
            let n = size.saturating_sub(at).min(PAGE_SIZE as u64) as usize;
            // SAFETY: pages fresh from the allocator, locked, not yet up to date: nobody
            // else reads or writes them until the caller unlocks them.
            let bytes = unsafe { page_bytes_mut(page) };
            bytes[n..].fill(0);
            if n > 0 {
                bufs.push(&mut bytes[..n]);
            }
        }
        bdev.read_bytes_vectored(data_offset + start, &mut bufs)
    }
}

impl Inode for CpioInode {
    fn attr(&self) -> &InodeAttr {
        &self.attr
    }

    fn lookup(&self, name: &str) -> KResult<Arc<dyn Inode>> {
        match &self.kind {
            CpioKind::Dir { children, .. } => children
                .binary_search_by(|(n, _)| n.as_str().cmp(name))
                .map(|i| children[i].1.clone() as Arc<dyn Inode>)
                .map_err(|_| Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn create(&self, _name: &str, _mode: u32, _rdev: u64) -> KResult<Arc<dyn Inode>> {
        Err(Errno::EROFS)
    }

    fn unlink(&self, _name: &str, _rmdir: bool) -> KResult<()> {
        Err(Errno::EROFS)
    }

    fn readdir(&self, pos: usize) -> KResult<Option<DirEntry>> {
        match &self.kind {
            CpioKind::Dir { children, .. } => Ok(children.get(pos).map(|(name, c)| DirEntry {
                name: name.clone(),
                ino: c.attr.i_ino,
                d_type: mode_to_dtype(c.attr.i_mode()),
            })),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn parent_ino(&self) -> u64 {
        match &self.kind {
            CpioKind::Dir { parent_ino, .. } => *parent_ino,
            _ => self.attr.i_ino,
        }
    }

    fn read_at(&self, pos: u64, buf: &mut [u8]) -> KResult<usize> {
        match &self.kind {
            CpioKind::File { mapping, .. } => {
                generic_file_buffered_read(mapping, self, None, self.attr.size(), pos, buf)
            }
            CpioKind::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    /// Linux: `generic_file_read_iter` -> `generic_file_buffered_read`, with the open
    /// file's readahead state.
    fn read_iter(
        &self,
        ra: &crate::mm::readahead::FileRa,
        pos: u64,
        buf: &mut [u8],
    ) -> KResult<usize> {
        match &self.kind {
            CpioKind::File { mapping, .. } => {
                generic_file_buffered_read(mapping, self, Some(ra), self.attr.size(), pos, buf)
            }
            CpioKind::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    fn write_at(&self, _pos: u64, _buf: &[u8]) -> KResult<usize> {
        Err(Errno::EROFS)
    }

    fn setsize(&self, _len: u64) -> KResult<()> {
        Err(Errno::EROFS)
    }

    fn mapping(&self) -> Option<&AddressSpace> {
        match &self.kind {
            CpioKind::File { mapping, .. } => Some(mapping),
            CpioKind::Dir { .. } => None,
        }
    }

    /// Linux: `filemap_fault` -> `find_get_page` / `page_cache_read`.
    fn fault_page(&self, index: usize) -> KResult<&'static Page> {
        match &self.kind {
            CpioKind::File { mapping, .. } => read_cache_page(mapping, index, self),
            CpioKind::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    /// Linux: `generic_file_mmap` installs `generic_file_vm_ops` (`filemap_fault`).
    fn vm_ops(&self) -> Option<&'static dyn crate::mm::vma::VmOperationsStruct> {
        match &self.kind {
            CpioKind::File { .. } => Some(&crate::mm::filemap::GENERIC_FILE_VM_OPS),
            CpioKind::Dir { .. } => None,
        }
    }

    /// Pages are read from the cpio image on the disk (`readpage`).
    fn a_ops(&self) -> Option<&dyn AddressSpaceOperations> {
        match &self.kind {
            CpioKind::File { .. } => Some(self),
            CpioKind::Dir { .. } => None,
        }
    }
}

/// A node of the tree while it is built from the flat entry list.
struct Node {
    ino: u64,
    mode: u32,
    mtime: i64,
    uid: u32,
    gid: u32,
    size: u64,
    data_offset: u64,
    children: BTreeMap<String, usize>,
}

/// The path components of an archive name (`./etc//motd` -> `etc`, `motd`), or None for a
/// name with `..` in it.
pub fn cpio_name_components(name: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = name
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        None
    } else {
        Some(parts)
    }
}

/// Read the archive's index from `bdev` and build the file system; the root directory.
/// Linux: the `fill_super` of a read-only disk file system.
#[no_mangle]
#[inline(never)]
pub fn cpiofs_fill_super(bdev: Arc<dyn BlockDevice>, s_dev: u64) -> KResult<Arc<dyn Inode>> {
    let entries = cpio_entries(&*bdev)?;
    build_tree(bdev, s_dev, &entries)
}

fn build_tree(
    bdev: Arc<dyn BlockDevice>,
    s_dev: u64,
    entries: &[CpioEntry],
) -> KResult<Arc<dyn Inode>> {
    // Archive inode numbers when unique and non-zero, fresh ones after the largest otherwise.
    let max_ino = entries.iter().map(|e| e.hdr.ino as u64).max().unwrap_or(0);
    let sb = SuperBlock::new("cpio", s_dev, true, max_ino.max(1) + 1);
    let mut used = BTreeSet::new();
    let mut nodes = alloc::vec![Node {
        ino: 0,
        mode: S_IFDIR | 0o755,
        mtime: 0,
        uid: 0,
        gid: 0,
        size: 0,
        data_offset: 0,
        children: BTreeMap::new(),
    }];
    for e in entries {
        let Some(parts) = cpio_name_components(&e.name) else {
            pr_warn!("cpiofs: skipping `{}`: `..` in name", e.name);
            continue;
        };
        let mode = e.hdr.mode;
        if !s_isdir(mode) && !s_isreg(mode) {
            pr_warn!(
                "cpiofs: skipping `{}`: mode {:o} not supported",
                e.name,
                mode
            );
            continue;
        }
        let mut ino = e.hdr.ino as u64;
        if ino == 0 || !used.insert(ino) {
            ino = sb.get_next_ino();
        }
        // Walk to the parent, creating missing directories.
        let mut at = 0;
        let Some((last, dirs)) = parts.split_last() else {
            // "." : the root's own attributes.
            let root = &mut nodes[0];
            (root.ino, root.mode, root.mtime) = (ino, mode, e.hdr.mtime as i64);
            continue;
        };
        for d in dirs {
            at = match nodes[at].children.get(*d) {
                Some(&i) => i,
                None => {
                    nodes.push(Node {
                        ino: sb.get_next_ino(),
                        mode: S_IFDIR | 0o755,
                        mtime: e.hdr.mtime as i64,
                        uid: 0,
                        gid: 0,
                        size: 0,
                        data_offset: 0,
                        children: BTreeMap::new(),
                    });
                    let i = nodes.len() - 1;
                    nodes[at].children.insert(String::from(*d), i);
                    i
                }
            };
        }
        let node = Node {
            ino,
            mode,
            mtime: e.hdr.mtime as i64,
            uid: e.hdr.uid,
            gid: e.hdr.gid,
            size: if s_isreg(mode) { e.size() } else { 0 },
            data_offset: e.data_offset,
            children: BTreeMap::new(),
        };
        match nodes[at].children.get(*last) {
            // A directory listed after its contents: keep the children, take the attributes.
            Some(&i) if s_isdir(nodes[i].mode) && s_isdir(mode) => {
                let children = core::mem::take(&mut nodes[i].children);
                nodes[i] = Node { children, ..node };
            }
            Some(_) => pr_warn!("cpiofs: duplicate entry `{}` ignored", e.name),
            None => {
                nodes.push(node);
                let i = nodes.len() - 1;
                nodes[at].children.insert(String::from(*last), i);
            }
        }
    }
    if nodes[0].ino == 0 {
        nodes[0].ino = sb.get_next_ino();
    }
    let root_ino = nodes[0].ino;
    Ok(make_inode(&nodes, 0, root_ino, &sb, &bdev))
}

fn make_inode(
    nodes: &[Node],
    i: usize,
    parent_ino: u64,
    sb: &Arc<SuperBlock>,
    bdev: &Arc<dyn BlockDevice>,
) -> Arc<CpioInode> {
    let n = &nodes[i];
    let kind = if s_isdir(n.mode) {
        CpioKind::Dir {
            children: n
                .children
                .iter()
                .map(|(name, &c)| (name.clone(), make_inode(nodes, c, n.ino, sb, bdev)))
                .collect(),
            parent_ino,
        }
    } else {
        CpioKind::File {
            data_offset: n.data_offset,
            mapping: AddressSpace::new(),
            bdev: bdev.clone(),
        }
    };
    let subdirs = n
        .children
        .values()
        .filter(|&&c| s_isdir(nodes[c].mode))
        .count() as u32;
    let nlink = if s_isdir(n.mode) { 2 + subdirs } else { 1 };
    let attr = InodeAttr::new(sb, n.ino, n.mode, nlink, n.size);
    attr.set_owner(n.uid, n.gid);
    attr.set_mtime(n.mtime);
    let inode = Arc::new(CpioInode { attr, kind });
    if !s_isdir(n.mode) {
        // For drop_caches (Linux: `iget_locked` -> `inode_sb_list_add`).
        super::inode::inode_sb_list_add(sb, &(inode.clone() as Arc<dyn Inode>));
    }
    inode
}

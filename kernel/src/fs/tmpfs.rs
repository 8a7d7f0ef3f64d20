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
//! allocating (Linux: `SGP_READ`); writes allocate zeroed pages (`SGP_WRITE`).
//!
//! Each instance has Linux's limits (`struct shmem_sb_info`, mm/shmem.rs): `size=` pages
//! (default half of RAM) counted over its files' pages in memory and on swap, and
//! `nr_inodes=` (default half as many as RAM has pages); past either, ENOSPC, and a fault
//! on a mapped hole gets SIGBUS. `mount -t tmpfs -o size=...,nr_inodes=...,mode=...`
//! sets them ([`shmem_parse_options`]); the internal instance behind shared anonymous
//! memory has none, as Linux's `shm_mnt`.
use super::inode::{
    mode_to_dtype, s_isdir, DirEntry, Inode, InodeAttr, SuperBlock, S_IFCHR, S_IFDIR, S_IFMT,
    S_IFREG,
};
use super::statfs::Kstatfs;
use crate::errno::{Errno, KResult};
use crate::mm::filemap::{page_bytes, page_bytes_mut, truncate_inode_pages, AddressSpace};
use crate::mm::page::{put_page, Page, PageFlags};
use crate::mm::shmem::{
    shmem_default_max_blocks, shmem_default_max_inodes, shmem_getpage, SgpType, ShmemSbInfo,
    SHMEM_AOPS,
};
use crate::mm::PAGE_SIZE;
use crate::sync::rwsem::RwSemaphore;
use crate::sync::SpinLockIrq;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

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
    /// The instance's limits and usage (Linux: `SHMEM_SB(inode->i_sb)`).
    sbinfo: Arc<ShmemSbInfo>,
}

impl Drop for ShmemInode {
    /// The inode is evicted: its allowance goes back (Linux: `shmem_evict_inode` ->
    /// `shmem_free_inode`). Its pages went with its mapping's own drop.
    fn drop(&mut self) {
        self.sbinfo.shmem_free_inode();
    }
}

/// A tmpfs instance's mount options (Linux: `struct shmem_options`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmemOptions {
    /// `size=` (or `nr_blocks=`) in pages; 0: no limit.
    pub blocks: usize,
    /// `nr_inodes=`; 0: no limit.
    pub inodes: usize,
    /// `mode=` of the root directory.
    pub mode: u32,
}

impl ShmemOptions {
    /// Linux's defaults: half of RAM, half as many inodes as RAM pages, `mode`.
    pub fn defaults(mode: u32) -> Self {
        ShmemOptions {
            blocks: shmem_default_max_blocks(),
            inodes: shmem_default_max_inodes(),
            mode,
        }
    }
}

/// A number with an optional binary suffix, as mount options take them: `k`, `m`, `g`,
/// `t`, `p`, `e` in either case (Linux: `memparse`). None on garbage or overflow.
fn memparse(s: &str) -> Option<u64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match s[digits..].to_ascii_lowercase().as_str() {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        "e" => 60,
        _ => return None,
    };
    n.checked_mul(1u64.checked_shl(shift)?)
}

/// Parse tmpfs's mount data, `opt=value` words separated by commas, over `defaults`
/// (Linux: `shmem_parse_one`): `size=N[kmg...]` or `size=N%` (of RAM), rounded up to
/// pages; `nr_blocks=N`; `nr_inodes=N[kmg...]`; `mode=OCTAL`. `totalram` is RAM in pages
/// (for `%`). EINVAL for an unknown option or a bad value, as Linux's "tmpfs: Bad value".
pub fn shmem_parse_options(
    data: &str,
    defaults: ShmemOptions,
    totalram: usize,
) -> KResult<ShmemOptions> {
    let mut o = defaults;
    for word in data.split(',').filter(|w| !w.is_empty()) {
        let (key, value) = word.split_once('=').ok_or(Errno::EINVAL)?;
        match key {
            "size" => {
                let bytes = if let Some(pct) = value.strip_suffix('%') {
                    let pct: u64 = pct.parse().map_err(|_| Errno::EINVAL)?;
                    (totalram as u64)
                        .checked_mul(PAGE_SIZE as u64)
                        .and_then(|b| b.checked_mul(pct))
                        .ok_or(Errno::EINVAL)?
                        / 100
                } else {
                    memparse(value).ok_or(Errno::EINVAL)?
                };
                o.blocks =
                    usize::try_from(bytes.div_ceil(PAGE_SIZE as u64)).map_err(|_| Errno::EINVAL)?;
            }
            "nr_blocks" => {
                o.blocks = memparse(value)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(Errno::EINVAL)?
            }
            "nr_inodes" => {
                o.inodes = memparse(value)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or(Errno::EINVAL)?
            }
            "mode" => {
                o.mode = u32::from_str_radix(value, 8)
                    .ok()
                    .filter(|m| m & !0o7777 == 0)
                    .ok_or(Errno::EINVAL)?
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(o)
}

/// Mount a new, empty tmpfs instance with Linux's default limits and return its root
/// directory, with permissions `mode` (0o1777 for /tmp, 0o755 for /dev). `s_type` is
/// `"tmpfs"` or `"devtmpfs"`. Linux: `shmem_fill_super`.
pub fn shmem_fill_super(s_type: &'static str, mode: u32) -> Arc<dyn Inode> {
    shmem_fill_super_opts(s_type, ShmemOptions::defaults(mode), false)
        .expect("a new instance has room for its root")
}

/// [`shmem_fill_super`] with mount options, read-only if `rdonly` (`mount -o ro`).
pub fn shmem_fill_super_opts(
    s_type: &'static str,
    opts: ShmemOptions,
    rdonly: bool,
) -> KResult<Arc<dyn Inode>> {
    let sb = SuperBlock::new(s_type, super::inode::get_anon_bdev(), rdonly, 1);
    let sbinfo = Arc::new(ShmemSbInfo::new(opts.blocks, opts.inodes));
    let ino = sb.get_next_ino();
    Ok(shmem_get_inode(
        &sb,
        &sbinfo,
        ino,
        S_IFDIR | (opts.mode & 0o7777),
        0,
        ino,
    )?)
}

/// A new inode of `mode` (Linux: `shmem_get_inode`); ENOSPC when the instance has no
/// inode left (`shmem_reserve_inode`).
fn shmem_get_inode(
    sb: &Arc<SuperBlock>,
    sbinfo: &Arc<ShmemSbInfo>,
    ino: u64,
    mode: u32,
    rdev: u64,
    parent_ino: u64,
) -> KResult<Arc<ShmemInode>> {
    sbinfo.shmem_reserve_inode()?;
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
                mapping: AddressSpace::shmem(&SHMEM_AOPS, sbinfo.clone()),
                i_rwsem: RwSemaphore::new(()),
            },
            1,
        ),
        _ => (ShmemKind::Special, 1),
    };
    let mut attr = InodeAttr::new(sb, ino, mode, nlink, 0);
    attr.i_rdev = rdev;
    Ok(Arc::new(ShmemInode {
        attr,
        kind,
        sbinfo: sbinfo.clone(),
    }))
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
        let child = shmem_get_inode(
            sb,
            &self.sbinfo,
            sb.get_next_ino(),
            mode,
            rdev,
            self.attr.i_ino,
        )?;
        // shmem_get_inode -> inode_init_owner: the creator owns it.
        let owned = super::attr::inode_init_owner(&*child, Some(self), mode);
        if owned != mode {
            child.attr.set_mode(owned);
        }
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
            d_type: mode_to_dtype(child.attr.i_mode()),
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

    /// Linux: `shmem_fallocate`. FALLOC_FL_PUNCH_HOLE: unmap the whole pages of the range
    /// from every mapping, then drop them (and their swap) and zero the edges. Otherwise
    /// allocate every page of the range (ENOSPC past `size=`, ENOMEM), and without
    /// FALLOC_FL_KEEP_SIZE grow the file to the range's end. Unlike Linux, pages already
    /// allocated when a later one fails stay (Linux undoes the new ones).
    fn fallocate(&self, mode: u32, offset: u64, len: u64) -> KResult<()> {
        use crate::fs::open::{FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE};
        if mode & !(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE) != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let (mapping, i_rwsem) = self.file()?;
        let _guard = i_rwsem.write();
        let p = PAGE_SIZE as u64;
        let end = offset + len;
        if mode & FALLOC_FL_PUNCH_HOLE != 0 {
            let (ustart, uend) = (offset.div_ceil(p) * p, end / p * p);
            if uend > ustart {
                crate::mm::memory::unmap_mapping_range(mapping, ustart, uend - ustart, false);
            }
            // A partial edge page out on swap comes back first, so its inside bytes are
            // zeroed (Linux: shmem_undo_range's shmem_getpage of the partial pages).
            for at in [offset, end - 1] {
                if at % p != 0 || at == end - 1 {
                    let index = (at / p) as usize;
                    if let Ok(Some(page)) = shmem_getpage(mapping, index, SgpType::SGP_READ) {
                        put_page(page);
                    }
                }
            }
            crate::mm::filemap::truncate_inode_pages_range(mapping, offset, end - 1);
            return Ok(());
        }
        for index in (offset / p) as usize..end.div_ceil(p) as usize {
            match shmem_getpage(mapping, index, SgpType::SGP_WRITE)? {
                Some(page) => put_page(page),
                None => return Err(Errno::ENOMEM),
            }
        }
        if mode & FALLOC_FL_KEEP_SIZE == 0 && end > self.attr.size() {
            self.attr.set_size(end);
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

    /// Linux: `shmem_statfs`: the limits, and what is left of them.
    fn statfs(&self) -> Kstatfs {
        let mut st = Kstatfs::for_type(self.attr.i_sb.s_type);
        let sbinfo = &self.sbinfo;
        let max = sbinfo.max_blocks.load(Ordering::Relaxed) as u64;
        if max != 0 {
            let used = sbinfo.used_blocks.load(Ordering::Relaxed) as u64;
            st.f_blocks = max;
            st.f_bfree = max.saturating_sub(used);
            st.f_bavail = st.f_bfree;
        }
        let inodes = sbinfo.max_inodes.load(Ordering::Relaxed) as u64;
        if inodes != 0 {
            st.f_files = inodes;
            st.f_ffree = sbinfo.free_inodes.load(Ordering::Relaxed) as u64;
        }
        st
    }

    /// What differs from the defaults, for /proc/mounts (Linux: `shmem_show_options`).
    fn show_options(&self) -> String {
        let mut s = String::new();
        let blocks = self.sbinfo.max_blocks.load(Ordering::Relaxed);
        if blocks != shmem_default_max_blocks() {
            s.push_str(&alloc::format!(",size={}k", blocks * (PAGE_SIZE / 1024)));
        }
        let inodes = self.sbinfo.max_inodes.load(Ordering::Relaxed);
        if inodes != shmem_default_max_inodes() {
            s.push_str(&alloc::format!(",nr_inodes={inodes}"));
        }
        let mode = self.attr.i_mode() & 0o7777;
        if mode != 0o1777 {
            s.push_str(&alloc::format!(",mode={mode:03o}"));
        }
        s
    }

    /// Linux: `shmem_mmap` installs `shmem_vm_ops` (`shmem_fault`).
    fn vm_ops(&self) -> Option<&'static dyn crate::mm::vma::VmOperationsStruct> {
        self.mapping().map(|_| &crate::mm::shmem::SHMEM_VM_OPS as _)
    }
}

/// The internal tmpfs instance behind shared anonymous mappings, with no limits (Linux:
/// `shm_mnt`, a kernel mount: `size=` and `nr_inodes=` do not apply).
static SHM_MNT: spin::Once<(Arc<SuperBlock>, Arc<ShmemSbInfo>)> = spin::Once::new();

/// An unlinked tmpfs file of `size` bytes backing a MAP_SHARED|MAP_ANONYMOUS mapping, so
/// parent and child after fork share its pages. Linux: `shmem_zero_setup` ->
/// `shmem_kernel_file_setup("dev/zero", size)`; /proc/self/maps shows
/// `/dev/zero (deleted)`.
pub fn shmem_zero_file(size: usize) -> KResult<Arc<super::file::File>> {
    shmem_kernel_file_setup(alloc::string::String::from("/dev/zero (deleted)"), size)
}

/// An unlinked file of `size` bytes on the internal tmpfs instance, opened read-write,
/// whose path reads `path` (Linux: `shmem_kernel_file_setup`, also what System V shared
/// memory's `newseg` makes each segment of, as "SYSV<key>").
pub fn shmem_kernel_file_setup(
    path: alloc::string::String,
    size: usize,
) -> KResult<Arc<super::file::File>> {
    let (sb, sbinfo) = SHM_MNT.call_once(|| {
        (
            SuperBlock::new("tmpfs", super::inode::get_anon_bdev(), false, 1),
            Arc::new(ShmemSbInfo::new(0, 0)),
        )
    });
    let ino = sb.get_next_ino();
    let inode = shmem_get_inode(sb, sbinfo, ino, S_IFREG | 0o777, 0, ino)?;
    inode.setsize(size as u64)?;
    Ok(Arc::new(super::file::File::new(
        path,
        inode,
        None,
        super::O_RDWR,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memparse_takes_linux_suffixes() {
        assert_eq!(memparse("64k"), Some(64 << 10));
        assert_eq!(memparse("3M"), Some(3 << 20));
        assert_eq!(memparse("1g"), Some(1 << 30));
        assert_eq!(memparse("12"), Some(12));
        assert_eq!(memparse("k"), None);
        assert_eq!(memparse("5x"), None);
        assert_eq!(memparse("99999999999999999999"), None);
        assert_eq!(memparse("16e"), None); // 2^64: overflow
    }

    #[test]
    fn options_parse_as_linux_does() {
        let d = ShmemOptions {
            blocks: 100,
            inodes: 50,
            mode: 0o1777,
        };
        let o = shmem_parse_options("size=64k,nr_inodes=4,mode=700", d, 1000).unwrap();
        assert_eq!((o.blocks, o.inodes, o.mode), (16, 4, 0o700));
        // Rounded up to pages; a percentage of RAM (1000 pages here).
        assert_eq!(shmem_parse_options("size=5000", d, 1000).unwrap().blocks, 2);
        assert_eq!(
            shmem_parse_options("size=10%", d, 1000).unwrap().blocks,
            100
        );
        assert_eq!(
            shmem_parse_options("nr_blocks=7", d, 1000).unwrap().blocks,
            7
        );
        assert_eq!(shmem_parse_options("size=0", d, 1000).unwrap().blocks, 0);
        assert_eq!(shmem_parse_options("", d, 1000), Ok(d));
        assert_eq!(shmem_parse_options(",,", d, 1000), Ok(d));
        for bad in [
            "size",
            "size=",
            "size=x",
            "mode=9",
            "mode=17777",
            "colour=red",
            "nr_inodes=-1",
        ] {
            assert_eq!(
                shmem_parse_options(bad, d, 1000),
                Err(Errno::EINVAL),
                "{bad}"
            );
        }
    }

    #[test]
    fn blocks_and_inodes_are_charged_and_given_back() {
        use crate::mm::shmem::{shmem_inode_acct_block, shmem_recalc_inode, ShmemAcct};
        let sb = Arc::new(ShmemSbInfo::new(2, 2));
        let acct = ShmemAcct::new(sb.clone());
        assert_eq!(shmem_inode_acct_block(&acct, 0), Ok(()));
        assert_eq!(shmem_inode_acct_block(&acct, 1), Ok(()));
        assert_eq!(shmem_inode_acct_block(&acct, 2), Err(Errno::ENOSPC));
        // One entry left the file (truncated or dropped): the next charge settles it.
        assert_eq!(shmem_inode_acct_block(&acct, 1), Ok(()));
        assert_eq!(sb.used_blocks.load(Ordering::Relaxed), 2);
        shmem_recalc_inode(&acct, 0);
        assert_eq!(sb.used_blocks.load(Ordering::Relaxed), 0);
        assert_eq!(sb.shmem_reserve_inode(), Ok(()));
        assert_eq!(sb.shmem_reserve_inode(), Ok(()));
        assert_eq!(sb.shmem_reserve_inode(), Err(Errno::ENOSPC));
        sb.shmem_free_inode();
        assert_eq!(sb.shmem_reserve_inode(), Ok(()));
        // No limits: always room.
        let free = ShmemSbInfo::new(0, 0);
        for _ in 0..10 {
            assert_eq!(free.shmem_reserve_inode(), Ok(()));
        }
    }
}

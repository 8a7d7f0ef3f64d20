//! Virtual memory areas: `VmArea` (Linux `struct vm_area_struct`), the VMA tree lookups,
//! `vma_merge` and `split_vma`, and the `/proc/<pid>/maps` line.
//!
//! Linux: `include/linux/mm_types.h`, `include/linux/mm.h` (VM_* flags, `vm_start_gap`),
//! `mm/mmap.c` (`find_vma`, `find_vma_prev`, `vma_link`, `vma_merge`, `__vma_adjust`,
//! `__split_vma`), `fs/proc/task_mmu.c` (`show_map_vma`). Callers: `mm/mmap.rs` (mmap,
//! munmap, brk), `mm/mprotect.rs`, later mlock and the fault path.
//! Locking: none inside; the caller holds the mm lock (Linux `mmap_lock`) for write when
//! it changes the tree.
//!
//! A VMA is named by its `vm_start`, the key of `MmapLocked::mm_rb`: where Linux passes a
//! `struct vm_area_struct *`, these functions take that key (`usize`).
use super::mm_types::vma_of;
use super::mm_types::MmapLocked;
use super::mmap::vm_get_page_prot;
use super::{PAGE_SHIFT, PAGE_SIZE};
use crate::arch::aarch64::pgtable::PgProt;
use crate::errno::{Errno, KResult};
use crate::lib::rbtree::{
    rb_erase_augmented, rb_first, rb_insert_augmented, rb_link_node, rb_next, rb_parent,
    RbAugmentCallbacks, RbAugmentMax, RbMaxCallbacks, RbNode,
};
use crate::mm::mm_types::STACK_GUARD_GAP;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use bitflags::bitflags;
use core::fmt;
use core::ptr::null_mut;

bitflags! {
    /// Per-VMA flags (Linux: `vm_flags_t`, the `VM_*` bits of `include/linux/mm.h`, 5.10
    /// values). VM_GROWSUP does not exist on arm64 (it is `VM_NONE` there).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct VmFlags: u64 {
        /// Readable.
        const VM_READ = 0x0000_0001;
        /// Writable.
        const VM_WRITE = 0x0000_0002;
        /// Executable.
        const VM_EXEC = 0x0000_0004;
        /// Shared: writes reach the file / other mappers.
        const VM_SHARED = 0x0000_0008;
        /// mprotect may add VM_READ.
        const VM_MAYREAD = 0x0000_0010;
        /// mprotect may add VM_WRITE.
        const VM_MAYWRITE = 0x0000_0020;
        /// mprotect may add VM_EXEC.
        const VM_MAYEXEC = 0x0000_0040;
        /// Mapped MAP_SHARED (even when VM_SHARED was dropped for a read-only file).
        const VM_MAYSHARE = 0x0000_0080;
        /// A stack that grows down on faults below it (Linux: also `VM_STACK` on arm64).
        const VM_GROWSDOWN = 0x0000_0100;
        /// userfaultfd missing-page tracking.
        const VM_UFFD_MISSING = 0x0000_0200;
        /// Raw PFNs, no struct page (remap_pfn_range).
        const VM_PFNMAP = 0x0000_0400;
        /// ETXTBSY on write attempts to the file.
        const VM_DENYWRITE = 0x0000_0800;
        /// userfaultfd write-protect tracking.
        const VM_UFFD_WP = 0x0000_1000;
        /// Pages are mlocked.
        const VM_LOCKED = 0x0000_2000;
        /// Memory-mapped I/O.
        const VM_IO = 0x0000_4000;
        /// madvise(MADV_SEQUENTIAL).
        const VM_SEQ_READ = 0x0000_8000;
        /// madvise(MADV_RANDOM).
        const VM_RAND_READ = 0x0001_0000;
        /// Not copied on fork (MADV_DONTFORK).
        const VM_DONTCOPY = 0x0002_0000;
        /// Cannot be expanded by mremap.
        const VM_DONTEXPAND = 0x0004_0000;
        /// mlock2(MLOCK_ONFAULT): lock pages as they are faulted in.
        const VM_LOCKONFAULT = 0x0008_0000;
        /// Charged to the overcommit accounting (`vm_committed_as`).
        const VM_ACCOUNT = 0x0010_0000;
        /// Not charged (MAP_NORESERVE).
        const VM_NORESERVE = 0x0020_0000;
        /// hugetlbfs mapping.
        const VM_HUGETLB = 0x0040_0000;
        /// Synchronous page faults (MAP_SYNC, DAX).
        const VM_SYNC = 0x0080_0000;
        /// Architecture bit 1 (arm64: `VM_ARM64_BTI`, BTI-guarded pages).
        const VM_ARCH_1 = 0x0100_0000;
        /// Zeroed in the child on fork (MADV_WIPEONFORK).
        const VM_WIPEONFORK = 0x0200_0000;
        /// Left out of core dumps.
        const VM_DONTDUMP = 0x0400_0000;
        /// Soft-dirty tracking: every new or expanded VMA gets it. Linux arm64 5.10 has no
        /// CONFIG_MEM_SOFT_DIRTY, where this is 0; we keep the generic bit so it is visible.
        const VM_SOFTDIRTY = 0x0800_0000;
        /// Mixed PFN / page mappings (vm_insert_mixed).
        const VM_MIXEDMAP = 0x1000_0000;
        /// madvise(MADV_HUGEPAGE).
        const VM_HUGEPAGE = 0x2000_0000;
        /// madvise(MADV_NOHUGEPAGE).
        const VM_NOHUGEPAGE = 0x4000_0000;
        /// KSM may merge pages (MADV_MERGEABLE).
        const VM_MERGEABLE = 0x8000_0000;
    }
}

impl VmFlags {
    /// Linux `VM_STACK` (= VM_GROWSDOWN on arm64).
    pub const VM_STACK: VmFlags = VmFlags::VM_GROWSDOWN;
    /// Linux `VM_GROWSUP`: no such thing on arm64.
    pub const VM_GROWSUP: VmFlags = VmFlags::empty();
    /// Areas vma_merge never touches (Linux: `VM_SPECIAL`).
    pub const VM_SPECIAL: VmFlags = VmFlags::VM_IO
        .union(VmFlags::VM_DONTEXPAND)
        .union(VmFlags::VM_PFNMAP)
        .union(VmFlags::VM_MIXEDMAP);
    /// The access bits (Linux: `VM_ACCESS_FLAGS`).
    pub const VM_ACCESS_FLAGS: VmFlags = VmFlags::VM_READ
        .union(VmFlags::VM_WRITE)
        .union(VmFlags::VM_EXEC);
    /// Flags mprotect clears on arm64 before applying the new protection (Linux:
    /// `VM_FLAGS_CLEAR` = `ARCH_VM_PKEY_FLAGS | VM_ARCH_CLEAR`, the latter VM_ARM64_BTI).
    pub const VM_FLAGS_CLEAR: VmFlags = VmFlags::VM_ARCH_1;
    /// Flags removed when a VMA cannot be locked (Linux: ~`VM_LOCKED_CLEAR_MASK`).
    pub const VM_LOCKED_MASK: VmFlags = VmFlags::VM_LOCKED.union(VmFlags::VM_LOCKONFAULT);
    /// Default flags of data (brk) VMAs (Linux arm64: `VM_DATA_DEFAULT_FLAGS` =
    /// `VM_DATA_FLAGS_TSK_EXEC` without READ_IMPLIES_EXEC; no MTE).
    pub const VM_DATA_DEFAULT_FLAGS: VmFlags = VmFlags::VM_READ
        .union(VmFlags::VM_WRITE)
        .union(VmFlags::VM_MAYREAD)
        .union(VmFlags::VM_MAYWRITE)
        .union(VmFlags::VM_MAYEXEC);
    /// Default flags of the stack VMA (Linux: `VM_STACK_DEFAULT_FLAGS`).
    pub const VM_STACK_DEFAULT_FLAGS: VmFlags = VmFlags::VM_DATA_DEFAULT_FLAGS;
    /// The flags exec gives the initial stack (Linux: `VM_STACK_FLAGS`).
    pub const VM_STACK_FLAGS: VmFlags = VmFlags::VM_STACK
        .union(VmFlags::VM_STACK_DEFAULT_FLAGS)
        .union(VmFlags::VM_ACCOUNT);
}

/// A file as the VMA code sees it (Linux: the parts of `struct file`, its inode and
/// `f_op` that mmap looks at). Implemented by the file systems; tests use a stand-in.
pub trait MappedFile: Send + Sync {
    /// Inode number (`/proc/self/maps` column 5).
    fn ino(&self) -> u64;
    /// Device (major, minor) of the file system (Linux: `inode->i_sb->s_dev`).
    fn dev(&self) -> (u32, u32);
    /// Path shown in `/proc/self/maps` (Linux: `seq_file_path`, " (deleted)" included).
    fn path(&self) -> &str;
    /// File size in bytes (Linux: `i_size`).
    fn size(&self) -> u64;
    /// Opened for reading (Linux: `f_mode & FMODE_READ`).
    fn readable(&self) -> bool;
    /// Opened for writing (Linux: `f_mode & FMODE_WRITE`).
    fn writable(&self) -> bool;
    /// Append-only inode (Linux: `IS_APPEND`).
    fn append_only(&self) -> bool {
        false
    }
    /// The file has an mmap method (Linux: `file->f_op->mmap != NULL`; ENODEV otherwise).
    fn mmap_supported(&self) -> bool {
        true
    }
    /// Extra MAP_* flags MAP_SHARED_VALIDATE accepts (Linux: `f_op->mmap_supported_flags`,
    /// MAP_SYNC for DAX files).
    fn mmap_supported_flags(&self) -> usize {
        0
    }
    /// The file lives on a noexec mount (Linux: `path_noexec`).
    fn noexec(&self) -> bool {
        false
    }
    /// Largest offset + length a mapping may reach (Linux: `file_mmap_size_max`:
    /// MAX_LFS_FILESIZE for regular files, ULONG_MAX for devices).
    fn mmap_size_max(&self) -> u64 {
        i64::MAX as u64
    }
    /// The file's mmap method (Linux: `call_mmap` -> `f_op->mmap`): may set flags on the
    /// new VMA or refuse with an errno. Default: accept (`generic_file_mmap`).
    fn mmap(&self, _vma: &mut VmArea) -> KResult<()> {
        Ok(())
    }
    /// The mapping wants to hear of the first write to a clean shared page (Linux:
    /// `vm_ops->page_mkwrite` present, or `mapping_can_writeback`): shared writable
    /// mappings then start read-only (`vma_wants_writenotify`).
    fn wants_writenotify(&self) -> bool {
        false
    }
    /// Identity of the open file behind the mapping, for vma_merge's "same file" test
    /// (Linux compares `struct file` pointers). Default: this object's address.
    fn file_id(&self) -> usize {
        self as *const Self as *const u8 as usize
    }
    /// What the file's owner keeps in it (Linux: `file->private_data`), for `vm_ops`
    /// methods that must find their object from a VMA (System V shm's `shm_open`).
    /// Default: nothing.
    fn private_data(&self) -> Option<&(dyn core::any::Any + Send + Sync)> {
        None
    }
    /// Is file page `index` in the page cache? (for mincore; Linux: `mincore_page`).
    fn in_page_cache(&self, _index: usize) -> bool {
        false
    }
    /// Allocate space in the file or punch a hole in it (Linux: `vfs_fallocate` ->
    /// `file->f_op->fallocate`; MADV_REMOVE asks for FALLOC_FL_PUNCH_HOLE |
    /// FALLOC_FL_KEEP_SIZE). Default: EOPNOTSUPP, a file system that cannot.
    fn fallocate(&self, _mode: u32, _offset: u64, _len: u64) -> KResult<()> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The file's page cache (Linux: `file->f_mapping`); None for files without one.
    fn f_mapping(&self) -> Option<&crate::mm::filemap::AddressSpace> {
        None
    }
    /// How the file system fills a page of that cache from its storage (Linux:
    /// `mapping->a_ops`); None when the pages are the data (tmpfs).
    fn a_ops(&self) -> Option<&dyn crate::mm::filemap::AddressSpaceOperations> {
        None
    }
    /// The open file's readahead state (Linux: `file->f_ra`); None for files that are
    /// not read ahead (no page cache filled from storage).
    fn f_ra(&self) -> Option<&crate::mm::readahead::FileRa> {
        None
    }
}

/// A fault on a file VMA as its handler sees it (Linux: `struct vm_fault`).
pub struct VmFault<'a> {
    /// The address space (Linux: `vmf->vma->vm_mm`).
    pub mm: &'a crate::mm::mm_types::MmStruct,
    /// The VMA (Linux: `vmf->vma`).
    pub vma: &'a VmArea,
    /// FAULT_FLAG_* (Linux: `vmf->flags`).
    pub flags: crate::mm::memory::FaultFlags,
    /// The page's offset in the file (Linux: `vmf->pgoff`).
    pub pgoff: usize,
    /// The faulting address, page aligned (Linux: `vmf->address`).
    pub address: usize,
    /// Physical address of the PTE table that maps `address` (Linux: `vmf->pmd`, the
    /// entry pointing at it).
    pub pmd: usize,
    /// The PTE as `handle_pte_fault` found it (Linux: `vmf->orig_pte`); handlers compare
    /// it under the page-table lock (`pte_same`) before changing anything.
    pub orig_pte: crate::arch::aarch64::pgtable::Pte,
}

impl VmFault<'_> {
    /// The PTE for `address` (Linux: `vmf->pte`, from `pte_offset_map`). Change it only
    /// under `mm.page_table_lock`.
    pub fn pte(&mut self) -> &mut crate::arch::aarch64::pgtable::Pte {
        self.pte_at(self.address)
    }

    /// The PTE for `address` in the same PTE table (fault-around).
    pub fn pte_at(&mut self, address: usize) -> &mut crate::arch::aarch64::pgtable::Pte {
        debug_assert_eq!(
            address >> 21,
            self.address >> 21,
            "fault-around left the PTE table"
        );
        // SAFETY: `pmd` is the PTE table `__handle_mm_fault` walked to for this address;
        // it stays allocated while the caller holds `mmap_lock` (tables are freed only by
        // munmap and exit under the write lock), and `&mut self` keeps this the only
        // reference handed out through the fault.
        unsafe { crate::mm::memory::pte_offset_map(self.pmd, address) }
    }
}

/// What a file VMA does on a fault (Linux: `struct vm_operations_struct`), set by the
/// file's mmap method (`generic_file_mmap` -> `generic_file_vm_ops`, `shmem_mmap` ->
/// `shmem_vm_ops`). The tables are statics, as Linux's are.
pub trait VmOperationsStruct: Send + Sync {
    /// The table's name, for GDB and /proc (Linux: the symbol's name).
    fn name(&self) -> &'static str;
    /// Find or read the page at `vmf.pgoff`, returned with a reference for the mapping
    /// (Linux: `vm_ops->fault`, e.g. `filemap_fault`, `shmem_fault`). Errors are the fault's
    /// outcome: SIGBUS past the end of the file, OOM, or VM_FAULT_RETRY when the page must
    /// be read and `vmf.flags` allow letting go of `mmap_lock` first.
    fn fault(
        &self,
        vmf: &VmFault<'_>,
    ) -> Result<&'static crate::mm::page::Page, crate::mm::memory::FaultResult>;
    /// Map the cached, up-to-date pages of file offsets `[start_pgoff, end_pgoff]` that
    /// have no PTE yet, without waiting for anything (Linux: `vm_ops->map_pages`, for
    /// fault-around). False when the file has no such method (Linux: `map_pages` NULL).
    fn map_pages(&self, _vmf: &mut VmFault<'_>, _start_pgoff: usize, _end_pgoff: usize) -> bool {
        false
    }
    /// A clean shared page is about to be made writable (Linux: `vm_ops->page_mkwrite`).
    /// Default: agree (Linux: no such method).
    fn page_mkwrite(
        &self,
        _vmf: &VmFault<'_>,
        _page: &'static crate::mm::page::Page,
    ) -> Result<(), crate::mm::memory::FaultResult> {
        Ok(())
    }
    /// `vma` was just copied from a VMA of this kind: the other half of a split, an
    /// mremap move, a fork child's copy (Linux: `vm_ops->open`, which `__split_vma`,
    /// `copy_vma` and `dup_mmap` call). Called by `vm_area_dup`. Default: nothing.
    fn open(&self, _vma: &VmArea) {}
    /// `vma` is going away: munmap, exit, exec, or a mapping that failed after its file's
    /// mmap method ran (Linux: `vm_ops->close`, from `remove_vma`). Called by
    /// `vm_area_free`. Default: nothing.
    fn close(&self, _vma: &VmArea) {}
    /// Does this table have a `close` method? Such VMAs never merge, since merging
    /// would free one without a close (Linux: the `vm_ops->close` test of
    /// `is_mergeable_vma`). Default: no.
    fn has_close(&self) -> bool {
        false
    }
}

pub use crate::mm::rmap::{AnonVma, AnonVmaChainList, AnonVmaSlot};

/// One virtual memory area (Linux: `struct vm_area_struct`).
///
/// Differences from Linux 5.10: the tree `MmapLocked::mm_rb` owns each VMA (a leaked
/// `Box`, so `vm_rb`, `vm_next`/`vm_prev`, anon_vma chains and `i_mmap` can point at it),
/// and `vm_file` is the parts of `struct file` mm looks at (`MappedFile`). `Clone` is
/// `vm_area_dup`'s copy: no chains, no links, not in a tree.
pub struct VmArea {
    /// First address (page aligned).
    pub vm_start: usize,
    /// First address after the area (page aligned).
    pub vm_end: usize,
    /// VM_* flags.
    pub vm_flags: VmFlags,
    /// Page protection the fault path puts into PTEs (Linux: `vm_page_prot`).
    pub vm_page_prot: PgProt,
    /// Offset in the file in pages; for private anonymous memory `vm_start >> PAGE_SHIFT`
    /// at creation (Linux: `vm_pgoff`).
    pub vm_pgoff: usize,
    /// The mapped file (Linux: `vm_file`).
    pub vm_file: Option<Arc<dyn MappedFile>>,
    /// What a fault here calls (Linux: `vm_ops`): set by the file's mmap method; None
    /// for anonymous memory.
    pub vm_ops: Option<&'static dyn VmOperationsStruct>,
    /// The anon_vma new anonymous pages of this VMA record (Linux: `anon_vma`), set by
    /// `anon_vma_prepare` on the first anonymous fault (`mm/rmap.rs`).
    pub anon_vma: AnonVmaSlot,
    /// One chain per anon_vma whose pages this VMA may map: its own and, after fork, its
    /// ancestors' (Linux: `anon_vma_chain`, the `same_vma` list). vma_merge only lets a
    /// VMA without anon_vma merge with one whose chain is singular.
    pub anon_vma_chain: AnonVmaChainList,
    /// The address space this VMA belongs to, set by `vma_link` (Linux: `vm_mm`); null
    /// before, and in host tests of the VMA code, whose mms are not `MmStruct`s.
    pub vm_mm: *const crate::mm::mm_types::MmStruct,
    /// Is the VMA in its file's `i_mmap` (Linux: `shared.rb` being on the tree)? Set by
    /// `__vma_link_file`, cleared by `__remove_shared_vm_struct`.
    pub i_mmap_linked: bool,
    /// The next VMA of the mm in address order, null for the last (Linux: `vm_next`).
    /// Valid while the VMA is in its mm's tree and `mmap_lock` is held; a clone carries
    /// stale links until `vma_link` sets them.
    pub vm_next: *mut VmArea,
    /// The previous VMA, null for the first (Linux: `vm_prev`).
    pub vm_prev: *mut VmArea,
    /// This VMA's node in its mm's tree, ordered by `vm_start` (Linux: `vm_rb`). Same
    /// validity as the list links.
    pub vm_rb: RbNode,
    /// The largest free gap below any VMA of this node's subtree, stack guard gaps
    /// counted (Linux: `rb_subtree_gap`): what lets `unmapped_area` skip whole subtrees.
    pub rb_subtree_gap: usize,
    /// The userfaultfd this VMA is registered with (Linux: `vm_userfaultfd_ctx.ctx`),
    /// with VM_UFFD_MISSING in `vm_flags`; None when not registered.
    pub vm_userfaultfd_ctx: Option<Arc<crate::mm::userfaultfd::UserfaultfdCtx>>,
}

// SAFETY: the list links and `vm_mm` are only followed under the owning mm's
// `mmap_lock`, which serialises every change to them (and the mm outlives its VMAs);
// everything else in a VMA is Send + Sync already.
unsafe impl Send for VmArea {}
// SAFETY: as above.
unsafe impl Sync for VmArea {}

impl VmArea {
    /// A new anonymous VMA `[start, end)` with `vm_flags` and the matching page
    /// protection (Linux: `vm_area_alloc` + `vma_set_anonymous`, see [`vm_area_alloc`]).
    pub fn new(start: usize, end: usize, vm_flags: VmFlags) -> VmArea {
        let mut vma = vm_area_alloc(start, end, vm_flags);
        vma_set_anonymous(&mut vma);
        vma
    }

    /// Number of pages (Linux: `vma_pages`).
    pub fn vma_pages(&self) -> usize {
        (self.vm_end - self.vm_start) >> PAGE_SHIFT
    }

    /// No file behind it (Linux: `vma_is_anonymous`; shared anonymous memory counts as
    /// anonymous here until shmem gives it a file).
    pub fn is_anonymous(&self) -> bool {
        self.vm_file.is_none()
    }

    /// Give the VMA, which has none, the anon_vma `anon_vma` through a new chain (what
    /// `__anon_vma_prepare` does, for a caller holding `mmap_lock` for write: stack
    /// expansion, host tests). ENOMEM when the chain finds no memory.
    pub fn set_anon_vma(&mut self, anon_vma: Arc<AnonVma>) -> KResult<()> {
        debug_assert!(self.anon_vma.is_none());
        crate::mm::rmap::anon_vma_chain_link_mut(self, &anon_vma)?;
        self.anon_vma = AnonVmaSlot::some(anon_vma);
        Ok(())
    }

    /// Linux: `list_is_singular(&vma->anon_vma_chain)`.
    fn anon_vma_chain_is_singular(&self) -> bool {
        self.anon_vma_chain.lock().len() == 1
    }
}

impl Clone for VmArea {
    /// `vm_area_dup`'s copy (Linux: `*new = *orig; INIT_LIST_HEAD(&new->anon_vma_chain)`):
    /// the same file and anon_vma, but no chains (the caller's `anon_vma_clone` makes
    /// them), no list links and not in `i_mmap` until `vma_link`.
    fn clone(&self) -> Self {
        VmArea {
            vm_start: self.vm_start,
            vm_end: self.vm_end,
            vm_flags: self.vm_flags,
            vm_page_prot: self.vm_page_prot,
            vm_pgoff: self.vm_pgoff,
            vm_file: self.vm_file.clone(),
            vm_ops: self.vm_ops,
            anon_vma: self.anon_vma.clone(),
            anon_vma_chain: AnonVmaChainList::new(alloc::vec::Vec::new()),
            vm_mm: self.vm_mm,
            i_mmap_linked: false,
            vm_next: core::ptr::null_mut(),
            vm_prev: core::ptr::null_mut(),
            vm_rb: RbNode::new(),
            rb_subtree_gap: 0,
            vm_userfaultfd_ctx: self.vm_userfaultfd_ctx.clone(),
        }
    }
}

impl Drop for VmArea {
    /// A VMA still in its file's `i_mmap` leaves it before its memory goes (a tree
    /// dropped whole, as in host tests); its chains leave their anon_vmas by themselves.
    fn drop(&mut self) {
        if self.i_mmap_linked {
            __remove_shared_vm_struct(self);
        }
    }
}

/// The slab cache VMAs live in (Linux: `vm_area_cachep`, made in `proc_caches_init`).
pub static VM_AREA_CACHEP: crate::mm::slab::KmemCache = crate::mm::slab::kmem_cache_create(
    "vm_area_struct",
    core::mem::size_of::<VmArea>(),
    core::mem::align_of::<VmArea>(),
);

/// Put `vma` in an object of `vm_area_cachep`, ready for `vma_link_box` or a split
/// (the allocation half of Linux's `vm_area_alloc` / `vm_area_dup`, which return NULL
/// when the slab has no memory): ENOMEM instead of a panic, since user space decides how
/// many VMAs there are. The box's drop gives the object back to the cache.
pub fn vm_area_box(vma: VmArea) -> KResult<Box<VmArea>> {
    crate::mm::slab::kmem_cache_alloc_box(&VM_AREA_CACHEP, vma).map_err(|vma| {
        vm_area_free(vma); // its chains and file reference go with it
        Errno::ENOMEM
    })
}

/// A fresh, unlinked VMA `[start, end)` with `vm_flags` and the page protection they give
/// (Linux: `vm_area_alloc`, which takes a zeroed VMA from its slab cache and `vma_init`s
/// it, and the field set-up its callers do). Its `Box` is made by `vma_link`, when it goes
/// into the tree.
#[no_mangle]
#[inline(never)]
pub fn vm_area_alloc(start: usize, end: usize, vm_flags: VmFlags) -> VmArea {
    VmArea {
        vm_start: start,
        vm_end: end,
        vm_flags,
        vm_page_prot: vm_get_page_prot(vm_flags),
        vm_pgoff: 0,
        vm_file: None,
        vm_ops: None,
        anon_vma: AnonVmaSlot::none(),
        anon_vma_chain: AnonVmaChainList::new(alloc::vec::Vec::new()),
        vm_mm: core::ptr::null(),
        i_mmap_linked: false,
        vm_next: core::ptr::null_mut(),
        vm_prev: core::ptr::null_mut(),
        vm_rb: RbNode::new(),
        rb_subtree_gap: 0,
        vm_userfaultfd_ctx: None,
    }
}

/// Make `vma` anonymous: no operations table (Linux: `vma_set_anonymous`).
#[no_mangle]
#[inline(never)]
pub fn vma_set_anonymous(vma: &mut VmArea) {
    vma.vm_ops = None;
}

/// A copy of `orig` for the other half of a split, a moved mremap range or a fork child:
/// the same file (Linux's `get_file`), the same anon_vma pointer but no chains (the
/// caller's `anon_vma_clone` or `anon_vma_fork` makes them), and no list links until
/// `vma_link` gives it its own (Linux: `vm_area_dup`).
#[no_mangle]
#[inline(never)]
pub fn vm_area_dup(orig: &VmArea) -> VmArea {
    let new = orig.clone();
    // Linux calls vm_ops->open in each caller once the copy is set up; here, so that
    // every copy is paired with the close in `vm_area_free` by construction.
    if let Some(ops) = new.vm_ops {
        ops.open(&new);
    }
    new
}

/// Free a VMA that has left the tree: its `vm_ops->close` runs, its chains
/// (`unlink_anon_vmas`, which frees each anon_vma nothing else uses) and its file
/// reference go with it (Linux: `vm_area_free`, after `free_pgtables`'
/// `unlink_anon_vmas` and `remove_vma`'s `close` and `fput`).
#[no_mangle]
#[inline(never)]
pub fn vm_area_free(mut vma: VmArea) {
    debug_assert!(vma.vm_next.is_null() && vma.vm_prev.is_null());
    if let Some(ops) = vma.vm_ops {
        ops.close(&vma);
    }
    crate::mm::rmap::unlink_anon_vmas(&mut vma);
    drop(vma);
}

impl fmt::Debug for VmArea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VmArea")
            .field("vm_start", &format_args!("{:#x}", self.vm_start))
            .field("vm_end", &format_args!("{:#x}", self.vm_end))
            .field("vm_flags", &self.vm_flags)
            .field("vm_pgoff", &format_args!("{:#x}", self.vm_pgoff))
            .field("vm_file", &self.vm_file.as_ref().map(|f| f.path()))
            .field("vm_ops", &self.vm_ops.map(|o| o.name()))
            .field("anon_vma", &self.anon_vma)
            .field("anon_vma_chain", &self.anon_vma_chain.lock().len())
            .finish()
    }
}

/// Everything below the VMA layer that mmap, munmap, mprotect and brk reach: the page
/// tables (named after the Linux functions those paths call), overcommit accounting,
/// munlock and population. The caller passes its implementation as `&mut dyn`; host tests
/// pass one that records the calls.
pub trait VmaPageTables {
    /// Remove the PTEs of `[start, end)` of every VMA in `vmas` (already detached from
    /// the tree and cut to the range), freeing or un-rmapping their pages and flushing the
    /// TLB (Linux: `unmap_vmas` -> `unmap_single_vma` -> `unmap_page_range` under an
    /// `mmu_gather`).
    fn unmap_vmas(&mut self, vmas: &[VmArea], start: usize, end: usize);
    /// Free the page-table pages that only served `vmas`, never touching tables that also
    /// cover addresses below `floor` or at/above `ceiling` (0 = no ceiling) (Linux:
    /// `free_pgtables`).
    fn free_pgtables(&mut self, vmas: &[VmArea], floor: usize, ceiling: usize);
    /// MADV_COLD / MADV_PAGEOUT on the present pages of `[start, end)` of `vma`: each
    /// page only this mapping maps is made old and deactivated, or, for `pageout`,
    /// reclaimed (Linux: the `madvise_cold_or_pageout_pte_range` walk). Default: nothing
    /// (host tests of the VMA code have no pages).
    fn cold_or_pageout_pte_range(
        &mut self,
        _vma: &VmArea,
        _start: usize,
        _end: usize,
        _pageout: bool,
    ) {
    }
    /// Rewrite the present PTEs of `[start, end)` in `vma` with `newprot` (the VMA already
    /// carries its new flags); `dirty_accountable` lets clean shared pages stay read-only
    /// (Linux: `change_protection`, MM_CP_DIRTY_ACCT). Returns pages changed.
    fn change_protection(
        &mut self,
        vma: &VmArea,
        start: usize,
        end: usize,
        newprot: PgProt,
        dirty_accountable: bool,
    ) -> usize;
    /// Charge `pages` to the overcommit accounting; ENOMEM if the policy refuses (Linux:
    /// `security_vm_enough_memory_mm` -> `__vm_enough_memory`). Default: always allow.
    fn security_vm_enough_memory_mm(&mut self, _pages: usize) -> KResult<()> {
        Ok(())
    }
    /// Give back a charge (Linux: `vm_unacct_memory`). Default: nothing.
    fn vm_unacct_memory(&mut self, _pages: usize) {}
    /// Charge `pages` unconditionally (Linux: `vm_acct_memory`; mremap's DONTUNMAP).
    /// Default: nothing.
    fn vm_acct_memory(&mut self, _pages: usize) {}
    /// Move the PTEs of `[old_addr, old_addr + len)` to `new_addr` (tables allocated as
    /// needed, TLB flushed for the old range); returns the bytes moved, short when a table
    /// could not be had (Linux: `move_page_tables`). Default: all of it (no tables).
    fn move_page_tables(&mut self, _old_addr: usize, _new_addr: usize, len: usize) -> usize {
        len
    }
    /// Give a MAP_SHARED anonymous VMA its shmem file (Linux: `shmem_zero_setup`, which
    /// makes it "/dev/zero (deleted)"). Default: leave it without a file.
    fn shmem_zero_setup(&mut self, _vma: &mut VmArea) -> KResult<()> {
        Ok(())
    }
    /// Fault in `[start, start + len)` after the mm code is done (Linux: `mm_populate`,
    /// errors ignored), for MAP_POPULATE, MAP_LOCKED, mlockall(MCL_FUTURE) brk growth
    /// and mprotect of a locked private VMA to writable. Default: nothing (faults later).
    fn mm_populate(&mut self, _mm: &mut MmapLocked, _start: usize, _len: usize) {}
}

/// Lowest address the VMA keeps others away from: a VM_GROWSDOWN stack reserves
/// `stack_guard_gap` below itself (Linux: `vm_start_gap`).
pub fn vm_start_gap(vma: &VmArea) -> usize {
    let mut vm_start = vma.vm_start;
    if vma.vm_flags.contains(VmFlags::VM_GROWSDOWN) {
        vm_start = vm_start.wrapping_sub(STACK_GUARD_GAP);
        if vm_start > vma.vm_start {
            vm_start = 0;
        }
    }
    vm_start
}

/// Highest address the VMA keeps others away from (Linux: `vm_end_gap`; VM_GROWSUP does
/// not exist on arm64, so this is `vm_end`).
pub fn vm_end_gap(vma: &VmArea) -> usize {
    vma.vm_end
}

/// The gap below `vma`: from the end of the VMA before it (or 0) to its start, both with
/// their stack guard gaps (Linux: `vma_compute_gap`). Uses `vm_prev`, so the list must be
/// right before the tree is asked.
pub fn vma_compute_gap(vma: &VmArea) -> usize {
    let gap = vm_start_gap(vma);
    if vma.vm_prev.is_null() {
        return gap;
    }
    // SAFETY: `vm_prev` of a VMA in the tree is a live VMA of the same mm, followed under
    // its mmap_lock like the VMA itself.
    let prev_end = vm_end_gap(unsafe { &*vma.vm_prev });
    gap.saturating_sub(prev_end)
}

/// The VMA tree's augmentation: each node keeps in `rb_subtree_gap` the largest
/// `vma_compute_gap` of its subtree (Linux: `vma_compute_subtree_gap`).
pub struct VmaGap;

impl RbAugmentMax for VmaGap {
    unsafe fn compute(node: *mut RbNode) -> usize {
        // SAFETY: the trait's contract: `node` is the `vm_rb` of a live VMA.
        vma_compute_gap(unsafe { &*vma_of(node) })
    }
    unsafe fn augmented(node: *mut RbNode) -> *mut usize {
        // SAFETY: as above; only the address of the field is taken.
        unsafe { core::ptr::addr_of_mut!((*vma_of(node)).rb_subtree_gap) }
    }
}

/// The callbacks the VMA tree is rebalanced with (Linux: `vma_gap_callbacks`, made by
/// `RB_DECLARE_CALLBACKS_MAX`).
pub type VmaGapCallbacks = RbMaxCallbacks<VmaGap>;

/// The gap below `vma` changed (its start, or its predecessor's end, moved): recompute its
/// `rb_subtree_gap` and its ancestors' (Linux: `vma_gap_update`). O(log n).
///
/// # Safety
/// `vma` is a VMA in `mm`'s tree, which the caller holds for write.
pub unsafe fn vma_gap_update(vma: *mut VmArea) {
    // SAFETY: the caller's contract: a live node of a tree we may change.
    unsafe { VmaGapCallbacks::propagate(core::ptr::addr_of_mut!((*vma).vm_rb), null_mut()) };
}

/// The boundaries of the VMA starting at `start` moved: refresh its gap, the gap of the
/// VMA after it, or `highest_vm_end` when it is the last (Linux: the `start_changed` /
/// `end_changed` tail of `__vma_adjust`, and the same lines in `expand_downwards`). Every
/// writer of `vm_start`/`vm_end` of a linked VMA calls this (through `vma_rekey`).
pub fn vma_adjust_gaps(mm: &mut MmapLocked, start: usize) {
    let v = mm.mm_rb.find(start);
    assert!(!v.is_null(), "vma_adjust_gaps: no vma at {start:#x}");
    // SAFETY: `v` is a VMA of `mm`'s tree, which we hold mutably.
    unsafe { __vma_adjust_gaps(mm, v) };
}

/// `vma_adjust_gaps` for a VMA already in hand.
///
/// # Safety
/// `v` is a VMA of `mm`'s tree, which the caller holds mutably (mmap_lock for write).
unsafe fn __vma_adjust_gaps(mm: &mut MmapLocked, v: *mut VmArea) {
    // SAFETY: the caller's contract; the list neighbours are VMAs of the same tree.
    unsafe {
        vma_gap_update(v);
        let next = (*v).vm_next;
        if next.is_null() {
            mm.highest_vm_end = vm_end_gap(&*v);
        } else {
            vma_gap_update(next);
        }
    }
}

/// The first VMA with `vm_end > addr`, or null: a cached VMA containing `addr`, else one
/// descent of the tree (Linux: the body of `find_vma`, `vmacache_find` first).
fn __find_vma(mm: &MmapLocked, addr: usize) -> *mut VmArea {
    let c = mm.mm_rb.cache_find(addr);
    if !c.is_null() {
        return c;
    }
    let mut found = null_mut();
    let mut node = mm.mm_rb.rb_root.rb_node;
    while !node.is_null() {
        let v = vma_of(node);
        // SAFETY: tree nodes are `vm_rb` fields of live VMAs owned by `mm.mm_rb`, which
        // we borrow.
        let vr = unsafe { &*v };
        if vr.vm_end > addr {
            found = v;
            if vr.vm_start <= addr {
                break;
            }
            node = vr.vm_rb.rb_left;
        } else {
            node = vr.vm_rb.rb_right;
        }
    }
    if !found.is_null() {
        mm.mm_rb.cache_update(addr, found);
    }
    found
}

/// Key of the first VMA with `vm_end > addr` (Linux's `find_vma` rule).
pub fn find_vma_key(mm: &MmapLocked, addr: usize) -> Option<usize> {
    find_vma(mm, addr).map(|v| v.vm_start)
}

/// The first VMA that ends above `addr`: the one containing `addr`, or else the next one
/// above it (Linux: `find_vma`). One O(log n) descent of the tree; no vmacache.
#[no_mangle]
#[inline(never)]
pub fn find_vma(mm: &MmapLocked, addr: usize) -> Option<&VmArea> {
    // SAFETY: a non-null result is a live VMA of `mm`, borrowed with it.
    unsafe { __find_vma(mm, addr).as_ref() }
}

/// `find_vma` plus the VMA before the result, or the last VMA when there is no result
/// (Linux: `find_vma_prev`). Returns `(vma, prev)`.
pub fn find_vma_prev(mm: &MmapLocked, addr: usize) -> (Option<&VmArea>, Option<&VmArea>) {
    match find_vma(mm, addr) {
        // SAFETY: `vm_prev` of a VMA of `mm` is null or a live VMA of `mm`.
        Some(v) => (Some(v), unsafe { v.vm_prev.as_ref() }),
        // SAFETY: as above.
        None => (None, unsafe { mm.mm_rb.last().as_ref() }),
    }
}

/// The first VMA overlapping `[start_addr, end_addr)` (Linux: `find_vma_intersection`).
pub fn find_vma_intersection(
    mm: &MmapLocked,
    start_addr: usize,
    end_addr: usize,
) -> Option<&VmArea> {
    find_vma(mm, start_addr).filter(|v| end_addr > v.vm_start)
}

/// Key of the VMA after `prev`, or of the first VMA when `prev` is None (Linux:
/// `vma_next`).
pub fn vma_next(mm: &MmapLocked, prev: Option<usize>) -> Option<usize> {
    let next = match prev {
        Some(p) => match mm.mm_rb.get(&p) {
            Some(v) => v.vm_next,
            None => mm.mm_rb.first_at_or_above(p.saturating_add(1)),
        },
        None => mm.mm_rb.first(),
    };
    // SAFETY: a non-null link is a live VMA of `mm`.
    unsafe { next.as_ref() }.map(|v| v.vm_start)
}

/// Key of the VMA before the one keyed `vma` (Linux: `vma->vm_prev`); for an address that
/// is no key, of the last VMA starting below it.
pub fn vma_prev(mm: &MmapLocked, vma: usize) -> Option<usize> {
    let prev = match mm.mm_rb.get(&vma) {
        Some(v) => v.vm_prev,
        None => match vma.checked_sub(1) {
            Some(k) => mm.mm_rb.last_at_or_below(k),
            None => null_mut(),
        },
    };
    // SAFETY: a non-null result is a live VMA of `mm`.
    unsafe { prev.as_ref() }.map(|v| v.vm_start)
}

/// Where `[addr, end)` would be linked: Ok(key of the VMA before it), or ENOMEM when a
/// VMA overlaps the range (Linux: `find_vma_links`).
pub fn find_vma_links(mm: &MmapLocked, addr: usize, end: usize) -> KResult<Option<usize>> {
    let (prev, _, _) = __find_vma_links(mm, addr, end)?;
    // The caller goes on with `prev` by its key (mmap_region's vma_merge): remember it,
    // so that lookup is a cache hit instead of a second descent.
    if !prev.is_null() {
        mm.mm_rb.cache_update(addr, prev);
    }
    // SAFETY: a non-null result is a live VMA of `mm`.
    Ok(unsafe { prev.as_ref() }.map(|v| v.vm_start))
}

/// One descent to where `[addr, end)` goes: the VMA before it (null for none), the child
/// slot to link the new node into and that slot's parent node (Linux: `find_vma_links`'s
/// `pprev`, `rb_link`, `rb_parent`). ENOMEM when a VMA overlaps the range.
fn __find_vma_links(
    mm: &MmapLocked,
    addr: usize,
    end: usize,
) -> KResult<(*mut VmArea, *mut *mut RbNode, *mut RbNode)> {
    let mut link: *mut *mut RbNode = core::ptr::addr_of!(mm.mm_rb.rb_root.rb_node).cast_mut();
    let mut parent: *mut RbNode = null_mut();
    let mut prev: *mut RbNode = null_mut();
    // SAFETY: the nodes followed are live VMAs of `mm`'s tree. The slot pointers are only
    // written by the caller, `vma_link`, which holds the mm mutably.
    unsafe {
        while !(*link).is_null() {
            parent = *link;
            let v = &*vma_of(parent);
            if v.vm_end > addr {
                // Fail if an existing VMA overlaps the area.
                if v.vm_start < end {
                    return Err(Errno::ENOMEM);
                }
                link = core::ptr::addr_of_mut!((*parent).rb_left);
            } else {
                prev = parent;
                link = core::ptr::addr_of_mut!((*parent).rb_right);
            }
        }
    }
    let prev = if prev.is_null() {
        null_mut()
    } else {
        vma_of(prev)
    };
    Ok((prev, link, parent))
}

/// Put `vma` into the list after `prev` (null: at the head) (Linux: `__vma_link_list`).
///
/// # Safety
/// `vma` is unlinked; `prev` is null or a VMA of `mm`; the caller holds `mm` mutably.
unsafe fn __vma_link_list(mm: &mut MmapLocked, vma: *mut VmArea, prev: *mut VmArea) {
    // SAFETY: the caller's contract.
    unsafe {
        (*vma).vm_prev = prev;
        let next = if prev.is_null() {
            let next = mm.mm_rb.mmap;
            mm.mm_rb.mmap = vma;
            next
        } else {
            let next = (*prev).vm_next;
            (*prev).vm_next = vma;
            next
        };
        (*vma).vm_next = next;
        if !next.is_null() {
            (*next).vm_prev = vma;
        }
    }
}

/// Close the list over `vma` before it leaves the tree (Linux: `__vma_unlink_list`).
///
/// # Safety
/// `vma` is a VMA of `mm`; the caller holds `mm` mutably.
unsafe fn __vma_unlink_list(mm: &mut MmapLocked, vma: *mut VmArea) {
    // SAFETY: the caller's contract: the links point at live VMAs of `mm` (or are null).
    unsafe {
        let (prev, next) = ((*vma).vm_prev, (*vma).vm_next);
        if prev.is_null() {
            mm.mm_rb.mmap = next;
        } else {
            (*prev).vm_next = next;
        }
        if !next.is_null() {
            (*next).vm_prev = prev;
        }
    }
}

/// Put `vma` into its file's `i_mmap`, if the file has a page cache (Linux:
/// `__vma_link_file`). `vma` is at its final (boxed) address.
pub fn __vma_link_file(vma: &mut VmArea) {
    let Some(file) = vma.vm_file.clone() else {
        return;
    };
    let Some(mapping) = file.f_mapping() else {
        return;
    };
    crate::mm::interval_tree::vma_interval_tree_insert(vma, &mut mapping.i_mmap.lock());
    vma.i_mmap_linked = true;
}

/// Take `vma` out of its file's `i_mmap` (Linux: `__remove_shared_vm_struct`, from
/// `unlink_file_vma` and `__vma_unlink`'s callers).
pub fn __remove_shared_vm_struct(vma: &mut VmArea) {
    if !vma.i_mmap_linked {
        return;
    }
    let mapping = vma
        .vm_file
        .as_ref()
        .and_then(|f| f.f_mapping())
        .expect("__remove_shared_vm_struct: i_mmap-linked vma without a mapping");
    crate::mm::interval_tree::vma_interval_tree_remove(vma, &mut mapping.i_mmap.lock());
    vma.i_mmap_linked = false;
}

/// Put `vma`, already in the list, into the tree at `rb_link` under `rb_parent`, and fix
/// the gaps it changes (Linux: `__vma_link_rb`). The successor's gap shrinks first, so
/// every value is right before the rebalancing rotations start computing from them.
///
/// # Safety
/// As for `__vma_link_list`; `rb_link`/`rb_parent` come from `__find_vma_links` on the
/// tree as it is now.
unsafe fn __vma_link_rb(
    mm: &mut MmapLocked,
    vma: *mut VmArea,
    rb_link: *mut *mut RbNode,
    rb_parent: *mut RbNode,
) {
    // SAFETY: the caller's contract.
    unsafe {
        let next = (*vma).vm_next;
        if next.is_null() {
            mm.highest_vm_end = vm_end_gap(&*vma);
        } else {
            vma_gap_update(next);
        }
        let node = core::ptr::addr_of_mut!((*vma).vm_rb);
        rb_link_node(node, rb_parent, rb_link);
        (*vma).rb_subtree_gap = 0;
        vma_gap_update(vma);
        rb_insert_augmented::<VmaGapCallbacks>(node, &mut mm.mm_rb.rb_root);
    }
}

/// Insert `vma` into the tree and the list, and count it (Linux: `vma_link` ->
/// `__vma_link` -> `__vma_link_list` + `__vma_link_rb`, then `__vma_link_file`). Once
/// boxed at its final address it also joins its file's `i_mmap`, and its anon_vma chains
/// point at it (`anon_vma_chain_attach`). The range must be free. O(log n).
/// ENOMEM when `vm_area_cachep` has no memory (the VMA is then freed with its chains);
/// callers that must not fail at this point box the VMA first and use `vma_link_box`.
pub fn vma_link(mm: &mut MmapLocked, vma: VmArea) -> KResult<()> {
    vma_link_box(mm, vm_area_box(vma)?);
    Ok(())
}

/// `vma_link` of a VMA already in its `vm_area_cachep` object (`vm_area_box`): cannot
/// fail.
pub fn vma_link_box(mm: &mut MmapLocked, vma: Box<VmArea>) {
    debug_assert!(vma.vm_start < vma.vm_end);
    let (prev, rb_link, rb_parent) =
        __find_vma_links(mm, vma.vm_start, vma.vm_end).expect("vma_link: the range is mapped");
    // The Box is given up here and taken back by `vma_unlink` or `MmRb::clear`.
    let vma = Box::into_raw(vma);
    // SAFETY: a fresh VMA; `prev` and the link come from the descent just made on this
    // tree, which we hold mutably.
    unsafe {
        __vma_link_list(mm, vma, prev);
        __vma_link_rb(mm, vma, rb_link, rb_parent);
        (*vma).vm_mm = mm.owner;
        crate::mm::rmap::anon_vma_chain_attach(&mut *vma);
        __vma_link_file(&mut *vma);
    }
    mm.mm_rb.len += 1;
    mm.map_count += 1;
}

/// Link `new`, one half of a split of `vma`, as `vma`'s neighbour in the list and the
/// tree, and fix the gaps (Linux 5.10: `__insert_vm_struct` from `__vma_adjust`). `vma`
/// already has its new bounds, and `new` covers exactly the rest of its old range, below
/// or above it; the gaps of the neighbours around the pair are therefore unchanged.
///
/// Differences from Linux, which descends from the root (`find_vma_links`) and then
/// updates the gaps of `new`'s successor and of `new` each up to the root
/// (`__vma_link_rb`): the in-order neighbour of `vma` is found below `vma` itself, and
/// only the nodes from `new` up to `vma` are recomputed, the ancestors above `vma` only
/// as far as their values change. With 65,000 VMAs that is a few levels instead of three
/// walks of some 20. Returns `new` at its final address.
///
/// # Safety
/// `vma` is a VMA of `mm`'s tree, which the caller holds mutably (mmap_lock for write);
/// its range and `new`'s are adjacent and do not overlap any other VMA.
unsafe fn __insert_vm_struct(
    mm: &mut MmapLocked,
    vma: *mut VmArea,
    new: Box<VmArea>,
) -> *mut VmArea {
    // SAFETY: the caller's contract; every node followed is a live VMA of `mm`'s tree.
    unsafe {
        let below = new.vm_end <= (*vma).vm_start;
        debug_assert!(if below {
            new.vm_end == (*vma).vm_start
        } else {
            new.vm_start == (*vma).vm_end
        });
        // The Box is given up here and taken back by `vma_unlink` or `MmRb::clear`.
        let new = Box::into_raw(new);
        let vnode = core::ptr::addr_of_mut!((*vma).vm_rb);
        // `new` is `vma`'s in-order predecessor (below) or successor: the last node of
        // its left subtree, or its left child when it has none; mirrored above.
        let (parent, link) = if below {
            __vma_link_list(mm, new, (*vma).vm_prev);
            let mut parent = vnode;
            let mut link = core::ptr::addr_of_mut!((*vnode).rb_left);
            while !(*link).is_null() {
                parent = *link;
                link = core::ptr::addr_of_mut!((*parent).rb_right);
            }
            (parent, link)
        } else {
            __vma_link_list(mm, new, vma);
            let mut parent = vnode;
            let mut link = core::ptr::addr_of_mut!((*vnode).rb_right);
            while !(*link).is_null() {
                parent = *link;
                link = core::ptr::addr_of_mut!((*parent).rb_left);
            }
            (parent, link)
        };
        if (*new).vm_next.is_null() {
            mm.highest_vm_end = vm_end_gap(&*new);
        }
        let node = core::ptr::addr_of_mut!((*new).vm_rb);
        rb_link_node(node, parent, link);
        // A leaf: its subtree gap is its own gap. Then every node from its parent up to
        // `vma` (whose own gap moved when its start did), and above `vma` only while
        // the values change: nothing off that path changed.
        (*new).rb_subtree_gap = vma_compute_gap(&*new);
        let mut n = parent;
        loop {
            VmaGapCallbacks::compute_max(n, false);
            if n == vnode {
                break;
            }
            n = rb_parent(n);
        }
        VmaGapCallbacks::propagate(rb_parent(vnode), null_mut());
        rb_insert_augmented::<VmaGapCallbacks>(node, &mut mm.mm_rb.rb_root);
        (*new).vm_mm = mm.owner;
        crate::mm::rmap::anon_vma_chain_attach(&mut *new);
        __vma_link_file(&mut *new);
        mm.mm_rb.len += 1;
        mm.map_count += 1;
        new
    }
}

/// Take the VMA keyed `vma` out of the tree, the list and its file's `i_mmap`, detach
/// its anon_vma chains, and uncount it (Linux: `__vma_unlink` = `vma_rb_erase` +
/// `__vma_unlink_list`, then the successor's `vma_gap_update` or `highest_vm_end` its
/// callers do; the i_mmap removal is `unlink_file_vma`'s, which Linux does later, in
/// `free_pgtables`). O(log n).
pub fn vma_unlink(mm: &mut MmapLocked, vma: usize) -> VmArea {
    let v = mm.mm_rb.find(vma);
    assert!(!v.is_null(), "vma_unlink: no such vma");
    // SAFETY: `v` is a VMA of `mm`'s tree, which we hold mutably.
    *unsafe { __vma_unlink(mm, v) }
}

/// `vma_unlink` for a VMA already in hand (munmap's walk along `vm_next`), which keeps
/// its allocation: munmap chains the detached VMAs through `vm_next` as Linux's detached
/// list does, and frees them after the unmap. The links come back cleared.
///
/// # Safety
/// `v` is a VMA of `mm`'s tree, which the caller holds mutably (mmap_lock for write).
pub unsafe fn __vma_unlink(mm: &mut MmapLocked, v: *mut VmArea) -> Box<VmArea> {
    // SAFETY: `v` is a VMA of `mm`'s tree, which we hold mutably; it was leaked from a
    // Box by `vma_link`, and once out of tree and list nothing points at it.
    unsafe {
        // Out of i_mmap and the anon_vma lists first: the VMA leaves its box below.
        __remove_shared_vm_struct(&mut *v);
        crate::mm::rmap::anon_vma_chain_detach(&mut *v);
        let (prev, next) = ((*v).vm_prev, (*v).vm_next);
        mm.mm_rb.cache_forget(v);
        // The list first, then the successor's gap (it now reaches down to `prev`), then
        // the tree. Linux 5.10 updates the successor after the erase; before it, the
        // successor's new, larger gap is usually the very value the erase would take
        // away with `v`'s subtree (a VMA's gap and its predecessor's sit on one path), so
        // both propagations stop after a step or two instead of each climbing to the root.
        // Every stored maximum stays consistent with the own values of the nodes in the
        // tree (`v`'s own gap included) until `rb_erase_augmented` removes `v`'s.
        __vma_unlink_list(mm, v);
        if next.is_null() {
            mm.highest_vm_end = if prev.is_null() {
                0
            } else {
                vm_end_gap(&*prev)
            };
        } else {
            vma_gap_update(next);
        }
        rb_erase_augmented::<VmaGapCallbacks>(
            core::ptr::addr_of_mut!((*v).vm_rb),
            &mut mm.mm_rb.rb_root,
        );
        mm.mm_rb.len -= 1;
        mm.map_count -= 1;
        let mut v = Box::from_raw(v);
        v.vm_next = null_mut();
        v.vm_prev = null_mut();
        v.vm_rb = RbNode::new();
        v
    }
}

/// The VMA that was keyed `key` now starts at `start` (and may end elsewhere): the tree
/// keeps its place, since a VMA only moves within the gap around it, but its gap, its
/// successor's gap and `highest_vm_end` change (see `vma_adjust_gaps`). Pointers to the
/// VMA stay good: it is the same allocation.
pub fn vma_rekey(mm: &mut MmapLocked, key: usize, start: usize) {
    debug_assert!(key == start || mm.mm_rb.find(key).is_null());
    vma_adjust_gaps(mm, start);
}

/// Check the tree's invariants (Linux: `validate_mm` + `browse_rb`, CONFIG_DEBUG_VM_RB):
/// areas are non-empty, page aligned, sorted without overlap, the tree's in-order walk
/// and the `vm_prev`/`vm_next` list agree, every `rb_subtree_gap` is the largest gap of
/// its subtree, `highest_vm_end` is the last VMA's end, and `map_count` matches. O(n).
pub fn validate_mm(mm: &MmapLocked) -> Result<(), &'static str> {
    let mut last_end = 0;
    let mut prev: *const VmArea = core::ptr::null();
    let mut count = 0;
    // SAFETY: a valid tree we borrow; the nodes are `vm_rb`s of live VMAs of `mm`.
    let mut node = unsafe { rb_first(&mm.mm_rb.rb_root) };
    if !core::ptr::eq(
        mm.mm_rb.mmap,
        if node.is_null() {
            null_mut()
        } else {
            vma_of(node)
        },
    ) {
        return Err("mm->mmap is not the first vma");
    }
    while !node.is_null() {
        let this = vma_of(node);
        // SAFETY: as above.
        let v = unsafe { &*this };
        if !core::ptr::eq(v.vm_prev, prev) {
            return Err("vm_prev is not the previous vma");
        }
        // SAFETY: a non-null prev is a VMA of this tree, which we borrow.
        if !prev.is_null() && !core::ptr::eq(unsafe { (*prev).vm_next }, this) {
            return Err("vm_next is not the next vma");
        }
        if v.vm_start >= v.vm_end {
            return Err("empty or inverted vma");
        }
        if (v.vm_start | v.vm_end) & (PAGE_SIZE - 1) != 0 {
            return Err("unaligned vma");
        }
        if v.vm_start < last_end {
            return Err("overlapping vmas");
        }
        let mut gap = vma_compute_gap(v);
        for child in [v.vm_rb.rb_left, v.vm_rb.rb_right] {
            if !child.is_null() {
                // SAFETY: a child node of this tree.
                gap = gap.max(unsafe { (*vma_of(child)).rb_subtree_gap });
            }
        }
        if v.rb_subtree_gap != gap {
            return Err("rb_subtree_gap is not the largest gap of the subtree");
        }
        last_end = v.vm_end;
        prev = this;
        count += 1;
        // SAFETY: as above.
        node = unsafe { rb_next(node) };
    }
    // SAFETY: as above.
    if !prev.is_null() && !unsafe { (*prev).vm_next }.is_null() {
        return Err("the last vma has a vm_next");
    }
    for v in mm.vmas() {
        validate_vma_rmap(mm, v)?;
    }
    // SAFETY: as above.
    let highest = unsafe { prev.as_ref() }.map_or(0, vm_end_gap);
    if mm.highest_vm_end != highest {
        return Err("highest_vm_end is not the end of the last vma");
    }
    if count != mm.mm_rb.len() {
        return Err("the tree's size differs from its walk");
    }
    if mm.map_count != count {
        return Err("map_count differs from the number of vmas");
    }
    Ok(())
}

/// The rmap side of one linked VMA (Linux: `validate_mm`'s `anon_vma_interval_tree_verify`
/// walk, and the i_mmap membership `vma_interval_tree` implies): it belongs to `mm`,
/// each chain points at it and is on its anon_vma's list, its own anon_vma has a chain,
/// and a VMA of a file with a page cache is in that file's `i_mmap` under its pgoff.
fn validate_vma_rmap(mm: &MmapLocked, v: &VmArea) -> Result<(), &'static str> {
    let this: *const VmArea = v;
    if v.vm_mm != mm.owner {
        return Err("vm_mm is not the mm");
    }
    let chain = v.anon_vma_chain.lock();
    for avc in chain.iter() {
        if !core::ptr::eq(avc.vma.load(core::sync::atomic::Ordering::Relaxed), this) {
            return Err("an anon_vma_chain does not point at its vma");
        }
        let me: *const crate::mm::rmap::AnonVmaChain = &**avc;
        if !avc
            .anon_vma
            .head
            .lock()
            .iter()
            .any(|&c| core::ptr::eq(c, me))
        {
            return Err("an anon_vma_chain is not on its anon_vma's list");
        }
    }
    match v.anon_vma.as_ref() {
        Some(a) if !chain.iter().any(|avc| Arc::ptr_eq(&avc.anon_vma, a)) => {
            return Err("the vma's anon_vma has no chain to it")
        }
        None if !chain.is_empty() => return Err("chains without an anon_vma"),
        _ => {}
    }
    let mapping = v.vm_file.as_ref().and_then(|f| f.f_mapping());
    if mapping.is_some() != v.i_mmap_linked {
        return Err("i_mmap_linked differs from having a mapping");
    }
    if let Some(m) = mapping {
        if !m.i_mmap.lock().contains(&(v.vm_pgoff, this as usize)) {
            return Err("the vma is not in its file's i_mmap under its pgoff");
        }
    }
    Ok(())
}

fn same_file(a: Option<&Arc<dyn MappedFile>>, b: Option<&Arc<dyn MappedFile>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.file_id() == b.file_id(),
        _ => false,
    }
}

fn same_anon_vma(a: Option<&Arc<AnonVma>>, b: Option<&Arc<AnonVma>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Same flags except VM_SOFTDIRTY, the same file, and no `vm_ops->close` (Linux:
/// `is_mergeable_vma`; no userfaultfd context or mempolicy here).
fn is_mergeable_vma(vma: &VmArea, file: Option<&Arc<dyn MappedFile>>, vm_flags: VmFlags) -> bool {
    (vma.vm_flags ^ vm_flags)
        .difference(VmFlags::VM_SOFTDIRTY)
        .is_empty()
        && same_file(vma.vm_file.as_ref(), file)
        && !vma.vm_ops.is_some_and(|o| o.has_close())
        // Difference from 5.10: vma_merge takes no userfaultfd context to compare
        // (`is_mergeable_vm_userfaultfd_ctx`), so registered VMAs stay apart.
        && !vma.vm_flags.intersects(crate::mm::userfaultfd::VM_UFFD_FLAGS)
}

/// Two anon_vmas may share a VMA if they are the same, or one is missing and `vma` (the
/// existing VMA, when given) was not inherited through fork (Linux: `is_mergeable_anon_vma`:
/// its `list_is_singular(&vma->anon_vma_chain)` test).
fn is_mergeable_anon_vma(
    anon_vma1: Option<&Arc<AnonVma>>,
    anon_vma2: Option<&Arc<AnonVma>>,
    vma: Option<&VmArea>,
) -> bool {
    if (anon_vma1.is_none() || anon_vma2.is_none())
        && vma.is_none_or(|v| v.anon_vma_chain_is_singular())
    {
        return true;
    }
    same_anon_vma(anon_vma1, anon_vma2)
}

/// May a new range with these attributes and page offset `vm_pgoff` be glued in front of
/// `vma` (Linux: `can_vma_merge_before`)? The offsets must meet exactly; this holds for
/// private anonymous memory too, whose pgoff is its address in pages.
fn can_vma_merge_before(
    vma: &VmArea,
    vm_flags: VmFlags,
    anon_vma: Option<&Arc<AnonVma>>,
    file: Option<&Arc<dyn MappedFile>>,
    vm_pgoff: usize,
) -> bool {
    is_mergeable_vma(vma, file, vm_flags)
        && is_mergeable_anon_vma(anon_vma, vma.anon_vma.as_ref(), Some(vma))
        && vma.vm_pgoff == vm_pgoff
}

/// May a new range starting at page offset `vm_pgoff` be glued after `vma` (Linux:
/// `can_vma_merge_after`)?
fn can_vma_merge_after(
    vma: &VmArea,
    vm_flags: VmFlags,
    anon_vma: Option<&Arc<AnonVma>>,
    file: Option<&Arc<dyn MappedFile>>,
    vm_pgoff: usize,
) -> bool {
    is_mergeable_vma(vma, file, vm_flags)
        && is_mergeable_anon_vma(anon_vma, vma.anon_vma.as_ref(), Some(vma))
        && vma.vm_pgoff.wrapping_add(vma.vma_pages()) == vm_pgoff
}

/// `vma` gets `[start, end)` and `pgoff`, and is re-filed in its file's `i_mmap` if its
/// pgoff moved (Linux: `__vma_adjust`'s `vma_interval_tree_remove` /
/// `vma_interval_tree_insert` around the change). The gaps are the caller's business.
///
/// # Safety
/// `vma` is a VMA of an mm whose `mmap_lock` the caller holds for write.
unsafe fn __vma_set_range(vma: *mut VmArea, start: usize, end: usize, pgoff: usize) {
    // SAFETY: the caller's contract: a live VMA we may change.
    let v = unsafe { &mut *vma };
    let refile = v.i_mmap_linked && v.vm_pgoff != pgoff;
    if refile {
        __remove_shared_vm_struct(v);
    }
    v.vm_start = start;
    v.vm_end = end;
    v.vm_pgoff = pgoff;
    if refile {
        __vma_link_file(v);
    }
}

/// `__vma_set_range`, then the gaps it changed: `vma`'s, its successor's or
/// `highest_vm_end` (`__vma_adjust_gaps`; its place in the tree is unchanged).
///
/// # Safety
/// `vma` is a VMA of `mm`'s tree, which the caller holds mutably.
unsafe fn vma_set_range(
    mm: &mut MmapLocked,
    vma: *mut VmArea,
    start: usize,
    end: usize,
    pgoff: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        __vma_set_range(vma, start, end, pgoff);
        __vma_adjust_gaps(mm, vma);
    }
}

/// Give `vma` the range `[start, end)` at page offset `pgoff`, and fix up what that
/// overlaps or uncovers: the one place VMA boundaries move for `vma_merge` and
/// `__split_vma` (Linux 5.10: `__vma_adjust`). With `insert` (a split), that VMA is linked
/// beside `vma` once `vma` has shrunk (`__insert_vm_struct`). Otherwise the VMA after
/// `vma`, `next`, is looked at:
///
/// - `end` reaches `next`'s end: `next` is swallowed (remove_next 1; cases 1, 7), and when
///   `end` goes beyond it the VMA after it too (remove_next 2; case 6). With
///   `expand == next` it is the other way round (remove_next 3; case 8): `next`
///   survives with the range and `vma` goes.
/// - `end` lies inside `next`: `next`'s head moves to `vma` (adjust_next > 0; case 5).
/// - `end` is below `vma`'s end: `vma`'s tail moves to `next` (adjust_next < 0; case 4).
///
/// The survivor ("importer") takes the anon_vma of the VMA whose pages it takes over
/// ("exporter") when it has none (Linux: `anon_vma_clone`). Returns the VMA that now has
/// `[start, end)`, or null when the importer's `anon_vma_clone` finds no memory (Linux:
/// -ENOMEM), before anything changed; `vma_merge` then merges nothing. A VMA whose pgoff changes is re-filed in its
/// file's `i_mmap` (`__vma_set_range`); our anon_vmas keep lists, not pgoff-keyed trees,
/// so they need no update. As in Linux the VMAs are passed as pointers (`expand` may be
/// null): the callers have them in hand, and a lookup by key would cost a tree descent.
///
/// # Safety
/// `vma` (and `expand` when not null) are VMAs of `mm`'s tree, which the caller holds
/// mutably (mmap_lock for write).
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub unsafe fn __vma_adjust(
    mm: &mut MmapLocked,
    vma: *mut VmArea,
    start: usize,
    end: usize,
    pgoff: usize,
    insert: Option<Box<VmArea>>,
    expand: *mut VmArea,
) -> *mut VmArea {
    // SAFETY: the caller's contract: `vma`, `expand` and the list neighbours followed
    // below are live VMAs of `mm`'s tree, which we hold mutably; each VMA is its own
    // allocation, so a pointer stays good until `__vma_unlink` takes the VMA out.
    unsafe {
        if let Some(new) = insert {
            // A split: `vma` keeps one part, `new` gets the rest.
            __vma_set_range(vma, start, end, pgoff);
            __insert_vm_struct(mm, vma, new);
            return vma;
        }
        let mut vma = vma;
        let mut next = (*vma).vm_next;
        let mut remove_next = 0;
        let mut adjust_next: isize = 0; // pages; Linux keeps bytes
                                        // (importer, exporter): who may need whose anon_vma.
        let mut import: Option<(*mut VmArea, *mut VmArea)> = None;

        if !next.is_null() {
            let (n_start, n_end) = ((*next).vm_start, (*next).vm_end);
            if end >= n_end {
                if expand == next {
                    // case 8: `next` takes the range and `vma` goes.
                    debug_assert_eq!(end, n_end);
                    remove_next = 3;
                    next = vma;
                    vma = expand;
                } else {
                    // cases 1, 6, 7: `vma` swallows `next`, and in case 6 the one after.
                    remove_next = 1 + usize::from(end > n_end);
                }
                let mut exporter = next;
                if remove_next == 2 && (*exporter).anon_vma.is_none() {
                    exporter = (*exporter).vm_next;
                    assert!(!exporter.is_null(), "case 6 has a VMA after next");
                }
                import = Some((vma, exporter));
            } else if end > n_start {
                // case 5: `vma` grows over `next`'s head.
                adjust_next = ((end - n_start) >> PAGE_SHIFT) as isize;
                import = Some((vma, next));
            } else if end < (*vma).vm_end {
                // case 4: `vma` shrinks and `next` grows down over its tail.
                adjust_next = -((((*vma).vm_end - end) >> PAGE_SHIFT) as isize);
                import = Some((next, vma));
            }
        }

        // anon_vma_clone, before anything moves: the exporter may be one that goes.
        if let Some((imp, e)) = import {
            let (imp, e) = (&mut *imp, &*e);
            if imp.anon_vma.is_none() && e.anon_vma.is_some() {
                // Linux returns -ENOMEM here, with nothing changed yet.
                if crate::mm::rmap::anon_vma_clone(imp, e).is_err() {
                    return null_mut();
                }
                imp.anon_vma = e.anon_vma.clone();
                crate::mm::rmap::anon_vma_chain_attach(imp);
            }
        }

        // Unlink what goes first, so no range overlaps while the survivors move.
        if remove_next != 0 {
            let gone = next;
            let after = (*gone).vm_next;
            vm_area_free(*__vma_unlink(mm, gone));
            if remove_next == 2 {
                assert!(!after.is_null(), "case 6 has a VMA after next");
                vm_area_free(*__vma_unlink(mm, after));
            }
        }
        if adjust_next < 0 {
            // case 4: shrink `vma` before `next` takes the freed start.
            vma_set_range(mm, vma, start, end, pgoff);
        }
        if adjust_next != 0 {
            let (n_start, n_end, n_pgoff) = ((*next).vm_start, (*next).vm_end, (*next).vm_pgoff);
            let new_start = n_start.wrapping_add_signed(adjust_next << PAGE_SHIFT);
            let new_pgoff = n_pgoff.wrapping_add_signed(adjust_next);
            vma_set_range(mm, next, new_start, n_end, new_pgoff);
        }
        if adjust_next >= 0 {
            vma_set_range(mm, vma, start, end, pgoff);
        }
        vma
    }
}

/// Try to make `[addr, end)` with these attributes part of its neighbours instead of a
/// new VMA (Linux 5.10: `vma_merge`). `prev` is the VMA before `addr` (for mprotect and
/// mlock it may also be the VMA containing `addr`). Returns the key of the VMA that now
/// covers `[addr, end)`, or None when nothing merges (the caller then makes or splits a
/// VMA). The eight cases of Linux's diagram (AAAA is the request; for mmap/brk it is
/// unmapped, for mprotect/mlock it lies inside one VMA and takes new flags):
///
/// ```text
///  mmap, brk:       AAAA             AAAA             AAAA
///               PPPP    NNNN     PPPP    NNNN     PPPP    NNNN
///  becomes      PPPPPPPPPPPP     PPPPPPPPNNNN     PPPPNNNNNNNN
///                  case 1           case 2           case 3
///
///  mprotect:    AAAA             AAAA             AAAA          AAAA
///             PPPPPPNNNNNN    PPPPPPNNNNNN    PPPPPPNNNNNN    PPPPNNNNXXXX
///             cannot merge    PPNNNNNNNNNN    PPPPPPPPPPNN    PPPPPPPPPPPP 6 or
///                               case 4          case 5        PPPPPPPPXXXX 7 or
///                                                             PPPPNNNNNNNN 8
/// ```
/// In cases 6-8 the middle VMA (NNNN, "area") is exactly the request; case 8 keeps XXXX
/// (the VMA after it) and needs the caller to set its flags, which mprotect_fixup does.
///
/// Differences from Linux 5.10: VM_SPECIAL areas never merge (same), no mempolicy or
/// userfaultfd context, no khugepaged hook.
#[allow(clippy::too_many_arguments)]
#[no_mangle]
#[inline(never)]
pub fn vma_merge(
    mm: &mut MmapLocked,
    prev: Option<usize>,
    addr: usize,
    end: usize,
    vm_flags: VmFlags,
    anon_vma: Option<&Arc<AnonVma>>,
    file: Option<&Arc<dyn MappedFile>>,
    pgoff: usize,
) -> Option<usize> {
    let pglen = (end - addr) >> PAGE_SHIFT;

    // We later require that vma->vm_flags == vm_flags, so this tests vma->vm_flags & VM_SPECIAL too.
    if vm_flags.intersects(VmFlags::VM_SPECIAL) {
        return None;
    }

    // One lookup of the key; from here on the VMAs are followed as pointers, as Linux
    // does (a lookup by key is a tree descent when the cache misses).
    let prev: *mut VmArea = match prev {
        Some(p) => {
            let v = mm.mm_rb.find(p);
            assert!(!v.is_null(), "vma_merge: no vma at prev");
            v
        }
        None => null_mut(),
    };
    // SAFETY: `prev` and the list neighbours followed are live VMAs of `mm`'s tree,
    // which we hold mutably; `__vma_adjust` gets VMAs of that tree.
    let merged = unsafe {
        let mut next = if prev.is_null() {
            mm.mm_rb.first()
        } else {
            (*prev).vm_next
        };
        let area = next;
        if !area.is_null() && (*area).vm_end == end {
            // cases 6, 7, 8: the request is exactly `area`; look one further.
            next = (*area).vm_next;
        }
        debug_assert!(prev.is_null() || addr > (*prev).vm_start);
        debug_assert!(area.is_null() || end <= (*area).vm_end);
        debug_assert!(addr < end);

        'merge: {
            // Can it merge with the predecessor?
            if let Some(p) = prev.as_mut() {
                if p.vm_end == addr && can_vma_merge_after(p, vm_flags, anon_vma, file, pgoff) {
                    let (p_start, p_pgoff) = (p.vm_start, p.vm_pgoff);
                    // Can it merge with the successor too?
                    let with_next = next.as_ref().filter(|n| {
                        end == n.vm_start
                            && can_vma_merge_before(n, vm_flags, anon_vma, file, pgoff + pglen)
                            && is_mergeable_anon_vma(p.anon_vma.as_ref(), n.anon_vma.as_ref(), None)
                    });
                    let p: *mut VmArea = p;
                    break 'merge if let Some(n) = with_next {
                        // cases 1, 6: prev swallows next (and area in case 6).
                        let n_end = n.vm_end;
                        __vma_adjust(mm, p, p_start, n_end, p_pgoff, None, p)
                    } else {
                        // cases 2, 5, 7: prev grows to `end`.
                        __vma_adjust(mm, p, p_start, end, p_pgoff, None, p)
                    };
                }
            }

            // Can this new request be merged in front of next?
            if let Some(n) = next.as_mut() {
                if end == n.vm_start
                    && can_vma_merge_before(n, vm_flags, anon_vma, file, pgoff + pglen)
                {
                    let (n_end, n_pgoff) = (n.vm_end, n.vm_pgoff);
                    let n: *mut VmArea = n;
                    break 'merge match prev.as_mut() {
                        Some(p) if addr < p.vm_end => {
                            // case 4: prev's tail moves to next.
                            let (p_start, p_pgoff) = (p.vm_start, p.vm_pgoff);
                            if __vma_adjust(mm, p, p_start, addr, p_pgoff, None, n).is_null() {
                                null_mut()
                            } else {
                                n
                            }
                        }
                        // cases 3, 8: next grows down to addr (over area in case 8).
                        _ => {
                            debug_assert!(!area.is_null(), "next implies area");
                            __vma_adjust(mm, area, addr, n_end, n_pgoff - pglen, None, n)
                        }
                    };
                }
            }
            null_mut()
        }
    };
    // SAFETY: a non-null result is a live VMA of `mm`'s tree.
    let merged = unsafe { merged.as_ref() }?;
    // The caller looks the result up next (mmap_region's accounting, the fault that
    // follows an mmap): remember it, as Linux's find_vma would.
    mm.mm_rb
        .cache_update(addr, merged as *const VmArea as *mut VmArea);
    Some(merged.vm_start)
}

/// Cut the VMA keyed `vma` in two at `addr`, without the map_count check (Linux:
/// `__split_vma`). With `new_below` the new VMA is the lower part `[vm_start, addr)` and
/// the old one continues at `addr` (re-keyed); otherwise the new VMA is the upper part.
/// Both halves share the file and the anon_vma; the upper part's pgoff moves on.
#[no_mangle]
#[inline(never)]
pub fn __split_vma(mm: &mut MmapLocked, vma: usize, addr: usize, new_below: bool) -> KResult<()> {
    let v = mm.mm_rb.find(vma);
    assert!(!v.is_null(), "__split_vma: no such vma");
    // SAFETY: `v` is a VMA of `mm`'s tree, which we hold mutably.
    unsafe { __split_vma_at(mm, v, addr, new_below) }.map(|_| ())
}

/// `__split_vma` of a VMA in hand (munmap's walk); returns the new VMA.
///
/// # Safety
/// `vma` is a VMA of `mm`'s tree, which the caller holds mutably (mmap_lock for write).
pub unsafe fn __split_vma_at(
    mm: &mut MmapLocked,
    vma: *mut VmArea,
    addr: usize,
    new_below: bool,
) -> KResult<*mut VmArea> {
    // SAFETY: the caller's contract.
    let old = unsafe { &*vma };
    debug_assert!(old.vm_start < addr && addr < old.vm_end);
    debug_assert!(addr & (PAGE_SIZE - 1) == 0);
    // Linux: vm_area_dup (NULL -> ENOMEM), then anon_vma_clone (ENOMEM, the new VMA
    // freed): nothing in the tree has changed yet.
    let mut new = vm_area_box(vm_area_dup(old))?;
    crate::mm::rmap::anon_vma_clone(&mut new, old)?;
    let (start, end, pgoff) = (old.vm_start, old.vm_end, old.vm_pgoff);
    let upper_pgoff = pgoff + ((addr - start) >> PAGE_SHIFT);
    // SAFETY: the caller's contract; `__vma_adjust` links `new` beside `vma`.
    unsafe {
        if new_below {
            new.vm_end = addr;
            __vma_adjust(mm, vma, addr, end, upper_pgoff, Some(new), null_mut());
            Ok((*vma).vm_prev)
        } else {
            new.vm_start = addr;
            new.vm_pgoff = upper_pgoff;
            __vma_adjust(mm, vma, start, addr, pgoff, Some(new), null_mut());
            Ok((*vma).vm_next)
        }
    }
}

/// `__split_vma` after checking the VMA limit: ENOMEM when `map_count` has reached
/// `sysctl_max_map_count` (Linux: `split_vma`).
#[no_mangle]
#[inline(never)]
pub fn split_vma(mm: &mut MmapLocked, vma: usize, addr: usize, new_below: bool) -> KResult<()> {
    if mm.map_count >= super::mmap::sysctl_max_map_count() {
        return Err(Errno::ENOMEM);
    }
    __split_vma(mm, vma, addr, new_below)
}

/// Column where `/proc/<pid>/maps` starts padding before the name: 25 + 6 * sizeof(void *)
/// - 1 (Linux: `show_vma_header_prefix` `seq_setwidth`).
const MAPS_NAME_PAD: usize = 25 + 6 * 8 - 1;

/// One `/proc/<pid>/maps` line for `vma`, newline included (Linux `fs/proc/task_mmu.c`:
/// `show_map_vma`). Format: `start-end perms offset major:minor inode ` and, when the
/// area has a name, spaces up to column 72, one more space, and the name: the file path,
/// `[heap]` (overlaps `start_brk..brk`) or `[stack]` (contains `start_stack`).
pub fn show_map_vma(mm: &MmapLocked, vma: &VmArea) -> String {
    use core::fmt::Write;
    let flags = vma.vm_flags;
    let (mut ino, mut pgoff, mut dev) = (0u64, 0u64, (0u32, 0u32));
    if let Some(f) = &vma.vm_file {
        dev = f.dev();
        ino = f.ino();
        pgoff = (vma.vm_pgoff as u64) << PAGE_SHIFT;
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        vma.vm_start,
        vma.vm_end,
        if flags.contains(VmFlags::VM_READ) {
            'r'
        } else {
            '-'
        },
        if flags.contains(VmFlags::VM_WRITE) {
            'w'
        } else {
            '-'
        },
        if flags.contains(VmFlags::VM_EXEC) {
            'x'
        } else {
            '-'
        },
        if flags.contains(VmFlags::VM_MAYSHARE) {
            's'
        } else {
            'p'
        },
        pgoff,
        dev.0,
        dev.1,
        ino
    );
    let name: Option<&str> = if let Some(f) = &vma.vm_file {
        Some(f.path())
    } else if vma.vm_start <= mm.brk && vma.vm_end >= mm.start_brk {
        Some("[heap]")
    } else if vma.vm_start <= mm.start_stack && vma.vm_end >= mm.start_stack {
        Some("[stack]")
    } else if mm.sigpage != 0 && vma.vm_start == mm.sigpage {
        // Linux: arch_vma_name (arm32's "[sigpage]"; arm64 shows "[vdso]" for its own).
        Some("[sigpage]")
    } else {
        None
    };
    if let Some(name) = name {
        // seq_pad(m, ' '): pad to the width, then the separator.
        while s.len() < MAPS_NAME_PAD {
            s.push(' ');
        }
        s.push(' ');
        for c in name.chars() {
            // seq_file_path escapes "\n" as "\012".
            if c == '\n' {
                s.push_str("\\012");
            } else {
                s.push(c);
            }
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
#[path = "vma_testing.rs"]
pub(crate) mod testing;

#[cfg(test)]
#[path = "vma_tests.rs"]
mod tests;

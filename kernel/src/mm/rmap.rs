//! Reverse mapping: from a page back to the VMAs, and so the PTEs, that map it.
//!
//! Linux: `mm/rmap.c` (`anon_vma`, `anon_vma_chain`, `anon_vma_prepare`, `anon_vma_clone`,
//! `anon_vma_fork`, `unlink_anon_vmas`, `page_add_*_rmap`, `page_remove_rmap`, `rmap_walk`)
//! and `include/linux/rmap.h`. Callers: the fault path (`mm/memory.rs`) maps pages through
//! `page_add_new_anon_rmap` / `page_add_file_rmap` and unmaps them through
//! `page_remove_rmap`; the VMA code (`mm/vma.rs`, `mm/mmap.rs`, `dup_mmap` in
//! `task/fork.rs`) keeps the chains as VMAs are made, split, merged, copied and freed;
//! reclaim walks them with `rmap_walk`.
//!
//! An anonymous page records, in `page->mapping`, the `anon_vma` of the VMA it was first
//! mapped in (tagged with `PAGE_MAPPING_ANON`) and, in `page->index`, its linear page index
//! in that VMA (`vm_pgoff` plus the page's distance from `vm_start`, which mremap and
//! splits keep). Each VMA has a list of `anon_vma_chain`s, one per anon_vma whose pages it
//! may map: its own and, after fork, every ancestor's. Each anon_vma has the list of
//! chains that point at it, so a walk from a page finds every VMA in every process that
//! may map it, and `vma_address` tells where.
//!
//! A file page's `mapping` is its `AddressSpace`, whose `i_mmap` holds every VMA mapping
//! the file (`mm/interval_tree.rs`).
//!
//! Differences from Linux 5.10: an anon_vma keeps its chains in a list (`head`, what
//! Linux 2.6.34-3.7 had) rather than an interval tree keyed by pgoff, so a walk looks at
//! every chain of the anon_vma and skips VMAs the page is outside of; each anon_vma has
//! its own lock rather than sharing the root's rwsem, and it is a spin lock (nothing
//! sleeps under it here); `anon_vma_clone` never reuses an existing anon_vma (5.10 reuses
//! one whose `degree` < 2), so a fork chain allocates one per generation. A chain records
//! its VMA only while the VMA is linked into its mm (`vma_link` attaches, `__vma_unlink`
//! detaches), because our VMAs move in memory until they are boxed into the tree; a walk
//! skips detached chains, whose pages are about to be zapped anyway.
use crate::errno::{Errno, KResult};
use crate::mm::page::{Page, PageFlags};
use crate::mm::vma::VmArea;
use crate::mm::vmstat::{mod_state, VmStat};
use crate::mm::PAGE_SHIFT;
use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// The low bit of `page->mapping` that says "this is an anon_vma, not an address_space"
/// (Linux: `PAGE_MAPPING_ANON`).
pub const PAGE_MAPPING_ANON: usize = 1;
/// Every flag bit `page->mapping` may carry (Linux: `PAGE_MAPPING_FLAGS`, ANON | MOVABLE;
/// we have no movable/KSM pages).
pub const PAGE_MAPPING_FLAGS: usize = PAGE_MAPPING_ANON;

static NEXT_ANON_VMA_ID: AtomicUsize = AtomicUsize::new(1);

/// The anonymous-memory object that a page's `mapping` points at (Linux: `struct
/// anon_vma`). Made by `anon_vma_prepare` on a VMA's first anonymous page, and one per
/// child VMA by `anon_vma_fork`; it lives as long as a VMA's chain or a child anon_vma
/// refers to it (the `Arc` is Linux's `refcount`).
pub struct AnonVma {
    /// Unique id, for debugging (GDB, `Debug`).
    pub id: usize,
    /// The anon_vma at the top of this fork tree; None when this one is the root (Linux:
    /// `anon_vma->root`, which points at itself there).
    pub root: Option<Arc<AnonVma>>,
    /// The anon_vma of the parent VMA this one was forked from (Linux: `parent`).
    pub parent: Option<Arc<AnonVma>>,
    /// The chains linking VMAs to this anon_vma, in the order they were made (Linux 5.10:
    /// `rb_root`, an interval tree, under `root->rwsem`).
    pub head: SpinLock<Vec<*const AnonVmaChain>>,
}

// SAFETY: the chain pointers in `head` are only followed under `head`'s lock, and a chain
// removes itself from that list (under the lock) before it is freed.
unsafe impl Send for AnonVma {}
// SAFETY: as above.
unsafe impl Sync for AnonVma {}

impl AnonVma {
    /// A fresh anon_vma at the root of its own tree (Linux: `anon_vma_alloc`).
    pub fn new() -> Arc<AnonVma> {
        Self::alloc(None, None)
    }

    fn alloc(root: Option<Arc<AnonVma>>, parent: Option<Arc<AnonVma>>) -> Arc<AnonVma> {
        Arc::new(AnonVma {
            id: NEXT_ANON_VMA_ID.fetch_add(1, Ordering::Relaxed),
            root,
            parent,
            head: SpinLock::new(Vec::new()),
        })
    }

    /// The root of this anon_vma's fork tree (itself for a root).
    pub fn root(&self) -> &AnonVma {
        self.root.as_deref().unwrap_or(self)
    }

    /// How many chains link VMAs to this anon_vma.
    pub fn nr_chains(&self) -> usize {
        self.head.lock().len()
    }
}

impl fmt::Debug for AnonVma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnonVma")
            .field("id", &self.id)
            .field("root", &self.root().id)
            .field("parent", &self.parent.as_ref().map(|p| p.id))
            .field("chains", &self.nr_chains())
            .finish()
    }
}

impl PartialEq for AnonVma {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self, other)
    }
}

/// One link between a VMA and an anon_vma whose pages it may map (Linux: `struct
/// anon_vma_chain`): on the VMA's `anon_vma_chain` list (Linux: `same_vma`) and on the
/// anon_vma's `head` (Linux: the `rb` node in `anon_vma->rb_root`).
pub struct AnonVmaChain {
    /// The VMA, while it is linked into its mm; null before `vma_link` and after
    /// `__vma_unlink` (see the module comment).
    pub vma: AtomicPtr<VmArea>,
    /// The anon_vma (Linux: `avc->anon_vma`).
    pub anon_vma: Arc<AnonVma>,
}

impl Drop for AnonVmaChain {
    /// Leave the anon_vma's list (Linux: `anon_vma_interval_tree_remove` in
    /// `unlink_anon_vmas`); the `Arc` then drops the anon_vma when this was the last use.
    fn drop(&mut self) {
        let me = self as *const AnonVmaChain;
        let mut head = self.anon_vma.head.lock();
        if let Some(i) = head.iter().position(|&c| core::ptr::eq(c, me)) {
            head.swap_remove(i);
        }
    }
}

/// A VMA's `anon_vma` pointer (Linux: `vma->anon_vma`). Set at most once while the VMA
/// is shared under `mmap_lock` for read (by `anon_vma_prepare`, under the page-table
/// lock, as Linux does), and replaced only through `&mut` (mmap_lock for write).
pub struct AnonVmaSlot(spin::Once<Arc<AnonVma>>);

impl AnonVmaSlot {
    /// No anon_vma yet.
    pub const fn none() -> Self {
        AnonVmaSlot(spin::Once::new())
    }

    /// A slot holding `anon_vma`.
    pub fn some(anon_vma: Arc<AnonVma>) -> Self {
        AnonVmaSlot(spin::Once::initialized(anon_vma))
    }

    /// The anon_vma, if any.
    pub fn as_ref(&self) -> Option<&Arc<AnonVma>> {
        self.0.get()
    }

    /// Has the VMA an anon_vma?
    pub fn is_some(&self) -> bool {
        self.0.is_completed()
    }

    /// Has the VMA no anon_vma yet?
    pub fn is_none(&self) -> bool {
        !self.is_some()
    }

    /// Set it if still unset; false if somebody was first.
    fn set_once(&self, anon_vma: &Arc<AnonVma>) -> bool {
        let mut ours = false;
        self.0.call_once(|| {
            ours = true;
            anon_vma.clone()
        });
        ours
    }
}

impl Default for AnonVmaSlot {
    fn default() -> Self {
        Self::none()
    }
}

impl Clone for AnonVmaSlot {
    fn clone(&self) -> Self {
        match self.as_ref() {
            Some(a) => Self::some(a.clone()),
            None => Self::none(),
        }
    }
}

impl fmt::Debug for AnonVmaSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_ref().map(|a| a.id), f)
    }
}

/// A VMA's list of chains (Linux: `vma->anon_vma_chain`, the `same_vma` list). Behind a
/// lock because `anon_vma_prepare` adds the first chain with `mmap_lock` held only for
/// read; every other change holds it for write.
pub type AnonVmaChainList = SpinLock<Vec<Box<AnonVmaChain>>>;

/// Link `vma` to `anon_vma` through a new chain (Linux: `anon_vma_chain_link`). The chain
/// records `vma_ptr` (null for a VMA not linked into its mm yet). Each chain is boxed
/// because its anon_vma's list points at it: it must not move when the Vec grows.
/// ENOMEM, with nothing linked, when the chain or a list has no room (Linux:
/// `anon_vma_chain_alloc` returns NULL); user space decides how many chains there are
/// (one per VMA split, per fork).
#[allow(clippy::vec_box)]
fn anon_vma_chain_link(
    list: &mut Vec<Box<AnonVmaChain>>,
    vma_ptr: *mut VmArea,
    anon_vma: &Arc<AnonVma>,
) -> KResult<()> {
    list.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    let avc = crate::mm::slab::kmem_cache_alloc_box(
        &ANON_VMA_CHAIN_CACHEP,
        AnonVmaChain {
            vma: AtomicPtr::new(vma_ptr),
            anon_vma: anon_vma.clone(),
        },
    )
    .map_err(|_| Errno::ENOMEM)?;
    {
        // The list an anon_vma keeps grows with every VMA split off one mapping: 65,000
        // entries are half a MiB, which a fragmented machine may not have in one piece.
        let mut head = anon_vma.head.lock();
        head.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        head.push(&*avc);
    }
    list.push(avc);
    Ok(())
}

/// The slab cache of anon_vma chains (Linux: `anon_vma_chain_cachep`, made in
/// `anon_vma_init`).
pub static ANON_VMA_CHAIN_CACHEP: crate::mm::slab::KmemCache = crate::mm::slab::kmem_cache_create(
    "anon_vma_chain",
    core::mem::size_of::<AnonVmaChain>(),
    core::mem::align_of::<AnonVmaChain>(),
);

/// Link `vma` (held mutably, at its current address) to `anon_vma` through a new chain.
pub fn anon_vma_chain_link_mut(vma: &mut VmArea, anon_vma: &Arc<AnonVma>) -> KResult<()> {
    let ptr: *mut VmArea = vma;
    anon_vma_chain_link(vma.anon_vma_chain.get_mut(), ptr, anon_vma)
}

/// The VMA now lives at `vma` (it was just boxed into its mm's tree): point its chains at
/// it, so walks from its pages find it. Called by `vma_link` and by `__vma_adjust` after
/// it gave a linked VMA an anon_vma.
pub fn anon_vma_chain_attach(vma: &mut VmArea) {
    let ptr: *mut VmArea = vma;
    for avc in vma.anon_vma_chain.get_mut().iter() {
        avc.vma.store(ptr, Ordering::Release);
    }
}

/// The VMA is leaving its mm's tree (and its box): walks must no longer follow its
/// chains to it (called by `__vma_unlink`).
pub fn anon_vma_chain_detach(vma: &mut VmArea) {
    for avc in vma.anon_vma_chain.get_mut().iter() {
        avc.vma.store(core::ptr::null_mut(), Ordering::Release);
    }
}

/// May `b`, which follows `a` directly, share `a`'s anon_vma: same flags but for the
/// access bits, and page offsets that continue (Linux: `anon_vma_compatible`)?
fn anon_vma_compatible(a: &VmArea, b: &VmArea) -> bool {
    use crate::mm::vma::VmFlags;
    a.vm_end == b.vm_start
        && (a.vm_flags ^ b.vm_flags)
            .difference(VmFlags::VM_ACCESS_FLAGS | VmFlags::VM_SOFTDIRTY)
            .is_empty()
        && a.vm_file.is_none() == b.vm_file.is_none()
        && b.vm_pgoff == a.vm_pgoff + a.vma_pages()
}

/// `old`'s anon_vma, if `a` and `b` are compatible and `old` has never been forked from
/// (its chain is that one link) (Linux: `reusable_anon_vma`).
fn reusable_anon_vma(old: &VmArea, a: &VmArea, b: &VmArea) -> Option<Arc<AnonVma>> {
    if !anon_vma_compatible(a, b) {
        return None;
    }
    let anon_vma = old.anon_vma.as_ref()?;
    (old.anon_vma_chain.lock().len() == 1).then(|| anon_vma.clone())
}

/// An anon_vma a neighbour of `vma` could share with it, so that the two may merge later
/// (Linux: `find_mergeable_anon_vma`): the next VMA's, then the previous one's.
///
/// # Safety
/// `vma` is linked into its mm (its `vm_next`/`vm_prev` are valid) and the caller holds
/// that mm's `mmap_lock`.
unsafe fn find_mergeable_anon_vma(vma: &VmArea) -> Option<Arc<AnonVma>> {
    // SAFETY: the caller's contract: the neighbours are live VMAs of the same mm.
    if let Some(next) = unsafe { vma.vm_next.as_ref() } {
        if let Some(a) = reusable_anon_vma(next, vma, next) {
            return Some(a);
        }
    }
    // SAFETY: as above.
    let prev = unsafe { vma.vm_prev.as_ref() }?;
    reusable_anon_vma(prev, prev, vma)
}

/// Make sure `vma` has an anon_vma before its first anonymous page is mapped (Linux:
/// `anon_vma_prepare`, the inline fast path of `__anon_vma_prepare`).
#[inline]
pub fn anon_vma_prepare(vma: &VmArea, page_table_lock: &SpinLock<()>) -> KResult<()> {
    if vma.anon_vma.is_some() {
        return Ok(());
    }
    __anon_vma_prepare(vma, page_table_lock)
}

/// Give `vma` an anon_vma: a neighbour's when it could merge with that neighbour
/// (`find_mergeable_anon_vma`), else a new one, linked through a new chain (Linux:
/// `__anon_vma_prepare`). Runs with `mmap_lock` held only for read, like every fault, so
/// two faults may race here: the page-table lock decides, and the loser's allocation is
/// dropped. `vma` must be linked into its mm (it is: the fault found it there).
/// ENOMEM (the fault's VM_FAULT_OOM) when the chain or a list has no room.
#[no_mangle]
#[inline(never)]
pub fn __anon_vma_prepare(vma: &VmArea, page_table_lock: &SpinLock<()>) -> KResult<()> {
    // SAFETY: the fault path found `vma` in its mm under mmap_lock, which it still holds.
    let anon_vma = unsafe { find_mergeable_anon_vma(vma) }.unwrap_or_else(AnonVma::new);
    let avc = crate::mm::slab::kmem_cache_alloc_box(
        &ANON_VMA_CHAIN_CACHEP,
        AnonVmaChain {
            vma: AtomicPtr::new(vma as *const VmArea as *mut VmArea),
            anon_vma: anon_vma.clone(),
        },
    )
    .map_err(|_| Errno::ENOMEM)?;
    // The anon_vma's lock, then the page-table lock (DESIGN.md 5's order; Linux:
    // anon_vma_lock_write, then spin_lock(&mm->page_table_lock)).
    let mut head = anon_vma.head.lock();
    head.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    let _ptl = page_table_lock.lock();
    let mut chains = vma.anon_vma_chain.lock();
    chains.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    if vma.anon_vma.set_once(&anon_vma) {
        head.push(&*avc);
        chains.push(avc);
        return Ok(());
    }
    drop(chains);
    drop(_ptl);
    drop(head);
    drop(avc); // somebody was first: ours is not needed (its drop finds no list entry)
    Ok(())
}

/// Give `dst` a chain to every anon_vma `src` has one to, so pages `src` may map are found
/// through `dst` too (Linux: `anon_vma_clone`, for `__split_vma`, `copy_vma` (mremap),
/// `__vma_adjust`'s importer and `anon_vma_fork`). `dst`'s chains stay detached until it
/// is linked (`anon_vma_chain_attach`). ENOMEM as Linux's, with `dst`'s chains undone.
#[no_mangle]
#[inline(never)]
pub fn anon_vma_clone(dst: &mut VmArea, src: &VmArea) -> KResult<()> {
    let list = dst.anon_vma_chain.get_mut();
    for pavc in src.anon_vma_chain.lock().iter().rev() {
        if let Err(e) = anon_vma_chain_link(list, core::ptr::null_mut(), &pavc.anon_vma) {
            // Linux's enomem_failure: the chains made so far go again.
            list.clear();
            return Err(e);
        }
    }
    Ok(())
}

/// Set up the anon_vma side of `vma`, the fork child's copy of `pvma` (Linux:
/// `anon_vma_fork`): chains to all of `pvma`'s anon_vmas (`anon_vma_clone`), so the
/// pages the two now share are found through both, plus a new anon_vma of its own, a
/// child of `pvma`'s, for the pages the child will copy-on-write.
#[no_mangle]
#[inline(never)]
pub fn anon_vma_fork(vma: &mut VmArea, pvma: &VmArea) -> KResult<()> {
    let Some(parent) = pvma.anon_vma.as_ref() else {
        return Ok(()); // the parent has no anonymous pages here: nothing to share
    };
    // vm_area_dup copied the parent's pointer; the child gets its own below.
    vma.anon_vma = AnonVmaSlot::none();
    anon_vma_clone(vma, pvma)?;
    let root = parent.root.clone().unwrap_or_else(|| parent.clone());
    let anon_vma = AnonVma::alloc(Some(root), Some(parent.clone()));
    if let Err(e) = anon_vma_chain_link(
        vma.anon_vma_chain.get_mut(),
        core::ptr::null_mut(),
        &anon_vma,
    ) {
        unlink_anon_vmas(vma); // Linux: out_error_free_anon_vma, then unlink_anon_vmas
        return Err(e);
    }
    vma.anon_vma = AnonVmaSlot::some(anon_vma);
    Ok(())
}

/// Drop every chain of `vma`, freeing each anon_vma nothing else uses (Linux:
/// `unlink_anon_vmas`, from `free_pgtables` and `vm_area_free`'s callers).
#[no_mangle]
#[inline(never)]
pub fn unlink_anon_vmas(vma: &mut VmArea) {
    vma.anon_vma_chain.get_mut().clear();
}

/// Is `page` anonymous (Linux: `PageAnon`: the low bit of `mapping`)?
#[allow(non_snake_case)]
pub fn PageAnon(page: &Page) -> bool {
    page.mapping.load(Ordering::Relaxed) & PAGE_MAPPING_ANON != 0
}

/// The anon_vma an anonymous page was first mapped under, if the page is anonymous
/// (Linux: `page_anon_vma`). Only meaningful while the page is mapped: an unmapped
/// page's anon_vma may be gone.
pub fn page_anon_vma(page: &Page) -> Option<*const AnonVma> {
    let mapping = page.mapping.load(Ordering::Acquire);
    (mapping & PAGE_MAPPING_FLAGS == PAGE_MAPPING_ANON)
        .then_some((mapping & !PAGE_MAPPING_FLAGS) as *const AnonVma)
}

/// Is the page mapped by any PTE (Linux: `page_mapped`)?
pub fn page_mapped(page: &Page) -> bool {
    page.page_mapcount() > 0
}

/// Where `vma` maps `page`, if the page's index falls inside it (Linux: `vma_address`).
pub fn vma_address(page: &Page, vma: &VmArea) -> Option<usize> {
    let pgoff = page.index.load(Ordering::Relaxed);
    let first = vma.vm_pgoff;
    (pgoff >= first && pgoff - first < vma.vma_pages())
        .then(|| vma.vm_start + ((pgoff - first) << PAGE_SHIFT))
}

/// Record where an anonymous page belongs: an anon_vma and the page's linear index (Linux:
/// `__page_set_anon_rmap`). A page only this VMA can map (`exclusive`: a new page) takes
/// the VMA's own anon_vma; a page that other processes' swap PTEs may share (read back
/// from swap) takes the root of its anon_vma tree, which every VMA forked from the same
/// ancestor is chained to, so rmap finds them all. A page that already has an anon_vma
/// keeps it.
fn __page_set_anon_rmap(page: &Page, vma: &VmArea, address: usize, exclusive: bool) {
    let anon_vma = vma
        .anon_vma
        .as_ref()
        .expect("__page_set_anon_rmap: anon_vma_prepare was not called");
    if PageAnon(page) {
        return;
    }
    let anon_vma = match (&anon_vma.root, exclusive) {
        (Some(root), false) => root,
        _ => anon_vma,
    };
    let ptr = Arc::as_ptr(anon_vma) as usize;
    page.index.store(
        crate::mm::memory::linear_page_index(vma, address),
        Ordering::Relaxed,
    );
    page.mapping
        .store(ptr | PAGE_MAPPING_ANON, Ordering::Release);
}

/// An anonymous page that is not new (a swap-cache page, `do_swap_page`) gets one more
/// mapping, at `address` of `vma`; the first counts it in NR_ANON_PAGES and gives it an
/// anon_vma if it has none (Linux: `page_add_anon_rmap` -> `do_page_add_anon_rmap`).
/// Caller holds the page-table lock and made sure of the VMA's anon_vma.
#[no_mangle]
#[inline(never)]
pub fn page_add_anon_rmap(page: &Page, vma: &VmArea, address: usize, exclusive: bool) {
    if page._mapcount.fetch_add(1, Ordering::Relaxed) == -1 {
        mod_state(VmStat::NR_ANON_PAGES, 1);
    }
    __page_set_anon_rmap(page, vma, address, exclusive);
}

/// A freshly allocated anonymous page gets its first mapping, at `address` of `vma`:
/// swap-backed, `_mapcount` 0, `mapping`/`index` set so rmap can find it, counted in
/// NR_ANON_PAGES (Linux: `page_add_new_anon_rmap`). The caller made sure of the anon_vma
/// (`anon_vma_prepare`) and holds the page-table lock.
#[no_mangle]
#[inline(never)]
pub fn page_add_new_anon_rmap(page: &Page, vma: &VmArea, address: usize) {
    // Its contents are what the fault made them (Linux: each caller's __SetPageUptodate
    // just before this); swap-out and swap-in rely on it.
    page.set_flags(PageFlags::PG_swapbacked | PageFlags::PG_uptodate);
    page._mapcount.store(0, Ordering::Relaxed);
    mod_state(VmStat::NR_ANON_PAGES, 1);
    page.mapping.store(0, Ordering::Relaxed);
    __page_set_anon_rmap(page, vma, address, true);
}

/// A page-cache page is mapped by one more PTE; the first mapping counts it in NR_MAPPED
/// (Linux: `page_add_file_rmap`, NR_FILE_MAPPED). Its `mapping` is already its file's.
#[no_mangle]
#[inline(never)]
pub fn page_add_file_rmap(page: &Page) {
    if page._mapcount.fetch_add(1, Ordering::Relaxed) == -1 {
        mod_state(VmStat::NR_MAPPED, 1);
    }
}

/// One more mapping of a page already mapped (fork's `copy_present_pte`; Linux:
/// `page_dup_rmap`). The counters do not move: the page was counted at its first.
pub fn page_dup_rmap(page: &Page) {
    page._mapcount.fetch_add(1, Ordering::Relaxed);
}

/// One mapping fewer. When it was the last, the page leaves NR_ANON_PAGES or NR_MAPPED,
/// and a page still mlocked is cleared (Linux 5.10: `page_remove_rmap`, which calls
/// `clear_page_mlock` there; 5.18 moved that to `munlock_vma_page`). An anonymous page
/// keeps its `mapping` until it is freed, as in Linux.
#[no_mangle]
#[inline(never)]
pub fn page_remove_rmap(page: &Page) {
    if page._mapcount.fetch_sub(1, Ordering::Relaxed) != 0 {
        return; // still mapped elsewhere
    }
    if PageAnon(page) {
        mod_state(VmStat::NR_ANON_PAGES, -1);
    } else {
        mod_state(VmStat::NR_MAPPED, -1);
    }
    crate::mm::mlock::clear_page_mlock(page);
}

/// What an rmap walk does at each mapping it finds (Linux: `struct rmap_walk_control`).
pub struct RmapWalkControl {
    /// Opaque argument for the callbacks (Linux: `arg`).
    pub arg: *mut (),
    /// Called for each VMA that maps the page, with the address there; false stops the
    /// walk (Linux: `rmap_one`).
    pub rmap_one: fn(page: &Page, vma: &VmArea, address: usize, arg: *mut ()) -> bool,
    /// Called after each VMA; true stops the walk early (Linux: `done`, e.g. "no longer
    /// mapped").
    pub done: Option<fn(page: &Page) -> bool>,
    /// True skips a VMA (Linux: `invalid_vma`, e.g. "not VM_LOCKED" for try_to_munlock).
    pub invalid_vma: Option<fn(vma: &VmArea, arg: *mut ()) -> bool>,
}

impl RmapWalkControl {
    /// Visit `vma` at `address`; false when the walk should stop. Inlined, so a backtrace
    /// from `rmap_one` shows the walk function right above it, as in Linux.
    #[inline(always)]
    fn visit(&self, page: &Page, vma: &VmArea, address: usize) -> bool {
        if self.invalid_vma.is_some_and(|f| f(vma, self.arg)) {
            return true;
        }
        if !(self.rmap_one)(page, vma, address, self.arg) {
            return false;
        }
        !self.done.is_some_and(|f| f(page))
    }
}

/// Visit every VMA that may map the anonymous `page`: the chains of its anon_vma
/// (Linux: `rmap_walk_anon`). The page must be mapped (or otherwise hold its anon_vma
/// alive, as a locked page in the swap cache will); an unmapped page is not walked.
#[no_mangle]
#[inline(never)]
pub fn rmap_walk_anon(page: &Page, rwc: &RmapWalkControl) {
    let Some(anon_vma) = page_anon_vma(page) else {
        return;
    };
    if !page_mapped(page) {
        return;
    }
    // SAFETY: a mapped anonymous page's anon_vma is kept alive by the chain of the VMA
    // mapping it (Linux reaches it under RCU and takes a reference; nothing frees an
    // anon_vma concurrently here: no preemption, one CPU).
    let anon_vma = unsafe { &*anon_vma };
    let head = anon_vma.head.lock();
    for &avc in head.iter() {
        // SAFETY: a chain on the list is live (it leaves the list, under this lock,
        // before it is freed); its VMA, when attached, is linked into its mm.
        let vma = unsafe { (*avc).vma.load(Ordering::Acquire).as_ref() };
        let Some(vma) = vma else { continue };
        let Some(address) = vma_address(page, vma) else {
            continue;
        };
        if !rwc.visit(page, vma, address) {
            return;
        }
    }
}

/// Visit every VMA of the file that may map the page-cache `page`: its mapping's
/// `i_mmap` (Linux: `rmap_walk_file`).
#[no_mangle]
#[inline(never)]
pub fn rmap_walk_file(page: &Page, rwc: &RmapWalkControl) {
    let mapping = page.mapping.load(Ordering::Acquire);
    if mapping == 0 || mapping & PAGE_MAPPING_FLAGS != 0 {
        return;
    }
    // SAFETY: a page-cache page's `mapping` is its file's AddressSpace, which does not
    // move or go while it holds pages (filemap.rs); the caller holds a page reference.
    let mapping = unsafe { crate::mm::filemap::AddressSpace::from_token(mapping) };
    let pgoff = page.index.load(Ordering::Relaxed);
    let i_mmap = mapping.i_mmap.lock();
    for vma in crate::mm::interval_tree::vma_interval_tree_iter(&i_mmap, pgoff, pgoff) {
        let Some(address) = vma_address(page, vma) else {
            continue;
        };
        if !rwc.visit(page, vma, address) {
            return;
        }
    }
}

/// The PTE that maps `page` at `address` of `vma`, found with the VMA's mm's page-table
/// lock held (Linux: `page_vma_mapped_walk` for a small page, which returns with the
/// PTE mapped and the lock held until `page_vma_mapped_walk_done`: here, until the
/// returned value is dropped).
pub struct PageVmaMappedWalk<'a> {
    /// The mm's page-table lock, held.
    _ptl: crate::sync::SpinLockGuard<'a, ()>,
    /// The PTE.
    pub pte: &'static mut crate::arch::aarch64::pgtable::Pte,
    /// The mm, for its ASID.
    pub mm: &'a crate::mm::mm_types::MmStruct,
}

/// Find the PTE that maps `page` at `address` of `vma` and lock it (Linux:
/// `page_vma_mapped_walk`); None if the page is not mapped there.
pub fn page_vma_mapped_walk<'a>(
    page: &Page,
    vma: &'a VmArea,
    address: usize,
) -> Option<PageVmaMappedWalk<'a>> {
    use crate::arch::aarch64::pgtable::{pte_pfn, pte_present};
    // SAFETY: a VMA reached through rmap is linked into its mm, which outlives it.
    let mm = unsafe { vma.vm_mm.as_ref() }?;
    let ptl = mm.page_table_lock.lock();
    let pte = crate::mm::memory::pte_offset(mm.pgd, address, false)?;
    if !pte_present(*pte) || pte_pfn(*pte) != crate::mm::page::page_to_pfn(page) {
        return None;
    }
    Some(PageVmaMappedWalk { _ptl: ptl, pte, mm })
}

/// Clear the access flag of the PTE and flush its translation, so the next access faults
/// and sets it again; whether it was set (Linux arm64: `ptep_clear_flush_young`, i.e.
/// `ptep_test_and_clear_young` + `flush_tlb_page_nosync`). cortex-a72 has no hardware
/// access-flag update, so a young PTE is one that was made or touched since the last scan.
pub fn ptep_clear_flush_young(pvmw: &mut PageVmaMappedWalk<'_>, address: usize) -> bool {
    use crate::arch::aarch64::pgtable::{pte_mkold, pte_young};
    let young = pte_young(*pvmw.pte);
    if young {
        *pvmw.pte = pte_mkold(*pvmw.pte);
        crate::arch::cpu::flush_tlb_page(pvmw.mm.asid(), address);
    }
    young
}

/// Has the page no mapping left (Linux: `page_not_mapped`, a walk's `done`)?
fn page_not_mapped(page: &Page) -> bool {
    !page_mapped(page)
}

/// What `page_referenced` collects (Linux: `struct page_referenced_arg`).
struct PageReferencedArg {
    /// Mappings still to find.
    mapcount: i32,
    /// Young PTEs found (cleared on the way).
    referenced: usize,
    /// The flags of every VMA that had a young PTE, or VM_LOCKED alone (Linux: `vm_flags`).
    vm_flags: crate::mm::vma::VmFlags,
}

/// One mapping of a page being checked for use (Linux: `page_referenced_one`): a VM_LOCKED
/// VMA ends the walk, reporting VM_LOCKED (seed 001: reclaim then culls the page); a
/// young PTE counts (and is made old), unless the VMA reads sequentially (MADV_SEQUENTIAL).
#[no_mangle]
#[inline(never)]
pub fn page_referenced_one(page: &Page, vma: &VmArea, address: usize, arg: *mut ()) -> bool {
    use crate::mm::vma::VmFlags;
    // SAFETY: `arg` is the PageReferencedArg of the `page_referenced` running this walk.
    let pra = unsafe { &mut *(arg as *mut PageReferencedArg) };
    let mut referenced = 0;
    if let Some(mut pvmw) = page_vma_mapped_walk(page, vma, address) {
        if vma.vm_flags.contains(VmFlags::VM_LOCKED) {
            pra.vm_flags |= VmFlags::VM_LOCKED;
            return false; // a locked mapping settles it: no need to look further
        }
        if ptep_clear_flush_young(&mut pvmw, address)
            && !vma.vm_flags.contains(VmFlags::VM_SEQ_READ)
        {
            referenced += 1;
        }
        pra.mapcount -= 1;
    }
    if referenced > 0 {
        pra.referenced += referenced;
        pra.vm_flags |= vma.vm_flags;
    }
    pra.mapcount > 0
}

/// How many PTEs mapping `page` were young since the last look (clearing them), and the
/// flags of the VMAs they are in (Linux: `page_referenced`). A page no PTE maps has 0.
#[no_mangle]
#[inline(never)]
pub fn page_referenced(page: &Page, vm_flags: &mut crate::mm::vma::VmFlags) -> usize {
    *vm_flags = crate::mm::vma::VmFlags::empty();
    if !page_mapped(page) {
        return 0;
    }
    let mut pra = PageReferencedArg {
        mapcount: page.page_mapcount(),
        referenced: 0,
        vm_flags: crate::mm::vma::VmFlags::empty(),
    };
    let rwc = RmapWalkControl {
        arg: &mut pra as *mut PageReferencedArg as *mut (),
        rmap_one: page_referenced_one,
        done: None,
        invalid_vma: None,
    };
    rmap_walk(page, &rwc);
    *vm_flags = pra.vm_flags;
    pra.referenced
}

bitflags::bitflags! {
    /// How `try_to_unmap` behaves (Linux: `enum ttu_flags`, 5.10 values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct TtuFlags: u32 {
        /// Only munlock: look for another VM_LOCKED VMA, unmap nothing.
        const TTU_MUNLOCK = 0x8;
        /// Unmap even from VM_LOCKED VMAs.
        const TTU_IGNORE_MLOCK = 0x100;
        /// Unmap even if the PTE is young.
        const TTU_IGNORE_ACCESS = 0x200;
        /// A PG_hwpoison page is unmapped as any other (its PTEs are cleared or become
        /// swap entries), not replaced by hwpoison entries: `hwpoison_user_mappings`
        /// asks for it when the data can be had again (a clean file page). Linux 5.10
        /// value; 5.19 inverted it into TTU_HWPOISON (poison entries only when asked).
        const TTU_IGNORE_HWPOISON = 0x20;
    }
}

/// One mapping of a page being unmapped for reclaim (Linux: `try_to_unmap_one`). Returns
/// false to stop the walk (the page stays mapped):
/// - TTU_MUNLOCK: VMAs that are not VM_LOCKED are skipped; a VM_LOCKED one that maps the
///   page marks it mlocked again (`try_to_munlock`);
/// - a VM_LOCKED VMA (without TTU_IGNORE_MLOCK) marks the page mlocked and stops: reclaim
///   culls it to the unevictable list (seed 001);
/// - a young PTE (without TTU_IGNORE_ACCESS) stops: the page was used since the check;
/// - else the PTE is cleared and flushed, its dirty bit moved to the page, and the
///   mapping dropped (`page_remove_rmap`, `put_page`); an anonymous page leaves its
///   swap entry in the PTE (it must be in the swap cache: `add_to_swap` came first);
///   a PG_hwpoison page (without TTU_IGNORE_HWPOISON) leaves a hwpoison entry instead
///   (`memory_failure` -> `hwpoison_user_mappings`).
#[no_mangle]
#[inline(never)]
pub fn try_to_unmap_one(page: &Page, vma: &VmArea, address: usize, arg: *mut ()) -> bool {
    use crate::arch::aarch64::pgtable::{pte_dirty, Pte};
    use crate::mm::vma::VmFlags;
    let flags = TtuFlags::from_bits_retain(arg as usize as u32);
    // Munlock only asks whether some locked VMA still maps the page.
    if flags.contains(TtuFlags::TTU_MUNLOCK) && !vma.vm_flags.contains(VmFlags::VM_LOCKED) {
        return true;
    }
    let Some(mut pvmw) = page_vma_mapped_walk(page, vma, address) else {
        return true;
    };
    if !flags.contains(TtuFlags::TTU_IGNORE_MLOCK) {
        if vma.vm_flags.contains(VmFlags::VM_LOCKED) {
            drop(pvmw);
            crate::mm::mlock::mlock_vma_page(page);
            return false;
        }
        if flags.contains(TtuFlags::TTU_MUNLOCK) {
            return true;
        }
    }
    if !flags.contains(TtuFlags::TTU_IGNORE_ACCESS) && ptep_clear_flush_young(&mut pvmw, address) {
        return false;
    }
    // A poisoned page leaves a hwpoison entry in each PTE, so a later touch is
    // VM_FAULT_HWPOISON (Linux 5.10: the PageHWPoison branch, first in the chain).
    let poison =
        page.test(PageFlags::PG_hwpoison) && !flags.contains(TtuFlags::TTU_IGNORE_HWPOISON);
    // An anonymous page leaves a swap entry behind, which needs its slot (add_to_swap
    // gave it one) and one more count on it (Linux: the PageAnon branch with
    // swap_duplicate; a page that is not in the swap cache here would be MADV_FREE's
    // lazy-free case, which we do not have).
    let swap = (PageAnon(page) && !poison).then(|| crate::mm::swap_state::page_swap_entry(page));
    if let Some(entry) = swap {
        if !crate::mm::swap_state::PageSwapCache(page)
            || crate::mm::swapfile::swap_duplicate(entry).is_err()
        {
            return false;
        }
    }
    // Clear the entry and its translation (Linux: ptep_clear_flush).
    let pteval = core::mem::take(pvmw.pte);
    crate::arch::cpu::flush_tlb_page(pvmw.mm.asid(), address);
    debug_assert!(pteval != Pte::default());
    if pte_dirty(pteval) {
        page.set_flags(PageFlags::PG_dirty); // Linux: set_page_dirty
    }
    if poison {
        *pvmw.pte =
            crate::mm::swapops::swp_entry_to_pte(crate::mm::swapops::make_hwpoison_entry(page));
    } else if let Some(entry) = swap {
        *pvmw.pte = crate::mm::swapops::swp_entry_to_pte(entry);
    }
    drop(pvmw);
    page_remove_rmap(page);
    crate::mm::page::put_page(page);
    true
}

/// Unmap `page` from every PTE that maps it (Linux: `try_to_unmap`); true when none is
/// left (`!page_mapcount(page)`). Callers: reclaim (`shrink_page_list`), with the page
/// isolated.
#[no_mangle]
#[inline(never)]
pub fn try_to_unmap(page: &Page, flags: TtuFlags) -> bool {
    let rwc = RmapWalkControl {
        arg: flags.bits() as usize as *mut (),
        rmap_one: try_to_unmap_one,
        done: Some(page_not_mapped),
        invalid_vma: None,
    };
    rmap_walk(page, &rwc);
    !page_mapped(page)
}

/// After `munlock_vma_page` cleared a page's mlock: if another VM_LOCKED VMA still maps
/// it, mark it mlocked again, so it stays unevictable (Linux: `try_to_munlock`, an rmap
/// walk of `try_to_unmap_one` with `TTU_MUNLOCK`; seed 001).
#[no_mangle]
#[inline(never)]
pub fn try_to_munlock(page: &Page) {
    let rwc = RmapWalkControl {
        arg: TtuFlags::TTU_MUNLOCK.bits() as usize as *mut (),
        rmap_one: try_to_unmap_one,
        done: Some(page_not_mapped),
        invalid_vma: None,
    };
    rmap_walk(page, &rwc);
}

/// Visit every mapping of `page` (Linux: `rmap_walk`).
#[no_mangle]
#[inline(never)]
pub fn rmap_walk(page: &Page, rwc: &RmapWalkControl) {
    if PageAnon(page) {
        rmap_walk_anon(page, rwc);
    } else {
        rmap_walk_file(page, rwc);
    }
}

#[cfg(test)]
#[path = "rmap_tests.rs"]
mod tests;

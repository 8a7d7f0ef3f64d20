//! Kernel memory: slab caches over the page allocator, `kmalloc`, and the global allocator
//! that sends every `Box`, `Vec` and `BTreeMap` of the kernel through them.
//!
//! Linux: `mm/slab_common.c` (`kmem_cache_create`, the `kmalloc-*` caches,
//! `kmalloc_index`, `kmalloc_large`, `/proc/slabinfo`) and `mm/slub.c` (`slab_alloc`,
//! `allocate_slab`, `__slab_free`, `discard_slab`, `__kmem_cache_shrink`). Callers: the
//! global allocator (every heap container), and the typed helpers [`kmem_cache_alloc_box`]
//! / [`try_box`] for objects with a dedicated cache or a fallible path.
//!
//! A cache hands out objects of one size. Its memory is slabs: 2^order contiguous pages
//! from `alloc_pages`, each page marked PG_slab with `mapping` pointing back at the cache
//! (Linux: `page->slab_cache`), so `kfree` finds the cache from the address alone. A slab's
//! free objects form a list threaded through their first word (`page->freelist`, kept in
//! `index`); the slab's objects in use are counted in the page (`_pad`, Linux: `inuse` in
//! the `counters` union). Slabs with free objects sit on the cache's partial list (through
//! `lru`, as SLUB's `n->partial`); full slabs are on no list. A slab whose last object is
//! freed goes back to the page allocator unless the cache keeps it as one of its
//! `min_partial` spare slabs; `kmem_cache_shrink` returns the spares too.
//!
//! Differences from 5.10's SLUB: one CPU, so no per-CPU slab and no lockless fastpath:
//! every operation takes the cache's lock with interrupts masked (interrupt handlers
//! allocate: a timer's wake-up grows the run queue; Linux's `local_irq_save` in
//! `slab_alloc_node` and `spin_lock_irqsave` on the node lists are for the same reason).
//! No debugging (red zones, poisoning), no merging of caches of one size, no memcg, and a
//! cache's slab order is fixed at creation (SLUB falls back to `oo_min` when the
//! preferred order fails).
//!
//! GFP. Linux passes the caller's gfp down (`GFP_KERNEL` may reclaim). Here the slab
//! never reclaims itself: a new slab comes from the free lists or not at all, because its
//! callers may hold spin locks (an allocation inside a list walk, under the LRU lock) that
//! reclaim could need. Two kinds of callers:
//! - The global allocator ([`GFP_SLAB_GLOBAL`]): every `Box::new` and `Vec::push` of the
//!   kernel, where a failure is the allocation-error panic, called even with the run
//!   queue locked. It may take the reserve below the min watermark (`__GFP_HIGH`, as
//!   `GFP_ATOMIC`), and does not wake kswapd (waking takes the run queue's lock).
//! - The typed, fallible allocations of objects user space makes the kernel create
//!   ([`kmem_cache_alloc_box`] for VMAs and anon_vma chains: [`GFP_SLAB_USER`]). They
//!   leave the min watermark alone, so a process making VMAs without end gets ENOMEM while
//!   the reserve is still there for the rest of the kernel, and they wake kswapd
//!   (`GFP_NOWAIT`). `Vec::try_reserve` and [`try_box`] go through the global allocator
//!   but turn a null into ENOMEM.
use super::page::{pfn_to_page, Page, PageFlags};
use super::page_alloc::{alloc_pages, GfpFlags};
use crate::arch::{phys_to_virt, virt_to_phys, PAGE_SHIFT, PAGE_SIZE};
use crate::errno::{Errno, KResult};
use crate::sync::SpinLockIrq;
use alloc::boxed::Box;
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// No page: the end of a partial list (the `ListLink` convention of `mm/page.rs`).
const NIL: usize = usize::MAX;

/// Largest slab order (Linux: `slub_max_order`, PAGE_ALLOC_COSTLY_ORDER).
const SLUB_MAX_ORDER: usize = 3;

/// Objects a slab should hold at least, when the order cap allows (Linux:
/// `calculate_order`'s `min_objects = 4 * (fls(nr_cpu_ids) + 1)`: 8 with one CPU).
const SLUB_MIN_OBJECTS: usize = 8;

/// Empty slabs a cache keeps for the next allocation rather than freeing them at once
/// (Linux: `s->min_partial`, between 5 and 10 there; one here, so an alloc/free pair
/// at a slab boundary does not go to the page allocator each time).
const MIN_PARTIAL: usize = 1;

/// The lists of a cache (Linux: `struct kmem_cache_node`), under the cache's lock.
struct KmemCacheNode {
    /// First slab with free objects, as a pfn, or NIL (Linux: `n->partial`).
    partial: usize,
    /// Slabs on the partial list (Linux: `n->nr_partial`).
    nr_partial: usize,
    /// Empty slabs among them (kept for reuse, at most `MIN_PARTIAL`).
    nr_empty: usize,
    /// All slabs of the cache (Linux: `n->nr_slabs`).
    nr_slabs: usize,
    /// Objects handed out and not yet freed.
    active_objs: usize,
}

/// A cache of equal-sized objects (Linux: `struct kmem_cache`). Created as a `static`
/// with [`kmem_cache_create`]; it joins the `slab_caches` list (and /proc/slabinfo) when
/// its first slab is allocated.
pub struct KmemCache {
    /// The name /proc/slabinfo shows (Linux: `s->name`).
    pub name: &'static str,
    /// The size the creator asked for (Linux: `s->object_size`).
    pub object_size: usize,
    /// Bytes per object slot: `object_size` rounded up to the alignment (Linux: `s->size`).
    pub size: usize,
    /// Object alignment (Linux: `s->align`).
    pub align: usize,
    /// Pages per slab, as an order (Linux: `oo_order(s->oo)`).
    pub order: usize,
    /// Objects per slab (Linux: `oo_objects(s->oo)`).
    pub objects: usize,
    node: SpinLockIrq<KmemCacheNode>,
    /// Next cache on the `slab_caches` list (Linux: `s->list`).
    next: AtomicPtr<KmemCache>,
    /// On the `slab_caches` list yet?
    listed: AtomicBool,
}

/// The slab order of a cache of `size`-byte objects: the smallest order that holds
/// `SLUB_MIN_OBJECTS`, at most `SLUB_MAX_ORDER`, and at least one that holds one object
/// (Linux: `calculate_order` / `slab_order`, without the waste fraction).
pub const fn calculate_order(size: usize) -> usize {
    let mut order = 0;
    while order < SLUB_MAX_ORDER && (PAGE_SIZE << order) / size < SLUB_MIN_OBJECTS {
        order += 1;
    }
    while (PAGE_SIZE << order) / size == 0 {
        order += 1;
    }
    order
}

/// A cache for objects of `size` bytes aligned to `align` (Linux: `kmem_cache_create`,
/// which returns a new cache; here a `const fn` so a cache is a `static` that exists
/// before the allocator it is part of, as Linux's boot caches do).
pub const fn kmem_cache_create(name: &'static str, size: usize, align: usize) -> KmemCache {
    let align = if align < 8 { 8 } else { align };
    let min = if size < 8 { 8 } else { size };
    let slot = (min + align - 1) & !(align - 1);
    let order = calculate_order(slot);
    KmemCache {
        name,
        object_size: size,
        size: slot,
        align,
        order,
        objects: (PAGE_SIZE << order) / slot,
        node: SpinLockIrq::new(KmemCacheNode {
            partial: NIL,
            nr_partial: 0,
            nr_empty: 0,
            nr_slabs: 0,
            active_objs: 0,
        }),
        next: AtomicPtr::new(core::ptr::null_mut()),
        listed: AtomicBool::new(false),
    }
}

/// Slab pages in use by all caches, and the pages of large kmallocs (Linux 5.10:
/// `NR_SLAB_UNRECLAIMABLE_B`, which `kmalloc_order` adds large allocations to as well;
/// counted in pages here): /proc/meminfo's `Slab` and `SUnreclaim`.
static NR_SLAB_PAGES: AtomicUsize = AtomicUsize::new(0);

/// The gfp of the global allocator's slabs and large allocations (see the file comment).
pub const GFP_SLAB_GLOBAL: GfpFlags = GfpFlags::__GFP_HIGH.union(GfpFlags::__GFP_NOWARN);

/// The gfp of [`kmem_cache_alloc_box`] (see the file comment; Linux: `GFP_NOWAIT`).
pub const GFP_SLAB_USER: GfpFlags = GfpFlags::GFP_NOWAIT.union(GfpFlags::__GFP_NOWARN);

/// The dedicated caches created so far, newest first (Linux: `slab_caches`); the kmalloc
/// caches are listed from their array.
static SLAB_CACHES: AtomicPtr<KmemCache> = AtomicPtr::new(core::ptr::null_mut());

/// Slab pages now (for /proc/meminfo and the leak check).
pub fn nr_slab_pages() -> usize {
    NR_SLAB_PAGES.load(Ordering::Relaxed)
}

/// The kmalloc size classes, in Linux's order and names (`kmalloc_info[]`: 96 and 192
/// between the powers of two).
pub static KMALLOC_CACHES: [KmemCache; 13] = [
    kmem_cache_create("kmalloc-8", 8, 8),
    kmem_cache_create("kmalloc-16", 16, 16),
    kmem_cache_create("kmalloc-32", 32, 32),
    kmem_cache_create("kmalloc-64", 64, 64),
    kmem_cache_create("kmalloc-96", 96, 32),
    kmem_cache_create("kmalloc-128", 128, 128),
    kmem_cache_create("kmalloc-192", 192, 64),
    kmem_cache_create("kmalloc-256", 256, 256),
    kmem_cache_create("kmalloc-512", 512, 512),
    kmem_cache_create("kmalloc-1k", 1024, 1024),
    kmem_cache_create("kmalloc-2k", 2048, 2048),
    kmem_cache_create("kmalloc-4k", 4096, 4096),
    kmem_cache_create("kmalloc-8k", 8192, 8192),
];

/// The largest size a kmalloc cache serves; above it `kmalloc_large` takes pages
/// directly (Linux: `KMALLOC_MAX_CACHE_SIZE`, two pages for SLUB).
pub const KMALLOC_MAX_CACHE_SIZE: usize = 2 * PAGE_SIZE;

/// Index into [`KMALLOC_CACHES`] of the cache for `size` bytes aligned to `align`, or
/// None for `kmalloc_large` (Linux: `kmalloc_index`, `kmalloc_slab`). The power-of-two
/// caches are aligned to their size; 96 and 192 only to 32 and 64.
pub const fn kmalloc_index(size: usize, align: usize) -> Option<usize> {
    let size = if size < align { align } else { size };
    if size > KMALLOC_MAX_CACHE_SIZE {
        return None;
    }
    Some(match size {
        0..=8 => 0,
        9..=16 => 1,
        17..=32 => 2,
        33..=64 => 3,
        65..=96 if align <= 32 => 4,
        65..=128 => 5,
        129..=192 if align <= 64 => 6,
        129..=256 => 7,
        257..=512 => 8,
        513..=1024 => 9,
        1025..=2048 => 10,
        2049..=4096 => 11,
        _ => 12,
    })
}

/// The page of a linear-map address (Linux: `virt_to_page`).
fn virt_to_page(addr: usize) -> &'static Page {
    pfn_to_page(virt_to_phys(addr) >> PAGE_SHIFT)
}

/// Put `s` on the `slab_caches` list the first time it gets a slab (a kmalloc cache is
/// listed from its array instead).
fn list_cache(s: &'static KmemCache) {
    if s.listed.swap(true, Ordering::AcqRel) {
        return;
    }
    let kmalloc = KMALLOC_CACHES.as_ptr_range();
    if kmalloc.contains(&(s as *const KmemCache)) {
        return;
    }
    let me = s as *const KmemCache as *mut KmemCache;
    let mut head = SLAB_CACHES.load(Ordering::Acquire);
    loop {
        s.next.store(head, Ordering::Relaxed);
        match SLAB_CACHES.compare_exchange(head, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return,
            Err(h) => head = h,
        }
    }
}

/// Get pages for a new slab of `s`, with no cache lock held, and thread its free list
/// (Linux: `allocate_slab` -> `alloc_slab_page`, `shuffle_freelist` without the
/// shuffle). See the file comment for the gfp.
fn allocate_slab(s: &'static KmemCache, gfp: GfpFlags) -> Option<&'static Page> {
    let page = alloc_pages(gfp, s.order)?;
    list_cache(s);
    let head_pfn = super::page::page_to_pfn(page);
    let cache = s as *const KmemCache as usize;
    for i in 0..(1usize << s.order) {
        let p = pfn_to_page(head_pfn + i);
        p.set_flags(PageFlags::PG_slab);
        p.mapping.store(cache, Ordering::Relaxed);
    }
    let base = phys_to_virt(head_pfn << PAGE_SHIFT);
    for i in 0..s.objects {
        let obj = base + i * s.size;
        let next = if i + 1 < s.objects { obj + s.size } else { 0 };
        // SAFETY: the slab's pages are ours (just allocated) and mapped by the linear map;
        // `obj` is a slot inside them, aligned to at least 8.
        unsafe { (obj as *mut usize).write(next) };
    }
    page.index.store(base, Ordering::Relaxed);
    page._pad.store(0, Ordering::Relaxed);
    NR_SLAB_PAGES.fetch_add(1 << s.order, Ordering::Relaxed);
    Some(page)
}

/// Give an empty slab's pages back (Linux: `discard_slab` -> `free_slab` ->
/// `__free_slab`). Called without the cache lock.
fn discard_slab(s: &KmemCache, page: &'static Page) {
    let head_pfn = super::page::page_to_pfn(page);
    for i in 0..(1usize << s.order) {
        let p = pfn_to_page(head_pfn + i);
        p.clear_flags(PageFlags::PG_slab);
        p.mapping.store(0, Ordering::Relaxed);
    }
    page.index.store(0, Ordering::Relaxed);
    page._pad.store(0, Ordering::Relaxed);
    NR_SLAB_PAGES.fetch_sub(1 << s.order, Ordering::Relaxed);
    super::page_alloc::__free_pages(page, s.order);
}

impl KmemCacheNode {
    /// Put the slab at `pfn` at the head of the partial list (Linux: `add_partial`).
    fn add_partial(&mut self, pfn: usize) {
        let page = pfn_to_page(pfn);
        page.lru.prev.store(NIL, Ordering::Relaxed);
        page.lru.next.store(self.partial, Ordering::Relaxed);
        if self.partial != NIL {
            pfn_to_page(self.partial)
                .lru
                .prev
                .store(pfn, Ordering::Relaxed);
        }
        self.partial = pfn;
        self.nr_partial += 1;
    }

    /// Take the slab at `pfn` off the partial list (Linux: `remove_partial`).
    fn remove_partial(&mut self, pfn: usize) {
        let page = pfn_to_page(pfn);
        let (next, prev) = (
            page.lru.next.load(Ordering::Relaxed),
            page.lru.prev.load(Ordering::Relaxed),
        );
        if prev == NIL {
            self.partial = next;
        } else {
            pfn_to_page(prev).lru.next.store(next, Ordering::Relaxed);
        }
        if next != NIL {
            pfn_to_page(next).lru.prev.store(prev, Ordering::Relaxed);
        }
        page.lru.next.store(NIL, Ordering::Relaxed);
        page.lru.prev.store(NIL, Ordering::Relaxed);
        self.nr_partial -= 1;
    }
}

/// One object of `s`, or null when no memory is left (Linux: `kmem_cache_alloc` ->
/// `slab_alloc_node`; the slow path `___slab_alloc` -> `new_slab` when the partial list
/// is empty, with `gfp` for the pages). Interrupts are masked while the cache lock is
/// held; the page allocator is called with the lock dropped.
#[no_mangle]
#[inline(never)]
pub fn kmem_cache_alloc(s: &'static KmemCache, gfp: GfpFlags) -> *mut u8 {
    loop {
        {
            let mut n = s.node.lock();
            let pfn = n.partial;
            if pfn != NIL {
                let page = pfn_to_page(pfn);
                let obj = page.index.load(Ordering::Relaxed);
                // SAFETY: `obj` is a free slot of this slab: its first word links the
                // next free slot (written by `allocate_slab` or `kmem_cache_free`).
                let next = unsafe { (obj as *const usize).read() };
                page.index.store(next, Ordering::Relaxed);
                let inuse = page._pad.fetch_add(1, Ordering::Relaxed) + 1;
                if inuse == 1 {
                    n.nr_empty -= 1;
                }
                if inuse as usize == s.objects {
                    n.remove_partial(pfn); // full: on no list (as SLUB without debug)
                }
                n.active_objs += 1;
                return obj as *mut u8;
            }
        }
        let Some(page) = allocate_slab(s, gfp) else {
            return core::ptr::null_mut();
        };
        let mut n = s.node.lock();
        n.nr_slabs += 1;
        n.nr_empty += 1;
        n.add_partial(super::page::page_to_pfn(page));
    }
}

/// Free `obj` of `s`, back to its slab (Linux: `kmem_cache_free` -> `slab_free` ->
/// `__slab_free`): a full slab becomes partial again; an empty one beyond the
/// `MIN_PARTIAL` spares goes back to the page allocator (`discard_slab`).
///
/// # Safety
/// `obj` came from `kmem_cache_alloc(s)` and is not used again.
#[no_mangle]
#[inline(never)]
pub unsafe fn kmem_cache_free(s: &'static KmemCache, obj: *mut u8) {
    let obj = obj as usize;
    let head_pfn = (virt_to_phys(obj) >> PAGE_SHIFT) & !((1usize << s.order) - 1);
    let page = pfn_to_page(head_pfn);
    let discard = {
        let mut n = s.node.lock();
        let free = page.index.load(Ordering::Relaxed);
        // SAFETY: the caller gives the slot back; its first word now links the free list.
        unsafe { (obj as *mut usize).write(free) };
        page.index.store(obj, Ordering::Relaxed);
        let inuse = page._pad.fetch_sub(1, Ordering::Relaxed) - 1;
        n.active_objs -= 1;
        if inuse as usize + 1 == s.objects {
            n.add_partial(head_pfn); // was full
        }
        if inuse == 0 {
            if n.nr_empty >= MIN_PARTIAL {
                n.remove_partial(head_pfn);
                n.nr_slabs -= 1;
                true
            } else {
                n.nr_empty += 1;
                false
            }
        } else {
            false
        }
    };
    if discard {
        discard_slab(s, page);
    }
}

/// Give every empty slab of `s` back to the page allocator; returns the pages freed
/// (Linux: `kmem_cache_shrink` -> `__kmem_cache_shrink`).
pub fn kmem_cache_shrink(s: &'static KmemCache) -> usize {
    let mut freed = 0;
    loop {
        let empty = {
            let mut n = s.node.lock();
            let mut pfn = n.partial;
            let mut found = None;
            while pfn != NIL {
                let page = pfn_to_page(pfn);
                if page._pad.load(Ordering::Relaxed) == 0 {
                    found = Some(page);
                    n.remove_partial(pfn);
                    n.nr_slabs -= 1;
                    n.nr_empty -= 1;
                    break;
                }
                pfn = page.lru.next.load(Ordering::Relaxed);
            }
            found
        };
        let Some(page) = empty else {
            return freed;
        };
        discard_slab(s, page);
        freed += 1 << s.order;
    }
}

/// Call `f` on every cache with slabs so far: the kmalloc caches, then the dedicated ones
/// (Linux: `list_for_each_entry(s, &slab_caches, list)`).
pub fn for_each_cache(mut f: impl FnMut(&'static KmemCache)) {
    for s in KMALLOC_CACHES.iter() {
        f(s);
    }
    let mut p = SLAB_CACHES.load(Ordering::Acquire);
    while !p.is_null() {
        // SAFETY: only `'static` caches are ever linked (`list_cache`).
        let s: &'static KmemCache = unsafe { &*p };
        f(s);
        p = s.next.load(Ordering::Acquire);
    }
}

/// Shrink every cache (Linux: what `echo 1 > /sys/kernel/slab/*/shrink` does for each);
/// the leak check calls it so spare empty slabs do not count as used pages.
pub fn kmem_cache_shrink_all() -> usize {
    let mut freed = 0;
    for_each_cache(|s| freed += kmem_cache_shrink(s));
    freed
}

/// One cache's /proc/slabinfo numbers (Linux: `struct slabinfo`, from `get_slabinfo`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabInfo {
    /// Objects in use.
    pub active_objs: usize,
    /// Object slots in all slabs.
    pub num_objs: usize,
    /// Slabs (all count as active: SLUB reports `active_slabs = num_slabs`).
    pub num_slabs: usize,
}

/// The numbers /proc/slabinfo shows for `s` (Linux: `get_slabinfo` in `mm/slub.c`).
pub fn get_slabinfo(s: &KmemCache) -> SlabInfo {
    let n = s.node.lock();
    SlabInfo {
        active_objs: n.active_objs,
        num_objs: n.nr_slabs * s.objects,
        num_slabs: n.nr_slabs,
    }
}

/// `/proc/slabinfo` (Linux 5.10: `slab_show` / `cache_show` in `mm/slab_common.c`, header
/// from `print_slabinfo_header`): one line per cache, SLUB's tunables all 0.
pub fn slabinfo() -> alloc::string::String {
    use core::fmt::Write;
    let mut m = alloc::string::String::new();
    m.push_str("slabinfo - version: 2.1\n");
    m.push_str(
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : \
         tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> \
         <sharedavail>\n",
    );
    let mut caches = alloc::vec::Vec::new();
    for_each_cache(|s| caches.push((s, get_slabinfo(s))));
    // Newest cache first, as Linux's list is walked (kmalloc caches, created first, last).
    for (s, info) in caches.iter().rev() {
        let _ = writeln!(
            m,
            "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
            s.name,
            info.active_objs,
            info.num_objs,
            s.size,
            s.objects,
            1usize << s.order,
            0,
            0,
            0,
            info.num_slabs,
            info.num_slabs,
            0
        );
    }
    m
}

/// Pages for an allocation larger than the biggest kmalloc cache (Linux:
/// `kmalloc_large` -> `kmalloc_order`): a block of the buddy allocator, naturally
/// aligned to its size, not PG_slab, so `kfree` tells it apart; counted in
/// `NR_SLAB_PAGES` as 5.10 counts it in `NR_SLAB_UNRECLAIMABLE_B`.
fn kmalloc_large(size: usize, align: usize) -> *mut u8 {
    let order = large_order(size, align);
    match alloc_pages(GFP_SLAB_GLOBAL, order) {
        Some(page) => {
            NR_SLAB_PAGES.fetch_add(1 << order, Ordering::Relaxed);
            super::page::page_address(page) as *mut u8
        }
        None => core::ptr::null_mut(),
    }
}

/// Allocate `size` bytes aligned to `align`, or null (Linux: `kmalloc` -> `__kmalloc`:
/// `kmalloc_slab` picks the size class, `kmalloc_large` above it).
#[no_mangle]
#[inline(never)]
pub fn __kmalloc(size: usize, align: usize) -> *mut u8 {
    match kmalloc_index(size, align) {
        Some(i) => kmem_cache_alloc(&KMALLOC_CACHES[i], GFP_SLAB_GLOBAL),
        None => kmalloc_large(size, align),
    }
}

/// Free what `__kmalloc` or `kmem_cache_alloc` of any cache returned (Linux: `kfree`:
/// `virt_to_head_page`, then the slab's cache from `page->slab_cache`, or the pages of
/// a large allocation). `size` and `align` are the allocation's (they give the order of
/// a large one, where Linux reads the compound order).
///
/// # Safety
/// `obj` came from `__kmalloc(size, align)` or a cache's `kmem_cache_alloc`, and is not
/// used again.
#[no_mangle]
#[inline(never)]
pub unsafe fn kfree(obj: *mut u8, size: usize, align: usize) {
    let page = virt_to_page(obj as usize);
    if page.test(PageFlags::PG_slab) {
        let cache = page.mapping.load(Ordering::Relaxed) as *const KmemCache;
        // SAFETY: a PG_slab page's `mapping` is the `'static` cache its slab belongs to
        // (set by `allocate_slab`); the caller's contract covers `obj`.
        unsafe { kmem_cache_free(&*cache, obj) };
    } else {
        let order = large_order(size, align);
        NR_SLAB_PAGES.fetch_sub(1 << order, Ordering::Relaxed);
        super::page_alloc::__free_pages(page, order);
    }
}

/// The global allocator: every `Box`, `Vec`, `BTreeMap`... of the kernel is kmalloc'ed.
pub struct SlabAllocator;

// SAFETY: `__kmalloc` returns null or a block of at least `size` bytes aligned to
// `align`, not handed out again until `kfree`; `kfree` gets back what `__kmalloc`
// returned with the same layout (the `GlobalAlloc` contract). Interrupt safety: every
// cache lock masks interrupts (see the file comment).
unsafe impl GlobalAlloc for SlabAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        __kmalloc(layout.size(), layout.align())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's contract.
        unsafe { kfree(ptr, layout.size(), layout.align()) }
    }
    /// A `Vec` that grows within its size class keeps its object (Linux: `krealloc`,
    /// which returns the same object while `ksize` covers the new size).
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        let same = match (
            kmalloc_index(layout.size(), align),
            kmalloc_index(new_size, align),
        ) {
            (Some(a), Some(b)) => a == b,
            (None, None) => large_order(layout.size(), align) == large_order(new_size, align),
            _ => false,
        };
        if same {
            return ptr;
        }
        let new = __kmalloc(new_size, align);
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller size and do not overlap (the
            // new one was just allocated); the old one is freed with its own layout.
            unsafe {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                kfree(ptr, layout.size(), align);
            }
        }
        new
    }
}

/// The buddy order of a `kmalloc_large` of `size` bytes aligned to `align`.
fn large_order(size: usize, align: usize) -> usize {
    size.max(align)
        .div_ceil(PAGE_SIZE)
        .next_power_of_two()
        .trailing_zeros() as usize
}

/// The global allocator (only on the target; host tests use the system allocator).
#[cfg_attr(target_os = "none", global_allocator)]
pub static KERNEL_ALLOCATOR: SlabAllocator = SlabAllocator;

/// `Box::new` that fails with ENOMEM instead of panicking (`Box::try_new` is unstable on
/// stable Rust): for objects user space makes the kernel allocate.
pub fn try_box<T>(value: T) -> KResult<Box<T>> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Ok(Box::new(value));
    }
    // SAFETY: `layout` has a non-zero size.
    let p = unsafe { alloc::alloc::alloc(layout) } as *mut T;
    if p.is_null() {
        return Err(Errno::ENOMEM);
    }
    // SAFETY: `p` is a fresh block for one `T` from the global allocator, which is what
    // `Box::from_raw` frees it to.
    unsafe {
        p.write(value);
        Ok(Box::from_raw(p))
    }
}

/// A `Box` whose memory comes from the dedicated cache `s` (Linux:
/// `kmem_cache_alloc(vm_area_cachep, GFP_KERNEL)` for a `vm_area_struct`); when no memory
/// is left, `value` comes back in the error so the caller can undo what it holds (Linux:
/// NULL, then the caller's `-ENOMEM` path). Dropping the box frees the object to `s`: the
/// global allocator's `kfree` finds the cache from the page. On the host (unit tests) the
/// system allocator stands in.
pub fn kmem_cache_alloc_box<T>(s: &'static KmemCache, value: T) -> Result<Box<T>, T> {
    const { assert!(core::mem::size_of::<T>() > 0) };
    if cfg!(not(target_os = "none")) {
        let layout = Layout::new::<T>();
        // SAFETY: `T` is not zero-sized (checked above).
        let p = unsafe { alloc::alloc::alloc(layout) } as *mut T;
        if p.is_null() {
            return Err(value);
        }
        // SAFETY: a fresh block for one `T` from the global allocator.
        unsafe {
            p.write(value);
            return Ok(Box::from_raw(p));
        }
    }
    assert!(
        core::mem::size_of::<T>() <= s.size && core::mem::align_of::<T>() <= s.align,
        "kmem_cache_alloc_box: {} does not fit cache {}",
        core::any::type_name::<T>(),
        s.name
    );
    let p = kmem_cache_alloc(s, GFP_SLAB_USER) as *mut T;
    if p.is_null() {
        return Err(value);
    }
    // SAFETY: `p` is a free slot of `s`, large and aligned enough for `T` (checked above);
    // the box's drop goes to `kfree`, which returns it to `s`.
    unsafe {
        p.write(value);
        Ok(Box::from_raw(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmalloc_index_picks_linux_size_classes() {
        let name = |size, align| kmalloc_index(size, align).map(|i| KMALLOC_CACHES[i].name);
        assert_eq!(name(1, 1), Some("kmalloc-8"));
        assert_eq!(name(8, 8), Some("kmalloc-8"));
        assert_eq!(name(9, 8), Some("kmalloc-16"));
        assert_eq!(name(33, 8), Some("kmalloc-64"));
        assert_eq!(name(65, 8), Some("kmalloc-96"));
        assert_eq!(name(96, 8), Some("kmalloc-96"));
        assert_eq!(name(96, 64), Some("kmalloc-128"));
        assert_eq!(name(97, 8), Some("kmalloc-128"));
        assert_eq!(name(129, 8), Some("kmalloc-192"));
        assert_eq!(name(193, 8), Some("kmalloc-256"));
        assert_eq!(name(257, 8), Some("kmalloc-512"));
        assert_eq!(name(1000, 8), Some("kmalloc-1k"));
        assert_eq!(name(2048, 8), Some("kmalloc-2k"));
        assert_eq!(name(4097, 8), Some("kmalloc-8k"));
        assert_eq!(name(8, 4096), Some("kmalloc-4k"));
        assert_eq!(name(8193, 8), None);
    }

    #[test]
    fn every_kmalloc_cache_is_aligned_to_what_it_serves() {
        for (i, s) in KMALLOC_CACHES.iter().enumerate() {
            assert_eq!(kmalloc_index(s.size, 8), Some(i), "{}", s.name);
            assert_eq!(s.size % s.align, 0, "{}", s.name);
            assert!(s.objects >= 1 && s.objects * s.size <= PAGE_SIZE << s.order);
        }
    }

    #[test]
    fn large_allocations_take_the_smallest_buddy_block() {
        assert_eq!(large_order(8193, 8), 2); // three pages round up to four
        assert_eq!(large_order(16384, 8), 2);
        assert_eq!(large_order(16385, 8), 3);
        assert_eq!(large_order(100, 1 << 16), 4); // alignment: a 64 KiB block
        assert_eq!(large_order(4 << 20, 8), 10); // the largest block (MAX_ORDER - 1)
    }

    #[test]
    fn slab_orders_follow_min_objects_up_to_the_cap() {
        assert_eq!(calculate_order(8), 0);
        assert_eq!(calculate_order(512), 0); // 8 objects in a page
        assert_eq!(calculate_order(1024), 1);
        assert_eq!(calculate_order(4096), 3);
        assert_eq!(calculate_order(8192), 3); // capped: 4 objects
        let c = kmem_cache_create("vm_area_struct", 200, 8);
        assert_eq!((c.size, c.order, c.objects), (200, 0, 20));
    }
}

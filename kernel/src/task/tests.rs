//! In-kernel tests of the scheduler (run from the idle task by `ktest=`).
use super::*;
use alloc::{format, string::String, vec::Vec};

static LOG: SpinLockIrq<Vec<u8>> = SpinLockIrq::new(Vec::new());

extern "C" fn ping(tag: usize) {
    for _ in 0..3 {
        LOG.lock().push(tag as u8);
        yield_now();
    }
}

/// Two kernel threads that yield after each step run interleaved, become zombies when
/// they return, and free their stacks when reaped.
pub fn kthreads_interleave() -> Result<String, String> {
    let before = free_pages();
    LOG.lock().clear();
    let a = kernel_thread("ping-a", ping, b'a' as usize).ok_or("kernel_thread failed")?;
    let b = kernel_thread("ping-b", ping, b'b' as usize).ok_or("kernel_thread failed")?;
    let (pa, pb) = (a.pid(), b.pid());
    let mut spins = 0;
    while a.state() != TaskState::Zombie || b.state() != TaskState::Zombie {
        yield_now();
        spins += 1;
        if spins > 1000 {
            return Err("threads did not finish".into());
        }
    }
    drop((a, b));
    release_task(pa);
    release_task(pb);
    let log = String::from_utf8(LOG.lock().clone()).unwrap_or_default();
    let after = free_pages();
    if log != "ababab" {
        return Err(format!("order {log:?}, want \"ababab\""));
    }
    if before != after {
        return Err(format!(
            "free pages {before} -> {after}: a kernel stack leaked"
        ));
    }
    Ok(format!(
        "order {log}, pids {pa} and {pb} reaped, free pages back to {after}"
    ))
}

/// A new task's kernel stack ends (lowest word) in STACK_END_MAGIC, and a write there,
/// as an overrun makes, is what `stack_end_corrupted` (the scheduler's check) sees.
pub fn stack_end_magic() -> Result<String, String> {
    let before = free_pages();
    let (t, _regs) = alloc_task("stack-test", None, 0, 0).ok_or("alloc_task failed")?;
    if t.stack_end_corrupted() {
        return Err("a fresh stack reads as corrupted".into());
    }
    let end = t.kstack as *mut u64;
    // SAFETY: the task never ran; its stack is ours to write until it is dropped.
    unsafe { end.write_volatile(0xdead_beef) };
    let seen = t.stack_end_corrupted();
    // SAFETY: as above.
    unsafe { end.write_volatile(STACK_END_MAGIC) };
    if !seen {
        return Err("an overwritten stack end went unnoticed".into());
    }
    let (size, pid) = (THREAD_SIZE, t.pid());
    drop(t);
    release_task(pid); // alloc_task entered it in the pid table
    let after = free_pages();
    if before != after {
        return Err(format!("free pages {before} -> {after}: the stack leaked"));
    }
    Ok(format!(
        "{size}-byte stack, magic {STACK_END_MAGIC:#x} at its end, overwrite detected"
    ))
}

/// Where an rmap walk from a page found it mapped: (the mm, the address).
fn rmap_mappers(page: &crate::mm::page::Page) -> Vec<(usize, usize)> {
    use crate::mm::rmap::{rmap_walk, RmapWalkControl};
    use crate::mm::vma::VmArea;
    fn one(_: &crate::mm::page::Page, vma: &VmArea, address: usize, arg: *mut ()) -> bool {
        // SAFETY: `arg` is the Vec `rmap_mappers` passes, alive for the walk.
        let seen = unsafe { &mut *(arg as *mut Vec<(usize, usize)>) };
        seen.push((vma.vm_mm as usize, address));
        true
    }
    let mut seen: Vec<(usize, usize)> = Vec::new();
    let rwc = RmapWalkControl {
        arg: &mut seen as *mut Vec<(usize, usize)> as *mut (),
        rmap_one: one,
        done: None,
        invalid_vma: None,
    };
    rmap_walk(page, &rwc);
    seen.sort();
    seen
}

/// rmap on real page tables: an anonymous page populated in one mm is found there through
/// its anon_vma; after `dup_mmap` in parent and child at the same address (mapcount 2);
/// after the child's munmap in the parent only; and every page comes back at the end.
pub fn rmap_walk_after_fork() -> Result<String, String> {
    use crate::mm::mm_types::MmStruct;
    use crate::mm::mmap::{vm_mmap_pgoff, vm_munmap, MAP_ANONYMOUS, MAP_POPULATE, MAP_PRIVATE};
    use crate::mm::mmap::{PROT_READ, PROT_WRITE};
    use crate::mm::PAGE_SIZE;
    let free0 = free_pages();
    {
        let parent = MmStruct::new().map_err(|e| format!("mm_alloc: {e:?}"))?;
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
        let addr = vm_mmap_pgoff(
            &parent,
            None,
            0,
            4 * PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            flags,
            0,
        )
        .map_err(|e| format!("mmap: {e:?}"))?;
        let va = addr + PAGE_SIZE;
        let pte = crate::mm::memory::pte_offset(parent.pgd, va, false)
            .map(|p| *p)
            .filter(|p| crate::arch::aarch64::pgtable::pte_present(*p))
            .ok_or("MAP_POPULATE left the page unmapped")?;
        let page = crate::mm::memory::pte_page(pte);
        if !crate::mm::rmap::PageAnon(page) {
            return Err("the populated page is not PageAnon".into());
        }
        let me = &*parent as *const MmStruct as usize;
        let got = rmap_mappers(page);
        if got != [(me, va)] {
            return Err(format!(
                "before fork rmap found {got:x?}, want [({me:#x}, {va:#x})]"
            ));
        }
        let child = super::fork::dup_mmap(&parent).map_err(|e| format!("dup_mmap: {e:?}"))?;
        let them = &*child as *const MmStruct as usize;
        let mut want = [(me, va), (them, va)];
        want.sort();
        let got = rmap_mappers(page);
        if got != want || page.page_mapcount() != 2 {
            return Err(format!(
                "after fork rmap found {got:x?} (mapcount {}), want {want:x?} (2)",
                page.page_mapcount()
            ));
        }
        vm_munmap(&child, addr, 4 * PAGE_SIZE).map_err(|e| format!("munmap: {e:?}"))?;
        let got = rmap_mappers(page);
        if got != [(me, va)] || page.page_mapcount() != 1 {
            return Err(format!("after the child's munmap rmap found {got:x?}"));
        }
    }
    let free1 = free_pages();
    if free1 != free0 {
        return Err(format!("free pages {free0} before, {free1} after"));
    }
    Ok("found in the parent, in both after fork, in the parent after the child's munmap".into())
}

/// Free pages for these leak checks: the page allocator's free pages plus the slab
/// pages, after the caches gave their spare empty slabs back (as the boot leak check
/// counts). The tasks' kernel objects (VMAs, chains, task structs) come from slabs, which
/// take pages as they grow.
fn free_pages() -> usize {
    crate::mm::slab::kmem_cache_shrink_all();
    crate::mm::page_alloc::nr_free_pages() + crate::mm::slab::nr_slab_pages()
}

//! The out-of-memory killer: when no page can be found, pick the process whose death frees
//! the most memory and kill it. Linux: `mm/oom_kill.c` (`out_of_memory`,
//! `select_bad_process`, `oom_evaluate_task`, `oom_badness`, `oom_kill_process`,
//! `__oom_kill_process`, `dump_header`, `dump_tasks`, `pagefault_out_of_memory`).
//!
//! Callers: the arch fault path (`do_page_fault` calls [`pagefault_out_of_memory`] when
//! `handle_mm_fault` returns VM_FAULT_OOM for a user access) and, once it has a slow path,
//! the page allocator (`__alloc_pages_may_oom` -> [`out_of_memory`]).
//!
//! Layering: processes live on a higher floor (task/), which mm/ may not import. The task
//! layer hands this module an [`OomOps`] table at boot ([`register_oom_ops`]), as the
//! scheduler hands `sync/` its `SchedOps`: it walks the processes (Linux:
//! `for_each_process`), describing each as an [`OomTaskInfo`] (pid, comm, uid,
//! `oom_score_adj`, its mm's counters), and sends SIGKILL (Linux: `do_send_sig_info`).
//!
//! Locking: `oom_lock` (a try-lock here, as `pagefault_out_of_memory` takes it) keeps two
//! OOM kills from racing. The task layer reads each mm's counters under a
//! `mmap_read_trylock` (see [`OomMmCounters`]).
//!
//! Differences from Linux 5.10: no memory cgroups, cpusets or mempolicies (the constraint is
//! always CONSTRAINT_NONE), no `oom_notify_list`, no `oom_kill_allocating_task` or
//! `panic_on_oom` sysctls, no OOM reaper (the victim frees its memory itself on its way
//! out, in `exit_mmap`), and no TIF_MEMDIE access to memory reserves for the victim.
use crate::mm::page_alloc::GfpFlags;
use crate::mm::vmstat::{count_vm_event, global_page_state, VmStat};
use crate::mm::PAGE_SHIFT;
use core::fmt::{self, Write};

/// The lowest `oom_score_adj`: the process is never chosen (Linux: `OOM_SCORE_ADJ_MIN`).
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
/// The highest `oom_score_adj`: the process is chosen first (Linux: `OOM_SCORE_ADJ_MAX`).
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;

/// A process's memory, as the OOM killer weighs and reports it, in pages (Linux: the
/// `rss_stat` counters `MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SHMEMPAGES`, `MM_SWAPENTS`,
/// plus `total_vm` and `pgtables_bytes`).
///
/// Difference: Linux keeps these as atomics it reads without a lock; we count them from
/// the page tables (as /proc/<pid>/status does), which needs the mm's `mmap_lock`. The
/// task layer takes it with a try-lock, since the caller may hold it (an allocation
/// under `mmap_lock`); a process whose lock is taken for writing counts as empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomMmCounters {
    /// Pages mapped, all VMAs together (Linux: `mm->total_vm`).
    pub total_vm: u64,
    /// Anonymous pages mapped (Linux: `MM_ANONPAGES`).
    pub anon_rss: u64,
    /// File pages mapped (Linux: `MM_FILEPAGES`).
    pub file_rss: u64,
    /// Shmem pages mapped (Linux: `MM_SHMEMPAGES`).
    pub shmem_rss: u64,
    /// Swap entries in the page tables (Linux: `MM_SWAPENTS`).
    pub swapents: u64,
    /// Bytes of page tables (Linux: `mm_pgtables_bytes`).
    pub pgtables_bytes: u64,
}

impl OomMmCounters {
    /// Resident pages (Linux: `get_mm_rss`).
    pub fn rss(&self) -> u64 {
        self.anon_rss + self.file_rss + self.shmem_rss
    }
}

/// One process as the OOM killer sees it: what Linux reads off its `task_struct`,
/// `signal_struct` and `mm_struct` while walking `for_each_process`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomTaskInfo {
    /// Process id (Linux: `pid`; one thread per process, so also `tgid`).
    pub pid: i32,
    /// Command name, NUL-padded (Linux: `comm`).
    pub comm: [u8; 16],
    /// Real user id (Linux: `task_uid`).
    pub uid: u32,
    /// Linux: `signal->oom_score_adj`.
    pub oom_score_adj: i16,
    /// A kernel thread (Linux: `PF_KTHREAD`): never chosen.
    pub kthread: bool,
    /// Identity of its address space, 0 for none (exited, or a kernel thread): Linux's
    /// `find_lock_task_mm` failing. Processes with equal non-zero ids share one mm.
    pub mm_id: usize,
    /// Already killed by the OOM killer (Linux: `tsk_is_oom_victim`).
    pub oom_victim: bool,
    /// SIGKILL pending or exiting: its memory is about to be freed anyway (Linux:
    /// `task_will_free_mem`: `fatal_signal_pending` or `PF_EXITING`).
    pub exiting: bool,
    /// Its mm's counters (zero without an mm).
    pub counters: OomMmCounters,
}

impl OomTaskInfo {
    /// The command name as text.
    pub fn comm(&self) -> &str {
        let n = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.comm[..n]).unwrap_or("?")
    }

    /// Has an address space to free (Linux: `find_lock_task_mm` succeeds).
    pub fn has_mm(&self) -> bool {
        self.mm_id != 0
    }
}

/// A visitor of processes: true stops the walk.
pub type ProcessVisitor<'a> = &'a mut dyn FnMut(&OomTaskInfo) -> bool;

/// What the OOM killer needs of the task layer (registered by task/ at boot).
pub struct OomOps {
    /// Call `f` on every process (Linux: `for_each_process`) until it returns true.
    pub for_each_process: fn(f: ProcessVisitor<'_>),
    /// The running task, if any (Linux: `current`).
    pub current: fn() -> Option<OomTaskInfo>,
    /// Send SIGKILL to `pid` from the kernel (Linux: `do_send_sig_info(SIGKILL,
    /// SEND_SIG_PRIV, ...)`); false if it is gone.
    pub kill: fn(pid: i32) -> bool,
    /// Mark `pid` as an OOM victim (Linux: `mark_oom_victim`), so no second process is
    /// killed while it is on its way out.
    pub mark_oom_victim: fn(pid: i32),
}

static OOM_OPS: spin::Once<&'static OomOps> = spin::Once::new();

/// Install the task layer's operations (once, at boot).
pub fn register_oom_ops(ops: &'static OomOps) {
    OOM_OPS.call_once(|| ops);
}

fn oom_ops() -> Option<&'static OomOps> {
    OOM_OPS.get().copied()
}

/// Serialises OOM kills (Linux: `oom_lock`, a mutex taken with `mutex_trylock` by
/// `pagefault_out_of_memory` and `__alloc_pages_may_oom`).
static OOM_LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// What the OOM killer chose (Linux: `oc->chosen`, a task pointer or `(void *)-1UL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OomChosen {
    /// Nothing yet (Linux: NULL).
    #[default]
    Nothing,
    /// This process.
    Task(OomTaskInfo),
    /// An earlier victim is still exiting: kill nobody, wait for its memory (Linux:
    /// `(void *)-1UL`).
    Abort,
}

/// The request and the choice of one OOM kill (Linux: `struct oom_control`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OomControl {
    /// The failed allocation's flags; empty from the page-fault path (Linux: `gfp_mask`).
    pub gfp_mask: GfpFlags,
    /// Its order (Linux: `order`).
    pub order: usize,
    /// RAM + swap in pages, what `oom_score_adj` is a thousandth of (Linux: `totalpages`).
    pub totalpages: u64,
    /// The victim (Linux: `chosen`).
    pub chosen: OomChosen,
    /// The victim's badness (Linux: `chosen_points`).
    pub chosen_points: i64,
}

impl OomControl {
    /// A request for an allocation of 2^`order` pages with `gfp_mask`.
    pub const fn new(gfp_mask: GfpFlags, order: usize) -> Self {
        OomControl {
            gfp_mask,
            order,
            totalpages: 0,
            chosen: OomChosen::Nothing,
            chosen_points: i64::MIN,
        }
    }
}

/// Never chosen: init (pid 1) and kernel threads (Linux: `oom_unkillable_task`:
/// `is_global_init || PF_KTHREAD`).
pub fn oom_unkillable_task(p: &OomTaskInfo) -> bool {
    p.pid == 1 || p.kthread
}

/// How much memory killing `p` frees, the OOM killer's score: resident pages, swap
/// entries and page-table pages, plus `oom_score_adj` thousandths of `totalpages`.
/// `i64::MIN` (Linux: `LONG_MIN`) when `p` may not be chosen: unkillable, no mm, or
/// `oom_score_adj` at OOM_SCORE_ADJ_MIN. Linux 5.10: `oom_badness` (which, as here,
/// divides `totalpages` by 1000 before multiplying, so the adjustment moves in steps).
#[no_mangle]
#[inline(never)]
pub fn oom_badness(p: &OomTaskInfo, totalpages: u64) -> i64 {
    if oom_unkillable_task(p) || !p.has_mm() {
        return i64::MIN;
    }
    let adj = i64::from(p.oom_score_adj);
    if adj == i64::from(OOM_SCORE_ADJ_MIN) {
        return i64::MIN;
    }
    let c = &p.counters;
    let points = (c.rss() + c.swapents + (c.pgtables_bytes >> PAGE_SHIFT)) as i64;
    points + adj * (totalpages / 1000) as i64
}

/// `/proc/<pid>/oom_score`: the badness scaled to [0, 2000] (0 for an unkillable
/// process). Linux 5.10: `proc_oom_score`.
pub fn proc_oom_score(p: &OomTaskInfo, totalpages: u64) -> u64 {
    let badness = oom_badness(p, totalpages);
    if badness == i64::MIN || totalpages == 0 {
        return 0;
    }
    ((1000 + badness * 1000 / totalpages as i64) * 2 / 3) as u64
}

/// RAM plus swap, in pages (Linux: `constrained_alloc` for CONSTRAINT_NONE:
/// `totalram_pages() + total_swap_pages`).
pub fn oom_totalpages() -> u64 {
    (crate::mm::util::totalram_pages() + crate::mm::util::total_swap_pages()) as u64
}

/// Weigh one process (Linux: `oom_evaluate_task`); true stops the walk (a victim is
/// still exiting, so nobody new may be chosen). Ties go to the process seen last.
pub fn oom_evaluate_task(oc: &mut OomControl, p: &OomTaskInfo) -> bool {
    if oom_unkillable_task(p) {
        return false;
    }
    // A victim that still has its mm is still freeing it: wait for it. One whose mm is
    // gone (Linux: MMF_OOM_SKIP, set once exit_mmap is done) no longer counts.
    if p.oom_victim {
        if !p.has_mm() {
            return false;
        }
        oc.chosen = OomChosen::Abort;
        return true;
    }
    let points = oom_badness(p, oc.totalpages);
    if points == i64::MIN || points < oc.chosen_points {
        return false;
    }
    oc.chosen = OomChosen::Task(*p);
    oc.chosen_points = points;
    false
}

/// Walk every process and choose the one with the highest badness (Linux:
/// `select_bad_process`). `oc.chosen` is left `Nothing` if nobody can be killed, `Abort`
/// if an earlier victim is still exiting.
#[no_mangle]
#[inline(never)]
pub fn select_bad_process(oc: &mut OomControl) {
    oc.chosen_points = i64::MIN;
    if let Some(ops) = oom_ops() {
        (ops.for_each_process)(&mut |p| oom_evaluate_task(oc, p));
    }
}

/// The names of the GFP flags set in `gfp`, as Linux's `%pGg` prints them: composite
/// names first (GFP_KERNEL), then the single flags left over, joined by `|`.
pub struct GfpNames(pub GfpFlags);

impl fmt::Display for GfpNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [(GfpFlags, &str); 3] = [
            (GfpFlags::GFP_KERNEL, "GFP_KERNEL"),
            (GfpFlags::__GFP_HIGH, "__GFP_HIGH"),
            (GfpFlags::__GFP_ZERO, "__GFP_ZERO"),
        ];
        let mut left = self.0;
        let mut first = true;
        for (flag, name) in NAMES {
            if !left.is_empty() && left.contains(flag) {
                if !first {
                    f.write_char('|')?;
                }
                f.write_str(name)?;
                first = false;
                left.remove(flag);
            }
        }
        if !left.is_empty() {
            if !first {
                f.write_char('|')?;
            }
            write!(f, "{:#x}", left.bits())?;
        }
        Ok(())
    }
}

/// Pages to kB (Linux: `K(x)` in oom_kill.c).
const fn k(pages: u64) -> u64 {
    pages << (PAGE_SHIFT - 10)
}

/// The memory summary of an OOM report (Linux: `show_mem` -> `show_free_areas`, the lines
/// this kernel has counters for).
pub fn show_mem(out: &mut impl Write, pagetables: u64) -> fmt::Result {
    let g = |i: VmStat| global_page_state(i).max(0) as u64;
    let (free, min, low, high, managed) = {
        let z = crate::mm::page_alloc::ZONE_NORMAL.lock();
        let w = z.watermarks;
        (
            z.nr_free as u64,
            w.min as u64,
            w.low as u64,
            w.high as u64,
            z.managed_pages as u64,
        )
    };
    writeln!(out, "Mem-Info:")?;
    writeln!(
        out,
        "active_anon:{} inactive_anon:{} isolated_anon:0",
        g(VmStat::NR_ZONE_ACTIVE_ANON),
        g(VmStat::NR_ZONE_INACTIVE_ANON)
    )?;
    writeln!(
        out,
        " active_file:{} inactive_file:{} isolated_file:0",
        g(VmStat::NR_ZONE_ACTIVE_FILE),
        g(VmStat::NR_ZONE_INACTIVE_FILE)
    )?;
    writeln!(
        out,
        " unevictable:{} dirty:0 writeback:0",
        g(VmStat::NR_ZONE_UNEVICTABLE)
    )?;
    writeln!(out, " slab_reclaimable:0 slab_unreclaimable:0")?;
    writeln!(
        out,
        " mapped:{} shmem:{} pagetables:{} bounce:0",
        g(VmStat::NR_MAPPED),
        g(VmStat::NR_SHMEM),
        pagetables
    )?;
    writeln!(out, " free:{free} free_pcp:0 free_cma:0")?;
    writeln!(
        out,
        "Node 0 Normal free:{}kB min:{}kB low:{}kB high:{}kB present:{}kB managed:{}kB mlocked:{}kB",
        k(free),
        k(min),
        k(low),
        k(high),
        k(managed),
        k(managed),
        k(g(VmStat::NR_MLOCK))
    )?;
    writeln!(out, "{} total pagecache pages", g(VmStat::NR_FILE_PAGES))?;
    // Linux: show_swap_cache_info.
    let (swap_total, swap_free) = crate::mm::swapfile::si_swapinfo();
    writeln!(
        out,
        "{} pages in swap cache",
        crate::mm::swap_state::total_swapcache_pages()
    )?;
    writeln!(out, "Free swap  = {}kB", k(swap_free as u64))?;
    writeln!(out, "Total swap = {}kB", k(swap_total as u64))?;
    writeln!(out, "{managed} pages RAM")
}

/// The process table of an OOM report (Linux: `dump_tasks`, on by default through
/// `vm.oom_dump_tasks`): every process with an mm and its memory, in pages. Returns the
/// page-table pages of all of them (for `show_mem`).
pub fn dump_tasks(out: &mut impl Write) -> Result<u64, fmt::Error> {
    let mut result = Ok(());
    let mut pagetables = 0;
    writeln!(out, "Tasks state (memory values in pages):")?;
    writeln!(
        out,
        "[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name"
    )?;
    if let Some(ops) = oom_ops() {
        (ops.for_each_process)(&mut |p| {
            if !p.has_mm() {
                return false;
            }
            let c = &p.counters;
            pagetables += c.pgtables_bytes >> PAGE_SHIFT;
            if oom_unkillable_task(p) {
                return false;
            }
            result = writeln!(
                out,
                "[{:>7}] {:>5} {:>5} {:>8} {:>8} {:>8} {:>8}         {:>5} {}",
                p.pid,
                p.uid,
                p.pid,
                c.total_vm,
                c.rss(),
                c.pgtables_bytes,
                c.swapents,
                p.oom_score_adj,
                p.comm()
            );
            result.is_err()
        });
    }
    result.map(|()| pagetables)
}

/// Print the report that precedes a kill (Linux: `dump_header`): who asked and for what,
/// the stack, the memory summary, the process table, and the one-line summary of the
/// victim (`dump_oom_summary`).
#[no_mangle]
#[inline(never)]
pub fn dump_header(oc: &OomControl, victim: Option<&OomTaskInfo>) {
    let cur = oom_ops().and_then(|o| (o.current)());
    let (comm, pid, adj) = cur
        .as_ref()
        .map_or(("swapper", 0, 0), |c| (c.comm(), c.pid, c.oom_score_adj));
    crate::pr_info!(
        "{} invoked oom-killer: gfp_mask={:#x}({}), order={}, oom_score_adj={}",
        comm,
        oc.gfp_mask.bits(),
        GfpNames(oc.gfp_mask),
        oc.order,
        adj
    );
    // dump_stack
    crate::pr_info!("CPU: 0 PID: {} Comm: {}", pid, comm);
    #[cfg(not(test))]
    crate::kernel::panic::dump_backtrace(crate::arch::cpu::frame_pointer(), false);
    let mut text = alloc::string::String::new();
    let pagetables = dump_tasks(&mut text).unwrap_or(0);
    let mut mem = alloc::string::String::new();
    let _ = show_mem(&mut mem, pagetables);
    crate::printk!("{mem}{text}");
    if let Some(v) = victim {
        crate::pr_info!(
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task={},pid={},uid={}",
            v.comm(),
            v.pid,
            v.uid
        );
    }
}

/// Kill the chosen process and report it (Linux: `oom_kill_process` ->
/// `__oom_kill_process`): a victim already on its way out is only marked; otherwise the
/// report, SIGKILL, `oom_kill` in /proc/vmstat, the "Killed process" line, and SIGKILL
/// for every other process sharing its mm (init's is left alone, with a note).
#[no_mangle]
#[inline(never)]
pub fn oom_kill_process(oc: &OomControl, message: &str) {
    let OomChosen::Task(victim) = oc.chosen else {
        return;
    };
    let Some(ops) = oom_ops() else { return };
    // task_will_free_mem: its memory is coming back without a kill.
    if victim.exiting {
        (ops.mark_oom_victim)(victim.pid);
        return;
    }
    dump_header(oc, Some(&victim));
    if !(ops.kill)(victim.pid) {
        return;
    }
    (ops.mark_oom_victim)(victim.pid);
    count_vm_event(VmStat::OOM_KILL);
    let c = &victim.counters;
    crate::pr_info!(
        "{}: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, UID:{} pgtables:{}kB oom_score_adj:{}",
        message,
        victim.pid,
        victim.comm(),
        k(c.total_vm),
        k(c.anon_rss),
        k(c.file_rss),
        k(c.shmem_rss),
        victim.uid,
        c.pgtables_bytes >> 10,
        victim.oom_score_adj
    );
    // Kill every other process sharing the mm, or the memory stays (vfork, CLONE_VM).
    (ops.for_each_process)(&mut |p| {
        if p.mm_id != victim.mm_id || p.pid == victim.pid || p.kthread {
            return false;
        }
        if p.pid == 1 {
            crate::pr_info!(
                "oom killer {} ({}) has mm pinned by {} ({})",
                victim.pid,
                victim.comm(),
                p.pid,
                p.comm()
            );
            return false;
        }
        (ops.kill)(p.pid);
        false
    });
}

/// The system is out of memory: kill something so the allocation can succeed when
/// retried. True if progress was made (a victim killed or on its way out), false if the
/// killer cannot help. Linux 5.10: `out_of_memory`.
///
/// A task with SIGKILL pending or exiting is its own victim; an allocation that may not
/// do file-system I/O gives up (non-empty `gfp_mask` without __GFP_FS: none of ours has
/// it yet, so only the page-fault path, whose mask is empty, kills); otherwise
/// `select_bad_process` chooses and `oom_kill_process` kills. Linux panics ("System is
/// deadlocked on memory") when nothing is killable; so do we.
///
/// Locking: the caller holds `oom_lock`; no `mmap_lock` need be free (counters are read
/// under try-locks).
#[no_mangle]
#[inline(never)]
pub fn out_of_memory(oc: &mut OomControl) -> bool {
    let Some(ops) = oom_ops() else {
        return false;
    };
    // task_will_free_mem(current): let it go and take its memory with it.
    if let Some(cur) = (ops.current)() {
        if cur.exiting && cur.has_mm() {
            (ops.mark_oom_victim)(cur.pid);
            return true;
        }
    }
    // The OOM killer does not compensate for IO-less reclaim (Linux: !__GFP_FS). We have
    // no __GFP_FS yet: every allocator call counts as one that may not kill.
    if !oc.gfp_mask.is_empty() && !gfp_allows_oom(oc.gfp_mask) {
        return true;
    }
    oc.totalpages = oom_totalpages().max(1);
    select_bad_process(oc);
    match oc.chosen {
        OomChosen::Nothing => {
            dump_header(oc, None);
            crate::pr_info!("Out of memory and no killable processes...");
            panic!("System is deadlocked on memory");
        }
        OomChosen::Task(_) => oom_kill_process(oc, "Out of memory"),
        OomChosen::Abort => {}
    }
    oc.chosen != OomChosen::Nothing
}

/// May an allocation with these flags invoke the killer? Linux: `__GFP_FS` set (a
/// GFP_NOFS/GFP_NOIO allocation must not). GFP_KERNEL includes __GFP_FS (0x80).
fn gfp_allows_oom(gfp: GfpFlags) -> bool {
    gfp.bits() & 0x80 != 0
}

/// A user page fault found no memory (VM_FAULT_OOM): run the OOM killer, then return to
/// user space, which retries the fault or dies of the SIGKILL it was sent. If another
/// OOM kill is under way, just return (the fault will be retried). Linux 5.10:
/// `pagefault_out_of_memory` (6.x no longer kills from here). Called by arm64
/// `do_page_fault` after it has dropped `mmap_lock`.
#[no_mangle]
#[inline(never)]
pub fn pagefault_out_of_memory() {
    let Some(_guard) = OOM_LOCK.try_lock() else {
        return;
    };
    let mut oc = OomControl::new(GfpFlags::empty(), 0);
    out_of_memory(&mut oc);
}

/// Take `oom_lock` and run [`out_of_memory`] (for the allocator slow path: Linux's
/// `__alloc_pages_may_oom` does `mutex_trylock(&oom_lock)` and calls `out_of_memory`).
/// None if another OOM kill holds the lock (the caller should back off and retry).
pub fn out_of_memory_locked(oc: &mut OomControl) -> Option<bool> {
    let _guard = OOM_LOCK.try_lock()?;
    Some(out_of_memory(oc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: i32, rss: u64, adj: i16) -> OomTaskInfo {
        let mut comm = [0u8; 16];
        comm[..3].copy_from_slice(b"hog");
        OomTaskInfo {
            pid,
            comm,
            uid: 0,
            oom_score_adj: adj,
            kthread: false,
            mm_id: pid as usize * 0x1000,
            oom_victim: false,
            exiting: false,
            counters: OomMmCounters {
                total_vm: rss * 2,
                anon_rss: rss,
                file_rss: 0,
                shmem_rss: 0,
                swapents: 0,
                pgtables_bytes: 3 * 4096,
            },
        }
    }

    #[test]
    fn oom_badness_is_rss_plus_swap_plus_pagetables() {
        let mut p = task(7, 1000, 0);
        p.counters.file_rss = 20;
        p.counters.shmem_rss = 5;
        p.counters.swapents = 100;
        // 1000 + 20 + 5 resident, 100 swapped, 3 page-table pages.
        assert_eq!(oom_badness(&p, 16384), 1128);
    }

    #[test]
    fn oom_score_adj_adds_thousandths_of_totalpages_rounded_down_first() {
        // 16384 pages: totalpages / 1000 = 16, so +500 adds 8000 and -500 takes 8000.
        let p = task(7, 1000, 500);
        assert_eq!(oom_badness(&p, 16384), 1003 + 500 * 16);
        let p = task(7, 1000, -500);
        assert_eq!(oom_badness(&p, 16384), 1003 - 500 * 16);
        // Below 1000 pages the adjustment vanishes, as in Linux.
        let p = task(7, 10, 1000);
        assert_eq!(oom_badness(&p, 999), 13);
    }

    #[test]
    fn oom_score_adj_min_init_kthreads_and_mmless_tasks_are_never_chosen() {
        assert_eq!(oom_badness(&task(7, 10_000, -1000), 16384), i64::MIN);
        assert_eq!(oom_badness(&task(1, 10_000, 0), 16384), i64::MIN);
        let mut k = task(2, 10_000, 0);
        k.kthread = true;
        assert_eq!(oom_badness(&k, 16384), i64::MIN);
        let mut z = task(9, 10_000, 0);
        z.mm_id = 0;
        assert_eq!(oom_badness(&z, 16384), i64::MIN);
        // -999 is still a candidate, however small.
        assert_eq!(
            oom_badness(&task(7, 10_000, -999), 16384),
            10_003 - 999 * 16
        );
    }

    #[test]
    fn select_bad_process_picks_the_biggest_and_skips_the_protected() {
        let tasks = [
            task(1, 50_000, 0),     // init: never
            task(2, 100, 0),        // small
            task(3, 40_000, -1000), // protected
            task(4, 9_000, 0),      // the hog
            task(5, 200, 500),      // small but adjusted up: 203 + 8000
        ];
        let mut oc = OomControl::new(GfpFlags::empty(), 0);
        oc.totalpages = 16384;
        for t in &tasks {
            assert!(!oom_evaluate_task(&mut oc, t));
        }
        assert_eq!(oc.chosen, OomChosen::Task(tasks[3]));
        assert_eq!(oc.chosen_points, 9_003);
        // With +600 the small one wins: 203 + 9600.
        let mut oc = OomControl::new(GfpFlags::empty(), 0);
        oc.totalpages = 16384;
        let mut big_adj = tasks;
        big_adj[4].oom_score_adj = 600;
        for t in &big_adj {
            oom_evaluate_task(&mut oc, t);
        }
        assert_eq!(oc.chosen, OomChosen::Task(big_adj[4]));
    }

    #[test]
    fn a_victim_still_holding_its_mm_aborts_the_walk() {
        let mut oc = OomControl::new(GfpFlags::empty(), 0);
        oc.totalpages = 16384;
        let mut v = task(6, 10, 0);
        v.oom_victim = true;
        assert!(!oom_evaluate_task(&mut oc, &task(4, 9_000, 0)));
        assert!(oom_evaluate_task(&mut oc, &v));
        assert_eq!(oc.chosen, OomChosen::Abort);
        // Once its mm is gone (a zombie) it no longer counts.
        let mut oc = OomControl::new(GfpFlags::empty(), 0);
        oc.totalpages = 16384;
        v.mm_id = 0;
        assert!(!oom_evaluate_task(&mut oc, &v));
        assert_eq!(oc.chosen, OomChosen::Nothing);
    }

    #[test]
    fn nothing_killable_leaves_chosen_empty() {
        let mut oc = OomControl::new(GfpFlags::empty(), 0);
        oc.totalpages = 16384;
        oom_evaluate_task(&mut oc, &task(1, 9_000, 0));
        oom_evaluate_task(&mut oc, &task(3, 9_000, -1000));
        assert_eq!(oc.chosen, OomChosen::Nothing);
    }

    #[test]
    fn proc_oom_score_scales_to_0_2000() {
        // Linux: (1000 + badness * 1000 / totalpages) * 2 / 3.
        assert_eq!(proc_oom_score(&task(4, 0, 0), 16384), 666);
        assert_eq!(proc_oom_score(&task(4, 16381, 0), 16384), 1333);
        assert_eq!(proc_oom_score(&task(4, 9_000, -1000), 16384), 0);
        assert_eq!(proc_oom_score(&task(1, 9_000, 0), 16384), 0);
        // A negative badness still scores from the bottom of the range.
        assert_eq!(proc_oom_score(&task(4, 0, -999), 16384), 16);
    }

    #[test]
    fn gfp_names_print_as_linux_pgg() {
        use alloc::format;
        assert_eq!(format!("{}", GfpNames(GfpFlags::empty())), "");
        assert_eq!(format!("{}", GfpNames(GfpFlags::GFP_KERNEL)), "GFP_KERNEL");
        assert_eq!(
            format!("{}", GfpNames(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO)),
            "GFP_KERNEL|__GFP_ZERO"
        );
        assert_eq!(format!("{}", GfpNames(GfpFlags::__GFP_HIGH)), "__GFP_HIGH");
    }
}

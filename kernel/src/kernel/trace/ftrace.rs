//! The function-graph hooks: what runs when a traced function is entered and when it
//! returns, and which functions are traced. Linux: `kernel/trace/ftrace.c`
//! (`ftrace_graph_func` via the mcount/patchable-entry trampoline,
//! `function_graph_enter`, `ftrace_return_to_handler`, `ftrace_set_filter` /
//! `set_graph_function`'s `ftrace_graph_set_hash`) and `kernel/trace/
//! trace_functions_graph.c` (`trace_graph_entry`, `trace_graph_return`,
//! `ftrace_graph_addr`).
//!
//! Linux compiles a patchable NOP pad into every function and patches a call to
//! `ftrace_caller` over it when tracing starts. Stable Rust has neither
//! `-Z instrument-mcount` nor `patchable-function-entry`, so the traced functions are
//! only named, in a list ([`FTRACE_SITES`](super::sites::FTRACE_SITES)), and compiled
//! unchanged. When tracing is first turned on, [`ftrace_replace_code`] finds each in the
//! kernel's symbol table and moves its first instruction out of line into a trampoline
//! (`arch/aarch64/ftrace.rs`) so the function enters [`ftrace_graph_caller_hook`] first;
//! the hook records the entry and swaps the return address for `return_to_handler`,
//! which records the return in [`ftrace_return_hook`]. So a kernel that never traces
//! runs exactly the code it would run without a tracer, and GDB sees unchanged
//! functions; once patched, a function costs the trip through `ftrace_caller` even
//! with `tracing_on` back at 0 (Linux puts its NOPs back; we do not unpatch).
//!
//! Selection: a function records when the filter (the `trace=` command-line option, or
//! `set_graph_function`) matches its name, and, as Linux's `set_graph_function` does,
//! everything a matched function calls records too (its depth is above zero).
//! Filter words: a name, `prefix*`, `*suffix`, `*` or `mm` (every traced function: all of
//! them are on the teaching path); an empty filter traces everything.
//!
//! Return addresses: each kernel stack has a shadow stack of the calls it is in (Linux
//! keeps `ret_stack` in the task_struct; this leaf module may not see tasks, so it keys
//! the shadow stack by the kernel stack's THREAD_SIZE-aligned window and checks the
//! stack pointer on return). Entries whose stack pointer lies below a new call's are
//! dropped when it is pushed: they belong to frames that were abandoned (a task that
//! exited inside a system call). The pid comes from the scheduler
//! ([`ftrace_graph_set_pid`]).
use super::ring_buffer::{RingBuffer, TraceEntry, TraceKind};
use crate::sync::SpinLockIrq;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Whether traced functions record (Linux: `tracing_on`, with `ftrace_graph_active`).
pub static FTRACE_GRAPH_ACTIVE: AtomicBool = AtomicBool::new(false);

/// The pid of the running task, set by the scheduler at each switch.
static CURRENT_PID: AtomicU32 = AtomicU32::new(0);
/// Bumped whenever the filter changes: a site's cached match is valid only for its own
/// generation (Linux rebuilds `ftrace_graph_hash` instead).
static FILTER_GEN: AtomicU32 = AtomicU32::new(1);
/// Clock source: true for the PMU's instruction counter, false for cntvct.
static CLOCK_INSTRUCTIONS: AtomicBool = AtomicBool::new(false);

/// Pages of the ring buffer, as an allocation order: 2^8 pages = 1 MiB = 32,768 records
/// (Linux's default `buffer_size_kb` is 1.4 MiB per CPU). Halved until it can be had.
pub const RING_ORDER: usize = 8;
/// Markers kept (older ones are overwritten, their records print as `(lost)`).
pub const MARKERS: usize = 32;
/// Bytes kept of one marker (Linux's limit is about a page; a step name needs less).
pub const MARKER_LEN: usize = 120;
/// Bytes of filter text kept.
pub const FILTER_LEN: usize = 512;

/// A traced function: its name, and whether the filter selects it (cached per filter
/// generation). Linux: the function's entry in the ftrace records (`struct dyn_ftrace`)
/// plus its `ftrace_graph_hash` membership.
pub struct FtraceSite {
    /// The function's name as Linux spells it (its symbol, or the last part of its
    /// Rust path in the kernel's symbol table).
    pub name: &'static str,
    /// `FILTER_GEN << 1 | matched`, 0 before the first check.
    state: AtomicU32,
}

impl FtraceSite {
    /// A site for the function called `name`.
    pub const fn new(name: &'static str) -> Self {
        FtraceSite {
            name,
            state: AtomicU32::new(0),
        }
    }
}

/// Everything the tracer writes, behind one IRQ-safe lock (Linux: the per-CPU buffer
/// plus preemption off).
pub struct FtraceState {
    /// The records.
    pub ring: RingBuffer,
    /// Marker texts by sequence number modulo [`MARKERS`], with their lengths.
    pub markers: [([u8; MARKER_LEN], u8); MARKERS],
    /// Markers written since the last reset.
    pub nr_markers: u64,
    /// The filter text and its length.
    filter: [u8; FILTER_LEN],
    filter_len: usize,
}

/// The tracer's state.
pub static FTRACE: SpinLockIrq<FtraceState> = SpinLockIrq::new(FtraceState {
    ring: RingBuffer::new(),
    markers: [([0; MARKER_LEN], 0); MARKERS],
    nr_markers: 0,
    filter: [0; FILTER_LEN],
    filter_len: 0,
});

impl FtraceState {
    /// The current filter text.
    pub fn filter(&self) -> &str {
        core::str::from_utf8(&self.filter[..self.filter_len]).unwrap_or("")
    }

    /// The text of marker number `seq`, if not overwritten yet.
    pub fn marker(&self, seq: u64) -> Option<&str> {
        if seq >= self.nr_markers || self.nr_markers - seq > MARKERS as u64 {
            return None;
        }
        let (text, len) = &self.markers[(seq % MARKERS as u64) as usize];
        core::str::from_utf8(&text[..*len as usize]).ok()
    }

    /// Drop all records and markers (Linux: `tracing_reset_online_cpus`).
    pub fn reset(&mut self) {
        self.ring.reset();
        self.nr_markers = 0;
    }
}

/// Does filter word list `filter` select function `name`? Words are separated by commas
/// or white space: `name`, `prefix*`, `*suffix`, `*`, or `mm` for every traced function.
/// An empty list selects everything. Linux: `ftrace_match` over the glob kinds of
/// `filter_parse_regex` (MATCH_FULL, MATCH_FRONT_ONLY, MATCH_END_ONLY).
pub fn ftrace_match(filter: &str, name: &str) -> bool {
    let mut words = filter
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .peekable();
    if words.peek().is_none() {
        return true;
    }
    words.any(|w| {
        if w == "mm" || w == "*" {
            true
        } else if let Some(prefix) = w.strip_suffix('*') {
            name.starts_with(prefix)
        } else if let Some(suffix) = w.strip_prefix('*') {
            name.ends_with(suffix)
        } else {
            w == name
        }
    })
}

/// Replace the filter (the `trace=` option, or a write to `set_graph_function`); text
/// longer than [`FILTER_LEN`] is EINVAL, as Linux refuses a filter it cannot parse.
pub fn ftrace_set_graph_function(text: &str) -> crate::errno::KResult<()> {
    let text = text.trim();
    if text.len() > FILTER_LEN {
        return Err(crate::errno::Errno::EINVAL);
    }
    let mut st = FTRACE.lock();
    st.filter[..text.len()].copy_from_slice(text.as_bytes());
    st.filter_len = text.len();
    FILTER_GEN.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Turn recording on or off (Linux: `tracer_tracing_on` / `tracer_tracing_off`, what
/// `tracing_on` writes). Turning it on resets the depths, since returns that happened
/// while off were not seen.
pub fn tracing_on(on: bool) {
    if on {
        ftrace_replace_code();
    }
    FTRACE_GRAPH_ACTIVE.store(on, Ordering::Release);
}

/// Is recording on? (Linux: `tracer_tracing_is_on`.)
pub fn tracing_is_on() -> bool {
    FTRACE_GRAPH_ACTIVE.load(Ordering::Relaxed)
}

/// The scheduler's note of who runs next (Linux reads `current`; this leaf module may
/// not, so `schedule` tells it).
#[inline(always)]
pub fn ftrace_graph_set_pid(pid: i32) {
    CURRENT_PID.store(pid as u32, Ordering::Relaxed);
}

/// Which counter stamps records: the PMU's INST_RETIRED when it counts (QEMU counts it
/// only under `-icount`), else the virtual counter. Linux: `trace_clock` (`local`,
/// `counter`...).
pub fn trace_clock_init(pmu_counts_instructions: bool) {
    CLOCK_INSTRUCTIONS.store(pmu_counts_instructions, Ordering::Relaxed);
}

/// The clock's name as `trace_clock` shows it: `inst` (instructions, modulo 2^32) or
/// `cntvct` (virtual counter ticks).
pub fn trace_clock_name() -> &'static str {
    if CLOCK_INSTRUCTIONS.load(Ordering::Relaxed) {
        "inst"
    } else {
        "cntvct"
    }
}

/// The clock now. Instructions come from a 32-bit counter: durations are taken modulo
/// 2^32 ([`trace_clock_delta`]).
pub fn trace_clock_read() -> u64 {
    if CLOCK_INSTRUCTIONS.load(Ordering::Relaxed) {
        read_inst_counter()
    } else {
        crate::arch::cpu::read_cntvct()
    }
}

/// `later - earlier` on the current clock (modulo 2^32 for the instruction counter).
pub fn trace_clock_delta(earlier: u64, later: u64) -> u64 {
    if CLOCK_INSTRUCTIONS.load(Ordering::Relaxed) {
        later.wrapping_sub(earlier) & 0xffff_ffff
    } else {
        later.wrapping_sub(earlier)
    }
}

#[cfg(target_os = "none")]
fn read_inst_counter() -> u64 {
    crate::arch::aarch64::perf_event::read_inst_counter()
}

#[cfg(not(target_os = "none"))]
fn read_inst_counter() -> u64 {
    0
}

/// One call in progress on a shadow stack (Linux: `struct ftrace_ret_stack`).
#[derive(Clone, Copy)]
struct RetStackEntry {
    ret: usize,
    sp: usize,
    calltime: u64,
    site: u16,
}

/// Shadow stacks kept (kernel stacks with calls in progress): as many as fit in
/// 2^[`RET_STACK_ORDER`] pages.
pub const RET_STACK_ORDER: usize = 5;
/// Calls one shadow stack holds; deeper calls are not recorded.
pub const RET_STACK_DEPTH: usize = 64;
/// Kernel stack size (the task's THREAD_SIZE): stacks are this aligned.
const STACK_WINDOW_SHIFT: u32 = 15;

/// One kernel stack's calls in progress.
#[derive(Clone, Copy)]
struct RetStack {
    /// `sp >> STACK_WINDOW_SHIFT` of the stack, 0 when the slot is free.
    key: usize,
    depth: usize,
    entries: [RetStackEntry; RET_STACK_DEPTH],
}

/// The shadow stacks, in pages allocated when tracing first starts.
struct RetStacks {
    stacks: *mut RetStack,
    n: usize,
}

// SAFETY: the memory is the tracer's own, used only under RET_STACK's lock.
unsafe impl Send for RetStacks {}

impl core::ops::Deref for RetStacks {
    type Target = [RetStack];
    fn deref(&self) -> &[RetStack] {
        if self.n == 0 {
            return &[];
        }
        // SAFETY: `n` zeroed (valid: all fields are integers) stacks at `stacks`, owned.
        unsafe { core::slice::from_raw_parts(self.stacks, self.n) }
    }
}

impl core::ops::DerefMut for RetStacks {
    fn deref_mut(&mut self) -> &mut [RetStack] {
        if self.n == 0 {
            return &mut [];
        }
        // SAFETY: as in `deref`; the lock guard gives exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.stacks, self.n) }
    }
}

/// The shadow stacks (locked with interrupts off, like the ring).
static RET_STACK: SpinLockIrq<RetStacks> = SpinLockIrq::new(RetStacks {
    stacks: core::ptr::null_mut(),
    n: 0,
});

/// Pages the tracer took from the page allocator (ring, shadow stacks, the text alias's
/// page tables): never given back, like Linux's buffers until `buffer_size_kb` shrinks.
/// The end-of-run leak check counts them as in use on purpose.
static TRACER_PAGES: AtomicU32 = AtomicU32::new(0);

/// Pages the tracer holds (see [`TRACER_PAGES`]).
pub fn ftrace_pages() -> usize {
    TRACER_PAGES.load(Ordering::Relaxed) as usize
}

/// Zeroed pages of order `order` or less (halving on failure down to `min`): the
/// virtual address and the order obtained.
fn ftrace_alloc(order: usize, min: usize) -> Option<(usize, usize)> {
    use crate::mm::page_alloc::{alloc_pages, GfpFlags};
    let mut o = order;
    loop {
        if let Some(page) = alloc_pages(GfpFlags::GFP_KERNEL | GfpFlags::__GFP_ZERO, o) {
            TRACER_PAGES.fetch_add(1 << o, Ordering::Relaxed);
            return Some((crate::mm::page::page_address(page), o));
        }
        if o == min {
            return None;
        }
        o -= 1;
    }
}

/// Allocate the ring and the shadow stacks, once. Linux: `tracer_alloc_buffers` (at
/// boot there; here when tracing first starts, so a kernel never traced uses no memory
/// for it).
fn ftrace_alloc_buffers() -> bool {
    if RET_STACK.lock().n != 0 {
        return true;
    }
    let Some((rs, rs_order)) = ftrace_alloc(RET_STACK_ORDER, 0) else {
        return false;
    };
    let Some((ring, ring_order)) = ftrace_alloc(RING_ORDER, 2) else {
        return false;
    };
    let cap = (crate::arch::PAGE_SIZE << ring_order) / core::mem::size_of::<TraceEntry>();
    // SAFETY: fresh zeroed pages, owned by the ring from now on.
    unsafe { FTRACE.lock().ring.attach(ring as *mut TraceEntry, cap) };
    let mut st = RET_STACK.lock();
    st.stacks = rs as *mut RetStack;
    st.n = (crate::arch::PAGE_SIZE << rs_order) / core::mem::size_of::<RetStack>();
    true
}

/// The traced functions (Linux: the `__mcount_loc` records).
pub fn ftrace_sites() -> &'static [FtraceSite] {
    &super::sites::FTRACE_SITES
}

/// Patched sites and sites that could not be patched (first instruction not
/// relocatable, or no slot left), after [`ftrace_replace_code`].
static PATCHED: AtomicU32 = AtomicU32::new(0);
static UNPATCHABLE: AtomicU32 = AtomicU32::new(0);
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
static CODE_READY: AtomicBool = AtomicBool::new(false);

/// (patched, unpatchable) site counts.
pub fn ftrace_patch_counts() -> (u32, u32) {
    (
        PATCHED.load(Ordering::Relaxed),
        UNPATCHABLE.load(Ordering::Relaxed),
    )
}

/// Where the writable alias of the kernel text is mapped (unused kernel VA space
/// between the linear map and the ioremap window; Linux: FIX_TEXT_POKE0 per page).
#[cfg(target_os = "none")]
const TEXT_POKE_BASE: usize = 0xffff_fd00_0000_0000;

/// Map the writable alias of the kernel text through which [`ftrace_replace_code`]
/// writes (Linux: `patch_map` at FIX_TEXT_POKE0, a page at a time). Called once, with
/// interrupts on, when tracing is first turned on.
#[cfg(target_os = "none")]
fn ftrace_map_text_alias() -> bool {
    let img = crate::arch::cpu::kernel_image();
    let text_pa = crate::arch::virt_to_phys(img.start);
    let text_len = img.text_end - img.start;
    let mut alloc = || {
        let pa = crate::mm::init_mm::pgtable_alloc()?;
        TRACER_PAGES.fetch_add(1, Ordering::Relaxed);
        Some(pa)
    };
    if crate::arch::aarch64::mmu::create_pgd_mapping(
        crate::mm::init_mm::swapper_pg_dir(),
        TEXT_POKE_BASE,
        text_pa,
        text_len,
        crate::arch::aarch64::pgtable::PAGE_KERNEL,
        &mut alloc,
    )
    .is_err()
    {
        pr_warn!("ftrace: not enough page-table pages to map the kernel text for patching");
        return false;
    }
    // SAFETY: barriers only: the new alias's table writes are visible to the walker.
    unsafe { core::arch::asm!("dsb ishst", "isb") };
    true
}

/// Serialises the first [`ftrace_replace_code`] (two tasks writing `tracing_on`).
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
static PATCHING: spin::Mutex<()> = spin::Mutex::new(());

/// Route every site through its trampoline, once. Linux: `ftrace_replace_code` ->
/// `ftrace_make_call` for each record, under `stop_machine` (we have one CPU and
/// interrupts off).
#[cfg(target_os = "none")]
pub fn ftrace_replace_code() {
    use crate::arch::aarch64::ftrace::{
        aarch64_insn_patch_text, ftrace_addrs, ftrace_slot_insns, insn_b, insn_is_relocatable,
        FTRACE_SLOTS, FTRACE_SLOT_SIZE,
    };
    let _once = PATCHING.lock();
    if CODE_READY.load(Ordering::Acquire) {
        return;
    }
    if !ftrace_alloc_buffers() {
        pr_warn!("ftrace: no memory for the trace buffers: nothing patched");
        return;
    }
    if !ftrace_map_text_alias() {
        return;
    }
    let img = crate::arch::cpu::kernel_image();
    let alias = |pc: usize| TEXT_POKE_BASE + (pc - img.start);
    let (tramp, caller, _) = ftrace_addrs();
    let flags = crate::arch::cpu::local_irq_save();
    let (mut ok, mut bad) = (0, 0);
    let Some(ksyms) = crate::kernel::kallsyms::kernel_ksyms() else {
        pr_warn!("ftrace: no symbol table: nothing patched");
        return;
    };
    for (i, site) in ftrace_sites().iter().enumerate() {
        let Some(func) = ksyms.lookup_name(site.name) else {
            bad += 1;
            continue;
        };
        let func = func as usize;
        if func < img.start || func >= img.text_end {
            bad += 1;
            continue;
        }
        // SAFETY: `func` is a function in the kernel text, readable through its mapping.
        let first = unsafe { core::ptr::read_volatile(func as *const u32) };
        let slot = tramp + i * FTRACE_SLOT_SIZE;
        let insns = (i < FTRACE_SLOTS && insn_is_relocatable(first))
            .then(|| ftrace_slot_insns(i as u16, slot, caller, func, first))
            .flatten();
        let (Some(insns), Some(jump)) = (insns, insn_b(func, slot)) else {
            bad += 1;
            continue;
        };
        for (k, insn) in insns.iter().enumerate() {
            let pc = slot + 4 * k;
            // SAFETY: the slot lies in the text, `alias` maps it writable; nothing runs it yet.
            unsafe { aarch64_insn_patch_text(pc, alias(pc), *insn) };
        }
        // SAFETY: one CPU, interrupts off: no one executes `func`'s first instruction
        // while it changes; the slot it now jumps to is complete.
        unsafe { aarch64_insn_patch_text(func, alias(func), jump) };
        ok += 1;
    }
    crate::arch::cpu::local_irq_restore(flags);
    PATCHED.store(ok, Ordering::Relaxed);
    UNPATCHABLE.store(bad, Ordering::Relaxed);
    CODE_READY.store(true, Ordering::Release);
    pr_info!("ftrace: {ok} functions patched for function_graph, {bad} not patchable");
}

/// Host builds: nothing to patch.
#[cfg(not(target_os = "none"))]
pub fn ftrace_replace_code() {
    let _ = ftrace_alloc_buffers;
}

/// The entry hook, called by `ftrace_caller` with the site's index, the caller's return
/// address and the stack pointer at entry; returns the return address the function
/// must use: `return_to_handler` when the call is recorded. Linux: `ftrace_graph_func`
/// -> `prepare_ftrace_return` -> `function_graph_enter` -> `trace_graph_entry`.
#[no_mangle]
pub extern "C" fn ftrace_graph_caller_hook(idx: usize, ret: usize, sp: usize) -> usize {
    if !FTRACE_GRAPH_ACTIVE.load(Ordering::Relaxed) {
        return ret;
    }
    let Some(site) = ftrace_sites().get(idx) else {
        return ret;
    };
    let Some(mut stacks) = RET_STACK.try_lock() else {
        return ret;
    };
    let key = sp >> STACK_WINDOW_SHIFT;
    let slot = match stacks.iter().position(|s| s.key == key && s.depth > 0) {
        Some(i) => i,
        None => match stacks.iter().position(|s| s.depth == 0) {
            Some(i) => i,
            None => return ret,
        },
    };
    let rs = &mut stacks[slot];
    rs.key = key;
    // Calls below this one on the stack that never returned were abandoned.
    while rs.depth > 0 && rs.entries[rs.depth - 1].sp < sp {
        rs.depth -= 1;
    }
    let depth = rs.depth;
    if depth >= RET_STACK_DEPTH {
        return ret;
    }
    let Some(mut st) = FTRACE.try_lock() else {
        return ret;
    };
    if depth == 0 && !site_matches(site, &st) {
        return ret;
    }
    let calltime = trace_clock_read();
    let pid = CURRENT_PID.load(Ordering::Relaxed);
    st.ring.write(TraceEntry {
        site: idx as u16,
        time: calltime,
        arg: 0,
        pid,
        depth: depth as u16,
        kind: TraceKind::Entry,
    });
    rs.entries[depth] = RetStackEntry {
        ret,
        sp,
        calltime,
        site: idx as u16,
    };
    rs.depth = depth + 1;
    return_to_handler_addr()
}

/// Does the filter select `site`? Cached in the site for the current filter generation.
fn site_matches(site: &FtraceSite, st: &FtraceState) -> bool {
    let gen = FILTER_GEN.load(Ordering::Relaxed);
    let cached = site.state.load(Ordering::Relaxed);
    if cached >> 1 == gen {
        return cached & 1 == 1;
    }
    let m = ftrace_match(st.filter(), site.name);
    site.state.store(gen << 1 | m as u32, Ordering::Relaxed);
    m
}

fn return_to_handler_addr() -> usize {
    #[cfg(target_os = "none")]
    {
        crate::arch::aarch64::ftrace::ftrace_addrs().2
    }
    #[cfg(not(target_os = "none"))]
    {
        0
    }
}

/// The return hook, called by `return_to_handler` with the stack pointer after the
/// return (the same as at entry); records the return and gives back the real return
/// address. Linux: `ftrace_return_to_handler` -> `ftrace_pop_return_trace` +
/// `trace_graph_return`. Records even if tracing was turned off meanwhile: the entry
/// was recorded, so its return closes it.
#[no_mangle]
pub extern "C" fn ftrace_return_hook(sp: usize) -> usize {
    let mut stacks = RET_STACK.lock();
    let key = sp >> STACK_WINDOW_SHIFT;
    let top = |s: &RetStack| s.depth > 0 && s.entries[s.depth - 1].sp == sp;
    let found = stacks
        .iter()
        .position(|s| s.key == key && top(s))
        .or_else(|| stacks.iter().position(top));
    let Some(slot) = found else {
        panic!("ftrace: return with sp {sp:#x} matches no traced call");
    };
    let rs = &mut stacks[slot];
    rs.depth -= 1;
    let e = rs.entries[rs.depth];
    let rettime = trace_clock_read();
    if let Some(mut st) = FTRACE.try_lock() {
        st.ring.write(TraceEntry {
            site: e.site,
            time: rettime,
            arg: trace_clock_delta(e.calltime, rettime),
            pid: CURRENT_PID.load(Ordering::Relaxed),
            depth: rs.depth as u16,
            kind: TraceKind::Return,
        });
    }
    e.ret
}

/// Record a user program's marker (a write to `trace_marker`): control characters
/// become spaces, a trailing newline is dropped, and only the first [`MARKER_LEN`]
/// bytes are kept. Returns the bytes consumed (all of them), as Linux does.
/// Linux: `tracing_mark_write` (`__trace_marker_write`... in 5.10 `tracing_mark_write`
/// writes a `TRACE_PRINT` event). Recorded only while tracing is on.
pub fn trace_marker_write(buf: &[u8]) -> usize {
    if !tracing_is_on() {
        return buf.len();
    }
    let mut st = FTRACE.lock();
    let seq = st.nr_markers;
    let text = buf.strip_suffix(b"\n").unwrap_or(buf);
    let n = text.len().min(MARKER_LEN);
    let slot = &mut st.markers[(seq % MARKERS as u64) as usize];
    for (d, &s) in slot.0.iter_mut().zip(&text[..n]) {
        *d = if s.is_ascii_graphic() || s == b' ' {
            s
        } else {
            b' '
        };
    }
    // Keep whole UTF-8 characters only: the printable ASCII filter above already did.
    slot.1 = n as u8;
    st.nr_markers += 1;
    let pid = CURRENT_PID.load(Ordering::Relaxed);
    let time = trace_clock_read();
    st.ring.write(TraceEntry {
        site: 0,
        time,
        arg: seq,
        pid,
        depth: 0,
        kind: TraceKind::Marker,
    });
    buf.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_words_select_names_prefixes_and_mm() {
        assert!(ftrace_match("", "do_mlock"));
        assert!(ftrace_match("mm", "handle_mm_fault"));
        assert!(ftrace_match("sys_mlock", "sys_mlock"));
        assert!(!ftrace_match("sys_mlock", "sys_munlock"));
        assert!(ftrace_match("do_*", "do_anonymous_page"));
        assert!(!ftrace_match("do_*", "handle_mm_fault"));
        assert!(ftrace_match("*_fault", "handle_mm_fault"));
        assert!(ftrace_match("sys_mmap, handle_*", "handle_pte_fault"));
        assert!(ftrace_match("a,b sys_mmap", "sys_mmap"));
        assert!(!ftrace_match("a,b", "c"));
    }
}

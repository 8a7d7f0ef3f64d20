//! The trace ring buffer: a fixed array of fixed-size records, overwritten oldest first
//! when full. Linux: `kernel/trace/ring_buffer.c` (`ring_buffer_lock_reserve` +
//! `ring_buffer_unlock_commit`, `ring_buffer_iter_*`, `ring_buffer_reset`,
//! `ring_buffer_overrun_cpu`).
//!
//! Linux keeps one buffer per CPU, made of pages linked in a ring, with variable-length
//! events and a lockless writer. We have one CPU, so there is one buffer; every record
//! has the same size (an entry, a return or a marker reference), so the ring is a plain
//! array indexed by a running count. The caller serialises writers (the tracer holds an
//! IRQ-safe lock), which is what Linux's per-CPU buffers plus preemption-off achieve.

/// What a record says happened (Linux: the event types `TRACE_GRAPH_ENT`,
/// `TRACE_GRAPH_RET` and `TRACE_PRINT` of `kernel/trace/trace_entries.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceKind {
    /// A traced function was entered (`ftrace_graph_ent_entry`).
    Entry,
    /// A traced function returned (`ftrace_graph_ret_entry`); `arg` is its duration.
    Return,
    /// A user program wrote to `trace_marker` (`print_entry`); `arg` is the marker's
    /// sequence number in the tracer's marker table.
    Marker,
}

/// One record. Linux: `struct ftrace_graph_ent_entry` / `ftrace_graph_ret_entry` (func,
/// depth, calltime, rettime) plus the common `trace_entry` header (pid).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The function: its index in the tracer's site list (`sites.rs`), 0 for a marker.
    /// An index, not a name pointer, so an empty ring is all zeroes and lives in .bss.
    pub site: u16,
    /// The trace clock when the record was written (calltime for an entry, rettime for a
    /// return).
    pub time: u64,
    /// Duration in clock units for a return, marker number for a marker, else 0.
    pub arg: u64,
    /// The task that was running (Linux: `trace_entry.pid`).
    pub pid: u32,
    /// Nesting of traced functions in that task, 0 for the outermost.
    pub depth: u16,
    /// Entry, return or marker.
    pub kind: TraceKind,
}

impl TraceEntry {
    /// An unused slot.
    pub const EMPTY: TraceEntry = TraceEntry {
        site: 0,
        time: 0,
        arg: 0,
        pid: 0,
        depth: 0,
        kind: TraceKind::Entry,
    };
}

/// A ring of records in memory the tracer allocates when tracing first starts (Linux:
/// `struct trace_buffer` with one `ring_buffer_per_cpu`, allocated by
/// `tracer_alloc_buffers`). Before that it holds nothing and drops what is written.
pub struct RingBuffer {
    entries: *mut TraceEntry,
    cap: usize,
    /// Records written since the last reset; the newest is at `(written - 1) % cap`.
    written: u64,
}

// SAFETY: the ring owns its memory (given by `attach`) and is used under the tracer's lock.
unsafe impl Send for RingBuffer {}

impl RingBuffer {
    /// A ring without memory yet.
    pub const fn new() -> Self {
        RingBuffer {
            entries: core::ptr::null_mut(),
            cap: 0,
            written: 0,
        }
    }

    /// Give the ring its memory: `cap` records at `entries`.
    ///
    /// # Safety
    /// `entries` points to `cap` records of memory nothing else uses, for ever.
    pub unsafe fn attach(&mut self, entries: *mut TraceEntry, cap: usize) {
        self.entries = entries;
        self.cap = cap;
        self.written = 0;
    }

    /// Records the ring can hold (0 before `attach`). Linux: `buffer_size_kb`.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Append `e`, overwriting the oldest record when full (Linux's default
    /// `overwrite` mode). Linux: `ring_buffer_write`.
    pub fn write(&mut self, e: TraceEntry) {
        if self.cap == 0 {
            return;
        }
        let slot = (self.written % self.cap as u64) as usize;
        // SAFETY: `slot < cap` and `attach`'s contract.
        unsafe { self.entries.add(slot).write(e) };
        self.written += 1;
    }

    /// Records currently held.
    pub fn len(&self) -> usize {
        self.written.min(self.cap as u64) as usize
    }

    /// True when nothing was written since the last reset.
    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Records lost to overwriting. Linux: `ring_buffer_overrun_cpu` (the `overrun`
    /// field of `per_cpu/cpu0/stats`).
    pub fn overrun(&self) -> u64 {
        self.written.saturating_sub(self.cap as u64)
    }

    /// The `i`th oldest record still held (Linux: `ring_buffer_iter_peek` after `i`
    /// advances).
    pub fn get(&self, i: usize) -> Option<TraceEntry> {
        if i >= self.len() {
            return None;
        }
        let first = self.written - self.len() as u64;
        let slot = ((first + i as u64) % self.cap as u64) as usize;
        // SAFETY: `slot < cap`, and the slot was written (i < len).
        Some(unsafe { self.entries.add(slot).read() })
    }

    /// Drop every record. Linux: `ring_buffer_reset` (what `echo > trace` does).
    pub fn reset(&mut self) {
        self.written = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(time: u64) -> TraceEntry {
        TraceEntry {
            time,
            kind: TraceKind::Entry,
            ..TraceEntry::EMPTY
        }
    }

    #[test]
    fn keeps_the_newest_n_and_counts_the_overrun() {
        let mut rb = RingBuffer::new();
        rb.write(e(99));
        assert!(rb.is_empty(), "no memory yet: nothing kept");
        let mem = std::boxed::Box::leak(std::vec![TraceEntry::EMPTY; 4].into_boxed_slice());
        // SAFETY: a leaked buffer of 4 records, used by this ring only.
        unsafe { rb.attach(mem.as_mut_ptr(), 4) };
        assert_eq!(rb.capacity(), 4);
        for t in 0..3 {
            rb.write(e(t));
        }
        assert_eq!(rb.len(), 3);
        assert_eq!(rb.get(0).unwrap().time, 0);
        assert_eq!(rb.overrun(), 0);
        for t in 3..7 {
            rb.write(e(t));
        }
        assert_eq!(rb.len(), 4);
        assert_eq!(rb.overrun(), 3);
        let times: std::vec::Vec<u64> = (0..4).map(|i| rb.get(i).unwrap().time).collect();
        assert_eq!(times, [3, 4, 5, 6]);
        assert!(rb.get(4).is_none());
        rb.reset();
        assert_eq!(rb.len(), 0);
        assert!(rb.get(0).is_none());
    }
}

//! The trace's text: the raw record lines that the `trace` file shows and that
//! `ftrace_dump` prints on the console at the end of a traced run. Linux:
//! `kernel/trace/trace_output.c` (the `raw` output of `trace_options`),
//! `kernel/trace/trace.c` (`ftrace_dump`, `s_show`) and `trace_functions_graph.c`
//! (`print_graph_function`).
//!
//! Linux's `trace` file prints the function_graph layout itself (`funcA() {`, durations
//! in microseconds); ours prints one raw record per line, as Linux does with
//! `echo raw > trace_options`, and `cargo xtask trace` draws the graph from it (the
//! durations are instructions or counter ticks, which only the host knows how to
//! label). The lines:
//! ```text
//! # tracer: function_graph clock=inst entries=N overrun=M
//! E <pid> <depth> <time> <function>              entry
//! R <pid> <depth> <time> <duration> <function>   return
//! M <pid> <depth> <time> <marker text>           a trace_marker write
//! ```
use super::ftrace::{trace_clock_name, FtraceState, FTRACE, FTRACE_GRAPH_ACTIVE};
use super::ring_buffer::{TraceEntry, TraceKind};
use core::fmt::Write;
use core::sync::atomic::Ordering;

/// A fixed buffer that `write!` fills, truncating what does not fit.
pub struct LineBuf {
    buf: [u8; 192],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        LineBuf {
            buf: [0; 192],
            len: 0,
        }
    }

    /// The bytes written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The header line.
pub fn trace_header(st: &FtraceState, out: &mut impl Write) {
    let _ = writeln!(
        out,
        "# tracer: function_graph clock={} entries={} overrun={}",
        trace_clock_name(),
        st.ring.len(),
        st.ring.overrun()
    );
}

/// One record as its raw line (with the newline). Linux: `print_graph_entry`,
/// `print_graph_return`, `print_graph_comment` in raw form.
pub fn trace_print_entry(st: &FtraceState, e: &TraceEntry, out: &mut impl Write) {
    let name = super::ftrace::ftrace_sites()
        .get(e.site as usize)
        .map_or("?", |s| s.name);
    let _ = match e.kind {
        TraceKind::Entry => writeln!(out, "E {} {} {} {}", e.pid, e.depth, e.time, name),
        TraceKind::Return => writeln!(out, "R {} {} {} {} {}", e.pid, e.depth, e.time, e.arg, name),
        TraceKind::Marker => writeln!(
            out,
            "M {} {} {} {}",
            e.pid,
            e.depth,
            e.time,
            st.marker(e.arg).unwrap_or("(lost)")
        ),
    };
}

/// Read the `trace` file at `pos`: the header and every record, rendered line by line
/// so no text of the whole buffer is ever built. Recording pauses while the file is
/// read, as Linux stops tracing while `trace` is open (`tracing_stop`).
pub fn tracing_read(pos: u64, buf: &mut [u8]) -> usize {
    let was_on = FTRACE_GRAPH_ACTIVE.swap(false, Ordering::AcqRel);
    let st = FTRACE.lock();
    let mut off = 0u64;
    let mut n = 0;
    let want = buf.len();
    let mut copy = |line: &LineBuf, n: &mut usize| {
        let bytes = line.as_bytes();
        let end = off + bytes.len() as u64;
        if end > pos && *n < want {
            let from = pos.saturating_sub(off) as usize;
            let take = (bytes.len() - from).min(buf.len() - *n);
            buf[*n..*n + take].copy_from_slice(&bytes[from..from + take]);
            *n += take;
        }
        off = end;
    };
    let mut line = LineBuf::new();
    trace_header(&st, &mut line);
    copy(&line, &mut n);
    for i in 0..st.ring.len() {
        if n >= want {
            break;
        }
        let Some(e) = st.ring.get(i) else { break };
        let mut line = LineBuf::new();
        trace_print_entry(&st, &e, &mut line);
        copy(&line, &mut n);
    }
    drop(st);
    FTRACE_GRAPH_ACTIVE.store(was_on, Ordering::Release);
    n
}

/// The line before and after [`ftrace_dump`]'s records; `cargo xtask trace` looks for
/// them on the console.
pub const DUMP_BEGIN: &str = "Dumping ftrace buffer:";
/// See [`DUMP_BEGIN`].
pub const DUMP_END: &str = "End of ftrace buffer";

/// Print every record on the console and stop tracing. Called when the init program
/// exits if `trace=` was on the command line. Linux: `ftrace_dump` (which the
/// `ftrace_dump_on_oops` option calls on a crash).
#[no_mangle]
#[inline(never)]
pub fn ftrace_dump() {
    FTRACE_GRAPH_ACTIVE.store(false, Ordering::Release);
    let st = FTRACE.lock();
    printk!("{}\n", DUMP_BEGIN);
    let mut line = LineBuf::new();
    trace_header(&st, &mut line);
    printk!("{}", core::str::from_utf8(line.as_bytes()).unwrap_or(""));
    for i in 0..st.ring.len() {
        let Some(e) = st.ring.get(i) else { break };
        let mut line = LineBuf::new();
        trace_print_entry(&st, &e, &mut line);
        printk!("{}", core::str::from_utf8(line.as_bytes()).unwrap_or(""));
    }
    printk!("{}\n", DUMP_END);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_lines_name_kind_pid_depth_time() {
        let st = FTRACE.lock();
        let mut out = LineBuf::new();
        let site = super::super::ftrace::ftrace_sites()
            .iter()
            .position(|s| s.name == "do_mlock")
            .unwrap() as u16;
        let e = TraceEntry {
            site,
            time: 100,
            arg: 0,
            pid: 3,
            depth: 1,
            kind: TraceKind::Entry,
        };
        trace_print_entry(&st, &e, &mut out);
        let r = TraceEntry {
            kind: TraceKind::Return,
            time: 150,
            arg: 50,
            ..e
        };
        trace_print_entry(&st, &r, &mut out);
        let m = TraceEntry {
            kind: TraceKind::Marker,
            arg: 7,
            ..e
        };
        trace_print_entry(&st, &m, &mut out);
        assert_eq!(
            core::str::from_utf8(out.as_bytes()).unwrap(),
            "E 3 1 100 do_mlock\nR 3 1 150 50 do_mlock\nM 3 1 100 (lost)\n"
        );
    }
}

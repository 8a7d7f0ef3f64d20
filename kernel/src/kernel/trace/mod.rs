//! The function-graph tracer. Linux: `kernel/trace/` (`ftrace.c`,
//! `trace_functions_graph.c`, `trace.c`, `ring_buffer.c`); the files under
//! `/sys/kernel/tracing` are in `fs/tracefs.rs`.
//!
//! Every function on the teaching path (each `#[no_mangle]` function of `mm/`, the
//! `sys_*` entry points, the arch fault handlers) is listed in `sites.rs`; tracing
//! patches those functions' first instructions when it is first turned on, and until
//! then they run exactly the code they would run without a tracer. With `trace=FILTER` on the command line, or
//! `echo 1 > /sys/kernel/tracing/tracing_on`, entries and returns of the selected
//! functions go into a ring buffer with the task's pid, the nesting depth and the trace
//! clock (instructions when the PMU counts them, i.e. under `-icount`; else the virtual
//! counter). User programs add their own lines through `trace_marker`. When init exits
//! after a `trace=` boot, `ftrace_dump` prints the buffer on the console, where
//! `cargo xtask trace` reads it.
//!
//! This is a leaf module: it uses arch (the clock) and sync only, so mm/ may call it.
pub mod ftrace;
pub mod ring_buffer;
pub mod sites;
pub mod trace_output;

pub use ftrace::{
    ftrace_graph_set_pid, ftrace_set_graph_function, trace_marker_write, tracing_is_on, tracing_on,
};
pub use trace_output::{ftrace_dump, tracing_read};

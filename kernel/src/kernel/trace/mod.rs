//! The function-graph tracer. Linux: `kernel/trace/` (`ftrace.c`,
//! `trace_functions_graph.c`, `trace.c`, `ring_buffer.c`); the files under
//! `/sys/kernel/tracing` are in `fs/tracefs.rs`.
//!
//! Every function on the teaching path (each `#[no_mangle]` function of `mm/`, the
//! `sys_*` entry points, the arch fault handlers) begins with
//! [`ftrace_graph!`](crate::ftrace_graph), which records its address and name; tracing
//! patches those functions' first instructions when it is first turned on. With `trace=FILTER` on the command line, or
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
pub mod trace;

pub use ftrace::{
    ftrace_graph_set_pid, ftrace_init, ftrace_set_graph_function, trace_marker_write,
    tracing_is_on, tracing_on,
};
pub use trace::{ftrace_dump, tracing_read};

/// Mark the enclosing function as traced: `ftrace_graph!(do_mlock);` as its first
/// statement. Emits no instruction: only a static site (the function's address and
/// name) in the `__ftrace_sites` section, which `ftrace_replace_code` patches when
/// tracing starts (Linux: the `__mcount_loc` / patchable-entry records the compiler
/// leaves). The name must be the enclosing function's: `cargo xtask test` (host test
/// `ftrace_sites`) checks it.
#[macro_export]
macro_rules! ftrace_graph {
    ($name:ident) => {
        #[used]
        #[link_section = "__ftrace_sites"]
        static __FTRACE_SITE: $crate::kernel::trace::ftrace::FtraceSite =
            $crate::kernel::trace::ftrace::FtraceSite::new($name as *const (), stringify!($name));
    };
}

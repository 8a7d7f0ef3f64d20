//! trace_test: the function-graph tracer's files under /sys/kernel/tracing, used as on
//! Linux (Documentation/trace/ftrace.rst): choose functions with `set_graph_function`,
//! switch recording with `tracing_on`, mark a step with `trace_marker`, read `trace`,
//! empty it by truncating. Our `trace` prints raw records (`E pid depth time func`,
//! `R ...`, `M ...`, kernel/src/kernel/trace/trace_output.rs), not Linux's layout, so the
//! record checks here are ours; the file names, the 0/1 of `tracing_on` and its EINVAL
//! for other values are Linux's (`rb_simple_write` takes any number; 5.10 treats non-zero
//! as on, we refuse what is not 0 or 1).
//!
//! Linux: `kernel/trace/trace.c` (`tracing_mark_write`, `rb_simple_write`,
//! `tracing_open` with O_TRUNC), `kernel/trace/ftrace.c` (`ftrace_graph_write`).
#![no_std]
#![no_main]
use core::ffi::CStr;
use ulib::errno::*;
use ulib::*;

const DIR_ON: &CStr = c"/sys/kernel/tracing/tracing_on";
const FILTER: &CStr = c"/sys/kernel/tracing/set_graph_function";
const TRACE: &CStr = c"/sys/kernel/tracing/trace";
const FUNCS: &CStr = c"/sys/kernel/tracing/available_filter_functions";
const CLOCK: &CStr = c"/sys/kernel/tracing/trace_clock";

fn put(path: &CStr, text: &str) -> isize {
    let fd = open(path, O_WRONLY | O_TRUNC, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, text.as_bytes());
    close(fd as i32);
    r
}

static mut BUF: [u8; 256 * 1024] = [0; 256 * 1024];

/// The whole file as text (up to 256 KiB).
fn get(path: &CStr) -> &'static str {
    // SAFETY: one thread; each call's result is used before the next call.
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let n = procfs::read_file(path, buf).unwrap_or(0);
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

/// Is there a record line of `kind` for `func` (or marker text) by `pid`?
fn has(trace: &str, kind: &str, pid: i32, what: &str) -> bool {
    trace.lines().any(|l| {
        let mut w = l.split(' ');
        w.next() == Some(kind)
            && w.next().and_then(|p| p.parse::<i32>().ok()) == Some(pid)
            && l.ends_with(what)
    })
}

#[no_mangle]
fn main(_args: Args) -> i32 {
    let mut t = Tap::new("trace_test");
    let funcs = get(FUNCS);
    t.ok(
        funcs.lines().any(|l| l == "handle_mm_fault") && funcs.lines().any(|l| l == "sys_mlock"),
        "available_filter_functions lists handle_mm_fault and sys_mlock",
    );
    t.ok(get(CLOCK).contains('['), "trace_clock shows the clock in use in brackets");
    t.eq("tracing_on is 0 at boot", get(DIR_ON).trim_end(), "0");
    t.err("tracing_on refuses 2 with EINVAL", put(DIR_ON, "2\n"), EINVAL);
    t.eq("set_graph_function takes sys_mlock", Ret(put(FILTER, "sys_mlock\n")), Ret(10));
    t.eq("set_graph_function reads back the filter", get(FILTER).trim_end(), "sys_mlock");

    let len = 4 * PAGE_SIZE;
    let p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    t.eq("tracing_on takes 1", Ret(put(DIR_ON, "1\n")), Ret(2));
    let pid = getpid();
    let r = mlock(p as usize, len);
    tracing::trace_marker("trace_test: after mlock\n");
    t.eq("tracing_on takes 0", Ret(put(DIR_ON, "0")), Ret(1));
    t.eq("mlock while tracing", Ret(r), Ret(0));
    let trace = get(TRACE);
    t.ok(
        trace.starts_with("# tracer: function_graph"),
        "trace starts with its header",
    );
    t.ok(has(trace, "E", pid, " sys_mlock"), "trace has the entry of sys_mlock, by this pid");
    t.ok(has(trace, "R", pid, " sys_mlock"), "trace has the return of sys_mlock, by this pid");
    t.ok(
        has(trace, "E", pid, " __get_user_pages"),
        "functions sys_mlock calls are traced too (set_graph_function)",
    );
    t.ok(
        !trace.lines().any(|l| l.ends_with(" sys_getpid")),
        "sys_getpid, not selected and called outside sys_mlock, is not traced",
    );
    t.ok(
        has(trace, "M", pid, " trace_test: after mlock"),
        "the trace_marker line is in the trace, by this pid",
    );
    t.eq("truncating trace empties it", Ret(put(TRACE, "")), Ret(0));
    t.ok(
        get(TRACE).contains("entries=0 "),
        "after truncation the header counts 0 entries",
    );
    t.eq("tracing_on reads 0 again", get(DIR_ON).trim_end(), "0");
    put(FILTER, "");
    munmap(p as usize, len);
    t.finish()
}

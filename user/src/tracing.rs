//! Marking the steps of a program in the kernel's function-graph trace, as one does on
//! Linux with `echo "step" > /sys/kernel/tracing/trace_marker`.

use crate::syscall::{close, open, write, O_WRONLY};

/// Linux's tracefs file that writes a line into the trace.
pub const TRACE_MARKER: &core::ffi::CStr = c"/sys/kernel/tracing/trace_marker";

/// Write `msg` to `trace_marker`. Returns the write's result, or the open's error
/// (-ENOENT where tracefs is not mounted): a program runs the same without it.
pub fn trace_marker(msg: &str) -> isize {
    let fd = open(TRACE_MARKER, O_WRONLY, 0);
    if fd < 0 {
        return fd;
    }
    let r = write(fd as i32, msg.as_bytes());
    close(fd as i32);
    r
}

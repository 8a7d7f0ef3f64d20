//! The kernel command line (`-append`, via the DTB's /chosen/bootargs).
//! Linux: `kernel/params.c`, `init/main.c` (`parse_args`, `__setup`).

/// Options this kernel understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootParams<'a> {
    /// `poweroff`: power off right after the banner (boot tests, `bench boot`).
    pub poweroff: bool,
    /// `ktest=<all|prefix>`: run in-kernel tests after boot, then exit with their status.
    pub ktest: Option<&'a str>,
    /// `test_panic`: panic on purpose after the banner (tests the panic report).
    pub test_panic: bool,
    /// `test_oops`: dereference a NULL pointer after the banner (tests the oops report).
    pub test_oops: bool,
    /// `strace`: log every system call with its arguments and result.
    pub strace: bool,
    /// `init=PATH`: the first user program (default `/bin/init`). Linux: `init=`.
    pub init: Option<&'a str>,
    /// `swap=/dev/vdb`: turn swap on on that block device before init runs (with default
    /// priority, as `swapon` without `-p`). Linux has no such option (its init scripts run
    /// `swapon -a` from /etc/fstab); here there is no fstab.
    pub swap: Option<&'a str>,
    /// Everything after ` -- `: init's arguments (Linux passes them on the same way).
    pub init_args: Option<&'a str>,
    /// `sysctl.kernel.perf_user_access=1` (Linux 5.8+ sets any sysctl from the command
    /// line this way) or the shorter `perf_user_access=1`: EL0 may read the PMU's
    /// instruction counter (`arch/aarch64/perf_event.rs`).
    pub perf_user_access: bool,
    /// `trace=FILTER`: start the function-graph tracer before init runs, with
    /// `FILTER` as `set_graph_function` (names, `prefix*`, or `mm` for every traced
    /// function), and dump the buffer on the console when init exits
    /// (`kernel/trace`). Linux spells this `ftrace=function_graph
    /// ftrace_graph_filter=FILTER ftrace_dump_on_oops`.
    pub trace: Option<&'a str>,
}

/// Parse space-separated `word` and `key=value` options; unknown ones are ignored, as
/// Linux passes them on to init.
pub fn parse_args(cmdline: &str) -> BootParams<'_> {
    let mut p = BootParams::default();
    let (kernel, init_args) = match cmdline.split_once(" -- ") {
        Some((k, rest)) => (k, Some(rest.trim())),
        None => (cmdline.strip_suffix(" --").unwrap_or(cmdline), None),
    };
    p.init_args = init_args;
    for arg in kernel.split_ascii_whitespace() {
        match arg.split_once('=') {
            Some(("ktest", v)) => p.ktest = Some(v),
            Some(("init", v)) => p.init = Some(v),
            Some(("swap", v)) => p.swap = Some(v),
            Some(("trace", v)) => p.trace = Some(v),
            Some(("sysctl.kernel.perf_user_access" | "perf_user_access", v)) => {
                p.perf_user_access = v == "1"
            }
            None if arg == "poweroff" => p.poweroff = true,
            None if arg == "test_panic" => p.test_panic = true,
            None if arg == "test_oops" => p.test_oops = true,
            None if arg == "strace" => p.strace = true,
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_recognised_and_unknown_ones_ignored() {
        let p = parse_args("console=ttyAMA0  ktest=mm poweroff nosmp");
        assert_eq!(
            p,
            BootParams {
                poweroff: true,
                ktest: Some("mm"),
                ..BootParams::default()
            }
        );
        assert_eq!(parse_args(""), BootParams::default());
        assert!(parse_args("test_panic").test_panic);
        assert!(parse_args("test_oops").test_oops);
        assert_eq!(
            parse_args("swap=/dev/vdb ktest=swap").swap,
            Some("/dev/vdb")
        );
        assert!(parse_args("sysctl.kernel.perf_user_access=1").perf_user_access);
        assert_eq!(parse_args("trace=mm").trace, Some("mm"));
        assert_eq!(
            parse_args("trace=sys_mlock,do_* init=/bin/x").trace,
            Some("sys_mlock,do_*")
        );
        assert!(parse_args("perf_user_access=1 poweroff").perf_user_access);
        assert!(!parse_args("perf_user_access=0").perf_user_access);
        assert!(!parse_args("init=/bin/x -- perf_user_access=1").perf_user_access);
        let p = parse_args("poweroff init=/bin/sh -- -c echo hi");
        assert_eq!(
            (p.init, p.init_args, p.poweroff),
            (Some("/bin/sh"), Some("-c echo hi"), true)
        );
    }
}

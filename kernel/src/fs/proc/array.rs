//! `/proc/<pid>/status`: a task's identity, memory, signals and capabilities as
//! `Name:\tvalue` lines. Linux 5.10: `fs/proc/array.c` (`proc_pid_status`, `task_state`,
//! `task_sig`, `task_cap`, `task_seccomp`, `proc_task_name`, `get_task_state`), with the
//! memory part from `fs/proc/task_mmu.c` (`task_mem`). Caller: `fs/proc/mod.rs`.
//!
//! Lines are those a Debian arm64 5.10 kernel prints (CONFIG_PID_NS, CONFIG_SECCOMP,
//! CONFIG_HUGETLB_PAGE, CONFIG_TRANSPARENT_HUGEPAGE, CONFIG_CPUSETS). Values this kernel
//! has no source for are what Linux shows for a task that never used the feature: no
//! supplementary groups, no blocked, ignored or caught signals, no seccomp, one CPU and
//! one memory node, umask 0 (we apply none). Process groups and sessions are the task's
//! (a Linux init that never calls setsid has pgid and sid 0, and so do its children).
use super::seq::seq_put_decimal_ull;
use super::task_mmu::task_mem;
use crate::task::{Task, TaskState};
use alloc::string::String;
use core::fmt::Write;
use core::sync::atomic::Ordering;

/// Capabilities of root in 5.10: bits 0..=CAP_LAST_CAP (40, CAP_CHECKPOINT_RESTORE).
const CAP_FULL_SET: u64 = (1 << 41) - 1;
/// Linux's `RLIMIT_SIGPENDING` resource number.
const RLIMIT_SIGPENDING: usize = 11;
/// File descriptors a fresh table has room for (Linux: `NR_OPEN_DEFAULT` = BITS_PER_LONG).
const NR_OPEN_DEFAULT: usize = 64;

/// The `State:` text (Linux: `get_task_state`, `task_state_array`).
pub fn get_task_state(state: TaskState) -> &'static str {
    match state {
        TaskState::Running => "R (running)",
        TaskState::Interruptible => "S (sleeping)",
        TaskState::Uninterruptible => "D (disk sleep)",
        TaskState::Zombie => "Z (zombie)",
        TaskState::Dead => "X (dead)",
    }
}

/// The command name with newline and backslash escaped (Linux: `proc_task_name` with
/// `escape`: `string_escape_str(..., ESCAPE_SPACE | ESCAPE_SPECIAL, "\n\\")`).
pub fn proc_task_name(m: &mut String, comm: &str) {
    for c in comm.chars() {
        match c {
            '\n' => m.push_str("\\n"),
            '\\' => m.push_str("\\\\"),
            c => m.push(c),
        }
    }
}

/// Size of the descriptor table (Linux: `files_fdtable(p->files)->max_fds`): 64, then
/// doubling in steps of 128 as `expand_fdtable` grows it. We keep no table size, so this
/// is computed from the number of open descriptors.
fn max_fds(open: usize) -> usize {
    if open <= NR_OPEN_DEFAULT {
        NR_OPEN_DEFAULT
    } else {
        // expand_fdtable for the highest fd: in units of 1024 / sizeof(struct file *).
        ((open - 1) / 128 + 1).next_power_of_two() * 128
    }
}

/// The identity lines, Umask to NSsid (Linux: `task_state`).
fn task_state(m: &mut String, task: &Task) {
    let cred = *task.cred.lock();
    let open = task.files.lock().count();
    let pid = task.pid() as u64;
    m.push_str("Umask:\t0000\n");
    m.push_str("State:\t");
    m.push_str(get_task_state(task.state()));
    seq_put_decimal_ull(m, "\nTgid:\t", pid);
    seq_put_decimal_ull(m, "\nNgid:\t", 0);
    seq_put_decimal_ull(m, "\nPid:\t", pid);
    seq_put_decimal_ull(
        m,
        "\nPPid:\t",
        task.ppid.load(Ordering::Relaxed).max(0) as u64,
    );
    seq_put_decimal_ull(m, "\nTracerPid:\t", 0);
    // fsuid/fsgid follow the effective ids; the saved gid is the effective one.
    for (i, id) in [cred.uid, cred.euid, cred.suid, cred.euid]
        .iter()
        .enumerate()
    {
        seq_put_decimal_ull(m, if i == 0 { "\nUid:\t" } else { "\t" }, *id as u64);
    }
    for (i, id) in [cred.gid, cred.egid, cred.egid, cred.egid]
        .iter()
        .enumerate()
    {
        seq_put_decimal_ull(m, if i == 0 { "\nGid:\t" } else { "\t" }, *id as u64);
    }
    seq_put_decimal_ull(m, "\nFDSize:\t", max_fds(open) as u64);
    // No supplementary groups; Linux ends the list with a space all the same.
    m.push_str("\nGroups:\t ");
    seq_put_decimal_ull(m, "\nNStgid:\t", pid);
    seq_put_decimal_ull(m, "\nNSpid:\t", pid);
    let (pgid, sid) = (
        task.pgid.load(Ordering::Relaxed).max(0) as u64,
        task.sid.load(Ordering::Relaxed).max(0) as u64,
    );
    seq_put_decimal_ull(m, "\nNSpgid:\t", pgid);
    seq_put_decimal_ull(m, "\nNSsid:\t", sid);
    m.push('\n');
}

/// Threads and signal masks (Linux: `task_sig` + `render_sigset_t`: 16 hex digits, bit
/// n-1 for signal n).
fn task_sig(m: &mut String, task: &Task) {
    let pending = task.pending.load(Ordering::Relaxed);
    let shared = task.sig.shared_pending.load(Ordering::Relaxed);
    let qlim = task.rlim.lock()[RLIMIT_SIGPENDING].cur;
    let threads = task.sig.live.load(Ordering::Relaxed).max(0) as u64;
    seq_put_decimal_ull(m, "Threads:\t", threads);
    seq_put_decimal_ull(m, "\nSigQ:\t", pending.count_ones() as u64);
    seq_put_decimal_ull(m, "/", qlim);
    let _ = write!(
        m,
        "\nSigPnd:\t{pending:016x}\nShdPnd:\t{:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{:016x}\nSigCgt:\t{:016x}\n",
        shared, 0, 0, 0
    );
}

/// Capability sets (Linux: `task_cap` + `render_cap_t`): root holds every capability, as
/// `Cred` documents; others none.
fn task_cap(m: &mut String, task: &Task) {
    let c = *task.cred.lock();
    let _ = write!(
        m,
        "CapInh:\t{:016x}\nCapPrm:\t{:016x}\nCapEff:\t{:016x}\nCapBnd:\t{CAP_FULL_SET:016x}\nCapAmb:\t{:016x}\n",
        c.cap_inheritable, c.cap_permitted, c.cap_effective, 0
    );
}

/// `/proc/<pid>/status` (Linux 5.10: `proc_pid_status`). The memory lines appear only
/// while the task has an address space (not for a zombie); they are made under its mm
/// lock into this string, which the reader copies out afterwards.
pub fn proc_pid_status(task: &Task) -> String {
    let mut m = String::from("Name:\t");
    proc_task_name(&mut m, &task.comm());
    m.push('\n');
    task_state(&mut m, task);
    let mm = task.mm.lock().clone();
    if let Some(mm) = mm {
        let guard = crate::mm::mmap_lock::mmap_read_lock(&mm);
        task_mem(&mut m, &guard, mm.pgd);
        drop(guard);
        // task_core_dumping, task_thp_status (no THP: 0).
        m.push_str("CoreDumping:\t0\nTHP_enabled:\t0\n");
    }
    task_sig(&mut m, task);
    task_cap(&mut m, task);
    // task_seccomp: no seccomp, no speculation control (arm64 reports "vulnerable"
    // when the firmware offers no SSBD mitigation, as QEMU's does not).
    m.push_str("NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n");
    m.push_str("Speculation_Store_Bypass:\tvulnerable\n");
    // task_cpus_allowed, cpuset_task_status_allowed: one CPU, node 0 (of the 16 node
    // ids a Debian arm64 kernel allows, hence four hex digits).
    m.push_str("Cpus_allowed:\t1\nCpus_allowed_list:\t0\n");
    m.push_str("Mems_allowed:\t0001\nMems_allowed_list:\t0\n");
    // task_context_switch_counts.
    seq_put_decimal_ull(
        &mut m,
        "voluntary_ctxt_switches:\t",
        task.nvcsw.load(Ordering::Relaxed),
    );
    seq_put_decimal_ull(
        &mut m,
        "\nnonvoluntary_ctxt_switches:\t",
        task.nivcsw.load(Ordering::Relaxed),
    );
    m.push('\n');
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_name_escapes_newline_and_backslash() {
        let mut m = String::new();
        proc_task_name(&mut m, "a\\b\nc d");
        assert_eq!(m, "a\\\\b\\nc d");
    }

    #[test]
    fn fd_table_sizes_follow_expand_fdtable() {
        assert_eq!(max_fds(0), 64);
        assert_eq!(max_fds(64), 64);
        assert_eq!(max_fds(65), 128);
        assert_eq!(max_fds(128), 128);
        assert_eq!(max_fds(129), 256);
        assert_eq!(max_fds(300), 512);
    }

    #[test]
    fn root_has_capabilities_0_to_40() {
        assert_eq!(alloc::format!("{CAP_FULL_SET:016x}"), "000001ffffffffff");
    }
}

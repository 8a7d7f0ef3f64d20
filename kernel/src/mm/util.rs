//! Overcommit accounting: the `vm_committed_as` counter, the `vm.overcommit_*` sysctls and
//! the policy that decides whether a new private writable mapping may be charged.
//!
//! Linux 5.10: `mm/util.c` (`__vm_enough_memory`, `vm_commit_limit`,
//! `vm_memory_committed`, `overcommit_ratio_handler`, `overcommit_kbytes_handler`,
//! `overcommit_policy_handler`), `include/linux/mman.h` (`vm_acct_memory`,
//! `vm_unacct_memory`), `Documentation/vm/overcommit-accounting.rst`.
//! Callers: `MmPageTables` (`security_vm_enough_memory_mm` / `vm_unacct_memory`, reached
//! from mmap_region, do_brk_flags, mprotect_fixup, acct_stack_growth, insert_vm_struct,
//! the munmap paths and exit_mmap); fork's `dup_mmap`; procfs (`/proc/sys/vm/overcommit_*`,
//! `/proc/meminfo` CommitLimit and Committed_AS).
//! Locking: none; the counter and the sysctls are atomics (Linux: a per-CPU counter and
//! plain ints), so a check may race with a concurrent charge exactly as Linux's does.
//!
//! Differences from 5.10: no hugetlbfs
//! (`hugetlb_total_pages` is 0); the root and user reserves of mode 2
//! (`sysctl_admin_reserve_kbytes`, `sysctl_user_reserve_kbytes`) are modelled as zero, so
//! mode 2 allows up to CommitLimit for every task; no LSM (`security_vm_enough_memory_mm`
//! is `__vm_enough_memory` with `cap_sys_admin` irrelevant once the reserves are zero).
use crate::errno::{Errno, KResult};
use core::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Heuristic overcommit, the default: refuse only a single request bigger than RAM plus
/// swap (Linux: `OVERCOMMIT_GUESS`).
pub const OVERCOMMIT_GUESS: usize = 0;
/// Never refuse (Linux: `OVERCOMMIT_ALWAYS`).
pub const OVERCOMMIT_ALWAYS: usize = 1;
/// Strict accounting: everything charged must stay below CommitLimit; MAP_NORESERVE is
/// then ignored (Linux: `OVERCOMMIT_NEVER`).
pub const OVERCOMMIT_NEVER: usize = 2;

/// The three overcommit sysctls (Linux: the ints `sysctl_overcommit_memory`,
/// `sysctl_overcommit_ratio` and the unsigned long `sysctl_overcommit_kbytes`). One
/// instance is the system's ([`OVERCOMMIT`]); host tests make their own.
pub struct OvercommitTunables {
    memory: AtomicUsize,
    /// `int` in Linux; any int is accepted by its handler (even a negative one).
    ratio: AtomicIsize,
    kbytes: AtomicUsize,
}

impl OvercommitTunables {
    /// Linux's defaults: mode 0, ratio 50, kbytes 0.
    pub const fn new() -> OvercommitTunables {
        OvercommitTunables {
            memory: AtomicUsize::new(OVERCOMMIT_GUESS),
            ratio: AtomicIsize::new(50),
            kbytes: AtomicUsize::new(0),
        }
    }
}

impl Default for OvercommitTunables {
    fn default() -> Self {
        Self::new()
    }
}

/// The system's overcommit sysctls, as `/proc/sys/vm/overcommit_*` shows them.
pub static OVERCOMMIT: OvercommitTunables = OvercommitTunables::new();
/// Pages charged by every VM_ACCOUNT mapping in the system (Linux: `vm_committed_as`, a
/// percpu_counter; signed, since a racing uncharge may pass a charge).
static VM_COMMITTED_AS: AtomicIsize = AtomicIsize::new(0);

/// The overcommit policy (Linux: sysctl `vm.overcommit_memory`, 0, 1 or 2).
pub fn sysctl_overcommit_memory() -> usize {
    OVERCOMMIT.memory.load(Ordering::Relaxed)
}

/// Percentage of RAM mode 2 allows (Linux: sysctl `vm.overcommit_ratio`, default 50).
pub fn sysctl_overcommit_ratio() -> isize {
    OVERCOMMIT.ratio.load(Ordering::Relaxed)
}

/// Absolute CommitLimit in KiB (before swap) for mode 2 when non-zero, replacing the
/// ratio (Linux: sysctl `vm.overcommit_kbytes`, default 0).
pub fn sysctl_overcommit_kbytes() -> usize {
    OVERCOMMIT.kbytes.load(Ordering::Relaxed)
}

/// RAM in pages: what the buddy allocator manages (Linux: `totalram_pages`).
pub fn totalram_pages() -> usize {
    crate::mm::page_alloc::ZONE_NORMAL.lock().managed_pages
}

/// Swap in pages (Linux: `total_swap_pages`), from the active swap areas.
pub fn total_swap_pages() -> usize {
    crate::mm::swapfile::total_swap_pages()
}

/// Pages held by hugetlbfs pools (Linux: `hugetlb_total_pages`): no hugetlbfs.
pub fn hugetlb_total_pages() -> usize {
    0
}

/// What the policy looks at, gathered once so the arithmetic is a pure function (and
/// testable on the host without touching the global counter).
#[derive(Clone, Copy, Debug)]
pub struct OvercommitState {
    /// `vm.overcommit_memory`.
    pub mode: usize,
    /// `vm.overcommit_ratio`.
    pub ratio: isize,
    /// `vm.overcommit_kbytes`.
    pub kbytes: usize,
    /// `totalram_pages()`.
    pub totalram: usize,
    /// `total_swap_pages()`.
    pub swap: usize,
    /// `hugetlb_total_pages()`.
    pub hugetlb: usize,
}

impl OvercommitState {
    /// The sysctls and memory sizes as they are now.
    pub fn current() -> OvercommitState {
        OvercommitState {
            mode: sysctl_overcommit_memory(),
            ratio: sysctl_overcommit_ratio(),
            kbytes: sysctl_overcommit_kbytes(),
            totalram: totalram_pages(),
            swap: total_swap_pages(),
            hugetlb: hugetlb_total_pages(),
        }
    }

    /// CommitLimit in pages for these settings: `overcommit_kbytes` when set, else
    /// `(RAM - hugetlb) * overcommit_ratio / 100`, plus swap. The ratio is an `int`
    /// multiplied as an unsigned long in Linux, so a negative one wraps; we clamp it to 0.
    pub fn commit_limit(&self) -> usize {
        let allowed = if self.kbytes != 0 {
            self.kbytes >> (crate::mm::PAGE_SHIFT - 10)
        } else {
            let ram = self.totalram.saturating_sub(self.hugetlb);
            ram.saturating_mul(self.ratio.max(0) as usize) / 100
        };
        allowed.saturating_add(self.swap)
    }

    /// May a request of `pages` go through when the counter, this request already added,
    /// reads `committed` (Linux: the tests of `__vm_enough_memory` after `vm_acct_memory`)?
    /// Mode 1: always. Mode 0: unless the single request is bigger than RAM + swap.
    /// Mode 2: only while the counter stays strictly below CommitLimit (the reserves are
    /// zero here).
    pub fn allows(&self, pages: usize, committed: isize) -> bool {
        match self.mode {
            OVERCOMMIT_ALWAYS => true,
            OVERCOMMIT_GUESS => pages <= self.totalram.saturating_add(self.swap),
            _ => (committed.max(0) as usize) < self.commit_limit(),
        }
    }
}

/// CommitLimit in pages (Linux: `vm_commit_limit`); `/proc/meminfo` shows it.
pub fn vm_commit_limit() -> usize {
    OvercommitState::current().commit_limit()
}

/// Pages now charged, never negative (Linux: `vm_memory_committed`, a
/// `percpu_counter_read_positive` of `vm_committed_as`); `/proc/meminfo`'s Committed_AS.
pub fn vm_memory_committed() -> usize {
    VM_COMMITTED_AS.load(Ordering::Relaxed).max(0) as usize
}

/// The counter as it is, negative if more was given back than charged: what init's leak
/// check compares with 0 once every process is gone (Linux: `percpu_counter_sum`).
pub fn vm_committed_as_sum() -> isize {
    VM_COMMITTED_AS.load(Ordering::Relaxed)
}

/// Add `pages` (negative: remove) to `vm_committed_as` (Linux: `vm_acct_memory`).
pub fn vm_acct_memory(pages: isize) {
    VM_COMMITTED_AS.fetch_add(pages, Ordering::Relaxed);
}

/// Give back a charge of `pages` (Linux: `vm_unacct_memory`).
pub fn vm_unacct_memory(pages: usize) {
    vm_acct_memory(-(pages as isize));
}

/// Charge `pages` to `vm_committed_as` and check that the policy allows it; on refusal
/// the charge is taken back and the answer is ENOMEM (Linux 5.10: `__vm_enough_memory`,
/// called through `security_vm_enough_memory_mm`). The caller gives the charge back with
/// `vm_unacct_memory` when the memory goes (munmap, exit_mmap, a failed mmap).
/// Locking: none needed (atomics); callers hold `mmap_lock` for write.
#[no_mangle]
#[inline(never)]
pub fn __vm_enough_memory(pages: usize) -> KResult<()> {
    let pages_signed = pages as isize;
    let committed = VM_COMMITTED_AS.fetch_add(pages_signed, Ordering::Relaxed) + pages_signed;
    if OvercommitState::current().allows(pages, committed) {
        return Ok(());
    }
    vm_unacct_memory(pages);
    Err(Errno::ENOMEM)
}

/// Parse the first sysctl value of a write the way Linux's `proc_get_long` does:
/// optional leading white space, an optional `-`, digits (a `0x` prefix is hex, a leading
/// `0` octal, as `simple_strtoul` base 0) that must end at white space, a NUL or the end.
/// Returns (negative, magnitude, bytes consumed including the white space after the
/// value), or None when there is nothing but white space. EINVAL for anything else or an
/// overflow. What follows the value is left unconsumed, as Linux leaves it (the write
/// returns a short count).
pub(crate) fn proc_get_long(buf: &[u8]) -> KResult<Option<(bool, u64, usize)>> {
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let Some(start) = buf.iter().position(|c| !is_space(c)) else {
        return Ok(None);
    };
    let s = &buf[start..];
    let end = s
        .iter()
        .position(|c| is_space(c) || *c == 0)
        .unwrap_or(s.len());
    let tok = &s[..end];
    let trailing = s[end..].iter().take_while(|c| is_space(c)).count();
    let (neg, digits) = match tok.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, tok),
    };
    if digits.first().is_none_or(|c| !c.is_ascii_digit()) {
        return Err(Errno::EINVAL);
    }
    let (radix, digits) = if digits.len() > 2 && (digits[..2] == *b"0x" || digits[..2] == *b"0X") {
        (16, &digits[2..])
    } else if digits.len() > 1 && digits[0] == b'0' {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    let text = core::str::from_utf8(digits).map_err(|_| Errno::EINVAL)?;
    let v = u64::from_str_radix(text, radix).map_err(|_| Errno::EINVAL)?;
    Ok(Some((neg, v, start + end + trailing)))
}

/// An `int` sysctl value (Linux: `proc_dointvec`'s conversion): EINVAL outside the
/// range of `int`.
pub(crate) fn parse_int(buf: &[u8]) -> KResult<Option<(i64, usize)>> {
    let Some((neg, v, used)) = proc_get_long(buf)? else {
        return Ok(None);
    };
    if neg {
        if v > i32::MAX as u64 + 1 {
            return Err(Errno::EINVAL);
        }
        Ok(Some((-(v as i64), used)))
    } else {
        if v > i32::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        Ok(Some((v as i64, used)))
    }
}

/// The overcommit sysctls as `/proc/sys/vm/` files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OvercommitSysctl {
    /// `overcommit_memory`.
    Memory,
    /// `overcommit_ratio`.
    Ratio,
    /// `overcommit_kbytes`.
    Kbytes,
}

impl OvercommitSysctl {
    /// The file name under /proc/sys/vm.
    pub fn name(self) -> &'static str {
        match self {
            OvercommitSysctl::Memory => "overcommit_memory",
            OvercommitSysctl::Ratio => "overcommit_ratio",
            OvercommitSysctl::Kbytes => "overcommit_kbytes",
        }
    }

    /// Reading the file: the value and a newline (Linux: `proc_dointvec` /
    /// `proc_doulongvec_minmax` reading).
    pub fn read(self) -> alloc::string::String {
        self.read_from(&OVERCOMMIT)
    }

    /// `read` of the tunables `t`.
    pub fn read_from(self, t: &OvercommitTunables) -> alloc::string::String {
        match self {
            OvercommitSysctl::Memory => alloc::format!("{}\n", t.memory.load(Ordering::Relaxed)),
            OvercommitSysctl::Ratio => alloc::format!("{}\n", t.ratio.load(Ordering::Relaxed)),
            OvercommitSysctl::Kbytes => alloc::format!("{}\n", t.kbytes.load(Ordering::Relaxed)),
        }
    }

    /// Writing `buf` at file position `pos`; returns the bytes consumed: the first value
    /// and the white space after it (Linux 5.10:
    /// `overcommit_policy_handler`, `overcommit_ratio_handler`,
    /// `overcommit_kbytes_handler`). As Linux with `sysctl_writes_strict` (the default),
    /// a write at a non-zero position changes nothing and succeeds. EINVAL for a value
    /// that is not a number, is out of `int` range, or (overcommit_memory) is not 0, 1
    /// or 2, or a write of nothing but white space; the old value stays. A zero-length
    /// write does nothing. A successful write of overcommit_ratio zeroes
    /// overcommit_kbytes and one of overcommit_kbytes zeroes overcommit_ratio, so the one
    /// written last decides CommitLimit. overcommit_kbytes ignores a negative number
    /// (`proc_doulongvec_minmax` skips it) but still counts as written.
    pub fn write(self, pos: u64, buf: &[u8]) -> KResult<usize> {
        self.write_to(&OVERCOMMIT, pos, buf)
    }

    /// `write` to the tunables `t`.
    pub fn write_to(self, t: &OvercommitTunables, pos: u64, buf: &[u8]) -> KResult<usize> {
        if pos != 0 || buf.is_empty() {
            return Ok(buf.len());
        }
        let used = match self {
            OvercommitSysctl::Memory => {
                let (v, used) = parse_int(buf)?.ok_or(Errno::EINVAL)?;
                if !(0..=2).contains(&v) {
                    return Err(Errno::EINVAL);
                }
                // Linux also recomputes the per-CPU batch (mm_compute_batch) here.
                t.memory.store(v as usize, Ordering::Relaxed);
                used
            }
            OvercommitSysctl::Ratio => {
                let (v, used) = parse_int(buf)?.ok_or(Errno::EINVAL)?;
                t.ratio.store(v as isize, Ordering::Relaxed);
                t.kbytes.store(0, Ordering::Relaxed);
                used
            }
            OvercommitSysctl::Kbytes => {
                let (neg, v, used) = proc_get_long(buf)?.ok_or(Errno::EINVAL)?;
                let v = usize::try_from(v).map_err(|_| Errno::EINVAL)?;
                if !neg {
                    t.kbytes.store(v, Ordering::Relaxed);
                }
                t.ratio.store(0, Ordering::Relaxed);
                used
            }
        };
        Ok(used)
    }
}

#[cfg(test)]
#[path = "util_tests.rs"]
mod tests;

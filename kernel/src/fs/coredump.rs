//! Core dumps: a process killed by a signal whose default action dumps core (SIGSEGV,
//! SIGABRT, SIGBUS, SIGILL, SIGQUIT...) leaves an ELF core file of its memory and
//! registers, named by /proc/sys/kernel/core_pattern, if RLIMIT_CORE allows one. Linux:
//! `fs/coredump.c` (`do_coredump`, `format_corename`), `fs/binfmt_elf.c`
//! (`elf_core_dump`, `vma_dump_size`, `fill_prstatus`), `mm/gup.c` (`get_dump_page`).
//!
//! The file: an ELF64 header (ET_CORE, EM_AARCH64), a PT_NOTE segment with one
//! NT_PRSTATUS note (the signal, the ids, the user registers), then one PT_LOAD per
//! mapping the dump includes, each page-aligned. Which mappings is
//! /proc/<pid>/coredump_filter's choice (`vma_dump_size`): anonymous private memory (bit
//! 0, on by default), anonymous shared (bit 1, on), file-backed private pages that were
//! written (counted with bit 0, as Linux does through `anon_vma`), file-backed shared
//! (bit 3, off), the first page of an ELF file (bit 4, on); never MADV_DONTDUMP or
//! VM_IO areas. Pages never touched are holes in the file (`get_dump_page` gives none),
//! so a large, mostly empty mapping costs nothing on tmpfs.
//!
//! Differences from Linux: no pipe patterns (`|program`: no dump), only the `%p`, `%P`,
//! `%e`, `%s`, `%u`, `%t`, `%h` and `%%` specifiers; no NT_PRPSINFO, NT_FPREGSET or
//! NT_AUXV notes; the dump is written by the dying thread alone (other threads are
//! already being killed, not waited for). Like Linux, it walks every page of a dumped
//! mapping, holes too; it yields the CPU as it goes and a SIGKILL ends it (no core bit).
use crate::arch::aarch64::traps::PtRegs;
use crate::kernel::resource::RLIMIT_CORE;
use crate::mm::vma::VmFlags;
use crate::mm::PAGE_SIZE;
use crate::task::Task;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// coredump_filter bits (Linux: `MMF_DUMP_ANON_PRIVATE` ...).
const FILTER_ANON_PRIVATE: u32 = 1 << 0;
const FILTER_ANON_SHARED: u32 = 1 << 1;
const FILTER_MAPPED_SHARED: u32 = 1 << 3;
const FILTER_ELF_HEADERS: u32 = 1 << 4;

/// `struct elf_prstatus` on arm64: 392 bytes (the registers are 34 words at offset 112).
const PRSTATUS_SIZE: usize = 392;

/// How many bytes of the mapping `[start, end)` with `flags` the dump includes (Linux:
/// `vma_dump_size`).
fn vma_dump_size(
    flags: VmFlags,
    file: Option<&alloc::sync::Arc<dyn crate::mm::vma::MappedFile>>,
    pgoff: usize,
    written: bool,
    len: usize,
    filter: u32,
) -> usize {
    if flags.intersects(VmFlags::VM_DONTDUMP | VmFlags::VM_IO) {
        return 0;
    }
    if flags.contains(VmFlags::VM_SHARED) {
        // An unlinked file (shared anonymous memory, SysV shm) counts as anonymous.
        let anon = file.is_some_and(|f| f.path().ends_with("(deleted)"));
        let bit = if anon {
            FILTER_ANON_SHARED
        } else {
            FILTER_MAPPED_SHARED
        };
        return if filter & bit != 0 { len } else { 0 };
    }
    if (file.is_none() || written) && filter & FILTER_ANON_PRIVATE != 0 {
        return len;
    }
    if file.is_some() && pgoff == 0 && filter & FILTER_ELF_HEADERS != 0 {
        return PAGE_SIZE.min(len);
    }
    0
}

/// The file name the pattern gives for `task` dying of `sig` (Linux: `format_corename`).
/// None for a pipe pattern, which we do not run.
fn format_corename(pattern: &str, task: &Task, sig: u32) -> Option<String> {
    use core::fmt::Write;
    if pattern.starts_with('|') {
        return None;
    }
    let mut out = String::new();
    let mut chars = pattern.chars();
    let mut has_pid = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('p') | Some('P') => {
                has_pid = true;
                let _ = write!(out, "{}", task.tgid);
            }
            Some('i') | Some('I') => {
                let _ = write!(out, "{}", task.pid());
            }
            Some('e') => out.push_str(&task.comm()),
            Some('s') => {
                let _ = write!(out, "{sig}");
            }
            Some('u') => {
                let _ = write!(out, "{}", task.cred.lock().uid);
            }
            Some('t') => {
                let _ = write!(
                    out,
                    "{}",
                    crate::kernel::sys::ktime_get_ns() / 1_000_000_000
                );
            }
            Some('h') => out.push_str("mmkern"), // uname's nodename
            _ => {}
        }
    }
    // Linux: `core_uses_pid` (0 by default) would add ".PID" when no %p was given.
    let _ = has_pid;
    if out.is_empty() {
        return None;
    }
    Some(out)
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Write `task`'s core for signal `sig` (`regs`: its user registers) if RLIMIT_CORE and
/// the dumpable flag allow, to the file the core pattern names (relative to the task's
/// directory; an existing file is not overwritten). Returns true when a core was written,
/// which sets the wait status's core bit. Linux: `do_coredump` -> `elf_core_dump`.
#[no_mangle]
#[inline(never)]
pub fn do_coredump(task: &Task, sig: u32, regs: &PtRegs) -> bool {
    let limit = task.rlim.lock()[RLIMIT_CORE].cur;
    if limit < PAGE_SIZE as u64 || task.dumpable.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let Some(mm) = task.mm.lock().clone() else {
        return false;
    };
    let pattern = crate::fs::proc::proc_sysctl::core_pattern();
    let Some(name) = format_corename(&pattern, task, sig) else {
        return false;
    };
    let path = if name.starts_with('/') {
        name
    } else {
        let cwd = task.cwd.lock().clone();
        alloc::format!("{}/{}", cwd.trim_end_matches('/'), name)
    };
    // Linux: O_CREAT | O_RDWR | O_NOFOLLOW | O_LARGEFILE | O_EXCL, mode 0600.
    let flags = crate::fs::O_CREAT | crate::fs::O_EXCL | 2;
    let Ok(file) = crate::fs::open::filp_open(&path, flags, 0o600) else {
        return false;
    };
    elf_core_dump(task, &mm, &file, sig, regs, limit).is_ok()
}

/// One mapping to dump: its range, flags and how much of it goes into the file.
struct DumpVma {
    start: usize,
    end: usize,
    flags: VmFlags,
    dump: usize,
}

/// Write the ELF core (Linux: `elf_core_dump`). Pages with nothing behind them are
/// skipped, leaving holes; the file is then cut to its full length.
fn elf_core_dump(
    task: &Task,
    mm: &crate::mm::mm_types::MmStruct,
    file: &crate::fs::file::File,
    sig: u32,
    regs: &PtRegs,
    limit: u64,
) -> crate::errno::KResult<()> {
    let filter = task.coredump_filter.load(Ordering::Relaxed);
    let vmas: Vec<DumpVma> = {
        let m = crate::mm::mmap_lock::mmap_read_lock(mm);
        let mut v = Vec::new();
        v.try_reserve(m.map_count)
            .map_err(|_| crate::errno::Errno::ENOMEM)?;
        for vma in m.mm_rb.values() {
            let len = vma.vm_end - vma.vm_start;
            v.push(DumpVma {
                start: vma.vm_start,
                end: vma.vm_end,
                flags: vma.vm_flags,
                dump: vma_dump_size(
                    vma.vm_flags,
                    vma.vm_file.as_ref(),
                    vma.vm_pgoff,
                    vma.anon_vma.is_some(),
                    len,
                    filter,
                ),
            });
        }
        v
    };
    let phnum = vmas.len() + 1;
    let notes_off = 64 + 56 * phnum;
    let note_size = 12 + 8 + PRSTATUS_SIZE;
    let mut head = Vec::new();
    head.try_reserve_exact(notes_off + note_size)
        .map_err(|_| crate::errno::Errno::ENOMEM)?;
    head.resize(notes_off + note_size, 0u8);
    // Elf64_Ehdr
    head[..4].copy_from_slice(b"\x7fELF");
    head[4] = 2; // ELFCLASS64
    head[5] = 1; // ELFDATA2LSB
    head[6] = 1; // EV_CURRENT
    head[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    head[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    put32(&mut head, 20, 1);
    put64(&mut head, 32, 64); // e_phoff
    head[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    head[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    head[56..58].copy_from_slice(&(phnum.min(0xffff) as u16).to_le_bytes());
    // PT_NOTE
    let data_start = (notes_off + note_size).next_multiple_of(PAGE_SIZE);
    let ph = 64;
    put32(&mut head, ph, 4);
    put64(&mut head, ph + 8, notes_off as u64);
    put64(&mut head, ph + 32, note_size as u64);
    // PT_LOADs
    let mut off = data_start;
    for (i, v) in vmas.iter().enumerate() {
        let p = 64 + 56 * (i + 1);
        let mut pflags = 0;
        if v.flags.contains(VmFlags::VM_READ) {
            pflags |= 4;
        }
        if v.flags.contains(VmFlags::VM_WRITE) {
            pflags |= 2;
        }
        if v.flags.contains(VmFlags::VM_EXEC) {
            pflags |= 1;
        }
        put32(&mut head, p, 1);
        put32(&mut head, p + 4, pflags);
        put64(&mut head, p + 8, off as u64);
        put64(&mut head, p + 16, v.start as u64);
        put64(&mut head, p + 32, v.dump as u64);
        put64(&mut head, p + 40, (v.end - v.start) as u64);
        put64(&mut head, p + 48, PAGE_SIZE as u64);
        off += v.dump;
    }
    // NT_PRSTATUS, name "CORE".
    let n = notes_off;
    put32(&mut head, n, 5);
    put32(&mut head, n + 4, PRSTATUS_SIZE as u32);
    put32(&mut head, n + 8, 1);
    head[n + 12..n + 16].copy_from_slice(b"CORE");
    let d = n + 20;
    put32(&mut head, d, sig); // pr_info.si_signo
    head[d + 12..d + 14].copy_from_slice(&(sig as u16).to_le_bytes()); // pr_cursig
    put32(&mut head, d + 32, task.pid() as u32);
    put32(&mut head, d + 36, task.ppid.load(Ordering::Relaxed) as u32);
    put32(&mut head, d + 40, task.pgid.load(Ordering::Relaxed) as u32);
    put32(&mut head, d + 44, task.sid.load(Ordering::Relaxed) as u32);
    for (i, r) in regs.regs.iter().enumerate() {
        put64(&mut head, d + 112 + 8 * i, *r);
    }
    put64(&mut head, d + 112 + 8 * 31, regs.sp);
    put64(&mut head, d + 112 + 8 * 32, regs.pc);
    put64(&mut head, d + 112 + 8 * 33, regs.pstate);
    // Write, within RLIMIT_CORE (Linux: dump_emit stops at the limit).
    let emit = |buf: &[u8], at: usize| -> crate::errno::KResult<()> {
        if (at + buf.len()) as u64 > limit {
            return Err(crate::errno::Errno::EFBIG);
        }
        if file.pwrite(buf, at as i64)? != buf.len() {
            return Err(crate::errno::Errno::EIO);
        }
        Ok(())
    };
    emit(&head, 0)?;
    let mut at = data_start;
    for v in &vmas {
        let mut addr = v.start;
        while addr < v.start + v.dump {
            // A mapping may be terabytes of holes (MAP_NORESERVE): let others run, and
            // stop when killed (Linux: dump_user_range's cond_resched, dump_interrupted).
            crate::sync::wait::cond_resched();
            if crate::sync::wait::fatal_signal_pending() {
                return Err(crate::errno::Errno::EINTR);
            }
            if let Some(page) = crate::mm::gup::get_dump_page(mm, addr) {
                // SAFETY: a page we hold a reference on, read through the linear map.
                let bytes = unsafe {
                    core::slice::from_raw_parts(
                        crate::mm::page::page_address(page) as *const u8,
                        PAGE_SIZE,
                    )
                };
                let r = emit(bytes, at);
                crate::mm::page::put_page(page);
                r?;
            }
            addr += PAGE_SIZE;
            at += PAGE_SIZE;
        }
    }
    if at as u64 > limit {
        return Err(crate::errno::Errno::EFBIG);
    }
    // Holes at the end still count in the size (Linux: dump_truncate).
    file.inode().setsize(at as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_picks_mappings_as_vma_dump_size_does() {
        let rw = VmFlags::VM_READ | VmFlags::VM_WRITE;
        let p = PAGE_SIZE;
        assert_eq!(vma_dump_size(rw, None, 0, true, 4 * p, 0x33), 4 * p);
        assert_eq!(vma_dump_size(rw, None, 0, true, 4 * p, 0x32), 0);
        assert_eq!(
            vma_dump_size(rw | VmFlags::VM_DONTDUMP, None, 0, true, 4 * p, 0x33),
            0
        );
        assert_eq!(
            vma_dump_size(rw | VmFlags::VM_IO, None, 0, true, p, 0x33),
            0
        );
    }
}

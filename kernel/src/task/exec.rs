//! Replacing a process's program: execve. Linux: `fs/exec.c` (`do_execveat_common`,
//! `bprm_execve`, `begin_new_exec` -> `exec_mmap`, `setup_new_exec`, `setup_arg_pages`,
//! `start_thread`) and `fs/binfmt_elf.c` (`load_elf_binary`, `elf_map`, `set_brk`,
//! `padzero`).
//!
//! The new program's segments are MAP_PRIVATE file mappings of the executable (so text
//! pages come from the page cache on first touch and data pages are copied on write),
//! .bss is anonymous memory, and the stack is a VM_GROWSDOWN VMA under STACK_TOP.
use super::binfmt_elf::{build_stack, parse_elf_headers, ElfInfo};
use super::{current, Task};
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{copy_to_user, get_user};
use crate::errno::{Errno, KResult};
use crate::mm::mm_types::MmStruct;
use crate::mm::mm_types::STACK_TOP;
use crate::mm::mmap::{
    vm_mmap, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE,
};
use crate::mm::mmap_lock::mmap_write_lock;
use crate::mm::vma::{MappedFile, VmArea, VmFlags};
use crate::syscall::SyscallArgs;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Initial stack VMA size (Linux grows the arg pages' VMA by 128 KiB in setup_arg_pages).
const STACK_INITIAL: usize = 128 * 1024;
/// Longest single argument or environment string (Linux: `MAX_ARG_STRLEN`, 32 pages).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Largest argv+envp (Linux: a quarter of the stack rlimit, here fixed at 2 MiB).
const ARG_MAX: usize = 2 << 20;
/// Largest executable we read the headers of (the segments are mapped, not copied).
const MAX_EXEC_FILE: u64 = 64 << 20;

/// Bytes of one page.
const PAGE: usize = crate::mm::PAGE_SIZE;

/// The signal-return trampoline every process gets (`mov x8, #139` (rt_sigreturn);
/// `svc #0`): a handler installed without SA_RESTORER, as glibc on arm64 installs them,
/// returns here. Linux arm64 puts the same two instructions in the vDSO
/// (`__kernel_rt_sigreturn`, arch/arm64/kernel/vdso/sigreturn.S); we have no vDSO.
pub const SIGTRAMP: [u8; 8] = [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];

fn page_up(x: usize) -> usize {
    (x + 0xfff) & !0xfff
}

/// Copy a NULL-terminated array of user strings (argv or envp). Linux: `copy_strings`.
fn copy_strings(mut ptr: usize, total: &mut usize) -> KResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if ptr == 0 {
        return Ok(out);
    }
    let nomem = |_| Errno::ENOMEM;
    let mut buf = [0u8; 256];
    loop {
        let s: usize = get_user(ptr)?;
        if s == 0 {
            return Ok(out);
        }
        let mut v: Vec<u8> = Vec::new();
        // Strings may be longer than one buffer: copy until the NUL.
        let mut at = s;
        loop {
            let n = crate::arch::aarch64::uaccess::strncpy_from_user(&mut buf, at);
            // The user chooses how much is copied: every allocation may fail (ENOMEM).
            match n {
                Ok(n) => {
                    v.try_reserve(n).map_err(nomem)?;
                    v.extend_from_slice(&buf[..n]);
                    break;
                }
                Err(Errno::ENAMETOOLONG) => {
                    v.try_reserve(buf.len()).map_err(nomem)?;
                    v.extend_from_slice(&buf[..buf.len()]);
                    at += buf.len();
                }
                Err(e) => return Err(e),
            }
            if v.len() >= MAX_ARG_STRLEN {
                return Err(Errno::E2BIG);
            }
        }
        *total += v.len() + 1 + 8;
        if *total > ARG_MAX {
            return Err(Errno::E2BIG);
        }
        out.try_reserve(1).map_err(nomem)?;
        out.push(v);
        ptr += 8;
    }
}

/// execve(2). Linux: `do_execveat_common`.
pub fn sys_execve(a: SyscallArgs, regs: &mut PtRegs) -> KResult<usize> {
    let path = crate::fs::sys::getname(a.0[0], false)?;
    let mut total = 0;
    let argv = copy_strings(a.0[1], &mut total)?;
    let envp = copy_strings(a.0[2], &mut total)?;
    do_execve(&path, &argv, &envp, regs)?;
    Ok(0) // x0 of the new program: regs.regs[0] is overwritten below anyway
}

/// Read and check the executable: ENOENT/EACCES (no x bit, or not a regular file),
/// ENOEXEC. Returns the file and its parsed headers.
fn open_exec(task: &Task, path: &str) -> KResult<(Arc<crate::fs::file::File>, ElfInfo)> {
    let cwd = task.cwd.lock().clone();
    let file = crate::fs::open::do_filp_open(&cwd, path, crate::fs::O_RDONLY, 0)?;
    let attr = file.inode().attr();
    if !crate::fs::inode::s_isreg(attr.i_mode()) {
        return Err(Errno::EACCES);
    }
    crate::fs::namei::inode_permission(file.inode().as_ref(), crate::fs::namei::MAY_EXEC)?;
    let size = attr.size();
    if size > MAX_EXEC_FILE {
        return Err(Errno::ENOEXEC);
    }
    // Only the headers are read, as Linux reads BINPRM_BUF_SIZE and then the program
    // headers (`load_elf_phdrs`); the segments are mapped through the page cache. (Reading
    // the whole file into the heap made a large executable an allocation failure.)
    let mut ehdr = [0u8; 64];
    let got = read_full(&file, &mut ehdr, 0)?;
    if got < ehdr.len() {
        return Err(Errno::ENOEXEC);
    }
    let phoff = u64::from_le_bytes(ehdr[0x20..0x28].try_into().unwrap_or_default());
    let phentsize = u16::from_le_bytes([ehdr[0x36], ehdr[0x37]]) as u64;
    let phnum = u16::from_le_bytes([ehdr[0x38], ehdr[0x39]]) as u64;
    let phsize = phentsize * phnum;
    // Linux's load_elf_phdrs: at most one page of program headers.
    if phsize == 0 || phsize > 4096 {
        return Err(Errno::ENOEXEC);
    }
    let need = phoff
        .checked_add(phsize)
        .filter(|&e| e <= size)
        .ok_or(Errno::ENOEXEC)?
        .max(64) as usize;
    let mut head = Vec::new();
    head.try_reserve_exact(need).map_err(|_| Errno::ENOMEM)?;
    head.resize(need, 0);
    if read_full(&file, &mut head, 0)? < need {
        return Err(Errno::ENOEXEC);
    }
    let info = parse_elf_headers(&head, size)?;
    Ok((file, info))
}

/// The strings as slices, in a vector that may fail to allocate (ENOMEM): user space
/// chooses how many there are.
fn as_slices(list: &[Vec<u8>]) -> KResult<Vec<&[u8]>> {
    let mut v = Vec::new();
    v.try_reserve_exact(list.len()).map_err(|_| Errno::ENOMEM)?;
    v.extend(list.iter().map(|s| s.as_slice()));
    Ok(v)
}

/// pread until `buf` is full or the file ends; the bytes read.
fn read_full(file: &crate::fs::file::File, buf: &mut [u8], off: usize) -> KResult<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = file.pread(&mut buf[got..], (off + got) as i64)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

/// Load `path` into a fresh address space and make the current task run it when it
/// returns to user space. Errors before the old mm is dropped leave the caller intact;
/// after that point (out of memory mapping the new one) the task is killed, as Linux
/// does past `begin_new_exec`'s point of no return.
#[no_mangle]
#[inline(never)]
pub fn do_execve(path: &str, argv: &[Vec<u8>], envp: &[Vec<u8>], regs: &mut PtRegs) -> KResult<()> {
    let task = current().ok_or(Errno::ESRCH)?;
    let (file, info) = open_exec(&task, path)?;
    let mm = MmStruct::new()?;
    let mapped: Arc<dyn MappedFile> = Arc::new(crate::fs::file_mmap::FileMapping::new(file));
    let (argv_s, envp_s) = (as_slices(argv)?, as_slices(envp)?);
    let cred = *task.cred.lock();
    let random = {
        let t = crate::arch::cpu::read_cntvct();
        let mut r = [0u8; 16];
        for (i, b) in r.iter_mut().enumerate() {
            *b = (t >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(0x9d);
        }
        r
    };
    let stack = build_stack(
        STACK_TOP,
        path.as_bytes(),
        &argv_s,
        &envp_s,
        &info,
        [
            cred.uid as usize,
            cred.euid as usize,
            cred.gid as usize,
            cred.egid as usize,
        ],
        random,
        ARG_MAX,
    )?;

    // Build the new mm's VMAs (nothing is touched yet: pages come on first access).
    let mut tails = Vec::new();
    {
        super::sync_mm_limits(&task, &mm);
        // setup_new_exec: the layout follows the task's RLIMIT_STACK (unlimited: legacy).
        crate::mm::mm_types::arch_pick_mmap_layout(&mut mmap_write_lock(&mm));
        let (mut start_code, mut end_code, mut start_data, mut end_data, mut bss_end) =
            (usize::MAX, 0, usize::MAX, 0, 0);
        for seg in &info.segments {
            let prot = (if seg.read { PROT_READ } else { 0 })
                | (if seg.write { PROT_WRITE } else { 0 })
                | (if seg.exec { PROT_EXEC } else { 0 });
            let map_start = seg.vaddr & !0xfff;
            let file_end = seg.vaddr + seg.filesz;
            if seg.filesz > 0 {
                let off = seg.offset - (seg.vaddr - map_start);
                vm_mmap(
                    &mm,
                    Some(mapped.clone()),
                    map_start,
                    page_up(file_end) - map_start,
                    prot,
                    MAP_PRIVATE | MAP_FIXED,
                    off,
                )?;
                if file_end & 0xfff != 0 && seg.memsz > seg.filesz {
                    tails.push((file_end, page_up(file_end) - file_end)); // padzero
                }
            }
            let mem_end = page_up(seg.vaddr + seg.memsz);
            let anon_start = if seg.filesz > 0 {
                page_up(file_end)
            } else {
                map_start
            };
            if mem_end > anon_start {
                vm_mmap(
                    &mm,
                    None,
                    anon_start,
                    mem_end - anon_start,
                    prot,
                    MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
                    0,
                )?;
            }
            if seg.exec {
                start_code = start_code.min(seg.vaddr);
                end_code = end_code.max(file_end);
            } else {
                start_data = start_data.min(seg.vaddr);
                end_data = end_data.max(file_end);
            }
            bss_end = bss_end.max(seg.vaddr + seg.memsz);
        }
        let mut pt = mm.pagetables();
        let mut m = mmap_write_lock(&mm);
        m.start_code = if start_code == usize::MAX {
            0
        } else {
            start_code
        };
        m.end_code = end_code;
        m.start_data = if start_data == usize::MAX {
            0
        } else {
            start_data
        };
        m.end_data = end_data;
        m.start_brk = page_up(bss_end);
        m.brk = m.start_brk;
        // setup_arg_pages: the stack VMA, big enough for the arguments plus 128 KiB.
        let stack_start = (stack.base & !0xfff).saturating_sub(STACK_INITIAL);
        let stack_vma = VmArea::new(stack_start, STACK_TOP, VmFlags::VM_STACK_FLAGS);
        crate::mm::mmap::insert_vm_struct(&mut m, &mut pt, stack_vma)?;
        crate::mm::mmap::vm_stat_account(
            &mut m,
            VmFlags::VM_STACK_FLAGS,
            ((STACK_TOP - stack_start) >> 12) as isize,
        );
        m.start_stack = stack.sp;
        // The signal-return trampoline's page, below the mmap base (see SIGTRAMP).
        let sigpage = crate::mm::mmap::get_unmapped_area(&m, None, 0, PAGE, 0, 0)?;
        let tramp = VmArea::new(
            sigpage,
            sigpage + PAGE,
            VmFlags::VM_READ
                | VmFlags::VM_EXEC
                | VmFlags::VM_MAYREAD
                | VmFlags::VM_MAYWRITE
                | VmFlags::VM_MAYEXEC,
        );
        crate::mm::mmap::insert_vm_struct(&mut m, &mut pt, tramp)?;
        crate::mm::mmap::vm_stat_account(&mut m, VmFlags::VM_READ | VmFlags::VM_EXEC, 1);
        m.sigpage = sigpage;
        m.arg_start = stack.arg_start;
        m.arg_end = stack.arg_start + argv.iter().map(|a| a.len() + 1).sum::<usize>();
        m.env_start = m.arg_end;
        m.env_end = stack.env_end;
    }

    let files_copy = unshare_files_prepare(&task)?;
    // Point of no return (Linux: begin_new_exec -> de_thread, exec_mmap): the other
    // threads go, the old mm is released (a vfork parent goes on), the new one goes in.
    de_thread(&task)?;
    unshare_files_commit(&task, files_copy);
    // Two statements: `task.mm`'s guard must be gone before mm_release, which reads the
    // robust list through the task's mm again.
    let old_mm = task.mm.lock().clone();
    if let Some(old_mm) = old_mm {
        super::fork::mm_release(&task, &old_mm);
    }
    let old = task.set_mm(Some(mm.clone()));
    crate::mm::mmu_context::switch_mm(&mm);
    drop(old);
    task.files.lock().close_on_exec();
    super::flush_thread(&task);
    task.sighand().flush_signal_handlers();
    // Linux: begin_new_exec: the new program starts without an alternate stack.
    task.signal.lock().thread.altstack.sas_ss_reset();
    let name = path.rsplit('/').next().unwrap_or(path);
    task.set_comm(name);
    // Linux: begin_new_exec -> commit_creds of cap_bprm_creds_from_file's set.
    task.cred.lock().exec_caps();
    task.did_exec
        .store(true, core::sync::atomic::Ordering::Relaxed);

    // Fill the stack and zero the partial pages after each segment's file data.
    let zeros = [0u8; 4096];
    let fill = || -> KResult<()> {
        for (at, len) in &tails {
            copy_to_user(*at, &zeros[..*len])?;
        }
        // The trampoline goes into its read-only page the way a debugger writes code:
        // a forced write, which gives the process its own copy of the page.
        let at = crate::mm::mmap_lock::mmap_read_lock(&mm).sigpage;
        let mut code = SIGTRAMP;
        let forced = crate::mm::gup::FollFlags::FOLL_WRITE | crate::mm::gup::FollFlags::FOLL_FORCE;
        if crate::mm::memory::access_remote_vm(&mm, at, &mut code, forced) != code.len() {
            return Err(Errno::EFAULT);
        }
        copy_to_user(stack.base, &stack.bytes)
    };
    if fill().is_err() {
        super::exit::do_exit(crate::task::signal::SIGSEGV as i32);
    }
    // start_thread: a clean register file at the entry point, EL0t, interrupts on.
    *regs = PtRegs {
        regs: [0; 31],
        sp: stack.sp as u64,
        pc: info.entry as u64,
        pstate: 0,
        esr: 0,
        far: 0,
        orig_x0: 0,
        syscallno: crate::arch::aarch64::traps::NO_SYSCALL,
        stackframe: [0; 2],
    };
    Ok(())
}

/// Make the exec'ing thread the only one of its process: SIGKILL to the others, then
/// wait (killably) until they are gone. EAGAIN when the group is already exiting.
/// A thread that is not the leader then becomes the leader: it takes the leader's pid
/// (so getpid() == gettid() afterwards, and the parent's wait4 sees the pid it forked),
/// and the old leader, a zombie by now, is released under the thread's old tid; the new
/// leader's exit signal is SIGCHLD, as Linux sets it. Finally the signal actions, if
/// another process still shares them (CLONE_SIGHAND without CLONE_THREAD), are copied,
/// so the handler reset at exec stays ours. Linux: `de_thread` (`zap_other_threads`,
/// `exchange_tids`, `transfer_pid`, `release_task(leader)`, the `newsighand` copy; 6.x
/// moved that copy into `unshare_sighand`).
#[no_mangle]
#[inline(never)]
pub fn de_thread(task: &Arc<Task>) -> KResult<()> {
    use core::sync::atomic::Ordering;
    if task.sig.live.load(Ordering::SeqCst) > 1 {
        if task.sig.signal_group_exit() {
            return Err(Errno::EAGAIN);
        }
        task.sig.group_exec_task.store(task.pid(), Ordering::SeqCst);
        super::signal::zap_other_threads(task);
        loop {
            // The others exit on their way back to user space; a thread other than the
            // leader leaves the group's list as it exits, the leader stays as a zombie.
            let alive = super::find_thread(task, |t| {
                !core::ptr::eq(t, &**task)
                    && !matches!(t.state(), super::TaskState::Zombie | super::TaskState::Dead)
            });
            if alive.is_none() {
                break;
            }
            drop(alive);
            if super::signal::fatal_signal_pending() {
                task.sig.group_exec_task.store(0, Ordering::SeqCst);
                return Err(Errno::EAGAIN);
            }
            let tick = crate::kernel::hrtimer::ktime_get_ns() + 1_000_000;
            crate::kernel::hrtimer::schedule_hrtimeout(
                tick,
                crate::sync::wait::SleepState::Killable,
            )
            .ok();
        }
        task.sig.group_exec_task.store(0, Ordering::SeqCst);
    }
    if task.pid() != task.tgid {
        // Become the leader under its pid; the old leader, a zombie, takes our tid and
        // is released (nobody waits for a thread). The parent's wait4 now finds us.
        if let Some(leader) = super::find_task(task.tgid) {
            super::exchange_tids(task, &leader);
            task.set_exit_signal(super::signal::SIGCHLD);
            leader.set_exit_signal(0);
            super::release_task(leader.pid());
            crate::kernel::trace::ftrace_graph_set_pid(task.pid());
        }
    }
    // unshare_sighand: the other users of the actions were threads that are gone now,
    // or another process.
    let sighand = task.sighand();
    if sighand.count.load(Ordering::SeqCst) > 1 {
        task.set_sighand(Arc::new(sighand.copy()));
        sighand.count.fetch_sub(1, Ordering::SeqCst);
    }
    Ok(())
}

/// Give exec a descriptor table of its own when another task shares it (CLONE_FILES):
/// the copy, made before the point of no return so a failure is ENOMEM and nothing
/// else; None when the table is not shared. Linux: `unshare_files` at the start of
/// `bprm_execve` (`unshare_fd` -> `dup_fd`).
fn unshare_files_prepare(task: &Task) -> KResult<Option<super::files::FilesRef>> {
    let files = task.files.lock();
    if !files.is_shared() {
        return Ok(None);
    }
    let copy = files.try_clone().ok_or(Errno::ENOMEM)?;
    drop(files);
    Ok(Some(Arc::new(crate::sync::SpinLockIrq::new(copy))))
}

/// Install the copy `unshare_files_prepare` made if the table is still shared once the
/// other threads are gone (their exits put their uses of it), and leave the old one
/// (Linux: `reset_files_struct` / `put_files_struct(displaced)`).
fn unshare_files_commit(task: &Task, copy: Option<super::files::FilesRef>) {
    let Some(copy) = copy else { return };
    if !task.files.lock().is_shared() {
        return;
    }
    let old = task.files.replace(copy);
    old.lock().put();
}

/// Run `path` from a kernel thread: on success the thread returns to user space as that
/// program (Linux: `kernel_execve` from `run_init_process`).
pub fn kernel_execve(path: &str, argv: &[&str], envp: &[&str]) -> KResult<()> {
    let task = current().ok_or(Errno::ESRCH)?;
    let regs = (task.kstack_top() - core::mem::size_of::<PtRegs>()) as *mut PtRegs;
    let argv: Vec<Vec<u8>> = argv.iter().map(|s| Vec::from(s.as_bytes())).collect();
    let envp: Vec<Vec<u8>> = envp.iter().map(|s| Vec::from(s.as_bytes())).collect();
    // SAFETY: the pt_regs slot at the top of our own kernel stack.
    do_execve(path, &argv, &envp, unsafe { &mut *regs })
}

/// The program name of a path, for messages.
pub fn basename(path: &str) -> String {
    String::from(path.rsplit('/').next().unwrap_or(path))
}

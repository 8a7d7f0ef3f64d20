//! The arm64 signal frame: what a handler finds on its stack, and `rt_sigreturn`, which
//! puts everything back. Linux: `arch/arm64/kernel/signal.c` (`struct rt_sigframe`,
//! `get_sigframe`, `setup_sigframe`, `setup_return`, `setup_rt_frame`,
//! `restore_sigframe`, `sys_rt_sigreturn`, `handle_signal`, `do_signal`),
//! `arch/arm64/include/uapi/asm/sigcontext.h`, `include/uapi/asm-generic/ucontext.h`,
//! `siginfo.h`.
//!
//! `do_signal` runs on every return to user space with a signal pending or a restart code
//! in x0: it decides whether the interrupted system call is restarted (back to the `svc`
//! with x0 = `orig_x0`; x8 = restart_syscall for ERESTART_RESTARTBLOCK) or fails with
//! EINTR, then enters a handler, on the alternate stack for SA_ONSTACK (`sigsp`).
//!
//! The frame, from the handler's sp upwards: `siginfo_t` (128 bytes), then `ucontext_t`
//! whose `uc_mcontext` is the `sigcontext` (x0-x30, sp, pc, pstate, fault_address) with a
//! 4 KiB `__reserved` area of records: `fpsimd_context` (FPSR, FPCR, q0-q31), an
//! `esr_context` after a fault, then a zero terminator. Above the frame sits a frame
//! record {x29, x30} so a debugger's backtrace walks from the handler into the
//! interrupted code. The handler is entered with x0 = signal, x1 = &siginfo, x2 = &uc
//! (SA_SIGINFO), x29 = the frame record, x30 = `sa_restorer`, which calls rt_sigreturn.
use super::traps::PtRegs;
use super::uaccess::{access_ok, copy_from_user, copy_to_user};
use crate::arch::cpu;
use crate::errno::{Errno, KResult};
use crate::task::signal::{
    KSigaction, KSiginfo, SigAltStack, MINSIGSTKSZ, SA_RESTART, SA_RESTORER, SA_SIGINFO,
};
use alloc::boxed::Box;
use core::mem::{offset_of, size_of};

/// `siginfo_t` as arm64 user space sees it (128 bytes). The union after the first three
/// ints starts at offset 16: {si_pid, si_uid} for kill, si_addr for a fault.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Siginfo {
    /// Signal number.
    pub si_signo: i32,
    /// An errno value (unused: 0).
    pub si_errno: i32,
    /// SI_USER, SEGV_MAPERR, ...
    pub si_code: i32,
    /// Padding before the 8-byte aligned union.
    pub _pad: i32,
    /// The union `_sifields`, as 8-byte words.
    pub sifields: [u64; 14],
}

/// `stack_t` (sigaltstack's description of a stack).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StackT {
    /// Base.
    pub ss_sp: u64,
    /// SS_DISABLE, SS_ONSTACK.
    pub ss_flags: i32,
    /// Padding.
    pub _pad: i32,
    /// Size.
    pub ss_size: u64,
}

/// Size of `sigcontext.__reserved`, where the records go.
pub const SIGCONTEXT_RESERVED: usize = 4096;

/// `struct sigcontext` (arm64 uapi): the interrupted registers.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Sigcontext {
    /// FAR of the last fault.
    pub fault_address: u64,
    /// x0..x30.
    pub regs: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    /// Where to resume.
    pub pc: u64,
    /// SPSR: NZCV and the rest of PSTATE.
    pub pstate: u64,
    /// Padding: `__reserved` is 16-byte aligned.
    pub _pad: u64,
    /// Records: `fpsimd_context`, `esr_context`, ..., terminated by a zero header.
    pub reserved: [u8; SIGCONTEXT_RESERVED],
}

/// `struct ucontext` (asm-generic uapi): arm64 keeps glibc's 1024-bit sigset room.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Ucontext {
    /// Flags (0).
    pub uc_flags: u64,
    /// Next context (NULL).
    pub uc_link: u64,
    /// The signal stack in use (`__save_altstack`).
    pub uc_stack: StackT,
    /// The blocked mask to restore at sigreturn.
    pub uc_sigmask: u64,
    /// Room for a 1024-bit sigset_t.
    pub _unused: [u8; 120],
    /// Padding: `uc_mcontext` is 16-byte aligned.
    pub _pad: u64,
    /// The registers.
    pub uc_mcontext: Sigcontext,
}

/// `struct rt_sigframe`: what sits at the handler's sp.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct RtSigframe {
    /// For SA_SIGINFO handlers (x1).
    pub info: Siginfo,
    /// x2.
    pub uc: Ucontext,
}

// The uapi layout, checked (and: no implicit padding, so the bytes are all initialised).
const _: () = assert!(size_of::<Siginfo>() == 128);
const _: () = assert!(size_of::<StackT>() == 24);
const _: () = assert!(offset_of!(Sigcontext, regs) == 8);
const _: () = assert!(offset_of!(Sigcontext, sp) == 256);
const _: () = assert!(offset_of!(Sigcontext, pstate) == 272);
const _: () = assert!(offset_of!(Sigcontext, reserved) == 288);
const _: () = assert!(size_of::<Sigcontext>() == 288 + SIGCONTEXT_RESERVED);
const _: () = assert!(offset_of!(Ucontext, uc_sigmask) == 40);
const _: () = assert!(offset_of!(Ucontext, uc_mcontext) == 176);
const _: () = assert!(size_of::<Ucontext>() == 176 + size_of::<Sigcontext>());
const _: () = assert!(offset_of!(RtSigframe, uc) == 128);
const _: () = assert!(size_of::<RtSigframe>() == 128 + size_of::<Ucontext>());

/// `_aarch64_ctx.magic` of the FP/SIMD record.
pub const FPSIMD_MAGIC: u32 = 0x4650_8001;
/// Size of `struct fpsimd_context`: header, fpsr, fpcr, 32 q registers.
pub const FPSIMD_CONTEXT_SIZE: u32 = 8 + 4 + 4 + 32 * 16;
/// `_aarch64_ctx.magic` of the fault-syndrome record.
pub const ESR_MAGIC: u32 = 0x4553_5201;
/// Size of `struct esr_context`.
pub const ESR_CONTEXT_SIZE: u32 = 16;

/// PSTATE bits (Arm ARM C5.2.18): the mode field, AArch32, and the D, A, I, F masks.
const PSR_MODE_MASK: u64 = 0xf;
const PSR_MODE32_BIT: u64 = 0x10;
const PSR_DAIF_MASK: u64 = 0x3c0;

/// Everything `setup_rt_frame` needs to know about the signal being delivered (Linux:
/// `struct ksignal` plus the blocked set and `current->thread`'s fault fields).
pub struct RtSigframeArgs {
    /// The signal.
    pub sig: u32,
    /// Its action (handler, flags, restorer).
    pub ka: KSigaction,
    /// Its siginfo.
    pub info: KSiginfo,
    /// The blocked mask before delivery: restored by rt_sigreturn.
    pub oldset: u64,
    /// `thread.fault_address`.
    pub fault_address: u64,
    /// `thread.fault_code` (ESR), 0 for none.
    pub fault_code: u64,
    /// The thread's alternate stack (`sas_ss_*`) as it was at delivery.
    pub altstack: SigAltStack,
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(buf[at..at + 4].try_into().unwrap())
}

/// A zeroed frame on the heap (4.7 KiB: too big for comfort on a 16 KiB kernel stack).
fn zeroed_frame() -> Box<RtSigframe> {
    // SAFETY: RtSigframe is integers and byte arrays only: all-zero is a valid value.
    unsafe { Box::<RtSigframe>::new_zeroed().assume_init() }
}

/// The frame's bytes.
fn frame_bytes(f: &mut RtSigframe) -> &mut [u8] {
    // SAFETY: RtSigframe has no implicit padding (the layout asserts above) and only
    // integer fields, so every byte is initialised and any byte pattern is valid.
    unsafe {
        core::slice::from_raw_parts_mut(f as *mut RtSigframe as *mut u8, size_of::<RtSigframe>())
    }
}

/// Lay out the siginfo user space sees (Linux: `copy_siginfo_to_user`).
fn siginfo_to_user(info: &KSiginfo) -> Siginfo {
    let mut s = Siginfo {
        si_signo: info.si_signo as i32,
        si_errno: 0,
        si_code: info.si_code,
        _pad: 0,
        sifields: [0; 14],
    };
    s.sifields[0] = if info.si_addr != 0 {
        info.si_addr
    } else {
        (info.si_pid as u32 as u64) | ((info.si_uid as u64) << 32)
    };
    // `_addr_lsb`, the short right after `_addr` (arm64 has no `_trapno` before it).
    s.sifields[1] = info.si_addr_lsb as u64;
    s
}

/// Write `info` to user memory at `uinfo` as a 128-byte `siginfo_t` (rt_sigtimedwait).
/// Linux: `copy_siginfo_to_user`.
pub fn copy_siginfo_to_user(uinfo: usize, info: &KSiginfo) -> KResult<()> {
    let s = siginfo_to_user(info);
    let mut b = [0u8; size_of::<Siginfo>()];
    put_u32(&mut b, 0, s.si_signo as u32);
    put_u32(&mut b, 4, s.si_errno as u32);
    put_u32(&mut b, 8, s.si_code as u32);
    for (i, w) in s.sifields.iter().enumerate() {
        put_u64(&mut b, 16 + 8 * i, *w);
    }
    copy_to_user(uinfo, &b)
}

/// Build the signal frame on the user stack and point `regs` at the handler. Linux:
/// `setup_rt_frame` -> `get_sigframe` (where), `setup_sigframe` (registers, mask, the
/// FP/SIMD and ESR records), `setup_return` (x0, sp, x29, pc, x30), and for SA_SIGINFO
/// the siginfo with x1/x2 pointing at it and the ucontext. Err(EFAULT) if the stack
/// cannot take the frame; the caller then forces SIGSEGV.
#[no_mangle]
#[inline(never)]
pub fn setup_rt_frame(a: &RtSigframeArgs, regs: &mut PtRegs) -> KResult<()> {
    // get_sigframe: the stack (the alternate one for SA_ONSTACK: sigsp), a frame record
    // below its top, the frame below that.
    let sp_top = a.altstack.sigsp(regs.sp, a.ka.sa_flags) as usize;
    let next_frame = (sp_top.checked_sub(16).ok_or(Errno::EFAULT)?) & !15;
    let frame = next_frame
        .checked_sub(size_of::<RtSigframe>())
        .ok_or(Errno::EFAULT)?
        & !15;
    if !access_ok(frame, sp_top - frame) {
        return Err(Errno::EFAULT);
    }

    let mut f = zeroed_frame();
    // __save_altstack: the stack as it was, judged from the interrupted sp.
    let (ss_sp, ss_flags, ss_size) = a.altstack.report(regs.sp);
    f.uc.uc_stack = StackT {
        ss_sp,
        ss_flags: ss_flags as i32,
        _pad: 0,
        ss_size,
    };
    f.uc.uc_sigmask = a.oldset;
    let mc = &mut f.uc.uc_mcontext;
    mc.fault_address = a.fault_address;
    mc.regs = regs.regs;
    mc.sp = regs.sp;
    mc.pc = regs.pc;
    mc.pstate = regs.pstate;
    // preserve_fpsimd_context: the live registers are this task's user state.
    let mut fp = cpu::FpsimdState::new();
    // SAFETY: `fp` is a live FpsimdState on our stack.
    unsafe { cpu::fpsimd_save(&mut fp) };
    let r = &mut mc.reserved;
    put_u32(r, 0, FPSIMD_MAGIC);
    put_u32(r, 4, FPSIMD_CONTEXT_SIZE);
    put_u32(r, 8, fp.fpsr);
    put_u32(r, 12, fp.fpcr);
    for (i, q) in fp.vregs.iter().enumerate() {
        r[16 + i * 16..32 + i * 16].copy_from_slice(&q.to_le_bytes());
    }
    let mut end = FPSIMD_CONTEXT_SIZE as usize;
    if a.fault_code != 0 {
        put_u32(r, end, ESR_MAGIC);
        put_u32(r, end + 4, ESR_CONTEXT_SIZE);
        put_u64(r, end + 8, a.fault_code);
        end += ESR_CONTEXT_SIZE as usize;
    }
    // The terminator: a zero header (already zero) at `end`.
    let _ = end;
    if a.ka.sa_flags & SA_SIGINFO != 0 {
        f.info = siginfo_to_user(&a.info);
    }
    copy_to_user(frame, frame_bytes(&mut f))?;
    let mut record = [0u8; 16];
    put_u64(&mut record, 0, regs.regs[29]);
    put_u64(&mut record, 8, regs.regs[30]);
    copy_to_user(next_frame, &record)?;

    // setup_return
    regs.regs[0] = a.sig as u64;
    regs.sp = frame as u64;
    regs.regs[29] = next_frame as u64;
    regs.pc = a.ka.sa_handler;
    // Without SA_RESTORER Linux returns through the vDSO's sigtramp; ours is the
    // trampoline page exec maps (task/exec.rs: SIGTRAMP, "[sigpage]").
    regs.regs[30] = if a.ka.sa_flags & SA_RESTORER != 0 {
        a.ka.sa_restorer
    } else {
        crate::task::current()
            .and_then(|t| t.mm.lock().clone())
            .map_or(0, |mm| {
                crate::mm::mmap_lock::mmap_read_lock(&mm).sigpage as u64
            })
    };
    if a.ka.sa_flags & SA_SIGINFO != 0 {
        regs.regs[1] = frame as u64;
        regs.regs[2] = (frame + offset_of!(RtSigframe, uc)) as u64;
    }
    Ok(())
}

/// Walk the `__reserved` records: the FP/SIMD one is required and restored, an ESR one
/// is skipped, anything else (SVE, extra) or a malformed list is an error. Linux:
/// `parse_user_sigframe` + `restore_fpsimd_context`.
fn restore_records(r: &[u8]) -> KResult<cpu::FpsimdState> {
    let mut off = 0;
    let mut fpsimd = None;
    loop {
        if off + 8 > r.len() {
            return Err(Errno::EINVAL);
        }
        let (magic, size) = (get_u32(r, off), get_u32(r, off + 4) as usize);
        match magic {
            0 if size == 0 => break,
            FPSIMD_MAGIC if size == FPSIMD_CONTEXT_SIZE as usize && fpsimd.is_none() => {
                let mut fp = cpu::FpsimdState::new();
                fp.fpsr = get_u32(r, off + 8);
                fp.fpcr = get_u32(r, off + 12);
                for (i, q) in fp.vregs.iter_mut().enumerate() {
                    let at = off + 16 + i * 16;
                    *q = u128::from_le_bytes(r[at..at + 16].try_into().unwrap());
                }
                fpsimd = Some(fp);
            }
            ESR_MAGIC if size == ESR_CONTEXT_SIZE as usize => {}
            _ => return Err(Errno::EINVAL),
        }
        if size < 8 || off + size > r.len() {
            return Err(Errno::EINVAL);
        }
        off += size;
    }
    fpsimd.ok_or(Errno::EINVAL)
}

/// Put back what `setup_rt_frame` saved: the blocked mask, the registers (refusing a
/// PSTATE that is not plain AArch64 EL0t with interrupts unmasked: Linux's
/// `valid_user_regs`) and the FP/SIMD registers. Linux: `restore_sigframe`.
fn restore_sigframe(regs: &mut PtRegs, frame: usize) -> KResult<StackT> {
    let mut f = zeroed_frame();
    copy_from_user(frame_bytes(&mut f), frame)?;
    // The registers are about to be replaced: this is no longer a system call whose
    // result could be restarted (Linux: `forget_syscall`).
    regs.forget_syscall();
    let mc = &f.uc.uc_mcontext;
    let pstate = mc.pstate;
    if pstate & (PSR_MODE_MASK | PSR_MODE32_BIT | PSR_DAIF_MASK) != 0 {
        return Err(Errno::EINVAL);
    }
    let fp = restore_records(&mc.reserved)?;
    crate::task::signal::set_current_blocked(f.uc.uc_sigmask);
    regs.regs = mc.regs;
    regs.sp = mc.sp;
    regs.pc = mc.pc;
    regs.pstate = pstate;
    // SAFETY: `fp` is a live FpsimdState; the registers hold only this task's user state.
    unsafe { cpu::fpsimd_load(&fp) };
    Ok(f.uc.uc_stack)
}

/// Put back the alternate stack a handler's frame recorded (it may have been disarmed by
/// SS_AUTODISARM, or changed by the handler). Errors other than a bad frame are ignored,
/// as Linux's are: returning from a nested handler onto the alternate stack finds it in
/// use (EPERM) and leaves it as it is. Linux: `restore_altstack`.
fn restore_altstack(uss: &StackT, sp: u64) {
    crate::task::signal::with_altstack(|alt| {
        let _ = alt.do_sigaltstack(uss.ss_sp, uss.ss_flags as u32, uss.ss_size, sp, MINSIGSTKSZ);
    });
}

/// rt_sigreturn(2), reached from the handler's `sa_restorer` with sp back at the frame:
/// restore the interrupted context. A misaligned sp or a bad frame is SIGSEGV. Returns
/// the restored x0, so the system-call return leaves it as it was. Linux:
/// `sys_rt_sigreturn` (badframe: `arm64_notify_segfault`).
#[no_mangle]
#[inline(never)]
pub fn sys_rt_sigreturn(_: crate::syscall::SyscallArgs, regs: &mut PtRegs) -> KResult<usize> {
    // Whatever was interrupted, restart_syscall(2) has nothing to continue from here.
    crate::task::signal::set_restart_block(crate::task::signal::RestartBlock::None);
    let frame = regs.sp as usize;
    let restored = if frame & 15 != 0 {
        Err(Errno::EFAULT)
    } else {
        restore_sigframe(regs, frame)
    };
    match restored {
        Ok(uss) => restore_altstack(&uss, regs.sp),
        Err(_) => {
            use crate::task::signal::{force_sig_fault, SEGV_MAPERR, SIGSEGV};
            regs.forget_syscall();
            force_sig_fault(SIGSEGV, SEGV_MAPERR, regs, "bad rt_sigreturn frame");
            return Ok(0);
        }
    }
    Ok(regs.regs[0] as usize)
}

/// What becomes of a system call that returned restart code `code` (Linux's rules in
/// arm64 `do_signal`, man 7 signal "Interruption of system calls").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallRestart {
    /// Execute the `svc` again with the original arguments.
    Restart,
    /// Execute restart_syscall(2) instead, which continues from the `restart_block`.
    RestartBlock,
    /// Fail the call with EINTR.
    Eintr,
}

/// Decide for `code` when a handler with `sa_flags` is about to run (`Some`) or no
/// handler runs (`None`: no deliverable signal, or it was ignored). With a handler:
/// ERESTARTNOINTR always restarts, ERESTARTSYS restarts only under SA_RESTART, and
/// ERESTARTNOHAND and ERESTART_RESTARTBLOCK become EINTR (nanosleep, pause-like calls
/// are never restarted after a handler). Without one, everything restarts.
pub fn syscall_restart(code: Errno, handler_flags: Option<u64>) -> SyscallRestart {
    match (code, handler_flags) {
        (Errno::ERESTART_RESTARTBLOCK, None) => SyscallRestart::RestartBlock,
        (_, None) | (Errno::ERESTARTNOINTR, Some(_)) => SyscallRestart::Restart,
        (Errno::ERESTARTSYS, Some(f)) if f & SA_RESTART != 0 => SyscallRestart::Restart,
        _ => SyscallRestart::Eintr,
    }
}

/// restart_syscall(2)'s number (asm-generic `__NR_restart_syscall`).
pub const NR_RESTART_SYSCALL: u64 = 128;

/// Enter the handler for `ksig`: build its frame (on the alternate stack for SA_ONSTACK),
/// disarm an SS_AUTODISARM stack, and block what the action asks. Linux:
/// `handle_signal` (`setup_rt_frame`, `signal_setup_done`).
#[no_mangle]
#[inline(never)]
pub fn handle_signal(ksig: &crate::task::signal::KSignal, regs: &mut PtRegs) {
    let Some(task) = crate::task::current() else {
        return;
    };
    let frame = {
        let st = task.signal.lock();
        RtSigframeArgs {
            sig: ksig.sig,
            ka: ksig.ka,
            info: ksig.info,
            oldset: crate::task::signal::sigmask_to_save(&st),
            fault_address: st.fault_address,
            fault_code: st.fault_code,
            altstack: st.thread.altstack,
        }
    };
    drop(task);
    let failed = setup_rt_frame(&frame, regs).is_err();
    if !failed && frame.altstack.sas_ss_flags & crate::task::signal::SS_AUTODISARM != 0 {
        crate::task::signal::with_altstack(|alt| alt.sas_ss_reset());
    }
    crate::task::signal::signal_setup_done(failed, ksig);
}

/// Act on the way back to user space (called while a signal is pending, or a system call
/// left a restart code in x0): settle an interrupted system call, then run the next
/// handler, one per call; the return-to-user loop calls again while more are pending,
/// so handlers nest as in Linux. A restart code never reaches user space: with a handler
/// the call restarts or fails with EINTR (`syscall_restart`); without one it restarts,
/// through restart_syscall(2) for ERESTART_RESTARTBLOCK, and a mask a system call
/// replaced is put back. Linux: arm64 `do_signal` (`forget_syscall`, `get_signal`,
/// `handle_signal`, `setup_restart_syscall`, `restore_saved_sigmask`).
#[no_mangle]
#[inline(never)]
pub fn do_signal(regs: &mut PtRegs) {
    let code = if regs.in_syscall() {
        Errno::restart_from_ret(regs.regs[0])
    } else {
        None
    };
    // Decide once: a later call of this loop (another signal) must not restart again.
    regs.forget_syscall();
    let continue_addr = regs.pc;
    if code.is_some() {
        // Assume a restart; undone below if the handler's flags say EINTR. Done first so
        // that the frame of a handler under SA_RESTART returns to the `svc`.
        regs.regs[0] = regs.orig_x0;
        regs.pc = continue_addr - 4;
    }
    if let Some(ksig) = crate::task::signal::get_signal() {
        if let Some(c) = code {
            if syscall_restart(c, Some(ksig.ka.sa_flags)) == SyscallRestart::Eintr {
                regs.regs[0] = Errno::EINTR.as_ret() as u64;
                regs.pc = continue_addr;
            }
        }
        handle_signal(&ksig, regs);
        return;
    }
    if let Some(c) = code {
        if syscall_restart(c, None) == SyscallRestart::RestartBlock {
            regs.regs[8] = NR_RESTART_SYSCALL;
        }
    }
    crate::task::signal::restore_saved_sigmask();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_records_wants_an_fpsimd_record_and_a_terminator() {
        let mut r = [0u8; SIGCONTEXT_RESERVED];
        assert!(restore_records(&r).is_err(), "no FP/SIMD record");
        put_u32(&mut r, 0, FPSIMD_MAGIC);
        put_u32(&mut r, 4, FPSIMD_CONTEXT_SIZE);
        put_u32(&mut r, 8, 0x1234);
        r[16] = 0xaa;
        let fp = restore_records(&r).unwrap();
        assert_eq!(fp.fpsr, 0x1234);
        assert_eq!(fp.vregs[0], 0xaa);
        // An ESR record after it is fine; an unknown magic is not.
        put_u32(&mut r, 528, ESR_MAGIC);
        put_u32(&mut r, 532, ESR_CONTEXT_SIZE);
        assert!(restore_records(&r).is_ok());
        put_u32(&mut r, 544, 0x5356_4501); // SVE_MAGIC
        put_u32(&mut r, 548, 16);
        assert!(restore_records(&r).is_err());
    }

    #[test]
    fn restart_rules_follow_man_7_signal() {
        use SyscallRestart::*;
        let none = None;
        let plain = Some(0);
        let restart = Some(SA_RESTART);
        // No handler runs: always restarted; a restart block through restart_syscall.
        assert_eq!(syscall_restart(Errno::ERESTARTSYS, none), Restart);
        assert_eq!(syscall_restart(Errno::ERESTARTNOHAND, none), Restart);
        assert_eq!(syscall_restart(Errno::ERESTARTNOINTR, none), Restart);
        assert_eq!(
            syscall_restart(Errno::ERESTART_RESTARTBLOCK, none),
            RestartBlock
        );
        // A handler: only SA_RESTART restarts ERESTARTSYS; NOINTR always restarts.
        assert_eq!(syscall_restart(Errno::ERESTARTSYS, plain), Eintr);
        assert_eq!(syscall_restart(Errno::ERESTARTSYS, restart), Restart);
        assert_eq!(syscall_restart(Errno::ERESTARTNOINTR, plain), Restart);
        // pause-like calls and nanosleep: EINTR after a handler, SA_RESTART or not.
        assert_eq!(syscall_restart(Errno::ERESTARTNOHAND, restart), Eintr);
        assert_eq!(
            syscall_restart(Errno::ERESTART_RESTARTBLOCK, restart),
            Eintr
        );
    }

    #[test]
    fn siginfo_puts_the_fault_address_at_offset_16() {
        let s = siginfo_to_user(&KSiginfo {
            si_signo: 11,
            si_code: 2,
            si_addr: 0x1234_5000,
            ..KSiginfo::default()
        });
        assert_eq!((s.si_signo, s.si_code, s.sifields[0]), (11, 2, 0x1234_5000));
        assert_eq!(offset_of!(Siginfo, sifields), 16);
        // A memory error's extent sits at offset 24 (`si_addr_lsb`).
        let s = siginfo_to_user(&KSiginfo {
            si_signo: 7,
            si_code: 4,
            si_addr: 0x1234_5000,
            si_addr_lsb: 12,
            ..KSiginfo::default()
        });
        assert_eq!((s.sifields[0], s.sifields[1]), (0x1234_5000, 12));
    }
}

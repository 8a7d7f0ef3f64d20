//! capget(2) and capset(2): the three capability sets of a task (Linux:
//! `kernel/capability.c`: `cap_validate_magic`, `sys_capget`, `sys_capset`;
//! `security/commoncap.c`: `cap_capset`). What libcap's `cap_get_proc` / `cap_set_proc`
//! call, and what a program uses to drop CAP_IPC_LOCK before testing RLIMIT_MEMLOCK.
use crate::arch::aarch64::traps::PtRegs;
use crate::arch::aarch64::uaccess::{copy_from_user, copy_to_user, get_user, put_user};
use crate::errno::{Errno, KResult};
use crate::syscall::SyscallArgs;
use crate::task::{current, find_task, CAP_FULL_SET};

/// `_LINUX_CAPABILITY_VERSION_1`: one 32-bit word per set.
const VERSION_1: u32 = 0x1998_0330;
/// `_LINUX_CAPABILITY_VERSION_2` (deprecated) and `_3`: two words per set.
const VERSION_2: u32 = 0x2007_1026;
/// The version this kernel prefers (Linux: `_KERNEL_CAPABILITY_VERSION`).
const VERSION_3: u32 = 0x2008_0522;

/// How many `struct __user_cap_data_struct` (effective, permitted, inheritable, each
/// u32) the header's version takes; EINVAL, after writing the preferred version back,
/// for an unknown one (Linux: `cap_validate_magic`).
fn cap_validate_magic(header: usize) -> KResult<usize> {
    let version: u32 = get_user(header)?;
    match version {
        VERSION_1 => Ok(1),
        VERSION_2 | VERSION_3 => Ok(2),
        _ => {
            put_user(header, VERSION_3)?;
            Err(Errno::EINVAL)
        }
    }
}

/// capget(2): `capget(hdrp, datap)`: the sets of `hdrp->pid` (0: the caller); ESRCH for
/// no such task, EINVAL for a negative pid or an unknown version (the preferred one is
/// written back; a NULL `datap` then just probes it). Linux: `sys_capget`.
pub fn sys_capget(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (header, data) = (a.0[0], a.0[1]);
    let words = match cap_validate_magic(header) {
        Ok(w) => w,
        Err(e) if data == 0 => return if e == Errno::EINVAL { Ok(0) } else { Err(e) },
        Err(e) => return Err(e),
    };
    let pid: i32 = get_user(header + 4)?;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if data == 0 {
        return Ok(0);
    }
    let t = if pid == 0 {
        current().ok_or(Errno::ESRCH)?
    } else {
        find_task(pid).ok_or(Errno::ESRCH)?
    };
    let c = *t.cred.lock();
    let mut out = [0u8; 24];
    for w in 0..words {
        let shift = 32 * w;
        let set = [c.cap_effective, c.cap_permitted, c.cap_inheritable];
        for (i, s) in set.iter().enumerate() {
            out[w * 12 + i * 4..w * 12 + i * 4 + 4]
                .copy_from_slice(&((s >> shift) as u32).to_le_bytes());
        }
    }
    copy_to_user(data, &out[..words * 12])?;
    Ok(0)
}

/// capset(2): change the caller's own sets (EPERM for another pid): the new permitted set
/// within the old one, the effective set within the new permitted one, the inheritable
/// set within the old inheritable and permitted ones (Linux: `sys_capset` ->
/// `cap_capset`, without CAP_SETPCAP's bounding-set case). EINVAL for an unknown version,
/// EFAULT.
pub fn sys_capset(a: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {
    let (header, data) = (a.0[0], a.0[1]);
    let words = cap_validate_magic(header)?;
    let pid: i32 = get_user(header + 4)?;
    let me = current().ok_or(Errno::ESRCH)?;
    if pid != 0 && pid != me.pid() {
        return Err(Errno::EPERM);
    }
    let mut raw = [0u8; 24];
    copy_from_user(&mut raw[..words * 12], data)?;
    let word = |w: usize, i: usize| {
        u32::from_le_bytes(raw[w * 12 + i * 4..w * 12 + i * 4 + 4].try_into().unwrap()) as u64
    };
    let set = |i: usize| (0..words).fold(0u64, |acc, w| acc | (word(w, i) << (32 * w)));
    let (eff, perm, inh) = (
        set(0) & CAP_FULL_SET,
        set(1) & CAP_FULL_SET,
        set(2) & CAP_FULL_SET,
    );
    let mut c = me.cred.lock();
    if perm & !c.cap_permitted != 0
        || eff & !perm != 0
        || inh & !(c.cap_inheritable | c.cap_permitted) != 0
    {
        return Err(Errno::EPERM);
    }
    c.cap_effective = eff;
    c.cap_permitted = perm;
    c.cap_inheritable = inh;
    Ok(0)
}

//! Changing an inode's attributes: who may chmod and chown, and what a change does.
//!
//! Linux: `fs/attr.c` (`setattr_prepare`, `setattr_copy`, `notify_change`,
//! `should_remove_suid`), `fs/inode.c` (`inode_owner_or_capable`, `inode_init_owner`),
//! `kernel/groups.c` (`in_group_p`) and `include/linux/cred.h` (`current_fsuid`).
//! Callers: `chmod_common` and `chown_common` in [`super::open`], and file systems
//! creating an inode ([`inode_init_owner`]).
//!
//! We have no capabilities apart from "euid 0" and no supplementary groups: CAP_FOWNER,
//! CAP_CHOWN and CAP_FSETID are all "root", and `in_group_p` compares with the effective
//! group id only. Linux checks the file system ids (fsuid/fsgid), which follow the
//! effective ids unless setfsuid(2) is used; we have no setfsuid, so they are the same.
use super::inode::{s_isdir, Inode, S_ISGID, S_ISUID, S_IXGRP};
use crate::errno::{Errno, KResult};
use crate::task::Cred;
use bitflags::bitflags;

bitflags! {
    /// Which fields of an [`Iattr`] to apply (Linux: `ia_valid`, `ATTR_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct AttrValid: u32 {
        /// Change the permission bits.
        const ATTR_MODE = 1 << 0;
        /// Change the owner.
        const ATTR_UID = 1 << 1;
        /// Change the group.
        const ATTR_GID = 1 << 2;
        /// Clear S_ISUID (chown of a non-directory).
        const ATTR_KILL_SUID = 1 << 11;
        /// Clear S_ISGID when group-executable (chown of a non-directory).
        const ATTR_KILL_SGID = 1 << 12;
    }
}

/// A requested attribute change (Linux: `struct iattr`, the fields we have).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iattr {
    /// What to change.
    pub ia_valid: AttrValid,
    /// New permission bits (with ATTR_MODE).
    pub ia_mode: u32,
    /// New owner (with ATTR_UID).
    pub ia_uid: u32,
    /// New group (with ATTR_GID).
    pub ia_gid: u32,
}

/// The calling task's credentials, or root's for kernel code without a task (boot, host
/// tests). Linux: `current_cred()`.
pub fn current_cred() -> Cred {
    crate::task::current().map_or_else(Cred::default, |t| *t.cred.lock())
}

/// Is `gid` one of the caller's groups (Linux: `in_group_p`: fsgid or a supplementary
/// group; we have no supplementary groups)?
pub fn in_group_p(cred: &Cred, gid: u32) -> bool {
    cred.egid == gid
}

/// Does the caller hold every capability (Linux: `capable(CAP_...)`)? Root does.
pub fn capable(cred: &Cred) -> bool {
    cred.euid == 0
}

/// May the caller act as the owner of `inode` (Linux: `inode_owner_or_capable`: fsuid
/// is the owner, or CAP_FOWNER)?
pub fn inode_owner_or_capable(cred: &Cred, inode: &dyn Inode) -> bool {
    cred.euid == inode.attr().i_uid() || capable(cred)
}

/// Owner and group of a new inode made by the caller in `dir` with `mode`; returns the
/// mode to use (a subdirectory of a set-group-id directory inherits S_ISGID). Linux:
/// `inode_init_owner`: the owner is the creator's fsuid; the group is the directory's
/// when it has S_ISGID, else the creator's fsgid.
#[no_mangle]
#[inline(never)]
pub fn inode_init_owner(inode: &dyn Inode, dir: Option<&dyn Inode>, mode: u32) -> u32 {
    let cred = current_cred();
    let mut mode = mode;
    let gid = match dir {
        Some(d) if d.attr().i_mode() & S_ISGID != 0 => {
            if s_isdir(mode) {
                mode |= S_ISGID;
            }
            d.attr().i_gid()
        }
        _ => cred.egid,
    };
    inode.attr().set_owner(cred.euid, gid);
    mode
}

/// May the caller make the change `attr` asks of `inode`? Linux: `setattr_prepare`:
/// changing the owner needs CAP_CHOWN unless the owner "changes" it to itself; changing
/// the group needs CAP_CHOWN unless the owner picks one of its own groups; changing the
/// mode needs ownership or CAP_FOWNER, and S_ISGID is silently dropped from the new mode
/// when the file's (new) group is not the caller's and it lacks CAP_FSETID. EPERM.
#[no_mangle]
#[inline(never)]
pub fn setattr_prepare(cred: &Cred, inode: &dyn Inode, attr: &mut Iattr) -> KResult<()> {
    let a = inode.attr();
    let v = attr.ia_valid;
    // chown_ok
    if v.contains(AttrValid::ATTR_UID)
        && !(cred.euid == a.i_uid() && attr.ia_uid == a.i_uid())
        && !capable(cred)
    {
        return Err(Errno::EPERM);
    }
    // chgrp_ok
    if v.contains(AttrValid::ATTR_GID)
        && !(cred.euid == a.i_uid() && (attr.ia_gid == a.i_gid() || in_group_p(cred, attr.ia_gid)))
        && !capable(cred)
    {
        return Err(Errno::EPERM);
    }
    if v.contains(AttrValid::ATTR_MODE) {
        if !inode_owner_or_capable(cred, inode) {
            return Err(Errno::EPERM);
        }
        let gid = if v.contains(AttrValid::ATTR_GID) {
            attr.ia_gid
        } else {
            a.i_gid()
        };
        if !in_group_p(cred, gid) && !capable(cred) {
            attr.ia_mode &= !S_ISGID;
        }
    }
    Ok(())
}

/// Copy the accepted change into the inode (Linux: `setattr_copy`, what
/// `simple_setattr` does for tmpfs and the default of [`Inode::setattr`]).
pub fn setattr_copy(a: &super::inode::InodeAttr, attr: &Iattr) {
    let v = attr.ia_valid;
    let uid = if v.contains(AttrValid::ATTR_UID) {
        attr.ia_uid
    } else {
        a.i_uid()
    };
    let gid = if v.contains(AttrValid::ATTR_GID) {
        attr.ia_gid
    } else {
        a.i_gid()
    };
    a.set_owner(uid, gid);
    if v.contains(AttrValid::ATTR_MODE) {
        a.set_mode(attr.ia_mode);
    }
    // Linux also sets ctime (ATTR_CTIME); our inodes keep no clock time yet.
}

/// Apply `attr` to `inode` for the caller: the read-only check, the S_ISUID/S_ISGID
/// clearing a chown asks for, the permission check, then the file system's `setattr`.
/// Linux: `notify_change` (after `mnt_want_write`'s EROFS in the callers; we keep it
/// here, one place for chmod and chown). In 5.10 the set-id bits go on every chown of a
/// non-directory, root's included (`ATTR_KILL_SUID` is set by `chown_common`, whoever
/// calls): that is why `chown root file` un-setuids a binary.
#[no_mangle]
#[inline(never)]
pub fn notify_change(inode: &dyn Inode, attr: &mut Iattr) -> KResult<()> {
    let a = inode.attr();
    if a.i_sb.s_rdonly {
        return Err(Errno::EROFS);
    }
    let mode = a.i_mode();
    if attr.ia_valid.contains(AttrValid::ATTR_KILL_SUID) && mode & S_ISUID != 0 {
        attr.ia_valid |= AttrValid::ATTR_MODE;
        attr.ia_mode = mode & !S_ISUID;
    }
    if attr.ia_valid.contains(AttrValid::ATTR_KILL_SGID)
        && mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP
    {
        if !attr.ia_valid.contains(AttrValid::ATTR_MODE) {
            attr.ia_valid |= AttrValid::ATTR_MODE;
            attr.ia_mode = mode;
        }
        attr.ia_mode &= !S_ISGID;
    }
    attr.ia_valid &= !(AttrValid::ATTR_KILL_SUID | AttrValid::ATTR_KILL_SGID);
    setattr_prepare(&current_cred(), inode, attr)?;
    inode.setattr(attr)
}

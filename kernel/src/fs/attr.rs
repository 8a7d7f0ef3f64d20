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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::inode::{S_IFDIR, S_IFREG};
    use crate::fs::namei::{generic_permission, MAY_EXEC, MAY_READ, MAY_WRITE};
    use crate::fs::tmpfs;
    use alloc::sync::Arc;

    fn cred(euid: u32, egid: u32) -> Cred {
        Cred {
            uid: euid,
            euid,
            suid: euid,
            gid: egid,
            egid,
            ..Cred::root()
        }
    }

    /// A tmpfs file with `mode` owned by `uid:gid` (built as root: no task on the host).
    fn file(mode: u32, uid: u32, gid: u32) -> Arc<dyn Inode> {
        let root = tmpfs::shmem_fill_super("tmpfs", 0o1777);
        let f = root.create("f", mode, 0).unwrap();
        f.attr().set_owner(uid, gid);
        f
    }

    fn chmod_as(c: &Cred, inode: &dyn Inode, mode: u32) -> KResult<u32> {
        let mut attr = Iattr {
            ia_valid: AttrValid::ATTR_MODE,
            ia_mode: mode,
            ia_uid: 0,
            ia_gid: 0,
        };
        setattr_prepare(c, inode, &mut attr)?;
        Ok(attr.ia_mode)
    }

    fn chown_as(c: &Cred, inode: &dyn Inode, uid: Option<u32>, gid: Option<u32>) -> KResult<()> {
        let mut attr = Iattr {
            ia_valid: AttrValid::empty(),
            ia_mode: 0,
            ia_uid: uid.unwrap_or(0),
            ia_gid: gid.unwrap_or(0),
        };
        if uid.is_some() {
            attr.ia_valid |= AttrValid::ATTR_UID;
        }
        if gid.is_some() {
            attr.ia_valid |= AttrValid::ATTR_GID;
        }
        setattr_prepare(c, inode, &mut attr)
    }

    #[test]
    fn generic_permission_picks_owner_then_group_then_other_class() {
        // 0640, owner 1000, group 50.
        let f = file(S_IFREG | 0o640, 1000, 50);
        let owner = cred(1000, 7);
        let member = cred(2000, 50);
        let other = cred(3000, 7);
        assert_eq!(
            generic_permission(&*f, MAY_READ | MAY_WRITE, &owner),
            Ok(())
        );
        assert_eq!(generic_permission(&*f, MAY_READ, &member), Ok(()));
        assert_eq!(
            generic_permission(&*f, MAY_WRITE, &member),
            Err(Errno::EACCES)
        );
        assert_eq!(
            generic_permission(&*f, MAY_READ, &other),
            Err(Errno::EACCES)
        );
        // The owner class decides for the owner even when "other" would allow more.
        f.attr().set_mode(0o047);
        assert_eq!(
            generic_permission(&*f, MAY_READ, &owner),
            Err(Errno::EACCES)
        );
        assert_eq!(generic_permission(&*f, MAY_READ, &other), Ok(()));
    }

    #[test]
    fn root_overrides_read_write_but_executes_only_with_an_x_bit() {
        let f = file(S_IFREG, 1000, 1000);
        let root = cred(0, 0);
        assert_eq!(generic_permission(&*f, MAY_READ | MAY_WRITE, &root), Ok(()));
        assert_eq!(generic_permission(&*f, MAY_EXEC, &root), Err(Errno::EACCES));
        f.attr().set_mode(0o001);
        assert_eq!(generic_permission(&*f, MAY_EXEC, &root), Ok(()));
        let d = file(S_IFDIR, 1000, 1000);
        assert_eq!(
            generic_permission(&*d, MAY_EXEC, &root),
            Ok(()),
            "search any dir"
        );
    }

    #[test]
    fn setattr_prepare_chmod_needs_owner_or_cap_fowner() {
        let f = file(S_IFREG | 0o644, 1000, 1000);
        assert_eq!(chmod_as(&cred(1001, 1000), &*f, 0o600), Err(Errno::EPERM));
        assert_eq!(chmod_as(&cred(1000, 1000), &*f, 0o600), Ok(0o600));
        assert_eq!(chmod_as(&cred(0, 0), &*f, 0o600), Ok(0o600));
    }

    #[test]
    fn setattr_prepare_drops_sgid_when_not_in_the_files_group() {
        let f = file(S_IFREG | 0o644, 1000, 50);
        assert_eq!(chmod_as(&cred(1000, 7), &*f, 0o2755), Ok(0o755));
        assert_eq!(chmod_as(&cred(1000, 50), &*f, 0o2755), Ok(0o2755));
        assert_eq!(chmod_as(&cred(0, 7), &*f, 0o2755), Ok(0o2755), "CAP_FSETID");
    }

    #[test]
    fn chown_ok_and_chgrp_ok_as_linux_5_10() {
        let f = file(S_IFREG | 0o644, 1000, 50);
        let owner = cred(1000, 7);
        assert_eq!(chown_as(&owner, &*f, Some(1000), None), Ok(()), "to itself");
        assert_eq!(chown_as(&owner, &*f, Some(0), None), Err(Errno::EPERM));
        assert_eq!(
            chown_as(&owner, &*f, None, Some(7)),
            Ok(()),
            "a group it is in"
        );
        assert_eq!(
            chown_as(&owner, &*f, None, Some(50)),
            Ok(()),
            "the file's own"
        );
        assert_eq!(chown_as(&owner, &*f, None, Some(8)), Err(Errno::EPERM));
        assert_eq!(
            chown_as(&cred(2000, 7), &*f, None, Some(7)),
            Err(Errno::EPERM)
        );
        assert_eq!(chown_as(&cred(0, 0), &*f, Some(5), Some(6)), Ok(()));
    }

    #[test]
    fn chown_of_a_file_clears_suid_and_group_exec_sgid_but_not_of_a_directory() {
        // Host tests run as root (no task): notify_change with root's credentials.
        let f = file(S_IFREG | 0o6755, 1000, 1000);
        crate::fs::open::chown_common(&*f, 0, u32::MAX).unwrap();
        assert_eq!(f.attr().i_mode(), S_IFREG | 0o755);
        assert_eq!((f.attr().i_uid(), f.attr().i_gid()), (0, 1000));
        let g = file(S_IFREG | 0o2745, 1000, 1000);
        crate::fs::open::chown_common(&*g, u32::MAX, u32::MAX).unwrap();
        assert_eq!(g.attr().i_mode(), S_IFREG | 0o2745, "no group x: kept");
        let d = file(S_IFDIR | 0o6755, 1000, 1000);
        crate::fs::open::chown_common(&*d, 0, 0).unwrap();
        assert_eq!(d.attr().i_mode(), S_IFDIR | 0o6755);
    }

    #[test]
    fn chmod_keeps_the_file_type_and_read_only_is_erofs() {
        let f = file(S_IFREG | 0o644, 0, 0);
        crate::fs::open::chmod_common(&*f, 0o170777).unwrap();
        assert_eq!(f.attr().i_mode(), S_IFREG | 0o777);
        let ro = tmpfs::shmem_fill_super_opts("tmpfs", tmpfs::ShmemOptions::defaults(0o755), true)
            .unwrap();
        assert_eq!(
            crate::fs::open::chmod_common(&*ro, 0o700),
            Err(Errno::EROFS)
        );
        assert_eq!(crate::fs::open::chown_common(&*ro, 1, 1), Err(Errno::EROFS));
        assert_eq!(ro.attr().i_mode(), S_IFDIR | 0o755);
    }
}

//! What every System V IPC object shares: its `ipc64_perm`, the identifier set it lives
//! in, and the mode-bit permission check. Linux: `ipc/util.c` (`ipc_addid`,
//! `ipc_idr_alloc`, `ipcperms`, `ipcctl_obtain_check`, `ipc_obtain_object_check`) and
//! `include/uapi/asm-generic/ipcbuf.h` (the arm64 `ipc64_perm` layout).
//!
//! Callers: `ipc/shm.rs`. Locking: each set sits behind its owner's lock (`shm_ids`);
//! nothing here sleeps.
use alloc::collections::BTreeMap;

/// Create the key's object if it does not exist (Linux: `IPC_CREAT`, 01000).
pub const IPC_CREAT: u32 = 0o1000;
/// With IPC_CREAT: fail with EEXIST if it exists (Linux: `IPC_EXCL`).
pub const IPC_EXCL: u32 = 0o2000;
/// Don't wait (Linux: `IPC_NOWAIT`; meaningless for shared memory).
pub const IPC_NOWAIT: u32 = 0o4000;
/// The key that always makes a new object (Linux: `IPC_PRIVATE`).
pub const IPC_PRIVATE: i32 = 0;
/// ctl command: remove the identifier (Linux: `IPC_RMID`).
pub const IPC_RMID: i32 = 0;
/// ctl command: set uid, gid and mode (Linux: `IPC_SET`).
pub const IPC_SET: i32 = 1;
/// ctl command: read the `*64_ds` (Linux: `IPC_STAT`).
pub const IPC_STAT: i32 = 2;
/// ctl command: read the limits (Linux: `IPC_INFO`).
pub const IPC_INFO: i32 = 3;
/// The mode bits an object's permission keeps (Linux: `S_IRWXUGO`).
pub const S_IRWXUGO: u32 = 0o777;
/// Index bits of an identifier (Linux: `IPCMNI_SHIFT`, 15, without `ipcmni_extend`).
pub const IPCMNI_SHIFT: u32 = 15;
/// Most objects of one kind (Linux: `IPCMNI`, 32768).
pub const IPCMNI: usize = 1 << IPCMNI_SHIFT;
/// Largest sequence number before it wraps to 0 (Linux: `IPCID_SEQ_MAX`).
pub const IPCID_SEQ_MAX: u32 = (i32::MAX as u32) >> IPCMNI_SHIFT;

/// The ownership and permission of an IPC object (Linux: `struct kern_ipc_perm`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernIpcPerm {
    /// The full identifier user space sees: `seq << 15 | index`.
    pub id: i32,
    /// The key it was made with (IPC_PRIVATE once IPC_RMID marked it).
    pub key: i32,
    /// Owner.
    pub uid: u32,
    /// Owner's group.
    pub gid: u32,
    /// Creator.
    pub cuid: u32,
    /// Creator's group.
    pub cgid: u32,
    /// The low 9 bits are rwx for owner/group/other; shm adds SHM_DEST and SHM_LOCKED.
    pub mode: u32,
    /// Sequence number, the identifier's upper part.
    pub seq: u32,
}

/// `struct ipc64_perm` as arm64 user space reads it (the generic layout of
/// `include/uapi/asm-generic/ipcbuf.h`: a 32-bit mode, 48 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Ipc64Perm {
    /// `key`.
    pub key: i32,
    /// `uid`.
    pub uid: u32,
    /// `gid`.
    pub gid: u32,
    /// `cuid`.
    pub cuid: u32,
    /// `cgid`.
    pub cgid: u32,
    /// `mode` (`__kernel_mode_t` is 32 bits on arm64, so no `__pad1`).
    pub mode: u32,
    /// `seq`.
    pub seq: u16,
    /// `__pad2`.
    pub pad2: u16,
    /// `__unused1`.
    pub unused1: u64,
    /// `__unused2`.
    pub unused2: u64,
}

impl KernIpcPerm {
    /// The user-space view (Linux: `kernel_to_ipc64_perm`).
    pub fn to_ipc64(&self) -> Ipc64Perm {
        Ipc64Perm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: self.seq as u16,
            ..Default::default()
        }
    }
}

/// The credentials a check looks at (Linux: `current_cred()`'s euid/egid; we have no
/// supplementary groups, and root holds every capability).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcCred {
    /// Effective uid.
    pub euid: u32,
    /// Effective gid.
    pub egid: u32,
}

impl IpcCred {
    /// CAP_IPC_OWNER, CAP_SYS_ADMIN, CAP_IPC_LOCK: root has them all here.
    pub fn capable(&self) -> bool {
        self.euid == 0
    }
}

/// May `cred` access `perm` as `flag`'s rwx bits (in any of the three positions) ask?
/// The owner or creator gets the owner bits, a member of the owner's or creator's group
/// the group bits, everyone else the other bits; CAP_IPC_OWNER passes anyway. False means
/// EACCES. Linux: `ipcperms` (no LSM hook).
pub fn ipcperms(cred: IpcCred, perm: &KernIpcPerm, flag: u32) -> bool {
    let mut granted = perm.mode;
    if cred.euid == perm.cuid || cred.euid == perm.uid {
        granted >>= 6;
    } else if cred.egid == perm.cgid || cred.egid == perm.gid {
        granted >>= 3;
    }
    // Fold the asked bits of every position into the low three.
    let requested = (flag >> 6) | (flag >> 3) | flag;
    requested & !granted & 0o7 == 0 || cred.capable()
}

/// May `cred` change or remove `perm` (IPC_SET, IPC_RMID)? Its owner, its creator, or
/// CAP_SYS_ADMIN; false means EPERM. Linux: the test in `ipcctl_obtain_check`.
pub fn ipcctl_may_change(cred: IpcCred, perm: &KernIpcPerm) -> bool {
    cred.euid == perm.uid || cred.euid == perm.cuid || cred.capable()
}

/// The set of identifiers of one IPC kind (Linux: `struct ipc_ids` over its idr).
pub struct IpcIds<T> {
    /// index -> object (Linux: `ipcs_idr`).
    entries: BTreeMap<usize, T>,
    /// The sequence number new identifiers get (Linux: `ids->seq`).
    seq: u32,
    /// The index handed out last, -1 at first (Linux: `ids->last_idx`).
    last_idx: isize,
}

impl<T> IpcIds<T> {
    /// An empty set (Linux: `ipc_init_ids`).
    pub const fn new() -> Self {
        IpcIds {
            entries: BTreeMap::new(),
            seq: 0,
            last_idx: -1,
        }
    }

    /// Objects in the set (Linux: `ids->in_use`).
    pub fn in_use(&self) -> usize {
        self.entries.len()
    }

    /// The highest index in use, -1 when empty (Linux: `ipc_get_maxidx`).
    pub fn max_idx(&self) -> isize {
        self.entries.keys().next_back().map_or(-1, |&i| i as isize)
    }

    /// Add `make(id, seq)` at the lowest free index and return its identifier; ENOSPC
    /// past `limit` objects (Linux: `ipc_addid` -> `ipc_idr_alloc`). The sequence number
    /// advances whenever an index at or below the last one handed out is reused, so a
    /// stale identifier of a removed object does not name its successor.
    pub fn addid(
        &mut self,
        limit: usize,
        make: impl FnOnce(i32, u32) -> T,
    ) -> crate::errno::KResult<i32> {
        let limit = limit.min(IPCMNI);
        if self.in_use() >= limit {
            return Err(crate::errno::Errno::ENOSPC);
        }
        let idx = (0..IPCMNI)
            .find(|i| !self.entries.contains_key(i))
            .ok_or(crate::errno::Errno::ENOSPC)?;
        if idx as isize <= self.last_idx {
            self.seq += 1;
            if self.seq > IPCID_SEQ_MAX {
                self.seq = 0;
            }
        }
        self.last_idx = idx as isize;
        let id = ((self.seq << IPCMNI_SHIFT) as usize + idx) as i32;
        self.entries.insert(idx, make(id, self.seq));
        Ok(id)
    }

    /// The object at index `idx` (Linux: `ipc_obtain_object_idr`, for *_STAT).
    pub fn by_idx(&self, idx: usize) -> Option<&T> {
        self.entries.get(&idx)
    }

    /// The object with identifier `id`, if its index holds one with that sequence
    /// number (Linux: `ipc_obtain_object_check`: EINVAL otherwise).
    pub fn by_id(&self, id: i32, seq_of: impl Fn(&T) -> u32) -> Option<&T> {
        if id < 0 {
            return None;
        }
        let idx = (id as usize) & (IPCMNI - 1);
        let seq = (id as u32) >> IPCMNI_SHIFT;
        self.entries.get(&idx).filter(|t| seq_of(t) == seq)
    }

    /// Take the object with identifier `id` out of the set (Linux: `ipc_rmid`).
    pub fn rmid(&mut self, id: i32) -> Option<T> {
        self.entries.remove(&((id as usize) & (IPCMNI - 1)))
    }

    /// Every object, in index order (for /proc/sysvipc and key lookup).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(mode: u32, uid: u32, gid: u32) -> KernIpcPerm {
        KernIpcPerm {
            mode,
            uid,
            gid,
            cuid: uid,
            cgid: gid,
            ..Default::default()
        }
    }

    #[test]
    fn ipcperms_gives_owner_group_other_bits_and_root_passes() {
        let p = perm(0o640, 1000, 100);
        let owner = IpcCred {
            euid: 1000,
            egid: 5,
        };
        let group = IpcCred { euid: 7, egid: 100 };
        let other = IpcCred { euid: 7, egid: 7 };
        assert!(ipcperms(owner, &p, 0o600));
        assert!(ipcperms(group, &p, 0o444));
        assert!(!ipcperms(group, &p, 0o222));
        assert!(!ipcperms(other, &p, 0o444));
        assert!(ipcperms(IpcCred::default(), &p, 0o666));
        // An owner denied by the owner bits does not fall back to the other bits.
        let q = perm(0o007, 1000, 100);
        assert!(!ipcperms(owner, &q, 0o400));
    }

    #[test]
    fn addid_takes_the_lowest_free_index_and_bumps_seq_on_reuse() {
        let mut ids: IpcIds<(i32, u32)> = IpcIds::new();
        assert_eq!(ids.addid(10, |id, s| (id, s)), Ok(0));
        assert_eq!(ids.addid(10, |id, s| (id, s)), Ok(1));
        assert!(ids.rmid(0).is_some());
        // Index 0 again, below last_idx 1: the sequence number moves on.
        assert_eq!(ids.addid(10, |id, s| (id, s)), Ok(1 << IPCMNI_SHIFT));
        assert!(ids.by_id(0, |t| t.1).is_none());
        assert!(ids.by_id(1 << IPCMNI_SHIFT, |t| t.1).is_some());
        assert_eq!(ids.max_idx(), 1);
        assert_eq!(
            ids.addid(2, |id, s| (id, s)),
            Err(crate::errno::Errno::ENOSPC)
        );
    }

    #[test]
    fn ipc64_perm_has_arm64s_generic_layout() {
        assert_eq!(core::mem::size_of::<Ipc64Perm>(), 48);
        assert_eq!(core::mem::offset_of!(Ipc64Perm, seq), 24);
        assert_eq!(core::mem::offset_of!(Ipc64Perm, unused1), 32);
    }
}

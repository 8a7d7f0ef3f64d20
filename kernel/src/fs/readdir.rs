//! `getdents64`: directory entries as `struct linux_dirent64` records.
//!
//! Linux: `fs/readdir.c` (`filldir64`, `ksys_getdents64`), `include/linux/dirent.h`.
//! A record is `d_ino` (u64), `d_off` (i64: the position after this entry), `d_reclen`
//! (u16), `d_type` (u8), the NUL-terminated name, padded to 8 bytes.

/// Unknown type.
pub const DT_UNKNOWN: u8 = 0;
/// FIFO.
pub const DT_FIFO: u8 = 1;
/// Character device.
pub const DT_CHR: u8 = 2;
/// Directory.
pub const DT_DIR: u8 = 4;
/// Block device.
pub const DT_BLK: u8 = 6;
/// Regular file.
pub const DT_REG: u8 = 8;
/// Symbolic link.
pub const DT_LNK: u8 = 10;
/// Socket.
pub const DT_SOCK: u8 = 12;

/// Offset of `d_name` in `struct linux_dirent64`.
pub const DIRENT64_NAME_OFFSET: usize = 19;

/// Record length of an entry named `name` (Linux: `ALIGN(offsetof(d_name) + namlen + 1, 8)`).
pub const fn dirent64_reclen(name_len: usize) -> usize {
    (DIRENT64_NAME_OFFSET + name_len + 1).next_multiple_of(8)
}

/// Append one record at `buf[used..]`; the new `used`, or None when it does not fit.
/// Linux: `filldir64`.
pub fn filldir64(
    buf: &mut [u8],
    used: usize,
    name: &str,
    ino: u64,
    d_off: i64,
    d_type: u8,
) -> Option<usize> {
    let reclen = dirent64_reclen(name.len());
    let rec = buf.get_mut(used..used.checked_add(reclen)?)?;
    rec[0..8].copy_from_slice(&ino.to_ne_bytes());
    rec[8..16].copy_from_slice(&d_off.to_ne_bytes());
    rec[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
    rec[18] = d_type;
    rec[DIRENT64_NAME_OFFSET..DIRENT64_NAME_OFFSET + name.len()].copy_from_slice(name.as_bytes());
    rec[DIRENT64_NAME_OFFSET + name.len()..].fill(0);
    Some(used + reclen)
}

/// One decoded record (for tests and in-kernel users).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dirent64<'a> {
    /// `d_ino`.
    pub d_ino: u64,
    /// `d_off`.
    pub d_off: i64,
    /// `d_reclen`.
    pub d_reclen: u16,
    /// `d_type`.
    pub d_type: u8,
    /// `d_name` without the NUL.
    pub name: &'a str,
}

/// Decode the records of a `getdents64` buffer (what libc's `readdir` does).
pub fn parse_dirents64(buf: &[u8]) -> alloc::vec::Vec<Dirent64<'_>> {
    let mut out = alloc::vec::Vec::new();
    let mut at = 0;
    while at + DIRENT64_NAME_OFFSET < buf.len() {
        let rec = &buf[at..];
        let reclen = u16::from_ne_bytes([rec[16], rec[17]]) as usize;
        if reclen < DIRENT64_NAME_OFFSET + 1 || reclen > rec.len() {
            break;
        }
        let name_bytes = &rec[DIRENT64_NAME_OFFSET..reclen];
        let len = name_bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name_bytes.len());
        out.push(Dirent64 {
            d_ino: u64::from_ne_bytes(rec[0..8].try_into().unwrap()),
            d_off: i64::from_ne_bytes(rec[8..16].try_into().unwrap()),
            d_reclen: reclen as u16,
            d_type: rec[18],
            name: core::str::from_utf8(&name_bytes[..len]).unwrap_or("?"),
        });
        at += reclen;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_8_aligned_and_nul_terminated() {
        assert_eq!(dirent64_reclen(1), 24); // 19 + 1 + 1 = 21 -> 24
        assert_eq!(dirent64_reclen(4), 24); // 19 + 4 + 1 = 24
        assert_eq!(dirent64_reclen(5), 32);
        let mut buf = [0xffu8; 64];
        let used = filldir64(&mut buf, 0, "etc", 7, 3, DT_DIR).unwrap();
        assert_eq!(used, 24);
        assert_eq!(&buf[19..23], b"etc\0");
        assert!(buf[23] == 0, "padding is zeroed");
        let used = filldir64(&mut buf, used, "motd", 9, 4, DT_REG).unwrap();
        assert_eq!(used, 48);
        let recs = parse_dirents64(&buf[..used]);
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[1],
            Dirent64 {
                d_ino: 9,
                d_off: 4,
                d_reclen: 24,
                d_type: DT_REG,
                name: "motd"
            }
        );
    }

    #[test]
    fn a_record_that_does_not_fit_is_refused() {
        let mut buf = [0u8; 30];
        assert_eq!(filldir64(&mut buf, 0, "abcde", 1, 1, DT_REG), None);
        assert_eq!(filldir64(&mut buf, 8, "a", 1, 1, DT_REG), None);
        assert_eq!(filldir64(&mut buf, 0, "a", 1, 1, DT_REG), Some(24));
    }

    #[test]
    fn dtype_follows_mode_bits() {
        use crate::fs::inode::{mode_to_dtype, S_IFCHR, S_IFDIR, S_IFREG};
        assert_eq!(mode_to_dtype(S_IFDIR | 0o755), DT_DIR);
        assert_eq!(mode_to_dtype(S_IFREG | 0o644), DT_REG);
        assert_eq!(mode_to_dtype(S_IFCHR | 0o666), DT_CHR);
    }
}

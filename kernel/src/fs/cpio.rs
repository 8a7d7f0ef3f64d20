//! The "newc" cpio format (`070701`): the root file system image's format.
//!
//! Linux: `init/initramfs.c` (`parse_header`, `do_header`, `do_name`, the `TRAILER!!!`
//! check) and `usr/gen_init_cpio.c`, which writes it. Pure code: the root fs (`cpiofs`)
//! reads the index through it at mount time, host tests feed it byte strings.
//!
//! An entry is a 110-byte ASCII header (magic + 13 eight-digit hex fields), the
//! NUL-terminated name padded so header + name is a multiple of 4, then the data padded
//! to 4. The archive ends with an entry named `TRAILER!!!`.
use super::block_dev::BlockDevice;
use crate::errno::{Errno, KResult};
use alloc::string::String;
use alloc::vec::Vec;

/// Size of a newc header.
pub const NEWC_HEADER_LEN: usize = 110;
/// Magic of the newc format (no checksum).
pub const NEWC_MAGIC: &[u8; 6] = b"070701";
/// Magic of the newc format with checksums (the check field is then a byte sum).
pub const NEWC_CRC_MAGIC: &[u8; 6] = b"070702";
/// Name of the last entry.
pub const TRAILER: &str = "TRAILER!!!";
/// Longest name accepted (Linux: `PATH_MAX`, via `N_ALIGN(name_len) + body_len`).
pub const CPIO_NAME_MAX: usize = 4096;

/// Why an archive was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// Not `070701` / `070702` (Linux: "no cpio magic").
    BadMagic,
    /// A header field is not eight hex digits.
    BadField,
    /// Name size 0, over `CPIO_NAME_MAX`, not NUL-terminated, or not UTF-8.
    BadName,
    /// The archive ends inside an entry or before `TRAILER!!!`.
    Truncated,
}

impl From<CpioError> for Errno {
    fn from(e: CpioError) -> Errno {
        match e {
            CpioError::Truncated => Errno::EIO,
            _ => Errno::EINVAL,
        }
    }
}

/// The numeric fields of a newc header, in file order (Linux: the `ino`..`name_len`
/// variables `parse_header` fills).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpioHeader {
    /// Inode number (links with equal `ino` are hard links).
    pub ino: u32,
    /// `st_mode`: file type (S_IF*) and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
    /// Data size in bytes.
    pub filesize: u32,
    /// Device of the file (major).
    pub devmajor: u32,
    /// Device of the file (minor).
    pub devminor: u32,
    /// For device nodes: the device (major).
    pub rdevmajor: u32,
    /// For device nodes: the device (minor).
    pub rdevminor: u32,
    /// Name length including the NUL.
    pub namesize: u32,
    /// Checksum (070702) or 0.
    pub check: u32,
}

/// Round up to the format's 4-byte alignment.
pub const fn cpio_align(x: u64) -> u64 {
    (x + 3) & !3
}

/// Decode a header. Linux: `parse_header` (plus the magic check in `do_header`).
pub fn parse_header(buf: &[u8]) -> Result<CpioHeader, CpioError> {
    if buf.len() < NEWC_HEADER_LEN {
        return Err(CpioError::Truncated);
    }
    if &buf[..6] != NEWC_MAGIC && &buf[..6] != NEWC_CRC_MAGIC {
        return Err(CpioError::BadMagic);
    }
    let mut f = [0u32; 13];
    for (i, v) in f.iter_mut().enumerate() {
        let field = &buf[6 + 8 * i..6 + 8 * (i + 1)];
        let mut n = 0u32;
        for &c in field {
            let d = (c as char).to_digit(16).ok_or(CpioError::BadField)?;
            n = (n << 4) | d;
        }
        *v = n;
    }
    let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check] =
        f;
    Ok(CpioHeader {
        ino,
        mode,
        uid,
        gid,
        nlink,
        mtime,
        filesize,
        devmajor,
        devminor,
        rdevmajor,
        rdevminor,
        namesize,
        check,
    })
}

/// One archive member: its header, name, and where its data starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpioEntry {
    /// The numeric fields.
    pub hdr: CpioHeader,
    /// The name as stored (`etc/motd`, `.`, `./bin`), without the NUL.
    pub name: String,
    /// Byte offset of the data in the archive.
    pub data_offset: u64,
}

impl CpioEntry {
    /// Data size in bytes.
    pub fn size(&self) -> u64 {
        self.hdr.filesize as u64
    }
}

/// Read the entry at `off`; returns it and the offset of the next one, or None at the
/// trailer. Linux: the `GotHeader -> GotName -> do_copy/do_skip` steps of `unpack_to_rootfs`.
pub fn read_entry(dev: &dyn BlockDevice, off: u64) -> KResult<Option<(CpioEntry, u64)>> {
    let size = dev.size_bytes();
    if off + NEWC_HEADER_LEN as u64 > size {
        return Err(CpioError::Truncated.into());
    }
    let mut raw = [0u8; NEWC_HEADER_LEN];
    dev.read_bytes(off, &mut raw)?;
    let hdr = parse_header(&raw)?;
    let namesize = hdr.namesize as usize;
    if namesize == 0 || namesize > CPIO_NAME_MAX {
        return Err(CpioError::BadName.into());
    }
    let name_off = off + NEWC_HEADER_LEN as u64;
    if name_off + namesize as u64 > size {
        return Err(CpioError::Truncated.into());
    }
    let mut name = alloc::vec![0u8; namesize];
    dev.read_bytes(name_off, &mut name)?;
    if name.pop() != Some(0) || name.contains(&0) {
        return Err(CpioError::BadName.into());
    }
    let name = String::from_utf8(name).map_err(|_| CpioError::BadName)?;
    if name == TRAILER {
        return Ok(None);
    }
    let data_offset = cpio_align(name_off + namesize as u64);
    let next = cpio_align(data_offset + hdr.filesize as u64);
    if data_offset + hdr.filesize as u64 > size {
        return Err(CpioError::Truncated.into());
    }
    Ok(Some((
        CpioEntry {
            hdr,
            name,
            data_offset,
        },
        next,
    )))
}

/// Every entry of the archive on `dev`, up to the trailer (which must be there).
pub fn cpio_entries(dev: &dyn BlockDevice) -> KResult<Vec<CpioEntry>> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Some((entry, next)) = read_entry(dev, off)? {
        out.push(entry);
        off = next;
    }
    Ok(out)
}

/// One newc member as gen_init_cpio writes it (host tests build images with it).
#[cfg(test)]
pub(crate) fn newc_member(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let hdr = alloc::format!(
        "070701{ino:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        0,
        0,
        1,
        0x6000_0000u32,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(hdr.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::block_dev::RamDisk;

    use super::newc_member as member;

    fn image() -> Vec<u8> {
        let mut v = Vec::new();
        member(&mut v, 1, 0o040755, ".", b"");
        member(&mut v, 2, 0o040755, "etc", b"");
        member(&mut v, 3, 0o100644, "etc/motd", b"hello\n");
        member(&mut v, 0, 0, TRAILER, b"");
        v
    }

    #[test]
    fn header_fields_decode_in_file_order() {
        let v = image();
        let h = parse_header(&v).unwrap();
        assert_eq!(h.ino, 1);
        assert_eq!(h.mode, 0o040755);
        assert_eq!(h.nlink, 1);
        assert_eq!(h.mtime, 0x6000_0000);
        assert_eq!(h.namesize, 2);
    }

    #[test]
    fn a_fixed_gen_init_cpio_byte_string_parses() {
        // `file /a 1 0644 0 0` with content "x", as usr/gen_init_cpio writes it (mtime 0).
        let fixed: &[u8] = concat!(
            "070701",
            "00000002",
            "000081a4",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000002",
            "00000000",
            "a\0",
            "x\0\0\0",
            "070701",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000001",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "00000000",
            "0000000b",
            "00000000",
            "TRAILER!!!\0",
            "\0\0\0",
        )
        .as_bytes();
        let disk = RamDisk(fixed.to_vec());
        let e = cpio_entries(&disk).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name, "a");
        assert_eq!(e[0].hdr.mode, 0o100644);
        assert_eq!(e[0].size(), 1);
        // header 110 + "a\0" = 112, already aligned: data at 112.
        assert_eq!(e[0].data_offset, 112);
        assert_eq!(fixed[112], b'x');
    }

    #[test]
    fn entries_directories_and_data_offsets() {
        let v = image();
        let disk = RamDisk(v.clone());
        let e = cpio_entries(&disk).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, [".", "etc", "etc/motd"]);
        assert_eq!(e[1].hdr.mode & 0o170000, 0o040000);
        let motd = &e[2];
        let off = motd.data_offset as usize;
        assert_eq!(&v[off..off + 6], b"hello\n");
        assert_eq!(motd.data_offset % 4, 0);
    }

    #[test]
    fn bad_magic_is_rejected() {
        let mut v = image();
        v[5] = b'7';
        assert_eq!(parse_header(&v), Err(CpioError::BadMagic));
        assert_eq!(cpio_entries(&RamDisk(v)), Err(Errno::EINVAL));
    }

    #[test]
    fn non_hex_field_is_rejected() {
        let mut v = image();
        v[10] = b'g';
        assert_eq!(parse_header(&v), Err(CpioError::BadField));
    }

    #[test]
    fn missing_trailer_is_truncation() {
        let mut v = Vec::new();
        member(&mut v, 1, 0o040755, ".", b"");
        assert_eq!(cpio_entries(&RamDisk(v)), Err(Errno::EIO));
    }

    #[test]
    fn data_running_past_the_end_is_truncation() {
        let mut v = Vec::new();
        member(&mut v, 3, 0o100644, "f", b"0123456789");
        v.truncate(v.len() - 8);
        assert_eq!(read_entry(&RamDisk(v), 0), Err(Errno::EIO));
    }

    #[test]
    fn name_without_nul_is_rejected() {
        let mut v = Vec::new();
        member(&mut v, 3, 0o100644, "ab", b"");
        member(&mut v, 0, 0, TRAILER, b"");
        v[NEWC_HEADER_LEN + 2] = b'c'; // overwrite the NUL
        assert_eq!(read_entry(&RamDisk(v), 0), Err(Errno::EINVAL));
    }

    #[test]
    fn crc_magic_is_accepted() {
        let mut v = image();
        v[5] = b'2';
        assert!(parse_header(&v).is_ok());
    }
}

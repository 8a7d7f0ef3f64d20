//! Swap disk images for `--swap SIZE|PATH` (qemu, gdb) and for the swap scenarios.
//!
//! Our own header writer lays out page 0 as Linux's `union swap_header` documents it
//! (`include/linux/swap.h`): 1024 bytes left for a boot block, then `info` (u32 version =
//! 1, u32 last_page, u32 nr_badpages, u8 uuid[16], u8 volume_name[16], u32 padding[117],
//! u32 badpages[]), and the signature `SWAPSPACE2` in the last 10 bytes of the page. All
//! fields little-endian, as on arm64 and x86. That is what `mkswap` writes, so an image we
//! make is accepted by Linux's `swapon` and one `mkswap` makes is accepted by our kernel.
//!
//! Kinds of image: ours (formatted), raw (zeroes: no signature, for the EINVAL test), and
//! one formatted by the host's `mkswap` when it is installed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{bail, build, Result};

/// The page size of the swap area (arm64 with 4 KiB pages).
pub const PAGE_SIZE: usize = 4096;
/// Where `info` starts in page 0.
pub const INFO_OFFSET: usize = 1024;
#[cfg(test)]
/// Where `info.badpages[]` starts: after version, last_page, nr_badpages (12 bytes),
/// uuid and volume name (32 bytes) and 117 words of padding.
pub const BADPAGES_OFFSET: usize = INFO_OFFSET + 12 + 32 + 117 * 4;
/// The signature and where it starts.
pub const MAGIC: &[u8; 10] = b"SWAPSPACE2";
pub const MAGIC_OFFSET: usize = PAGE_SIZE - MAGIC.len();

/// Page 0 of a swap area of `pages` pages (the area is pages `0..pages`, so `last_page` is
/// `pages - 1`), with `uuid`, a label of at most 16 bytes and no bad pages.
pub fn swap_header(pages: u32, uuid: [u8; 16], label: &str) -> Vec<u8> {
    let mut p = vec![0u8; PAGE_SIZE];
    let put =
        |p: &mut Vec<u8>, off: usize, v: u32| p[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put(&mut p, INFO_OFFSET, 1); // version
    put(&mut p, INFO_OFFSET + 4, pages - 1); // last_page
    put(&mut p, INFO_OFFSET + 8, 0); // nr_badpages
    p[INFO_OFFSET + 12..INFO_OFFSET + 28].copy_from_slice(&uuid);
    let label = label.as_bytes();
    let n = label.len().min(16);
    p[INFO_OFFSET + 28..INFO_OFFSET + 28 + n].copy_from_slice(&label[..n]);
    p[MAGIC_OFFSET..].copy_from_slice(MAGIC);
    p
}

/// `16M`, `256M`, `1G`, `4096K`, or bytes. At least two pages (header + one slot), a
/// whole number of pages.
pub fn parse_size(s: &str) -> Option<u64> {
    let (num, mul) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let bytes = num.parse::<u64>().ok()?.checked_mul(mul)?;
    (bytes >= 2 * PAGE_SIZE as u64 && bytes % PAGE_SIZE as u64 == 0).then_some(bytes)
}

/// A UUID for a new image: version-4 layout from the clock and the process id (no need
/// for cryptographic randomness; it only has to differ between images).
fn new_uuid() -> [u8; 16] {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = t ^ ((std::process::id() as u128) << 64);
    let mut u = [0u8; 16];
    for b in u.iter_mut() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *b = (x >> 64) as u8;
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// Create (or replace) `path`: `bytes` long, zero-filled, sparse.
fn make_raw(path: &Path, bytes: u64) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let f = File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    f.set_len(bytes)
        .map_err(|e| format!("sizing {}: {e}", path.display()))?;
    Ok(())
}

/// A swap image of `bytes` formatted by our header writer.
pub fn make_swap_image(path: &Path, bytes: u64) -> Result<()> {
    make_raw(path, bytes)?;
    let pages = u32::try_from(bytes / PAGE_SIZE as u64)
        .map_err(|_| format!("swap size {bytes} is too large"))?;
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    f.write_all(&swap_header(pages, new_uuid(), "mmkern-swap"))
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}

/// The host's mkswap, if installed (it often lives in /sbin, outside a user's PATH).
pub fn host_mkswap() -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", "command -v mkswap"])
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    found.filter(|p| p.is_file()).or_else(|| {
        ["/usr/sbin/mkswap", "/sbin/mkswap"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// A swap image of `bytes` formatted by the host's `mkswap`; Ok(false) when there is none.
pub fn make_host_mkswap_image(path: &Path, bytes: u64) -> Result<bool> {
    let Some(mkswap) = host_mkswap() else {
        return Ok(false);
    };
    make_raw(path, bytes)?;
    let out = Command::new(&mkswap)
        .args(["-L", "hostswap"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", mkswap.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed: {}",
            mkswap.display(),
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(true)
}

/// A swap disk a scenario asks for (each scenario gets its own image under
/// `target/swap/`, made fresh for every run: the kernel writes to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapDisk {
    /// No second disk.
    None,
    /// Formatted by our writer, this size (`16M`).
    Ours(&'static str),
    /// Zeroes, this size: no signature.
    Raw(&'static str),
    /// Formatted by the host's `mkswap`, this size; the scenario is skipped without it.
    HostMkswap(&'static str),
}

/// What preparing a scenario's disk gave.
pub enum Prepared {
    /// Attach this image.
    Image(PathBuf),
    /// No disk wanted.
    Nothing,
    /// The scenario cannot run here: why.
    Skip(String),
}

/// Make the image `disk` asks for, named after the scenario.
pub fn prepare(disk: SwapDisk, scenario: &str) -> Result<Prepared> {
    let path = build::target_dir()
        .join("swap")
        .join(format!("{scenario}.img"));
    let size = |s: &str| parse_size(s).ok_or_else(|| format!("bad swap size `{s}`"));
    match disk {
        SwapDisk::None => Ok(Prepared::Nothing),
        SwapDisk::Ours(s) => {
            make_swap_image(&path, size(s)?)?;
            Ok(Prepared::Image(path))
        }
        SwapDisk::Raw(s) => {
            make_raw(&path, size(s)?)?;
            Ok(Prepared::Image(path))
        }
        SwapDisk::HostMkswap(s) => {
            if make_host_mkswap_image(&path, size(s)?)? {
                Ok(Prepared::Image(path))
            } else {
                Ok(Prepared::Skip(
                    "skipped: no mkswap on this host (util-linux); the built-in header test still ran"
                        .into(),
                ))
            }
        }
    }
}

/// `--swap SIZE|PATH` of `cargo xtask qemu` / `gdb`: a size makes a fresh formatted image
/// `target/swap.img`; anything else is an existing image, attached as it is.
pub fn swap_option(v: &str) -> Result<PathBuf> {
    if let Some(bytes) = parse_size(v) {
        let path = build::target_dir().join("swap.img");
        make_swap_image(&path, bytes)?;
        eprintln!(
            "xtask: swap disk {} ({} KiB, SWAPSPACE2): /dev/vdb in the guest; `swapon /dev/vdb` turns it on",
            path.display(),
            bytes >> 10
        );
        return Ok(path);
    }
    let path = PathBuf::from(v);
    if !path.is_file() {
        bail!("--swap {v}: neither a size (16M, 1G) nor an existing image file");
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(p: &[u8], off: usize) -> u32 {
        u32::from_le_bytes(p[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn header_layout_matches_union_swap_header() {
        let p = swap_header(4096, [0xab; 16], "lbl");
        assert_eq!(p.len(), 4096);
        // bootbits are zero.
        assert!(p[..1024].iter().all(|&b| b == 0));
        assert_eq!(u32_at(&p, 1024), 1, "version");
        assert_eq!(u32_at(&p, 1028), 4095, "last_page");
        assert_eq!(u32_at(&p, 1032), 0, "nr_badpages");
        assert_eq!(&p[1036..1052], &[0xab; 16], "uuid");
        assert_eq!(&p[1052..1055], b"lbl", "volume name");
        assert!(p[1055..4086].iter().all(|&b| b == 0), "padding, badpages");
        assert_eq!(&p[4086..], b"SWAPSPACE2");
        assert_eq!(BADPAGES_OFFSET, 1536);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16M"), Some(16 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("8192"), Some(8192));
        assert_eq!(parse_size("4096"), None); // header only
        assert_eq!(parse_size("5000"), None); // not whole pages
        assert_eq!(parse_size("x.img"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn image_files() {
        let dir = std::env::temp_dir().join(format!("xtask-swap-{}", std::process::id()));
        let ours = dir.join("ours.img");
        make_swap_image(&ours, 1 << 20).unwrap();
        let data = std::fs::read(&ours).unwrap();
        assert_eq!(data.len(), 1 << 20);
        assert_eq!(u32_at(&data, 1028), 255);
        assert_eq!(&data[4086..4096], MAGIC);
        assert_eq!(data[6 + 1036] >> 4, 4, "a version-4 UUID");
        // Against the host's mkswap when there is one: the same fields where ours are.
        let theirs = dir.join("theirs.img");
        if make_host_mkswap_image(&theirs, 1 << 20).unwrap() {
            let t = std::fs::read(&theirs).unwrap();
            assert_eq!(&t[4086..4096], MAGIC);
            assert_eq!(u32_at(&t, 1024), 1);
            assert_eq!(u32_at(&t, 1028), 255);
            assert_eq!(u32_at(&t, 1032), 0);
            assert_eq!(&t[1052..1060], b"hostswap");
        } else {
            eprintln!("note: no mkswap on this host; compared with the documented layout only");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

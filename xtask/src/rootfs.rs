//! The root file system image: a newc cpio archive (`target/rootfs.cpio`) that QEMU attaches
//! as a read-only virtio-blk disk and the kernel mounts as `/` (`kernel/src/fs/cpiofs.rs`).
//!
//! Contents, later sources overriding earlier ones:
//! 1. the directories `/bin /dev /etc /proc /tmp` (mount points and the usual places);
//! 2. the static files under `xtask/rootfs/` (e.g. `/etc/motd`, `/etc/test.txt`);
//! 3. every file in `target/user-bin/` as `/bin/<name>`, mode 0755;
//! 4. the trees given with `cargo xtask qemu --extra DIR` (DIR's contents go to `/`);
//! 5. `/data/reclaim.bin`, a generated 64 MiB file (`reclaim_file`) that reclaim tests
//!    map at `--memory 64M`: larger than free memory, so reading it twice makes the
//!    kernel evict and re-read its pages.
//! 6. `/data/readahead.bin`, a generated 8 MiB file (`readahead_file`) that only
//!    `readahead_test` reads, so none of it is cached when that test starts.
//!
//! The format is written here, as Linux's `usr/gen_init_cpio.c` writes it: a 110-byte ASCII
//! header (`070701` + 13 eight-digit hex fields), the NUL-terminated name padded to 4 bytes,
//! the data padded to 4, and a `TRAILER!!!` entry. The image is padded to a whole number of
//! 4 KiB blocks: a virtio disk's capacity is counted in 512-byte sectors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{build, workspace_root, Result};

/// Where the default image goes.
pub fn image_path() -> PathBuf {
    build::target_dir().join("rootfs.cpio")
}

/// Where the image with `--extra` trees goes (so a concurrent test run keeps its own).
pub fn extra_image_path() -> PathBuf {
    build::target_dir().join("rootfs-extra.cpio")
}

/// A newc archive being written (Linux: `usr/gen_init_cpio.c`).
pub struct CpioWriter {
    out: Vec<u8>,
    next_ino: u32,
}

impl Default for CpioWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpioWriter {
    /// An empty archive; inode numbers start at 1.
    pub fn new() -> Self {
        CpioWriter {
            out: Vec::new(),
            next_ino: 1,
        }
    }

    fn pad4(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }

    /// Append one member (Linux: `cpio_mkfile` / `cpio_mkgeneric`). `ino` 0 for the trailer.
    fn member(&mut self, ino: u32, mode: u32, nlink: u32, mtime: u32, name: &str, data: &[u8]) {
        let fields = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            mtime,
            data.len() as u32,
            0, // devmajor
            0, // devminor
            0, // rdevmajor
            0, // rdevminor
            name.len() as u32 + 1,
            0, // check
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad4();
        self.out.extend_from_slice(data);
        self.pad4();
    }

    fn ino(&mut self) -> u32 {
        let i = self.next_ino;
        self.next_ino += 1;
        i
    }

    /// A directory (`mode` = permission bits).
    pub fn dir(&mut self, name: &str, mode: u32, mtime: u32) {
        let ino = self.ino();
        self.member(ino, 0o040000 | (mode & 0o7777), 2, mtime, name, &[]);
    }

    /// A regular file (`mode` = permission bits).
    pub fn file(&mut self, name: &str, mode: u32, mtime: u32, data: &[u8]) {
        let ino = self.ino();
        self.member(ino, 0o100000 | (mode & 0o7777), 1, mtime, name, data);
    }

    /// Add the trailer and return the archive, padded to `pad_to` bytes (1: none).
    pub fn finish(mut self, pad_to: usize) -> Vec<u8> {
        self.member(0, 0, 1, 0, "TRAILER!!!", &[]);
        while !self.out.len().is_multiple_of(pad_to.max(1)) {
            self.out.push(0);
        }
        self.out
    }
}

/// One thing to put in the image.
#[derive(Debug, Clone)]
enum Item {
    Dir { mode: u32, mtime: u32 },
    File { src: PathBuf, mode: u32, mtime: u32 },
}

fn mtime_of(meta: &std::fs::Metadata) -> u32 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs().min(u32::MAX as u64) as u32)
}

fn perm_bits(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o7777
    }
    #[cfg(not(unix))]
    {
        if meta.is_dir() {
            0o755
        } else {
            0o644
        }
    }
}

/// Add `dir`'s contents under `prefix` (`""` = the root), following symbolic links.
fn add_tree(items: &mut BTreeMap<String, Item>, dir: &Path, prefix: &str) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            eprintln!(
                "xtask: rootfs: skipping non-UTF-8 name in {}",
                dir.display()
            );
            continue;
        };
        let path = entry.path();
        let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let full = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if meta.is_dir() {
            items.insert(
                full.clone(),
                Item::Dir {
                    mode: perm_bits(&meta),
                    mtime: mtime_of(&meta),
                },
            );
            add_tree(items, &path, &full)?;
        } else if meta.is_file() {
            items.insert(
                full,
                Item::File {
                    src: path,
                    mode: perm_bits(&meta),
                    mtime: mtime_of(&meta),
                },
            );
        } else {
            eprintln!(
                "xtask: rootfs: skipping {} (not a file or directory)",
                path.display()
            );
        }
    }
    Ok(())
}

/// Collect the image's contents: base directories, `static_dir`, `user_bin` as `/bin`,
/// then each `extra` tree. Names are relative (`etc/motd`), sorted so parents come first.
fn collect(
    static_dir: &Path,
    user_bin: &Path,
    extra: &[PathBuf],
) -> Result<BTreeMap<String, Item>> {
    let mut items = BTreeMap::new();
    // sys/kernel/tracing: where the kernel mounts tracefs (there is no sysfs).
    for d in [
        "bin",
        "dev",
        "etc",
        "proc",
        "sys",
        "sys/kernel",
        "sys/kernel/tracing",
        "tmp",
    ] {
        let mode = if d == "tmp" { 0o1777 } else { 0o755 };
        items.insert(d.to_string(), Item::Dir { mode, mtime: 0 });
    }
    if static_dir.is_dir() {
        add_tree(&mut items, static_dir, "")?;
    }
    if user_bin.is_dir() {
        let mut bins = BTreeMap::new();
        add_tree(&mut bins, user_bin, "bin")?;
        for (name, item) in bins {
            let item = match item {
                Item::File { src, mtime, .. } => Item::File {
                    src,
                    mode: 0o755,
                    mtime,
                },
                dir => dir,
            };
            items.insert(name, item);
        }
    }
    for dir in extra {
        if !dir.is_dir() {
            crate::bail!("--extra {}: not a directory", dir.display());
        }
        add_tree(&mut items, dir, "")?;
    }
    Ok(items)
}

/// Write the archive for `items` (the root directory first).
fn write_archive(items: &BTreeMap<String, Item>) -> Result<Vec<u8>> {
    let mut w = CpioWriter::new();
    w.dir(".", 0o755, 0);
    for (name, item) in items {
        match item {
            Item::Dir { mode, mtime } => w.dir(name, *mode, *mtime),
            Item::File { src, mode, mtime } => {
                let data = std::fs::read(src).map_err(|e| format!("{}: {e}", src.display()))?;
                if data.len() > u32::MAX as usize {
                    crate::bail!("{}: too large for newc (4 GiB)", src.display());
                }
                w.file(name, *mode, *mtime, &data);
            }
        }
    }
    Ok(w.finish(4096))
}

/// Size of `/data/reclaim.bin`.
pub const RECLAIM_FILE_SIZE: usize = 64 << 20;

/// Word `i` (little-endian u64 at byte 8 * i) of `/data/reclaim.bin`; `reclaim_test`
/// computes the same to check every byte it reads back.
pub fn reclaim_word(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xa5a5_a5a5_a5a5_a5a5
}

/// `target/reclaim.bin`, made once (`RECLAIM_FILE_SIZE` bytes of `reclaim_word`s).
fn reclaim_file() -> Result<PathBuf> {
    generated_file("reclaim.bin", RECLAIM_FILE_SIZE, reclaim_word)
}

/// Size of `/data/readahead.bin`.
pub const READAHEAD_FILE_SIZE: usize = 8 << 20;

/// Word `i` (little-endian u64 at byte 8 * i) of `/data/readahead.bin`; `readahead_test`
/// computes the same to check what it reads.
pub fn readahead_word(i: u64) -> u64 {
    i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5a5a_0f0f_c3c3_3c3c
}

/// `target/readahead.bin`, made once (`READAHEAD_FILE_SIZE` bytes of `readahead_word`s).
fn readahead_file() -> Result<PathBuf> {
    generated_file("readahead.bin", READAHEAD_FILE_SIZE, readahead_word)
}

/// `target/NAME`, `size` bytes of `word(0), word(1), ...`, made once.
fn generated_file(name: &str, size: usize, word: fn(u64) -> u64) -> Result<PathBuf> {
    let path = build::target_dir().join(name);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size as u64) {
        return Ok(path);
    }
    let mut data = Vec::with_capacity(size);
    for i in 0..(size / 8) as u64 {
        data.extend_from_slice(&word(i).to_le_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &data).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("renaming to {}: {e}", path.display()))?;
    Ok(path)
}

/// Size of `/data/bench256.bin`, the file `cargo xtask bench reclaim` reads.
pub const BENCH_FILE_SIZE: usize = 256 << 20;

/// The image for `cargo xtask bench reclaim`: the default image plus
/// `/data/bench256.bin` (`BENCH_FILE_SIZE` bytes of `reclaim_word`s). Kept apart so the
/// default image (built for every test run) stays small and quick to write; the data
/// file is generated once under `target/bench-extra/`.
pub fn build_bench_rootfs() -> Result<PathBuf> {
    let extra = build::target_dir().join("bench-extra");
    let path = extra.join("data/bench256.bin");
    if !std::fs::metadata(&path).is_ok_and(|m| m.len() == BENCH_FILE_SIZE as u64) {
        let mut data = Vec::with_capacity(BENCH_FILE_SIZE);
        for i in 0..(BENCH_FILE_SIZE / 8) as u64 {
            data.extend_from_slice(&reclaim_word(i).to_le_bytes());
        }
        let dir = extra.join("data");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = path.with_extension("bin.tmp");
        std::fs::write(&tmp, &data).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("renaming to {}: {e}", path.display()))?;
    }
    let out = build::target_dir().join("rootfs-bench.cpio");
    build_rootfs(&out, &[extra])?;
    Ok(out)
}

/// Build the image at `out` from `xtask/rootfs/`, `target/user-bin/` and `extra`;
/// returns its size. Written to a temporary name and renamed, so a running QEMU never
/// sees half an image.
pub fn build_rootfs(out: &Path, extra: &[PathBuf]) -> Result<usize> {
    let root = workspace_root();
    let mut items = collect(
        &root.join("xtask/rootfs"),
        &build::target_dir().join("user-bin"),
        extra,
    )?;
    items.insert(
        "data".to_string(),
        Item::Dir {
            mode: 0o755,
            mtime: 0,
        },
    );
    items.insert(
        "data/reclaim.bin".to_string(),
        Item::File {
            src: reclaim_file()?,
            mode: 0o644,
            mtime: 0,
        },
    );
    items.insert(
        "data/readahead.bin".to_string(),
        Item::File {
            src: readahead_file()?,
            mode: 0o644,
            mtime: 0,
        },
    );
    let data = write_archive(&items)?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = out.with_extension("cpio.tmp");
    std::fs::write(&tmp, &data).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("renaming to {}: {e}", out.display()))?;
    eprintln!(
        "xtask: {} ({} entries, {} bytes)",
        out.strip_prefix(&root).unwrap_or(out).display(),
        items.len() + 1,
        data.len()
    );
    Ok(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal newc reader for the round trip (the kernel has its own, `fs/cpio.rs`).
    fn parse(img: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut off = 0;
        loop {
            assert_eq!(&img[off..off + 6], b"070701", "magic at {off}");
            let field = |i: usize| {
                let s = std::str::from_utf8(&img[off + 6 + 8 * i..off + 14 + 8 * i]).unwrap();
                u32::from_str_radix(s, 16).unwrap() as usize
            };
            let (mode, size, namesize) = (field(1) as u32, field(6), field(11));
            let name_off = off + 110;
            let name = std::str::from_utf8(&img[name_off..name_off + namesize - 1]).unwrap();
            assert_eq!(img[name_off + namesize - 1], 0);
            let data_off = (name_off + namesize + 3) & !3;
            if name == "TRAILER!!!" {
                return out;
            }
            out.push((
                name.to_string(),
                mode,
                img[data_off..data_off + size].to_vec(),
            ));
            off = (data_off + size + 3) & !3;
        }
    }

    #[test]
    fn writer_matches_gen_init_cpio_bytes() {
        // The same fixed archive kernel/src/fs/cpio.rs parses
        // (a_fixed_gen_init_cpio_byte_string_parses): `file /a 1 0644 0 0`, content "x".
        let mut w = CpioWriter::new();
        w.next_ino = 2;
        w.file("a", 0o644, 0, b"x");
        let got = w.finish(1);
        let want = concat!(
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
        );
        assert_eq!(String::from_utf8_lossy(&got), want);
    }

    #[test]
    fn image_holds_base_dirs_static_files_bins_and_extra_in_order() {
        let tmp = std::env::temp_dir().join(format!("mmkern-rootfs-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (st, bin, extra) = (tmp.join("static"), tmp.join("bin"), tmp.join("extra"));
        std::fs::create_dir_all(st.join("etc")).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(extra.join("etc")).unwrap();
        std::fs::create_dir_all(extra.join("data/sub")).unwrap();
        std::fs::write(st.join("etc/motd"), "hi\n").unwrap();
        std::fs::write(st.join("etc/big"), vec![7u8; 5000]).unwrap();
        std::fs::write(bin.join("init"), b"\x7fELF").unwrap();
        std::fs::write(extra.join("etc/motd"), "extra wins\n").unwrap();
        std::fs::write(extra.join("data/sub/f"), "deep").unwrap();

        let items = collect(&st, &bin, std::slice::from_ref(&extra)).unwrap();
        let img = write_archive(&items).unwrap();
        let _ = std::fs::remove_dir_all(&tmp);

        assert_eq!(img.len() % 4096, 0, "padded to whole blocks");
        let entries = parse(&img);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                ".",
                "bin",
                "bin/init",
                "data",
                "data/sub",
                "data/sub/f",
                "dev",
                "etc",
                "etc/big",
                "etc/motd",
                "proc",
                "sys",
                "sys/kernel",
                "sys/kernel/tracing",
                "tmp"
            ]
        );
        let get = |n: &str| entries.iter().find(|e| e.0 == n).unwrap();
        assert_eq!(get("etc/motd").2, b"extra wins\n");
        assert_eq!(get("etc/big").2.len(), 5000);
        assert_eq!(get("bin/init").1, 0o100755);
        assert_eq!(get("tmp").1, 0o041777);
        assert_eq!(get("data/sub").1 & 0o170000, 0o040000);
    }

    #[test]
    fn empty_user_bin_still_gives_bin() {
        let items = collect(
            Path::new("/nonexistent/a"),
            Path::new("/nonexistent/b"),
            &[],
        )
        .unwrap();
        assert!(matches!(items.get("bin"), Some(Item::Dir { .. })));
        let err = collect(
            Path::new("/nonexistent/a"),
            Path::new("/nonexistent/b"),
            &[PathBuf::from("/nonexistent/c")],
        );
        assert!(err.is_err());
    }
}

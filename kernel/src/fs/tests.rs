//! In-kernel tests of the file systems (`ktest=fs`): the root fs read from the virtio disk
//! through the page cache, directory listing, stat, tmpfs, the character devices, and the
//! errno of each failure the VFS implements.
//!
//! Free pages: every test that allocates checks the count returns to its start value once
//! it has dropped what it allocated. Page-cache pages of the read-only root fs stay cached
//! (nothing evicts them before reclaim exists): those tests check that the count fell by
//! exactly the number of pages the cache gained.
use super::char_dev::NULL_DEV;
use super::file::{SEEK_CUR, SEEK_END, SEEK_SET};
use super::inode::{major, minor, s_isdir, s_isreg, S_IFCHR, S_IFMT};
use super::namei::{init_ns, AT_REMOVEDIR};
use super::readdir::{parse_dirents64, DT_CHR, DT_DIR, DT_REG};
use super::*;
use crate::errno::{Errno, KResult};
use crate::mm::filemap::nr_file_pages;
use crate::mm::page::{page_address, put_page};

/// Free pages, counting slab pages as free: these tests count the pages file data takes,
/// and the kernel objects around it (inodes, page-cache tree nodes) now come from slabs
/// that take pages too. Spare empty slabs are given back first so the count is stable.
fn nr_free_pages() -> usize {
    crate::mm::slab::kmem_cache_shrink_all();
    crate::mm::page_alloc::nr_free_pages() + crate::mm::slab::nr_slab_pages()
}
use alloc::{format, string::String, vec, vec::Vec};

type TestResult = Result<String, String>;

/// Size of `xtask/rootfs/etc/test.txt`: three pages and 100 bytes.
const TEST_TXT_SIZE: usize = 3 * 4096 + 100;

/// Byte `k` of /etc/test.txt: 32-byte lines `line NNNNN: abcdefghijklmnopqrs\n`.
fn test_txt_byte(k: usize) -> u8 {
    let line = format!("line {:05}: abcdefghijklmnopqrs\n", k / 32);
    line.as_bytes()[k % 32]
}

fn open(path: &str, flags: u32) -> KResult<alloc::sync::Arc<File>> {
    filp_open(path, flags, 0o644)
}

fn expect_err<T>(what: &str, got: KResult<T>, want: Errno) -> Result<(), String> {
    match got {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("{what}: {e:?}, expected {want:?}")),
        Ok(_) => Err(format!("{what}: succeeded, expected {want:?}")),
    }
}

fn ok<T>(what: &str, r: KResult<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

fn cached_pages(path: &str) -> Result<usize, String> {
    let p = ok(path, kern_path("/", path))?;
    Ok(p.inode.mapping().map_or(0, |m| m.nrpages()))
}

/// /etc/test.txt read through virtio-blk and the page cache, in pieces that straddle
/// page boundaries, then again from the cache.
pub fn read_test_txt() -> TestResult {
    let (free0, cached0) = (nr_free_pages(), cached_pages("/etc/test.txt")?);
    let file0 = nr_file_pages();
    let f = ok("open /etc/test.txt", open("/etc/test.txt", O_RDONLY))?;
    let mut data = Vec::new();
    let mut chunk = [0u8; 1000];
    loop {
        let n = ok("read", f.read(&mut chunk))?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&chunk[..n]);
    }
    if data.len() != TEST_TXT_SIZE {
        return Err(format!(
            "read {} bytes, file has {TEST_TXT_SIZE}",
            data.len()
        ));
    }
    if let Some(k) = (0..data.len()).find(|&k| data[k] != test_txt_byte(k)) {
        return Err(format!(
            "byte {k} is {:#x}, expected {:#x}",
            data[k],
            test_txt_byte(k)
        ));
    }
    // A byte on the second page, and a read across the first page boundary, from the cache.
    let mut two = [0u8; 2];
    ok("pread", f.pread(&mut two, 4095))?;
    if two != [test_txt_byte(4095), test_txt_byte(4096)] || data[5000] != test_txt_byte(5000) {
        return Err("page-boundary bytes differ".into());
    }
    // Past end of file: 0 bytes.
    if ok("pread at EOF", f.pread(&mut two, TEST_TXT_SIZE as i64))? != 0 {
        return Err("read past end of file returned data".into());
    }
    drop(f);
    let cached = cached_pages("/etc/test.txt")?;
    let used = free0 - nr_free_pages();
    if cached != 4 || used != cached - cached0 || nr_file_pages() - file0 != used {
        return Err(format!(
            "{cached} pages cached (expected 4), {used} free pages used (expected {})",
            cached - cached0
        ));
    }
    Ok(format!(
        "{TEST_TXT_SIZE} bytes match; 4 pages cached, {} read from disk (they stay cached)",
        cached - cached0
    ))
}

/// The page the fault path will map: right index, mapping, content, and a reference.
pub fn fault_page_of_root_file() -> TestResult {
    let p = ok("lookup", kern_path("/", "/etc/test.txt"))?;
    let page = ok("fault_page(1)", p.inode.fault_page(1))?;
    let index = page.index.load(core::sync::atomic::Ordering::Relaxed);
    let mapping = page.mapping.load(core::sync::atomic::Ordering::Relaxed);
    let want_mapping = p.inode.mapping().map_or(0, |m| m as *const _ as usize);
    let refs = page.page_count();
    // SAFETY: we hold a reference to the page.
    let first = unsafe { *(page_address(page) as *const u8) };
    put_page(page);
    let page3 = ok("fault_page(3)", p.inode.fault_page(3))?;
    // SAFETY: as above; the last page holds 100 bytes of data, then zeros.
    let tail =
        unsafe { core::slice::from_raw_parts((page_address(page3) + 100) as *const u8, 3996) };
    let zero_filled = tail.iter().all(|&b| b == 0);
    put_page(page3);
    match () {
        _ if index != 1 => Err(format!("page index {index}")),
        _ if mapping != want_mapping => Err("page->mapping is not the inode's".into()),
        _ if refs < 2 => Err(format!("refcount {refs}: the caller got no reference")),
        _ if first != test_txt_byte(4096) => Err("wrong content".into()),
        _ if !zero_filled => Err("last page not zero-filled past end of file".into()),
        _ => Ok(format!(
            "index 1, refcount {refs} while held, last page zero-filled"
        )),
    }
}

/// Read a whole directory with getdents64 using a small buffer (several calls).
fn list_dir(path: &str) -> Result<Vec<(String, u64, u8)>, String> {
    let d = ok(path, open(path, O_RDONLY | O_DIRECTORY))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = ok("getdents64", d.getdents64(&mut buf))?;
        if n == 0 {
            return Ok(out);
        }
        for e in parse_dirents64(&buf[..n]) {
            out.push((String::from(e.name), e.d_ino, e.d_type));
        }
    }
}

/// getdents64 on `/`: dots first, every top-level directory with DT_DIR, small buffers.
pub fn getdents_root() -> TestResult {
    let entries = list_dir("/")?;
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    for want in [".", "..", "bin", "dev", "etc", "proc", "tmp"] {
        if !names.contains(&want) {
            return Err(format!("`{want}` missing from {names:?}"));
        }
    }
    if names[0] != "." || names[1] != ".." {
        return Err(format!("dots not first: {names:?}"));
    }
    if entries.iter().any(|e| e.0 == "etc" && e.2 != DT_DIR) {
        return Err("etc is not DT_DIR".into());
    }
    let etc = list_dir("/etc")?;
    if !etc.iter().any(|e| e.0 == "test.txt" && e.2 == DT_REG) {
        return Err(format!("/etc lacks test.txt as DT_REG: {etc:?}"));
    }
    let dev = list_dir("/dev")?;
    if !dev.iter().any(|e| e.0 == "null" && e.2 == DT_CHR) {
        return Err(format!("/dev lacks null as DT_CHR: {dev:?}"));
    }
    // Errors: a buffer too small for one record, a regular file.
    let d = ok("open /", open("/", O_RDONLY))?;
    expect_err(
        "getdents64 with 16 bytes",
        d.getdents64(&mut [0u8; 16]),
        Errno::EINVAL,
    )?;
    let f = ok("open motd", open("/etc/motd", O_RDONLY))?;
    expect_err(
        "getdents64 on a file",
        f.getdents64(&mut [0u8; 256]),
        Errno::ENOTDIR,
    )?;
    // Rewind with lseek and read again.
    let mut buf = [0u8; 512];
    let n1 = ok("getdents64", d.getdents64(&mut buf))?;
    ok("lseek dir", d.lseek(0, SEEK_SET))?;
    let n2 = ok("getdents64 again", d.getdents64(&mut buf))?;
    if n1 != n2 {
        return Err(format!("after rewind {n2} bytes, first {n1}"));
    }
    Ok(format!("/: {names:?}"))
}

/// stat sizes, types, devices and link counts.
pub fn stat_sizes_and_types() -> TestResult {
    let st = ok("stat test.txt", vfs_fstatat("/", "/etc/test.txt", 0))?;
    if st.st_size != TEST_TXT_SIZE as i64 || !s_isreg(st.st_mode) || st.st_nlink != 1 {
        return Err(format!("test.txt: {st:?}"));
    }
    if st.st_dev != ROOT_DEV || st.st_blksize != 4096 || st.st_blocks != 25 {
        return Err(format!("test.txt dev/blocks: {st:?}"));
    }
    let root = ok("stat /", vfs_fstatat("/", "/", 0))?;
    if !s_isdir(root.st_mode) || root.st_nlink < 2 + 5 {
        return Err(format!("/: {root:?}"));
    }
    let null = ok("stat /dev/null", vfs_fstatat("/", "/dev/null", 0))?;
    if null.st_mode & S_IFMT != S_IFCHR || null.st_rdev != NULL_DEV {
        return Err(format!("/dev/null: {null:?}"));
    }
    let tmp = ok("stat /tmp", vfs_fstatat("/", "/tmp", 0))?;
    if tmp.st_dev == ROOT_DEV || major(tmp.st_dev) != 0 || tmp.st_mode & 0o7777 != 0o1777 {
        return Err(format!("/tmp is not a tmpfs mount: {tmp:?}"));
    }
    // fstat agrees with stat; AT_EMPTY_PATH stats the directory itself.
    let f = ok("open", open("/etc/test.txt", O_RDONLY))?;
    if f.stat() != st {
        return Err("fstat differs from stat".into());
    }
    let etc = ok(
        "AT_EMPTY_PATH",
        vfs_fstatat("/etc", "", stat::AT_EMPTY_PATH),
    )?;
    if !s_isdir(etc.st_mode) {
        return Err("AT_EMPTY_PATH did not stat the directory".into());
    }
    expect_err("empty path", vfs_fstatat("/etc", "", 0), Errno::ENOENT)?;
    expect_err("bad flags", vfs_fstatat("/", "/", 0x1), Errno::EINVAL)?;
    Ok(format!(
        "test.txt {} bytes, {} blocks; /dev/null {}:{}; /tmp on 0:{}",
        st.st_size,
        st.st_blocks,
        major(null.st_rdev),
        minor(null.st_rdev),
        minor(tmp.st_dev)
    ))
}

/// tmpfs: write, read back, holes, ftruncate down and up, O_APPEND, unlink; every page
/// comes back.
pub fn tmpfs_write_read_truncate() -> TestResult {
    let free0 = nr_free_pages();
    {
        let f = ok("create", open("/tmp/ktest", O_CREAT | O_EXCL | O_RDWR))?;
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        if ok("write", f.write(&data))? != data.len() {
            return Err("short write".into());
        }
        let st = f.stat();
        if st.st_size != 10_000 || st.st_blocks != 24 {
            return Err(format!(
                "after write: size {} blocks {}",
                st.st_size, st.st_blocks
            ));
        }
        if free0 - nr_free_pages() != 3 {
            return Err(format!(
                "10000 bytes took {} pages",
                free0 - nr_free_pages()
            ));
        }
        ok("lseek", f.lseek(0, SEEK_SET))?;
        let mut back = vec![0u8; 12_000];
        let n = ok("read", f.read(&mut back))?;
        if n != 10_000 || back[..n] != data[..] {
            return Err(format!("read back {n} bytes, content differs"));
        }
        // Shrink into the second page, grow again: the tail reads as zeros.
        ok("ftruncate 5000", f.truncate(5000))?;
        if free0 - nr_free_pages() != 2 {
            return Err("ftruncate did not free the third page".into());
        }
        ok("ftruncate 9000", f.truncate(9000))?;
        let mut tail = vec![0xffu8; 4000];
        ok("pread", f.pread(&mut tail, 5000))?;
        if tail.iter().any(|&b| b != 0) {
            return Err("bytes past a truncation are not zero".into());
        }
        // A hole: write far away, the gap reads as zeros without pages.
        ok("pwrite", f.pwrite(b"end", 40_000))?;
        if f.stat().st_size != 40_003 || free0 - nr_free_pages() != 3 {
            return Err(format!("after pwrite: {:?}", f.stat()));
        }
        let mut hole = [0xffu8; 16];
        ok("pread hole", f.pread(&mut hole, 20_000))?;
        if hole != [0; 16] {
            return Err("hole not zero".into());
        }
        // lseek SEEK_END / SEEK_CUR.
        if ok("SEEK_END", f.lseek(-3, SEEK_END))? != 40_000
            || ok("SEEK_CUR", f.lseek(1, SEEK_CUR))? != 40_001
        {
            return Err("lseek arithmetic".into());
        }
        ok("ftruncate 0", f.truncate(0))?;
        // O_APPEND writes at the end whatever the position.
        let a = ok("open O_APPEND", open("/tmp/ktest", O_WRONLY | O_APPEND))?;
        ok("append", a.write(b"abc"))?;
        ok("append", a.write(b"def"))?;
        let mut six = [0u8; 6];
        ok("pread", f.pread(&mut six, 0))?;
        if &six != b"abcdef" {
            return Err(format!("O_APPEND gave {six:?}"));
        }
        // O_TRUNC on open.
        drop(ok("O_TRUNC", open("/tmp/ktest", O_WRONLY | O_TRUNC))?);
        if f.stat().st_size != 0 {
            return Err("O_TRUNC left data".into());
        }
        ok("rewind", f.lseek(0, SEEK_SET))?;
        ok("write again", f.write(&data))?;
        // Unlink while open: the data stays readable until the last close.
        ok("unlink", do_unlinkat("/", "/tmp/ktest", 0))?;
        expect_err(
            "open after unlink",
            open("/tmp/ktest", O_RDONLY),
            Errno::ENOENT,
        )?;
        let mut one = [0u8; 1];
        ok("pread after unlink", f.pread(&mut one, 300))?;
        if one[0] != data[300] || f.stat().st_nlink != 0 {
            return Err("unlinked file lost its data or kept its link".into());
        }
    }
    let free1 = nr_free_pages();
    if free1 != free0 {
        return Err(format!("free pages {free0} -> {free1}"));
    }
    Ok(format!("free pages back to {free1}"))
}

/// tmpfs directories: mkdir, relative paths, `..`, rmdir, unlink of a directory.
pub fn tmpfs_directories() -> TestResult {
    ok("mkdir", do_mkdirat("/", "/tmp/kdir", 0o755))?;
    ok("mkdir sub", do_mkdirat("/tmp/kdir", "sub", 0o755))?;
    let f = ok(
        "create relative",
        init_ns()
            .and_then(|ns| ns.do_filp_open("/tmp/kdir/sub", "../f", O_CREAT | O_WRONLY, 0o600)),
    )?;
    if f.path() != "/tmp/kdir/f" {
        return Err(format!("canonical path {}", f.path()));
    }
    drop(f);
    let st = ok("stat", vfs_fstatat("/tmp/kdir", "./sub/../f", 0))?;
    if st.st_mode != S_IFREG_0600 {
        return Err(format!("mode {:o}", st.st_mode));
    }
    if ok("stat dir", vfs_fstatat("/", "/tmp/kdir", 0))?.st_nlink != 3 {
        return Err("a directory with one subdirectory should have 3 links".into());
    }
    expect_err(
        "rmdir non-empty",
        do_unlinkat("/", "/tmp/kdir", AT_REMOVEDIR),
        Errno::ENOTEMPTY,
    )?;
    expect_err(
        "unlink a directory",
        do_unlinkat("/", "/tmp/kdir/sub", 0),
        Errno::EISDIR,
    )?;
    expect_err(
        "rmdir a file",
        do_unlinkat("/", "/tmp/kdir/f", AT_REMOVEDIR),
        Errno::ENOTDIR,
    )?;
    expect_err(
        "mkdir existing",
        do_mkdirat("/", "/tmp/kdir/sub", 0o755),
        Errno::EEXIST,
    )?;
    ok("unlink f", do_unlinkat("/", "/tmp/kdir/f", 0))?;
    ok("rmdir sub", do_unlinkat("/", "/tmp/kdir/sub", AT_REMOVEDIR))?;
    ok("rmdir kdir", do_unlinkat("/", "/tmp/kdir", AT_REMOVEDIR))?;
    expect_err("gone", vfs_fstatat("/", "/tmp/kdir", 0), Errno::ENOENT)?;
    Ok("mkdir, relative create, rmdir order all as Linux".into())
}

const S_IFREG_0600: u32 = 0o100600;

/// /dev/zero, /dev/null and /dev/console.
pub fn char_devices() -> TestResult {
    let free0 = nr_free_pages();
    let zero = ok("open /dev/zero", open("/dev/zero", O_RDWR))?;
    let mut buf = [0xffu8; 300];
    if ok("read zero", zero.read(&mut buf))? != 300 || buf.iter().any(|&b| b != 0) {
        return Err("/dev/zero did not read zeros".into());
    }
    if ok("write zero", zero.write(b"x"))? != 1 {
        return Err("/dev/zero write".into());
    }
    let null = ok("open /dev/null", open("/dev/null", O_RDWR))?;
    if ok("write null", null.write(&buf))? != 300 || ok("read null", null.read(&mut buf))? != 0 {
        return Err("/dev/null".into());
    }
    if ok("lseek null", null.lseek(100, SEEK_SET))? != 0 {
        return Err("lseek on /dev/null should stay at 0".into());
    }
    let con = ok("open /dev/console", open("/dev/console", O_WRONLY))?;
    let msg = b"fs: a line written to /dev/console\n";
    if ok("write console", con.write(msg))? != msg.len() {
        return Err("console write".into());
    }
    expect_err("lseek console", con.lseek(0, SEEK_SET), Errno::ESPIPE)?;
    if !con.is_tty() || null.is_tty() {
        return Err("only the console is a tty".into());
    }
    expect_err("pwrite console", con.pwrite(b"x", 0), Errno::ESPIPE)?;
    let con_nb = ok("open console", open("/dev/console", O_RDONLY | O_NONBLOCK))?;
    expect_err(
        "read console O_NONBLOCK",
        con_nb.read(&mut buf),
        Errno::EAGAIN,
    )?;
    drop((zero, null, con, con_nb));
    if nr_free_pages() != free0 {
        return Err("device files allocated pages".into());
    }
    Ok("zero, null, console behave".into())
}

/// Each errno the lookup and open paths implement.
pub fn open_errors() -> TestResult {
    let long = "x".repeat(256);
    let too_long_path = format!("/{}", "a/".repeat(2048));
    let cases: &[(&str, u32, Errno)] = &[
        ("", O_RDONLY, Errno::ENOENT),
        ("/nonexistent", O_RDONLY, Errno::ENOENT),
        ("/etc/nonexistent/x", O_RDONLY, Errno::ENOENT),
        ("/etc/motd/x", O_RDONLY, Errno::ENOTDIR),
        ("/etc/motd/", O_RDONLY, Errno::ENOTDIR),
        ("/etc/motd/.", O_RDONLY, Errno::ENOTDIR),
        ("/etc/motd/..", O_RDONLY, Errno::ENOTDIR),
        ("/etc/motd", O_RDONLY | O_DIRECTORY, Errno::ENOTDIR),
        ("/etc/motd", O_WRONLY, Errno::EROFS),
        ("/etc/motd", O_RDWR, Errno::EROFS),
        ("/etc/motd", O_RDONLY | O_TRUNC, Errno::EROFS),
        ("/etc/new", O_CREAT | O_WRONLY, Errno::EROFS),
        ("/etc", O_WRONLY, Errno::EISDIR),
        ("/etc", O_RDONLY | O_CREAT, Errno::EISDIR),
        ("/", O_RDONLY | O_CREAT, Errno::EISDIR),
        ("/tmp/newdir/", O_CREAT | O_WRONLY, Errno::EISDIR),
        ("/etc/motd", O_CREAT | O_EXCL, Errno::EEXIST),
        ("/dev/console", O_CREAT | O_EXCL, Errno::EEXIST),
        ("/tmp", O_CREAT | O_DIRECTORY, Errno::EINVAL),
    ];
    for &(path, flags, want) in cases {
        expect_err(
            &format!("open({path:?}, {flags:#o})"),
            open(path, flags),
            want,
        )?;
    }
    expect_err(
        "long component",
        open(&format!("/tmp/{long}"), O_RDONLY),
        Errno::ENAMETOOLONG,
    )?;
    expect_err(
        "long create",
        open(&format!("/tmp/{long}"), O_CREAT | O_WRONLY),
        Errno::ENAMETOOLONG,
    )?;
    expect_err(
        "PATH_MAX",
        open(&too_long_path, O_RDONLY),
        Errno::ENAMETOOLONG,
    )?;
    // What does work: `.`/`..` anywhere, `..` above the root, relative to a cwd.
    for (cwd, path) in [
        ("/", "/etc/./../etc//motd"),
        ("/", "/../../etc/motd"),
        ("/etc", "motd"),
        ("/dev/shm", "../../etc/motd"),
    ] {
        let f = ok(
            &format!("open {path} in {cwd}"),
            init_ns().and_then(|ns| ns.do_filp_open(cwd, path, O_RDONLY, 0)),
        )?;
        if f.path() != "/etc/motd" {
            return Err(format!("{path} in {cwd} resolved to {}", f.path()));
        }
    }
    expect_err(
        "cwd not a directory",
        init_ns().and_then(|ns| ns.do_filp_open("/etc/motd", "x", O_RDONLY, 0)),
        Errno::ENOTDIR,
    )?;
    // Access modes on open files.
    let ro = ok("open ro", open("/etc/motd", O_RDONLY))?;
    expect_err("write O_RDONLY", ro.write(b"x"), Errno::EBADF)?;
    expect_err("ftruncate O_RDONLY", ro.truncate(0), Errno::EINVAL)?;
    expect_err("lseek bad whence", ro.lseek(0, 7), Errno::EINVAL)?;
    expect_err("lseek negative", ro.lseek(-1, SEEK_SET), Errno::EINVAL)?;
    expect_err("pread negative", ro.pread(&mut [0u8; 4], -1), Errno::EINVAL)?;
    expect_err(
        "SEEK_DATA past EOF",
        ro.lseek(100_000, file::SEEK_DATA),
        Errno::ENXIO,
    )?;
    let wo = ok("create wo", open("/tmp/ktest-wo", O_CREAT | O_WRONLY))?;
    expect_err("read O_WRONLY", wo.read(&mut [0u8; 4]), Errno::EBADF)?;
    expect_err("ftruncate negative", wo.truncate(-1), Errno::EINVAL)?;
    expect_err(
        "create again O_EXCL",
        open("/tmp/ktest-wo", O_CREAT | O_EXCL | O_WRONLY),
        Errno::EEXIST,
    )?;
    drop(wo);
    ok("unlink", do_unlinkat("/", "/tmp/ktest-wo", 0))?;
    let dir = ok("open dir", open("/etc", O_RDONLY))?;
    expect_err("read a directory", dir.read(&mut [0u8; 4]), Errno::EISDIR)?;
    expect_err("ftruncate a directory", dir.truncate(0), Errno::EINVAL)?;
    // Directory operations on the read-only root, and mounts.
    expect_err(
        "mkdir on the root fs",
        do_mkdirat("/", "/newdir", 0o755),
        Errno::EROFS,
    )?;
    expect_err(
        "mkdir existing on the root fs",
        do_mkdirat("/", "/etc", 0o755),
        Errno::EEXIST,
    )?;
    expect_err(
        "unlink on the root fs",
        do_unlinkat("/", "/etc/motd", 0),
        Errno::EROFS,
    )?;
    expect_err(
        "rmdir a mount point",
        do_unlinkat("/", "/dev/shm", AT_REMOVEDIR),
        Errno::EBUSY,
    )?;
    expect_err(
        "rmdir .",
        do_unlinkat("/", "/tmp/.", AT_REMOVEDIR),
        Errno::EINVAL,
    )?;
    expect_err(
        "truncate(2) on the root fs",
        do_sys_truncate("/", "/etc/motd", 0),
        Errno::EROFS,
    )?;
    expect_err(
        "truncate(2) a directory",
        do_sys_truncate("/", "/tmp", 0),
        Errno::EISDIR,
    )?;
    expect_err(
        "unlink missing",
        do_unlinkat("/", "/tmp/none", 0),
        Errno::ENOENT,
    )?;
    // Permission: root may read anything, but executes only what has an x bit.
    expect_err(
        "X_OK on /etc/motd",
        do_faccessat("/", "/etc/motd", namei::MAY_EXEC),
        Errno::EACCES,
    )?;
    ok("X_OK on /bin", do_faccessat("/", "/bin", namei::MAY_EXEC))?;
    expect_err(
        "W_OK on the root fs",
        do_faccessat("/", "/etc/motd", namei::MAY_WRITE),
        Errno::EROFS,
    )?;
    // File flags: O_CLOEXEC is for the fd, creation flags are dropped, F_SETFL.
    let f = ok("open", open("/etc/motd", O_RDONLY | O_CLOEXEC | O_NONBLOCK))?;
    if f.flags() != O_NONBLOCK || fd_flags_of(O_RDONLY | O_CLOEXEC) != FD_CLOEXEC {
        return Err(format!("f_flags {:#o}", f.flags()));
    }
    f.set_flags(O_APPEND | O_WRONLY);
    if f.flags() != O_APPEND {
        return Err(format!("F_SETFL changed the access mode: {:#o}", f.flags()));
    }
    Ok(format!(
        "{} open cases and the file-level errors",
        cases.len()
    ))
}

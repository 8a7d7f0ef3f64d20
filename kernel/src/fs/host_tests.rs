//! Host tests of the VFS on a cpio image in memory: path lookup, mounts, open's errno
//! order, getdents64 and stat, tmpfs data and the cpio page cache against simulated RAM.
//! Names follow the Linux behaviour each one checks.
use super::block_dev::RamDisk;
use super::cpio::{newc_member, TRAILER};
use super::inode::{mkdev, s_isdir, S_IFCHR};
use super::namei::{split_last, LastType, MntNamespace, AT_REMOVEDIR};
use super::readdir::parse_dirents64;
use super::*;
use crate::errno::Errno;
use crate::mm::page_alloc::nr_free_pages;
use alloc::sync::Arc;
use alloc::vec::Vec;
use alloc::{format, string::String};

/// `/etc/motd` ("hello\n"), `/etc/big` (5000 bytes of `i % 251`), `/bin`, `/tmp`, `/dev`,
/// listed out of order and with `./` prefixes, and `/usr/lib/x` without its parents.
fn image() -> Vec<u8> {
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let mut v = Vec::new();
    newc_member(&mut v, 1, 0o040755, ".", b"");
    newc_member(&mut v, 3, 0o100644, "./etc/motd", b"hello\n");
    newc_member(&mut v, 2, 0o040755, "etc", b"");
    newc_member(&mut v, 4, 0o100600, "etc/big", &big);
    newc_member(&mut v, 5, 0o040755, "bin", b"");
    newc_member(&mut v, 6, 0o041777, "tmp", b"");
    newc_member(&mut v, 7, 0o040755, "dev", b"");
    newc_member(&mut v, 8, 0o100755, "usr/lib/x", b"#!");
    newc_member(&mut v, 9, 0o120777, "etc/link", b"motd");
    newc_member(&mut v, 0, 0, TRAILER, b"");
    v
}

/// The namespace of the image with tmpfs on /tmp and a devtmpfs-like /dev.
fn namespace() -> MntNamespace {
    let root = cpiofs::cpiofs_fill_super(Arc::new(RamDisk(image())), ROOT_DEV).unwrap();
    let ns = MntNamespace::new(root);
    ns.do_add_mount("/tmp", tmpfs::shmem_fill_super("tmpfs", 0o1777))
        .unwrap();
    let dev = tmpfs::shmem_fill_super("devtmpfs", 0o755);
    char_dev::chr_dev_init();
    dev.create("null", S_IFCHR | 0o666, char_dev::NULL_DEV)
        .unwrap();
    dev.create("nodriver", S_IFCHR | 0o666, mkdev(99, 0))
        .unwrap();
    ns.do_add_mount("/dev", dev).unwrap();
    ns
}

/// Simulated RAM and a zone for tests that allocate pages (serialised by SimRam's lock).
fn sim_ram() -> crate::arch::aarch64::mmu::tests::SimRam {
    let ram = crate::arch::aarch64::mmu::tests::SimRam::new(256);
    crate::mm::page::tests::host_mem_map(0x40000, 4096);
    let mut zone = crate::mm::page_alloc::ZONE_NORMAL.lock();
    if zone.managed_pages == 0 {
        zone.add_free_range(0x40000, 0x40000 + 256);
    }
    ram
}

fn lookup(ns: &MntNamespace, cwd: &str, path: &str) -> Result<String, Errno> {
    ns.path_lookupat(cwd, path).map(|p| p.path)
}

#[test]
fn split_last_handles_slashes_and_the_root() {
    assert_eq!(split_last("/a/b"), ("/a", "b", false));
    assert_eq!(split_last("/a/b//"), ("/a", "b", true));
    assert_eq!(split_last("/a"), ("/", "a", false));
    assert_eq!(split_last("b"), ("", "b", false));
    assert_eq!(split_last("///"), ("/", "", true));
}

#[test]
fn archive_names_become_a_tree_with_implicit_parents() {
    let ns = namespace();
    assert_eq!(lookup(&ns, "/", "/usr/lib/x").unwrap(), "/usr/lib/x");
    let usr = ns.vfs_fstatat("/", "/usr", 0).unwrap();
    assert!(s_isdir(usr.st_mode));
    // "etc" came after "./etc/motd": the directory keeps its child and takes its attributes.
    let etc = ns.vfs_fstatat("/", "/etc", 0).unwrap();
    assert_eq!(etc.st_ino, 2);
    assert_eq!(lookup(&ns, "/", "/etc/motd").unwrap(), "/etc/motd");
    // Symbolic links are skipped (none in our images).
    assert_eq!(lookup(&ns, "/", "/etc/link"), Err(Errno::ENOENT));
    // Root: nlink = 2 + subdirectories (bin dev etc tmp usr).
    assert_eq!(ns.vfs_fstatat("/", "/", 0).unwrap().st_nlink, 7);
}

#[test]
fn dot_and_dotdot_resolve_lexically_and_stop_at_the_root() {
    let ns = namespace();
    assert_eq!(lookup(&ns, "/", "/etc/./motd").unwrap(), "/etc/motd");
    assert_eq!(lookup(&ns, "/", "/../../etc//motd").unwrap(), "/etc/motd");
    assert_eq!(lookup(&ns, "/", "/etc/..").unwrap(), "/");
    assert_eq!(
        lookup(&ns, "/usr/lib", "../../etc/motd").unwrap(),
        "/etc/motd"
    );
    assert_eq!(lookup(&ns, "/etc", ".").unwrap(), "/etc");
    // `..` out of a mounted tmpfs goes back to the directory holding the mount point.
    assert_eq!(lookup(&ns, "/tmp", "../etc").unwrap(), "/etc");
}

#[test]
fn lookup_errors_enoent_enotdir_enametoolong() {
    let ns = namespace();
    assert_eq!(lookup(&ns, "/", ""), Err(Errno::ENOENT));
    assert_eq!(lookup(&ns, "/", "/nope"), Err(Errno::ENOENT));
    assert_eq!(lookup(&ns, "/", "/nope/.."), Err(Errno::ENOENT));
    assert_eq!(lookup(&ns, "/", "/etc/motd/x"), Err(Errno::ENOTDIR));
    assert_eq!(lookup(&ns, "/", "/etc/motd/"), Err(Errno::ENOTDIR));
    assert_eq!(lookup(&ns, "/", "/etc/motd/.."), Err(Errno::ENOTDIR));
    assert_eq!(lookup(&ns, "/etc/motd", "x"), Err(Errno::ENOTDIR));
    let long = "n".repeat(256);
    assert_eq!(
        lookup(&ns, "/", &format!("/{long}")),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        lookup(&ns, "/", &"/".repeat(4096)),
        Err(Errno::ENAMETOOLONG)
    );
    // 4095 bytes is still a valid length.
    assert_eq!(lookup(&ns, "/", &"/".repeat(4095)).unwrap(), "/");
}

#[test]
fn path_parentat_classifies_the_last_component() {
    let ns = namespace();
    let (dir, last, trailing) = ns.path_parentat("/", "/etc/new/").unwrap();
    assert_eq!(
        (dir.path.as_str(), last, trailing),
        ("/etc", LastType::Norm("new"), true)
    );
    assert_eq!(ns.path_parentat("/", "/").unwrap().1, LastType::Root);
    assert_eq!(ns.path_parentat("/", "/etc/.").unwrap().1, LastType::Dot);
    assert_eq!(
        ns.path_parentat("/", "/etc/..").unwrap().1,
        LastType::DotDot
    );
    assert_eq!(ns.path_parentat("/etc", "motd").unwrap().0.path, "/etc");
    assert!(matches!(
        ns.path_parentat("/", "/etc/motd/x"),
        Err(Errno::ENOTDIR)
    ));
}

#[test]
fn mounts_cover_their_directory() {
    let ns = namespace();
    let root_tmp_ino = 6;
    let tmp = ns.vfs_fstatat("/", "/tmp", 0).unwrap();
    assert_ne!(tmp.st_dev, ROOT_DEV);
    assert_ne!(tmp.st_ino, root_tmp_ino);
    assert_eq!(tmp.st_mode, 0o041777);
    let mounts: Vec<String> = ns.mounts().into_iter().map(|m| m.mountpoint).collect();
    assert_eq!(mounts, ["/tmp", "/dev"]);
    assert_eq!(
        ns.do_add_mount("/etc/motd", tmpfs::shmem_fill_super("tmpfs", 0o755))
            .unwrap_err(),
        Errno::ENOTDIR
    );
}

#[test]
fn open_errno_follows_linux_order() {
    let ns = namespace();
    let open = |path: &str, flags: u32| ns.do_filp_open("/", path, flags, 0o644).map(|_| ());
    assert_eq!(open("/etc/motd", O_WRONLY), Err(Errno::EROFS));
    assert_eq!(open("/etc/motd", O_RDONLY | O_TRUNC), Err(Errno::EROFS));
    assert_eq!(open("/etc/new", O_CREAT | O_WRONLY), Err(Errno::EROFS));
    assert_eq!(open("/etc/motd", O_CREAT | O_EXCL), Err(Errno::EEXIST));
    assert_eq!(open("/etc", O_RDWR), Err(Errno::EISDIR));
    assert_eq!(open("/etc", O_CREAT), Err(Errno::EISDIR));
    assert_eq!(open("/", O_CREAT), Err(Errno::EISDIR));
    assert_eq!(open("/tmp/d/", O_CREAT), Err(Errno::EISDIR));
    assert_eq!(open("/etc/motd", O_DIRECTORY), Err(Errno::ENOTDIR));
    assert_eq!(open("/dev/nodriver", O_RDONLY), Err(Errno::ENXIO));
    assert_eq!(open("/tmp/x", O_TMPFILE | O_RDWR), Err(Errno::EOPNOTSUPP));
    assert_eq!(open("/etc", O_RDONLY | O_DIRECTORY), Ok(()));
    // Access mode 3: opens (Linux: "ioctl only"), needs write permission, reads nothing.
    assert_eq!(open("/etc/motd", 3), Err(Errno::EROFS));
    let f = ns.do_filp_open("/", "/dev/null", 3, 0).unwrap();
    assert_eq!(f.read(&mut [0u8; 1]), Err(Errno::EBADF));
    assert_eq!(f.write(b"x"), Err(Errno::EBADF));
}

#[test]
fn created_files_keep_creation_flags_out_of_f_flags() {
    let ns = namespace();
    let f = ns
        .do_filp_open(
            "/tmp",
            "f",
            O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_APPEND,
            0o640,
        )
        .unwrap();
    assert_eq!(f.flags(), O_RDWR | O_APPEND);
    assert_eq!(f.path(), "/tmp/f");
    assert_eq!(f.stat().st_mode, 0o100640);
    assert_eq!(f.stat().st_size, 0);
}

#[test]
fn getdents64_emits_dots_then_sorted_names_and_resumes() {
    let ns = namespace();
    let d = ns.do_filp_open("/", "/", O_RDONLY, 0).unwrap();
    let mut names = Vec::new();
    let mut buf = [0u8; 48]; // two short records per call
    loop {
        let n = d.getdents64(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for e in parse_dirents64(&buf[..n]) {
            names.push((String::from(e.name), e.d_off, e.d_ino));
        }
    }
    let just: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(just, [".", "..", "bin", "dev", "etc", "tmp", "usr"]);
    assert_eq!(names[0].2, names[1].2, "the root is its own parent");
    let offs: Vec<i64> = names.iter().map(|n| n.1).collect();
    assert_eq!(offs, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(d.lseek(0, file::SEEK_END), Err(Errno::EINVAL));
    assert_eq!(d.lseek(3, file::SEEK_SET), Ok(3));
    let mut buf = [0u8; 256];
    let n = d.getdents64(&mut buf).unwrap();
    let after: Vec<&str> = parse_dirents64(&buf[..n]).iter().map(|e| e.name).collect();
    assert_eq!(
        after,
        ["dev", "etc", "tmp", "usr"],
        "position 3 resumes after `bin`"
    );
}

#[test]
fn mkdir_unlink_rmdir_errno() {
    let ns = namespace();
    assert_eq!(ns.do_mkdirat("/", "/etc", 0o755), Err(Errno::EEXIST));
    assert_eq!(ns.do_mkdirat("/", "/new", 0o755), Err(Errno::EROFS));
    assert_eq!(ns.do_mkdirat("/", "/", 0o755), Err(Errno::EEXIST));
    assert_eq!(ns.do_unlinkat("/", "/etc/motd", 0), Err(Errno::EROFS));
    assert_eq!(ns.do_unlinkat("/", "/etc", 0), Err(Errno::EROFS));
    assert_eq!(ns.do_unlinkat("/", "/", 0), Err(Errno::EISDIR));
    assert_eq!(
        ns.do_unlinkat("/", "/tmp/..", AT_REMOVEDIR),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(ns.do_unlinkat("/", "/", AT_REMOVEDIR), Err(Errno::EBUSY));
    assert_eq!(ns.do_unlinkat("/", "/tmp/x", 0x1), Err(Errno::EINVAL));
    ns.do_mkdirat("/", "/tmp/d", 0o700).unwrap();
    ns.do_mkdirat("/tmp/d", "e", 0o700).unwrap();
    assert_eq!(ns.vfs_fstatat("/", "/tmp", 0).unwrap().st_nlink, 3);
    assert_eq!(
        ns.do_unlinkat("/", "/tmp/d", AT_REMOVEDIR),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(ns.do_unlinkat("/", "/tmp/d/e", 0), Err(Errno::EISDIR));
    ns.do_unlinkat("/tmp", "d/e/", AT_REMOVEDIR).unwrap();
    ns.do_unlinkat("/tmp", "d", AT_REMOVEDIR).unwrap();
    assert_eq!(ns.vfs_fstatat("/", "/tmp", 0).unwrap().st_nlink, 2);
    // The mount point of /dev is on the read-only root: EROFS comes first, as in Linux.
    assert_eq!(ns.do_unlinkat("/", "/dev", AT_REMOVEDIR), Err(Errno::EROFS));
}

#[test]
fn root_file_reads_through_the_page_cache_with_a_zero_filled_tail() {
    let _ram = sim_ram();
    let ns = namespace();
    let free0 = nr_free_pages();
    let f = ns.do_filp_open("/", "/etc/big", O_RDONLY, 0).unwrap();
    let mut buf = alloc::vec![0u8; 6000];
    assert_eq!(f.read(&mut buf).unwrap(), 5000);
    assert!(buf[..5000]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i % 251) as u8));
    assert_eq!(f.read(&mut buf).unwrap(), 0);
    let mapping = f.inode().mapping().unwrap();
    assert_eq!(mapping.nrpages(), 2);
    assert_eq!(free0 - nr_free_pages(), 2);
    let page = f.inode().fault_page(1).unwrap();
    // SAFETY: we hold a reference.
    let bytes = unsafe { crate::mm::filemap::page_bytes(page) };
    assert_eq!(bytes[0], (4096 % 251) as u8);
    assert!(bytes[5000 - 4096..].iter().all(|&b| b == 0));
    crate::mm::page::put_page(page);
    // Dropping the file system drops its page cache: every page comes back.
    drop((f, ns));
    assert_eq!(nr_free_pages(), free0);
}

#[test]
fn tmpfs_write_holes_truncate_and_unlink_return_every_page() {
    let _ram = sim_ram();
    let ns = namespace();
    let free0 = nr_free_pages();
    let f = ns
        .do_filp_open("/", "/tmp/f", O_CREAT | O_RDWR, 0o600)
        .unwrap();
    assert_eq!(f.pwrite(b"xyz", 8190).unwrap(), 3); // straddles pages 1 and 2
    assert_eq!(free0 - nr_free_pages(), 2, "page 0 is a hole");
    assert_eq!(f.stat().st_size, 8193);
    assert_eq!(f.stat().st_blocks, 16);
    let mut b = [0xffu8; 8193];
    assert_eq!(f.pread(&mut b, 0).unwrap(), 8193);
    assert!(b[..8190].iter().all(|&x| x == 0));
    assert_eq!(&b[8190..], b"xyz");
    f.truncate(8191).unwrap();
    f.truncate(9000).unwrap();
    assert_eq!(f.pread(&mut b[..3], 8190).unwrap(), 3);
    assert_eq!(&b[..3], b"x\0\0");
    assert_eq!(free0 - nr_free_pages(), 1, "8191 bytes: page 2 dropped");
    f.truncate(4096).unwrap();
    assert_eq!(free0 - nr_free_pages(), 0);
    assert_eq!(f.truncate(-1), Err(Errno::EINVAL));
    f.pwrite(b"a", 0).unwrap();
    ns.do_unlinkat("/", "/tmp/f", 0).unwrap();
    assert_eq!(f.stat().st_nlink, 0);
    assert_eq!(
        free0 - nr_free_pages(),
        1,
        "pages live while the file is open"
    );
    drop(f);
    assert_eq!(nr_free_pages(), free0);
}

#[test]
fn access_needs_an_x_bit_to_execute_even_for_root() {
    use super::namei::{MAY_EXEC, MAY_READ, MAY_WRITE};
    let ns = namespace();
    assert_eq!(
        ns.do_faccessat("/", "/etc/motd", MAY_EXEC),
        Err(Errno::EACCES)
    );
    assert_eq!(ns.do_faccessat("/", "/usr/lib/x", MAY_EXEC), Ok(()));
    assert_eq!(ns.do_faccessat("/", "/etc", MAY_EXEC), Ok(()));
    assert_eq!(
        ns.do_faccessat("/", "/etc/big", MAY_READ),
        Ok(()),
        "0600, but root"
    );
    assert_eq!(
        ns.do_faccessat("/", "/etc/motd", MAY_WRITE),
        Err(Errno::EROFS)
    );
    assert_eq!(ns.do_faccessat("/", "/dev/null", MAY_WRITE), Ok(()));
    assert_eq!(ns.do_faccessat("/", "/etc/motd", 0), Ok(()));
    assert_eq!(ns.do_faccessat("/", "/nope", 0), Err(Errno::ENOENT));
    assert_eq!(ns.do_faccessat("/", "/etc", 8), Err(Errno::EINVAL));
}

//! chmod_test: fchmod, fchmodat, fchown, fchownat and the mode bits open and access
//! obey, as Linux has them (fs/open.c chmod_common/chown_common, fs/attr.c,
//! fs/namei.c generic_permission). Run as init (root); a forked child drops to uid 1000
//! and checks what an owner and a stranger may do.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

const S_IFSOCK_MASK: u32 = 0o170000;
const AT_SYMLINK_NOFOLLOW: usize = 0x100;
const AT_EMPTY_PATH: usize = 0x1000;
const R_OK: usize = 4;
const W_OK: usize = 2;
const X_OK: usize = 1;
const NOCHANGE: usize = u32::MAX as usize;

fn fchmod(fd: i32, mode: u32) -> isize {
    unsafe { syscall3(52, fd as usize, mode as usize, 0) }
}
fn fchmodat_raw(dirfd: i32, path: usize, mode: u32) -> isize {
    unsafe { syscall3(53, dirfd as usize, path, mode as usize) }
}
fn chmod(path: &core::ffi::CStr, mode: u32) -> isize {
    fchmodat_raw(AT_FDCWD, path.as_ptr() as usize, mode)
}
fn fchownat_raw(dirfd: i32, path: usize, uid: usize, gid: usize, flags: usize) -> isize {
    unsafe { syscall6(54, dirfd as usize, path, uid, gid, flags, 0) }
}
fn chown(path: &core::ffi::CStr, uid: usize, gid: usize) -> isize {
    fchownat_raw(AT_FDCWD, path.as_ptr() as usize, uid, gid, 0)
}
fn fchown(fd: i32, uid: usize, gid: usize) -> isize {
    unsafe { syscall3(55, fd as usize, uid, gid) }
}
fn access(path: &core::ffi::CStr, mode: usize) -> isize {
    unsafe { syscall3(48, AT_FDCWD as usize, path.as_ptr() as usize, mode) }
}
fn stat(path: &core::ffi::CStr) -> Stat {
    let mut st = Stat::default();
    fstatat(AT_FDCWD, path, &mut st, 0);
    st
}
fn perms(path: &core::ffi::CStr) -> u32 {
    stat(path).st_mode & 0o7777
}
fn creat(path: &core::ffi::CStr, mode: usize) -> i32 {
    open(path, O_RDWR | O_CREAT | O_TRUNC, mode) as i32
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("chmod_test");
    let f = c"/tmp/chmod.f";
    let fd = creat(f, 0o644);
    t.ok(fd >= 0, "create /tmp/chmod.f 0644");
    let st = stat(f);
    t.eq("a new file is owned by its creator (uid 0)", st.st_uid, 0);
    t.eq("and has the creator's group (gid 0)", st.st_gid, 0);
    t.eq("mode 0644 as created", st.st_mode & 0o7777, 0o644);

    // fchmod / fchmodat as root.
    t.ret("fchmod(fd, 0600)", fchmod(fd, 0o600), 0);
    let mut st = Stat::default();
    fstat(fd, &mut st);
    t.eq("fstat sees 0600", st.st_mode & 0o7777, 0o600);
    t.eq("and still a regular file", st.st_mode & S_IFSOCK_MASK, S_IFREG);
    t.ret("fchmodat(AT_FDCWD, path, 04755)", chmod(f, 0o4755), 0);
    t.eq("newfstatat sees 04755", perms(f), 0o4755);
    t.ret(
        "fchmod keeps only the 07777 bits (0170644 -> 0644)",
        fchmod(fd, 0o170644),
        0,
    );
    t.eq("type bits in the mode argument are ignored", stat(f).st_mode, S_IFREG | 0o644);
    let d = c"/tmp/chmod.d";
    t.ret("mkdir /tmp/chmod.d 0755", mkdir(d, 0o755), 0);
    t.ret("chmod a directory 0700", chmod(d, 0o700), 0);
    t.eq("the directory is 0700", stat(d).st_mode, S_IFDIR | 0o700);
    let dfd = open(d, O_RDONLY | O_DIRECTORY, 0) as i32;
    t.ret(
        "fchmodat relative to a dirfd",
        fchmodat_raw(dfd, c"..".as_ptr() as usize, 0o1777),
        0,
    );
    t.eq("/tmp is still 01777", perms(c"/tmp"), 0o1777);

    // Errors.
    t.err("fchmod of a bad fd is EBADF", fchmod(99, 0o644), EBADF);
    t.err(
        "fchmodat of a missing file is ENOENT",
        chmod(c"/tmp/chmod.none", 0o644),
        ENOENT,
    );
    t.err("fchmodat of \"\" is ENOENT", chmod(c"", 0o644), ENOENT);
    t.err(
        "fchmodat through a regular file is ENOTDIR",
        chmod(c"/tmp/chmod.f/x", 0o644),
        ENOTDIR,
    );
    t.err(
        "fchmodat with a bad path pointer is EFAULT",
        fchmodat_raw(AT_FDCWD, unmapped_addr(), 0o644),
        EFAULT,
    );
    t.err(
        "fchmodat on the read-only root is EROFS",
        chmod(c"/bin/chmod_test", 0o777),
        EROFS,
    );
    t.err(
        "fchownat on the read-only root is EROFS",
        chown(c"/bin/chmod_test", 0, 0),
        EROFS,
    );
    t.err(
        "chmod of a /proc/<pid> file is EPERM",
        chmod(c"/proc/self/status", 0o600),
        EPERM,
    );
    t.err(
        "fchownat with an unknown flag is EINVAL",
        fchownat_raw(AT_FDCWD, f.as_ptr() as usize, 0, 0, 0x4),
        EINVAL,
    );
    t.err(
        "fchownat of \"\" without AT_EMPTY_PATH is ENOENT",
        fchownat_raw(fd, c"".as_ptr() as usize, 0, 0, 0),
        ENOENT,
    );
    t.err("fchown of a bad fd is EBADF", fchown(99, 0, 0), EBADF);

    // chown as root: anything goes, and the set-id bits of a non-directory go.
    t.ret("chmod 06755", chmod(f, 0o6755), 0);
    t.ret("root chowns to 1000:1000", chown(f, 1000, 1000), 0);
    let st = stat(f);
    t.eq("st_uid is 1000", st.st_uid, 1000);
    t.eq("st_gid is 1000", st.st_gid, 1000);
    t.eq(
        "the chown cleared S_ISUID and S_ISGID (group-executable)",
        st.st_mode & 0o7777,
        0o755,
    );
    t.ret("chmod 02745 (set-gid, no group x)", chmod(f, 0o2745), 0);
    t.ret("fchown(fd, -1, -1)", fchown(fd, NOCHANGE, NOCHANGE), 0);
    t.eq(
        "S_ISGID without group x (mandatory locking) survives a chown",
        perms(f),
        0o2745,
    );
    t.ret("chmod 04755 again", chmod(f, 0o4755), 0);
    t.ret("fchown(fd, -1, -1)", fchown(fd, NOCHANGE, NOCHANGE), 0);
    t.eq("even a no-op chown clears S_ISUID", perms(f), 0o755);
    t.ret("chmod the directory 02755", chmod(d, 0o2755), 0);
    t.ret("chown the directory to 1000", chown(d, 1000, NOCHANGE), 0);
    t.eq(
        "a directory keeps S_ISGID across chown",
        stat(d).st_mode & 0o7777,
        0o2755,
    );
    t.ret(
        "fchownat(fd, \"\", 0, 0, AT_EMPTY_PATH) changes the fd's file",
        fchownat_raw(fd, c"".as_ptr() as usize, 0, 0, AT_EMPTY_PATH),
        0,
    );
    t.eq("back to uid 0", stat(f).st_uid, 0);
    t.ret(
        "AT_SYMLINK_NOFOLLOW is accepted",
        fchownat_raw(AT_FDCWD, f.as_ptr() as usize, 0, 0, AT_SYMLINK_NOFOLLOW),
        0,
    );
    let sub = c"/tmp/chmod.d/sub";
    t.ret("mkdir in a set-gid directory", mkdir(sub, 0o755), 0);
    let st = stat(sub);
    t.eq("the new directory takes the parent's group", st.st_gid, 0);
    t.eq(
        "and inherits S_ISGID",
        st.st_mode & 0o7777,
        0o2755,
    );

    // A pipe's inode can be chmodded too.
    let mut p = [0i32; 2];
    pipe2(&mut p, 0);
    t.ret("fchmod a pipe 0640", fchmod(p[0], 0o640), 0);
    let mut st = Stat::default();
    fstat(p[1], &mut st);
    t.eq("both ends see it", st.st_mode & 0o7777, 0o640);
    close(p[0]);
    close(p[1]);

    // Root and the mode bits: read and write anything, execute only with an x bit.
    t.ret("chmod 000", chmod(f, 0), 0);
    t.success("root opens a 000 file for reading and writing", {
        let r = open(f, O_RDWR, 0);
        if r >= 0 {
            close(r as i32);
        }
        r
    });
    t.ret("access(R_OK|W_OK) of a 000 file as root", access(f, R_OK | W_OK), 0);
    t.err("access(X_OK) of a 000 file as root is EACCES", access(f, X_OK), EACCES);
    t.ret("chmod 0100", chmod(f, 0o100), 0);
    t.ret("access(X_OK) with one x bit as root", access(f, X_OK), 0);
    t.err(
        "access with an unknown mode bit is EINVAL",
        access(f, 8),
        EINVAL,
    );
    t.err(
        "access(W_OK) on the read-only root is EROFS",
        access(c"/bin/chmod_test", W_OK),
        EROFS,
    );
    t.ret("access(F_OK)", access(c"/bin/chmod_test", 0), 0);

    // Files for the unprivileged child.
    let rootf = c"/tmp/chmod.root";
    close(creat(rootf, 0o600));
    let pubf = c"/tmp/chmod.pub";
    close(creat(pubf, 0o644));
    let grpf = c"/tmp/chmod.grp";
    close(creat(grpf, 0o644));
    t.ret("chown chmod.grp to 1000:1234", chown(grpf, 1000, 1234), 0);
    let rootd = c"/tmp/chmod.rootd";
    t.ret("mkdir a root-owned 0755 directory", mkdir(rootd, 0o755), 0);
    let privd = c"/tmp/chmod.priv";
    let privf = c"/tmp/chmod.priv/x";
    t.ret("mkdir a root-owned 0700 directory", mkdir(privd, 0o700), 0);
    close(creat(privf, 0o644));

    let st = in_child(|| {
        let mut t = Tap::new("chmod_test (uid 1000)");
        if !t.ret(
            "setresuid(1000, 1000, 1000)",
            setresuid(1000, 1000, 1000),
            0,
        ) {
            return 1;
        }
        let mine = c"/tmp/chmod.mine";
        let fd = creat(mine, 0o644);
        t.ok(fd >= 0, "uid 1000 creates a file in /tmp (01777)");
        let st = stat(mine);
        t.eq("it is owned by uid 1000", st.st_uid, 1000);
        t.eq("with the creator's group 0", st.st_gid, 0);
        t.ret("the owner may fchmod it", fchmod(fd, 0o600), 0);
        t.eq("now 0600", perms(mine), 0o600);
        t.err(
            "chmod of root's file is EPERM",
            chmod(rootf, 0o666),
            EPERM,
        );
        t.err(
            "chown of root's file is EPERM",
            chown(rootf, 1000, NOCHANGE),
            EPERM,
        );
        t.err(
            "giving my file to root is EPERM",
            fchown(fd, 0, NOCHANGE),
            EPERM,
        );
        t.ret(
            "chown to myself (uid unchanged) is allowed",
            fchown(fd, 1000, NOCHANGE),
            0,
        );
        t.ret("chgrp to a group I am in (0)", fchown(fd, NOCHANGE, 0), 0);
        t.err(
            "chgrp to a group I am not in is EPERM",
            fchown(fd, NOCHANGE, 1234),
            EPERM,
        );
        t.ret(
            "chmod 02755 of my file whose group (1234) is not mine",
            chmod(grpf, 0o2755),
            0,
        );
        t.eq(
            "S_ISGID was dropped silently",
            perms(grpf),
            0o755,
        );
        t.ret("chmod 04755 of my own file", fchmod(fd, 0o4755), 0);
        t.ret("chown to myself", fchown(fd, 1000, 0), 0);
        t.eq("cleared S_ISUID", perms(mine), 0o755);

        // The mode bits now apply.
        t.err(
            "open root's 0600 file for reading is EACCES",
            open(rootf, O_RDONLY, 0),
            EACCES,
        );
        let r = open(pubf, O_RDONLY, 0);
        t.success("open root's 0644 file for reading", r);
        close(r as i32);
        t.err(
            "open root's 0644 file for writing is EACCES",
            open(pubf, O_WRONLY, 0),
            EACCES,
        );
        t.err(
            "O_RDONLY|O_TRUNC needs write permission: EACCES",
            open(pubf, O_RDONLY | O_TRUNC, 0),
            EACCES,
        );
        t.ret("chmod 000 my file", fchmod(fd, 0), 0);
        t.err(
            "then open it as its owner is EACCES",
            open(mine, O_RDONLY, 0),
            EACCES,
        );
        t.err("access(R_OK) is EACCES", access(mine, R_OK), EACCES);
        t.ret("access(F_OK) is 0", access(mine, 0), 0);
        t.ret("chmod 0400", fchmod(fd, 0o400), 0);
        t.ret("access(R_OK) is 0", access(mine, R_OK), 0);
        t.err("access(W_OK) is EACCES", access(mine, W_OK), EACCES);
        t.err(
            "creating a file in root's 0755 directory is EACCES",
            open(c"/tmp/chmod.rootd/x", O_RDWR | O_CREAT, 0o644),
            EACCES,
        );
        t.err(
            "mkdir in root's 0755 directory is EACCES",
            mkdir(c"/tmp/chmod.rootd/y", 0o755),
            EACCES,
        );
        t.err(
            "opening a 0644 file in root's 0700 directory is EACCES (no search)",
            open(privf, O_RDONLY, 0),
            EACCES,
        );
        let mut st = Stat::default();
        t.err(
            "and so is stat through it",
            fstatat(AT_FDCWD, privf, &mut st, 0),
            EACCES,
        );
        t.err(
            "and access(F_OK)",
            access(privf, 0),
            EACCES,
        );
        t.ret(
            "the directory itself can be stat'ed",
            fstatat(AT_FDCWD, privd, &mut st, 0),
            0,
        );
        t.err(
            "unlinking root's file from sticky /tmp is EPERM",
            unlink(rootf),
            EPERM,
        );
        t.ret("unlinking my own file from /tmp", unlink(mine), 0);
        t.err(
            "chmod of a /proc/<pid> file is EPERM",
            chmod(c"/proc/self/status", 0o600),
            EPERM,
        );
        let mut p = [0i32; 2];
        pipe2(&mut p, 0);
        let mut st = Stat::default();
        fstat(p[0], &mut st);
        t.eq("a pipe made as uid 1000 belongs to uid 1000", st.st_uid, 1000);
        t.ret("and its owner may fchmod it", fchmod(p[0], 0o644), 0);
        close(p[0]);
        close(p[1]);
        close(fd);
        t.failed() as i32
    });
    t.exited("every check as uid 1000 passed", st, 0);

    // Clean up.
    close(fd);
    close(dfd);
    for p in [f, rootf, pubf, grpf, privf] {
        unlink(p);
    }
    rmdir(sub);
    rmdir(d);
    rmdir(rootd);
    rmdir(privd);
    t.finish()
}

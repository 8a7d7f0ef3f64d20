//! zcat_test: the gzip decompressor (`ulib::inflate`) on streams made by the host's
//! gzip (stored, fixed-Huffman and dynamic-Huffman blocks, back references across the
//! 32 KiB window, a file name in the header, two members in a row), its errors (bad
//! magic, a corrupted CRC, a truncated stream), and `/bin/zcat /proc/config.gz` through
//! `sh -c`, as LTP's kernel-config check runs it (popen), and the shell's quote removal. Run as init.
#![no_std]
#![no_main]
use ulib::inflate::{gunzip, Sink, Source};
use ulib::*;

const TEXT: &[u8] = include_bytes!("../../testdata/text.txt");
const TEXT_GZ: &[u8] = include_bytes!("../../testdata/text.gz");
const RANDOM: &[u8] = include_bytes!("../../testdata/random.bin");
const RANDOM_GZ: &[u8] = include_bytes!("../../testdata/random.gz");
const SHORT_GZ: &[u8] = include_bytes!("../../testdata/short.gz");
const NAMED_GZ: &[u8] = include_bytes!("../../testdata/named.gz");

/// Compressed bytes from memory, handed out in small, odd-sized reads.
struct Mem<'a>(&'a [u8]);
impl Source for Mem<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> isize {
        let n = self.0.len().min(buf.len()).min(777);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        n as isize
    }
}

/// Two sources, one after the other (concatenated members).
struct Two<'a>(Mem<'a>, Mem<'a>);
impl Source for Two<'_> {
    fn fill(&mut self, buf: &mut [u8]) -> isize {
        let n = self.0.fill(buf);
        if n > 0 {
            n
        } else {
            self.1.fill(buf)
        }
    }
}

static mut OUT: [u8; 81920] = [0; 81920];
/// Decompressed bytes into OUT; false when they do not fit.
struct Buf(usize);
impl Sink for Buf {
    fn put(&mut self, data: &[u8]) -> bool {
        // SAFETY: one thread; OUT is only touched through this sink and `out()`.
        let out = unsafe { &mut *core::ptr::addr_of_mut!(OUT) };
        if self.0 + data.len() > out.len() {
            return false;
        }
        out[self.0..self.0 + data.len()].copy_from_slice(data);
        self.0 += data.len();
        true
    }
}
fn out(n: usize) -> &'static [u8] {
    // SAFETY: as above.
    unsafe { &(&*core::ptr::addr_of!(OUT))[..n] }
}

fn run(src: &mut dyn Source) -> Result<&'static [u8], &'static str> {
    let mut b = Buf(0);
    let n = gunzip(src, &mut b)?;
    if n as usize != b.0 {
        return Err("count differs from bytes written");
    }
    Ok(out(b.0))
}

/// Run /bin/sh with `argv` (NULL-terminated), its standard output into `buf`: the exit
/// status and the byte count.
fn capture(argv: &[*const u8], buf: &mut [u8]) -> (Wstatus, usize) {
    let mut p = [-1i32; 2];
    pipe2(&mut p, 0);
    let pid = fork();
    if pid == 0 {
        unsafe { syscall3(24, p[1] as usize, 1, 0) }; // dup3(p[1], 1, 0)
        close(p[0]);
        let envp = [core::ptr::null()];
        execve(c"/bin/sh", argv, &envp);
        exit(127);
    }
    close(p[1]);
    let mut n = 0;
    loop {
        let r = read(p[0], &mut buf[n..]);
        if r <= 0 {
            break;
        }
        n += r as usize;
    }
    close(p[0]);
    let mut st = 0;
    wait4(pid as i32, Some(&mut st), 0);
    (Wstatus(st), n)
}

fn block_type(gz: &[u8]) -> u8 {
    // The first block header follows the 10-byte header (no optional fields here).
    (gz[10] >> 1) & 3
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("zcat_test");
    t.eq(
        "random.gz starts with a stored block",
        block_type(RANDOM_GZ),
        0,
    );
    t.eq("short.gz is fixed Huffman", block_type(SHORT_GZ), 1);
    t.eq("text.gz is dynamic Huffman", block_type(TEXT_GZ), 2);
    t.ok(
        run(&mut Mem(RANDOM_GZ)) == Ok(RANDOM),
        "stored blocks: 9000 random bytes back",
    );
    t.ok(
        run(&mut Mem(SHORT_GZ)) == Ok(&b"hello, hello, hello world\n"[..]),
        "fixed Huffman with a back reference",
    );
    let r = run(&mut Mem(TEXT_GZ));
    t.ok(
        r == Ok(TEXT),
        format_args!(
            "dynamic Huffman, {} bytes through the 32 KiB window",
            TEXT.len()
        ),
    );
    t.ok(
        run(&mut Mem(NAMED_GZ)) == Ok(&b"named member\n"[..]),
        "a header with FNAME",
    );
    t.ok(
        run(&mut Two(Mem(SHORT_GZ), Mem(NAMED_GZ)))
            == Ok(&b"hello, hello, hello world\nnamed member\n"[..]),
        "two members in a row",
    );
    t.ok(
        run(&mut Mem(b"plain text")) == Err("not in gzip format"),
        "not gzip: an error",
    );
    t.ok(
        run(&mut Mem(b"")) == Err("not in gzip format"),
        "empty input: an error",
    );
    let mut bad = [0u8; 64];
    bad[..SHORT_GZ.len()].copy_from_slice(SHORT_GZ);
    bad[SHORT_GZ.len() - 8] ^= 1;
    t.ok(
        run(&mut Mem(&bad[..SHORT_GZ.len()])) == Err("CRC error"),
        "a corrupted CRC is detected",
    );
    t.ok(
        run(&mut Mem(&TEXT_GZ[..TEXT_GZ.len() / 2])) == Err("unexpected end of file"),
        "a truncated stream is detected",
    );

    // sh -c "zcat '/proc/config.gz'", as popen(3) runs LTP's command.
    let mut text = [0u8; 16384];
    let (st, n) = capture(
        &[
            c"sh".as_ptr() as *const u8,
            c"-c".as_ptr() as *const u8,
            c"zcat '/proc/config.gz'".as_ptr() as *const u8,
            core::ptr::null(),
        ],
        &mut text,
    );
    t.exited("sh -c \"zcat '/proc/config.gz'\" exits 0", st, 0);
    let s = core::str::from_utf8(&text[..n]).unwrap_or("");
    t.ok(
        s.lines().any(|l| l == "CONFIG_USERFAULTFD=y"),
        "its output has CONFIG_USERFAULTFD=y",
    );
    t.ok(s.lines().any(|l| l == "CONFIG_MMU=y"), "and CONFIG_MMU=y");
    let (st, n) = capture(
        &[
            c"sh".as_ptr() as *const u8,
            c"-c".as_ptr() as *const u8,
            c"echo \"a  b\" 'c \"d' e\\ f \"g\\\"h\" ''".as_ptr() as *const u8,
            core::ptr::null(),
        ],
        &mut text,
    );
    t.exited("sh -c echo with quotes", st, 0);
    t.ok(
        &text[..n] == b"a  b c \"d e f g\"h \n",
        format_args!("quotes removed: {:?}", core::str::from_utf8(&text[..n])),
    );
    t.finish()
}

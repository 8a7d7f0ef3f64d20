//! `print!`/`println!`/`eprintln!` over write(2).
use core::fmt::{self, Write};

/// A file descriptor as a `fmt::Write`.
pub struct Fd(pub i32);

impl Write for Fd {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut b = s.as_bytes();
        while !b.is_empty() {
            let n = crate::write(self.0, b);
            if n <= 0 {
                return Err(fmt::Error);
            }
            b = &b[n as usize..];
        }
        Ok(())
    }
}

/// Format into a stack buffer, then write once (so a line is one write(2)).
pub fn print_to(fd: i32, args: fmt::Arguments<'_>) {
    struct Buf {
        b: [u8; 512],
        n: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for &c in s.as_bytes() {
                if self.n == self.b.len() {
                    return Err(fmt::Error); // longer lines are cut at 512 bytes
                }
                self.b[self.n] = c;
                self.n += 1;
            }
            Ok(())
        }
    }
    let mut buf = Buf { b: [0; 512], n: 0 };
    let _ = buf.write_fmt(args);
    let _ = Fd(fd).write_str(core::str::from_utf8(&buf.b[..buf.n]).unwrap_or(""));
}

/// Print to stdout.
#[macro_export]
macro_rules! print {
    ($($a:tt)*) => ($crate::io::print_to(1, format_args!($($a)*)));
}
/// Print a line to stdout.
#[macro_export]
macro_rules! println {
    ($($a:tt)*) => ($crate::io::print_to(1, format_args!("{}\n", format_args!($($a)*))));
}
/// Print a line to stderr.
#[macro_export]
macro_rules! eprintln {
    ($($a:tt)*) => ($crate::io::print_to(2, format_args!("{}\n", format_args!($($a)*))));
}

//! zcat: decompress gzip files (or standard input) to standard output, as `gzip -dc`.
//! What LTP's kernel-config check runs on `/proc/config.gz` (`popen("zcat ...")`).
#![no_std]
#![no_main]
use ulib::inflate::{gunzip, Sink, Source};
use ulib::*;

struct Fd(i32);

impl Source for Fd {
    fn fill(&mut self, buf: &mut [u8]) -> isize {
        read(self.0, buf)
    }
}

impl Sink for Fd {
    fn put(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            let w = write(self.0, data);
            if w <= 0 {
                return false;
            }
            data = &data[w as usize..];
        }
        true
    }
}

fn zcat(name: &str, fd: i32) -> i32 {
    match gunzip(&mut Fd(fd), &mut Fd(1)) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("zcat: {}: {}", name, e);
            1
        }
    }
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.len() < 2 {
        return zcat("stdin", 0);
    }
    let mut status = 0;
    for i in 1..args.len() {
        let name = args.get(i).unwrap_or("");
        if name == "-" {
            status |= zcat("stdin", 0);
            continue;
        }
        let fd = open_str(name, 0, 0);
        if fd < 0 {
            eprintln!("zcat: {}: {}", name, errno::name(-fd as i32));
            status = 1;
            continue;
        }
        status |= zcat(name, fd as i32);
        close(fd as i32);
    }
    status
}

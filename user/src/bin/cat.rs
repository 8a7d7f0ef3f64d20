//! cat: copy files (or standard input) to standard output with read(2)/write(2).
#![no_std]
#![no_main]
use ulib::*;

fn copy(fd: i32) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let n = read(fd, &mut buf);
        if n < 0 {
            return false;
        }
        if n == 0 {
            return true;
        }
        let mut off = 0;
        while off < n as usize {
            let w = write(1, &buf[off..n as usize]);
            if w <= 0 {
                return false;
            }
            off += w as usize;
        }
    }
}

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.len() < 2 {
        return if copy(0) { 0 } else { 1 };
    }
    let mut status = 0;
    for i in 1..args.len() {
        let name = args.get(i).unwrap_or("");
        let fd = open_str(name, 0, 0);
        if fd < 0 {
            eprintln!("cat: {}: {}", name, errno::name(-fd as i32));
            status = 1;
            continue;
        }
        if !copy(fd as i32) {
            eprintln!("cat: {}: read error", name);
            status = 1;
        }
        close(fd as i32);
    }
    status
}

//! ls: list a directory with getdents64(2); `-l` adds type, size and inode from fstatat.
#![no_std]
#![no_main]
use ulib::*;

fn list(dir: &str, long: bool) -> i32 {
    let mut path = [0u8; 256];
    let l = dir.len().min(255);
    path[..l].copy_from_slice(&dir.as_bytes()[..l]);
    let cpath = core::ffi::CStr::from_bytes_until_nul(&path).unwrap_or(c"/");
    let fd = open(cpath, 0o40000, 0); // O_RDONLY | O_DIRECTORY
    if fd < 0 {
        eprintln!("ls: {}: {}", dir, errno::name(-fd as i32));
        return 1;
    }
    let mut buf = [0u8; 4096];
    loop {
        let n = getdents64(fd as i32, &mut buf);
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        while off < n as usize {
            let ino = u64::from_le_bytes(buf[off..off + 8].try_into().unwrap());
            let reclen = u16::from_le_bytes([buf[off + 16], buf[off + 17]]) as usize;
            let dtype = buf[off + 18];
            let name_bytes = &buf[off + 19..off + reclen];
            let end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            let name = core::str::from_utf8(&name_bytes[..end]).unwrap_or("?");
            if long {
                let mut st = Stat::default();
                let mut np = [0u8; 256];
                np[..end.min(255)].copy_from_slice(&name_bytes[..end.min(255)]);
                let r = fstatat(
                    fd as i32,
                    core::ffi::CStr::from_bytes_until_nul(&np).unwrap_or(c"."),
                    &mut st,
                    0,
                );
                let kind = match dtype {
                    4 => 'd',
                    2 => 'c',
                    10 => 'l',
                    _ => '-',
                };
                let size = if r == 0 { st.st_size } else { -1 };
                println!("{} {:>8} {:>6} {}", kind, size, ino, name);
            } else {
                println!("{}", name);
            }
            off += reclen;
        }
    }
    close(fd as i32);
    0
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut long = false;
    let mut status = 0;
    let mut any = false;
    for i in 1..args.len() {
        match args.get(i) {
            Some("-l") => long = true,
            Some(d) => {
                any = true;
                status |= list(d, long);
            }
            None => {}
        }
    }
    if !any {
        status = list(".", long);
    }
    status
}

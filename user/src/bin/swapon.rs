//! swapon: turn swap on on a block device, as util-linux's `swapon [-p PRIO] DEVICE` does
//! (without `-a`, fstab, discard or swap files). With no argument, print /proc/swaps
//! (util-linux: `swapon --show` is the modern form; the classic `swapon -s` prints the
//! file).
#![no_std]
#![no_main]
use ulib::procfs::read_file;
use ulib::*;

fn usage() -> i32 {
    eprintln!("usage: swapon [-p PRIORITY] DEVICE");
    1
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut flags = 0usize;
    let mut dev: Option<&str> = None;
    let mut i = 1;
    while i < args.len() {
        match args.get(i).unwrap_or("") {
            "-p" => {
                i += 1;
                let Some(prio) = args.get(i).and_then(|p| p.parse::<usize>().ok()) else {
                    return usage();
                };
                flags |= SWAP_FLAG_PREFER | (prio & SWAP_FLAG_PRIO_MASK);
            }
            "-s" => dev = None,
            a if a.starts_with('-') => return usage(),
            a => dev = Some(a),
        }
        i += 1;
    }
    let Some(dev) = dev else {
        let mut buf = [0u8; 4096];
        let n = read_file(c"/proc/swaps", &mut buf).unwrap_or(0);
        let _ = write(1, &buf[..n]);
        return 0;
    };
    let mut path = [0u8; 256];
    let l = dev.len().min(255);
    path[..l].copy_from_slice(&dev.as_bytes()[..l]);
    let r = swapon(
        core::ffi::CStr::from_bytes_until_nul(&path).unwrap_or(c""),
        flags,
    );
    if r < 0 {
        eprintln!("swapon: {}: swapon failed: {}", dev, errno::name(-r as i32));
        return 1;
    }
    0
}

//! swapoff: stop swapping to a device, as util-linux's `swapoff DEVICE` does (without
//! `-a`). The kernel brings every page on it back into memory first.
#![no_std]
#![no_main]
use ulib::*;

#[no_mangle]
fn main(args: Args) -> i32 {
    if args.len() != 2 {
        eprintln!("usage: swapoff DEVICE");
        return 1;
    }
    let dev = args.get(1).unwrap_or("");
    let mut path = [0u8; 256];
    let l = dev.len().min(255);
    path[..l].copy_from_slice(&dev.as_bytes()[..l]);
    let r = swapoff(core::ffi::CStr::from_bytes_until_nul(&path).unwrap_or(c""));
    if r < 0 {
        eprintln!("swapoff: {}: swapoff failed: {}", dev, errno::name(-r as i32));
        return 1;
    }
    0
}

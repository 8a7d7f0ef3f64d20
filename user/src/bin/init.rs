//! The first user program (pid 1). For now: say hello through write(2) and exit.
#![no_std]
#![no_main]
use ulib::*;

#[no_mangle]
fn main(args: Args) -> i32 {
    println!("init: hello from user space, pid {} ppid {}, argv[0]={}", getpid(), getppid(), args.get(0).unwrap_or("?"));
    0
}

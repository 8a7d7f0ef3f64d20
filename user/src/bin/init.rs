//! The first user program (pid 1), like a minimal Linux init: start the shell on the
//! console and reap every process that ends up as its child. When the shell exits, init
//! exits with the shell's status (the kernel then reports and powers off).
//! `init` with arguments runs that command line instead of the interactive shell.
#![no_std]
#![no_main]
use ulib::*;

#[no_mangle]
fn main(args: Args) -> i32 {
    println!("init: pid {}, starting /bin/sh", getpid());
    // Arguments given to init (kernel command line after `--`) go to the shell.
    let mut argv_store: [*const u8; 16] = [core::ptr::null(); 16];
    let mut bufs = [[0u8; 128]; 15];
    argv_store[0] = b"sh\0".as_ptr();
    let mut n = 1;
    for i in 1..args.len().min(15) {
        let a = args.get(i).unwrap_or("");
        let len = a.len().min(127);
        bufs[n - 1][..len].copy_from_slice(&a.as_bytes()[..len]);
        bufs[n - 1][len] = 0;
        argv_store[n] = bufs[n - 1].as_ptr();
        n += 1;
    }
    let envp: [*const u8; 3] = [
        b"HOME=/\0".as_ptr(),
        b"PATH=/bin\0".as_ptr(),
        core::ptr::null(),
    ];
    let pid = fork();
    if pid == 0 {
        execve(c"/bin/sh", &argv_store[..n + 1], &envp);
        eprintln!("init: cannot exec /bin/sh");
        exit_group(127);
    }
    // Reap children until the shell itself exits (orphans are reparented to us).
    loop {
        let mut status = 0i32;
        let r = wait4(-1, Some(&mut status), 0);
        if r == pid as isize {
            let st = Wstatus(status);
            return if st.exited() {
                st.exit_status()
            } else {
                128 + st.term_sig()
            };
        }
        if r < 0 {
            return 1;
        }
    }
}

//! reboot_test: reboot(2) as Linux has it (kernel/reboot.c `sys_reboot`). Run as init:
//! checks the errors (EPERM for a user, EINVAL for wrong magics or an unknown command,
//! ENOSYS for SW_SUSPEND), sets Ctrl-Alt-Del off and on, prints its summary, then powers
//! the machine off with LINUX_REBOOT_CMD_POWER_OFF, as a program written for Linux's
//! initramfs does: the kernel says "reboot: Power down" and QEMU exits with status 0.
#![no_std]
#![no_main]
use ulib::errno::*;
use ulib::*;

const MAGIC1: usize = 0xfee1_dead;
const MAGIC2: usize = 672_274_793;
const POWER_OFF: usize = 0x4321_fedc;
const CAD_ON: usize = 0x89ab_cdef;
const CAD_OFF: usize = 0;
const SW_SUSPEND: usize = 0xd000_fce2;

fn reboot(m1: usize, m2: usize, cmd: usize) -> isize {
    unsafe { syscall4(142, m1, m2, cmd, 0) }
}

#[no_mangle]
fn main(_: Args) -> i32 {
    let mut t = Tap::new("reboot_test");
    let user = in_child(|| {
        if setresuid(1000, 1000, 1000) != 0 {
            return 90;
        }
        -(reboot(MAGIC1, MAGIC2, POWER_OFF) as i32)
    });
    t.exited("as uid 1000: EPERM (and nothing happens)", user, EPERM);
    t.err("a wrong first magic: EINVAL", reboot(0xdead, MAGIC2, POWER_OFF), EINVAL);
    t.err("a wrong second magic: EINVAL", reboot(MAGIC1, 1, POWER_OFF), EINVAL);
    t.err("an unknown command: EINVAL", reboot(MAGIC1, MAGIC2, 0x1234), EINVAL);
    t.err("SW_SUSPEND: ENOSYS (no hibernation)", reboot(MAGIC1, MAGIC2, SW_SUSPEND), ENOSYS);
    t.ret("CAD_OFF", reboot(MAGIC1, 85_072_278, CAD_OFF), 0);
    t.ret("CAD_ON (with another second magic)", reboot(MAGIC1, 369_367_448, CAD_ON), 0);
    let failed = t.finish();
    if failed != 0 {
        return failed;
    }
    let r = reboot(MAGIC1, MAGIC2, POWER_OFF);
    println!("reboot_test: reboot(POWER_OFF) returned {r}");
    1
}

//! Arm semihosting, used for one thing: leaving QEMU with a status (SYS_EXIT), which PSCI
//! SYSTEM_OFF cannot give. Also an emergency console before the UART is mapped.
//! Spec: Arm "Semihosting for AArch32 and AArch64", operations 0x04 and 0x20.

const SYS_WRITE0: u64 = 0x04;
const SYS_EXIT_EXTENDED: u64 = 0x20;
/// ADP_Stopped_ApplicationExit: a normal exit whose subcode is the status.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Exit QEMU with `status` (needs `-semihosting`, which `cargo xtask` always passes).
pub fn exit(status: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, status as u64];
    crate::arch::cpu::semihosting_call(SYS_EXIT_EXTENDED, block.as_ptr() as usize);
    // Without -semihosting we get here (or an undefined-instruction trap): just stop.
    loop {
        crate::arch::cpu::local_irq_disable();
        crate::arch::cpu::wfi();
    }
}

/// Write a string to QEMU's stderr through the debugger channel (before the console).
pub fn write_str(s: &str) {
    let mut buf = [0u8; 128];
    for chunk in s.as_bytes().chunks(buf.len() - 1) {
        buf[..chunk.len()].copy_from_slice(chunk);
        buf[chunk.len()] = 0;
        crate::arch::cpu::semihosting_call(SYS_WRITE0, buf.as_ptr() as usize);
    }
}

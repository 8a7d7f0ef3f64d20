//! The exception vectors (`entry.S`), assembled into the kernel. The Rust side of each
//! vector is in `traps.rs`.
core::arch::global_asm!(include_str!("entry.S"), options(raw));

/// Address of the vector table (for VBAR_EL1).
pub fn vectors() -> usize {
    extern "C" {
        static vectors: u8;
    }
    // SAFETY: taking the address of the assembly vector table reads nothing.
    unsafe { &vectors as *const u8 as usize }
}

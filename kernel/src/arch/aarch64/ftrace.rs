//! Function-graph tracing by patching the first instruction of a traced function.
//! Linux: `arch/arm64/kernel/entry-ftrace.S` (`ftrace_caller`, `return_to_handler`),
//! `arch/arm64/kernel/ftrace.c` (`ftrace_make_call`, `ftrace_modify_code`,
//! `prepare_ftrace_return`) and `arch/arm64/kernel/patching.c`
//! (`aarch64_insn_patch_text_nosync`, the FIX_TEXT_POKE0 alias).
//!
//! Linux compiles every function with two NOPs at its entry
//! (`-fpatchable-function-entry=2`) and turns them into `mov x9, x30; bl ftrace_caller`
//! when tracing starts. Stable Rust cannot add those NOPs, so untraced code carries no
//! instruction at all for the tracer, and when tracing starts we move each traced
//! function's first instruction out of line (as kprobes do) into a trampoline slot:
//! ```text
//! func:      b slot_i                   (was: the first instruction, e.g. stp x29, x30, ...)
//! slot_i:    movz x16, #i               site index (x16/x17 are free at a call boundary)
//!            b ftrace_caller            saves the arguments, calls the entry hook
//!            <the first instruction>    ftrace_caller comes back here with x30 changed
//!            b func+4
//! ```
//! The entry hook may replace the return address (x30, not yet saved: we are before the
//! first instruction) with `return_to_handler`, which calls the return hook and then
//! returns to the real caller: Linux's function_graph return trick.
//!
//! A first instruction that reads the PC (adr/adrp, a branch, a literal load) cannot run
//! out of line unchanged; such functions are not patched ([`insn_is_relocatable`]).
//! Kernel text is mapped read-only and executable; it is written through a second,
//! writable and never executable, mapping of the same frames made on first use (Linux
//! maps one page at a time at FIX_TEXT_POKE0), then the instruction cache is made
//! coherent (`dc cvau`, `ic ivau`). Patches stay in place once made (Linux removes them
//! when tracing stops): with tracing off a patched function costs the trip through
//! `ftrace_caller`.

/// Bytes of one trampoline slot (4 instructions).
pub const FTRACE_SLOT_SIZE: usize = 16;
/// Trampoline slots reserved in the kernel text.
pub const FTRACE_SLOTS: usize = 1024;

/// `movz x16, #imm`.
pub const fn insn_movz_x16(imm: u16) -> u32 {
    0xd280_0000 | ((imm as u32) << 5) | 16
}

/// `b target` placed at `pc`, or None when out of the ±128 MiB range.
pub const fn insn_b(pc: usize, target: usize) -> Option<u32> {
    let off = target.wrapping_sub(pc) as isize;
    if off % 4 != 0 || off >= (1 << 27) || off < -(1 << 27) {
        return None;
    }
    Some(0x1400_0000 | (((off >> 2) as u32) & 0x03ff_ffff))
}

/// Can `insn` run at another address unchanged? Not if it reads the PC: adr/adrp,
/// b/bl, b.cond, cbz/cbnz, tbz/tbnz, literal loads, and the register branches
/// (br/blr/ret, which would leave the trampoline without returning to it).
/// Linux: `aarch64_insn_is_steppable` (kprobes) has the same list.
pub const fn insn_is_relocatable(insn: u32) -> bool {
    let pc_rel_addr = insn & 0x1f00_0000 == 0x1000_0000; // adr, adrp
    let b_imm = insn & 0x7c00_0000 == 0x1400_0000; // b, bl
    let b_cond = insn & 0xff00_0010 == 0x5400_0000;
    let cb = insn & 0x7e00_0000 == 0x3400_0000; // cbz, cbnz
    let tb = insn & 0x7e00_0000 == 0x3600_0000; // tbz, tbnz
    let ldr_lit = insn & 0x3b00_0000 == 0x1800_0000;
    let b_reg = insn & 0xfe00_0000 == 0xd600_0000; // br, blr, ret, eret
    let hint_or_zero = insn == 0; // udf #0: never a real prologue
    !(pc_rel_addr || b_imm || b_cond || cb || tb || ldr_lit || b_reg || hint_or_zero)
}

/// The four instructions of slot `idx` (at `slot`) for the function at `func` whose
/// first instruction is `first`; None when a branch is out of range.
pub fn ftrace_slot_insns(
    idx: u16,
    slot: usize,
    caller: usize,
    func: usize,
    first: u32,
) -> Option<[u32; 4]> {
    Some([
        insn_movz_x16(idx),
        insn_b(slot + 4, caller)?,
        first,
        insn_b(slot + 12, func + 4)?,
    ])
}

#[cfg(target_os = "none")]
mod imp {
    use core::arch::global_asm;

    // The trampoline slots (zero until patched) and the two handlers. Frame: x0-x8
    // (arguments and the indirect-result register) and x30 are saved around the hook;
    // x19-x29 are callee-saved by the Rust hooks; the kernel is soft-float, so no
    // vector register carries an argument.
    global_asm!(
        r#"
    .section .text.ftrace, "ax"
    .balign 4096
    .global ftrace_tramp
ftrace_tramp:
    .space {slots} * {slot_size}

    .balign 16
    .global ftrace_caller
ftrace_caller:
    sub     sp, sp, #96
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x16, [sp, #64]
    stp     x29, x30, [sp, #80]
    add     x29, sp, #80
    mov     x0, x16
    mov     x1, x30
    add     x2, sp, #96
    bl      ftrace_graph_caller_hook
    mov     x30, x0
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x16, [sp, #64]
    ldr     x29, [sp, #80]
    add     sp, sp, #96
    adrp    x17, ftrace_tramp
    add     x17, x17, :lo12:ftrace_tramp
    add     x17, x17, x16, lsl #4
    add     x17, x17, #8
    br      x17

    .balign 16
    .global return_to_handler
return_to_handler:
    sub     sp, sp, #96
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x29, [sp, #64]
    add     x0, sp, #96
    bl      ftrace_return_hook
    mov     x30, x0
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x29, [sp, #64]
    add     sp, sp, #96
    ret
    .text
"#,
        slots = const super::FTRACE_SLOTS,
        slot_size = const super::FTRACE_SLOT_SIZE,
    );

    extern "C" {
        static ftrace_tramp: u8;
        fn ftrace_caller();
        fn return_to_handler();
    }

    /// Addresses of the trampoline slots, `ftrace_caller` and `return_to_handler`.
    pub fn ftrace_addrs() -> (usize, usize, usize) {
        // SAFETY: only the addresses of the assembly symbols above are taken.
        unsafe {
            (
                &ftrace_tramp as *const u8 as usize,
                ftrace_caller as *const () as usize,
                return_to_handler as *const () as usize,
            )
        }
    }

    /// Write `insn` at text address `pc` through its writable alias `alias`, then make
    /// the instruction fetch see it. Linux: `aarch64_insn_patch_text_nosync` ->
    /// `aarch64_insn_write` + `__flush_icache_range`.
    ///
    /// # Safety
    /// `alias` maps the same frame as `pc`, writable; no CPU executes `pc` meanwhile
    /// (one CPU, interrupts off in the caller).
    pub unsafe fn aarch64_insn_patch_text(pc: usize, alias: usize, insn: u32) {
        // SAFETY: the caller's contract: `alias` is a writable mapping of `pc`'s frame.
        unsafe {
            core::ptr::write_volatile(alias as *mut u32, insn);
            core::arch::asm!(
                "dc cvau, {a}",
                "dsb ish",
                "ic ivau, {p}",
                "dsb ish",
                "isb",
                a = in(reg) alias,
                p = in(reg) pc,
            );
        }
    }
}

#[cfg(target_os = "none")]
pub use imp::{aarch64_insn_patch_text, ftrace_addrs};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_the_arm_arm() {
        // movz x16, #5 = d28000b0; b +8 = 14000002; b -4 = 17ffffff.
        assert_eq!(insn_movz_x16(5), 0xd280_00b0);
        assert_eq!(insn_b(0x1000, 0x1008), Some(0x1400_0002));
        assert_eq!(insn_b(0x1000, 0x0ffc), Some(0x17ff_ffff));
        assert_eq!(insn_b(0, 1 << 28), None);
    }

    #[test]
    fn prologues_relocate_pc_relative_instructions_do_not() {
        assert!(insn_is_relocatable(0xa9bf_7bfd)); // stp x29, x30, [sp, #-16]!
        assert!(insn_is_relocatable(0xd101_03ff)); // sub sp, sp, #0x40
        assert!(!insn_is_relocatable(0x9000_0000)); // adrp x0, .
        assert!(!insn_is_relocatable(0x1400_0000)); // b .
        assert!(!insn_is_relocatable(0x9400_0000)); // bl .
        assert!(!insn_is_relocatable(0xb400_0000)); // cbz x0, .
        assert!(!insn_is_relocatable(0x5800_0000)); // ldr x0, literal
        assert!(!insn_is_relocatable(0xd65f_03c0)); // ret
        assert!(!insn_is_relocatable(0x5400_0000)); // b.eq .
    }
}

/*
 * Exception vectors and the save/restore of the trap frame (struct pt_regs).
 * Linux: arch/arm64/kernel/entry.S (vectors, kernel_entry, kernel_exit).
 *
 * pt_regs layout (see traps.rs: PtRegs), 320 bytes:
 *   0..248   x0..x30
 *   248      sp (SP_EL0 for exceptions from EL0, the interrupted SP_EL1 otherwise)
 *   256      pc (ELR_EL1)       264 pstate (SPSR_EL1)
 *   272      esr                280 far
 *   288      orig_x0            296 syscallno (NO_SYSCALL = -1 unless el0_svc sets it)
 *   304      stackframe {x29, pc}: a frame record, so a backtrace walks from the
 *            handler through the exception into the interrupted code.
 */
.equ S_FRAME_SIZE, 320
.equ S_ORIG_X0, 288
.equ S_STACKFRAME, 304

    .macro kernel_entry, el
    sub     sp, sp, #S_FRAME_SIZE
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    .if \el == 0
    mrs     x21, sp_el0
    .else
    add     x21, sp, #S_FRAME_SIZE
    .endif
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    mrs     x24, esr_el1
    mrs     x25, far_el1
    stp     x30, x21, [sp, #240]
    stp     x22, x23, [sp, #256]
    stp     x24, x25, [sp, #272]
    mov     x26, #-1                // NO_SYSCALL: el0_svc fills these in
    stp     xzr, x26, [sp, #S_ORIG_X0]
    .if \el == 0
    stp     xzr, xzr, [sp, #S_STACKFRAME]    // a user frame chain is not ours to follow
    .else
    stp     x29, x22, [sp, #S_STACKFRAME]
    .endif
    add     x29, sp, #S_STACKFRAME
    .endm

    .macro kernel_exit, el
    ldp     x22, x23, [sp, #256]
    .if \el == 0
    ldr     x21, [sp, #248]
    msr     sp_el0, x21
    .endif
    msr     elr_el1, x22
    msr     spsr_el1, x23
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldr     x30, [sp, #240]
    add     sp, sp, #S_FRAME_SIZE
    eret
    .endm

    .macro ventry, label
    .balign 0x80
    b       \label
    .endm

    .cfi_sections .debug_frame
    .section .text.vectors, "ax"
    .balign 0x800
    .global vectors
vectors:
    ventry  el1t_sync_invalid       // current EL with SP_EL0
    ventry  el1t_irq_invalid
    ventry  el1t_fiq_invalid
    ventry  el1t_error_invalid
    ventry  el1h_sync               // current EL with SP_ELx
    ventry  el1h_irq
    ventry  el1h_fiq_invalid
    ventry  el1h_error_invalid
    ventry  el0_sync                // lower EL, AArch64
    ventry  el0_irq
    ventry  el0_fiq_invalid
    ventry  el0_error_invalid
    ventry  el0_32_invalid          // lower EL, AArch32: not supported
    ventry  el0_32_invalid
    ventry  el0_32_invalid
    ventry  el0_32_invalid

    .macro inv_entry, el, reason
    kernel_entry \el
    mov     x0, sp
    mov     x1, #\reason
    bl      bad_mode
    b       .
    .endm

/* Reasons, as Linux's BAD_SYNC/BAD_IRQ/BAD_FIQ/BAD_ERROR (+ 4 for "from EL0"). */
el1t_sync_invalid:  inv_entry 1, 0
el1t_irq_invalid:   inv_entry 1, 1
el1t_fiq_invalid:   inv_entry 1, 2
el1t_error_invalid: inv_entry 1, 3
el1h_fiq_invalid:   inv_entry 1, 2
el1h_error_invalid: inv_entry 1, 3
el0_fiq_invalid:    inv_entry 0, 6
el0_error_invalid:  inv_entry 0, 7
el0_32_invalid:     inv_entry 0, 4

/* Debuggers stop here too (the panic report's own unwinder continues through the
   pt_regs frame record into the interrupted code). */
el1h_sync:
    .cfi_startproc
    .cfi_undefined x30
    kernel_entry 1
    mov     x0, sp
    bl      el1_sync_handler
    kernel_exit 1
    .cfi_endproc

el1h_irq:
    .cfi_startproc
    .cfi_undefined x30
    kernel_entry 1
    mov     x0, sp
    bl      el1_irq_handler
    kernel_exit 1
    .cfi_endproc

/*
 * Exceptions from user space are the bottom of the kernel stack: tell debuggers there is
 * no caller (return address undefined), so a backtrace ends here instead of looping.
 */
el0_sync:
    .cfi_startproc
    .cfi_undefined x30
    kernel_entry 0
    mov     x0, sp
    bl      el0_sync_handler
    kernel_exit 0
    .cfi_endproc

el0_irq:
    .cfi_startproc
    .cfi_undefined x30
    kernel_entry 0
    mov     x0, sp
    bl      el0_irq_handler
    kernel_exit 0
    .cfi_endproc

/*
 * Switch kernel stacks: save the callee-saved registers of `prev` and load `next`'s.
 * x0 = &prev->thread.cpu_context, x1 = &next->thread.cpu_context.
 * Linux: cpu_switch_to in arch/arm64/kernel/entry.S. cpu_context layout (task/mod.rs):
 * x19..x28, fp, sp, pc.
 */
    .section .text, "ax"
    .global cpu_switch_to
cpu_switch_to:
    mov     x10, sp
    stp     x19, x20, [x0, #16 * 0]
    stp     x21, x22, [x0, #16 * 1]
    stp     x23, x24, [x0, #16 * 2]
    stp     x25, x26, [x0, #16 * 3]
    stp     x27, x28, [x0, #16 * 4]
    stp     x29, x10, [x0, #16 * 5]
    str     x30, [x0, #16 * 6]
    ldp     x19, x20, [x1, #16 * 0]
    ldp     x21, x22, [x1, #16 * 1]
    ldp     x23, x24, [x1, #16 * 2]
    ldp     x25, x26, [x1, #16 * 3]
    ldp     x27, x28, [x1, #16 * 4]
    ldp     x29, x10, [x1, #16 * 5]
    ldr     x30, [x1, #16 * 6]
    mov     sp, x10
    ret

/*
 * First instructions of every new task. x19 = kernel-thread function (0 for a user task),
 * x20 = its argument; sp points at the task's pt_regs. Linux: ret_from_fork.
 */
    .global ret_from_fork
ret_from_fork:
    bl      schedule_tail
    cbz     x19, ret_to_user
    mov     x0, x20
    blr     x19
    /* A kernel thread that returns either exec'd a program (its pt_regs now describe
       user space: go there) or is finished (kthread_return does not come back). */
    bl      kthread_return
    .global ret_to_user
ret_to_user:
    msr     daifset, #0xf
    kernel_exit 0

/*
 * FP/SIMD state of user tasks: q0-q31, fpsr, fpcr (528 bytes). The kernel itself is
 * built soft-float and never touches these registers, so they are saved and loaded only
 * when switching tasks. Linux: fpsimd_save_state / fpsimd_load_state (arch/arm64/kernel/
 * entry-fpsimd.S), done lazily there; eagerly here.
 */
    .arch_extension fp
    .arch_extension simd
    .global fpsimd_save_state
fpsimd_save_state:
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x8, fpsr
    mrs     x9, fpcr
    str     w8, [x0, #512]
    str     w9, [x0, #516]
    ret

    .global fpsimd_load_state
fpsimd_load_state:
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    ldr     w8, [x0, #512]
    ldr     w9, [x0, #516]
    msr     fpsr, x8
    msr     fpcr, x9
    ret

/*
 * Early boot: from QEMU's jump to the physical _start, to start_kernel in the higher half.
 * Linux: arch/arm64/kernel/head.S (primary_entry, init_kernel_el, __create_page_tables,
 * __enable_mmu, __primary_switched).
 *
 * Runs with the MMU off, so only PC-relative addressing (adr/adrp) is used until the jump
 * to the linked (virtual) address.
 *
 * In:  x0 = DTB physical address under the Linux Image protocol; 0 for an ELF kernel.
 * Out: start_kernel(dtb_pa, entry_el) at EL1h, MMU on, on the boot stack.
 */

.equ PAGE_OFFSET, 0xffff000000000000

/* Block descriptor for Normal WB memory: valid, block, AttrIndx=1 (MAIR attr1), SH=inner, AF. */
.equ BOOT_BLOCK_ATTRS, 0x705
/* Table descriptor: valid + table. */
.equ TABLE_DESC, 0x3

/* SCTLR_EL1 with the MMU off: only the RES1 bits (ARMv8.0: 11, 20, 22, 23, 28, 29). */
.equ SCTLR_EL1_RES1, 0x30d00800
/* SPSR for an ERET to EL1h / EL2h with D, A, I, F masked. */
.equ SPSR_EL1H, 0x3c5
.equ SPSR_EL2H, 0x3c9

    .section .text.head, "ax"
    .global _start
_start:
    mov     x19, x0                 // DTB pointer (0 for an ELF kernel)
    mrs     x20, CurrentEL
    lsr     x20, x20, #2            // the EL QEMU entered us at, for the boot report
    msr     daifset, #0xf

    cmp     x20, #3
    b.eq    el3_entry
    cmp     x20, #2
    b.eq    el2_entry
    b       el1_entry

/* EL3 (-M virt,secure=on): make the lower ELs non-secure AArch64, then drop to EL2 or EL1. */
el3_entry:
    mov     x0, #0x531              // SCR_EL3: NS | RES1(5:4) | SMD | HCE | RW
    msr     scr_el3, x0
    msr     cptr_el3, xzr           // no FP/SIMD traps to EL3
    mrs     x0, id_aa64pfr0_el1
    ubfx    x1, x0, #24, #4         // GIC system registers implemented?
    cbz     x1, 1f
    mov     x1, #0xf                // ICC_SRE_EL3: SRE | DFB | DIB | Enable
    msr     ICC_SRE_EL3, x1
    isb
1:  ubfx    x1, x0, #8, #4          // EL2 implemented?
    cbz     x1, 2f
    mov     x0, #SPSR_EL2H
    msr     spsr_el3, x0
    adr     x0, el2_entry
    msr     elr_el3, x0
    eret
2:  mov     x0, #SPSR_EL1H
    msr     spsr_el3, x0
    adr     x0, el1_entry
    msr     elr_el3, x0
    eret

/* EL2 (-M virt,virtualization=on): configure EL1 as Linux's init_kernel_el does, then ERET. */
el2_entry:
    mov     x0, #(1 << 31)          // HCR_EL2.RW: EL1 is AArch64; nothing else trapped
    msr     hcr_el2, x0
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3              // EL1PCTEN | EL1PCEN: EL1 may use the physical counter/timer
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr        // virtual counter == physical counter
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4         // GICv3 system-register interface present?
    cbz     x0, 1f
    mrs     x0, ICC_SRE_EL2
    orr     x0, x0, #0xf            // SRE, DFB, DIB, Enable: EL1 may use ICC_*_EL1
    msr     ICC_SRE_EL2, x0
    isb
1:  mov     x0, #0x33ff             // CPTR_EL2: RES1 bits, no FP/SIMD trap
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    mrs     x0, id_aa64dfr0_el1     // a PMUv3 (PMUVer neither 0 nor 0xf)?
    ubfx    x0, x0, #8, #4
    cbz     x0, 3f
    cmp     x0, #0xf
    b.eq    3f
    mrs     x0, pmcr_el0
    ubfx    x0, x0, #11, #5         // PMCR_EL0.N
    msr     mdcr_el2, x0            // HPMN = N: EL1 owns every counter, no PMU traps to EL2
3:  mrs     x0, midr_el1            // what EL1 reads as MIDR/MPIDR
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    msr     vttbr_el2, xzr
    ldr     x0, =SCTLR_EL1_RES1
    msr     sctlr_el1, x0
    mov     x0, #SPSR_EL1H
    msr     spsr_el2, x0
    adr     x0, el1_entry
    msr     elr_el2, x0
    eret

el1_entry:
    ldr     x0, =SCTLR_EL1_RES1     // MMU and caches off, little endian
    msr     sctlr_el1, x0
    isb
    adrp    x0, boot_stack_top      // physical: the MMU is off
    mov     sp, x0

    /* Zero .bss (it holds the early page tables and the boot stack). */
    adrp    x0, __bss_start
    adrp    x1, __bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:
    bl      __create_page_tables
    bl      __enable_mmu

    ldr     x8, =__primary_switched // the linked, higher-half address
    br      x8

/*
 * The boot map is deliberately coarse: the 1 GiB block holding the kernel image (and
 * QEMU's DTB at RAM start), once at its physical address (TTBR0, identity, so the next
 * instructions keep running when the MMU comes on) and once at PAGE_OFFSET + phys (TTBR1).
 * paging_init() replaces both with the exact map. PAGE_OFFSET's bits [47:30] are zero, so
 * both maps use the same PGD and PUD indices.
 */
__create_page_tables:
    adr     x9, _start
    ubfx    x10, x9, #39, #9        // pgd index
    ubfx    x11, x9, #30, #9        // pud index
    lsr     x12, x9, #30
    lsl     x12, x12, #30           // 1 GiB-aligned physical base
    mov     x13, #BOOT_BLOCK_ATTRS
    orr     x13, x12, x13

    adrp    x0, idmap_pg_dir
    adrp    x1, idmap_pud
    orr     x2, x1, #TABLE_DESC
    str     x2, [x0, x10, lsl #3]
    str     x13, [x1, x11, lsl #3]

    adrp    x0, init_pg_dir
    adrp    x1, init_pud
    orr     x2, x1, #TABLE_DESC
    str     x2, [x0, x10, lsl #3]
    str     x13, [x1, x11, lsl #3]
    dsb     ishst
    ret

/* MAIR, TCR, TTBRs, then SCTLR.M. Linux: __cpu_setup + __enable_mmu. */
__enable_mmu:
    ldr     x0, =0x44ff04           // MAIR: attr0 Device-nGnRE, attr1 Normal WB, attr2 Normal NC
    msr     mair_el1, x0
    /* TCR: T0SZ=T1SZ=16 (48-bit), 4 KiB granules (TG0=0b00, TG1=0b10), inner-shareable
       write-back walks, 16-bit ASIDs; IPS from ID_AA64MMFR0_EL1.PARange. */
    ldr     x0, =0x10b5103510
    mrs     x1, id_aa64mmfr0_el1
    ubfx    x1, x1, #0, #3
    bfi     x0, x1, #32, #3
    msr     tcr_el1, x0
    adrp    x0, idmap_pg_dir
    msr     ttbr0_el1, x0
    adrp    x0, init_pg_dir
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    mrs     x0, sctlr_el1
    orr     x0, x0, #(1 << 0)       // M: MMU on
    orr     x0, x0, #(1 << 2)       // C: data cache
    orr     x0, x0, #(1 << 12)      // I: instruction cache
    /* What Linux's INIT_SCTLR_EL1_MMU_ON gives user space: CTR_EL0 reads (UCT), DC ZVA
     * (DZE) and the cache-maintenance instructions (UCI: dc cvau, ic ivau), which a
     * program that writes code and then runs it (a JIT, LTP's mprotect04) needs. */
    orr     x0, x0, #(1 << 14)      // DZE
    orr     x0, x0, #(1 << 15)      // UCT
    orr     x0, x0, #(1 << 26)      // UCI
    msr     sctlr_el1, x0
    isb
    ret

    .ltorg

    .section .text, "ax"
__primary_switched:
    ldr     x0, =boot_stack_top
    mov     sp, x0
    mov     x29, xzr                // end of the frame-pointer chain
    mov     x30, xzr
    ldr     x0, =vectors
    msr     vbar_el1, x0
    isb
    mov     x0, x19
    mov     x1, x20
    bl      start_kernel
1:  wfe
    b       1b
    .ltorg

/*
 * Replace TTBR1 with break-before-make: TTBR1 -> the empty reserved_pg_dir, invalidate
 * the TLB, then install the new tables. This runs from the identity map (the caller
 * branches to our physical address) because the kernel's own mapping disappears for a
 * moment. Linux: idmap_cpu_replace_ttbr1 in arch/arm64/mm/proc.S.
 * x0 = physical address of the new PGD. Uses no stack.
 */
    .global idmap_cpu_replace_ttbr1
idmap_cpu_replace_ttbr1:
    adrp    x1, reserved_pg_dir
    msr     ttbr1_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     ttbr1_el1, x0
    isb
    ret

    .section .bss..page_aligned, "aw", %nobits
    .balign 4096
    .global idmap_pg_dir, init_pg_dir, reserved_pg_dir
idmap_pg_dir:    .space 4096
idmap_pud:       .space 4096
init_pg_dir:     .space 4096
init_pud:        .space 4096
/* Always empty: TTBR0 points here when no user address space is live. */
reserved_pg_dir: .space 4096

    .balign 16
boot_stack:      .space 0x10000
    .global boot_stack_top
boot_stack_top:

//! Stage-1 translation-table descriptors, 4 KiB granule, 48-bit VA, four levels.
//! Linux: `arch/arm64/include/asm/pgtable-hwdef.h`, `pgtable-prot.h`, `pgtable.h`.
//!
//! Levels as Linux names them: level 0 = PGD (512 GiB per entry), 1 = PUD (1 GiB),
//! 2 = PMD (2 MiB), 3 = PTE (4 KiB). Levels 1 and 2 may hold blocks.
use tock_registers::{register_bitfields, LocalRegisterCopy};

register_bitfields! {u64,
    /// Table descriptor at levels 0-2, Arm ARM D8.3.1 (VMSAv8-64 table descriptor).
    pub TABLE_DESCRIPTOR [
        /// Hierarchical permission limits for the next levels (Arm ARM D8.4.2).
        NSTable  OFFSET(63) NUMBITS(1) [],
        APTable  OFFSET(61) NUMBITS(2) [],
        UXNTable OFFSET(60) NUMBITS(1) [],
        PXNTable OFFSET(59) NUMBITS(1) [],
        /// Physical address of the next-level table, bits [47:12].
        NEXT_LEVEL_TABLE_ADDR OFFSET(12) NUMBITS(36) [],
        TYPE  OFFSET(1) NUMBITS(1) [Block = 0, Table = 1],
        VALID OFFSET(0) NUMBITS(1) [False = 0, True = 1]
    ],

    /// Page descriptor (level 3) or block descriptor (levels 1-2), Arm ARM D8.3.2 and
    /// D8.4 (memory attributes and permissions).
    pub PAGE_DESCRIPTOR [
        /// Software bits, ignored by the hardware (Linux keeps PTE_DIRTY, PTE_SPECIAL here).
        SW OFFSET(55) NUMBITS(4) [],
        /// Unprivileged (EL0) execute-never.
        UXN OFFSET(54) NUMBITS(1) [False = 0, True = 1],
        /// Privileged (EL1) execute-never.
        PXN OFFSET(53) NUMBITS(1) [False = 0, True = 1],
        /// Hint: one of 16 contiguous entries.
        CONTIGUOUS OFFSET(52) NUMBITS(1) [],
        /// DBM: dirty-bit modifier (FEAT_HAFDBS; cortex-a72 has none).
        DBM OFFSET(51) NUMBITS(1) [],
        /// Output address, bits [47:12] (a block leaves the low bits zero).
        OUTPUT_ADDR OFFSET(12) NUMBITS(36) [],
        /// Not global: the entry is tagged with an ASID (user mappings).
        nG OFFSET(11) NUMBITS(1) [False = 0, True = 1],
        /// Access flag; clear means the first access faults (the "young" bit).
        AF OFFSET(10) NUMBITS(1) [False = 0, True = 1],
        SH OFFSET(8) NUMBITS(2) [NonShareable = 0b00, OuterShareable = 0b10, InnerShareable = 0b11],
        /// Access permissions, Arm ARM D8.4.1.
        AP OFFSET(6) NUMBITS(2) [RW_EL1 = 0b00, RW_EL1_EL0 = 0b01, RO_EL1 = 0b10, RO_EL1_EL0 = 0b11],
        NS OFFSET(5) NUMBITS(1) [],
        /// Index into MAIR_EL1 (see `MT_*`).
        AttrIndx OFFSET(2) NUMBITS(3) [Device_nGnRE = 0, Normal = 1, Normal_NC = 2],
        TYPE OFFSET(1) NUMBITS(1) [Block = 0, Page = 1],
        VALID OFFSET(0) NUMBITS(1) [False = 0, True = 1]
    ]
}

/// Value of MAIR_EL1 matching `AttrIndx` above (boot/head.S programs it): attr0
/// Device-nGnRE 0x04, attr1 Normal write-back 0xff, attr2 Normal non-cacheable 0x44.
pub const MAIR_EL1_VALUE: u64 = 0x0044_ff04;

/// Entries per table at every level.
pub const PTRS_PER_TABLE: usize = 512;

/// Bytes mapped by one entry at `level` (0..=3): 512 GiB, 1 GiB, 2 MiB, 4 KiB.
pub const fn level_size(level: usize) -> usize {
    1 << (12 + 9 * (3 - level))
}

/// Index of `va` in the table at `level` (Linux: `pgd_index`, `pud_index`, `pmd_index`,
/// `pte_index`).
pub const fn table_index(va: usize, level: usize) -> usize {
    (va >> (12 + 9 * (3 - level))) & (PTRS_PER_TABLE - 1)
}

/// Page protection: the attribute bits of a leaf descriptor (Linux: `pgprot_t`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PgProt(pub u64);

/// Kernel data: Normal memory, read-write, never executable (Linux: `PAGE_KERNEL`).
pub const PAGE_KERNEL: PgProt = PgProt(
    PAGE_DESCRIPTOR::AttrIndx::Normal.value
        | PAGE_DESCRIPTOR::SH::InnerShareable.value
        | PAGE_DESCRIPTOR::AF::True.value
        | PAGE_DESCRIPTOR::AP::RW_EL1.value
        | PAGE_DESCRIPTOR::PXN::True.value
        | PAGE_DESCRIPTOR::UXN::True.value,
);
/// Kernel read-only data (Linux: `PAGE_KERNEL_RO`).
pub const PAGE_KERNEL_RO: PgProt = PgProt(
    PAGE_DESCRIPTOR::AttrIndx::Normal.value
        | PAGE_DESCRIPTOR::SH::InnerShareable.value
        | PAGE_DESCRIPTOR::AF::True.value
        | PAGE_DESCRIPTOR::AP::RO_EL1.value
        | PAGE_DESCRIPTOR::PXN::True.value
        | PAGE_DESCRIPTOR::UXN::True.value,
);
/// Kernel text: read-only, executable at EL1 only (Linux: `PAGE_KERNEL_ROX`).
pub const PAGE_KERNEL_ROX: PgProt = PgProt(
    PAGE_DESCRIPTOR::AttrIndx::Normal.value
        | PAGE_DESCRIPTOR::SH::InnerShareable.value
        | PAGE_DESCRIPTOR::AF::True.value
        | PAGE_DESCRIPTOR::AP::RO_EL1.value
        | PAGE_DESCRIPTOR::PXN::False.value
        | PAGE_DESCRIPTOR::UXN::True.value,
);
/// MMIO: Device-nGnRE, read-write, never executable (Linux: `PROT_DEVICE_nGnRE`).
pub const PROT_DEVICE_NGNRE: PgProt = PgProt(
    PAGE_DESCRIPTOR::AttrIndx::Device_nGnRE.value
        | PAGE_DESCRIPTOR::AF::True.value
        | PAGE_DESCRIPTOR::AP::RW_EL1.value
        | PAGE_DESCRIPTOR::PXN::True.value
        | PAGE_DESCRIPTOR::UXN::True.value,
);

/// Bits every user page has: Normal memory, inner shareable, accessed, not global
/// (tagged with the ASID), never executable by the kernel.
const PROT_USER_BASE: u64 = PAGE_DESCRIPTOR::AttrIndx::Normal.value
    | PAGE_DESCRIPTOR::SH::InnerShareable.value
    | PAGE_DESCRIPTOR::AF::True.value
    | PAGE_DESCRIPTOR::nG::True.value
    | PAGE_DESCRIPTOR::PXN::True.value;
/// User read-only, not executable (Linux: `PAGE_READONLY`).
pub const PAGE_READONLY: PgProt = PgProt(
    PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RO_EL1_EL0.value | PAGE_DESCRIPTOR::UXN::True.value,
);
/// User read-write (Linux: `PAGE_SHARED`; private writable pages get it on a write fault).
pub const PAGE_SHARED: PgProt = PgProt(
    PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RW_EL1_EL0.value | PAGE_DESCRIPTOR::UXN::True.value,
);
/// User read-only and executable (Linux: `PAGE_READONLY_EXEC`).
pub const PAGE_READONLY_EXEC: PgProt =
    PgProt(PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RO_EL1_EL0.value);
/// User read-write and executable (Linux: `PAGE_SHARED_EXEC`).
pub const PAGE_SHARED_EXEC: PgProt = PgProt(PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RW_EL1_EL0.value);
/// User execute-only: EL0 may fetch but not load (Linux: `PAGE_EXECONLY`).
pub const PAGE_EXECONLY: PgProt = PgProt(PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RW_EL1.value);
/// No user access (PROT_NONE): a present entry only EL1 could reach, never executable,
/// so pages already mapped stay mapped (Linux: `PAGE_NONE`, an entry with PTE_PROT_NONE
/// that the MMU sees as invalid; we use EL1-only permissions to the same effect for EL0).
pub const PAGE_NONE: PgProt =
    PgProt(PROT_USER_BASE | PAGE_DESCRIPTOR::AP::RO_EL1.value | PAGE_DESCRIPTOR::UXN::True.value);

/// The protection for a VMA's read/write/exec/shared bits (Linux arm64 5.10's
/// `protection_map` `__P000`..`__S111`). A private writable mapping is read-only here:
/// the first write faults and `do_wp_page`/`do_anonymous_page` make the PTE writable
/// (copy-on-write).
pub fn vm_get_page_prot(read: bool, write: bool, exec: bool, shared: bool) -> PgProt {
    match (read || write, write && shared, exec) {
        (false, _, false) => PAGE_NONE,
        // Linux 5.10 has no execute-only user mappings (reverted in 5.9, back in 6.2 with
        // EPAN): PROT_EXEC alone is readable, as __P100 = PAGE_READONLY_EXEC says.
        (false, _, true) if !write => PAGE_READONLY_EXEC,
        (_, false, false) => PAGE_READONLY,
        (_, false, true) => PAGE_READONLY_EXEC,
        (_, true, false) => PAGE_SHARED,
        (_, true, true) => PAGE_SHARED_EXEC,
    }
}

/// A last-level (level 3) page-table entry: a stage-1 page descriptor, Arm ARM D8.3.2
/// (fields in [`PAGE_DESCRIPTOR`]), or zero for "nothing mapped" (Linux: `pte_t`). mm/
/// reads and changes it only through the `pte_*` helpers below, named as Linux names
/// them; the upper levels and the kernel's own tables stay raw `u64` descriptors
/// ([`mk_table`], [`mk_leaf`], [`decode`]).
///
/// Dirty state: the MMU never writes a PTE here (no FEAT_HAFDBS use: TCR_EL1.HA/HD are
/// clear and DBM is never set), so "dirty" is the software bit [`PTE_DIRTY`], which the
/// write-fault paths set as they make a PTE writable (Linux: `pte_mkdirty` in
/// `do_anonymous_page`, `wp_page_reuse`, `wp_page_copy`, `finish_fault`).
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Pte(u64);

impl core::fmt::Debug for Pte {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Pte({:#018x})", self.0)
    }
}

/// The PTE with raw descriptor value `val` (Linux: `__pte`).
#[inline]
pub const fn __pte(val: u64) -> Pte {
    Pte(val)
}

/// The raw descriptor value of `pte` (Linux: `pte_val`).
#[inline]
pub const fn pte_val(pte: Pte) -> u64 {
    pte.0
}

/// Software dirty bit, the lowest of the descriptor bits the hardware ignores (bits
/// 55-58, `PAGE_DESCRIPTOR::SW`). Linux arm64: `PTE_DIRTY` (bit 55).
pub const PTE_DIRTY: u64 = 1 << PAGE_DESCRIPTOR::SW.shift;

#[inline]
fn desc(pte: Pte) -> PageDescriptor {
    PageDescriptor::new(pte.0)
}

/// Is the entry empty (all zero: never mapped, or zapped)? (Linux: `pte_none`.)
#[inline]
pub const fn pte_none(pte: Pte) -> bool {
    pte.0 == 0
}

/// Is the descriptor valid, so the MMU translates through it? (Linux: `pte_present`.)
#[inline]
pub fn pte_present(pte: Pte) -> bool {
    desc(pte).is_set(PAGE_DESCRIPTOR::VALID)
}

/// Was the page accessed since the access flag (AF) was last cleared? (Linux:
/// `pte_young`.) Every PTE we install has AF set: an AF-clear entry takes an Access flag
/// fault on first use.
#[inline]
pub fn pte_young(pte: Pte) -> bool {
    desc(pte).is_set(PAGE_DESCRIPTOR::AF)
}

/// The entry with the access flag set (Linux: `pte_mkyoung`).
#[inline]
pub fn pte_mkyoung(pte: Pte) -> Pte {
    let mut d = desc(pte);
    d.modify(PAGE_DESCRIPTOR::AF::True);
    Pte(d.get())
}

/// The entry with the access flag clear (Linux: `pte_mkold`): the next access faults.
#[inline]
pub fn pte_mkold(pte: Pte) -> Pte {
    let mut d = desc(pte);
    d.modify(PAGE_DESCRIPTOR::AF::False);
    Pte(d.get())
}

/// Has the page been written through this entry since it was made clean? (Linux:
/// `pte_dirty`, here only the software [`PTE_DIRTY`]: there is no hardware dirty state.)
#[inline]
pub const fn pte_dirty(pte: Pte) -> bool {
    pte.0 & PTE_DIRTY != 0
}

/// The entry marked dirty (Linux: `pte_mkdirty`).
#[inline]
pub const fn pte_mkdirty(pte: Pte) -> Pte {
    Pte(pte.0 | PTE_DIRTY)
}

/// The entry marked clean (Linux: `pte_mkclean`).
#[inline]
pub const fn pte_mkclean(pte: Pte) -> Pte {
    Pte(pte.0 & !PTE_DIRTY)
}

/// Bit position of the swap type in a swap PTE (Linux arm64: `__SWP_TYPE_SHIFT`). Bits 0
/// (valid) and 1 stay clear, so the MMU faults on the entry and `pte_present` is false.
pub const __SWP_TYPE_SHIFT: u64 = 2;
/// Width of the swap type (Linux arm64: `__SWP_TYPE_BITS`).
pub const __SWP_TYPE_BITS: u64 = 6;
/// Bit position of the swap offset (Linux arm64: `__SWP_OFFSET_SHIFT`).
pub const __SWP_OFFSET_SHIFT: u64 = __SWP_TYPE_SHIFT + __SWP_TYPE_BITS;
/// Width of the swap offset (Linux arm64: `__SWP_OFFSET_BITS`): bits 8-57, below the
/// software bits' PTE_PROT_NONE (58) that a PROT_NONE entry would use in Linux.
pub const __SWP_OFFSET_BITS: u64 = 50;

/// The swap type stored in a swap PTE (Linux arm64: `__swp_type`).
#[inline]
pub const fn __swp_type(pte: Pte) -> u64 {
    (pte.0 >> __SWP_TYPE_SHIFT) & ((1 << __SWP_TYPE_BITS) - 1)
}

/// The swap offset stored in a swap PTE (Linux arm64: `__swp_offset`).
#[inline]
pub const fn __swp_offset(pte: Pte) -> u64 {
    (pte.0 >> __SWP_OFFSET_SHIFT) & ((1 << __SWP_OFFSET_BITS) - 1)
}

/// A non-present PTE naming slot `offset` of swap device `ty` (Linux arm64:
/// `__swp_entry` + `__swp_entry_to_pte`). Never zero: `swp_entry(0, 0)` would read as
/// `pte_none`, so callers never use offset 0 (it holds the swap header, as in Linux).
#[inline]
pub const fn __swp_entry_pte(ty: u64, offset: u64) -> Pte {
    Pte(((ty & ((1 << __SWP_TYPE_BITS) - 1)) << __SWP_TYPE_SHIFT)
        | ((offset & ((1 << __SWP_OFFSET_BITS) - 1)) << __SWP_OFFSET_SHIFT))
}

/// Does this entry let EL0 write? (Linux: `pte_write`.) AP[2:1] = 0b01, Arm ARM D8.4.1.
#[inline]
pub fn pte_write(pte: Pte) -> bool {
    desc(pte).matches_all(PAGE_DESCRIPTOR::AP::RW_EL1_EL0)
}

/// The entry made user-writable (Linux: `pte_mkwrite`). An entry EL0 cannot access at
/// all (PAGE_NONE, execute-only) is left as it is: this never grants EL0 data access.
#[inline]
pub fn pte_mkwrite(pte: Pte) -> Pte {
    let mut d = desc(pte);
    if d.read(PAGE_DESCRIPTOR::AP) & 0b01 != 0 {
        d.modify(PAGE_DESCRIPTOR::AP::RW_EL1_EL0);
    }
    Pte(d.get())
}

/// The entry made read-only for EL0 (Linux: `pte_wrprotect`): fork's copy-on-write. The
/// dirty bit stays, as Linux keeps it.
#[inline]
pub fn pte_wrprotect(pte: Pte) -> Pte {
    let mut d = desc(pte);
    if d.matches_all(PAGE_DESCRIPTOR::AP::RW_EL1_EL0) {
        d.modify(PAGE_DESCRIPTOR::AP::RO_EL1_EL0);
    }
    Pte(d.get())
}

/// Page frame number a present entry maps (Linux: `pte_pfn`).
#[inline]
pub fn pte_pfn(pte: Pte) -> usize {
    desc(pte).read(PAGE_DESCRIPTOR::OUTPUT_ADDR) as usize
}

/// Physical address a present entry maps (Linux: `__pte_to_phys`).
#[inline]
pub fn pte_phys(pte: Pte) -> usize {
    pte_pfn(pte) << 12
}

/// The attributes of an entry without its output address (Linux: `pte_pgprot`).
#[inline]
pub fn pte_pgprot(pte: Pte) -> PgProt {
    let mut d = desc(pte);
    d.modify(PAGE_DESCRIPTOR::OUTPUT_ADDR.val(0));
    PgProt(d.get())
}

/// A valid page entry mapping page frame `pfn` with `prot` (Linux: `pfn_pte`).
#[inline]
pub fn pfn_pte(pfn: usize, prot: PgProt) -> Pte {
    let mut d = PageDescriptor::new(prot.0);
    d.modify(
        PAGE_DESCRIPTOR::OUTPUT_ADDR.val(pfn as u64)
            + PAGE_DESCRIPTOR::TYPE::Page
            + PAGE_DESCRIPTOR::VALID::True,
    );
    Pte(d.get())
}

/// A valid page entry mapping the page at physical `pa` with `prot` (Linux: `mk_pte`,
/// which takes the `struct page`; callers here have its address from `page_to_phys`).
#[inline]
pub fn mk_pte(pa: usize, prot: PgProt) -> Pte {
    debug_assert_eq!(pa % level_size(3), 0, "page not aligned");
    pfn_pte(pa >> 12, prot)
}

/// The entry with its protection replaced by `newprot`, keeping the page and the
/// software bits (dirty) (Linux: `pte_modify`, used by `change_pte_range`).
#[inline]
pub fn pte_modify(pte: Pte, newprot: PgProt) -> Pte {
    let mut d = desc(mk_pte(pte_phys(pte), newprot));
    d.modify(PAGE_DESCRIPTOR::SW.val(desc(pte).read(PAGE_DESCRIPTOR::SW)));
    Pte(d.get())
}

/// A leaf descriptor: a page at level 3 or a block at levels 1-2.
pub type PageDescriptor = LocalRegisterCopy<u64, PAGE_DESCRIPTOR::Register>;
/// A table descriptor at levels 0-2.
pub type TableDescriptor = LocalRegisterCopy<u64, TABLE_DESCRIPTOR::Register>;

/// A table descriptor pointing at the next-level table at physical `table_pa`.
pub fn mk_table(table_pa: usize) -> u64 {
    let mut d = TableDescriptor::new(0);
    d.write(
        TABLE_DESCRIPTOR::NEXT_LEVEL_TABLE_ADDR.val(table_pa as u64 >> 12)
            + TABLE_DESCRIPTOR::TYPE::Table
            + TABLE_DESCRIPTOR::VALID::True,
    );
    d.get()
}

/// A leaf descriptor mapping physical `pa` with `prot`; `level` 3 gives a page, 1 or 2 a
/// block (Linux: `pfn_pte`, `pfn_pmd` + `mk_pmd_sect_prot`).
pub fn mk_leaf(pa: usize, prot: PgProt, level: usize) -> u64 {
    debug_assert!((1..=3).contains(&level));
    debug_assert_eq!(pa % level_size(level), 0, "leaf not aligned to its level");
    let mut d = PageDescriptor::new(prot.0);
    let ty = if level == 3 {
        PAGE_DESCRIPTOR::TYPE::Page
    } else {
        PAGE_DESCRIPTOR::TYPE::Block
    };
    d.modify(PAGE_DESCRIPTOR::OUTPUT_ADDR.val(pa as u64 >> 12) + ty + PAGE_DESCRIPTOR::VALID::True);
    d.get()
}

/// What a raw descriptor at `level` is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Desc {
    /// Invalid: any access faults with a translation fault at this level.
    Invalid,
    /// Points at the next-level table (levels 0-2).
    Table(usize),
    /// Maps a block (levels 1-2) or a page (level 3) at this physical address.
    Leaf(usize),
}

/// Decode a descriptor found at `level`.
pub fn decode(raw: u64, level: usize) -> Desc {
    let d = PageDescriptor::new(raw);
    if !d.is_set(PAGE_DESCRIPTOR::VALID) {
        return Desc::Invalid;
    }
    let addr = (d.read(PAGE_DESCRIPTOR::OUTPUT_ADDR) << 12) as usize;
    let table_bit = d.is_set(PAGE_DESCRIPTOR::TYPE);
    match (level, table_bit) {
        (3, true) => Desc::Leaf(addr),
        (3, false) => Desc::Invalid, // reserved encoding at level 3
        (0, false) => Desc::Invalid, // no blocks at level 0 with a 4 KiB granule
        (_, true) => Desc::Table(addr),
        (_, false) => Desc::Leaf(addr),
    }
}

/// The permissions a leaf grants, in words (for fault reports and tests).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeafPerms {
    /// EL1 may write.
    pub kernel_write: bool,
    /// EL1 may execute.
    pub kernel_exec: bool,
    /// EL0 may access.
    pub user: bool,
    /// EL0 may execute.
    pub user_exec: bool,
    /// MAIR index.
    pub attr_index: u64,
}

/// Read a leaf descriptor's permissions.
pub fn leaf_perms(raw: u64) -> LeafPerms {
    let d = PageDescriptor::new(raw);
    let ap = d.read(PAGE_DESCRIPTOR::AP);
    LeafPerms {
        kernel_write: ap & 0b10 == 0,
        kernel_exec: !d.is_set(PAGE_DESCRIPTOR::PXN),
        user: ap & 0b01 != 0,
        user_exec: !d.is_set(PAGE_DESCRIPTOR::UXN),
        attr_index: d.read(PAGE_DESCRIPTOR::AttrIndx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_kernel_encodes_like_linux() {
        // Linux 5.10 PAGE_KERNEL = PTE_TYPE_PAGE|AF|SHARED|MT_NORMAL|PXN|UXN (+ valid):
        // AttrIndx 1 -> bit 2; SH 0b11 -> bits 8,9; AF bit 10; PXN 53; UXN 54.
        let d = mk_leaf(0x4020_0000, PAGE_KERNEL, 3);
        assert_eq!(d, 0x0060_0000_4020_0000 | 0x700 | 0b100 | 0b11);
    }

    #[test]
    fn kernel_text_is_executable_read_only() {
        let p = leaf_perms(mk_leaf(0x4020_0000, PAGE_KERNEL_ROX, 3));
        assert!(p.kernel_exec && !p.kernel_write && !p.user && !p.user_exec);
        let r = leaf_perms(mk_leaf(0x4020_0000, PAGE_KERNEL_RO, 3));
        assert!(!r.kernel_exec && !r.kernel_write);
        let w = leaf_perms(mk_leaf(0x4020_0000, PAGE_KERNEL, 3));
        assert!(!w.kernel_exec && w.kernel_write);
    }

    #[test]
    fn device_memory_uses_mair_attr0() {
        let d = mk_leaf(0x0900_0000, PROT_DEVICE_NGNRE, 3);
        assert_eq!(leaf_perms(d).attr_index, 0);
        assert_eq!(
            (MAIR_EL1_VALUE >> (8 * leaf_perms(d).attr_index)) & 0xff,
            0x04
        );
        let n = mk_leaf(0x4000_0000, PAGE_KERNEL, 1);
        assert_eq!(
            (MAIR_EL1_VALUE >> (8 * leaf_perms(n).attr_index)) & 0xff,
            0xff
        );
    }

    #[test]
    fn block_and_page_type_bits() {
        assert_eq!(mk_leaf(0x4000_0000, PAGE_KERNEL, 1) & 0b11, 0b01);
        assert_eq!(mk_leaf(0x4020_0000, PAGE_KERNEL, 2) & 0b11, 0b01);
        assert_eq!(mk_leaf(0x4020_1000, PAGE_KERNEL, 3) & 0b11, 0b11);
        assert_eq!(
            decode(mk_leaf(0x4000_0000, PAGE_KERNEL, 1), 1),
            Desc::Leaf(0x4000_0000)
        );
        assert_eq!(
            decode(mk_leaf(0x4020_1000, PAGE_KERNEL, 3), 3),
            Desc::Leaf(0x4020_1000)
        );
        assert_eq!(decode(mk_table(0x4123_4000), 0), Desc::Table(0x4123_4000));
        assert_eq!(decode(0, 2), Desc::Invalid);
        // 0b01 at level 3 is reserved, not a block.
        assert_eq!(
            decode(mk_leaf(0x4000_0000, PAGE_KERNEL, 1), 3),
            Desc::Invalid
        );
    }

    #[test]
    fn table_descriptor_matches_boot_asm() {
        // boot/head.S builds "addr | 3" by hand; mk_table must agree.
        assert_eq!(mk_table(0x4050_3000), 0x4050_3000 | 3);
        // ... and its 0x705 block attributes are PAGE_KERNEL without PXN/UXN.
        let boot_block = mk_leaf(0x4000_0000, PgProt(PAGE_KERNEL.0 & !(3 << 53)), 1);
        assert_eq!(boot_block, 0x4000_0000 | 0x705);
    }

    #[test]
    fn indices_and_sizes_per_level() {
        let va = 0xffff_0000_4020_3000usize;
        assert_eq!(table_index(va, 0), 0);
        assert_eq!(table_index(va, 1), 1);
        assert_eq!(table_index(va, 2), 1);
        assert_eq!(table_index(va, 3), 3);
        assert_eq!(level_size(1), 1 << 30);
        assert_eq!(level_size(2), 2 << 20);
        assert_eq!(level_size(3), 4096);
    }

    #[test]
    fn protection_map_matches_linux_arm64() {
        assert_eq!(vm_get_page_prot(true, false, false, false), PAGE_READONLY);
        // Private writable: read-only until the write fault (COW).
        assert_eq!(vm_get_page_prot(true, true, false, false), PAGE_READONLY);
        assert_eq!(vm_get_page_prot(true, true, false, true), PAGE_SHARED);
        assert_eq!(
            vm_get_page_prot(true, false, true, false),
            PAGE_READONLY_EXEC
        );
        assert_eq!(vm_get_page_prot(true, true, true, true), PAGE_SHARED_EXEC);
        assert_eq!(
            vm_get_page_prot(false, false, true, false),
            PAGE_READONLY_EXEC
        );
        assert_eq!(vm_get_page_prot(false, false, false, true), PAGE_NONE);
        let ro = leaf_perms(mk_leaf(0x4000_0000, PAGE_READONLY, 3));
        assert!(ro.user && !ro.user_exec && !ro.kernel_exec && !ro.kernel_write);
        let x = leaf_perms(mk_leaf(0x4000_0000, PAGE_EXECONLY, 3));
        assert!(!x.user && x.user_exec && !x.kernel_exec);
    }

    #[test]
    fn write_bit_helpers_round_trip() {
        let ro = mk_pte(0x4123_4000, PAGE_READONLY);
        assert!(!pte_write(ro));
        let rw = pte_mkwrite(ro);
        assert!(pte_write(rw) && pte_present(rw) && pte_young(rw));
        assert_eq!(pte_wrprotect(rw), ro);
        assert_eq!(pte_phys(rw), 0x4123_4000);
        assert_eq!(pte_pfn(rw), 0x41234);
        // Execute-only and PROT_NONE stay so: pte_mkwrite never grants EL0 data access.
        assert!(!pte_write(pte_mkwrite(mk_pte(0, PAGE_EXECONLY))));
        assert!(!pte_write(pte_mkwrite(mk_pte(0, PAGE_NONE))));
    }

    #[test]
    fn pte_bits_sit_where_the_arm_arm_puts_them() {
        // D8.3.2: valid bit 0, page (not block) bit 1; AF bit 10; nG bit 11; PXN 53; UXN 54.
        let p = mk_pte(0x4123_4000, PAGE_READONLY);
        let v = pte_val(p);
        assert_eq!(v & 0b11, 0b11);
        assert_ne!(v & (1 << 10), 0);
        assert_ne!(v & (1 << 11), 0);
        assert_ne!(v & (1 << 53), 0);
        assert_ne!(v & (1 << 54), 0);
        assert_eq!(v & 0x0000_ffff_ffff_f000, 0x4123_4000);
        // AP[2:1] at bits 7:6: 0b11 read-only EL0, 0b01 read-write EL0.
        assert_eq!((v >> 6) & 0b11, 0b11);
        assert_eq!((pte_val(pte_mkwrite(p)) >> 6) & 0b11, 0b01);
        // Only those two bits differ between the read-only and the writable entry.
        assert_eq!(pte_val(pte_mkwrite(p)) ^ v, 1 << 7);
        // mk_pte is mk_leaf at level 3.
        assert_eq!(v, mk_leaf(0x4123_4000, PAGE_READONLY, 3));
        assert_eq!(pfn_pte(0x41234, PAGE_READONLY), p);
    }

    #[test]
    fn none_present_and_raw_value() {
        assert!(pte_none(Pte::default()) && !pte_present(Pte::default()));
        let p = mk_pte(0x4000_0000, PAGE_SHARED);
        assert!(!pte_none(p) && pte_present(p));
        assert_eq!(__pte(pte_val(p)), p);
        assert!(!pte_present(__pte(pte_val(p) & !1)));
        assert_eq!(
            alloc::format!("{:?}", __pte(0x40_0000_4000_0f43)),
            "Pte(0x0040000040000f43)"
        );
    }

    #[test]
    fn young_and_old_flip_the_access_flag_only() {
        let p = mk_pte(0x4000_0000, PAGE_SHARED);
        assert!(pte_young(p));
        let old = pte_mkold(p);
        assert!(!pte_young(old) && pte_present(old));
        assert_eq!(pte_val(p) ^ pte_val(old), 1 << 10);
        assert_eq!(pte_mkyoung(old), p);
    }

    #[test]
    fn dirty_is_software_bit_55_and_survives_wrprotect_and_modify() {
        let p = mk_pte(0x4000_0000, PAGE_READONLY);
        assert!(!pte_dirty(p));
        let d = pte_mkdirty(pte_mkwrite(p));
        assert!(pte_dirty(d));
        assert_eq!(pte_val(d) ^ pte_val(pte_mkwrite(p)), 1 << 55);
        assert_eq!(
            PageDescriptor::new(pte_val(d)).read(PAGE_DESCRIPTOR::SW),
            0b0001
        );
        // fork's COW keeps it (Linux keeps the dirty state through pte_wrprotect).
        assert!(pte_dirty(pte_wrprotect(d)) && !pte_write(pte_wrprotect(d)));
        assert_eq!(pte_mkclean(d), pte_mkwrite(p));
        // mprotect: new permissions, same page, still dirty.
        let m = pte_modify(d, PAGE_NONE);
        assert!(pte_dirty(m) && pte_phys(m) == 0x4000_0000);
        assert_eq!(pte_mkclean(m), mk_pte(0x4000_0000, PAGE_NONE));
        assert_eq!(pte_modify(p, PAGE_SHARED), mk_pte(0x4000_0000, PAGE_SHARED));
    }

    #[test]
    fn pgprot_of_an_entry_rebuilds_it_at_another_address() {
        let d = pte_mkdirty(mk_pte(0x4000_0000, PAGE_SHARED_EXEC));
        let moved = mk_pte(0x4567_8000, pte_pgprot(d));
        assert_eq!(pte_phys(moved), 0x4567_8000);
        assert_eq!(
            pte_val(moved) ^ pte_val(d),
            (0x4567_8000 ^ 0x4000_0000) as u64
        );
    }
}

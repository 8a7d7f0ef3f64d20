//! Swap entries: where a swapped-out page lives, kept in the PTE that mapped it.
//!
//! Linux: `include/linux/swapops.h` (the arch-independent `swp_entry_t` and its
//! conversions) over `arch/arm64/include/asm/pgtable.h` (`__swp_type`, `__swp_offset`,
//! `__swp_entry`, `__pte_to_swp_entry`, `__swp_entry_to_pte`, in `arch::aarch64::pgtable`).
//!
//! A page written to swap leaves behind, in every PTE that mapped it, a non-present entry
//! naming the swap device (`type`, an index into `swap_info`) and the slot on it
//! (`offset`, in pages). The MMU faults on it (bit 0 is clear) and `handle_pte_fault`
//! sends the fault to `do_swap_page`. The same value, as a [`SwpEntry`], is a swap-cache
//! page's `private` field and the key of the swap cache.
//!
//! Two encodings, as in Linux: the arch one in the PTE (type in bits 2-7, offset in bits
//! 8-57 on arm64) and the arch-independent `swp_entry_t.val` (type in the top bits, offset
//! below), which nothing outside this file takes apart by hand.
//!
//! Not every swap entry names a swap slot (Linux: `non_swap_entry`): the top type,
//! [`SWP_HWPOISON`], marks a PTE whose page was retired by `memory_failure`
//! (CONFIG_MEMORY_FAILURE); its offset is the poisoned pfn. Whoever meets a swap PTE must
//! ask [`non_swap_entry`] before treating it as a slot (zap, fork, swapoff, smaps).
//! We have no migration or device-private entries, so that is the only special type.
use crate::arch::aarch64::pgtable::{
    __swp_entry_pte, __swp_offset, __swp_type, pte_none, pte_present, Pte,
};

/// Bits of the swap type (Linux: `MAX_SWAPFILES_SHIFT`).
pub const MAX_SWAPFILES_SHIFT: u32 = 5;
/// Entry types kept for poisoned pages (Linux: `SWP_HWPOISON_NUM`, 1 with
/// CONFIG_MEMORY_FAILURE).
pub const SWP_HWPOISON_NUM: usize = 1;
/// Swap devices that can be active at once (Linux: `MAX_SWAPFILES`, 32 less the types
/// kept for migration, hwpoison and device entries). We keep only the hwpoison one: no
/// page migration, no device-private memory, so 31 (Linux 5.10 arm64 with
/// CONFIG_MIGRATION has 29).
pub const MAX_SWAPFILES: usize = (1 << MAX_SWAPFILES_SHIFT) - SWP_HWPOISON_NUM;
/// The type of a hwpoison entry, the first above the real devices (Linux:
/// `SWP_HWPOISON`, `MAX_SWAPFILES` there too).
pub const SWP_HWPOISON: usize = MAX_SWAPFILES;
/// Where the type starts in `swp_entry_t.val` (Linux: `SWP_TYPE_SHIFT`, which is
/// `BITS_PER_XA_VALUE - MAX_SWAPFILES_SHIFT` = 63 - 5 on 64-bit machines).
pub const SWP_TYPE_SHIFT: u32 = 63 - MAX_SWAPFILES_SHIFT;
/// The offset bits of `swp_entry_t.val` (Linux: `SWP_OFFSET_MASK`).
pub const SWP_OFFSET_MASK: u64 = (1 << SWP_TYPE_SHIFT) - 1;

/// One swap slot: device `type` and page `offset` on it (Linux: `swp_entry_t`). Value 0
/// is never a real slot (offset 0 of every device holds its header), so it doubles as
/// "no entry".
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SwpEntry {
    /// Linux: `swp_entry_t.val`.
    pub val: u64,
}

impl core::fmt::Debug for SwpEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "swp_entry({}, {:#x})",
            swp_type(*self),
            swp_offset(*self)
        )
    }
}

/// The entry for slot `offset` of swap device `ty` (Linux: `swp_entry`).
#[inline]
pub const fn swp_entry(ty: usize, offset: u64) -> SwpEntry {
    SwpEntry {
        val: ((ty as u64) << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK),
    }
}

/// The swap device of an entry, an index into `swap_info` (Linux: `swp_type`).
#[inline]
pub const fn swp_type(entry: SwpEntry) -> usize {
    (entry.val >> SWP_TYPE_SHIFT) as usize
}

/// The slot of an entry on its device, in pages (Linux: `swp_offset`).
#[inline]
pub const fn swp_offset(entry: SwpEntry) -> u64 {
    entry.val & SWP_OFFSET_MASK
}

/// Is this PTE a swap entry: not empty and not mapped? (Linux: `is_swap_pte`.) Every
/// non-present, non-empty user PTE is one here (no migration or device entries).
#[inline]
pub fn is_swap_pte(pte: Pte) -> bool {
    !pte_none(pte) && !pte_present(pte)
}

/// The swap entry a swap PTE holds (Linux: `pte_to_swp_entry`). Only for
/// [`is_swap_pte`] entries.
#[inline]
pub fn pte_to_swp_entry(pte: Pte) -> SwpEntry {
    swp_entry(__swp_type(pte) as usize, __swp_offset(pte))
}

/// The non-present PTE that stands for `entry` (Linux: `swp_entry_to_pte`).
#[inline]
pub fn swp_entry_to_pte(entry: SwpEntry) -> Pte {
    __swp_entry_pte(swp_type(entry) as u64, swp_offset(entry))
}

/// Is this entry something other than a swap slot (Linux: `non_swap_entry`)? Then it
/// has no `swap_info`, no count to raise or drop and nothing to read back.
#[inline]
pub const fn non_swap_entry(entry: SwpEntry) -> bool {
    swp_type(entry) >= MAX_SWAPFILES
}

/// The entry that replaces every PTE of a poisoned page (Linux: `make_hwpoison_entry`):
/// type [`SWP_HWPOISON`], offset the page's pfn, so /proc/<pid>/pagemap and a debugger
/// can still tell which frame it was.
#[inline]
pub fn make_hwpoison_entry(page: &crate::mm::page::Page) -> SwpEntry {
    swp_entry(SWP_HWPOISON, crate::mm::page::page_to_pfn(page) as u64)
}

/// Does this entry stand for a poisoned page (Linux: `is_hwpoison_entry`)? A fault on it
/// is VM_FAULT_HWPOISON (`do_swap_page`).
#[inline]
pub const fn is_hwpoison_entry(entry: SwpEntry) -> bool {
    swp_type(entry) == SWP_HWPOISON
}

/// The poisoned frame a hwpoison entry names (Linux: `hwpoison_entry_to_pfn`).
#[inline]
pub const fn hwpoison_entry_to_pfn(entry: SwpEntry) -> usize {
    swp_offset(entry) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::aarch64::pgtable::pte_val;

    #[test]
    fn entry_round_trips_through_a_pte() {
        for &(ty, off) in &[(0usize, 1u64), (1, 0x1234), (31, (1 << 50) - 1), (7, 42)] {
            let e = swp_entry(ty, off);
            assert_eq!((swp_type(e), swp_offset(e)), (ty, off));
            let pte = swp_entry_to_pte(e);
            assert!(is_swap_pte(pte), "{pte:?}");
            assert_eq!(pte_to_swp_entry(pte), e);
        }
    }

    #[test]
    fn swap_pte_layout_is_arm64s() {
        // Type in bits 2-7, offset from bit 8, valid bit clear (arm64's pgtable.h layout).
        let pte = swp_entry_to_pte(swp_entry(3, 5));
        assert_eq!(pte_val(pte), (3 << 2) | (5 << 8));
        assert!(!pte_present(pte));
    }

    #[test]
    fn hwpoison_entry_is_the_type_above_the_swap_devices() {
        assert_eq!(MAX_SWAPFILES, 31);
        assert_eq!(SWP_HWPOISON, 31);
        // A poisoned pfn round-trips through the PTE, and is no swap slot.
        let e = swp_entry(SWP_HWPOISON, 0x4_1234);
        let pte = swp_entry_to_pte(e);
        assert!(is_swap_pte(pte));
        let back = pte_to_swp_entry(pte);
        assert!(is_hwpoison_entry(back) && non_swap_entry(back));
        assert_eq!(hwpoison_entry_to_pfn(back), 0x4_1234);
        assert_eq!(pte_val(pte), (31 << 2) | (0x4_1234 << 8));
        // Every real device's entries are swap slots, not poison.
        for ty in 0..MAX_SWAPFILES {
            let e = swp_entry(ty, 7);
            assert!(!non_swap_entry(e) && !is_hwpoison_entry(e), "type {ty}");
        }
    }
}

//! ASID allocation: each user address space gets an address-space identifier so that a
//! context switch does not flush the TLB. Linux: `arch/arm64/mm/context.c`
//! (`check_and_switch_context`, `new_context`, `flush_context`).
//!
//! An mm's context id is `generation << ASID_BITS | asid`. When the ASIDs of the current
//! generation run out, the generation is bumped, the whole TLB flushed, and every mm gets
//! a fresh ASID the next time it is switched to (its id carries an old generation).
//! Difference from Linux: one CPU, so no per-CPU `active_asids`/`reserved_asids` and no
//! lock-free fast path; ASID 0 stays reserved for the kernel-only `reserved_pg_dir`.
use alloc::vec;
use alloc::vec::Vec;

/// 16-bit ASIDs (TCR_EL1.AS = 1, set in boot/head.S).
pub const ASID_BITS: u32 = 16;

/// The allocator state (Linux: `asid_generation`, `asid_map`).
pub struct AsidAllocator {
    bits: u32,
    generation: u64,
    map: Vec<u64>,
    next: usize,
}

/// What the caller must do after `check_and_switch_context`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchResult {
    /// The (possibly new) context id to store in the mm.
    pub context_id: u64,
    /// A new generation began: flush the whole TLB before using the ASID.
    pub flush_all: bool,
}

impl AsidAllocator {
    /// An allocator with `bits`-bit ASIDs (tests use few bits to force rollover).
    pub fn new(bits: u32) -> Self {
        let n = 1usize << bits;
        let mut a = AsidAllocator {
            bits,
            generation: 1,
            map: vec![0; n.div_ceil(64)],
            next: 1,
        };
        a.map[0] |= 1; // ASID 0 is reserved
        a
    }

    fn asid_of(&self, id: u64) -> usize {
        (id & ((1 << self.bits) - 1)) as usize
    }

    fn gen_of(&self, id: u64) -> u64 {
        id >> self.bits
    }

    fn test_and_set(&mut self, asid: usize) -> bool {
        let (w, b) = (asid / 64, asid % 64);
        let was = self.map[w] & (1 << b) != 0;
        self.map[w] |= 1 << b;
        was
    }

    /// Give `context_id` (0 for a new mm) a valid ASID of the current generation.
    /// Linux: `check_and_switch_context` -> `new_context`.
    pub fn check_and_switch_context(&mut self, context_id: u64) -> SwitchResult {
        if context_id != 0 && self.gen_of(context_id) == self.generation {
            return SwitchResult {
                context_id,
                flush_all: false,
            };
        }
        let n = 1usize << self.bits;
        // Keep the old ASID if it is still free in this generation (Linux does the same).
        let old = self.asid_of(context_id);
        if context_id != 0 && old != 0 && !self.test_and_set(old) {
            return SwitchResult {
                context_id: (self.generation << self.bits) | old as u64,
                flush_all: false,
            };
        }
        for i in 0..n {
            let asid = (self.next + i) % n;
            if asid != 0 && !self.test_and_set(asid) {
                self.next = asid + 1;
                return SwitchResult {
                    context_id: (self.generation << self.bits) | asid as u64,
                    flush_all: false,
                };
            }
        }
        // Rollover (Linux: flush_context): new generation, empty map, flush everything.
        self.generation += 1;
        self.map.iter_mut().for_each(|w| *w = 0);
        self.map[0] |= 1;
        self.test_and_set(1);
        self.next = 2;
        SwitchResult {
            context_id: (self.generation << self.bits) | 1,
            flush_all: true,
        }
    }

    /// The ASID part of a context id.
    pub fn asid(&self, context_id: u64) -> u16 {
        self.asid_of(context_id) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_mm_gets_a_fresh_asid_and_keeps_it() {
        let mut a = AsidAllocator::new(4);
        let r = a.check_and_switch_context(0);
        assert!(!r.flush_all);
        assert_eq!(a.asid(r.context_id), 1);
        assert_eq!(a.check_and_switch_context(r.context_id), r);
        let r2 = a.check_and_switch_context(0);
        assert_eq!(a.asid(r2.context_id), 2);
    }

    #[test]
    fn rollover_flushes_and_reissues_asids() {
        let mut a = AsidAllocator::new(2); // ASIDs 1..=3 usable
        let ids: std::vec::Vec<u64> = (0..3)
            .map(|_| a.check_and_switch_context(0).context_id)
            .collect();
        let r = a.check_and_switch_context(0);
        assert!(r.flush_all, "fourth mm must start a new generation");
        // An mm from the old generation gets a new id of the new generation, no flush.
        let again = a.check_and_switch_context(ids[0]);
        assert!(!again.flush_all);
        assert_ne!(again.context_id, ids[0]);
        assert_eq!(again.context_id >> 2, r.context_id >> 2);
        assert_ne!(a.asid(again.context_id), a.asid(r.context_id));
    }
}

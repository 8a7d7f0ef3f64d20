//! Pages whose every word is a function of where it is and which generation wrote it, so
//! a test that sends memory to swap (or anywhere) and back can tell a right page from a
//! stale, mixed-up or zeroed one.

const P: usize = 4096;
const WORDS: usize = P / 8;

/// Word `w` of page `page` written by generation `gen`: every value differs by place and
/// generation.
pub fn word(page: usize, w: usize, gen: u64) -> u64 {
    ((page as u64) << 20 | w as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ gen
}

/// Fill the page at `addr` with page `page`'s words of generation `gen`.
pub fn fill_at(addr: usize, page: usize, gen: u64) {
    let p = addr as *mut u64;
    for w in 0..WORDS {
        // SAFETY: the caller's contract: `addr` is a writable page it owns.
        unsafe { p.add(w).write_volatile(word(page, w, gen)) };
    }
}

/// The words of the page at `addr` that are not page `page`'s words of generation `gen`.
pub fn check_at(addr: usize, page: usize, gen: u64) -> usize {
    let p = addr as *const u64;
    (0..WORDS)
        // SAFETY: the caller's contract: `addr` is a readable page it owns.
        .filter(|&w| unsafe { p.add(w).read_volatile() } != word(page, w, gen))
        .count()
}

/// Fill page `page` of the region at `base` (see [`fill_at`]).
pub fn fill(base: usize, page: usize, gen: u64) {
    fill_at(base + page * P, page, gen);
}

/// The wrong words of page `page` of the region at `base` (see [`check_at`]).
pub fn check(base: usize, page: usize, gen: u64) -> usize {
    check_at(base + page * P, page, gen)
}

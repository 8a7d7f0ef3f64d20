//! Kernel symbol names for backtraces. Linux: `kernel/kallsyms.c`.
//!
//! `cargo xtask` patches the table into the `.ksyms` section of the linked ELF (Linux
//! links twice instead). Format, little-endian: `b"KSYM"`, `count: u32`, `count` entries
//! of `{addr: u64, name_off: u32, name_len: u32}` sorted by address, then the names.

/// Bytes reserved for the table.
pub const KSYMS_SIZE: usize = 1 << 20;

#[repr(C, align(8))]
struct KsymsBlob([u8; KSYMS_SIZE]);

const fn empty_blob() -> KsymsBlob {
    // Non-zero content keeps the section PROGBITS (a zero-filled static would become
    // NOBITS and leave xtask nothing to patch). count = 0 until patched.
    let mut b = [0u8; KSYMS_SIZE];
    b[0] = b'K';
    b[1] = b'S';
    b[2] = b'Y';
    b[3] = b'M';
    KsymsBlob(b)
}

#[cfg_attr(target_os = "none", link_section = ".ksyms")]
#[used]
static KSYMS: KsymsBlob = empty_blob();

/// A view of a symbol table in the format above.
pub struct Ksyms<'a> {
    data: &'a [u8],
    count: usize,
}

fn rd_u32(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(off..off + 4)?.try_into().ok()?))
}

fn rd_u64(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(off..off + 8)?.try_into().ok()?))
}

impl<'a> Ksyms<'a> {
    /// Parse a table; `None` if the magic is wrong or it is truncated.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        if data.get(0..4)? != b"KSYM" {
            return None;
        }
        let count = rd_u32(data, 4)? as usize;
        if data.len() < 8 + count * 16 {
            return None;
        }
        Some(Ksyms { data, count })
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the table is empty (not patched by xtask).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn entry(&self, i: usize) -> Option<(u64, &'a str)> {
        let off = 8 + i * 16;
        let addr = rd_u64(self.data, off)?;
        let name_off = rd_u32(self.data, off + 8)? as usize;
        let name_len = rd_u32(self.data, off + 12)? as usize;
        let strings = 8 + self.count * 16;
        let bytes = self
            .data
            .get(strings + name_off..strings + name_off + name_len)?;
        Some((addr, core::str::from_utf8(bytes).ok()?))
    }

    /// The symbol containing `addr`: (name, offset into it). Linux: `kallsyms_lookup`.
    pub fn lookup(&self, addr: u64) -> Option<(&'a str, u64)> {
        // Binary search for the last entry with entry.addr <= addr.
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry(mid)?.0 <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let (a, name) = self.entry(lo.checked_sub(1)?)?;
        Some((name, addr - a))
    }
}

impl<'a> Ksyms<'a> {
    /// The address of the function called `name`: a symbol spelled exactly so, or a Rust
    /// path ending in `::name`; None when absent or when two paths end so (Linux:
    /// `kallsyms_lookup_name`, which returns the first match).
    pub fn lookup_name(&self, name: &str) -> Option<u64> {
        let mut found = None;
        for i in 0..self.count {
            let (addr, sym) = self.entry(i)?;
            if sym == name {
                return Some(addr);
            }
            let tail = sym
                .strip_suffix(name)
                .is_some_and(|head| head.ends_with("::"));
            if tail {
                if found.is_some_and(|a| a != addr) {
                    return None;
                }
                found = Some(addr);
            }
        }
        found
    }
}

/// The kernel's own table.
pub fn kernel_ksyms() -> Option<Ksyms<'static>> {
    // The compiler sees a constant blob; make it read the patched bytes instead.
    let ptr = core::hint::black_box(&KSYMS as *const KsymsBlob as *const u8);
    // SAFETY: KSYMS is KSYMS_SIZE bytes of immutable data.
    Ksyms::parse(unsafe { core::slice::from_raw_parts(ptr, KSYMS_SIZE) })
}

/// Name and offset of a kernel text address, if known.
pub fn lookup(addr: usize) -> Option<(&'static str, u64)> {
    kernel_ksyms()?.lookup(addr as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn build(syms: &[(u64, &str)]) -> Vec<u8> {
        let mut out = Vec::from(*b"KSYM");
        out.extend_from_slice(&(syms.len() as u32).to_le_bytes());
        let mut strings = Vec::new();
        for (addr, name) in syms {
            out.extend_from_slice(&addr.to_le_bytes());
            out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            strings.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(&strings);
        out
    }

    #[test]
    fn lookup_finds_containing_symbol() {
        let blob = build(&[
            (0x1000, "start_kernel"),
            (0x1100, "mem_init"),
            (0x1200, "panic"),
        ]);
        let k = Ksyms::parse(&blob).unwrap();
        assert_eq!(k.lookup(0x1000), Some(("start_kernel", 0)));
        assert_eq!(k.lookup(0x10fc), Some(("start_kernel", 0xfc)));
        assert_eq!(k.lookup(0x1104), Some(("mem_init", 4)));
        assert_eq!(k.lookup(0x5000), Some(("panic", 0x3e00)));
        assert_eq!(k.lookup(0xfff), None);
    }

    #[test]
    fn lookup_name_takes_a_symbol_or_a_unique_path_tail() {
        let blob = build(&[
            (0x1000, "handle_mm_fault"),
            (0x2000, "kernel::fs::sys::sys_write"),
            (0x3000, "kernel::a::dup"),
            (0x4000, "kernel::b::dup"),
            (0x5000, "kernel::x::my_sys_write"),
        ]);
        let k = Ksyms::parse(&blob).unwrap();
        assert_eq!(k.lookup_name("handle_mm_fault"), Some(0x1000));
        assert_eq!(k.lookup_name("sys_write"), Some(0x2000));
        assert_eq!(k.lookup_name("dup"), None);
        assert_eq!(k.lookup_name("missing"), None);
    }

    #[test]
    fn bad_tables_are_rejected() {
        assert!(Ksyms::parse(b"NOPE\0\0\0\0").is_none());
        let mut blob = build(&[(0x1000, "a")]);
        blob.truncate(12);
        assert!(Ksyms::parse(&blob).is_none());
        let empty = build(&[]);
        assert!(Ksyms::parse(&empty).unwrap().is_empty());
    }

    #[test]
    fn unpatched_kernel_table_is_valid_and_empty() {
        assert!(kernel_ksyms().unwrap().is_empty());
    }
}

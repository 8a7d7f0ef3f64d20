//! The kernel symbol table patched into `kernel.elf`'s `.ksyms` section.
//!
//! The kernel reserves a zero-filled PROGBITS section `.ksyms` of fixed size; after linking we
//! overwrite its file bytes in place (no relink, so no address moves). The panic backtrace
//! looks return addresses up in it.
//!
//! Format, all little-endian:
//! ```text
//! b"KSYM"  count: u32
//! count x { addr: u64, name_off: u32, name_len: u32 }   sorted by addr, unique addrs
//! string bytes                                           name_off counts from here
//! ```
//! Symbols: nonzero-address symbols defined in an executable section that are `STT_FUNC`, or
//! `STT_NOTYPE` labels (local or global) whose name does not start with `$` (mapping symbols)
//! or `.L` (assembler temporaries): `_start`, `el1_sync`, ... Names are demangled with
//! `{:#}` (no hash). When several symbols share an address the best one is kept: a function
//! over a label, a global over a local, then the first in the ELF symbol table.

use std::path::PathBuf;

use object::elf;
use object::read::elf::{ElfFile64, SectionHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol, SymbolSection};

use crate::{bail, Arg, Args, Result};

pub const MAGIC: &[u8; 4] = b"KSYM";
pub const SECTION: &str = ".ksyms";
const HEADER_SIZE: usize = 8;
const ENTRY_SIZE: usize = 16;

/// One symbol: address and demangled name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KSym {
    pub addr: u64,
    pub name: String,
}

/// What [`patch`] did, for the build log.
#[derive(Debug)]
pub struct PatchInfo {
    pub count: usize,
    pub used: usize,
    pub capacity: usize,
}

/// Parse a 64-bit little-endian ELF.
fn parse_elf(data: &[u8]) -> Result<ElfFile64<'_, Endianness>> {
    let file =
        ElfFile64::<Endianness>::parse(data).map_err(|e| format!("not a 64-bit ELF file: {e}"))?;
    if !file.is_little_endian() {
        bail!("expected a little-endian ELF file");
    }
    Ok(file)
}

/// Collect the symbols for the table from an ELF image, in symbol-table order, each with its
/// preference rank (lower is better) for deduplication.
fn collect(data: &[u8]) -> Result<Vec<(KSym, u8)>> {
    let file = parse_elf(data)?;
    let endian = file.endian();
    if file.elf_symbol_table().is_empty() {
        bail!("the ELF file has no symbol table (stripped?)");
    }
    let mut out = Vec::new();
    for sym in file.symbols() {
        let addr = sym.address();
        if addr == 0 {
            continue;
        }
        let raw = sym.elf_symbol();
        let st_type = raw.st_type();
        if st_type != elf::STT_FUNC && st_type != elf::STT_NOTYPE {
            continue;
        }
        let SymbolSection::Section(index) = sym.section() else {
            continue;
        };
        let Ok(section) = file.section_by_index(index) else {
            continue;
        };
        let flags = section.elf_section_header().sh_flags(endian);
        if flags & u64::from(elf::SHF_EXECINSTR) == 0 {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        if name.is_empty()
            || (st_type == elf::STT_NOTYPE && (name.starts_with('$') || name.starts_with(".L")))
        {
            continue;
        }
        let global = raw.st_bind() != elf::STB_LOCAL;
        let rank = match (st_type == elf::STT_FUNC, global) {
            (true, true) => 0,
            (true, false) => 1,
            (false, true) => 2,
            (false, false) => 3,
        };
        let name = format!("{:#}", rustc_demangle::demangle(name));
        out.push((KSym { addr, name }, rank));
    }
    Ok(out)
}

/// The table's symbols from an ELF image: sorted by address, one per address.
pub fn symbols(data: &[u8]) -> Result<Vec<KSym>> {
    Ok(sort_dedup(collect(data)?))
}

/// Sort by address, keeping per address the best-ranked (then first) symbol.
fn sort_dedup(mut syms: Vec<(KSym, u8)>) -> Vec<KSym> {
    // Stable sort: among equal (addr, rank) the symbol-table order is kept.
    syms.sort_by_key(|(s, rank)| (s.addr, *rank));
    let mut out: Vec<KSym> = Vec::with_capacity(syms.len());
    for (s, _) in syms {
        if out.last().is_some_and(|l| l.addr == s.addr) {
            continue;
        }
        out.push(s);
    }
    out
}

/// Encode a table. `syms` must be sorted by address with unique addresses (as from
/// [`symbols`]); this is checked.
pub fn encode(syms: &[KSym]) -> Result<Vec<u8>> {
    if syms.windows(2).any(|w| w[0].addr >= w[1].addr) {
        bail!("ksyms: symbols not sorted by unique address");
    }
    let count = u32::try_from(syms.len()).map_err(|_| "ksyms: too many symbols")?;
    let strings_len: usize = syms.iter().map(|s| s.name.len()).sum();
    let mut out = Vec::with_capacity(HEADER_SIZE + ENTRY_SIZE * syms.len() + strings_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&count.to_le_bytes());
    let mut off = 0usize;
    for s in syms {
        let name_off = u32::try_from(off).map_err(|_| "ksyms: string table over 4 GiB")?;
        let name_len = u32::try_from(s.name.len()).map_err(|_| "ksyms: name over 4 GiB")?;
        out.extend_from_slice(&s.addr.to_le_bytes());
        out.extend_from_slice(&name_off.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        off += s.name.len();
    }
    for s in syms {
        out.extend_from_slice(s.name.as_bytes());
    }
    Ok(out)
}

/// Decode a table (trailing zero fill after the strings is ignored).
pub fn decode(data: &[u8]) -> Result<Vec<KSym>> {
    if data.len() < HEADER_SIZE || &data[..4] != MAGIC {
        bail!("ksyms: no KSYM header");
    }
    let count = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    let strings = count
        .checked_mul(ENTRY_SIZE)
        .and_then(|n| n.checked_add(HEADER_SIZE))
        .filter(|&n| n <= data.len())
        .ok_or("ksyms: entries run past the end of the table")?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let e = &data[HEADER_SIZE + i * ENTRY_SIZE..][..ENTRY_SIZE];
        let addr = u64::from_le_bytes(e[0..8].try_into().unwrap());
        let off = u32::from_le_bytes(e[8..12].try_into().unwrap()) as usize;
        let len = u32::from_le_bytes(e[12..16].try_into().unwrap()) as usize;
        let name = strings
            .checked_add(off)
            .and_then(|start| data.get(start..start.checked_add(len)?))
            .ok_or_else(|| format!("ksyms: name of entry {i} runs past the end"))?;
        out.push(KSym {
            addr,
            name: String::from_utf8_lossy(name).into_owned(),
        });
    }
    Ok(out)
}

/// Where the `.ksyms` section's bytes are in the file: (offset, size).
fn section_range(data: &[u8]) -> Result<(usize, usize)> {
    let file = parse_elf(data)?;
    let endian = file.endian();
    let Some(section) = file.section_by_name(SECTION) else {
        bail!(
            "the kernel ELF has no `{SECTION}` section: the kernel must reserve one \
             (a zero-filled PROGBITS section of fixed size) for xtask to fill in"
        );
    };
    let header = section.elf_section_header();
    if header.sh_type(endian) != elf::SHT_PROGBITS {
        bail!(
            "`{SECTION}` is not PROGBITS (sh_type {}): it must have file contents, e.g. a \
             zero-filled static array placed with #[link_section = \"{SECTION}\"], not NOBITS",
            header.sh_type(endian)
        );
    }
    let (off, size) = section
        .file_range()
        .ok_or_else(|| format!("`{SECTION}` has no file contents"))?;
    let (off, size) = (off as usize, size as usize);
    if off.checked_add(size).is_none_or(|end| end > data.len()) {
        bail!("`{SECTION}` lies outside the file");
    }
    Ok((off, size))
}

/// Build the table for the ELF image in `data` and write it into its `.ksyms` section, zero
/// filling the rest of the section.
pub fn patch(data: &mut [u8]) -> Result<PatchInfo> {
    let syms = symbols(data)?;
    let table = encode(&syms)?;
    let (off, size) = section_range(data)?;
    if table.len() > size {
        bail!(
            "the symbol table needs {} bytes ({} symbols) but `{SECTION}` holds only {size} \
             bytes: enlarge the section the kernel reserves",
            table.len(),
            syms.len()
        );
    }
    let dest = &mut data[off..off + size];
    dest[..table.len()].copy_from_slice(&table);
    dest[table.len()..].fill(0);
    Ok(PatchInfo {
        count: syms.len(),
        used: table.len(),
        capacity: size,
    })
}

/// Read the table back from a patched ELF image.
pub fn read_patched(data: &[u8]) -> Result<Vec<KSym>> {
    let (off, size) = section_range(data)?;
    decode(&data[off..off + size])
}

/// `cargo xtask ksyms [--release | PATH]`: print the table of a patched kernel.elf.
pub fn cmd_ksyms(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut release = false;
    let mut path: Option<PathBuf> = None;
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) if name == "release" => {
                Args::flag(&name, inline)?;
                release = true
            }
            Arg::Opt(name, _) => bail!("ksyms: unknown option --{name}"),
            Arg::Pos(p) if path.is_none() => path = Some(p.into()),
            Arg::Pos(p) => bail!("ksyms: unexpected argument `{p}`"),
        }
    }
    let path = match path {
        Some(p) => p,
        None => {
            crate::setup::check(crate::setup::Needs {
                qemu: false,
                gdb: false,
            })?;
            crate::build::build_kernel(release)?
        }
    };
    let data = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let syms = read_patched(&data)?;
    for s in &syms {
        println!("{:016x} {}", s.addr, s.name);
    }
    eprintln!("{} symbols in {}", syms.len(), path.display());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(addr: u64, name: &str) -> KSym {
        KSym {
            addr,
            name: name.to_string(),
        }
    }

    #[test]
    fn roundtrip() {
        let syms = vec![
            sym(0xffff_0000_4008_0000, "_start"),
            sym(0xffff_0000_4008_0100, "start_kernel"),
            sym(0xffff_0000_4008_0200, "kernel::mm::page_alloc::alloc_pages"),
            sym(0xffff_0000_4008_0300, ""),
        ];
        let table = encode(&syms).unwrap();
        assert_eq!(&table[..4], b"KSYM");
        assert_eq!(u32::from_le_bytes(table[4..8].try_into().unwrap()), 4);
        // Header, 4 entries, then the strings back to back.
        let strings = 8 + 4 * 16;
        assert_eq!(&table[strings..strings + 6], b"_start");
        // Trailing zero fill (as in the section) is ignored.
        let mut padded = table.clone();
        padded.resize(table.len() + 100, 0);
        assert_eq!(decode(&padded).unwrap(), syms);
        assert_eq!(decode(&encode(&[]).unwrap()).unwrap(), vec![]);
    }

    #[test]
    fn sorted_and_deduplicated() {
        let input = vec![
            (sym(30, "c"), 0),
            (sym(10, "local_label"), 3),
            (sym(10, "a_func"), 0),
            (sym(10, "another_func"), 0),
            (sym(20, "b"), 1),
        ];
        let out = sort_dedup(input);
        assert_eq!(out, vec![sym(10, "a_func"), sym(20, "b"), sym(30, "c")]);
        assert!(encode(&[sym(2, "x"), sym(1, "y")]).is_err());
        assert!(encode(&[sym(1, "x"), sym(1, "y")]).is_err());
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode(b"").is_err());
        assert!(decode(b"KSYM\xff\xff\xff\xff").is_err());
        let mut t = encode(&[sym(1, "abc")]).unwrap();
        t.truncate(t.len() - 1);
        assert!(decode(&t).is_err());
    }

    #[test]
    fn symbols_of_this_test_binary() {
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(exe).unwrap();
        let syms = symbols(&data).unwrap();
        assert!(syms.len() > 100);
        assert!(syms.windows(2).all(|w| w[0].addr < w[1].addr));
        assert!(syms
            .iter()
            .all(|s| !s.name.starts_with("$") && !s.name.contains("17h")));
        assert!(syms
            .iter()
            .any(|s| s.name == "xtask::ksyms::tests::symbols_of_this_test_binary"));
        let table = encode(&syms).unwrap();
        assert_eq!(decode(&table).unwrap(), syms);
    }

    /// A minimal ELF64 (x86_64) with a `.text` section holding two functions, a `.ksyms`
    /// PROGBITS section of `ksyms_size` bytes, `.symtab`, `.strtab` and `.shstrtab`.
    fn tiny_elf(ksyms_size: usize, ksyms_type: u32) -> Vec<u8> {
        fn put16(v: &mut Vec<u8>, x: u16) {
            v.extend_from_slice(&x.to_le_bytes())
        }
        fn put32(v: &mut Vec<u8>, x: u32) {
            v.extend_from_slice(&x.to_le_bytes())
        }
        fn put64(v: &mut Vec<u8>, x: u64) {
            v.extend_from_slice(&x.to_le_bytes())
        }
        let shstrtab = b"\0.text\0.ksyms\0.symtab\0.strtab\0.shstrtab\0".to_vec();
        let strtab = b"\0first_fn\0$x\0second_label\0".to_vec();
        let text = vec![0u8; 0x40];
        let ksyms = vec![0xaau8; ksyms_size];
        // Symbols: null, first_fn (FUNC GLOBAL), $x (NOTYPE LOCAL), second_label (NOTYPE GLOBAL).
        let mut symtab = vec![0u8; 24];
        let mut add_sym = |name: u32, info: u8, shndx: u16, value: u64| {
            put32(&mut symtab, name);
            symtab.push(info);
            symtab.push(0);
            put16(&mut symtab, shndx);
            put64(&mut symtab, value);
            put64(&mut symtab, 0);
        };
        add_sym(10, 0, 1, 0x1000); // $x, local notype (locals come first)
        add_sym(1, 0x12, 1, 0x1000); // first_fn
        add_sym(13, 0x10, 1, 0x1020); // second_label
        let text_off = 64usize;
        let ksyms_off = text_off + text.len();
        let symtab_off = ksyms_off + ksyms.len();
        let strtab_off = symtab_off + symtab.len();
        let shstrtab_off = strtab_off + strtab.len();
        let shoff = (shstrtab_off + shstrtab.len() + 7) & !7;

        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        put16(&mut f, 2); // ET_EXEC
        put16(&mut f, 62); // EM_X86_64
        put32(&mut f, 1);
        put64(&mut f, 0x1000); // entry
        put64(&mut f, 0); // phoff
        put64(&mut f, shoff as u64);
        put32(&mut f, 0);
        put16(&mut f, 64);
        put16(&mut f, 56);
        put16(&mut f, 0);
        put16(&mut f, 64);
        put16(&mut f, 6); // shnum
        put16(&mut f, 5); // shstrndx
        f.extend_from_slice(&text);
        f.extend_from_slice(&ksyms);
        f.extend_from_slice(&symtab);
        f.extend_from_slice(&strtab);
        f.extend_from_slice(&shstrtab);
        f.resize(shoff, 0);
        #[allow(clippy::too_many_arguments)]
        let mut sh = |name: u32,
                      ty: u32,
                      flags: u64,
                      addr: u64,
                      off: usize,
                      size: usize,
                      link: u32,
                      info: u32,
                      entsize: u64| {
            put32(&mut f, name);
            put32(&mut f, ty);
            put64(&mut f, flags);
            put64(&mut f, addr);
            put64(&mut f, off as u64);
            put64(&mut f, size as u64);
            put32(&mut f, link);
            put32(&mut f, info);
            put64(&mut f, 8);
            put64(&mut f, entsize);
        };
        sh(0, 0, 0, 0, 0, 0, 0, 0, 0);
        sh(
            1,
            elf::SHT_PROGBITS,
            6,
            0x1000,
            text_off,
            text.len(),
            0,
            0,
            0,
        );
        sh(7, ksyms_type, 2, 0x2000, ksyms_off, ksyms.len(), 0, 0, 0);
        sh(
            14,
            elf::SHT_SYMTAB,
            0,
            0,
            symtab_off,
            symtab.len(),
            4,
            2,
            24,
        );
        sh(22, elf::SHT_STRTAB, 0, 0, strtab_off, strtab.len(), 0, 0, 0);
        sh(
            30,
            elf::SHT_STRTAB,
            0,
            0,
            shstrtab_off,
            shstrtab.len(),
            0,
            0,
            0,
        );
        f
    }

    #[test]
    fn patch_in_place() {
        let mut elf = tiny_elf(256, elf::SHT_PROGBITS);
        let len = elf.len();
        let info = patch(&mut elf).unwrap();
        assert_eq!(elf.len(), len);
        assert_eq!(info.count, 2);
        assert_eq!(info.capacity, 256);
        assert_eq!(
            read_patched(&elf).unwrap(),
            vec![sym(0x1000, "first_fn"), sym(0x1020, "second_label")]
        );
        // The rest of the section (0xaa before) is zero filled.
        let (off, size) = section_range(&elf).unwrap();
        assert!(elf[off + info.used..off + size].iter().all(|&b| b == 0));
    }

    #[test]
    fn overflow_is_an_error() {
        // 8 + 2 * 16 + 20 bytes of names = 60 > 40.
        let mut elf = tiny_elf(40, elf::SHT_PROGBITS);
        let before = elf.clone();
        let err = patch(&mut elf).unwrap_err().to_string();
        assert!(err.contains("needs 60 bytes"), "{err}");
        assert_eq!(elf, before, "nothing written on overflow");
    }

    #[test]
    fn missing_or_nobits_section_is_an_error() {
        let mut elf = tiny_elf(256, elf::SHT_NOBITS);
        assert!(patch(&mut elf)
            .unwrap_err()
            .to_string()
            .contains("PROGBITS"));
        let exe = std::env::current_exe().unwrap();
        let mut data = std::fs::read(exe).unwrap();
        assert!(patch(&mut data)
            .unwrap_err()
            .to_string()
            .contains("no `.ksyms`"));
    }
}

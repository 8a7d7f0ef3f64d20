//! Reading a static ELF executable and laying out the new program's stack. Linux:
//! `fs/binfmt_elf.c` (`load_elf_binary`, `create_elf_tables`) and `fs/exec.c`
//! (`copy_strings`). Pure functions: `exec.rs` maps what they describe.
use crate::errno::{Errno, KResult};
use alloc::vec::Vec;
use elf::abi;
use elf::endian::LittleEndian;
use elf::ElfBytes;

/// One PT_LOAD segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSegment {
    /// Virtual address of the first byte.
    pub vaddr: usize,
    /// Bytes in memory (the part past `filesz` is zero: .bss).
    pub memsz: usize,
    /// Bytes from the file.
    pub filesz: usize,
    /// File offset of the first byte.
    pub offset: usize,
    /// Readable / writable / executable (PF_R, PF_W, PF_X).
    pub read: bool,
    /// PF_W.
    pub write: bool,
    /// PF_X.
    pub exec: bool,
}

/// What exec needs to know about an executable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// e_entry.
    pub entry: usize,
    /// Virtual address of the program headers (for AT_PHDR).
    pub phdr: usize,
    /// e_phnum.
    pub phnum: usize,
    /// e_phentsize.
    pub phent: usize,
    /// The PT_LOAD segments in order.
    pub segments: Vec<LoadSegment>,
}

/// Check and parse a static AArch64 executable. ENOEXEC for anything else (wrong magic,
/// class, machine, type, or a PT_INTERP: there is no dynamic loader). Linux:
/// `load_elf_binary`'s checks (`elf_check_arch`, `elf_check_fdpic`...).
pub fn parse_elf(data: &[u8]) -> KResult<ElfInfo> {
    parse_elf_headers(data, data.len() as u64)
}

/// `parse_elf` of the start of a `file_size`-byte file: `head` holds at least the ELF
/// header and the program headers (what Linux reads: `BINPRM_BUF_SIZE`, then
/// `load_elf_phdrs`); segments are checked against `file_size`. The section headers are
/// not needed (nor read): a copy of the header without them is parsed.
pub fn parse_elf_headers(head: &[u8], file_size: u64) -> KResult<ElfInfo> {
    let no_sections = |data: &mut [u8]| {
        if data.len() >= 64 {
            data[0x28..0x30].fill(0); // e_shoff
            data[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
        }
    };
    let mut owned;
    let data: &[u8] = if head.len() >= 64 {
        owned = Vec::new();
        owned
            .try_reserve_exact(head.len())
            .map_err(|_| Errno::ENOMEM)?;
        owned.extend_from_slice(head);
        no_sections(&mut owned);
        &owned
    } else {
        head
    };
    let file = ElfBytes::<LittleEndian>::minimal_parse(data).map_err(|_| Errno::ENOEXEC)?;
    let h = file.ehdr;
    if h.class != elf::file::Class::ELF64
        || h.e_machine != abi::EM_AARCH64
        || h.e_type != abi::ET_EXEC
    {
        return Err(Errno::ENOEXEC);
    }
    let phdrs = file.segments().ok_or(Errno::ENOEXEC)?;
    let mut segments = Vec::new();
    let mut phdr = 0;
    for p in phdrs.iter() {
        match p.p_type {
            abi::PT_INTERP => return Err(Errno::ENOEXEC),
            abi::PT_PHDR => phdr = p.p_vaddr as usize,
            abi::PT_LOAD if p.p_memsz > 0 => {
                if p.p_filesz > p.p_memsz
                    || p.p_offset
                        .checked_add(p.p_filesz)
                        .is_none_or(|e| e > file_size)
                {
                    return Err(Errno::ENOEXEC);
                }
                if (p.p_vaddr % 4096) != (p.p_offset % 4096) {
                    return Err(Errno::EINVAL); // Linux: elf_map fails on misaligned segments
                }
                segments.push(LoadSegment {
                    vaddr: p.p_vaddr as usize,
                    memsz: p.p_memsz as usize,
                    filesz: p.p_filesz as usize,
                    offset: p.p_offset as usize,
                    read: p.p_flags & abi::PF_R != 0,
                    write: p.p_flags & abi::PF_W != 0,
                    exec: p.p_flags & abi::PF_X != 0,
                });
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    if phdr == 0 {
        // No PT_PHDR: the headers sit in the first segment if it maps file offset 0.
        let first = segments[0];
        if first.offset == 0 {
            phdr = first.vaddr + h.e_phoff as usize;
        } else if let Some(s) = segments
            .iter()
            .find(|s| s.offset <= h.e_phoff as usize && (h.e_phoff as usize) < s.offset + s.filesz)
        {
            phdr = s.vaddr + (h.e_phoff as usize - s.offset);
        }
    }
    Ok(ElfInfo {
        entry: h.e_entry as usize,
        phdr,
        phnum: h.e_phnum as usize,
        phent: h.e_phentsize as usize,
        segments,
    })
}

/// Auxiliary-vector keys (Linux: `include/uapi/linux/auxvec.h`).
pub mod at {
    pub const AT_NULL: usize = 0;
    pub const AT_PHDR: usize = 3;
    pub const AT_PHENT: usize = 4;
    pub const AT_PHNUM: usize = 5;
    pub const AT_PAGESZ: usize = 6;
    pub const AT_BASE: usize = 7;
    pub const AT_FLAGS: usize = 8;
    pub const AT_ENTRY: usize = 9;
    pub const AT_UID: usize = 11;
    pub const AT_EUID: usize = 12;
    pub const AT_GID: usize = 13;
    pub const AT_EGID: usize = 14;
    pub const AT_PLATFORM: usize = 15;
    pub const AT_HWCAP: usize = 16;
    pub const AT_CLKTCK: usize = 17;
    pub const AT_SECURE: usize = 23;
    pub const AT_RANDOM: usize = 25;
    pub const AT_HWCAP2: usize = 26;
    pub const AT_EXECFN: usize = 31;
}

/// HWCAP_FP | HWCAP_ASIMD | HWCAP_EVTSTRM | HWCAP_CPUID (what Linux reports on cortex-a72,
/// less the crypto extensions QEMU's a72 model lacks).
pub const ELF_HWCAP: usize = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 11);

/// The initial stack: bytes to copy so that they end at `stack_top`, and the resulting sp.
#[derive(Debug)]
pub struct StackImage {
    /// Bytes, to be copied to `[sp_base, stack_top)`.
    pub bytes: Vec<u8>,
    /// Lowest address of `bytes`.
    pub base: usize,
    /// The user sp at entry: points at argc.
    pub sp: usize,
    /// Where argv[0]'s string ended up (mm->arg_start) and the end of the env strings.
    pub arg_start: usize,
    /// mm->env_end.
    pub env_end: usize,
}

/// Lay out argc, argv, envp, auxv and their strings below `stack_top` the way Linux's
/// `create_elf_tables` does: strings at the top, then the platform string and 16 random
/// bytes, then (16-byte aligned) argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL.
/// E2BIG when the arguments exceed `max_bytes`; ENOMEM when the image finds no memory (it
/// is up to `max_bytes` plus the pointers: user space chooses its size).
#[allow(clippy::too_many_arguments)] // each is one of Linux's create_elf_tables inputs
pub fn build_stack(
    stack_top: usize,
    execfn: &[u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    info: &ElfInfo,
    ids: [usize; 4],
    random: [u8; 16],
    max_bytes: usize,
) -> KResult<StackImage> {
    // Work downwards in a Vec that represents [stack_top - len, stack_top).
    let total: usize =
        argv.iter().chain(envp).map(|s| s.len() + 1).sum::<usize>() + execfn.len() + 1;
    if total > max_bytes.saturating_add(execfn.len() + 1) {
        return Err(Errno::E2BIG);
    }
    let nomem = |_| Errno::ENOMEM;
    let mut strings: Vec<u8> = Vec::new();
    strings.try_reserve_exact(total).map_err(nomem)?;
    let mut arg_offs: Vec<usize> = Vec::new();
    arg_offs.try_reserve_exact(argv.len()).map_err(nomem)?;
    let mut env_offs: Vec<usize> = Vec::new();
    env_offs.try_reserve_exact(envp.len()).map_err(nomem)?;
    // Every push below fits the reservations.
    let mut push_str = |s: &[u8]| -> usize {
        strings.extend_from_slice(s);
        strings.push(0);
        strings.len() - s.len() - 1
    };
    arg_offs.extend(argv.iter().map(|a| push_str(a)));
    env_offs.extend(envp.iter().map(|e| push_str(e)));
    // AT_EXECFN: the file name given to execve (Linux: bprm->filename, copied last).
    let execfn_off = Some(push_str(execfn));
    let strings_len = strings.len();
    if strings_len > max_bytes {
        return Err(Errno::E2BIG);
    }
    let strings_base = stack_top - 8 - strings_len; // 8 bytes of zero end marker on top
    let platform_base = strings_base - 8; // "aarch64\0"
    let random_base = platform_base - 16;
    let auxv: [(usize, usize); 17] = [
        (at::AT_HWCAP, ELF_HWCAP),
        (at::AT_PAGESZ, 4096),
        (at::AT_CLKTCK, 100),
        (at::AT_PHDR, info.phdr),
        (at::AT_PHENT, info.phent),
        (at::AT_PHNUM, info.phnum),
        (at::AT_BASE, 0),
        (at::AT_FLAGS, 0),
        (at::AT_ENTRY, info.entry),
        (at::AT_UID, ids[0]),
        (at::AT_EUID, ids[1]),
        (at::AT_GID, ids[2]),
        (at::AT_EGID, ids[3]),
        (at::AT_SECURE, 0),
        (at::AT_RANDOM, random_base),
        (at::AT_HWCAP2, 0),
        (
            at::AT_EXECFN,
            execfn_off.map_or(0, |o: usize| strings_base + o),
        ),
    ];
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * (auxv.len() + 2);
    let sp = (random_base - words * 8) & !15;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(stack_top - sp).map_err(nomem)?;
    bytes.resize(stack_top - sp, 0u8);
    let mut put = |addr: usize, v: usize| {
        let o = addr - sp;
        bytes[o..o + 8].copy_from_slice(&v.to_le_bytes());
    };
    let mut w = sp;
    put(w, argv.len());
    w += 8;
    for o in &arg_offs {
        put(w, strings_base + o);
        w += 8;
    }
    w += 8; // NULL
    for o in &env_offs {
        put(w, strings_base + o);
        w += 8;
    }
    w += 8; // NULL
    for (k, v) in auxv.iter().chain([(at::AT_PLATFORM, platform_base)].iter()) {
        put(w, *k);
        put(w + 8, *v);
        w += 16;
    }
    // AT_NULL: already zero.
    let o = random_base - sp;
    bytes[o..o + 16].copy_from_slice(&random);
    let o = platform_base - sp;
    bytes[o..o + 7].copy_from_slice(b"aarch64");
    let o = strings_base - sp;
    bytes[o..o + strings_len].copy_from_slice(&strings);
    Ok(StackImage {
        bytes,
        base: sp,
        sp,
        arg_start: strings_base,
        env_end: strings_base + strings_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_elf() -> Vec<u8> {
        // A minimal ELF64 AArch64 ET_EXEC with one PT_LOAD of 0x100 bytes at 0x400000.
        let mut v = alloc::vec![0u8; 0x100];
        v[..4].copy_from_slice(b"\x7fELF");
        v[4] = 2; // 64-bit
        v[5] = 1; // little endian
        v[6] = 1; // version
        v[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        v[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        v[20..24].copy_from_slice(&1u32.to_le_bytes());
        v[24..32].copy_from_slice(&0x400078u64.to_le_bytes()); // entry
        v[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        v[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
        v[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        v[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        let p = 64;
        v[p..p + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        v[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes()); // R X
        v[p + 16..p + 24].copy_from_slice(&0x400000u64.to_le_bytes()); // vaddr
        v[p + 24..p + 32].copy_from_slice(&0x400000u64.to_le_bytes()); // paddr
        v[p + 32..p + 40].copy_from_slice(&0x100u64.to_le_bytes()); // filesz
        v[p + 40..p + 48].copy_from_slice(&0x2100u64.to_le_bytes()); // memsz
        v[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes()); // align
        v
    }

    #[test]
    fn static_aarch64_executable_is_accepted() {
        let info = parse_elf(&tiny_elf()).unwrap();
        assert_eq!(info.entry, 0x400078);
        assert_eq!(info.phdr, 0x400040);
        assert_eq!(info.segments.len(), 1);
        let s = info.segments[0];
        assert_eq!(
            (s.vaddr, s.filesz, s.memsz, s.read, s.write, s.exec),
            (0x400000, 0x100, 0x2100, true, false, true)
        );
    }

    #[test]
    fn non_elf_and_foreign_machines_are_enoexec() {
        assert_eq!(parse_elf(b"#!/bin/sh\n"), Err(Errno::ENOEXEC));
        let mut x86 = tiny_elf();
        x86[18..20].copy_from_slice(&62u16.to_le_bytes());
        assert_eq!(parse_elf(&x86), Err(Errno::ENOEXEC));
        let mut dynamic = tiny_elf();
        dynamic[64..68].copy_from_slice(&3u32.to_le_bytes()); // PT_INTERP
        assert_eq!(parse_elf(&dynamic), Err(Errno::ENOEXEC));
    }

    #[test]
    fn stack_layout_matches_create_elf_tables() {
        let info = parse_elf(&tiny_elf()).unwrap();
        let top = 0x1_0000_0000usize;
        let img = build_stack(
            top,
            b"/bin/init",
            &[b"init", b"-v"],
            &[b"HOME=/"],
            &info,
            [0, 0, 0, 0],
            [7; 16],
            1 << 20,
        )
        .unwrap();
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.base + img.bytes.len(), top);
        let word = |addr: usize| {
            usize::from_le_bytes(
                img.bytes[addr - img.sp..addr - img.sp + 8]
                    .try_into()
                    .unwrap(),
            )
        };
        let cstr = |addr: usize| {
            let o = addr - img.sp;
            let end = img.bytes[o..].iter().position(|&b| b == 0).unwrap();
            std::string::String::from_utf8(img.bytes[o..o + end].to_vec()).unwrap()
        };
        assert_eq!(word(img.sp), 2);
        assert_eq!(cstr(word(img.sp + 8)), "init");
        assert_eq!(cstr(word(img.sp + 16)), "-v");
        assert_eq!(word(img.sp + 24), 0);
        assert_eq!(cstr(word(img.sp + 32)), "HOME=/");
        assert_eq!(word(img.sp + 40), 0);
        // auxv follows; find AT_PAGESZ, AT_ENTRY and AT_RANDOM.
        let mut a = img.sp + 48;
        let mut seen = std::collections::BTreeMap::new();
        while word(a) != at::AT_NULL {
            seen.insert(word(a), word(a + 8));
            a += 16;
        }
        assert_eq!(seen[&at::AT_PAGESZ], 4096);
        assert_eq!(seen[&at::AT_ENTRY], 0x400078);
        assert_eq!(seen[&at::AT_PHDR], 0x400040);
        assert_eq!(cstr(seen[&at::AT_PLATFORM]), "aarch64");
        assert_eq!(cstr(seen[&at::AT_EXECFN]), "/bin/init");
        let r = seen[&at::AT_RANDOM] - img.sp;
        assert_eq!(&img.bytes[r..r + 16], &[7; 16]);
    }

    #[test]
    fn oversized_arguments_are_e2big() {
        let info = parse_elf(&tiny_elf()).unwrap();
        let big = alloc::vec![b'x'; 5000];
        let r = build_stack(
            1 << 32,
            b"/bin/x",
            &[&big],
            &[],
            &info,
            [0; 4],
            [0; 16],
            4096,
        );
        assert_eq!(r.err(), Some(Errno::E2BIG));
    }
}

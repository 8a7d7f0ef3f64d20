//! `/proc/config.gz`: the kernel's configuration, gzip-compressed, for programs that ask
//! which features the running kernel has (LTP's `tst_kconfig`, `scripts/extract-ikconfig`
//! readers, `zcat /proc/config.gz | grep ...`). Linux: `kernel/configs.c`
//! (`CONFIG_IKCONFIG_PROC`), which embeds the `.config` of the build.
//!
//! We have no `.config`: [`KCONFIG`] lists, in Kconfig's syntax, the options a Linux
//! 5.10 arm64 kernel would need to behave as this one does, and says "is not set" for
//! the features we do not have, so that a test needing one reports TCONF rather than
//! failing. The gzip stream uses stored (uncompressed) deflate blocks: valid gzip that
//! needs no compressor (RFC 1951 section 3.2.4, RFC 1952).

/// The configuration, one `CONFIG_X=y` or `# CONFIG_X is not set` per line.
pub const KCONFIG: &str = "\
#
# Automatically generated file; DO NOT EDIT.
# Linux/arm64 5.10.0-mmkern Kernel Configuration (mmkern: the options this kernel honours)
#
CONFIG_ARM64=y
CONFIG_64BIT=y
CONFIG_MMU=y
CONFIG_ARM64_4K_PAGES=y
CONFIG_ARM64_VA_BITS_48=y
CONFIG_ARM64_VA_BITS=48
CONFIG_PGTABLE_LEVELS=4
CONFIG_HZ_250=y
CONFIG_HZ=250
CONFIG_PREEMPT_NONE=y
# CONFIG_SMP is not set
CONFIG_NR_CPUS=1
CONFIG_MULTIUSER=y
CONFIG_SYSVIPC=y
CONFIG_POSIX_TIMERS=y
CONFIG_FUTEX=y
# CONFIG_FUTEX_PI is not set
# CONFIG_EPOLL is not set
# CONFIG_SIGNALFD is not set
# CONFIG_TIMERFD is not set
# CONFIG_EVENTFD is not set
CONFIG_SHMEM=y
CONFIG_TMPFS=y
CONFIG_PROC_FS=y
CONFIG_PROC_SYSCTL=y
CONFIG_PROC_PAGE_MONITOR=y
CONFIG_IKCONFIG=y
CONFIG_IKCONFIG_PROC=y
CONFIG_SWAP=y
# CONFIG_MEMCG is not set
CONFIG_SLAB=y
# CONFIG_NUMA is not set
# CONFIG_KSM is not set
# CONFIG_TRANSPARENT_HUGEPAGE is not set
# CONFIG_HUGETLBFS is not set
CONFIG_USERFAULTFD=y
CONFIG_MEMORY_FAILURE=y
# CONFIG_MIGRATION is not set
# CONFIG_COMPACTION is not set
# CONFIG_ZSWAP is not set
# CONFIG_MMU_NOTIFIER is not set
CONFIG_FTRACE=y
CONFIG_FUNCTION_GRAPH_TRACER=y
# CONFIG_BLK_DEV_LOOP is not set
# CONFIG_MODULES is not set
# CONFIG_NET is not set
CONFIG_UNIX=y
# CONFIG_INET is not set
# CONFIG_SECCOMP is not set
# CONFIG_CGROUPS is not set
# CONFIG_NAMESPACES is not set
# CONFIG_RSEQ is not set
CONFIG_VIRTIO_BLK=y
";

/// CRC-32 (IEEE 802.3, reflected, as gzip's trailer wants it), bit by bit: the file is
/// small and read rarely.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `data` as a gzip member made of stored deflate blocks (at most 65,535 bytes each).
pub fn gzip_stored(data: &[u8]) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec::Vec::with_capacity(data.len() + data.len() / 65_535 * 5 + 32);
    // Header: magic, CM = deflate, no flags, no mtime, XFL 0, OS 3 (Unix).
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = c.len() as u16;
        out.push(last as u8); // BFINAL, BTYPE = 00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The bytes of `/proc/config.gz` (Linux: `ikconfig_read_current`).
pub fn ikconfig() -> alloc::vec::Vec<u8> {
    gzip_stored(KCONFIG.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn the_gzip_stream_carries_the_config_verbatim() {
        let gz = ikconfig();
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        let body = &gz[10..gz.len() - 8];
        assert_eq!(body[0], 1);
        let len = u16::from_le_bytes([body[1], body[2]]) as usize;
        assert_eq!(len, KCONFIG.len());
        assert_eq!(u16::from_le_bytes([body[3], body[4]]), !(len as u16));
        assert_eq!(&body[5..], KCONFIG.as_bytes());
        let n = gz.len();
        assert_eq!(
            u32::from_le_bytes(gz[n - 4..].try_into().unwrap()) as usize,
            KCONFIG.len()
        );
        assert!(KCONFIG.lines().all(|l| l.is_empty()
            || l.starts_with('#')
            || (l.starts_with("CONFIG_") && l.contains('='))));
    }
}

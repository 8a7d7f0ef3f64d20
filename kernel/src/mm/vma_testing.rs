//! Stand-ins for host tests: a recording `VmaPageTables`, a `MappedFile`, helpers.
use super::*;
use alloc::string::ToString;
use alloc::vec::Vec;

/// One call into the page-table layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PtCall {
    UnmapVmas {
        ranges: Vec<(usize, usize)>,
        start: usize,
        end: usize,
    },
    FreePgtables {
        ranges: Vec<(usize, usize)>,
        floor: usize,
        ceiling: usize,
    },
    ChangeProtection {
        start: usize,
        end: usize,
        newprot: PgProt,
    },
    Charge(usize),
    Uncharge(usize),
    Populate {
        start: usize,
        len: usize,
    },
}

/// Records every call; refuses overcommit charges above `commit_limit` pages.
#[derive(Default)]
pub struct RecordingPageTables {
    pub calls: Vec<PtCall>,
    pub commit_limit: Option<usize>,
    pub committed: usize,
}

fn ranges(vmas: &[VmArea]) -> Vec<(usize, usize)> {
    vmas.iter().map(|v| (v.vm_start, v.vm_end)).collect()
}

impl RecordingPageTables {
    pub fn new() -> Self {
        Self::default()
    }
    /// The unmap_vmas calls only, as (start, end).
    pub fn unmaps(&self) -> Vec<(usize, usize)> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                PtCall::UnmapVmas { start, end, .. } => Some((*start, *end)),
                _ => None,
            })
            .collect()
    }
    /// The change_protection calls only, as (start, end).
    pub fn protections(&self) -> Vec<(usize, usize)> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                PtCall::ChangeProtection { start, end, .. } => Some((*start, *end)),
                _ => None,
            })
            .collect()
    }
}

impl VmaPageTables for RecordingPageTables {
    fn unmap_vmas(&mut self, vmas: &[VmArea], start: usize, end: usize) {
        self.calls.push(PtCall::UnmapVmas {
            ranges: ranges(vmas),
            start,
            end,
        });
    }
    fn free_pgtables(&mut self, vmas: &[VmArea], floor: usize, ceiling: usize) {
        self.calls.push(PtCall::FreePgtables {
            ranges: ranges(vmas),
            floor,
            ceiling,
        });
    }
    fn change_protection(
        &mut self,
        vma: &VmArea,
        start: usize,
        end: usize,
        newprot: PgProt,
        _dirty_accountable: bool,
    ) -> usize {
        assert!(vma.vm_start <= start && end <= vma.vm_end);
        self.calls.push(PtCall::ChangeProtection {
            start,
            end,
            newprot,
        });
        0
    }
    fn security_vm_enough_memory_mm(&mut self, pages: usize) -> KResult<()> {
        if let Some(limit) = self.commit_limit {
            if self.committed + pages > limit {
                return Err(Errno::ENOMEM);
            }
        }
        self.committed += pages;
        self.calls.push(PtCall::Charge(pages));
        Ok(())
    }
    fn vm_unacct_memory(&mut self, pages: usize) {
        self.committed -= pages;
        self.calls.push(PtCall::Uncharge(pages));
    }
    fn mm_populate(&mut self, _mm: &mut MmapLocked, start: usize, len: usize) {
        self.calls.push(PtCall::Populate { start, len });
    }
}

/// A file for tests.
pub struct TestFile {
    pub path: alloc::string::String,
    pub ino: u64,
    pub dev: (u32, u32),
    pub size: u64,
    pub readable: bool,
    pub writable: bool,
    pub append_only: bool,
    pub mmap_supported: bool,
    pub noexec: bool,
    pub mmap_error: Option<Errno>,
    pub mmap_adds: VmFlags,
    /// The mmap method is /dev/zero's (`mmap_zero`): shmem when VM_SHARED, else anonymous.
    pub mmap_zero: bool,
    /// The page cache, whose `i_mmap` the file's VMAs join (None: a file without one).
    pub mapping: Option<&'static crate::mm::filemap::AddressSpace>,
}

impl TestFile {
    pub fn new(path: &str) -> Self {
        TestFile {
            path: path.to_string(),
            ino: 1234,
            dev: (8, 2),
            size: 1 << 20,
            readable: true,
            writable: true,
            append_only: false,
            mmap_supported: true,
            noexec: false,
            mmap_error: None,
            mmap_adds: VmFlags::empty(),
            mmap_zero: false,
            mapping: None,
        }
    }

    /// The same, with a page cache of its own (leaked: it lives as long as the tests).
    pub fn with_mapping(path: &str) -> Self {
        let mapping = alloc::boxed::Box::leak(alloc::boxed::Box::new(
            crate::mm::filemap::AddressSpace::new(),
        ));
        TestFile {
            mapping: Some(mapping),
            ..TestFile::new(path)
        }
    }
    pub fn arc(self) -> Arc<dyn MappedFile> {
        Arc::new(self)
    }
}

impl MappedFile for TestFile {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn dev(&self) -> (u32, u32) {
        self.dev
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn readable(&self) -> bool {
        self.readable
    }
    fn writable(&self) -> bool {
        self.writable
    }
    fn append_only(&self) -> bool {
        self.append_only
    }
    fn mmap_supported(&self) -> bool {
        self.mmap_supported
    }
    fn noexec(&self) -> bool {
        self.noexec
    }
    fn f_mapping(&self) -> Option<&crate::mm::filemap::AddressSpace> {
        self.mapping
    }
    fn mmap(&self, vma: &mut VmArea) -> KResult<()> {
        if let Some(e) = self.mmap_error {
            return Err(e);
        }
        vma.vm_flags |= self.mmap_adds;
        if self.mmap_zero {
            if vma.vm_flags.contains(VmFlags::VM_SHARED) {
                vma.vm_file = Some(TestFile::new("/dev/zero (deleted)").arc());
                vma.vm_pgoff = 0;
            } else {
                vma.vm_file = None;
                vma.vm_ops = None;
                vma.vm_pgoff = vma.vm_start >> PAGE_SHIFT;
            }
        }
        Ok(())
    }
}

/// Page `n` of a test region well inside user space.
pub const fn pg(n: usize) -> usize {
    0x1000_0000 + n * PAGE_SIZE
}

/// The flags of a private anonymous read-write mapping made by mmap.
pub const RW: VmFlags = VmFlags::VM_READ
    .union(VmFlags::VM_WRITE)
    .union(VmFlags::VM_MAYREAD)
    .union(VmFlags::VM_MAYWRITE)
    .union(VmFlags::VM_MAYEXEC);
/// The same, read-only.
pub const RO: VmFlags = VmFlags::VM_READ
    .union(VmFlags::VM_MAYREAD)
    .union(VmFlags::VM_MAYWRITE)
    .union(VmFlags::VM_MAYEXEC);

/// Link a private anonymous VMA `[pg(a), pg(b))` with `flags` (pgoff = address).
pub fn add_anon(mm: &mut MmapLocked, a: usize, b: usize, flags: VmFlags) -> usize {
    let mut v = VmArea::new(pg(a), pg(b), flags);
    v.vm_pgoff = pg(a) >> PAGE_SHIFT;
    vma_link(mm, v).unwrap();
    pg(a)
}

/// Link a file VMA `[pg(a), pg(b))` at file page `pgoff`.
pub fn add_file(
    mm: &mut MmapLocked,
    a: usize,
    b: usize,
    flags: VmFlags,
    file: &Arc<dyn MappedFile>,
    pgoff: usize,
) -> usize {
    let mut v = VmArea::new(pg(a), pg(b), flags);
    v.vm_pgoff = pgoff;
    v.vm_file = Some(file.clone());
    vma_link(mm, v).unwrap();
    pg(a)
}

/// The tree as (start, end) pairs in page numbers relative to `pg(0)`.
pub fn layout(mm: &MmapLocked) -> Vec<(usize, usize)> {
    validate_mm(mm).unwrap();
    mm.vmas()
        .map(|v| {
            (
                (v.vm_start - pg(0)) / PAGE_SIZE,
                (v.vm_end - pg(0)) / PAGE_SIZE,
            )
        })
        .collect()
}

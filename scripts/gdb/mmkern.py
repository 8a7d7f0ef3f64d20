# mmkern GDB helpers: pretty-printers and commands that speak mm.
#
# Load with `source scripts/gdb/mmkern.py` in gdb-multiarch (`cargo xtask gdb` and the batch
# GDB checks of `cargo xtask test` load it for you). Linux has the same idea in its
# `scripts/gdb` (lx-* commands); this file is our own, written against our types.
#
# Pretty-printers (used by `p`):
#   kernel::mm::page::Page            pfn, PG_* flags, refcount, mapcount, mapping, index,
#                                     the LRU list its flags place it on
#   kernel::mm::vma::VmArea           a /proc/<pid>/maps line plus the VM_* flag names
#   kernel::mm::mm_types::MmStruct    pgd, ASID, mmap_lock state and the counters it guards
#   kernel::arch::aarch64::pgtable::Pte  the descriptor decoded
#   kernel::mm::vma::VmFlags, kernel::mm::page::PageFlags  flag names
# Commands:
#   mm-tasks                 every task: pid, comm, state, mm
#   mm-vmas [PID]            the VMAs of PID (default: the running task) as /proc/PID/maps
#   mm-pte ADDR [PID]        walk the four table levels for ADDR, each descriptor decoded
#   mm-pt [PID] [user|kernel]  the whole address space as merged ranges with EL0/EL1
#                            permissions, attributes and leaf size (gdb-pt-dump, pwndbg `pt`)
#   mm-page PFN|VADDR|EXPR   the struct Page of a frame, a linear-map or a user address
#   mm-lru [N]               each LRU list's length and its N oldest pages (default 4)
#   mm-meminfo               the /proc/meminfo lines computable from kernel state
#   mm-vmstat                the vmstat counters under their /proc/vmstat names
#   mm-dmesg [N]             the kernel log buffer (printk's log_buf), or its last N lines
# Convenience functions: $mm([PID]) is a task's MmStruct pointer (`p *$mm()`); mm-page sets
# $page to the Page it printed (`p *$page`).
# Frame filter `mmkern-hex-args`: in backtraces, integer arguments named like addresses
# (address, start, end, pte_table, ...) print in hex (`start=0xfffff7ff0000`, not
# `start=281474842427392`); `disable frame-filter global mmkern-hex-args` turns it off.
#
# Everything is read from the kernel's own data through its debug info; the few constants that
# are not in the debug info (Rust `const`s) are copied here with the file they come from.

import re
import struct

import gdb

# arch/aarch64/memory.rs: PAGE_OFFSET (linear map = phys + PAGE_OFFSET), PAGE_SHIFT.
PAGE_OFFSET = 0xFFFF_0000_0000_0000
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
# arch/aarch64/pgtable.rs: output address bits [47:12]; PTE_DIRTY is software bit 55.
OA_MASK = ((1 << 48) - 1) & ~(PAGE_SIZE - 1)
PTE_DIRTY = 1 << 55
# arch/aarch64/memory.rs: the ioremap window.
IOREMAP_START, IOREMAP_END = 0xFFFF_FE00_0000_0000, 0xFFFF_FE40_0000_0000
# arch/aarch64/pgtable.rs MAIR_EL1_VALUE (used when GDB cannot read MAIR_EL1).
MAIR_EL1_VALUE = 0x0044_FF04
# task/mod.rs THREAD_SIZE: one kernel stack per task (meminfo's KernelStack).
THREAD_SIZE = PAGE_SIZE << 3
# fs/proc (show_map_vma): names are padded to this column.
MAPS_NAME_PAD = 73


# ---------------------------------------------------------------------------------------
# Reading Rust values


def u64(addr):
    """The 64-bit word at virtual address `addr`."""
    mem = gdb.selected_inferior().read_memory(int(addr), 8)
    return int.from_bytes(bytes(mem), "little")


def scalar(v):
    """An integer out of an atomic or a newtype (AtomicU64 { v: UnsafeCell { value } })."""
    while v.type.strip_typedefs().code in (gdb.TYPE_CODE_STRUCT, gdb.TYPE_CODE_UNION):
        fields = [f for f in v.type.strip_typedefs().fields() if f.name is not None]
        if not fields:
            raise gdb.GdbError("no scalar inside %s" % v.type)
        v = v[fields[0]]
    return int(v)


def static(name):
    """A static variable by its path (private ones included)."""
    sym = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
    if sym is None:
        raise gdb.GdbError("no symbol %s (is the kernel ELF loaded?)" % name)
    return sym.value()


def inner(v, path):
    """Follow field names, e.g. inner(lock, "inner.inner.data.value")."""
    for name in path.split("."):
        v = v[name]
    return v


def some(v):
    """The payload of an Option whose None is a null pointer (Arc, &T, NodeRef), or None."""
    if u64(v.address) == 0:
        return None
    return v["Some"]["__0"]


def raw_pointer(v):
    """The pointer inside a NonNull / Unique / Box / fat pointer, as a gdb.Value."""
    while v.type.strip_typedefs().code != gdb.TYPE_CODE_PTR:
        t = v.type.strip_typedefs()
        names = [f.name for f in t.fields()]
        for want in ("pointer", "ptr", "data_ptr", "__0"):
            if want in names:
                v = v[want]
                break
        else:
            raise gdb.GdbError("no pointer inside %s" % t)
    return v


def arc_data(arc):
    """The T of an Arc<T> (T sized)."""
    return raw_pointer(arc["ptr"]).dereference()["data"]


def dyn_concrete(fat):
    """For a `*const dyn Trait` (fields pointer, vtable): (data address, concrete type name,
    alignment). A Rust vtable is [drop_in_place::<T>, size, align, methods...]; the
    vtable itself has no ELF symbol, but its functions do: `<T as Trait>::method` or
    `core::ptr::drop_in_place<T>` names T."""
    vtable = int(fat["vtable"])
    align = u64(vtable + 16)
    for slot in [3, 4, 5, 0]:
        fn = u64(vtable + 8 * slot)
        if fn == 0:
            continue
        text = gdb.execute("info symbol 0x%x" % fn, to_string=True)
        # Demangled legacy names end in a hash: `...>::ino::h0123abcd in section .text`.
        m = re.match(r"<(.*?) as [^>]*>::\w+(::h[0-9a-f]+)? ", text) or re.match(
            r"core::ptr::drop_in_place<(.*)>(::h[0-9a-f]+)? ", text)
        if m:
            return int(fat["pointer"]), m.group(1), align
    raise gdb.GdbError("cannot name the type behind vtable 0x%x" % vtable)


def dyn_arc_data(arc):
    """The concrete value inside an Arc<dyn Trait>, found through the vtable's name."""
    fat = arc["ptr"]["pointer"]
    addr, tname, align = dyn_concrete(fat)
    t = gdb.lookup_type(tname)
    # ArcInner { strong, weak, data }: data after two words, aligned for T.
    off = (16 + align - 1) // align * align
    return gdb.Value(addr + off).cast(t.pointer()).dereference()


def rust_vec(v):
    """(pointer, len) of a Vec<T>: the first raw pointer inside `buf`, and `len`."""
    def first_ptr(x, depth=0):
        t = x.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_PTR:
            return x
        if t.code != gdb.TYPE_CODE_STRUCT or depth > 6:
            return None
        for f in t.fields():
            if f.name is None or f.artificial:
                continue
            p = first_ptr(x[f], depth + 1)
            if p is not None:
                return p
        return None

    return first_ptr(v["buf"]), int(v["len"])


def rust_string(v):
    """A Rust String as a Python str."""
    ptr, n = rust_vec(v["vec"])
    if n == 0:
        return ""
    mem = gdb.selected_inferior().read_memory(int(ptr), min(n, 4096))
    return bytes(mem).decode("utf-8", "replace")


def _unwrap_maybe_uninit(t):
    """K out of MaybeUninit<K> (through ManuallyDrop and MaybeDangling)."""
    while True:
        n = t.strip_typedefs().name or ""
        if n.startswith("core::mem::maybe_uninit::MaybeUninit<") or n.startswith(
            "core::mem::manually_drop::ManuallyDrop<"
        ):
            t = [f for f in t.strip_typedefs().fields() if f.name == "value"][0].type
        elif n.startswith("core::mem::maybe_dangling::MaybeDangling<"):
            t = t.strip_typedefs().fields()[0].type
        else:
            return t


def btree_items(m):
    """(key, value) pairs of a BTreeMap in key order.

    The map is `root: Option<NodeRef { node, height }>`; a node is a LeafNode (len, keys[],
    vals[]) and, above height 0, the start of an InternalNode, which adds `edges[len + 1]`
    child pointers after the leaf part (both structs are repr(C) in alloc's btree/node.rs).
    An in-order walk: child 0, key 0, child 1, key 1, ..., child len."""
    root = some(m["root"])
    if root is None:
        return
    leaf_ptr_t = raw_pointer(root["node"]).type
    leaf_t = leaf_ptr_t.target().strip_typedefs()
    key_t = _unwrap_maybe_uninit(leaf_t["keys"].type.target())
    val_t = _unwrap_maybe_uninit(leaf_t["vals"].type.target())
    try:
        internal_t = gdb.lookup_type(leaf_t.name.replace("LeafNode<", "InternalNode<", 1))
        edges_off = internal_t["edges"].bitpos // 8
    except (gdb.error, KeyError, RuntimeError):
        edges_off = (leaf_t.sizeof + 7) // 8 * 8

    def walk(addr, height):
        node = gdb.Value(addr).cast(leaf_ptr_t).dereference()
        n = int(node["len"])
        keys = node["keys"].address.cast(key_t.pointer())
        vals = node["vals"].address.cast(val_t.pointer())
        for i in range(n + 1):
            if height > 0:
                yield from walk(u64(addr + edges_off + 8 * i), height - 1)
            if i < n:
                yield keys[i], vals[i]

    yield from walk(int(raw_pointer(root["node"])), int(root["height"]))


def bitflag_names(value, enum_like):
    """`A|B|0x40` for the bits set in `value`, given [(name, bit value)]."""
    names, rest = [], value
    for name, bit in enum_like:
        if bit and value & bit == bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append("0x%x" % rest)
    return "|".join(names) if names else "0"


# Flag tables, bit values as page.rs (PageFlags) and vma.rs (VmFlags) declare them.
PAGE_FLAGS = [
    ("PG_locked", 1 << 0), ("PG_referenced", 1 << 1), ("PG_uptodate", 1 << 2),
    ("PG_dirty", 1 << 3), ("PG_lru", 1 << 4), ("PG_active", 1 << 5),
    ("PG_workingset", 1 << 6), ("PG_slab", 1 << 9), ("PG_swapcache", 1 << 10),
    ("PG_reserved", 1 << 12),
    ("PG_private", 1 << 13), ("PG_writeback", 1 << 15), ("PG_head", 1 << 16),
    # PG_readahead shares bit 18 with PG_reclaim (file pages use it for readahead marks).
    ("PG_reclaim", 1 << 18), ("PG_swapbacked", 1 << 19), ("PG_unevictable", 1 << 20),
    ("PG_mlocked", 1 << 21),
]
VM_FLAGS = [
    ("VM_READ", 0x1), ("VM_WRITE", 0x2), ("VM_EXEC", 0x4), ("VM_SHARED", 0x8),
    ("VM_MAYREAD", 0x10), ("VM_MAYWRITE", 0x20), ("VM_MAYEXEC", 0x40),
    ("VM_MAYSHARE", 0x80), ("VM_GROWSDOWN", 0x100), ("VM_UFFD_MISSING", 0x200),
    ("VM_PFNMAP", 0x400), ("VM_DENYWRITE", 0x800), ("VM_UFFD_WP", 0x1000),
    ("VM_LOCKED", 0x2000), ("VM_IO", 0x4000), ("VM_SEQ_READ", 0x8000),
    ("VM_RAND_READ", 0x10000), ("VM_DONTCOPY", 0x20000), ("VM_DONTEXPAND", 0x40000),
    ("VM_LOCKONFAULT", 0x80000), ("VM_ACCOUNT", 0x100000), ("VM_NORESERVE", 0x200000),
    ("VM_HUGETLB", 0x400000), ("VM_SYNC", 0x800000), ("VM_ARCH_1", 0x1000000),
    ("VM_WIPEONFORK", 0x2000000), ("VM_DONTDUMP", 0x4000000),
    ("VM_SOFTDIRTY", 0x8000000), ("VM_MIXEDMAP", 0x10000000),
    ("VM_HUGEPAGE", 0x20000000), ("VM_NOHUGEPAGE", 0x40000000),
    ("VM_MERGEABLE", 0x80000000),
]
VM = dict(VM_FLAGS)
PG = dict(PAGE_FLAGS)

# mm/mmzone.rs: LRU_INACTIVE_ANON..LRU_UNEVICTABLE, named as Linux's lru_list_name().
LRU_NAMES = ["inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable"]


def page_lru_name(flags):
    """The list a page's flags place it on (mm/mm_inline.rs page_lru), or None without
    PG_lru (not on a list: free, isolated by reclaim or migration, or never added)."""
    if not flags & PG["PG_lru"]:
        return None
    if flags & PG["PG_unevictable"]:
        return LRU_NAMES[4]
    base = 0 if flags & PG["PG_swapbacked"] else 2
    return LRU_NAMES[base + (1 if flags & PG["PG_active"] else 0)]


# ---------------------------------------------------------------------------------------
# mm objects


def mem_map():
    """(address of mem_map[0], first pfn, number of frames): page.rs keeps them in the
    statics MEM_MAP, MIN_PFN and NR_PAGES."""
    return (
        scalar(static("kernel::mm::page::MEM_MAP")),
        scalar(static("kernel::mm::page::MIN_PFN")),
        scalar(static("kernel::mm::page::NR_PAGES")),
    )


def page_type():
    return gdb.lookup_type("kernel::mm::page::Page")


def page_to_pfn(addr):
    base, min_pfn, _ = mem_map()
    return (int(addr) - base) // page_type().sizeof + min_pfn


def pfn_to_page(pfn):
    base, min_pfn, nr = mem_map()
    if not (min_pfn <= pfn < min_pfn + nr):
        raise gdb.GdbError("pfn 0x%x has no struct Page (mem_map covers 0x%x..0x%x)"
                           % (pfn, min_pfn, min_pfn + nr))
    addr = base + (pfn - min_pfn) * page_type().sizeof
    return gdb.Value(addr).cast(page_type().pointer())


def flags_value(v):
    return scalar(v)


def mm_vmas(locked):
    """The VMAs of an MmapLocked in address order, by the `mm_rb.mmap` list and each
    VMA's `vm_next` (Linux: `for (vma = mm->mmap; vma; vma = vma->vm_next)`)."""
    vma = locked["mm_rb"]["mmap"]
    while int(vma) != 0:
        v = vma.dereference()
        yield v
        vma = v["vm_next"]


def vma_perms(flags):
    return "%s%s%s%s" % (
        "r" if flags & VM["VM_READ"] else "-",
        "w" if flags & VM["VM_WRITE"] else "-",
        "x" if flags & VM["VM_EXEC"] else "-",
        "s" if flags & VM["VM_MAYSHARE"] else "p",
    )


def file_info(vma):
    """(path, (major, minor), ino) of a VMA's file, or None. vm_file is an
    Arc<dyn MappedFile>; for fs::file_mmap::FileMapping the path is file.f_path and dev/ino
    come from the inode's InodeAttr (as MappedFile::dev/ino compute them)."""
    arc = some(vma["vm_file"])
    if arc is None:
        return None
    try:
        obj = dyn_arc_data(arc)
    except (gdb.error, gdb.GdbError):
        # A MappedFile this script does not know (host-test stand-ins): no name.
        return ("<vm_file>", (0, 0), 0)
    names = [f.name for f in obj.type.strip_typedefs().fields()]
    if "file" not in names:
        return ("<%s>" % obj.type, (0, 0), 0)
    f = arc_data(obj["file"])
    path = rust_string(f["f_path"])
    dev, ino = (0, 0), 0
    try:
        inode = dyn_arc_data(f["f_inode"])
        attr = inode["attr"]
        ino = int(attr["i_ino"])
        s_dev = int(arc_data(attr["i_sb"])["s_dev"])
        # fs/inode.rs major()/minor() (glibc's encoding).
        major = ((s_dev >> 8) & 0xFFF) | ((s_dev >> 32) & ~0xFFF)
        minor = (s_dev & 0xFF) | ((s_dev >> 12) & ~0xFF)
        dev = (major & 0xFFFFFFFF, minor & 0xFFFFFFFF)
    except (gdb.error, gdb.GdbError):
        pass
    return (path, dev, ino)


def maps_line(vma, locked=None):
    """The /proc/<pid>/maps line of `vma` (mm/vma.rs show_map_vma); `locked` is the
    MmapLocked for [heap]/[stack]/[sigpage]."""
    start, end = int(vma["vm_start"]), int(vma["vm_end"])
    flags = flags_value(vma["vm_flags"])
    info = file_info(vma)
    pgoff, dev, ino, name = 0, (0, 0), 0, None
    if info is not None:
        name, dev, ino = info
        pgoff = int(vma["vm_pgoff"]) << PAGE_SHIFT
    elif locked is not None:
        brk, start_brk = int(locked["brk"]), int(locked["start_brk"])
        stack = int(locked["start_stack"])
        if start <= brk and end >= start_brk:
            name = "[heap]"
        elif start <= stack <= end:
            name = "[stack]"
        elif int(locked["sigpage"]) != 0 and start == int(locked["sigpage"]):
            name = "[sigpage]"
    s = "%08x-%08x %s %08x %02x:%02x %d " % (start, end, vma_perms(flags), pgoff,
                                            dev[0], dev[1], ino)
    if name is not None:
        s = s.ljust(MAPS_NAME_PAD - 1) + " " + name.replace("\n", "\\012")
    return s


def mm_locked(mm):
    """The MmapLocked inside mm.mmap_lock (an RwSemaphore around an UnsafeCell)."""
    return mm["mmap_lock"]["data"]["value"]


def rwsem_state(count):
    if count == 0:
        return "free"
    if count < 0:
        return "writer"
    return "%d reader%s" % (count, "" if count == 1 else "s")


# ---------------------------------------------------------------------------------------
# Tasks


def tasks():
    """(pid, Task value) for every task in kernel::task::TASKS, a SpinLockIrq<BTreeMap>."""
    m = inner(static("kernel::task::TASKS"), "inner.inner.data.value")
    for pid, arc in btree_items(m):
        yield int(pid), arc_data(arc)


def task_state_names():
    t = gdb.lookup_type("kernel::task::TaskState")
    return {f.enumval: f.name.rsplit("::", 1)[-1] for f in t.fields()}


def task_comm(task):
    arr = inner(task["comm"], "inner.inner.data.value")
    b = bytes(int(arr[i]) & 0xFF for i in range(16))
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def task_mm_ptr(task):
    return scalar(task["mm_ptr"])


def current_task():
    p = scalar(static("kernel::task::CURRENT"))
    if p == 0:
        return None
    return gdb.Value(p).cast(gdb.lookup_type("kernel::task::Task").pointer()).dereference()


def find_mm(pid=None):
    """The MmStruct of `pid`, or of the running task; error if it has none."""
    if pid is None:
        task = current_task()
        if task is None:
            raise gdb.GdbError("no running task yet (before sched_init)")
    else:
        task = None
        for p, t in tasks():
            if p == pid:
                task = t
                break
        if task is None:
            raise gdb.GdbError("no task with pid %d" % pid)
    p = task_mm_ptr(task)
    if p == 0:
        raise gdb.GdbError("pid %d is a kernel thread (no mm)" % int(task["pid"]))
    return gdb.Value(p).cast(gdb.lookup_type("kernel::mm::mm_types::MmStruct").pointer())


# ---------------------------------------------------------------------------------------
# Page tables


def decode_desc(d, level):
    """One descriptor in words (arch/aarch64/pgtable.rs: TABLE_DESCRIPTOR,
    PAGE_DESCRIPTOR)."""
    if d == 0:
        return "none"
    if not d & 1:
        if level == 3 and not d & 2:
            # arch/aarch64/pgtable.rs __swp_entry_pte: type in bits 2-7, offset in 8-57.
            return "swap entry type %d offset 0x%x" % ((d >> 2) & 0x3F,
                                                       (d >> 8) & ((1 << 50) - 1))
        return "invalid (0x%x)" % d
    oa = d & OA_MASK
    if level < 3 and d & 2:
        return "table -> 0x%x" % oa
    kind = "page" if level == 3 else "block"
    if level == 3 and not d & 2:
        return "reserved (0x%x)" % d
    ap = (d >> 6) & 3
    ap_text = ["rw EL1, none EL0", "rw EL1+EL0", "ro EL1, none EL0", "ro EL1+EL0"][ap]
    attr = (d >> 2) & 7
    attr_text = {0: "Device-nGnRE", 1: "Normal", 2: "Normal-NC"}.get(attr, "attr%d" % attr)
    words = [kind, "AF" if d & (1 << 10) else "!AF", "AP=%s" % ap_text]
    if d & (1 << 11):
        words.append("nG")
    if d & (1 << 53):
        words.append("PXN")
    if d & (1 << 54):
        words.append("UXN")
    words.append(attr_text)
    if d & PTE_DIRTY:
        words.append("dirty")
    words.append("-> 0x%x" % oa)
    return " ".join(words)


LEVEL_NAMES = ["pgd", "pud", "pmd", "pte"]


def walk(pgd_phys, va):
    """[(level, index, descriptor address, descriptor)] down to the leaf, and the physical
    address va translates to (None if not mapped). Tables are read through the linear
    map (phys + PAGE_OFFSET), as the kernel reads them."""
    steps, table = [], pgd_phys
    for level in range(4):
        idx = (va >> (12 + 9 * (3 - level))) & 511
        addr = PAGE_OFFSET + table + 8 * idx
        d = u64(addr)
        steps.append((level, idx, addr, d))
        if not d & 1:
            return steps, None
        if level < 3 and d & 2:
            table = d & OA_MASK
            continue
        size = 1 << (12 + 9 * (3 - level))
        return steps, (d & OA_MASK & ~(size - 1)) | (va & (size - 1))
    return steps, None


def translate(va, pid=None):
    """Physical address of `va` (user: the mm's pgd; kernel: TTBR1), or None."""
    if va >= PAGE_OFFSET and pid is None:
        pgd = int(gdb.parse_and_eval("$TTBR1_EL1")) & OA_MASK
    else:
        pgd = int(find_mm(pid)["pgd"])
    return walk(pgd, va)[1]


# ---------------------------------------------------------------------------------------
# Pretty-printers


class PagePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        try:
            pfn = "0x%x" % page_to_pfn(v.address)
        except gdb.error:
            pfn = "?"
        flags = scalar(v["flags"])
        mapping = scalar(v["mapping"])
        if mapping == 0:
            kind = "none"
        elif mapping & 1:
            kind = "anon (anon_vma 0x%x)" % (mapping & ~1)
        else:
            kind = "page cache (address_space 0x%x)" % mapping
        lru = page_lru_name(flags) or "none"
        return ("Page { pfn %s, flags %s, refcount %d, mapcount %d, mapping %s, index 0x%x, "
                "private 0x%x, lru %s }" % (pfn, bitflag_names(flags, PAGE_FLAGS),
                                           scalar(v["_refcount"]), scalar(v["_mapcount"]) + 1,
                                           kind, scalar(v["index"]), scalar(v["private"]),
                                           lru))


class VmAreaPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        flags = flags_value(self.val["vm_flags"])
        return "VmArea { %s [%s] }" % (maps_line(self.val).rstrip(),
                                       bitflag_names(flags, VM_FLAGS))


class MmStructPrinter:
    COUNTERS = ("map_count", "total_vm", "locked_vm", "pinned_vm", "data_vm", "exec_vm",
                "stack_vm")
    ADDRS = ("start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
             "start_stack", "mmap_base")

    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        count = scalar(v["mmap_lock"]["count"])
        locked = mm_locked(v)
        parts = ["pgd 0x%x" % int(v["pgd"]), "asid %d" % (scalar(v["context"]["id"]) & 0xFFFF),
                 "mmap_lock %s" % rwsem_state(count)]
        parts += ["%s %d" % (n, int(locked[n])) for n in self.COUNTERS]
        parts += ["%s 0x%x" % (n, int(locked[n])) for n in self.ADDRS]
        parts.append("def_flags %s" % bitflag_names(flags_value(locked["def_flags"]), VM_FLAGS))
        return "MmStruct { %s }" % ", ".join(parts)


class PtePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        d = scalar(self.val)
        return "Pte(0x%016x: %s)" % (d, decode_desc(d, 3))


class FlagsPrinter:
    def __init__(self, val, table):
        self.val, self.table = val, table

    def to_string(self):
        return bitflag_names(scalar(self.val), self.table)


PRINTERS = {
    "kernel::mm::page::Page": PagePrinter,
    "kernel::mm::vma::VmArea": VmAreaPrinter,
    "kernel::mm::mm_types::MmStruct": MmStructPrinter,
    "kernel::arch::aarch64::pgtable::Pte": PtePrinter,
    "kernel::mm::vma::VmFlags": lambda v: FlagsPrinter(v, VM_FLAGS),
    "kernel::mm::page::PageFlags": lambda v: FlagsPrinter(v, PAGE_FLAGS),
}


def lookup_printer(val):
    t = val.type.strip_typedefs()
    if t.code != gdb.TYPE_CODE_STRUCT:
        return None
    make = PRINTERS.get(t.name)
    return make(val) if make else None


# ---------------------------------------------------------------------------------------
# Commands


def parse_args(arg, n_max):
    argv = gdb.string_to_argv(arg)
    if len(argv) > n_max:
        raise gdb.GdbError("too many arguments")
    return argv


class MmTasks(gdb.Command):
    """List tasks: pid, comm, state, mm (kernel::task::TASKS).
Usage: mm-tasks"""

    def __init__(self):
        super().__init__("mm-tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        names = task_state_names()
        cur = scalar(static("kernel::task::CURRENT"))
        print("%5s %-16s %-16s %-18s" % ("PID", "COMM", "STATE", "MM"))
        for pid, t in tasks():
            mm = task_mm_ptr(t)
            mark = " <- current" if int(t.address) == cur else ""
            print("%5d %-16s %-16s %-18s%s" % (pid, task_comm(t),
                                              names.get(scalar(t["state"]), "?"),
                                              "0x%x" % mm if mm else "-", mark))


class MmVmas(gdb.Command):
    """List the VMAs of a task as /proc/PID/maps lines.
Usage: mm-vmas [PID]   (default: the running task)"""

    def __init__(self):
        super().__init__("mm-vmas", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 1)
        mm = find_mm(int(gdb.parse_and_eval(argv[0])) if argv else None).dereference()
        locked = mm_locked(mm)
        for vma in mm_vmas(locked):
            print(maps_line(vma, locked))


class MmPte(gdb.Command):
    """Walk the page tables for an address, each level's descriptor decoded.
Usage: mm-pte ADDR [PID]
A user address is looked up in PID's mm (default: the running task's), a kernel address in
TTBR1_EL1's tables. ADDR may be any expression (`mm-pte start`)."""

    def __init__(self):
        super().__init__("mm-pte", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 2)
        if not argv:
            raise gdb.GdbError("usage: mm-pte ADDR [PID]")
        va = int(gdb.parse_and_eval(argv[0])) & 0xFFFF_FFFF_FFFF_FFFF
        pid = int(gdb.parse_and_eval(argv[1])) if len(argv) > 1 else None
        if va >= PAGE_OFFSET and pid is None:
            pgd, where = int(gdb.parse_and_eval("$TTBR1_EL1")) & OA_MASK, "TTBR1_EL1"
        else:
            mm = find_mm(pid)
            pgd, where = int(mm["pgd"]), "mm 0x%x" % int(mm)
        print("va 0x%x: pgd at pa 0x%x (%s)" % (va, pgd, where))
        steps, pa = walk(pgd, va)
        for level, idx, addr, d in steps:
            print("  %s[%3d] @0x%x = 0x%016x  %s" % (LEVEL_NAMES[level], idx, addr, d,
                                                   decode_desc(d, level)))
        if pa is None:
            print("va 0x%x not mapped" % va)
        else:
            print("va 0x%x pfn 0x%x pa 0x%x" % (va, pa >> PAGE_SHIFT, pa))


def read_table(pa):
    """The 512 descriptors of the table at physical `pa`, read through the linear map in
    one go (one remote read instead of 512)."""
    mem = gdb.selected_inferior().read_memory(PAGE_OFFSET + pa, PAGE_SIZE)
    return struct.unpack("<512Q", bytes(mem))


def mair():
    try:
        return int(gdb.parse_and_eval("$MAIR_EL1"))
    except gdb.error:
        return MAIR_EL1_VALUE


def attr_text(attr_byte):
    """A MAIR attribute byte in words (Arm ARM D13.2.97 MAIR_EL1)."""
    if attr_byte >> 4 == 0:
        return "Device-" + {0x0: "nGnRnE", 0x4: "nGnRE", 0x8: "nGRE", 0xC: "GRE"}.get(
            attr_byte & 0xF, "?")
    if attr_byte == 0xFF:
        return "Normal"
    if attr_byte == 0x44:
        return "Normal-NC"
    return "Normal(0x%02x)" % attr_byte


def pt_leaves(pgd, va_base):
    """(va, size, level, descriptor, table bits) of every valid leaf below `pgd`, in
    address order. Table bits carry the hierarchical APTable/UXNTable/PXNTable limits
    (bits 59-62 of table descriptors) down to the leaf."""

    def rec(table, level, base, tbits):
        shift = 12 + 9 * (3 - level)
        for i, d in enumerate(read_table(table)):
            if not d & 1:
                continue
            va = base | (i << shift)
            if level < 3 and d & 2:
                yield from rec(d & OA_MASK, level + 1, va, tbits | ((d >> 59) & 0xF))
            elif level == 3 and not d & 2:
                continue  # reserved encoding
            elif level > 0:
                yield va, 1 << shift, level, d, tbits

    yield from rec(pgd, 0, va_base, 0)


def leaf_access(d, tbits):
    """(EL0 rwx, EL1 rwx) a leaf grants (Arm ARM D8.4: AP[2:1], UXN, PXN; APTable[1]
    removes write, APTable[0] EL0 access; an EL0-writable page never executes at EL1)."""
    ap = (d >> 6) & 3
    pxn_t, uxn_t, ap_t = tbits & 1, (tbits >> 1) & 1, (tbits >> 2) & 3
    el0_r = bool(ap & 1) and not ap_t & 1
    el0_w = el0_r and not ap & 2 and not ap_t & 2
    el1_w = not ap & 2 and not ap_t & 2
    el0_x = not (d >> 54) & 1 and not uxn_t
    el1_x = not (d >> 53) & 1 and not pxn_t and not el0_w
    el0 = ("r" if el0_r else "-") + ("w" if el0_w else "-") + ("x" if el0_x else "-")
    el1 = "r" + ("w" if el1_w else "-") + ("x" if el1_x else "-")
    return el0, el1


def human_size(n):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d%s" % (n >> shift, unit)
    return "%d" % n


def linker_symbol(name):
    """Address of a linker-script symbol (no debug info: `info address` knows it)."""
    text = gdb.execute("info address %s" % name, to_string=True)
    m = re.search(r"is at (0x[0-9a-f]+)", text)
    return int(m.group(1), 16) if m else None


def kernel_labels():
    """[(start, end, label)] of the kernel image's sections (linker.ld) and the ioremap
    window; the rest of TTBR1's half is the linear map."""
    spans = []
    for a, b, label in (("__text_start", "__text_end", "[kernel text]"),
                        ("__rodata_start", "__rodata_end", "[kernel rodata]"),
                        ("__data_start", "__kernel_end", "[kernel data+bss]")):
        lo, hi = linker_symbol(a), linker_symbol(b)
        if lo is not None and hi is not None:
            spans.append((lo, hi, label))
    spans.append((IOREMAP_START, IOREMAP_END, "[ioremap]"))
    return spans


def user_labels(mm):
    locked = mm_locked(mm)
    out = []
    for vma in mm_vmas(locked):
        line = maps_line(vma, locked)
        name = line[MAPS_NAME_PAD:].strip() if len(line) > MAPS_NAME_PAD else ""
        out.append((int(vma["vm_start"]), int(vma["vm_end"]), name or "[anon]"))
    return out


def pt_ranges(pgd, va_base, labels, default):
    """Leaves merged into ranges: neighbours with the same access, attributes, leaf size
    and label (section or VMA name) become one (gdb-pt-dump's and pwndbg's `pt` view)."""
    attrs = mair()
    ranges = []
    for va, size, level, d, tbits in pt_leaves(pgd, va_base):
        el0, el1 = leaf_access(d, tbits)
        attr = attr_text((attrs >> (8 * ((d >> 2) & 7))) & 0xFF)
        label = default
        for lo, hi, name in labels:
            if lo <= va < hi:
                label = name
                break
        key = (el0, el1, attr, size, label)
        if ranges and ranges[-1][1] == va and ranges[-1][2] == key:
            ranges[-1][1] = va + size
        else:
            ranges.append([va, va + size, key])
    return ranges


def print_ranges(ranges):
    print("%-33s %6s %-9s %-7s %-7s %-13s %s" % ("range", "size", "leaf", "EL0", "EL1",
                                                 "attributes", "what"))
    for start, end, (el0, el1, attr, size, label) in ranges:
        leaf = ("page " if size == PAGE_SIZE else "block ") + human_size(size)
        print("%016x-%016x %6s %-9s EL0 %s EL1 %s %-13s %s" % (
            start, end, human_size(end - start), leaf, el0, el1, attr, label))


class MmPt(gdb.Command):
    """Dump an address space as ranges with their permissions (gdb-pt-dump, pwndbg `pt`).
Usage: mm-pt [PID] [user|kernel]
The user half comes from PID's mm->pgd (default: the running task), the kernel half from
TTBR1_EL1. Each line: the range, its size, the leaf size (4K page, 2M or 1G block), what
EL0 and EL1 may do (rwx), the memory attributes (MAIR) and the VMA or kernel section.
Neighbouring leaves alike in all of these are merged into one line."""

    def __init__(self):
        super().__init__("mm-pt", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 2)
        halves, pid = ["user", "kernel"], None
        for a in argv:
            if a in ("user", "kernel"):
                halves = [a]
            else:
                pid = int(gdb.parse_and_eval(a))
        if "user" in halves:
            mm = find_mm(pid)
            pgd = int(mm["pgd"])
            print("user half (TTBR0): mm 0x%x, pgd at pa 0x%x" % (int(mm), pgd))
            print_ranges(pt_ranges(pgd, 0, user_labels(mm.dereference()), "?"))
        if "kernel" in halves:
            pgd = int(gdb.parse_and_eval("$TTBR1_EL1")) & OA_MASK
            print("kernel half (TTBR1_EL1): pgd at pa 0x%x" % pgd)
            print_ranges(pt_ranges(pgd, 0xFFFF_0000_0000_0000, kernel_labels(),
                                   "[linear map]"))


class MmPage(gdb.Command):
    """Print the struct Page of a frame.
Usage: mm-page PFN|VADDR|EXPR
A small number is a pfn; a linear-map address (>= PAGE_OFFSET) or a user address (the
running task's mm) is translated first; an expression of type Page, &Page or *Page (a
`page` argument in a frame) is that page. Sets $page to the Page pointer (`p *$page`)."""

    def __init__(self):
        super().__init__("mm-page", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 1)
        if not argv:
            raise gdb.GdbError("usage: mm-page PFN|VADDR")
        v = gdb.parse_and_eval(argv[0])
        t = v.type.strip_typedefs()
        page_type = gdb.lookup_type("kernel::mm::page::Page")
        if t.code in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_REF) and \
                t.target().strip_typedefs().name == page_type.name:
            page = v.cast(page_type.pointer()) if t.code == gdb.TYPE_CODE_PTR \
                else v.referenced_value().address
            gdb.set_convenience_variable("page", page)
            print("(kernel::mm::page::Page *) 0x%x" % int(page))
            print(PagePrinter(page.dereference()).to_string())
            return
        if t.code == gdb.TYPE_CODE_STRUCT and t.name == page_type.name:
            page = v.address
            gdb.set_convenience_variable("page", page)
            print("(kernel::mm::page::Page *) 0x%x" % int(page))
            print(PagePrinter(v).to_string())
            return
        x = int(v) & 0xFFFF_FFFF_FFFF_FFFF
        _, min_pfn, nr = mem_map()
        if x < min_pfn + nr:
            pfn = x
        else:
            pa = translate(x)
            if pa is None:
                raise gdb.GdbError("0x%x is not mapped" % x)
            pfn = pa >> PAGE_SHIFT
            print("va 0x%x pfn 0x%x pa 0x%x" % (x, pfn, pa))
        page = pfn_to_page(pfn)
        gdb.set_convenience_variable("page", page)
        print("(kernel::mm::page::Page *) 0x%x" % int(page))
        print(PagePrinter(page.dereference()).to_string())


def vmstat_items():
    """[(name, value)] of every vmstat counter in /proc/vmstat order (mm/vmstat.rs
    VmStat, COUNTERS; global_page_state reads two of them from their owners)."""
    counters = static("kernel::mm::vmstat::COUNTERS")
    items = gdb.lookup_type("kernel::mm::vmstat::VmStat").fields()
    out = []
    for f in sorted(items, key=lambda f: f.enumval):
        name = f.name.rsplit("::", 1)[-1].lower()
        if name == "nr_free_pages":
            value = int(inner(static("kernel::mm::page_alloc::ZONE_NORMAL"),
                              "inner.inner.data.value")["nr_free"])
        elif name == "nr_file_pages":
            value = scalar(static("kernel::mm::filemap::NR_FILE_PAGES"))
        else:
            value = scalar(counters[f.enumval])
        out.append((name, max(value, 0)))
    return out


class MmVmstat(gdb.Command):
    """Print the vmstat counters under their /proc/vmstat names (mm/vmstat.rs).
Usage: mm-vmstat"""

    def __init__(self):
        super().__init__("mm-vmstat", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        for name, value in vmstat_items():
            print("%s %d" % (name, value))


def si_mem_available(free, reserve, wmark_low, pagecache, reclaimable):
    """fs/proc/meminfo.rs si_mem_available (Linux: mm/page_alloc.c)."""
    available = free - reserve
    available += pagecache - min(pagecache // 2, wmark_low)
    available += reclaimable - min(reclaimable // 2, wmark_low)
    return max(available, 0)


class MmMeminfo(gdb.Command):
    """Print the /proc/meminfo lines that kernel state gives directly (fs/proc/meminfo.rs).
Usage: mm-meminfo
Left out: the lines meminfo computes by walking every address space (PageTables) or
reads from the heap allocator (Slab, SUnreclaim), and the ones that are always 0 here.
SwapTotal/SwapFree leave out the slots of an area being swapped off (si_swapinfo adds
them back)."""

    def __init__(self):
        super().__init__("mm-meminfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        parse_args(arg, 0)
        zone = inner(static("kernel::mm::page_alloc::ZONE_NORMAL"), "inner.inner.data.value")
        managed, free = int(zone["managed_pages"]), int(zone["nr_free"])
        low, high = int(zone["watermarks"]["low"]), int(zone["watermarks"]["high"])
        vm = dict(vmstat_items())
        cached = vm["nr_file_pages"]
        shmem = vm["nr_shmem"]
        swap = inner(static("kernel::mm::swapfile::SWAP_INFO"), "inner.inner.data.value")
        ntasks = sum(1 for _ in tasks())
        committed = max(scalar(static("kernel::mm::util::VM_COMMITTED_AS")), 0)
        rows = [
            ("MemTotal:", managed),
            ("MemFree:", free),
            ("MemAvailable:", si_mem_available(free, high, low, max(cached - shmem, 0), 0)),
            ("Cached:", cached),
            ("SwapCached:", scalar(static("kernel::mm::swap_state::NR_SWAPCACHE"))),
            ("Active:", vm["nr_zone_active_anon"] + vm["nr_zone_active_file"]),
            ("Inactive:", vm["nr_zone_inactive_anon"] + vm["nr_zone_inactive_file"]),
            ("Active(anon):", vm["nr_zone_active_anon"]),
            ("Inactive(anon):", vm["nr_zone_inactive_anon"]),
            ("Active(file):", vm["nr_zone_active_file"]),
            ("Inactive(file):", vm["nr_zone_inactive_file"]),
            ("Unevictable:", vm["nr_zone_unevictable"]),
            ("Mlocked:", vm["nr_mlock"]),
            ("SwapTotal:", int(swap["total_swap_pages"])),
            ("SwapFree:", max(int(swap["nr_swap_pages"]), 0)),
            ("AnonPages:", vm["nr_anon_pages"]),
            ("Mapped:", vm["nr_mapped"]),
            ("Shmem:", shmem),
        ]
        for name, pages in rows:
            print("%-16s%8d kB" % (name, pages << (PAGE_SHIFT - 10)))
        print("%-16s%8d kB" % ("KernelStack:", ntasks * THREAD_SIZE // 1024))
        print("%-16s%8d kB" % ("Committed_AS:", committed << (PAGE_SHIFT - 10)))


class MmLru(gdb.Command):
    """Print each LRU list's length and its oldest pages (mm/mmzone.rs LRU_LOCK).
Usage: mm-lru [N]   (N pages of each list, default 4; reclaim takes from this end)
A page whose flags name another list (it would be a bug) is marked `!!`."""

    NONE = 0xFFFF_FFFF_FFFF_FFFF

    def __init__(self):
        super().__init__("mm-lru", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 1)
        n = int(gdb.parse_and_eval(argv[0])) if argv else 4
        lock = static("kernel::mm::mmzone::LRU_LOCK")
        try:
            if scalar(inner(lock, "inner.inner.lock")):
                print("(lru_lock is held: a list may be in the middle of a change)")
        except (gdb.error, gdb.GdbError, KeyError):
            pass
        lists = inner(lock, "inner.inner.data.value")["lists"]
        for i, name in enumerate(LRU_NAMES):
            head = lists[i]
            nr = int(head["nr_pages"])
            print("%s %d page%s%s" % (name, nr, "" if nr == 1 else "s",
                                     ", oldest first:" if nr else ""))
            pfn = int(head["tail"]) & self.NONE
            shown = 0
            while pfn != self.NONE and shown < n:
                page = pfn_to_page(pfn).dereference()
                flags = scalar(page["flags"])
                mapping = scalar(page["mapping"])
                kind = "none" if mapping == 0 else ("anon" if mapping & 1 else "file")
                on = page_lru_name(flags)
                bad = "" if on == name else "  !! flags say %s" % (on or "not on an LRU")
                print("    pfn 0x%x %s refcount %d mapcount %d %s%s" % (
                    pfn, bitflag_names(flags, PAGE_FLAGS), scalar(page["_refcount"]),
                    scalar(page["_mapcount"]) + 1, kind, bad))
                pfn = scalar(page["lru"]["prev"]) & self.NONE
                shown += 1
            if shown < nr and shown == n:
                print("    ... %d more" % (nr - shown))


class MmDmesg(gdb.Command):
    """Print the kernel log buffer (kernel/printk.rs LogBuf; Linux: log_buf, lx-dmesg).
Usage: mm-dmesg [N]   (only the last N lines)"""

    def __init__(self):
        super().__init__("mm-dmesg", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = parse_args(arg, 1)
        log = inner(static("kernel::kernel::printk::CONSOLE"), "inner.inner.data.value")["log"]
        buf = log["buf"]
        size = buf.type.sizeof
        nxt = int(log["next"])
        mem = bytes(gdb.selected_inferior().read_memory(int(buf.address), size))
        if nxt <= size:
            data = mem[:nxt]
        else:
            at = nxt % size
            data = mem[at:] + mem[:at]
            # The oldest line lost its start to the wrap.
            data = data[data.find(b"\n") + 1:]
        lines = data.decode("utf-8", "replace").splitlines()
        if argv:
            lines = lines[-int(gdb.parse_and_eval(argv[0])):]
        for line in lines:
            print(line)


class MmFunction(gdb.Function):
    """$mm([PID]): the MmStruct pointer of PID (default: the running task)."""

    def __init__(self):
        super().__init__("mm")

    def invoke(self, pid=None):
        return find_mm(None if pid is None else int(pid))


# ---------------------------------------------------------------------------------------
# Backtraces: address arguments in hex

# Integer parameters of the teaching path that hold addresses (virtual, physical or a
# table's physical address) or frame numbers.
HEX_ARGS = {"addr", "address", "start", "end", "va", "pa", "vaddr", "haddr", "pgd",
            "pte_table", "pmd_table", "vm_start", "vm_end", "brk", "pfn"}


class _ArgValue:
    """One frame argument as GDB's frame-filter API wants it (symbol() and value())."""

    def __init__(self, sym, val):
        self.sym, self.val = sym, val

    def symbol(self):
        return self.sym

    def value(self):
        return self.val


try:
    from gdb.FrameDecorator import FrameDecorator

    class HexArgsDecorator(FrameDecorator):
        """Shows HEX_ARGS integers as pointers, which GDB prints in hex."""

        def frame_args(self):
            args = super().frame_args()
            if args is None:
                return None
            out = []
            for a in args:
                sym, val = a.symbol(), a.value()
                name = sym if isinstance(sym, str) else sym.print_name
                if val is None and not isinstance(sym, str):
                    try:
                        val = sym.value(self.inferior_frame())
                    except gdb.error:
                        val = None
                if name in HEX_ARGS and val is not None and \
                        val.type.strip_typedefs().code == gdb.TYPE_CODE_INT:
                    val = val.cast(gdb.lookup_type("u8").pointer())
                out.append(_ArgValue(sym, val))
            return out

    class HexArgsFilter:
        def __init__(self):
            self.name = "mmkern-hex-args"
            self.priority = 100
            self.enabled = True
            gdb.frame_filters[self.name] = self

        def filter(self, frames):
            return map(HexArgsDecorator, frames)
except ImportError:  # a GDB without frame-filter support: plain backtraces
    HexArgsFilter = None


def register(objfile=None):
    gdb.pretty_printers[:] = [p for p in gdb.pretty_printers
                              if getattr(p, "__name__", "") != "lookup_printer"]
    gdb.pretty_printers.append(lookup_printer)
    MmTasks()
    MmVmas()
    MmPte()
    MmPage()
    MmPt()
    MmLru()
    MmMeminfo()
    MmVmstat()
    MmDmesg()
    MmFunction()
    if HexArgsFilter is not None:
        HexArgsFilter()


register()

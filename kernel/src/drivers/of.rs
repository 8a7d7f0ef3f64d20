//! Reading the machine description from the flattened device tree. Linux:
//! `drivers/of/fdt.c` (`early_init_dt_scan_memory`, `early_init_dt_scan_chosen`) and the
//! `of_*` lookups each driver does. Parsing uses the `fdt` crate.
//!
//! Everything the kernel knows about the board comes from here: RAM, UART, GIC, timer
//! interrupt, PSCI conduit, virtio-mmio slots and the command line.
use fdt::{node::FdtNode, Fdt};

/// A device's register window and first interrupt (as a GIC INTID).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevInfo {
    /// Physical base of the registers.
    pub base: usize,
    /// Size of the register window.
    pub size: usize,
    /// GIC INTID of its first interrupt (SPI n -> 32 + n, PPI n -> 16 + n).
    pub irq: u32,
}

/// Which GIC and where.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicInfo {
    /// 2 or 3.
    pub version: u8,
    /// Distributor (GICD) window.
    pub dist: (usize, usize),
    /// GICv2: CPU interface (GICC). GICv3: redistributors (GICR).
    pub cpu_or_redist: (usize, usize),
}

/// Maximum memory ranges / virtio slots / command-line bytes kept.
pub const MAX_MEMORY: usize = 8;
/// Maximum virtio-mmio slots kept.
pub const MAX_VIRTIO: usize = 32;
/// Maximum command-line length kept (Linux arm64: COMMAND_LINE_SIZE 2048).
pub const COMMAND_LINE_SIZE: usize = 512;

/// The board as the device tree describes it (Linux keeps these in many globals).
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// RAM ranges (base, size).
    pub memory: [(usize, usize); MAX_MEMORY],
    /// Valid entries in `memory`.
    pub nr_memory: usize,
    /// The console UART (from /chosen/stdout-path, else the first PL011).
    pub uart: Option<DevInfo>,
    /// The interrupt controller.
    pub gic: Option<GicInfo>,
    /// INTID of the EL1 virtual timer.
    pub timer_irq: Option<u32>,
    /// "hvc" or "smc" (empty when the tree has no /psci).
    pub psci_method: &'static str,
    /// virtio-mmio transports.
    pub virtio: [DevInfo; MAX_VIRTIO],
    /// Valid entries in `virtio`.
    pub nr_virtio: usize,
    /// /chosen/bootargs, truncated to COMMAND_LINE_SIZE.
    pub cmdline: [u8; COMMAND_LINE_SIZE],
    /// Bytes used in `cmdline`.
    pub cmdline_len: usize,
    /// Size of the blob (to reserve it).
    pub dtb_size: usize,
}

/// Why the device tree was unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtError {
    /// Bad magic, version or structure.
    BadBlob,
    /// No memory node.
    NoMemory,
}

impl BootInfo {
    /// The kernel command line.
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
    /// Total RAM in bytes.
    pub fn ram_bytes(&self) -> usize {
        self.memory[..self.nr_memory].iter().map(|m| m.1).sum()
    }
}

fn cells(prop: &[u8]) -> impl Iterator<Item = u32> + '_ {
    prop.chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
}

/// GIC INTID of the `n`th interrupt of a node with 3-cell GIC specifiers.
fn gic_intid(node: FdtNode<'_, '_>, n: usize) -> Option<u32> {
    let prop = node.property("interrupts")?;
    let mut it = cells(prop.value).skip(3 * n);
    let (kind, num) = (it.next()?, it.next()?);
    Some(if kind == 1 { 16 + num } else { 32 + num })
}

fn first_reg(node: FdtNode<'_, '_>) -> Option<(usize, usize)> {
    let r = node.reg()?.next()?;
    Some((r.starting_address as usize, r.size.unwrap_or(0)))
}

fn dev_info(node: FdtNode<'_, '_>) -> Option<DevInfo> {
    let (base, size) = first_reg(node)?;
    Some(DevInfo {
        base,
        size,
        irq: gic_intid(node, 0).unwrap_or(0),
    })
}

fn is_compatible(node: &FdtNode<'_, '_>, name: &str) -> bool {
    node.compatible()
        .is_some_and(|c| c.all().any(|s| s == name))
}

/// Parse a device-tree blob. Linux: `setup_machine_fdt` + `unflatten_device_tree`, and
/// the probe of each driver.
pub fn setup_machine_fdt(blob: &'static [u8]) -> Result<BootInfo, DtError> {
    let fdt = Fdt::new(blob).map_err(|_| DtError::BadBlob)?;
    let mut info = BootInfo {
        memory: [(0, 0); MAX_MEMORY],
        nr_memory: 0,
        uart: None,
        gic: None,
        timer_irq: None,
        psci_method: "",
        virtio: [DevInfo::default(); MAX_VIRTIO],
        nr_virtio: 0,
        cmdline: [0; COMMAND_LINE_SIZE],
        cmdline_len: 0,
        dtb_size: fdt.total_size(),
    };
    for node in fdt.all_nodes() {
        if node.name.starts_with("memory")
            && node.property("device_type").and_then(|p| p.as_str()) == Some("memory")
        {
            for r in node.reg().into_iter().flatten() {
                if info.nr_memory < MAX_MEMORY && r.size.unwrap_or(0) > 0 {
                    info.memory[info.nr_memory] =
                        (r.starting_address as usize, r.size.unwrap_or(0));
                    info.nr_memory += 1;
                }
            }
        }
    }
    if info.nr_memory == 0 {
        return Err(DtError::NoMemory);
    }
    info.memory[..info.nr_memory].sort_unstable();

    let chosen = fdt.chosen();
    if let Some(args) = chosen.bootargs() {
        let n = args.len().min(COMMAND_LINE_SIZE);
        info.cmdline[..n].copy_from_slice(&args.as_bytes()[..n]);
        info.cmdline_len = n;
    }
    let stdout = chosen.stdout().filter(|n| is_compatible(n, "arm,pl011"));
    info.uart = stdout
        .or_else(|| fdt.find_compatible(&["arm,pl011"]))
        .and_then(dev_info);

    if let Some(n) = fdt.find_compatible(&["arm,gic-v3"]) {
        let mut regs = n.reg().into_iter().flatten();
        let d = regs.next();
        let r = regs.next();
        if let (Some(d), Some(r)) = (d, r) {
            info.gic = Some(GicInfo {
                version: 3,
                dist: (d.starting_address as usize, d.size.unwrap_or(0)),
                cpu_or_redist: (r.starting_address as usize, r.size.unwrap_or(0)),
            });
        }
    } else if let Some(n) =
        fdt.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])
    {
        let mut regs = n.reg().into_iter().flatten();
        let d = regs.next();
        let c = regs.next();
        if let (Some(d), Some(c)) = (d, c) {
            info.gic = Some(GicInfo {
                version: 2,
                dist: (d.starting_address as usize, d.size.unwrap_or(0)),
                cpu_or_redist: (c.starting_address as usize, c.size.unwrap_or(0)),
            });
        }
    }

    // The architected timer lists secure phys, non-secure phys, virtual, hyp: we use the
    // virtual timer, as Linux does at EL1.
    if let Some(n) = fdt.find_compatible(&["arm,armv8-timer", "arm,armv7-timer"]) {
        info.timer_irq = gic_intid(n, 2);
    }
    info.psci_method = match fdt
        .find_node("/psci")
        .and_then(|n| n.property("method"))
        .and_then(|p| p.as_str())
    {
        Some("smc") => "smc",
        Some("hvc") => "hvc",
        _ => "",
    };
    for node in fdt.all_nodes() {
        if is_compatible(&node, "virtio,mmio") && info.nr_virtio < MAX_VIRTIO {
            if let Some(d) = dev_info(node) {
                info.virtio[info.nr_virtio] = d;
                info.nr_virtio += 1;
            }
        }
    }
    info.virtio[..info.nr_virtio].sort_unstable_by_key(|d| d.base);
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(bytes: &[u8]) -> &'static [u8] {
        std::boxed::Box::leak(bytes.to_vec().into_boxed_slice())
    }

    #[test]
    fn qemu_virt_gicv2_512m() {
        let info =
            setup_machine_fdt(leak(include_bytes!("../../testdata/virt-gicv2-512M.dtb"))).unwrap();
        assert_eq!(&info.memory[..info.nr_memory], &[(0x4000_0000, 512 << 20)]);
        assert_eq!(info.ram_bytes(), 512 << 20);
        assert_eq!(
            info.uart,
            Some(DevInfo {
                base: 0x0900_0000,
                size: 0x1000,
                irq: 33
            })
        );
        let gic = info.gic.unwrap();
        assert_eq!(
            (gic.version, gic.dist.0, gic.cpu_or_redist.0),
            (2, 0x0800_0000, 0x0801_0000)
        );
        assert_eq!(info.timer_irq, Some(27));
        assert_eq!(info.psci_method, "hvc");
        assert_eq!(info.nr_virtio, 32);
        assert_eq!(
            info.virtio[0],
            DevInfo {
                base: 0x0a00_0000,
                size: 0x200,
                irq: 48
            }
        );
        assert_eq!(info.cmdline(), "");
    }

    #[test]
    fn qemu_virt_gicv3_el2_2g() {
        let info = setup_machine_fdt(leak(include_bytes!("../../testdata/virt-gicv3-el2-2G.dtb")))
            .unwrap();
        assert_eq!(info.ram_bytes(), 2 << 30);
        let gic = info.gic.unwrap();
        assert_eq!(
            (gic.version, gic.dist.0, gic.cpu_or_redist.0),
            (3, 0x0800_0000, 0x080a_0000)
        );
        assert_eq!(gic.cpu_or_redist.1, 0xf6_0000);
        // QEMU hands EL2 to the guest, so PSCI goes to QEMU through SMC.
        assert_eq!(info.psci_method, "smc");
        assert_eq!(info.timer_irq, Some(27));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(
            setup_machine_fdt(leak(&[0u8; 64])).unwrap_err(),
            DtError::BadBlob
        );
    }
}

//! The GIC, version 2 or 3 as the device tree says, and interrupt dispatch.
//! Linux: `drivers/irqchip/irq-gic.c`, `irq-gic-v3.c`, `kernel/irq/` (`request_irq`,
//! `generic_handle_irq`), `arch/arm64/kernel/irq.c` (`handle_arch_irq`).
//!
//! One CPU, every interrupt in group 1 (non-secure), all at one priority.
use crate::arch::cpu::icc;
use crate::drivers::of::GicInfo;
use crate::sync::SpinLockIrq;
use core::ptr::{read_volatile, write_volatile};

// Distributor registers (GICv2 and v3 share most offsets).
const GICD_CTLR: usize = 0x000;
const GICD_IGROUPR: usize = 0x080;
const GICD_ISENABLER: usize = 0x100;
const GICD_IPRIORITYR: usize = 0x400;
const GICD_ITARGETSR: usize = 0x800;
const GICD_IROUTER: usize = 0x6000;
// GICv2 CPU interface.
const GICC_CTLR: usize = 0x00;
const GICC_PMR: usize = 0x04;
const GICC_IAR: usize = 0x0c;
const GICC_EOIR: usize = 0x10;
// GICv3 redistributor: RD_base frame, then SGI_base frame 64 KiB later.
const GICR_WAKER: usize = 0x0014;
const GICR_SGI_BASE: usize = 0x1_0000;
const GICD_CTLR_RWP: u32 = 1 << 31;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// Priority given to every interrupt (lower is more urgent; the mask lets all through).
const DEFAULT_PRIORITY: u8 = 0xa0;
/// INTIDs 1020-1023 are special: 1023 means "nothing pending".
const GIC_SPURIOUS: u32 = 1020;

/// A GIC at mapped virtual addresses.
#[derive(Clone, Copy, Debug)]
pub enum Gic {
    /// GICv2: distributor + memory-mapped CPU interface.
    V2 {
        /// GICD virtual base.
        dist: usize,
        /// GICC virtual base.
        cpu: usize,
    },
    /// GICv3: distributor + this CPU's redistributor; CPU interface via ICC_* registers.
    V3 {
        /// GICD virtual base.
        dist: usize,
        /// GICR virtual base of CPU 0.
        redist: usize,
    },
}

fn rd(addr: usize) -> u32 {
    // SAFETY: callers pass addresses inside the GIC register windows mapped by ioremap.
    unsafe { read_volatile(addr as *const u32) }
}
fn wr(addr: usize, v: u32) {
    // SAFETY: callers pass addresses inside the GIC register windows mapped by ioremap.
    unsafe { write_volatile(addr as *mut u32, v) }
}
fn wr8(addr: usize, v: u8) {
    // SAFETY: callers pass addresses inside the GIC register windows mapped by ioremap.
    unsafe { write_volatile(addr as *mut u8, v) }
}

impl Gic {
    /// GIC version (2 or 3).
    pub fn version(&self) -> u8 {
        match self {
            Gic::V2 { .. } => 2,
            Gic::V3 { .. } => 3,
        }
    }

    /// Bring up distributor and CPU interface. Linux: `gic_dist_init` + `gic_cpu_init`.
    pub fn init(&self) {
        match *self {
            Gic::V2 { dist, cpu } => {
                wr(dist + GICD_CTLR, 1);
                wr(cpu + GICC_PMR, 0xff);
                wr(cpu + GICC_CTLR, 1);
            }
            Gic::V3 { dist, redist } => {
                // ARE (affinity routing) + EnableGrp1; wait for the write to land.
                wr(dist + GICD_CTLR, (1 << 4) | (1 << 1));
                while rd(dist + GICD_CTLR) & GICD_CTLR_RWP != 0 {}
                // Wake our redistributor (Linux: gic_enable_redist).
                let w = rd(redist + GICR_WAKER) & !GICR_WAKER_PROCESSOR_SLEEP;
                wr(redist + GICR_WAKER, w);
                while rd(redist + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP != 0 {}
                wr(redist + GICR_SGI_BASE + GICD_IGROUPR, u32::MAX); // SGIs/PPIs: group 1
                icc::enable_sre();
                icc::set_pmr(0xff);
                icc::set_igrpen1(1);
            }
        }
    }

    /// Unmask interrupt `intid` and route it to this CPU. Linux: `gic_unmask_irq`.
    pub fn enable_irq(&self, intid: u32) {
        let (n, bit) = ((intid / 32) as usize, 1u32 << (intid % 32));
        match *self {
            Gic::V2 { dist, .. } => {
                wr8(dist + GICD_IPRIORITYR + intid as usize, DEFAULT_PRIORITY);
                if intid >= 32 {
                    wr8(dist + GICD_ITARGETSR + intid as usize, 1); // CPU interface 0
                }
                wr(dist + GICD_ISENABLER + 4 * n, bit);
            }
            Gic::V3 { dist, redist } => {
                if intid < 32 {
                    let sgi = redist + GICR_SGI_BASE;
                    wr8(sgi + GICD_IPRIORITYR + intid as usize, DEFAULT_PRIORITY);
                    wr(sgi + GICD_ISENABLER, bit);
                } else {
                    wr8(dist + GICD_IPRIORITYR + intid as usize, DEFAULT_PRIORITY);
                    let g = rd(dist + GICD_IGROUPR + 4 * n);
                    wr(dist + GICD_IGROUPR + 4 * n, g | bit);
                    // SAFETY: GICD_IROUTER<n> is a 64-bit register of the distributor window ioremap mapped.
                    unsafe {
                        write_volatile((dist + GICD_IROUTER + 8 * intid as usize) as *mut u64, 0)
                    };
                    wr(dist + GICD_ISENABLER + 4 * n, bit);
                }
            }
        }
    }

    /// Acknowledge the highest-priority pending interrupt; its INTID (>= 1020: none).
    pub fn ack(&self) -> u32 {
        match *self {
            Gic::V2 { cpu, .. } => rd(cpu + GICC_IAR) & 0x3ff,
            Gic::V3 { .. } => (icc::read_iar1() & 0xff_ffff) as u32,
        }
    }

    /// Signal end of interrupt.
    pub fn eoi(&self, intid: u32) {
        match *self {
            Gic::V2 { cpu, .. } => wr(cpu + GICC_EOIR, intid),
            Gic::V3 { .. } => icc::write_eoir1(intid as u64),
        }
    }
}

static GIC: spin::Once<Gic> = spin::Once::new();

const MAX_HANDLERS: usize = 16;
/// (INTID, handler) pairs (Linux: the irq_desc array).
type HandlerTable = [(u32, Option<fn()>); MAX_HANDLERS];
static HANDLERS: SpinLockIrq<HandlerTable> = SpinLockIrq::new([(0, None); MAX_HANDLERS]);

/// `request_irq` failed: every handler slot is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoIrqSlot;

/// Map the GIC described by the device tree and initialise it. Linux: `gic_of_init`.
pub fn init_irq(info: &GicInfo) -> &'static Gic {
    let dist = crate::mm::ioremap::ioremap(info.dist.0, info.dist.1.max(0x1_0000));
    let other =
        crate::mm::ioremap::ioremap(info.cpu_or_redist.0, info.cpu_or_redist.1.max(0x2_0000));
    let gic = if info.version == 3 {
        Gic::V3 {
            dist,
            redist: other,
        }
    } else {
        Gic::V2 { dist, cpu: other }
    };
    gic.init();
    GIC.call_once(|| gic)
}

/// The GIC, once `init_irq` ran.
pub fn gic() -> Option<&'static Gic> {
    GIC.get()
}

/// Install `handler` for `intid` and unmask it. Linux: `request_irq`.
pub fn request_irq(intid: u32, handler: fn()) -> Result<(), NoIrqSlot> {
    let mut table = HANDLERS.lock();
    let slot = table.iter_mut().find(|e| e.1.is_none()).ok_or(NoIrqSlot)?;
    *slot = (intid, Some(handler));
    drop(table);
    if let Some(g) = gic() {
        g.enable_irq(intid);
    }
    Ok(())
}

/// Take every pending interrupt and run its handler (IRQs stay masked meanwhile).
/// Linux: `gic_handle_irq` -> `generic_handle_irq`.
#[no_mangle]
#[inline(never)]
pub fn handle_arch_irq() {
    let Some(g) = gic() else { return };
    loop {
        let intid = g.ack();
        if intid >= GIC_SPURIOUS {
            break;
        }
        let handler = HANDLERS
            .lock()
            .iter()
            .find(|e| e.0 == intid && e.1.is_some())
            .and_then(|e| e.1);
        match handler {
            Some(h) => h(),
            None => pr_warn!("irq: no handler for INTID {intid}"),
        }
        g.eoi(intid);
    }
}

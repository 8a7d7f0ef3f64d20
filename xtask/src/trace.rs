//! `cargo xtask trace --init "PROG ARGS" [--filter F] [--icount] [--memory SIZE]`: boot
//! the kernel with PROG as init and `trace=F` on the command line, read the
//! function-graph records the kernel dumps when init exits (`ftrace_dump`,
//! kernel/src/kernel/trace), and write under `target/trace/`:
//!
//! * `PROG.raw.txt`: the records as the kernel printed them;
//! * `PROG.txt`: the function_graph layout Linux's ftrace prints (`funcA() {`,
//!   `  funcB();`, `}`), durations in the trace clock's unit;
//! * `PROG.callgraph.svg` (and `.dot`): one node per function with its calls and
//!   inclusive cost, edges weighted by calls; Graphviz `dot` draws it where installed,
//!   else our own layered layout;
//! * `PROG.folded` and `PROG.flame.svg`: folded stacks of self cost and the flame graph
//!   the `inferno` crate draws from them.
//!
//! The clock is the PMU's instruction counter under `--icount` (QEMU counts
//! INST_RETIRED only then), else the virtual counter's ticks (62.5 MHz).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::qemu::{self, QemuConfig};
use crate::{bail, build, setup, Arg, Args, Result};

/// The kernel's dump markers (kernel/src/kernel/trace/trace_output.rs `DUMP_BEGIN`/`DUMP_END`).
pub const DUMP_BEGIN: &str = "Dumping ftrace buffer:";
pub const DUMP_END: &str = "End of ftrace buffer";

/// One record of the kernel's raw trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    Entry {
        pid: u32,
        depth: u32,
        time: u64,
        func: String,
    },
    Return {
        pid: u32,
        depth: u32,
        time: u64,
        dur: u64,
        func: String,
    },
    Marker {
        pid: u32,
        time: u64,
        text: String,
    },
}

/// A parsed dump: the clock's name and the records in order.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub clock: String,
    pub overrun: u64,
    pub recs: Vec<Rec>,
}

impl Trace {
    /// The unit durations are in.
    pub fn unit(&self) -> &'static str {
        if self.clock == "inst" {
            "instructions"
        } else {
            "cntvct ticks"
        }
    }
}

/// The lines between the dump markers of a console log (`\r` stripped), or None when the
/// kernel printed no dump.
pub fn dump_lines(console: &str) -> Option<Vec<String>> {
    let mut lines = console.lines().map(|l| l.trim_end_matches('\r'));
    lines.find(|l| l.ends_with(DUMP_BEGIN))?;
    let mut out = Vec::new();
    for l in lines {
        if l == DUMP_END {
            return Some(out);
        }
        out.push(l.to_string());
    }
    Some(out)
}

/// Parse the raw lines (`E pid depth time func`, `R pid depth time dur func`,
/// `M pid depth time text`, `# tracer: ... clock=C ... overrun=N`); other lines (console
/// noise) are skipped.
pub fn parse(lines: &[String]) -> Trace {
    let mut t = Trace {
        clock: "cntvct".into(),
        ..Trace::default()
    };
    for l in lines {
        if let Some(h) = l.strip_prefix("# tracer: ") {
            for w in h.split_whitespace() {
                if let Some(c) = w.strip_prefix("clock=") {
                    t.clock = c.to_string();
                } else if let Some(o) = w.strip_prefix("overrun=") {
                    t.overrun = o.parse().unwrap_or(0);
                }
            }
            continue;
        }
        let mut w = l.splitn(5, ' ');
        let (Some(kind), Some(pid), Some(depth), Some(time)) =
            (w.next(), w.next(), w.next(), w.next())
        else {
            continue;
        };
        let (Ok(pid), Ok(depth), Ok(time)) = (pid.parse(), depth.parse(), time.parse()) else {
            continue;
        };
        let rest = w.next().unwrap_or("").to_string();
        match kind {
            "E" if !rest.is_empty() => t.recs.push(Rec::Entry {
                pid,
                depth,
                time,
                func: rest,
            }),
            "R" => {
                let Some((dur, func)) = rest.split_once(' ') else {
                    continue;
                };
                let Ok(dur) = dur.parse() else { continue };
                t.recs.push(Rec::Return {
                    pid,
                    depth,
                    time,
                    dur,
                    func: func.to_string(),
                });
            }
            "M" => t.recs.push(Rec::Marker {
                pid,
                time,
                text: rest,
            }),
            _ => {}
        }
    }
    t
}

/// The function_graph text (Linux: `print_graph_function` with the `funcgraph-tail`
/// option): a call that returns at once is one line `func();` with its duration, others
/// open with `func() {` and close with `} /* func */` and the duration; markers are
/// comments at the depth they happened.
pub fn function_graph_text(t: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# tracer: function_graph");
    let _ = writeln!(out, "# clock: {} (durations in {})", t.clock, t.unit());
    if t.overrun > 0 {
        let _ = writeln!(
            out,
            "# {} records lost to the ring buffer's overwrite",
            t.overrun
        );
    }
    let _ = writeln!(out, "#");
    let _ = writeln!(out, "#  PID     DURATION      FUNCTION CALLS");
    let _ = writeln!(out, "#  |       |             |   |   |   |");
    let mut depth_of: BTreeMap<u32, u32> = BTreeMap::new();
    let mut i = 0;
    while i < t.recs.len() {
        match &t.recs[i] {
            Rec::Entry {
                pid, depth, func, ..
            } => {
                depth_of.insert(*pid, depth + 1);
                let ind = "  ".repeat(*depth as usize + 1);
                if let Some(Rec::Return {
                    pid: p2,
                    dur,
                    func: f2,
                    ..
                }) = t.recs.get(i + 1)
                {
                    if p2 == pid && f2 == func {
                        let _ = writeln!(out, "{pid:>5}) {dur:>12}  |{ind}{func}();");
                        depth_of.insert(*pid, *depth);
                        i += 2;
                        continue;
                    }
                }
                let _ = writeln!(out, "{pid:>5}) {:>12}  |{ind}{func}() {{", "");
            }
            Rec::Return {
                pid,
                depth,
                dur,
                func,
                ..
            } => {
                depth_of.insert(*pid, *depth);
                let ind = "  ".repeat(*depth as usize + 1);
                let _ = writeln!(out, "{pid:>5}) {dur:>12}  |{ind}}} /* {func} */");
            }
            Rec::Marker { pid, text, .. } => {
                let d = depth_of.get(pid).copied().unwrap_or(0);
                let ind = "  ".repeat(d as usize + 1);
                let _ = writeln!(out, "{pid:>5}) {:>12}  |{ind}/* {text} */", "");
            }
        }
        i += 1;
    }
    out
}

/// Per-function totals and caller -> callee call counts.
#[derive(Debug, Default)]
pub struct CallGraph {
    /// name -> (calls, inclusive cost)
    pub nodes: BTreeMap<String, (u64, u64)>,
    /// (caller, callee) -> calls
    pub edges: BTreeMap<(String, String), u64>,
    /// folded stack (`a;b;c`) -> self cost
    pub folded: BTreeMap<String, u64>,
}

/// Rebuild each task's call stack from the records: the call graph and the folded
/// stacks of self cost (a function's duration less its children's).
pub fn call_graph(t: &Trace) -> CallGraph {
    let mut g = CallGraph::default();
    // pid -> stack of (func, children's cost)
    let mut stacks: BTreeMap<u32, Vec<(String, u64)>> = BTreeMap::new();
    for r in &t.recs {
        match r {
            Rec::Entry { pid, func, .. } => {
                let st = stacks.entry(*pid).or_default();
                if let Some((caller, _)) = st.last() {
                    *g.edges.entry((caller.clone(), func.clone())).or_default() += 1;
                }
                st.push((func.clone(), 0));
            }
            Rec::Return { pid, dur, func, .. } => {
                let st = stacks.entry(*pid).or_default();
                // A return whose entry was overwritten closes nothing we saw.
                let Some(pos) = st.iter().rposition(|(f, _)| f == func) else {
                    let n = g.nodes.entry(func.clone()).or_default();
                    n.0 += 1;
                    n.1 += dur;
                    *g.folded.entry(func.clone()).or_default() += dur;
                    continue;
                };
                st.truncate(pos + 1);
                let (_, children) = st.pop().unwrap_or_default();
                let path: Vec<&str> = st
                    .iter()
                    .map(|(f, _)| f.as_str())
                    .chain([func.as_str()])
                    .collect();
                *g.folded.entry(path.join(";")).or_default() += dur.saturating_sub(children);
                if let Some(parent) = st.last_mut() {
                    parent.1 += dur;
                }
                let n = g.nodes.entry(func.clone()).or_default();
                n.0 += 1;
                n.1 += dur;
            }
            Rec::Marker { .. } => {}
        }
    }
    g
}

/// The call graph in Graphviz's language.
pub fn call_graph_dot(g: &CallGraph, unit: &str) -> String {
    let mut s = String::from(
        "digraph callgraph {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"monospace\"];\n",
    );
    for (name, (calls, cost)) in &g.nodes {
        let _ = writeln!(
            s,
            "  \"{name}\" [label=\"{name}\\n{calls} calls\\n{cost} {unit}\"];"
        );
    }
    for ((a, b), n) in &g.edges {
        let w = 1.0 + (*n as f64).log2();
        let _ = writeln!(s, "  \"{a}\" -> \"{b}\" [label=\"{n}\", penwidth={w:.1}];");
    }
    s.push_str("}\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Our own drawing of the call graph, for machines without Graphviz: functions in rows
/// by their shortest call depth from a root (a function nobody traced called), each
/// row left to right by name (wrapped after 8 boxes); edges as curves whose width grows
/// with the calls.
pub fn call_graph_svg(g: &CallGraph, unit: &str) -> String {
    // Layer = shortest distance from a root.
    let callees: BTreeSet<&str> = g.edges.keys().map(|(_, b)| b.as_str()).collect();
    let mut layer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut frontier: Vec<&str> = g
        .nodes
        .keys()
        .map(|s| s.as_str())
        .filter(|n| !callees.contains(n))
        .collect();
    if frontier.is_empty() {
        frontier = g.nodes.keys().take(1).map(|s| s.as_str()).collect();
    }
    for n in &frontier {
        layer.insert(n, 0);
    }
    let mut d = 0;
    while !frontier.is_empty() {
        d += 1;
        let mut next = Vec::new();
        for n in &frontier {
            for ((a, b), _) in g.edges.range((n.to_string(), String::new())..) {
                if a != n {
                    break;
                }
                if !layer.contains_key(b.as_str()) {
                    layer.insert(b.as_str(), d);
                    next.push(b.as_str());
                }
            }
        }
        frontier = next;
    }
    // Unreached (cycles only): last row.
    let last = layer.values().copied().max().unwrap_or(0) + 1;
    for n in g.nodes.keys() {
        layer.entry(n.as_str()).or_insert(last);
    }
    let mut rows: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (n, l) in &layer {
        rows.entry(*l).or_default().push(n);
    }
    const W: usize = 230;
    const H: usize = 54;
    const GAP_X: usize = 20;
    const GAP_Y: usize = 70;
    // A layer wider than PER_ROW boxes wraps onto more rows.
    const PER_ROW: usize = 8;
    let mut pos: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut width = 0;
    let mut r = 0;
    for names in rows.values() {
        for chunk in names.chunks(PER_ROW) {
            for (i, n) in chunk.iter().enumerate() {
                let x = GAP_X + i * (W + GAP_X);
                let y = GAP_Y / 2 + r * (H + GAP_Y);
                pos.insert(n, (x, y));
                width = width.max(x + W + GAP_X);
            }
            r += 1;
        }
    }
    let height = GAP_Y / 2 + r * (H + GAP_Y);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"monospace\" font-size=\"12\">"
    );
    let _ = writeln!(s, "<title>call graph ({})</title>", xml_escape(unit));
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    for ((a, b), n) in &g.edges {
        let (Some(&(ax, ay)), Some(&(bx, by))) = (pos.get(a.as_str()), pos.get(b.as_str())) else {
            continue;
        };
        let (x1, y1) = (ax + W / 2, ay + H);
        let (x2, y2) = (bx + W / 2, by);
        let w = 1.0 + (*n as f64).log2();
        let (c1, c2) = if y2 > y1 {
            (y1 + GAP_Y / 2, y2 - GAP_Y / 2)
        } else {
            (y1 + GAP_Y, y2.saturating_sub(GAP_Y))
        };
        let _ = writeln!(
            s,
            "<path d=\"M{x1},{y1} C{x1},{c1} {x2},{c2} {x2},{y2}\" fill=\"none\" \
             stroke=\"#4a6fa5\" stroke-opacity=\"0.6\" stroke-width=\"{w:.1}\">\
             <title>{} -&gt; {}: {n} calls</title></path>",
            xml_escape(a),
            xml_escape(b)
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#4a6fa5\">{n}</text>",
            (x1 + x2) / 2 + 3,
            (y1 + y2) / 2
        );
    }
    for (n, (x, y)) in &pos {
        let (calls, cost) = g.nodes.get(*n).copied().unwrap_or_default();
        let name = xml_escape(n);
        let _ = writeln!(
            s,
            "<g><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" \
             fill=\"#fdf3d8\" stroke=\"#8a6d1d\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{name}</text>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{calls} calls, {cost} {}</text></g>",
            x + W / 2,
            y + 20,
            x + W / 2,
            y + 40,
            xml_escape(unit)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The flame graph of the folded stacks, drawn by `inferno`.
pub fn flame_graph_svg(g: &CallGraph, title: &str, unit: &str) -> Result<String> {
    let lines: Vec<String> = g
        .folded
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if lines.is_empty() {
        bail!("no completed calls in the trace: nothing to draw");
    }
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = title.to_string();
    opt.count_name = unit.to_string();
    let mut out = Vec::new();
    inferno::flamegraph::from_lines(&mut opt, lines.iter().map(|s| s.as_str()), &mut out)
        .map_err(|e| format!("inferno: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// What one traced run wrote.
pub struct Written {
    pub trace: Trace,
    pub raw: PathBuf,
    pub text: PathBuf,
    pub callgraph: PathBuf,
    pub flame: PathBuf,
}

/// Draw everything for `console` (a run's output) into `dir` as `stem.*`.
pub fn write_outputs(console: &str, dir: &Path, stem: &str) -> Result<Written> {
    let Some(lines) = dump_lines(console) else {
        bail!("the kernel printed no `{DUMP_BEGIN}` (was trace= on its command line?)");
    };
    let trace = parse(&lines);
    std::fs::create_dir_all(dir)?;
    let p = |ext: &str| dir.join(format!("{stem}.{ext}"));
    std::fs::write(p("raw.txt"), lines.join("\n") + "\n")?;
    std::fs::write(p("txt"), function_graph_text(&trace))?;
    let g = call_graph(&trace);
    let dot = call_graph_dot(&g, trace.unit());
    std::fs::write(p("callgraph.dot"), &dot)?;
    let svg = match graphviz(&dot) {
        Some(svg) => svg,
        None => call_graph_svg(&g, trace.unit()),
    };
    std::fs::write(p("callgraph.svg"), svg)?;
    let folded: String = g.folded.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    std::fs::write(p("folded"), folded)?;
    let flame = flame_graph_svg(&g, &format!("{stem}: kernel function graph"), trace.unit())?;
    std::fs::write(p("flame.svg"), flame)?;
    Ok(Written {
        trace,
        raw: p("raw.txt"),
        text: p("txt"),
        callgraph: p("callgraph.svg"),
        flame: p("flame.svg"),
    })
}

/// `dot -Tsvg` of `src` where Graphviz is installed.
fn graphviz(src: &str) -> Option<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(src.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run `prog_spec` traced with `filter` on `kernel` and draw the outputs into `dir`.
pub fn run(
    kernel: &Path,
    prog_spec: &str,
    filter: &str,
    memory: &str,
    icount: bool,
    dir: &Path,
    timeout: Duration,
) -> Result<(Written, String)> {
    if filter.is_empty() || filter.contains(char::is_whitespace) {
        bail!("--filter takes comma-separated words without spaces, e.g. `mm` or `sys_mlock,do_*`");
    }
    let cfg = QemuConfig {
        memory: memory.to_string(),
        cmdline: Some(qemu::init_cmdline(
            Some(format!("trace={filter}")),
            prog_spec,
            Vec::new(),
        )),
        icount,
        ..QemuConfig::default()
    };
    let run = qemu::run_captured(&cfg, kernel, &[], timeout)?;
    let text = run.text();
    if run.timed_out {
        bail!("QEMU timed out after {}s", timeout.as_secs());
    }
    if text.contains("Kernel panic") {
        let tail: String = crate::tail_lines(&text, 20)
            .iter()
            .map(|l| format!("\n    | {l}"))
            .collect();
        bail!("the kernel panicked{tail}");
    }
    let prog = prog_spec.split_whitespace().next().unwrap_or("trace");
    let stem = prog.rsplit('/').next().unwrap_or(prog);
    Ok((write_outputs(&text, dir, stem)?, text))
}

/// `cargo xtask trace ...`.
pub fn cmd_trace(args: Vec<String>) -> Result<i32> {
    let mut args = Args::new(args);
    let mut init: Option<String> = None;
    let mut filter = String::from("mm");
    let mut memory = String::from("512M");
    let mut icount = false;
    let mut release = true;
    while let Some(arg) = args.next_arg() {
        match arg {
            Arg::Opt(name, inline) => match name.as_str() {
                "init" => init = Some(args.value(&name, inline)?),
                "filter" => filter = args.value(&name, inline)?,
                "memory" => memory = args.value(&name, inline)?,
                "icount" => {
                    Args::flag(&name, inline)?;
                    icount = true
                }
                "debug" => {
                    Args::flag(&name, inline)?;
                    release = false
                }
                _ => bail!("trace: unknown option --{name} (see `cargo xtask help`)"),
            },
            Arg::Pos(p) => bail!("trace: unexpected argument `{p}` (quote PROG ARGS after --init)"),
        }
    }
    let Some(init) = init else {
        bail!("trace: --init \"PROG ARGS\" is required");
    };
    setup::check(setup::Needs {
        qemu: true,
        gdb: false,
    })?;
    let kernel = build::build_kernel(release)?;
    let dir = crate::workspace_root().join("target/trace");
    let (w, _) = run(
        &kernel,
        &init,
        &filter,
        &memory,
        icount,
        &dir,
        Duration::from_secs(600),
    )?;
    let calls = w
        .trace
        .recs
        .iter()
        .filter(|r| matches!(r, Rec::Entry { .. }))
        .count();
    println!(
        "xtask: {calls} calls traced (clock {}, {} lost to overwrite)",
        w.trace.clock, w.trace.overrun
    );
    for p in [&w.raw, &w.text, &w.callgraph, &w.flame] {
        println!("xtask: wrote {}", p.display());
    }
    Ok(0)
}

/// A traced run `cargo xtask test` checks (`trace-*`).
pub struct TraceCheck {
    pub name: &'static str,
    pub init: &'static str,
    pub filter: &'static str,
    /// Functions that must appear in this order, each called inside the previous one.
    pub chain: &'static [&'static str],
    /// Text of a trace_marker line the program writes.
    pub marker: &'static str,
}

/// The traced runs: seed 000's populate chain under mlock (DESIGN.md section 3).
pub const CHECKS: &[TraceCheck] = &[TraceCheck {
    name: "trace-mlock-chain",
    init: "/bin/mlock_demo",
    filter: "mm",
    chain: &[
        "sys_mlock",
        "do_mlock",
        "__mm_populate",
        "populate_vma_page_range",
        "__get_user_pages",
    ],
    marker: "mlock_demo: mlock 16 pages",
}];

/// Run one [`TraceCheck`] on `kernel` (debug) into target/trace/test/.
pub fn check(kernel: &Path, c: &TraceCheck) -> crate::test::Outcome {
    use crate::test::Outcome;
    let dir = crate::workspace_root().join("target/trace/test");
    match run(
        kernel,
        c.init,
        c.filter,
        "512M",
        false,
        &dir,
        Duration::from_secs(180),
    ) {
        Ok((w, text)) => {
            let why = check_outputs(&w, c.chain, c.marker);
            if why.is_empty() {
                Outcome::pass(c.name)
            } else {
                Outcome::fail(c.name, why.join("; "), crate::tail_lines(&text, 10))
            }
        }
        Err(e) => Outcome::fail(c.name, e.0, Vec::new()),
    }
}

/// The checks `cargo xtask test` makes of a traced run (`trace-*` jobs): `chain` appears
/// nested in the text graph in order, both SVGs are well-formed XML naming every
/// function of `chain`, and a marker line is in the text.
pub fn check_outputs(w: &Written, chain: &[&str], marker: &str) -> Vec<String> {
    let mut why = Vec::new();
    let text = std::fs::read_to_string(&w.text).unwrap_or_default();
    if let Err(e) = chain_nested(&text, chain) {
        why.push(e);
    }
    if !text
        .lines()
        .any(|l| l.contains("/* ") && l.contains(marker))
    {
        why.push(format!(
            "no trace_marker line containing `{marker}` in {}",
            w.text.display()
        ));
    }
    for svg in [&w.callgraph, &w.flame] {
        let s = std::fs::read_to_string(svg).unwrap_or_default();
        match parse_svg(&s) {
            Ok(doc) => {
                if doc.root_element().tag_name().name() != "svg" {
                    why.push(format!("{}: root element is not <svg>", svg.display()));
                }
                let all: String = doc
                    .descendants()
                    .filter_map(|n| n.text())
                    .collect::<Vec<_>>()
                    .join("\n");
                for f in chain {
                    if !all.contains(f) {
                        why.push(format!("{}: no `{f}`", svg.display()));
                    }
                }
            }
            Err(e) => why.push(format!("{}: not XML: {e}", svg.display())),
        }
    }
    why
}

/// Parse an SVG as XML (inferno's output starts with a DOCTYPE, which roxmltree refuses
/// unless allowed).
pub fn parse_svg(s: &str) -> std::result::Result<roxmltree::Document<'_>, roxmltree::Error> {
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(s, opt)
}

/// Does the function_graph text hold `chain[0]() {`, then, each nested one level deeper
/// inside the previous one, `chain[1]() {` ... the last (opened or a leaf)?
pub fn chain_nested(text: &str, chain: &[&str]) -> std::result::Result<(), String> {
    // Depth of a line = indentation after the `|`.
    let parse = |l: &str| -> Option<(usize, String)> {
        let (_, body) = l.split_once('|')?;
        let ind = body.len() - body.trim_start().len();
        Some((ind, body.trim_start().to_string()))
    };
    let lines: Vec<(usize, String)> = text.lines().filter_map(parse).collect();
    'start: for (i, (ind0, body)) in lines.iter().enumerate() {
        if *body != format!("{}() {{", chain[0]) {
            continue;
        }
        let mut want_ind = ind0 + 2;
        let mut k = 1;
        for (ind, body) in &lines[i + 1..] {
            if k == chain.len() {
                return Ok(());
            }
            if *ind < want_ind {
                continue 'start; // left the enclosing call
            }
            if *ind == want_ind
                && (*body == format!("{}() {{", chain[k]) || *body == format!("{}();", chain[k]))
            {
                k += 1;
                want_ind += 2;
            }
        }
        if k == chain.len() {
            return Ok(());
        }
    }
    Err(format!(
        "the call chain {} is not in the text graph",
        chain.join(" -> ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "noise\r\nDumping ftrace buffer:\r\n\
        # tracer: function_graph clock=inst entries=9 overrun=0\r\n\
        M 1 0 5 step one\r\n\
        E 1 0 10 sys_mlock\r\n\
        E 1 1 12 do_mlock\r\n\
        E 1 2 14 find_vma\r\n\
        R 1 2 16 2 find_vma\r\n\
        E 1 2 20 __mm_populate\r\n\
        R 1 2 40 20 __mm_populate\r\n\
        R 1 1 41 29 do_mlock\r\n\
        R 1 0 50 40 sys_mlock\r\n\
        End of ftrace buffer\r\nafter\r\n";

    fn trace() -> Trace {
        parse(&dump_lines(DUMP).unwrap())
    }

    #[test]
    fn parses_the_dump_between_its_markers() {
        let t = trace();
        assert_eq!(t.clock, "inst");
        assert_eq!(t.recs.len(), 9);
        assert_eq!(
            t.recs[1],
            Rec::Entry {
                pid: 1,
                depth: 0,
                time: 10,
                func: "sys_mlock".into()
            }
        );
        assert!(matches!(&t.recs[0], Rec::Marker { text, .. } if text == "step one"));
        assert!(dump_lines("no dump here").is_none());
    }

    #[test]
    fn text_nests_calls_and_folds_leaves() {
        let s = function_graph_text(&trace());
        let body: Vec<&str> = s
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_once('|').unwrap().1)
            .collect();
        assert_eq!(
            body,
            [
                "  /* step one */",
                "  sys_mlock() {",
                "    do_mlock() {",
                "      find_vma();",
                "      __mm_populate();",
                "    } /* do_mlock */",
                "  } /* sys_mlock */",
            ]
        );
        assert!(s.contains("           2  |      find_vma();"));
        assert!(chain_nested(&s, &["sys_mlock", "do_mlock", "__mm_populate"]).is_ok());
        assert!(chain_nested(&s, &["sys_mlock", "__mm_populate"]).is_err());
        assert!(chain_nested(&s, &["do_mlock", "sys_mlock"]).is_err());
    }

    #[test]
    fn call_graph_counts_calls_and_self_cost() {
        let g = call_graph(&trace());
        assert_eq!(g.nodes["sys_mlock"], (1, 40));
        assert_eq!(
            g.edges[&("do_mlock".to_string(), "find_vma".to_string())],
            1
        );
        assert_eq!(g.folded["sys_mlock;do_mlock"], 29 - 2 - 20);
        assert_eq!(g.folded["sys_mlock"], 40 - 29);
        assert_eq!(g.folded["sys_mlock;do_mlock;__mm_populate"], 20);
    }

    #[test]
    fn both_svgs_are_xml_naming_the_functions() {
        let g = call_graph(&trace());
        for svg in [
            call_graph_svg(&g, "instructions"),
            flame_graph_svg(&g, "t", "instructions").unwrap(),
        ] {
            let doc = parse_svg(&svg).expect("well-formed");
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            let all: String = doc.descendants().filter_map(|n| n.text()).collect();
            for f in ["sys_mlock", "do_mlock", "__mm_populate", "find_vma"] {
                assert!(all.contains(f), "{f} missing");
            }
        }
        assert!(call_graph_dot(&g, "i").contains("\"sys_mlock\" -> \"do_mlock\""));
    }

    #[test]
    fn a_return_without_its_entry_is_kept_as_a_root() {
        let t = parse(&["R 2 3 9 7 lost_entry".to_string()]);
        let g = call_graph(&t);
        assert_eq!(g.nodes["lost_entry"], (1, 7));
        assert!(function_graph_text(&t).contains("} /* lost_entry */"));
    }
}

/// The functions the tracer must know, found in the kernel's sources: every
/// `#[no_mangle]` function in `kernel/src/mm` (tests aside) and in the arch fault
/// handlers (`arch/aarch64/fault.rs`), and every `sys_*` system-call handler (taking
/// `SyscallArgs`). Run by the host tests (`host:xtask`) against
/// `kernel/src/kernel/trace/sites.rs`.
#[cfg(test)]
pub fn expected_sites(files: &[(String, String)]) -> BTreeSet<String> {
    let mut want = BTreeSet::new();
    for (path, src) in files {
        let lines: Vec<&str> = src.lines().collect();
        // Inside a `#[cfg(test)] mod tests { ... }` (until its closing `}` at column 0).
        let mut in_test = false;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                let next = lines.get(i + 1).map_or("", |l| l.trim_end());
                in_test = next.contains("mod ") && next.ends_with('{');
                continue;
            }
            if in_test {
                in_test = !line.starts_with('}');
                continue;
            }
            if line.starts_with(' ') {
                continue;
            }
            let Some(at) = line.find("fn ") else { continue };
            let head = &line[..at];
            if !head
                .split_whitespace()
                .all(|w| ["pub", "pub(crate)", "unsafe", "extern", "\"C\""].contains(&w))
            {
                continue;
            }
            let name: String = line[at + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let mut j = i;
            let mut no_mangle = false;
            while j > 0 && lines[j - 1].trim_start().starts_with(['#', '/']) {
                j -= 1;
                no_mangle |= lines[j].trim() == "#[no_mangle]";
            }
            let sig: String = lines[i..]
                .iter()
                .take_while(|l| !l.trim_end().ends_with('{') && !l.trim_end().ends_with(';'))
                .chain(
                    lines.get(
                        i + lines[i..]
                            .iter()
                            .take_while(|l| {
                                !l.trim_end().ends_with('{') && !l.trim_end().ends_with(';')
                            })
                            .count(),
                    ),
                )
                .copied()
                .collect();
            let in_mm = path.contains("/mm/") || path.ends_with("arch/aarch64/fault.rs");
            let syscall = name.starts_with("sys_") && sig.contains("SyscallArgs");
            if (in_mm && no_mangle && sig.trim_end().ends_with('{')) || syscall {
                want.insert(name);
            }
        }
    }
    want
}

/// The names in `sites.rs` (`FtraceSite::new("name"),` lines).
#[cfg(test)]
pub fn listed_sites(src: &str) -> Vec<String> {
    src.lines()
        .filter_map(|l| l.trim().strip_prefix("FtraceSite::new(\""))
        .filter_map(|l| l.strip_suffix("\"),"))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod site_tests {
    use super::*;

    fn sources() -> Vec<(String, String)> {
        let root = crate::workspace_root().join("kernel/src");
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("mm"),
            root.join("fs"),
            root.join("kernel"),
            root.join("net"),
            root.join("task"),
            root.join("ipc"),
        ];
        let mut out = vec![
            root.join("arch/aarch64/fault.rs"),
            root.join("arch/aarch64/signal.rs"),
        ];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        for p in out {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with("_tests.rs") || name == "tests.rs" || name == "vma_testing.rs" {
                continue;
            }
            files.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
        files
    }

    #[test]
    fn ftrace_sites_lists_every_teaching_function_once() {
        let want = expected_sites(&sources());
        let path = crate::workspace_root().join("kernel/src/kernel/trace/sites.rs");
        let listed = listed_sites(&std::fs::read_to_string(path).unwrap());
        let have: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(
            have.len(),
            listed.len(),
            "a name is listed twice in sites.rs"
        );
        let missing: Vec<_> = want.difference(&have).collect();
        let extra: Vec<_> = have.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "kernel/src/kernel/trace/sites.rs: add {missing:?}, remove {extra:?}"
        );
        assert!(
            want.len() > 200,
            "only {} teaching functions found",
            want.len()
        );
    }

    #[test]
    fn ftrace_sites_rule_takes_no_mangle_in_mm_and_syscall_handlers() {
        let mm = "#[no_mangle]\n#[inline(never)]\npub fn do_mlock(\n    a: usize,\n) -> i32 {\n    0\n}\n\
                  pub fn helper() {\n}\n#[cfg(test)]\nmod tests {\n#[no_mangle]\npub fn t() {}\n}\n";
        let sys =
            "pub fn sys_getpid(_: SyscallArgs, _: &mut PtRegs) -> KResult<usize> {\n    Ok(1)\n}\n\
                   #[no_mangle]\npub fn not_mm() {\n}\n";
        let got = expected_sites(&[
            ("k/src/mm/mlock.rs".into(), mm.into()),
            ("k/src/task/exit.rs".into(), sys.into()),
        ]);
        let got: Vec<&str> = got.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, ["do_mlock", "sys_getpid"]);
        assert_eq!(
            listed_sites("    // mm\n    FtraceSite::new(\"a\"),\n    FtraceSite::new(\"b\"),\n"),
            ["a", "b"]
        );
    }
}

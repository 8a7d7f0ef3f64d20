//! A small shell: reads a line, splits it on blanks (with '...' and "..." quoting), runs the program with fork + execve
//! + wait4, and reports a non-zero status or a fatal signal. Built-ins: `cd`, `exit`,
//! `echo`, `help`. A program name without `/` is looked up in /bin.
//! `sh -c "command line"` runs one line and exits with its status.
#![no_std]
#![no_main]
use ulib::*;

const MAX_ARGS: usize = 32;

fn blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Split `line` in place into NUL-terminated words; returns their start offsets. Quotes
/// are removed as POSIX sh does: '...' keeps everything literally, "..." too except
/// that a backslash escapes `"`, `\`, `$` and a backquote, and outside quotes a
/// backslash escapes any character (what `popen("zcat '/proc/config.gz'")` needs).
/// Words only shrink, so they are compacted in place.
fn split(line: &mut [u8], len: usize, starts: &mut [usize; MAX_ARGS]) -> usize {
    let mut n = 0;
    let (mut i, mut w) = (0, 0);
    while i < len && n < MAX_ARGS - 1 {
        while i < len && blank(line[i]) {
            i += 1;
        }
        if i >= len {
            break;
        }
        starts[n] = w;
        n += 1;
        let mut quote = 0u8;
        while i < len {
            let c = line[i];
            if quote == 0 && blank(c) {
                break;
            }
            i += 1;
            if quote == 0 && (c == b'\'' || c == b'"') {
                quote = c;
                continue;
            }
            if quote != 0 && c == quote {
                quote = 0;
                continue;
            }
            let escapes = match quote {
                0 => true,
                b'"' => i < len && matches!(line[i], b'"' | b'\\' | b'$' | b'`'),
                _ => false,
            };
            if c == b'\\' && escapes && i < len {
                line[w] = line[i];
                w += 1;
                i += 1;
                continue;
            }
            line[w] = c;
            w += 1;
        }
        if i < len {
            i += 1; // the blank that ended the word: the terminator may take its place
        }
        line[w] = 0;
        w += 1;
    }
    n
}

fn word(line: &[u8], start: usize) -> &str {
    let end = line[start..]
        .iter()
        .position(|&b| b == 0)
        .map_or(line.len(), |e| start + e);
    core::str::from_utf8(&line[start..end]).unwrap_or("")
}

/// Run one command line; returns its status (0-255).
fn run(line: &mut [u8], len: usize) -> i32 {
    let mut starts = [0usize; MAX_ARGS];
    let n = split(line, len, &mut starts);
    if n == 0 {
        return 0;
    }
    let cmd = word(line, starts[0]);
    match cmd {
        "exit" => exit_group(if n > 1 {
            parse(word(line, starts[1]))
        } else {
            0
        }),
        "echo" => {
            let mut out = ulib::io::Fd(1);
            for i in 1..n {
                let _ = core::fmt::Write::write_str(&mut out, word(line, starts[i]));
                if i + 1 < n {
                    let _ = core::fmt::Write::write_str(&mut out, " ");
                }
            }
            println!("");
            return 0;
        }
        "cd" => {
            let mut path = [0u8; 256];
            let dir = if n > 1 { word(line, starts[1]) } else { "/" };
            let l = dir.len().min(255);
            path[..l].copy_from_slice(&dir.as_bytes()[..l]);
            let r = unsafe { syscall3(49, path.as_ptr() as usize, 0, 0) };
            if r < 0 {
                eprintln!("cd: {}: {}", dir, errno::name(-r as i32));
                return 1;
            }
            return 0;
        }
        "help" => {
            println!("built-ins: cd, echo, exit, help; programs in /bin (try: ls /bin)");
            return 0;
        }
        _ => {}
    }
    // Build the path: /bin/<cmd> unless it contains a slash.
    let mut path = [0u8; 256];
    let mut p = 0;
    if !cmd.contains('/') {
        path[..5].copy_from_slice(b"/bin/");
        p = 5;
    }
    let l = cmd.len().min(250);
    path[p..p + l].copy_from_slice(&cmd.as_bytes()[..l]);
    let mut argv: [*const u8; MAX_ARGS + 1] = [core::ptr::null(); MAX_ARGS + 1];
    for i in 0..n {
        argv[i] = line[starts[i]..].as_ptr();
    }
    let envp: [*const u8; 3] = [
        b"HOME=/\0".as_ptr(),
        b"PATH=/bin\0".as_ptr(),
        core::ptr::null(),
    ];
    let pid = fork();
    if pid == 0 {
        let cpath = core::ffi::CStr::from_bytes_until_nul(&path).unwrap_or(c"/");
        let r = execve(cpath, &argv[..n + 1], &envp);
        eprintln!("sh: {}: {}", cmd, errno::name(-r as i32));
        exit_group(127);
    }
    if pid < 0 {
        eprintln!("sh: fork: {}", errno::name(-pid as i32));
        return 1;
    }
    let mut status = 0i32;
    wait4(pid as i32, Some(&mut status), 0);
    let st = Wstatus(status);
    if st.signaled() {
        println!(
            "sh: {} killed by {}{}",
            cmd,
            signal_name(st.term_sig()),
            if st.core_dump() { " (core dumped)" } else { "" }
        );
        128 + st.term_sig()
    } else {
        if st.exit_status() != 0 {
            println!("sh: {} exited with status {}", cmd, st.exit_status());
        }
        st.exit_status()
    }
}

fn parse(s: &str) -> i32 {
    s.bytes().fold(0i32, |a, b| {
        if b.is_ascii_digit() {
            a * 10 + (b - b'0') as i32
        } else {
            a
        }
    })
}

#[no_mangle]
fn main(args: Args) -> i32 {
    let mut line = [0u8; 512];
    if args.get(1) == Some("-c") {
        // Join the remaining arguments into one command line.
        let mut len = 0;
        for i in 2..args.len() {
            let a = args.get(i).unwrap_or("").as_bytes();
            if len + a.len() + 1 >= line.len() {
                break;
            }
            line[len..len + a.len()].copy_from_slice(a);
            len += a.len();
            line[len] = b' ';
            len += 1;
        }
        return run(&mut line, len);
    }
    loop {
        print!("$ ");
        let n = read(0, &mut line[..511]);
        if n <= 0 {
            println!("");
            return 0; // end of file (Ctrl-D)
        }
        let mut len = n as usize;
        while len > 0 && (line[len - 1] == b'\n' || line[len - 1] == b'\r') {
            len -= 1;
        }
        run(&mut line, len);
    }
}

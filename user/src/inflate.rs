//! gzip decompression (RFC 1952 members holding RFC 1951 deflate data), streaming, with no
//! heap: a 4 KiB input buffer and the 32 KiB window deflate's back references need. What
//! `zcat` runs; written from the RFCs.
//!
//! Huffman codes are decoded canonically, one bit at a time: per code length, the number
//! of codes of that length and the symbols in code order are all a decoder needs.

/// Where compressed bytes come from: read(2)-like, 0 at the end, < 0 on error.
pub trait Source {
    /// Fill `buf` with up to `buf.len()` bytes.
    fn fill(&mut self, buf: &mut [u8]) -> isize;
}

/// Where decompressed bytes go; false stops with an error.
pub trait Sink {
    /// Take `data`.
    fn put(&mut self, data: &[u8]) -> bool;
}

const WSIZE: usize = 32768;
const MAXBITS: usize = 15;
const LBASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEXT: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DBASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DEXT: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order code-length code lengths are sent in (RFC 1951 3.2.7).
const CLORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A canonical Huffman code: how many codes have each length, and the symbols in code
/// order.
struct Huffman {
    count: [u16; MAXBITS + 1],
    symbol: [u16; 288],
}

impl Huffman {
    /// The code for symbols `0..lengths.len()` with these code lengths (0: unused).
    /// Err for an over-subscribed set; an incomplete one is allowed (a single distance
    /// code is legal).
    fn new(lengths: &[u8]) -> Result<Huffman, &'static str> {
        let mut h = Huffman {
            count: [0; MAXBITS + 1],
            symbol: [0; 288],
        };
        for &l in lengths {
            h.count[l as usize] += 1;
        }
        let mut left: i32 = 1;
        for len in 1..=MAXBITS {
            left = (left << 1) - h.count[len] as i32;
            if left < 0 {
                return Err("over-subscribed Huffman code");
            }
        }
        let mut offs = [0u16; MAXBITS + 1];
        for len in 1..MAXBITS {
            offs[len + 1] = offs[len] + h.count[len];
        }
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                h.symbol[offs[l as usize] as usize] = sym as u16;
                offs[l as usize] += 1;
            }
        }
        Ok(h)
    }
}

/// The decompressor's state: input buffer and bit reservoir, output window, CRC.
pub struct Gunzip<'a> {
    src: &'a mut dyn Source,
    out: &'a mut dyn Sink,
    inbuf: [u8; 4096],
    inpos: usize,
    inlen: usize,
    eof: bool,
    bitbuf: u32,
    bitcnt: u32,
    window: [u8; WSIZE],
    /// Bytes produced in this member (the window index is this mod WSIZE).
    total: u64,
    /// Bytes of the window already handed to the sink.
    flushed: u64,
    crc: u32,
}

/// Decompress every gzip member `src` holds into `out`; the number of bytes produced.
pub fn gunzip(src: &mut dyn Source, out: &mut dyn Sink) -> Result<u64, &'static str> {
    let mut g = Gunzip {
        src,
        out,
        inbuf: [0; 4096],
        inpos: 0,
        inlen: 0,
        eof: false,
        bitbuf: 0,
        bitcnt: 0,
        window: [0; WSIZE],
        total: 0,
        flushed: 0,
        crc: 0,
    };
    let mut all = 0;
    let mut members = 0;
    loop {
        match g.byte_or_end()? {
            None if members > 0 => return Ok(all),
            None => return Err("not in gzip format"),
            Some(b) => {
                if b != 0x1f || g.byte()? != 0x8b {
                    return Err("not in gzip format");
                }
            }
        }
        all += g.member()?;
        members += 1;
    }
}

impl Gunzip<'_> {
    fn byte_or_end(&mut self) -> Result<Option<u8>, &'static str> {
        if self.inpos == self.inlen {
            if self.eof {
                return Ok(None);
            }
            let n = self.src.fill(&mut self.inbuf);
            if n < 0 {
                return Err("read error");
            }
            if n == 0 {
                self.eof = true;
                return Ok(None);
            }
            self.inpos = 0;
            self.inlen = n as usize;
        }
        self.inpos += 1;
        Ok(Some(self.inbuf[self.inpos - 1]))
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        self.byte_or_end()?.ok_or("unexpected end of file")
    }

    /// `n` bits (n <= 16), least significant first.
    fn bits(&mut self, n: u32) -> Result<u32, &'static str> {
        while self.bitcnt < n {
            self.bitbuf |= (self.byte()? as u32) << self.bitcnt;
            self.bitcnt += 8;
        }
        let v = self.bitbuf & ((1u32 << n) - 1);
        self.bitbuf >>= n;
        self.bitcnt -= n;
        Ok(v)
    }

    fn le32(&mut self) -> Result<u32, &'static str> {
        let mut v = 0;
        for i in 0..4 {
            v |= (self.byte()? as u32) << (8 * i);
        }
        Ok(v)
    }

    /// One member after its magic: header, deflate blocks, trailer (CRC-32, size).
    fn member(&mut self) -> Result<u64, &'static str> {
        const FHCRC: u8 = 2;
        const FEXTRA: u8 = 4;
        const FNAME: u8 = 8;
        const FCOMMENT: u8 = 16;
        if self.byte()? != 8 {
            return Err("unknown compression method");
        }
        let flg = self.byte()?;
        for _ in 0..6 {
            self.byte()?; // MTIME, XFL, OS
        }
        if flg & FEXTRA != 0 {
            let xlen = self.byte()? as usize | (self.byte()? as usize) << 8;
            for _ in 0..xlen {
                self.byte()?;
            }
        }
        for f in [FNAME, FCOMMENT] {
            if flg & f != 0 {
                while self.byte()? != 0 {}
            }
        }
        if flg & FHCRC != 0 {
            self.byte()?;
            self.byte()?;
        }
        self.total = 0;
        self.flushed = 0;
        self.crc = !0;
        self.bitbuf = 0;
        self.bitcnt = 0;
        loop {
            let last = self.bits(1)?;
            match self.bits(2)? {
                0 => self.stored()?,
                1 => self.fixed()?,
                2 => self.dynamic()?,
                _ => return Err("invalid block type"),
            }
            if last == 1 {
                break;
            }
        }
        self.flush()?;
        // The trailer starts at the next byte boundary.
        self.bitbuf = 0;
        self.bitcnt = 0;
        let crc = self.le32()?;
        let isize = self.le32()?;
        if crc != !self.crc {
            return Err("CRC error");
        }
        if isize != self.total as u32 {
            return Err("length error");
        }
        Ok(self.total)
    }

    fn put(&mut self, b: u8) -> Result<(), &'static str> {
        self.window[(self.total % WSIZE as u64) as usize] = b;
        self.total += 1;
        if self.total % WSIZE as u64 == 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Hand the window's new bytes to the sink.
    fn flush(&mut self) -> Result<(), &'static str> {
        if self.flushed == self.total {
            return Ok(());
        }
        let start = (self.flushed % WSIZE as u64) as usize;
        let len = (self.total - self.flushed) as usize;
        let chunk = &self.window[start..start + len];
        self.crc = crc32_update(self.crc, chunk);
        if !self.out.put(chunk) {
            return Err("write error");
        }
        self.flushed = self.total;
        Ok(())
    }

    fn stored(&mut self) -> Result<(), &'static str> {
        self.bitbuf = 0;
        self.bitcnt = 0;
        let len = self.byte()? as u16 | (self.byte()? as u16) << 8;
        let nlen = self.byte()? as u16 | (self.byte()? as u16) << 8;
        if len != !nlen {
            return Err("stored block length mismatch");
        }
        for _ in 0..len {
            let b = self.byte()?;
            self.put(b)?;
        }
        Ok(())
    }

    fn decode(&mut self, h: &Huffman) -> Result<u16, &'static str> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAXBITS {
            code |= self.bits(1)? as i32;
            let count = h.count[len] as i32;
            if code - first < count {
                return Ok(h.symbol[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code")
    }

    fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), &'static str> {
        loop {
            let sym = self.decode(lit)? as usize;
            if sym < 256 {
                self.put(sym as u8)?;
                continue;
            }
            if sym == 256 {
                return Ok(());
            }
            let i = sym - 257;
            if i >= LBASE.len() {
                return Err("invalid length code");
            }
            let len = LBASE[i] as usize + self.bits(LEXT[i] as u32)? as usize;
            let d = self.decode(dist)? as usize;
            if d >= DBASE.len() {
                return Err("invalid distance code");
            }
            let dist = DBASE[d] as u64 + self.bits(DEXT[d] as u32)? as u64;
            if dist > self.total {
                return Err("distance too far back");
            }
            for _ in 0..len {
                let b = self.window[((self.total - dist) % WSIZE as u64) as usize];
                self.put(b)?;
            }
        }
    }

    fn fixed(&mut self) -> Result<(), &'static str> {
        let mut l = [0u8; 288];
        l[..144].fill(8);
        l[144..256].fill(9);
        l[256..280].fill(7);
        l[280..].fill(8);
        let lit = Huffman::new(&l)?;
        let dist = Huffman::new(&[5u8; 30])?;
        self.codes(&lit, &dist)
    }

    fn dynamic(&mut self) -> Result<(), &'static str> {
        let nlen = self.bits(5)? as usize + 257;
        let ndist = self.bits(5)? as usize + 1;
        let ncode = self.bits(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return Err("bad counts");
        }
        let mut cl = [0u8; 19];
        for &i in CLORDER.iter().take(ncode) {
            cl[i] = self.bits(3)? as u8;
        }
        let clh = Huffman::new(&cl)?;
        let mut lengths = [0u8; 316];
        let mut n = 0;
        while n < nlen + ndist {
            let sym = self.decode(&clh)?;
            let (val, rep) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    if n == 0 {
                        return Err("repeat with no first length");
                    }
                    (lengths[n - 1], 3 + self.bits(2)? as usize)
                }
                17 => (0, 3 + self.bits(3)? as usize),
                _ => (0, 11 + self.bits(7)? as usize),
            };
            if n + rep > nlen + ndist {
                return Err("too many lengths");
            }
            lengths[n..n + rep].fill(val);
            n += rep;
        }
        if lengths[256] == 0 {
            return Err("no end-of-block code");
        }
        let lit = Huffman::new(&lengths[..nlen])?;
        let dist = Huffman::new(&lengths[nlen..nlen + ndist])?;
        self.codes(&lit, &dist)
    }
}

/// CRC-32 (gzip's: reflected, polynomial 0xedb88320) over `data`, from a running value
/// that starts at !0 and is inverted at the end.
pub fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    crc
}

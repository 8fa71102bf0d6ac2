//! The frame every saved store shares: magic (8 bytes), format version (u32), the size of the
//! layout the records depend on (u32: a build with another layout refuses the file), record count
//! (u64), the records, and an FNV-1a 64 checksum of everything before it. Little-endian.

pub use crate::hash::fnv1a;

const HEADER: usize = 8 + 4 + 4 + 8;

/// Start a file; the records are appended to the returned buffer, then [`finish`] it.
pub fn begin(magic: &[u8; 8], version: u32, layout: usize, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + capacity + 8);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(layout as u32).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out
}

/// Write the record count and append the checksum.
pub fn finish(mut out: Vec<u8>, count: u64) -> Vec<u8> {
    out[16..24].copy_from_slice(&count.to_le_bytes());
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A checked file: its version and record count, and a reader at the first record.
pub struct Opened<'a> {
    pub version: u32,
    pub count: u64,
    pub records: Reader<'a>,
}

/// Check a file's checksum, magic, version (one of `versions`) and layout size.
pub fn open<'a>(bytes: &'a [u8], magic: &[u8; 8], versions: &[u32], layout: usize) -> Result<Opened<'a>, String> {
    if bytes.len() < HEADER + 8 {
        return Err("file too short".into());
    }
    let (body, tail) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(tail.try_into().unwrap()) {
        return Err("checksum mismatch".into());
    }
    let mut r = Reader { buf: body, pos: 0 };
    if r.take(8)? != magic {
        return Err("bad magic number".into());
    }
    let version = r.u32()?;
    if !versions.contains(&version) {
        return Err(format!("format version {version}, expected {}", versions[0]));
    }
    let size = r.u32()? as usize;
    if size != layout {
        return Err(format!("a record layout of {size} bytes, expected {layout}"));
    }
    let count = r.u64()?;
    Ok(Opened { version, count, records: r })
}

/// Reads a file's records in order; every read is bounds-checked.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() - self.pos < n {
            return Err(format!("truncated at byte {}", self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    pub fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

//! The on-disk form of the statement store, written at clean shutdown and read at start.
//!
//! The frame of `stats::dump`: magic `PGOPTSTM`, the layout size is that of [`Counters`]. A record: userid u32, dbid u32, queryid u64, toplevel u8,
//! counters, text (u32 length + bytes), example (u32 length, u32 length of its statement part,
//! bytes), then (version 2) the texts' encoding (i32) and their flags (u8: bit 0 the text was cut,
//! bit 1 the example was cut). Version 1 files (no encoding, no flags) still load: their texts are
//! taken to be in the reading database's encoding, as they were read before. Any mismatch makes
//! [`decode`] fail with a reason; the caller logs it and starts empty.

use super::dump;
use zerocopy::{FromBytes, IntoBytes};
use super::Counters;

pub const MAGIC: &[u8; 8] = b"PGOPTSTM";
pub const VERSION: u32 = 2;
/// The encoding of a record from a version 1 file: unknown, read as the reading database's.
pub const UNKNOWN_ENCODING: i32 = -1;
/// `Record::flags`: the normalised text was cut at the limit.
pub const TEXT_TRUNCATED: u8 = 1;
/// `Record::flags`: the example was cut at the limit.
pub const EXAMPLE_TRUNCATED: u8 = 2;

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub userid: u32,
    pub dbid: u32,
    pub queryid: u64,
    pub toplevel: bool,
    pub counters: Counters,
    pub text: Vec<u8>,
    pub example: Vec<u8>,
    /// How many leading bytes of `example` are the statement; the rest are its parameter values.
    pub example_stmt_len: u32,
    /// The server encoding (`pg_enc`) the texts are in, or [`UNKNOWN_ENCODING`].
    pub encoding: i32,
    /// [`TEXT_TRUNCATED`], [`EXAMPLE_TRUNCATED`].
    pub flags: u8,
}


fn counters_bytes(c: &Counters) -> &[u8] {
    // No padding, every byte a field: the IntoBytes derive proves it.
    c.as_bytes()
}

pub fn encode<'a>(records: impl IntoIterator<Item = &'a Record>) -> Vec<u8> {
    encode_as(records, VERSION)
}

/// [`encode`] in format `version` (1: without the encoding and flags; the tests write old files).
fn encode_as<'a>(records: impl IntoIterator<Item = &'a Record>, version: u32) -> Vec<u8> {
    let mut out = dump::begin(MAGIC, version, std::mem::size_of::<Counters>(), 4096);
    let mut count = 0u64;
    for r in records {
        out.extend_from_slice(&r.userid.to_le_bytes());
        out.extend_from_slice(&r.dbid.to_le_bytes());
        out.extend_from_slice(&r.queryid.to_le_bytes());
        out.push(r.toplevel as u8);
        out.extend_from_slice(counters_bytes(&r.counters));
        out.extend_from_slice(&(r.text.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.text);
        out.extend_from_slice(&(r.example.len() as u32).to_le_bytes());
        out.extend_from_slice(&r.example_stmt_len.to_le_bytes());
        out.extend_from_slice(&r.example);
        if version >= 2 {
            out.extend_from_slice(&r.encoding.to_le_bytes());
            out.push(r.flags);
        }
        count += 1;
    }
    dump::finish(out, count)
}

/// Parse a dump. `max_text` bounds every text (a longer one means corruption).
pub fn decode(bytes: &[u8], max_text: usize) -> Result<Vec<Record>, String> {
    let csize = std::mem::size_of::<Counters>();
    let dump::Opened { version, count, records: mut r } = dump::open(bytes, MAGIC, &[VERSION, 1], csize)?;
    let mut out = Vec::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let userid = r.u32()?;
        let dbid = r.u32()?;
        let queryid = r.u64()?;
        let toplevel = r.take(1)?[0] != 0;
        let cbytes = r.take(csize)?;
        // Any bit pattern is a valid Counters (the FromBytes derive proves it).
        let counters = Counters::read_from_bytes(cbytes).map_err(|_| "bad counters".to_string())?;
        let tlen = r.u32()? as usize;
        if tlen > max_text {
            return Err(format!("text of {tlen} bytes exceeds the limit of {max_text}"));
        }
        let text = r.take(tlen)?.to_vec();
        let elen = r.u32()? as usize;
        let example_stmt_len = r.u32()?;
        if elen > max_text || example_stmt_len as usize > elen {
            return Err("bad example length".into());
        }
        let example = r.take(elen)?.to_vec();
        let (encoding, flags) = if version == 1 {
            (UNKNOWN_ENCODING, 0)
        } else {
            (i32::from_le_bytes(r.take(4)?.try_into().unwrap()), r.take(1)?[0])
        };
        out.push(Record { userid, dbid, queryid, toplevel, counters, text, example, example_stmt_len, encoding, flags });
    }
    if r.remaining() != 0 {
        return Err(format!("{} trailing bytes", r.remaining()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::dump::fnv1a;
    use super::*;
    use crate::stats::Usage;

    fn sample() -> Vec<Record> {
        let mut c = Counters::new(10, 1.0);
        c.record_execution(3.5, &Usage { rows: 4, wal_bytes: 99, ..Default::default() }, 20);
        vec![
            Record { userid: 10, dbid: 5, queryid: 0xdead_beef_0000_0001, toplevel: true, counters: c, text: b"select $1".to_vec(), example: b"select 1".to_vec(), example_stmt_len: 8, encoding: 6, flags: 0 },
            Record { userid: 11, dbid: 5, queryid: 7, toplevel: false, counters: Counters::default(), text: vec![], example: b"select $1$1 = '2'".to_vec(), example_stmt_len: 9, encoding: 8, flags: TEXT_TRUNCATED | EXAMPLE_TRUNCATED },
        ]
    }

    #[test]
    fn roundtrip() {
        let recs = sample();
        let bytes = encode(&recs);
        assert_eq!(decode(&bytes, 1024).unwrap(), recs);
        assert_eq!(decode(&encode(&[]), 1024).unwrap(), vec![]);
    }

    #[test]
    fn corruption_is_detected() {
        let bytes = encode(&sample());
        // every single flipped byte is caught
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode(&b, 1024).is_err(), "flip at {i} not detected");
        }
        // truncation
        assert!(decode(&bytes[..bytes.len() - 1], 1024).is_err());
        assert!(decode(&bytes[..10], 1024).is_err());
        assert!(decode(b"", 1024).is_err());
        // a text longer than this server allows
        assert!(decode(&bytes, 4).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn wrong_version_is_refused_even_with_a_good_checksum() {
        let mut b = encode(&sample());
        b[8] = 9;
        let n = b.len() - 8;
        let sum = fnv1a(&b[..n]);
        b[n..].copy_from_slice(&sum.to_le_bytes());
        assert!(decode(&b, 1024).unwrap_err().contains("version"));
    }

    #[test]
    fn version_1_files_still_load_with_unknown_encoding() {
        // A version 1 file: the same records without the encoding and flags of version 2.
        let recs = sample();
        let b = encode_as(&recs, 1);
        let loaded = decode(&b, 1024).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[1].example, recs[1].example);
        assert!(loaded.iter().all(|r| r.encoding == UNKNOWN_ENCODING && r.flags == 0));
    }
}

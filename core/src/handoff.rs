//! Commands handed to a job runner in a dynamic shared memory segment, and its results.
//!
//! `optimizer.run_in_worker(commands)` runs commands that cannot run inside a function (VACUUM,
//! REINDEX CONCURRENTLY) at the top level of a background worker, as the calling role, and waits.
//! The caller writes a [`Request`] into the segment; the runner sets the segment's "taken" word
//! once it has read the request (a caller that does not wait for the outcome may then let the
//! segment go), and writes one fixed-size [`Outcome`] slot per command after the request. Both
//! sides check the layout (magic, version, lengths): a malformed segment is an error, never a
//! read past its end.
//!
//! Layout: taken (u32), reserved (u32), request length (u64), request, padding to 8, slots.

/// "PGOH": pg_optimizer hand-off.
const MAGIC: u32 = 0x5047_4f48;
const VERSION: u32 = 2;
/// Where the request's length is; the taken word is at 0.
const HEADER: usize = 16;
/// Bytes of an error message kept per command.
pub const MESSAGE_BYTES: usize = 1000;
/// Bytes of one outcome slot: status, rows, start and end times, message length, message.
pub const SLOT_BYTES: usize = 4 + 8 + 8 + 8 + 4 + MESSAGE_BYTES;

/// What the caller asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The role the commands run as (an OID).
    pub role: u32,
    /// What the run is called in optimizer.job_runs when the caller does not wait.
    pub label: String,
    /// Per command, milliseconds; 0 = none.
    pub statement_timeout_ms: i64,
    pub lock_timeout_ms: i64,
    pub commands: Vec<String>,
}

/// How one command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    NotRun = 0,
    Succeeded = 1,
    Failed = 2,
    TimedOut = 3,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotRun => "not run",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::TimedOut => "timed out",
        }
    }
    fn from_u32(v: u32) -> Option<Status> {
        Some(match v {
            0 => Status::NotRun,
            1 => Status::Succeeded,
            2 => Status::Failed,
            3 => Status::TimedOut,
            _ => return None,
        })
    }
}

/// One command's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub rows: i64,
    /// Microseconds since the PostgreSQL epoch (TimestampTz); 0 = not run.
    pub started: i64,
    pub ended: i64,
    pub message: String,
}

impl Request {
    /// The request's bytes (header, then each command as length and UTF-8 bytes).
    fn encode_request(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for v in [MAGIC, VERSION, self.role, self.commands.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&self.statement_timeout_ms.to_le_bytes());
        b.extend_from_slice(&self.lock_timeout_ms.to_le_bytes());
        b.extend_from_slice(&(self.label.len() as u64).to_le_bytes());
        b.extend_from_slice(self.label.as_bytes());
        for c in &self.commands {
            b.extend_from_slice(&(c.len() as u64).to_le_bytes());
            b.extend_from_slice(c.as_bytes());
        }
        b
    }

    /// Bytes of the whole segment: the request, padded to 8, then one slot per command.
    pub fn segment_size(&self) -> usize {
        outcomes_offset(self.encode_request().len()) + self.commands.len() * SLOT_BYTES
    }

    /// Write the request and empty outcome slots into `seg` (exactly `segment_size()` bytes).
    pub fn write(&self, seg: &mut [u8]) -> Result<(), String> {
        let req = self.encode_request();
        if seg.len() != self.segment_size() {
            return Err(format!("segment of {} bytes for a request of {}", seg.len(), self.segment_size()));
        }
        seg.fill(0);
        seg[8..HEADER].copy_from_slice(&(req.len() as u64).to_le_bytes());
        seg[HEADER..HEADER + req.len()].copy_from_slice(&req);
        Ok(())
    }

    /// Byte offset of the "taken" word (a u32, 0 until the runner has read the request).
    pub const TAKEN_OFFSET: usize = 0;

    /// Read a request written by [`Request::write`].
    pub fn read(seg: &[u8]) -> Result<Request, String> {
        let mut r = Reader { b: seg, at: 8 };
        let len = r.u64()? as usize;
        if len > seg.len() - HEADER {
            return Err("request longer than its segment".into());
        }
        let mut r = Reader { b: &seg[HEADER..HEADER + len], at: 0 };
        if r.u32()? != MAGIC || r.u32()? != VERSION {
            return Err("not a pg_optimizer hand-off segment of this version".into());
        }
        let role = r.u32()?;
        let n = r.u32()? as usize;
        let statement_timeout_ms = r.u64()? as i64;
        let lock_timeout_ms = r.u64()? as i64;
        let l = r.u64()? as usize;
        let label = String::from_utf8(r.take(l)?.to_vec()).map_err(|_| "the label is not UTF-8".to_string())?;
        let mut commands = Vec::with_capacity(n.min(10_000));
        for _ in 0..n {
            let l = r.u64()? as usize;
            let bytes = r.take(l)?;
            commands.push(String::from_utf8(bytes.to_vec()).map_err(|_| "a command is not UTF-8".to_string())?);
        }
        let req = Request { role, label, statement_timeout_ms, lock_timeout_ms, commands };
        if req.segment_size() > seg.len() {
            return Err("segment too short for its outcome slots".into());
        }
        Ok(req)
    }

    /// Where slot `i` starts in the segment.
    pub fn slot_offset(&self, i: usize) -> usize {
        outcomes_offset(self.encode_request().len()) + i * SLOT_BYTES
    }
}

fn outcomes_offset(request_len: usize) -> usize {
    (HEADER + request_len + 7) & !7
}

impl Outcome {
    /// Write into a slot of `SLOT_BYTES`; a long message is cut at a character boundary.
    pub fn write(&self, slot: &mut [u8]) {
        let mut cut = self.message.len().min(MESSAGE_BYTES);
        while !self.message.is_char_boundary(cut) {
            cut -= 1;
        }
        slot[0..4].copy_from_slice(&(self.status as u32).to_le_bytes());
        slot[4..12].copy_from_slice(&self.rows.to_le_bytes());
        slot[12..20].copy_from_slice(&self.started.to_le_bytes());
        slot[20..28].copy_from_slice(&self.ended.to_le_bytes());
        slot[28..32].copy_from_slice(&(cut as u32).to_le_bytes());
        slot[32..32 + cut].copy_from_slice(&self.message.as_bytes()[..cut]);
    }

    pub fn read(slot: &[u8]) -> Result<Outcome, String> {
        let mut r = Reader { b: slot, at: 0 };
        let status = Status::from_u32(r.u32()?).ok_or("bad status in an outcome slot")?;
        let rows = r.u64()? as i64;
        let started = r.u64()? as i64;
        let ended = r.u64()? as i64;
        let len = (r.u32()? as usize).min(MESSAGE_BYTES);
        let message = String::from_utf8_lossy(r.take(len)?).into_owned();
        Ok(Outcome { status, rows, started, ended, message })
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len()).ok_or("hand-off segment truncated")?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request {
            role: 16384,
            label: "reindex_bloated".into(),
            statement_timeout_ms: 3_600_000,
            lock_timeout_ms: 10_000,
            commands: vec!["VACUUM public.t".into(), "REINDEX INDEX CONCURRENTLY \"ünï\"".into(), String::new()],
        }
    }

    #[test]
    fn a_request_and_its_outcomes_round_trip() {
        let r = req();
        let mut seg = vec![0xAAu8; r.segment_size()];
        r.write(&mut seg).unwrap();
        assert_eq!(Request::read(&seg).unwrap(), r);
        assert_eq!(&seg[Request::TAKEN_OFFSET..Request::TAKEN_OFFSET + 4], &[0, 0, 0, 0]);
        // Fresh slots say "not run".
        let off = r.slot_offset(2);
        assert_eq!(off % 8, 0);
        assert_eq!(Outcome::read(&seg[off..off + SLOT_BYTES]).unwrap().status, Status::NotRun);
        let o = Outcome { status: Status::TimedOut, rows: 7, started: 1, ended: 2, message: "canceling statement due to statement timeout".into() };
        let off = r.slot_offset(1);
        o.write(&mut seg[off..off + SLOT_BYTES]);
        assert_eq!(Outcome::read(&seg[off..off + SLOT_BYTES]).unwrap(), o);
        assert_eq!(r.slot_offset(2) + SLOT_BYTES, seg.len());
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let o = Outcome { status: Status::Failed, rows: 0, started: 0, ended: 0, message: "é".repeat(MESSAGE_BYTES) };
        let mut slot = vec![0u8; SLOT_BYTES];
        o.write(&mut slot);
        let back = Outcome::read(&slot).unwrap();
        assert_eq!(back.message.len(), MESSAGE_BYTES);
        assert!(back.message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn malformed_segments_are_errors_not_overreads() {
        let r = req();
        let mut seg = vec![0u8; r.segment_size()];
        r.write(&mut seg).unwrap();
        assert!(Request::read(&seg[..20]).is_err());
        let mut bad = seg.clone();
        bad[HEADER] ^= 1; // magic
        assert!(Request::read(&bad).is_err());
        let mut huge = seg.clone();
        huge[8..HEADER].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Request::read(&huge).is_err());
        // A command length beyond the request.
        let mut long = seg.clone();
        long[HEADER + 32..HEADER + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(Request::read(&long).is_err());
        assert!(r.write(&mut vec![0u8; 3]).is_err());
        let mut slot = vec![0u8; SLOT_BYTES];
        slot[0] = 9;
        assert!(Outcome::read(&slot).is_err());
    }
}

//! Constants kept as samples: array lengths and the bytes of small datums.

use super::*;

/// Element count of a one-dimensional array constant with a plain 4-byte header.
pub(super) unsafe fn const_array_len(c: *mut pg_sys::Const) -> Option<usize> {
    unsafe {
        if (*c).constisnull || (*c).constlen != -1 {
            return None;
        }
        let p = (*c).constvalue.cast_mut_ptr::<u8>();
        if p.is_null() || (*p & 0x03) != 0 {
            return None; // short, compressed or external header
        }
        let ndim = std::ptr::read_unaligned(p.add(4) as *const i32);
        if ndim == 0 {
            return Some(0);
        }
        if ndim != 1 {
            return None;
        }
        Some(std::ptr::read_unaligned(p.add(16) as *const i32).max(0) as usize)
    }
}

/// The bytes of a datum, if they fit a sample and are self-contained.
pub(super) unsafe fn datum_sample(typid: u32, typlen: i32, byval: bool, isnull: bool, value: pg_sys::Datum) -> Option<ConstSample> {
    unsafe {
        let mut s = ConstSample { typid, len: 0, byval: byval as u8, isnull: isnull as u8, data: [0; SAMPLE_BYTES] };
        if isnull {
            return Some(s);
        }
        if byval {
            s.data[..8].copy_from_slice(&(value.value() as u64).to_ne_bytes());
            s.len = 8;
            return Some(s);
        }
        let p = value.cast_mut_ptr::<u8>() as *const u8;
        if p.is_null() {
            return None;
        }
        let len = match typlen {
            n if n > 0 => n as usize,
            -1 if cfg!(target_endian = "little") => {
                let b0 = *p;
                if b0 == 0x01 {
                    return None; // a TOAST pointer: not self-contained
                }
                if b0 & 0x01 == 0x01 {
                    (b0 >> 1) as usize
                } else {
                    (std::ptr::read_unaligned(p as *const u32) >> 2) as usize
                }
            }
            -2 => std::ffi::CStr::from_ptr(p as *const std::ffi::c_char).to_bytes().len() + 1,
            _ => return None,
        };
        if len == 0 || len > SAMPLE_BYTES {
            return None;
        }
        std::ptr::copy_nonoverlapping(p, s.data.as_mut_ptr(), len);
        s.len = len as u16;
        Some(s)
    }
}

/// `get_typlenbyval` through a tiny backend-local cache (bind parameters, per execution).
pub(super) unsafe fn typlenbyval(typid: pg_sys::Oid) -> (i16, bool) {
    static mut CACHE: [(u32, i16, bool); 8] = [(0, 0, false); 8];
    unsafe {
        let cache = &mut *(&raw mut CACHE);
        let slot = (typid.to_u32() as usize) & 7;
        if cache[slot].0 == typid.to_u32() && typid != pg_sys::InvalidOid {
            return (cache[slot].1, cache[slot].2);
        }
        let mut len = 0i16;
        let mut byval = false;
        pg_sys::get_typlenbyval(typid, &mut len, &mut byval);
        cache[slot] = (typid.to_u32(), len, byval);
        (len, byval)
    }
}

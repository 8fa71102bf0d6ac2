//! Texts recorded in one database, read in another: stored as the bytes their database had, with
//! that database's encoding, and converted to the reading database's encoding on the way out.
//! (pgrx's `String` assumes UTF-8; a LATIN1 database's `café` is not.)

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::IntoDatum;

/// What another user's text reads when the reader may not see it (pg_stat_statements' wording).
pub const HIDDEN: &str = "<insufficient privilege>";

/// Bytes in the current database's encoding, returned to SQL as `text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbText(pub Vec<u8>);

impl_sql_translatable!(DbText, "text");

impl IntoDatum for DbText {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        unsafe { Some(pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(self.0.as_ptr() as *const _, self.0.len() as i32))) }
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::TEXTOID
    }
}

unsafe impl pgrx::callconv::BoxRet for DbText {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut pgrx::callconv::FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        match self.into_datum() {
            Some(d) => unsafe { fcinfo.return_raw_datum(d) },
            None => fcinfo.return_null(),
        }
    }
}

impl From<&str> for DbText {
    fn from(s: &str) -> DbText {
        DbText(s.as_bytes().to_vec())
    }
}

/// `bytes`, recorded in a database of encoding `from` (`pg_enc`; negative: unknown, taken to be
/// the current one), in the current database's encoding. A character the current encoding cannot
/// represent, or bytes that are not valid in it, come out as `?`.
pub fn to_current(bytes: &[u8], from: i32) -> DbText {
    unsafe {
        let to = pg_sys::GetDatabaseEncoding();
        let n = bytes.len() as i32;
        let valid = |b: &[u8]| pg_sys::pg_verify_mbstr(to, b.as_ptr() as *const _, b.len() as i32, true);
        if from < 0 || from == to || bytes.is_ascii() {
            if valid(bytes) {
                return DbText(bytes.to_vec());
            }
            return DbText(ascii_only(bytes));
        }
        let converted = PgTryBuilder::new(|| {
            let p = pg_sys::pg_do_encoding_conversion(bytes.as_ptr() as *mut u8, n, from, to);
            if p as *const u8 == bytes.as_ptr() {
                bytes.to_vec()
            } else {
                std::ffi::CStr::from_ptr(p as *const std::ffi::c_char).to_bytes().to_vec()
            }
        })
        .catch_others(|_| ascii_only(bytes))
        .execute();
        if valid(&converted) { DbText(converted) } else { DbText(ascii_only(&converted)) }
    }
}

/// Every non-ASCII byte as `?`.
fn ascii_only(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|&b| if b.is_ascii() { b } else { b'?' }).collect()
}

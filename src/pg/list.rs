//! PostgreSQL `List`s read directly (no guarded FFI call per cell): their length, a cell, and
//! iterators over pointer and OID cells. A null list is empty.

use pgrx::pg_sys;

#[inline]
pub(crate) unsafe fn len(l: *mut pg_sys::List) -> usize {
    if l.is_null() {
        0
    } else {
        unsafe { (*l).length.max(0) as usize }
    }
}

/// Pointer cell `i` (which must exist).
#[inline]
pub(crate) unsafe fn nth<T>(l: *mut pg_sys::List, i: usize) -> *mut T {
    unsafe { (*(*l).elements.add(i)).ptr_value as *mut T }
}

/// The pointer cells, in order.
#[inline]
pub(crate) unsafe fn iter<T>(l: *mut pg_sys::List) -> impl Iterator<Item = *mut T> {
    let n = unsafe { len(l) };
    (0..n).map(move |i| unsafe { nth::<T>(l, i) })
}

/// The OID cells, in order.
pub(crate) unsafe fn oids(l: *mut pg_sys::List) -> Vec<pg_sys::Oid> {
    let n = unsafe { len(l) };
    (0..n).map(|i| unsafe { (*(*l).elements.add(i)).oid_value }).collect()
}

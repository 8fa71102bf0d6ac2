//! The session's hypothetical indexes: the registry (kept until dropped), the ephemeral set of
//! one costing call, their fake OIDs and display names.

use super::define::{self, Spec};
use pgrx::pg_sys;
use std::collections::HashMap;
use std::ffi::{CStr, CString};

/// A hypothetical index.
pub struct Hypo {
    pub oid: pg_sys::Oid,
    pub name: String,
    pub relid: pg_sys::Oid,
    pub ddl: CString,
    pub spec: Spec,
    /// Leaf partition -> its spec (None: the leaf cannot carry it, e.g. a foreign table).
    pub(super) children: HashMap<pg_sys::Oid, Option<Spec>>,
}

static mut REGISTRY: Vec<Hypo> = Vec::new();
static mut EPHEMERAL: Vec<Hypo> = Vec::new();
/// Names of fake OIDs, kept after the index is dropped so a plan printed later still reads well.
static mut NAMES: Option<HashMap<u32, CString>> = None;
static mut NEXT_OID: u32 = pg_sys::FirstNormalObjectId - 1;
static mut EVER_DEFINED: bool = false;

#[allow(static_mut_refs)]
pub(super) fn registry() -> &'static mut Vec<Hypo> {
    unsafe { &mut REGISTRY }
}
#[allow(static_mut_refs)]
pub(super) fn ephemeral() -> &'static mut Vec<Hypo> {
    unsafe { &mut EPHEMERAL }
}
#[allow(static_mut_refs)]
pub(super) fn names() -> &'static mut HashMap<u32, CString> {
    unsafe { NAMES.get_or_insert_with(HashMap::new) }
}

/// A fake OID: counts down from `FirstNormalObjectId - 1`, skipping any OID a relation uses.
fn next_oid() -> pg_sys::Oid {
    unsafe {
        loop {
            let candidate = NEXT_OID;
            NEXT_OID = if NEXT_OID <= pg_sys::FirstGenbkiObjectId { pg_sys::FirstNormalObjectId - 1 } else { NEXT_OID - 1 };
            let oid = pg_sys::Oid::from(candidate);
            let taken = registry().iter().chain(ephemeral().iter()).any(|h| h.oid == oid);
            if !taken && pg_sys::get_rel_name(oid).is_null() {
                return oid;
            }
        }
    }
}

/// Whether `oid` is one of our fake index OIDs (live or dropped in this session).
pub fn is_hypothetical(oid: pg_sys::Oid) -> bool {
    names().contains_key(&u32::from(oid))
}

/// Define a hypothetical index from `CREATE INDEX` text. `keep`: add it to the session registry
/// (else to the ephemeral set of the current costing call).
pub fn create(ddl: &str, keep: bool) -> &'static Hypo {
    unsafe {
        let (stmt, relid) = define::parse(ddl);
        let given = if (*stmt).idxname.is_null() { None } else { Some(CStr::from_ptr((*stmt).idxname).to_string_lossy().into_owned()) };
        let cddl = CString::new(ddl).unwrap();
        let spec = define::build(stmt, relid, &cddl);
        let oid = next_oid();
        EVER_DEFINED = true;
        let table = CStr::from_ptr(pg_sys::get_rel_name(relid)).to_string_lossy().into_owned();
        let name = format!("<{}>{}", u32::from(oid), given.unwrap_or_else(|| default_name(&table, &spec)));
        names().insert(u32::from(oid), CString::new(name.clone()).unwrap());
        let h = Hypo { oid, name, relid, ddl: cddl, spec, children: HashMap::new() };
        let list = if keep { registry() } else { ephemeral() };
        list.push(h);
        list.last().unwrap()
    }
}

/// The name `CREATE INDEX` would choose for an unnamed index: the advisor's one builder (cut to
/// 63 bytes with a hash, like the final names it proposes).
fn default_name(table: &str, spec: &Spec) -> String {
    let keys: Vec<String> = spec
        .keys
        .iter()
        .take(spec.nkey)
        .map(|&k| {
            if k == 0 {
                "expr".into()
            } else {
                unsafe { CStr::from_ptr(pg_sys::get_attname(spec.relid, k, false)).to_string_lossy().into_owned() }
            }
        })
        .collect();
    pg_optimizer_core::advisor::text::index_name(table, &keys, "idx")
}

/// The spec of an index defined on a partitioned table, rebuilt from its text against one leaf
/// (columns by name, as `DefineIndex` does for partitions).
pub fn leaf_spec(ddl: &CStr, leaf: pg_sys::Oid) -> Spec {
    unsafe {
        let (stmt, _) = define::parse(&ddl.to_string_lossy());
        define::build(stmt, leaf, ddl)
    }
}

/// A registered or ephemeral hypothetical index by OID.
pub fn find(oid: pg_sys::Oid) -> Option<&'static Hypo> {
    registry().iter().chain(ephemeral().iter()).find(|h| h.oid == oid)
}

pub fn list() -> &'static [Hypo] {
    registry()
}

/// Drop one registered index (true if it existed), or all of them (`None`; returns how many).
pub fn drop(oid: Option<pg_sys::Oid>) -> usize {
    let r = registry();
    let before = r.len();
    match oid {
        Some(o) => r.retain(|h| h.oid != o),
        None => r.clear(),
    }
    before - r.len()
}

pub fn clear_ephemeral() {
    ephemeral().clear();
}

/// The display name of a hypothetical index (`<oid>name`).
pub fn name_of(oid: pg_sys::Oid) -> Option<String> {
    names().get(&u32::from(oid)).map(|c| c.to_string_lossy().into_owned())
}

/// Whether this session has ever defined a hypothetical index (one load: the executor's safety
/// net costs nothing in sessions that never did).
#[inline]
pub fn any_defined() -> bool {
    unsafe { EVER_DEFINED }
}


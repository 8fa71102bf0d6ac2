//! The one place that runs code as another role.
//!
//! Planning runs code: constant folding evaluates IMMUTABLE functions, selectivity estimation
//! evaluates STABLE ones, SQL functions are inlined. Planning or running SQL that another role
//! wrote (a recorded statement, an index expression on that role's table) with the caller's
//! rights would hand that role the caller's privileges: a superuser calling the advisor would run
//! any user's functions as superuser. So such code runs as its role, the way PostgreSQL itself
//! runs index expressions in VACUUM, ANALYZE, CREATE INDEX and REFRESH MATERIALIZED VIEW:
//! `SetUserIdAndSecContext(role, SECURITY_RESTRICTED_OPERATION | SECURITY_LOCAL_USERID_CHANGE)`,
//! a search_path of the role's own setting with `pg_temp` last, inside a subtransaction (whose
//! abort restores the identity and the settings on any error).
//!
//! Only a caller who holds the privileges of the role may run code as it (the rule `SET ROLE`
//! follows): a member of pg_read_all_stats can read another role's statements, but the advisor
//! will not plan them as that role for it.

use super::in_subtransaction;
use pgrx::pg_sys;
use std::collections::HashMap;
use std::ffi::CString;

/// A role code runs as (one the caller may act as, or a job's owner), with the search_path its
/// code runs under.
#[derive(Clone, Debug)]
pub struct Role {
    pub oid: pg_sys::Oid,
    pub name: String,
    search_path: CString,
}

/// Why code cannot run as a role.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// The role was dropped after the statement was recorded.
    Gone(u32),
    /// The caller does not hold the role's privileges.
    NotMember(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Gone(oid) => write!(f, "its role (OID {oid}) no longer exists"),
            Refused::NotMember(name) => {
                write!(f, "it belongs to role \"{name}\", whose privileges you do not have, and is planned only as that role")
            }
        }
    }
}

/// Roles resolved once per run (a role's search_path is one catalog read).
#[derive(Default)]
pub struct Roles(HashMap<u32, Result<Role, Refused>>);

impl Roles {
    pub fn get(&mut self, oid: pg_sys::Oid) -> Result<Role, Refused> {
        self.0.entry(oid.to_u32()).or_insert_with(|| resolve(oid)).clone()
    }
}

fn resolve(oid: pg_sys::Oid) -> Result<Role, Refused> {
    let name = name_of(oid)?;
    if !unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), oid) } {
        return Err(Refused::NotMember(name));
    }
    Ok(with_search_path(oid, name))
}

/// The role's name, or `Gone`.
fn name_of(oid: pg_sys::Oid) -> Result<String, Refused> {
    let name = unsafe { pg_sys::GetUserNameFromId(oid, true) };
    if name.is_null() {
        return Err(Refused::Gone(oid.to_u32()));
    }
    Ok(unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned())
}

/// The role with the search_path its code runs under: its own, `pg_temp` last.
fn with_search_path(oid: pg_sys::Oid, name: String) -> Role {
    let path = role_search_path(oid);
    let search_path = CString::new(format!("{path}, pg_temp")).unwrap_or_else(|_| CString::from(c"pg_catalog, pg_temp"));
    Role { oid, name, search_path }
}

/// The search_path `role` gets when it logs in to this database: `ALTER ROLE ... IN DATABASE`,
/// then `ALTER ROLE`, then `ALTER DATABASE`, then `ALTER ROLE ALL`; else PostgreSQL's default.
/// (A search_path set only in postgresql.conf is not seen here; set it per role or database.)
fn role_search_path(role: pg_sys::Oid) -> String {
    let sql = "SELECT substr(c, 13) FROM (
                 SELECT pg_catalog.unnest(s.setconfig) AS c,
                        CASE WHEN s.setdatabase <> 0 AND s.setrole <> 0 THEN 1
                             WHEN s.setrole <> 0 THEN 2 WHEN s.setdatabase <> 0 THEN 3 ELSE 4 END AS prio
                   FROM pg_catalog.pg_db_role_setting s
                  WHERE s.setdatabase IN (0, $1) AND s.setrole IN (0, $2)) x
                WHERE c LIKE 'search_path=%' ORDER BY prio LIMIT 1";
    let db = unsafe { pg_sys::MyDatabaseId };
    crate::pg::read_one::<String>(sql, &[db.into(), role.into()])
        .ok()
        .flatten()
        .unwrap_or_else(|| "\"$user\", public".to_string())
}

/// Run `body` as `role` under `SECURITY_RESTRICTED_OPERATION`, with the role's search_path and
/// `pg_temp` last, inside a subtransaction. An ERROR comes back as `Err(message)` with the
/// caller's identity and settings restored; a cancel or termination is re-raised.
pub fn run_as<R>(role: &Role, body: impl FnOnce() -> R) -> Result<R, String> {
    // On an error the subtransaction's abort restores the identity and the settings
    // (AbortSubTransaction and AtEOSubXact_GUC); on success `with_identity` does.
    in_subtransaction(|| {
        let mut saved_user = pg_sys::InvalidOid;
        let mut saved_context = 0;
        unsafe { pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context) };
        let context = saved_context | pg_sys::SECURITY_RESTRICTED_OPERATION as i32 | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32;
        with_identity(role.oid, context, &role.search_path, body)
    })
}

/// Run `body` (inside a transaction) as `user` with `context` and `search_path` set at a new GUC
/// nest level, then put back the identity and settings from before.
fn with_identity<R>(user: pg_sys::Oid, context: i32, search_path: &std::ffi::CStr, body: impl FnOnce() -> R) -> R {
    unsafe {
        let mut saved_user = pg_sys::InvalidOid;
        let mut saved_context = 0;
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        let nest = pg_sys::NewGUCNestLevel();
        pg_sys::SetUserIdAndSecContext(user, context);
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            search_path.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        // false: undo the settings made at this level.
        let r = body();
        pg_sys::AtEOXact_GUC(false, nest);
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
        r
    }
}

/// Resolve `role` for [`become_prepared`] (inside a transaction: it reads the catalogs). No
/// privilege check: the caller (a job runner) runs its job's owner, whoever that is.
pub fn prepare_for_process(role: pg_sys::Oid) -> Result<Role, Refused> {
    Ok(with_search_path(role, name_of(role)?))
}

/// Become a prepared role for the rest of this process (a job runner, which exits after its
/// job): the same identity as [`run_as`] (`SECURITY_RESTRICTED_OPERATION`, the role's
/// search_path with `pg_temp` last), set at the session level because a job's statements commit
/// on their own and may refuse to run in a subtransaction (VACUUM). Aborted transactions restore
/// it, since it is what each later transaction starts with. Reads no catalog (a runner does this
/// at its job's due time); [`leave_for_process`] comes back.
pub fn become_prepared(b: &Role) {
    set_session(c"search_path", &b.search_path);
    unsafe {
        pg_sys::SetUserIdAndSecContext(
            b.oid,
            pg_sys::SECURITY_RESTRICTED_OPERATION as i32 | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
        );
    }
}

/// [`prepare_for_process`] then [`become_prepared`] (inside a transaction).
pub fn become_for_process(role: pg_sys::Oid) -> Result<String, Refused> {
    let b = prepare_for_process(role)?;
    become_prepared(&b);
    Ok(b.name)
}

/// Back from [`become_for_process`] to the bootstrap superuser the worker connected as, with
/// every setting the job's statements made reset and `search_path` pinned to `pg_catalog,
/// pg_temp`: what runs next (the recording of the run) sees nothing the job left.
pub fn leave_for_process() {
    unsafe {
        pg_sys::SetUserIdAndSecContext(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), 0);
        pg_sys::ResetAllOptions();
        set_session(c"search_path", c"pg_catalog, pg_temp");
    }
}

/// Run `body` (inside a transaction) as the bootstrap superuser the worker connected as, without
/// `SECURITY_RESTRICTED_OPERATION` and with `search_path` pinned to `pg_catalog, pg_temp`, then
/// come back to the role the process had become: the bookkeeping of a worker that works as a
/// table's owner (writing to the extension's own tables). An error aborts the transaction, whose
/// abort restores the identity and the settings the transaction started with.
pub fn as_worker<R>(body: impl FnOnce() -> R) -> R {
    with_identity(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), 0, c"pg_catalog, pg_temp", body)
}

/// Set a parameter for the session (survives commits), as SET does.
pub fn set_session(name: &std::ffi::CStr, value: &std::ffi::CStr) {
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SET,
            true,
            0,
            false,
        );
    }
}

//! Partition sets: create partitions ahead, retire old ones, move rows out of the default
//! partition, convert a plain table online, and undo it.
//!
//! # Who runs what, as whom
//! `optimizer.partition_table`, `maintain_partitions` and `undo_partitioning` (in `api`) hand a
//! request to a **partition worker** (a runner started with `Errand::Partitions`) and wait,
//! relaying its progress as NOTICEs. The worker becomes each parent's owner for its work on that
//! parent (`pg::identity`: `SECURITY_RESTRICTED_OPERATION`, the owner's search_path): every
//! statement on the user's tables runs with the owner's rights, never the caller's or the
//! worker's. It writes its log and progress (`optimizer.partition_log`, `partition_work`) as the
//! worker (`identity::as_worker`), between the owner's transactions.
//!
//! # How it changes a partition set
//! - Every step is its own short transaction under `pg_optimizer.partition_lock_timeout`; a
//!   step that cannot get its lock is tried three times, then left for the next run
//!   (`deferred`), so maintenance never queues behind a long reader for long.
//! - A new partition is created as a table of its own and attached (`ATTACH PARTITION` takes a
//!   `SHARE UPDATE EXCLUSIVE` lock on the parent, which readers and writers do not conflict
//!   with). With a default partition, the same transaction first holds writers off the parent
//!   (`SHARE ROW EXCLUSIVE`: readers go on; a writer that routed a row to the default under the
//!   old bounds would otherwise fail the default's new constraint), moves the rows of the new
//!   partition's range out of the default, then attaches: rows are never lost, never seen
//!   twice, no writer fails, and a default holding rows never blocks the creation of a
//!   partition (pg_partman's stall).
//! - Retention detaches (`CONCURRENTLY` where the server allows it: no default partition), then
//!   drops, keeps, or moves the partition to the archive schema. Partitioned indexes stay valid:
//!   detaching a partition detaches its indexes from them.
//! - Converting a plain table: a partitioned twin is created (`LIKE ... INCLUDING ALL`, the
//!   foreign keys and grants), then under one short `ACCESS EXCLUSIVE` lock the table is renamed,
//!   the twin takes its name and the table becomes the twin's default partition (no scan: there
//!   is no other partition yet). From then on every row is visible through the parent while the
//!   rows move out of the default in batches of about `batch_rows`, as maintenance moves them.
//!   Hash partitioning has no default partition: its conversion copies the rows in one
//!   transaction that lets readers go on and makes writers wait.
//! - Two runs never work on the same parent: each holds an advisory lock on it (the other one
//!   skips it).

pub mod catalog;
mod convert;
mod maintain;
pub mod work;

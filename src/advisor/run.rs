//! One advisor run: read the workload, plan every statement, generate candidates, define each as
//! a hypothetical index, let Extend choose under the budget with the real planner as the cost
//! model, then add drop advice. Everything the run knows goes into [`Report`].

use super::catalog::{self, Recorded};
use super::model::*;
use super::{candidates, coverage, drop, merge::merge_covering, robust, select, text, workload, write_cost};
use crate::pg::identity::{run_as, Roles};
use crate::whatif::{self, plan};
use pgrx::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Inputs of a run (SQL arguments, defaulted from the GUCs).
pub struct Options {
    pub budget_bytes: f64,
    pub max_per_table: usize,
    pub max_planner_calls: usize,
    /// Seconds the search may take.
    pub max_seconds: f64,
    pub min_benefit_pct: f64,
    pub write_cost_factor: f64,
    /// Clamp of the measured-time calibration of statement weights (1 = off).
    pub time_calibration: f64,
    pub unused_days: f64,
    pub drops: bool,
    /// The workloads to advise: `local` (this server's) and names of imported ones; None: local.
    pub sources: Option<Vec<String>>,
}

/// What a row of advice says to do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Action {
    Create,
    Drop,
    /// A statement that was not planned, and why.
    #[default]
    Note,
}

impl Action {
    /// The `action` column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Drop => "drop",
            Action::Note => "note",
        }
    }
}

/// One output row.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub action: Action,
    /// The table's OID (0 for a note).
    pub relid: u32,
    pub ddl: Option<String>,
    /// For a create: the `optimizer.create_index` call that builds it without blocking writes and
    /// leaves nothing INVALID on failure (what auto-indexing runs, for plain and partitioned tables).
    pub build: Option<String>,
    /// For a drop: the index, the rule (`unused`, `duplicate`, `prefix`, `invalid`), the index that
    /// covers it, its scans in the statistics window.
    pub index_oid: u32,
    pub drop_kind: Option<&'static str>,
    pub other_index: Option<String>,
    pub scans: i64,
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub columns: Vec<String>,
    pub include: Vec<String>,
    pub method: Option<String>,
    pub predicate: Option<String>,
    pub bytes: f64,
    pub cost_before: f64,
    pub cost_after: f64,
    pub benefit: f64,
    pub benefit_share: f64,
    pub queryids: Vec<i64>,
    pub write_penalty: f64,
    pub reason: String,
}

pub struct Report {
    pub rows: Vec<Row>,
    pub planner_calls: usize,
    pub cache_hits: usize,
    /// Statements in the workload (local and imported, one per query id).
    pub recorded: usize,
    /// Statements costed: one per shape (see `compress_recorded`) that could be planned.
    pub statements: usize,
    pub candidates: usize,
    pub capped: bool,
    pub seconds: f64,
    pub rejected: Vec<String>,
}

/// The what-if planner as Extend's cost model: statement `q` planned with the hypothetical
/// indexes of `config` visible, its saving discounted when the plan relies on row estimates the
/// statement's recorded plan showed to be far too low (core `robust`).
struct Planner<'a> {
    statements: &'a [plan::Prepared],
    oids: &'a [pg_sys::Oid],
    /// Per item: its table.
    tables: &'a [u32],
    /// Per statement: the recorded estimates' errors.
    estimates: &'a [robust::Estimates],
    /// Per statement: its time factor (`select::time_factors`), which its weight carries.
    factors: &'a [f64],
    /// Per statement: its cost and the planned cost of its nested-loop probes without new indexes
    /// (the first look-up Extend makes).
    base: Vec<Option<(f64, f64, f64)>>,
    /// Per (statement, item): the lowest share of a planned saving kept for a configuration with
    /// the item, and why.
    discounts: BTreeMap<(usize, usize), (f64, robust::Why)>,
}

impl select::CostModel for Planner<'_> {
    fn cost(&mut self, stmt: usize, config: &[usize]) -> Option<f64> {
        let set: Vec<pg_sys::Oid> = config.iter().map(|&i| self.oids[i]).collect();
        let c = whatif::with_costing_scope(&set, || self.statements[stmt].plan(false, false)).ok()?;
        if config.is_empty() {
            self.base[stmt] = Some((c.total, c.probes, c.probe_cost));
            return Some(c.total);
        }
        let used: Vec<usize> = config.iter().copied().filter(|&i| c.used.contains(&self.oids[i])).collect();
        let uses: Vec<robust::Use> = used
            .iter()
            .map(|&i| robust::Use { table: self.tables[i], parameterized: c.parameterized.contains(&self.oids[i]) })
            .collect();
        let Some((base, base_probes, base_probe_cost)) = self.base[stmt] else { return Some(c.total) };
        let (cost, discount) =
            robust::assess(base, base_probes, base_probe_cost, c.total, c.probes, c.probe_cost, &uses, &self.estimates[stmt]);
        if let Some((why, kept)) = discount {
            // Added probes: every new index of the configuration shares them (the probed index
            // may be an existing one); a misestimate: the indexes the plan uses.
            let blamed = if matches!(why, robust::Why::Probes(_)) { config } else { &used[..] };
            for &i in blamed {
                let e = self.discounts.entry((stmt, i)).or_insert((kept, why));
                if kept < e.0 {
                    *e = (kept, why);
                }
            }
        }
        // The measured excess time per cost unit belongs to the plan it was measured on.
        Some(select::calibrated_cost(base, cost, self.factors[stmt]))
    }
}

/// A `note` row about one statement.
fn note(queryid: u64, reason: &str) -> Row {
    Row { action: Action::Note, queryids: vec![queryid as i64], reason: reason.to_string(), ..Default::default() }
}

/// Statements of one shape and role, folded into the heaviest of them (by time, then calls): its
/// example is planned, with the calls, time and rows of all. Returns the folded statements and,
/// per representative's query id, the query ids of its shape (itself included). Truncated texts
/// are never folded (they are only noted).
fn compress_recorded(recorded: Vec<Recorded>) -> (Vec<Recorded>, HashMap<u64, Vec<u64>>) {
    let keys: Vec<(String, u32, bool, u64)> = recorded
        .iter()
        .map(|r| {
            let own = if r.truncated { r.queryid } else { 0 };
            (pg_optimizer_core::advisor::compress::shape_key(&String::from_utf8_lossy(&r.query)), r.userid.to_u32(), r.truncated, own)
        })
        .collect();
    let mut out = vec![];
    let mut members = HashMap::new();
    for g in pg_optimizer_core::advisor::compress::groups(&keys) {
        let rep = *g
            .iter()
            .max_by(|&&a, &&b| recorded[a].total_ms.total_cmp(&recorded[b].total_ms).then(recorded[a].calls.total_cmp(&recorded[b].calls)).then(b.cmp(&a)))
            .expect("groups are not empty");
        let mut r = recorded[rep].clone();
        for &i in g.iter().filter(|&&i| i != rep) {
            r.calls += recorded[i].calls;
            r.total_ms += recorded[i].total_ms;
            r.rows += recorded[i].rows;
        }
        members.insert(r.queryid, g.iter().map(|&i| recorded[i].queryid).collect::<Vec<_>>());
        out.push(r);
    }
    (out, members)
}

/// Share of the workload cost, percent, a step adding a second index on an existing index's key
/// must save (a new key needs `advisor_min_benefit_pct`).
const NEAR_DUPLICATE_PCT: f64 = 5.0;

/// Cost per hour from cost per second.
const HOUR: f64 = 3600.0;

pub fn run(o: &Options) -> Result<Report, String> {
    let started = std::time::Instant::now();
    whatif::clear_ephemeral();
    let result = run_inner(o, started);
    whatif::clear_ephemeral();
    result
}

fn run_inner(o: &Options, started: std::time::Instant) -> Result<Report, String> {
    let mut rows = vec![];
    // Statistics window, once per run: write rates, statement weights per hour and index usage
    // all refer to it (at least a minute, so a fresh reset does not blow rates up).
    let window = catalog::stats_window_seconds()?.max(60.0);
    // The workload: this server's (unless the sources leave it out) and the imported ones, one
    // statement per query id, counts brought to this server's window.
    let local = o.sources.as_ref().is_none_or(|s| s.iter().any(|x| x == workload::LOCAL));
    let mut recorded: Vec<Recorded> = if local { catalog::statements()? } else { vec![] };
    let local_ids: BTreeSet<u64> = recorded.iter().map(|r| r.queryid).collect();
    let imported = workload::imported(o.sources.as_deref().unwrap_or(&[]), window)?;
    for (queryid, why) in &imported.notes {
        rows.push(note(*queryid, why));
    }
    for s in imported.statements {
        match recorded.iter_mut().find(|l| l.queryid == s.queryid) {
            Some(l) => {
                l.calls += s.calls;
                l.total_ms += s.total_ms;
                l.rows += s.rows;
            }
            None => recorded.push(s),
        }
    }
    // Statements that plan alike (IN lists of other lengths, other constants) are costed once,
    // as the heaviest of them, with the weight of all (core `compress`).
    let recorded_count = recorded.len();
    let (recorded, members) = compress_recorded(recorded);
    let rep_of: HashMap<u64, u64> = members.iter().flat_map(|(rep, ms)| ms.iter().map(move |m| (*m, *rep))).collect();
    // 1. Plan every recorded statement once, without new indexes.
    let mut plannable: Vec<(Recorded, plan::Prepared, plan::Costed)> = vec![];
    // Each statement is parsed and planned as the role that ran it (never as the caller: planning
    // runs the statement's functions), see `crate::pg::identity`.
    let mut roles = Roles::default();
    for r in recorded {
        if r.truncated {
            rows.push(note(
                r.queryid,
                &format!(
                    "Statement {} is not planned, so no index is proposed for it: its text was truncated at pg_optimizer.max_text_bytes (query_truncated), and a cut text may mean something else.",
                    r.queryid as i64
                ),
            ));
            continue;
        }
        let role = match roles.get(r.userid) {
            Ok(role) => role,
            Err(refused) => {
                rows.push(note(r.queryid, &format!("Statement {} is not planned, so no index is proposed for it: {refused}.", r.queryid as i64)));
                continue;
            }
        };
        let prepared = plan::Prepared::prepare_as(&r.text, &r.params, Some(role.clone())).or_else(|e| {
            // The example failed (e.g. a dropped column): fall back to the generic plan.
            if r.text != r.query { plan::Prepared::prepare_as(&r.query, &[], Some(role)) } else { Err(e) }
        });
        let costed = prepared.and_then(|st| st.plan(false, false).map(|c| (st, c)));
        match costed {
            Ok((st, c)) if !c.tables.is_empty() => plannable.push((r, st, c)),
            Ok(_) => {}
            // Transaction control and other utility statements have nothing an index could help.
            Err(e) if e.starts_with("utility statements") => {}
            Err(e) => rows.push(note(r.queryid, &format!("Statement {} could not be planned, so no index is proposed for it: {e}", r.queryid as i64))),
        }
    }
    let queryids: BTreeSet<u64> = plannable.iter().map(|p| p.0.queryid).collect();
    // The quals of every member of a planned shape, as its representative's.
    let member_ids: BTreeSet<u64> = queryids.iter().flat_map(|r| members.get(r).into_iter().flatten().copied()).collect();
    // One snapshot of the predicate store: the quals and sort keys, and the estimates it missed.
    let records = catalog::predicate_records(&member_ids);
    let (mut quals, mut sorts) = catalog::quals_and_sorts(&records)?;
    // Imported statements bring their quals (a statement also recorded here keeps this server's).
    let theirs = |q: u64| member_ids.contains(&q) && !local_ids.contains(&q);
    quals.extend(imported.quals.into_iter().filter(|q| theirs(q.queryid)));
    sorts.extend(imported.sorts.into_iter().filter(|s| theirs(s.queryid)));
    for q in quals.iter_mut() {
        q.queryid = rep_of.get(&q.queryid).copied().unwrap_or(q.queryid);
    }
    for s in sorts.iter_mut() {
        s.queryid = rep_of.get(&s.queryid).copied().unwrap_or(s.queryid);
    }
    let (quals, sorts) = (quals, sorts);
    let mut relids: BTreeSet<u32> = BTreeSet::new();
    for p in &plannable {
        relids.extend(p.2.tables.iter().map(|&t| u32::from(t)));
    }
    let mut tables = catalog::tables(&relids.iter().copied().collect::<Vec<_>>(), window)?;
    // Writes recorded on the imported sources' servers load the same tables.
    for t in tables.iter_mut() {
        if let Some(w) = imported.writes.get(&t.relid) {
            t.writes.inserts += w.inserts;
            t.writes.updates += w.updates;
            t.writes.hot_updates += w.hot_updates;
            t.writes.deletes += w.deletes;
            t.writes.vacuums += w.vacuums;
        }
    }
    // Which columns the recorded UPDATEs change, weighted by the rows they changed: an index on
    // one of them turns those HOT updates into full ones (write_cost::p_block).
    for (r, st, _) in &plannable {
        if let Some((rel, cols)) = st.updated_columns() {
            if let Some(t) = tables.iter_mut().find(|t| t.relid == u32::from(rel)) {
                for c in cols {
                    *t.updated_columns.entry(c).or_insert(0.0) += r.rows.max(r.calls);
                }
            }
        }
    }
    let tables = tables;
    let table_of: HashMap<u32, &TableInfo> = tables.iter().map(|t| (t.relid, t)).collect();
    let columns = catalog::columns_used(&quals, &sorts);
    // Weights: calls, each statement's scaled by how its measured time per cost unit compares with
    // the workload's (select::time_factors): the planner says how much an index changes a plan,
    // the measured time what that plan is worth.
    let factors = select::time_factors(
        &plannable.iter().map(|p| p.2.total).collect::<Vec<_>>(),
        &plannable.iter().map(|p| p.0.calls).collect::<Vec<_>>(),
        &plannable.iter().map(|p| p.0.total_ms).collect::<Vec<_>>(),
        o.time_calibration,
    );
    let statements: Vec<Statement> = plannable
        .iter()
        .zip(&factors)
        .map(|((r, st, c), f)| {
            let reads = st.reads();
            Statement {
                queryid: r.queryid,
                weight: r.calls * f,
                tables: c.tables.iter().map(|&t| u32::from(t)).collect(),
                columns: {
                    let mut m = columns.get(&r.queryid).cloned().unwrap_or_default();
                    for (rel, cols) in reads.columns {
                        if cols.contains(&0) {
                            // Whole rows (or the rows it changes): no index-only scan serves it.
                            m.remove(&u32::from(rel));
                        } else {
                            let e = m.entry(u32::from(rel)).or_default();
                            e.extend(cols);
                            e.sort();
                            e.dedup();
                        }
                    }
                    m
                },
                groups: reads.groups.into_iter().map(|(rel, cols)| (u32::from(rel), cols)).collect(),
            }
        })
        .collect();

    // 2. Candidates, each defined as a hypothetical index with its size and write penalty.
    let rules = candidates::Settings::default();
    let mut cands = candidates::generate(&tables, &statements, &quals, &sorts, &rules);
    merge_covering(&mut cands, &table_of, &rules);
    let params = cost_params(o);
    let mut items = vec![];
    let mut oids = vec![];
    let mut fractions = vec![];
    for c in &cands {
        let t = table_of[&c.def.relid];
        let name = text::index_name(&t.name, &text::name_columns(&c.def, t), "idx");
        let ddl = text::create_ddl(&c.def, t, &name, false);
        // Defined and sized as the table's owner, as CREATE INDEX runs index expressions and
        // predicates: they may call the owner's functions.
        let defined = roles.get(pg_sys::Oid::from(t.owner)).map_err(|e| e.to_string()).and_then(|owner| {
            run_as(&owner, || {
                let oid = whatif::create(&ddl, false).oid;
                let (b, t, _, _) = whatif::estimate_on(whatif::find(oid).expect("just created"));
                (oid, b as f64, t)
            })
        });
        let (h, bytes, tuples) = match defined {
            Ok(d) => d,
            Err(e) => {
                pgrx::debug1!("pg_optimizer: candidate {ddl} skipped: {e}");
                // Keep indices aligned; an undefinable candidate can never be chosen.
                (pg_sys::InvalidOid, f64::INFINITY, 0.0)
            }
        };
        let sel = if t.rows > 0.0 { (tuples / t.rows).min(1.0) } else { 1.0 };
        fractions.push(sel);
        let pen = write_cost::penalty(&c.def, t, write_cost::pages(bytes.min(1e15)), sel, None, &params);
        items.push(select::Item {
            table: c.def.relid,
            bytes,
            // Penalty is per second; statement weights are calls over the statements' window.
            // Both are brought to "per window" by scaling the penalty with the window length.
            penalty: pen * window,
            extends: c.extends,
            // Every rule-built candidate may be a first step: a covering or multi-column index can
            // pay where its prefix alone does not (the planner keeps the seq scan for the prefix).
            seed: true,
            label: ddl.clone(),
            relevant: Some(
                statements
                    .iter()
                    .enumerate()
                    .filter(|(_, st)| {
                        st.tables.contains(&c.def.relid)
                            && match c.def.keys.first().map(|k| &k.expr) {
                                Some(KeyExpr::Column(a)) => st.columns.get(&c.def.relid).is_none_or(|cols| cols.contains(a)),
                                _ => true,
                            }
                    })
                    .map(|(q, _)| q)
                    .collect(),
            ),
            covers: cands
                .iter()
                .enumerate()
                .filter(|&(_, o)| !std::ptr::eq(o, c) && o.def.relid == c.def.relid && coverage::covers(&c.def, &o.def))
                .map(|(j, _)| j)
                .collect(),
            near_duplicate: coverage::same_key(&t.existing, &c.def).is_some(),
        });
        oids.push(h);
    }

    // 3. Extend, with the planner as the cost model.
    let stmts: Vec<plan::Prepared> = plannable.into_iter().map(|(_, st, _)| st).collect();
    // The recorded estimates' errors of each shape: the worst of its members'.
    let recorded_estimates = catalog::estimates(&records);
    let estimates: Vec<robust::Estimates> = statements
        .iter()
        .map(|st| {
            // (`members` lists every representative's shape, itself included.)
            let mut e = robust::Estimates::default();
            for m in members.get(&st.queryid).into_iter().flatten().filter_map(|q| recorded_estimates.get(q)) {
                e.merge(m);
            }
            e
        })
        .collect();
    let item_tables: Vec<u32> = items.iter().map(|it| it.table).collect();
    let mut model = Planner {
        statements: &stmts,
        oids: &oids,
        tables: &item_tables,
        estimates: &estimates,
        factors: &factors,
        base: vec![None; stmts.len()],
        discounts: BTreeMap::new(),
    };
    let workload = select::Workload {
        weights: statements.iter().map(|s| s.weight).collect(),
        tables: statements.iter().map(|s| s.tables.clone()).collect(),
    };
    let mut settings = select::Settings {
        budget_bytes: o.budget_bytes,
        max_per_table: o.max_per_table,
        max_planner_calls: o.max_planner_calls,
        max_seconds: o.max_seconds,
        ..Default::default()
    };
    // Each step must lower the workload cost (as it stands after the steps before it) by this
    // share: relative to the current cost, so one enormous statement does not silence the rest.
    settings.min_improvement = o.min_benefit_pct / 100.0;
    settings.near_duplicate_improvement = NEAR_DUPLICATE_PCT / 100.0;
    settings.min_benefit = 0.0;
    let out = select::extend(&items, &workload, &mut model, &settings);
    let to_hour = HOUR / window;

    let mut qualified_names: Option<BTreeMap<u32, String>> = None;
    // Final names: the plain one where free, else with a counter (`_idx1`, ...).
    let mut final_names: BTreeSet<String> = tables.iter().flat_map(|t| t.existing.iter().map(|e| e.name.clone())).collect();
    for (k, &i) in out.chosen.iter().enumerate() {
        let c = &cands[i];
        let t = table_of[&c.def.relid];
        let cols = text::name_columns(&c.def, t);
        let mut name = text::index_name(&t.name, &cols, "idx");
        let mut n = 1;
        while !final_names.insert(name.clone()) {
            name = text::index_name(&t.name, &cols, &format!("idx{n}"));
            n += 1;
        }
        let name = &name;
        // Every statement of each helped shape.
        let helped: Vec<i64> = out.helped[k]
            .iter()
            .flat_map(|&q| members.get(&statements[q].queryid).cloned().unwrap_or_else(|| vec![statements[q].queryid]))
            .map(|q| q as i64)
            .collect();
        let share = if out.cost_before > 0.0 { out.benefit[k] / out.cost_before } else { 0.0 };
        let facts = text::CreateFacts {
            table: t.name.clone(),
            columns: text::columns_text(&c.def, t),
            include: text::include_text(&c.def, t),
            predicate: c.def.predicate.clone(),
            statements: helped.len(),
            rows_per_call: t.rows,
            benefit_share: share,
            all_visible_frac: t.all_visible_frac,
            predicate_frac: fractions[i],
            correlation: c.def.keys.first().and_then(|k| if let KeyExpr::Column(a) = k.expr { t.column(a) } else { None }).map(|s| s.correlation).unwrap_or(0.0),
            outer_rows: 0.0,
            opclass: c.def.keys.first().and_then(|k| k.opclass.clone()),
            limit: None,
        };
        rows.push(Row {
            action: Action::Create,
            relid: t.relid,
            build: Some(text::create_index_call(&c.def, t, name)),
            // Partitioned tables: the shared lock-free path (create_index), as auto-indexing will.
            ddl: Some(if t.partitioned { text::create_index_call(&c.def, t, name) } else { text::create_ddl(&c.def, t, name, true) }),
            table_name: Some(t.qualified_name.clone()),
            index_name: Some(name.clone()),
            columns: text::columns_text(&c.def, t),
            include: text::include_text(&c.def, t),
            method: Some(c.def.method.map(|m| m.name().to_string()).unwrap_or_else(|| c.def.am.clone())),
            predicate: c.def.predicate.clone(),
            bytes: items[i].bytes,
            cost_before: out.cost_before * to_hour,
            cost_after: out.cost_after * to_hour,
            benefit: out.benefit[k] * to_hour,
            benefit_share: share,
            queryids: helped,
            write_penalty: items[i].penalty * to_hour,
            reason: {
                let mut r = text::create_reason(c.kind, &facts);
                // Savings of the statements it helps that were discounted (core `robust`).
                let discounted: Vec<(i64, robust::Why, f64)> = out.helped[k]
                    .iter()
                    .filter_map(|&q| model.discounts.get(&(q, i)).map(|&(trust, why)| (statements[q].queryid as i64, why, trust)))
                    .collect();
                r.push_str(&robust::note(&discounted));
                if let Some(e) = coverage::same_key(&t.existing, &c.def) {
                    // Every index's qualified name, read once for all near-duplicates chosen.
                    let names = qualified_names.get_or_insert_with(|| index_names().unwrap_or_default());
                    let qualified = names.get(&e.oid).cloned().unwrap_or_else(|| text::quote_ident(&e.name));
                    r.push_str(&text::near_duplicate_note(&qualified, e.protected, NEAR_DUPLICATE_PCT));
                }
                let pen = items[i].penalty * to_hour;
                if pen > 0.0 && out.benefit[k] > 0.0 {
                    r.push_str(&format!(
                        " Writes to the table would cost about {:.0} per hour to keep it up to date ({:.0}% of what it saves{}).",
                        pen,
                        100.0 * pen / (out.benefit[k] * to_hour + pen),
                        if t.updated_columns.keys().any(|a| c.def.keys.iter().any(|k| k.expr == KeyExpr::Column(*a)) || c.def.include.contains(a)) {
                            ", counting UPDATEs that lose HOT because they change an indexed column"
                        } else {
                            ""
                        }
                    ));
                }
                r
            },
            ..Default::default()
        });
    }
    let rejected = out
        .rejected
        .iter()
        .filter(|(_, r)| matches!(r, select::Rejection::WritePenalty))
        .map(|(i, _)| format!("{}: its write cost exceeds what it saves", items[*i].label))
        .collect();

    // 4. Drop advice over every table with indexes.
    if o.drops {
        rows.extend(drop_rows(o, &params, window)?);
    }
    if out.capped {
        // Said in every output: the search stopped, so "nothing pays" would not be the finding.
        rows.push(Row {
            action: Action::Note,
            reason: if out.timed_out {
                format!(
                    "The search stopped at pg_optimizer.advisor_max_seconds ({} s) after {} planner calls, before it had evaluated every candidate: the advice may be incomplete (it took the best move of the round it stopped in). Raise the setting to search further.",
                    o.max_seconds, out.planner_calls
                )
            } else {
                format!(
                    "The search stopped at pg_optimizer.advisor_max_planner_calls ({}) after {} planner calls, before it had evaluated every candidate: the advice may be incomplete (it took the best move of the round it stopped in). Raise the setting to search further.",
                    o.max_planner_calls, out.planner_calls
                )
            },
            ..Default::default()
        });
    }
    Ok(Report {
        rows,
        planner_calls: out.planner_calls,
        cache_hits: out.cache_hits,
        recorded: recorded_count,
        statements: stmts.len(),
        candidates: cands.len(),
        capped: out.capped,
        seconds: started.elapsed().as_secs_f64(),
        rejected,
    })
}

fn cost_params(o: &Options) -> write_cost::CostParams {
    write_cost::CostParams {
        factor: o.write_cost_factor,
        shared_buffers_pages: unsafe { pg_sys::NBuffers } as f64,
        random_page_cost: unsafe { pg_sys::random_page_cost },
        seq_page_cost: unsafe { pg_sys::seq_page_cost },
        cpu_index_tuple_cost: unsafe { pg_sys::cpu_index_tuple_cost },
        cpu_operator_cost: unsafe { pg_sys::cpu_operator_cost },
    }
}

/// The drop advice alone (no planning): the findings of the unused, duplicate and invalid index
/// views, by the same rules as `index_advice`'s drops.
///
/// Only the tables one of the rules can name are read in full (an invalid index, two indexes with
/// the same leading key, or an unscanned index once the statistics are old enough to call one
/// unused): on a database of 10,000 tables that is a handful, not 10,000 catalog reads.
pub fn drop_findings(o: &Options) -> Result<Vec<Row>, String> {
    let window = catalog::stats_window_seconds()?.max(60.0);
    let relids = catalog::tables_with_drop_suspects(window / 86400.0 >= o.unused_days)?;
    drop_rows_of(o, &cost_params(o), window, &relids)
}

fn drop_rows(o: &Options, params: &write_cost::CostParams, window: f64) -> Result<Vec<Row>, String> {
    drop_rows_of(o, params, window, &catalog::tables_with_indexes()?)
}

fn drop_rows_of(o: &Options, params: &write_cost::CostParams, window: f64, relids: &[u32]) -> Result<Vec<Row>, String> {
    let scans = catalog::index_usage()?;
    let days = window / 86400.0;
    let tables = catalog::tables(relids, window)?;
    let mut rows = vec![];
    let names: BTreeMap<u32, String> = index_names()?;
    for t in &tables {
        let usage: Vec<drop::IndexUsage> = t
            .existing
            .iter()
            .map(|e| drop::IndexUsage { oid: e.oid, scans: scans.get(&e.oid).copied().unwrap_or(0), days_observed: days, writes_per_s: 0.0 })
            .collect();
        for a in drop::advise(&t.existing, &usage, &drop::DropSettings { unused_days: o.unused_days }) {
            let e = &t.existing[a.index];
            let other = match a.reason {
                drop::DropReason::Duplicate { of } | drop::DropReason::Prefix { of } => {
                    t.existing.iter().find(|x| x.oid == of).map(|x| x.name.clone()).unwrap_or_default()
                }
                _ => String::new(),
            };
            let kind = match a.reason {
                drop::DropReason::Unused { .. } => "unused",
                drop::DropReason::Duplicate { .. } => "duplicate",
                drop::DropReason::Prefix { .. } => "prefix",
                drop::DropReason::Invalid => "invalid",
            };
            let saved = write_cost::drop_saving(e, t, 1.0, None, params) * HOUR;
            let facts = text::DropFacts { other, bytes: a.bytes, write_cost_per_hour: saved };
            let qualified = names.get(&e.oid).cloned().unwrap_or_else(|| text::quote_ident(&e.name));
            rows.push(Row {
                action: Action::Drop,
                relid: t.relid,
                ddl: Some(text::drop_ddl(&qualified, t.partitioned)),
                table_name: Some(t.qualified_name.clone()),
                index_name: Some(e.name.clone()),
                columns: text::columns_text(e, t),
                include: text::include_text(e, t),
                method: Some(e.am.clone()),
                predicate: e.predicate.clone(),
                bytes: a.bytes,
                write_penalty: saved,
                index_oid: e.oid,
                drop_kind: Some(kind),
                other_index: (!facts.other.is_empty()).then(|| facts.other.clone()),
                scans: scans.get(&e.oid).copied().unwrap_or(0) as i64,
                reason: text::drop_reason(&a.reason, &facts),
                ..Default::default()
            });
        }
    }
    Ok(rows)
}

fn index_names() -> Result<BTreeMap<u32, String>, String> {
    let mut m = BTreeMap::new();
    Spi::connect(|c| {
        for r in c
            .select(
                "SELECT c.oid, '\"' || replace(n.nspname, '\"', '\"\"') || '\".\"' || replace(c.relname, '\"', '\"\"') || '\"'
                   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i', 'I')",
                None,
                &[],
            )
            .map_err(|e| e.to_string())?
        {
            let oid = u32::from(r.get::<pg_sys::Oid>(1).map_err(|e| e.to_string())?.unwrap_or(pg_sys::InvalidOid));
            m.insert(oid, r.get::<String>(2).map_err(|e| e.to_string())?.unwrap_or_default());
        }
        Ok::<_, String>(())
    })?;
    Ok(m)
}

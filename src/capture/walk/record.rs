//! What each executed node adds to the predicate store: scans, quals, join clauses, sort keys.

use super::*;

// ---------------------------------------------------------------------------------------------
// Recording

/// One executed node, as the quals of it see it.
pub(super) struct Node {
    pub(super) plan: *mut pg_sys::Plan,
    pub(super) kind: NodeKind,
    pub(super) obs: NodeObs,
    pub(super) sig: u64,
    pub(super) indexid: u32,
}

pub(crate) unsafe fn record_tree(qd: *mut pg_sys::QueryDesc, userid: pg_sys::Oid, queryid: u64) {
    unsafe {
        let stmt = (*qd).plannedstmt;
        let mut w = Walk {
            stmt,
            rtable: (*stmt).rtable,
            params: (*qd).params,
            base: PredKey { userid: userid.to_u32(), dbid: pg_sys::MyDatabaseId.to_u32(), queryid, sig: 0 },
            now: crate::pg::statement_start(),
            capture: crate::gucs::raw::capture_constants(),
            nest: [(0, Origin { rti: 0, att: 0 }); 32],
            n_nest: 0,
            bitmap_or: Vec::new(),
            deparse_cxt: std::cell::Cell::new(std::ptr::null_mut()),
            or_counter: std::cell::Cell::new(0),
        };
        for_each_node((*qd).planstate, |ps, limit_above| w.node(ps, limit_above));
    }
}

impl Walk {
    pub(super) unsafe fn node(&mut self, ps: *mut pg_sys::PlanState, limit_above: bool) {
        unsafe {
            let plan = (*ps).plan;
            if plan.is_null() {
                return;
            }
            let ptag = tag(plan);
            let kind = node_kind(ptag);
            if ptag == NodeTag::T_BitmapOr && tag(ps) == NodeTag::T_BitmapOrState {
                let bo = ps as *mut pg_sys::BitmapOrState;
                let group = (hash_combine(0x0b17_0a0d, (*plan).plan_node_id as u64) as u32).max(1);
                for i in 0..(*bo).nplans.max(0) as usize {
                    self.bitmap_or.push((*(*bo).bitmapplans.add(i) as usize, group));
                }
            }
            if kind == NodeKind::Other {
                return;
            }
            let obs = observe(ps);
            if kind == NodeKind::Sort || kind == NodeKind::IncrementalSort {
                self.sort_keys(ps, kind, limit_above);
                return;
            }
            if obs.counted && obs.loops == 0.0 {
                return; // never ran (pruned partition, branch a LIMIT never reached)
            }
            // The node's own entry: estimate vs actual.
            let mut d = PredDesc::new(Kind::Scan, kind);
            d.position = (*plan).plan_node_id.clamp(0, u16::MAX as i32) as u16;
            let mut indexid = 0u32;
            if !is_join(kind) {
                let rti = (*(plan as *mut pg_sys::Scan)).scanrelid;
                let rc = self.rel_cols(rti, &[0; MAX_COLS]);
                d.relid = rc.relid;
                d.root_relid = rc.root;
                if rc.partition {
                    d.flags |= F_PARTITION;
                }
                indexid = match ptag {
                    NodeTag::T_IndexScan => (*(plan as *mut pg_sys::IndexScan)).indexid.to_u32(),
                    NodeTag::T_IndexOnlyScan => (*(plan as *mut pg_sys::IndexOnlyScan)).indexid.to_u32(),
                    NodeTag::T_BitmapIndexScan => (*(plan as *mut pg_sys::BitmapIndexScan)).indexid.to_u32(),
                    _ => 0,
                };
                d.indexid = indexid;
            }
            let sig = d.signature();
            self.put(sig, &d, &obs, Vec::new, |_| {});
            let node = Node { plan, kind, obs, sig, indexid };
            let q = (*plan).qual;
            match ptag {
                NodeTag::T_SeqScan | NodeTag::T_SampleScan | NodeTag::T_BitmapHeapScan | NodeTag::T_CustomScan => {
                    self.quals(q, Place::Filter, &node)
                }
                NodeTag::T_IndexScan => {
                    self.quals((*(plan as *mut pg_sys::IndexScan)).indexqualorig, Place::IndexCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_IndexOnlyScan => {
                    self.quals((*(plan as *mut pg_sys::IndexOnlyScan)).indexqual, Place::IndexCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_BitmapIndexScan => {
                    let quals = (*(plan as *mut pg_sys::BitmapIndexScan)).indexqualorig;
                    match self.bitmap_or.iter().find(|(p, _)| *p == ps as usize) {
                        Some(&(_, group)) => {
                            for e in list_iter::<pg_sys::Node>(quals) {
                                self.qual(e, Place::IndexCond, &node, group, false, 0);
                            }
                        }
                        None => self.quals(quals, Place::IndexCond, &node),
                    }
                }
                NodeTag::T_TidScan => self.quals((*(plan as *mut pg_sys::TidScan)).tidquals, Place::TidCond, &node),
                NodeTag::T_TidRangeScan => {
                    self.quals((*(plan as *mut pg_sys::TidRangeScan)).tidrangequals, Place::TidCond, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_ForeignScan => {
                    self.quals(q, Place::Filter, &node);
                    self.quals((*(plan as *mut pg_sys::ForeignScan)).fdw_recheck_quals, Place::Remote, &node);
                }
                NodeTag::T_NestLoop => {
                    let nl = plan as *mut pg_sys::NestLoop;
                    // Map the parameters before the inner side is visited (it is below us).
                    for p in list_iter::<pg_sys::NestLoopParam>((*nl).nestParams) {
                        let v = (*p).paramval;
                        if v.is_null() || self.n_nest == self.nest.len() {
                            continue;
                        }
                        if let Some(o) = self.var_origin(plan, (*v).varno, (*v).varattno, 0) {
                            self.nest[self.n_nest] = ((*p).paramno, o);
                            self.n_nest += 1;
                        }
                    }
                    self.quals((*nl).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_HashJoin => {
                    let hj = plan as *mut pg_sys::HashJoin;
                    self.quals((*hj).hashclauses, Place::HashCond, &node);
                    self.quals((*hj).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                NodeTag::T_MergeJoin => {
                    let mj = plan as *mut pg_sys::MergeJoin;
                    self.quals((*mj).mergeclauses, Place::MergeCond, &node);
                    self.quals((*mj).join.joinqual, Place::JoinFilter, &node);
                    self.quals(q, Place::Filter, &node);
                }
                _ => {}
            }
        }
    }

    pub(super) unsafe fn quals(&self, list: *mut pg_sys::List, place: Place, node: &Node) {
        unsafe {
            for e in list_iter::<pg_sys::Node>(list) {
                self.qual(e, place, node, 0, false, 0);
            }
        }
    }

    pub(super) unsafe fn qual(&self, e: *mut pg_sys::Node, place: Place, node: &Node, or_group: u32, negated: bool, depth: u32) {
        unsafe {
            let e = strip(e);
            if e.is_null() || depth > 16 {
                return;
            }
            match tag(e) {
                NodeTag::T_BoolExpr => {
                    let b = e as *mut pg_sys::BoolExpr;
                    match (*b).boolop {
                        pg_sys::BoolExprType::AND_EXPR => {
                            for a in list_iter((*b).args) {
                                self.qual(a, place, node, or_group, negated, depth + 1);
                            }
                        }
                        pg_sys::BoolExprType::OR_EXPR => {
                            self.or_counter.set(self.or_counter.get() + 1);
                            let g = (hash_combine(node.sig, self.or_counter.get() as u64) as u32).max(1);
                            for a in list_iter((*b).args) {
                                self.qual(a, place, node, g, negated, depth + 1);
                            }
                        }
                        _ => {
                            if list_len((*b).args) == 1 {
                                self.qual(nth((*b).args, 0), place, node, or_group, !negated, depth + 1);
                            }
                        }
                    }
                }
                NodeTag::T_OpExpr if list_len((*(e as *mut pg_sys::OpExpr)).args) == 2 => {
                    let o = e as *mut pg_sys::OpExpr;
                    let q = Qual { opno: (*o).opno.to_u32(), coll: (*o).inputcollid.to_u32(), op_kind: OpKind::Op, place, or_group, negated };
                    self.binary(&q, nth((*o).args, 0), nth((*o).args, 1), node);
                }
                NodeTag::T_ScalarArrayOpExpr if list_len((*(e as *mut pg_sys::ScalarArrayOpExpr)).args) == 2 => {
                    let o = e as *mut pg_sys::ScalarArrayOpExpr;
                    let k = if (*o).useOr { OpKind::Any } else { OpKind::All };
                    let q = Qual { opno: (*o).opno.to_u32(), coll: (*o).inputcollid.to_u32(), op_kind: k, place, or_group, negated };
                    self.binary(&q, nth((*o).args, 0), nth((*o).args, 1), node);
                }
                NodeTag::T_NullTest => {
                    let t = e as *mut pg_sys::NullTest;
                    let k = if (*t).nulltesttype == pg_sys::NullTestType::IS_NULL { OpKind::IsNull } else { OpKind::IsNotNull };
                    let q = Qual { opno: 0, coll: 0, op_kind: k, place, or_group, negated };
                    self.unary(&q, (*t).arg as _, node);
                }
                NodeTag::T_BooleanTest => {
                    let t = e as *mut pg_sys::BooleanTest;
                    let k = match (*t).booltesttype {
                        pg_sys::BoolTestType::IS_TRUE => OpKind::IsTrue,
                        pg_sys::BoolTestType::IS_NOT_TRUE => OpKind::IsNotTrue,
                        pg_sys::BoolTestType::IS_FALSE => OpKind::IsFalse,
                        pg_sys::BoolTestType::IS_NOT_FALSE => OpKind::IsNotFalse,
                        pg_sys::BoolTestType::IS_UNKNOWN => OpKind::IsUnknown,
                        _ => OpKind::IsNotUnknown,
                    };
                    let q = Qual { opno: 0, coll: 0, op_kind: k, place, or_group, negated };
                    self.unary(&q, (*t).arg as _, node);
                }
                NodeTag::T_Var => {
                    let q = Qual { opno: 0, coll: 0, op_kind: OpKind::BoolColumn, place, or_group, negated };
                    self.unary(&q, e, node);
                }
                _ => {
                    let q = Qual { opno: 0, coll: 0, op_kind: OpKind::Other, place, or_group, negated };
                    self.unary(&q, e, node);
                }
            }
        }
    }

    /// A qual on one expression (IS NULL, a bare boolean column, a function call).
    pub(super) unsafe fn unary(&self, q: &Qual, arg: *mut pg_sys::Node, node: &Node) {
        unsafe {
            let mut s = self.side(arg, node.plan);
            if let (Side::Computed, OpKind::Other) = (s, q.op_kind) {
                // A qual over several relations (or a sub-select): keep its columns when they all
                // belong to one relation, else it is not attributable.
                let mut scan = ExprScan::default();
                self.scan_expr(strip(arg), node.plan, &mut scan, 0);
                if scan.n == 0 || scan.multi_rel {
                    return;
                }
                s = Side::Cols { rti: scan.rti, atts: column_set(scan.atts[..scan.n].iter().copied()), expr: strip(arg), hash: scan.hash };
            }
            if let Side::Cols { .. } = s {
                self.emit_qual(q, &s, Rhs::None, None, node, false);
            }
        }
    }

    pub(super) unsafe fn binary(&self, q: &Qual, l: *mut pg_sys::Node, r: *mut pg_sys::Node, node: &Node) {
        unsafe {
            let ls = self.side(l, node.plan);
            let rs = self.side(r, node.plan);
            match (ls, rs) {
                (Side::Cols { .. }, Side::Value(v)) => self.emit_qual(q, &ls, Rhs::Value, Some(v), node, false),
                (Side::Value(v), Side::Cols { .. }) => self.emit_qual(q, &rs, Rhs::Value, Some(v), node, true),
                (Side::Cols { rti: a, .. }, Side::Cols { rti: b, .. }) if a == b => {
                    self.emit_qual_cols(q, &ls, &rs, node)
                }
                (Side::Cols { .. }, Side::Cols { .. }) => self.emit_join(q, &ls, &rs, node, false),
                (Side::Cols { .. }, Side::Outer(o)) => self.emit_join(q, &ls, &outer_side(o), node, true),
                (Side::Outer(o), Side::Cols { .. }) => self.emit_join(q, &outer_side(o), &rs, node, true),
                (Side::Cols { .. }, Side::Computed) => self.emit_qual(q, &ls, Rhs::Computed, None, node, false),
                (Side::Computed, Side::Cols { .. }) => self.emit_qual(q, &rs, Rhs::Computed, None, node, true),
                _ => {}
            }
        }
    }

    /// Fill the column side of `d` (relation, partition root, columns, expression flag) from
    /// `side`; returns the expression to deparse if the entry is created (null for a column).
    pub(super) unsafe fn set_column_side(&self, d: &mut PredDesc, side: &Side) -> *mut pg_sys::Node {
        unsafe {
            let Side::Cols { rti, atts, expr, hash } = *side else { return std::ptr::null_mut() };
            let rc = self.rel_cols(rti, &atts);
            d.relid = rc.relid;
            d.root_relid = rc.root;
            d.attnums = rc.attnums;
            if rc.partition {
                d.flags |= F_PARTITION;
            }
            if !expr.is_null() {
                d.flags |= F_EXPR;
                d.expr_hash = hash;
            }
            expr
        }
    }

    pub(super) unsafe fn base_desc(&self, kind: Kind, q: &Qual, side: &Side, node: &Node) -> (PredDesc, *mut pg_sys::Node) {
        unsafe {
            let mut d = PredDesc::new(kind, node.kind);
            d.place = q.place as u8;
            d.op_kind = q.op_kind as u8;
            d.opno = q.opno;
            d.collation = q.coll;
            d.indexid = node.indexid;
            d.node_sig = node.sig;
            if q.negated {
                d.flags |= F_NEGATED;
            }
            if q.or_group != 0 {
                d.flags |= F_OR_MEMBER;
                d.or_group = q.or_group;
            }
            let expr = self.set_column_side(&mut d, side);
            (d, expr)
        }
    }

    pub(super) unsafe fn emit_qual(&self, q: &Qual, col: &Side, rhs: Rhs, val: Option<Val>, node: &Node, commuted: bool) {
        unsafe {
            let (mut d, expr) = self.base_desc(Kind::Qual, q, col, node);
            d.rhs = rhs as u8;
            if commuted {
                d.flags |= F_COMMUTED;
            }
            let sig = d.signature();
            let plan = node.plan;
            let sample = val.and_then(|v| self.sample(v));
            let list_len = match val {
                Some(Val::Array(n)) => Some(n),
                Some(Val::Const(c)) if q.op_kind == OpKind::Any || q.op_kind == OpKind::All => const_array_len(c),
                _ => None,
            };
            let extern_param = matches!(val, Some(Val::Extern(_)));
            let is_const = matches!(val, Some(Val::Const(_)) | Some(Val::Array(_)));
            self.put(sig, &d, &node.obs, || self.deparse(expr, plan), |c| {
                if is_const {
                    c.n_const += 1;
                }
                if extern_param {
                    c.n_param += 1;
                }
                if let Some(n) = list_len {
                    c.list_len_sum += n as f64;
                    c.list_n += 1;
                }
                // (None when capture_constants is off)
                if let Some((s, r)) = &sample {
                    c.offer_sample(s, *r);
                }
            });
        }
    }

    pub(super) unsafe fn emit_qual_cols(&self, q: &Qual, a: &Side, b: &Side, node: &Node) {
        unsafe {
            let (mut d, expr) = self.base_desc(Kind::Qual, q, a, node);
            d.rhs = Rhs::Column as u8;
            if let Side::Cols { rti, atts, .. } = *b {
                let rc = self.rel_cols(rti, &atts);
                d.rhs_relid = rc.root;
                d.rhs_attnums = rc.attnums;
            }
            let sig = d.signature();
            let plan = node.plan;
            let obs = node.obs;
            self.put(sig, &d, &obs, || self.deparse(expr, plan), |_| {});
        }
    }

    /// A join clause: both sides' columns, in a canonical order (so `a.x = b.y` and `b.y = a.x`
    /// are one entry). `via_param`: it ran inside a parameterised inner scan of a nested loop.
    pub(super) unsafe fn emit_join(&self, q: &Qual, a: &Side, b: &Side, node: &Node, via_param: bool) {
        unsafe {
            let mut q = *q;
            if via_param {
                q.place = match q.place {
                    Place::IndexCond => Place::NestLoopIndexCond,
                    _ => Place::NestLoopFilter,
                };
            }
            let (Side::Cols { rti: ra, atts: aa, .. }, Side::Cols { rti: rb, atts: ab, .. }) = (*a, *b) else { return };
            let ca = self.rel_cols(ra, &aa);
            let cb = self.rel_cols(rb, &ab);
            let swap = (cb.root, cb.attnums) < (ca.root, ca.attnums);
            let (first, second) = if swap { (b, a) } else { (a, b) };
            let (fc, sc) = if swap { (cb, ca) } else { (ca, cb) };
            let _ = second;
            let (mut d, expr) = self.base_desc(Kind::Join, &q, first, node);
            d.relid = fc.relid;
            d.root_relid = fc.root;
            d.attnums = fc.attnums;
            d.rhs = Rhs::JoinColumn as u8;
            d.rhs_relid = sc.root;
            d.rhs_attnums = sc.attnums;
            if swap {
                d.flags |= F_COMMUTED;
            }
            let sig = d.signature();
            let plan = node.plan;
            let obs = node.obs;
            self.put(sig, &d, &obs, || self.deparse(expr, plan), |_| {});
        }
    }

    pub(super) unsafe fn sort_keys(&self, ps: *mut pg_sys::PlanState, kind: NodeKind, limit_above: bool) {
        unsafe {
            let plan = (*ps).plan;
            let s = plan as *mut pg_sys::Sort;
            let n = (*s).numCols.max(0) as usize;
            let presorted = if kind == NodeKind::IncrementalSort { (*(plan as *mut pg_sys::IncrementalSort)).nPresortedCols.max(0) as usize } else { 0 };
            let bound = if kind == NodeKind::Sort {
                let st = ps as *mut pg_sys::SortState;
                (*st).bounded_Done.then_some((*st).bound_Done as f64)
            } else {
                None
            };
            // All keys of this sort share one group id.
            let mut group = 0u64;
            let mut descs: [PredDesc; 8] = [PredDesc::default(); 8];
            let mut exprs: [*mut pg_sys::Node; 8] = [std::ptr::null_mut(); 8];
            let n = n.min(descs.len());
            for i in 0..n {
                let resno = *(*s).sortColIdx.add(i);
                let tlist = (*plan).targetlist;
                let mut d = PredDesc::new(Kind::Sort, kind);
                d.position = (i + 1) as u16;
                d.opno = (*(*s).sortOperators.add(i)).to_u32();
                d.collation = (*(*s).collations.add(i)).to_u32();
                if *(*s).nullsFirst.add(i) {
                    d.flags |= F_NULLS_FIRST;
                }
                if limit_above {
                    d.flags |= F_UNDER_LIMIT;
                }
                if i < presorted {
                    d.flags |= F_PRESORTED;
                }
                if resno > 0 && (resno as usize) <= list_len(tlist) {
                    let tle: *mut pg_sys::TargetEntry = nth(tlist, resno as usize - 1);
                    let side = self.side((*tle).expr as *mut pg_sys::Node, plan);
                    if let Side::Cols { .. } = side {
                        exprs[i] = self.set_column_side(&mut d, &side);
                    } else {
                        d.rhs = Rhs::Computed as u8;
                        exprs[i] = (*tle).expr as *mut pg_sys::Node;
                    }
                }
                group = hash_combine(group, d.signature());
                descs[i] = d;
            }
            let obs = NodeObs { plan_rows: (*plan).plan_rows, ..Default::default() };
            for i in 0..n {
                let mut d = descs[i];
                d.node_sig = group;
                let sig = d.signature();
                let e = exprs[i];
                self.put(sig, &d, &obs, || self.deparse(e, plan), |c| {
                    if let Some(b) = bound {
                        c.limit_n += 1;
                        c.limit_sum += b;
                    }
                });
            }
        }
    }

    /// Record one observation of an entry: the node's counters, then `extra` (a few plain stores,
    /// under the entry's spinlock). `make_expr` runs only if the entry is new.
    pub(super) unsafe fn put(
        &self,
        sig: u64,
        d: &PredDesc,
        obs: &NodeObs,
        make_expr: impl FnOnce() -> Vec<u8>,
        extra: impl FnOnce(&mut PredCounters),
    ) {
        let key = PredKey { sig, ..self.base };
        let now = self.now;
        let Some(h) = store::find_or_create(&key, || (*d, make_expr())) else { return };
        store::update(&key, h, |c| {
            c.record(obs, now);
            extra(c);
        });
    }

    /// A sample of a constant or bound parameter, and a random number for the reservoir.
    pub(super) unsafe fn sample(&self, v: Val) -> Option<(ConstSample, u64)> {
        unsafe {
            if !self.capture {
                return None;
            }
            let s = match v {
                Val::Const(c) => datum_sample((*c).consttype.to_u32(), (*c).constlen, (*c).constbyval, (*c).constisnull, (*c).constvalue),
                Val::Extern(id) => {
                    let p = self.params;
                    if p.is_null() || (*p).paramFetch.is_some() || id < 1 || id > (*p).numParams {
                        return None;
                    }
                    let prm = &*(*p).params.as_ptr().add(id as usize - 1);
                    let (len, byval) = typlenbyval(prm.ptype);
                    datum_sample(prm.ptype.to_u32(), len as i32, byval, prm.isnull, prm.value)
                }
                _ => None,
            }?;
            Some((s, crate::pg::random_u64()))
        }
    }
}

pub(super) fn outer_side(o: Origin) -> Side {
    Side::Cols { rti: o.rti, atts: column_set([o.att]), expr: std::ptr::null_mut(), hash: 0 }
}

#[derive(Clone, Copy)]
pub(super) struct Qual {
    pub(super) opno: u32,
    pub(super) coll: u32,
    pub(super) op_kind: OpKind,
    pub(super) place: Place,
    pub(super) or_group: u32,
    pub(super) negated: bool,
}

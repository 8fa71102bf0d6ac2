-- Arm (c) of bench/tpch_advisor.sh: the approach of supabase's index_advisor (single-column btree
-- what-if with HypoPG), reimplemented for this bench from the description in
-- docs/research/advisor-tpch.md §5. This is our own code; none of supabase's is copied.
--
-- Per query:
--   1. no hypothetical index: EXPLAIN (FORMAT JSON), keep the top node's Total Cost ("before");
--   2. a hypothetical btree on every candidate column (below);
--   3. EXPLAIN (FORMAT JSON) again ("after"); the recommendation is every hypothetical index
--      whose name appears as "Index Name" anywhere in the plan (index, index-only and bitmap
--      index scans). One what-if EXPLAIN with all candidates present, as supabase does; no
--      per-index benefit, no multi-column candidate, no budget.
-- Candidates (as supabase): every column of every permanent table or materialised view outside the
-- system schemas and not owned by an extension, of a type supabase handles, unless that column
-- already has a single-column, non-partial, non-expression index. Columns that only lead a
-- composite index (l_orderkey, ps_partkey) stay candidates, as in supabase.
-- The TPC-H texts have literal constants, so plain EXPLAIN plans exactly what runs; supabase's
-- PREPARE / generic plan step is not needed.
-- Two EXPLAINs per query = the planner calls this arm reports. Needs CREATE EXTENSION hypopg (1.3.1).

create schema if not exists bench;

create or replace function bench.single_column_candidates()
returns table (tbl regclass, col name)
language sql stable as $$
	select c.oid::regclass, a.attname
	from pg_class c
	join pg_namespace n on n.oid = c.relnamespace
	join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
	join pg_type ty on ty.oid = a.atttypid
	where c.relkind in ('r', 'm')
	  and c.relpersistence = 'p'
	  and n.nspname not in ('pg_catalog', 'pg_toast', 'information_schema')
	  and not exists (select 1 from pg_depend d
	                  where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
	  and ty.typname in ('int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'bool', 'date',
	                     'time', 'timestamp', 'timestamptz', 'uuid', 'text', 'char', 'bpchar',
	                     'varchar')
	  and not exists (select 1 from pg_index i
	                  where i.indrelid = c.oid and i.indnatts = 1 and i.indkey[0] = a.attnum
	                    and i.indexprs is null and i.indpred is null)
	order by c.oid, a.attnum
$$;

-- One query: its cost without and with the candidates, and the candidates its plan uses
-- (one row per used index; a single row with null indexdef when the plan uses none).
create or replace function bench.single_column_whatif(q text)
returns table (indexdef text, est_bytes bigint, cost_before float8, cost_after float8)
language plpgsql as $$
#variable_conflict use_column
declare
	plan_before jsonb;
	plan_after jsonb;
	used text[];
	cand record;
	n int := 0;
begin
	perform hypopg_reset();
	execute 'explain (format json) ' || q into plan_before;
	for cand in select * from bench.single_column_candidates() loop
		perform hypopg_create_index(format('create index on %s using btree (%I)', cand.tbl, cand.col));
	end loop;
	execute 'explain (format json) ' || q into plan_after;
	select coalesce(array_agg(distinct v #>> '{}'), '{}')
	  into used
	  from jsonb_path_query(plan_after, 'strict $.**."Index Name"') as v;
	for indexdef, est_bytes in
		select hypopg_get_indexdef(h.indexrelid), hypopg_relation_size(h.indexrelid)
		from hypopg() h
		where h.indexname = any (used)
		order by 1
	loop
		cost_before := (plan_before -> 0 -> 'Plan' ->> 'Total Cost')::float8;
		cost_after := (plan_after -> 0 -> 'Plan' ->> 'Total Cost')::float8;
		n := n + 1;
		return next;
	end loop;
	if n = 0 then
		indexdef := null;
		est_bytes := null;
		cost_before := (plan_before -> 0 -> 'Plan' ->> 'Total Cost')::float8;
		cost_after := (plan_after -> 0 -> 'Plan' ->> 'Total Cost')::float8;
		return next;
	end if;
	perform hypopg_reset();
end
$$;

-- The workload: queries[i] is query i (text without a trailing ';').
create or replace function bench.single_column_advisor(queries text[])
returns table (qid int, indexdef text, est_bytes bigint, cost_before float8, cost_after float8)
language plpgsql as $$
begin
	for i in 1 .. coalesce(array_length(queries, 1), 0) loop
		return query select i, w.indexdef, w.est_bytes, w.cost_before, w.cost_after
		             from bench.single_column_whatif(queries[i]) as w;
	end loop;
end
$$;

-- The budget order (our addition; supabase has none): the union over queries, ranked by total cost
-- improvement, each query's improvement split evenly among the indexes its plan used. The bench
-- then takes them greedily, skipping any that does not fit the remaining budget.
create or replace function bench.single_column_ranking(advice regclass)
returns table (indexdef text, est_bytes bigint, benefit float8)
language plpgsql as $$
begin
	return query execute format($q$
		with per_query as (
			select a.qid, a.indexdef, a.est_bytes,
			       (a.cost_before - a.cost_after) / count(*) over (partition by a.qid) as share
			from %s a
			where a.indexdef is not null)
		select p.indexdef, max(p.est_bytes)::bigint, sum(p.share)::float8
		from per_query p
		group by p.indexdef
		order by 3 desc, 2, 1$q$, advice);
end
$$;

#!/usr/bin/env python3
"""Read a fuzz run's server csvlog (and sqlsmith's progress output), print its figures, and exit 1
on a crash, a `could not open relation with OID`, or a log line of ours. Used by scripts/fuzz.sh.

Ours: a line starting `pg_optimizer:` that reports a failure (our hooks log a caught failure as
`pg_optimizer: <what> skipped: <why>` at LOG); any WARNING or worse raised from our code (its
location is a .rs file) or naming pg_optimizer; an internal error (XX***) raised by PostgreSQL
inside a call of ours (pgrx's backtrace in the DETAIL names pg_optimizer::); a core warning about
a resource, lock, snapshot or reference leak; and any WARNING or worse in the two helper sessions
other than the ones they provoke on purpose (division by zero in session A, a cancel).

Not ours: an argument our SQL functions refuse, by design, when sqlsmith makes it up: an ERROR raised
by our code (a .rs location, or a RAISE in a PL/pgSQL function of the optimizer schema) with a
user-facing SQLSTATE class: 22 (bad data, e.g. a negative budget_mb), 42 (bad name or privilege),
0A (feature not supported, e.g. a job for another database) or 55 (object not in prerequisite
state); those are counted and listed.
FUZZ_STRICT=1 counts them as ours too."""

import argparse
import collections
import csv
import glob
import os
import re
import sys

csv.field_size_limit(sys.maxsize)
FIELDS = ["log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
          "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id",
          "transaction_id", "error_severity", "sql_state_code", "message", "detail", "hint",
          "internal_query", "internal_query_pos", "context", "query", "query_pos", "location",
          "application_name", "backend_type", "leader_pid", "query_id"]
BAD = ("WARNING", "ERROR", "FATAL", "PANIC")
# a child killed by a signal, or one exiting with a code other than 0 or 1 (1: a background worker
# such as the logical replication launcher stopping at shutdown)
CRASH = re.compile(r"\(PID \d+\) (was terminated by|exited with exit code ([2-9]|\d\d))")
# core warnings that mean someone (a hook of ours, say) left something behind
LEAK = re.compile(r"leak|not closed|still referenced|you don't own a lock|non-empty SPI stack|"
                  r"snapshot .*still active|AbortTransaction while|TRANSACTION_STATE|buffer refcount")
HELPER_EXPECTED = {"fuzz_a": {"22012", "57014"}, "fuzz_b": {"57014"}}
# When session A's parallel query fails (division by zero), the leader stops its workers; a worker
# that starts late finds the query's shared memory gone. PostgreSQL's own race, not ours.
PARALLEL_ABORT = {"57P01", "55000"}
# A new backend finds the library missing while scripts/install.sh replaces it.
REINSTALL = 'could not access file "$libdir/pg_optimizer"'

BENIGN_OURS = re.compile(r"^pg_optimizer: (saved|loaded|launcher started) ")


def read_log(log_dir):
    rows = []
    for path in sorted(glob.glob(os.path.join(log_dir, "*.csv"))):
        with open(path, newline="", errors="replace") as f:
            for rec in csv.reader(f):
                rows.append(dict(zip(FIELDS, rec + [""] * (len(FIELDS) - len(rec)))))
    return rows


def error_class(r):
    """SQLSTATE and the message with names, numbers and literals blanked: one class per kind."""
    msg = re.sub(r'"[^"]*"', '"..."', r["message"])
    msg = re.sub(r"\b\d+(\.\d+)?\b", "N", msg)
    msg = re.sub(r": .*$", ": ...", msg)
    words = msg.split()
    return f'{r["sql_state_code"]} {" ".join(words[:9])}{" ..." if len(words) > 9 else ""}'


STRICT = os.environ.get("FUZZ_STRICT") == "1"


REFUSAL_CLASSES = ("22", "42", "0A", "55")
OUR_RAISE = re.compile(r"^PL/pgSQL function optimizer\.\w+\([^)]*\) line \d+ at RAISE")


def refusal(r):
    """An argument sqlsmith made up, refused by one of our functions with a user-facing SQLSTATE."""
    raised_by_us = ".rs:" in r["location"] or (
        r["location"].startswith("exec_stmt_raise") and OUR_RAISE.match(r["context"]))
    return (not STRICT and r["application_name"] == "sqlsmith::dut" and r["error_severity"] == "ERROR"
            and raised_by_us and r["sql_state_code"][:2] in REFUSAL_CLASSES)


def is_ours(r):
    sev, msg, app = r["error_severity"], r["message"], r["application_name"]
    if refusal(r):
        return False
    if msg.startswith(REINSTALL):
        return False  # counted apart: the run overlapped a reinstall
    if msg.startswith("pg_optimizer:"):
        return not BENIGN_OURS.match(msg)
    if sev not in BAD:
        return False
    if ".rs:" in r["location"] or "pg_optimizer" in " ".join((msg, r["hint"])):
        return True
    if r["sql_state_code"].startswith("XX") and "pg_optimizer::" in r["detail"]:
        return True  # an internal error raised by PostgreSQL under a call of ours (backtrace)
    if sev == "WARNING" and LEAK.search(msg):
        # pg_advisory_unlock_shared() of a lock not held warns so; sqlsmith calls it
        return not (msg.startswith("you don't own a lock") and "advisory_unlock" in r["query"])
    if app in HELPER_EXPECTED:
        if r["backend_type"] == "parallel worker" and r["sql_state_code"] in PARALLEL_ABORT:
            return False
        return r["sql_state_code"] not in HELPER_EXPECTED[app]
    return False


def short_backtrace(detail):
    """pgrx's backtrace, cut to our frames and where they are."""
    if "\n   0: " not in detail:
        return detail
    lines = detail.splitlines()
    keep = [f"{l.strip()} {lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].strip().startswith('at ') else ''}"
            for i, l in enumerate(lines) if "pg_optimizer::" in l]
    return "(backtrace) " + " <- ".join(keep[:6])


def show(r, limit=4000):
    out = [f'  {r["log_time"]} [{r["process_id"]}] app={r["application_name"] or "-"} '
           f'{r["error_severity"]} {r["sql_state_code"]}: {r["message"]}']
    for k in ("detail", "hint", "context", "internal_query", "location"):
        if r[k]:
            v = short_backtrace(r[k]) if k == "detail" and limit < 10000 else r[k]
            out.append(f"    {k.upper()}: {v}")
    if r["query"]:
        q = r["query"] if len(r["query"]) <= limit else r["query"][:limit] + " ..."
        out.append(f"    STATEMENT: {q}")
    return "\n".join(out)


def sqlsmith_figures(path):
    """Queries done (progress characters) and sqlsmith's own last report."""
    try:
        text = open(path, errors="replace").read()
    except OSError:
        return 0, 0, ""
    progress = "".join(l for l in text.splitlines() if re.fullmatch(r"[.eStC]+", l))
    reports = text.split("\nqueries: ")
    last = "queries: " + reports[-1] if len(reports) > 1 else ""
    return len(progress), progress.count("C"), last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log-dir", required=True)
    ap.add_argument("--sqlsmith", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--queries", type=int, default=0)
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--iterations-a", default="0")
    ap.add_argument("--iterations-b", default="0")
    a = ap.parse_args()

    rows = read_log(a.log_dir)
    done, broken, smith_report = sqlsmith_figures(a.sqlsmith)
    crashes = [r for r in rows if r["error_severity"] == "PANIC" or CRASH.search(r["message"])]
    no_rel = [r for r in rows if "could not open relation with OID" in r["message"]]
    ours = [r for r in rows if is_ours(r) and r not in no_rel]
    smith = [r for r in rows if r["application_name"] == "sqlsmith::dut" and r["error_severity"] in BAD]
    errors = [r for r in smith if r["error_severity"] == "ERROR"]
    warnings = [r for r in smith if r["error_severity"] == "WARNING"]
    internal = [r for r in errors if r["sql_state_code"].startswith("XX") and not is_ours(r)]
    through_us = [r for r in errors if "pg_optimizer::" in r["detail"] and not is_ours(r)]
    helpers = collections.Counter((r["application_name"], r["error_severity"], error_class(r))
                                  for r in rows if r["application_name"] in HELPER_EXPECTED
                                  and r["error_severity"] in BAD)

    print(f"==> fuzz figures: {done} of {a.queries} sqlsmith queries in {a.seconds} s"
          f" ({done / max(a.seconds, 1):.1f}/s); session A {a.iterations_a} iterations,"
          f" session B {a.iterations_b} iterations")
    print(f"sqlsmith errors (server log): {len(errors)} ({100.0 * len(errors) / max(done, 1):.1f}% of queries),"
          f" {len(set(error_class(r) for r in errors))} classes; top 10 by SQLSTATE and message:")
    for cls, n in collections.Counter(error_class(r) for r in errors).most_common(10):
        print(f"  {n:7d}  {cls}")
    wcls = collections.Counter(error_class(r) for r in warnings)
    if wcls:
        print("sqlsmith warnings: " + "; ".join(f"{n} x {c}" for c, n in wcls.most_common(5)))
    reinstall = [r for r in rows if r["message"].startswith(REINSTALL)]
    if reinstall:
        print(f"NOTE: {len(reinstall)} statements found the library missing (a reinstall during the run)")
    if helpers:
        print("helper sessions, expected: " + "; ".join(f"{app} {n} x {c}" for (app, _, c), n in helpers.most_common(6)))
    refused = [r for r in errors if refusal(r)]
    if refused:
        print(f"arguments our functions refused (not failing; FUZZ_STRICT=1 fails on them): {len(refused)}: "
              + "; ".join(f"{n} x {c}" for c, n in collections.Counter(error_class(r) for r in refused).most_common(5)))
    if through_us:
        print(f"errors PostgreSQL raised inside our SQL functions for sqlsmith's arguments: {len(through_us)}: "
              + "; ".join(f"{n} x {c}" for c, n in collections.Counter(error_class(r) for r in through_us).most_common(5)))
    if internal:
        print(f"internal errors (XX***) raised by PostgreSQL for sqlsmith queries: {len(internal)}"
              f" (not failing the run; check that they are not ours):")
        for cls, n in collections.Counter(error_class(r) for r in internal).most_common(10):
            print(f"  {n:7d}  {cls}")
        with open(os.path.join(a.out, "internal_errors.txt"), "w") as f:
            f.write("\n\n".join(show(r, 20000) for r in internal) + "\n")
    if smith_report:
        with open(os.path.join(a.out, "sqlsmith_report.txt"), "w") as f:
            f.write(smith_report)
    print(f"connections sqlsmith lost: {broken}")

    for title, found in (("CRASHES", crashes), ("could not open relation", no_rel), ("OURS", ours)):
        if found:
            print(f"==> {title}: {len(found)}")
            for r in found[:20]:
                print(show(r))
            with open(os.path.join(a.out, title.split()[0].lower() + ".txt"), "w") as f:
                f.write("\n\n".join(show(r, 100000) for r in found) + "\n")
    print(f"fuzz: {done} queries, {len(errors)} errors, {len(crashes)} crashes, {len(ours) + len(no_rel)} ours")
    return 1 if crashes or no_rel or ours else 0


if __name__ == "__main__":
    sys.exit(main())

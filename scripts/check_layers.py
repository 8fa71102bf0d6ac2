#!/usr/bin/env python3
"""The layer rule of src/lib.rs, checked: a module uses only modules of its own layer or below.

    core crate (pure) -> pg, gucs, error -> shmem, stats -> capture, whatif -> hooks -> advisor, scheduler, partitions, insights -> workers -> api

Every `crate::<module>` path in a file under src/<module>/ (or src/<module>.rs) is checked against
this table. Exits 1 and lists each upward reference. Run by `make unit`."""

import os
import re
import sys

LAYERS = {
    "pg": 1, "gucs": 1, "error": 1,
    "shmem": 2, "stats": 2,
    "capture": 3, "whatif": 3,
    "hooks": 4,
    "advisor": 5, "scheduler": 5, "partitions": 5, "insights": 5,
    "workers": 6,
    "api": 7,
    "tests": 8,
}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    rel = os.path.relpath(path, ROOT).split(os.sep)
    return rel[0][:-3] if len(rel) == 1 and rel[0].endswith(".rs") else rel[0]


def main():
    bad = []
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            mod = module_of(path)
            if mod not in LAYERS:
                continue  # lib.rs (the top), bin/
            with open(path) as fh:
                for n, line in enumerate(fh, 1):
                    code = line.split("//")[0]
                    used_mods = re.findall(r"\bcrate::(\w+)", code)
                    for group in re.findall(r"\bcrate::\{([^}]*)\}", code):
                        used_mods += [g.strip().split("::")[0] for g in group.split(",") if g.strip()]
                    for used in used_mods:
                        if used in LAYERS and LAYERS[used] > LAYERS[mod]:
                            bad.append(f"{os.path.relpath(path, ROOT)}:{n}: {mod} (layer {LAYERS[mod]}) uses {used} (layer {LAYERS[used]}): {line.strip()}")
    for b in bad:
        print(b)
    print(f"layers: {len(bad)} upward references")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

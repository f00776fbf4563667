"""The before/after table of the fault session: `python tests/faults/report.py before.jsonl after.jsonl`.

Each file holds the observations of one run of tests/test_faults.py (FAULTS_LABEL names it):
one row per scenario, combination and mode, with what the client saw in each run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(path: Path) -> dict[tuple[str, str, str], dict[str, object]]:
    found = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        found[(row["scenario"], row["combo"], row["mode"])] = row
    return found


def main() -> None:
    before, after = (rows(Path(name)) for name in sys.argv[1:3])
    print("| scenario | task type-framework | mode | before | after |")
    print("|---|---|---|---|---|")
    for key in sorted(set(before) | set(after)):
        cells = []
        for run in (before, after):
            row = run.get(key)
            cells.append("not run" if row is None else f"{'ok' if row['ok'] else 'FAIL'}: {row['saw']}{_extra(row)}")
        print(f"| {' | '.join(key)} | {cells[0]} | {cells[1]} |")


def _extra(row: dict[str, object]) -> str:
    extra = {k: v for k, v in row.items() if k not in ("combo", "scenario", "mode", "saw", "ok")}
    return f" ({', '.join(f'{k} {v}' for k, v in extra.items())})" if extra else ""


if __name__ == "__main__":
    main()

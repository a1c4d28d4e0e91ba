"""Record Adobe's engine's answers to the differential cases (``differential.py``) for ``test_differential.py``.

    python -m tests.decisioning.make_official_answers <python of a venv with target-python-sdk==1.1.0 and
        json-logic-qubit>

writes ``tests/decisioning/data/official_answers.json`` (the normal form of each answer). Re-run it when the
cases change. The venv: ``python -m venv V && V/bin/pip install target-python-sdk==1.1.0 json-logic-qubit
urllib3 python-dateutil six certifi 'setuptools<81' user-agents tld tzlocal requests``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .differential import COUNT, SEED, make_cases, normal_form
from .vectors import REAL_ARTIFACT

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "official_answers.json"


def main() -> None:
    python = sys.argv[1]
    cases = make_cases()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    run = subprocess.run(
        [python, str(HERE / "official_worker.py"), str(REAL_ARTIFACT), f.name],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(cases), (len(lines), run.stderr[-2000:])
    answers = [
        normal_form(case["request"], line["response"], [tuple(n) for n in line["notifications"]])
        for case, line in zip(cases, lines, strict=True)
    ]
    OUT.parent.mkdir(exist_ok=True)
    body = ",\n".join(json.dumps(a, sort_keys=True, separators=(",", ":")) for a in answers)
    OUT.write_text(f'{{"seed": {SEED}, "count": {COUNT}, "answers": [\n{body}\n]}}\n')
    sys.stdout.write(f"wrote {OUT} ({OUT.stat().st_size} bytes)\n")


if __name__ == "__main__":
    main()

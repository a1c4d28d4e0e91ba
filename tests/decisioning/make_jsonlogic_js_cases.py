"""Record json-logic-js's answers to random rules, for test_jsonlogic.py's differential test.

    cd "$(mktemp -d)" && npm install json-logic-js@2.0.5 && NODE_PATH=$PWD/node_modules \
        /path/to/.venv/bin/python /path/to/tests/decisioning/make_jsonlogic_js_cases.py [N] [SEED]

Writes ``jsonlogic_js_cases.json`` beside this file: ``{"generator": ..., "cases": [[rule, data, answer], ...]}``
where ``answer`` is json-logic-js's result, encoded so JSON can carry it: ``{"$nan": 1}``, ``{"$inf": ±1}``,
``{"$obj": {...}}`` for an object (a literal or a datum), ``null`` for ``undefined``; cases where json-logic-js
throws are left out. Not collected by pytest (no ``test_`` prefix); run it again after changing the generator.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("jsonlogic_js_cases.json")

RUNNER = r"""
const jsonLogic = require('json-logic-js');
console.log = () => {};
function enc(v) {
  if (v === undefined) return null;
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return {"$nan": 1};
    if (!Number.isFinite(v)) return {"$inf": v > 0 ? 1 : -1};
    return v;
  }
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = enc(v[k]);
    return {"$obj": o};
  }
  return v;
}
const lines = require('fs').readFileSync(0, 'utf8').trim().split('\n');
const out = lines.map((line) => {
  const [rule, data] = JSON.parse(line);
  try { return JSON.stringify(enc(jsonLogic.apply(rule, data))); } catch (e) { return '{"$err": 1}'; }
});
process.stdout.write(out.join('\n') + '\n');
"""

LITERALS: list[Any] = [
    0, 1, -1, 2, 5, 10, 37.8, -122.3, 0.1, 1e21, 1e-7, 3.5, "", "0", "1", "01", " 12 ", "37.80", "37.8", "0x10",
    "1e3", "abc", "ABC", "a", "b", "10", "9", "-5", "-2", "Infinity", "null", "true", "Ünï", None, True, False, [],
    [1], [1, 2], ["a"], [[2]], [None], {}, {"k": 1, "j": 2},
]  # fmt: skip
KEYS = ["a", "b", "c", "n", "s", "l", "o", "z", "a.b", "l.0", "l.1", "l.01", "o.k", "", "s.0", "l.length", "x.y"]
BINARY = ["==", "!=", "===", "!==", "<", "<=", ">", ">=", "in", "%", "/", "-"]
VARIADIC = ["+", "*", "cat", "min", "max", "merge", "and", "or", "if", "?:", "substr", "missing", "missing_some"]
SCOPED_SOURCES: list[Any] = [{"var": "l"}, {"var": "nl"}, [1, 2, 3], {"var": "s"}, {"var": "o"}, []]
SCOPED_LOGIC: list[Any] = [
    {">": [{"var": ""}, 1]},
    {"var": ""},
    {"+": [{"var": "current"}, {"var": "accumulator"}]},
    {"cat": [{"var": ""}, "x"]},
    {"==": [{"var": ""}, "2"]},
]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def lit(self) -> Any:
        return json.loads(json.dumps(self.r.choice(LITERALS)))

    def var(self) -> Any:
        key = self.r.choice(KEYS)
        return {"var": [key, self.lit()]} if self.r.random() < 0.2 else {"var": key}

    def expr(self, depth: int) -> Any:
        r = self.r
        if depth <= 0 or r.random() < 0.25:
            return self.lit() if r.random() < 0.5 else self.var()
        kind = r.random()
        if kind < 0.45:
            op = r.choice(BINARY)
            n = 3 if op in ("<", "<=") and r.random() < 0.2 else 1 if r.random() < 0.05 else 2
            return {op: [self.expr(depth - 1) for _ in range(n)]}
        if kind < 0.75:
            op = r.choice(VARIADIC)
            if op == "missing":
                return {op: [r.choice(KEYS) for _ in range(r.randint(0, 3))]}
            if op == "missing_some":
                return {op: [r.randint(0, 3), [r.choice(KEYS) for _ in range(r.randint(0, 3))]]}
            return {op: [self.expr(depth - 1) for _ in range(r.randint(1 if op == "*" else 0, 4))]}
        if kind < 0.9:
            op = r.choice(["!", "!!"])
            return {op: [self.expr(depth - 1)]} if r.random() < 0.8 else {op: self.expr(depth - 1)}
        op = r.choice(["map", "filter", "reduce", "all", "none", "some"])
        args = [r.choice(SCOPED_SOURCES), r.choice(SCOPED_LOGIC)]
        if op == "reduce" and r.random() < 0.7:
            args.append(self.expr(0))
        return {op: json.loads(json.dumps(args))}

    def data(self) -> Any:
        r = self.r
        return {
            "a": self.lit(),
            "b": self.lit(),
            "c": self.lit(),
            "n": r.choice([None, 0, 5, -3.5, "7"]),
            "s": r.choice(["Spring", "", "12", "abc"]),
            "l": r.choice([[1, 2, 3], ["a", "b"], [], [0, "0", None]]),
            "nl": [[1], [2, 3]],
            "o": {"k": self.lit(), "b": 2},
            "a.b": 9,
        }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    gen = Gen(seed)
    cases = [(gen.expr(gen.r.randint(1, 3)), gen.data()) for _ in range(n)]
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(RUNNER)
    stdin = "\n".join(json.dumps(c) for c in cases) + "\n"
    proc = subprocess.run(["node", f.name], input=stdin, capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in proc.stdout.strip().split("\n")]
    assert len(answers) == len(cases)
    kept = [[rule, data, a] for (rule, data), a in zip(cases, answers, strict=True) if a != {"$err": 1}]
    version = subprocess.run(
        ["node", "-p", "require('json-logic-js/package.json').version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    payload = {"generator": f"make_jsonlogic_js_cases.py {n} {seed}; json-logic-js {version}", "cases": kept}
    OUT.write_text(json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.write(f"{len(kept)} cases written to {OUT}\n")


if __name__ == "__main__":
    main()

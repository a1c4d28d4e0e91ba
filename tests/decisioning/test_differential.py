"""Differential test: 300 random requests over the real artifact, answered as Adobe's engine answers them.

Adobe's answers (target-python-sdk 1.1.0 with its ``json-logic-qubit``) are recorded in
``data/official_answers.json`` by ``make_official_answers.py``; ``differential.py`` builds the same requests and
says what the comparison leaves out because on-device.md §11 (or §5) requires this engine to differ.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from target_async._serde import structure, unstructure
from target_async.decisioning import DecisionEngine, load_artifact
from target_async.models import DeliveryRequest

from .differential import COUNT, SEED, make_cases, normal_form
from .vectors import REAL_ARTIFACT

RECORDED = Path(__file__).resolve().parent / "data" / "official_answers.json"


@cache
def _engine() -> DecisionEngine:
    artifact = json.loads(REAL_ARTIFACT.read_bytes())
    artifact["geoTargetingEnabled"] = False  # as the recorder gave it to Adobe's engine (no geo lookups)
    return DecisionEngine(load_artifact(artifact), client="targettesting")


def _ours(case: dict[str, Any]) -> dict[str, Any]:
    decision = _engine().decide(structure(case["request"], DeliveryRequest), now=case["now"])
    sent = [(n.mbox.name if n.mbox else "", list(n.tokens or [])) for n in decision.notifications]
    return normal_form(case["request"], unstructure(decision.response), sent)  # type: ignore[arg-type]


def test_the_recording_matches_the_cases() -> None:
    recorded = json.loads(RECORDED.read_text())
    assert (recorded["seed"], recorded["count"], len(recorded["answers"])) == (SEED, COUNT, COUNT)


def test_decisions_match_adobes_engine() -> None:
    answers = json.loads(RECORDED.read_text())["answers"]
    cases = make_cases()
    differ = [i for i, (case, theirs) in enumerate(zip(cases, answers, strict=True)) if _ours(case) != theirs]
    if differ:
        i = differ[0]
        pytest.fail(
            f"{len(differ)} of {COUNT} answers differ from Adobe's engine; first, case {i}:\n"
            f"request {json.dumps(cases[i]['request'])}\nours    {json.dumps(_ours(cases[i]))}\n"
            f"theirs  {json.dumps(answers[i])}"
        )
    # the comparison is not vacuous: most answers carry content, notifications, views and page loads
    text = [json.dumps(a) for a in answers]
    assert sum("sha1:" in t for t in text) > COUNT * 0.6
    assert sum('"views"' in t for t in text) > 30 and sum('"pageLoad"' in t for t in text) > 50
    assert sum(bool(a.get("notifications")) for a in answers) > 50

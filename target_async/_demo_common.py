"""What every step of ``target-async demo`` shares: the fixtures, the names, the printing (see :mod:`._demo`)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from .repository import Component, ComponentType, Representation

PLACEMENT = "home-hero"
AB_MBOX = "checkout-button"
FIXTURES: dict[str, Any] = {
    "mboxes": {
        AB_MBOX: {
            "experiences": [
                {"name": "A (green)", "weight": 50, "options": [{"type": "json", "content": {"color": "green"}}]},
                {"name": "B (orange)", "weight": 50, "options": [{"type": "json", "content": {"color": "orange"}}]},
            ]
        }
    }
}


def _say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 (the demo talks to its user)


def _step(number: int, title: str) -> None:
    _say(f"\n{number}. {title}")


def _iso(delta_days: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=delta_days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _html(placement_id: str, text: str) -> list[Representation]:
    component = Component(at_type=ComponentType.HTML, dc_format="text/html", xdm_content=f"<h1>{text}</h1>")
    return [Representation(xdm_placement=placement_id, xdm_components=[component])]


class _Progress:
    """A one-line progress bar, redrawn at most 20 times."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.shown = -1
        self.live = sys.stdout.isatty()

    def __call__(self, done: int, total: int) -> None:
        step = done * 20 // total
        if step != self.shown and (self.live or done == total):
            self.shown = step
            bar = "#" * step + "." * (20 - step)
            end = "\n" if done == total else ""
            sys.stdout.write(f"\r   [{bar}] {done:>5}/{total}{end}")
            sys.stdout.flush()

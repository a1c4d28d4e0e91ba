"""``target-async artifact``: look inside an on-device rules artifact, or compare two.

``inspect`` summarises one artifact (activities, mboxes and their rules, audiences, what needs a server call,
geo targeting, property and response tokens); ``diff`` lists what changed between two. Both print aligned text,
or with ``--json`` a document with stable keys for scripts. Artifacts are read with the project's own engine
(:func:`target_async.decisioning.load_artifact`), so an artifact this command accepts is one the clients accept.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

from ._artifact_diff import diff_artifacts, format_diff
from ._artifact_inspect import format_inspect, inspect_artifact
from ._artifact_load import ArtifactCliError, _load
from ._artifact_text import _dumps, _one_line

__all__ = ["add_artifact_parser", "run_artifact"]
_PROG = "target-async artifact"


# --------------------------------------------------------------------------------------------------------------
# command line


def add_artifact_parser(sub: Any) -> None:
    """Register ``artifact inspect`` and ``artifact diff`` on the top-level subparsers ``sub``."""
    art = sub.add_parser(
        "artifact",
        help="inspect an on-device rules artifact, or compare two",
        description="Inspect an on-device rules artifact (rules.json or rules.bin), or compare two.",
    )
    cmds = art.add_subparsers(dest="artifact_command", metavar="{inspect,diff}", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON with stable keys (for scripts)")
        p.add_argument(
            "--organization-id",
            metavar="ORG",
            help="IMS organization id (...@AdobeOrg), needed to read an obfuscated rules.bin",
        )
        p.add_argument(
            "--format",
            choices=["json", "bin"],
            help="the artifact's format (default: from the file name, else from its first bytes)",
        )
        p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS", help="for a URL: seconds (default 30)")

    ins = cmds.add_parser(
        "inspect",
        help="summarise one artifact",
        description=(
            "Summarise an artifact: activities, mboxes and views with their rules, audiences, what needs a "
            "server call (remote mboxes and views, geo lookups), property tokens and response tokens."
        ),
        epilog="SOURCE is a file path, an http(s) URL, or - for standard input. Exit status: 0, or 2 on bad input.",
    )
    ins.add_argument("source", metavar="SOURCE", help="rules.json or rules.bin: a path, a URL, or -")
    ins.add_argument("--rules", action="store_true", help="also list every rule of every mbox and view")
    common(ins)

    diff = cmds.add_parser(
        "diff",
        help="show what changed between two artifacts",
        description=(
            "Show what changed from artifact A to artifact B: activities, mboxes, views and rules added, removed "
            "or changed, offers whose content changed, and changed settings (remote mboxes, tokens, geo)."
        ),
        epilog=(
            "A and B are file paths, http(s) URLs, or - (standard input, once). Exit status: 0 (like git diff; "
            "with --exit-code: 0 when identical, 1 when they differ), 2 on bad input."
        ),
    )
    diff.add_argument("a", metavar="A", help="the old artifact")
    diff.add_argument("b", metavar="B", help="the new artifact")
    diff.add_argument("--exit-code", action="store_true", help="exit with 1 when the artifacts differ")
    common(diff)


def run_artifact(args: argparse.Namespace, *, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run ``artifact inspect`` or ``artifact diff``; return the exit status."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        if args.artifact_command == "inspect":
            payload = _load(args.source, args)
            summary = inspect_artifact(payload, source=args.source)
            out.write(_dumps(summary) if args.json else format_inspect(summary, rules=args.rules))
            return 0
        if args.a == "-" and args.b == "-":
            raise ArtifactCliError("standard input (-) can be only one of A and B")
        old, new = _load(args.a, args), _load(args.b, args)
        result = diff_artifacts(old, new, a=args.a, b=args.b)
        out.write(_dumps(result) if args.json else format_diff(result))
        return 1 if args.exit_code and not result["identical"] else 0
    except ArtifactCliError as exc:
        err.write(f"{_PROG} {args.artifact_command}: {_one_line(str(exc))}\n")
        return 2

"""The ``target-async`` command line (also ``python -m target_async``).

``target-async emulator [--host 127.0.0.1] [--port 8080] [--db PATH] [--fixtures FILE]`` serves the emulator;
``target-async demo`` runs the end-to-end demonstration against an embedded emulator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

_MISSING_EXTRA = "the emulator needs its extra: pip install 'target-async[emulator]'"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="target-async", description=__doc__.split("\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    emu = sub.add_parser("emulator", help="serve the Delivery + repository emulator (uvicorn)")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8080)
    emu.add_argument("--db", metavar="PATH", help="SQLite file (default: in memory)")
    emu.add_argument("--fixtures", metavar="FILE", help="Delivery fixtures (JSON)")
    emu.add_argument(
        "--delete-mode", choices=["async", "immediate", "no-location"], default="async", help="how DELETE answers"
    )
    demo = sub.add_parser("demo", help="run the end-to-end demonstration against an embedded emulator")
    demo.add_argument("--visitors", type=int, default=1000, help="visitors decided concurrently (default 1000)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "emulator":
        try:
            import uvicorn

            from .emulator import create_app
        except ImportError:
            print(_MISSING_EXTRA, file=sys.stderr)
            return 2
        try:
            app = create_app(db_path=args.db, fixtures=args.fixtures, delete_mode=args.delete_mode)
        except (OSError, ValueError) as exc:
            print(f"target-async emulator: {exc}", file=sys.stderr)
            return 2
        print(f"target-async emulator on http://{args.host}:{args.port}  (Ctrl-C stops)", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")
        return 0
    if args.command == "demo":
        try:
            from ._demo import run_demo
        except ImportError as exc:
            print(f"{_MISSING_EXTRA} ({exc})", file=sys.stderr)
            return 2
        return run_demo(visitors=args.visitors)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

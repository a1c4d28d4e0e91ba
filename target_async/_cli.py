"""The target-async command line (also ``python -m target_async``).

Commands: ``emulator`` serves the Delivery and repository emulator, ``demo`` runs the end-to-end demonstration
against an embedded emulator, ``artifact inspect`` / ``artifact diff`` look into on-device rules artifacts.
With no command, the help is printed on standard error and the exit status is 2 (a usage error).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import IO, Any

from ._artifact_cli import add_artifact_parser, run_artifact
from ._exceptions import TargetError
from ._version import __version__

__all__ = ["RequestLogMiddleware", "main"]

_MISSING_EXTRA = "the emulator needs its extra: pip install 'target-async[emulator]'"

# Help texts are plain text: argparse prints them as they are, so no reStructuredText markup here.
_DESCRIPTION = "target-async: an asyncio-native SDK for Adobe Target, with an offline emulator."
_EPILOG = (
    "Run 'target-async COMMAND --help' for the options of a command. "
    "Start with 'target-async demo' (no network, no setup)."
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestLogMiddleware:
    """ASGI middleware printing one line per HTTP request: method, path (with query), status, milliseconds.

    A request whose app fails before answering is printed with status 500 (what the server then sends).
    """

    def __init__(self, app: ASGIApp, *, stream: IO[str] | None = None, clock: Callable[[], float] = time.perf_counter):
        self.app = app
        self.stream = stream
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        start = self.clock()
        status: list[int] = []

        async def send_and_note(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status.append(int(message.get("status", 0)))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            ms = (self.clock() - start) * 1000.0
            path = scope.get("path", "")
            query = scope.get("query_string", b"")
            if query:
                path += "?" + query.decode("latin-1")
            stream = self.stream if self.stream is not None else sys.stdout
            code = status[0] if status else 500
            print(f"{scope.get('method', '-')} {path} {code} {ms:.1f}ms", file=stream, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="target-async", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    emu = sub.add_parser(
        "emulator",
        help="serve the Delivery and repository emulator (uvicorn)",
        description=(
            "Serve the emulator of the Target Delivery API and the Decisioning repository API (uvicorn, "
            "SQLite storage). Needs the emulator extra: pip install 'target-async[emulator]'."
        ),
    )
    emu.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    emu.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    emu.add_argument("--db", metavar="PATH", help="SQLite file (default: in memory)")
    emu.add_argument("--fixtures", metavar="FILE", help="Delivery fixtures (JSON)")
    emu.add_argument(
        "--artifact", metavar="FILE", help="an on-device rules artifact (rules.json) the emulator decides and serves"
    )
    emu.add_argument(
        "--organization-id",
        metavar="ORG",
        help="IMS organization id (...@AdobeOrg): reads an --artifact rules.bin and obfuscates the rules.bin served",
    )
    emu.add_argument(
        "--delete-mode",
        choices=["async", "immediate", "no-location"],
        default="async",
        help="how DELETE answers (default async)",
    )
    emu.add_argument(
        "--log-requests", action="store_true", help="print one line per request: method, path, status, milliseconds"
    )
    demo = sub.add_parser(
        "demo",
        help="run the end-to-end demonstration against an embedded emulator",
        description=(
            "Run the end-to-end demonstration against an embedded emulator on a free loopback port: offers as "
            "code, paging, conflicts, deletes with polling, concurrent decisions, legacy callbacks and on-device "
            "decisioning."
        ),
    )
    demo.add_argument("--visitors", type=int, default=1000, help="visitors decided concurrently (default 1000)")
    demo.add_argument(
        "--on-device-visitors", type=int, default=10_000, help="visitors decided on-device (default 10000)"
    )
    demo.add_argument(
        "--server-sample",
        type=int,
        default=1000,
        help="of those, how many are decided server-side too, to compare (default 1000)",
    )
    add_artifact_parser(sub)
    return parser


def _emulator(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from .emulator import create_app
    except ImportError:
        print(_MISSING_EXTRA, file=sys.stderr)
        return 2
    options: dict[str, Any] = {"db_path": args.db, "fixtures": args.fixtures, "delete_mode": args.delete_mode}
    accepted = inspect.signature(create_app).parameters
    for flag, name in (("--artifact", "artifact"), ("--organization-id", "organization_id")):
        value = getattr(args, name)
        if value is None:
            continue
        if name not in accepted:
            print(
                f"target-async emulator: {flag} is not supported by this version of the emulator "
                f"(create_app has no {name} parameter)",
                file=sys.stderr,
            )
            return 2
        options[name] = value
    try:
        app: Any = create_app(**options)
    except (OSError, ValueError, TargetError) as exc:  # a bad --fixtures/--artifact/--db: one line, no traceback
        print(f"target-async emulator: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    if args.log_requests:
        app = RequestLogMiddleware(app)
    print(f"target-async emulator on http://{args.host}:{args.port}  (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off", access_log=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # Like clap's arg_required_else_help (uv, ruff): no command is a usage error, so the help goes to stderr
        # and the status is argparse's usage-error status, 2; '--help' is the way to ask for it with status 0.
        parser.print_help(sys.stderr)
        return 2
    if args.command == "emulator":
        return _emulator(args)
    if args.command == "demo":
        try:
            from ._demo import run_demo
        except ImportError as exc:
            print(f"{_MISSING_EXTRA} ({exc})", file=sys.stderr)
            return 2
        return run_demo(
            visitors=args.visitors, ondevice_visitors=args.on_device_visitors, server_sample=args.server_sample
        )
    if args.command == "artifact":
        return run_artifact(args)
    return 2  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

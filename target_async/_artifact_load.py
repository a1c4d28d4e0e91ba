"""Reading an artifact for ``target-async artifact``: a file, standard input or a URL, via ``load_artifact``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024


class ArtifactCliError(Exception):
    """A one-line, user-facing reason the command cannot go on (exit status 2)."""


# --------------------------------------------------------------------------------------------------------------
# loading


def _load(source: str, args: argparse.Namespace) -> Mapping[str, Any]:
    """Read ``source`` (path, URL or ``-``) and load it with the engine; return the decoded artifact."""
    from .decisioning import ArtifactError, load_artifact

    fmt = args.format
    if source.startswith(("http://", "https://")):
        data = _fetch(source, timeout=args.timeout)
        name = source.split("?", 1)[0]
    elif source == "-":
        data = sys.stdin.buffer.read()
        name = ""
    else:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ArtifactCliError(f"{source}: no such file") from None
        except IsADirectoryError:
            raise ArtifactCliError(f"{source}: is a directory, not an artifact file") from None
        except OSError as exc:
            raise ArtifactCliError(f"{source}: cannot read it ({exc.strerror or exc})") from None
        name = source
    if fmt is None:  # by name first: a broken rules.json must say "not valid JSON", not "bad rules.bin header"
        if name.endswith(".json"):
            fmt = "json"
        elif name.endswith(".bin"):
            fmt = "bin"
    label = source if source != "-" else "standard input"
    if not data.strip():
        raise ArtifactCliError(f"{label}: the artifact is empty")
    try:
        artifact = load_artifact(data, organization_id=args.organization_id, format=fmt)
    except ArtifactError as exc:
        message = exc.message
        if "needs the organization id" in message:
            message += " (pass --organization-id ...@AdobeOrg)"
        elif "not valid JSON" in message and (fmt == "bin" or (fmt is None and data.lstrip()[:1] not in (b"{", b"["))):
            message += " after reading it as rules.bin (is --organization-id the artifact's organization?)"
        raise ArtifactCliError(f"{label}: {message}") from None
    except RecursionError:
        raise ArtifactCliError(f"{label}: the artifact is nested too deeply") from None
    except Exception as exc:  # anything the engine did not foresee is still bad input, not a traceback
        raise ArtifactCliError(f"{label}: the artifact cannot be loaded ({type(exc).__name__}: {exc})") from None
    return artifact.payload


def _fetch(url: str, *, timeout: float) -> bytes:
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True) as client,
            client.stream("GET", url, headers={"Accept": "application/json, application/octet-stream"}) as resp,
        ):
            if resp.status_code != 200:
                raise ArtifactCliError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ArtifactCliError(f"{url}: the artifact is larger than {MAX_DOWNLOAD_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.InvalidURL as exc:
        raise ArtifactCliError(f"{url}: not a valid URL ({exc})") from None
    except httpx.TimeoutException:
        raise ArtifactCliError(f"{url}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ArtifactCliError(f"{url}: cannot fetch it ({type(exc).__name__}: {exc})") from None

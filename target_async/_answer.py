"""What the HTTP core hands back to the clients: one HTTP answer, read whole, whatever exchange carried it.

Bodies are read through :class:`BodyReader`, which decodes ``gzip``/``deflate`` itself, chunk by chunk, and stops
as soon as the decoded size passes the cap: a small compressed answer cannot inflate into a large allocation.
A received answer's body is read with :func:`decode_answer` (JSON expected) or :func:`decode_body` (anything).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any, TypeVar, overload

import attrs

from ._exceptions import ResponseDecodeError, ValidationError
from ._serde import JSON_DECODE_ERRORS, json_loads, structure

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "MAX_SIZE_EXTENSION",
    "Answer",
    "BodyError",
    "BodyReader",
    "BodyTooLarge",
    "BodyUndecodable",
    "decode_answer",
    "decode_body",
    "lower_headers",
    "response_decode_error",
]

T = TypeVar("T")

DEFAULT_MAX_RESPONSE_SIZE = 16 * 1024 * 1024
"""The default cap of a decoded answer body in bytes (API answers are small JSON documents)."""

MAX_SIZE_EXTENSION = "target_async.max_response_size"
"""The httpx request extension that tells :class:`~target_async._aiohttp.AiohttpTransport` the cap of a raw body."""


class BodyError(Exception):
    """A body could not be read; the transport fills in the answer's ``status`` and ``headers`` (the HTTP core
    maps it into the :class:`~target_async.APIError` tree)."""

    status: int = 0
    headers: dict[str, str] = {}


class BodyTooLarge(BodyError):
    """The decoded body passes its cap (:class:`~target_async.ResponseTooLargeError`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the decoded answer is larger than {limit} bytes")
        self.limit = limit


class BodyUndecodable(BodyError):
    """The body is not valid for its ``Content-Encoding`` (:class:`~target_async.ResponseDecodeError`)."""


class BodyReader:
    """Decode a body fed in raw chunks (``Content-Encoding`` gzip, deflate or none) under a size cap.

    Another encoding (the SDK only offers gzip and deflate) is kept as received, under the same cap.
    """

    __slots__ = ("_decoder", "_deflate", "_limit", "_parts", "_size")

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        encoding = (content_encoding or "").strip().lower()
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._deflate = encoding == "deflate"
        self._decoder: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._deflate:
            self._decoder = zlib.decompressobj()

    def _add(self, data: bytes) -> None:
        if data:
            self._size += len(data)
            if self._size > self._limit:
                raise BodyTooLarge(self._limit)
            self._parts.append(data)

    def feed(self, raw: bytes) -> None:
        """Add one raw chunk; raises :class:`BodyTooLarge` once the decoded size passes the cap."""
        decoder = self._decoder
        if decoder is None:
            self._add(raw)
            return
        try:
            try:
                # max_length: never inflate more than one byte past the cap in one step
                out = decoder.decompress(raw, self._limit - self._size + 1)
            except zlib.error:
                if not self._deflate or self._size:
                    raise
                # "deflate" sent as a raw deflate stream (no zlib header), as some servers do
                self._deflate = False
                self._decoder = decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                out = decoder.decompress(raw, self._limit - self._size + 1)
        except zlib.error as exc:
            raise BodyUndecodable(f"the answer's compressed body is invalid: {exc}") from exc
        self._add(out)
        if decoder.unconsumed_tail:  # the output limit was reached: the body is over the cap
            raise BodyTooLarge(self._limit)

    def finish(self) -> bytes:
        """The decoded body."""
        if self._decoder is not None:
            try:
                self._add(self._decoder.flush())
            except zlib.error as exc:
                raise BodyUndecodable(f"the answer's compressed body is invalid: {exc}") from exc
        return b"".join(self._parts)


def lower_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Header names in lower case; the values of a repeated header joined with ``", "`` (as httpx does)."""
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = headers.get(name)
        headers[name] = text if previous is None else f"{previous}, {text}"
    return headers


@attrs.frozen(slots=True)
class Answer:
    """One HTTP answer.

    Attributes:
        status_code: the HTTP status.
        headers: the response headers, names in lower case.
        content: the body, decoded from any ``Content-Encoding``.
        url: the URL the request went to.
        reason_phrase: the status line's reason.
        request_id: the ``X-Request-Id`` the SDK sent (set by the HTTP core), for error messages.
    """

    status_code: int
    headers: dict[str, str]
    content: bytes
    url: str
    reason_phrase: str = ""
    request_id: str | None = None

    @property
    def text(self) -> str:
        """The body as text: the ``Content-Type`` charset, else UTF-8 (undecodable bytes replaced)."""
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip().strip('"')
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:  # an unknown charset
            return self.content.decode("utf-8", errors="replace")


def decode_body(response: Answer) -> Any:
    """The JSON body of ``response``, its text when it is not JSON, or None when it is empty."""
    content = response.content
    if not content:
        return None
    try:
        return json_loads(content)
    except JSON_DECODE_ERRORS:
        return response.text


_EXCERPT = 200  # as the repository's envelopes: the first 200 characters of the body


def response_decode_error(response: Answer, problem: str, *, what: str = "answer") -> ResponseDecodeError:
    """The error for a received ``response`` whose body cannot be used: says that the request WAS sent.

    ``problem`` says what is wrong (``"not JSON"``, ``"no _embedded"``); the error carries the status, the
    request id and an excerpt of the body.
    """
    excerpt = response.text[:_EXCERPT]
    request_id = response.headers.get("x-request-id") or response.request_id
    return ResponseDecodeError(
        response.status_code,
        f"the request was sent and answered with HTTP {response.status_code}, but the {what} cannot be read: "
        f"{problem}; body starts {excerpt[:120]!r}",
        body=excerpt,
        request_id=request_id,
        headers=response.headers,
    )


@overload
def decode_answer(response: Answer, cls: None = None, *, what: str = ..., allow_empty: bool = ...) -> Any: ...
@overload
def decode_answer(response: Answer, cls: type[T], *, what: str = ..., allow_empty: bool = ...) -> T: ...
def decode_answer(
    response: Answer, cls: type[T] | None = None, *, what: str = "answer", allow_empty: bool = False
) -> Any:
    """The JSON body of a received answer (structured into ``cls`` when given).

    The one way to read an answer's body: a body that is not JSON (HTML, truncated), an empty body (unless
    ``allow_empty``: then None), or JSON of the wrong shape for ``cls`` raises
    :class:`~target_async.ResponseDecodeError`, which says the request was sent, with its status, request id
    and a body excerpt; never a bare decoder error, nor a ValidationError ("nothing was sent").
    """
    content = response.content
    if not content.strip():
        if allow_empty:
            return None
        raise response_decode_error(response, "the body is empty", what=what)
    try:
        data = json_loads(content)
    except JSON_DECODE_ERRORS as exc:
        raise response_decode_error(response, f"not JSON ({exc})", what=what) from exc
    if cls is None:
        return data
    try:
        return structure(data, cls, what=what)
    except ValidationError as exc:
        raise response_decode_error(response, exc.message, what=what) from exc

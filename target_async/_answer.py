"""What the HTTP core hands back to the clients: one HTTP answer, read whole, whatever transport carried it.

Bodies are read through :class:`BodyReader`, which decodes ``gzip``/``deflate`` itself, chunk by chunk, and stops
as soon as the decoded size passes the cap: a small compressed answer cannot inflate into a large allocation.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, Iterable

import attrs
import httpx

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "MAX_SIZE_EXTENSION",
    "Answer",
    "BodyError",
    "BodyReader",
    "BodyTooLarge",
    "BodyUndecodable",
    "lower_headers",
    "read_capped",
]

DEFAULT_MAX_RESPONSE_SIZE = 16 * 1024 * 1024
"""The default cap of a decoded answer body in bytes (API answers are small JSON documents)."""

MAX_SIZE_EXTENSION = "target_async.max_response_size"
"""The httpx request extension that tells the SDK's aiohttp transport the cap of a body (raw bytes)."""


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


async def read_capped(chunks: AsyncIterable[bytes], content_encoding: str | None, limit: int) -> bytes:
    """Read and decode a raw byte stream under ``limit`` (see :class:`BodyReader`)."""
    reader = BodyReader(content_encoding, limit)
    async for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


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

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Answer:
        """The answer of an httpx response that has been read."""
        return cls(
            response.status_code,
            lower_headers(response.headers.raw),
            response.content,
            str(response.request.url),
            response.reason_phrase,
        )

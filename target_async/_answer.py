"""What the HTTP core hands back to the clients: one HTTP answer, read whole, whatever transport carried it."""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import httpx

__all__ = ["Answer", "lower_headers"]


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
    """

    status_code: int
    headers: dict[str, str]
    content: bytes
    url: str
    reason_phrase: str = ""

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

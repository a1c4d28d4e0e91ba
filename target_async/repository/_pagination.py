"""Paging through list and search results.

The termination rule (spec F7-F12), per page:

1. An empty page ends the iteration (it is yielded only when it is the first page).
2. A page whose instances all appeared on the previous page raises :class:`PaginationError` (the
   server did not move forward); so does a ``_links.next`` URL that was already followed.
3. When the page has ``_links.next``, that URL is fetched next, verbatim.
4. Without it: if an earlier page had a next link, or ``total`` (items from this page on) is not larger
   than the page, the iteration ends. Otherwise the next ``start`` is the last item's sort value(s)
   (``order_by`` keys, or ``instanceId`` by default; several keys are joined with ``,`` as the service does
   in its own next links). The same ``start`` twice in a row raises :class:`PaginationError`.

The page size is never assumed to equal ``limit``: the service may return more or fewer items so that
sort values differ across a page boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from typing import Any

from .._exceptions import PaginationError
from .._serde import unstructure
from ..models.repository import Instance, Page
from ._params import sort_paths

__all__ = ["AsyncPaginator", "PageFetcher", "PaginationError", "sort_value"]

PageFetcher = Callable[[str | None, str | None], Awaitable[Page]]
"""``fetch(start, url)``: the first page (both None), a page from ``start``, or the page at ``url``."""


def _format(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PaginationError(
        f"cannot page on {path!r}: the last item's value {value!r} is not a string or number "
        "and the server sent no next link"
    )


def sort_value(instance: Instance, paths: Sequence[str]) -> str:
    """The ``start`` value after ``instance`` for the given sort paths (composite values joined by ``,``)."""
    wire = unstructure(instance)
    parts = []
    for path in paths:
        node: Any = wire
        for segment in path.split("."):
            node = node.get(segment) if isinstance(node, dict) else None
            if node is None:
                raise PaginationError(
                    f"cannot page on {path!r}: the last item ({instance.instance_id}) has no value "
                    "and the server sent no next link"
                )
        parts.append(_format(node, path))
    return ",".join(parts)


class AsyncPaginator:
    """The results of a list or search: ``async for`` gives instances, :meth:`iter_pages` gives pages.

    ``await paginator`` returns the first page. Nothing is sent until one of these is used; the arguments
    were validated when the paginator was created.
    """

    def __init__(self, fetch: PageFetcher, order_by: Sequence[str]) -> None:
        self._fetch = fetch
        self._paths = sort_paths(order_by)

    def __aiter__(self) -> AsyncIterator[Instance]:
        return self._items()

    async def _items(self) -> AsyncIterator[Instance]:
        async for page in self.iter_pages():
            for instance in page.results:
                yield instance

    def __await__(self) -> Generator[Any, None, Page]:
        return self.first_page().__await__()

    async def first_page(self) -> Page:
        """Fetch the first page only."""
        return await self._fetch(None, None)

    async def to_list(self, max_items: int | None = None) -> list[Instance]:
        """Collect the instances (at most ``max_items``) into a list."""
        out: list[Instance] = []
        if max_items is not None and max_items <= 0:
            return out
        async for instance in self:
            out.append(instance)
            if max_items is not None and len(out) >= max_items:
                break
        return out

    async def iter_pages(self) -> AsyncIterator[Page]:
        """Yield every page, following the termination rule of this module."""
        start: str | None = None
        url: str | None = None
        followed: set[str] = set()
        previous_ids: frozenset[str] | None = None
        server_links = False
        while True:
            page = await self._fetch(start, url)
            if not page.results:
                if previous_ids is None:  # an empty list still has one (empty) page
                    yield page
                return
            ids = frozenset(i.instance_id for i in page.results)
            if previous_ids is not None and ids <= previous_ids:
                raise PaginationError(
                    f"the server returned the previous page again (start={start!r}, url={url!r}); stopping"
                )
            previous_ids = ids
            yield page
            if page.next is not None:
                if page.next in followed:
                    raise PaginationError(f"the server repeated the next link {page.next}; stopping")
                followed.add(page.next)
                server_links = True
                url, start = page.next, None
                continue
            if server_links or (page.total is not None and page.total <= len(page.results)):
                return
            new_start = sort_value(page.results[-1], self._paths)
            if new_start == start:
                raise PaginationError(f"start={start!r} did not advance; the server ignores it")
            start, url = new_start, None

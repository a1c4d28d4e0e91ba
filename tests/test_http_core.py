"""The HTTP core's shortcuts give exactly what httpx's own request building gives."""

from __future__ import annotations

import httpx
from hypothesis import given, strategies as st

from target_async import _http
from target_async._retry import DEFAULT_RETRIES

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
params = st.lists(st.tuples(text.filter(bool), text), max_size=6)


def test_the_fast_query_path_is_active_on_this_httpx() -> None:
    assert _http._FAST_QUERY


def _grouped(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # httpx groups a repeated key's values together; the SDK keeps the caller's order (and always sends a
    # repeated key's values together), so compare on lists where they already are.
    first = {key: i for i, (key, _) in reversed(list(enumerate(items)))}
    return sorted(items, key=lambda item: first[item[0]])


@given(params.map(_grouped))
def test_fast_url_equals_httpx_build_request(items: list[tuple[str, str]]) -> None:
    core = _http.HTTPCore(
        timeout=1.0, retries=DEFAULT_RETRIES, transport=httpx.MockTransport(lambda r: httpx.Response(200))
    )
    client = core.client
    ours = core._build_request(client, "POST", "https://acme.tt.omtrdc.net/rest/v1/delivery", items, {}, b"{}")
    theirs = client.build_request("POST", "https://acme.tt.omtrdc.net/rest/v1/delivery", params=items, content=b"{}")
    assert ours.url == theirs.url
    assert str(ours.url) == str(theirs.url)
    assert list(ours.url.params.multi_items()) == list(theirs.url.params.multi_items())
    assert ours.headers["content-length"] == theirs.headers["content-length"]

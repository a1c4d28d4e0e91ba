"""Friendlier mistakes (issue #14, item 5): enum errors list the allowed values, misspelled options get the close
match, a milliseconds habit in ``timeout`` warns, an organization id without ``@AdobeOrg`` warns."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from target_async import (
    AsyncRepositoryClient,
    AsyncTargetClient,
    ConfigurationError,
    ConfigurationWarning,
    DeliveryRequest,
    RepositoryClient,
    TargetClient,
    ValidationError,
)
from target_async._suggest import closest

ORG = "0123456789ABCDEF01234567@AdobeOrg"
EXECUTE = {"execute": {"mboxes": [{"name": "m", "index": 0}]}}


def client(**kwargs: Any) -> AsyncTargetClient:
    return AsyncTargetClient(client="acme", organization_id=ORG, **kwargs)


# -- enum values ---------------------------------------------------------------------------------------------------


async def test_an_invalid_enum_value_lists_the_allowed_ones() -> None:
    request = {**EXECUTE, "id": {"customerIds": [{"id": "1", "integrationCode": "c", "authenticatedState": "in"}]}}
    async with client() as c:
        with pytest.raises(ValidationError) as info:
            await c.get_offers(request=request)
    message = str(info.value)
    assert "'in' is not one of 'unknown', 'authenticated', 'logged_out'" in message
    assert "_delivery_enums" not in message and "target_async." not in message
    assert info.value.field == "request.id.customer_ids[0].authenticated_state"


async def test_a_wrong_type_names_no_private_module() -> None:
    async with client() as c:
        with pytest.raises(ValidationError) as info:
            await c.get_offers(request={**EXECUTE, "context": {"channel": 5}})
    assert "5 is not one of 'mobile', 'web'" in str(info.value)
    assert "target_async." not in str(info.value)


# -- misspelled options --------------------------------------------------------------------------------------------


def test_a_misspelled_constructor_keyword_suggests_the_close_match() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Unknown option\(s\): organisation_id \(did you mean organization_id\?\)"
    ):
        AsyncTargetClient(client="acme", organisation_id=ORG)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"timout \(did you mean timeout\?\)"):  # still a TypeError, as Python's
        client(timout=3)
    with pytest.raises(ConfigurationError, match=r"sandboxName \(did you mean sandbox_name\?\)") as info:
        AsyncRepositoryClient(access_token="t", api_key="k", org_id=ORG, sandboxName="prod")  # type: ignore[call-arg]
    assert info.value.field == "sandboxName"
    with pytest.raises(ConfigurationError, match=r"Unknown option\(s\): zzz$"):
        client(zzz=1)


def test_the_blocking_clients_suggest_too() -> None:
    with pytest.raises(ConfigurationError, match=r"serverDomain \(did you mean server_domain\?\)"):
        TargetClient.create({"client": "acme", "organization_id": ORG, "serverDomain": "x.example"})
    with pytest.raises(ConfigurationError, match=r"sandbox_nam \(did you mean sandbox_name\?\)"):
        RepositoryClient(access_token="t", api_key="k", org_id=ORG, sandbox_nam="prod")


async def test_a_misspelled_call_option_suggests_the_close_match() -> None:
    async with client() as c:
        with pytest.raises(ValidationError, match=r"Unknown option\(s\): sesion_id \(did you mean session_id\?\)"):
            await c.get_offers(request=DeliveryRequest(), sesion_id="s")  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match=r"targetCookie \(did you mean target_cookie\?\)"):
            await c.get_offers({"request": EXECUTE, "targetCookie": "c"})


def test_create_dict_keys_suggest_the_close_match() -> None:
    with pytest.raises(ConfigurationError, match=r"decisioningMethod \(did you mean decisioning_method\?\)"):
        AsyncTargetClient.from_options({"client": "acme", "organization_id": ORG, "decisioningMethod": "hybrid"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sesion_id", "session_id"), ("sessionId", "session_id"), ("SESSION-ID", "session_id"), ("color", None)],
)
def test_closest(name: str, expected: str | None) -> None:
    assert closest(name, ["session_id", "target_cookie", "visitor"]) == expected


# -- timeout units -------------------------------------------------------------------------------------------------


def test_a_milliseconds_timeout_warns_with_its_meaning() -> None:
    with pytest.warns(ConfigurationWarning, match=r"timeout=3000 means 3000 seconds \(50 minutes\)") as record:
        client(timeout=3000)
    assert record[0].filename == __file__  # points at the caller
    with pytest.warns(ConfigurationWarning, match="timeout=3"):
        AsyncRepositoryClient(access_token="t", api_key="k", org_id=ORG, sandbox_name="p", timeout=30000)


def test_timeouts_under_the_threshold_and_milliseconds_in_the_create_dict_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client(timeout=999)
        AsyncTargetClient.from_options({"client": "acme", "organization_id": ORG, "timeout": 3000})  # ms there


async def test_per_call_and_with_options_timeouts_warn_too() -> None:
    c = client()
    with pytest.warns(ConfigurationWarning, match=r"timeout=5000 means 5000 seconds \(1.39 hours\)"):
        c.with_options(timeout=5000)
    async with c:
        with pytest.warns(ConfigurationWarning, match="timeout=2000"), pytest.raises(ValidationError):
            await c.get_offers(request=DeliveryRequest(), timeout=2000, bogus=1)  # type: ignore[call-arg]


# -- organization id -------------------------------------------------------------------------------------------------


def test_an_organization_id_without_adobeorg_warns() -> None:
    with pytest.warns(ConfigurationWarning, match="does not end with @AdobeOrg") as record:
        AsyncTargetClient(client="acme", organization_id="0123456789ABCDEF01234567")
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client()

"""The public surface: ``target_async.__all__`` lists exactly the public names, sorted."""

from __future__ import annotations

import target_async


def test_all_lists_every_public_name_sorted() -> None:
    assert target_async.TargetError  # the package loads its public names on first access
    public = {name for name in vars(target_async) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(target_async, name)).__name__ == "module"}
    exported = [n for n in target_async.__all__ if n != "__version__"]
    assert set(exported) == public - modules
    assert exported == sorted(exported, key=str.casefold)


def test_contract_names_are_importable() -> None:
    from target_async import (  # noqa: F401
        AsyncRepositoryClient,
        AsyncResult,
        AsyncTargetClient,
        ChannelType,
        Context,
        DeliveryRequest,
        ExecuteRequest,
        MboxRequest,
        Schema,
        TargetClient,
        TargetDeliveryResponse,
        TargetError,
    )
    from target_async.models import converter  # noqa: F401

    assert target_async.__version__

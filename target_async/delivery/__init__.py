"""The Target Delivery API client."""

from ._artifacts import ArtifactStatus
from ._client import AsyncTargetClient
from ._cookies import TargetCookie
from ._options import DeliveryOptions
from ._response import Attributes, DecisioningMeta, TargetDeliveryResponse

__all__ = [
    "ArtifactStatus",
    "AsyncTargetClient",
    "Attributes",
    "DecisioningMeta",
    "DeliveryOptions",
    "TargetCookie",
    "TargetDeliveryResponse",
]

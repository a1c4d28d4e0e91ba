"""The Target Delivery API client."""

from ._client import AsyncTargetClient
from ._cookies import TargetCookie
from ._options import DeliveryOptions
from ._response import Attributes, DecisioningMeta, TargetDeliveryResponse

__all__ = [
    "AsyncTargetClient",
    "Attributes",
    "DecisioningMeta",
    "DeliveryOptions",
    "TargetCookie",
    "TargetDeliveryResponse",
]

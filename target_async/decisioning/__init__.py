"""On-device decisioning: a pure decision engine over Adobe Target's rules artifact (on-device.md).

No I/O and no client code: load an artifact once (:func:`load_artifact`), then decide Delivery API requests
with a :class:`DecisionEngine` for a given "now" and geo. The clients (``decisioning_method="on-device"`` or
``"hybrid"``) download the artifact, poll it, send the notifications and look up geo; this package decides.

    artifact = load_artifact(payload)                      # rules.json (str, bytes or dict) or rules.bin bytes
    engine = DecisionEngine(artifact, client="acme")
    decision = engine.decide(request)                       # Decision: response, notifications, telemetry
"""

from ._artifact import Artifact, Rule, RuleSet, load_artifact, obfuscate_artifact
from ._engine import Decision, DecisionEngine
from ._errors import ArtifactError, UnsupportedArtifactError
from ._jsonlogic import variables as condition_variables

__all__ = [
    "Artifact",
    "ArtifactError",
    "Decision",
    "DecisionEngine",
    "Rule",
    "RuleSet",
    "UnsupportedArtifactError",
    "condition_variables",
    "load_artifact",
    "obfuscate_artifact",
]

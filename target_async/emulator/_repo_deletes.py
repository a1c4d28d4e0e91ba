"""The delete handlers of the emulator's repository API (``delete_mode``; see :mod:`._repository`)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._repo_common import RECEIPT, Caller, _dumps
from ._repo_core import RepositoryCore
from ._store import InstanceRow, OperationRow
from ._wire import ApiError


class RepositoryDeletes(RepositoryCore):
    """The delete handlers: operations, polls and the no-location mode (``delete_mode``)."""

    def _no_location_check(self, row: InstanceRow) -> bool:
        """Count a read against a pending no-location delete; ``True`` once the instance is gone."""
        op = self.store.pending_operation(row.instance_id, "no-location")
        if op is None or self.faults.delete_never_resolves:
            return False
        if op.polls_left > 0:
            self.store.update_operation(op.op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
            return False
        return self._decide(op, row) == "confirmed"

    # -- deletes -------------------------------------------------------------------------------------------

    def _delete_body(self, row: InstanceRow, caller: Caller, outcome: str) -> dict[str, Any]:
        env = json.loads(row.doc)
        receipt = self._receipt(env)
        receipt["repo:lastModifiedBy"] = caller.account
        receipt["repo:lastModifiedByClientId"] = caller.client_id
        return {"operation": "delete", "instanceId": row.instance_id, "@id": row.at_id, "outcome": outcome, **receipt}

    def _decide(self, op: OperationRow, row: InstanceRow | None) -> str:
        """Run the reference check of a pending operation and store the outcome."""
        body = json.loads(op.body)
        if row is None:
            body.update(outcome="confirmed", reason="the instance no longer exists", referencedBy=[])
        else:
            refs = [r for r in self.store.referencing(row.tid, row.at_id) if r.rid != row.rid]
            if refs:
                body.update(
                    outcome="rejected",
                    reason=f"{row.at_id} is still referenced by {len(refs)} instance(s)",
                    referencedBy=[{"instanceId": r.instance_id, "@id": r.at_id, "schema": r.schema} for r in refs],
                )
            else:
                self.store.delete_instance(row)
                body.update(outcome="confirmed", reason="no instance references it", referencedBy=[])
        ordered = {k: body[k] for k in ("operation", "instanceId", "@id", "outcome", "reason", "referencedBy")}
        ordered.update((k, v) for k, v in body.items() if k not in ordered)
        self.store.update_operation(op.op_id, state=body["outcome"], polls_left=0, body=_dumps(ordered))
        return str(body["outcome"])

    def _operation_headers(self, request: Request, op: OperationRow) -> dict[str, str]:
        headers = {"Location": f"/{op.container_id}/operations/{op.op_id}", "Content-Base": self.content_base(request)}
        if self.settings.delete_retry_after is not None:
            headers["Retry-After"] = str(self.settings.delete_retry_after)
        return headers

    def _new_operation(self, caller: Caller, row: InstanceRow, kind: str) -> OperationRow:
        op = OperationRow(
            op_id=str(uuid.uuid4()),
            tid=caller.tid,
            container_id=row.container_id,
            instance_id=row.instance_id,
            kind=kind,
            state="pending",
            polls_left=self.settings.delete_pending_polls,
            body=_dumps(self._delete_body(row, caller, "pending")),
            created_ms=self._now(),
        )
        self.store.insert_operation(op)
        return op

    async def delete(self, request: Request, caller: Caller) -> Response:
        cid, iid = request.path_params["containerId"], request.path_params["instanceId"]
        mode = self.settings.delete_mode
        with self.store.transaction():
            self._container(caller, cid)
            row = self._row(caller, cid, iid)
            self._check_if_match(request, row)
            if mode == "async":
                op = self.store.pending_operation(iid, "async") or self._new_operation(caller, row, "async")
                return Response(
                    op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                )
            op = self.store.pending_operation(iid, mode) or self._new_operation(caller, row, mode)
            if mode == "no-location":
                if op.polls_left == 0 and not self.faults.delete_never_resolves:
                    self._decide(op, row)
                return Response(status_code=202)
            outcome = self._decide(op, row)
            decided = self.store.operation(op.op_id)
            assert decided is not None
        if outcome == "rejected":
            body = json.loads(decided.body)
            raise ApiError(422, f"instance {iid} cannot be deleted: {body['reason']}", extra=body)
        return Response(decided.body, media_type=RECEIPT)

    async def poll(self, request: Request, caller: Caller) -> Response:
        cid, op_id = request.path_params["containerId"], request.path_params["operationId"]
        with self.store.transaction():
            op = self.store.operation(op_id)
            if op is None or op.tid != caller.tid or op.container_id != cid or op.kind != "async":
                raise ApiError(404, f"operation {op_id} does not exist in container {cid}", prop="operationId")
            if op.state == "pending":
                if self.faults.delete_never_resolves or op.polls_left > 0:
                    if not self.faults.delete_never_resolves:
                        self.store.update_operation(op_id, state="pending", polls_left=op.polls_left - 1, body=op.body)
                    return Response(
                        op.body, status_code=202, media_type=RECEIPT, headers=self._operation_headers(request, op)
                    )
                self._decide(op, self.store.instance(op.instance_id))
                op = self.store.operation(op_id)
                assert op is not None
        return Response(op.body, media_type=RECEIPT)

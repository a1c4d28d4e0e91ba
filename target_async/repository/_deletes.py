"""The delete calls of :class:`~target_async.AsyncRepositoryClient`: begin, resume, wait (see :mod:`._client`)."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

from .._exceptions import UnprocessableEntityError
from .._ids import request_id as new_request_id
from ..models.repository import DeleteOutcome
from ._listing import RepositoryListing
from ._params import quoted_etag, require_id
from ._polling import DeleteOperation, ResponseSnapshot, decided_outcome, outcome_of, status_location


class RepositoryDeletes(RepositoryListing):
    """Deletes: :meth:`begin_delete` gives a :class:`~target_async.DeleteOperation`; :meth:`delete_instance` waits."""

    # --- delete -------------------------------------------------------------------------------------

    async def begin_delete(
        self,
        container_id: str,
        instance_id: str,
        *,
        if_match: int | str | None = None,
        confirm_with_get: bool = True,
        timeout: float | None = None,
    ) -> DeleteOperation:
        """Send the ``DELETE`` and return the :class:`DeleteOperation` that tracks it.

        A ``422`` whose body is a delete outcome (``referencedBy``) is a synchronous rejection: the operation
        is then already done with status ``"rejected"``.

        Args:
            if_match: delete only this revision (``ConflictError`` otherwise).
            confirm_with_get: for a ``202`` without ``Location``, read the instance until ``404``.
                With False the outcome is ``confirmed`` at once with ``verified=False``.
            timeout: the deadline of the ``DELETE`` request in seconds (default: the client's; the wait for the
                outcome is ``result(timeout)``'s).
        """
        cid, iid = require_id(container_id, "container_id"), require_id(instance_id, "instance_id")
        etag = quoted_etag(if_match, "if_match")
        request_id = new_request_id()
        started = time.time()
        make = functools.partial(
            DeleteOperation, self, container_id=cid, instance_id=iid, request_id=request_id, started_at=started
        )
        try:
            response = await self._send(
                "DELETE",
                self._instance_url(cid, iid),
                idempotent=True,
                accept=self._media.receipt,
                headers={"If-Match": etag} if etag else None,
                request_id=request_id,
                request_timeout=self._call_timeout(timeout),
            )
        except UnprocessableEntityError as exc:
            # a synchronous rejection: 422 whose body is the outcome (``referencedBy``)
            if not (isinstance(exc.body, Mapping) and (exc.body.get("referencedBy") or exc.body.get("outcome"))):
                raise
            snapshot = ResponseSnapshot(exc.status, exc.headers, exc.body)
            return make(outcome=outcome_of(exc.body, iid), last_response=snapshot)
        if response.status_code != 202:
            outcome, snapshot = decided_outcome(response, iid, request_id=request_id, what="begin_delete")
            return make(outcome=outcome, last_response=snapshot)
        make = functools.partial(make, last_response=ResponseSnapshot.of(response))
        location = status_location(
            response, self.base_url, request_id=request_id, what="begin_delete", done="the DELETE was accepted"
        )
        if location is not None:
            return make(polling_url=location)
        if confirm_with_get:
            return make(confirm=True)
        return make(outcome=DeleteOutcome(status="confirmed", instance_id=iid, verified=False))

    def resume_delete(self, token: str) -> DeleteOperation:
        """The :class:`DeleteOperation` of a continuation token (``DeleteOperation.continuation_token()``)."""
        return DeleteOperation.from_continuation_token(self, token)

    async def delete_instance(
        self,
        container_id: str,
        instance_id: str,
        *,
        if_match: int | str | None = None,
        timeout: float | None = None,
        confirm_with_get: bool = True,
        raise_on_reject: bool = True,
    ) -> DeleteOutcome:
        """Delete and wait for the outcome (``begin_delete`` + ``result``).

        Raises:
            DeleteRejectedError: other instances still reference it (unless ``raise_on_reject=False``).
            PollingTimeoutError: no outcome within ``timeout`` (default 60 s); carries a continuation token.
        """
        op = await self.begin_delete(container_id, instance_id, if_match=if_match, confirm_with_get=confirm_with_get)
        return await op.result(timeout, raise_on_reject=raise_on_reject)

"""`POST /api/webhooks/github` (public, signature-checked), and the owner's delivery inbox."""

from __future__ import annotations

from engine.github.webhooks import SignatureRejected, TooManyRejections
from engine.ownership import require_owned_project
from handlers.base import APIError, APIHandler, authenticated, decode_json, path_id
from handlers.models import delivery_model
from sql.deliveries import KEEP_PER_PROJECT, list_deliveries

MAX_DELIVERY_BYTES = 1024 * 1024


class GitHubWebhookHandler(APIHandler):
    max_body_bytes = MAX_DELIVERY_BYTES

    async def post(self) -> None:
        headers = self.request.headers
        event = headers.get("X-GitHub-Event", "")
        guid = headers.get("X-GitHub-Delivery", "")
        if not event or not guid:
            raise APIError(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
        body = self.body
        try:
            answer = await self.application.deliveries.receive(
                event=event, guid=guid, signature=headers.get("X-Hub-Signature-256", ""),
                body=body, payload=decode_json(body))
        except SignatureRejected as exc:
            raise APIError(401, f"{exc}: the X-Hub-Signature-256 does not match") from None
        except TooManyRejections as exc:
            raise APIError(429, f"{exc}; try again in {exc.retry_after} s",
                           headers={"Retry-After": str(exc.retry_after)}) from None
        if answer.status == 204:
            self.set_status(204)
            self.finish()
            return
        self.write_json({"decisions": answer.decisions}, answer.status)


class DeliveriesHandler(APIHandler):
    """`GET /api/projects/{id}/deliveries`: every kept delivery, newest first, rejected ones
    included."""

    @authenticated
    async def get(self, project_id: str) -> None:
        async with self.application.db.pool.connection() as conn:
            await require_owned_project(conn, self.current_user["id"], path_id(project_id))
            rows = await list_deliveries(conn, path_id(project_id), KEEP_PER_PROJECT)
        self.write_json([delivery_model(d) for d in rows])


class RedeliverHandler(APIHandler):
    """`POST /api/deliveries/{id}/redeliver`: replay a stored, validly signed delivery."""

    @authenticated
    async def post(self, delivery_id: str) -> None:
        answer = await self.application.deliveries.redeliver(self.current_user["id"],
                                                             path_id(delivery_id))
        self.write_json({"decisions": answer.decisions},
                        202 if answer.status == 202 else 200)

"""`/api/projects/{id}/notifications[...]`: deploy notifications, their tests and their logs."""

from __future__ import annotations

from handlers.base import APIHandler, Field, authenticated, path_id
from handlers.models import notification_delivery_model, notification_model

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 200
_URL = Field(str, required=True, max_length=4096)  # the engine's own limit says more, lower
_EVENTS = Field(list, required=True, max_length=10)
_ADD = {"url": _URL, "events": _EVENTS, "format": Field(str, max_length=20)}
_CHANGE = {"url": Field(str, max_length=4096), "events": Field(list, max_length=10),
           "format": Field(str, max_length=20)}


class NotificationsHandler(APIHandler):
    """`GET/POST /api/projects/{id}/notifications`."""

    @authenticated
    async def get(self, project_id: str) -> None:
        rows = await self.application.notifications.list(self.current_user["id"],
                                                         path_id(project_id))
        self.write_json([notification_model(row) for row in rows])

    @authenticated
    async def post(self, project_id: str) -> None:
        body = self.read_json(_ADD)
        row = await self.application.notifications.create(self.current_user,
                                                          path_id(project_id), body)
        self.write_json({"notification": notification_model(row)}, 201)


class NotificationHandler(APIHandler):
    """`PATCH/DELETE /api/projects/{id}/notifications/{nid}`."""

    @authenticated
    async def patch(self, project_id: str, notification_id: str) -> None:
        body = self.read_json(_CHANGE)
        row = await self.application.notifications.update(
            self.current_user, path_id(project_id), path_id(notification_id), body)
        self.write_json({"notification": notification_model(row)})

    @authenticated
    async def delete(self, project_id: str, notification_id: str) -> None:
        await self.application.notifications.delete(
            self.current_user["id"], path_id(project_id), path_id(notification_id))
        self.set_status(204)
        self.finish()


class NotificationDeliveriesHandler(APIHandler):
    """`GET /api/projects/{id}/notifications/{nid}/deliveries?limit=`: newest first."""

    @authenticated
    async def get(self, project_id: str, notification_id: str) -> None:
        limit = self.int_argument("limit", DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT)
        rows = await self.application.notifications.deliveries(
            self.current_user["id"], path_id(project_id), path_id(notification_id), limit)
        self.write_json([notification_delivery_model(row) for row in rows])


class NotificationTestHandler(APIHandler):
    """`POST /api/projects/{id}/notifications/{nid}/test`: queue a `test` delivery now."""

    @authenticated
    async def post(self, project_id: str, notification_id: str) -> None:
        row = await self.application.notifications.send_test(
            self.current_user["id"], path_id(project_id), path_id(notification_id))
        self.write_json({"delivery": notification_delivery_model(row)}, 202)

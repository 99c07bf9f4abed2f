"""`/api/projects/{id}/secrets[/{NAME}]`: secret names are listed, values only ever written."""

from __future__ import annotations

from handlers.base import APIHandler, Field, authenticated, path_id
from handlers.models import secret_model

MAX_SECRET_BODY_BYTES = 128 * 1024  # a 64 KiB value, JSON-escaped


class SecretsHandler(APIHandler):
    @authenticated
    async def get(self, project_id: str) -> None:
        names = await self.application.secrets.names(self.current_user["id"],
                                                     path_id(project_id))
        self.write_json([secret_model(s) for s in names])


class SecretHandler(APIHandler):
    max_body_bytes = MAX_SECRET_BODY_BYTES

    @authenticated
    async def put(self, project_id: str, name: str) -> None:
        body = self.read_json({"value": Field(str, required=True)})
        created = await self.application.secrets.put(self.current_user["id"],
                                                     path_id(project_id), name, body["value"])
        self.set_status(201 if created else 204)
        self.finish()

    @authenticated
    async def delete(self, project_id: str, name: str) -> None:
        await self.application.secrets.delete(self.current_user["id"], path_id(project_id), name)
        self.set_status(204)
        self.finish()

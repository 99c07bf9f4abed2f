"""`/api/projects/{id}/secrets[/{NAME}]`: secret names are listed, values only ever written.

`PUT {value, environments?}` creates or replaces; `PUT {environments}` alone changes where an
existing secret is given (production, preview) and keeps its value."""

from __future__ import annotations

from handlers.base import APIError, APIHandler, Field, authenticated, path_id
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
        body = self.read_json({"value": Field(str),
                               "environments": Field(list, max_length=2)})
        secrets, owner_id = self.application.secrets, self.current_user["id"]
        if "value" not in body:
            if "environments" not in body:
                raise APIError(400, "value is required", code="validation_failed",
                               field="value")
            await secrets.set_environments(owner_id, path_id(project_id), name,
                                           body["environments"])
            created = False
        else:
            created = await secrets.put(owner_id, path_id(project_id), name, body["value"],
                                        body.get("environments"))
        self.set_status(201 if created else 204)
        self.finish()

    @authenticated
    async def delete(self, project_id: str, name: str) -> None:
        await self.application.secrets.delete(self.current_user["id"], path_id(project_id), name)
        self.set_status(204)
        self.finish()

"""Custom domains of a project: list, add, change the redirect, verify now, remove."""

from __future__ import annotations

from typing import Any

from engine.domains.hostnames import normalized_hostname
from engine.errors import NotFound, SlipwayError
from handlers.base import APIHandler, Field, authenticated, path_id
from handlers.models import domain_model

_ADD = {"hostname": Field(str, required=True, max_length=253),
        "redirect_to": Field(str, nullable=True, max_length=253)}
_CHANGE = {"redirect_to": Field(str, required=True, nullable=True, max_length=253)}


class _DomainHandler(APIHandler):
    def model(self, row: dict[str, Any]) -> dict[str, Any]:
        config = self.application.config
        return domain_model(row, https=config.https, url=self.application.origin(row["hostname"]),
                            target=f"{row['project_name']}.{config.domain}")

    @staticmethod
    def hostname(raw: str) -> str:
        """A host name from the URL; one no domain can have is a 404."""
        try:
            return normalized_hostname(raw)
        except SlipwayError:
            raise NotFound("no such domain") from None


class DomainsHandler(_DomainHandler):
    """`GET/POST /api/projects/{id}/domains`."""

    @authenticated
    async def get(self, project_id: str) -> None:
        rows = await self.application.domains.list(self.current_user["id"],
                                                   path_id(project_id))
        self.write_json([self.model(row) for row in rows])

    @authenticated
    async def post(self, project_id: str) -> None:
        body = self.read_json(_ADD)
        row = await self.application.domains.add(self.current_user["id"], path_id(project_id),
                                                 body["hostname"], body.get("redirect_to"))
        self.write_json({"domain": self.model(row)}, 201)


class DomainHandler(_DomainHandler):
    """`PATCH/DELETE /api/projects/{id}/domains/{hostname}`."""

    @authenticated
    async def patch(self, project_id: str, hostname: str) -> None:
        body = self.read_json(_CHANGE)
        row = await self.application.domains.set_redirect(
            self.current_user["id"], path_id(project_id), self.hostname(hostname),
            body["redirect_to"])
        self.write_json({"domain": self.model(row)})

    @authenticated
    async def delete(self, project_id: str, hostname: str) -> None:
        await self.application.domains.remove(self.current_user["id"], path_id(project_id),
                                              self.hostname(hostname))
        self.set_status(204)
        self.finish()


class DomainVerifyHandler(_DomainHandler):
    """`POST /api/projects/{id}/domains/{hostname}/verify`: look the TXT record up now."""

    @authenticated
    async def post(self, project_id: str, hostname: str) -> None:
        row = await self.application.domains.verify(
            self.current_user["id"], path_id(project_id), self.hostname(hostname))
        self.write_json({"domain": self.model(row)})

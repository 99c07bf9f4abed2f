"""Deployments: a project's history, and rolling back to one of them."""

from __future__ import annotations

from engine.accounts.scopes import DEPLOY
from engine.ownership import require_owned_project
from handlers.base import APIHandler, authenticated, path_id
from handlers.models import build_model, deployment_model
from sql.deployments import list_deployments


class ProjectDeploymentsHandler(APIHandler):
    """`GET /api/projects/{id}/deployments?before=&limit=`: newest first."""

    @authenticated
    async def get(self, project_id: str) -> None:
        before = self.int_argument("before", None, 1, 2**63 - 1)
        limit = self.int_argument("limit", 20, 1, 100)
        async with self.application.db.pool.connection() as conn:
            await require_owned_project(conn, self.current_user["id"], path_id(project_id))
            rows = await list_deployments(conn, path_id(project_id), before, limit)
        self.write_json([deployment_model(d) for d in rows])


class RollbackHandler(APIHandler):
    """`POST /api/deployments/{id}/rollback`: live again at once (200), or, when its release
    was pruned, a rebuild of its commit is queued (202)."""

    @authenticated(scope=DEPLOY)
    async def post(self, deployment_id: str) -> None:
        kind, row = await self.application.deployer.rollback(self.current_user["id"],
                                                             path_id(deployment_id))
        if kind == "build":
            self.write_json({"build": build_model(row)}, 202)
        else:
            self.write_json({"deployment": deployment_model(row)})

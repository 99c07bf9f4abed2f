"""Deploy hooks: create, list and revoke them (owner only); trigger one (public, by token)."""

from __future__ import annotations

from handlers.base import APIHandler, authenticated, path_id
from handlers.models import build_model, deploy_hook_model


class DeployHookCreateHandler(APIHandler):
    """`POST /api/projects/{id}/deploy-hook`: a new hook URL, shown this once."""

    @authenticated
    async def post(self, project_id: str) -> None:
        hook = await self.application.deploy_hooks.create(self.current_user["id"],
                                                          path_id(project_id))
        self.write_json(deploy_hook_model(hook), 201)


class DeployHooksHandler(APIHandler):
    """`GET /api/projects/{id}/deploy-hooks`: the project's hooks, without their URLs."""

    @authenticated
    async def get(self, project_id: str) -> None:
        hooks = await self.application.deploy_hooks.list(self.current_user["id"],
                                                         path_id(project_id))
        self.write_json([deploy_hook_model(h) for h in hooks])


class DeployHookHandler(APIHandler):
    """`DELETE /api/projects/{id}/deploy-hooks/{hook}`: revoke a hook."""

    @authenticated
    async def delete(self, project_id: str, hook_id: str) -> None:
        await self.application.deploy_hooks.delete(self.current_user["id"],
                                                   path_id(project_id), path_id(hook_id))
        self.set_status(204)
        self.finish()


class DeployHookTriggerHandler(APIHandler):
    """`POST /api/hooks/{token}` (public): queue a build of the project's branch."""

    async def post(self, token: str) -> None:
        build = await self.application.deploy_hooks.trigger(token)
        self.write_json({"build": build_model(build)}, 202)

"""`/api/projects[/{id}]`: list, create, read, change and delete the user's projects."""

from __future__ import annotations

from handlers.base import MAX_ID, APIHandler, Field, authenticated, path_id
from handlers.models import project_model

DEFAULT_PAGE = 50
MAX_PAGE = 200

_SETTINGS = {
    "name": Field(str, max_length=100),
    "repo_url": Field(str, max_length=2048),
    "branch": Field(str, max_length=255),
    "install_command": Field(str, nullable=True, max_length=4096),
    "build_command": Field(str, nullable=True, max_length=4096),
    "output_dir": Field(str, nullable=True, max_length=255),
    "root_dir": Field(str, nullable=True, max_length=255),
    "framework": Field(str, nullable=True, max_length=50),
    "node_version": Field(int, nullable=True),
}
CREATE_FIELDS = {
    **_SETTINGS,
    "name": Field(str, required=True, max_length=100),
    # Absent or null: a project without Git, published only by upload deploys.
    "repo_url": Field(str, nullable=True, max_length=2048),
    "secrets": Field(dict),
}
UPDATE_FIELDS = {
    **_SETTINGS,
    # A string sets or changes the password of preview and build-id hosts; null removes it.
    "preview_password": Field(str, nullable=True, max_length=200),
}


class ProjectsHandler(APIHandler):
    """`GET /api/projects?before=&limit=` (a page, newest first) and `POST` (create)."""

    @authenticated
    async def get(self) -> None:
        # Paged like a build history: `before` is the last id of the previous page. One answer
        # with every project grew to 1 MB and 100 ms of the loop per request at 1,000 projects.
        before = self.int_argument("before", None, 1, MAX_ID)
        limit = self.int_argument("limit", DEFAULT_PAGE, 1, MAX_PAGE)
        # PostgreSQL builds the page's JSON (project_model's, member for member): per-row
        # Python was most of the cost of a request, and the loop serves everyone else too.
        page = await self.application.projects.list_json(self.current_user["id"], before, limit)
        self.write_json_text(page)

    @authenticated
    async def post(self) -> None:
        body = self.read_json(CREATE_FIELDS)
        project = await self.application.projects.create(self.current_user, body)
        self.set_header("Location", f"/api/projects/{project['id']}")
        self.write_json(project_model(project), 201)


class ProjectHandler(APIHandler):
    @authenticated
    async def get(self, project_id: str) -> None:
        project = await self.application.projects.get(self.current_user["id"],
                                                      path_id(project_id))
        self.write_json(project_model(project))

    @authenticated
    async def patch(self, project_id: str) -> None:
        body = self.read_json(UPDATE_FIELDS)
        project = await self.application.projects.update(self.current_user,
                                                         path_id(project_id), body)
        self.write_json(project_model(project))

    @authenticated
    async def delete(self, project_id: str) -> None:
        await self.application.projects.delete(self.current_user, path_id(project_id))
        self.set_status(204)
        self.finish()

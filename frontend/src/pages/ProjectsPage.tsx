/** The user's projects: status, production URL and last deploy, kept current by live events. */
import { useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { api } from "../api/client";
import { useEvents, useReconnect } from "../api/realtime";
import type { Build, Project } from "../api/types";
import { ProjectStateBadge } from "../components/BuildStatus";
import { Empty, ErrorNote, ExternalLink, firstLine, shortSha, Spinner, Time } from "../components/ui";
import { type BuildStatusEvent, withStatus } from "../lib/liveBuilds";
import { projectState } from "../lib/status";
import { useResource } from "../lib/useResource";
import { useTitle } from "../lib/useTitle";

/** `GET /api/projects` answers a page, newest first; the next one starts below its last id. */
const PAGE = 50;

export function ProjectsPage() {
  useTitle("Projects");
  const projects = useResource((signal) => api<Project[]>(`/projects?limit=${PAGE}`, { signal }), []);
  const [older, setOlder] = useState<{ loading: boolean; error: unknown; done: boolean }>({ loading: false, error: null, done: false });
  useReconnect(() => {
    setOlder({ loading: false, error: null, done: false }); // the reload is the first page again
    void projects.reload();
  });
  const hasMore = !older.done && (projects.data?.length ?? 0) >= PAGE;

  const loadMore = async () => {
    const list = projects.data ?? [];
    setOlder({ loading: true, error: null, done: false });
    try {
      const page = await api<Project[]>(`/projects?limit=${PAGE}&before=${list[list.length - 1].id}`);
      projects.setData((current = []) => [...current, ...page.filter((p) => !current.some((c) => c.id === p.id))]);
      setOlder({ loading: false, error: null, done: page.length < PAGE });
    } catch (error) {
      setOlder({ loading: false, error, done: false });
    }
  };

  const replaceProject = (project: Project) =>
    projects.setData((list = []) => list.map((p) => (p.id === project.id ? project : p)));

  useEvents(["buildStatusUpdate"], async (event: BuildStatusEvent) => {
    const project = projects.data?.find((p) => p.id === event.projectId);
    if (!project) return void projects.reload();
    const latest = project.latest_build;
    if (latest && latest.id === event.buildId) {
      return replaceProject({ ...project, latest_build: withStatus(latest, event) });
    }
    if (!latest || event.buildId > latest.id) {
      const build = await api<Build>(`/builds/${event.buildId}`).catch(() => null);
      if (build) {
        projects.setData((list = []) =>
          list.map((p) => (p.id === event.projectId && (!p.latest_build || p.latest_build.id <= build.id) ? { ...p, latest_build: build } : p)),
        );
      }
    }
  });
  useEvents(["deploymentUpdate"], async (event: { projectId: number }) => {
    const project = await api<Project>(`/projects/${event.projectId}`).catch(() => null);
    if (project) replaceProject(project);
  });

  const list = projects.data;
  return (
    <div class="page">
      <div class="page-header">
        <h1>Projects</h1>
      </div>
      <ErrorNote error={projects.error} />
      {!list && projects.loading && <Spinner label="Loading projects…" />}
      {list && !list.length && (
        <Empty title="No projects yet">
          <p>Connect a Git repository: every push is built and published at its own address.</p>
          <Link href="/new" class="button button-primary">
            Create your first project
          </Link>
        </Empty>
      )}
      {list && list.length > 0 && (
        <ul class="project-grid" aria-label="Projects">
          {list.map((project) => (
            <ProjectCard key={project.id} project={project} />
          ))}
        </ul>
      )}
      <ErrorNote error={older.error} />
      {list && hasMore && (
        <p class="load-more">
          <button type="button" class="button" onClick={loadMore} disabled={older.loading}>
            {older.loading ? "Loading…" : "Show older projects"}
          </button>
        </p>
      )}
    </div>
  );
}

function ProjectCard({ project }: { project: Project }) {
  const build = project.latest_build;
  const live = project.live_deployment;
  return (
    <li class="card project-card" data-testid="project-card" data-project={project.name}>
      <div class="project-card-top">
        <h2 class="project-name">
          <Link href={`/projects/${project.id}`}>{project.name}</Link>
        </h2>
        <ProjectStateBadge state={projectState(project)} />
      </div>
      <p class="project-url">
        {project.production_url && live ? <ExternalLink href={project.production_url} /> : <span class="muted">Not deployed yet</span>}
      </p>
      <p class="project-repo muted" title={project.repo_url ?? undefined}>
        {project.repo_url === null ? "No Git · slipway deploy" : <>{project.github_repo ?? project.repo_url} · {project.branch}</>}
      </p>
      <p class="project-meta muted">
        {live ? (
          <>
            Deployed <Time iso={live.created_at} />
          </>
        ) : build ? (
          <>
            Last build <Time iso={build.created_at} />
          </>
        ) : (
          "No builds yet"
        )}
        {build?.commit_message && <span class="commit-line"> · {shortSha(build.commit_sha)} {firstLine(build.commit_message)}</span>}
      </p>
    </li>
  );
}

/** One project: its header (production URL, live deployment, "Deploy now") and its tabs. */
import { useState } from "preact/hooks";
import { Link, useLocation } from "wouter-preact";
import { ApiError, api } from "../api/client";
import { useEvents, useReconnect } from "../api/realtime";
import type { Build, Project } from "../api/types";
import { ProjectStateBadge } from "../components/BuildStatus";
import { Empty, ErrorNote, ExternalLink, Spinner, Time } from "../components/ui";
import { projectState } from "../lib/status";
import { useResource } from "../lib/useResource";
import { BuildsPanel } from "./project/BuildsPanel";
import { DeliveriesPanel } from "./project/DeliveriesPanel";
import { DeploymentsPanel } from "./project/DeploymentsPanel";
import { DomainsPanel } from "./project/DomainsPanel";
import { EnvironmentPanel } from "./project/EnvironmentPanel";
import { NotificationsPanel } from "./project/NotificationsPanel";
import { SettingsPanel } from "./project/SettingsPanel";
import { useTitle } from "../lib/useTitle";
import { NotFoundPage } from "./NotFoundPage";

const TABS: [string, string][] = [
  ["overview", "Builds"],
  ["deployments", "Deployments"],
  ["environment", "Environment"],
  ["domains", "Domains"],
  ["deliveries", "Webhooks"],
  ["notifications", "Notifications"],
  ["settings", "Settings"],
];

export function ProjectPage({ id, tab }: { id: number; tab: string }) {
  const [, navigate] = useLocation();
  const project = useResource((signal) => api<Project>(`/projects/${id}`, { signal }), [id]);
  const [deploying, setDeploying] = useState(false);
  const [deployError, setDeployError] = useState<unknown>(null);
  useReconnect(() => void project.reload());
  useTitle(project.data?.name);
  useEvents(["deploymentUpdate", "buildStatusUpdate"], (event: { projectId: number }) => {
    if (event.projectId === id) void project.reload();
  });

  if (project.error instanceof ApiError && project.error.status === 404) {
    return <NotFoundPage title="Project not found" reason="It may have been deleted." />;
  }
  const p = project.data;
  if (!p) return project.error ? <ErrorNote error={project.error} /> : <Spinner label="Loading project…" />;

  const deployNow = async () => {
    setDeploying(true);
    setDeployError(null);
    try {
      const { build } = await api<{ build: Build }>(`/projects/${id}/builds`, { method: "POST" });
      navigate(`/builds/${build.id}`);
    } catch (err) {
      setDeployError(err);
      setDeploying(false);
    }
  };

  const live = p.live_deployment;
  return (
    <div class="page">
      <nav class="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/">Projects</Link> <span aria-hidden="true">/</span> <span aria-current="page">{p.name}</span>
      </nav>
      <div class="page-header">
        <div>
          <h1 class="with-badge">
            {p.name} <ProjectStateBadge state={projectState(p)} />
          </h1>
          <p class="muted">
            {p.repo_url === null ? <>No Git repository · deployed with <code>slipway deploy</code></> : <>{p.github_repo ?? p.repo_url} · branch <code>{p.branch}</code></>}
          </p>
        </div>
        <div class="header-actions">
          {p.production_url && live && (
            <a class="button" href={p.production_url} target="_blank" rel="noopener noreferrer">
              Visit
            </a>
          )}
          {p.repo_url !== null && (
            <button type="button" class="button button-primary" onClick={deployNow} disabled={deploying}>
              {deploying ? "Starting…" : "Deploy now"}
            </button>
          )}
        </div>
      </div>
      <ErrorNote error={deployError} />
      <section class="card production" aria-label="Production">
        <div>
          <h2 class="label">Production</h2>
          {p.production_url && live ? (
            <ExternalLink href={p.production_url} />
          ) : p.repo_url === null ? (
            <span class="muted">Nothing is live yet: run <code>slipway deploy dist --project {p.name}</code>.</span>
          ) : (
            <span class="muted">Nothing is live yet.</span>
          )}
        </div>
        {live && (
          <div>
            <h2 class="label">Live deployment</h2>
            <Link href={`/builds/${live.build_id}`}>Build #{live.build_id}</Link> · <Time iso={live.created_at} />
          </div>
        )}
        {p.webhook.status !== "none" && (
          <div>
            <h2 class="label">Push to deploy</h2>
            {p.webhook.status === "active" ? (
              <span>GitHub webhook active</span>
            ) : (
              <span class="warning" title={p.webhook.error ?? ""}>
                Webhook not registered: {p.webhook.error ?? "unknown reason"}. Use “Deploy now” or a deploy hook.
              </span>
            )}
          </div>
        )}
      </section>
      <nav class="tabs" aria-label="Project sections">
        {TABS.map(([key, label]) => (
          <Link
            key={key}
            href={key === "overview" ? `/projects/${id}` : `/projects/${id}/${key}`}
            class={tab === key ? "tab active" : "tab"}
            aria-current={tab === key ? "page" : undefined}
          >
            {label}
          </Link>
        ))}
      </nav>
      {tab === "overview" && <BuildsPanel project={p} />}
      {tab === "deployments" && <DeploymentsPanel project={p} onChange={project.reload} />}
      {tab === "environment" && <EnvironmentPanel project={p} />}
      {tab === "domains" && <DomainsPanel project={p} />}
      {tab === "deliveries" && <DeliveriesPanel project={p} />}
      {tab === "notifications" && <NotificationsPanel project={p} />}
      {tab === "settings" && <SettingsPanel project={p} onSaved={(next) => project.setData(next)} />}
      {!TABS.some(([key]) => key === tab) && <Empty title="No such section" />}
    </div>
  );
}

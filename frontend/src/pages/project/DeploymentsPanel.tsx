/**
 * Deployments: every release with its immutable address, "Roll back" (confirmed) that puts an
 * older release live in place, and the preview branches built from pushes to other branches.
 */
import { useState } from "preact/hooks";
import { Link, useLocation } from "wouter-preact";
import { api } from "../../api/client";
import { useEvents } from "../../api/realtime";
import type { Build, Deployment, Project } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Badge, Empty, ErrorNote, ExternalLink, firstLine, shortSha, Spinner, Time } from "../../components/ui";
import { isLocalRepository, previewUrl } from "../../lib/status";
import { useResource } from "../../lib/useResource";

const STATUS: Record<Deployment["status"], [string, string]> = {
  live: ["ok", "Live"],
  superseded: ["neutral", "Superseded"],
  rolled_back: ["pending", "Rolled back"],
};

export function DeploymentsPanel({ project, onChange }: { project: Project; onChange: () => void }) {
  const [, navigate] = useLocation();
  const deployments = useResource((signal) => api<Deployment[]>(`/projects/${project.id}/deployments?limit=100`, { signal }), [project.id]);
  const builds = useResource((signal) => api<Build[]>(`/projects/${project.id}/builds?limit=100`, { signal }), [project.id]);
  const [confirming, setConfirming] = useState<Deployment | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  useEvents(["deploymentUpdate"], (event: { projectId: number }) => {
    if (event.projectId === project.id) {
      void deployments.reload();
      void builds.reload();
    }
  });

  const rollBack = async (deployment: Deployment) => {
    const answer = await api<{ deployment?: Deployment; build?: Build }>(`/deployments/${deployment.id}/rollback`, { method: "POST" });
    if (answer.build) {
      navigate(`/builds/${answer.build.id}`);
      return;
    }
    setMessage(`Build #${deployment.build_id} is live again.`);
    await deployments.reload();
    onChange();
  };

  const list = deployments.data;
  const anyUrl = list?.[0]?.url;
  const previews = previewBranches(builds.data ?? []);
  const commits = new Map(
    (builds.data ?? []).map((b) => [b.id, `${shortSha(b.commit_sha)} ${firstLine(b.commit_message)}`]),
  );
  return (
    <div class="stack">
      <section aria-labelledby="deployments-title">
        <h2 id="deployments-title" class="section-title">Production deployments</h2>
        <ErrorNote error={deployments.error} />
        {message && <p class="notice" role="status">{message}</p>}
        {!list && <Spinner label="Loading deployments…" />}
        {list && !list.length && <Empty title="No deployments yet">A build that passes is published here.</Empty>}
        {list && list.length > 0 && (
          <ul class="card list" aria-label="Deployments">
            {list.map((deployment) => (
              <li key={deployment.id} class="deployment-row" data-testid="deployment-row" data-build={deployment.build_id}>
                <div class="build-main">
                  <Link href={`/builds/${deployment.build_id}`} class="build-id">
                    #{deployment.build_id}
                  </Link>
                  <Badge tone={STATUS[deployment.status][0]}>{STATUS[deployment.status][1]}</Badge>
                  {deployment.trigger === "upload" && <span class="tag" title="Files sent with slipway deploy">Upload</span>}
                </div>
                <div class="build-commit">
                  <ExternalLink href={deployment.url} />
                  {commits.get(deployment.build_id) && <span class="muted commit-message">{commits.get(deployment.build_id)}</span>}
                </div>
                <div class="build-meta muted">
                  <Time iso={deployment.created_at} />
                </div>
                <div class="row-actions">
                  {deployment.status !== "live" && (
                    <button type="button" class="button button-small" onClick={() => setConfirming(deployment)}>
                      Roll back
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="previews-title">
        <h2 id="previews-title" class="section-title">Preview branches</h2>
        <ErrorNote error={builds.error} />
        {builds.data && !previews.length && (isLocalRepository(project.repo_url) ? (
          <p class="muted" data-testid="previews-unavailable">
            Not available for a repository on this machine: previews are built from pushes, and nothing pushes to a local path. To publish one, run{" "}
            <code>slipway deploy DIR --project {project.name} --preview BRANCH</code>.
          </p>
        ) : (
          <p class="muted">Pushes to branches other than {project.branch} are published at their own preview address.</p>
        ))}
        {previews.length > 0 && (
          <ul class="card list" aria-label="Preview branches">
            {previews.map((build) => {
              const url = build.preview ? previewUrl(build.preview, project, anyUrl) : null;
              return (
                <li key={build.preview} class="deployment-row">
                  <div class="build-main">
                    <span class="tag">{build.branch}</span>
                  </div>
                  <div class="build-commit">{url ? <ExternalLink href={url} /> : <span class="muted">address appears after the first deployment</span>}</div>
                  <div class="build-meta muted">
                    <Link href={`/builds/${build.id}`}>Build #{build.id}</Link> · <Time iso={build.finished_at} />
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {confirming && (
        <ConfirmDialog
          title="Roll back production?"
          confirmLabel="Roll back"
          onConfirm={() => rollBack(confirming)}
          onClose={() => setConfirming(null)}
        >
          <p>
            Build #{confirming.build_id} from <Time iso={confirming.created_at} /> becomes live at{" "}
            <strong>{project.production_url ?? project.name}</strong> right away. No rebuild is needed while its release is kept.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

/** The newest passed build of each preview branch. */
function previewBranches(builds: Build[]): Build[] {
  const seen = new Map<string, Build>();
  for (const build of builds) {
    if (build.preview && build.status === "passed" && !seen.has(build.preview)) seen.set(build.preview, build);
  }
  return [...seen.values()];
}

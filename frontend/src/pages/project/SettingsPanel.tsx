/**
 * Settings: rename, branch, build overrides (empty means "detect"), the previews' password,
 * deploy hooks, the build cache, and deleting the project (its name typed to confirm).
 */
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { useLocation } from "wouter-preact";
import { ApiError, api, errorMessage } from "../../api/client";
import type { DeployHook, Project } from "../../api/types";
import { FrameworkSelect } from "../../components/FrameworkSelect";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { CopyButton, ErrorNote, Time } from "../../components/ui";
import type { Detected } from "../../lib/detection";
import { labelledMessage } from "../../lib/fieldErrors";
import { projectNameProblem } from "../../lib/projectName";
import { useDetected } from "../../lib/useDetected";
import { useResource } from "../../lib/useResource";
import { PreviewProtection } from "./PreviewProtection";

type Editable = "name" | "branch" | "framework" | "node_version" | "install_command" | "build_command" | "output_dir" | "root_dir";
/** Each override with its label and what it means left empty: a fixed default, or what the
 *  builds detect (`null`: shown from the latest build's log). */
const OVERRIDES: [Editable, string, string | null][] = [
  ["node_version", "Node.js version (major)", "from .nvmrc, engines.node or the default"],
  ["install_command", "Install command", null],
  ["build_command", "Build command", null],
  ["output_dir", "Output directory", null],
  ["root_dir", "Root directory", "the repository's root"],
];
const NOT_DETECTED_YET = "detected at the next build";

export function SettingsPanel({ project, onSaved }: { project: Project; onSaved: (project: Project) => void }) {
  const [, navigate] = useLocation();
  const initial = () => Object.fromEntries(
    (["name", "branch", "framework", "node_version", "install_command", "build_command", "output_dir", "root_dir"] as Editable[]).map((k) => [k, String(project[k] ?? "")]),
  ) as Record<Editable, string>;
  const [form, setForm] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const detection = useDetected(project);
  const detected: Detected = detection.data?.detected ?? {};

  const set = (key: Editable, value: string) => {
    setForm({ ...form, [key]: value });
    setSaved(false);
  };
  const nameProblem = projectNameProblem(form.name);
  const fieldError = (field: string) => (error instanceof ApiError && error.field === field ? labelledMessage(error.message, field) : null);

  const save = async (event: Event) => {
    event.preventDefault();
    if (nameProblem) return;
    const changes: Record<string, string | number | null> = {};
    for (const key of Object.keys(form) as Editable[]) {
      const value = form[key].trim();
      if (value === String(project[key] ?? "")) continue;
      if (value === "" && key !== "name" && key !== "branch") changes[key] = null;
      else changes[key] = key === "node_version" && /^\d+$/.test(value) ? Number(value) : value;
    }
    if (!Object.keys(changes).length) return setSaved(true);
    setBusy(true);
    setError(null);
    try {
      const updated = await api<Project>(`/projects/${project.id}`, { method: "PATCH", body: changes });
      onSaved(updated);
      setSaved(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const fieldErrorShown = error instanceof ApiError && error.field;
  return (
    <div class="stack">
      <form class="card stack" onSubmit={save} aria-labelledby="general-title">
        <h2 id="general-title">General</h2>
        <label class="field">
          <span>Project name</span>
          <input value={form.name} onInput={(e) => set("name", e.currentTarget.value)} aria-invalid={Boolean(nameProblem)} spellcheck={false} />
          <small class="hint">Renaming moves the site to its new address.</small>
        </label>
        <ErrorNote>{nameProblem ?? fieldError("name")}</ErrorNote>
        <label class="field">
          <span>Production branch</span>
          <input value={form.branch} onInput={(e) => set("branch", e.currentTarget.value)} spellcheck={false} />
        </label>
        <ErrorNote>{fieldError("branch")}</ErrorNote>
        <FrameworkSelect value={form.framework} onChange={(value) => set("framework", value)} detected={detected.framework} />
        <ErrorNote>{fieldError("framework")}</ErrorNote>
        {OVERRIDES.map(([key, label, placeholder]) => (
          <Fragment key={key}>
            <label class="field">
              <span>{label}</span>
              <input value={form[key]} onInput={(e) => set(key, e.currentTarget.value)} placeholder={placeholder ?? detected[key as keyof Detected] ?? NOT_DETECTED_YET} spellcheck={false} />
            </label>
            <ErrorNote>{fieldError(key)}</ErrorNote>
          </Fragment>
        ))}
        <p class="hint" data-testid="detected-from">
          {detection.data
            ? <>Empty fields use what build #{detection.data.buildId} detected, shown in grey.</>
            : "Empty fields are detected from the repository at each build."}
        </p>
        {error && !fieldErrorShown ? <ErrorNote error={error} /> : null}
        <div class="form-actions">
          {saved && <span class="muted" role="status">Saved</span>}
          <button type="submit" class="button button-primary" disabled={busy || Boolean(nameProblem)}>
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
      <PreviewProtection project={project} onSaved={onSaved} />
      <DeployHooks project={project} />
      <BuildCache project={project} />
      <section class="card stack danger-zone" aria-labelledby="danger-title">
        <h2 id="danger-title">Delete project</h2>
        <p>Deletes the site, every release, build, log and environment variable, and the GitHub webhook. This cannot be undone.</p>
        <div>
          <button type="button" class="button button-danger" onClick={() => setDeleting(true)}>
            Delete project
          </button>
        </div>
      </section>
      {deleting && (
        <ConfirmDialog
          title={`Delete ${project.name}?`}
          confirmLabel="Delete project"
          danger
          confirmText={project.name}
          onConfirm={async () => {
            await api(`/projects/${project.id}`, { method: "DELETE" });
            navigate("/");
          }}
          onClose={() => setDeleting(false)}
        >
          <p>
            <strong>{project.production_url ?? project.name}</strong> stops serving at once.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function DeployHooks({ project }: { project: Project }) {
  const hooks = useResource((signal) => api<DeployHook[]>(`/projects/${project.id}/deploy-hooks`, { signal }), [project.id]);
  const [created, setCreated] = useState<DeployHook | null>(null);
  const [error, setError] = useState<string | null>(null);

  const create = async () => {
    setError(null);
    try {
      setCreated(await api<DeployHook>(`/projects/${project.id}/deploy-hook`, { method: "POST" }));
      await hooks.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const revoke = async (hook: DeployHook) => {
    setError(null);
    try {
      await api(`/projects/${project.id}/deploy-hooks/${hook.id}`, { method: "DELETE" });
      if (created?.id === hook.id) setCreated(null);
      await hooks.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <section class="card stack" aria-labelledby="hooks-title">
      <h2 id="hooks-title">Deploy hooks</h2>
      <p class="hint">A URL that starts a build of {project.branch} when anything POSTs to it: for other Git hosts and CI.</p>
      {created?.url && (
        <div class="hook-created" role="status">
          <p>Copy this URL now: it is shown only once.</p>
          <div class="copy-row">
            <code class="hook-url">{created.url}</code>
            <CopyButton text={created.url} />
          </div>
        </div>
      )}
      <ErrorNote error={hooks.error} />
      <ErrorNote>{error}</ErrorNote>
      {hooks.data && hooks.data.length > 0 && (
        <ul class="list" aria-label="Deploy hooks">
          {hooks.data.map((hook) => (
            <li key={hook.id} class="secret-row">
              <span>Hook #{hook.id}</span>
              <span class="muted">
                created <Time iso={hook.created_at} />
              </span>
              <span class="muted">{hook.last_used_at ? <>last used <Time iso={hook.last_used_at} /></> : "never used"}</span>
              <div class="row-actions">
                <button type="button" class="button button-small button-danger-quiet" onClick={() => revoke(hook)}>
                  Revoke
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <div>
        <button type="button" class="button" onClick={create}>
          Create deploy hook
        </button>
      </div>
    </section>
  );
}

function BuildCache({ project }: { project: Project }) {
  const [state, setState] = useState<{ busy: boolean; message: string | null; error: string | null }>({ busy: false, message: null, error: null });
  const clear = async () => {
    setState({ busy: true, message: null, error: null });
    try {
      await api(`/projects/${project.id}/build-cache`, { method: "DELETE" });
      setState({ busy: false, message: "Cache cleared: the next build installs dependencies from scratch.", error: null });
    } catch (err) {
      setState({ busy: false, message: null, error: errorMessage(err) });
    }
  };
  return (
    <section class="card stack" aria-labelledby="cache-title">
      <h2 id="cache-title">Build cache</h2>
      <p class="hint">Installed dependencies are reused while the lockfile is unchanged.</p>
      <div>
        <button type="button" class="button" onClick={clear} disabled={state.busy}>
          {state.busy ? "Clearing…" : "Clear build cache"}
        </button>
      </div>
      {state.message && <p class="notice" role="status">{state.message}</p>}
      <ErrorNote>{state.error}</ErrorNote>
    </section>
  );
}

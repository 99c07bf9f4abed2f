/**
 * Environment variables: names only. A value is sent once and never shown again (the API
 * cannot return it); replacing one means typing a new value. Each variable goes to production
 * builds, preview builds or both; that choice can be changed without resending the value.
 */
import { useState } from "preact/hooks";
import { api, errorMessage } from "../../api/client";
import type { Project, Secret } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Empty, ErrorNote, Spinner, Time } from "../../components/ui";
import { ENVIRONMENT_LABELS, ENVIRONMENTS, type Environment, toggleEnvironment } from "../../lib/environments";
import { useResource } from "../../lib/useResource";

function EnvironmentChoice({ label, chosen, disabled, onChange }: {
  label: string; chosen: readonly Environment[]; disabled?: boolean; onChange: (next: Environment[]) => void;
}) {
  return (
    <fieldset class="secret-environments" aria-label={label} disabled={disabled}>
      {ENVIRONMENTS.map((environment) => (
        <label key={environment}>
          <input
            type="checkbox"
            checked={chosen.includes(environment)}
            disabled={chosen.length === 1 && chosen[0] === environment}
            onChange={(e) => onChange(toggleEnvironment(chosen, environment, e.currentTarget.checked))}
          />
          {ENVIRONMENT_LABELS[environment]}
        </label>
      ))}
    </fieldset>
  );
}

export function EnvironmentPanel({ project }: { project: Project }) {
  const secrets = useResource((signal) => api<Secret[]>(`/projects/${project.id}/secrets`, { signal }), [project.id]);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const [environments, setEnvironments] = useState<Environment[]>([...ENVIRONMENTS]);
  // The environments being saved, shown at once so a checkbox never flips back meanwhile.
  const [moving, setMoving] = useState<{ name: string; to: Environment[] } | null>(null);

  const move = async (secret: Secret, next: Environment[]) => {
    setMoving({ name: secret.name, to: next });
    setError(null);
    setSaved(null);
    try {
      await api(`/projects/${project.id}/secrets/${encodeURIComponent(secret.name)}`, { method: "PUT", body: { environments: next } });
      await secrets.reload();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setMoving(null);
    }
  };

  const save = async (event: Event) => {
    event.preventDefault();
    const key = name.trim();
    if (!key) return setError("A name is required.");
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      await api(`/projects/${project.id}/secrets/${encodeURIComponent(key)}`, { method: "PUT", body: { value, environments } });
      setName("");
      setValue("");
      setEnvironments([...ENVIRONMENTS]);
      setSaved(`${key} saved. It applies to the next deployment.`);
      await secrets.reload();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const list = secrets.data;
  return (
    <div class="stack">
      <form class="card stack" onSubmit={save} aria-labelledby="env-form-title">
        <h2 id="env-form-title">Add or replace a variable</h2>
        <div class="env-row">
          <label class="field">
            <span>Name</span>
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="API_KEY" spellcheck={false} autoComplete="off" />
          </label>
          <label class="field">
            <span>Value</span>
            <input type="password" value={value} onInput={(e) => setValue(e.currentTarget.value)} autoComplete="new-password" />
          </label>
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
        <EnvironmentChoice label="Environments of the new value" chosen={environments} onChange={setEnvironments} />
        <p class="hint">Encrypted at rest, given to builds as environment variables and a .env file, masked as *** in logs. Preview builds (branches other than the production branch) get only the variables marked Preview.</p>
        <ErrorNote>{error}</ErrorNote>
        {saved && <p class="notice" role="status">{saved}</p>}
      </form>
      <ErrorNote error={secrets.error} />
      {!list && <Spinner label="Loading variables…" />}
      {list && !list.length && <Empty title="No environment variables" />}
      {list && list.length > 0 && (
        <ul class="card list" aria-label="Environment variables">
          {list.map((secret) => (
            <li key={secret.name} class="secret-row" data-testid="secret-row">
              <code class="secret-name">{secret.name}</code>
              <span class="secret-value muted" aria-label="value hidden">••••••••</span>
              <span class="muted">
                updated <Time iso={secret.updated_at} />
              </span>
              <EnvironmentChoice
                label={`Environments of ${secret.name}`}
                chosen={moving?.name === secret.name ? moving.to : secret.environments}
                disabled={moving?.name === secret.name}
                onChange={(next) => move(secret, next)}
              />
              <div class="row-actions">
                <button type="button" class="button button-small" onClick={() => { setName(secret.name); setValue(""); setEnvironments([...secret.environments]); }}>
                  Replace
                </button>
                <button type="button" class="button button-small button-danger-quiet" onClick={() => setRemoving(secret.name)}>
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      {removing && (
        <ConfirmDialog
          title={`Delete ${removing}?`}
          confirmLabel="Delete"
          danger
          onConfirm={async () => {
            await api(`/projects/${project.id}/secrets/${encodeURIComponent(removing)}`, { method: "DELETE" });
            await secrets.reload();
          }}
          onClose={() => setRemoving(null)}
        >
          <p>The next deployment builds without it.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}

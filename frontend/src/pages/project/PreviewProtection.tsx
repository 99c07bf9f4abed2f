/**
 * "Protect previews with a password": preview and build-id hosts then ask visitors for it once
 * (a cookie keeps them in for a week); production and custom domains stay public. The password
 * is write-only: the API only says whether one is set, so changing it means typing a new one.
 */
import { useState } from "preact/hooks";
import { api, errorMessage } from "../../api/client";
import type { Project } from "../../api/types";
import { ErrorNote } from "../../components/ui";

const MIN_CHARS = 8;
const MAX_CHARS = 200;

export function PreviewProtection({ project, onSaved }: { project: Project; onSaved: (project: Project) => void }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const send = async (value: string | null, done: string) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      onSaved(await api<Project>(`/projects/${project.id}`, { method: "PATCH", body: { preview_password: value } }));
      setPassword("");
      setNotice(done);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const save = (event: Event) => {
    event.preventDefault();
    if (password.length < MIN_CHARS || password.length > MAX_CHARS) {
      return setError(`The password must be ${MIN_CHARS} to ${MAX_CHARS} characters.`);
    }
    void send(password, project.preview_protected ? "Password changed: everyone must enter the new one." : "Previews are now protected.");
  };

  return (
    <form class="card stack" onSubmit={save} aria-labelledby="preview-protection-title">
      <h2 id="preview-protection-title">Protect previews with a password</h2>
      <p class="hint">
        Branch previews and build URLs ask for this password once per browser; the production site and custom domains stay public.
      </p>
      <p role="status" data-testid="preview-protection-status">
        {project.preview_protected ? "Previews are protected." : "Previews are public."}
      </p>
      <label class="field">
        <span>{project.preview_protected ? "New preview password" : "Preview password"}</span>
        <input
          type="password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          autoComplete="new-password"
          maxLength={MAX_CHARS}
        />
      </label>
      <ErrorNote>{error}</ErrorNote>
      {notice && <p class="notice">{notice}</p>}
      <div class="form-actions">
        {project.preview_protected && (
          <button type="button" class="button button-danger-quiet" disabled={busy} onClick={() => send(null, "Protection removed: previews are public.")}>
            Remove protection
          </button>
        )}
        <button type="submit" class="button button-primary" disabled={busy}>
          {project.preview_protected ? "Change password" : "Protect previews"}
        </button>
      </div>
    </form>
  );
}

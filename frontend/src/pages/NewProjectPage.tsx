/**
 * A new project: pick one of the user's GitHub repositories (searched and paged) or paste a
 * Git URL, name it (checked as you type; the server's answer on a conflict is shown at the
 * field), adjust the build, add environment variables. Creating it opens its first build's log.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation } from "wouter-preact";
import { ApiError, api } from "../api/client";
import { getUser } from "../api/session";
import type { GitHubRepo, Project, Providers } from "../api/types";
import { EnvEditor, type EnvError, type EnvRow } from "../components/EnvEditor";
import { FrameworkSelect } from "../components/FrameworkSelect";
import { ErrorNote, Spinner, Time } from "../components/ui";
import { labelledMessage, secretOfField } from "../lib/fieldErrors";
import { projectNameProblem, suggestNameFromRepo, suggestProjectName } from "../lib/projectName";
import { siteHost } from "../lib/sites";
import { useResource } from "../lib/useResource";
import { useTitle } from "../lib/useTitle";

interface RepoPage {
  repos: GitHubRepo[];
  page: number;
  next_page: number | null;
}

/** Where the code comes from; "upload": no Git, the site is sent with `slipway deploy`. */
type Source = "github" | "url" | "upload";

const MAX_SEARCHED_PAGES = 20;
/** Fields shown at their own input; any other error is shown above the submit button. */
const FORM_FIELDS = ["name", "repo_url", "branch", "framework", "install_command", "build_command", "output_dir", "root_dir"];

export function NewProjectPage() {
  useTitle("New project");
  const [, navigate] = useLocation();
  // An account without GitHub (the local administrator) pastes a URL or a path instead.
  const githubLinked = getUser()?.github_linked ?? false;
  const [source, setSource] = useState<Source>(githubLinked ? "github" : "url");
  const [repoUrl, setRepoUrl] = useState("");
  const [chosen, setChosen] = useState<GitHubRepo | null>(null);
  const [name, setName] = useState("");
  // Touched: a name is due (typed into, or the form submitted); typed: the user chose one.
  const [nameTouched, setNameTouched] = useState(false);
  const [nameTyped, setNameTyped] = useState(false);
  const [branch, setBranch] = useState("");
  const [framework, setFramework] = useState("");
  const [installCommand, setInstallCommand] = useState("");
  const [buildCommand, setBuildCommand] = useState("");
  const [outputDir, setOutputDir] = useState("");
  const [rootDir, setRootDir] = useState("");
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const sites = useResource((signal) => api<Providers>("/auth/providers", { signal, anonymous: true }).then((p) => p.sites), []);

  const nameProblem = name || nameTouched ? projectNameProblem(name) : null;
  const fieldError = (field: string) => (error instanceof ApiError && error.field === field ? labelledMessage(error.message, field) : null);
  const serverNameError = fieldError("name");
  const secretName = error instanceof ApiError ? secretOfField(error.field) : null;
  const envError: EnvError | null = secretName !== null ? { name: secretName, message: error!.message } : null;
  // A name is suggested from the repository until the user types one of their own.
  const suggestName = (suggestion: string) => {
    if (!nameTyped || !name) setName(suggestion);
  };

  const choose = (repo: GitHubRepo) => {
    setChosen(repo);
    setRepoUrl(repo.html_url);
    setBranch(repo.default_branch);
    suggestName(suggestProjectName(repo.name));
    setError(null);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setNameTouched(true);
    if (projectNameProblem(name)) return;
    if (source !== "upload" && !repoUrl.trim()) {
      setError(new ApiError(400, "validation_failed", "Choose a repository or enter a Git URL.", "repo_url"));
      return;
    }
    const secrets: Record<string, string> = {};
    for (const row of env) {
      if (row.key.trim()) secrets[row.key.trim()] = row.value;
    }
    const body: Record<string, unknown> = source === "upload" ? { name } : { name, repo_url: repoUrl.trim() };
    const optional: Record<string, string> = {
      branch, framework, install_command: installCommand, build_command: buildCommand,
      output_dir: outputDir, root_dir: rootDir,
    };
    for (const [key, value] of Object.entries(optional)) if (value.trim()) body[key] = value.trim();
    if (Object.keys(secrets).length) body.secrets = secrets;
    setBusy(true);
    setError(null);
    try {
      const project = await api<Project>("/projects", { body });
      navigate(project.latest_build ? `/builds/${project.latest_build.id}` : `/projects/${project.id}`);
    } catch (err) {
      setError(err as Error);
      setBusy(false);
    }
  };

  const generalError = error && !(error instanceof ApiError && error.field && (FORM_FIELDS.includes(error.field) || error.field === "secrets" || secretName !== null));
  const address = name && !nameProblem ? name : "name";

  return (
    <div class="page page-narrow">
      <div class="page-header">
        <h1>New project</h1>
      </div>
      <form class="stack" onSubmit={submit} noValidate>
        <section class="card stack" aria-labelledby="source-title">
          <h2 id="source-title">Repository</h2>
          <div class="segmented" role="tablist" aria-label="Where the code comes from">
            <button type="button" role="tab" aria-selected={source === "github"} class={source === "github" ? "active" : ""} onClick={() => setSource("github")}>
              Import from GitHub
            </button>
            <button type="button" role="tab" aria-selected={source === "url"} class={source === "url" ? "active" : ""} onClick={() => setSource("url")}>
              Git URL
            </button>
            <button type="button" role="tab" aria-selected={source === "upload"} class={source === "upload" ? "active" : ""} onClick={() => setSource("upload")}>
              No Git: deploy from CI
            </button>
          </div>
          {source === "upload" ? (
            <p class="hint">
              Build anywhere, then send the output: <code>slipway deploy dist --project {name || "NAME"}</code> with an API token from Account → API tokens.
            </p>
          ) : source === "github" ? (
            githubLinked ? (
              <RepoPicker chosen={chosen} onChoose={choose} onUseUrl={() => setSource("url")} />
            ) : (
              <NotLinked onUseUrl={() => setSource("url")} />
            )
          ) : (
            <label class="field">
              <span>Git repository URL</span>
              <input
                value={repoUrl}
                onInput={(e) => {
                  setRepoUrl(e.currentTarget.value);
                  setChosen(null);
                  suggestName(suggestNameFromRepo(e.currentTarget.value));
                }}
                placeholder="https://example.com/you/site.git"
                spellcheck={false}
                autoComplete="off"
              />
              <small class="hint">Any https Git URL. The local administrator may also give a path on this machine.</small>
            </label>
          )}
          {chosen && source === "github" && (
            <p class="chosen" role="status">
              Selected <strong>{chosen.full_name}</strong>
            </p>
          )}
          <ErrorNote>{fieldError("repo_url")}</ErrorNote>
        </section>

        <section class="card stack" aria-labelledby="settings-title">
          <h2 id="settings-title">Project</h2>
          <label class="field">
            <span>Project name</span>
            <input
              value={name}
              onInput={(e) => {
                setName(e.currentTarget.value);
                setNameTouched(true);
                setNameTyped(true);
                if (serverNameError) setError(null);
              }}
              aria-invalid={Boolean(nameProblem || serverNameError)}
              aria-describedby="name-help"
              spellcheck={false}
              autoComplete="off"
              required
            />
            <small class="hint" id="name-help">
              Lowercase letters, digits and hyphens: the name becomes the site's address ({sites.data ? siteHost(address, sites.data) : `${address}.<domain>`}).
            </small>
          </label>
          <ErrorNote>{nameProblem ?? serverNameError}</ErrorNote>
          <label class="field">
            <span>Branch</span>
            <input value={branch} onInput={(e) => setBranch(e.currentTarget.value)} placeholder="the repository's default branch" spellcheck={false} />
          </label>
          <ErrorNote>{fieldError("branch")}</ErrorNote>
          <details class="details">
            <summary>Build settings</summary>
            <div class="stack">
              <FrameworkSelect value={framework} onChange={setFramework} />
              <ErrorNote>{fieldError("framework")}</ErrorNote>
              <Override label="Install command" value={installCommand} onInput={setInstallCommand} placeholder="detected, e.g. npm ci" error={fieldError("install_command")} />
              <Override label="Build command" value={buildCommand} onInput={setBuildCommand} placeholder="detected, e.g. npm run build" error={fieldError("build_command")} />
              <Override label="Output directory" value={outputDir} onInput={setOutputDir} placeholder="detected, e.g. dist" error={fieldError("output_dir")} />
              <Override label="Root directory" value={rootDir} onInput={setRootDir} placeholder="the repository's root" error={fieldError("root_dir")} />
            </div>
          </details>
        </section>

        <section class="card stack" aria-labelledby="env-title">
          <h2 id="env-title">Environment variables</h2>
          <p class="hint">Encrypted, given to the build only, and masked in logs. Values cannot be read back.</p>
          <EnvEditor
            rows={env}
            error={envError}
            onChange={(rows) => {
              setEnv(rows);
              if (envError || fieldError("secrets")) setError(null);
            }}
          />
          <ErrorNote>{error instanceof ApiError && error.field === "secrets" ? error.message : null}</ErrorNote>
        </section>

        {generalError && <ErrorNote error={error} />}
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy}>
            {busy ? "Creating…" : source === "upload" ? "Create project" : "Deploy"}
          </button>
        </div>
      </form>
    </div>
  );
}

function Override({ label, value, onInput, placeholder, error }: { label: string; value: string; onInput: (v: string) => void; placeholder: string; error: string | null }) {
  return (
    <>
      <label class="field">
        <span>{label}</span>
        <input value={value} onInput={(e) => onInput(e.currentTarget.value)} placeholder={placeholder} spellcheck={false} autoComplete="off" />
      </label>
      <ErrorNote>{error}</ErrorNote>
    </>
  );
}

function RepoPicker({ chosen, onChoose, onUseUrl }: { chosen: GitHubRepo | null; onChoose: (repo: GitHubRepo) => void; onUseUrl: () => void }) {
  const [query, setQuery] = useState("");
  const [pages, setPages] = useState<RepoPage[]>([]);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const first = useResource(async (signal) => {
    const page = await api<RepoPage>("/github/repos?page=1", { signal });
    setPages([page]);
    return page;
  }, []);

  const repos = useMemo(() => pages.flatMap((p) => p.repos), [pages]);
  const needle = query.trim().toLowerCase();
  const shown = needle ? repos.filter((r) => r.full_name.toLowerCase().includes(needle)) : repos;
  const next = pages.length ? pages[pages.length - 1].next_page : null;

  const loadMore = async () => {
    if (!next) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await api<RepoPage>(`/github/repos?page=${next}`);
      setPages((current) => [...current, page]);
    } catch (err) {
      setMoreError(err);
    } finally {
      setLoadingMore(false);
    }
  };

  // A search covers every repository, not only the pages loaded so far: keep loading while
  // there are more (bounded, for accounts with thousands).
  useEffect(() => {
    if (needle && next && !loadingMore && !moreError && pages.length < MAX_SEARCHED_PAGES) void loadMore();
  }, [needle, next, loadingMore]);

  if (first.error instanceof ApiError && first.error.code === "github_not_linked") {
    return <NotLinked onUseUrl={onUseUrl} />;
  }
  return (
    <div class="stack">
      <input type="search" aria-label="Search repositories" placeholder="Search repositories" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
      <ErrorNote error={first.error} />
      {first.loading && !repos.length && <Spinner label="Loading your repositories…" />}
      {!first.loading && !first.error && (
        <ul class="repo-list" aria-label="Repositories">
          {shown.map((repo) => (
            <li key={repo.full_name} class={chosen?.full_name === repo.full_name ? "repo selected" : "repo"}>
              <div class="repo-info">
                <span class="repo-name">{repo.full_name}</span>
                {repo.private && <span class="tag">Private</span>}
                <span class="muted">
                  updated <Time iso={repo.updated_at} />
                </span>
              </div>
              <button type="button" class="button button-small" aria-label={`Import ${repo.full_name}`} onClick={() => onChoose(repo)}>
                {chosen?.full_name === repo.full_name ? "Selected" : "Import"}
              </button>
            </li>
          ))}
          {!shown.length && !loadingMore && <li class="repo muted">{needle ? `No repository matches “${query}”${next ? " in those loaded so far" : ""}.` : "No repositories."}</li>}
          {loadingMore && <li class="repo muted">Loading more repositories…</li>}
        </ul>
      )}
      <ErrorNote error={moreError} />
      {next && (
        <button type="button" class="button" onClick={loadMore} disabled={loadingMore}>
          {loadingMore ? "Loading…" : "Load more repositories"}
        </button>
      )}
    </div>
  );
}

function NotLinked({ onUseUrl }: { onUseUrl: () => void }) {
  return (
    <div class="stack">
      <p class="hint">This account is not linked to GitHub (you signed in as the local administrator).</p>
      <button type="button" class="button" onClick={onUseUrl}>
        Enter a Git URL or a path instead
      </button>
    </div>
  );
}

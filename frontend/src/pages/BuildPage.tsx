/**
 * One build: its status, commit and timings, and its log. The log replays the stored lines,
 * then follows live ones; after a reconnect it fetches what it missed (see lib/logBuffer.ts).
 * A failed build's reason is said once, in the banner under the header; a passed build leads
 * with the address it is served at (lib/buildAddress.ts).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { Link } from "wouter-preact";
import { ApiError, api } from "../api/client";
import { useEvents, useReconnect } from "../api/realtime";
import type { Build, Deployment, LogPage, Project } from "../api/types";
import { BuildStatusBadge } from "../components/BuildStatus";
import { LogView } from "../components/LogView";
import { ErrorNote, ExternalLink, firstLine, shortSha, Spinner, Time } from "../components/ui";
import { buildAddresses, type Deployed } from "../lib/buildAddress";
import { type BuildStatusEvent, withStatus } from "../lib/liveBuilds";
import { EVENT_STREAMS, LogBuffer, type LogLine } from "../lib/logBuffer";
import { isActive, previewUrl } from "../lib/status";
import { formatDuration } from "../lib/time";
import { useResource } from "../lib/useResource";
import { useTitle } from "../lib/useTitle";
import { NotFoundPage } from "./NotFoundPage";

const LOG_PAGE = 5000;

export function BuildPage({ id }: { id: number }) {
  const build = useResource((signal) => api<Build>(`/builds/${id}`, { signal }), [id]);
  const project = useResource(
    async (signal) => (build.data ? api<Project>(`/projects/${build.data.project_id}`, { signal }) : undefined),
    [build.data?.project_id],
  );
  const [deployment, setDeployment] = useState<Deployed | null>(null);
  const [canceling, setCanceling] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);
  const log = useBuildLog(id);
  useTitle(`Build #${id}`, project.data?.name);
  const [, tick] = useState(0);

  useEvents(["buildStatusUpdate"], (event: BuildStatusEvent) => {
    if (event.buildId !== id) return;
    build.setData((current) => (current ? withStatus(current, event) : current!));
    // The commit (hash, message, author) is known once the build has fetched it.
    if (event.status !== "queued") void build.reload();
    if (!isActive(event)) void log.catchUp();
  });
  useEvents(["deploymentUpdate"], (event: { buildId: number; url: string; status: string }) => {
    if (event.buildId !== id) return;
    setDeployment({ url: event.url, status: event.status });
    // A first deploy gives the project its production address.
    void project.reload();
  });
  useReconnect(() => void build.reload());

  // The address of a passed build: its production deployment's, or its preview branch's.
  const b = build.data;
  useEffect(() => {
    if (!b || b.status !== "passed" || deployment) return;
    api<Deployment[]>(`/projects/${b.project_id}/deployments?limit=100`).then(
      (list) => {
        const found = list.find((d) => d.build_id === b.id);
        if (found) setDeployment({ url: found.url, status: found.status });
        else if (b.preview && project.data) {
          const url = previewUrl(b.preview, project.data, list[0]?.url);
          if (url) setDeployment({ url, status: "preview" });
        }
      },
      () => undefined,
    );
  }, [b?.status, project.data]);

  // Keep a running build's duration ticking.
  useEffect(() => {
    if (!b || !isActive(b)) return;
    const timer = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [b?.status]);

  if (build.error instanceof ApiError && build.error.status === 404) {
    return <NotFoundPage title="Build not found" reason="It may have been deleted with its project." />;
  }
  if (!b) return build.error ? <ErrorNote error={build.error} /> : <Spinner label="Loading build…" />;

  const cancel = async () => {
    setCanceling(true);
    setActionError(null);
    try {
      const answer = await api<{ build: Build }>(`/builds/${id}/cancel`, { method: "POST" });
      build.setData(answer.build);
    } catch (err) {
      setActionError(err);
    } finally {
      setCanceling(false);
    }
  };

  const p = project.data;
  const served = buildAddresses(deployment, p?.production_url ?? null);
  return (
    <div class="page page-wide">
      <nav class="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/">Projects</Link> <span aria-hidden="true">/</span>{" "}
        {p ? <Link href={`/projects/${p.id}`}>{p.name}</Link> : "…"} <span aria-hidden="true">/</span>{" "}
        <span aria-current="page">Build #{b.id}</span>
      </nav>
      <div class="page-header">
        <h1 class="with-badge">
          Build #{b.id} <BuildStatusBadge status={b.status} testId="build-status" />
        </h1>
        <div class="header-actions">
          {served && (
            <a class="button" href={served.url} target="_blank" rel="noopener noreferrer">
              Visit
            </a>
          )}
          {isActive(b) && (
            <button type="button" class="button button-danger" onClick={cancel} disabled={canceling}>
              {canceling ? "Canceling…" : "Cancel build"}
            </button>
          )}
        </div>
      </div>
      <ErrorNote error={actionError} />
      {b.error && (
        <div class="build-error" role="alert" data-testid="build-error">
          <strong>{b.status === "canceled" ? "Build canceled" : "Build failed"}</strong>{" "}
          <span>{b.error}</span>
        </div>
      )}
      <section class="card build-facts" aria-label="Build details">
        <Fact label="Commit">
          <span class="commit-message">{firstLine(b.commit_message) || "—"}</span>
          <span class="muted">
            <code>{shortSha(b.commit_sha)}</code> on {b.branch}
            {b.commit_author && <> by {b.commit_author}</>}
          </span>
        </Fact>
        <Fact label="Trigger">{b.trigger}{b.preview && " (preview)"}</Fact>
        <Fact label="Created">
          <Time iso={b.created_at} />
        </Fact>
        <Fact label="Duration">{b.started_at ? formatDuration(b.started_at, b.finished_at) : isActive(b) ? "waiting for a slot" : "—"}</Fact>
        <Fact label="Exit code">{b.exit_code ?? "—"}</Fact>
        {served && (
          <Fact label={served.label} wide>
            <span data-testid="build-address">
              <ExternalLink href={served.url} />
            </span>
            {served.immutable && (
              <span class="muted" data-testid="build-own-address">
                This build's own address: <ExternalLink href={served.immutable} />
              </span>
            )}
          </Fact>
        )}
      </section>
      <ErrorNote error={log.error} />
      <LogView lines={log.buffer.lines} version={log.version} buildId={b.id} live={isActive(b)} loading={log.loading} />
    </div>
  );
}

/** `wide`: a fact on a row of its own (the address a passed build leads with). */
function Fact({ label, children, wide = false }: { label: string; children: preact.ComponentChildren; wide?: boolean }) {
  return (
    <div class={wide ? "fact fact-wide" : "fact"}>
      <span class="label">{label}</span>
      <span class="fact-value">{children}</span>
    </div>
  );
}

/** The build's log lines: stored ones fetched page by page, live ones merged in. */
function useBuildLog(id: number) {
  const [version, setVersion] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  // One buffer per build, with its fetch state; a fetch of a build no longer shown stops.
  const state = useRef<{ id: number; buffer: LogBuffer; fetching: boolean; again: boolean; alive: boolean } | null>(null);
  if (state.current?.id !== id) {
    state.current = { id, buffer: new LogBuffer(), fetching: false, again: false, alive: true };
  }
  const bump = () => setVersion((v) => v + 1);

  const catchUp = async () => {
    const s = state.current!;
    if (s.fetching) {
      s.again = true;
      return;
    }
    s.fetching = true;
    s.buffer.beginFetch();
    try {
      for (;;) {
        const page = await api<LogPage>(`/builds/${s.id}/logs?after=${s.buffer.last}&limit=${LOG_PAGE}`);
        if (!s.alive) return;
        if (s.buffer.addStored(page.lines)) bump();
        setLoading(false);
        if (page.lines.length < LOG_PAGE) break;
      }
      setError(null);
    } catch (err) {
      if (!s.alive) return;
      setError(err);
      setLoading(false);
    } finally {
      s.fetching = false;
    }
    const holeRemains = s.buffer.endFetch();
    bump();
    if (s.again || holeRemains) {
      s.again = false;
      setTimeout(() => s.alive && void catchUp(), holeRemains ? 300 : 0);
    }
  };

  useEvents(Object.keys(EVENT_STREAMS), (payload: { buildId: number; lines: { lineNumber: number; log: string; stream?: string }[] }, event: string) => {
    if (payload.buildId !== id) return;
    // The event names the stream; Slipway's own lines (on stdout's event) carry "system".
    const lines: LogLine[] = payload.lines.map((line) => ({ lineNumber: line.lineNumber, log: line.log, stream: line.stream ?? EVENT_STREAMS[event] }));
    const needsCatchUp = state.current!.buffer.addLive(lines);
    bump();
    if (needsCatchUp) void catchUp();
  });
  useReconnect(() => void catchUp());

  useEffect(() => {
    const s = state.current!;
    setLoading(true);
    setError(null);
    void catchUp();
    return () => {
      s.alive = false;
    };
  }, [id]);

  return { buffer: state.current.buffer, version, loading, error, catchUp };
}

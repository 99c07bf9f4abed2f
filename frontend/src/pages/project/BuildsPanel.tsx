/** A project's build history, newest first, paged with "Load more" and updated live. */
import { useState } from "preact/hooks";
import { api } from "../../api/client";
import { useEvents, useReconnect } from "../../api/realtime";
import type { Build, Project } from "../../api/types";
import { BuildRow } from "../../components/BuildRow";
import { Empty, ErrorNote, Spinner } from "../../components/ui";
import { type BuildStatusEvent, mergeBuild } from "../../lib/liveBuilds";
import { useResource } from "../../lib/useResource";

const PAGE = 20;

export function BuildsPanel({ project }: { project: Project }) {
  const builds = useResource((signal) => api<Build[]>(`/projects/${project.id}/builds?limit=${PAGE}`, { signal }), [project.id]);
  const [more, setMore] = useState<{ done: boolean; loading: boolean; error: unknown }>({ done: false, loading: false, error: null });
  useReconnect(() => void builds.reload());

  useEvents(["buildStatusUpdate"], async (event: BuildStatusEvent) => {
    if (event.projectId !== project.id) return;
    const known = builds.data?.some((b) => b.id === event.buildId);
    const fetched = known ? undefined : await api<Build>(`/builds/${event.buildId}`).catch(() => undefined);
    builds.setData((list = []) => mergeBuild(list, event, fetched));
  });

  const loadMore = async () => {
    const list = builds.data ?? [];
    setMore({ done: false, loading: true, error: null });
    try {
      const page = await api<Build[]>(`/projects/${project.id}/builds?limit=${PAGE}&before=${list[list.length - 1].id}`);
      builds.setData((current = []) => [...current, ...page.filter((b) => !current.some((c) => c.id === b.id))]);
      setMore({ done: page.length < PAGE, loading: false, error: null });
    } catch (error) {
      setMore({ done: false, loading: false, error });
    }
  };

  const list = builds.data;
  return (
    <section aria-label="Builds">
      <ErrorNote error={builds.error} />
      {!list && <Spinner label="Loading builds…" />}
      {list && !list.length && <Empty title="No builds yet">Press “Deploy now”, or push to {project.branch}.</Empty>}
      {list && list.length > 0 && (
        <ul class="card list" aria-label="Build history">
          {list.map((build) => (
            <BuildRow key={build.id} build={build} live={build.id === project.live_deployment?.build_id} />
          ))}
        </ul>
      )}
      <ErrorNote error={more.error} />
      {list && list.length >= PAGE && !more.done && (
        <button type="button" class="button load-more" onClick={loadMore} disabled={more.loading}>
          {more.loading ? "Loading…" : "Load older builds"}
        </button>
      )}
    </section>
  );
}

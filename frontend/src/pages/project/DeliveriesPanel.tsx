/** The webhook inbox: what GitHub sent, what Slipway decided, and "Redeliver". */
import { useState } from "preact/hooks";
import { api, errorMessage } from "../../api/client";
import type { Delivery, Project } from "../../api/types";
import { Badge, Empty, ErrorNote, shortSha, Spinner, Time } from "../../components/ui";
import { useResource } from "../../lib/useResource";

export function DeliveriesPanel({ project }: { project: Project }) {
  const deliveries = useResource((signal) => api<Delivery[]>(`/projects/${project.id}/deliveries`, { signal }), [project.id]);
  const [result, setResult] = useState<Record<number, string>>({});
  const [busy, setBusy] = useState<number | null>(null);

  const redeliver = async (delivery: Delivery) => {
    setBusy(delivery.id);
    try {
      const answer = await api<{ decisions: { decision?: string }[] | unknown }>(`/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      setResult((r) => ({ ...r, [delivery.id]: `Redelivered: ${describe(answer.decisions)}` }));
      await deliveries.reload();
    } catch (err) {
      setResult((r) => ({ ...r, [delivery.id]: errorMessage(err) }));
    } finally {
      setBusy(null);
    }
  };

  const list = deliveries.data;
  return (
    <section aria-label="Webhook deliveries">
      {project.webhook.status === "none" && <p class="muted">This repository is not on GitHub: start builds with “Deploy now” or a deploy hook (Settings).</p>}
      <ErrorNote error={deliveries.error} />
      {!list && <Spinner label="Loading deliveries…" />}
      {list && !list.length && <Empty title="No webhook deliveries yet">GitHub's deliveries appear here as they arrive.</Empty>}
      {list && list.length > 0 && (
        <ul class="card list" aria-label="Deliveries">
          {list.map((delivery) => (
            <li key={delivery.id} class="delivery-row">
              <div class="build-main">
                <code>{delivery.event}</code>
                {delivery.signature_valid ? <Badge tone="ok">Signed</Badge> : <Badge tone="bad">Bad signature</Badge>}
              </div>
              <div class="build-commit">
                <span>{delivery.decision}</span>
                <span class="muted">
                  {delivery.ref ?? ""} {delivery.commit_sha && <code>{shortSha(delivery.commit_sha)}</code>}
                </span>
                {result[delivery.id] && <span role="status">{result[delivery.id]}</span>}
              </div>
              <div class="build-meta muted">
                <Time iso={delivery.received_at} />
              </div>
              <div class="row-actions">
                {delivery.replayable && (
                  <button type="button" class="button button-small" onClick={() => redeliver(delivery)} disabled={busy === delivery.id}>
                    {busy === delivery.id ? "Redelivering…" : "Redeliver"}
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function describe(decisions: unknown): string {
  if (Array.isArray(decisions)) {
    return decisions.map((d) => (typeof d === "string" ? d : (d as { decision?: string }).decision ?? JSON.stringify(d))).join(", ");
  }
  return typeof decisions === "string" ? decisions : "done";
}

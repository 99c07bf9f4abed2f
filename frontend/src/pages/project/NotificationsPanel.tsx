/**
 * Deploy notifications: URLs Slipway tells when a build starts, fails or goes live, as signed
 * JSON or as a Slack or Discord message. A JSON notification's signing secret is shown once,
 * right after it is added. Each notification has "Send test" and its delivery log, which
 * re-fetches every few seconds while a delivery is still being sent or retried.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage } from "../../api/client";
import type { Notification, NotificationDelivery, NotificationEvent, NotificationFormat, Project } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Badge, CopyButton, Empty, ErrorNote, RowActions, Spinner, Time } from "../../components/ui";
import { DELIVERY_STATUS, deliveryOutcome, EVENTS, eventLabel, FORMATS, formatLabel, formProblem, hasPending, toggleEvent } from "../../lib/notifications";
import { useResource } from "../../lib/useResource";

const LOG_REFRESH_MS = 3_000;

function basePath(project: Project): string {
  return `/projects/${project.id}/notifications`;
}

export function NotificationsPanel({ project }: { project: Project }) {
  const notifications = useResource((signal) => api<Notification[]>(basePath(project), { signal }), [project.id]);
  const [created, setCreated] = useState<Notification | null>(null);
  const [removing, setRemoving] = useState<Notification | null>(null);
  const list = notifications.data;

  return (
    <div class="stack">
      <AddNotificationForm
        project={project}
        onAdded={(notification) => {
          setCreated(notification);
          void notifications.reload();
        }}
      />
      {created?.secret && (
        <div class="card hook-created" role="status" data-testid="notification-secret">
          <p>
            Signing secret for <code>{created.url}</code>. Copy it now: it is shown only once. Each delivery carries{" "}
            <code>X-Slipway-Signature-256: sha256=…</code>, the HMAC-SHA256 of the body with this secret.
          </p>
          <div class="copy-row">
            <code class="hook-url">{created.secret}</code>
            <CopyButton text={created.secret} ariaLabel="Copy the signing secret" />
          </div>
        </div>
      )}
      {!list && <ErrorNote error={notifications.error} />}
      {!list && !notifications.error && <Spinner label="Loading notifications…" />}
      {list && !list.length && (
        <Empty title="No notifications yet">
          <p>Tell a Slack or Discord channel, or your own endpoint, when a deploy goes live or fails.</p>
        </Empty>
      )}
      {list && list.length > 0 && (
        <section aria-labelledby="notifications-title">
          <h2 id="notifications-title" class="section-title">
            Notifications
          </h2>
          <ul class="card list" aria-label="Notifications">
            {list.map((notification) => (
              <NotificationRow key={notification.id} project={project} notification={notification} onRemove={() => setRemoving(notification)} />
            ))}
          </ul>
        </section>
      )}
      {removing && (
        <ConfirmDialog
          title="Remove this notification?"
          confirmLabel="Remove"
          danger
          onConfirm={async () => {
            await api(`${basePath(project)}/${removing.id}`, { method: "DELETE" });
            if (created?.id === removing.id) setCreated(null);
            notifications.setData((current) => (current ?? []).filter((n) => n.id !== removing.id));
          }}
          onClose={() => setRemoving(null)}
        >
          <p>
            Slipway stops notifying <code>{removing.url}</code>, and its delivery log is deleted.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function AddNotificationForm({ project, onAdded }: { project: Project; onAdded: (notification: Notification) => void }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<NotificationEvent[]>(["deploy_succeeded", "deploy_failed"]);
  const [format, setFormat] = useState<NotificationFormat>("json");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const add = async (event: Event) => {
    event.preventDefault();
    const problem = formProblem(url, events);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      const answer = await api<{ notification: Notification }>(basePath(project), { method: "POST", body: { url: url.trim(), events, format } });
      setUrl("");
      onAdded(answer.notification);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const placeholder = FORMATS.find((f) => f.value === format)?.placeholder;
  return (
    <form class="card stack" onSubmit={add} aria-labelledby="notification-form-title" noValidate>
      <h2 id="notification-form-title">Add a notification</h2>
      <div class="notification-form-row">
        <label class="field">
          <span>Format</span>
          <select value={format} onChange={(e) => setFormat(e.currentTarget.value as NotificationFormat)}>
            {FORMATS.map((f) => (
              <option key={f.value} value={f.value}>
                {f.label}
              </option>
            ))}
          </select>
        </label>
        <label class="field notification-url">
          <span>URL</span>
          <input
            value={url}
            onInput={(e) => {
              setUrl(e.currentTarget.value);
              setError(null);
            }}
            placeholder={placeholder}
            spellcheck={false}
            autoComplete="off"
            autoCapitalize="none"
            inputMode="url"
            aria-invalid={Boolean(error)}
          />
        </label>
      </div>
      <fieldset class="notification-events">
        <legend>Events</legend>
        {EVENTS.map((e) => (
          <label key={e.value} class="checkbox">
            <input
              type="checkbox"
              checked={events.includes(e.value)}
              onChange={(change) => {
                setEvents(toggleEvent(events, e.value, change.currentTarget.checked));
                setError(null);
              }}
            />{" "}
            {e.label}
          </label>
        ))}
      </fieldset>
      <p class="hint">
        For Slack or Discord, paste the channel's incoming-webhook URL. JSON deliveries are signed with a secret shown once, after adding.
      </p>
      <ErrorNote>{error}</ErrorNote>
      <div>
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Adding…" : "Add notification"}
        </button>
      </div>
    </form>
  );
}

function NotificationRow({ project, notification, onRemove }: { project: Project; notification: Notification; onRemove: () => void }) {
  const path = `${basePath(project)}/${notification.id}`;
  const deliveries = useResource((signal) => api<NotificationDelivery[]>(`${path}/deliveries?limit=20`, { signal }), [path]);
  const [testing, setTesting] = useState(false);
  const [testError, setTestError] = useState<string | null>(null);
  const log = deliveries.data;
  const pending = log ? hasPending(log) : false;
  const titleId = `notification-${notification.id}`;

  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void deliveries.reload();
    }, LOG_REFRESH_MS);
    return () => clearInterval(timer);
  }, [pending, deliveries.reload]);

  const sendTest = async () => {
    setTesting(true);
    setTestError(null);
    try {
      await api(`${path}/test`, { method: "POST" });
      await deliveries.reload();
    } catch (err) {
      setTestError(errorMessage(err));
    } finally {
      setTesting(false);
    }
  };

  return (
    <li class="notification-row" data-testid="notification-row" aria-labelledby={titleId}>
      <div class="domain-head">
        <div class="domain-title">
          <h3 class="domain-host" id={titleId}>
            <code>{notification.url}</code>
          </h3>
          <span class="tag">{formatLabel(notification.format)}</span>
        </div>
        <RowActions label="Send test" busyLabel="Sending…" busy={testing} onAction={sendTest} onRemove={onRemove} describedBy={titleId} />
      </div>
      <p class="muted">
        {notification.events.map(eventLabel).join(", ")} · added <Time iso={notification.created_at} />
      </p>
      <ErrorNote>{testError}</ErrorNote>
      {!log && <ErrorNote error={deliveries.error} />}
      {log && !log.length && <p class="hint">Nothing sent yet. “Send test” sends a test message now.</p>}
      {log && log.length > 0 && (
        <details class="dns" open>
          <summary>Deliveries</summary>
          <div class="dns-scroll">
            <table class="dns-records" data-testid="notification-deliveries">
              <caption class="visually-hidden">Deliveries to {notification.url}, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col">Result</th>
                  <th scope="col">Time</th>
                </tr>
              </thead>
              <tbody>
                {log.map((delivery) => (
                  <tr key={delivery.id} data-testid="notification-delivery">
                    <td>{eventLabel(delivery.event)}</td>
                    <td>
                      <Badge tone={DELIVERY_STATUS[delivery.status].tone}>{DELIVERY_STATUS[delivery.status].label}</Badge>
                    </td>
                    <td title={delivery.error ?? undefined}>{deliveryOutcome(delivery)}</td>
                    <td>
                      <Time iso={delivery.delivered_at ?? delivery.created_at} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      )}
    </li>
  );
}

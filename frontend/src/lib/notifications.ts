/** Words and checks for deploy notifications: what each event and format is called, how a
 *  delivery went, and what the add form accepts before it asks the server. */
import type { NotificationDelivery, NotificationEvent, NotificationFormat } from "../api/types";

export const EVENTS: { value: NotificationEvent; label: string }[] = [
  { value: "deploy_succeeded", label: "Deploy succeeded" },
  { value: "deploy_failed", label: "Deploy failed" },
  { value: "build_started", label: "Build started" },
];

export const FORMATS: { value: NotificationFormat; label: string; placeholder: string }[] = [
  { value: "json", label: "JSON (signed)", placeholder: "https://ci.example.com/hooks/slipway" },
  { value: "slack", label: "Slack", placeholder: "https://hooks.slack.com/services/…" },
  { value: "discord", label: "Discord", placeholder: "https://discord.com/api/webhooks/…" },
];

export const MAX_URL_LENGTH = 2048;

export function eventLabel(event: NotificationEvent | "test"): string {
  return event === "test" ? "Test" : EVENTS.find((e) => e.value === event)?.label ?? event;
}

export function formatLabel(format: NotificationFormat): string {
  return FORMATS.find((f) => f.value === format)?.label ?? format;
}

export const DELIVERY_STATUS: Record<NotificationDelivery["status"], { label: string; tone: string }> = {
  pending: { label: "Pending", tone: "pending" },
  delivered: { label: "Delivered", tone: "ok" },
  failed: { label: "Failed", tone: "bad" },
};

/** Why the form cannot be sent as it is, or null: the server's rules, said before asking. */
export function formProblem(url: string, events: NotificationEvent[]): string | null {
  const trimmed = url.trim();
  if (!trimmed) return "Enter the URL to notify.";
  if (trimmed.length > MAX_URL_LENGTH) return `The URL is longer than ${MAX_URL_LENGTH} characters.`;
  if (!/^https?:\/\/[^/\s]+/i.test(trimmed) || /\s/.test(trimmed)) return "The URL must start with https:// or http://.";
  if (!events.length) return "Choose at least one event.";
  return null;
}

/** The events checked, in the order the form lists them. */
export function toggleEvent(events: NotificationEvent[], event: NotificationEvent, on: boolean): NotificationEvent[] {
  const chosen = new Set(events);
  if (on) chosen.add(event);
  else chosen.delete(event);
  return EVENTS.map((e) => e.value).filter((value) => chosen.has(value));
}

/** How a delivery went, in a few words: the answer, or why there was none. */
export function deliveryOutcome(delivery: NotificationDelivery): string {
  const answer = delivery.response_status !== null ? `HTTP ${delivery.response_status}` : null;
  const attempts = `${delivery.attempts} ${delivery.attempts === 1 ? "attempt" : "attempts"}`;
  if (delivery.status === "delivered") return `${answer ?? "Delivered"} · ${attempts}`;
  if (delivery.attempts === 0) return "Sending…";
  const why = answer ?? delivery.error ?? "no answer";
  return delivery.status === "failed" ? `Gave up: ${why} · ${attempts}` : `${why} · ${attempts}, retrying`;
}

/** Whether the log is worth re-fetching: a delivery is still being sent or retried. */
export function hasPending(deliveries: NotificationDelivery[]): boolean {
  return deliveries.some((d) => d.status === "pending");
}

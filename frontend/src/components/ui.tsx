/** Small building blocks every page uses: status badges, errors, times, empty states. */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorMessage } from "../api/client";
import { exactTime, timeAgo } from "../lib/time";

export function Badge({ tone, children, testId }: { tone: string; children: ComponentChildren; testId?: string }) {
  return (
    <span class={`badge badge-${tone}`} data-testid={testId}>
      <span class="badge-dot" aria-hidden="true" />
      {children}
    </span>
  );
}

/** An error shown next to what caused it; screen readers announce it. */
export function ErrorNote({ error, children }: { error?: unknown; children?: ComponentChildren }) {
  if (!error && !children) return null;
  return (
    <p class="error-note" role="alert">
      {children ?? errorMessage(error)}
    </p>
  );
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div class="loading" role="status">
      <span class="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children && <div class="empty-body">{children}</div>}
    </div>
  );
}

/** "3 minutes ago", kept current, with the exact time on hover. */
export function Time({ iso }: { iso: string | null }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(timer);
  }, []);
  if (!iso) return <span class="muted">—</span>;
  return (
    <time dateTime={iso} title={exactTime(iso)}>
      {timeAgo(iso)}
    </time>
  );
}

/** `ariaLabel` names what is copied where several Copy buttons sit side by side. */
export function CopyButton({ text, label = "Copy", ariaLabel }: { text: string; label?: string; ariaLabel?: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 1500);
    } catch {
      window.prompt("Copy this:", text);
    }
  };
  return (
    <button type="button" class="button button-small" onClick={copy} aria-label={copied ? undefined : ariaLabel}>
      {copied ? "Copied" : label}
    </button>
  );
}

export function ExternalLink({ href, children }: { href: string; children?: ComponentChildren }) {
  return (
    <a href={href} target="_blank" rel="noopener noreferrer" class="external">
      {children ?? href.replace(/^https?:\/\//, "")}
    </a>
  );
}

export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 7) : "branch head";
}

/** A commit message's subject line. */
export function firstLine(text: string | null): string {
  return (text ?? "").split("\n", 1)[0];
}

/** A row's two buttons: its own action (with the words shown while it runs) and Remove. */
export function RowActions({
  label,
  busyLabel,
  busy,
  onAction,
  onRemove,
  describedBy,
}: {
  label: string;
  busyLabel: string;
  busy: boolean;
  onAction: () => void;
  onRemove: () => void;
  describedBy: string;
}) {
  return (
    <div class="row-actions">
      <button type="button" class="button button-small" onClick={onAction} disabled={busy} aria-describedby={describedBy}>
        {busy ? busyLabel : label}
      </button>
      <button type="button" class="button button-small button-danger-quiet" onClick={onRemove} aria-describedby={describedBy}>
        Remove
      </button>
    </div>
  );
}

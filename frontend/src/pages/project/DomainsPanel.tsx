/**
 * Custom domains: add one, create the DNS records it lists (a TXT record proving ownership, a
 * CNAME sending visitors here), and watch it become active. While any domain is still being
 * set up the list is re-fetched every 10 seconds, quietly; status changes are announced.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage } from "../../api/client";
import type { Domain, Project } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Badge, CopyButton, Empty, ErrorNote, ExternalLink, RowActions, Spinner, Time } from "../../components/ui";
import {
  certificateText,
  checkOutcome,
  DOMAIN_STATUS,
  dnsRecords,
  isSettling,
  looksLikeApex,
  normalizeHostname,
  recordsOpen,
  redirectOptions,
  redirectsTo,
  sortDomains,
  statusChanges,
  withDomain,
  withoutDomain,
} from "../../lib/domains";
import { useResource } from "../../lib/useResource";

const REFRESH_MS = 10_000;

export function DomainsPanel({ project }: { project: Project }) {
  const domains = useResource((signal) => api<Domain[]>(`/projects/${project.id}/domains`, { signal }), [project.id]);
  const [announcement, setAnnouncement] = useState("");
  const [removing, setRemoving] = useState<Domain | null>(null);
  const seen = useRef<Domain[] | undefined>(undefined);
  const list = domains.data;
  const settling = list ? isSettling(list) : false;

  useEffect(() => {
    if (!list) return;
    const changes = statusChanges(seen.current, list);
    seen.current = list;
    if (changes.length) setAnnouncement(changes.join(" "));
  }, [list]);

  useEffect(() => {
    if (!settling) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void domains.reload();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [settling, domains.reload]);

  /** A domain the API just returned: shown at once, then the list re-fetched (other domains'
   *  redirects may have changed, and a refresh already under way must not bring back the old
   *  state). Its own answer is announced where it was asked for, not again as a change. */
  const applied = (domain: Domain) => {
    seen.current = withDomain(seen.current, domain);
    domains.setData((current) => withDomain(current, domain));
    void domains.reload();
  };

  const ownHost = project.production_url ? new URL(project.production_url).hostname : `${project.name}.<your Slipway domain>`;
  const sorted = list ? sortDomains(list) : [];
  return (
    <div class="stack">
      <AddDomainForm project={project} onAdded={applied} />
      <p class="visually-hidden" role="status">
        {announcement}
      </p>
      {!list && <ErrorNote error={domains.error} />}
      {list && domains.error ? (
        <p class="hint" role="status">
          Could not refresh the status: {errorMessage(domains.error)} Trying again shortly.
        </p>
      ) : null}
      {!list && !domains.error && <Spinner label="Loading domains…" />}
      {list && !list.length && (
        <Empty title="No custom domains yet">
          <p>
            A custom domain is an address you own, like <code>www.example.com</code>, serving this project as{" "}
            <code>{ownHost}</code> does. Add it above, create the two DNS records Slipway lists, and it goes live once they are
            found.
          </p>
          <p>HTTPS certificates are issued and renewed automatically.</p>
        </Empty>
      )}
      {sorted.length > 0 && (
        <section aria-labelledby="domains-title">
          <h2 id="domains-title" class="section-title">
            Domains
          </h2>
          <ul class="card list" aria-label="Domains">
            {sorted.map((domain) => (
              <DomainRow
                key={domain.hostname}
                domain={domain}
                domains={sorted}
                project={project}
                onUpdated={applied}
                onRemove={() => setRemoving(domain)}
              />
            ))}
          </ul>
          {settling && <p class="hint domain-refresh">The status refreshes every 10 seconds while a domain is being set up.</p>}
        </section>
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.hostname}?`}
          confirmLabel="Remove"
          danger
          onConfirm={async () => {
            await api(domainPath(project, removing.hostname), { method: "DELETE" });
            seen.current = withoutDomain(seen.current, removing.hostname);
            domains.setData((current) => withoutDomain(current, removing.hostname));
            void domains.reload();
          }}
          onClose={() => setRemoving(null)}
        >
          <p>
            Slipway stops serving {project.name} at <strong>{removing.hostname}</strong>. Its DNS records can then be deleted at your DNS
            provider.
          </p>
          {redirectsTo(sorted, removing.hostname).length > 0 && (
            <p>{redirectsTo(sorted, removing.hostname).join(", ")} will no longer redirect to it and will serve the site itself.</p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

function domainPath(project: Project, hostname: string): string {
  return `/projects/${project.id}/domains/${encodeURIComponent(hostname)}`;
}

function AddDomainForm({ project, onAdded }: { project: Project; onAdded: (domain: Domain) => void }) {
  const [hostname, setHostname] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<string | null>(null);

  const add = async (event: Event) => {
    event.preventDefault();
    const name = normalizeHostname(hostname);
    if (!name) return setError("Enter a domain name, like www.example.com.");
    setBusy(true);
    setError(null);
    setAdded(null);
    try {
      const { domain } = await api<{ domain: Domain }>(`/projects/${project.id}/domains`, { method: "POST", body: { hostname: name } });
      setHostname("");
      setAdded(`${domain.hostname} added. Create its DNS records below.`);
      onAdded(domain);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card stack" onSubmit={add} aria-labelledby="domain-form-title" noValidate>
      <h2 id="domain-form-title">Add a domain</h2>
      <div class="domain-form-row">
        <label class="field">
          <span>Domain</span>
          <input
            value={hostname}
            onInput={(e) => {
              setHostname(e.currentTarget.value);
              setError(null);
            }}
            placeholder="www.example.com"
            spellcheck={false}
            autoComplete="off"
            autoCapitalize="none"
            inputMode="url"
            aria-invalid={Boolean(error)}
            aria-describedby="domain-form-hint"
          />
        </label>
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Adding…" : "Add"}
        </button>
      </div>
      <p class="hint" id="domain-form-hint">
        A domain or subdomain you control at its DNS provider. Redirect one to another (example.com to www.example.com) once both are
        added.
      </p>
      <ErrorNote>{error}</ErrorNote>
      {added && (
        <p class="notice" role="status">
          {added}
        </p>
      )}
    </form>
  );
}

interface Checked {
  status: Domain["status"];
  error: string | null;
  text: string;
  at: string;
}

function DomainRow({
  domain,
  domains,
  project,
  onUpdated,
  onRemove,
}: {
  domain: Domain;
  domains: Domain[];
  project: Project;
  onUpdated: (domain: Domain) => void;
  onRemove: () => void;
}) {
  const [checking, setChecking] = useState(false);
  const [checked, setChecked] = useState<Checked | null>(null);
  const [checkError, setCheckError] = useState<string | null>(null);
  const status = DOMAIN_STATUS[domain.status];
  // What "Check now" found stays shown until the domain changes again.
  const result = checked && checked.status === domain.status && checked.error === domain.error ? checked : null;
  const certificate = certificateText(domain.certificate);
  const titleId = `domain-${domain.hostname}`;

  const check = async () => {
    setChecking(true);
    setCheckError(null);
    try {
      const answer = await api<{ domain: Domain }>(`${domainPath(project, domain.hostname)}/verify`, { method: "POST" });
      const next = answer.domain;
      setChecked({ status: next.status, error: next.error, text: checkOutcome(next), at: new Date().toISOString() });
      onUpdated(next);
    } catch (err) {
      setCheckError(errorMessage(err));
    } finally {
      setChecking(false);
    }
  };

  return (
    <li class="domain-row" data-testid="domain-row" data-hostname={domain.hostname} aria-labelledby={titleId}>
      <div class="domain-head">
        <div class="domain-title">
          <h3 class="domain-host" id={titleId}>
            {domain.status === "active" ? <ExternalLink href={domain.url}>{domain.hostname}</ExternalLink> : domain.hostname}
          </h3>
          <Badge tone={status.tone} testId="domain-status">
            {status.label}
          </Badge>
          {domain.redirect_to && <span class="tag">308 to {domain.redirect_to}</span>}
        </div>
        <RowActions label="Check now" busyLabel="Checking…" busy={checking} onAction={check} onRemove={onRemove} describedBy={titleId} />
      </div>
      <div class="domain-state">
        <p class="muted">
          {result ? null : status.summary} {domain.verified_at ? <>Verified <Time iso={domain.verified_at} />.</> : <>Added <Time iso={domain.created_at} />.</>}
        </p>
        {/* Only the sentence is live: the ticking "Checked 1 minute ago" must not be re-read. */}
        <p role="status" class={`domain-message domain-message-${domain.status}`}>
          {result ? result.text : domain.error}
        </p>
        {result && (
          <p class="hint">
            Checked <Time iso={result.at} />.
          </p>
        )}
        {certificate && <p class={domain.certificate?.status === "failed" ? "error-note" : "muted"}>{certificate}</p>}
      </div>
      <ErrorNote>{checkError}</ErrorNote>
      <DnsRecords domain={domain} />
      <RedirectSelect domain={domain} domains={domains} project={project} onUpdated={onUpdated} describedBy={titleId} />
    </li>
  );
}

function DnsRecords({ domain }: { domain: Domain }) {
  const records = dnsRecords(domain);
  const apex = looksLikeApex(domain.hostname);
  return (
    <details class="dns" open={recordsOpen(domain)}>
      <summary>DNS records</summary>
      <div class="dns-scroll">
        <table class="dns-records">
          <caption class="visually-hidden">DNS records to create for {domain.hostname}</caption>
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Name</th>
              <th scope="col">Value</th>
              <th scope="col">
                <span class="visually-hidden">Copy</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {records.map((record) => (
              <tr key={record.type} data-testid="dns-record">
                <td>
                  <code>{record.type}</code>
                </td>
                <td>
                  <code class="dns-copyable">{record.name}</code>
                </td>
                <td>
                  <code class="dns-copyable">{record.value}</code>
                </td>
                <td class="dns-copy">
                  <CopyButton text={record.value} ariaLabel={`Copy the ${record.type} record's value for ${domain.hostname}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="hint">
        {apex ? (
          <>
            DNS allows no CNAME at an apex: use your provider's ALIAS, ANAME or flattened CNAME record to <code>{domain.target}</code>, or
            an A record to the address <code>{domain.target}</code> has.
          </>
        ) : (
          <>
            At an apex (<code>example.com</code>) DNS allows no CNAME: use an ALIAS record to <code>{domain.target}</code> there, or an A
            record to its address.
          </>
        )}{" "}
        Some providers add the domain to names themselves: then enter only the part before it.
      </p>
    </details>
  );
}

function RedirectSelect({
  domain,
  domains,
  project,
  onUpdated,
  describedBy,
}: {
  domain: Domain;
  domains: Domain[];
  project: Project;
  onUpdated: (domain: Domain) => void;
  describedBy: string;
}) {
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<{ redirect_to: string | null; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (domains.length < 2) return null;
  const { choices, blocked } = redirectOptions(domains, domain.hostname);
  const id = `redirect-${domain.hostname}`;

  if (blocked) {
    return <p class="hint">No redirect: {blocked}</p>;
  }
  const change = async (value: string) => {
    setSaving(true);
    setSaved(null);
    setError(null);
    try {
      const answer = await api<{ domain: Domain }>(domainPath(project, domain.hostname), {
        method: "PATCH",
        body: { redirect_to: value || null },
      });
      const target = answer.domain.redirect_to;
      setSaved({ redirect_to: target, text: target ? `Saved: redirects to ${target}.` : "Saved: serves the site itself." });
      onUpdated(answer.domain);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <div class="domain-redirect">
      <label for={id}>
        Redirect to
      </label>
      <select
        id={id}
        value={domain.redirect_to ?? ""}
        onChange={(e) => void change(e.currentTarget.value)}
        disabled={saving || (!choices.length && !domain.redirect_to)}
        aria-describedby={describedBy}
      >
        <option value="">No redirect (serve the site)</option>
        {choices.map((hostname) => (
          <option key={hostname} value={hostname}>
            {hostname}
          </option>
        ))}
      </select>
      <span class="muted" role="status">
        {saving ? "Saving…" : saved && saved.redirect_to === domain.redirect_to ? saved.text : null}
      </span>
      <ErrorNote>{error}</ErrorNote>
    </div>
  );
}

/**
 * What the Domains tab says about a project's custom domains: status words, the DNS records to
 * create, the order they are listed in, which redirects make sense, and what changed between
 * two fetches (announced to screen readers). The server has the last word on every rule.
 */
import type { Domain, DomainStatus } from "../api/types";
import { exactTime, timeAgo } from "./time";

export const DOMAIN_STATUS: Record<DomainStatus, { label: string; tone: string; summary: string }> = {
  pending: { label: "Pending", tone: "pending", summary: "Waiting for the TXT record that proves you own it." },
  verified: { label: "Verified", tone: "building", summary: "Ownership proved. Its certificate is on its way." },
  active: { label: "Active", tone: "ok", summary: "Served by Slipway." },
  failed: { label: "Failed", tone: "bad", summary: "Slipway could not set it up." },
};

/**
 * What to send for what the user typed: trimmed and lowercased, and a pasted address reduced
 * to its host ("https://WWW.Example.com/about" → "www.example.com").
 */
export function normalizeHostname(input: string): string {
  return input
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, "")
    .replace(/[/?#].*$/, "")
    .replace(/\.+$/, "");
}

/** True while Slipway is still working on one of them, so the list is worth re-fetching. */
export function isSettling(domains: Domain[]): boolean {
  return domains.some((d) => d.status === "pending" || d.status === "verified");
}

/**
 * Listed by site, then by name: `example.com`, `blog.example.com`, `www.example.com`,
 * `example.org`. The order never depends on status, so a row does not move under the pointer
 * when it becomes active.
 */
export function sortDomains(domains: Domain[]): Domain[] {
  const key = (hostname: string) => hostname.split(".").reverse().join(".");
  return domains.slice().sort((a, b) => (key(a.hostname) < key(b.hostname) ? -1 : key(a.hostname) > key(b.hostname) ? 1 : 0));
}

// Registries whose customers get the third label: `shop.co.uk` is an apex. Only a hint for the
// wording next to the records; nothing is refused on it.
const SECOND_LEVEL = new Set(["co.uk", "org.uk", "ac.uk", "com.au", "net.au", "org.au", "co.nz", "co.jp", "com.br", "co.za", "com.mx", "com.cn"]);

/** Whether `hostname` looks like a zone's apex (`example.com`), where DNS forbids a CNAME. */
export function looksLikeApex(hostname: string): boolean {
  const labels = hostname.split(".");
  if (labels.length === 2) return true;
  return labels.length === 3 && SECOND_LEVEL.has(labels.slice(1).join("."));
}

export interface DnsRecord {
  type: string;
  name: string;
  value: string;
}

/**
 * The records to create at the DNS provider: the TXT proof, then where visitors go: a CNAME to
 * the project's own host, or, at an apex (where DNS forbids a CNAME), an ALIAS to it.
 */
export function dnsRecords(domain: Domain): DnsRecord[] {
  return [
    { type: domain.verification.type, name: domain.verification.name, value: domain.verification.value },
    { type: looksLikeApex(domain.hostname) ? "ALIAS" : "CNAME", name: domain.hostname, value: domain.target },
  ];
}

/** Records stay in view until the domain is served; then they fold away. */
export function recordsOpen(domain: Domain): boolean {
  return domain.status !== "active";
}

export interface RedirectOptions {
  /** The domains `hostname` may redirect to (its current target always included). */
  choices: string[];
  /** Why it may not redirect at all, or null. */
  blocked: string | null;
}

/**
 * A redirect is one hop: a domain may answer with a redirect to another domain that is served
 * itself, and a domain others redirect to cannot redirect in turn (no chains, no loops).
 */
export function redirectOptions(domains: Domain[], hostname: string): RedirectOptions {
  const self = domains.find((d) => d.hostname === hostname);
  const sources = redirectsTo(domains, hostname);
  const choices = sortDomains(domains)
    .filter((d) => d.hostname !== hostname && (d.redirect_to === null || d.hostname === self?.redirect_to))
    .map((d) => d.hostname);
  // The current target is always a choice, so the selector never shows a blank.
  if (self?.redirect_to && !choices.includes(self.redirect_to)) choices.unshift(self.redirect_to);
  if (sources.length && !self?.redirect_to) {
    return { choices: [], blocked: `${sources.join(", ")} ${sources.length === 1 ? "redirects" : "redirect"} here.` };
  }
  return { choices, blocked: null };
}

/** The certificate, in words: "Certificate issued, expires in 3 months", or null without one. */
export function certificateText(certificate: Domain["certificate"], now: number = Date.now()): string | null {
  if (!certificate) return null;
  if (certificate.status === "pending") return "Certificate being issued";
  if (certificate.status === "failed") return "Certificate not issued";
  if (!certificate.expires_at) return "Certificate issued";
  const expired = Date.parse(certificate.expires_at) <= now;
  return `Certificate issued, ${expired ? "expired" : "expires"} ${timeAgo(certificate.expires_at, now)} (${exactTime(certificate.expires_at)})`;
}

/** `text` ending with a full stop, as the API's messages may or may not. */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** What "Check now" found, as a sentence. */
export function checkOutcome(domain: Domain): string {
  switch (domain.status) {
    case "active":
      return `Active: served at ${domain.url.replace(/^https?:\/\//, "")}.`;
    case "verified":
      return "Verified: ownership proved, the certificate is on its way.";
    case "pending":
      return `${domain.error ? `Not verified yet: ${sentence(domain.error)}` : "Not verified yet."} DNS changes can take a while to reach every resolver.`;
    case "failed":
      return domain.error ? `Failed: ${sentence(domain.error)}` : "Failed.";
  }
}

/** One sentence per domain whose status changed between two fetches, for a live region. */
export function statusChanges(before: Domain[] | undefined, after: Domain[]): string[] {
  if (!before) return [];
  const previous = new Map(before.map((d) => [d.hostname, d.status]));
  return sortDomains(after)
    .filter((d) => previous.has(d.hostname) && previous.get(d.hostname) !== d.status)
    .map((d) => `${d.hostname} is now ${DOMAIN_STATUS[d.status].label.toLowerCase()}.`);
}

/** The list after the API returned one domain: replaced in place, or added. */
export function withDomain(domains: Domain[] | undefined, domain: Domain): Domain[] {
  const list = domains ?? [];
  const index = list.findIndex((d) => d.hostname === domain.hostname);
  if (index < 0) return [...list, domain];
  const next = list.slice();
  next[index] = domain;
  return next;
}

/** The domains that answer with a redirect to `hostname`. */
export function redirectsTo(domains: Domain[], hostname: string): string[] {
  return sortDomains(domains)
    .filter((d) => d.redirect_to === hostname)
    .map((d) => d.hostname);
}

/** The list after removing a domain: those that redirected to it serve the site again, as
 *  the server does. */
export function withoutDomain(domains: Domain[] | undefined, hostname: string): Domain[] {
  return (domains ?? [])
    .filter((d) => d.hostname !== hostname)
    .map((d) => (d.redirect_to === hostname ? { ...d, redirect_to: null } : d));
}

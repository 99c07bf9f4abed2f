/**
 * What the Tokens page says about personal access tokens: what each scope allows, the expiry
 * choices, a token's expiry in words, and the request a filled-in form becomes (checked here
 * first, so a mistake is explained before anything is sent).
 */
import type { ApiToken, TokenScope } from "../api/types";
import { exactTime, timeAgo } from "./time";

export const MAX_TOKEN_NAME = 100;

export const SCOPES: { scope: TokenScope; label: string; description: string }[] = [
  { scope: "read", label: "Read", description: "Read projects, builds, logs and deployments." },
  { scope: "deploy", label: "Deploy", description: "Read, start and cancel builds, upload deployments, roll back." },
  { scope: "admin", label: "Admin", description: "Everything you can do when signed in, including settings, secrets and tokens." },
];

/** Days until a new token expires; null never expires. */
export const EXPIRY_CHOICES: { days: number | null; label: string }[] = [
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 365, label: "1 year" },
  { days: null, label: "Never" },
];
export const DEFAULT_EXPIRY_DAYS = 90;

export interface TokenRequest {
  name: string;
  scopes: TokenScope[];
  expires_in_days?: number;
}

/** The body of `POST /api/tokens` for the form's values, or why it cannot be sent. */
export function tokenRequest(name: string, scopes: Iterable<TokenScope>, days: number | null): { request: TokenRequest } | { error: string } {
  const trimmed = name.trim();
  if (!trimmed) return { error: "Give the token a name, like the machine or job that will use it." };
  if (trimmed.length > MAX_TOKEN_NAME) return { error: `The name is too long: at most ${MAX_TOKEN_NAME} characters.` };
  const chosen = new Set(scopes);
  const ordered = SCOPES.map((s) => s.scope).filter((s) => chosen.has(s));
  if (!ordered.length) return { error: "Choose at least one scope." };
  const request: TokenRequest = { name: trimmed, scopes: ordered };
  if (days !== null) request.expires_in_days = days;
  return { request };
}

/** "Never", "in 3 months", "Expired 2 days ago", with the exact time where there is one. */
export function expiryText(token: Pick<ApiToken, "expires_at">, now: number = Date.now()): string {
  if (!token.expires_at) return "Never";
  if (isExpired(token, now)) return `Expired ${timeAgo(token.expires_at, now)}`;
  return `${timeAgo(token.expires_at, now)} (${exactTime(token.expires_at)})`;
}

export function isExpired(token: Pick<ApiToken, "expires_at">, now: number = Date.now()): boolean {
  return token.expires_at !== null && Date.parse(token.expires_at) <= now;
}

/** The list shown: newest first. */
export function sortTokens(tokens: ApiToken[]): ApiToken[] {
  return [...tokens].sort((a, b) => b.id - a.id);
}

/** The list after the API returned a new token, without its value (shown apart, once). */
export function withToken(tokens: ApiToken[] | undefined, token: ApiToken): ApiToken[] {
  const { token: _value, ...listed } = token;
  return [...(tokens ?? []).filter((t) => t.id !== token.id), listed];
}

export function withoutToken(tokens: ApiToken[] | undefined, id: number): ApiToken[] {
  return (tokens ?? []).filter((t) => t.id !== id);
}

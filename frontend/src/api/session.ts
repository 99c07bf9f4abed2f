/**
 * The signed-in session: the API token kept in this origin's localStorage (deployed sites live
 * on other hosts, so they cannot read it), and who it belongs to. Components subscribe to
 * changes, so signing out anywhere (or an expired token) returns every view to sign-in.
 */
import type { User } from "./types";

const TOKEN_KEY = "slipway.token";
const USER_KEY = "slipway.user";
const NOTICE_KEY = "slipway.notice";
const RETURN_KEY = "slipway.return";

type Listener = () => void;
const listeners = new Set<Listener>();

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function getUser(): User | null {
  const raw = localStorage.getItem(USER_KEY);
  try {
    return raw ? (JSON.parse(raw) as User) : null;
  } catch {
    return null;
  }
}

export function startSession(token: string, user: User): void {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  notify();
}

export function updateUser(user: User): void {
  localStorage.setItem(USER_KEY, JSON.stringify(user));
  notify();
}

/** Forget the session; `notice` is shown on the sign-in page (e.g. "your session expired"). */
export function endSession(notice?: string): void {
  const had = getToken() !== null;
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  if (had) notify();
}

/** The message left for the sign-in page, read once. */
export function takeNotice(): string | null {
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return notice;
}

/** Where to go after signing in: the page that asked for a session. */
export function rememberReturnPath(path: string): void {
  sessionStorage.setItem(RETURN_KEY, path);
}

/** The remembered page (only a path of this dashboard, never the sign-in page), read once. */
export function takeReturnPath(): string {
  const path = sessionStorage.getItem(RETURN_KEY) ?? "/";
  sessionStorage.removeItem(RETURN_KEY);
  return path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/login") ? path : "/";
}

export function onSessionChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(): void {
  for (const listener of [...listeners]) listener();
}

// Another tab signed in or out.
window.addEventListener("storage", (event) => {
  if (event.key === TOKEN_KEY) notify();
});

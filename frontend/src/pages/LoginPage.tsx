/**
 * Sign-in. Both ways end in a one-time code in the URL's fragment (`/login#code=…`): GitHub's
 * OAuth callback puts it there, and so does the local administrator's link that the server
 * prints. The code is removed from the address bar at once and traded for a session token.
 */
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "wouter-preact";
import { api, errorMessage } from "../api/client";
import { startSession, takeNotice, takeReturnPath } from "../api/session";
import type { Providers, User } from "../api/types";
import { ErrorNote, Spinner } from "../components/ui";
import { useTitle } from "../lib/useTitle";

function codeFrom(text: string): string | null {
  const match = /(?:^|[#&?])code=([^&\s]+)/.exec(text.trim());
  if (match) return decodeURIComponent(match[1]);
  return /^[A-Za-z0-9_-]{16,}$/.test(text.trim()) ? text.trim() : null;
}

export function LoginPage({ signedIn }: { signedIn: boolean }) {
  useTitle("Sign in");
  const [, navigate] = useLocation();
  const [notice] = useState(() => takeNotice());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [github, setGithub] = useState<boolean | null>(null);
  const [pasted, setPasted] = useState("");

  const exchange = async (code: string) => {
    setBusy(true);
    setError(null);
    try {
      const session = await api<{ token: string; user: User }>("/auth/session", {
        body: { code },
        anonymous: true,
      });
      startSession(session.token, session.user);
      navigate(takeReturnPath(), { replace: true });
    } catch (err) {
      setBusy(false);
      setError(
        (err as { code?: string }).code === "invalid_code"
          ? "This sign-in link has expired or was already used. Links work once, for a short time: ask for a new one."
          : errorMessage(err),
      );
    }
  };

  useEffect(() => {
    // A link opened in a tab already showing this page changes only the fragment.
    const fromFragment = () => {
      const code = codeFrom(location.hash);
      if (code) {
        history.replaceState(null, "", "/login");
        void exchange(code);
      }
      return code;
    };
    if (!fromFragment() && signedIn) navigate("/", { replace: true });
    window.addEventListener("hashchange", fromFragment);
    api<Providers>("/auth/providers", { anonymous: true }).then(
      (providers) => setGithub(providers.github),
      () => setGithub(false),
    );
    return () => window.removeEventListener("hashchange", fromFragment);
  }, []);

  const submitPasted = (event: Event) => {
    event.preventDefault();
    const code = codeFrom(pasted);
    if (code) void exchange(code);
    else setError("That does not look like a sign-in link. It ends with #code=…");
  };

  return (
    <main class="login">
      <div class="login-card">
        <h1 class="login-title">
          <span class="brand-mark" aria-hidden="true">▲</span> Sign in to Slipway
        </h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {busy ? (
          <Spinner label="Signing in…" />
        ) : (
          <>
            {github && (
              <a class="button button-primary button-wide" href="/api/auth/github">
                Continue with GitHub
              </a>
            )}
            {github && <p class="divider"><span>or</span></p>}
            <form onSubmit={submitPasted} class="stack">
              <label class="field">
                <span>Sign-in link</span>
                <input
                  value={pasted}
                  onInput={(e) => setPasted(e.currentTarget.value)}
                  placeholder="http://localhost:8080/login#code=…"
                  autoComplete="off"
                  spellcheck={false}
                />
                <small class="hint">
                  The server prints a one-time link when it starts. For a new one, run{" "}
                  <code>./scripts/run login-link</code>.
                </small>
              </label>
              <button type="submit" class={github ? "button button-wide" : "button button-primary button-wide"}>
                Sign in with link
              </button>
            </form>
          </>
        )}
        <ErrorNote>{error}</ErrorNote>
      </div>
    </main>
  );
}

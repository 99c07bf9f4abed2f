/**
 * The dashboard's shell: the route table, the sign-in gate, and the header every page shares.
 * Routes are real paths (the server answers every one of them with index.html).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { Link, Redirect, Route, Switch, useLocation } from "wouter-preact";
import { api } from "./api/client";
import { closeBeforeSignOut, useConnectionState } from "./api/realtime";
import { endSession, getToken, getUser, onSessionChange, rememberReturnPath, updateUser } from "./api/session";
import type { User } from "./api/types";
import { BuildPage } from "./pages/BuildPage";
import { LoginPage } from "./pages/LoginPage";
import { NewProjectPage } from "./pages/NewProjectPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { ProjectPage } from "./pages/ProjectPage";
import { ProjectsPage } from "./pages/ProjectsPage";
import { TokensPage } from "./pages/TokensPage";

function useSession(): { token: string | null; user: User | null } {
  const [session, setSession] = useState(() => ({ token: getToken(), user: getUser() }));
  useEffect(() => onSessionChange(() => setSession({ token: getToken(), user: getUser() })), []);
  return session;
}

export function App() {
  const { token, user } = useSession();
  const [location] = useLocation();

  if (location === "/login") {
    return <LoginPage signedIn={token !== null} />;
  }
  if (!token) {
    rememberReturnPath(location + window.location.search + window.location.hash);
    return <Redirect to="/login" replace />;
  }
  return (
    <div class="shell">
      <Header user={user} />
      <main class="main" id="main">
        <Switch>
          <Route path="/" component={ProjectsPage} />
          <Route path="/new" component={NewProjectPage} />
          <Route path="/projects/:id/:tab?">{(params) => <ProjectPage id={Number(params.id)} tab={params.tab ?? "overview"} />}</Route>
          <Route path="/builds/:id">{(params) => <BuildPage id={Number(params.id)} />}</Route>
          <Route path="/account/tokens" component={TokensPage} />
          <Route>{() => <NotFoundPage />}</Route>
        </Switch>
      </main>
    </div>
  );
}

function Header({ user }: { user: User | null }) {
  const connection = useConnectionState();
  const [location] = useLocation();
  const onProjects = location === "/" || location.startsWith("/projects");
  const [menuOpen, setMenuOpen] = useState(false);
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!menuOpen) return;
    const closeOutside = (event: MouseEvent) => {
      if (!menu.current?.contains(event.target as Node)) setMenuOpen(false);
    };
    document.addEventListener("click", closeOutside);
    return () => document.removeEventListener("click", closeOutside);
  }, [menuOpen]);

  // Refresh the profile once per page load (the avatar or name may have changed on GitHub).
  useEffect(() => {
    api<User>("/me").then(updateUser, () => undefined);
  }, []);

  const signOut = async () => {
    closeBeforeSignOut();
    try {
      await api("/auth/logout", { method: "POST" });
    } catch {
      // Signing out locally matters most; the token expires on its own anyway.
    }
    endSession("You have signed out.");
  };

  return (
    <header class="header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Link href="/" class="brand" aria-label="Slipway: projects">
        <span class="brand-mark" aria-hidden="true">▲</span> Slipway
      </Link>
      <nav class="header-nav" aria-label="Main">
        <Link href="/" class={onProjects ? "nav-link active" : "nav-link"}>
          Projects
        </Link>
      </nav>
      <div class="header-right">
        {connection === "reconnecting" && (
          <span class="connection" role="status" title="Live updates resume when the connection is back">
            Reconnecting…
          </span>
        )}
        <Link href="/new" class="button button-primary button-small">
          New project
        </Link>
        <div class="user-menu" ref={menu}>
          <button
            type="button"
            class="user-button"
            aria-haspopup="menu"
            aria-expanded={menuOpen}
            onClick={() => setMenuOpen(!menuOpen)}
          >
            {user?.avatar_url ? <img src={user.avatar_url} alt="" class="avatar" /> : <span class="avatar avatar-letter">{(user?.username ?? "?")[0].toUpperCase()}</span>}
            <span class="user-name">{user?.username ?? "Account"}</span>
          </button>
          {menuOpen && (
            <div class="menu" role="menu" onKeyDown={(e) => e.key === "Escape" && setMenuOpen(false)}>
              <p class="menu-label">
                Signed in as <strong>{user?.username}</strong>
                {user?.is_local_admin && <span class="muted"> (local administrator)</span>}
              </p>
              <Link href="/account/tokens" role="menuitem" class="menu-item" onClick={() => setMenuOpen(false)}>
                API tokens
              </Link>
              <button type="button" role="menuitem" class="menu-item" onClick={signOut}>
                Sign out
              </button>
            </div>
          )}
        </div>
      </div>
    </header>
  );
}

/**
 * Account → API tokens: personal access tokens for CI and scripts (`Authorization: Bearer
 * slw_...`). A new token's value is shown once, here, with a copy button: the server keeps only
 * its hash and cannot show it again. Revoking asks first, then stops the token at once.
 */
import { useState } from "preact/hooks";
import { api, errorMessage } from "../api/client";
import type { ApiToken, TokenScope } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { CopyButton, Empty, ErrorNote, Spinner, Time } from "../components/ui";
import { DEFAULT_EXPIRY_DAYS, EXPIRY_CHOICES, expiryText, isExpired, MAX_TOKEN_NAME, SCOPES, sortTokens, tokenRequest, withoutToken, withToken } from "../lib/tokens";
import { useResource } from "../lib/useResource";
import { useTitle } from "../lib/useTitle";

export function TokensPage() {
  useTitle("API tokens");
  const tokens = useResource((signal) => api<ApiToken[]>("/tokens", { signal }), []);
  const [created, setCreated] = useState<ApiToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const list = tokens.data ? sortTokens(tokens.data) : undefined;

  return (
    <div class="page page-narrow">
      <div class="page-header">
        <div>
          <p class="breadcrumbs">Account</p>
          <h1>API tokens</h1>
        </div>
      </div>
      <p class="muted">
        Tokens let CI jobs and scripts use Slipway's API and the <code>slipway</code> command as you, limited to the scopes you choose. Send
        one as <code>Authorization: Bearer slw_…</code>.
      </p>
      <CreateTokenForm
        onCreated={(token) => {
          setCreated(token);
          tokens.setData((current) => withToken(current, token));
        }}
      />
      {created?.token && <NewToken token={created} onDone={() => setCreated(null)} />}
      <ErrorNote error={tokens.error} />
      {!list && !tokens.error && <Spinner label="Loading tokens…" />}
      {list && !list.length && (
        <Empty title="No tokens yet">
          <p>Create one above for a CI job: a deploy token can build, upload and roll back, but not change settings.</p>
        </Empty>
      )}
      {list && list.length > 0 && (
        <section aria-labelledby="tokens-title">
          <h2 id="tokens-title" class="section-title">
            Your tokens
          </h2>
          <ul class="card list" aria-label="API tokens">
            {list.map((token) => (
              <TokenRow key={token.id} token={token} onRevoke={() => setRevoking(token)} />
            ))}
          </ul>
        </section>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke"
          danger
          onConfirm={async () => {
            await api(`/tokens/${revoking.id}`, { method: "DELETE" });
            tokens.setData((current) => withoutToken(current, revoking.id));
            if (created?.id === revoking.id) setCreated(null);
          }}
          onClose={() => setRevoking(null)}
        >
          <p>
            Anything using the token <code>{revoking.prefix}…</code> stops working at once. This cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

function CreateTokenForm({ onCreated }: { onCreated: (token: ApiToken) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<TokenScope>>(() => new Set(["deploy"]));
  const [days, setDays] = useState<number | null>(DEFAULT_EXPIRY_DAYS);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const toggle = (scope: TokenScope, on: boolean) => {
    const next = new Set(scopes);
    if (on) next.add(scope);
    else next.delete(scope);
    setScopes(next);
    setError(null);
  };

  const create = async (event: Event) => {
    event.preventDefault();
    const checked = tokenRequest(name, scopes, days);
    if ("error" in checked) return setError(checked.error);
    setBusy(true);
    setError(null);
    try {
      const token = await api<ApiToken>("/tokens", { method: "POST", body: checked.request });
      setName("");
      onCreated(token);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card stack" onSubmit={create} aria-labelledby="token-form-title" noValidate>
      <h2 id="token-form-title">Create a token</h2>
      <label class="field">
        <span>Name</span>
        <input
          value={name}
          onInput={(e) => {
            setName(e.currentTarget.value);
            setError(null);
          }}
          placeholder="GitHub Actions: my-site"
          maxLength={MAX_TOKEN_NAME}
          autoComplete="off"
          aria-invalid={Boolean(error) && !name.trim()}
        />
      </label>
      <fieldset class="token-scopes">
        <legend>Scopes</legend>
        {SCOPES.map(({ scope, label, description }) => (
          <label key={scope} class="token-scope">
            <input type="checkbox" name="scope" value={scope} checked={scopes.has(scope)} onChange={(e) => toggle(scope, e.currentTarget.checked)} />
            <span>
              <strong>{label}</strong> <span class="muted">{description}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label class="field token-expiry">
        <span>Expires</span>
        <select value={days === null ? "never" : String(days)} onChange={(e) => setDays(e.currentTarget.value === "never" ? null : Number(e.currentTarget.value))}>
          {EXPIRY_CHOICES.map((choice) => (
            <option key={choice.label} value={choice.days === null ? "never" : String(choice.days)}>
              {choice.label}
            </option>
          ))}
        </select>
      </label>
      <ErrorNote>{error}</ErrorNote>
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

function NewToken({ token, onDone }: { token: ApiToken; onDone: () => void }) {
  return (
    <section class="card stack token-created" role="status" aria-labelledby="token-created-title" data-testid="new-token">
      <h2 id="token-created-title">{token.name} is ready</h2>
      <p>
        <strong>Copy it now: you won't see it again.</strong> Slipway keeps only a hash of it. Store it as a secret in your CI (for example{" "}
        <code>SLIPWAY_TOKEN</code>).
      </p>
      <div class="copy-row">
        <code class="hook-url" data-testid="new-token-value">
          {token.token}
        </code>
        <CopyButton text={token.token ?? ""} ariaLabel="Copy the new token" />
      </div>
      <div class="form-actions">
        <button type="button" class="button button-small" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </section>
  );
}

function TokenRow({ token, onRevoke }: { token: ApiToken; onRevoke: () => void }) {
  const titleId = `token-${token.id}`;
  const expired = isExpired(token);
  return (
    <li class="token-row" data-testid="token-row" data-token-name={token.name} aria-labelledby={titleId}>
      <div class="stack token-info">
        <div class="token-main">
          <h3 class="token-name" id={titleId}>
            {token.name}
          </h3>
          <code class="muted">{token.prefix}…</code>
          {token.scopes.map((scope) => (
            <span key={scope} class="tag">
              {scope}
            </span>
          ))}
        </div>
        <dl class="token-facts">
          <div>
            <dt>Created</dt>
            <dd>
              <Time iso={token.created_at} />
            </dd>
          </div>
          <div>
            <dt>Last used</dt>
            <dd data-testid="token-last-used">{token.last_used_at ? <Time iso={token.last_used_at} /> : <span class="muted">Never</span>}</dd>
          </div>
          <div>
            <dt>Expires</dt>
            <dd class={expired ? "warning" : undefined}>{expiryText(token)}</dd>
          </div>
        </dl>
      </div>
      <div class="row-actions">
        <button type="button" class="button button-small button-danger-quiet" onClick={onRevoke} aria-describedby={titleId}>
          Revoke
        </button>
      </div>
    </li>
  );
}

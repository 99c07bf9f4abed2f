/** The API's objects, as README.md's API section describes them. */

export type BuildStatus = "queued" | "running" | "passed" | "failed" | "canceled";
export type DeploymentStatus = "live" | "superseded" | "rolled_back";

export interface User {
  id: number;
  username: string;
  email: string | null;
  avatar_url: string | null;
  github_id: number | null;
  github_linked: boolean;
  is_local_admin: boolean;
  created_at: string;
}

/** `GET /api/auth/providers`: the sign-in buttons to offer, and where sites live. */
export interface Providers {
  github: boolean;
  sites: Sites;
}

/** Sites are `<scheme>://<project>.<domain>[:<port>]`; `port` null is the scheme's default. */
export interface Sites {
  scheme: string;
  domain: string;
  port: number | null;
}

export interface Build {
  id: number;
  project_id: number;
  status: BuildStatus;
  trigger: string;
  branch: string;
  commit_sha: string | null;
  commit_message: string | null;
  commit_author: string | null;
  preview: string | null;
  exit_code: number | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Deployment {
  id: number;
  project_id: number;
  build_id: number;
  /** The build's trigger: `upload` for files sent with `slipway deploy`. */
  trigger: string | null;
  status: DeploymentStatus;
  url: string;
  created_at: string;
}

export interface Project {
  id: number;
  name: string;
  /** null: a project without Git, published only by upload deploys. */
  repo_url: string | null;
  github_repo: string | null;
  branch: string;
  install_command: string | null;
  build_command: string | null;
  output_dir: string | null;
  root_dir: string | null;
  framework: string | null;
  node_version: number | null;
  production_url: string | null;
  preview_protected: boolean;
  webhook: { status: "active" | "failed" | "none"; error: string | null };
  latest_build: Build | null;
  live_deployment: Deployment | null;
  created_at: string;
  updated_at: string;
}

export interface Secret {
  name: string;
  environments: ("production" | "preview")[];
  created_at: string;
  updated_at: string;
}

export interface DeployHook {
  id: number;
  project_id: number;
  created_at: string;
  last_used_at: string | null;
  url?: string;
}

export interface Delivery {
  id: number;
  project_id: number;
  delivery: string;
  event: string;
  repository: string | null;
  ref: string | null;
  commit_sha: string | null;
  signature_valid: boolean;
  decision: string;
  replayable: boolean;
  received_at: string;
}

export type DomainStatus = "pending" | "verified" | "active" | "failed";

/** A custom domain of a project: proved by a TXT record, served once its DNS points here. */
export interface Domain {
  hostname: string;
  /** pending: no TXT record yet; verified: proved, certificate on its way; active: served. */
  status: DomainStatus;
  verification: { type: "TXT"; name: string; value: string };
  /** `<project>.<domain>`: what the domain's CNAME (or an apex's A/ALIAS record) points to. */
  target: string;
  /** null while HTTPS is off or no certificate has been asked for yet. */
  certificate: { status: "pending" | "issued" | "failed"; expires_at: string | null } | null;
  error: string | null;
  /** Another of the project's domains this one answers with a 308 redirect to. */
  redirect_to: string | null;
  url: string;
  created_at: string;
  verified_at: string | null;
}

export interface GitHubRepo {
  name: string;
  full_name: string;
  default_branch: string;
  private: boolean;
  updated_at: string;
  clone_url: string;
  html_url: string;
}

export interface LogPage {
  buildId: number;
  status: BuildStatus;
  lines: { lineNumber: number; stream: string; log: string }[];
  next_after: number;
  complete: boolean;
}

export const FRAMEWORKS: Record<string, string> = {
  vite: "Vite",
  nextjs: "Next.js (static export)",
  "create-react-app": "Create React App",
  astro: "Astro",
  sveltekit: "SvelteKit (static)",
  nuxt: "Nuxt (generate)",
  gatsby: "Gatsby",
  "vue-cli": "Vue CLI",
  angular: "Angular",
  docusaurus: "Docusaurus",
  eleventy: "Eleventy",
  static: "Plain static HTML",
};

export type TokenScope = "read" | "deploy" | "admin";

/** A personal access token; `token` (its value) only in the answer that created it. */
export interface ApiToken {
  id: number;
  name: string;
  scopes: TokenScope[];
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  token?: string;
}

export type NotificationEvent = "deploy_succeeded" | "deploy_failed" | "build_started";
export type NotificationFormat = "json" | "slack" | "discord";

/** A URL told about a project's builds. `url` is shortened after creation (chat webhook URLs
 *  are credentials); `secret` (format json) is present only in the answer that made it. */
export interface Notification {
  id: number;
  project_id: number;
  url: string;
  events: NotificationEvent[];
  format: NotificationFormat;
  signed: boolean;
  created_at: string;
  secret?: string;
}

export interface NotificationDelivery {
  id: number;
  notification_id: number;
  event: NotificationEvent | "test";
  status: "pending" | "delivered" | "failed";
  attempts: number;
  response_status: number | null;
  error: string | null;
  created_at: string;
  next_attempt_at: string | null;
  delivered_at: string | null;
}

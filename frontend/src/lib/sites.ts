/**
 * Where projects' sites live, as `GET /api/auth/providers` says: `<scheme>://<project>.<domain>`
 * with the public URL's port. The dashboard shows a new project's address from it before the
 * project exists (afterwards the project's own `production_url` is the address).
 */
import type { Sites } from "../api/types";

/** `hello.localhost:8080`: the host (and port) a project named `name` is served at. */
export function siteHost(name: string, sites: Sites): string {
  return `${name}.${sites.domain}${sites.port === null ? "" : `:${sites.port}`}`;
}

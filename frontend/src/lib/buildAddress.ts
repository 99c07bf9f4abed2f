/**
 * Where a passed build is served, in the order a user wants it: a production build that is
 * live leads with the project's production address and gives its own immutable address
 * second; a preview leads with its branch's address; a production build no longer live has
 * only its immutable address (production now serves another build).
 */

/** What the build page knows of the build's deployment (a record, or a live event). */
export interface Deployed {
  url: string;
  /** live, superseded or rolled_back for production; preview for a branch preview. */
  status: string;
}

export interface BuildAddresses {
  label: "Deployed at" | "Preview at" | "Served at";
  url: string;
  /** The build's own `<id>--<project>` address, when `url` is another one. */
  immutable: string | null;
}

export function buildAddresses(deployed: Deployed | null, productionUrl: string | null): BuildAddresses | null {
  if (!deployed) return null;
  if (deployed.status === "preview") return { label: "Preview at", url: deployed.url, immutable: null };
  if (deployed.status === "live" && productionUrl) return { label: "Deployed at", url: productionUrl, immutable: deployed.url };
  return { label: "Served at", url: deployed.url, immutable: null };
}

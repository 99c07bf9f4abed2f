/**
 * Where a secret is given: production builds, preview builds, or both. The API always lists
 * them in this order and refuses an empty set, so the dashboard never offers one.
 */
export type Environment = "production" | "preview";

export const ENVIRONMENTS: readonly Environment[] = ["production", "preview"];

export const ENVIRONMENT_LABELS: Record<Environment, string> = {
  production: "Production",
  preview: "Preview",
};

/** The set with `environment` turned on or off, in canonical order; never empty. */
export function toggleEnvironment(current: readonly Environment[], environment: Environment, on: boolean): Environment[] {
  const next = ENVIRONMENTS.filter((name) => (name === environment ? on : current.includes(name)));
  return next.length ? next : [...current];
}

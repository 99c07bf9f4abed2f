import { Link } from "wouter-preact";
import { Empty } from "../components/ui";
import { useTitle } from "../lib/useTitle";

/** Nothing here: an unknown address, or a project or build that is missing (or not yours). */
export function NotFoundPage({ title = "Page not found", reason = "There is nothing at this address." }: { title?: string; reason?: string }) {
  useTitle(title);
  return (
    <Empty title={title}>
      <p>
        {reason} <Link href="/">Back to your projects</Link>
      </p>
    </Empty>
  );
}

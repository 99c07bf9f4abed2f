import { Link } from "wouter-preact";
import { Empty } from "../components/ui";
import { useTitle } from "../lib/useTitle";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <Empty title="Page not found">
      <p>
        There is nothing at this address. <Link href="/">Back to your projects</Link>
      </p>
    </Empty>
  );
}

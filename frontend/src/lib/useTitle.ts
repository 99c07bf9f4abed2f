import { useEffect } from "preact/hooks";

/** The browser tab's title for the page shown: "Build #3 · hello · Slipway". */
export function useTitle(...parts: (string | undefined | null)[]): void {
  const title = [...parts.filter(Boolean), "Slipway"].join(" · ");
  useEffect(() => {
    document.title = title;
  }, [title]);
}

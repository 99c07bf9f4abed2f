/** Load something from the API for a view: data, loading and error states, and a reload. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (update: T | ((current: T | undefined) => T)) => void;
}

export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Resource<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const controller = useRef<AbortController | null>(null);

  const reload = useCallback(async () => {
    controller.current?.abort();
    const current = (controller.current = new AbortController());
    setLoading(true);
    try {
      const result = await load(current.signal);
      if (!current.signal.aborted) {
        setDataState(() => result);
        setError(null);
      }
    } catch (err) {
      if (!current.signal.aborted) setError(err);
    } finally {
      if (!current.signal.aborted) setLoading(false);
    }
  }, deps);

  useEffect(() => {
    setDataState(undefined);
    void reload();
    return () => controller.current?.abort();
  }, [reload]);

  const setData = useCallback((update: T | ((current: T | undefined) => T)) => {
    setDataState((current) =>
      typeof update === "function" ? (update as (c: T | undefined) => T)(current) : update,
    );
  }, []);

  return { data, error, loading, reload, setData };
}

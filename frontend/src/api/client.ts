/**
 * Every call to Slipway's API goes through `api()`: it adds the Bearer token, turns the API's
 * `{"error": {code, message, field}}` answers into `ApiError`s whose message can be shown as
 * is, and ends the session when the server says the token is no longer good (401).
 */
import { endSession, getToken } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const SESSION_EXPIRED = "Your session has ended. Sign in again to continue.";

interface Options {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Public endpoints (sign-in) must not end a session on 401. */
  anonymous?: boolean;
}

export async function api<T>(path: string, options: Options = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = getToken();
  if (token && !options.anonymous) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
      signal: options.signal,
      credentials: "same-origin",
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network", "Slipway cannot be reached. Check that the server is running.");
  }
  if (response.status === 204) return undefined as T;
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const error = payload?.error ?? {};
    if (response.status === 401 && !options.anonymous) endSession(SESSION_EXPIRED);
    throw new ApiError(
      response.status,
      error.code ?? "http_error",
      error.message ?? `The server answered ${response.status} ${response.statusText}.`,
      error.field,
    );
  }
  return payload as T;
}

/** A message for any error, for places that show it to the user. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * One Socket.io connection per signed-in tab, authenticated at the handshake with the API
 * token. Views subscribe to event names; they also hear about (re)connections, since events
 * sent while a tab was disconnected are lost and must be caught up through the API.
 */
import { io, type Socket } from "socket.io-client";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, SESSION_EXPIRED } from "./client";
import { endSession, getToken, onSessionChange } from "./session";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline";

type Handler = (payload: any, event: string) => void;

let socket: Socket | null = null;
let state: ConnectionState = "offline";
const handlers = new Map<string, Set<Handler>>();
const stateListeners = new Set<(state: ConnectionState) => void>();
const connectListeners = new Set<() => void>();

function setState(next: ConnectionState): void {
  state = next;
  for (const listener of [...stateListeners]) listener(next);
}

function open(token: string): void {
  socket = io({ path: "/socket.io/", transports: ["websocket"], auth: { token } });
  setState("connecting");
  socket.on("connect", () => {
    setState("connected");
    for (const listener of [...connectListeners]) listener();
  });
  socket.on("disconnect", (reason: string) => {
    setState("reconnecting");
    // The server closed the socket itself (a sign-out everywhere revokes the token and
    // closes its sockets): the client does not retry on its own. Ask the API whether the
    // session still holds; a 401 ends it, anything else means reconnecting is worth it.
    if (reason === "io server disconnect") {
      const current = socket;
      api("/me").then(
        () => current?.connect(),
        (error) => {
          if (!(error instanceof ApiError && error.status === 401)) setTimeout(() => current?.connect(), 2000);
        },
      );
    }
  });
  socket.on("connect_error", (error: Error) => {
    if (/unauthorized/i.test(error.message)) {
      endSession(SESSION_EXPIRED);
    } else {
      setState("reconnecting");
    }
  });
  socket.onAny((event: string, payload: unknown) => {
    for (const handler of [...(handlers.get(event) ?? [])]) handler(payload, event);
  });
}

function close(): void {
  socket?.disconnect();
  socket = null;
  setState("offline");
}

/** Signing out here: close the socket first, so that the server closing it (a sign-out closes
 * the user's sockets on every web process) is not mistaken for a sign-out elsewhere. */
export function closeBeforeSignOut(): void {
  close();
}

/** Follow the session: connect with its token, disconnect when it ends. */
export function startRealtime(): void {
  let current = getToken();
  if (current) open(current);
  onSessionChange(() => {
    const token = getToken();
    if (token === current) return;
    close();
    current = token;
    if (token) open(token);
  });
}

export function subscribe(event: string, handler: Handler): () => void {
  if (!handlers.has(event)) handlers.set(event, new Set());
  handlers.get(event)!.add(handler);
  return () => handlers.get(event)!.delete(handler);
}

/** Call `handler` for each of `events` while the component is mounted. */
export function useEvents(events: string[], handler: Handler): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const offs = events.map((event) => subscribe(event, (payload, name) => latest.current(payload, name)));
    return () => offs.forEach((off) => off());
  }, [events.join(",")]);
}

/** Call `handler` each time the socket (re)connects while the component is mounted. */
export function useReconnect(handler: () => void): void {
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(() => {
    const listener = () => latest.current();
    connectListeners.add(listener);
    return () => connectListeners.delete(listener);
  }, []);
}

export function useConnectionState(): ConnectionState {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    stateListeners.add(setCurrent);
    setCurrent(state);
    return () => stateListeners.delete(setCurrent);
  }, []);
  return current;
}

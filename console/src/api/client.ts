// The console's only way to the gateway: a client generated from the gateway's OpenAPI document
// (src/api/schema.d.ts, written by `npm run api`), so that a renamed field or route is a compile
// error here, not a blank screen.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** No screen waits longer than this for an answer; it shows the failure and a retry. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** What every request carries besides the session cookie, kept in memory only. */
export const credentials = {
  /** The session's CSRF token: repeated on every state-changing request. */
  csrf: "",
  /** The customer organization a partner acts in, or "" for its own. */
  actingOrg: "",
};

/** A failed call: what the gateway said (or why it could not be asked). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function isSafe(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/** The headers that make a request act for this session and organization. */
export function sessionHeaders(method = "GET"): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!isSafe(method) && credentials.csrf) headers["X-CSRF-Token"] = credentials.csrf;
  if (credentials.actingOrg) headers["X-Organization-Id"] = credentials.actingOrg;
  return headers;
}

const withSession: Middleware = {
  onRequest({ request }) {
    for (const [name, value] of Object.entries(sessionHeaders(request.method))) {
      request.headers.set(name, value);
    }
    return request;
  },
  onResponse({ request, response }) {
    // The session ended (expired, revoked elsewhere): the console asks to sign in again.
    if (response.status === 401 && !request.url.endsWith("/api/v1/auth/login")) {
      window.dispatchEvent(new Event("s4e:signed-out"));
    }
    return response;
  },
};

/** fetch with the console's deadline; a caller's own abort still wins. */
export function fetchWithDeadline(input: Request | string, init?: RequestInit): Promise<Response> {
  const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
  const own = init?.signal ?? (input instanceof Request ? input.signal : undefined);
  if (own) signals.push(own);
  return fetch(input, { ...init, signal: AbortSignal.any(signals) }).catch((error: unknown) => {
    const timedOut = error instanceof DOMException && error.name === "TimeoutError";
    throw new ApiFailure(
      0,
      timedOut ? "timeout" : "unreachable",
      timedOut
        ? `the gateway did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`
        : "the gateway cannot be reached",
    );
  });
}

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "same-origin",
  fetch: (request) => fetchWithDeadline(request),
});
api.use(withSession);

/** An error body of the gateway as a failure (`{"error": {"code", "message"}}`). */
export function failureOf(status: number, body: unknown): ApiFailure {
  const detail = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  return new ApiFailure(
    status,
    detail?.code ?? "http_" + status,
    detail?.message ?? `the gateway answered ${status}`,
  );
}

/** The body of a successful answer, or the failure thrown. */
export function ok<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw failureOf(result.response.status, result.error);
  }
  return result.data as T;
}

// Pieces every screen uses: loading and failure states, tables, badges, times.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, type Schemas } from "./api/client";

export type Loaded<T> = {
  data?: T;
  error?: ApiFailure;
  loading: boolean;
  reload: () => void;
};

/** Runs `load` when `deps` change; a newer load supersedes an older one still in flight. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiFailure; loading: boolean }>({
    loading: true,
  });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((previous) => ({ ...previous, loading: true }));
    load().then(
      (data) => mine === generation.current && setState({ data, loading: false }),
      (error: unknown) =>
        mine === generation.current && setState({ error: asFailure(error), loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

export function asFailure(error: unknown): ApiFailure {
  if (error instanceof ApiFailure) return error;
  return new ApiFailure(0, "client", error instanceof Error ? error.message : String(error));
}

/** The failure as people read it: a 403 names the permission the gateway said is missing. */
export function Failure({ error, retry }: { error: ApiFailure; retry?: () => void }) {
  const heading =
    error.status === 403
      ? "Not allowed"
      : error.status === 404
        ? "Not found"
        : error.status === 0
          ? "No answer"
          : "Something went wrong";
  return (
    <div class="failure" role="alert">
      <strong>{heading}</strong> <span data-code={error.code}>{error.message}</span>
      {retry && error.status !== 403 && error.status !== 404 && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** The content of a loaded value: a loading line first, the failure, or `children(data)`. */
export function Show<T>({
  state,
  children,
}: {
  state: Loaded<T>;
  children: (data: T) => ComponentChildren;
}) {
  if (state.error) return <Failure error={state.error} retry={state.reload} />;
  if (state.data === undefined) {
    return (
      <p class="loading" aria-busy="true">
        Loading…
      </p>
    );
  }
  return <>{children(state.data)}</>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Page({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  useEffect(() => {
    document.title = `${title} · S4E`;
  }, [title]);
  return (
    <section class="page">
      <header class="page-head">
        <h1>{title}</h1>
        {actions && <div class="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export const SEVERITIES: Schemas["Severity"][] = ["critical", "high", "medium", "low", "info"];

export function SeverityBadge({ severity }: { severity: Schemas["Severity"] }) {
  return <span class={`badge sev-${severity}`}>{severity}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status}`}>{status.replace(/_/g, " ")}</span>;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["second", 60],
  ["minute", 60],
  ["hour", 24],
  ["day", 30],
  ["month", 12],
  ["year", Infinity],
];

/** A time as "3 minutes ago", the exact time on hover. */
export function Time({ at }: { at?: string | null }) {
  if (!at) return <span class="muted">—</span>;
  const date = new Date(at);
  let value = (date.getTime() - Date.now()) / 1000;
  let unit: Intl.RelativeTimeFormatUnit = "second";
  for (const [name, size] of STEPS) {
    unit = name;
    if (Math.abs(value) < size) break;
    value /= size;
  }
  return (
    <time dateTime={at} title={date.toLocaleString()}>
      {relative.format(Math.round(value), unit)}
    </time>
  );
}

/** A labelled form control. */
export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

/** Runs a change, keeps the button busy meanwhile and shows its failure next to it. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiFailure>();
  const run = useCallback(async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (failure) {
      setError(asFailure(failure));
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run };
}

/** The query of the current URL, as a plain map of its first values. */
export function queryString(values: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (Array.isArray(value)) value.forEach((one) => params.append(name, one));
    else if (value) params.set(name, value);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

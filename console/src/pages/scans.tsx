import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, ok, type Schemas } from "../api/client";
import { readEvents } from "../api/events";
import { useSession } from "../session";
import {
  Empty,
  Failure,
  Field,
  Page,
  Show,
  StatusBadge,
  Time,
  asFailure,
  queryString,
  useAction,
  useLoad,
} from "../ui";

const STATUSES: Schemas["RunStatus"][] = ["queued", "running", "completed", "failed", "cancelled"];
const FINISHED = new Set(["completed", "failed", "cancelled"]);

export function Scans() {
  const { query, route } = useLocation();
  const scans = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/scans", {
          params: {
            query: {
              status: (query.status || undefined) as Schemas["RunStatus"] | undefined,
              asset_id: query.asset_id || undefined,
              before: query.before || undefined,
              limit: 50,
            },
          },
        }),
      ),
    [query.status, query.asset_id, query.before],
  );
  return (
    <Page title="Scans">
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Status">
          <select
            value={query.status ?? ""}
            onChange={(event) =>
              route("/scans" + queryString({ ...query, before: undefined, status: (event.target as HTMLSelectElement).value }))
            }
          >
            <option value="">any</option>
            {STATUSES.map((status) => (
              <option key={status}>{status}</option>
            ))}
          </select>
        </Field>
      </form>
      <Show state={scans}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>
              No scans match. Start one from an <a href="/assets">asset</a>.
            </Empty>
          ) : (
            <>
              <ScanTable scans={page.items} />
              {page.next_cursor && (
                <a class="button" href={`/scans${queryString({ ...query, before: page.next_cursor })}`}>
                  Older scans
                </a>
              )}
            </>
          )
        }
      </Show>
    </Page>
  );
}

export function ScanTable({ scans }: { scans: Schemas["ScanRun"][] }) {
  return (
    <table class="list">
      <thead>
        <tr>
          <th>Scan</th>
          <th>Status</th>
          <th>Profile</th>
          <th>Jobs</th>
          <th>Findings</th>
          <th>Started</th>
        </tr>
      </thead>
      <tbody>
        {scans.map((scan) => (
          <tr key={scan.id}>
            <td>
              <a href={`/scans/${scan.id}`}>{scan.id.slice(0, 8)}</a>
            </td>
            <td>
              <StatusBadge status={scan.status} />
            </td>
            <td>{scan.profile}</td>
            <td>
              {scan.jobs_completed + scan.jobs_failed}/{scan.jobs_total}
            </td>
            <td>{scan.findings_count}</td>
            <td>
              <Time at={scan.started_at ?? scan.created_at} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Starts a scan of `asset` with a profile of the catalog (or named checks) and opens it. */
export function StartScan({ asset }: { asset: Schemas["Asset"] }) {
  const { route } = useLocation();
  const [open, setOpen] = useState(false);
  const [profile, setProfile] = useState<Schemas["ScanProfile"] | "">("");
  const [checks, setChecks] = useState<Schemas["CheckKind"][]>([]);
  const action = useAction();
  const catalog = useLoad(async () => (open ? ok(await api.GET("/api/v1/catalog")) : undefined), [open]);
  if (!open) {
    return (
      <button type="button" class="primary" onClick={() => setOpen(true)}>
        Start a scan
      </button>
    );
  }
  const chosen = catalog.data?.profiles.find((one) => one.key === profile);
  const applicable = (catalog.data?.definitions ?? []).filter((check) =>
    check.applies_to.includes(asset.kind),
  );
  return (
    <form
      class="card start-scan"
      aria-label="Start a scan"
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(async () => {
          const scan = ok(
            await api.POST("/api/v1/scans", {
              body: {
                asset_id: asset.id,
                profile: profile || undefined,
                checks: chosen?.takes_checks ? checks : undefined,
              },
            }),
          );
          route(`/scans/${scan.id}`);
        });
      }}
    >
      <Show state={catalog}>
        {(data) => (
          <>
            <Field label="Profile">
              <select
                name="profile"
                value={profile}
                onChange={(event) => setProfile((event.target as HTMLSelectElement).value as Schemas["ScanProfile"])}
              >
                <option value="">organization's default</option>
                {data?.profiles.map((one) => (
                  <option key={one.key} value={one.key} disabled={!one.available} title={one.unavailable_reason ?? one.description}>
                    {one.name}
                  </option>
                ))}
              </select>
            </Field>
            {chosen?.takes_checks && (
              <fieldset>
                <legend>Checks</legend>
                {applicable.map((check) => (
                  <label key={check.key} class="check" title={check.description}>
                    <input
                      type="checkbox"
                      name="check"
                      value={check.key}
                      checked={checks.includes(check.key)}
                      onChange={(event) =>
                        setChecks((previous) =>
                          (event.target as HTMLInputElement).checked
                            ? [...previous, check.key]
                            : previous.filter((one) => one !== check.key),
                        )
                      }
                    />
                    {check.name}
                  </label>
                ))}
              </fieldset>
            )}
          </>
        )}
      </Show>
      <button type="submit" class="primary" disabled={action.busy}>
        Start
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Close
      </button>
      {action.error && <Failure error={action.error} />}
    </form>
  );
}

type Live = { status: string; jobs_total: number; jobs_done: number; findings: number };

export function ScanDetail({ id }: { id: string }) {
  const session = useSession();
  const scan = useLoad(
    async () => ok(await api.GET("/api/v1/scans/{scan_id}", { params: { path: { scan_id: id } } })),
    [id],
  );
  const [live, setLive] = useState<Live>();
  const [streamError, setStreamError] = useState<string>();
  const cancel = useAction();
  // The stored run wins once it has ended: the last progress event may predate its end.
  const ended = FINISHED.has(scan.data?.status ?? "");
  const current = ended ? undefined : live;
  const finished = ended || FINISHED.has(current?.status ?? "");

  // Progress arrives over the run's event stream. When the stream closes (the end event, or
  // the gateway went away), the run is read again; while it is unfinished, that subscribes
  // anew, a little later after a failure.
  useEffect(() => {
    if (!scan.data || FINISHED.has(scan.data.status)) return;
    const stop = new AbortController();
    let retry: ReturnType<typeof setTimeout> | undefined;
    readEvents(
      `/api/v1/scans/${id}/events`,
      ({ event, data }) => {
        if (event === "progress") setLive(JSON.parse(data) as Live);
      },
      stop.signal,
    ).then(
      () => {
        setStreamError(undefined);
        if (!stop.signal.aborted) scan.reload();
      },
      (error: unknown) => {
        if (stop.signal.aborted) return;
        setStreamError(asFailure(error).message);
        retry = setTimeout(scan.reload, 3_000);
      },
    );
    return () => {
      stop.abort();
      clearTimeout(retry);
    };
  }, [id, scan.data]);

  return (
    <Show state={scan}>
      {(run) => {
        const status = current?.status ?? run.status;
        const total = current?.jobs_total ?? run.jobs_total;
        const done = current?.jobs_done ?? run.jobs_completed + run.jobs_failed;
        const findings = current?.findings ?? run.findings_count;
        return (
          <Page
            title={`Scan ${run.id.slice(0, 8)}`}
            actions={
              session.can("scans:write") &&
              !finished && (
                <button
                  type="button"
                  disabled={cancel.busy}
                  onClick={() =>
                    void cancel.run(async () => {
                      ok(await api.POST("/api/v1/scans/{scan_id}/cancel", { params: { path: { scan_id: id } } }));
                      scan.reload();
                    })
                  }
                >
                  Cancel scan
                </button>
              )
            }
          >
            {cancel.error && <Failure error={cancel.error} />}
            <div class="progress-line" aria-live="polite">
              <StatusBadge status={status} />{" "}
              <progress max={Math.max(total, 1)} value={done} aria-label="Jobs done" />{" "}
              <span data-testid="progress">
                {done}/{total} jobs, {findings} findings
              </span>
            </div>
            {streamError && <p class="muted">Live progress stopped: {streamError}</p>}
            {run.error && <Failure error={asFailure(new Error(run.error))} />}
            <dl class="facts">
              <dt>Asset</dt>
              <dd>
                <a href={`/assets/${run.asset_id}`}>{run.asset_id}</a>
              </dd>
              <dt>Profile</dt>
              <dd>{run.profile}</dd>
              <dt>Created</dt>
              <dd>
                <Time at={run.created_at} />
              </dd>
              <dt>Finished</dt>
              <dd>
                <Time at={run.finished_at} />
              </dd>
            </dl>
            <p>
              <a class="button" href={`/findings?scan_id=${run.id}`}>
                Findings of this scan
              </a>
            </p>
            <Jobs id={id} finished={finished} />
            {finished && <SiteMap id={id} />}
          </Page>
        );
      }}
    </Show>
  );
}

function Jobs({ id, finished }: { id: string; finished: boolean }) {
  const jobs = useLoad(
    async () => ok(await api.GET("/api/v1/scans/{scan_id}/jobs", { params: { path: { scan_id: id } } })).items,
    [id, finished],
  );
  return (
    <>
      <h2>Jobs</h2>
      <Show state={jobs}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No jobs planned yet.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>Check</th>
                  <th>Target</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Error</th>
                </tr>
              </thead>
              <tbody>
                {items.map((job) => (
                  <tr key={job.id}>
                    <td>{job.check}</td>
                    <td class="wrap">{job.target}</td>
                    <td>
                      <StatusBadge status={job.status} />
                    </td>
                    <td>{job.attempts}</td>
                    <td class="wrap">{job.error ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </>
  );
}

/** What the scan's crawl mapped, in URL order, a page at a time; nothing when it crawled none. */
function SiteMap({ id }: { id: string }) {
  const [after, setAfter] = useState<string>();
  const [status, setStatus] = useState("");
  const pages = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/scans/{scan_id}/site-map", {
          params: {
            path: { scan_id: id },
            query: { after, status: status ? Number(status) : undefined, limit: 100 },
          },
        }),
      ),
    [id, after, status],
  );
  if (pages.data && pages.data.items.length === 0 && !after && !status) return null;
  return (
    <>
      <h2>Site map</h2>
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Status">
          <input
            inputMode="numeric"
            placeholder="200"
            value={status}
            onChange={(event) => {
              setAfter(undefined);
              setStatus((event.target as HTMLInputElement).value);
            }}
          />
        </Field>
      </form>
      <Show state={pages}>
        {(list) => (
          <>
            <table class="list" data-testid="site-map">
              <thead>
                <tr>
                  <th>URL</th>
                  <th>Status</th>
                  <th>Found by</th>
                  <th>Title</th>
                  <th>Forms</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((page) => (
                  <tr key={page.url}>
                    <td class="wrap">{page.url}</td>
                    <td>{page.status ?? page.error ?? "—"}</td>
                    <td>{page.found_by}</td>
                    <td class="wrap">{page.title ?? ""}</td>
                    <td>{page.forms?.length ? page.forms.length : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {list.next_cursor && (
              <button type="button" onClick={() => setAfter(list.next_cursor ?? undefined)}>
                Next page
              </button>
            )}
          </>
        )}
      </Show>
    </>
  );
}

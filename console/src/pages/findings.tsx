import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, failureOf, fetchWithDeadline, ok, sessionHeaders, type Schemas } from "../api/client";
import { useSession } from "../session";
import {
  Empty,
  Failure,
  Field,
  Page,
  SEVERITIES,
  SeverityBadge,
  Show,
  StatusBadge,
  Time,
  queryString,
  useAction,
  useLoad,
} from "../ui";

const STATUSES: Schemas["FindingStatus"][] = [
  "open",
  "in_progress",
  "reopened",
  "accepted_risk",
  "false_positive",
  "fixed",
];
/** What people may set; `reopened` is only ever observed by a scan. */
const TRIAGE: Schemas["FindingStatus"][] = STATUSES.filter((status) => status !== "reopened");
const CHECKS: Schemas["CheckKind"][] = [
  "http_headers",
  "http_probes",
  "exposure",
  "tls_certificate",
  "tls_protocols",
  "ports",
  "dns",
  "subdomains",
  "api_operations",
  "crawl",
];

type Query = Record<string, string | undefined>;

/** The list query of the URL's filters: the same one the export is asked with. */
function filtersOf(query: Query) {
  const list = (value?: string) => (value ? value.split(",").filter(Boolean) : undefined);
  return {
    status: list(query.status) as Schemas["FindingStatus"][] | undefined,
    severity: list(query.severity) as Schemas["Severity"][] | undefined,
    min_severity: (query.min_severity || undefined) as Schemas["Severity"] | undefined,
    check: (query.check || undefined) as Schemas["CheckKind"] | undefined,
    rule: query.rule || undefined,
    asset_id: query.asset_id || undefined,
    scan_id: query.scan_id || undefined,
    sort: (query.sort || undefined) as "severity" | "last_seen" | "first_seen" | undefined,
    order: (query.order || undefined) as "asc" | "desc" | undefined,
  };
}

export function Findings() {
  const session = useSession();
  const { query, route } = useLocation();
  const filters = filtersOf(query);
  const key = JSON.stringify(filters) + (query.cursor ?? "");
  const findings = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/findings", {
          params: { query: { ...filters, cursor: query.cursor || undefined, limit: 100 } },
        }),
      ),
    [key],
  );
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const go = (changes: Query) => {
    setSelected(new Set());
    route("/findings" + queryString({ ...query, cursor: undefined, ...changes }));
  };
  const toggleIn = (name: string, value: string, on: boolean) => {
    const current = new Set((query[name] ?? "").split(",").filter(Boolean));
    if (on) current.add(value);
    else current.delete(value);
    go({ [name]: [...current].join(",") || undefined });
  };

  return (
    <Page title="Findings" actions={session.can("exports:read") && <Export query={query} />}>
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <fieldset>
          <legend>Status</legend>
          {STATUSES.map((status) => (
            <label key={status} class="check">
              <input
                type="checkbox"
                name="status"
                value={status}
                checked={filters.status?.includes(status) ?? false}
                onChange={(event) => toggleIn("status", status, (event.target as HTMLInputElement).checked)}
              />
              {status.replace(/_/g, " ")}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Severity</legend>
          {SEVERITIES.map((severity) => (
            <label key={severity} class="check">
              <input
                type="checkbox"
                name="severity"
                value={severity}
                checked={filters.severity?.includes(severity) ?? false}
                onChange={(event) => toggleIn("severity", severity, (event.target as HTMLInputElement).checked)}
              />
              {severity}
            </label>
          ))}
        </fieldset>
        <Field label="Check">
          <select value={query.check ?? ""} onChange={(event) => go({ check: (event.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {CHECKS.map((check) => (
              <option key={check}>{check}</option>
            ))}
          </select>
        </Field>
        <Field label="Rule">
          <input
            name="rule"
            value={query.rule ?? ""}
            placeholder="missing_csp"
            onChange={(event) => go({ rule: (event.target as HTMLInputElement).value })}
          />
        </Field>
        <Field label="Sort">
          <select value={query.sort ?? "severity"} onChange={(event) => go({ sort: (event.target as HTMLSelectElement).value })}>
            <option value="severity">most severe</option>
            <option value="last_seen">last seen</option>
            <option value="first_seen">first seen</option>
          </select>
        </Field>
        <Field label="Order">
          <select value={query.order ?? "desc"} onChange={(event) => go({ order: (event.target as HTMLSelectElement).value })}>
            <option value="desc">descending</option>
            <option value="asc">ascending</option>
          </select>
        </Field>
        {(query.asset_id || query.scan_id) && (
          <p class="muted">
            {query.asset_id && <>Asset {query.asset_id.slice(0, 8)} </>}
            {query.scan_id && <>Scan {query.scan_id.slice(0, 8)} </>}
            <button type="button" class="link" onClick={() => go({ asset_id: undefined, scan_id: undefined })}>
              show all
            </button>
          </p>
        )}
      </form>
      {session.can("findings:write") && (
        <BulkTriage
          ids={[...selected]}
          done={() => {
            setSelected(new Set());
            findings.reload();
          }}
        />
      )}
      <Show state={findings}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No findings match these filters.</Empty>
          ) : (
            <>
              <table class="list" data-testid="findings">
                <thead>
                  <tr>
                    {session.can("findings:write") && (
                      <th>
                        <input
                          type="checkbox"
                          aria-label="Select every finding on this page"
                          checked={page.items.every((finding) => selected.has(finding.id))}
                          onChange={(event) =>
                            setSelected(
                              (event.target as HTMLInputElement).checked
                                ? new Set(page.items.map((finding) => finding.id))
                                : new Set(),
                            )
                          }
                        />
                      </th>
                    )}
                    <th>Severity</th>
                    <th>Finding</th>
                    <th>Location</th>
                    <th>Status</th>
                    <th>Seen</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((finding) => (
                    <tr key={finding.id} data-rule={finding.rule}>
                      {session.can("findings:write") && (
                        <td>
                          <input
                            type="checkbox"
                            aria-label={`Select ${finding.title}`}
                            checked={selected.has(finding.id)}
                            onChange={(event) => {
                              const next = new Set(selected);
                              if ((event.target as HTMLInputElement).checked) next.add(finding.id);
                              else next.delete(finding.id);
                              setSelected(next);
                            }}
                          />
                        </td>
                      )}
                      <td>
                        <SeverityBadge severity={finding.severity} />
                      </td>
                      <td>
                        <a href={`/findings/${finding.id}`}>{finding.title}</a>
                        <div class="muted">{finding.rule}</div>
                      </td>
                      <td class="wrap">{finding.location}</td>
                      <td>
                        <StatusBadge status={finding.status} />
                      </td>
                      <td>
                        <Time at={finding.last_seen} />
                        {finding.occurrences > 1 && <div class="muted">{finding.occurrences}×</div>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {page.next_cursor && (
                <a class="button" href={`/findings${queryString({ ...query, cursor: page.next_cursor })}`}>
                  Next page
                </a>
              )}
            </>
          )
        }
      </Show>
    </Page>
  );
}

function BulkTriage({ ids, done }: { ids: string[]; done: () => void }) {
  const [status, setStatus] = useState<Schemas["FindingStatus"]>("accepted_risk");
  const [reason, setReason] = useState("");
  const [result, setResult] = useState<string>();
  const action = useAction();
  return (
    <form
      class="inline-form bulk"
      aria-label="Triage the selected findings"
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(async () => {
          const answer = ok(
            await api.POST("/api/v1/findings/bulk-status", {
              body: { ids, status, reason: reason || undefined },
            }),
          );
          setResult(`${answer.changed} changed, ${answer.unchanged} already so`);
          setReason("");
          done();
        });
      }}
    >
      <span>{ids.length} selected</span>
      <Field label="New status">
        <select name="bulk-status" value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value as Schemas["FindingStatus"])}>
          {TRIAGE.map((one) => (
            <option key={one} value={one}>
              {one.replace(/_/g, " ")}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Reason">
        <input name="reason" value={reason} maxLength={2000} onInput={(event) => setReason((event.target as HTMLInputElement).value)} />
      </Field>
      <button type="submit" class="primary" disabled={action.busy || ids.length === 0}>
        Apply
      </button>
      {result && (
        <span role="status" data-testid="bulk-result">
          {result}
        </span>
      )}
      {action.error && <Failure error={action.error} />}
    </form>
  );
}

/** Downloads exactly the filtered view (all its pages) in one of the gateway's formats. */
function Export({ query }: { query: Query }) {
  const action = useAction();
  const download = (format: "json" | "csv" | "sarif") =>
    action.run(async () => {
      const url = "/api/v1/findings/export" + queryString({ ...filtersOf(query), format });
      const response = await fetchWithDeadline(url, { headers: sessionHeaders(), credentials: "same-origin" });
      if (!response.ok) throw failureOf(response.status, await response.json().catch(() => undefined));
      const blob = await response.blob();
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = `findings.${format === "sarif" ? "sarif.json" : format}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    });
  return (
    <div class="export">
      <span>Export this view:</span>
      {(["json", "csv", "sarif"] as const).map((format) => (
        <button key={format} type="button" disabled={action.busy} onClick={() => void download(format)}>
          {format.toUpperCase()}
        </button>
      ))}
      {action.error && <Failure error={action.error} />}
    </div>
  );
}

export function FindingDetail({ id }: { id: string }) {
  const session = useSession();
  const finding = useLoad(
    async () => ok(await api.GET("/api/v1/findings/{finding_id}", { params: { path: { finding_id: id } } })),
    [id],
  );
  const [status, setStatus] = useState<Schemas["FindingStatus"]>("in_progress");
  const [reason, setReason] = useState("");
  const action = useAction();
  return (
    <Show state={finding}>
      {(data) => (
        <Page title={data.title}>
          <p>
            <SeverityBadge severity={data.severity} /> <StatusBadge status={data.status} />{" "}
            <span class="muted">
              {data.rule} · {data.check}
              {data.cwe ? ` · CWE-${data.cwe}` : ""} · score {data.score.toFixed(1)}
            </span>
          </p>
          <dl class="facts">
            <dt>Location</dt>
            <dd class="wrap">{data.location}</dd>
            <dt>Asset</dt>
            <dd>
              <a href={`/assets/${data.asset_id}`}>{data.asset_id}</a>
            </dd>
            <dt>First seen</dt>
            <dd>
              <Time at={data.first_seen} />
            </dd>
            <dt>Last seen</dt>
            <dd>
              <Time at={data.last_seen} /> by <a href={`/scans/${data.last_run_id}`}>scan {data.last_run_id.slice(0, 8)}</a>,{" "}
              {data.occurrences} time(s) in all
            </dd>
          </dl>
          <h2>Description</h2>
          <p>{data.description}</p>
          <h2>Remediation</h2>
          <p>{data.remediation}</p>
          <h2>Evidence</h2>
          <pre class="evidence">{JSON.stringify(data.evidence, null, 2)}</pre>
          {data.raw_output_id && <RawOutput id={id} />}
          {session.can("findings:write") && (
            <form
              class="inline-form"
              aria-label="Change the status"
              onSubmit={(event) => {
                event.preventDefault();
                void action.run(async () => {
                  ok(
                    await api.PATCH("/api/v1/findings/{finding_id}", {
                      params: { path: { finding_id: id } },
                      body: { status, reason: reason || undefined },
                    }),
                  );
                  setReason("");
                  finding.reload();
                });
              }}
            >
              <Field label="Status">
                <select value={status} onChange={(event) => setStatus((event.target as HTMLSelectElement).value as Schemas["FindingStatus"])}>
                  {TRIAGE.map((one) => (
                    <option key={one} value={one}>
                      {one.replace(/_/g, " ")}
                    </option>
                  ))}
                </select>
              </Field>
              <Field label="Reason">
                <input value={reason} maxLength={2000} onInput={(event) => setReason((event.target as HTMLInputElement).value)} />
              </Field>
              <button type="submit" disabled={action.busy}>
                Change status
              </button>
              {action.error && <Failure error={action.error} />}
            </form>
          )}
          <h2>History</h2>
          {data.history.length === 0 ? (
            <Empty>The status has not changed since the finding was first seen.</Empty>
          ) : (
            <ol class="history">
              {data.history.map((event) => (
                <li key={event.id}>
                  <Time at={event.occurred_at} />: {event.actor.label} moved it from{" "}
                  <StatusBadge status={event.from_status} /> to <StatusBadge status={event.to_status} />
                  {event.reason && <q>{event.reason}</q>}
                </li>
              ))}
            </ol>
          )}
        </Page>
      )}
    </Show>
  );
}

/** What the check recorded whole, loaded when asked for (it can be large). */
function RawOutput({ id }: { id: string }) {
  const [output, setOutput] = useState<unknown>();
  const action = useAction();
  return (
    <>
      <h2>Raw output</h2>
      {output === undefined ? (
        <button
          type="button"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              setOutput(
                ok(await api.GET("/api/v1/findings/{finding_id}/raw-output", { params: { path: { finding_id: id } } })),
              );
            })
          }
        >
          Show the raw output
        </button>
      ) : (
        <pre class="evidence" data-testid="raw-output">
          {JSON.stringify(output, null, 2)}
        </pre>
      )}
      {action.error && <Failure error={action.error} />}
    </>
  );
}

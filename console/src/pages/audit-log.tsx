import { useLocation } from "preact-iso";
import { api, ok } from "../api/client";
import { Empty, Field, Page, Show, StatusBadge, Time, queryString, useLoad } from "../ui";

export function AuditLog() {
  const { query, route } = useLocation();
  const entries = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/audit-log", {
          params: {
            query: {
              action: query.action || undefined,
              resource_type: query.resource_type || undefined,
              failed: query.failed === "true" ? true : undefined,
              since: query.since ? new Date(query.since).toISOString() : undefined,
              until: query.until ? new Date(query.until).toISOString() : undefined,
              before: query.before || undefined,
              limit: 100,
            },
          },
        }),
      ),
    [query.action, query.resource_type, query.failed, query.since, query.until, query.before],
  );
  const go = (changes: Record<string, string | undefined>) =>
    route("/audit-log" + queryString({ ...query, before: undefined, ...changes }));
  return (
    <Page title="Audit log">
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Action">
          <input value={query.action ?? ""} placeholder="assets.create" onChange={(event) => go({ action: (event.target as HTMLInputElement).value })} />
        </Field>
        <Field label="Resource">
          <input value={query.resource_type ?? ""} placeholder="asset" onChange={(event) => go({ resource_type: (event.target as HTMLInputElement).value })} />
        </Field>
        <Field label="Since">
          <input type="datetime-local" value={query.since ?? ""} onChange={(event) => go({ since: (event.target as HTMLInputElement).value })} />
        </Field>
        <Field label="Until">
          <input type="datetime-local" value={query.until ?? ""} onChange={(event) => go({ until: (event.target as HTMLInputElement).value })} />
        </Field>
        <label class="check">
          <input
            type="checkbox"
            checked={query.failed === "true"}
            onChange={(event) => go({ failed: (event.target as HTMLInputElement).checked ? "true" : undefined })}
          />
          refused only
        </label>
      </form>
      <Show state={entries}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No entries match.</Empty>
          ) : (
            <>
              <table class="list">
                <thead>
                  <tr>
                    <th>When</th>
                    <th>Who</th>
                    <th>Action</th>
                    <th>Resource</th>
                    <th>Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((entry) => (
                    <tr key={entry.id}>
                      <td>
                        <Time at={entry.occurred_at} />
                      </td>
                      <td>
                        {entry.actor_label}
                        {entry.ip && <div class="muted">{entry.ip}</div>}
                      </td>
                      <td>{entry.action}</td>
                      <td class="wrap">
                        {entry.resource_type} {entry.resource_id ?? ""}
                      </td>
                      <td>
                        <StatusBadge status={String(entry.outcome)} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {page.next_cursor && (
                <a class="button" href={`/audit-log${queryString({ ...query, before: page.next_cursor })}`}>
                  Older entries
                </a>
              )}
            </>
          )
        }
      </Show>
    </Page>
  );
}

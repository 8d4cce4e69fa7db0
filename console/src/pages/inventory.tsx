// The inventory beyond the assets themselves: every service the port scans see, and the names
// discovery found that wait for someone to register or dismiss them.
import { useLocation } from "preact-iso";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Empty, Failure, Field, Page, Show, StatusBadge, Time, queryString, useAction, useLoad } from "../ui";

export function Services() {
  const { query, route } = useLocation();
  const services = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/services", {
          params: {
            query: {
              port: query.port ? Number(query.port) : undefined,
              service: query.service || undefined,
              include_gone: query.include_gone === "true" ? true : undefined,
              after: query.after || undefined,
              limit: 100,
            },
          },
        }),
      ),
    [query.port, query.service, query.include_gone, query.after],
  );
  const go = (changes: Record<string, string | undefined>) =>
    route("/services" + queryString({ ...query, after: undefined, ...changes }));
  return (
    <Page title="Services">
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Port">
          <input inputMode="numeric" value={query.port ?? ""} onChange={(event) => go({ port: (event.target as HTMLInputElement).value })} />
        </Field>
        <Field label="Service">
          <input value={query.service ?? ""} placeholder="ssh" onChange={(event) => go({ service: (event.target as HTMLInputElement).value })} />
        </Field>
        <label class="check">
          <input
            type="checkbox"
            checked={query.include_gone === "true"}
            onChange={(event) => go({ include_gone: (event.target as HTMLInputElement).checked ? "true" : undefined })}
          />
          closed since
        </label>
      </form>
      <Show state={services}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No services seen. Scans with the port check find what listens on the assets.</Empty>
          ) : (
            <>
              <table class="list" data-testid="services">
                <thead>
                  <tr>
                    <th>Asset</th>
                    <th>Port</th>
                    <th>Service</th>
                    <th>TLS</th>
                    <th>First seen</th>
                    <th>Last seen</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((service) => (
                    <tr key={service.id}>
                      <td>
                        <a href={`/assets/${service.asset_id}`}>{service.host ?? service.asset_id.slice(0, 8)}</a>
                      </td>
                      <td>
                        {service.port}/{service.transport}
                        {service.gone_at && <div class="muted">closed <Time at={service.gone_at} /></div>}
                      </td>
                      <td>{[service.service, service.product, service.version].filter(Boolean).join(" ") || "—"}</td>
                      <td>{service.tls ? "yes" : "no"}</td>
                      <td>
                        <Time at={service.first_seen} />
                      </td>
                      <td>
                        <Time at={service.last_seen} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {page.next_cursor && (
                <a class="button" href={`/services${queryString({ ...query, after: page.next_cursor })}`}>
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

const CANDIDATE_STATUSES: Schemas["CandidateStatus"][] = ["pending", "approved", "dismissed"];

export function Discovery() {
  const session = useSession();
  const { query, route } = useLocation();
  const status = (query.status || "pending") as Schemas["CandidateStatus"];
  const candidates = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/candidates", {
          params: { query: { status, after: query.after || undefined, limit: 100 } },
        }),
      ),
    [status, query.after],
  );
  const decide = useAction();
  const writable = session.can("assets:write");
  return (
    <Page title="Discovery">
      <p class="muted">
        Host names found by subdomain discovery, certificates and crawls of the assets. Approving
        one registers it as an asset.
      </p>
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Status">
          <select value={status} onChange={(event) => route("/discovery" + queryString({ status: (event.target as HTMLSelectElement).value }))}>
            {CANDIDATE_STATUSES.map((one) => (
              <option key={one}>{one}</option>
            ))}
          </select>
        </Field>
      </form>
      {decide.error && <Failure error={decide.error} />}
      <Show state={candidates}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>Nothing {status}.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Found by</th>
                  <th>Addresses</th>
                  <th>Last seen</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {page.items.map((candidate) => (
                  <tr key={candidate.id}>
                    <td>
                      {candidate.name}
                      {candidate.asset_id && (
                        <div>
                          <a href={`/assets/${candidate.asset_id}`}>the asset</a>
                        </div>
                      )}
                    </td>
                    <td>{candidate.sources.join(", ")}</td>
                    <td class="wrap">{candidate.addresses.join(", ")}</td>
                    <td>
                      <Time at={candidate.last_seen} />
                    </td>
                    <td>
                      {candidate.status === "pending" && writable ? (
                        <span class="actions">
                          {(["approve", "dismiss"] as const).map((verb) => (
                            <button
                              key={verb}
                              type="button"
                              disabled={decide.busy}
                              onClick={() =>
                                void decide.run(async () => {
                                  ok(
                                    await api.POST(`/api/v1/candidates/{candidate_id}/${verb}`, {
                                      params: { path: { candidate_id: candidate.id } },
                                    }),
                                  );
                                  candidates.reload();
                                })
                              }
                            >
                              {verb === "approve" ? "Register" : "Dismiss"}
                            </button>
                          ))}
                        </span>
                      ) : (
                        <StatusBadge status={candidate.status} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </Page>
  );
}

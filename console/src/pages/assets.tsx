import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import {
  Empty,
  Failure,
  Field,
  Page,
  Show,
  StatusBadge,
  Time,
  queryString,
  useAction,
  useLoad,
} from "../ui";
import { ScanTable, StartScan } from "./scans";

const KINDS: Schemas["AssetKind"][] = ["url", "domain", "ip", "cidr", "api"];
const CRITICALITIES: Schemas["Criticality"][] = ["low", "medium", "high", "critical"];

export function Assets() {
  const session = useSession();
  const { query, route } = useLocation();
  const filters = {
    tag: query.tag || undefined,
    criticality: (query.criticality || undefined) as Schemas["Criticality"] | undefined,
    archived: query.archived === "true" ? true : undefined,
    after: query.after || undefined,
  };
  const assets = useLoad(
    async () => ok(await api.GET("/api/v1/assets", { params: { query: { ...filters, limit: 50 } } })),
    [query.tag, query.criticality, query.archived, query.after],
  );
  const go = (changes: Record<string, string | undefined>) =>
    route("/assets" + queryString({ ...query, after: undefined, ...changes }));
  return (
    <Page title="Assets">
      {session.can("assets:write") && <AddAsset added={(asset) => route(`/assets/${asset.id}`)} />}
      <form class="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Tag">
          <input
            value={query.tag ?? ""}
            placeholder="env=prod"
            onChange={(event) => go({ tag: (event.target as HTMLInputElement).value })}
          />
        </Field>
        <Field label="Criticality">
          <select
            value={query.criticality ?? ""}
            onChange={(event) => go({ criticality: (event.target as HTMLSelectElement).value })}
          >
            <option value="">any</option>
            {CRITICALITIES.map((level) => (
              <option key={level}>{level}</option>
            ))}
          </select>
        </Field>
        <label class="check">
          <input
            type="checkbox"
            checked={query.archived === "true"}
            onChange={(event) =>
              go({ archived: (event.target as HTMLInputElement).checked ? "true" : undefined })
            }
          />
          archived
        </label>
      </form>
      <Show state={assets}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No assets match. Register a URL, a domain, an IP or a range above.</Empty>
          ) : (
            <>
              <table class="list">
                <thead>
                  <tr>
                    <th>Asset</th>
                    <th>Kind</th>
                    <th>Criticality</th>
                    <th>Tags</th>
                    <th>Verified</th>
                    <th>Added</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((asset) => (
                    <tr key={asset.id}>
                      <td>
                        <a href={`/assets/${asset.id}`}>{asset.name ?? asset.value}</a>
                        {asset.name && <div class="muted">{asset.value}</div>}
                      </td>
                      <td>{asset.kind}</td>
                      <td>{asset.criticality}</td>
                      <td>
                        {asset.tags?.map((tag) => (
                          <a key={tag} class="tag" href={`/assets?tag=${encodeURIComponent(tag)}`}>
                            {tag}
                          </a>
                        ))}
                      </td>
                      <td>{asset.verified_at ? <Time at={asset.verified_at} /> : "not yet"}</td>
                      <td>
                        <Time at={asset.created_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {page.next_cursor && (
                <a class="button" href={`/assets${queryString({ ...query, after: page.next_cursor })}`}>
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

function AddAsset({ added }: { added: (asset: Schemas["Asset"]) => void }) {
  const [kind, setKind] = useState<Schemas["AssetKind"]>("url");
  const [value, setValue] = useState("");
  const [name, setName] = useState("");
  const [tags, setTags] = useState("");
  const action = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const asset = ok(
        await api.POST("/api/v1/assets", {
          body: {
            kind,
            value,
            name: name || undefined,
            tags: tags.split(/[\s,]+/).filter(Boolean),
          },
        }),
      );
      added(asset);
    });
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Register an asset">
      <Field label="Kind">
        <select value={kind} onChange={(event) => setKind((event.target as HTMLSelectElement).value as Schemas["AssetKind"])}>
          {KINDS.map((one) => (
            <option key={one}>{one}</option>
          ))}
        </select>
      </Field>
      <Field label="Value">
        <input
          name="value"
          required
          placeholder="https://shop.example.com/"
          value={value}
          onInput={(event) => setValue((event.target as HTMLInputElement).value)}
        />
      </Field>
      <Field label="Name">
        <input name="name" value={name} onInput={(event) => setName((event.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Tags">
        <input
          name="tags"
          placeholder="env=prod pci"
          value={tags}
          onInput={(event) => setTags((event.target as HTMLInputElement).value)}
        />
      </Field>
      <button type="submit" class="primary" disabled={action.busy}>
        Register
      </button>
      {action.error && <Failure error={action.error} />}
    </form>
  );
}

export function AssetDetail({ id }: { id: string }) {
  const session = useSession();
  const asset = useLoad(
    async () => ok(await api.GET("/api/v1/assets/{asset_id}", { params: { path: { asset_id: id } } })),
    [id],
  );
  return (
    <Show state={asset}>
      {(data) => (
        <Page
          title={data.name ?? data.value}
          actions={session.can("scans:write") && !data.archived_at && <StartScan asset={data} />}
        >
          <dl class="facts">
            <dt>Value</dt>
            <dd data-testid="asset-value">{data.value}</dd>
            <dt>Kind</dt>
            <dd>{data.kind}</dd>
            <dt>Criticality</dt>
            <dd>{data.criticality}</dd>
            <dt>Owner</dt>
            <dd>{data.owner ?? "—"}</dd>
            <dt>Verified</dt>
            <dd data-testid="verified">
              {data.verified_at ? (
                <>
                  yes, by {data.verification_method?.replace(/_/g, " ")} <Time at={data.verified_at} />
                </>
              ) : (
                "not yet"
              )}
            </dd>
          </dl>
          <Tags asset={data} changed={asset.reload} />
          {!data.verified_at && <Verification asset={data} verified={asset.reload} />}
          <Services id={id} />
          <Technologies id={id} />
          <h2>Scans</h2>
          <AssetScans id={id} />
          <p>
            <a href={`/findings?asset_id=${id}`}>Findings of this asset</a>
          </p>
        </Page>
      )}
    </Show>
  );
}

function Tags({ asset, changed }: { asset: Schemas["Asset"]; changed: () => void }) {
  const session = useSession();
  const [text, setText] = useState((asset.tags ?? []).join(" "));
  const action = useAction();
  if (!session.can("assets:write")) {
    return (
      <p>
        Tags: {(asset.tags ?? []).map((tag) => <span key={tag} class="tag">{tag}</span>)}
      </p>
    );
  }
  return (
    <form
      class="inline-form"
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(async () => {
          ok(
            await api.PUT("/api/v1/assets/{asset_id}/tags", {
              params: { path: { asset_id: asset.id } },
              body: { tags: text.split(/[\s,]+/).filter(Boolean) },
            }),
          );
          changed();
        });
      }}
    >
      <Field label="Tags">
        <input value={text} onInput={(event) => setText((event.target as HTMLInputElement).value)} />
      </Field>
      <button type="submit" disabled={action.busy}>
        Save tags
      </button>
      {action.error && <Failure error={action.error} />}
    </form>
  );
}

/** How to prove the asset is the organization's, with its token, and the button to check. */
function Verification({ asset, verified }: { asset: Schemas["Asset"]; verified: () => void }) {
  const session = useSession();
  const [outcome, setOutcome] = useState<Schemas["VerificationOutcome"]>();
  const action = useAction();
  const token = asset.verification_token;
  const web = asset.kind === "url" || asset.kind === "api";
  return (
    <section class="card" aria-labelledby="verify-title">
      <h2 id="verify-title">Prove that this asset is yours</h2>
      <p>
        Until it is verified, a scan runs only passive checks. Publish this token by one of the
        methods below, then verify.
      </p>
      <p>
        Token: <code data-testid="verification-token">{token}</code>
      </p>
      <ul class="methods">
        {web && (
          <li>
            <strong>File</strong>: serve <code>/.well-known/s4e-verification.txt</code> on the site
            with the token on a line of its own.
          </li>
        )}
        {web && (
          <li>
            <strong>Meta tag</strong>: put{" "}
            <code>{`<meta name="s4e-verification" content="${token}">`}</code> in the page's head.
          </li>
        )}
        {asset.kind !== "ip" && (
          <li>
            <strong>DNS</strong>: a TXT record <code>{`s4e-verification=${token}`}</code> at the
            domain (for a URL, at its host).
          </li>
        )}
      </ul>
      {session.can("assets:write") && (
        <button
          type="button"
          class="primary"
          disabled={action.busy}
          onClick={() =>
            void action.run(async () => {
              const answer = ok(
                await api.POST("/api/v1/assets/{asset_id}/verify", {
                  params: { path: { asset_id: asset.id } },
                  body: {},
                }),
              );
              setOutcome(answer);
              if (answer.verified) verified();
            })
          }
        >
          {action.busy ? "Verifying…" : "Verify now"}
        </button>
      )}
      {action.error && <Failure error={action.error} />}
      {outcome && (
        <ul class="attempts" data-testid="verification-attempts">
          {outcome.attempts.map((attempt) => (
            <li key={attempt.method}>
              <StatusBadge status={attempt.proven ? "proven" : "not_proven"} />{" "}
              {attempt.method.replace(/_/g, " ")}: {attempt.detail}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Services({ id }: { id: string }) {
  const services = useLoad(
    async () =>
      ok(await api.GET("/api/v1/assets/{asset_id}/services", { params: { path: { asset_id: id } } }))
        .items,
    [id],
  );
  return (
    <>
      <h2>Services</h2>
      <Show state={services}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No open ports seen yet: a scan with the port check finds them.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>Port</th>
                  <th>Service</th>
                  <th>TLS</th>
                  <th>Last seen</th>
                </tr>
              </thead>
              <tbody>
                {items.map((service) => (
                  <tr key={service.id}>
                    <td>
                      {service.host ? `${service.host}:` : ""}
                      {service.port}/{service.transport}
                    </td>
                    <td>{[service.service, service.product, service.version].filter(Boolean).join(" ") || "—"}</td>
                    <td>{service.tls ? "yes" : "no"}</td>
                    <td>
                      <Time at={service.last_seen} />
                    </td>
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

function Technologies({ id }: { id: string }) {
  const technologies = useLoad(
    async () =>
      ok(
        await api.GET("/api/v1/assets/{asset_id}/technologies", {
          params: { path: { asset_id: id } },
        }),
      ).items,
    [id],
  );
  return (
    <>
      <h2>Technologies</h2>
      <Show state={technologies}>
        {(items) =>
          items.length === 0 ? (
            <Empty>None seen yet.</Empty>
          ) : (
            <ul class="chips">
              {items.map((technology) => (
                <li key={technology.id} title={technology.evidence}>
                  {technology.name}
                  {technology.version ? ` ${technology.version}` : ""}{" "}
                  <span class="muted">{technology.category}</span>
                </li>
              ))}
            </ul>
          )
        }
      </Show>
    </>
  );
}

function AssetScans({ id }: { id: string }) {
  const scans = useLoad(
    async () => ok(await api.GET("/api/v1/scans", { params: { query: { asset_id: id, limit: 20 } } })).items,
    [id],
  );
  return (
    <Show state={scans}>
      {(items) => (items.length === 0 ? <Empty>Not scanned yet.</Empty> : <ScanTable scans={items} />)}
    </Show>
  );
}

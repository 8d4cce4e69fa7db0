import { useState } from "preact/hooks";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Empty, Failure, Field, Page, Show, Time, useAction, useLoad } from "../ui";

/** The shorthands, then one family at a time (a key for one integration's needs). */
const FAMILIES = ["assets", "scans", "findings", "api_keys", "users", "audit", "automation", "exports", "customers"];
const SCOPES = ["read", "write", "admin", ...FAMILIES.flatMap((family) => [`${family}:read`, `${family}:write`])];

export function ApiKeys() {
  const session = useSession();
  const keys = useLoad(async () => ok(await api.GET("/api/v1/api-keys", { params: { query: { limit: 200 } } })).items, []);
  const revoke = useAction();
  return (
    <Page title="API keys">
      {session.can("api_keys:write") && <CreateKey created={keys.reload} />}
      {revoke.error && <Failure error={revoke.error} />}
      <Show state={keys}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No keys yet. A key lets a pipeline or the s4e command line call the API.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Prefix</th>
                  <th>Scopes</th>
                  <th>Expires</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((key) => (
                  <tr key={key.id} class={key.revoked ? "revoked" : undefined}>
                    <td>{key.name}</td>
                    <td>
                      <code>{key.prefix}</code>
                    </td>
                    <td>{key.scopes.join(", ")}</td>
                    <td>{key.expires_at ? <Time at={key.expires_at} /> : "never"}</td>
                    <td>
                      {key.revoked ? (
                        "revoked"
                      ) : (
                        session.can("api_keys:write") && (
                          <button
                            type="button"
                            disabled={revoke.busy}
                            onClick={() =>
                              confirm(`Revoke the key ${key.name}? Callers using it are refused at once.`) &&
                              void revoke.run(async () => {
                                ok(await api.DELETE("/api/v1/api-keys/{key_id}", { params: { path: { key_id: key.id } } }));
                                keys.reload();
                              })
                            }
                          >
                            Revoke
                          </button>
                        )
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

function CreateKey({ created }: { created: () => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>(["read"]);
  const [expires, setExpires] = useState("");
  const [secret, setSecret] = useState<Schemas["CreatedApiKey"]>();
  const action = useAction();
  return (
    <>
      <form
        class="inline-form"
        aria-label="Create an API key"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => {
            const key = ok(
              await api.POST("/api/v1/api-keys", {
                body: {
                  name,
                  scopes,
                  expires_at: expires ? new Date(expires).toISOString() : undefined,
                },
              }),
            );
            setSecret(key);
            setName("");
            created();
          });
        }}
      >
        <Field label="Name">
          <input name="key-name" required value={name} onInput={(event) => setName((event.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Scopes">
          <select
            name="scopes"
            multiple
            size={4}
            required
            onChange={(event) =>
              setScopes([...(event.target as HTMLSelectElement).selectedOptions].map((option) => option.value))
            }
          >
            {SCOPES.map((one) => (
              <option key={one} value={one} selected={scopes.includes(one)}>
                {one}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Expires">
          <input type="date" value={expires} onInput={(event) => setExpires((event.target as HTMLInputElement).value)} />
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          Create key
        </button>
        {action.error && <Failure error={action.error} />}
      </form>
      {secret && (
        <div class="card secret" role="status">
          <p>
            The key <strong>{secret.name}</strong>. Copy it now: it is shown this once and cannot
            be shown again.
          </p>
          <code data-testid="new-key">{secret.key}</code>
          <button type="button" onClick={() => setSecret(undefined)}>
            I have copied it
          </button>
        </div>
      )}
    </>
  );
}

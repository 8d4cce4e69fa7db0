// Automation as it stands: the rules (turned on and off here; written through the API or the
// command line, where their conditions and actions are JSON) and the webhook endpoints.
import { useState } from "preact/hooks";
import { api, ok } from "../api/client";
import { useSession } from "../session";
import { Empty, Failure, Field, Page, Show, Time, useAction, useLoad } from "../ui";

export function Automation() {
  const session = useSession();
  const rules = useLoad(async () => ok(await api.GET("/api/v1/rules")).items, []);
  const webhooks = useLoad(async () => ok(await api.GET("/api/v1/webhooks")).items, []);
  const change = useAction();
  const writable = session.can("automation:write");
  return (
    <Page title="Automation">
      {change.error && <Failure error={change.error} />}
      <h2>Rules</h2>
      <Show state={rules}>
        {(items) =>
          items.length === 0 ? (
            <Empty>
              No rules. A rule acts on an event (a finding, a completed scan, a new service): it
              starts a scan, triages, or calls a webhook. Rules are written with the API
              (<code>POST /api/v1/rules</code>).
            </Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>On</th>
                  <th>Fired</th>
                  <th>State</th>
                </tr>
              </thead>
              <tbody>
                {items.map((rule) => (
                  <tr key={rule.id}>
                    <td>
                      {rule.name}
                      {rule.description && <div class="muted">{rule.description}</div>}
                    </td>
                    <td>{rule.event}</td>
                    <td>
                      {rule.fired_count}× {rule.last_fired_at && <Time at={rule.last_fired_at} />}
                    </td>
                    <td>
                      {writable ? (
                        <label class="check">
                          <input
                            type="checkbox"
                            checked={!rule.disabled}
                            onChange={(event) =>
                              void change.run(async () => {
                                ok(
                                  await api.PATCH("/api/v1/rules/{rule_id}", {
                                    params: { path: { rule_id: rule.id } },
                                    body: { disabled: !(event.target as HTMLInputElement).checked },
                                  }),
                                );
                                rules.reload();
                              })
                            }
                          />
                          on
                        </label>
                      ) : rule.disabled ? (
                        "off"
                      ) : (
                        "on"
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
      <h2>Webhooks</h2>
      {writable && <NewWebhook created={webhooks.reload} />}
      <Show state={webhooks}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No endpoints. Events are signed (Standard Webhooks) and retried.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>URL</th>
                  <th>Events</th>
                  <th>State</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((endpoint) => (
                  <tr key={endpoint.id}>
                    <td class="wrap">{endpoint.url}</td>
                    <td>{endpoint.event_types.length ? endpoint.event_types.join(", ") : "all"}</td>
                    <td>
                      {endpoint.disabled ? `off${endpoint.disabled_reason ? `: ${endpoint.disabled_reason}` : ""}` : "on"}
                      {endpoint.failing_since && (
                        <div class="muted">
                          failing since <Time at={endpoint.failing_since} />
                        </div>
                      )}
                    </td>
                    <td>
                      {writable && (
                        <button
                          type="button"
                          onClick={() =>
                            confirm(`Delete the endpoint ${endpoint.url}?`) &&
                            void change.run(async () => {
                              ok(await api.DELETE("/api/v1/webhooks/{endpoint_id}", { params: { path: { endpoint_id: endpoint.id } } }));
                              webhooks.reload();
                            })
                          }
                        >
                          Delete
                        </button>
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

function NewWebhook({ created }: { created: () => void }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState("");
  const [secret, setSecret] = useState<string>();
  const action = useAction();
  return (
    <>
      <form
        class="inline-form"
        aria-label="Add a webhook endpoint"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => {
            const made = ok(
              await api.POST("/api/v1/webhooks", {
                body: { url, event_types: events.split(/[\s,]+/).filter(Boolean) },
              }),
            );
            setSecret(made.secret);
            setUrl("");
            created();
          });
        }}
      >
        <Field label="URL">
          <input type="url" required value={url} placeholder="https://hooks.example.com/s4e" onInput={(event) => setUrl((event.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Events (empty: all)">
          <input value={events} placeholder="finding.created" onInput={(event) => setEvents((event.target as HTMLInputElement).value)} />
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          Add endpoint
        </button>
        {action.error && <Failure error={action.error} />}
      </form>
      {secret && (
        <div class="card secret" role="status">
          <p>The endpoint's signing secret, shown this once:</p>
          <code>{secret}</code>
        </div>
      )}
    </>
  );
}

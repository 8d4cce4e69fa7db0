import { useEffect, useState } from "preact/hooks";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Failure, Field, Page, Show, useAction, useLoad } from "../ui";

export function ScanSettings() {
  const session = useSession();
  const settings = useLoad(async () => ok(await api.GET("/api/v1/scan-settings")), []);
  const catalog = useLoad(async () => ok(await api.GET("/api/v1/catalog")), []);
  const [draft, setDraft] = useState<Schemas["ScanSettings"]>();
  const [saved, setSaved] = useState(false);
  const action = useAction();
  useEffect(() => setDraft(settings.data), [settings.data]);
  const writable = session.can("automation:write");
  const ports = draft?.port_scan;
  return (
    <Page title="Scan settings">
      <Show state={settings}>
        {() =>
          draft && (
            <form
              class="stack"
              onSubmit={(event) => {
                event.preventDefault();
                setSaved(false);
                void action.run(async () => {
                  setDraft(ok(await api.PUT("/api/v1/scan-settings", { body: draft })));
                  setSaved(true);
                });
              }}
            >
              <fieldset disabled={!writable}>
                <Field label="Default profile">
                  <select
                    value={draft.default_profile ?? "full"}
                    onChange={(event) =>
                      setDraft({ ...draft, default_profile: (event.target as HTMLSelectElement).value as Schemas["ScanProfile"] })
                    }
                  >
                    <option value="full">full</option>
                    <option value="light">light</option>
                  </select>
                </Field>
                <Field label="Ports the port scan tries">
                  <select
                    value={ports?.mode ?? "common"}
                    onChange={(event) => {
                      const mode = (event.target as HTMLSelectElement).value;
                      setDraft({
                        ...draft,
                        port_scan: mode === "list" ? { mode: "list", ports: [80, 443] } : ({ mode } as Schemas["PortScope"]),
                      });
                    }}
                  >
                    <option value="common">about a hundred common ports</option>
                    <option value="full">all 65,535</option>
                    <option value="list">a list</option>
                  </select>
                </Field>
                {ports?.mode === "list" && (
                  <Field label="Ports">
                    <input
                      value={ports.ports.join(", ")}
                      onChange={(event) =>
                        setDraft({
                          ...draft,
                          port_scan: {
                            mode: "list",
                            ports: (event.target as HTMLInputElement).value
                              .split(/[\s,]+/)
                              .filter(Boolean)
                              .map(Number),
                          },
                        })
                      }
                    />
                  </Field>
                )}
                <label class="check">
                  <input
                    type="checkbox"
                    checked={draft.auto_approve_candidates ?? false}
                    onChange={(event) => setDraft({ ...draft, auto_approve_candidates: (event.target as HTMLInputElement).checked })}
                  />
                  Register what discovery finds under a verified domain at once
                </label>
                <fieldset>
                  <legend>Checks never run for this organization</legend>
                  {catalog.data?.definitions.map((check) => (
                    <label key={check.key} class="check" title={check.description}>
                      <input
                        type="checkbox"
                        checked={draft.disabled_checks?.includes(check.key) ?? false}
                        onChange={(event) => {
                          const on = (event.target as HTMLInputElement).checked;
                          const current = draft.disabled_checks ?? [];
                          setDraft({
                            ...draft,
                            disabled_checks: on ? [...current, check.key] : current.filter((one) => one !== check.key),
                          });
                        }}
                      />
                      {check.name}
                    </label>
                  ))}
                </fieldset>
                {writable && (
                  <button type="submit" class="primary" disabled={action.busy}>
                    Save
                  </button>
                )}
              </fieldset>
              {saved && <p role="status">Saved.</p>}
              {action.error && <Failure error={action.error} />}
            </form>
          )
        }
      </Show>
    </Page>
  );
}

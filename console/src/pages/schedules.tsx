import { useState } from "preact/hooks";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Empty, Failure, Field, Page, Show, StatusBadge, Time, useAction, useLoad } from "../ui";

export function Schedules() {
  const session = useSession();
  const schedules = useLoad(async () => ok(await api.GET("/api/v1/schedules")).items, []);
  const change = useAction();
  const writable = session.can("scans:write");
  const update = (schedule: Schemas["Schedule"], body: Schemas["UpdateSchedule"]) =>
    change.run(async () => {
      ok(await api.PATCH("/api/v1/schedules/{schedule_id}", { params: { path: { schedule_id: schedule.id } }, body }));
      schedules.reload();
    });
  return (
    <Page title="Schedules">
      {writable && <NewSchedule created={schedules.reload} />}
      {change.error && <Failure error={change.error} />}
      <Show state={schedules}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No recurring scans. A schedule scans an asset, or every asset with a tag, on a cron pattern.</Empty>
          ) : (
            <table class="list" data-testid="schedules">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Scans</th>
                  <th>When</th>
                  <th>Next</th>
                  <th>Last</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((schedule) => (
                  <tr key={schedule.id}>
                    <td>{schedule.name ?? "—"}</td>
                    <td>
                      {schedule.asset_id ? <a href={`/assets/${schedule.asset_id}`}>an asset</a> : `tag ${schedule.tag}`}
                      <div class="muted">{schedule.profile ?? "default profile"}</div>
                    </td>
                    <td>
                      <code>{schedule.cron}</code> <span class="muted">{schedule.timezone}</span>
                    </td>
                    <td>{schedule.paused ? "paused" : <Time at={schedule.next_run_at} />}</td>
                    <td>
                      {schedule.last_outcome ? <StatusBadge status={schedule.last_outcome} /> : "—"}{" "}
                      {schedule.last_run_id && <a href={`/scans/${schedule.last_run_id}`}>scan</a>}
                      {schedule.last_error && <div class="muted">{schedule.last_error}</div>}
                    </td>
                    <td>
                      {writable && (
                        <span class="actions">
                          <button type="button" disabled={change.busy} onClick={() => void update(schedule, { paused: !schedule.paused })}>
                            {schedule.paused ? "Resume" : "Pause"}
                          </button>
                          <button
                            type="button"
                            disabled={change.busy}
                            onClick={() =>
                              confirm("Delete this schedule? Scans it started are kept.") &&
                              void change.run(async () => {
                                ok(await api.DELETE("/api/v1/schedules/{schedule_id}", { params: { path: { schedule_id: schedule.id } } }));
                                schedules.reload();
                              })
                            }
                          >
                            Delete
                          </button>
                        </span>
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

function NewSchedule({ created }: { created: () => void }) {
  const [name, setName] = useState("");
  const [tag, setTag] = useState("");
  const [cron, setCron] = useState("@daily");
  const [timezone, setTimezone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const action = useAction();
  return (
    <form
      class="inline-form"
      aria-label="Schedule scans"
      onSubmit={(event) => {
        event.preventDefault();
        void action.run(async () => {
          ok(await api.POST("/api/v1/schedules", { body: { name: name || undefined, tag, cron, timezone } }));
          setName("");
          created();
        });
      }}
    >
      <Field label="Name">
        <input value={name} onInput={(event) => setName((event.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Assets with the tag">
        <input name="schedule-tag" required placeholder="env=prod" value={tag} onInput={(event) => setTag((event.target as HTMLInputElement).value)} />
      </Field>
      <Field label="When (cron)">
        <input name="cron" required value={cron} onInput={(event) => setCron((event.target as HTMLInputElement).value)} />
      </Field>
      <Field label="Time zone">
        <input value={timezone} onInput={(event) => setTimezone((event.target as HTMLInputElement).value)} />
      </Field>
      <button type="submit" class="primary" disabled={action.busy}>
        Schedule
      </button>
      {action.error && <Failure error={action.error} />}
    </form>
  );
}

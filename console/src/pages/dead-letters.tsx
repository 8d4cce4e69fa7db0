import { api, ok } from "../api/client";
import { Empty, Failure, Page, Show, Time, useAction, useLoad } from "../ui";

export function DeadLetters() {
  const letters = useLoad(async () => ok(await api.GET("/api/v1/dead-letters")).items, []);
  const replay = useAction();
  return (
    <Page title="Dead letters">
      <p class="muted">
        Messages the platform could not process after its retries. Replaying one sends it back to
        the queue it came from.
      </p>
      {replay.error && <Failure error={replay.error} />}
      <Show state={letters}>
        {(items) =>
          items.length === 0 ? (
            <Empty>None: every message was processed.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Type</th>
                  <th>Queue</th>
                  <th>Reason</th>
                  <th>Body</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((letter) => (
                  <tr key={letter.id}>
                    <td>
                      <Time at={letter.dead_lettered_at} />
                    </td>
                    <td>{letter.message_type ?? "unreadable"}</td>
                    <td>{letter.source_queue ?? "—"}</td>
                    <td>{letter.reason}</td>
                    <td>
                      <details>
                        <summary>show</summary>
                        <pre class="evidence">{letter.body}</pre>
                      </details>
                    </td>
                    <td>
                      <button
                        type="button"
                        disabled={replay.busy}
                        onClick={() =>
                          void replay.run(async () => {
                            ok(await api.POST("/api/v1/dead-letters/{letter_id}/replay", { params: { path: { letter_id: letter.id } } }));
                            letters.reload();
                          })
                        }
                      >
                        Replay
                      </button>
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

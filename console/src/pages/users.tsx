import { useState } from "preact/hooks";
import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Empty, Failure, Field, Page, Show, Time, useAction, useLoad } from "../ui";

const ROLES: Schemas["Role"][] = ["viewer", "member", "admin", "owner"];

export function Users() {
  const session = useSession();
  const users = useLoad(async () => ok(await api.GET("/api/v1/users", { params: { query: { limit: 200 } } })).items, []);
  const invitations = useLoad(async () => ok(await api.GET("/api/v1/invitations")).items, []);
  const change = useAction();
  const writable = session.can("users:write");
  return (
    <Page title="Users">
      {change.error && <Failure error={change.error} />}
      <Show state={users}>
        {(items) => (
          <table class="list">
            <thead>
              <tr>
                <th>E-mail</th>
                <th>Role</th>
                <th>Second factor</th>
                <th>Since</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((user) => (
                <tr key={user.id}>
                  <td>{user.email}</td>
                  <td>
                    {writable && user.id !== session.me.user?.id ? (
                      <select
                        aria-label={`Role of ${user.email}`}
                        value={user.role}
                        onChange={(event) =>
                          void change.run(async () => {
                            ok(
                              await api.PATCH("/api/v1/users/{user_id}", {
                                params: { path: { user_id: user.id } },
                                body: { role: (event.target as HTMLSelectElement).value as Schemas["Role"] },
                              }),
                            );
                            users.reload();
                          })
                        }
                      >
                        {ROLES.map((role) => (
                          <option key={role}>{role}</option>
                        ))}
                      </select>
                    ) : (
                      user.role
                    )}
                  </td>
                  <td>{user.totp_enabled ? "on" : "off"}</td>
                  <td>
                    <Time at={user.created_at} />
                  </td>
                  <td>
                    {writable && user.id !== session.me.user?.id && (
                      <button
                        type="button"
                        onClick={() =>
                          confirm(`Remove ${user.email} from the organization?`) &&
                          void change.run(async () => {
                            ok(await api.DELETE("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } } }));
                            users.reload();
                          })
                        }
                      >
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Show>
      <h2>Invitations</h2>
      {writable && <Invite invited={invitations.reload} />}
      <Show state={invitations}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No invitations.</Empty>
          ) : (
            <table class="list">
              <thead>
                <tr>
                  <th>E-mail</th>
                  <th>Role</th>
                  <th>Expires</th>
                  <th>Accepted</th>
                </tr>
              </thead>
              <tbody>
                {items.map((invitation) => (
                  <tr key={invitation.id}>
                    <td>{invitation.email}</td>
                    <td>{invitation.role}</td>
                    <td>
                      <Time at={invitation.expires_at} />
                    </td>
                    <td>
                      <Time at={invitation.accepted_at} />
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

function Invite({ invited }: { invited: () => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Schemas["Role"]>("member");
  const [token, setToken] = useState<string>();
  const action = useAction();
  return (
    <>
      <form
        class="inline-form"
        aria-label="Invite someone"
        onSubmit={(event) => {
          event.preventDefault();
          void action.run(async () => {
            const created = ok(await api.POST("/api/v1/invitations", { body: { email, role } }));
            setToken(created.token);
            setEmail("");
            invited();
          });
        }}
      >
        <Field label="E-mail">
          <input type="email" required value={email} onInput={(event) => setEmail((event.target as HTMLInputElement).value)} />
        </Field>
        <Field label="Role">
          <select value={role} onChange={(event) => setRole((event.target as HTMLSelectElement).value as Schemas["Role"])}>
            {ROLES.map((one) => (
              <option key={one}>{one}</option>
            ))}
          </select>
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          Invite
        </button>
        {action.error && <Failure error={action.error} />}
      </form>
      {token && (
        <div class="card secret" role="status">
          <p>Hand this invitation token to the invitee; it is shown this once.</p>
          <code>{token}</code>
        </div>
      )}
    </>
  );
}

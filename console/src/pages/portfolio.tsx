import { api, ok } from "../api/client";
import { useSession } from "../session";
import { Empty, Page, SEVERITIES, Show, useLoad } from "../ui";

export function Portfolio() {
  const session = useSession();
  const portfolio = useLoad(async () => ok(await api.GET("/api/v1/portfolio")).items, []);
  return (
    <Page title="Portfolio">
      <Show state={portfolio}>
        {(items) =>
          items.length === 0 ? (
            <Empty>No customers yet.</Empty>
          ) : (
            <table class="list" data-testid="portfolio">
              <thead>
                <tr>
                  <th>Customer</th>
                  <th>Score</th>
                  {SEVERITIES.map((severity) => (
                    <th key={severity}>{severity}</th>
                  ))}
                  <th>Exposed services</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {items.map((entry) => (
                  <tr key={entry.organization.id}>
                    <td>{entry.organization.name}</td>
                    <td class="num">{entry.score}</td>
                    {SEVERITIES.map((severity) => (
                      <td key={severity} class="num">
                        {entry.open_findings[severity]}
                      </td>
                    ))}
                    <td class="num">{entry.exposed_services}</td>
                    <td>
                      <button type="button" onClick={() => session.actAs(entry.organization)}>
                        Act for {entry.organization.name}
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

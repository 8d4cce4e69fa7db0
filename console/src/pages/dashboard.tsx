import { api, ok, type Schemas } from "../api/client";
import { useSession } from "../session";
import { Empty, Page, SEVERITIES, SeverityBadge, Show, Time, useLoad } from "../ui";
import { ScanTable } from "./scans";

const WIDTH = 600;
const HEIGHT = 160;
const PAD = 24;
/** The lines drawn: every open finding, and the critical and high ones among them. */
const LINES: { name: string; class: string; count: (open: Schemas["SeverityCounts"]) => number }[] = [
  { name: "all open", class: "line-all", count: (open) => SEVERITIES.reduce((sum, s) => sum + open[s], 0) },
  { name: "critical and high", class: "line-severe", count: (open) => open.critical + open.high },
];

/** Open findings at the end of each of the last days: an SVG chart, and its numbers as a table. */
function Trend({ points }: { points: Schemas["TrendPoint"][] }) {
  const largest = Math.max(1, ...points.map((point) => LINES[0]!.count(point.open_findings)));
  const x = (index: number) => PAD + (index * (WIDTH - 2 * PAD)) / (points.length - 1);
  const y = (value: number) => HEIGHT - PAD - (value * (HEIGHT - 2 * PAD)) / largest;
  return (
    <figure class="trend">
      <figcaption>Open findings, last {points.length} days</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label="Open findings per day" data-testid="trend">
        <line class="axis" x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} />
        <text x={PAD} y={PAD - 8}>{largest}</text>
        <text x={PAD} y={HEIGHT - 6}>{points[0]!.day}</text>
        <text x={WIDTH - PAD} y={HEIGHT - 6} text-anchor="end">
          {points[points.length - 1]!.day}
        </text>
        {LINES.map((line) => (
          <polyline
            key={line.name}
            class={line.class}
            points={points.map((point, index) => `${x(index)},${y(line.count(point.open_findings))}`).join(" ")}
          >
            <title>{line.name}</title>
          </polyline>
        ))}
      </svg>
      <p class="legend">
        {LINES.map((line) => (
          <span key={line.name} class={line.class}>
            ― {line.name}: {line.count(points[points.length - 1]!.open_findings)} today
          </span>
        ))}
      </p>
    </figure>
  );
}

export function Dashboard() {
  const session = useSession();
  const summary = useLoad(async () => ok(await api.GET("/api/v1/dashboard")), []);
  const recent = useLoad(
    async () =>
      session.can("scans:read")
        ? ok(await api.GET("/api/v1/scans", { params: { query: { limit: 10 } } })).items
        : [],
    [],
  );
  return (
    <Page title="Dashboard">
      <Show state={summary}>
        {(data) => {
          const open = SEVERITIES.reduce((sum, severity) => sum + data.open_findings[severity], 0);
          const largest = Math.max(1, ...SEVERITIES.map((severity) => data.open_findings[severity]));
          return (
            <>
              <div class="tiles">
                <a class="tile" href="/findings?status=open,in_progress,reopened">
                  <span class="number" data-testid="open-findings">
                    {open}
                  </span>
                  <span>open findings</span>
                </a>
                <a class="tile" href="/assets">
                  <span class="number">{data.assets}</span>
                  <span>assets</span>
                </a>
                <a class="tile" href="/scans?status=running">
                  <span class="number">{data.scans_running}</span>
                  <span>scans running, {data.scans_queued} queued</span>
                </a>
                <div class="tile">
                  <span class="number">{data.exposed_services ?? 0}</span>
                  <span>exposed services</span>
                </div>
              </div>
              <h2>Open findings by severity</h2>
              <table class="bars" aria-label="Open findings by severity">
                <tbody>
                  {SEVERITIES.map((severity) => (
                    <tr key={severity}>
                      <th scope="row">
                        <a href={`/findings?severity=${severity}&status=open,in_progress,reopened`}>
                          <SeverityBadge severity={severity} />
                        </a>
                      </th>
                      <td>
                        <meter
                          class={`sev-${severity}`}
                          min={0}
                          max={largest}
                          value={data.open_findings[severity]}
                        />
                      </td>
                      <td class="num">{data.open_findings[severity]}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="muted">
                Last scan finished <Time at={data.last_scan_finished_at} />.
              </p>
              {data.trend && data.trend.length > 1 && <Trend points={data.trend} />}
            </>
          );
        }}
      </Show>
      <h2>Recent scans</h2>
      <Show state={recent}>
        {(scans) =>
          scans.length === 0 ? (
            <Empty>
              No scans yet. <a href="/assets">Register an asset</a> and start one.
            </Empty>
          ) : (
            <ScanTable scans={scans} />
          )
        }
      </Show>
    </Page>
  );
}

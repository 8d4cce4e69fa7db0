import { render } from "preact";
import { LocationProvider, Route, Router } from "preact-iso";
import "./style.css";
import { Shell } from "./shell";
import { SessionProvider } from "./session";
import { SignIn } from "./pages/sign-in";
import { Dashboard } from "./pages/dashboard";
import { AssetDetail, Assets } from "./pages/assets";
import { ScanDetail, Scans } from "./pages/scans";
import { FindingDetail, Findings } from "./pages/findings";
import { ApiKeys } from "./pages/api-keys";
import { Users } from "./pages/users";
import { AuditLog } from "./pages/audit-log";
import { DeadLetters } from "./pages/dead-letters";
import { ScanSettings } from "./pages/scan-settings";
import { Portfolio } from "./pages/portfolio";
import { NotFound } from "./pages/not-found";
import { Discovery, Services } from "./pages/inventory";
import { Schedules } from "./pages/schedules";
import { Automation } from "./pages/automation";

function App() {
  return (
    <LocationProvider>
      <SessionProvider signIn={(done, error) => <SignIn done={done} error={error} />}>
        <Shell>
          <Router>
            <Route path="/" component={Dashboard} />
            <Route path="/assets" component={Assets} />
            <Route path="/assets/:id" component={AssetDetail} />
            <Route path="/scans" component={Scans} />
            <Route path="/scans/:id" component={ScanDetail} />
            <Route path="/findings" component={Findings} />
            <Route path="/findings/:id" component={FindingDetail} />
            <Route path="/services" component={Services} />
            <Route path="/discovery" component={Discovery} />
            <Route path="/schedules" component={Schedules} />
            <Route path="/automation" component={Automation} />
            <Route path="/api-keys" component={ApiKeys} />
            <Route path="/users" component={Users} />
            <Route path="/audit-log" component={AuditLog} />
            <Route path="/dead-letters" component={DeadLetters} />
            <Route path="/scan-settings" component={ScanSettings} />
            <Route path="/portfolio" component={Portfolio} />
            <Route default component={NotFound} />
          </Router>
        </Shell>
      </SessionProvider>
    </LocationProvider>
  );
}

render(<App />, document.getElementById("app")!);

// The frame around every screen: navigation (only what the caller may open), who is signed in,
// and, for a partner, the customer switcher with a banner while acting for a customer.
import type { ComponentChildren } from "preact";
import { useLocation } from "preact-iso";
import { useSession } from "./session";

type NavItem = { href: string; label: string; permission?: string; partnerOnly?: boolean };

const NAV: NavItem[] = [
  { href: "/", label: "Dashboard" },
  { href: "/assets", label: "Assets", permission: "assets:read" },
  { href: "/scans", label: "Scans", permission: "scans:read" },
  { href: "/findings", label: "Findings", permission: "findings:read" },
  { href: "/services", label: "Services", permission: "assets:read" },
  { href: "/discovery", label: "Discovery", permission: "assets:read" },
  { href: "/schedules", label: "Schedules", permission: "scans:read" },
  { href: "/automation", label: "Automation", permission: "automation:read" },
  { href: "/scan-settings", label: "Scan settings", permission: "scans:read" },
  { href: "/api-keys", label: "API keys", permission: "api_keys:read" },
  { href: "/users", label: "Users", permission: "users:read" },
  { href: "/audit-log", label: "Audit log", permission: "audit:read" },
  { href: "/dead-letters", label: "Dead letters", permission: "automation:write" },
  { href: "/portfolio", label: "Portfolio", partnerOnly: true },
];

export function Shell({ children }: { children: ComponentChildren }) {
  const session = useSession();
  const { path } = useLocation();
  const partner = session.customers.length > 0;
  const visible = NAV.filter(
    (item) =>
      (!item.permission || session.can(item.permission)) &&
      (!item.partnerOnly || (partner && !session.acting)),
  );
  const current = (href: string) =>
    href === "/" ? path === "/" : path === href || path.startsWith(href + "/");
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <nav class="sidebar" aria-label="Main">
        <a class="brand" href="/">
          S4E
        </a>
        <ul>
          {visible.map((item) => (
            <li key={item.href}>
              <a href={item.href} aria-current={current(item.href) ? "page" : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
        <div class="who">
          <span data-testid="who">{session.me.user?.email ?? session.me.api_key?.prefix}</span>
          {session.me.user && <span class="muted"> · {session.me.user.role}</span>}
          <button type="button" class="link" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </nav>
      <div class="content">
        {partner && <CustomerSwitcher />}
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </div>
  );
}

function CustomerSwitcher() {
  const session = useSession();
  return (
    <div class={session.acting ? "acting acting-on" : "acting"} role="status">
      <label>
        <span>{session.acting ? "Acting for customer" : "Organization"}</span>{" "}
        <select
          aria-label="Customer"
          value={session.acting?.id ?? ""}
          onChange={(event) => {
            const id = (event.target as HTMLSelectElement).value;
            session.actAs(session.customers.find((customer) => customer.id === id));
          }}
        >
          <option value="">Own organization</option>
          {session.customers.map((customer) => (
            <option key={customer.id} value={customer.id}>
              {customer.name}
            </option>
          ))}
        </select>
      </label>
      {session.acting && (
        <strong data-testid="acting-for">
          Everything here is {session.acting.name}'s: what you change, you change for them.
        </strong>
      )}
    </div>
  );
}

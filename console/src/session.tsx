// Who is signed in, in which organization, allowed what; and the customer a partner acts for.
import { createContext, type ComponentChildren } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { ApiFailure, api, credentials, ok, type Schemas } from "./api/client";
import { asFailure } from "./ui";

export type Session = {
  me: Schemas["Me"];
  /** The customers of a partner organization; empty for every other. */
  customers: Schemas["Organization"][];
  /** The customer acted for, when a partner switched to one. */
  acting?: Schemas["Organization"];
  can: (permission: string) => boolean;
  actAs: (customer?: Schemas["Organization"]) => void;
  signOut: () => Promise<void>;
};

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside of <SessionProvider>");
  return session;
}

const ACTING_KEY = "s4e.acting";

type State =
  | { phase: "loading" }
  | { phase: "signed-out"; error?: ApiFailure }
  | {
      phase: "signed-in";
      me: Schemas["Me"];
      customers: Schemas["Organization"][];
      acting?: Schemas["Organization"];
    };

async function load(): Promise<State> {
  credentials.actingOrg = "";
  const me = ok(await api.GET("/api/v1/me"));
  credentials.csrf = me.csrf_token ?? "";
  let customers: Schemas["Organization"][] = [];
  if (me.permissions.includes("customers:read")) {
    const answer = await api.GET("/api/v1/customers");
    if (answer.response.ok && answer.data) customers = answer.data.items;
  }
  // A reload keeps acting for the same customer (per tab), if it is still one of them.
  const remembered = sessionStorage.getItem(ACTING_KEY);
  const acting = customers.find((customer) => customer.id === remembered);
  if (!acting) return { phase: "signed-in", me, customers };
  credentials.actingOrg = acting.id;
  const inside = await api.GET("/api/v1/me");
  if (!inside.response.ok || !inside.data) {
    // No longer allowed in (the customer moved away, a role changed): back to its own.
    credentials.actingOrg = "";
    sessionStorage.removeItem(ACTING_KEY);
    return { phase: "signed-in", me, customers };
  }
  return { phase: "signed-in", me: inside.data, customers, acting };
}

export function SessionProvider({
  signIn,
  children,
}: {
  signIn: (done: (view: Schemas["SessionView"]) => void, error?: ApiFailure) => ComponentChildren;
  children: ComponentChildren;
}) {
  const [state, setState] = useState<State>({ phase: "loading" });

  const refresh = useCallback(() => {
    load().then(setState, (error: unknown) => {
      const failure = asFailure(error);
      setState({ phase: "signed-out", error: failure.status === 401 ? undefined : failure });
    });
  }, []);
  useEffect(refresh, [refresh]);

  // Any answer saying the session ended sends the person back to sign in.
  useEffect(() => {
    const onEnded = () => setState({ phase: "signed-out" });
    window.addEventListener("s4e:signed-out", onEnded);
    return () => window.removeEventListener("s4e:signed-out", onEnded);
  }, []);

  if (state.phase === "loading") {
    return (
      <p class="loading center" aria-busy="true">
        Loading…
      </p>
    );
  }
  if (state.phase === "signed-out") {
    const done = (view: Schemas["SessionView"]) => {
      credentials.csrf = view.csrf_token;
      setState({ phase: "loading" });
      refresh();
    };
    return <>{signIn(done, state.error)}</>;
  }

  const session: Session = {
    me: state.me,
    customers: state.customers,
    acting: state.acting,
    can: (permission) => state.me.permissions.includes(permission),
    actAs: (customer) => {
      if (customer) sessionStorage.setItem(ACTING_KEY, customer.id);
      else sessionStorage.removeItem(ACTING_KEY);
      setState({ phase: "loading" });
      refresh();
    },
    signOut: async () => {
      credentials.actingOrg = "";
      await api.POST("/api/v1/auth/logout");
      credentials.csrf = "";
      sessionStorage.removeItem(ACTING_KEY);
      setState({ phase: "signed-out" });
    },
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

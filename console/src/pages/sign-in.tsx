import { useState } from "preact/hooks";
import { ApiFailure, api, ok, type Schemas } from "../api/client";
import { Failure, Field, useAction } from "../ui";

export function SignIn({
  done,
  error,
}: {
  done: (view: Schemas["SessionView"]) => void;
  error?: ApiFailure;
}) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [needsCode, setNeedsCode] = useState(false);
  const action = useAction();
  document.title = "Sign in · S4E";

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const answer = await api.POST("/api/v1/auth/login", {
        body: { email, password, totp_code: needsCode ? code : undefined },
      });
      if (answer.error && (answer.error as { error?: { code?: string } }).error?.code === "totp_required") {
        setNeedsCode(true);
        return;
      }
      done(ok(answer));
    });
  };

  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to S4E</h1>
        {error && <Failure error={error} />}
        <Field label="E-mail">
          <input
            type="email"
            name="email"
            autoComplete="username"
            required
            value={email}
            onInput={(event) => setEmail((event.target as HTMLInputElement).value)}
          />
        </Field>
        <Field label="Password">
          <input
            type="password"
            name="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(event) => setPassword((event.target as HTMLInputElement).value)}
          />
        </Field>
        {needsCode && (
          <Field label="Code from your authenticator app">
            <input
              name="totp"
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6}"
              required
              autoFocus
              value={code}
              onInput={(event) => setCode((event.target as HTMLInputElement).value)}
            />
          </Field>
        )}
        {action.error && <Failure error={action.error} />}
        <button type="submit" class="primary" disabled={action.busy}>
          {action.busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

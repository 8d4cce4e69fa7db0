import { Page } from "../ui";

export function NotFound() {
  return (
    <Page title="Not found">
      <p>
        This page does not exist. <a href="/">Back to the dashboard</a>.
      </p>
    </Page>
  );
}

// A run's event stream (`text/event-stream`) read with fetch rather than EventSource: fetch can
// send the header that names the customer a partner acts for, EventSource cannot.
import { failureOf, sessionHeaders } from "./client";

export type StreamEvent = { event: string; data: string };

/** Calls `onEvent` for each event until the stream ends or `signal` aborts. */
export async function readEvents(
  url: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const response = await fetch(url, {
    headers: { Accept: "text/event-stream", ...sessionHeaders() },
    credentials: "same-origin",
    signal,
  });
  if (!response.ok || !response.body) {
    throw failureOf(response.status, await response.json().catch(() => undefined));
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
      if (data.length > 0) onEvent({ event, data: data.join("\n") });
    }
  }
}

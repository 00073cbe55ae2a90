/**
 * One structured JSON line per connection event, never a message body, so that
 * `wrangler tail` and Workers Logs can filter on fields.
 * @internal
 */
export type LogEvent =
  | { event: "open"; room: string; id: string; format: string }
  | { event: "close"; room: string; id: string; code: number; reason: string; clean: boolean }
  | { event: "error"; room: string; id: string; error: string }
  | { event: "refused"; path: string; status: number; reason: string };

export function log(entry: LogEvent): void {
  console.log(JSON.stringify(entry));
}

/** Plain-text HTTP answers: a status and one sentence a user can act on. @internal */
export function text(body: string, status: number, headers?: Record<string, string>): Response {
  return new Response(body, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } });
}

// A plain-text HTTP response: the one shape for short messages to git clients, raw-file
// errors and anything else that is not a page or JSON. It lives on the ground floor so
// that every floor that answers HTTP (the surfaces and the repository's Durable Object)
// can use the same helper.

/** A `text/plain` response whose body is `message`, ending with one newline. */
export function plainText(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message.endsWith("\n") ? message : message + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}

// Response shapes shared by the git, web and API surfaces.

export const GIT_REALM = 'Basic realm="Gitflare", charset="UTF-8"';

export function plainText(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message.endsWith("\n") ? message : message + "\n", {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}

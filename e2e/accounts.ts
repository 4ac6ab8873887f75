// Accounts for end-to-end tests, made through the real web forms: a cookie jar per
// user, the CSRF field read from each page, and tokens read from the page that shows
// them once.

/**
 * The credentials this test file's git runs and raw requests send (set once the file's
 * account exists); empty for anonymous.
 */
export const e2eAuth = { header: "" };

/** Each Set-Cookie header on its own (the Headers typings here lack getSetCookie). */
export function setCookies(res: Response): string[] {
  return (res.headers as unknown as { getSetCookie(): string[] }).getSetCookie();
}

/**
 * A browser without a page: a cookie jar and forms posted as a browser on the site posts
 * them. `fetcher` is how requests leave (workerd tests pass SELF.fetch).
 */
export class Browserless {
  private cookies = new Map<string, string>();
  constructor(
    readonly base: string,
    private readonly fetcher: (url: string, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init),
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  private keep(res: Response): void {
    for (const line of setCookies(res)) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || /max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async get(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await this.fetcher(this.base + path, {
      ...init,
      redirect: "manual",
      headers: { Cookie: this.cookieHeader(), ...(init.headers as Record<string, string>) },
    });
    this.keep(res);
    return res;
  }

  /** The `_csrf` value in the page at `path`. */
  async csrf(path: string): Promise<string> {
    const res = await this.get(path);
    const text = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
    if (!m) throw new Error(`no CSRF field on ${path} (${res.status}):\n${text.slice(0, 500)}`);
    return m[1];
  }

  /** Posts a form the way a browser on this site does (Origin and the page's CSRF token). */
  async post(
    path: string,
    fields: Record<string, string>,
    opts: { from?: string; csrf?: string | null; origin?: string } = {},
  ): Promise<Response> {
    const body = new URLSearchParams(fields);
    const token = opts.csrf === undefined ? await this.csrf(opts.from ?? path) : opts.csrf;
    if (token !== null) body.set("_csrf", token);
    const res = await this.fetcher(this.base + path, {
      method: "POST",
      body,
      redirect: "manual",
      headers: { Cookie: this.cookieHeader(), Origin: opts.origin ?? this.base, "Content-Type": "application/x-www-form-urlencoded" },
    });
    this.keep(res);
    return res;
  }
}

export interface Account {
  username: string;
  password: string;
  web: Browserless;
  token: string;
  /** `Authorization` header value for git and the API. */
  auth: string;
}

export function basic(username: string, token: string): string {
  return "Basic " + Buffer.from(`${username}:${token}`).toString("base64");
}

/** Makes a token on the tokens page and reads it off the page. */
export async function makeToken(web: Browserless, name: string, scope: "read" | "write" | "admin", expires = "30"): Promise<string> {
  const res = await web.post("/settings/tokens", { name, scope, expires }, { from: "/settings/tokens" });
  const text = await res.text();
  const m = /id="new-token" value="(gfp_[^"]+)"/.exec(text);
  if (!m) throw new Error(`no token shown (${res.status}):\n${text.slice(0, 800)}`);
  return m[1];
}

export async function signUp(base: string, username: string, scope: "read" | "write" | "admin" = "admin"): Promise<Account> {
  const web = new Browserless(base);
  const password = `pw-${username}-secret`;
  const res = await web.post("/signup", { username, email: `${username}@example.com`, password }, { from: "/signup" });
  if (res.status !== 303) throw new Error(`sign-up failed (${res.status}): ${(await res.text()).slice(0, 500)}`);
  const token = await makeToken(web, "e2e", scope);
  return { username, password, web, token, auth: basic(username, token) };
}

/** git environment that sends these credentials with every request (http.extraHeader). */
export function gitAuthEnv(auth: string): NodeJS.ProcessEnv {
  return { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: ${auth}` };
}

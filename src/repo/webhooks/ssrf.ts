// Where a webhook may not point (SSRF): loopback, private, link-local, shared (CGNAT)
// and unspecified addresses, cloud metadata endpoints, and names that only resolve
// inside a network. Workers cannot resolve DNS, so a public name that resolves to a
// private address is left to Cloudflare's egress, which does not reach private networks
// from a Worker's fetch (README, "Webhooks"). Checked when a hook is saved and again
// before each delivery.

const BLOCKED_NAMES = [
  /^localhost$/,
  /\.localhost$/,
  /\.local$/,
  /\.internal$/,
  /\.localdomain$/,
  /^metadata$/,
  /^metadata\.google\.internal$/,
];

function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

/** Whether an IPv4 address is one a hook may not reach (`loopbackOk`: 127/8 allowed, for local tests). */
function blockedV4([a, b]: number[], loopbackOk: boolean): boolean {
  if (a === 127) return !loopbackOk;
  return (
    a === 0 ||
    a === 10 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

/** The 8 groups of an IPv6 literal (URL hosts come normalized: `[::1]` → `::1`), or null. */
function ipv6(host: string): number[] | null {
  if (!host.includes(":")) return null;
  let text = host;
  // An embedded IPv4 tail (::ffff:1.2.3.4) as two groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const v4 = ipv4(tail[1]);
    if (!v4) return null;
    text = text.slice(0, -tail[1].length) + `${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const left = groups(head);
  const right = groups(rest);
  const fill = text.includes("::") ? 8 - left.length - right.length : 0;
  const all = [...left, ...Array(Math.max(fill, 0)).fill("0"), ...right];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  return all.map((g) => Number.parseInt(g, 16));
}

function blockedV6(g: number[], loopbackOk: boolean): boolean {
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(7) && g[7] === 1) return !loopbackOk; // ::1
  if (zeroUpTo(8)) return true; // ::
  // IPv4-mapped and -compatible addresses: judged as the IPv4 address they carry.
  if (zeroUpTo(5) && (g[5] === 0xffff || g[5] === 0)) return blockedV4([g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255], loopbackOk);
  if (g[0] === 0x64 && g[1] === 0xff9b) return blockedV4([g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255], loopbackOk); // NAT64
  return (g[0] & 0xfe00) === 0xfc00 || (g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xff00) === 0xff00;
}

/**
 * Why a hook may not be sent to `url`, or null if it may. `loopbackOk` (the
 * GITFLARE_HOOKS_ALLOW_LOOPBACK variable, for local tests) lets 127.0.0.0/8, ::1 and
 * `localhost` through; nothing else private ever is.
 */
export function hookUrlProblem(url: string, loopbackOk = false): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "is not a valid URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "must use http or https";
  if (u.username || u.password) return "must not carry credentials";
  const host = u.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  if (!host) return "has no host";
  if (host === "localhost" && loopbackOk) return null;
  const v4 = ipv4(host);
  if (v4) return blockedV4(v4, loopbackOk) ? "points at a private, loopback or reserved address" : null;
  const v6 = ipv6(host);
  if (v6) return blockedV6(v6, loopbackOk) ? "points at a private, loopback or reserved address" : null;
  if (host.includes(":")) return "is not a valid address";
  // Numeric forms that are not dotted quads (2130706433, 0x7f.1) reach addresses too.
  if (/^[0-9.]+$/.test(host) || /^0x/i.test(host) || /\.0x/i.test(host)) return "is not a valid address";
  if (!host.includes(".") || BLOCKED_NAMES.some((r) => r.test(host))) return "names a host that is not public";
  return null;
}

export function allowsLoopback(env: { GITFLARE_HOOKS_ALLOW_LOOPBACK?: string }): boolean {
  return env.GITFLARE_HOOKS_ALLOW_LOOPBACK === "1";
}

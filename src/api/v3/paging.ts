// GitHub's pagination: `page` (from 1) and `per_page` (30 by default, at most 100), and
// a `Link` header with the pages around this one (rel prev, next, last, first), which
// Octokit's `paginate` follows.
import type { Context } from "hono";

export interface Paging {
  page: number;
  perPage: number;
  offset: number;
}

export function paging(c: Context): Paging {
  // Bounded: a page past 100,000 (or 1e400) would overflow SQLite's OFFSET; it is empty anyway.
  const page = Math.min(100_000, Math.max(1, Math.floor(Number(c.req.query("page") ?? 1)) || 1));
  const perPage = Math.min(100, Math.max(1, Math.floor(Number(c.req.query("per_page") ?? 30)) || 30));
  return { page, perPage, offset: (page - 1) * perPage };
}

/** Sets the Link header for a list of `total` items, when there is more than one page. */
export function linkHeader(c: Context, p: Paging, total: number): void {
  const last = Math.max(1, Math.ceil(total / p.perPage));
  const at = (page: number) => {
    const url = new URL(c.req.url);
    url.searchParams.set("per_page", String(p.perPage));
    url.searchParams.set("page", String(page));
    return url.toString();
  };
  const links: string[] = [];
  if (p.page > 1) links.push(`<${at(Math.min(p.page - 1, last))}>; rel="prev"`);
  if (p.page < last) links.push(`<${at(p.page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
  if (p.page > 1) links.push(`<${at(1)}>; rel="first"`);
  if (links.length) c.header("Link", links.join(", "));
}

/**
 * The Link header for a list whose length is not counted (a history walk): prev and
 * first behind this page, next when the walk found more; no last.
 */
export function openLinkHeader(c: Context, p: Paging, more: boolean): void {
  const at = (page: number) => {
    const url = new URL(c.req.url);
    url.searchParams.set("per_page", String(p.perPage));
    url.searchParams.set("page", String(page));
    return url.toString();
  };
  const links: string[] = [];
  if (p.page > 1) links.push(`<${at(p.page - 1)}>; rel="prev"`);
  if (more) links.push(`<${at(p.page + 1)}>; rel="next"`);
  if (p.page > 1) links.push(`<${at(1)}>; rel="first"`);
  if (links.length) c.header("Link", links.join(", "));
}

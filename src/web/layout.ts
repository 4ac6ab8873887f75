// The page shell: header, theme, and the stylesheet. Pages are server-rendered with
// hono/html, which escapes every interpolated value; `raw` is used only for HTML that
// we produced (highlighting) or sanitized (Markdown).
import type { Context } from "hono";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { callerOf } from "../auth/caller";
import { csrfToken } from "../auth/csrf";

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The signed-in user's links, or the sign-in links. */
async function userNav(c: Context): Promise<HtmlEscapedString> {
  const caller = await callerOf(c);
  if (caller.kind === "anonymous") {
    const next = encodeURIComponent(new URL(c.req.url).pathname);
    return html`<nav class="user"><a href="/login?next=${next}">Sign in</a> <a class="btn" href="/signup">Sign up</a></nav>` as HtmlEscapedString;
  }
  const u = caller.user;
  return html`<nav class="user"><a href="/new">New repository</a> <a href="/${u.username}">${u.username}</a> <a href="/settings/tokens">Tokens</a>${
    caller.kind === "session"
      ? html` <form method="post" action="/logout" class="inline">${csrfField(c, caller)}<button type="submit">Sign out</button></form>`
      : ""
  }</nav>` as HtmlEscapedString;
}

/** The hidden CSRF field every form carries. */
export function csrfField(c: Context, caller: Parameters<typeof csrfToken>[1]): HtmlEscapedString {
  return html`<input type="hidden" name="_csrf" value="${csrfToken(c, caller)}">` as HtmlEscapedString;
}

export function page(c: Context, title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Gitflare</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="/">Gitflare</a>${userNav(c)}<button class="theme" type="button" data-theme-toggle aria-label="Toggle theme">◐</button></header>
<main>${body}</main>
</body>
</html>`;
}

export function relativeTime(unix: number, now = Date.now() / 1000): string {
  const s = Math.max(0, now - unix);
  const units: [number, string][] = [
    [31536000, "year"],
    [2592000, "month"],
    [86400, "day"],
    [3600, "hour"],
    [60, "minute"],
  ];
  for (const [n, name] of units) {
    if (s >= n) {
      const v = Math.floor(s / n);
      return `${v} ${name}${v > 1 ? "s" : ""} ago`;
    }
  }
  return "just now";
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export { html, raw };

export const CSS = `
:root { --bg:#fff; --fg:#1f2328; --muted:#59636e; --border:#d1d9e0; --panel:#f6f8fa; --link:#0969da; --add:#dafbe1; --del:#ffebe9; --hl:#fff8c5; --accent:#f38020; }
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) { --bg:#0d1117; --fg:#e6edf3; --muted:#9198a1; --border:#3d444d; --panel:#151b23; --link:#4493f8; --add:#12261e; --del:#25171c; --hl:#3a3117; } }
:root[data-theme=dark] { --bg:#0d1117; --fg:#e6edf3; --muted:#9198a1; --border:#3d444d; --panel:#151b23; --link:#4493f8; --add:#12261e; --del:#25171c; --hl:#3a3117; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif; }
a { color:var(--link); text-decoration:none; } a:hover { text-decoration:underline; }
.top { display:flex; gap:12px; align-items:center; padding:10px 20px; border-bottom:1px solid var(--border); background:var(--panel); flex-wrap:wrap; }
.brand { font-weight:700; color:var(--accent); }
.theme { margin-left:auto; background:none; border:1px solid var(--border); color:var(--fg); border-radius:6px; cursor:pointer; }
main { max-width:1100px; margin:0 auto; padding:20px; }
h1 { font-size:20px; margin:0 0 12px; } h2 { font-size:16px; }
.muted { color:var(--muted); }
.box { border:1px solid var(--border); border-radius:6px; overflow:hidden; margin-bottom:16px; }
.box > .head { background:var(--panel); padding:8px 12px; border-bottom:1px solid var(--border); display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
table.list { width:100%; border-collapse:collapse; }
table.list td { padding:6px 12px; border-top:1px solid var(--border); vertical-align:top; }
table.list tr:first-child td { border-top:none; }
td.name { white-space:nowrap; } td.msg { color:var(--muted); overflow:hidden; text-overflow:ellipsis; max-width:420px; white-space:nowrap; } td.age { text-align:right; color:var(--muted); white-space:nowrap; }
.tabs { display:flex; gap:14px; margin:0 0 14px; flex-wrap:wrap; }
.tabs a { padding:4px 0; }
.clone { display:flex; gap:6px; align-items:center; }
.clone input { width:min(420px,70vw); font-family:monospace; padding:4px 6px; line-height:1.5; border:1px solid var(--border); border-radius:6px; background:var(--bg); color:var(--fg); }
button, .btn { border:1px solid var(--border); background:var(--panel); color:var(--fg); border-radius:6px; padding:4px 10px; cursor:pointer; font-size:13px; }
select { padding:3px; border-radius:6px; border:1px solid var(--border); background:var(--bg); color:var(--fg); }
.code { overflow-x:auto; }
.code table { border-collapse:collapse; width:100%; font:12px/1.6 ui-monospace,SFMono-Regular,Menlo,monospace; }
.code td.ln { width:1%; min-width:50px; text-align:right; padding:0 10px; color:var(--muted); user-select:none; }
.code td.ln a { color:inherit; }
.code td.src { white-space:pre; padding:0 10px; }
.code tr.hl td { background:var(--hl); }
.code tr.add td.src { background:var(--add); } .code tr.del td.src { background:var(--del); } .code tr.hunk td { background:var(--panel); color:var(--muted); }
.markdown { padding:16px 24px; overflow-wrap:break-word; } .markdown img { max-width:100%; } .markdown pre { background:var(--panel); padding:10px; overflow:auto; border-radius:6px; }
.markdown table { border-collapse:collapse; } .markdown td, .markdown th { border:1px solid var(--border); padding:4px 8px; }
.notice { padding:24px; text-align:center; color:var(--muted); }
.stat { color:var(--muted); margin-right:12px; }
.add { color:#1a7f37; } .del { color:#d1242f; }
.crumbs a, .crumbs span { margin-right:4px; }
.icon { display:inline-block; width:13px; height:10px; border:1.5px solid var(--muted); border-radius:2px; margin-right:8px; vertical-align:-1px; }
.icon.tree { background:var(--link); border-color:var(--link); } .icon.submodule { border-style:dashed; }
.preview img { max-width:100%; display:block; margin:16px auto; }
td.blame { white-space:nowrap; color:var(--muted); padding:0 10px; max-width:260px; overflow:hidden; text-overflow:ellipsis; border-right:1px solid var(--border); }
.badge { font-size:12px; font-weight:500; border:1px solid var(--border); border-radius:10px; padding:0 7px; color:var(--muted); vertical-align:middle; }
nav.user { display:flex; gap:12px; align-items:center; margin-left:auto; }
nav.user + .theme { margin-left:0; }
form.inline { display:inline; margin:0; }
h1 .forks { font-size:14px; font-weight:normal; margin-left:12px; }
form.stack { display:flex; flex-direction:column; gap:10px; max-width:460px; padding:16px; }
form.stack label { display:flex; flex-direction:column; gap:4px; font-weight:600; }
form.stack label.check { flex-direction:row; font-weight:normal; gap:6px; align-items:center; }
input[type=text], input[type=password], input[type=email], textarea { padding:6px 8px; border:1px solid var(--border); border-radius:6px; background:var(--bg); color:var(--fg); font:inherit; }
.error { background:var(--del); border:1px solid #d1242f; padding:8px 12px; border-radius:6px; margin-bottom:12px; }
.ok { background:var(--add); border:1px solid #1a7f37; padding:8px 12px; border-radius:6px; margin-bottom:12px; }
.danger { border-color:#d1242f; } button.danger { color:#d1242f; }
pre.cmd { background:var(--panel); padding:12px; border-radius:6px; overflow:auto; }
.hljs-comment,.hljs-quote{color:#6e7781}.hljs-keyword,.hljs-selector-tag,.hljs-type{color:#cf222e}.hljs-string,.hljs-regexp,.hljs-attr{color:#0a3069}.hljs-number,.hljs-literal,.hljs-built_in{color:#0550ae}.hljs-title,.hljs-section,.hljs-function{color:#8250df}.hljs-meta{color:#953800}
@media (prefers-color-scheme: dark) { :root:not([data-theme=light]) .hljs-keyword,:root:not([data-theme=light]) .hljs-type{color:#ff7b72} :root:not([data-theme=light]) .hljs-string,:root:not([data-theme=light]) .hljs-attr{color:#a5d6ff} :root:not([data-theme=light]) .hljs-title,:root:not([data-theme=light]) .hljs-function{color:#d2a8ff} :root:not([data-theme=light]) .hljs-number,:root:not([data-theme=light]) .hljs-built_in{color:#79c0ff} }
:root[data-theme=dark] .hljs-keyword{color:#ff7b72} :root[data-theme=dark] .hljs-string{color:#a5d6ff} :root[data-theme=dark] .hljs-title{color:#d2a8ff} :root[data-theme=dark] .hljs-number{color:#79c0ff}
@media (max-width:640px) { main { padding:10px; } td.msg { display:none; } .code td.src { font-size:11px; } }
`;

// Progressive enhancement only: the pages work without it.
export const JS = `
(function(){
  var t = localStorage.getItem("theme"); if (t) document.documentElement.dataset.theme = t;
  document.addEventListener("click", function(e){
    var el = e.target.closest("[data-theme-toggle]");
    if (el) { var cur = document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      var next = cur === "dark" ? "light" : "dark"; document.documentElement.dataset.theme = next; localStorage.setItem("theme", next); }
    var copy = e.target.closest("[data-copy]");
    if (copy) { navigator.clipboard && navigator.clipboard.writeText(copy.getAttribute("data-copy")); copy.textContent = "Copied"; }
  });
  function mark(){ var m = /^#L(\\d+)(?:-L(\\d+))?$/.exec(location.hash); document.querySelectorAll("tr.hl").forEach(function(r){ r.classList.remove("hl"); });
    if (!m) return; var a = +m[1], b = +(m[2] || m[1]);
    for (var i = Math.min(a,b); i <= Math.max(a,b); i++) { var r = document.getElementById("L" + i); if (r) r.classList.add("hl"); } }
  window.addEventListener("hashchange", mark); document.addEventListener("DOMContentLoaded", mark);
})();
`;

export type { HtmlEscapedString };
export const nothing = raw("");

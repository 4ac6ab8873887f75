// The branch and tag selector. A page carries only the ref it shows and links to the
// full lists; the names come on demand from `/:owner/:repo/refs.json`, filtered and
// capped, so a page does not grow with the number of refs (a repository may have
// thousands). Without JavaScript the menu still opens (it is a <details>) and offers the
// branches and tags pages.
import { type Html, html } from "./layout";

/** At most this many names of each kind per answer: a filter finds the rest. */
export const REF_MATCH_LIMIT = 100;

const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");

/**
 * The selector for a page of `kind` (tree, blob, commits...) at `path`: choosing a ref
 * opens the same page there.
 */
export function refSelector(
  where: { base: string; branches: string[]; tags: string[] },
  current: string,
  kind: string,
  path: string,
): Html {
  const isBranch = where.branches.includes(current);
  const isTag = !isBranch && where.tags.includes(current);
  const label = isBranch || isTag ? current : current.slice(0, 7);
  return html`<details class="refs" data-refs="${where.base}/refs.json" data-prefix="${where.base}/${kind}/" data-suffix="${path ? `/${enc(path)}` : ""}" data-current="${current}">
<summary aria-label="Switch branch or tag"><span class="muted">${isTag ? "tag" : isBranch ? "branch" : "commit"}:</span> ${label}</summary>
<div class="menu"><input type="search" data-ref-filter placeholder="Find a branch or tag" aria-label="Find a branch or tag" autocomplete="off" hidden>
<ul data-ref-list></ul>
<p class="muted"><a href="${where.base}/branches">All branches</a> · <a href="${where.base}/tags">All tags</a></p></div></details>`;
}

/**
 * The names that contain `q` (case-insensitively), best first: an exact match, then
 * names that start with it, then the rest, each in name order with the default branch
 * ahead of its peers; at most `limit` of each kind.
 */
export function matchRefs(
  refs: { branches: string[]; tags: string[]; defaultBranch: string | null },
  q: string,
  limit = REF_MATCH_LIMIT,
): { branches: string[]; tags: string[]; more: boolean } {
  const needle = q.trim().toLowerCase();
  const rank = (name: string) => {
    const n = name.toLowerCase();
    return n === needle ? 0 : n.startsWith(needle) ? 1 : 2;
  };
  const pick = (names: string[], first: string | null) => {
    const hits = names
      .filter((n) => n.toLowerCase().includes(needle))
      .map((name, i) => ({ name, i, r: rank(name) - (name === first ? 0.5 : 0) }))
      .sort((a, b) => a.r - b.r || a.i - b.i);
    return { names: hits.slice(0, limit).map((h) => h.name), more: hits.length > limit };
  };
  const b = pick(refs.branches, refs.defaultBranch);
  const t = pick(refs.tags, null);
  return { branches: b.names, tags: t.names, more: b.more || t.more };
}

export const REF_SELECTOR_CSS = `
details.refs { position:relative; display:inline-block; }
details.refs > summary { list-style:none; cursor:pointer; border:1px solid var(--border); border-radius:6px; padding:2px 10px; background:var(--bg); max-width:260px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
details.refs > summary::-webkit-details-marker { display:none; }
details.refs > summary::after { content:" ▾"; color:var(--muted); }
details.refs .menu { position:absolute; z-index:10; top:calc(100% + 4px); left:0; width:320px; max-width:90vw; background:var(--bg); border:1px solid var(--border); border-radius:6px; box-shadow:0 8px 24px rgba(0,0,0,.15); padding:8px; }
details.refs .menu input { width:100%; margin-bottom:6px; }
details.refs ul { list-style:none; margin:0; padding:0; max-height:320px; overflow:auto; }
details.refs li a { display:block; padding:3px 6px; border-radius:4px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
details.refs li a[aria-current] { font-weight:600; }
details.refs li.group { color:var(--muted); font-size:12px; padding:4px 6px 0; }
details.refs .menu p { margin:6px 0 0; }
.box:has(details.refs[open]) { overflow:visible; }
`;

// Names are put in the page with textContent, never as HTML: a ref name is the pusher's text.
export const REF_SELECTOR_JS = `
(function(){
  function encPath(name){ return name.split("/").map(encodeURIComponent).join("/"); }
  function render(box, data){
    var list = box.querySelector("[data-ref-list]"); list.textContent = "";
    function group(title, names){
      if (!names.length) return;
      var h = document.createElement("li"); h.className = "group"; h.textContent = title; list.appendChild(h);
      names.forEach(function(n){
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = box.dataset.prefix + encPath(n) + box.dataset.suffix; a.textContent = n;
        if (n === box.dataset.current) a.setAttribute("aria-current", "true");
        li.appendChild(a); list.appendChild(li);
      });
    }
    group("Branches", data.branches); group("Tags", data.tags);
    if (!data.branches.length && !data.tags.length) { var e = document.createElement("li"); e.className = "group"; e.textContent = "Nothing found"; list.appendChild(e); }
    if (data.more) { var m = document.createElement("li"); m.className = "group"; m.textContent = "More match: narrow the filter"; list.appendChild(m); }
  }
  function load(box, q){
    var seq = (box._seq = (box._seq || 0) + 1);
    fetch(box.dataset.refs + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function(r){ if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function(data){ if (seq === box._seq) render(box, data); })
      .catch(function(){ /* the branches and tags links below still work */ });
  }
  document.addEventListener("toggle", function(e){
    var box = e.target; if (!box.matches || !box.matches("details[data-refs]") || !box.open) return;
    var input = box.querySelector("[data-ref-filter]"); input.hidden = false; input.focus();
    if (!box._loaded) { box._loaded = true; load(box, input.value); }
  }, true);
  document.addEventListener("click", function(e){
    document.querySelectorAll("details[data-refs][open]").forEach(function(box){ if (!box.contains(e.target)) box.open = false; });
  });
  var timer;
  document.addEventListener("input", function(e){
    if (!e.target.matches("[data-ref-filter]")) return;
    var box = e.target.closest("details[data-refs]"), q = e.target.value;
    clearTimeout(timer); timer = setTimeout(function(){ load(box, q); }, 120);
  });
  document.addEventListener("keydown", function(e){
    var box = e.target.closest && e.target.closest("details[data-refs]"); if (!box) return;
    if (e.key === "Escape") { box.open = false; box.querySelector("summary").focus(); }
    if (e.key === "Enter" && e.target.matches("[data-ref-filter]")) { e.preventDefault(); var a = box.querySelector("[data-ref-list] a"); if (a) location.href = a.href; }
  });
})();
`;

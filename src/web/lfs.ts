// A file stored with Git LFS, shown as the file it stands for: its real size, a download
// from R2 (an attachment, never active content) and a preview for raster images.
import type { LfsPointer } from "../git/lfs-pointer";
import { type Html, formatBytes, html } from "./layout";

const PREVIEW = /\.(png|jpe?g|gif|webp)$/i;

/** The object's download URL for a repository at `base` (`/owner/name`). */
export function lfsDownloadUrl(base: string, pointer: LfsPointer, path: string, preview = false): string {
  const name = encodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
  return `${base}.git/info/lfs/objects/${pointer.oid}?name=${name}${preview ? "&preview=1" : ""}`;
}

export function lfsFileBody(base: string, pointer: LfsPointer, path: string): Html {
  const url = lfsDownloadUrl(base, pointer, path);
  const preview = PREVIEW.test(path)
    ? html`<div class="preview"><img src="${lfsDownloadUrl(base, pointer, path, true)}" alt="${path}"></div>`
    : "";
  return html`<div class="notice lfs">Stored with Git LFS · ${formatBytes(pointer.size)} · <a href="${url}" download>Download</a></div>${preview}`;
}

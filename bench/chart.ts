// An SVG bar chart of Gitflare/C git ratios per operation (time and pack bytes).
interface ChartRow {
  op: string;
  gitflare: { ms: number; bytes: number };
  cgit: { ms: number; bytes: number };
}

export function renderChart(rows: ChartRow[]): string {
  const barH = 14;
  const gap = 10;
  const left = 230;
  const width = 760;
  const scaleMax = Math.max(
    2,
    ...rows.map((r) => r.gitflare.ms / r.cgit.ms),
    ...rows.map((r) => (r.cgit.bytes ? r.gitflare.bytes / r.cgit.bytes : 0)),
  );
  const x = (v: number) => left + ((width - left - 40) * v) / scaleMax;
  const rowH = barH * 2 + gap;
  const height = 60 + rows.length * rowH;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Gitflare ÷ C git (git http-backend), lower is better</text>`,
    `<rect x="${left}" y="28" width="12" height="10" fill="#3b82f6"/><text x="${left + 16}" y="37">time</text>`,
    `<rect x="${left + 60}" y="28" width="12" height="10" fill="#f59e0b"/><text x="${left + 76}" y="37">pack bytes</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 50 + i * rowH;
    const t = r.gitflare.ms / r.cgit.ms;
    const b = r.cgit.bytes ? r.gitflare.bytes / r.cgit.bytes : 0;
    parts.push(`<text x="10" y="${y + barH + 4}">${esc(r.op)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${x(t) - left}" height="${barH}" fill="#3b82f6"/><text x="${x(t) + 4}" y="${y + 11}">${t.toFixed(2)}×</text>`,
    );
    if (b)
      parts.push(
        `<rect x="${left}" y="${y + barH}" width="${x(b) - left}" height="${barH}" fill="#f59e0b"/><text x="${x(b) + 4}" y="${y + barH + 11}">${b.toFixed(2)}×</text>`,
      );
  });
  for (const mark of [1, 1.5, 2]) {
    if (mark > scaleMax) continue;
    parts.push(`<line x1="${x(mark)}" y1="44" x2="${x(mark)}" y2="${height - 6}" stroke="#888" stroke-dasharray="3,3"/>`);
    parts.push(`<text x="${x(mark) - 8}" y="${height - 2}" fill="#555">${mark}×</text>`);
  }
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

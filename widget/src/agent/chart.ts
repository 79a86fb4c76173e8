// Plain-SVG bar charts for the reports page: conversations per day (escalated drawn inside
// each day's bar) and first response per agent. Each chart is an <svg role="img"> with a
// <title> and <desc> that say what it shows and its totals; the numbers themselves are in
// the data tables next to it (the text alternative), so nothing is conveyed by the drawing alone.
const NS = "http://www.w3.org/2000/svg";

function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, ...kids: (Node | string)[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const k in attrs) el.setAttribute(k, String(attrs[k]));
  for (const c of kids) el.append(c);
  return el;
}

/** a round whole step (1, 2, 5 × 10^n) so that max/step gives at most `ticks` gridlines */
function niceMax(max: number, ticks = 4): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const raw = max / ticks, mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw)!); // counts: whole steps
  return { top: Math.max(step, Math.ceil(max / step) * step), step };
}

let uid = 0;
export interface DayRow { date: string; conversations: number; escalated: number }

/** one <g class="day" data-date> per day of `days`, each with its total bar and its escalated bar */
export function dayChart(days: DayRow[], label: string, desc: string, width = 720): SVGSVGElement {
  const id = "chart" + ++uid;
  const { top, step } = niceMax(Math.max(0, ...days.map((d) => d.conversations)));
  // the left margin fits the longest axis number (about 7 units per digit at 11 px)
  const W = Math.max(300, Math.min(720, width)), H = W < 500 ? 200 : 240, L = Math.max(36, String(top).length * 7 + 12), R = 8, T = 10, B = 28;
  const pw = W - L - R, ph = H - T - B;
  const y = (v: number) => T + ph - (v / top) * ph;
  const bw = pw / Math.max(1, days.length);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}t ${id}d`, class: "chart", preserveAspectRatio: "xMidYMid meet" },
    s("title", { id: id + "t" }, label), s("desc", { id: id + "d" }, desc));
  for (let v = 0; v <= top; v += step) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }),
      s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, String(v)));
  }
  const every = Math.ceil(days.length / Math.floor(W / 80)); // a date label every ~80 units
  days.forEach((d, i) => {
    const x = L + i * bw, inner = Math.max(1, bw * 0.72), off = (bw - inner) / 2;
    const g = s("g", { class: "day", "data-date": d.date, "data-conversations": d.conversations, "data-escalated": d.escalated },
      s("title", {}, `${d.date}: ${d.conversations} conversations, ${d.escalated} escalated`),
      s("rect", { x: x + off, y: y(d.conversations), width: inner, height: Math.max(0, T + ph - y(d.conversations)), class: "bar total" }),
      s("rect", { x: x + off, y: y(d.escalated), width: inner, height: Math.max(0, T + ph - y(d.escalated)), class: "bar escalated" }));
    if (i % every === 0) g.append(s("text", { x: x + bw / 2, y: H - 8, "text-anchor": "middle", class: "axis" }, d.date.slice(5)));
    svg.append(g);
  });
  return svg;
}

/** horizontal bars, one per row, value in seconds with its text at the end of the bar */
export function barChart(rows: { label: string; value: number; text: string }[], label: string, desc: string, width = 720): SVGSVGElement {
  const id = "chart" + ++uid;
  const W = Math.max(300, Math.min(720, width)), row = 26, L = W < 500 ? 110 : 170, R = 90, H = Math.max(1, rows.length) * row + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}t ${id}d`, class: "chart" },
    s("title", { id: id + "t" }, label), s("desc", { id: id + "d" }, desc));
  rows.forEach((r, i) => {
    const w = ((W - L - R) * r.value) / max, yy = 4 + i * row;
    const cut = L < 170 ? 14 : 20, name = r.label.length > cut ? r.label.slice(0, cut - 1) + "…" : r.label;
    svg.append(s("g", { class: "agent-bar" },
      s("text", { x: L - 8, y: yy + 16, "text-anchor": "end", class: "axis" }, name),
      s("rect", { x: L, y: yy + 3, width: Math.max(1, w), height: row - 8, class: "bar frt" }),
      s("text", { x: L + Math.max(1, w) + 6, y: yy + 16, class: "axis" }, r.text)));
  });
  return svg;
}

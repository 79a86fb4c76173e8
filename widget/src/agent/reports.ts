// The supervisors' and admins' reports page (API.md "Reports"): a date range (the last 30 days
// by default) and a department, cards for volume, bot-only vs escalated, offline, first
// response and resolution p50/p90, CSAT; a chart of conversations per day with its data table;
// first response per agent; the FAQ's helpfulness and the questions the bot could not answer;
// the by-day CSV, downloaded with the bearer token (a plain link could not send it).
import { h } from "../shared/util";
import { dayChart, barChart, type DayRow } from "./chart";

/** what the page borrows from the dashboard's shell (main.ts) */
export interface ReportsCtx {
  api: <T = any>(method: string, path: string, body?: unknown) => Promise<T>;
  main: HTMLElement;
  apiBase: string;
  token: () => string | undefined;
  errText: (e: unknown) => string;
  toast: (text: string, kind?: "error" | "info") => void;
  field: (label: string, el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement) => HTMLElement;
}

interface P { p50: number | null; p90?: number | null }
interface Report {
  conversations: number; bot_only: number; escalated: number; offline: number;
  first_response_s: P; resolution_s: P; csat: { avg: number | null; count: number };
  by_agent: { agent: { id: string; display_name: string }; handled: number; first_response_s: P; csat: { avg: number | null; count: number } }[];
  by_day: DayRow[];
  faq: { slug: string; answered: number; helpful: number; not_helpful: number }[];
  unmatched: { text: string; count: number }[];
}

const DAY = 86400000;
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** 42 s, 3 min 20 s, 2 h 5 min, 3 d 4 h; — when nothing was measured */
export function dur(s: number | null | undefined): string {
  if (s == null || !isFinite(s)) return "—";
  s = Math.round(s);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min` + (s % 60 ? ` ${s % 60} s` : "");
  if (s < 86400) return `${Math.floor(s / 3600)} h` + (Math.floor(s / 60) % 60 ? ` ${Math.floor(s / 60) % 60} min` : "");
  return `${Math.floor(s / 86400)} d` + (Math.floor(s / 3600) % 24 ? ` ${Math.floor(s / 3600) % 24} h` : "");
}
const pct = (n: number, of: number) => (of ? Math.round((100 * n) / of) + "%" : "—");
const csatText = (c: { avg: number | null; count: number }) => (c.avg == null || !c.count ? "—" : `${c.avg.toFixed(2)} / 5`);

/** a data table in a box that scrolls sideways when narrow (focusable, so a keyboard can scroll it) */
function table(caption: string, head: string[], rows: (string | number | Node)[][], attrs: Record<string, string> = {}): HTMLElement {
  return h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": caption }, h("table", attrs, h("caption", { class: "sr" }, caption),
    h("thead", null, h("tr", null, ...head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, ...(rows.length ? rows.map((r) => h("tr", null, ...r.map((c, i) => i === 0 ? h("th", { scope: "row" }, c) : h("td", null, c))))
      : [h("tr", null, h("td", { colspan: head.length }, "Nothing in this range."))]))));
}

export function renderReports(ctx: ReportsCtx): void {
  const { api, main } = ctx;
  main.className = "main admin";
  const today = Date.now();
  const from = h("input", { type: "date", value: isoDay(today - 29 * DAY), required: true, "data-testid": "agent-report-from" });
  const to = h("input", { type: "date", value: isoDay(today), required: true, "data-testid": "agent-report-to" });
  const dept = h("select", { "data-testid": "agent-report-department" }, h("option", { value: "" }, "All departments"));
  const csv = h("button", { class: "btn", type: "button", "data-testid": "agent-report-csv" }, "Download CSV (per day)");
  const status = h("p", { class: "muted report-status", role: "status" });
  const body = h("div", { class: "report-body" });
  const form = h("form", { class: "card report-filter", "aria-label": "Report range" },
    h("div", { class: "grid" }, ctx.field("From", from), ctx.field("To (inclusive)", to), ctx.field("Department", dept)),
    h("div", { class: "form-actions" }, h("button", { class: "btn primary", type: "submit" }, "Show report"), csv));
  main.replaceChildren(h("div", { class: "admin-page reports", "data-testid": "agent-reports-page" },
    h("h2", { tabindex: "-1" }, "Reports"),
    h("p", { class: "muted" }, "Conversations created in the range (UTC days). First response: the first agent message after the customer asked for a person; resolution: from that request to the close."),
    form, status, body));

  api("GET", "/departments").then((r) => {
    for (const d of r.departments || []) dept.append(h("option", { value: d.id }, d.name));
  }).catch(() => { /* the filter stays "All departments" */ });

  const query = (fmt = "") => {
    const q = new URLSearchParams({ from: from.value, to: to.value });
    if (dept.value) q.set("department_id", dept.value);
    if (fmt) q.set("format", fmt);
    return "/agent/reports?" + q.toString();
  };

  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    status.textContent = "Loading the report…";
    try {
      const r: Report = await api("GET", query());
      if (mine !== seq) return;
      // drawn in the units of the space it gets, so that its text stays readable on a phone
      body.replaceChildren(...reportView(r, from.value, to.value, main.clientWidth - 72));
      status.textContent = `Report for ${from.value} to ${to.value}${dept.value ? ", " + dept.selectedOptions[0].textContent : ""}: ${r.conversations} conversations.`;
    } catch (e) {
      if (mine !== seq) return;
      body.replaceChildren();
      status.textContent = "Couldn't load the report: " + ctx.errText(e);
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); load(); });

  csv.addEventListener("click", async () => {
    csv.disabled = true;
    try {
      const t = ctx.token();
      const res = await fetch(ctx.apiBase + query("csv"), {
        headers: t ? { Authorization: "Bearer " + t } : {}, credentials: "same-origin", cache: "no-store",
      });
      if (!res.ok) throw new Error(`the server answered ${res.status}`);
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: `chat-report-${from.value}-${to.value}.csv`, hidden: true });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) { ctx.toast("Couldn't download the CSV: " + (e instanceof Error && !(e instanceof TypeError) ? e.message : ctx.errText(e))); }
    finally { csv.disabled = false; }
  });
  load();
}

function card(metric: string, label: string, value: string, sub = ""): HTMLElement {
  return h("div", { class: "stat", "data-testid": "agent-report-card", "data-metric": metric },
    h("div", { class: "stat-label" }, label), h("div", { class: "stat-value" }, value), sub ? h("div", { class: "stat-sub" }, sub) : null);
}

function reportView(r: Report, from: string, to: string, width: number): HTMLElement[] {
  const days = r.by_day || [];
  const total = days.reduce((n, d) => n + d.conversations, 0), esc = days.reduce((n, d) => n + d.escalated, 0);
  const busiest = days.reduce<DayRow | null>((b, d) => (!b || d.conversations > b.conversations ? d : b), null);
  const cards = h("div", { class: "stats" },
    card("conversations", "Conversations", String(r.conversations)),
    card("bot_only", "Bot only", String(r.bot_only), pct(r.bot_only, r.conversations) + " of all"),
    card("escalated", "Escalated to a person", String(r.escalated), pct(r.escalated, r.conversations) + " of all"),
    card("offline", "Offline (nobody available)", String(r.offline)),
    card("first_response", "First response p50 / p90", `${dur(r.first_response_s.p50)} / ${dur(r.first_response_s.p90)}`),
    card("resolution", "Resolution p50 / p90", `${dur(r.resolution_s.p50)} / ${dur(r.resolution_s.p90)}`),
    card("csat", "Customer satisfaction", csatText(r.csat), `${r.csat.count} rating${r.csat.count === 1 ? "" : "s"}`));

  const chart = dayChart(days, `Conversations per day, ${from} to ${to}`,
    `${days.length} days, ${total} conversations, ${esc} escalated to a person` +
    (busiest && busiest.conversations ? `; busiest day ${busiest.date} with ${busiest.conversations}` : "") +
    ". Each bar is a day's conversations; its darker lower part the escalated ones. The table below lists every day.", width);
  chart.setAttribute("data-testid", "agent-chart");
  const dayTable = table("Conversations per day", ["Day", "Conversations", "Escalated"],
    days.map((d) => [d.date, d.conversations, d.escalated]), { "data-testid": "agent-report-days" });

  const agents = r.by_agent || [];
  const timed = agents.filter((a) => a.first_response_s && a.first_response_s.p50 != null);
  const frt = timed.length
    ? barChart(timed.map((a) => ({ label: a.agent.display_name, value: a.first_response_s.p50!, text: dur(a.first_response_s.p50) })),
      "First response time (median) per agent",
      `Overall median ${dur(r.first_response_s.p50)}, 90th percentile ${dur(r.first_response_s.p90)}. ` +
      timed.map((a) => `${a.agent.display_name}: ${dur(a.first_response_s.p50)}`).join("; ") + ".", width)
    : h("p", { class: "muted" }, "No first responses in this range.");
  const agentTable = table("Per agent", ["Agent", "Handled", "First response p50", "CSAT", "Ratings"],
    agents.map((a) => [a.agent.display_name, a.handled, dur(a.first_response_s && a.first_response_s.p50), csatText(a.csat), a.csat.count]),
    { "data-testid": "agent-report-agents" });

  const faqTable = table("FAQ helpfulness", ["FAQ entry", "Answers", "Helpful", "Not helpful", "Helpful share"],
    (r.faq || []).map((f) => [f.slug, f.answered, f.helpful, f.not_helpful, pct(f.helpful, f.helpful + f.not_helpful)]),
    { "data-testid": "agent-report-faq" });
  const unmatched = table("Questions the bot could not answer", ["Question", "Times asked"],
    (r.unmatched || []).map((u) => [u.text, u.count]), { "data-testid": "agent-report-unmatched" });

  const legend = h("p", { class: "legend" },
    h("span", { class: "key total", "aria-hidden": "true" }), " All conversations  ",
    h("span", { class: "key escalated", "aria-hidden": "true" }), " Escalated to a person");
  return [
    h("section", { "aria-labelledby": "rep-sum" }, h("h3", { id: "rep-sum", class: "sr" }, "Summary"), cards),
    h("section", { class: "card", "aria-labelledby": "rep-days" }, h("h3", { id: "rep-days" }, "Conversations per day"),
      h("figure", { class: "chart-box" }, chart, h("figcaption", null, legend)),
      h("details", null, h("summary", null, "Show the numbers as a table"), dayTable)),
    h("section", { class: "card", "aria-labelledby": "rep-agents" }, h("h3", { id: "rep-agents" }, "Agents"), frt, agentTable),
    h("section", { class: "card", "aria-labelledby": "rep-faq" }, h("h3", { id: "rep-faq" }, "FAQ bot"),
      h("h4", null, "Was the answer helpful?"), faqTable,
      h("h4", null, "Top questions the bot could not answer"),
      h("p", { class: "muted" }, "Per site; the department filter does not apply. Add FAQ entries for the frequent ones."), unmatched),
  ];
}

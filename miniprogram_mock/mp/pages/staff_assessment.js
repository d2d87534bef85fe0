// 团队年度评价 (动态评价): per team and year, the scores on 基本建设 · 内部规范 · 业绩考量 and
// the total, ranked, each with the metrics it came from; the same as an Excel file.
import { api } from "../api.js";
import { actionButton, empty, h, load, todayLocal } from "../ui.js";
import { download, TEAM_CATEGORY_ZH } from "./voice.js";

export const DIMENSION_ZH = { foundation: "基本建设", conduct: "内部规范", performance: "业绩考量", total: "总分" };
const METRIC_ZH = {
  members: "在册队员", leaders: "在册队长", active_volunteers: "活跃志愿者",
  attendances: "考勤人次", served: "到场人次", signed_off_on_time: "按时确认",
  corrected: "更正次数", no_shows: "缺席人次", on_time_rate: "按时确认率",
  correction_rate: "更正率", no_show_rate: "缺席率", sign_off_days: "确认时限（天）",
  activities_held: "开展活动", volunteer_hours: "志愿时长（小时）", ratings: "评价人次",
  average_rating: "平均评分", needs_done: "办结需求",
};

function score(value) { return value == null ? "—" : Number(value).toFixed(1); }

function metricValue(key, v) {
  if (v == null) return "—";
  if (key.endsWith("_rate")) return `${(v * 100).toFixed(0)}%`;  // a share, 0–1
  return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v);
}

// Metrics either flat or grouped by dimension; both list as label: value.
function metricList(metrics) {
  const entries = Object.entries(metrics || {});
  const grouped = entries.length && entries.every(([, v]) => v && typeof v === "object");
  const line = ([k, v]) => h("li", {}, `${METRIC_ZH[k] || k}：${metricValue(k, v)}`);
  if (!grouped) return h("ul", { class: "metrics" }, entries.map(line));
  // In the table's order: dimensions, then each one's metrics as METRIC_ZH lists them.
  const rank = (order) => (k) => { const i = order.indexOf(k); return i < 0 ? order.length : i; };
  const dims = rank(Object.keys(DIMENSION_ZH));
  const names = rank(Object.keys(METRIC_ZH));
  return entries.sort(([a], [b]) => dims(a) - dims(b)).map(([dim, inner]) => h("div", {},
    h("b", {}, DIMENSION_ZH[dim] || dim),
    h("ul", { class: "metrics" }, Object.entries(inner).sort(([a], [b]) => names(a) - names(b)).map(line))));
}

function weightsLine(w) {
  if (!w) return null;
  return h("p", { class: "muted", testid: "assessment-weights" },
    `总分权重：基本建设 ${w.foundation}% · 内部规范 ${w.conduct}% · 业绩考量 ${w.performance}%`);
}

function table(rows, page) {
  const head = ["排名", "团队", ...["foundation", "conduct", "performance", "total"].map((d) => DIMENSION_ZH[d])];
  return h("div", { class: "table-scroll" }, h("table", { testid: "assessment-table" },
    h("caption", { class: "muted" }, `共 ${page.total} 个团队，按总分排序`),
    h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((r) => h("tr", { testid: `assessment-row-${r.team_id}` },
      h("td", {}, r.rank),
      h("th", { scope: "row" }, r.name, h("div", { class: "muted" }, TEAM_CATEGORY_ZH[r.category] || r.category || "")),
      ...["foundation", "conduct", "performance"].map((d) => h("td", { class: "number" }, score(r.scores?.[d]))),
      h("td", { class: "number", testid: `assessment-total-${r.team_id}` }, h("b", {}, score(r.scores?.total))))))));
}

function details(rows) {
  return rows.map((r) => h("details", { class: "card", testid: `assessment-metrics-${r.team_id}` },
    h("summary", { class: "cell" }, h("span", {}, `${r.name} 的评分依据`), h("span", { class: "muted" }, "展开")),
    metricList(r.metrics)));
}

export default {
  title: "团队年度评价",
  async render(el, { info, query }) {
    const thisYear = Number(todayLocal().slice(0, 4));
    const year = h("select", { id: "assessment-year", testid: "assessment-year" },
      [0, 1, 2, 3, 4].map((k) => h("option", { value: thisYear - k }, `${thisYear - k} 年`)));
    if (query.get("year")) year.value = query.get("year");
    let community = info.staffCommunity;
    const picker = info.isAdmin ? h("select", { id: "assessment-community", testid: "assessment-community" }) : null;
    if (picker) {
      const all = (await api.get("/communities", { per_page: 100 })).items;
      picker.replaceChildren(...all.map((c) => h("option", { value: c.id }, c.name)));
      picker.value = query.get("community") || String(community ?? all[0]?.id ?? "");
      community = picker.value;
    }
    if (!community) {
      el.replaceChildren(empty("没有可查看的社区"));
      return;
    }
    const out = h("div");
    const slot = h("div");
    const path = () => `/communities/${picker ? picker.value : community}/teams/evaluation`;
    const run = () => load(out, async () => {
      const page = await api.get(path(), { year: year.value, per_page: 100 });
      if (!page.items.length) return empty("该年度没有团队");
      const rows = [...page.items].sort((a, b) => a.rank - b.rank);
      return [h("div", { class: "card" }, weightsLine(page.weights), table(rows, page)), ...details(rows)];
    });
    year.addEventListener("change", run);
    picker?.addEventListener("change", run);
    el.replaceChildren(h("div", { class: "card" },
      h("div", { class: "row" }, h("label", { for: year.id }, "年度"), year,
        picker ? h("label", { for: picker.id }, "社区") : null, picker),
      h("p", { class: "muted" }, "三项得分各由下方的评分依据算出，权重由街道设定。"),
      actionButton("导出 Excel", () => download(`${path()}.xlsx`, { year: year.value }, `团队年度评价-${year.value}.xlsx`),
        { slot, className: "secondary", testid: "assessment-xlsx" }), slot), out);
    await run();
  },
};

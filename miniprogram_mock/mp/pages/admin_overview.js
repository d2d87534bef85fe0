// 街道总览 (admin): one row per community over a period — residents, active volunteers,
// activities held, volunteer hours, points issued and redeemed, open needs — and a bar
// chart of the chosen column, in plain SVG.
import { api } from "../api.js";
import { actionButton, empty, h, load, todayLocal } from "../ui.js";
import { barChart } from "./voice.js";

// Each column: its Chinese heading and the field names it may come under.
export const COLUMNS = [
  ["residents", "居民", ["residents"]],
  ["active_volunteers", "活跃志愿者", ["active_volunteers"]],
  ["activities", "活动", ["activities_held", "activities"]],
  ["volunteer_hours", "志愿时长（小时）", ["volunteer_hours", "hours"]],
  ["points_issued", "发放积分", ["points_issued", "issued"]],
  ["points_redeemed", "兑换积分", ["points_redeemed", "redeemed"]],
  ["open_needs", "待处理需求", ["open_needs"]],
];

function value(row, names) {
  for (const n of names) if (row[n] !== undefined && row[n] !== null) return row[n];
  return 0;
}

function shown(v) { return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v; }

export default {
  title: "街道总览",
  async render(el, { info }) {
    if (!info.isAdmin) {
      el.replaceChildren(empty("只有街道管理员可以查看总览"));
      return;
    }
    const today = todayLocal();
    const from = h("input", { type: "date", id: "overview-from", testid: "overview-from", value: `${today.slice(0, 4)}-01-01` });
    const to = h("input", { type: "date", id: "overview-to", testid: "overview-to", value: today });
    const metric = h("select", { id: "overview-metric", testid: "overview-metric" },
      COLUMNS.map(([key, label]) => h("option", { value: key }, label)));
    metric.value = "volunteer_hours";
    const out = h("div");
    let rows = [];
    const chart = h("div", { class: "card chart" });
    const drawChart = () => {
      const [, label, names] = COLUMNS.find(([key]) => key === metric.value);
      chart.replaceChildren(h("h2", {}, label),
        barChart(rows.map((r) => ({ label: r.name, value: shown(value(r, names)) })),
          { label: `各社区${label}柱状图`, testid: "overview-chart" }));
    };
    const run = () => load(out, async () => {
      const page = await api.get("/street/overview", { from: from.value, to: to.value, per_page: 100 });
      rows = page.items;
      if (!rows.length) return empty("这段时间没有数据");
      drawChart();
      return [chart, h("div", { class: "card table-scroll" }, h("table", { testid: "overview-table" },
        h("caption", { class: "muted" }, `${from.value} 至 ${to.value}，共 ${page.total} 个社区`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "社区"), COLUMNS.map(([, label]) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, rows.map((r) => h("tr", { testid: `overview-row-${r.community_id}` },
          h("th", { scope: "row" }, r.name),
          COLUMNS.map(([, , names]) => h("td", { class: "number" }, shown(value(r, names)))))))))];
    });
    metric.addEventListener("change", () => { if (rows.length) drawChart(); });
    el.replaceChildren(h("div", { class: "card" },
      h("div", { class: "row" }, h("label", { for: from.id }, "从"), from, h("label", { for: to.id }, "到"), to),
      h("div", { class: "row" }, h("label", { for: metric.id }, "图表指标"), metric),
      actionButton("查询", run, { testid: "overview-run" })), out);
    await run();
  },
};

// 街道总览 (admin): one row per community over a period — residents, active volunteers,
// activities held, volunteer hours, points issued and redeemed, open needs — and a bar
// chart of the chosen column, in plain SVG.
import { api } from "../api.js";
import { actionButton, empty, h, load, todayLocal } from "../ui.js";
import { barChart } from "./voice.js";

// Each column: its field and its Chinese heading.
export const COLUMNS = [
  ["residents", "居民"], ["active_volunteers", "活跃志愿者"], ["activities_held", "活动"],
  ["volunteer_hours", "志愿时长（小时）"], ["points_issued", "发放积分"],
  ["points_redeemed", "兑换积分"], ["open_needs", "待处理需求"],
];

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
      const [key, label] = COLUMNS.find(([k]) => k === metric.value);
      chart.replaceChildren(h("h2", {}, label),
        barChart(rows.map((r) => ({ label: r.name, value: shown(r[key]) })),
          { label: `各社区${label}柱状图`, testid: "overview-chart" }));
    };
    let pageNo = 1;
    // A district has hundreds of communities: 100 a page, with 上一页 / 下一页.
    const pager = (page) => {
      const last = Math.max(1, Math.ceil(page.total / page.per_page));
      if (last === 1) return null;
      const go = (n) => { pageNo = n; return run(); };
      return h("div", { class: "row", testid: "overview-pager" },
        h("button", { class: "secondary", disabled: page.page <= 1, onclick: () => go(page.page - 1) }, "上一页"),
        h("span", { class: "muted" }, `第 ${page.page} / ${last} 页`),
        h("button", { class: "secondary", disabled: page.page >= last, onclick: () => go(page.page + 1) }, "下一页"));
    };
    const run = () => load(out, async () => {
      const page = await api.get("/street/overview", { from: from.value, to: to.value, page: pageNo, per_page: 100 });
      rows = page.items;
      if (!rows.length) return empty("这段时间没有数据");
      drawChart();
      return [chart, h("div", { class: "card table-scroll" }, h("table", { testid: "overview-table" },
        h("caption", { class: "muted" }, `${page.from} 至 ${page.to}，共 ${page.total} 个社区`),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "社区"), COLUMNS.map(([, label]) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, rows.map((r) => h("tr", { testid: `overview-row-${r.community_id}` },
          h("th", { scope: "row" }, r.name),
          COLUMNS.map(([key]) => h("td", { class: "number" }, shown(r[key])))))))), pager(page)];
    });
    metric.addEventListener("change", () => { if (rows.length) drawChart(); });
    el.replaceChildren(h("div", { class: "card" },
      h("div", { class: "row" }, h("label", { for: from.id }, "从"), from, h("label", { for: to.id }, "到"), to),
      h("div", { class: "row" }, h("label", { for: metric.id }, "图表指标"), metric),
      actionButton("查询", () => { pageNo = 1; return run(); }, { testid: "overview-run" })), out);
    await run();
  },
};

// 积分对账: the period report (opening + issued − redeemed + refunded − expired + adjusted =
// closing) as a waterfall chart in plain SVG, and every invariant check with its result.
import { api } from "../api.js";
import { actionButton, h, load, todayLocal } from "../ui.js";

const STEPS = [["issued", "发放", 1], ["redeemed", "兑换", -1], ["refunded", "退回", 1],
  ["expired", "过期", -1], ["adjusted", "调整", 1]];

export function waterfall(report) {
  const bars = [{ label: "期初", from: 0, to: report.opening_total, kind: "total" }];
  let level = report.opening_total;
  for (const [key, label, sign] of STEPS) {
    const next = level + sign * report[key];
    bars.push({ label, from: level, to: next, kind: next >= level ? "up" : "down", value: report[key] });
    level = next;
  }
  bars.push({ label: "期末", from: 0, to: report.closing_total, kind: "total" });
  const W = 360, H = 200, top = 20, bottom = 30, slotW = W / bars.length;
  const high = Math.max(1, ...bars.map((b) => Math.max(b.from, b.to)));
  const low = Math.min(0, ...bars.map((b) => Math.min(b.from, b.to)));
  const y = (v) => top + (H - top - bottom) * (high - v) / (high - low);
  const colour = { total: "#10aeff", up: "#07c160", down: "#fa5151" };
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("data-testid", "reconciliation-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "积分收支瀑布图");
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
  };
  add("line", { x1: 0, x2: W, y1: y(0), y2: y(0), stroke: "#ccc" });
  bars.forEach((b, i) => {
    const x = i * slotW + slotW * 0.15;
    const y1 = y(Math.max(b.from, b.to));
    const height = Math.max(1, Math.abs(y(b.from) - y(b.to)));
    add("rect", { x, y: y1, width: slotW * 0.7, height, fill: colour[b.kind] });
    add("text", { x: x + slotW * 0.35, y: y1 - 4, "text-anchor": "middle", "font-size": 11 },
      b.kind === "total" ? b.to : `${b.kind === "up" ? "+" : "−"}${b.value}`);
    add("text", { x: x + slotW * 0.35, y: H - 10, "text-anchor": "middle", "font-size": 12 }, b.label);
  });
  return svg;
}

// The backend names its checks in English; the staff member reads Chinese where we know it.
const CHECK_ZH = {
  period_identity: "期初 + 发放 − 兑换 + 退回 − 过期 + 调整 = 期末",
  sum_of_accounts_is_zero: "所有账户合计为零",
  stored_balances_match_entries: "账户余额与流水一致",
  no_negative_resident_balance: "居民积分无负数",
  service_transfers_have_approved_attendance: "服务积分均有已审核的考勤",
  redeem_transfers_have_redemption: "兑换积分均有兑换记录",
};

function report(r) {
  const row = (label, value) => h("tr", {}, h("td", {}, label), h("td", { style: "text-align:right" }, value));
  return [
    h("div", { class: "card chart" }, waterfall(r)),
    h("div", { class: "card" }, h("table", { testid: "reconciliation-table" },
      row("期初余额", r.opening_total), row("发放", r.issued), row("兑换", r.redeemed), row("退回", r.refunded),
      row("过期", r.expired), row("调整", r.adjusted), row("期末余额", r.closing_total))),
    h("div", { class: "card" }, h("h3", {}, "校验"),
      r.checks.map((c) => h("div", { class: c.ok ? "check-ok" : "check-bad", testid: "reconciliation-check" },
        `${c.ok ? "✔" : "✘"} ${CHECK_ZH[c.name] || c.name}`,
        // The detail is for whoever debugs the ledger; shown here only when written in Chinese.
        /[\u4e00-\u9fff]/.test(c.detail || "") ? h("span", { class: "muted" }, ` ${c.detail}`) : ""))),
  ];
}

export default {
  title: "积分对账",
  async render(el, { info }) {
    const from = h("input", { type: "date", value: `${todayLocal().slice(0, 8)}01`, testid: "reconcile-from" });
    const to = h("input", { type: "date", value: todayLocal(), testid: "reconcile-to" });
    const out = h("div");
    const run = () => load(out, async () => report(await api.get(
      `/communities/${info.staffCommunity}/points/reconciliation`, { from: from.value, to: to.value })));
    el.replaceChildren(h("div", { class: "card" },
      h("div", { class: "row" }, h("label", {}, "从", from), h("label", {}, "到", to)),
      actionButton("生成对账", run, { testid: "reconcile-run" })), out);
    await run();
  },
};

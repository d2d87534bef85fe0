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

// The backend names its checks in English; the clerk reads each in Chinese: what it checks,
// what a failure means and what to do about it.
export const CHECKS_ZH = {
  period_identity: ["期初 + 发放 − 兑换 + 退回 − 过期 + 调整 = 期末",
    "本期的收支加起来与期末余额对不上，报表中有积分变动没有归入任何一项。",
    "不要结账；截图本页，联系系统管理员核查本期流水。"],
  sum_of_accounts_is_zero: ["所有账户合计为零",
    "积分凭空多出或少了：每笔积分都应从一个账户转到另一个账户。",
    "暂停发放和兑换，导出本期流水交系统管理员核查。"],
  stored_balances_match_entries: ["账户余额与流水一致",
    "有账户显示的余额与其流水合计不同，居民看到的积分可能不对。",
    "暂停该居民的兑换，导出流水，联系系统管理员按流水重新核对余额。"],
  no_negative_resident_balance: ["居民积分无负数",
    "有居民的积分变成了负数，说明兑换或冲正时多扣了积分。",
    "查看该居民的积分明细，找出多扣的那笔，由两位工作人员做积分调整补回。"],
  redeem_transfers_have_redemptions: ["兑换扣分均有兑换记录",
    "有扣分找不到对应的礼品兑换，居民可能被扣了分却没有兑换到礼品。",
    "在礼品核销页核对该笔兑换；确属误扣的，申请冲正把积分退回居民。"],
  service_transfers_have_approved_attendances: ["服务积分均有已审核的考勤",
    "有服务积分找不到审核通过的考勤，可能发放了没有依据的积分。",
    "在工时审批页核对该居民的考勤；没有依据的，申请冲正并由另一位工作人员批准。"],
  duty_transfers_have_approved_shifts: ["值班积分均有已审批的班次",
    "有值班积分找不到审批通过的班次，可能多发了值班积分。",
    "在值班积分审批页核对该班次；没有依据的，申请冲正。"],
  minted_transfers_have_two_people: ["每笔发放都经两人确认",
    "有积分只经一人之手就发给了居民，或由居民本人确认，违反“两人确认”规则。",
    "核查这几笔发放是否属实，请另一位工作人员复核；不属实的申请冲正，并查看操作记录。"],
  reversals_match_originals: ["冲正与原记录一致",
    "有冲正的积分数或账户与被冲正的那笔不一致。",
    "查看操作记录中的积分冲正，联系系统管理员核查。"],
  closed_periods_unchanged: ["已结账月份未被改动",
    "已结账的月份在结账后又有积分变动，该月的报表已不是结账时的样子。",
    "不要重新结账；截图本页并联系系统管理员，更正应记入当前未结账的月份。"],
};

function checkRow(c) {
  const [title, meaning, todo] = CHECKS_ZH[c.name] || [`其他校验（${c.name}）`, "该项未通过。", "请联系系统管理员。"];
  return h("div", { class: `check ${c.ok ? "check-ok" : "check-bad"}`, testid: "reconciliation-check",
    "data-check": c.name, "data-ok": String(c.ok) },
    h("div", {}, h("span", { "aria-hidden": "true" }, c.ok ? "✔ " : "✘ "), title,
      h("span", { class: `tag ${c.ok ? "" : "red"}` }, c.ok ? "通过" : "未通过")),
    c.ok ? null : h("p", { class: "check-help" }, h("b", {}, "这意味着："), meaning),
    c.ok ? null : h("p", { class: "check-help" }, h("b", {}, "请这样处理："), todo));
}

function report(r) {
  const row = (label, value) => h("tr", {}, h("td", {}, label), h("td", { class: "number" }, value));
  return [
    h("div", { class: "card chart" }, waterfall(r)),
    h("div", { class: "card" }, h("table", { testid: "reconciliation-table" },
      h("caption", { class: "muted" }, "积分收支"),
      row("期初余额", r.opening_total), row("发放", r.issued), row("兑换", r.redeemed), row("退回", r.refunded),
      row("过期", r.expired), row("调整", r.adjusted), row("期末余额", r.closing_total))),
    r.closed_periods?.length ? h("p", { class: "muted", testid: "reconciliation-closed" },
      `本期含已结账月份：${r.closed_periods.join("、")}`) : null,
    h("div", { class: "card" }, h("h2", {}, "校验"), r.checks.map(checkRow)),
  ];
}

// Dates as the community counts them (YYYY-MM-DD).
export function monthRange(month) {
  const [year, number] = month.split("-").map(Number);
  const last = new Date(Date.UTC(year, number, 0)).getUTCDate();
  return [`${month}-01`, `${month}-${String(last).padStart(2, "0")}`];
}

function previousMonth(month) {
  const [year, number] = month.split("-").map(Number);
  return number === 1 ? `${year - 1}-12` : `${year}-${String(number - 1).padStart(2, "0")}`;
}

// The newest month whose books were closed (from the audit trail), else last month.
async function lastClosedMonth(community) {
  const page = await api.get(`/communities/${community}/audit`, { action: "period.closed", per_page: 24 });
  const months = page.items.map((e) => e.subject.replace(/^period:/, "")).filter((m) => /^\d{4}-\d{2}$/.test(m));
  return months.length ? { month: months.sort().at(-1), closed: true }
    : { month: previousMonth(todayLocal().slice(0, 7)), closed: false };
}

async function download(path, query, name) {
  const file = await api.image(`${path}?${new URLSearchParams(query)}`);
  const link = h("a", { href: file.url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

export default {
  title: "积分对账",
  async render(el, { info }) {
    const community = info.staffCommunity;
    const [first, last] = monthRange(todayLocal().slice(0, 7));
    const from = h("input", { type: "date", value: first, testid: "reconcile-from", id: "reconcile-from" });
    const to = h("input", { type: "date", value: last, testid: "reconcile-to", id: "reconcile-to" });
    const out = h("div");
    const slot = h("div");
    const period = () => ({ from: from.value, to: to.value });
    const run = () => load(out, async () => report(await api.get(
      `/communities/${community}/points/reconciliation`, period())));
    const pick = (month) => { [from.value, to.value] = monthRange(month); return run(); };
    const quick = h("div", { class: "row wrap" },
      h("button", { class: "secondary", testid: "reconcile-this-month", onclick: () => pick(todayLocal().slice(0, 7)) }, "本月"));
    lastClosedMonth(community).then(({ month, closed }) => quick.append(h("button", {
      class: "secondary", testid: "reconcile-last-closed", onclick: () => pick(month),
    }, closed ? `最近结账月 ${month}` : `上月 ${month}`)), () => {});
    const ledger = `/communities/${community}/points/ledger`;
    el.replaceChildren(h("div", { class: "card" },
      quick,
      h("div", { class: "row" }, h("label", { for: from.id }, "从"), from, h("label", { for: to.id }, "到"), to),
      actionButton("生成对账", run, { testid: "reconcile-run" }),
      h("div", { class: "row" },
        actionButton("导出流水 CSV", () => download(`${ledger}.csv`, period(), `积分流水-${from.value}-${to.value}.csv`),
          { slot, className: "secondary", testid: "export-csv" }),
        actionButton("导出 Excel", () => download(`${ledger}.xlsx`, period(), `积分流水-${from.value}-${to.value}.xlsx`),
          { slot, className: "secondary", testid: "export-xlsx" })),
      slot), out);
    await run();
  },
};

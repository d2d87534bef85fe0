// 民意 (SPEC §9a) shared by the residents' and staff's pages: the Chinese words for the
// contract's categories and statuses, a need's card, the stars, the SVG bar chart.
import { api } from "../api.js";
import { fmtDate, h } from "../ui.js";

export const CATEGORY_ZH = {
  environment: "环境", elderly: "养老", children: "儿童", parking: "停车",
  safety: "安全", culture: "文化", other: "其他",
};
export const NEED_STATUS_ZH = {
  open: "待处理", accepted: "已受理", declined: "未采纳", merged: "已合并", done: "已办结",
};
const STATUS_TAG = { open: "orange", accepted: "", declined: "grey", merged: "grey", done: "" };
export const TEAM_CATEGORY_ZH = {
  service: "志愿服务", charity: "公益慈善", culture_sports: "文体", mediation: "调解", parking: "停车",
};

// The community a page is about: a resident's own, else the staff member's.
export function myCommunity(info) { return info.residentCommunity ?? info.staffCommunity; }

export function statusTag(need) {
  return h("span", { class: `tag ${STATUS_TAG[need.status] ?? "grey"}`, testid: `need-status-${need.id}` },
    NEED_STATUS_ZH[need.status] || need.status);
}

export function replyBlock(need) {
  if (!need.reply) return null;
  return h("p", { class: "reply", testid: `need-reply-${need.id}` }, h("b", {}, "社区回复："), need.reply);
}

// A need as everyone sees it; `actions` (a support button, a triage form) go at the bottom.
export function needCard(need, ...actions) {
  return h("article", { class: "card", testid: `need-${need.id}`, "aria-labelledby": `need-title-${need.id}` },
    h("div", { class: "row" }, h("h3", { id: `need-title-${need.id}` }, need.title), statusTag(need)),
    h("div", { class: "muted" },
      h("span", { class: "tag grey" }, CATEGORY_ZH[need.category] || need.category), " ",
      need.author ? `${need.author} · ` : "", fmtDate(need.created_at),
      need.mine ? h("span", { class: "tag" }, "我提的") : null),
    need.description ? h("p", { class: "tight" }, need.description) : null,
    h("div", { class: "muted" }, "支持 ",
      h("span", { class: "supporters", testid: `need-supporters-${need.id}` }, need.supporters ?? 0), " 人"),
    need.team_name ? h("div", { class: "muted", testid: `need-team-${need.id}` }, `承接团队：${need.team_name}`) : null,
    need.merged_into ? h("div", { class: "muted" }, `已并入需求 #${need.merged_into}`) : null,
    replyBlock(need), ...actions);
}

export function stars(rating) {
  const n = Math.round(Number(rating) || 0);
  return h("span", { "aria-hidden": "true", class: "stars" }, "★".repeat(n) + "☆".repeat(Math.max(0, 5 - n)));
}

// The summary `{count, average, distribution}` as words and stars.
export function summaryLine(summary, testid) {
  if (!summary || !summary.count) return h("p", { class: "muted", testid }, "还没有评价");
  const average = Number(summary.average).toFixed(1);
  return h("p", { class: "tight", testid }, stars(summary.average),
    ` ${average} 分 · ${summary.count} 人评价`);
}

// A plain SVG bar chart (no library): `rows` of {label, value}, horizontal bars.
export function barChart(rows, { label, testid, unit = "" } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 360, rowH = 26, left = 96, right = 56;
  const H = Math.max(1, rows.length) * rowH + 8;
  const high = Math.max(1, ...rows.map((r) => Number(r.value) || 0));
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  if (testid) svg.setAttribute("data-testid", testid);
  const add = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    const width = Math.max(1, (W - left - right) * (Number(r.value) || 0) / high);
    const name = String(r.label);
    add("text", { x: left - 6, y: y + 17, "text-anchor": "end", "font-size": 12, fill: "#191919" },
      name.length > 7 ? `${name.slice(0, 7)}…` : name);
    add("rect", { x: left, y: y + 4, width, height: rowH - 8, fill: "#067a3e", "data-value": r.value });
    add("text", { x: left + width + 4, y: y + 17, "font-size": 12, fill: "#191919" }, `${r.value}${unit}`);
  });
  return svg;
}

// An authenticated file (the bearer token rides on the request): fetched, then saved.
export async function download(path, query, name) {
  const file = await api.image(`${path}?${new URLSearchParams(query)}`);
  const link = h("a", { href: file.url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

// 公示: the community notice board — last closed month's points, the ratings of recently
// ended activities, the triaged needs with the community's replies. Aggregates only.
import { api } from "../api.js";
import { empty, fmtDate, h, load } from "../ui.js";
import { CATEGORY_ZH, myCommunity, statusTag, summaryLine } from "./voice.js";

// `points` is the last closed month's, null until a month has been closed.
function pointsSection(board) {
  const p = board.points;
  const title = h("h2", { id: "board-points-title" }, p ? `${p.month} 积分公示` : "积分公示");
  const attrs = { class: "card", testid: "board-points", "aria-labelledby": "board-points-title" };
  if (!p) return h("section", attrs, title, h("p", { class: "muted" }, "还没有结账的月份，结账后在此公示。"));
  const { issued, redeemed } = p;
  return h("section", attrs, title,
    h("table", {}, h("caption", { class: "muted" }, "本社区合计（兑换已扣除退回）"),
      h("tbody", {},
        h("tr", {}, h("th", { scope: "row" }, "发放积分"), h("td", { class: "number", testid: "board-issued" }, issued)),
        h("tr", {}, h("th", { scope: "row" }, "兑换积分"), h("td", { class: "number", testid: "board-redeemed" }, redeemed)))));
}

function evaluationsSection(board) {
  const items = board.activities || [];
  return h("section", { class: "card", testid: "board-evaluations", "aria-labelledby": "board-eval-title" },
    h("h2", { id: "board-eval-title" }, "活动评价（民事民评）"),
    items.length ? items.map((item) => {
      return h("div", { class: "board-row", testid: `board-activity-${item.activity_id}` },
        h("div", {}, h("b", {}, item.title),
          h("span", { class: "muted" }, ` ${item.team_name} · ${fmtDate(item.ends_at)}`)),
        summaryLine(item));
    }) : empty("近期没有结束的活动"));
}

function needsSection(board) {
  const items = board.needs || [];
  return h("section", { class: "card", testid: "board-needs", "aria-labelledby": "board-needs-title" },
    h("h2", { id: "board-needs-title" }, "需求办理（民事民提）"),
    items.length ? items.map((n) => h("div", { class: "board-row", testid: `board-need-${n.id}` },
      h("div", { class: "row" }, h("b", {}, n.title), statusTag(n)),
      h("div", { class: "muted" }, CATEGORY_ZH[n.category] || n.category, ` · ${n.author} 提出 · 支持 ${n.supporters} 人`,
        n.team_name ? ` · 承接：${n.team_name}` : ""),
      n.reply ? h("p", { class: "reply", testid: `board-reply-${n.id}` }, h("b", {}, "社区回复："), n.reply) : null))
      : empty("还没有已处理的需求"));
}

export default {
  title: "社区公示",
  async render(el, { info, query }) {
    const community = query.get("community") || myCommunity(info);
    if (!community) {
      el.replaceChildren(empty("加入社区后即可查看公示"));
      return;
    }
    await load(el, async () => {
      const board = await api.get(`/communities/${community}/notice-board`);
      return [pointsSection(board), evaluationsSection(board), needsSection(board)];
    });
  },
};

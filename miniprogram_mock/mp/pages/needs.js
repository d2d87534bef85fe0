// 民意 (民事民提): the needs of my community, by support or newest, filtered by status;
// a resident supports one (once) or withdraws, and reads the community's reply.
import { api } from "../api.js";
import { actionButton, empty, h, load, toast } from "../ui.js";
import { subscribeTo } from "./inbox.js";
import { myCommunity, NEED_STATUS_ZH, needCard } from "./voice.js";

function supportButton(need, slot, redraw) {
  const on = Boolean(need.i_support);
  const button = actionButton(on ? "取消支持" : "支持", async (act) => {
    const result = on ? await api.del(`/needs/${need.id}/support`)
      : await act.post(`/needs/${need.id}/support`);
    toast(on ? "已取消支持" : "已支持");
    redraw({ ...need, supporters: result.supporters, i_support: result.i_support });
  }, { slot, className: on ? "secondary" : "", testid: `need-support-${need.id}` });
  button.setAttribute("aria-pressed", String(on));
  button.setAttribute("aria-label", `${on ? "取消支持" : "支持"}：${need.title}`);
  return button;
}

export function residentNeedCard(need, canSupport) {
  const slot = h("div");
  let card;
  const draw = (n) => {
    const open = !["declined", "merged", "done"].includes(n.status);
    const next = needCard(n, canSupport && open ? h("div", { class: "row" }, supportButton(n, slot, draw)) : null, slot);
    if (card) card.replaceWith(next);
    card = next;
    return next;
  };
  return draw(need);
}

export default {
  title: "民意",
  async render(el, { info, query }) {
    const community = myCommunity(info);
    if (!community) {
      el.replaceChildren(empty("加入社区后即可查看和提出需求"));
      return;
    }
    const sort = h("select", { id: "needs-sort", testid: "needs-sort" },
      h("option", { value: "supporters" }, "支持最多"), h("option", { value: "newest" }, "最新提出"));
    const status = h("select", { id: "needs-status", testid: "needs-status" },
      h("option", { value: "" }, "全部状态"),
      Object.entries(NEED_STATUS_ZH).map(([v, label]) => h("option", { value: v }, label)));
    sort.value = query.get("sort") === "newest" ? "newest" : "supporters";
    status.value = NEED_STATUS_ZH[query.get("status")] ? query.get("status") : "";
    const list = h("div", { testid: "needs-list" });
    const canSupport = Boolean(info.residentCommunity);
    const slot = h("div");
    const reload = () => load(list, async () => {
      const args = { sort: sort.value, per_page: 50 };
      if (status.value) args.status = status.value;
      const page = await api.get(`/communities/${community}/needs`, args);
      return page.items.length ? page.items.map((n) => residentNeedCard(n, canSupport))
        : empty("还没有需求，来提第一条吧");
    });
    sort.addEventListener("change", reload);
    status.addEventListener("change", reload);
    el.replaceChildren(
      h("p", { class: "muted" }, "民事民提：说出你对社区的需求，支持多的需求会优先受理。"),
      canSupport ? h("a", { class: "btn block", href: "#/needs/new", testid: "need-new" }, "我要提需求") : null,
      canSupport ? actionButton("订阅需求进展和评价邀请", (act) => subscribeTo(act, ["need_update", "evaluation_invite"]),
        { slot, className: "block secondary", testid: "needs-subscribe" }) : null, slot,
      h("div", { class: "cells" }, h("a", { class: "cell", href: "#/notice-board", testid: "to-notice-board" },
        h("span", {}, "社区公示"), h("span", { class: "muted" }, "›"))),
      h("div", { class: "row" },
        h("label", { for: sort.id }, "排序"), sort, h("label", { for: status.id }, "状态"), status),
      list);
    await reload();
  },
};

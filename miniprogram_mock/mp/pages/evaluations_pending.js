// 待评价: the ended activities I may still rate (GET /me/evaluations/pending).
import { api } from "../api.js";
import { empty, fmtTime, h, load } from "../ui.js";

// An item names its activity either flat or nested; both shapes read the same.
export function pendingActivity(item) {
  const a = item.activity || item;
  return { id: item.activity_id ?? a.id, title: a.title ?? item.title, ends_at: a.ends_at ?? item.ends_at,
    closes_at: item.evaluate_until ?? null };
}

export async function pendingEvaluations() {
  return (await api.get("/me/evaluations/pending", { per_page: 50 })).items.map(pendingActivity);
}

export default {
  title: "待评价",
  async render(el) {
    await load(el, async () => {
      const items = await pendingEvaluations();
      if (!items.length) return empty("没有待评价的活动");
      return h("div", { class: "cells", testid: "pending-list" }, items.map((a) =>
        h("a", { class: "cell", href: `#/evaluate/${a.id}`, testid: `pending-${a.id}` },
          h("span", {}, a.title, h("span", { class: "muted block-line" }, `结束于 ${fmtTime(a.ends_at)}`,
            a.closes_at ? ` · ${fmtTime(a.closes_at)} 前可评` : "")),
          h("span", { class: "muted" }, "去评价 ›"))));
    });
  },
};

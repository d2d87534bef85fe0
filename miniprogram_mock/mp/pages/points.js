// 积分: balance, totals, what expires when, and the statement (newest first).
import { api } from "../api.js";
import { empty, fmtDate, fmtTime, h, load, REASON_ZH } from "../ui.js";

export default {
  title: "我的积分",
  async render(el) {
    await load(el, async () => {
      const [summary, entries] = await Promise.all([
        api.get("/me/points"), api.get("/me/points/entries", { per_page: 50 })]);
      return [
        h("div", { class: "card center" },
          h("div", { class: "muted" }, "当前积分"),
          h("div", { class: "big-number", testid: "points-balance" }, summary.balance),
          h("div", { class: "muted" }, `累计获得 ${summary.earned_total} · 累计使用 ${summary.spent_total}`),
          summary.expiring.map((e) => h("div", { class: "muted" }, `${e.amount} 积分将于 ${fmtDate(e.on)} 过期`)),
          h("a", { class: "btn block", href: "#/gifts" }, "去积分超市")),
        h("div", { class: "section-title" }, "积分明细"),
        entries.items.length
          ? h("div", { class: "cells", testid: "statement" }, entries.items.map((e) =>
            h("div", { class: "cell" },
              h("div", {}, h("div", {}, REASON_ZH[e.reason] || e.reason),
                h("div", { class: "muted" }, fmtTime(e.created_at))),
              h("div", { class: "right" },
                h("div", { class: e.amount >= 0 ? "amount-plus" : "amount-minus" }, e.amount >= 0 ? `+${e.amount}` : e.amount),
                h("div", { class: "muted" }, `余额 ${e.balance_after}`)))))
          : empty("还没有积分记录"),
      ];
    });
  },
};

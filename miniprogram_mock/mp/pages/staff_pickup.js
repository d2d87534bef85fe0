// 礼品核销: staff hand out a reserved gift against its pickup code (typed or scanned), with
// the list of reservations waiting at the counter.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";
import { wx } from "../wx.js";
import { giftNames } from "./gifts.js";

export default {
  title: "礼品核销",
  async render(el, { info }) {
    const community = info.staffCommunity;
    const input = h("input", { placeholder: "输入居民出示的取货码", testid: "pickup-input", class: "code-text", "aria-label": "取货码" });
    const slot = h("div");
    const done = h("div", { testid: "pickup-done" });
    const waiting = h("div");
    let names = {};
    const reload = () => load(waiting, async () => {
      names = await giftNames(community);
      const page = await api.get(`/communities/${community}/redemptions`, { status: "reserved", per_page: 100 });
      if (!page.items.length) return empty("没有待领取的礼品");
      return h("div", { class: "cells" }, page.items.map((r) => h("div", { class: "cell" },
        h("div", {}, h("div", {}, `${r.real_name} · ${r.room}`),
          h("div", { class: "muted" }, `${names[r.gift_id] || "礼品"} × ${r.quantity} · ${fmtTime(r.expires_at)} 前`)),
        h("span", { class: "muted" }, r.pickup_code))));
    });
    const fulfil = async (act, code) => {
      done.replaceChildren();
      const redemption = await act.post("/redemptions/fulfil", { pickup_code: code.trim() });
      toast("核销成功");
      input.value = "";
      done.replaceChildren(h("div", { class: "card center" },
        h("div", { class: "big-number" }, "核销成功"),
        h("div", { class: "muted" }, `${names[redemption.gift_id] || "礼品"} × ${redemption.quantity} · ${redemption.points} 积分`)));
      await reload();
    };
    el.replaceChildren(h("div", { class: "card" }, input,
      actionButton("核销", (act) => fulfil(act, input.value), { slot, testid: "pickup-submit" }),
      actionButton("扫码核销", async (act) => fulfil(act, (await act.memo("scan", () => wx.scanCode({}))).result),
        { slot, className: "block secondary" }),
      slot), done, h("div", { class: "section-title" }, "待领取"), waiting);
    await reload();
  },
};

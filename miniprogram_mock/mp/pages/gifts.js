// 积分超市: the gift shelf of my community; redeeming reserves the gift and takes the points.
import { api } from "../api.js";
import { roleInfo } from "../app.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";

// Gift names by id (a redemption carries only the gift's id).
export async function giftNames(communityId) {
  const page = await api.get(`/communities/${communityId}/gifts`, { per_page: 100 });
  return Object.fromEntries(page.items.map((g) => [g.id, g.name]));
}

export function pickupCard(redemption, giftName) {
  return h("div", { class: "card center", testid: "pickup-card" },
    h("div", { class: "muted" }, `${giftName} × ${redemption.quantity}，已扣 ${redemption.points} 积分`),
    h("div", { class: "muted" }, "凭取货码到社区服务站领取"),
    h("div", { class: "big-number spaced", testid: "pickup-code" }, redemption.pickup_code),
    h("div", { class: "muted" }, `请于 ${fmtTime(redemption.expires_at)} 前领取`));
}

function giftCard(gift, redeemed) {
  const slot = h("div");
  const quantity = h("input", { type: "number", min: "1", value: "1", class: "narrow", testid: `quantity-${gift.id}`, "aria-label": `${gift.name}兑换数量` });
  const left = gift.stock_left;
  return h("div", { class: "card", testid: `gift-${gift.id}` },
    h("div", { class: "row" }, h("h3", {}, gift.name), h("span", { class: "amount-minus" }, `${gift.points_cost} 积分`)),
    gift.description ? h("p", { class: "muted tight" }, gift.description) : null,
    h("div", { class: "muted" }, `剩余 ${left}`, gift.per_user_limit ? ` · 每人限兑 ${gift.per_user_limit}` : ""),
    h("div", { class: "row" }, quantity,
      actionButton("兑换", async (act) => {
        const redemption = await act.post(`/gifts/${gift.id}/redemptions`, { quantity: Number(quantity.value) || 1 });
        toast("兑换成功");
        await redeemed(pickupCard(redemption, gift.name));
      }, { slot, className: "", testid: `redeem-${gift.id}` })),
    slot);
}

export default {
  title: "积分超市",
  async render(el) {
    const community = roleInfo().residentCommunity;
    if (!community) {
      el.replaceChildren(empty("请先在“我的”页面加入社区"));
      return;
    }
    const result = h("div", { testid: "redeem-result" });
    const balance = h("span", { class: "muted", testid: "shelf-balance" });
    const shelf = h("div");
    // After a redemption the points and the stock left have both changed: show them again.
    const refresh = () => Promise.all([
      api.get("/me/points").then((p) => { balance.textContent = `我的积分：${p.balance}`; }, () => {}),
      load(shelf, async () => {
        const page = await api.get(`/communities/${community}/gifts`, { per_page: 100 });
        return page.items.length ? page.items.map((g) => giftCard(g, redeemed)) : empty("货架上暂时没有礼品");
      }),
    ]);
    const redeemed = async (card) => {
      result.replaceChildren(card);
      await refresh();
      result.scrollIntoView?.();
    };
    el.replaceChildren(result,
      h("div", { class: "row" }, balance, h("a", { href: "#/redemptions", class: "link" }, "我的兑换 ›")),
      shelf);
    await refresh();
  },
};

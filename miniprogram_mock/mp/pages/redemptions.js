// 我的兑换: my reservations with pickup codes (and their QR for the counter's scanner);
// cancel one before pickup to get the points back.
import { api } from "../api.js";
import { roleInfo } from "../app.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";
import { giftNames } from "./gifts.js";

const STATUS_ZH = { reserved: "待领取", fulfilled: "已领取", cancelled: "已取消", expired: "已过期" };

function pickupQr(redemption) {
  const img = h("img", { alt: "取货二维码", class: "pickup-qr" });
  api.image(`/redemptions/${redemption.id}/pickup-code.png`).then((image) => { img.src = image.url; }, () => img.remove());
  return h("div", { class: "qr-box" }, img);
}

export default {
  title: "我的兑换",
  async render(el) {
    const reload = () => load(el, async () => {
      const [page, names] = await Promise.all([
        api.get("/me/redemptions", { per_page: 50 }), giftNames(roleInfo().residentCommunity)]);
      if (!page.items.length) return empty("还没有兑换记录");
      return page.items.map((r) => {
        const slot = h("div");
        return h("div", { class: "card", testid: `redemption-${r.id}` },
          h("div", { class: "row" }, h("h3", {}, `${names[r.gift_id] || "礼品"} × ${r.quantity}`),
            h("span", { class: `tag ${r.status === "reserved" ? "orange" : "grey"}`, testid: "redemption-status" }, STATUS_ZH[r.status] || r.status)),
          h("div", { class: "muted" }, `${r.points} 积分 · ${fmtTime(r.created_at)}`),
          r.status === "reserved" ? [
            h("div", {}, "取货码 ", h("b", { class: "code-text" }, r.pickup_code)),
            pickupQr(r),
            h("div", { class: "muted" }, `请于 ${fmtTime(r.expires_at)} 前领取`),
            actionButton("取消兑换", async (act) => {
              await act.post(`/redemptions/${r.id}/cancel`);
              toast("已取消，积分已退回");
              await reload();
            }, { slot, className: "block warn" }),
          ] : null,
          slot);
      });
    });
    await reload();
  },
};

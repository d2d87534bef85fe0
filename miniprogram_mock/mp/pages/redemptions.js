// 我的兑换: my reservations with pickup codes; cancel one before pickup to get the points back.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";

const STATUS_ZH = { reserved: "待领取", fulfilled: "已领取", cancelled: "已取消", expired: "已过期" };

export default {
  title: "我的兑换",
  async render(el) {
    const reload = () => load(el, async () => {
      const page = await api.get("/me/redemptions", { per_page: 50 });
      if (!page.items.length) return empty("还没有兑换记录");
      return page.items.map((r) => {
        const slot = h("div");
        return h("div", { class: "card", testid: `redemption-${r.id}` },
          h("div", { class: "row" }, h("h3", {}, r.gift_name || r.gift?.name || "礼品"),
            h("span", { class: `tag ${r.status === "reserved" ? "orange" : "grey"}` }, STATUS_ZH[r.status] || r.status)),
          h("div", { class: "muted" }, `${r.points} 积分 · ${fmtTime(r.created_at)}`),
          r.status === "reserved" ? [
            h("div", {}, "取货码 ", h("b", { style: "font-size:22px;letter-spacing:3px" }, r.pickup_code)),
            r.expires_at ? h("div", { class: "muted" }, `请于 ${fmtTime(r.expires_at)} 前领取`) : null,
            actionButton("取消兑换", async () => {
              await api.post(`/redemptions/${r.id}/cancel`);
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

// 礼品核销: staff hand out a reserved gift against its pickup code (typed or scanned).
import { api } from "../api.js";
import { actionButton, h, toast } from "../ui.js";
import { wx } from "../wx.js";

export default {
  title: "礼品核销",
  render(el) {
    const input = h("input", { placeholder: "输入居民出示的取货码", testid: "pickup-input", style: "font-size:22px;letter-spacing:3px" });
    const slot = h("div");
    const done = h("div", { testid: "pickup-done" });
    const fulfil = async (code) => {
      const redemption = await api.post("/redemptions/fulfil", { pickup_code: code.trim() });
      toast("核销成功");
      input.value = "";
      done.replaceChildren(h("div", { class: "card", style: "text-align:center" },
        h("div", { class: "big-number" }, "核销成功"),
        h("div", { class: "muted" }, `${redemption.gift_name || "礼品"} × ${redemption.quantity ?? 1} · ${redemption.points} 积分`)));
    };
    el.replaceChildren(h("div", { class: "card" }, input,
      actionButton("核销", () => { done.replaceChildren(); return fulfil(input.value); }, { slot, testid: "pickup-submit" }),
      actionButton("扫码核销", async () => {
        done.replaceChildren();
        const { result } = await wx.scanCode({});
        await fulfil(result);
      }, { slot, className: "block secondary" }),
      slot), done);
  },
};

// 值班积分: served shifts of the community's parking teams. A leader (or staff) signs a
// month off on the roster page; here staff approve what was signed off, and the points
// are credited. Nobody approves their own shift or one they signed off.
import { api } from "../api.js";
import { actionButton, empty, fmtDate, h, load, toast } from "../ui.js";

const STATUS_ZH = { completed: "已签到，待队长确认", confirmed: "待审核", approved: "已发放" };
const METHOD_ZH = { location: "岗亭定位签到", handover: "交接班签到" };

export default {
  title: "值班积分审批",
  async render(el, { info }) {
    const list = h("div");
    const slot = h("div");
    const boxes = [];
    const reload = () => load(list, async () => {
      boxes.length = 0;
      const page = await api.get(`/communities/${info.staffCommunity}/duty/shifts`,
        { status: "confirmed", per_page: 100 });
      if (!page.items.length) return empty("没有待审核的值班");
      return h("div", { class: "cells" }, page.items.map((s) => {
        const box = h("input", { type: "checkbox", class: "inline", value: s.id, testid: `duty-box-${s.id}` });
        box.checked = true;
        box.reviewed = { id: s.id, points: s.points_per_shift ?? 0 };
        boxes.push(box);
        return h("label", { class: "cell", testid: `duty-shift-${s.id}` },
          h("div", {}, h("div", {}, s.display_name),
            h("div", { class: "muted" }, `${fmtDate(s.date)} ${s.shift} · ${METHOD_ZH[s.checkin_method] || ""}`),
            h("div", { class: "muted" }, `${s.points_per_shift} 积分 · ${STATUS_ZH[s.status] || s.status}`)), box);
      }));
    });
    el.replaceChildren(h("p", { class: "muted" }, "队长确认过的值班在这里审核，审核通过后发放值班积分。"), list,
      actionButton("审核通过所选", async (act) => {
        const chosen = boxes.filter((b) => b.checked);
        if (!chosen.length) return toast("请选择要审核的值班");
        const approved = await act.post("/duty/approve", {
          ids: chosen.map((b) => Number(b.value)), reviewed: chosen.map((b) => b.reviewed) });
        const points = approved.items.reduce((sum, s) => sum + (s.points || 0), 0);
        toast(`已审核 ${chosen.length} 个班次，发放 ${points} 积分`);
        await reload();
      }, { slot, testid: "duty-approve-selected" }), slot);
    await reload();
  },
};

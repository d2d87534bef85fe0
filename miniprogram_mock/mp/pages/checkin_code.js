// 签到码: my live check-in QR for the leader to scan, and scanning an activity's poster
// code to check myself in where the team runs self-service check-in.
import { api } from "../api.js";
import { liveQr } from "../live_qr.js";
import { actionButton, h, toast } from "../ui.js";
import { wx } from "../wx.js";
import { RESULT_ZH } from "./leader_scan.js";

function selfCheckin(direction, slot) {
  return actionButton(direction === "in" ? "扫活动码签到" : "扫活动码签退", async (act) => {
    const { result } = await act.memo("scan", () => wx.scanCode({}));
    // The scan id is the action's: a retry after a dropped connection is the same scan.
    const answer = await api.post("/me/checkins", { code: result, direction, scan_id: act.key });
    const words = answer.result === "ok" ? (direction === "in" ? "签到成功" : "签退成功")
      : (RESULT_ZH[answer.result] || ["扫码失败"])[0];
    slot.replaceChildren(h("div", { class: `scan-result ${answer.result === "ok" ? "good" : "bad"}` }, words));
    toast(words);
  }, { slot, className: "secondary" });
}

export default {
  title: "我的签到码",
  async render(el, { onUnload, user }) {
    const qr = liveQr("/me/checkin-code", { onUnload, testid: "checkin-qr", alt: "签到二维码" });
    const slot = h("div");
    el.replaceChildren(
      h("div", { class: "card qr-box" },
        h("h2", {}, user?.nickname || ""),
        h("p", { class: "muted" }, "参加活动时向队长出示此码签到、签退"),
        qr.element,
        h("p", { class: "muted" }, "二维码会自动更新，截图转发给他人无效"),
        h("button", { class: "block secondary", onclick: qr.refresh }, "立即刷新")),
      h("div", { class: "card" }, h("p", { class: "muted" }, "活动现场有签到海报码时，可自己扫码："),
        h("div", { class: "row" }, selfCheckin("in", slot), selfCheckin("out", slot)), slot));
    await qr.refresh();
  },
};

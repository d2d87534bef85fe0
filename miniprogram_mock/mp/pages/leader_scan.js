// 扫码签到: the leader scans a resident's code (wx.scanCode: camera, photo or typed) and
// reads the answer in big words at arm's length; every scan carries its own scan_id.
import { api, newId } from "../api.js";
import { errorText, fmtTime, h, showError } from "../ui.js";
import { wx } from "../wx.js";

// SPEC §5's result vocabulary, as the leader at the door should read it.
export const RESULT_ZH = {
  ok: ["签到成功", "good"],
  already_in: ["已经签到过了", "warn"],
  already_out: ["已经签退过了", "warn"],
  not_checked_in: ["还没有签到，不能签退", "bad"],
  not_signed_up: ["未报名本活动", "bad"],
  invalid_code: ["无效的签到码", "bad"],
  expired_code: ["签到码已过期，请刷新", "bad"],
  outside_window: ["不在签到时间内", "bad"],
};

function resultWords(result, direction) {
  if (result === "ok") return [direction === "out" ? "签退成功" : "签到成功", "good"];
  return RESULT_ZH[result] || ["无法识别的结果", "bad"];
}

export default {
  title: "扫码签到",
  async render(el, { params, onUnload }) {
    let direction = "in";
    let continuous = false;
    let alive = true;
    onUnload(() => { alive = false; });
    const answer = h("div", { class: "scan-result", testid: "scan-result" }, "请扫码");
    const history = h("div", { class: "cells", testid: "scan-history" });
    const slot = h("div");
    const title = h("p", { class: "muted" });
    api.get(`/activities/${params.id}`).then((a) => { title.textContent = `${a.title} · ${fmtTime(a.starts_at)}`; }, () => {});

    const record = async (code) => {
      const response = await api.post(`/activities/${params.id}/scans`,
        { code, direction, scan_id: newId() });
      const [words, tone] = resultWords(response.result, direction);
      const name = response.resident?.display_name || "";
      answer.className = `scan-result ${tone}`;
      answer.dataset.result = response.result;
      answer.replaceChildren(words, name ? h("small", {}, name) : "");
      history.prepend(h("div", { class: "cell" }, h("span", {}, `${name || "—"}`),
        h("span", { class: "muted" }, `${words} · ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`)));
    };

    const scanOnce = async () => {
      slot.replaceChildren();
      let code;
      try {
        ({ result: code } = await wx.scanCode({ scanType: ["qrCode"] }));
      } catch {
        return false;  // closed the scanner
      }
      try {
        await record(code);
      } catch (error) {
        answer.className = "scan-result bad";
        answer.dataset.result = "";
        answer.replaceChildren(errorText(error));
        showError(slot, error);
      }
      return true;
    };

    const scanButton = h("button", { class: "block", testid: "scan-button", style: "font-size:20px;padding:16px" }, "扫一扫");
    scanButton.onclick = async () => {
      scanButton.disabled = true;
      try {
        while (await scanOnce() && continuous && alive) { /* the door is busy: scan the next one */ }
      } finally {
        scanButton.disabled = false;
      }
    };
    const toggle = (value, label) => h("button", {
      class: value === direction ? "" : "secondary", testid: `direction-${value}`,
      onclick: (e) => {
        direction = value;
        for (const b of e.target.parentNode.querySelectorAll("[data-testid^=direction]")) b.className = "secondary";
        e.target.className = "";
      },
    }, label);
    el.replaceChildren(
      title,
      h("div", { class: "row" }, toggle("in", "签到"), toggle("out", "签退"),
        h("label", { style: "white-space:nowrap" },
          h("input", { type: "checkbox", style: "width:auto", onchange: (e) => { continuous = e.target.checked; } }), " 连续扫码")),
      answer, scanButton, slot,
      h("a", { class: "btn secondary block", href: `#/leader/attendance/${params.id}` }, "查看考勤"),
      h("a", { class: "btn secondary block", href: `#/leader/poster/${params.id}` }, "显示自助签到海报码"),
      h("div", { class: "section-title" }, "本次扫码记录"), history);
  },
};

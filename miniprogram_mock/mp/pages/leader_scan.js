// 扫码签到: the leader scans a resident's code (wx.scanCode: camera, photo or typed) and
// reads the answer in big words at arm's length. The door (door.js) keeps working without
// network: it verifies codes on the phone, queues the scans and uploads them when the
// network is back, then shows where the server's answers differ from its own.
import { Door } from "../door.js";
import { errorText, fmtTime, h, showError } from "../ui.js";
import { api } from "../api.js";
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
  time_conflict: ["正在参加其他活动", "bad"],
  unverified: ["已记录，联网后核对", "warn"],
  upload_too_late: ["离线太久，未能上传", "bad"],
};

function resultWords(result, direction) {
  if (result === "ok") return [direction === "out" ? "签退成功" : "签到成功", "good"];
  return RESULT_ZH[result] || ["无法识别的结果", "bad"];
}

const clock = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

function banner(door) {
  if (door.online) {
    return h("p", { class: "muted", testid: "door-ready" }, door.kit
      ? `已备好离线名单（${door.kit.residents.length} 人），断网也能继续扫码` : "正在准备离线名单…");
  }
  return h("div", { class: "offline-banner", role: "alert", testid: "door-offline" },
    h("b", {}, "网络已断开，正在离线扫码"),
    h("div", {}, "签到码在本机核验，恢复网络后自动上传。"));
}

function differences(door) {
  if (!door.differences.length) return null;
  return h("div", { class: "card", testid: "door-differences" },
    h("h2", {}, "上传后与离线判断不同"),
    h("p", { class: "muted" }, "以服务器的结果为准："),
    door.differences.map((d) => h("div", { class: "cell", testid: "door-difference" },
      h("span", {}, `${d.name || "—"} · ${clock(d.scanned_at)}`),
      h("span", {}, `离线：${resultWords(d.offline, d.direction)[0]} → 实际：${resultWords(d.server, d.direction)[0]}`))),
    h("button", { class: "block secondary", onclick: () => door.clearDifferences() }, "知道了"));
}

export default {
  title: "扫码签到",
  async render(el, { params, onUnload }) {
    let direction = "in";
    let continuous = false;
    let alive = true;
    const answer = h("div", { class: "scan-result", testid: "scan-result", role: "status" }, "请扫码");
    const history = h("div", { class: "cells", testid: "scan-history" });
    const slot = h("div");
    const title = h("p", { class: "muted" });
    const status = h("div");
    const queued = h("p", { class: "muted", testid: "door-queue" });
    const uploadSlot = h("div");
    const diff = h("div");
    const uploadButton = h("button", { class: "block secondary", testid: "door-upload" }, "立即上传");

    const door = new Door(Number(params.id), () => {
      status.replaceChildren(banner(door));
      queued.textContent = door.queue.length ? `待上传 ${door.queue.length} 条` : "";
      uploadButton.hidden = !door.queue.length;
      diff.replaceChildren(differences(door) || "");
      uploadSlot.replaceChildren(door.lastError ? h("div", { class: "error", role: "alert" }, errorText(door.lastError)) : "");
    });
    door.onChange(door);
    uploadButton.onclick = () => door.upload();
    // Back online by itself: when the browser says so, and every 15 s while scans wait.
    const retry = () => { if (!door.online || door.queue.length) door.upload(); };
    window.addEventListener("online", retry);
    const timer = setInterval(retry, 15000);
    onUnload(() => { alive = false; clearInterval(timer); window.removeEventListener("online", retry); });
    api.get(`/activities/${params.id}`).then((a) => { title.textContent = `${a.title} · ${fmtTime(a.starts_at)}`; }, () => {});
    if (door.queue.length) door.upload(); else door.refreshKit();

    const record = async (code) => {
      const response = await door.scan(code, direction);
      const [words, tone] = resultWords(response.result, direction);
      const name = response.resident?.display_name || "";
      answer.className = `scan-result ${tone}`;
      answer.dataset.result = response.result;
      answer.dataset.offline = String(response.offline);
      answer.replaceChildren(words, name ? h("small", {}, name) : "", response.offline ? h("small", {}, "离线判断") : "");
      history.prepend(h("div", { class: "cell" }, h("span", {}, `${name || "—"}`),
        h("span", { class: "muted" }, `${words}${response.offline ? "（离线）" : ""} · ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`)));
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

    const scanButton = h("button", { class: "block big", testid: "scan-button" }, "扫一扫");
    scanButton.onclick = async () => {
      scanButton.disabled = true;
      try {
        while (await scanOnce() && continuous && alive) { /* the door is busy: scan the next one */ }
      } finally {
        scanButton.disabled = false;
      }
    };
    const toggle = (value, label) => h("button", {
      class: value === direction ? "" : "secondary", testid: `direction-${value}`, "aria-pressed": String(value === direction),
      onclick: (e) => {
        direction = value;
        for (const b of e.target.parentNode.querySelectorAll("[data-testid^=direction]")) {
          b.className = "secondary";
          b.setAttribute("aria-pressed", "false");
        }
        e.target.className = "";
        e.target.setAttribute("aria-pressed", "true");
      },
    }, label);
    el.replaceChildren(
      title, status,
      h("div", { class: "row" }, toggle("in", "签到"), toggle("out", "签退"),
        h("label", { class: "inline-check" },
          h("input", { type: "checkbox", class: "inline", onchange: (e) => { continuous = e.target.checked; } }), " 连续扫码")),
      answer, scanButton, slot, queued, uploadButton, uploadSlot, diff,
      h("a", { class: "btn secondary block", href: `#/leader/attendance/${params.id}` }, "查看考勤"),
      h("a", { class: "btn secondary block", href: `#/leader/poster/${params.id}` }, "显示自助签到海报码"),
      h("h2", { class: "section-title" }, "本次扫码记录"), history);
  },
};

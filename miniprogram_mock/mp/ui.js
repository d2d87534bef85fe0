// DOM helpers shared by the pages: element builder, error box, times in community time.
import { api, ApiError, newId } from "./api.js";
import { h } from "./dom.js";
import { wx } from "./wx.js";

export { h };

// Whatever went wrong, the user reads Chinese: the envelope's message, or a plain sentence.
export function errorText(error) {
  if (!(error instanceof ApiError)) return "系统繁忙，请稍后再试";
  // A 422 names the fields; pass on the field messages written in Chinese (marshmallow's
  // own English defaults stay out of sight).
  const fields = Object.values(error.details?.fields || {}).flat(Infinity)
    .filter((m) => typeof m === "string" && /[\u4e00-\u9fff]/.test(m));
  return fields.length ? `${error.message}：${[...new Set(fields)].join("；")}` : error.message;
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert", testid: "error" }, errorText(error));
}

// 大字模式: every size is in rem, so one class on <html> scales all pages; remembered.
export function largeText() { return wx.getStorageSync("large_text") === true; }
export function setLargeText(on) {
  wx.setStorageSync("large_text", Boolean(on));
  document.documentElement.classList.toggle("large-text", Boolean(on));
}

export function toast(text) { wx.showToast({ title: text, icon: "none" }); }

// Show a refusal inline in `slot` (an element emptied first) and as a toast.
export function showError(slot, error) {
  if (/cancel/.test(error?.errMsg || "")) return;  // the user closed the scanner: no refusal
  if (slot) slot.replaceChildren(errorBox(error));
  toast(errorText(error));
}

const TZ = "Asia/Shanghai";
export function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("zh-CN", {
    timeZone: TZ, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false,
  });
}
export function fmtDate(iso) {
  if (!iso) return "";
  return new Date(iso.length === 10 ? `${iso}T00:00:00+08:00` : iso)
    .toLocaleDateString("zh-CN", { timeZone: TZ, year: "numeric", month: "numeric", day: "numeric" });
}
export function todayLocal(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return d.toLocaleDateString("sv-SE", { timeZone: TZ });  // YYYY-MM-DD
}

export function empty(text) { return h("p", { class: "empty" }, text); }

export function cell(label, value, href, attrs = {}) {
  return h(href ? "a" : "div", { class: "cell", href, ...attrs }, h("span", {}, label),
    h("span", { class: "muted" }, value ?? "", href ? " ›" : ""));
}

// Render a page's async content into `el`, showing the refusal if loading fails.
export async function load(el, build) {
  el.replaceChildren(h("p", { class: "muted" }, "加载中…"));
  try {
    const content = await build();
    el.replaceChildren(...[content].flat().filter(Boolean));
  } catch (error) {
    el.replaceChildren(errorBox(error));
  }
}

// A button that runs one user action, disabled meanwhile; a refusal lands in `slot`.
// The action gets an `Idempotency-Key` of its own (`act.key`, and `act.post`, which sends
// it: SPEC §2). When the network drops, the slot offers 重试, which runs the same action
// again with the same key, so a request that did reach the server is not done twice; the
// next tap of the button is a new action with a new key.
export function actionButton(text, action, { slot, className = "block", testid } = {}) {
  const button = h("button", { class: className, testid }, text);
  const attempt = async (act) => {
    button.disabled = true;
    try {
      if (slot) slot.replaceChildren();
      await action(act);
    } catch (error) {
      if (error instanceof ApiError && error.code === "network" && slot) offerRetry(slot, error, () => attempt(act.again()));
      else showError(slot, error);
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", () => attempt(userAction()));
  return button;
}

// One user action: its key, and the keys of its POSTs (`<key>`, `<key>.2`, … in the order
// the action makes them, the same again on a retry). `memo` keeps what the action asked the
// user or the phone for (a scanned code, the location), so a retry sends the same body.
export function userAction(key = newId(), memos = new Map()) {
  let count = 0;
  return {
    key,
    post(path, data) {
      count += 1;
      return api.post(path, data, { idempotencyKey: count === 1 ? key : `${key}.${count}` });
    },
    async memo(name, get) {
      if (!memos.has(name)) memos.set(name, await get());
      return memos.get(name);
    },
    again: () => userAction(key, memos),
  };
}

function offerRetry(slot, error, retry) {
  const button = h("button", { class: "secondary", testid: "retry" }, "重试");
  button.addEventListener("click", () => { slot.replaceChildren(); retry(); });
  slot.replaceChildren(h("div", { class: "error retry", role: "alert", testid: "error" },
    h("span", {}, errorText(error)), button));
  toast(errorText(error));
}

export const REASON_ZH = {
  service: "志愿服务", duty: "值班", redeem: "兑换礼品", refund: "兑换退回",
  expire: "积分过期", adjust: "人工调整",
};

// DOM helpers shared by the pages: element builder, error box, times in community time.
import { ApiError } from "./api.js";
import { wx } from "./wx.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "class") el.className = value;
    else if (name === "testid") el.setAttribute("data-testid", value);
    else if (name === "html") el.innerHTML = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

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

// A button that runs `action`, disabled meanwhile; a refusal lands in `slot`.
export function actionButton(text, action, { slot, className = "block", testid } = {}) {
  const button = h("button", { class: className, testid }, text);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (slot) slot.replaceChildren();
      await action();
    } catch (error) {
      showError(slot, error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export const REASON_ZH = {
  service: "志愿服务", duty: "值班", redeem: "兑换礼品", refund: "兑换退回",
  expire: "积分过期", adjust: "人工调整",
};

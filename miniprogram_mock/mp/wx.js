// A small stand-in for the WeChat client's `wx` object, so that page code reads like
// mini-program code. Each call takes WeChat's `success`/`fail`/`complete` callbacks and
// also returns a promise (as the newer base libraries do). The mock WeChat platform
// (`config.wechat_api_base`) plays the part WeChat plays on the phone: login codes and
// subscription grants.

import { h } from "./dom.js";

let config = { wechat_api_base: "http://127.0.0.1:8001", api_base: "/api/v1" };

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  config = { ...config, ...(await response.json()) };
  return config;
}

function wrap(name, run) {
  return (options = {}) => {
    const promise = run(options).then(
      (result) => { options.success?.(result); options.complete?.(result); return result; },
      (error) => {
        const failure = { errMsg: `${name}:fail ${error?.errMsg || error?.message || ""}`.trim(), ...error };
        options.fail?.(failure); options.complete?.(failure);
        throw failure;
      });
    if (options.success || options.fail) promise.catch(() => {});
    return promise;
  };
}

// --- storage: wx.setStorageSync / getStorageSync / removeStorageSync -----------------
const PREFIX = "wx:";
function setStorageSync(key, value) { localStorage.setItem(PREFIX + key, JSON.stringify(value)); }
function getStorageSync(key) {
  const raw = localStorage.getItem(PREFIX + key);
  if (raw === null) return "";  // WeChat returns "" for a missing key
  try { return JSON.parse(raw); } catch { return ""; }
}
function removeStorageSync(key) { localStorage.removeItem(PREFIX + key); }

// --- wx.login: the WeChat account on this "phone" is whichever demo openid was picked ---
const ACCOUNT_KEY = "__mock_wechat_openid";
function setMockAccount(openid) { setStorageSync(ACCOUNT_KEY, openid); }
function mockAccount() { return getStorageSync(ACCOUNT_KEY); }

const login = wrap("login", async () => {
  const openid = mockAccount();
  if (!openid) throw { errMsg: "no account" };
  const response = await fetch(`${config.wechat_api_base}/_mock/login-code`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ openid }),
  });
  const body = await response.json();
  if (!response.ok || !body.code) throw { errMsg: "no code" };
  return { code: body.code, errMsg: "login:ok" };
});

// --- wx.request: HTTP errors are a success with statusCode, as in WeChat ---------------
const request = wrap("request", async ({ url, method = "GET", data, header = {}, responseType = "text" }) => {
  const headers = { ...header };
  let body;
  let target = url.startsWith("/") || url.startsWith("http") ? url : `${config.api_base}/${url}`;
  if (data !== undefined && method === "GET") {
    const query = new URLSearchParams(Object.entries(data).filter(([, v]) => v !== undefined && v !== null));
    target += (target.includes("?") ? "&" : "?") + query;
  } else if (data !== undefined) {
    headers["Content-Type"] = headers["Content-Type"] || "application/json";
    body = JSON.stringify(data);
  }
  let response;
  try {
    response = await fetch(target, { method, headers, body });
  } catch {
    throw { errMsg: "network" };
  }
  const headerOut = Object.fromEntries(response.headers.entries());
  let payload;
  if (responseType === "arraybuffer") {
    payload = await response.arrayBuffer();
  } else {
    const text = await response.text();
    try { payload = text ? JSON.parse(text) : ""; } catch { payload = text; }
  }
  return { statusCode: response.status, data: payload, header: headerOut, errMsg: "request:ok" };
});

// --- wx.scanCode: camera (getUserMedia + jsQR), a photo, or typing the code ------------
function decodeImageData(imageData, inversion = "attemptBoth") {
  const found = window.jsQR(imageData.data, imageData.width, imageData.height,
    { inversionAttempts: inversion });
  return found ? found.data : null;
}

async function decodePhoto(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, 1200 / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return decodeImageData(ctx.getImageData(0, 0, canvas.width, canvas.height));
}

function scannerOverlay() {
  const root = h("div", { class: "scanner", testid: "scanner", role: "dialog", "aria-modal": "true",
    "aria-label": "扫码" },
    h("video", { playsinline: true, muted: true }),
    h("p", { class: "hint", "data-role": "hint", role: "status" }, "将二维码放入框内，即可自动扫描"),
    h("div", { class: "actions" },
      h("label", { class: "btn secondary block" }, "从相册选择 / 拍照",
        h("input", { type: "file", accept: "image/*", capture: "environment", "data-role": "photo", hidden: true })),
      h("input", { type: "text", "data-role": "manual", placeholder: "或手动输入签到码", "aria-label": "手动输入签到码" }),
      h("button", { class: "block", "data-role": "manual-ok" }, "确定"),
      h("button", { class: "block secondary", "data-role": "cancel" }, "取消")));
  document.body.appendChild(root);
  return root;
}

const scanCode = wrap("scanCode", () => new Promise((resolve, reject) => {
  const overlay = scannerOverlay();
  const video = overlay.querySelector("video");
  const hint = overlay.querySelector('[data-role="hint"]');
  const canvas = document.createElement("canvas");
  let stream = null;
  let done = false;

  const finish = (result, error) => {
    if (done) return;
    done = true;
    stream?.getTracks().forEach((track) => track.stop());
    overlay.remove();
    if (error) reject(error);
    else resolve({ result, scanType: "QR_CODE", charSet: "utf-8", errMsg: "scanCode:ok" });
  };

  const tick = () => {
    if (done) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      ctx.drawImage(video, 0, 0);
      const text = decodeImageData(ctx.getImageData(0, 0, canvas.width, canvas.height), "dontInvert");
      if (text) return finish(text);
    }
    requestAnimationFrame(tick);
  };

  overlay.querySelector('[data-role="cancel"]').onclick = () => finish(null, { errMsg: "cancel" });
  overlay.querySelector('[data-role="manual-ok"]').onclick = () => {
    const text = overlay.querySelector('[data-role="manual"]').value.trim();
    if (text) finish(text); else hint.textContent = "请输入签到码";
  };
  overlay.querySelector('[data-role="photo"]').onchange = async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    hint.textContent = "正在识别…";
    try {
      const text = await decodePhoto(file);
      if (text) finish(text); else hint.textContent = "未识别到二维码，请重新拍照或手动输入";
    } catch {
      hint.textContent = "图片无法读取，请重新选择";
    }
  };

  if (!navigator.mediaDevices?.getUserMedia) {
    hint.textContent = "无法使用摄像头，请拍照或手动输入";
    return;
  }
  navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
    .then((media) => {
      if (done) { media.getTracks().forEach((track) => track.stop()); return; }
      stream = media;
      video.srcObject = media;
      return video.play().then(() => requestAnimationFrame(tick));
    })
    .catch(() => { hint.textContent = "无法打开摄像头，请拍照或手动输入"; });
}));

// --- wx.requestSubscribeMessage: the user ticks which notices they allow -------------
const requestSubscribeMessage = wrap("requestSubscribeMessage", ({ tmplIds = [], titles = {} }) =>
  new Promise((resolve) => {
    const boxes = tmplIds.map((id) => h("input", { type: "checkbox", value: id, checked: true, class: "inline" }));
    const overlay = h("div", { class: "scanner", testid: "subscribe-dialog", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "subscribe-title" },
      h("div", { class: "card dialog" },
        h("h2", { id: "subscribe-title" }, "“邻里”申请向你发送以下通知"),
        h("div", { class: "cells" }, tmplIds.map((id, i) => h("label", { class: "cell" },
          h("span", {}, titles[id] || id), boxes[i]))),
        h("button", { class: "block", "data-role": "allow" }, "允许"),
        h("button", { class: "block secondary", "data-role": "deny" }, "取消")));
    document.body.appendChild(overlay);
    const answer = async (allow) => {
      const result = { errMsg: "requestSubscribeMessage:ok" };
      for (const box of overlay.querySelectorAll("input[type=checkbox]")) {
        result[box.value] = allow && box.checked ? "accept" : "reject";
      }
      overlay.remove();
      for (const id of tmplIds.filter((t) => result[t] === "accept")) {
        // WeChat records the grant on its side; the mock keeps it for subscribe/send.
        await fetch(`${config.wechat_api_base}/_mock/subscribe`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ openid: mockAccount(), template_id: id }),
        }).catch(() => {});
      }
      resolve(result);
    };
    overlay.querySelector('[data-role="allow"]').onclick = () => answer(true);
    overlay.querySelector('[data-role="deny"]').onclick = () => answer(false);
  }));

// --- small UI calls -------------------------------------------------------------------
let toastTimer;
function showToast({ title, duration = 2000 }) {
  const toast = document.getElementById("toast");
  toast.textContent = title;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { toast.hidden = true; }, duration);
  return Promise.resolve({ errMsg: "showToast:ok" });
}

// --- wx.getLocation: the phone's position (WGS-84), which duty check-in sends -----------
// WeChat asks the user once (scope.userLocation); the browser's geolocation prompt plays it.
const getLocation = wrap("getLocation", ({ type = "wgs84" } = {}) => new Promise((resolve, reject) => {
  if (!navigator.geolocation) return reject({ errMsg: "unsupported" });
  navigator.geolocation.getCurrentPosition(
    ({ coords }) => resolve({ latitude: coords.latitude, longitude: coords.longitude,
      accuracy: coords.accuracy, type, errMsg: "getLocation:ok" }),
    (error) => reject({ errMsg: error.code === 1 ? "auth deny" : "location unavailable" }),
    { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
}));

export const wx = {
  login, request, scanCode, requestSubscribeMessage, showToast, getLocation,
  setStorageSync, getStorageSync, removeStorageSync,
  // Not WeChat's: the demo's "which WeChat account is on this phone".
  setMockAccount, mockAccount,
};
window.wx = wx;

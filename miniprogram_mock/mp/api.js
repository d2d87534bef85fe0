// The API through wx.request: bearer token, Idempotency-Key, and SPEC §2's error envelope
// turned into an ApiError whose message is the envelope's Chinese text.
import { wx } from "./wx.js";

const GENERIC = {
  401: "请先登录", 403: "没有权限执行此操作", 404: "找不到该记录", 429: "操作太频繁，请稍后再试",
  503: "服务暂时不可用，请稍后再试",
};

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function session() { return wx.getStorageSync("session") || null; }
export function saveSession(value) { wx.setStorageSync("session", value); }
export function clearSession() { wx.removeStorageSync("session"); }

let onUnauthenticated = () => {};
export function whenLoggedOut(handler) { onUnauthenticated = handler; }

function refusal(status, data) {
  const error = data && typeof data === "object" ? data.error : null;
  if (error && typeof error.message === "string") {
    return new ApiError(status, error.code, error.message, error.details || {});
  }
  return new ApiError(status, "http_error", GENERIC[status] || "系统繁忙，请稍后再试");
}

async function call(method, path, { data, idempotencyKey, responseType } = {}) {
  const header = {};
  const token = session()?.token;
  if (token) header.Authorization = `Bearer ${token}`;
  if (idempotencyKey) header["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await wx.request({ url: `/api/v1${path}`, method, data, header, responseType });
  } catch {
    throw new ApiError(0, "network", "网络异常，请检查网络后重试");
  }
  if (response.statusCode >= 400) {
    const error = refusal(response.statusCode, responseType === "arraybuffer" ? null : response.data);
    if (response.statusCode === 401 && token) onUnauthenticated(error);
    throw error;
  }
  return response;
}

export const api = {
  get: async (path, query) => (await call("GET", path, { data: query })).data,
  // A POST that creates something carries its user action's Idempotency-Key (ui.js
  // `userAction`): minted once per tap and sent again, unchanged, on a retry.
  post: async (path, data, { idempotencyKey } = {}) =>
    (await call("POST", path, { data, idempotencyKey })).data,
  put: async (path, data) => (await call("PUT", path, { data })).data,
  patch: async (path, data) => (await call("PATCH", path, { data })).data,
  del: async (path) => (await call("DELETE", path)).data,
  image: async (path) => {
    const response = await call("GET", path, { responseType: "arraybuffer" });
    const type = response.header["content-type"] || "image/png";
    return { url: URL.createObjectURL(new Blob([response.data], { type })), header: response.header };
  },
};

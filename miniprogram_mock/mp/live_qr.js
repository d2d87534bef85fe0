// A QR image from the API that is fetched again every `refresh_in_s` (check-in codes live
// for about a minute): used for my check-in code and for an activity's poster code.
import { api } from "./api.js";
import { errorBox, h } from "./ui.js";

export function liveQr(path, { onUnload, testid = "live-qr", alt = "二维码" }) {
  const img = h("img", { alt, testid });
  const countdown = h("p", { class: "muted", testid: `${testid}-countdown` });
  const slot = h("div");
  let timer = null;
  let objectUrl = null;
  let refreshAt = 0;

  const refresh = async () => {
    clearTimeout(timer);
    try {
      const info = await api.get(path);
      const image = await api.image(`${path}.png`);
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = image.url;
      img.src = objectUrl;
      slot.replaceChildren();
      const seconds = Math.max(5, Number(info.refresh_in_s) || 30);
      refreshAt = Date.now() + seconds * 1000;
      timer = setTimeout(refresh, seconds * 1000);
    } catch (error) {
      slot.replaceChildren(errorBox(error));
      refreshAt = Date.now() + 10000;
      timer = setTimeout(refresh, 10000);  // try again shortly: the door will not wait
    }
  };
  const ticker = setInterval(() => {
    countdown.textContent = `${Math.max(0, Math.ceil((refreshAt - Date.now()) / 1000))} 秒后自动刷新`;
  }, 500);
  onUnload(() => { clearTimeout(timer); clearInterval(ticker); if (objectUrl) URL.revokeObjectURL(objectUrl); });
  return { element: h("div", { class: "qr-box" }, img, countdown, slot), refresh };
}

// 签到码: my live check-in QR (GET /me/checkin-code.png), fetched again every refresh_in_s.
import { api } from "../api.js";
import { errorBox, h } from "../ui.js";

export default {
  title: "我的签到码",
  async render(el, { onUnload, user }) {
    const img = h("img", { alt: "签到二维码", testid: "checkin-qr" });
    const countdown = h("p", { class: "muted", testid: "checkin-countdown" });
    const slot = h("div");
    let timer = null;
    let ticker = null;
    let objectUrl = null;
    let refreshAt = 0;

    const refresh = async () => {
      clearTimeout(timer);
      try {
        const info = await api.get("/me/checkin-code");
        const image = await api.image("/me/checkin-code.png");
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = image.url;
        img.src = objectUrl;
        img.dataset.expiresAt = info.expires_at;
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
    ticker = setInterval(() => {
      countdown.textContent = `${Math.max(0, Math.ceil((refreshAt - Date.now()) / 1000))} 秒后自动刷新`;
    }, 500);
    onUnload(() => { clearTimeout(timer); clearInterval(ticker); if (objectUrl) URL.revokeObjectURL(objectUrl); });

    el.replaceChildren(h("div", { class: "card qr-box" },
      h("h2", {}, user?.nickname || ""),
      h("p", { class: "muted" }, "参加活动时向队长出示此码签到、签退"),
      img, countdown,
      h("p", { class: "muted" }, "二维码会自动更新，截图转发给他人无效"),
      h("button", { class: "block secondary", onclick: refresh }, "立即刷新"),
      slot));
    await refresh();
  },
};

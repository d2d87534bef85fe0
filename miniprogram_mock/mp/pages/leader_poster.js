// 自助签到海报码: the activity's rotating code on a screen at the venue; residents scan it
// from their own phones (POST /me/checkins).
import { api } from "../api.js";
import { liveQr } from "../live_qr.js";
import { fmtTime, h } from "../ui.js";

export default {
  title: "自助签到海报码",
  async render(el, { params, onUnload }) {
    const qr = liveQr(`/activities/${params.id}/poster-code`, { onUnload, testid: "poster-qr", alt: "活动签到码" });
    const title = h("h2");
    api.get(`/activities/${params.id}`).then((a) => { title.textContent = `${a.title} · ${fmtTime(a.starts_at)}`; }, () => {});
    el.replaceChildren(h("div", { class: "card qr-box" }, title,
      h("p", { class: "muted" }, "请用“邻里”扫描此码签到或签退"), qr.element));
    await qr.refresh();
  },
};

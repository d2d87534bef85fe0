// 消息: the in-app inbox, and asking for subscribe-message grants.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";
import { wx } from "../wx.js";
import { pendingEvaluations } from "./evaluations_pending.js";

// wx.requestSubscribeMessage for these template keys, then tell the backend what was accepted.
export async function subscribeTo(act, keys) {
  const templates = (await api.get("/notifications/templates")).items.filter((t) => keys.includes(t.key));
  const tmplIds = templates.map((t) => t.template_id);
  const titles = Object.fromEntries(templates.map((t) => [t.template_id, t.title]));
  const answer = await act.memo("answer", () => wx.requestSubscribeMessage({ tmplIds, titles }));
  const accepted = tmplIds.filter((id) => answer[id] === "accept");
  if (!accepted.length) return toast("未订阅任何通知");
  await act.post("/me/subscriptions", { template_ids: accepted });
  toast(`已订阅 ${accepted.length} 条通知`);
}

const ALL_KEYS = ["signup_confirmed", "waitlist_promoted", "activity_reminder", "activity_cancelled",
  "points_credited", "gift_ready", "roster_published", "shift_reminder", "swap_request"];

// The page a §9a notice opens: the need it is about, or the activity to rate.
function noticeLink(n) {
  if (n.template_key === "need_update" && n.data?.need_id) return [`#/need/${n.data.need_id}`, "查看需求"];
  if (n.template_key === "evaluation_invite" && n.data?.activity_id) return [`#/evaluate/${n.data.activity_id}`, "去评价"];
  return null;
}

function notice(n, reload) {
  const link = noticeLink(n);
  const body = h("div", { class: `card${n.read_at ? " read" : ""}`, testid: `notice-${n.id}` },
    h("div", { class: "row" }, h("h3", {}, n.title), n.read_at ? null : h("span", { class: "tag red" }, "未读")),
    h("p", { class: "tight" }, n.body),
    h("div", { class: "row" }, h("span", { class: "muted" }, fmtTime(n.created_at)),
      link ? h("a", { href: link[0], testid: `notice-link-${n.id}` }, `${link[1]} ›`) : null));
  if (!n.read_at) {
    body.addEventListener("click", async () => {
      await api.post(`/me/notifications/${n.id}/read`).catch(() => {});
      reload();
    });
  }
  return body;
}

export default {
  title: "消息",
  async render(el, { info }) {
    const list = h("div");
    const slot = h("div");
    // 民事民评: activities I attended and may still rate, first thing in the inbox.
    const pending = h("div");
    if (info.residentCommunity) {
      pendingEvaluations().then((items) => {
        if (!items.length) return;
        pending.replaceChildren(h("a", { class: "card card-link", href: "#/evaluations/pending", testid: "inbox-pending-evaluations" },
          h("div", { class: "row" }, h("h3", {}, "待评价的活动"), h("span", { class: "tag orange" }, `${items.length} 个`)),
          h("div", { class: "muted" }, items.slice(0, 3).map((a) => a.title).join("、"), " ›")));
      }, () => {});
    }
    const reload = () => load(list, async () => {
      const page = await api.get("/me/notifications", { per_page: 50 });
      return page.items.length ? page.items.map((n) => notice(n, reload)) : empty("还没有消息");
    });
    el.replaceChildren(
      actionButton("订阅消息通知", (act) => subscribeTo(act, ALL_KEYS), { slot, className: "block secondary", testid: "subscribe-all" }),
      slot, pending, list);
    await reload();
  },
};

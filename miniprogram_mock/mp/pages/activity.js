// Activity detail: sign up (a seat or a waitlist place), see my position, cancel.
import { api } from "../api.js";
import { actionButton, errorBox, fmtTime, h, toast } from "../ui.js";
import { ACTIVITY_ZH } from "./activities.js";
import { subscribeTo } from "./inbox.js";
import { summaryLine } from "./voice.js";

// After the end: the activity's rating, and 去评价 for whoever may rate it (the server decides).
async function evaluationCard(a, canRate) {
  if (!a.ends_at || new Date(a.ends_at) > new Date()) return null;
  const summary = await api.get(`/activities/${a.id}/evaluations/summary`).catch(() => null);
  return h("div", { class: "card", testid: "activity-evaluation" }, h("h3", {}, "活动评价"),
    summary ? summaryLine(summary, "activity-evaluation-summary") : null,
    canRate ? h("a", { class: "btn block", href: `#/evaluate/${a.id}`, testid: "evaluate" }, "去评价") : null);
}

function myStatus(signup) {
  if (!signup || signup.status === "cancelled") return h("p", { class: "muted", testid: "my-signup" }, "你还没有报名");
  if (signup.status === "waitlisted") {
    return h("p", { class: "big-number status-line waitlisted", testid: "my-signup" },
      `名额已满，你在候补第 ${signup.waitlist_position} 位`);
  }
  if (signup.status === "confirmed") return h("p", { class: "big-number status-line", testid: "my-signup" }, "报名成功");
  return h("p", { testid: "my-signup" }, "你未到场（记为缺席）");
}

export default {
  title: "活动详情",
  async render(el, { params, info }) {
    const slot = h("div");
    const show = async () => {
      let a;
      try {
        a = await api.get(`/activities/${params.id}`);
      } catch (error) {
        el.replaceChildren(errorBox(error));
        return;
      }
      const evaluation = await evaluationCard(a, Boolean(info.residentCommunity));
      const holding = a.my_signup && ["confirmed", "waitlisted"].includes(a.my_signup.status);
      el.replaceChildren(
        h("div", { class: "card" },
          h("h2", { testid: "activity-title" }, a.title),
          h("p", {}, a.description),
          h("div", { class: "muted" }, `时间：${fmtTime(a.starts_at)} – ${fmtTime(a.ends_at)}`),
          h("div", { class: "muted" }, `地点：${a.location || "待定"}`),
          h("div", { class: "muted" }, `名额：已报名 ${a.confirmed_count}/${a.capacity}，候补 ${a.waitlist_count} 人`),
          a.signup_closes_at ? h("div", { class: "muted" }, `报名截止：${fmtTime(a.signup_closes_at)}`) : null,
          a.cancel_deadline ? h("div", { class: "muted" }, `取消截止：${fmtTime(a.cancel_deadline)}`) : null,
          a.points_per_hour != null ? h("div", { class: "muted" }, `每小时 ${a.points_per_hour} 积分`) : null,
          a.status !== "published" ? h("span", { class: "tag grey" }, ACTIVITY_ZH[a.status] || a.status) : null),
        h("div", { class: "card" }, myStatus(a.my_signup),
          holding
            ? actionButton("取消报名", async () => {
              await api.del(`/activities/${a.id}/signups/me`);
              toast("已取消报名");
              await show();
            }, { slot, className: "block warn", testid: "cancel-signup" })
            : actionButton(a.confirmed_count >= a.capacity ? "加入候补" : "我要报名", async (act) => {
              const signup = await act.post(`/activities/${a.id}/signups`);
              toast(signup.status === "waitlisted" ? `已加入候补，第 ${signup.waitlist_position} 位` : "报名成功");
              await show();
            }, { slot, testid: "signup" }),
          actionButton("订阅活动提醒", (act) => subscribeTo(act, 
            ["signup_confirmed", "waitlist_promoted", "activity_reminder", "activity_cancelled"]),
          { slot, className: "block secondary", testid: "subscribe" }),
          slot),
        evaluation);
    };
    await show();
  },
};

// 活动: the activities of my community, soonest first, with my sign-up on each.
import { api } from "../api.js";
import { empty, fmtTime, h, load } from "../ui.js";

export const SIGNUP_ZH = { confirmed: "已报名", waitlisted: "候补中", cancelled: "已取消", no_show: "缺席" };
export const ACTIVITY_ZH = { draft: "草稿", published: "报名中", cancelled: "已取消" };

export function signupTag(signup) {
  if (!signup) return null;
  const text = signup.status === "waitlisted"
    ? `候补第 ${signup.waitlist_position} 位` : SIGNUP_ZH[signup.status] || signup.status;
  return h("span", { class: `tag ${signup.status === "waitlisted" ? "orange" : ""}` }, text);
}

export function activityCard(activity, href) {
  const full = activity.confirmed_count >= activity.capacity;
  return h("a", { class: "card card-link", href,
    testid: `activity-${activity.id}` },
    h("div", { class: "row" }, h("h3", {}, activity.title), signupTag(activity.my_signup)),
    h("div", { class: "muted" }, `${fmtTime(activity.starts_at)} · ${activity.location || "地点待定"}`),
    h("div", { class: "muted" }, `已报名 ${activity.confirmed_count}/${activity.capacity}`,
      activity.waitlist_count ? ` · 候补 ${activity.waitlist_count} 人` : "",
      full ? " · 名额已满" : "",
      activity.status !== "published" ? ` · ${ACTIVITY_ZH[activity.status] || activity.status}` : ""));
}

export default {
  title: "社区活动",
  async render(el, { info }) {
    // 民意 · 待评价 · 公示: the residents' voice, one tap from the first page.
    const voice = info.residentCommunity ? h("nav", { class: "row quick-links", "aria-label": "民意入口" },
      h("a", { class: "btn secondary", href: "#/needs", testid: "quick-needs" }, "民意"),
      h("a", { class: "btn secondary", href: "#/evaluations/pending", testid: "quick-pending" }, "待评价"),
      h("a", { class: "btn secondary", href: "#/notice-board", testid: "quick-board" }, "公示")) : null;
    const list = h("div");
    el.replaceChildren(...[voice, list].filter(Boolean));
    await load(list, async () => {
      const page = await api.get("/activities", { per_page: 50 });
      if (!page.items.length) return empty("暂时没有活动");
      return page.items.map((a) => activityCard(a, `#/activity/${a.id}`));
    });
  },
};

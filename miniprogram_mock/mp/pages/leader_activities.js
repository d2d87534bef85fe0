// 我队的活动: a leader's team activities (staff see the community's), with scan and attendance.
import { api } from "../api.js";
import { empty, fmtTime, h, load } from "../ui.js";
import { ACTIVITY_ZH } from "./activities.js";

export async function managedActivities(info) {
  const me = await api.get("/me");
  const community = info.staffCommunity ?? me.roles.find((r) => r.role === "leader")?.community_id
    ?? me.resident?.community_id;
  const page = await api.get("/activities", { community_id: community ?? undefined, per_page: 100 });
  return info.staffCommunity ? page.items : page.items.filter((a) => info.leaderTeams.includes(a.team_id));
}

export default {
  title: "我队的活动",
  async render(el, { info }) {
    await load(el, async () => {
      const items = await managedActivities(info);
      if (!items.length) return empty("没有可管理的活动");
      return items.map((a) => h("div", { class: "card", testid: `managed-${a.id}` },
        h("div", { class: "row" }, h("h3", {}, a.title), h("span", { class: "tag grey" }, ACTIVITY_ZH[a.status] || a.status)),
        h("div", { class: "muted" }, `${fmtTime(a.starts_at)} · 已报名 ${a.confirmed_count}/${a.capacity} · 候补 ${a.waitlist_count}`),
        h("div", { class: "row spaced-top" },
          h("a", { class: "btn", href: `#/leader/scan/${a.id}`, testid: `scan-${a.id}` }, "扫码签到"),
          h("a", { class: "btn secondary", href: `#/leader/attendance/${a.id}`, testid: `attendance-${a.id}` }, "考勤与工时"),
          // 民事民评: once it has ended, how the people served rated it.
          new Date(a.ends_at) <= new Date()
            ? h("a", { class: "btn secondary", href: `#/leader/evaluations/${a.id}`, testid: `evaluations-${a.id}` }, "评价") : null)));
    });
  },
};

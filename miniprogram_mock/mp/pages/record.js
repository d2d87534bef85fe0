// 服务时长与志愿记录: approved service (activity, team, date, hours, approver), and my sign-ups.
import { api } from "../api.js";
import { empty, fmtDate, fmtTime, h, load } from "../ui.js";
import { SIGNUP_ZH } from "./activities.js";

function hours(minutes) { return (Math.round((minutes / 60) * 10) / 10).toString(); }

function recordList(record) {
  const items = record.items || [];
  const total = record.total_minutes ?? items.reduce((sum, r) => sum + (r.minutes || 0), 0);
  return [
    h("div", { class: "card", style: "text-align:center" },
      h("div", { class: "muted" }, "累计志愿服务时长（小时）"),
      h("div", { class: "big-number", testid: "record-hours" }, hours(total))),
    h("div", { class: "section-title" }, "志愿服务记录"),
    items.length
      ? h("div", { class: "cells", testid: "volunteer-record" }, items.map((r) => h("div", { class: "cell" },
        h("div", {}, h("div", {}, r.activity_title || r.activity?.title || "志愿服务"),
          h("div", { class: "muted" }, [r.team_name || r.team?.name, fmtDate(r.date || r.served_on)].filter(Boolean).join(" · ")),
          r.approver_name || r.approved_by_name ? h("div", { class: "muted" }, `审核：${r.approver_name || r.approved_by_name}`) : null),
        h("div", {}, `${hours(r.minutes || 0)} 小时`))))
      : empty("还没有审核通过的志愿服务"),
  ];
}

export default {
  title: "志愿记录",
  async render(el) {
    const recordEl = h("div");
    const signupsEl = h("div");
    el.replaceChildren(recordEl, h("div", { class: "section-title" }, "我的报名"), signupsEl);
    await Promise.all([
      load(recordEl, async () => recordList(await api.get("/me/volunteer-record"))),
      load(signupsEl, async () => {
        const page = await api.get("/me/signups", { per_page: 50 });
        if (!page.items.length) return empty("还没有报名记录");
        return h("div", { class: "cells" }, page.items.map((s) => h("a", { class: "cell", href: `#/activity/${s.activity_id}` },
          h("div", {}, h("div", {}, s.activity.title), h("div", { class: "muted" }, fmtTime(s.activity.starts_at))),
          h("span", { class: "muted" }, s.status === "waitlisted" ? `候补第 ${s.waitlist_position} 位` : SIGNUP_ZH[s.status] || s.status))));
      }),
    ]);
  },
};

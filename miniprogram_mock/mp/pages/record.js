// 服务时长与志愿记录: approved service (activity, team, date, hours, approver), and my sign-ups.
import { api } from "../api.js";
import { empty, fmtDate, fmtTime, h, load } from "../ui.js";
import { SIGNUP_ZH } from "./activities.js";

function hours(minutes) { return (Math.round((minutes / 60) * 10) / 10).toString(); }

function recordList(record) {
  return [
    h("div", { class: "card center" },
      h("div", { class: "muted" }, "累计志愿服务时长（小时）"),
      h("div", { class: "big-number", testid: "record-hours" }, hours(record.total_minutes))),
    h("div", { class: "section-title" }, "志愿服务记录（已审核）"),
    record.items.length
      ? h("div", { class: "cells", testid: "volunteer-record" }, record.items.map((r) => h("div", { class: "cell" },
        h("div", {}, h("div", {}, r.activity),
          h("div", { class: "muted" }, `${r.team} · ${fmtDate(r.date)}`),
          h("div", { class: "muted" }, `审核人：${r.approver}`)),
        h("div", { class: "right" }, h("div", {}, `${hours(r.minutes)} 小时`),
          r.points != null ? h("div", { class: "amount-plus" }, `+${r.points} 积分`) : null))))
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

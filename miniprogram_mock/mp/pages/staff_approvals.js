// 工时审批: staff pick an activity, tick the leader-confirmed attendances and approve them;
// approval credits the residents' points.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";
import { ATTENDANCE_ZH, attendanceName } from "./leader_attendance.js";
import { managedActivities } from "./leader_activities.js";

function activityPicker(info) {
  const el = h("div");
  load(el, async () => {
    const items = await managedActivities(info);
    if (!items.length) return empty("没有活动");
    return h("div", { class: "cells" }, items.map((a) => h("a", { class: "cell", href: `#/staff/approvals/${a.id}`, testid: `approve-activity-${a.id}` },
      h("div", {}, h("div", {}, a.title), h("div", { class: "muted" }, fmtTime(a.starts_at))), h("span", { class: "muted" }, "›"))));
  });
  return el;
}

export default {
  title: "工时审批",
  async render(el, { params, info }) {
    if (!params.id) {
      el.replaceChildren(h("p", { class: "muted" }, "选择活动，审核队长确认过的服务时长。"), activityPicker(info));
      return;
    }
    const list = h("div");
    const slot = h("div");
    const boxes = [];
    const reload = () => load(list, async () => {
      boxes.length = 0;
      const page = await api.get(`/activities/${params.id}/attendances`, { per_page: 200 });
      if (!page.items.length) return empty("没有考勤记录");
      return page.items.map((a) => {
        const box = h("input", { type: "checkbox", style: "width:auto", value: a.id, testid: `approve-box-${a.user_id}` });
        box.checked = a.status === "confirmed";
        box.disabled = a.status !== "confirmed";
        boxes.push(box);
        return h("label", { class: "cell" },
          h("div", {}, h("div", {}, attendanceName(a)),
            h("div", { class: "muted" }, `${a.minutes ?? 0} 分钟 · ${ATTENDANCE_ZH[a.status] || a.status}`)), box);
      });
    });
    el.replaceChildren(list,
      actionButton("审核通过所选", async () => {
        const ids = boxes.filter((b) => b.checked && !b.disabled).map((b) => Number(b.value));
        if (!ids.length) return toast("请选择要审核的记录");
        await api.post("/attendances/approve", { ids });
        toast(`已审核 ${ids.length} 条，积分已发放`);
        await reload();
      }, { slot, testid: "approve-selected" }), slot);
    await reload();
  },
};

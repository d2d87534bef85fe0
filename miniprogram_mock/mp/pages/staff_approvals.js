// 工时审批: staff see the hours leaders have confirmed across the community, tick them and
// approve; approval credits the residents' points. One activity's list is a filter.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";
import { ATTENDANCE_ZH } from "./leader_attendance.js";
import { managedActivities } from "./leader_activities.js";

async function waiting(info, activityId) {
  const activities = Object.fromEntries((await managedActivities(info)).map((a) => [a.id, a]));
  const path = activityId ? `/activities/${activityId}/attendances`
    : `/communities/${info.staffCommunity}/attendances`;
  const page = await api.get(path, activityId ? { per_page: 100 } : { status: "confirmed", per_page: 100 });
  return { activities, items: page.items };
}

export default {
  title: "工时审批",
  async render(el, { params, info }) {
    const list = h("div");
    const slot = h("div");
    const boxes = [];
    const reload = () => load(list, async () => {
      boxes.length = 0;
      const { activities, items } = await waiting(info, params.id);
      if (!items.length) return empty("没有待审核的服务时长");
      return h("div", { class: "cells" }, items.map((a) => {
        const box = h("input", { type: "checkbox", class: "inline", value: a.id, testid: `approve-box-${a.user_id}` });
        box.checked = a.status === "confirmed";
        box.disabled = a.status !== "confirmed";
        // What the clerk sees is what is approved: the page sends it back with the ids.
        box.reviewed = { id: a.id, minutes: a.minutes, points: a.points_due ?? 0 };
        boxes.push(box);
        const activity = activities[a.activity_id];
        return h("label", { class: "cell", testid: `approval-${a.id}` },
          h("div", {}, h("div", {}, a.display_name),
            h("div", { class: "muted" }, activity ? `${activity.title} · ${fmtTime(activity.starts_at)}` : `活动 #${a.activity_id}`),
            h("div", { class: "muted" }, `${a.minutes} 分钟${a.points_due == null ? "" : ` · ${a.points_due} 积分`} · ${ATTENDANCE_ZH[a.status] || a.status}`)), box);
      }));
    });
    el.replaceChildren(h("p", { class: "muted" }, "以下是队长已确认、等待社区审核的服务时长。自己的时长和自己确认的时长须由其他工作人员审核。"), list,
      actionButton("审核通过所选", async (act) => {
        const chosen = boxes.filter((b) => b.checked && !b.disabled);
        if (!chosen.length) return toast("请选择要审核的记录");
        const ids = chosen.map((b) => Number(b.value));
        const approved = await act.post("/attendances/approve", { ids, reviewed: chosen.map((b) => b.reviewed) });
        const points = approved.items.reduce((sum, a) => sum + (a.points || 0), 0);
        toast(`已审核 ${ids.length} 条，发放 ${points} 积分`);
        await reload();
      }, { slot, testid: "approve-selected" }), slot);
    await reload();
  },
};

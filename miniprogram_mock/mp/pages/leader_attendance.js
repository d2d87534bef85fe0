// 考勤与工时: who came, minutes served; the leader corrects with a reason and signs off.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, toast } from "../ui.js";

export const ATTENDANCE_ZH = { open: "进行中", confirmed: "队长已确认", approved: "已审核", rejected: "已驳回", no_show: "缺席" };

function correction(a, reload) {
  const slot = h("div");
  const minutes = h("input", { type: "number", min: "0", value: a.minutes, class: "narrow", "aria-label": "服务时长（分钟）" });
  const reason = h("input", { placeholder: "修改原因（必填）" });
  return h("details", {}, h("summary", { class: "muted" }, "修改时长"),
    h("div", { class: "row" }, minutes, reason),
    actionButton("保存修改", async () => {
      await api.patch(`/attendances/${a.id}`, { minutes: Number(minutes.value), reason: reason.value });
      toast("已修改");
      await reload();
    }, { slot, className: "block secondary" }), slot);
}

export default {
  title: "考勤与工时",
  async render(el, { params }) {
    const list = h("div");
    const slot = h("div");
    const reload = () => load(list, async () => {
      const page = await api.get(`/activities/${params.id}/attendances`, { per_page: 100 });
      if (!page.items.length) return empty("还没有签到记录");
      return page.items.map((a) => h("div", { class: "card", testid: `attendance-row-${a.user_id}` },
        h("div", { class: "row" }, h("h3", {}, a.display_name),
          h("span", { class: "tag" }, ATTENDANCE_ZH[a.status] || a.status)),
        h("div", { class: "muted" }, `签到 ${fmtTime(a.checked_in_at) || "—"} · 签退 ${fmtTime(a.checked_out_at) || "—"}`),
        h("div", {}, `服务时长 ${a.minutes} 分钟`, a.corrected_minutes != null ? `（已修改，实际签到 ${a.served_minutes} 分钟）` : ""),
        ["open", "confirmed"].includes(a.status) ? correction(a, reload) : null));
    });
    el.replaceChildren(list,
      actionButton("确认全部工时", async (act) => {
        await act.post(`/activities/${params.id}/attendances/confirm`);
        toast("已确认，等待社区审核");
        await reload();
      }, { slot, testid: "confirm-attendance" }), slot);
    await reload();
  },
};

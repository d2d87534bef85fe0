// 活动评价 (team leaders and staff): how an activity was rated — the distribution as a bar
// chart and the comments, authors masked; staff hide an abusive one with a reason (audited).
import { api } from "../api.js";
import { actionButton, errorBox, fmtTime, h, toast } from "../ui.js";
import { barChart, summaryLine } from "./voice.js";

function hideForm(comment, reload) {
  const slot = h("div");
  const reason = h("input", { id: `hide-reason-${comment.id}`, testid: `hide-reason-${comment.id}`, maxlength: 200,
    placeholder: "隐藏原因，如：含人身攻击" });
  return h("details", { class: "triage" }, h("summary", { class: "btn secondary" }, "隐藏此评价"),
    h("label", { for: reason.id }, "隐藏原因（记入操作记录）"), reason,
    actionButton("确认隐藏", async (act) => {
      if (!reason.value.trim()) return toast("请填写隐藏原因");
      await act.post(`/evaluations/${comment.id}/hide`, { reason: reason.value.trim() });
      toast("已隐藏");
      await reload();
    }, { slot, className: "warn", testid: `hide-${comment.id}` }), slot);
}

export default {
  title: "活动评价",
  async render(el, { params, info }) {
    const reload = async () => {
      let activity, summary;
      try {
        [activity, summary] = await Promise.all([api.get(`/activities/${params.id}`),
          api.get(`/activities/${params.id}/evaluations/summary`)]);
      } catch (error) {
        el.replaceChildren(errorBox(error));
        return;
      }
      const isStaff = info.staffCommunity === activity.community_id;
      const distribution = [5, 4, 3, 2, 1].map((n) => ({ label: `${n} 星`, value: summary.distribution?.[n] ?? 0 }));
      const comments = summary.comments || [];
      el.replaceChildren(
        h("div", { class: "card" }, h("h2", {}, activity.title),
          h("div", { class: "muted" }, `${fmtTime(activity.starts_at)} – ${fmtTime(activity.ends_at)}`),
          summaryLine(summary, "evaluation-summary")),
        h("div", { class: "card chart" }, h("h3", {}, "评分分布"),
          barChart(distribution, { label: "评分分布柱状图", testid: "rating-chart", unit: " 人" })),
        h("div", { class: "card", testid: "evaluation-comments" }, h("h3", {}, "居民留言"),
          comments.length ? comments.map((c) => h("div", { class: "board-row", testid: `comment-${c.id}` },
            h("div", { class: "row" }, h("b", {}, c.author), h("span", { class: "muted" }, `${c.rating} 星 · ${fmtTime(c.created_at)}`)),
            h("p", { class: "tight" }, c.comment),
            isStaff ? hideForm(c, reload) : null))
            : h("p", { class: "muted" }, "还没有留言")));
    };
    await reload();
  },
};

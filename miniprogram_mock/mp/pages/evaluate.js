// 民事民评: after an activity I attended (or was served by), 1–5 stars and an optional
// comment, once; a refusal (not ended yet, already rated, closed) is the envelope's words.
import { api } from "../api.js";
import { actionButton, errorBox, fmtTime, h, toast } from "../ui.js";
import { summaryLine } from "./voice.js";

const WORDS = { 1: "很不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意" };

function starPicker() {
  const group = h("fieldset", { class: "star-picker", testid: "rating" },
    h("legend", {}, "打分（1–5 星）"),
    [1, 2, 3, 4, 5].map((n) => h("label", { class: "star-option" },
      h("input", { type: "radio", name: "rating", value: n, testid: `rating-${n}` }),
      h("span", { "aria-hidden": "true" }, "★".repeat(n)), h("span", { class: "star-words" }, `${n} 星 ${WORDS[n]}`))));
  return { group, value: () => Number(group.querySelector("input:checked")?.value || 0) };
}

export default {
  title: "活动评价",
  async render(el, { params }) {
    let activity;
    try {
      activity = await api.get(`/activities/${params.id}`);
    } catch (error) {
      el.replaceChildren(errorBox(error));
      return;
    }
    const summary = h("div", { testid: "evaluation-summary-box" });
    const showSummary = async () => {
      const s = await api.get(`/activities/${params.id}/evaluations/summary`).catch(() => null);
      summary.replaceChildren(s ? summaryLine(s, "evaluation-summary") : "");
    };
    const slot = h("div");
    const picker = starPicker();
    const comment = h("textarea", { id: "evaluation-comment", testid: "evaluation-comment", rows: 3,
      maxlength: 500, placeholder: "说说你的感受（选填）" });
    const form = h("div", { class: "card", role: "form", "aria-label": "评价表单" },
      picker.group,
      h("label", { for: comment.id }, "评价内容（选填）"), comment,
      actionButton("提交评价", async (act) => {
        const rating = picker.value();
        if (!rating) return toast("请先选择星级");
        await act.post(`/activities/${params.id}/evaluations`, { rating, comment: comment.value.trim() });
        toast("感谢你的评价");
        form.replaceChildren(h("p", { class: "big-number status-line", testid: "evaluation-done" }, "已评价，感谢你的反馈"));
        await showSummary();
      }, { slot, testid: "evaluation-submit" }), slot);
    el.replaceChildren(
      h("div", { class: "card" }, h("h2", { testid: "evaluate-title" }, activity.title),
        h("div", { class: "muted" }, `时间：${fmtTime(activity.starts_at)} – ${fmtTime(activity.ends_at)}`),
        h("p", { class: "muted" }, "谁受益谁评价：参加过或受到服务的居民，活动结束后 14 天内可评价一次。"),
        summary),
      form);
    await showSummary();
  },
};

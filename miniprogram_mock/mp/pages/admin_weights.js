// 评价权重 (admin): the street's weights of 基本建设 · 内部规范 · 业绩考量 in the yearly
// assessment's total, whole percent summing to 100, with a reason (audited).
import { api } from "../api.js";
import { actionButton, empty, errorBox, fmtTime, h, toast } from "../ui.js";
import { DIMENSION_ZH } from "./staff_assessment.js";

const DIMENSIONS = ["foundation", "conduct", "performance"];

export default {
  title: "评价权重",
  async render(el, { info }) {
    if (!info.isAdmin) {
      el.replaceChildren(empty("只有街道管理员可以设置权重"));
      return;
    }
    let weights;
    try {
      weights = await api.get("/street/assessment-weights");
    } catch (error) {
      el.replaceChildren(errorBox(error));
      return;
    }
    const slot = h("div");
    const inputs = Object.fromEntries(DIMENSIONS.map((d) => [d, h("input", {
      type: "number", min: 0, max: 100, step: 1, inputmode: "numeric", id: `weight-${d}`,
      testid: `weight-${d}`, value: weights[d] })]));
    const sum = h("p", { class: "muted", testid: "weights-sum" });
    const showSum = () => {
      const total = DIMENSIONS.reduce((s, d) => s + (Number(inputs[d].value) || 0), 0);
      sum.textContent = `合计 ${total}%${total === 100 ? "" : "（须为 100%）"}`;
    };
    DIMENSIONS.forEach((d) => inputs[d].addEventListener("input", showSum));
    showSum();
    const reason = h("input", { id: "weights-reason", testid: "weights-reason", maxlength: 200,
      placeholder: "如：今年侧重业绩考量" });
    el.replaceChildren(h("div", { class: "card", role: "form", "aria-label": "评价权重" },
      h("p", { class: "muted", testid: "weights-status" }, weights.is_default ? "当前为默认权重"
        : `上次修改：${fmtTime(weights.updated_at)}`),
      DIMENSIONS.map((d) => h("div", {}, h("label", { for: inputs[d].id }, `${DIMENSION_ZH[d]}（%）`), inputs[d])),
      sum,
      h("label", { for: reason.id }, "修改原因（记入操作记录）"), reason,
      actionButton("保存权重", async () => {
        const body = Object.fromEntries(DIMENSIONS.map((d) => [d, Number(inputs[d].value)]));
        const saved = await api.put("/street/assessment-weights", { ...body, reason: reason.value.trim() });
        toast(`已保存：${DIMENSIONS.map((d) => `${DIMENSION_ZH[d]} ${saved[d]}%`).join("，")}`);
      }, { slot, testid: "weights-save" }), slot));
  },
};

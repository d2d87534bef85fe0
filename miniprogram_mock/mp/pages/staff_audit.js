// 操作记录: the community's audit trail — who changed points, rates, stock, fees or rosters,
// when, what it was before and after, and why — with filters and a workbook download.
import { api } from "../api.js";
import { actionButton, empty, fmtTime, h, load, todayLocal } from "../ui.js";

export const ACTION_ZH = {
  "attendance.corrected": "修改服务时长", "attendance.confirmed": "确认服务时长",
  "attendance.approved": "审核服务时长", "attendance.rejected": "驳回服务时长",
  "activity.rate_changed": "修改活动积分标准", "community.settings_changed": "修改社区规则",
  "duty.rate_changed": "修改值班积分", "duty.confirmed": "确认值班", "duty.approved": "审批值班",
  "duty.post_changed": "设置岗亭位置", "duty.post_code_rotated": "更换岗亭码",
  "assignment.edited": "调整排班", "swap.approved": "批准换班",
  "fee.recorded": "登记停车费", "fee.voided": "作废停车费",
  "adjustment.requested": "申请积分调整", "adjustment.approved": "批准积分调整",
  "reversal.requested": "申请积分冲正", "reversal.approved": "批准积分冲正",
  "gift.created": "上架礼品", "gift.updated": "修改礼品", "redemption.fulfilled": "礼品核销",
  "redemption.cancelled": "取消兑换", "period.closed": "月末结账",
  "team.member_set": "设置队员", "team.member_removed": "移出队员",
};

function change(values) {
  if (!values) return "";
  return Object.entries(values).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join("，");
}

export default {
  title: "操作记录",
  async render(el, { info }) {
    const action = h("select", { testid: "audit-action", "aria-label": "操作类型" }, h("option", { value: "" }, "全部操作"),
      Object.entries(ACTION_ZH).map(([value, label]) => h("option", { value }, label)));
    const from = h("input", { type: "date", value: todayLocal(-30), testid: "audit-from", "aria-label": "开始日期" });
    const to = h("input", { type: "date", value: todayLocal(), testid: "audit-to", "aria-label": "结束日期" });
    const list = h("div");
    const query = () => ({ action: action.value || undefined, from: from.value, to: to.value });
    const reload = () => load(list, async () => {
      const page = await api.get(`/communities/${info.staffCommunity}/audit`, { ...query(), per_page: 100 });
      if (!page.items.length) return empty("这段时间没有操作记录");
      return h("div", { class: "cells" }, page.items.map((e) => h("div", { class: "cell", testid: `audit-entry-${e.id}` },
        h("div", {}, h("div", {}, `${ACTION_ZH[e.action] || e.action} · ${e.subject}`),
          h("div", { class: "muted" }, `${fmtTime(e.created_at)} · 操作人 #${e.actor_id}${e.reason ? ` · ${e.reason}` : ""}`),
          e.before ? h("div", { class: "muted" }, `修改前：${change(e.before)}`) : null,
          e.after ? h("div", { class: "muted" }, `修改后：${change(e.after)}`) : null))));
    });
    const download = actionButton("导出 Excel", async () => {
      const file = await api.image(`/communities/${info.staffCommunity}/audit.xlsx?${new URLSearchParams(
        Object.entries(query()).filter(([, v]) => v))}`);
      const link = h("a", { href: file.url, download: "操作记录.xlsx" });
      document.body.append(link);
      link.click();
      link.remove();
    }, { className: "secondary", testid: "audit-export" });
    for (const input of [action, from, to]) input.addEventListener("change", reload);
    el.replaceChildren(h("div", { class: "card" }, h("div", { class: "row" }, action), h("div", { class: "row" }, from, to), download), list);
    await reload();
  },
};

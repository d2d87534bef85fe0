// 工作台: what a leader and a staff member do, by role.
import { cell, h } from "../ui.js";

export default {
  title: "工作台",
  render(el, { info }) {
    const parts = [];
    if (info.leaderTeams.length || info.staffCommunity) {
      parts.push(h("div", { class: "section-title" }, "队长"), h("div", { class: "cells" },
        cell("我队的活动（扫码签到、考勤）", "", "#/leader/activities", { testid: "work-leader-activities" }),
        info.staffCommunity ? null : cell("值班排班", "", "#/staff/roster", { testid: "work-leader-roster" })));
    }
    if (info.staffCommunity) {
      parts.push(h("div", { class: "section-title" }, "社区工作人员"), h("div", { class: "cells" },
        cell("工时审批", "", "#/staff/approvals", { testid: "work-approvals" }),
        cell("礼品核销", "", "#/staff/pickup", { testid: "work-pickup" }),
        cell("积分对账", "", "#/staff/reconciliation", { testid: "work-reconciliation" }),
        cell("值班表", "", "#/staff/roster", { testid: "work-roster" }),
        cell("值班积分审批", "", "#/staff/duty", { testid: "work-duty" }),
        cell("操作记录", "", "#/staff/audit", { testid: "work-audit" })));
    }
    el.replaceChildren(...(parts.length ? parts : [h("p", { class: "empty" }, "你还没有队长或工作人员身份")]));
  },
};

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
        cell("操作记录", "", "#/staff/audit", { testid: "work-audit" })),
      h("div", { class: "section-title" }, "民意与评价"), h("div", { class: "cells" },
        cell("需求受理", "", "#/staff/needs", { testid: "work-needs" }),
        cell("团队年度评价", "", "#/staff/assessment", { testid: "work-assessment" }),
        cell("社区公示", "", "#/notice-board", { testid: "work-notice-board" })));
    }
    if (info.isAdmin) {
      parts.push(h("div", { class: "section-title" }, "街道"), h("div", { class: "cells" },
        cell("街道总览", "", "#/admin/overview", { testid: "work-overview" }),
        cell("各社区团队年度评价", "", "#/staff/assessment", { testid: "work-admin-assessment" }),
        cell("年度评价权重", "", "#/admin/weights", { testid: "work-weights" })));
    }
    el.replaceChildren(...(parts.length ? parts : [h("p", { class: "empty" }, "你还没有队长、工作人员或管理员身份")]));
  },
};

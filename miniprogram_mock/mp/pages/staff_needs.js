// 需求受理 (staff): triage a need — accept it and name the team, decline, merge it into
// another, or mark it done — with a reply the author, the supporters and everyone see.
import { api } from "../api.js";
import { actionButton, empty, h, load, toast } from "../ui.js";
import { NEED_STATUS_ZH, needCard } from "./voice.js";

const ACTIONS = [["accepted", "受理并指派团队"], ["declined", "不予采纳"], ["merged", "合并到其他需求"], ["done", "标记已办结"]];

function triageForm(need, teams, others, reload) {
  const id = (name) => `triage-${name}-${need.id}`;
  const slot = h("div");
  const status = h("select", { id: id("status"), testid: `triage-status-${need.id}` },
    ACTIONS.filter(([v]) => v !== need.status).map(([v, label]) => h("option", { value: v }, label)));
  const team = h("select", { id: id("team"), testid: `triage-team-${need.id}` },
    teams.map((t) => h("option", { value: t.id }, t.name)));
  if (need.team_id) team.value = String(need.team_id);
  const merged = h("select", { id: id("merged"), testid: `triage-merged-${need.id}` },
    others.map((n) => h("option", { value: n.id }, `#${n.id} ${n.title}`)));
  const reply = h("textarea", { id: id("reply"), testid: `triage-reply-${need.id}`, rows: 3, maxlength: 1000,
    placeholder: "给居民的答复（所有人可见）" });
  const teamRow = h("div", {}, h("label", { for: team.id }, "承接团队"), team);
  const mergedRow = h("div", {}, h("label", { for: merged.id }, "并入需求"), merged);
  const sync = () => {
    teamRow.hidden = status.value !== "accepted";
    mergedRow.hidden = status.value !== "merged";
  };
  status.addEventListener("change", sync);
  sync();
  return h("details", { class: "triage", testid: `triage-${need.id}` },
    h("summary", { class: "btn secondary block" }, "处理"),
    h("label", { for: status.id }, "处理结果"), status, teamRow, mergedRow,
    h("label", { for: reply.id }, "答复"), reply,
    actionButton("提交处理", async (act) => {
      if (!reply.value.trim()) return toast("请填写给居民的答复");
      const body = { status: status.value, reply: reply.value.trim() };
      if (status.value === "accepted") body.team_id = Number(team.value);
      if (status.value === "merged") body.merged_into = Number(merged.value);
      const result = await act.post(`/needs/${need.id}/triage`, body);
      toast(`已处理：${NEED_STATUS_ZH[result.status] || result.status}`);
      await reload();
    }, { slot, testid: `triage-submit-${need.id}` }), slot);
}

export default {
  title: "需求受理",
  async render(el, { info }) {
    const community = info.staffCommunity;
    if (!community) {
      el.replaceChildren(empty("只有社区工作人员可以受理需求"));
      return;
    }
    const status = h("select", { id: "triage-filter", testid: "triage-filter" },
      h("option", { value: "open" }, "待处理"), h("option", { value: "accepted" }, "已受理"),
      h("option", { value: "" }, "全部"));
    const list = h("div");
    const reload = () => load(list, async () => {
      const args = { sort: "supporters", per_page: 50 };
      if (status.value) args.status = status.value;
      const [page, teams, all] = await Promise.all([
        api.get(`/communities/${community}/needs`, args),
        api.get(`/communities/${community}/teams`, { per_page: 100 }),
        api.get(`/communities/${community}/needs`, { status: "open", per_page: 100 })]);
      if (!page.items.length) return empty("没有需要处理的需求");
      return page.items.map((n) => needCard(n, ["declined", "merged", "done"].includes(n.status) ? null
        : triageForm(n, teams.items, all.items.filter((o) => o.id !== n.id), reload)));
    });
    status.addEventListener("change", reload);
    el.replaceChildren(h("div", { class: "row" }, h("label", { for: status.id }, "显示"), status), list);
    await reload();
  },
};

// 值班表: a parking team's duty roster as a date × shift table; the team's leader can
// generate a draft for a period and publish it.
import { api } from "../api.js";
import { actionButton, empty, errorBox, fmtDate, h, load, todayLocal, toast } from "../ui.js";

function rosterTable(roster, names) {
  const shifts = [...new Set(roster.assignments.map((a) => a.shift))];
  const dates = [...new Set(roster.assignments.map((a) => a.date))].sort();
  const who = (date, shift) => roster.assignments
    .filter((a) => a.date === date && a.shift === shift)
    .map((a) => (a.user_id == null ? "（空缺）" : names[a.user_id] || `#${a.user_id}`)).join("、");
  const f = roster.fairness;
  return h("div", { class: "card", testid: `roster-${roster.id}` },
    h("div", { class: "row" }, h("h3", {}, `${fmtDate(roster.from)} – ${fmtDate(roster.to)}`),
      h("span", { class: "tag" }, roster.status === "published" ? "已发布" : "草稿")),
    f ? h("div", { class: "muted" }, `每人班次 ${f.min_shifts}–${f.max_shifts}，夜班 ${f.night_min}–${f.night_max}`) : null,
    roster.unfilled?.length ? h("div", { class: "error" }, `${roster.unfilled.length} 个班次无人可排`) : null,
    dates.length ? h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "排班表" },
      h("table", {}, h("tr", {}, h("th", {}, "日期"), shifts.map((s) => h("th", {}, s))),
        dates.map((d) => h("tr", {}, h("td", {}, d.slice(5)), shifts.map((s) => h("td", {}, who(d, s)))))))
      : empty("没有排班"));
}

async function teamView(team, info) {
  const names = {};
  const members = await api.get(`/teams/${team.id}/members`, { per_page: 100 }).catch(() => ({ items: [] }));
  for (const m of members.items) names[m.user_id] = m.display_name;
  const out = h("div");
  const slot = h("div");
  const show = (roster) => {
    const parts = [rosterTable(roster, names)];
    if (roster.status === "draft" && info.leaderTeams.includes(team.id)) {
      parts.push(actionButton("发布排班", async (act) => {
        show(await act.post(`/rosters/${roster.id}/publish`));
        toast("已发布，队员会收到通知");
      }, { slot, testid: `roster-publish-${roster.id}` }), slot);
    }
    out.replaceChildren(...parts);
  };
  const parts = [h("div", { class: "section-title" }, team.name), out];
  // Signing off the month's served shifts; the leader's own are left to another leader or
  // staff, and staff approve them afterwards (值班积分审批).
  const month = h("input", { type: "month", value: todayLocal().slice(0, 7), testid: `duty-month-${team.id}`, "aria-label": "值班月份" });
  const signSlot = h("div");
  parts.push(h("div", { class: "card" }, h("div", { class: "row" }, month,
    actionButton("确认该月值班", async (act) => {
      const confirmed = await act.post(`/teams/${team.id}/duty/confirm`, { month: month.value });
      toast(`已确认 ${confirmed.items.length} 个班次，待社区审核`);
    }, { slot: signSlot, className: "secondary", testid: `duty-confirm-${team.id}` })), signSlot));
  if (info.leaderTeams.includes(team.id)) {
    const from = h("input", { type: "date", value: todayLocal(1), testid: `roster-from-${team.id}`, "aria-label": "排班开始日期" });
    const to = h("input", { type: "date", value: todayLocal(30), testid: `roster-to-${team.id}`, "aria-label": "排班结束日期" });
    parts.splice(1, 0, h("div", { class: "card" }, h("div", { class: "row" }, from, to),
      actionButton("生成排班草稿", async (act) => show(await act.post(`/teams/${team.id}/rosters`,
        { from: from.value, to: to.value })), { slot, testid: `roster-generate-${team.id}` })));
  }
  try {
    const page = await api.get(`/teams/${team.id}/rosters`, { per_page: 1 });
    if (page.items.length) show(await api.get(`/rosters/${page.items[0].id}`));  // the newest
    else out.replaceChildren(empty("还没有排班"));
  } catch (error) {
    out.replaceChildren(errorBox(error));
  }
  return parts;
}

export default {
  title: "值班表",
  async render(el, { info }) {
    const me = await api.get("/me").catch((error) => { el.replaceChildren(errorBox(error)); return null; });
    if (!me) return;
    const community = info.staffCommunity ?? me.roles.find((r) => r.role === "leader")?.community_id;
    await load(el, async () => {
      const teams = (await api.get(`/communities/${community}/teams`, { per_page: 100 })).items
        .filter((t) => t.category === "parking" && (info.staffCommunity || info.leaderTeams.includes(t.id)));
      if (!teams.length) return empty("没有车辆自治队伍");
      return (await Promise.all(teams.map((t) => teamView(t, info)))).flat();
    });
  },
};

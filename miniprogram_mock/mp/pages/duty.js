// 我的值班: my shifts, swap requests to and from me, and the duty check-in at the post.
import { api } from "../api.js";
import { actionButton, empty, fmtDate, h, load, toast } from "../ui.js";
import { wx } from "../wx.js";

const SWAP_ZH = { pending: "待对方同意", accepted: "待队长批准", approved: "已调换", declined: "已拒绝", cancelled: "已撤回" };
const SHIFT_ZH = {
  scheduled: "待值班", completed: "已签到，待队长确认", confirmed: "队长已确认，待社区审核",
  approved: "积分已发放", missed: "缺勤",
};

function clock(iso) {
  return new Date(iso).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
}

function shiftLabel(s) {
  return `${s.shift} ${clock(s.starts_at)}–${clock(s.ends_at)}`;
}

const BUSY_ZH = { on_shift: "当天有班", unavailable: "当天不便" };

// 找人换班: the teammates as a member may see them, the ones free that day first.
function swapPicker(s, reload) {
  const slot = h("div");
  const body = h("div");
  const picker = h("details", { testid: `picker-${s.id}` },
    h("summary", { class: "btn secondary block" }, "找队友换班"), body, slot);
  picker.addEventListener("toggle", () => {
    if (!picker.open || picker.dataset.loaded) return;
    picker.dataset.loaded = "1";
    load(body, async () => {
      const page = await api.get(`/teams/${s.team_id}/teammates`, { date: s.date, per_page: 100 });
      if (!page.items.length) return empty("本队没有其他队员");
      const mates = [...page.items].sort((x, y) => Number(y.free) - Number(x.free));
      const select = h("select", { testid: `mate-${s.id}`, id: `mate-${s.id}` },
        mates.map((m) => h("option", { value: m.user_id },
          `${m.display_name}（${m.free ? "当天有空" : BUSY_ZH[m.busy_reason] || "当天没空"}）`)));
      return [h("label", { for: select.id }, "换给哪位队友"), select,
        actionButton("发送换班申请", async (act) => {
          await act.post(`/assignments/${s.id}/swap-requests`, { to_user_id: Number(select.value) });
          toast("换班申请已发出");
          await reload();
        }, { slot, testid: `ask-swap-${s.id}` })];
    });
  });
  return picker;
}

function shiftCard(s, reload) {
  return h("div", { class: "card", testid: `shift-${s.id}` },
    h("div", { class: "row" }, h("h3", {}, fmtDate(s.date)), h("span", { class: "tag" }, shiftLabel(s))),
    h("div", { class: "muted" }, SHIFT_ZH[s.status] || s.status),
    s.status === "scheduled" ? swapPicker(s, reload) : null);
}

function swapCard(r, me, leaderTeams, reload) {
  const slot = h("div");
  const incoming = r.to_user_id === me.id && r.status === "pending";
  const mine = r.from_user_id === me.id;
  const toApprove = r.status === "accepted" && leaderTeams.includes(r.team_id);
  const act = (label, verb, done, className = "") => actionButton(label, async (action) => {
    await action.post(`/swap-requests/${r.id}/${verb}`);
    toast(done);
    await reload();
  }, { slot, className });
  return h("div", { class: "card", testid: `swap-${r.id}` },
    h("div", { class: "row" }, h("span", {}, incoming ? "有人想和你换班" : mine ? "我的换班申请" : "队员换班申请"),
      h("span", { class: "tag orange" }, SWAP_ZH[r.status] || r.status)),
    h("div", { class: "muted" }, `${fmtDate(r.assignment.date)} ${shiftLabel(r.assignment)}`),
    h("div", { class: "row" },
      incoming ? act("同意换班", "accept", "已同意，等待队长批准") : null,
      incoming ? act("拒绝", "decline", "已拒绝", "secondary") : null,
      toApprove ? act("批准换班", "approve", "已批准，班次已调换") : null),
    slot);
}

export default {
  title: "我的值班",
  async render(el, { user, info }) {
    const shifts = h("div");
    const swaps = h("div");
    const slot = h("div");
    const reload = () => Promise.all([
      load(shifts, async () => {
        const page = await api.get("/me/shifts", { per_page: 100 });
        return page.items.length ? page.items.map((s) => shiftCard(s, reload)) : empty("近期没有值班安排");
      }),
      load(swaps, async () => {
        const page = await api.get("/me/swap-requests", { per_page: 50 });
        return page.items.length ? page.items.map((r) => swapCard(r, user, info.leaderTeams, reload)) : empty("没有换班申请");
      }),
    ]);
    el.replaceChildren(
      actionButton("扫岗位码签到", async (act) => {
        const { result } = await act.memo("scan", () => wx.scanCode({ onlyFromCamera: false }));
        // The post code proves the post only together with the phone being there.
        const location = await act.memo("location", () => wx.getLocation({ type: "wgs84" }).then(
          ({ latitude, longitude, accuracy }) => ({ latitude, longitude, accuracy }),
          () => null));
        if (!location) return toast("请允许获取位置：值班签到需要确认您在岗亭附近");
        await act.post("/duty/checkins", { code: result, location });
        toast("值班签到成功，积分待审核后发放");
        await reload();
      }, { slot, testid: "duty-checkin" }),
      actionButton("交接班：扫接班队员的签到码", async (act) => {
        const { result } = await act.memo("scan", () => wx.scanCode({ onlyFromCamera: false }));
        await act.post("/duty/handovers", { code: result });
        toast("交接完成，接班队员已签到");
        await reload();
      }, { slot, className: "secondary block", testid: "duty-handover" }),
      slot,
      h("div", { class: "section-title" }, "我的班次"), shifts,
      h("div", { class: "section-title" }, "换班申请"), swaps);
    await reload();
  },
};

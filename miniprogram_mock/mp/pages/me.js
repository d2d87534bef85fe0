// 我的: my points at a glance and the way to every personal page; join a community.
import { api, clearSession, saveSession, session } from "../api.js";
import { actionButton, cell, errorBox, h, largeText, setLargeText } from "../ui.js";

async function joinForm(navigate) {
  const slot = h("div");
  const communities = (await api.get("/communities", { per_page: 100 })).items;
  const fields = {
    community: h("select", { "aria-label": "选择社区" }, communities.map((c) => h("option", { value: c.id }, `${c.name}（${c.street}）`))),
    real_name: h("input", { placeholder: "真实姓名", "aria-label": "真实姓名" }),
    building: h("input", { placeholder: "楼栋，如 3", "aria-label": "楼栋" }),
    unit: h("input", { placeholder: "单元，如 1", "aria-label": "单元" }),
    room: h("input", { placeholder: "房号，如 502", "aria-label": "房号" }),
  };
  return h("div", { class: "card", testid: "join-form" }, h("h3", {}, "加入社区"),
    h("p", { class: "muted" }, "登记住址后即可报名活动、积累积分。"),
    Object.values(fields),
    actionButton("提交", async (act) => {
      await act.post(`/communities/${fields.community.value}/join`, {
        real_name: fields.real_name.value, building: fields.building.value,
        unit: fields.unit.value, room: fields.room.value,
      });
      const me = await api.get("/me");
      saveSession({ ...session(), user: { id: me.id, nickname: me.nickname, roles: me.roles } });
      navigate("/activities");
    }, { slot }), slot);
}

export default {
  title: "我的",
  async render(el, { navigate }) {
    let me;
    try {
      me = await api.get("/me");
    } catch (error) {
      el.replaceChildren(errorBox(error));
      return;
    }
    // Roles may have changed since login (a new leader, a new resident): keep them fresh.
    saveSession({ ...session(), user: { id: me.id, nickname: me.nickname, roles: me.roles } });
    const points = me.resident ? await api.get("/me/points").catch(() => null) : null;
    el.replaceChildren(...[
      h("div", { class: "card" }, h("h2", { testid: "me-name" }, me.nickname),
        me.resident ? h("div", { class: "muted" }, `${me.resident.real_name ?? ""} · ${me.resident.building}栋${me.resident.unit}单元${me.resident.room}`) : null,
        points ? h("div", {}, "积分 ", h("span", { class: "big-number", testid: "me-balance" }, points.balance)) : null),
      me.resident ? null : await joinForm(navigate),
      me.resident ? h("div", { class: "cells" },
        cell("民意（提需求、看回复）", "", "#/needs", { testid: "me-needs" }),
        cell("待评价的活动", "", "#/evaluations/pending", { testid: "me-pending-evaluations" }),
        cell("社区公示", "", "#/notice-board", { testid: "me-notice-board" })) : null,
      h("div", { class: "cells" },
        cell("积分明细", "", "#/points"),
        cell("积分超市", "", "#/gifts"),
        cell("我的兑换", "", "#/redemptions"),
        cell("服务时长与志愿记录", "", "#/record"),
        cell("我的值班", "", "#/duty")),
      h("div", { class: "cells" },
        h("label", { class: "cell", for: "large-text" }, h("span", {}, "大字模式"),
          h("input", { type: "checkbox", role: "switch", id: "large-text", testid: "large-text",
            checked: largeText(), onchange: (e) => setLargeText(e.target.checked) }))),
      h("div", { class: "cells" },
        h("a", { class: "cell", href: "#/login", testid: "logout",
          onclick: () => clearSession() }, h("span", {}, "切换用户"), h("span", { class: "muted" }, "›"))),
    ].filter(Boolean));
  },
};

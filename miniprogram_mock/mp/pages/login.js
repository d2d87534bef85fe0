// Pick which WeChat account is on this phone (the demo people, or any openid), then
// wx.login → POST /auth/wechat-login, as a mini-program does on launch.
import { api, ApiError, saveSession } from "../api.js";
import { actionButton, h } from "../ui.js";
import { wx } from "../wx.js";

const DEMO_PEOPLE = [
  ["demo-resident", "张三明（居民）"],
  ["demo-neighbour-1", "李阿姨（居民）"],
  ["demo-neighbour-2", "陈大爷（居民）"],
  ["demo-leader", "王队长（志愿服务队队长）"],
  ["demo-parking-leader", "赵队长（车辆自治之家队长）"],
  ["demo-staff", "社工小李（社区工作人员）"],
  ["demo-admin", "街道管理员"],
];

async function logIn(openid, navigate) {
  wx.setMockAccount(openid);
  let code;
  try {
    ({ code } = await wx.login());
  } catch {
    throw new ApiError(0, "wx_login_failed", "微信登录失败，请稍后再试");
  }
  // No Idempotency-Key: a retry needs a new wx.login code (each is good once), so a new body.
  const result = await api.post("/auth/wechat-login", { code });
  saveSession({ token: result.token, user: result.user });
  navigate("/activities");
}

export default {
  title: "登录邻里",
  render(el, { navigate }) {
    const slot = h("div");
    const select = h("select", { testid: "login-demo", id: "login-demo" },
      DEMO_PEOPLE.map(([openid, label]) => h("option", { value: openid }, label)));
    const custom = h("input", { testid: "login-openid", placeholder: "或输入其他微信 openid", "aria-label": "其他微信 openid" });
    const chosen = () => custom.value.trim() || select.value;
    el.replaceChildren(
      h("div", { class: "card" },
        h("h2", {}, "欢迎来到邻里"),
        h("p", { class: "muted" }, "演示：选择这台“手机”上登录的微信用户。"),
        h("label", { for: "login-demo" }, "演示用户"), select, custom,
        actionButton("微信一键登录", () => logIn(chosen(), navigate), { slot, testid: "login-submit" }),
        slot));
  },
};

// The app shell: a hash router standing in for wx.navigateTo / wx.switchTab, the tab bar
// (at most five tabs, as in WeChat), and who is logged in.
import { clearSession, session, whenLoggedOut } from "./api.js";
import { h, largeText, setLargeText } from "./ui.js";
import { loadConfig, wx } from "./wx.js";

const ROUTES = [
  ["/login", "login"],
  ["/activities", "activities"],
  ["/activity/:id", "activity"],
  ["/code", "checkin_code"],
  ["/me", "me"],
  ["/record", "record"],
  ["/points", "points"],
  ["/gifts", "gifts"],
  ["/redemptions", "redemptions"],
  ["/duty", "duty"],
  ["/inbox", "inbox"],
  ["/work", "work"],
  ["/leader/activities", "leader_activities"],
  ["/leader/scan/:id", "leader_scan"],
  ["/leader/attendance/:id", "leader_attendance"],
  ["/leader/poster/:id", "leader_poster"],
  ["/leader/evaluations/:id", "leader_evaluations"],
  ["/staff/approvals", "staff_approvals"],
  ["/staff/approvals/:id", "staff_approvals"],
  ["/staff/pickup", "staff_pickup"],
  ["/staff/reconciliation", "staff_reconciliation"],
  ["/staff/roster", "staff_roster"],
  ["/staff/duty", "staff_duty"],
  ["/staff/audit", "staff_audit"],
  ["/needs", "needs"],
  ["/needs/new", "need_new"],
  ["/need/:id", "need"],
  ["/evaluate/:id", "evaluate"],
  ["/evaluations/pending", "evaluations_pending"],
  ["/notice-board", "notice_board"],
  ["/staff/needs", "staff_needs"],
  ["/staff/assessment", "staff_assessment"],
  ["/admin/overview", "admin_overview"],
  ["/admin/weights", "admin_weights"],
];

export function roleInfo(user = session()?.user) {
  const roles = user?.roles || [];
  const first = (name) => roles.find((r) => r.role === name);
  return {
    residentCommunity: first("resident")?.community_id ?? null,
    staffCommunity: first("staff")?.community_id ?? null,
    leaderTeams: roles.filter((r) => r.role === "leader").map((r) => r.team_id),
    isAdmin: Boolean(first("admin")),
  };
}

// Tab icons as small SVG paths: no emoji font needed on the phone (or in the test browser).
const ICONS = {
  activities: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
  code: "M4 4h6v6H4zM14 4h6v6h-6zM4 14h6v6H4zM14 14h2v2h-2zM18 18h2v2h-2zM14 18h2",
  work: "M4 8h16v11H4zM9 8V5h6v3M4 13h16",
  inbox: "M3 6h18v12H3zM3 6l9 7 9-7",
  me: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21c0-4 4-6 8-6s8 2 8 6",
};

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  for (const [k, v] of Object.entries({ fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linejoin": "round" })) {
    path.setAttribute(k, v);
  }
  svg.append(path);
  return svg;
}

function tabsFor(info) {
  const tabs = [["/activities", "活动", "activities"], ["/code", "签到码", "code"]];
  if (info.staffCommunity || info.leaderTeams.length || info.isAdmin) tabs.push(["/work", "工作台", "work"]);
  tabs.push(["/inbox", "消息", "inbox"], ["/me", "我的", "me"]);
  return tabs;
}

function match(path) {
  for (const [pattern, module] of ROUTES) {
    const names = [];
    const regex = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return "([^/]+)"; })}$`);
    const found = path.match(regex);
    if (found) return { module, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(found[i + 1])])) };
  }
  return null;
}

let unloaders = [];
let renderSerial = 0;

export function navigate(path) { location.hash = `#${path}`; }

async function render() {
  const serial = ++renderSerial;
  unloaders.forEach((fn) => fn());
  unloaders = [];
  const [path, queryString = ""] = (location.hash.slice(1) || "/activities").split("?");
  const loggedIn = Boolean(session()?.token);
  if (!loggedIn && path !== "/login") return navigate("/login");
  const route = match(path) || match("/activities");
  const page = (await import(`./pages/${route.module}.js`)).default;
  if (serial !== renderSerial) return;  // another navigation happened meanwhile
  const info = roleInfo();
  document.getElementById("title").textContent = page.title;
  const back = document.getElementById("back");
  const tabs = loggedIn && path !== "/login" ? tabsFor(info) : [];
  const isTab = tabs.some(([p]) => p === path);
  back.hidden = isTab || path === "/login";
  back.onclick = () => history.back();
  const bar = document.getElementById("tabbar");
  bar.hidden = tabs.length === 0;
  bar.replaceChildren(...tabs.map(([p, label, name]) =>
    h("a", { href: `#${p}`, class: p === path ? "active" : "", testid: `tab-${p.slice(1)}` },
      icon(name), label)));
  // Each visit renders into its own element: a slower page still loading from an earlier
  // visit then writes into a detached node, never over this one.
  const el = h("div", { "data-page": route.module });
  document.getElementById("page").replaceChildren(el);
  const ctx = {
    params: route.params, query: new URLSearchParams(queryString), info, user: session()?.user,
    onUnload: (fn) => unloaders.push(fn), navigate,
  };
  try {
    await page.render(el, ctx);
  } catch {
    el.replaceChildren(h("div", { class: "error", role: "alert" }, "页面加载失败，请稍后再试"));
  }
}

// Nothing unexpected reaches the user as a stack trace.
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  wx.showToast({ title: "系统繁忙，请稍后再试" });
});

setLargeText(largeText());
whenLoggedOut(() => { clearSession(); navigate("/login"); });
window.addEventListener("hashchange", render);
loadConfig().then(render, () => {
  document.getElementById("page").replaceChildren(
    h("div", { class: "error", role: "alert" }, "无法连接服务器，请稍后再试"));
});

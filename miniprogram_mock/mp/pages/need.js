// One need (from a 需求处理进展 notice): its status, the community's reply, support.
import { api } from "../api.js";
import { errorBox, h } from "../ui.js";
import { residentNeedCard } from "./needs.js";

export default {
  title: "需求详情",
  async render(el, { params, info }) {
    let need;
    try {
      need = await api.get(`/needs/${params.id}`);
    } catch (error) {
      el.replaceChildren(errorBox(error));
      return;
    }
    el.replaceChildren(residentNeedCard(need, Boolean(info.residentCommunity)),
      h("a", { class: "btn block secondary", href: "#/needs" }, "查看全部需求"));
  },
};

// 我要提需求: title, description and category; the refusal (too many today, a field) in Chinese.
import { actionButton, empty, h, toast } from "../ui.js";
import { CATEGORY_ZH } from "./voice.js";

export default {
  title: "提出需求",
  render(el, { info, navigate }) {
    const community = info.residentCommunity;
    if (!community) {
      el.replaceChildren(empty("加入社区后才能提出需求"));
      return;
    }
    const slot = h("div");
    const title = h("input", { id: "need-title", testid: "need-title", maxlength: 100, placeholder: "一句话说清需求" });
    const description = h("textarea", { id: "need-description", testid: "need-description", rows: 4,
      maxlength: 2000, placeholder: "具体情况、地点、涉及多少人" });
    const category = h("select", { id: "need-category", testid: "need-category" },
      Object.entries(CATEGORY_ZH).map(([v, label]) => h("option", { value: v }, label)));
    el.replaceChildren(h("div", { class: "card", testid: "need-form", role: "form", "aria-label": "提出需求" },
      h("label", { for: title.id }, "标题"), title,
      h("label", { for: category.id }, "类别"), category,
      h("label", { for: description.id }, "描述"), description,
      actionButton("提交需求", async (act) => {
        if (!title.value.trim()) return toast("请填写标题");
        await act.post(`/communities/${community}/needs`, {
          title: title.value.trim(), description: description.value.trim(), category: category.value,
        });
        toast("需求已提交");
        navigate("/needs?sort=newest");
      }, { slot, testid: "need-submit" }), slot));
  },
};

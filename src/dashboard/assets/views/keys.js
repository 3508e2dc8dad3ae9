// Keys and tokens: list, create (the secret is shown once), revoke — for API keys and node tokens.
import { api } from "../api.js";
import { ago, confirmDialog, h, setChildren, toast } from "../dom.js";

const KINDS = {
  api: {
    title: "API keys",
    path: "/v0/api-keys",
    list: (j) => j.api_keys,
    created: (j) => ({ secret: j.key, record: j.api_key }),
    noun: "API key",
    note: "Applications send it as Authorization: Bearer <key>.",
  },
  node: {
    title: "Node tokens",
    path: "/v0/node-tokens",
    list: (j) => j.node_tokens,
    created: (j) => ({ secret: j.token, record: j.node_token }),
    noun: "node token",
    note: "Agents send it to join: llmlb agent --token <token>.",
  },
};

function section(kind) {
  const k = KINDS[kind];
  const body = h("div");
  const reveal = h("div.reveal", { hidden: true, role: "region", "aria-label": `New ${k.noun}` });
  const name = h("input", { type: "text", id: `${kind}-name`, required: true, maxlength: "128", placeholder: "e.g. batch-jobs", autocomplete: "off" });
  const scope =
    kind === "api"
      ? h("select", { id: "api-scope", "aria-label": "Scope" }, h("option", { value: "inference", text: "inference" }), h("option", { value: "admin", text: "admin (full access)" }))
      : null;
  const form = h(
    "form.toolbar",
    { "aria-label": `Create ${k.noun}` },
    h("label", { for: `${kind}-name`, text: "Name" }),
    name,
    scope,
    h("button.btn.primary", { type: "submit", text: `Create ${k.noun}` }),
  );

  async function load() {
    try {
      const items = k.list(await api("GET", k.path));
      items.sort((a, b) => Number(!!a.revoked_at) - Number(!!b.revoked_at) || b.created_at.localeCompare(a.created_at));
      setChildren(
        body,
        items.length
          ? h(
              "div.table-wrap",
              {},
              h(
                "table",
                { "aria-label": k.title },
                h("thead", {}, h("tr", {}, ["Name", "Prefix", kind === "api" ? "Scopes" : null, "Created", "Last used", "Status", ""].filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t || h("span.sr-only", { text: "Actions" }))))),
                h("tbody", {}, items.map((it) => row(it))),
              ),
            )
          : h("p.muted", { text: `No ${k.noun}s yet.` }),
      );
    } catch (err) {
      setChildren(body, h("p.error", { role: "alert", text: err.message }));
    }
  }

  function row(it) {
    const status = it.revoked_at ? "revoked" : "active";
    return h(
      "tr",
      { "data-id": it.id, "data-name": it.name, "data-status": status },
      h("td", { text: it.name }),
      h("td", {}, h("code", { text: `${it.prefix}…` })),
      kind === "api" ? h("td", { text: it.scopes.join(", ") }) : null,
      h("td", { text: ago(it.created_at) }),
      h("td", { text: it.last_used_at ? ago(it.last_used_at) : "never" }),
      h("td", {}, h(`span.badge.${status === "active" ? "state-online" : "state-offline"}`, { text: it.static ? `${status} (static)` : status })),
      h(
        "td",
        {},
        h("button.btn.small.danger", {
          type: "button",
          "data-action": "revoke",
          "aria-label": `Revoke ${it.name}`,
          text: "Revoke",
          disabled: !!it.revoked_at || it.static,
          title: it.static ? "Static credentials come from the environment; remove them there." : undefined,
          on: { click: () => revoke(it) },
        }),
      ),
    );
  }

  async function revoke(it) {
    const ok = await confirmDialog(`Revoke ${it.name}?`, `Anything still using this ${k.noun} is refused from now on. This cannot be undone.`, "Revoke");
    if (!ok) return;
    try {
      await api("DELETE", `${k.path}/${encodeURIComponent(it.id)}`);
      toast(`${it.name} revoked`);
      await load();
    } catch (err) {
      toast(`Revoke failed: ${err.message}`, "error");
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { name: name.value.trim() };
    if (scope) body.scopes = [scope.value];
    try {
      const { secret, record } = k.created(await api("POST", k.path, body));
      const code = h("code.secret", { id: `${kind}-secret`, text: secret, tabindex: "0" });
      const copy = h("button.btn.small", {
        type: "button",
        text: "Copy",
        on: {
          click: async () => {
            try {
              await navigator.clipboard.writeText(secret);
              toast("Copied");
            } catch {
              getSelection()?.selectAllChildren(code);
              toast("Selected: press Ctrl+C to copy");
            }
          },
        },
      });
      const dismiss = h("button.btn.small.ghost", { type: "button", text: "Done", on: { click: () => ((reveal.hidden = true), reveal.replaceChildren()) } });
      setChildren(reveal, h("p", {}, h("strong", { text: `${record.name}: ` }), `copy this ${k.noun} now — it is shown only once. ${k.note}`), h("div.secret-row", {}, code, copy, dismiss));
      reveal.hidden = false;
      code.focus();
      name.value = "";
      await load();
    } catch (err) {
      toast(`Create failed: ${err.message}`, "error");
    }
  });

  void load();
  return h("section.card", { "aria-labelledby": `h-${kind}`, "data-kind": kind }, h("h2", { id: `h-${kind}`, text: k.title }), form, reveal, body);
}

/** Renders the Keys and tokens view into root. */
export function keysView(root) {
  setChildren(root, h("div.view-head", {}, h("h1", { text: "Keys & tokens" })), section("api"), section("node"));
  return () => {};
}

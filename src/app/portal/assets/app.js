// Rollcall set-up portal. Plain DOM, no dependencies, no external requests.
// Every value from the server is put in the page as text, never as HTML.
"use strict";
(function () {
  const main = document.getElementById("main");
  const announce = document.getElementById("announce");
  const GUIDES = window.ROLLCALL_GUIDES || {};
  const state = { session: null, status: null, secret: null, poll: null };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }
  // Replaces a node's children, skipping the nulls of optional parts.
  function put(node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  }
  const say = (msg) => { announce.textContent = ""; setTimeout(() => { announce.textContent = msg; }, 30); };
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { accept: "application/json" } };
    if (method !== "GET") init.headers["x-rollcall-portal"] = "1";
    if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
    const r = await fetch("/portal/api/" + path, init);
    if (r.status === 401) { ended(); throw new Error("session ended"); }
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) throw new Error((data && data.error && data.error.message) || "Request failed (" + r.status + ")");
    return data;
  }

  function ended() {
    stopPoll();
    put(main, el("h1", { text: "This set-up session has ended" }),
      el("p", { text: "Open the set-up link again from your application to get a new one." }));
  }

  function copyButton(input, what) {
    return el("button", { type: "button", class: "secondary", "aria-label": "Copy " + what, onclick: async () => {
      try { await navigator.clipboard.writeText(input.value); } catch (_) { input.select(); document.execCommand("copy"); }
      say(what + " copied");
    } }, "Copy");
  }

  function valueRow(id, label, value, what) {
    const input = el("input", { type: "text", id, readonly: true, value, spellcheck: "false", autocomplete: "off" });
    return [el("label", { for: id, text: label }), el("div", { class: "value" }, input, copyButton(input, what || label))];
  }

  function badge(stateName) {
    const map = { linked: ["ok", "Linked"], pending: ["wait", "Waiting for your identity provider"], deleting: ["bad", "Being removed"] };
    const [cls, text] = map[stateName] || ["wait", stateName];
    return el("span", { class: "badge " + cls, "data-state": stateName }, text);
  }

  function stopPoll() { if (state.poll) { clearInterval(state.poll); state.poll = null; } }

  // ---- routes: #/ (home), #/d/<id>/<tab>
  let first = true;
  function focusMain() {
    // Not on the first load: a keyboard user starts at the skip link.
    if (!first) main.focus();
    first = false;
  }

  // body[data-view] names what is on screen once it is rendered (tests wait for it).
  async function route() {
    stopPoll();
    delete document.body.dataset.view;
    const m = location.hash.match(/^#\/d\/([A-Za-z0-9_-]+)(?:\/(setup|status|users|groups))?$/);
    if (m) await directoryPage(m[1], m[2] || "setup");
    else await home();
    document.body.dataset.view = m ? "directory:" + (m[2] || "setup") : "home";
  }

  async function loadSession() {
    state.session = await api("GET", "session");
    document.getElementById("org-name").textContent = state.session.organization.name;
    return state.session;
  }

  async function home() {
    const s = await loadSession();
    const list = el("ul", { class: "cards" }, s.directories.map((d) => el("li", { class: "card" },
      el("h3", {}, el("a", { href: "#/d/" + d.id + "/setup" }, d.name)),
      el("p", { class: "meta" }, d.provider_name + " · ", badge(d.state), " · " + d.user_count + " users · " + d.group_count + " groups"))));
    const radios = s.providers.map((p) => el("label", {}, el("input", { type: "radio", name: "provider", value: p.id, required: true }), p.name));
    const nameInput = el("input", { type: "text", id: "dir-name", name: "name", maxlength: "100", autocomplete: "off" });
    const error = el("p", { role: "alert", class: "notice bad", hidden: true });
    const form = el("form", { onsubmit: async (e) => {
      e.preventDefault();
      const picked = form.querySelector("input[name=provider]:checked");
      if (!picked) { error.hidden = false; error.textContent = "Choose your identity provider."; return; }
      try {
        const d = await api("POST", "directories", { provider: picked.value, name: nameInput.value.trim() || undefined });
        state.secret = { directory: d.id, kind: "bearer", token: d.scim.bearer_token };
        location.hash = "#/d/" + d.id + "/setup";
      } catch (err) { error.hidden = false; error.textContent = err.message; }
    } },
      el("fieldset", {}, el("legend", { text: "Which identity provider do you use?" }), el("div", { class: "providers" }, radios)),
      el("label", { for: "dir-name", text: "Name for this connection (optional)" }), nameInput,
      el("p", {}, el("button", { type: "submit" }, "Create connection")), error);
    put(main, 
      el("h1", { text: "Connect " + s.organization.name + "'s directory" }),
      el("p", { text: "Your identity provider sends your users and groups to this application over SCIM. Pick your provider and follow its steps; this page shows, live, what it sends." }),
      s.directories.length ? el("section", { "aria-labelledby": "existing" }, el("h2", { id: "existing", text: "Your connections" }), list) : null,
      el("section", { "aria-labelledby": "new" }, el("h2", { id: "new", text: "Set up a new connection" }), form));
    focusMain();
  }

  // ---- a directory
  async function directoryPage(id, tab) {
    if (!state.session) await loadSession();
    let st;
    try { st = await api("GET", "directories/" + id); } catch (err) { put(main, el("h1", { text: "Connection not found" }), el("p", {}, el("a", { href: "#/" }, "Back to your connections"))); return; }
    state.status = st;
    const d = st.directory;
    const tabs = [["setup", "Set up"], ["status", "Status and requests"], ["users", "Users"], ["groups", "Groups"]];
    const nav = el("nav", { "aria-label": "Connection" }, el("ul", { class: "tabs" }, tabs.map(([t, label]) =>
      el("li", {}, el("a", { href: "#/d/" + id + "/" + t, "aria-current": t === tab ? "page" : null }, label)))));
    const live = el("div", { id: "live" });
    const body = el("div", { id: "tab" });
    const kind = d.name === d.provider_name ? [] : [el("p", { class: "meta" }, d.provider_name)];
    put(main, el("p", {}, el("a", { href: "#/" }, "← All connections")), el("h1", {}, d.name), ...kind, live, nav, body);
    renderLive(live, st);
    if (tab === "setup") renderSetup(body, st);
    if (tab === "status") renderStatus(body, st);
    if (tab === "users" || tab === "groups") renderSearch(body, id, tab);
    if (tab === "setup" || tab === "status") {
      let polls = 0;
      state.poll = setInterval(async () => {
        // Light polls: the requests are read again only when a newer one
        // arrived, and in full every 30 s (deliveries move on their own).
        const since = (state.status.last_request && state.status.last_request.n) || 0;
        const light = ++polls % 10 !== 0;
        let next;
        try { next = await api("GET", "directories/" + id + (light ? "?since=" + since : "")); } catch (_) { return; }
        if (next.requests === null) {
          next.requests = state.status.requests;
          next.last_request = state.status.last_request;
          next.recognised_idp = next.recognised_idp || state.status.recognised_idp;
        }
        const changed = next.directory.state !== state.status.directory.state;
        const newer = (next.last_request && next.last_request.n) !== (state.status.last_request && state.status.last_request.n);
        state.status = next;
        renderLive(live, next);
        if (changed) say("Connection is now " + next.directory.state);
        if (tab === "status" && (newer || changed || (next.auth_failures || {}).count !== (st.auth_failures || {}).count)) { st = next; renderStatus(body, next); }
      }, 3000);
    }
    focusMain();
  }

  function renderLive(node, st) {
    const d = st.directory;
    const last = st.last_request;
    const idp = st.recognised_idp;
    const parts = [el("p", { class: "row" }, el("strong", { text: "Status:" }), badge(d.state),
      el("span", { id: "counts", text: d.user_count + " users · " + d.group_count + " groups" }))];
    if (last) parts.push(el("p", { id: "last-request" }, "Last request: " + last.method + " " + last.route + " → " + last.status + " at " + when(last.at)));
    else parts.push(el("p", { id: "last-request", text: "No request from your identity provider yet." }));
    if (idp) {
      parts.push(el("p", { id: "recognised" }, "Requests look like they come from " + idp.name + "."));
      if (idp.id !== d.provider && d.provider !== "generic") parts.push(el("p", { class: "notice", text: "This connection was set up for " + d.provider_name + ", but the requests look like " + idp.name + "'s. That works; check you followed the right steps." }));
    }
    if (st.auth_failures) {
      const f = st.auth_failures;
      parts.push(el("div", { class: "notice bad", id: "auth-failures" },
        el("p", {}, el("strong", { text: "Refused credentials: " }), f.count + " since " + when(f.first_at) + ", last at " + when(f.last_at) + "."),
        el("p", { text: f.explanation })));
    }
    put(node, ...parts);
  }

  function fill(text, d) {
    return text.replace("«SCIM base URL»", "the SCIM base URL above").replace("«bearer token»", "the bearer token above").replace(/«([^»]*)»/g, "“$1”");
  }

  function renderSetup(node, st) {
    const d = st.directory;
    const g = GUIDES[d.provider] || GUIDES.generic;
    const secretBox = el("div", { id: "secret-box" });
    const tokenList = el("div", { id: "tokens" });
    const showSecret = () => {
      const s = state.secret && state.secret.directory === d.id ? state.secret : null;
      if (!s) { put(secretBox); return; }
      const rows = s.kind === "bearer"
        ? valueRow("secret-value", "Bearer token (shown once)", s.token, "bearer token")
        : [...valueRow("client-id", "Client id", s.client_id), ...valueRow("secret-value", "Client secret (shown once)", s.client_secret, "client secret"),
           ...valueRow("token-url", "Token endpoint", s.token_url)];
      put(secretBox, el("div", { class: "secret", role: "status" },
        el("p", {}, el("strong", { text: "Copy it now: " }), "Rollcall keeps only a fingerprint of it, and this page will not show it again."), ...rows));
    };
    const issue = async (kind) => {
      try {
        const t = await api("POST", "directories/" + d.id + "/tokens", { type: kind });
        state.secret = kind === "bearer" ? { directory: d.id, kind, token: t.token } : { directory: d.id, kind, client_id: t.client_id, client_secret: t.client_secret, token_url: t.token_url };
        showSecret(); await listTokens(); say("New credential generated; copy it now");
        const v = document.getElementById("secret-value"); if (v) v.focus();
      } catch (err) { put(secretBox, el("p", { role: "alert", class: "notice bad", text: err.message })); }
    };
    const listTokens = async () => {
      const ts = (await api("GET", "directories/" + d.id + "/tokens")).data;
      put(tokenList, ts.length ? el("div", { class: "table" }, el("table", {},
        el("caption", { class: "visually-hidden", text: "Live credentials" }),
        el("thead", {}, el("tr", {}, ["Credential", "Created", "Last used", ""].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ts.map((t) => el("tr", {},
          el("td", { "data-label": "Credential" }, (t.type === "bearer" ? "Bearer token …" : "OAuth client …") + t.hint),
          el("td", { "data-label": "Created", text: when(t.created_at) }),
          el("td", { "data-label": "Last used", text: when(t.last_used_at) }),
          el("td", {}, el("button", { type: "button", class: "danger", "aria-label": "Revoke credential ending " + t.hint, onclick: async () => {
            if (!confirm("Revoke this credential? Your identity provider can no longer use it.")) return;
            await api("DELETE", "directories/" + d.id + "/tokens/" + t.id); await listTokens(); say("Credential revoked");
          } }, "Revoke"))))))) : el("p", { text: "No live credential: generate one." }));
    };
    put(node, 
      el("h2", { text: "1. The values for " + g.where }),
      ...valueRow("scim-url", "SCIM base URL", d.scim_base_url),
      el("div", { class: "row" },
        el("button", { type: "button", id: "new-token", onclick: () => issue("bearer") }, "Generate a bearer token"),
        g.oauth ? el("button", { type: "button", class: "secondary", id: "new-oauth", onclick: () => issue("oauth_client") }, "Generate OAuth client credentials") : null),
      secretBox,
      el("h3", { text: "Live credentials" }), tokenList,
      el("p", { class: "meta", text: "A connection has at most two live credentials of each kind: to rotate, generate the new one, paste it into your identity provider, then revoke the old one." }),
      el("h2", { text: "2. Steps in " + g.name }),
      el("ol", { class: "steps" }, g.steps.map((s) => el("li", { text: fill(s, d) }))),
      el("h2", { text: "3. Check it works" }),
      el("p", { text: "Test the connection or assign a user in " + g.name + ". The status above turns to Linked at the first request Rollcall accepts, and every request appears on the Status and requests tab." }),
      el("h2", { text: "What " + g.name + " does not send" }),
      el("ul", { class: "gaps" }, g.gaps.map((s) => el("li", { text: s }))));
    showSecret();
    listTokens().catch(() => {});
  }

  function renderStatus(node, st) {
    const rows = st.requests.map((r) => {
      const events = r.events.map((e) => el("li", {}, el("code", { text: e.event }), " #" + e.sequence + " ",
        ...(Array.isArray(e.deliveries) ? e.deliveries : []).map((x) => el("span", { class: "badge " + (x.status === "delivered" ? "ok" : x.status === "failed" ? "bad" : "wait") }, "webhook " + x.status))));
      const outcome = r.explanation
        ? el("div", {}, el("p", {}, el("strong", { text: r.explanation.what })), el("p", { class: "fix", text: "Fix: " + r.explanation.fix }), r.detail ? el("p", {}, el("code", { text: r.detail })) : null)
        : el("div", {}, r.results !== null && r.results !== undefined ? el("p", { text: r.results + " found" }) : null, events.length ? el("ul", {}, events) : (r.method === "GET" ? null : el("p", { text: "No change" })));
      return el("tr", { "data-status": r.status },
        el("td", { "data-label": "When", text: when(r.at) }),
        el("td", { "data-label": "Request" }, el("code", { text: r.method + " " + r.route.replace("{id}", r.resource_id || "{id}") }), r.query ? el("div", {}, el("code", { text: "?" + r.query })) : null,
          r.idp_name ? el("div", { class: "meta", text: r.idp_name }) : null),
        el("td", { "data-label": "Answer" }, el("span", { class: "badge " + (r.status < 300 ? "ok" : "bad") }, String(r.status)), r.scim_type ? " " + r.scim_type : ""),
        el("td", { "data-label": "Outcome" }, outcome));
    });
    put(node, el("h2", { text: "Recent requests" }),
      el("p", { class: "meta", text: "The last 50 requests from your identity provider, newest first, with what each changed and how the application was told. Bodies, tokens and passwords are never kept." }),
      rows.length ? el("div", { class: "table" }, el("table", { id: "requests" },
        el("caption", { class: "visually-hidden", text: "Recent SCIM requests" }),
        el("thead", {}, el("tr", {}, ["When", "Request", "Answer", "Outcome"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows))) : el("p", { text: "No request yet." }));
  }

  function renderSearch(node, id, tab) {
    const input = el("input", { type: "search", id: "search", autocomplete: "off" });
    const out = el("div", { id: "results", "aria-live": "polite" });
    const run = async () => {
      const r = await api("GET", "directories/" + id + "/" + tab + "?search=" + encodeURIComponent(input.value.trim()));
      const items = r.data.map((x) => tab === "users"
        ? el("tr", {}, el("td", { "data-label": "User name", text: x.username || "" }), el("td", { "data-label": "Name", text: [x.first_name, x.last_name].filter(Boolean).join(" ") || x.display_name || "" }),
            el("td", { "data-label": "Email", text: x.email || "" }), el("td", { "data-label": "State" }, el("span", { class: "badge " + (x.state === "active" ? "ok" : "wait") }, x.state)))
        : el("tr", {}, el("td", { "data-label": "Group", text: x.name || "" }), el("td", { "data-label": "IdP id", text: x.idp_id || "" })));
      const head = tab === "users" ? ["User name", "Name", "Email", "State"] : ["Group", "IdP id"];
      put(out, items.length ? el("div", { class: "table" }, el("table", {}, el("caption", { class: "visually-hidden", text: tab }),
        el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))), el("tbody", {}, items)))
        : el("p", { text: "Nothing found." }), items.length === r.limit ? el("p", { class: "meta", text: "Showing the first " + r.limit + "; narrow the search." }) : null);
    };
    let timer = null;
    input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 250); });
    put(node, el("label", { for: "search", text: tab === "users" ? "Search users by user name or name" : "Search groups by name" }), input, out);
    run().catch(() => {});
  }

  document.getElementById("sign-out").addEventListener("click", async () => {
    try { await api("POST", "sign_out"); } catch (_) { /* ended anyway */ }
    ended();
  });
  window.addEventListener("hashchange", () => route().catch(() => {}));
  route().catch(() => {});
})();

// Staff console page: plain DOM, no build step. Every call goes to the documented API
// (/api/openapi.json); the server decides what each role may do.
"use strict";

const $ = (sel) => document.querySelector(sel);
const STATUS = { draft: "草稿", published: "现行", superseded: "已被替代", scheduled: "待生效", expired: "已失效", repealed: "已废止" };
const KIND = { handoff: "转人工", fallback: "没听懂", feedback: "答案没帮上" };
const CHANGE = { added: "新增", removed: "删除", changed: "修改", renumbered: "编号变化" };
let me = null;
// The session's CSRF token: handed out by /api/login and /api/me in this header, sent back
// with every state-changing request (the server refuses them without it).
const CSRF_HEADER = "X-CSRF-Token";
let csrfToken = "";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") node.addEventListener("click", v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

async function api(path, options = {}) {
  const { json, ...opts } = { credentials: "same-origin", ...options };
  const headers = { ...(opts.headers || {}) };
  if (json !== undefined) {
    opts.method = opts.method || "POST";
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(json);
  }
  const method = (opts.method || "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") headers[CSRF_HEADER] = csrfToken;
  opts.headers = headers;
  const resp = await fetch(path, opts);
  const issued = resp.headers.get(CSRF_HEADER);
  if (issued) csrfToken = issued;
  if (resp.status === 401 && path !== "/api/login") { showLogin(); throw new Error("请先登录"); }
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(typeof data.detail === "string" ? data.detail : `请求失败（${resp.status}）`);
  return data;
}

const when = (ts) => ts ? new Date(ts * 1000).toLocaleString("zh-CN", { hour12: false }) : "";

// -- login ---------------------------------------------------------------------------------
function showLogin() { $("#main-view").hidden = true; $("#login-view").hidden = false; }

async function start() {
  try { me = await api("/api/me"); } catch { return; }
  $("#login-view").hidden = true; $("#main-view").hidden = false;
  $("#whoami").textContent = `${me.username}（${me.role === "admin" ? "管理员" : "客服"}）`;
  document.querySelectorAll(".admin-only").forEach((n) => { n.hidden = me.role !== "admin"; });
  showTab("chat");
  refreshQueueCount();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    await api("/api/login", { json: { username: $("#login-username").value, password: $("#login-password").value } });
    $("#login-password").value = "";
    await start();
  } catch (err) { $("#login-error").textContent = err.message; }
});

$("#logout").addEventListener("click", async () => { await api("/api/logout", { json: {} }); csrfToken = ""; showLogin(); });

// -- tabs ----------------------------------------------------------------------------------
const loaders = { queue: loadQueue, conversations: loadConversations, kb: loadDocuments, chat: async () => {}, account: async () => {} };
function showTab(name) {
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  document.querySelectorAll("header nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  loaders[name]().catch((err) => alert(err.message));
}
document.querySelectorAll("header nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// -- chat ----------------------------------------------------------------------------------
function addMessage(cls, text) {
  const node = el("div", { class: `msg ${cls}` }, text);
  $("#chat-log").append(node);
  node.scrollIntoView({ block: "end" });
}
$("#chat-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#chat-input").value.trim();
  if (!text) return;
  $("#chat-input").value = "";
  addMessage("user", text);
  $("#chat-send").disabled = true;
  try {
    const data = await api("/api/chat", { json: { text } });
    for (const r of data.replies) if (r.text) addMessage("bot", r.text);
    if (!data.replies.length) addMessage("bot", "（助手没有回复）");
  } catch (err) { addMessage("bot", `出错了：${err.message}`); }
  finally { $("#chat-send").disabled = false; refreshQueueCount(); }
});

// -- review queue --------------------------------------------------------------------------
async function refreshQueueCount() {
  try { const items = await api("/api/queue"); $("#queue-count").textContent = items.length || ""; } catch { /* shown elsewhere */ }
}
async function loadQueue() {
  const items = await api("/api/queue");
  $("#queue-count").textContent = items.length || "";
  const body = $("#queue-table tbody");
  body.replaceChildren(...items.map((i) => el("tr", { "data-key": i.key, "data-sender": i.sender_id },
    el("td", {}, when(i.timestamp)),
    el("td", {}, el("span", { class: "tag" }, KIND[i.kind] || i.kind), i.paused ? "（人工处理中）" : ""),
    el("td", {}, i.question),
    el("td", {}, i.detail),
    el("td", {},
      el("button", { class: "secondary", onclick: () => { showTab("conversations"); openConversation(i.sender_id); } }, "查看"), " ",
      el("button", { class: "secondary resolve", onclick: async () => { await api(`/api/queue/${encodeURIComponent(i.sender_id)}/${encodeURIComponent(i.key)}/resolve`, { json: {} }); loadQueue(); } }, "标记已处理")))));
  if (!items.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "hint" }, "没有待处理的对话。")));
}

// -- conversations -------------------------------------------------------------------------
const CONVERSATION_PAGE = 50;
// One page at a time, newest first (GET /api/conversations?offset=&limit=); "加载更多" appends the next.
async function loadConversations(offset = 0) {
  const list = await api(`/api/conversations?offset=${offset}&limit=${CONVERSATION_PAGE}`);
  const ul = $("#conversation-list");
  const rows = list.map((c) => el("li", { "data-sender": c.sender_id, onclick: () => openConversation(c.sender_id) },
    el("div", {}, c.sender_label, c.open_items ? el("span", { class: "badge" }, String(c.open_items)) : null),
    el("div", { class: "meta" }, `${c.channel || ""} · ${c.turns} 轮 · ${when(c.last_timestamp)}`),
    el("div", { class: "meta" }, c.last_text)));
  if (offset === 0) ul.replaceChildren(...rows);
  else { ul.querySelector("li.more")?.remove(); ul.append(...rows); }
  if (list.length === CONVERSATION_PAGE) {
    ul.append(el("li", { class: "more hint", onclick: () => loadConversations(offset + CONVERSATION_PAGE) }, "加载更多"));
  }
}

function renderTurn(t) {
  const conf = t.confidence === null || t.confidence === undefined ? "" : `（置信度 ${t.confidence.toFixed(2)}）`;
  const evidence = t.retrieval.flatMap((r) => r.evidence.map((e) =>
    el("li", {}, `${e.score.toFixed(3)} · ${e.citation}：${e.text}`)));
  return el("div", { class: "turn" },
    el("div", {}, el("strong", {}, "用户："), t.text),
    el("div", { class: "meta" }, `意图 ${t.intent || "—"}${conf} · ${when(t.timestamp)}`, ...t.flags.map((f) => el("span", { class: "tag" }, KIND[f] || f))),
    ...t.replies.map((r) => el("div", { class: r.staff ? "msg staff" : "msg bot" }, r.staff ? `【${r.staff}】${r.text}` : r.text)),
    t.citations.length ? el("div", { class: "meta citations" }, "引用：", t.citations.join("；")) : null,
    evidence.length ? el("details", {}, el("summary", { class: "meta" }, "检索到的段落"), el("ul", {}, evidence)) : null);
}

async function openConversation(sender) {
  const c = await api(`/api/conversations/${encodeURIComponent(sender)}`);
  const box = $("#conversation-detail");
  const path = `/api/conversations/${encodeURIComponent(sender)}`;
  const status = el("p", { class: "meta", id: "takeover-status", role: "status" }, c.paused ? "人工处理中：助手暂停回复此用户。" : "助手正在自动回复。");
  const replyInput = el("input", { id: "staff-reply-input", placeholder: "回复用户（会发到用户所在的渠道）", maxlength: "2000" });
  const replyForm = el("form", { class: "row", id: "staff-reply-form" }, replyInput, el("button", { type: "submit", id: "staff-reply-send" }, "发送"));
  replyForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = replyInput.value.trim();
    if (!text) return;
    try { const r = await api(`${path}/reply`, { json: { text } }); replyInput.value = ""; await openConversation(sender); $("#takeover-status").textContent = `已发送（${r.delivered_via === "wechat" ? "微信客服消息" : "网页/App"}）`; }
    catch (err) { $("#takeover-status").textContent = err.message; }
  });
  // A conversation stored under an id Rasa's API cannot carry unchanged cannot be acted on here.
  const actions = c.actionable ? [
      el("div", { class: "row" },
        el("button", { id: "takeover", onclick: async () => { await api(`${path}/takeover`, { json: {} }); openConversation(sender); } }, "接管对话"),
        el("button", { id: "release", class: "secondary", onclick: async () => { await api(`${path}/release`, { json: {} }); openConversation(sender); } }, "交还助手")),
      replyForm] : [el("p", { class: "error" }, "这个会话的用户标识含有无法安全转发的字符，不能在工作台接管或回复。")];
  box.replaceChildren(
    el("h2", {}, `会话 ${c.sender_label}`), el("p", { class: "meta" }, `渠道：${c.channel || "未知"}`),
    ...c.turns.map(renderTurn),
    el("div", { class: "card" }, status, ...actions));
}

// -- knowledge base ------------------------------------------------------------------------
async function loadDocuments() {
  const docs = await api("/api/kb/documents");
  $("#kb-documents").replaceChildren(...docs.map((d) => {
    const current = d.versions.find((v) => v.status === "published");
    const head = d.versions[d.versions.length - 1];
    const rel = head.relations || { repeals: [], repealed_by: [], rests_on: [] };
    const names = (xs) => xs.map((x) => `《${x.title}》`).join("");
    const relations = [
      rel.repeals.length ? `废止了${names(rel.repeals)}` : "",
      rel.repealed_by.length ? `已被${names(rel.repealed_by)}废止（${head.repealed}）` : "",
      rel.rests_on.length ? `依据${names(rel.rests_on)}` : "",
    ].filter(Boolean).join("；");
    return el("div", { class: "document", "data-doc": d.doc_id },
      el("h3", {}, head.short_title || head.title || d.doc_id),
      el("p", { class: "meta" }, [head.doc_type_name, head.issuer, d.doc_id].filter(Boolean).join(" · ")),
      relations ? el("p", { class: "meta relations" }, relations) : null,
      el("table", {}, el("thead", {}, el("tr", {}, ...["版本", "状态", "生效", "失效", "条款数", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...d.versions.map((v) => el("tr", { "data-version": v.version },
          el("td", {}, v.version), el("td", { class: "status" }, STATUS[v.status] || v.status), el("td", {}, v.effective), el("td", {}, v.expires || "—"), el("td", {}, String(v.clauses)),
          el("td", {},
            current && current.version !== v.version ? el("button", { class: "secondary diff", onclick: () => showDiff(d.doc_id, current.version, v.version) }, "与现行版对比") : null, " ",
            me.role === "admin" && v.status === "draft" ? el("button", { class: "publish", onclick: () => publish(d.doc_id, v.version) }, "发布") : null))))));
  }));
}

function renderInline(text) {
  // knowledge.publishing.diff.inline_diff marks deletions [-…-] and insertions {+…+}
  const parts = text.split(/(\[-[\s\S]*?-\]|\{\+[\s\S]*?\+\})/);
  return parts.map((p) => p.startsWith("[-") ? el("del", {}, p.slice(2, -2)) : p.startsWith("{+") ? el("ins", {}, p.slice(2, -2)) : p);
}

async function showDiff(docId, oldV, newV) {
  const d = await api(`/api/kb/documents/${encodeURIComponent(docId)}/diff?old=${encodeURIComponent(oldV)}&new=${encodeURIComponent(newV)}`);
  const c = d.counts;
  $("#kb-diff").replaceChildren(
    el("p", { id: "diff-summary" }, `${oldV} → ${newV}：修改 ${c.changed}，新增 ${c.added}，删除 ${c.removed}，编号变化 ${c.renumbered}，未变 ${c.unchanged}`),
    ...(d.limited ? [el("p", { class: "meta", id: "diff-limited" }, "部分条款过长或改动过多，未逐字对比：只标出了改动的范围，请对照原文复核。")] : []),
    ...d.needs_review.map((r) => el("p", { class: "error" }, `需复核：${r.citer} 引用了${CHANGE[r.kind] || r.kind}的条款 ${r.clause_key}`)),
    ...d.changes.map((ch) => el("div", { class: "turn" },
      el("div", {}, el("span", { class: "tag" }, CHANGE[ch.kind] || ch.kind), `${ch.old_key || ""}${ch.new_key && ch.new_key !== ch.old_key ? " → " + ch.new_key : ""}（${ch.title}）`, ch.coarse ? el("span", { class: "meta" }, "（条款过长，未逐字对比）") : null),
      el("div", {}, ...(ch.text_diff ? renderInline(ch.text_diff) : [ch.new_text || ch.old_text])))));
}

async function publish(docId, version) {
  if (!confirm(`确定发布 ${docId} 的 ${version} 版？发布后助手立即按新版回答。`)) return;
  const out = $("#publish-progress");
  out.textContent = "开始发布…";
  let job = await api("/api/kb/publish", { json: { doc_id: docId, version } });
  while (job.state === "running") {
    out.textContent = ["发布中…", ...job.progress].join("\n");
    await new Promise((r) => setTimeout(r, 500));
    job = await api(`/api/kb/jobs/${job.id}`);
  }
  const verdict = { published: `已发布 ${docId}@${version}，索引 ${job.result.generation}，用时 ${job.result.seconds} 秒。`, refused: "发布被拒绝：", failed: "发布失败（现行索引未受影响）：" }[job.state];
  out.textContent = [verdict, ...job.progress, ...job.problems].join("\n");
  out.dataset.state = job.state;
  loadDocuments();
}

$("#upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const out = $("#upload-result");
  out.className = ""; out.textContent = "正在导入…";
  try {
    const r = await api("/api/kb/upload", { method: "POST", body: new FormData(ev.target) });
    const dc = r.diff_counts;
    out.className = "ok";
    out.textContent = `已导入草稿 ${r.doc_id}@${r.version}：${r.clauses} 条款` +
      (dc ? `；与现行版相比 修改 ${dc.changed}、新增 ${dc.added}、删除 ${dc.removed}` : "") +
      (r.unplaced_lines.length ? `；${r.unplaced_lines.length} 行无法归入条款` : "");
    loadDocuments();
  } catch (err) { out.className = "error"; out.textContent = err.message; }
});

start().then(() => { if ($("#main-view").hidden) showLogin(); });

// -- account: own password, other sessions -------------------------------------------------
function say(node, cls, text) { node.className = cls; node.textContent = text; }

$("#password-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const result = $("#password-result");
  say(result, "", "");
  const next = $("#password-new").value;
  if (next !== $("#password-again").value) { say(result, "error", "两次输入的新密码不一致"); return; }
  $("#password-submit").disabled = true;
  try {
    const r = await api("/api/password", { json: { current_password: $("#password-current").value, new_password: next } });
    ev.target.reset();
    say(result, "ok", r.signed_out ? `密码已修改，其他设备上的 ${r.signed_out} 处登录已退出` : "密码已修改");
  } catch (err) { say(result, "error", err.message); }
  finally { $("#password-submit").disabled = false; }
});

$("#logout-others").addEventListener("click", async () => {
  const result = $("#logout-others-result");
  try {
    const r = await api("/api/logout-others", { json: {} });
    say(result, "ok", r.signed_out ? `已退出其他设备上的 ${r.signed_out} 处登录` : "没有其他设备上的登录");
  } catch (err) { say(result, "error", err.message); }
});

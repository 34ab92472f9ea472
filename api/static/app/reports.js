/* Reports that fill themselves (帮我填): pick a form, an area and a month, download it filled. */
"use strict";

(function () {
  const G = window.Gridgov;
  const T = G.T;
  if (!G.requireLogin()) return;

  const $ = (id) => document.getElementById(id);
  const me = G.user() || {};
  let lastUrl = null;

  function previousMonth() {
    const now = new Date();
    const month = new Date(now.getFullYear(), now.getMonth() - 1, 1);
    return month.getFullYear() + "-" + String(month.getMonth() + 1).padStart(2, "0");
  }

  function addArea(code, name, depth) {
    const prefix = depth ? "\u3000".repeat(depth) : "";
    $("area").add(new Option(prefix + name + " (" + code + ")", code));
  }

  async function loadAreas() {
    if (me.grid_code) {
      addArea(me.grid_code, me.grid_code, 0);
      return;
    }
    let top = [];
    if (me.area_code) {
      const area = await G.api("/api/v1/areas/" + encodeURIComponent(me.area_code));
      top = [{ code: area.properties.code, name: area.properties.name }];
    } else {
      const city = await G.api("/api/v1/map/areas?level=city");
      top = city.features.map((f) => ({ code: f.properties.code, name: f.properties.name }));
    }
    for (const area of top) {
      addArea(area.code, area.name, 0);
      const children = await G.api("/api/v1/areas/" + encodeURIComponent(area.code) + "/children");
      for (const child of children.features) addArea(child.properties.code, child.properties.name, 1);
    }
  }

  async function loadTemplates() {
    const list = await G.api("/api/v1/reports/templates");
    for (const template of list) $("template-name").add(new Option(template.title, template.name));
  }

  function showError(message, fields) {
    const box = $("reports-error");
    box.textContent = "";
    const head = document.createElement("p");
    head.textContent = message;
    box.appendChild(head);
    if (fields && fields.length) {
      const list = document.createElement("ul");
      for (const field of fields) {
        const item = document.createElement("li");
        item.textContent = field.field + ": " + field.reason;
        list.appendChild(item);
      }
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function showProgress(step) {
    const bar = $("fill-progress");
    if (!step || !step.total) {
      bar.removeAttribute("value");
      $("fill-status").textContent = T("web.reports.filling");
      return;
    }
    bar.max = step.total;
    bar.value = step.done;
    $("fill-status").textContent = T("web.reports.progress", { done: step.done, total: step.total });
  }

  // The answer is one JSON object a line: {"done", "total"} while the form fills, then the
  // file ({"file", "filename", "media_type"}) or {"problem"}. Returns that last line.
  async function readLines(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    let last = null;
    for (;;) {
      const { value, done } = await reader.read();
      pending += decoder.decode(value || new Uint8Array(), { stream: !done });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        if (event.file || event.problem) last = event;
        else showProgress(event);
      }
      if (done) return last;
    }
  }

  async function fill(event) {
    event.preventDefault();
    $("reports-error").hidden = true;
    $("reports-done").hidden = true;
    const form = new FormData();
    const upload = $("template-file").files[0];
    if (upload) form.append("template", upload);
    else form.append("template_name", $("template-name").value);
    form.append("area", $("area").value);
    form.append("period", $("month").value);
    $("fill").disabled = true;
    $("filling").hidden = false;
    showProgress(null);
    try {
      const response = await fetch("/api/v1/reports/fill/progress", {
        method: "POST",
        body: form,
        headers: { Authorization: "Bearer " + localStorage.getItem("gridgov.token"),
                   "Accept-Language": window.GRIDGOV.lang,
                   Accept: "application/x-ndjson" },
      });
      if (!response.ok) {
        let problem = null;
        try {
          problem = await response.json();
        } catch (e) {
          problem = null;
        }
        const message = problem && problem.detail ? problem.detail
          : T("web.error.http", { status: response.status });
        showError(message, problem ? problem.errors : []);
        return;
      }
      const result = await readLines(response);
      if (!result || result.problem) {
        const problem = result ? result.problem : null;
        showError(problem ? problem.detail : T("web.error.offline"), problem ? problem.errors : []);
        return;
      }
      const bytes = Uint8Array.from(atob(result.file), (c) => c.charCodeAt(0));
      const blob = new Blob([bytes], { type: result.media_type });
      if (lastUrl) URL.revokeObjectURL(lastUrl);
      lastUrl = URL.createObjectURL(blob);
      const link = $("download");
      link.href = lastUrl;
      link.download = result.filename;
      link.textContent = T("web.reports.download_named", { name: link.download });
      $("reports-done").hidden = false;
      link.click();
    } catch (e) {
      showError(T("web.error.offline"), []);
    } finally {
      $("fill").disabled = false;
      $("filling").hidden = true;
    }
  }

  $("month").value = previousMonth();
  $("month").max = new Date().toISOString().slice(0, 7);
  $("reports-form").addEventListener("submit", fill);
  Promise.all([loadTemplates(), loadAreas()]).catch((e) => showError(e.message, e.fields));
})();

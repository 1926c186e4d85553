// llmedge polling page: submit to /api/generate, poll /api/result, show the answer, the cache and any error.
// Plain script, no build step. Model output is only ever put into the page as text (textContent) or as an
// image URL checked for its scheme: never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "llmedge.apiKey";
  const MODEL_STORAGE = "llmedge.model";
  // Polling: honour the server's Retry-After; without one, back off from 0.5 s to 10 s.
  const BACKOFF_START_S = 0.5;
  const BACKOFF_FACTOR = 1.6;
  const BACKOFF_MAX_S = 10;
  const GIVE_UP_AFTER_S = 20 * 60; // a job record outlives this; a page that polls forever helps nobody
  const TRANSIENT_STATUSES = new Set([502, 503, 504]);
  const DEFAULT_MODELS = { chat: "gpt-4o-mini", image: "gpt-image-1" };
  const ERROR_TITLES = {
    400: "The request was not understood",
    401: "The API key was not accepted",
    403: "This job belongs to another caller",
    404: "The job was not found (it may have expired)",
    405: "The gateway refused the method",
    413: "The prompt is too large",
    422: "Please check the form",
    429: "Rate limit reached",
    500: "The gateway had an internal error",
    503: "The service is busy",
  };

  const $ = (id) => document.getElementById(id);
  const form = $("ask");
  const ui = {
    model: $("model"),
    prompt: $("prompt"),
    apiKey: $("api-key"),
    keyDetails: $("key-details"),
    status: $("status"),
    elapsed: $("elapsed"),
    error: $("error"),
    errorTitle: $("error-title"),
    errorMessage: $("error-message"),
    errorCountdown: $("error-countdown"),
    errorRequest: $("error-request"),
    answer: $("answer"),
    badge: $("cache-badge"),
    text: $("answer-text"),
    image: $("answer-image"),
    meta: $("answer-meta"),
  };

  let current = null; // the run in progress: {controller, started, timer}
  let countdownTimer = null;

  // ---- small helpers -------------------------------------------------------------------------------

  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  function seconds(ms) {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }

  // Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
  function retryAfterSeconds(response) {
    const raw = response.headers.get("Retry-After");
    if (raw === null) return null;
    if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
    const date = Date.parse(raw);
    return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  function authHeaders() {
    const key = ui.apiKey.value.trim();
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  function apiUrl(path) {
    // Relative to the page, so the page works wherever it is served beside the functions.
    return new URL(path, document.baseURI).toString();
  }

  // ---- view state ----------------------------------------------------------------------------------

  function startClock(run) {
    ui.elapsed.hidden = false;
    const tick = () => { ui.elapsed.textContent = `Elapsed ${seconds(performance.now() - run.started)}`; };
    tick();
    run.timer = setInterval(tick, 100);
  }

  function stopClock(run) {
    clearInterval(run.timer);
    ui.elapsed.textContent = `Took ${seconds(performance.now() - run.started)}`;
  }

  function clearError() {
    clearInterval(countdownTimer);
    ui.error.hidden = true;
    ui.errorCountdown.hidden = true;
    ui.errorRequest.hidden = true;
    for (const input of [ui.model, ui.prompt, ui.apiKey]) input.removeAttribute("aria-invalid");
  }

  function showError(title, message, { requestId = null, field = null } = {}) {
    ui.errorTitle.textContent = title;
    ui.errorMessage.textContent = message;
    if (requestId) {
      ui.errorRequest.textContent = `Request id: ${requestId}`;
      ui.errorRequest.hidden = false;
    }
    ui.error.hidden = false;
    const input = field ? inputForField(field) : null;
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }

  function inputForField(field) {
    if (field === "model" || field.startsWith("model.")) return ui.model;
    if (/^(prompt|messages)(\.|$)/.test(field)) return ui.prompt;
    return null;
  }

  function startCountdown(untilMs) {
    const tick = () => {
      const left = Math.ceil((untilMs - Date.now()) / 1000);
      if (left > 0) {
        ui.errorCountdown.textContent = `You can try again in ${left} s.`;
      } else {
        ui.errorCountdown.textContent = "You can try again now.";
        clearInterval(countdownTimer);
      }
      ui.errorCountdown.dataset.secondsLeft = String(Math.max(0, left));
    };
    clearInterval(countdownTimer);
    ui.errorCountdown.hidden = false;
    tick();
    countdownTimer = setInterval(tick, 250);
  }

  // ---- errors from the gateway ----------------------------------------------------------------------

  async function reportHttpError(response) {
    const body = await readJson(response);
    const error = body && typeof body.error === "object" && body.error ? body.error : {};
    const title = ERROR_TITLES[response.status] || `The gateway answered ${response.status}`;
    let message = typeof error.message === "string" && error.message
      ? error.message
      : `HTTP ${response.status} ${response.statusText}`.trim();
    if (error.field && !message.includes(error.field)) message += ` (field: ${error.field})`;
    showError(title, message, {
      requestId: response.headers.get("X-Request-Id"),
      field: typeof error.field === "string" ? error.field : null,
    });
    if (response.status === 429) {
      const wait = retryAfterSeconds(response) ?? Number(response.headers.get("RateLimit-Reset"));
      if (Number.isFinite(wait)) startCountdown(Date.now() + wait * 1000);
      setStatus("Rate limited.");
    } else if (response.status === 401) {
      ui.keyDetails.open = true;
      ui.apiKey.setAttribute("aria-invalid", "true");
      setStatus("Not sent: the API key was refused.");
    } else {
      setStatus("Failed.");
    }
  }

  // ---- rendering the answer -------------------------------------------------------------------------

  function safeImageSource(item) {
    if (typeof item.b64_json === "string") return `data:image/png;base64,${item.b64_json}`;
    if (typeof item.url === "string") {
      try {
        const url = new URL(item.url, document.baseURI);
        if (url.protocol === "https:" || url.protocol === "http:") return url.toString();
      } catch { /* not a URL */ }
    }
    return null;
  }

  function cacheInfo(response, body) {
    const cache = body.cache || {};
    const status = response.headers.get("X-Cache") || cache.status || null;
    const header = response.headers.get("X-Cache-Similarity");
    const similarity = header !== null ? Number(header) : cache.similarity;
    return { status, similarity: Number.isFinite(similarity) ? similarity : null, age: cache.age };
  }

  function renderBadge({ status, similarity, age }) {
    const badge = ui.badge;
    badge.hidden = false;
    badge.dataset.cache = status || "MISS";
    const ageText = Number.isFinite(age) ? `, stored ${age} s ago` : "";
    if (status === "HIT") {
      badge.textContent = "Cache hit";
      badge.title = `The same request was answered before${ageText}.`;
    } else if (status === "SEMANTIC-HIT") {
      badge.textContent = similarity !== null
        ? `Similar question · ${similarity.toFixed(2)}` : "Similar question";
      badge.title = `Answered from a cached answer to a question that means the same${ageText}.`;
    } else {
      badge.textContent = "Fresh answer";
      badge.title = "The model answered this request.";
    }
  }

  function renderResult(result, kind) {
    ui.text.textContent = "";
    ui.image.hidden = true;
    ui.image.removeAttribute("src");
    const notes = [];
    if (kind === "image") {
      const item = Array.isArray(result.data) ? result.data[0] : null;
      const source = item ? safeImageSource(item) : null;
      if (source) {
        ui.image.src = source;
        ui.image.alt = (item.revised_prompt || ui.prompt.value || "Generated image").slice(0, 300);
        ui.image.hidden = false;
      } else {
        ui.text.textContent = "The answer holds no image.";
      }
    } else {
      const choice = Array.isArray(result.choices) ? result.choices[0] : null;
      const message = choice && choice.message ? choice.message : {};
      if (typeof message.content === "string" && message.content) {
        ui.text.textContent = message.content;
      } else if (message.refusal) {
        ui.text.textContent = `The model declined: ${message.refusal}`;
      } else {
        ui.text.textContent = "The answer holds no text.";
      }
      if (choice && choice.finish_reason === "length") notes.push("cut short at the token limit");
    }
    const usage = result.usage || {};
    const input = usage.prompt_tokens ?? usage.input_tokens;
    const output = usage.completion_tokens ?? usage.output_tokens;
    if (Number.isFinite(input) && Number.isFinite(output)) notes.unshift(`${input} tokens in, ${output} out`);
    ui.meta.textContent = notes.join(" · ");
  }

  function showDone(run, response, body, kind) {
    stopClock(run);
    const cache = cacheInfo(response, body);
    renderResult(body.result || {}, kind);
    renderBadge(cache);
    ui.answer.hidden = false;
    const took = seconds(performance.now() - run.started);
    setStatus(cache.status === "HIT" || cache.status === "SEMANTIC-HIT"
      ? `Answered from the cache in ${took}.` : `Answered in ${took}.`);
  }

  function showJobFailed(run, body) {
    stopClock(run);
    const error = body.error || {};
    const upstream = error.upstream_status ? ` (the model API answered ${error.upstream_status})` : "";
    showError("The model call failed", `${error.message || "no reason given"}${upstream}`);
    setStatus("Failed.");
  }

  // ---- the flow -------------------------------------------------------------------------------------

  async function poll(run, jobId, kind, headers) {
    const url = apiUrl(`api/result?id=${encodeURIComponent(jobId)}`);
    let backoff = BACKOFF_START_S;
    let etag = null;
    let polls = 0;
    while (!run.controller.signal.aborted) {
      if (performance.now() - run.started > GIVE_UP_AFTER_S * 1000) {
        stopClock(run);
        showError("Still waiting", "The job has not finished; stopped polling. Submit again to resume.");
        setStatus("Stopped waiting.");
        return;
      }
      polls += 1;
      let response;
      try {
        response = await fetch(url, {
          headers: etag ? { ...headers, "If-None-Match": etag } : headers,
          cache: "no-store",
          signal: run.controller.signal,
        });
      } catch (error) {
        if (run.controller.signal.aborted) return;
        setStatus(`Connection lost; retrying (check ${polls})…`);
        await sleep(backoff * 1000, run.controller.signal);
        backoff = Math.min(BACKOFF_MAX_S, backoff * BACKOFF_FACTOR);
        continue;
      }
      if (response.status === 202 || response.status === 304) {
        const body = response.status === 202 ? await readJson(response) : null;
        etag = response.headers.get("ETag") || etag;
        if (body) {
          const retrying = body.status === "retrying";
          const attempt = retrying ? `, attempt ${(body.attempts || 0) + 1} after an upstream error` : "";
          setStatus(`Waiting for the model (${body.status}${attempt}; check ${polls})…`);
        }
      } else if (response.ok) {
        const body = await readJson(response);
        if (body && body.status === "done") return showDone(run, response, body, kind);
        if (body && body.status === "failed") return showJobFailed(run, body);
        stopClock(run);
        showError("Unexpected answer", "The result endpoint sent something this page does not understand.");
        return;
      } else if (TRANSIENT_STATUSES.has(response.status)) {
        setStatus(`The gateway is busy (${response.status}); retrying…`);
      } else {
        stopClock(run);
        await reportHttpError(response);
        return;
      }
      const wait = retryAfterSeconds(response) ?? backoff;
      backoff = Math.min(BACKOFF_MAX_S, backoff * BACKOFF_FACTOR);
      await sleep(wait * 1000, run.controller.signal);
    }
  }

  async function submit(event) {
    event.preventDefault();
    if (current) {
      current.controller.abort();
      clearInterval(current.timer);
    }
    clearError();
    const model = ui.model.value.trim();
    const prompt = ui.prompt.value;
    const kind = form.elements.kind.value;
    if (!model) return showError("Please check the form", "Choose a model.", { field: "model" });
    if (!prompt.trim()) return showError("Please check the form", "Write a prompt first.", { field: "prompt" });
    rememberInputs(model);

    const run = { controller: new AbortController(), started: performance.now(), timer: null };
    current = run;
    ui.answer.hidden = true; // the previous answer must not pass for this prompt's
    startClock(run);
    setStatus("Sending…");
    const headers = authHeaders();
    let response;
    try {
      response = await fetch(apiUrl("api/generate"), {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify({ model, kind, prompt }),
        signal: run.controller.signal,
      });
    } catch (error) {
      if (run.controller.signal.aborted) return;
      stopClock(run);
      showError("Could not reach the gateway", "Check the connection and try again.");
      setStatus("Failed.");
      return;
    }
    if (run.controller.signal.aborted) return;
    if (response.status === 200) {
      const body = await readJson(response);
      if (body && body.status === "done") return showDone(run, response, body, kind);
    }
    if (response.status === 202) {
      const body = await readJson(response);
      if (body && body.job_id) {
        setStatus("Queued; waiting for the model…");
        return poll(run, body.job_id, kind, headers);
      }
    }
    stopClock(run);
    await reportHttpError(response);
  }

  // ---- inputs ---------------------------------------------------------------------------------------

  function rememberInputs(model) {
    try {
      const key = ui.apiKey.value.trim();
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
      localStorage.setItem(MODEL_STORAGE, model);
    } catch { /* storage disabled (private mode): the page still works */ }
  }

  function restoreInputs() {
    try {
      const key = localStorage.getItem(KEY_STORAGE);
      if (key) ui.apiKey.value = key;
      const model = localStorage.getItem(MODEL_STORAGE);
      if (model) ui.model.value = model;
    } catch { /* storage disabled */ }
  }

  function onKindChange() {
    const kind = form.elements.kind.value;
    // Swap in the other kind's default model, but never overwrite a model the user typed.
    if (Object.values(DEFAULT_MODELS).includes(ui.model.value)) ui.model.value = DEFAULT_MODELS[kind];
  }

  function onPromptKey(event) {
    // Enter sends, Shift+Enter is a new line; never while an input method is composing text.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  }

  restoreInputs();
  form.addEventListener("submit", submit);
  ui.prompt.addEventListener("keydown", onPromptKey);
  for (const radio of form.elements.kind) radio.addEventListener("change", onKindChange);
})();

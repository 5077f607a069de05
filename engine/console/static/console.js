// The console's script: live updates of the live-calls page, and the try-a-call page, which
// plays the voice platform's part of the call protocol over the server's own call WebSocket.
// Plain JavaScript, no build step. Markup only ever comes from the server, rendered there with
// escaping; anything else is put in the page as text.
"use strict";

(function () {
  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  // -- live calls --------------------------------------------------------------------------

  function liveCalls(root) {
    const status = document.getElementById("live-status");
    const empty = document.getElementById("live-empty");

    function inProgress() {
      const cards = root.querySelectorAll(".call");
      empty.hidden = cards.length > 0;
      return Array.from(cards).filter((card) => card.dataset.status !== "ended").length;
    }

    function put(html) {
      const card = fromHtml(html);
      const old = document.getElementById(card.id);
      if (old) {
        old.replaceWith(card);
      } else {
        root.appendChild(card);
      }
      return card;
    }

    function tell(what) {
      const count = inProgress();
      const calls = count ? count + " call(s) in progress." : "No calls in progress.";
      status.textContent = (what ? what + " " : "") + calls;
    }

    const events = new EventSource(root.dataset.events);
    events.addEventListener("calls", (event) => {
      // The stream (re)started: cards of calls it no longer knows ended meanwhile.
      const live = new Set(JSON.parse(event.data).live);
      root.querySelectorAll(".call").forEach((card) => {
        const id = card.dataset.callId;
        if (live.has(id) || card.dataset.status === "ended") return;
        fetch("/console/api/live/" + encodeURIComponent(id), { credentials: "same-origin" })
          .then((answer) => (answer.ok ? answer.text() : null))
          .then((html) => {
            if (html) put(html);
            else card.remove();
            tell("");
          });
      });
      tell("");
    });
    events.addEventListener("call", (event) => {
      const data = JSON.parse(event.data);
      put(data.html);
      if (data.replay) {
        tell(""); // the calls as they are when the stream starts: nothing new to announce
        return;
      }
      let what = "Call " + data.call_id;
      if (data.status === "ended") what += " ended.";
      else if (data.status === "reconnecting") what += " lost its connection.";
      else what += data.state ? " is in " + data.state + "." : " is connected.";
      tell(what);
    });
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED) {
        status.textContent = "Live updates stopped. Reload the page (you may need to sign in again).";
      } else {
        status.textContent = "Live updates interrupted, reconnecting…";
      }
    });
  }

  // -- charts --------------------------------------------------------------------------------

  // The numbers come counted from the server (the page's JSON); Chart.js (vendored beside this
  // script) only draws them. No animation: a chart is read, not watched.
  const OUTCOME_COLOURS = {
    completed: "#2e7d32",
    transferred: "#1565c0",
    cancelled: "#8d6e63",
    gave_up: "#b26a00",
    abandoned: "#c62828",
    error: "#6a1b9a",
  };
  const PALETTE = ["#1565c0", "#2e7d32", "#b26a00", "#6a1b9a", "#00838f", "#c62828", "#5d4037"];

  function drawCharts(source) {
    if (!window.Chart) return;
    const data = JSON.parse(source.textContent);
    const common = { animation: false, responsive: true, maintainAspectRatio: false };
    const stacked = {
      x: { stacked: true },
      y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
    };
    function series(map, colours) {
      return Object.keys(map).map((name, i) => ({
        label: name,
        data: map[name],
        backgroundColor: (colours && colours[name]) || PALETTE[i % PALETTE.length],
      }));
    }
    const made = {
      outcomes: {
        type: "bar",
        data: { labels: data.labels, datasets: series(data.by_outcome, OUTCOME_COLOURS) },
        options: Object.assign({ scales: stacked }, common),
      },
      flows: {
        type: "bar",
        data: { labels: data.labels, datasets: series(data.by_flow) },
        options: Object.assign({ scales: stacked }, common),
      },
      latency: {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            { label: "median (ms)", data: data.latency_p50, borderColor: "#1565c0", spanGaps: true },
            { label: "p95 (ms)", data: data.latency_p95, borderColor: "#c62828", spanGaps: true },
          ],
        },
        options: Object.assign({ scales: { y: { beginAtZero: true } } }, common),
      },
      model: {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            {
              label: "turns with the model (%)",
              data: data.model_share,
              borderColor: "#6a1b9a",
              spanGaps: true,
            },
          ],
        },
        options: Object.assign({ scales: { y: { beginAtZero: true, max: 100 } } }, common),
      },
      transfers: {
        type: "bar",
        data: {
          labels: data.transfers.map((row) => row[0]),
          datasets: [
            {
              label: "transferred calls",
              data: data.transfers.map((row) => row[1]),
              backgroundColor: "#1565c0",
            },
          ],
        },
        options: Object.assign(
          { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
          common,
        ),
      },
    };
    document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
      const config = made[canvas.dataset.chart];
      if (config) new window.Chart(canvas, config);
    });
  }

  // -- diagrams: zoom, pan and a larger view ------------------------------------------------

  // The drawing keeps its own coordinates (its viewBox): zooming and moving only change
  // which part of it the frame shows, so text stays sharp at every size.
  function zoomable(figure) {
    const frame = figure.querySelector(".diagram-frame");
    const svg = frame && frame.querySelector("svg");
    const tools = figure.querySelector(".diagram-tools");
    if (!svg || !tools || !svg.viewBox || !svg.viewBox.baseVal) return;
    const box = svg.viewBox.baseVal;
    const full = { x: box.x, y: box.y, w: box.width, h: box.height };
    if (!full.w || !full.h) return;
    let view = Object.assign({}, full);
    const large = tools.querySelector("[data-zoom-large]");
    figure.classList.add("diagram--zoomable");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    tools.hidden = false;

    function scale() {
      const rect = frame.getBoundingClientRect();
      return Math.min(rect.width / view.w, rect.height / view.h) || 1;
    }

    function show() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
      figure.dataset.scale = (full.w / view.w).toFixed(2);
    }

    // Zoom by `by` around a point of the frame (fractions of its width and height).
    function zoom(by, fx, fy) {
      const w = Math.min(Math.max(view.w / by, full.w / 12), full.w * 2);
      const h = (w * view.h) / view.w;
      view = { x: view.x + (view.w - w) * fx, y: view.y + (view.h - h) * fy, w: w, h: h };
      show();
    }

    tools.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.zoomBy) zoom(parseFloat(button.dataset.zoomBy), 0.5, 0.5);
      if (button.hasAttribute("data-zoom-fit")) {
        view = Object.assign({}, full);
        show();
      }
      if (button === large) enlarge(!figure.classList.contains("diagram--large"));
    });

    function enlarge(on) {
      figure.classList.toggle("diagram--large", on);
      large.setAttribute("aria-pressed", on ? "true" : "false");
      large.textContent = on ? "Close the larger view" : "Larger view";
    }
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && figure.classList.contains("diagram--large")) enlarge(false);
    });

    frame.addEventListener(
      "wheel",
      (event) => {
        if (!event.ctrlKey) return; // plain wheel scrolls the page
        event.preventDefault();
        const rect = frame.getBoundingClientRect();
        const fx = (event.clientX - rect.left) / rect.width;
        const fy = (event.clientY - rect.top) / rect.height;
        zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15, fx, fy);
      },
      { passive: false },
    );

    let drag = null;
    frame.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, view: Object.assign({}, view), k: scale() };
      frame.setPointerCapture(event.pointerId);
      frame.classList.add("diagram-frame--dragging");
    });
    frame.addEventListener("pointermove", (event) => {
      if (!drag) return;
      view.x = drag.view.x - (event.clientX - drag.x) / drag.k;
      view.y = drag.view.y - (event.clientY - drag.y) / drag.k;
      show();
    });
    const stop = () => {
      drag = null;
      frame.classList.remove("diagram-frame--dragging");
    };
    frame.addEventListener("pointerup", stop);
    frame.addEventListener("pointercancel", stop);
    show();
  }

  // -- try a call ----------------------------------------------------------------------------

  function tryCall(root) {
    const flow = root.dataset.flow;
    const status = document.getElementById("try-status");
    const lines = document.getElementById("try-transcript");
    const form = document.getElementById("try-say");
    const words = document.getElementById("try-words");
    const send = document.getElementById("try-send");
    const start = document.getElementById("try-start");
    const silent = document.getElementById("try-silent");
    const hangUp = document.getElementById("try-hangup");
    const panel = document.getElementById("try-panel");
    const record = document.getElementById("try-record");

    let socket = null;
    let callId = null;
    let transcript = [];
    let nextId = 1;
    let current = 0; // the begin message is response 0
    let pending = "";
    let control = {};
    let pinger = null;

    function tell(text) {
      status.textContent = text;
    }

    function line(who, text, note) {
      const item = document.createElement("li");
      item.className = "line line--" + who + (note ? " line--note" : "");
      const label = document.createElement("span");
      label.className = "who";
      label.textContent = who;
      const said = document.createElement("span");
      said.className = "said";
      said.textContent = text;
      item.append(label, " ", said);
      lines.appendChild(item);
      item.scrollIntoView({ block: "nearest" });
    }

    function talking(on) {
      words.disabled = !on;
      send.disabled = !on;
      silent.disabled = !on;
      hangUp.disabled = !on;
      start.disabled = on;
      if (on) words.focus();
    }

    function emit(event) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(event));
    }

    function ask(reminder) {
      current = nextId++;
      pending = "";
      control = {};
      emit({
        interaction_type: reminder ? "reminder_required" : "response_required",
        response_id: current,
        transcript: transcript,
      });
      tell("The agent is answering…");
    }

    async function showState() {
      const answer = await fetch(
        "/console/api/live/" + encodeURIComponent(callId) + "?view=panel",
        { credentials: "same-origin" },
      );
      if (answer.ok) panel.replaceChildren(fromHtml(await answer.text()));
    }

    function answered() {
      if (pending) {
        transcript.push({ role: "agent", content: pending, words: [] });
        line("agent", pending);
      }
      showState();
      if (control.end_call) {
        tell("The agent hung up. The call is over.");
        socket.close(1000);
      } else if (control.transfer_number) {
        tell("The agent transfers the call to " + control.transfer_number + ". The call is over.");
        socket.close(1000);
      } else {
        tell("Your turn: say something, stay silent, or hang up.");
      }
    }

    function received(event) {
      switch (event.response_type) {
        case "config":
          if (event.config && event.config.call_details) {
            emit({
              interaction_type: "call_details",
              call: {
                call_id: callId,
                agent_id: "console",
                call_type: "web_call",
                call_status: "ongoing",
                direction: "inbound",
                metadata: { source: "console" },
                retell_llm_dynamic_variables: {},
              },
            });
          }
          break;
        case "response":
          if (event.response_id !== current) return; // an answer the caller talked over
          pending += event.content || "";
          if (event.end_call) control.end_call = true;
          if (event.transfer_number) control.transfer_number = event.transfer_number;
          if (event.content_complete) answered();
          break;
        case "agent_interrupt":
          transcript.push({ role: "agent", content: event.content, words: [] });
          line("agent", event.content);
          break;
        case "tool_call_invocation":
          line("action", event.name + " " + event.arguments, true);
          break;
        case "tool_call_result":
          line("action", "→ " + event.content, true);
          break;
        default:
          break; // ping_pong echoes, update_agent, metadata: nothing to show
      }
    }

    async function begin() {
      lines.replaceChildren();
      record.hidden = true;
      transcript = [];
      nextId = 1;
      current = 0;
      pending = "";
      control = {};
      start.disabled = true;
      tell("Starting a call…");
      let answer;
      try {
        answer = await fetch("/console/api/try", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ flow: flow }),
        });
      } catch (error) {
        answer = null;
      }
      if (!answer || !answer.ok) {
        tell("The call could not start" + (answer ? ": " + (await answer.text()) : "."));
        start.disabled = false;
        return;
      }
      const call = await answer.json();
      callId = call.call_id;
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + call.path);
      socket.addEventListener("open", () => {
        tell("Connected as call " + callId + ". The agent speaks first…");
        talking(true);
        // The platform's keepalive, which the server echoes.
        pinger = setInterval(
          () => emit({ interaction_type: "ping_pong", timestamp: Date.now() }),
          2000,
        );
      });
      socket.addEventListener("message", (message) => received(JSON.parse(message.data)));
      socket.addEventListener("close", (closed) => {
        clearInterval(pinger);
        talking(false);
        if (!status.textContent.includes("over")) {
          tell("The call is over" + (closed.code === 1000 ? "." : " (connection closed, code " + closed.code + ")."));
        }
        record.replaceChildren();
        const link = document.createElement("a");
        link.href = "/console/calls/" + encodeURIComponent(callId);
        link.textContent = "Read the record of " + callId;
        record.append(link, " (written when the call ends; after you hang up, once the grace period passes).");
        record.hidden = false;
        socket = null;
      });
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = words.value.trim();
      if (!text || !socket) return;
      words.value = "";
      transcript.push({ role: "user", content: text, words: [] });
      line("caller", text);
      emit({ interaction_type: "update_only", transcript: transcript, turntaking: "agent_turn" });
      ask(false);
    });
    silent.addEventListener("click", () => {
      line("caller", "(stays silent)", true);
      ask(true);
    });
    hangUp.addEventListener("click", () => {
      tell("You hung up. The call is over.");
      if (socket) socket.close(1000);
    });
    start.addEventListener("click", begin);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const live = document.getElementById("live-calls");
    if (live) liveCalls(live);
    const trying = document.getElementById("try-call");
    if (trying) tryCall(trying);
    document.querySelectorAll("figure[data-zoom]").forEach(zoomable);
    const numbers = document.getElementById("charts-data");
    if (numbers) drawCharts(numbers);
  });
})();

// The panel's UI: server state, options built from /v1/info, Retouch, progress, Cancel, settings.
"use strict";

const { messageFor, UserError } = require("./errors.js");
const { CancelSignal } = require("./jobClient.js");
const { checkPermitted } = require("./permissions.js");
const { health, info: serverInfo, normaliseServerUrl } = require("./serverClient.js");
const { loadSettings, saveSettings } = require("./settings.js");
const { retouch } = require("./retouch.js");
const { warningsText } = require("./warnings.js");

const START_COMMAND = "jewel-retouch serve";
const KNOWN_TYPES = ["enum", "boolean", "number", "integer", "list"];
const TOKEN_REJECTED =
  "Token rejected: run jewel-retouch token in a terminal and paste the token it prints into " +
  "Access token below, then Save and reconnect.";

/**
 * Decimal places that show a number option's default and range exactly, and step its slider
 * finely enough (1/100 of the range at least): the margin's 0.075 needs 3, not 2.
 * @param {{default?: unknown, minimum?: number, maximum?: number}} spec
 */
function numberDigits(spec) {
  const decimals = (/** @type {unknown} */ value) => {
    if (typeof value !== "number" || !Number.isFinite(value)) return 0;
    const text = String(value);
    if (/e-/i.test(text)) return Math.min(6, Number(text.split(/e-/i)[1]) || 0);
    return text.includes(".") ? text.split(".")[1].length : 0;
  };
  const range = Number(spec.maximum) - Number(spec.minimum);
  const forStep = range > 0 ? Math.ceil(Math.log10(100 / range) - 1e-9) : 0;
  return Math.min(6, Math.max(decimals(spec.default), decimals(spec.minimum), decimals(spec.maximum), forStep, 0));
}
const STAGE_LABELS = {
  upload: "Sending pixels",
  queued: "Waiting in the server's queue",
  download: "Receiving the result",
};

class Panel {
  /**
   * @param {Document} doc the panel's DOM document
   * @param {{pollMs?: number}} [config] pollMs: how often to re-check the server (0 = never)
   */
  constructor(doc, config = {}) {
    this.doc = doc;
    this.pollMs = config.pollMs ?? 5000;
    /** @type {Record<string, any>} */
    this.el = {};
    for (const id of [
      "server-status",
      "server-hint",
      "options",
      "separate-layers",
      "retouch",
      "cancel",
      "progress",
      "message",
      "server-url",
      "token",
      "save-settings",
    ]) {
      this.el[id] = /** @type {any} */ (doc.getElementById(id));
    }
    this.settings = loadSettings();
    /** @type {import("./serverClient.js").ServerInfo | null} */
    this.info = null;
    /** @type {Record<string, unknown>} */
    this.optionValues = {};
    /** The schema the option widgets were built from. */
    this.optionsKey = "";
    /** @type {CancelSignal | null} */
    this.running = null;
    /** @type {any} */
    this.pollTimer = null;
    /** Settles when the latest retouch finishes (tests and the poller wait on it). */
    this.lastRun = Promise.resolve();
  }

  /** Wire up the controls and check the server once. */
  async start() {
    this.el["server-url"].value = this.settings.serverUrl;
    this.el.token.value = this.settings.token;
    this.el.retouch.addEventListener("click", () => this.onRetouch());
    this.el.cancel.addEventListener("click", () => this.onCancel());
    this.el["save-settings"].addEventListener("click", () => this.onSaveSettings());
    this.setBusy(false);
    await this.refreshServer();
    if (this.pollMs > 0) {
      this.pollTimer = setInterval(() => {
        if (!this.running) this.refreshServer();
      }, this.pollMs);
    }
  }

  stop() {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  /**
   * Ask the server whether it runs, and for its options.
   * @returns {Promise<{connected: boolean, problem: string}>} problem: what stopped it, for the
   *   message line (empty when connected)
   */
  async refreshServer() {
    const { serverUrl, token } = this.settings;
    let problem = "";
    try {
      // Before Photoshop refuses: a URL the manifest does not list can never work.
      const refused = await checkPermitted(serverUrl);
      if (refused) throw refused;
      const { version } = await health(serverUrl);
      const info = await serverInfo(serverUrl, token);
      const refusedWs = await checkPermitted(info.wsUrl, { httpUrl: serverUrl, wsUrl: info.wsUrl });
      if (refusedWs) throw refusedWs;
      this.info = info;
      this.showServer(true, `Connected to jewel-retouch ${version} at ${serverUrl}`, "");
      this.renderOptions(this.info.options);
    } catch (error) {
      this.info = null;
      const code = error instanceof UserError ? error.code : "error";
      if (code === "server_down") {
        problem = `Server not running at ${serverUrl}. Start it in a terminal with: ${START_COMMAND}`;
        this.showServer(
          false,
          `Server not running at ${serverUrl}`,
          `Start it in a terminal with: ${START_COMMAND}`,
        );
      } else if (code === "unauthorized") {
        problem = TOKEN_REJECTED;
        this.showServer(false, `Token rejected by the server at ${serverUrl}`, TOKEN_REJECTED);
      } else if (code === "permission") {
        problem = messageFor(error);
        this.showServer(false, "Server URL not permitted by the manifest", problem);
      } else {
        problem = messageFor(error);
        this.showServer(false, "Server not ready", problem);
      }
    }
    this.updateRetouchEnabled();
    return { connected: Boolean(this.info), problem };
  }

  /**
   * @param {boolean} connected
   * @param {string} statusText
   * @param {string} hint
   */
  showServer(connected, statusText, hint) {
    this.el["server-status"].textContent = statusText;
    this.el["server-status"].setAttribute("data-state", connected ? "connected" : "down");
    this.el["server-hint"].textContent = hint;
  }

  /** @param {import("./serverClient.js").OptionSpec[]} specs */
  renderOptions(specs) {
    // The poller asks again every few seconds: rebuild only when the schema changed, so an open
    // picker or a slider being dragged is left alone.
    const key = JSON.stringify(specs);
    if (key === this.optionsKey) return;
    this.optionsKey = key;
    const box = this.el.options;
    while (box.firstChild) box.removeChild(box.firstChild);
    const previous = this.optionValues;
    this.optionValues = {};
    for (const spec of specs) {
      // A type this panel does not know (a newer server): no control, and nothing sent, so
      // the server applies its default.
      if (!KNOWN_TYPES.includes(spec.type)) continue;
      const value = spec.name in previous ? previous[spec.name] : spec.default;
      this.optionValues[spec.name] = spec.type === "list" ? [...(Array.isArray(value) ? value : [])] : value;
      box.appendChild(this.optionControl(spec, this.optionValues[spec.name]));
    }
  }

  /**
   * One Spectrum widget for one option of the schema.
   * @param {import("./serverClient.js").OptionSpec} spec
   * @param {unknown} value
   */
  optionControl(spec, value) {
    const doc = this.doc;
    /** @type {any} */
    const row = doc.createElement("div");
    row.className = "option";
    row.setAttribute("title", spec.description || "");
    /** @type {any} */
    let control;
    if (spec.type === "boolean") {
      control = doc.createElement("sp-checkbox");
      control.textContent = spec.label;
      control.checked = Boolean(value);
      if (value) control.setAttribute("checked", "");
      control.addEventListener("change", (/** @type {any} */ event) => {
        this.optionValues[spec.name] = Boolean(event.target.checked);
      });
    } else {
      /** @type {any} */
      const label = doc.createElement("sp-label");
      label.textContent = spec.label;
      row.appendChild(label);
      if (spec.type === "list") {
        return this.listControl(row, spec, /** @type {string[]} */ (value));
      }
      if (spec.type === "enum") {
        const choices = spec.choices || [];
        control = doc.createElement("sp-picker");
        control.setAttribute("size", "s");
        /** @type {any} */
        const menu = doc.createElement("sp-menu");
        menu.setAttribute("slot", "options");
        for (const choice of choices) {
          /** @type {any} */
          const item = doc.createElement("sp-menu-item");
          item.setAttribute("value", choice);
          item.textContent = choice.replace(/_/g, " ");
          if (choice === value) item.setAttribute("selected", "");
          menu.appendChild(item);
        }
        control.appendChild(menu);
        control.selectedIndex = choices.indexOf(String(value));
        control.addEventListener("change", (/** @type {any} */ event) => {
          const index = event.target.selectedIndex;
          if (index >= 0 && index < choices.length) this.optionValues[spec.name] = choices[index];
        });
      } else if (spec.type === "number" && spec.minimum != null && spec.maximum != null) {
        return this.numberControl(row, spec, Number(value));
      } else {
        control = doc.createElement("sp-textfield");
        control.setAttribute("type", "number");
        control.value = String(value);
        control.addEventListener("input", (/** @type {any} */ event) => {
          const number = Number(event.target.value);
          if (Number.isFinite(number)) {
            this.optionValues[spec.name] = spec.type === "integer" ? Math.round(number) : number;
          }
        });
      }
    }
    control.setAttribute("data-option", spec.name);
    row.appendChild(control);
    return row;
  }

  /**
   * One checkbox per allowed name; the value is the ticked names, in the schema's order.
   * @param {any} row the option's row, holding its label
   * @param {import("./serverClient.js").OptionSpec} spec
   * @param {string[]} value
   */
  listControl(row, spec, value) {
    const doc = this.doc;
    const choices = spec.choices || [];
    /** @type {any} */
    const group = doc.createElement("div");
    group.className = "choices";
    group.setAttribute("data-option", spec.name);
    for (const choice of choices) {
      /** @type {any} */
      const box = doc.createElement("sp-checkbox");
      box.textContent = choice.replace(/_/g, " ");
      box.setAttribute("value", choice);
      box.checked = value.includes(choice);
      if (box.checked) box.setAttribute("checked", "");
      box.addEventListener("change", () => {
        const ticked = [...group.querySelectorAll("sp-checkbox")].filter((item) => item.checked);
        this.optionValues[spec.name] = choices.filter((name) => ticked.some((item) => item.getAttribute("value") === name));
      });
      group.appendChild(box);
    }
    row.appendChild(group);
    return row;
  }

  /**
   * A slider plus a field showing the value exactly (the slider's own readout rounds to two
   * decimals: the margin's 0.075 read "0.08"); each follows the other.
   * @param {any} row the option's row, holding its label
   * @param {import("./serverClient.js").OptionSpec} spec
   * @param {number} value
   */
  numberControl(row, spec, value) {
    const doc = this.doc;
    const digits = numberDigits(spec);
    const min = Number(spec.minimum);
    const max = Number(spec.maximum);
    const show = (/** @type {number} */ number) => number.toFixed(digits);
    /** @type {any} */
    const slider = doc.createElement("sp-slider");
    slider.setAttribute("min", String(min));
    slider.setAttribute("max", String(max));
    slider.setAttribute("step", String(Math.pow(10, -digits)));
    slider.setAttribute("show-value", "false");
    slider.value = value;
    slider.setAttribute("value", String(value));
    slider.setAttribute("data-option", spec.name);
    /** @type {any} */
    const field = doc.createElement("sp-textfield");
    field.setAttribute("size", "s");
    field.className = "number-value";
    field.setAttribute("data-option-value", spec.name);
    field.value = show(value);
    slider.addEventListener("input", (/** @type {any} */ event) => {
      const number = Number(Number(event.target.value).toFixed(digits));
      this.optionValues[spec.name] = number;
      field.value = show(number);
    });
    field.addEventListener("change", (/** @type {any} */ event) => {
      const typed = Number(String(event.target.value).trim());
      const number = Number.isFinite(typed) ? Math.min(max, Math.max(min, typed)) : Number(this.optionValues[spec.name]);
      this.optionValues[spec.name] = number;
      slider.value = number;
      slider.setAttribute("value", String(number));
      field.value = show(number);
    });
    /** @type {any} */
    const line = doc.createElement("div");
    line.className = "number";
    line.appendChild(slider);
    line.appendChild(field);
    row.appendChild(line);
    return row;
  }

  updateRetouchEnabled() {
    const ready = Boolean(this.info) && !this.running;
    this.setDisabled(this.el.retouch, !ready);
  }

  /**
   * @param {any} element
   * @param {boolean} disabled
   */
  setDisabled(element, disabled) {
    element.disabled = disabled;
    if (disabled) element.setAttribute("disabled", "");
    else element.removeAttribute("disabled");
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.setDisabled(this.el.cancel, !busy);
    this.updateRetouchEnabled();
  }

  /** @param {string} text @param {"info" | "error" | "success" | "warning"} kind */
  showMessage(text, kind) {
    this.el.message.textContent = text;
    this.el.message.setAttribute("data-kind", kind);
    this.el.message.removeAttribute("data-warnings");
  }

  /** @param {number} fraction 0..1 @param {string} label */
  showProgress(fraction, label) {
    const bar = this.el.progress;
    const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    bar.value = percent;
    bar.setAttribute("value", String(percent));
    bar.setAttribute("label", label);
  }

  onRetouch() {
    if (this.running) return this.lastRun;
    const cancel = new CancelSignal();
    this.running = cancel;
    this.setBusy(true);
    this.showMessage("", "info");
    this.showProgress(0, "Starting");
    this.lastRun = (async () => {
      try {
        const outcome = await retouch({
          serverUrl: this.settings.serverUrl,
          token: this.settings.token,
          options: { ...this.optionValues },
          separateLayers: Boolean(this.el["separate-layers"].checked),
          cancel,
          info: this.info || undefined,
          onStatus: (text) => this.showMessage(text, "info"),
          onProgress: (stage, fraction) => {
            const label = /** @type {Record<string, string>} */ (STAGE_LABELS)[stage] || `Retouching: ${stage}`;
            const overall = stage === "upload" ? 0.1 * fraction : stage === "download" ? 0.9 + 0.1 * fraction : 0.1 + 0.8 * fraction;
            this.showProgress(overall, label);
          },
        });
        this.showProgress(1, "Done");
        const what = outcome.inserted.kind === "group" ? "a layer group" : "a new layer";
        const done = `Done: the retouch was added as ${what} above the original.`;
        const note = warningsText(outcome.warnings);
        this.showMessage(note ? `${done} ${note}` : done, note ? "warning" : "success");
        this.el.message.setAttribute("data-warnings", outcome.warnings.map((w) => w.code).join(" "));
      } catch (error) {
        this.showProgress(0, "Stopped");
        this.showMessage(messageFor(error), error instanceof Error && error.name === "CancelledError" ? "info" : "error");
        if (error instanceof UserError && (error.code === "server_down" || error.code === "unauthorized")) {
          this.running = null;
          await this.refreshServer();
        }
      } finally {
        this.running = null;
        this.setBusy(false);
      }
    })();
    return this.lastRun;
  }

  onCancel() {
    if (this.running) {
      this.showMessage("Cancelling…", "info");
      this.running.cancel();
    }
  }

  /** Save the URL and token, reconnect, and say how that went (not just "saved"). */
  async onSaveSettings() {
    const urlText = String(this.el["server-url"].value || "");
    let serverUrl;
    try {
      serverUrl = normaliseServerUrl(urlText);
    } catch (error) {
      this.showMessage(messageFor(error), "error");
      return;
    }
    // A URL the manifest does not list is refused here, before it replaces a working one.
    const refused = await checkPermitted(serverUrl);
    if (refused) {
      this.showMessage(refused.message, "error");
      return;
    }
    this.settings = { serverUrl, token: String(this.el.token.value || "").trim() };
    saveSettings(this.settings);
    const { connected, problem } = await this.refreshServer();
    if (connected) this.showMessage(`Settings saved; connected to the server at ${serverUrl}.`, "success");
    else this.showMessage(problem, "error"); // the problem first: "saved" would read as "fine"
  }
}

module.exports = { Panel, START_COMMAND, TOKEN_REJECTED, numberDigits };

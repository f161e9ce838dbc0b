// The panel's UI: server state, options built from /v1/info, Retouch, progress, Cancel, settings.
"use strict";

const { messageFor, UserError } = require("./errors.js");
const { CancelSignal } = require("./jobClient.js");
const { health, info: serverInfo, normaliseServerUrl } = require("./serverClient.js");
const { loadSettings, saveSettings } = require("./settings.js");
const { retouch } = require("./retouch.js");
const { warningsText } = require("./warnings.js");

const START_COMMAND = "jewel-retouch serve";
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

  /** Ask the server whether it runs, and for its options. */
  async refreshServer() {
    const { serverUrl, token } = this.settings;
    try {
      const { version } = await health(serverUrl);
      this.info = await serverInfo(serverUrl, token);
      this.showServer(true, `Connected to jewel-retouch ${version} at ${serverUrl}`, "");
      this.renderOptions(this.info.options);
    } catch (error) {
      this.info = null;
      const code = error instanceof UserError ? error.code : "error";
      if (code === "server_down") {
        this.showServer(
          false,
          `Server not running at ${serverUrl}`,
          `Start it in a terminal with: ${START_COMMAND}`,
        );
      } else {
        this.showServer(false, "Server not ready", messageFor(error));
      }
    }
    this.updateRetouchEnabled();
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
      const value = spec.name in previous ? previous[spec.name] : spec.default;
      this.optionValues[spec.name] = value;
      box.appendChild(this.optionControl(spec, value));
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
        control = doc.createElement("sp-slider");
        control.setAttribute("min", String(spec.minimum));
        control.setAttribute("max", String(spec.maximum));
        control.setAttribute("step", String((spec.maximum - spec.minimum) / 100));
        control.value = value;
        control.setAttribute("value", String(value));
        control.addEventListener("input", (/** @type {any} */ event) => {
          this.optionValues[spec.name] = Number(event.target.value);
        });
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

  async onSaveSettings() {
    const urlText = String(this.el["server-url"].value || "");
    try {
      const serverUrl = normaliseServerUrl(urlText);
      this.settings = { serverUrl, token: String(this.el.token.value || "").trim() };
      saveSettings(this.settings);
      this.showMessage("Settings saved.", "info");
    } catch (error) {
      this.showMessage(messageFor(error), "error");
      return;
    }
    await this.refreshServer();
  }
}

module.exports = { Panel, START_COMMAND };

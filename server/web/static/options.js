// The settings panel, built from the server's options schema (GET /v1/info "options": each
// {name, type, default, help or description, label, choices, minimum, maximum}), grouped by
// purpose. Options the page does not know go into "Other"; a type it does not know is shown
// as a note and left to the server's default (never sent, never a crash).

// Where each known option lives. The order inside a group is the schema's order.
export const GROUPS = [
  { id: "finish", title: "Finish", names: ["finish", "strength"] },
  {
    id: "background",
    title: "Background and shadow",
    names: ["background", "shadow", "reflection", "force_cutout"],
  },
  { id: "metal", title: "Metal", names: ["metal", "metal_variants"] },
  {
    id: "cleanup",
    title: "Cleanup and gems",
    names: ["cleanup", "hotspots", "gem_contrast", "protect_gems"],
  },
  { id: "framing", title: "Framing", names: ["framing", "margin", "canvas_size"] },
];
const OTHER = { id: "other", title: "Other", names: [] };
const EDITABLE = new Set(["enum", "boolean", "number", "integer", "list"]);

export function labelOf(spec) {
  if (spec.label) return spec.label;
  const words = spec.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function helpOf(spec) {
  return String(spec.help || spec.description || "");
}

function choiceLabel(choice) {
  const words = String(choice).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function finite(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function formatNumber(value, spec) {
  if (spec.type === "integer") return String(Math.round(value));
  return String(Math.round(value * 1000) / 1000);
}

// One control per option. Each returns {spec, element, read(), apply(value), setDisabled()}.
function enumControl(spec, id) {
  const select = document.createElement("select");
  select.id = id;
  for (const choice of spec.choices || []) select.add(new Option(choiceLabel(choice), choice));
  return {
    element: select,
    focusable: select,
    read: () => select.value,
    apply: (value) => {
      select.value = String(value);
      if (select.value !== String(value) && select.options.length) select.selectedIndex = 0;
    },
    onChange: (callback) => select.addEventListener("change", callback),
  };
}

function booleanControl(spec, id) {
  const input = document.createElement("input");
  input.type = "checkbox";
  input.id = id;
  input.className = "switch";
  return {
    element: input,
    focusable: input,
    read: () => input.checked,
    apply: (value) => (input.checked = Boolean(value)),
    onChange: (callback) => input.addEventListener("change", callback),
  };
}

function numberControl(spec, id) {
  const integer = spec.type === "integer";
  const bounded = finite(spec.minimum) && finite(spec.maximum) && spec.maximum > spec.minimum;
  const box = document.createElement("div");
  box.className = "number-control";
  const field = document.createElement("input");
  field.type = "number";
  field.id = id;
  field.inputMode = integer ? "numeric" : "decimal";
  field.step = integer ? "1" : "any";
  if (finite(spec.minimum)) field.min = String(spec.minimum);
  if (finite(spec.maximum)) field.max = String(spec.maximum);
  let range = null;
  // A slider for fractions (strength, margin...); a plain field for pixel counts.
  if (bounded && !integer) {
    range = document.createElement("input");
    range.type = "range";
    range.id = id + "-range";
    range.min = String(spec.minimum);
    range.max = String(spec.maximum);
    range.step = String(spec.maximum - spec.minimum <= 2 ? 0.005 : (spec.maximum - spec.minimum) / 200);
    range.setAttribute("aria-label", labelOf(spec));
    range.tabIndex = -1; // the number field is the keyboard stop; the slider is for the mouse
    range.addEventListener("input", () => {
      field.value = formatNumber(Number(range.value), spec);
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
    field.addEventListener("input", () => {
      if (field.value !== "" && Number.isFinite(Number(field.value))) range.value = field.value;
    });
    box.append(range);
  }
  box.append(field);
  return {
    element: box,
    focusable: field,
    read: () => {
      const number = Number(field.value);
      if (field.value.trim() === "" || !Number.isFinite(number)) {
        throw new Error(`${labelOf(spec)} must be a number`);
      }
      if (integer && !Number.isInteger(number)) {
        throw new Error(`${labelOf(spec)} must be a whole number`);
      }
      if ((finite(spec.minimum) && number < spec.minimum) ||
          (finite(spec.maximum) && number > spec.maximum)) {
        const low = finite(spec.minimum) ? spec.minimum : "-inf";
        const high = finite(spec.maximum) ? spec.maximum : "inf";
        throw new Error(`${labelOf(spec)} must be between ${low} and ${high}`);
      }
      return number;
    },
    apply: (value) => {
      const number = Number(value);
      field.value = Number.isFinite(number) ? formatNumber(number, spec) : "";
      if (range && Number.isFinite(number)) range.value = String(number);
    },
    onChange: (callback) => {
      field.addEventListener("change", callback);
      field.addEventListener("input", callback);
    },
    extra: range,
  };
}

// A JSON array of names from `choices` (for example metal_variants): one checkbox each.
function listControl(spec, id) {
  const box = document.createElement("div");
  box.className = "list-control";
  box.id = id;
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", labelOf(spec));
  const boxes = [];
  for (const choice of spec.choices || []) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = choice;
    input.dataset.choice = choice;
    label.append(input, " " + choiceLabel(choice));
    box.append(label);
    boxes.push(input);
  }
  return {
    element: box,
    focusable: boxes[0] || box,
    read: () => boxes.filter((b) => b.checked).map((b) => b.value),
    apply: (value) => {
      const wanted = new Set(Array.isArray(value) ? value.map(String) : []);
      for (const input of boxes) input.checked = wanted.has(input.value);
    },
    onChange: (callback) => box.addEventListener("change", callback),
    inputs: boxes,
  };
}

const BUILDERS = {
  enum: enumControl,
  boolean: booleanControl,
  number: numberControl,
  integer: numberControl,
  list: listControl,
};

// Builds the grouped controls into `container`; returns the panel's API.
export function buildSettings(container, specs, onChange) {
  container.textContent = "";
  const controls = new Map();
  const placed = new Map(); // group id -> specs
  const groupOf = new Map();
  for (const group of GROUPS) for (const name of group.names) groupOf.set(name, group.id);
  for (const spec of specs) {
    if (!spec || typeof spec.name !== "string") continue;
    const group = groupOf.get(spec.name) || OTHER.id;
    if (!placed.has(group)) placed.set(group, []);
    placed.get(group).push(spec);
  }
  for (const group of [...GROUPS, OTHER]) {
    const members = placed.get(group.id);
    if (!members || !members.length) continue;
    const section = document.createElement("section");
    section.className = "group";
    section.dataset.group = group.id;
    const title = document.createElement("h3");
    title.textContent = group.title;
    section.append(title);
    for (const spec of members) section.append(buildRow(spec, controls, onChange));
    container.append(section);
  }
  return {
    specs,
    controls,
    read() {
      const out = {};
      for (const [name, control] of controls) out[name] = control.read();
      return out;
    },
    apply(values = {}) {
      for (const [name, control] of controls) {
        control.apply(name in values ? values[name] : control.spec.default);
      }
    },
    clearErrors() {
      for (const control of controls.values()) control.row.classList.remove("invalid");
    },
    markError(error) {
      for (const control of controls.values()) {
        try {
          control.read();
        } catch {
          control.row.classList.add("invalid");
          control.focusable.focus();
          return;
        }
      }
      return error;
    },
  };
}

function buildRow(spec, controls, onChange) {
  const row = document.createElement("div");
  row.className = "option";
  row.dataset.option = spec.name;
  row.dataset.type = String(spec.type);
  const id = "opt-" + spec.name;
  const help = document.createElement("p");
  help.className = "help";
  help.id = id + "-help";
  help.textContent = helpOf(spec);
  const builder = EDITABLE.has(spec.type) ? BUILDERS[spec.type] : null;
  if (!builder) {
    // A type this page does not know: the server applies its default.
    const name = document.createElement("span");
    name.className = "option-label";
    name.textContent = labelOf(spec);
    const note = document.createElement("p");
    note.className = "help unsupported";
    note.textContent = "Set by the server (its default); this page cannot edit this option.";
    row.append(name, note);
    if (help.textContent) row.append(help);
    return row;
  }
  const control = builder(spec, id);
  control.spec = spec;
  control.row = row;
  const label = document.createElement(spec.type === "list" ? "span" : "label");
  label.className = "option-label";
  label.textContent = labelOf(spec);
  if (spec.type !== "list") label.htmlFor = id;
  const head = document.createElement("div");
  head.className = "option-head";
  if (spec.type === "boolean") {
    row.classList.add("option-boolean");
    head.append(control.element, label);
  } else {
    head.append(label, control.element);
  }
  control.focusable.setAttribute("aria-describedby", help.id);
  row.append(head);
  if (help.textContent) row.append(help);
  control.onChange(() => {
    row.classList.remove("invalid");
    onChange();
  });
  controls.set(spec.name, control);
  return row;
}

// A stable text form of a set of options, to tell whether an image is up to date.
export function optionsKey(options) {
  const keys = Object.keys(options).sort();
  return JSON.stringify(keys.map((key) => [key, options[key]]));
}

// The before/after viewer: the original on the left of a split line, the retouched image on
// the right, both drawn into one canvas (the result's own size). A split line dragged on the
// image itself (or moved with the arrow keys), zoom to fit / 100 % / wheel, and pan by drag.
//
// When framing changes the canvas (a square marketplace frame around a portrait photo), the
// two images have different sizes and proportions. The viewer never stretches either: the
// result defines the canvas, and the original is fitted whole inside it (centred, at its own
// aspect ratio, the rest left empty). So "100 %" is the result's real pixels, the split line
// still compares the same screen area, and the note under the image says the canvas changed.

const MIN_SCALE = 0.02;
const MAX_SCALE = 16;
const KEY_STEP = 2; // percent per arrow key on the split line
const PAN_STEP = 60; // screen pixels per arrow key when zoomed in
const GRAB_PX = 18; // how close to the line a press grabs the line instead of panning

export class Viewer {
  constructor(elements) {
    this.el = elements; // {viewer, before, after, paneAfter, divider, handle, zoomLabel}
    this.split = 50;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.fitted = true;
    this.drag = null;
    this.sizes = { before: null, after: null };
    this.wire();
  }

  // --------------------------------------------------------------------------- content

  // urls: {before, after} (after may be null: not retouched yet). Resolves when both loaded.
  show(urls) {
    this.sizes = { before: null, after: null };
    this.el.viewer.dataset.hasAfter = urls.after ? "1" : "0";
    this.el.viewer.dataset.loaded = "0";
    const loads = [
      this.load(this.el.before, urls.before, "before"),
      this.load(this.el.after, urls.after, "after"),
    ];
    this.fitted = true;
    return Promise.all(loads).then(() => {
      this.el.viewer.dataset.loaded = "1";
      this.layout();
    });
  }

  load(img, url, which) {
    if (!url) {
      img.removeAttribute("src");
      img.hidden = true;
      return Promise.resolve();
    }
    img.hidden = false;
    return new Promise((resolve) => {
      const done = () => {
        img.removeEventListener("load", done);
        img.removeEventListener("error", done);
        if (img.naturalWidth && img.naturalHeight) {
          this.sizes[which] = { w: img.naturalWidth, h: img.naturalHeight };
        } else {
          img.hidden = true; // the browser cannot draw it (TIFF): the page says so
        }
        resolve();
      };
      img.addEventListener("load", done);
      img.addEventListener("error", done);
      img.src = url;
      if (img.complete && img.naturalWidth) done();
    });
  }

  // The canvas everything is drawn in: the result's size, else the original's.
  get canvas() {
    return this.sizes.after || this.sizes.before;
  }

  // Where the original sits in the canvas (content pixels): fitted whole, centred.
  beforeRect() {
    const canvas = this.canvas;
    const before = this.sizes.before;
    if (!canvas || !before) return null;
    const k = Math.min(canvas.w / before.w, canvas.h / before.h);
    const w = before.w * k;
    const h = before.h * k;
    return { x: (canvas.w - w) / 2, y: (canvas.h - h) / 2, w, h, k };
  }

  canvasChanged() {
    const { before, after } = this.sizes;
    return Boolean(before && after && (before.w !== after.w || before.h !== after.h));
  }

  // --------------------------------------------------------------------------- geometry

  viewport() {
    const box = this.el.viewer.getBoundingClientRect();
    return { w: Math.max(1, box.width), h: Math.max(1, box.height), left: box.left, top: box.top };
  }

  fitScale() {
    const canvas = this.canvas;
    if (!canvas) return 1;
    const view = this.viewport();
    return Math.min(view.w / canvas.w, view.h / canvas.h);
  }

  fit() {
    this.fitted = true;
    this.layout();
  }

  // Zoom to `scale` keeping the content point under (sx, sy) (screen, viewer-relative) still.
  zoomTo(scale, sx, sy) {
    const canvas = this.canvas;
    if (!canvas) return;
    const view = this.viewport();
    const px = sx === undefined ? view.w / 2 : sx;
    const py = sy === undefined ? view.h / 2 : sy;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.min(scale, MAX_SCALE)));
    const cx = (px - this.tx) / this.scale;
    const cy = (py - this.ty) / this.scale;
    this.scale = next;
    this.tx = px - cx * next;
    this.ty = py - cy * next;
    this.fitted = false;
    this.layout();
  }

  // "100 %": one image pixel per screen (device) pixel, as in Photoshop or GIMP.
  actualPixels() {
    this.zoomTo(1 / (window.devicePixelRatio || 1));
  }

  zoomBy(factor, sx, sy) {
    this.zoomTo(this.scale * factor, sx, sy);
  }

  panBy(dx, dy) {
    this.tx += dx;
    this.ty += dy;
    this.fitted = false;
    this.layout();
  }

  // Keep the canvas on screen: centred when smaller than the view, edges clamped when larger.
  clamp() {
    const canvas = this.canvas;
    const view = this.viewport();
    const w = canvas.w * this.scale;
    const h = canvas.h * this.scale;
    this.tx = w <= view.w ? (view.w - w) / 2 : Math.min(0, Math.max(view.w - w, this.tx));
    this.ty = h <= view.h ? (view.h - h) / 2 : Math.min(0, Math.max(view.h - h, this.ty));
  }

  zoomedIn() {
    const canvas = this.canvas;
    if (!canvas) return false;
    const view = this.viewport();
    return canvas.w * this.scale > view.w + 0.5 || canvas.h * this.scale > view.h + 0.5;
  }

  layout() {
    const canvas = this.canvas;
    const viewer = this.el.viewer;
    if (!canvas) {
      this.el.zoomLabel.textContent = "";
      return;
    }
    // The view takes the image's proportions (CSS min-height/max-height bound it), so a
    // landscape photo on a phone does not sit in a tall empty box.
    const width = viewer.getBoundingClientRect().width;
    const wanted = `${Math.round((width * canvas.h) / canvas.w)}px`;
    if (width > 0 && viewer.style.height !== wanted) viewer.style.height = wanted;
    if (this.fitted) this.scale = this.fitScale();
    this.clamp();
    const { after, before } = this.el;
    if (this.sizes.after) place(after, this.sizes.after, this.tx, this.ty, this.scale);
    const rect = this.beforeRect();
    if (rect) {
      const k = this.scale * rect.k;
      place(before, this.sizes.before, this.tx + rect.x * this.scale, this.ty + rect.y * this.scale, k);
    }
    // Pixels stay sharp when enlarged (to see prongs and facets as they are).
    const dpr = window.devicePixelRatio || 1;
    viewer.classList.toggle("pixelated", this.scale * dpr >= 2);
    viewer.classList.toggle("zoomed", this.zoomedIn());
    viewer.dataset.scale = String(Math.round(this.scale * 1000) / 1000);
    this.el.zoomLabel.textContent = `${Math.round(this.scale * dpr * 100)} %`;
    this.setSplit(this.split);
  }

  setSplit(percent) {
    this.split = Math.min(100, Math.max(0, percent));
    const value = Math.round(this.split * 10) / 10;
    // The retouched image shows right of the line, the original left of it.
    this.el.paneAfter.style.clipPath = `inset(0 0 0 ${value}%)`;
    this.el.divider.style.left = `${value}%`;
    this.el.handle.setAttribute("aria-valuenow", String(Math.round(value)));
    this.el.handle.setAttribute("aria-valuetext", `${Math.round(value)} % original`);
    this.el.viewer.dataset.split = String(value);
  }

  // --------------------------------------------------------------------------- input

  wire() {
    const { viewer, handle } = this.el;
    viewer.addEventListener("pointerdown", (event) => this.pointerDown(event));
    viewer.addEventListener("pointermove", (event) => this.pointerMove(event));
    const end = (event) => {
      if (!this.drag) return;
      this.drag = null;
      viewer.classList.remove("dragging", "panning");
      if (viewer.hasPointerCapture(event.pointerId)) viewer.releasePointerCapture(event.pointerId);
    };
    viewer.addEventListener("pointerup", end);
    viewer.addEventListener("pointercancel", end);
    viewer.addEventListener(
      "wheel",
      (event) => {
        if (!this.canvas) return;
        event.preventDefault();
        const view = this.viewport();
        const factor = Math.pow(1.0015, -event.deltaY);
        this.zoomBy(factor, event.clientX - view.left, event.clientY - view.top);
      },
      { passive: false },
    );
    viewer.addEventListener("dblclick", (event) => {
      const view = this.viewport();
      const actual = 1 / (window.devicePixelRatio || 1);
      if (Math.abs(this.scale - actual) < 1e-3) this.fit();
      else this.zoomTo(actual, event.clientX - view.left, event.clientY - view.top);
    });
    handle.addEventListener("keydown", (event) => this.handleKey(event));
    viewer.addEventListener("keydown", (event) => {
      if (event.target === handle) return;
      this.viewerKey(event);
    });
    new ResizeObserver(() => this.layout()).observe(viewer);
  }

  pointerDown(event) {
    if (event.button !== 0 || !this.canvas || event.target.closest("button")) return;
    const view = this.viewport();
    const x = event.clientX - view.left;
    const lineX = (this.split / 100) * view.w;
    const hasAfter = Boolean(this.sizes.after);
    const onLine = event.target === this.el.handle || Math.abs(x - lineX) <= GRAB_PX;
    let mode;
    if (hasAfter && (onLine || !this.zoomedIn())) mode = "split";
    else if (this.zoomedIn()) mode = "pan";
    else return;
    event.preventDefault();
    this.el.viewer.setPointerCapture(event.pointerId);
    this.drag = { mode, x: event.clientX, y: event.clientY };
    this.el.viewer.classList.add(mode === "split" ? "dragging" : "panning");
    if (mode === "split") {
      this.el.handle.focus({ preventScroll: true });
      if (!onLine) this.setSplit((x / view.w) * 100);
    }
  }

  pointerMove(event) {
    if (!this.drag) return;
    const view = this.viewport();
    if (this.drag.mode === "split") {
      this.setSplit(((event.clientX - view.left) / view.w) * 100);
    } else {
      this.panBy(event.clientX - this.drag.x, event.clientY - this.drag.y);
      this.drag.x = event.clientX;
      this.drag.y = event.clientY;
    }
  }

  handleKey(event) {
    const big = event.shiftKey ? 5 : 1;
    const steps = {
      ArrowLeft: -KEY_STEP * big,
      ArrowDown: -KEY_STEP * big,
      ArrowRight: KEY_STEP * big,
      ArrowUp: KEY_STEP * big,
      PageDown: -10,
      PageUp: 10,
    };
    if (event.key in steps) this.setSplit(this.split + steps[event.key]);
    else if (event.key === "Home") this.setSplit(0);
    else if (event.key === "End") this.setSplit(100);
    else return this.viewerKey(event);
    event.preventDefault();
  }

  viewerKey(event) {
    const pans = {
      ArrowLeft: [PAN_STEP, 0],
      ArrowRight: [-PAN_STEP, 0],
      ArrowUp: [0, PAN_STEP],
      ArrowDown: [0, -PAN_STEP],
    };
    if (event.key === "+" || event.key === "=") this.zoomBy(1.25);
    else if (event.key === "-" || event.key === "_") this.zoomBy(0.8);
    else if (event.key === "0") this.fit();
    else if (event.key === "1") this.actualPixels();
    else if (event.key in pans && event.target !== this.el.handle) this.panBy(...pans[event.key]);
    else return;
    event.preventDefault();
  }
}

function place(img, size, x, y, k) {
  img.style.width = `${size.w}px`;
  img.style.height = `${size.h}px`;
  img.style.transform = `translate(${x}px, ${y}px) scale(${k})`;
}

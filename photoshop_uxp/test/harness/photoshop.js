// In-memory stand-in for Photoshop's `photoshop` module (UXP, Photoshop >= 24.4), faithful to
// the documented semantics the plug-in depends on:
// - imaging.getPixels trims sourceBounds to the layer's non-transparent content and returns the
//   trimmed bounds; a layer without transparency (the Background) gives 3 components, others 4;
//   16-bit data is 0..32768 unless getData({fullRange: true}); componentSize -1 = document depth.
// - imaging.createImageDataFromBuffer checks the buffer length and the 16-bit range.
// - imaging.putPixels / putLayerMask / DOM edits only inside core.executeAsModal.
// - core.executeAsModal rejects with error number 9 ("host is in a modal state") while another
//   modal operation runs; hostControl.suspendHistory/resumeHistory fold edits into one history
//   state (commit) or roll them back (commit = false).
// What the plug-in never asks for (scaling, colour conversion, composites) throws loudly instead
// of being faked.
"use strict";

const constants = {
  DocumentMode: { RGB: "RGBColorMode", CMYK: "CMYKColorMode", GRAYSCALE: "grayscaleMode", LAB: "labColorMode" },
  BitsPerChannelType: { ONE: "bitDepth1", EIGHT: "bitDepth8", SIXTEEN: "bitDepth16", THIRTYTWO: "bitDepth32" },
  LayerKind: { NORMAL: "pixel", GROUP: "group", SMARTOBJECT: "smartObject", TEXT: "text", SOLIDFILL: "solidColor" },
  ElementPlacement: {
    PLACEBEFORE: "placeBefore",
    PLACEATBEGINNING: "placeAtBeginning",
    PLACEATEND: "placeAtEnd",
    PLACEAFTER: "placeAfter",
    PLACEINSIDE: "placeInside",
  },
};

/** Photoshop's own 16-bit range is 0..32768. */
const PS16_MAX = 32768;

/** Errors the host raises; `number` 9 is "host is in a modal state". */
class HostError extends Error {
  constructor(message, number) {
    super(message);
    this.number = number;
  }
}

function toInternal16(fullRange) {
  return Math.round((fullRange * PS16_MAX) / 65535);
}
function toFullRange16(internal) {
  return Math.round((internal * 65535) / PS16_MAX);
}

/** Rectangle helpers; bounds are {left, top, right, bottom} in document pixels. */
function rect(left, top, right, bottom) {
  return { left, top, right, bottom, width: Math.max(0, right - left), height: Math.max(0, bottom - top) };
}
function intersect(a, b) {
  return rect(Math.max(a.left, b.left), Math.max(a.top, b.top), Math.min(a.right, b.right), Math.min(a.bottom, b.bottom));
}
function isEmpty(b) {
  return b.right <= b.left || b.bottom <= b.top;
}
function checkBounds(b, what) {
  for (const key of ["left", "top", "right", "bottom"]) {
    if (!Number.isInteger(b[key])) throw new HostError(`${what}.${key} must be an integer`, 1);
  }
  if (b.right < b.left || b.bottom < b.top) throw new HostError(`${what} is inverted`, 1);
}

/**
 * Pixel storage of one layer: RGBA, chunky, in Photoshop's internal range (8-bit 0..255,
 * 16-bit 0..32768), covering `rect`; everything outside is transparent.
 */
class Raster {
  constructor(left, top, width, height, depth) {
    this.left = left;
    this.top = top;
    this.width = width;
    this.height = height;
    this.depth = depth;
    const Type = depth === 8 ? Uint8Array : Uint16Array;
    this.data = new Type(width * height * 4);
  }
  get bounds() {
    return rect(this.left, this.top, this.left + this.width, this.top + this.height);
  }
  /** Tight box of the pixels whose alpha is above zero. */
  contentBounds() {
    let minX = Infinity, minY = Infinity, maxX = -1, maxY = -1;
    const { width, height, data } = this;
    for (let y = 0; y < height; y++) {
      const row = y * width * 4;
      for (let x = 0; x < width; x++) {
        if (data[row + x * 4 + 3] !== 0) {
          if (x < minX) minX = x;
          if (x > maxX) maxX = x;
          if (y < minY) minY = y;
          if (y > maxY) maxY = y;
        }
      }
    }
    if (maxX < 0) return rect(0, 0, 0, 0);
    return rect(this.left + minX, this.top + minY, this.left + maxX + 1, this.top + maxY + 1);
  }
  /** RGBA sample at document position (transparent outside). */
  sampleIndex(x, y) {
    const lx = x - this.left, ly = y - this.top;
    if (lx < 0 || ly < 0 || lx >= this.width || ly >= this.height) return -1;
    return (ly * this.width + lx) * 4;
  }
}

class PhotoshopImageData {
  constructor({ width, height, components, componentSize, colorSpace, colorProfile, data }) {
    this.width = width;
    this.height = height;
    this.components = components;
    this.componentSize = componentSize;
    this.colorSpace = colorSpace;
    this.colorProfile = colorProfile;
    this.hasAlpha = components === 4 || components === 2;
    this.pixelFormat = { 1: "Grayscale", 2: "GrayscaleAlpha", 3: "RGB", 4: "RGBA" }[components];
    this.chunky = true;
    this.type = "image/uncompressed";
    this._data = data; // chunky, internal range
    this._disposed = false;
  }
  async getData(options = {}) {
    if (this._disposed) throw new HostError("getData: the image data was disposed", 1);
    const chunky = options.chunky !== false;
    const fullRange = options.fullRange === true;
    let out = this._data.slice();
    if (this.componentSize === 16 && fullRange) {
      for (let i = 0; i < out.length; i++) out[i] = toFullRange16(out[i]);
    }
    if (!chunky) {
      const planar = new out.constructor(out.length);
      const n = this.width * this.height, c = this.components;
      for (let p = 0; p < n; p++) for (let k = 0; k < c; k++) planar[k * n + p] = out[p * c + k];
      out = planar;
    }
    return out;
  }
  async dispose() {
    this._disposed = true;
    this._data = null;
  }
}

let nextId = 1;

class Layer {
  constructor(doc, { name, kind, isBackgroundLayer = false }) {
    this._doc = doc;
    this._id = nextId++;
    this._name = name;
    this._kind = kind;
    this._isBackground = isBackgroundLayer;
    this._parent = null; // a group Layer or null (document root)
    this._raster = kind === constants.LayerKind.NORMAL ? null : undefined;
    this._mask = null; // Raster with 1 channel in data[0..] (we reuse RGBA storage, channel 0)
    this._children = kind === constants.LayerKind.GROUP ? [] : null;
    this.typename = "Layer";
  }
  get id() { return this._id; }
  get name() { return this._name; }
  set name(value) { this._doc._requireModal("set name"); this._name = String(value); this._doc._record("Rename Layer"); }
  get kind() { return this._kind; }
  get isBackgroundLayer() { return this._isBackground; }
  get document() { return this._doc; }
  get parent() { return this._parent; }
  get layers() { return this._children ? this._children.slice() : null; }
  get bounds() { return this.boundsNoEffects; }
  get boundsNoEffects() {
    if (this._children) {
      let box = null;
      for (const child of this._children) {
        const b = child.boundsNoEffects;
        if (isEmpty(b)) continue;
        box = box ? rect(Math.min(box.left, b.left), Math.min(box.top, b.top), Math.max(box.right, b.right), Math.max(box.bottom, b.bottom)) : b;
      }
      return box || rect(0, 0, 0, 0);
    }
    return this._raster ? this._raster.contentBounds() : rect(0, 0, 0, 0);
  }
  _siblings() {
    return this._parent ? this._parent._children : this._doc._layers;
  }
  move(relativeObject, insertLocation) {
    this._doc._requireModal("move");
    if (!(relativeObject instanceof Layer) || relativeObject._doc !== this._doc) {
      throw new HostError("move: relativeObject must be a layer of the same document", 1);
    }
    if (relativeObject === this) throw new HostError("move: a layer cannot move relative to itself", 1);
    for (let p = relativeObject; p; p = p._parent) {
      if (p === this) throw new HostError("move: cannot move a group into itself", 1);
    }
    const P = constants.ElementPlacement;
    const own = this._siblings();
    own.splice(own.indexOf(this), 1);
    if (insertLocation === P.PLACEINSIDE) {
      if (relativeObject._kind !== constants.LayerKind.GROUP) {
        own.push(this); // restore before failing
        throw new HostError("move: placeInside needs a group layer", 1);
      }
      relativeObject._children.unshift(this);
      this._parent = relativeObject;
    } else if (insertLocation === P.PLACEBEFORE || insertLocation === P.PLACEAFTER) {
      const list = relativeObject._siblings();
      const at = list.indexOf(relativeObject) + (insertLocation === P.PLACEAFTER ? 1 : 0);
      list.splice(at, 0, this);
      this._parent = relativeObject._parent;
    } else {
      own.push(this);
      throw new HostError(`move: unsupported placement ${insertLocation}`, 1);
    }
    this._doc._record("Move");
  }
  delete() {
    this._doc._requireModal("delete");
    const list = this._siblings();
    list.splice(list.indexOf(this), 1);
    this._doc._active = this._doc._active.filter((l) => l !== this);
    this._doc._record("Delete Layer");
  }
}

class Document {
  constructor(host, { width, height, depth = 8, mode = constants.DocumentMode.RGB, profile = "sRGB IEC61966-2.1", title = "Untitled-1" }) {
    this._host = host;
    this._id = nextId++;
    this._width = width;
    this._height = height;
    this._depth = depth;
    this._mode = mode;
    this._profile = profile;
    this._title = title;
    this._layers = []; // top first
    this._active = [];
    this._selection = null;
    this._suspension = null;
    this.historyStates = [{ name: "Open" }];
    this.typename = "Document";
    const doc = this;
    this.selection = {
      get bounds() { return doc._selection ? rect(doc._selection.left, doc._selection.top, doc._selection.right, doc._selection.bottom) : null; },
      /** True when every pixel inside the bounds is fully selected (a plain rectangle). */
      get solid() { return Boolean(doc._selection) && (!doc._selection.mask || doc._selection.mask.every((v) => v === 255)); },
    };
  }
  get id() { return this._id; }
  get title() { return this._title; }
  get name() { return this._title; }
  get width() { return this._width; }
  get height() { return this._height; }
  get mode() { return this._mode; }
  get bitsPerChannel() {
    return { 8: constants.BitsPerChannelType.EIGHT, 16: constants.BitsPerChannelType.SIXTEEN, 32: constants.BitsPerChannelType.THIRTYTWO }[this._depth];
  }
  get colorProfileName() { return this._profile; }
  get layers() { return this._layers.slice(); }
  get activeLayers() { return this._active.slice(); }
  get backgroundLayer() { return this._layers.find((l) => l._isBackground) || null; }

  _requireModal(what) {
    if (!this._host._modal || this._host._modal.owner !== "plugin") {
      throw new HostError(`${what}: this operation modifies the document and must run inside core.executeAsModal`, 1);
    }
  }
  _record(name) {
    if (this._suspension) this._suspension.changed = true;
    else this.historyStates.push({ name });
  }
  _allLayers() {
    const out = [];
    const walk = (list) => { for (const l of list) { out.push(l); if (l._children) walk(l._children); } };
    walk(this._layers);
    return out;
  }
  _findLayer(id) {
    return this._allLayers().find((l) => l._id === id) || null;
  }
  _insertNew(layer) {
    const anchor = this._active[0];
    if (anchor) {
      const list = anchor._siblings();
      list.splice(list.indexOf(anchor), 0, layer);
      layer._parent = anchor._parent;
    } else {
      this._layers.unshift(layer);
    }
    this._active = [layer];
  }
  async createPixelLayer(options = {}) {
    this._requireModal("createPixelLayer");
    const layer = new Layer(this, { name: options.name || `Layer ${this._allLayers().length}`, kind: constants.LayerKind.NORMAL });
    this._insertNew(layer);
    this._record("New Layer");
    return layer;
  }
  async createLayer(kind, options = {}) {
    if (kind === constants.LayerKind.GROUP) return this.createLayerGroup(options);
    return this.createPixelLayer(options);
  }
  async createLayerGroup(options = {}) {
    this._requireModal("createLayerGroup");
    const group = new Layer(this, { name: options.name || "Group 1", kind: constants.LayerKind.GROUP });
    this._insertNew(group);
    this._record("New Group");
    return group;
  }
  /** Everything needed to roll the document back (rasters are replaced, never mutated). */
  _snapshot() {
    return {
      layers: this._layers.slice(),
      active: this._active.slice(),
      all: this._allLayers().map((l) => ({ layer: l, parent: l._parent, children: l._children ? l._children.slice() : null, raster: l._raster, mask: l._mask, name: l._name })),
    };
  }
  _restore(snap) {
    this._layers = snap.layers;
    this._active = snap.active;
    for (const s of snap.all) {
      s.layer._parent = s.parent;
      if (s.children) s.layer._children = s.children;
      s.layer._raster = s.raster;
      s.layer._mask = s.mask;
      s.layer._name = s.name;
    }
  }
}

function createPhotoshop() {
  const host = {
    _modal: null,
    documents: [],
    activeDocument: null,
    modalCalls: 0,
    busyRejections: 0,
    unresumedSuspensions: 0,
  };
  let suspensionCounter = 0;
  const suspensions = new Map();

  const app = {
    get documents() { return host.documents.slice(); },
    get activeDocument() { return host.activeDocument; },
  };

  const core = {
    async executeAsModal(targetFunction, options) {
      if (!options || typeof options.commandName !== "string") {
        throw new HostError("executeAsModal: options.commandName is required", 1);
      }
      host.modalCalls += 1;
      if (host._modal) {
        host.busyRejections += 1;
        throw new HostError("host is in a modal state", 9);
      }
      const modal = { owner: "plugin", commandName: options.commandName };
      host._modal = modal;
      const context = {
        isCancelled: false,
        onCancel: undefined,
        reportProgress() {},
        hostControl: {
          async suspendHistory({ documentID, name }) {
            const doc = host.documents.find((d) => d._id === documentID);
            if (!doc) throw new HostError("suspendHistory: no such document", 1);
            if (doc._suspension) throw new HostError("suspendHistory: history already suspended", 1);
            const id = ++suspensionCounter;
            doc._suspension = { id, name, changed: false, snapshot: doc._snapshot(), modal };
            suspensions.set(id, doc);
            return { historySuspensionID: id };
          },
          async resumeHistory(suspension, commit = true) {
            const doc = suspensions.get(suspension && suspension.historySuspensionID);
            if (!doc) throw new HostError("resumeHistory: unknown suspension", 1);
            suspensions.delete(suspension.historySuspensionID);
            const s = doc._suspension;
            doc._suspension = null;
            if (commit) doc.historyStates.push({ name: suspension.finalName || s.name });
            else doc._restore(s.snapshot);
          },
          async registerAutoCloseDocument() {},
          async unregisterAutoCloseDocument() {},
        },
      };
      try {
        return await targetFunction(context, options.descriptor);
      } finally {
        // A suspension left open at the end of the modal scope is committed by Photoshop.
        for (const [id, doc] of suspensions) {
          if (doc._suspension && doc._suspension.modal === modal) {
            host.unresumedSuspensions += 1;
            doc.historyStates.push({ name: doc._suspension.name });
            doc._suspension = null;
            suspensions.delete(id);
          }
        }
        host._modal = null;
      }
    },
    isModal() {
      return Boolean(host._modal);
    },
  };

  function findDoc(documentID) {
    const doc = documentID == null || documentID < 0 ? host.activeDocument : host.documents.find((d) => d._id === documentID);
    if (!doc) throw new HostError(`No document with id ${documentID}`, 1);
    return doc;
  }
  function pixelLayer(doc, layerID, what) {
    const layer = doc._findLayer(layerID);
    if (!layer) throw new HostError(`${what}: no layer with id ${layerID}`, 1);
    if (layer._kind !== constants.LayerKind.NORMAL) throw new HostError(`${what}: layer ${layerID} is not a pixel layer`, 1);
    return layer;
  }
  function placement(targetBounds, width, height, what) {
    if (!targetBounds) return { left: 0, top: 0 };
    const { left, top } = targetBounds;
    if (!Number.isInteger(left) || !Number.isInteger(top)) throw new HostError(`${what}: targetBounds needs integer left and top`, 1);
    const w = targetBounds.width ?? (targetBounds.right != null ? targetBounds.right - left : width);
    const h = targetBounds.height ?? (targetBounds.bottom != null ? targetBounds.bottom - top : height);
    if (w !== width || h !== height) throw new HostError(`${what}: targetBounds ${w}x${h} do not match the image data ${width}x${height}`, 1);
    return { left, top };
  }
  function convertDepth(value, from, to) {
    if (from === to) return value;
    return from === 8 ? Math.round((value * PS16_MAX) / 255) : Math.round((value * 255) / PS16_MAX);
  }

  const imaging = {
    async getPixels(options = {}) {
      const doc = findDoc(options.documentID);
      if (options.layerID == null) throw new HostError("stand-in: composite getPixels is not implemented (the plug-in reads layers)", 1);
      const layer = pixelLayer(doc, options.layerID, "getPixels");
      const content = layer._raster ? layer._raster.contentBounds() : rect(0, 0, 0, 0);
      let region = content;
      if (options.sourceBounds) {
        checkBounds(options.sourceBounds, "sourceBounds");
        region = intersect(options.sourceBounds, content);
      }
      if (isEmpty(region)) throw new HostError("getPixels: the requested region holds no pixels", 1);
      if (options.targetSize && (options.targetSize.width !== region.width || options.targetSize.height !== region.height)) {
        throw new HostError("stand-in: scaling (targetSize) is not implemented", 1);
      }
      if (options.colorSpace && options.colorSpace !== "RGB") throw new HostError("stand-in: colour space conversion is not implemented", 1);
      if (options.colorProfile && options.colorProfile !== doc._profile) throw new HostError("stand-in: profile conversion is not implemented", 1);
      const size = options.componentSize == null || options.componentSize === -1 ? doc._depth : options.componentSize;
      if (size !== 8 && size !== 16) throw new HostError(`stand-in: componentSize ${size} is not implemented`, 1);
      const noAlpha = layer._isBackground || options.applyAlpha === true;
      const components = noAlpha ? 3 : 4;
      const raster = layer._raster;
      const white = size === 8 ? 255 : PS16_MAX;
      const out = new (size === 8 ? Uint8Array : Uint16Array)(region.width * region.height * components);
      const alphaMax = doc._depth === 8 ? 255 : PS16_MAX;
      if (components === 4 && size === doc._depth && region.left >= raster.left && region.right <= raster.left + raster.width) {
        // Same layout as the storage and the rows lie inside it: copy whole rows.
        for (let y = region.top; y < region.bottom; y++) {
          const from = raster.sampleIndex(region.left, y);
          out.set(raster.data.subarray(from, from + region.width * 4), (y - region.top) * region.width * 4);
        }
      }
      let o = components === 4 && size === doc._depth && region.left >= raster.left && region.right <= raster.left + raster.width ? out.length : 0;
      for (let y = region.top; y < region.bottom && o < out.length; y++) {
        for (let x = region.left; x < region.right; x++) {
          const i = raster.sampleIndex(x, y);
          const a = i < 0 ? 0 : raster.data[i + 3];
          for (let k = 0; k < 3; k++) {
            let v = i < 0 ? 0 : convertDepth(raster.data[i + k], doc._depth, size);
            if (options.applyAlpha && !layer._isBackground) v = Math.round((v * a + white * (alphaMax - a)) / alphaMax);
            out[o++] = v;
          }
          if (components === 4) out[o++] = convertDepth(a, doc._depth, size);
        }
      }
      const imageData = new PhotoshopImageData({
        width: region.width,
        height: region.height,
        components,
        componentSize: size,
        colorSpace: "RGB",
        colorProfile: doc._profile,
        data: out,
      });
      return { imageData, sourceBounds: { left: region.left, top: region.top, right: region.right, bottom: region.bottom }, level: 0 };
    },

    async createImageDataFromBuffer(arrayBuffer, options) {
      let size;
      if (arrayBuffer instanceof Uint8Array) size = 8;
      else if (arrayBuffer instanceof Uint16Array) size = 16;
      else if (arrayBuffer instanceof Float32Array) throw new HostError("stand-in: 32-bit image data is not implemented", 1);
      else throw new HostError("createImageDataFromBuffer: expected Uint8Array, Uint16Array or Float32Array", 1);
      const { width, height, components } = options;
      if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) throw new HostError("createImageDataFromBuffer: bad width/height", 1);
      const space = options.colorSpace;
      if (space === "RGB" ? components !== 3 && components !== 4 : space === "Grayscale" ? components !== 1 && components !== 2 : true) {
        throw new HostError(`createImageDataFromBuffer: ${components} components do not fit colour space ${space}`, 1);
      }
      if (arrayBuffer.length !== width * height * components) {
        throw new HostError(`createImageDataFromBuffer: ${arrayBuffer.length} elements, expected width * height * components = ${width * height * components}`, 1);
      }
      let data = arrayBuffer.slice();
      if (options.chunky === false) {
        const chunky = new data.constructor(data.length);
        const n = width * height;
        for (let p = 0; p < n; p++) for (let k = 0; k < components; k++) chunky[p * components + k] = data[k * n + p];
        data = chunky;
      }
      if (size === 16) {
        if (options.fullRange) {
          for (let i = 0; i < data.length; i++) data[i] = toInternal16(data[i]);
        } else {
          for (let i = 0; i < data.length; i++) {
            if (data[i] > PS16_MAX) throw new HostError("createImageDataFromBuffer: 16-bit values above 32768 need fullRange: true", 1);
          }
        }
      }
      return new PhotoshopImageData({ width, height, components, componentSize: size, colorSpace: space, colorProfile: options.colorProfile || "", data });
    },

    async putPixels(options) {
      const doc = findDoc(options.documentID);
      doc._requireModal("putPixels");
      const layer = pixelLayer(doc, options.layerID, "putPixels");
      const img = options.imageData;
      if (!(img instanceof PhotoshopImageData) || img._disposed) throw new HostError("putPixels: imageData is missing or disposed", 1);
      if (img.colorSpace !== "RGB") throw new HostError("putPixels: a pixel layer needs RGB image data", 1);
      if (img.colorProfile && img.colorProfile !== doc._profile) throw new HostError("stand-in: profile conversion is not implemented", 1);
      const at = placement(options.targetBounds, img.width, img.height, "putPixels");
      const replace = options.replace !== false;
      const old = layer._raster;
      let box = rect(at.left, at.top, at.left + img.width, at.top + img.height);
      if (!replace && old) {
        const ob = old.bounds;
        box = rect(Math.min(box.left, ob.left), Math.min(box.top, ob.top), Math.max(box.right, ob.right), Math.max(box.bottom, ob.bottom));
      }
      const raster = new Raster(box.left, box.top, box.width, box.height, doc._depth);
      if (!replace && old) {
        for (let y = old.top; y < old.top + old.height; y++) {
          const src = old.sampleIndex(old.left, y);
          raster.data.set(old.data.subarray(src, src + old.width * 4), raster.sampleIndex(old.left, y));
        }
      }
      const opaque = doc._depth === 8 ? 255 : PS16_MAX;
      const c = img.components;
      if (c === 4 && img.componentSize === doc._depth) {
        // Same layout as the storage: copy whole rows.
        for (let y = 0; y < img.height; y++) {
          const row = img._data.subarray(y * img.width * 4, (y + 1) * img.width * 4);
          raster.data.set(row, raster.sampleIndex(at.left, at.top + y));
        }
        layer._raster = raster;
        doc._record(options.commandName || "Put Pixels");
        return;
      }
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const s = (y * img.width + x) * c;
          const d = raster.sampleIndex(at.left + x, at.top + y);
          for (let k = 0; k < 3; k++) raster.data[d + k] = convertDepth(img._data[s + k], img.componentSize, doc._depth);
          raster.data[d + 3] = c === 4 ? convertDepth(img._data[s + 3], img.componentSize, doc._depth) : opaque;
        }
      }
      layer._raster = raster;
      doc._record(options.commandName || "Put Pixels");
    },

    async putLayerMask(options) {
      const doc = findDoc(options.documentID);
      doc._requireModal("putLayerMask");
      const layer = doc._findLayer(options.layerID);
      if (!layer) throw new HostError(`putLayerMask: no layer with id ${options.layerID}`, 1);
      if (options.kind && options.kind !== "user") throw new HostError("putLayerMask: only user masks are editable", 1);
      const img = options.imageData;
      if (!(img instanceof PhotoshopImageData) || img._disposed) throw new HostError("putLayerMask: imageData is missing or disposed", 1);
      if (img.colorSpace !== "Grayscale" || img.components !== 1) throw new HostError("putLayerMask: a mask needs 1-component Grayscale image data", 1);
      const at = placement(options.targetBounds, img.width, img.height, "putLayerMask");
      const mask = new Raster(at.left, at.top, img.width, img.height, 8);
      for (let p = 0; p < img.width * img.height; p++) mask.data[p * 4] = img.componentSize === 8 ? img._data[p] : Math.round((img._data[p] * 255) / PS16_MAX);
      layer._mask = mask;
      doc._record(options.commandName || "Put Layer Mask");
    },

    async getLayerMask(options) {
      const doc = findDoc(options.documentID);
      const layer = doc._findLayer(options.layerID);
      if (!layer || !layer._mask) throw new HostError("getLayerMask: the layer has no user mask", 1);
      const m = layer._mask;
      const region = options.sourceBounds ? intersect(options.sourceBounds, m.bounds) : m.bounds;
      const out = new Uint8Array(region.width * region.height);
      let o = 0;
      for (let y = region.top; y < region.bottom; y++) for (let x = region.left; x < region.right; x++) out[o++] = m.data[m.sampleIndex(x, y)];
      return {
        imageData: new PhotoshopImageData({ width: region.width, height: region.height, components: 1, componentSize: 8, colorSpace: "Grayscale", colorProfile: "Gray Gamma 2.2", data: out }),
        sourceBounds: { left: region.left, top: region.top, right: region.right, bottom: region.bottom },
      };
    },

    async getSelection(options = {}) {
      const doc = findDoc(options.documentID);
      const region = options.sourceBounds ? rect(options.sourceBounds.left, options.sourceBounds.top, options.sourceBounds.right, options.sourceBounds.bottom) : rect(0, 0, doc._width, doc._height);
      checkBounds(region, "sourceBounds");
      const sel = doc._selection;
      const full = doc._depth === 8 ? 255 : PS16_MAX;
      const out = new (doc._depth === 8 ? Uint8Array : Uint16Array)(region.width * region.height);
      let o = 0;
      for (let y = region.top; y < region.bottom; y++) {
        for (let x = region.left; x < region.right; x++, o++) {
          if (!sel || x < sel.left || y < sel.top || x >= sel.right || y >= sel.bottom) continue;
          const v = sel.mask ? sel.mask[(y - sel.top) * (sel.right - sel.left) + (x - sel.left)] : 255;
          out[o] = doc._depth === 8 ? v : Math.round((v * full) / 255);
        }
      }
      return {
        imageData: new PhotoshopImageData({ width: region.width, height: region.height, components: 1, componentSize: doc._depth, colorSpace: "Grayscale", colorProfile: "Gray Gamma 2.2", data: out }),
        sourceBounds: { left: region.left, top: region.top, right: region.right, bottom: region.bottom },
      };
    },

    async encodeImageData() {
      throw new HostError("encodeImageData gives JPEG only; the plug-in must never use it for transfer", 1);
    },
  };

  /** Test-side controls: not part of Photoshop's API. */
  const control = {
    host,
    constants,
    HostError,
    /** A new open document that becomes the active one. */
    createDocument(options) {
      const doc = new Document(host, options);
      host.documents.push(doc);
      host.activeDocument = doc;
      return doc;
    },
    /**
     * Add a pixel layer on top (outside any modal: this is the "user" preparing the file).
     * pixels: RGBA (or RGB for the Background) interleaved, 8-bit 0..255 or 16-bit 0..32768.
     */
    addPixelLayer(doc, { name, left = 0, top = 0, width, height, pixels, background = false }) {
      const layer = new Layer(doc, { name, kind: constants.LayerKind.NORMAL, isBackgroundLayer: background });
      const raster = new Raster(left, top, width, height, doc._depth);
      const c = background ? 3 : 4;
      const opaque = doc._depth === 8 ? 255 : PS16_MAX;
      for (let p = 0; p < width * height; p++) {
        for (let k = 0; k < 3; k++) raster.data[p * 4 + k] = pixels[p * c + k];
        raster.data[p * 4 + 3] = c === 4 ? pixels[p * c + 3] : opaque;
      }
      layer._raster = raster;
      if (background) doc._layers.push(layer);
      else doc._layers.unshift(layer);
      doc._active = [layer];
      return layer;
    },
    addLayerOfKind(doc, name, kind) {
      const layer = new Layer(doc, { name, kind });
      doc._layers.unshift(layer);
      doc._active = [layer];
      return layer;
    },
    select(doc, layers) { doc._active = layers.slice(); },
    /** Select a box; `mask` (8-bit, one byte per pixel of the box) gives it a shape. */
    setSelection(doc, bounds, mask = null) { doc._selection = bounds ? { ...bounds, mask } : null; },
    /** Another plug-in (or a dialog) holds Photoshop's modal state for `ms` milliseconds. */
    holdForeignModal(ms) {
      if (host._modal) throw new Error("already modal");
      host._modal = { owner: "foreign" };
      return new Promise((resolve) => setTimeout(() => { host._modal = null; resolve(); }, ms));
    },
    /** The raw stored RGBA samples of a layer (internal range) and where they sit. */
    rasterOf(layer) { return layer._raster; },
    maskOf(layer) { return layer._mask; },
    closeDocument(doc) {
      host.documents = host.documents.filter((d) => d !== doc);
      if (host.activeDocument === doc) host.activeDocument = host.documents[0] || null;
    },
  };

  return { module: { app, core, imaging, constants, action: {} }, control };
}

module.exports = { createPhotoshop, PS16_MAX, toFullRange16, toInternal16 };

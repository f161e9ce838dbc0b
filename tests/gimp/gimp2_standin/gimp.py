"""Stand-in for GIMP 2.10's `gimp` module (pygimp), for testing the Python-Fu plug-in.

PyPI has no gimpfu stubs and Debian 12 has no GIMP 2.10 Python, so this models the parts of
pygimp the plug-in uses, following GIMP 2.10's documented behaviour:

- drawables hold 8-bit interleaved pixels (pixel regions are 8-bit whatever the image
  precision); bpp: RGB 3, RGBA 4, GRAY 1, GRAYA 2, channels and masks 1;
- `get_pixel_rgn(x, y, w, h, dirty, shadow)[x0:x1, y0:y1]` reads/writes a rectangle in the
  drawable's own coordinates and refuses anything outside the region;
- `pdb.gimp_drawable_mask_intersect` clips the selection box to the drawable (the whole
  drawable when nothing is selected, even where it lies off the canvas);
- `create_mask(ADD_SELECTION_MASK)` copies the selection under the layer;
  `remove_mask(MASK_APPLY)` multiplies alpha by the mask;
- undo groups nest and must balance; `pdb` calls with wrong item kinds raise.

State worth asserting on (messages, undo depth, progress) is kept in module attributes.
"""

from __future__ import annotations

import numpy as np

# Image base types, layer types, mask and layer-mode constants as in GIMP 2.10.
RGB, GRAY, INDEXED = 0, 1, 2
RGB_IMAGE, RGBA_IMAGE, GRAY_IMAGE, GRAYA_IMAGE, INDEXED_IMAGE, INDEXEDA_IMAGE = range(6)
ADD_WHITE_MASK, ADD_BLACK_MASK, ADD_ALPHA_MASK, ADD_ALPHA_TRANSFER_MASK = 0, 1, 2, 3
ADD_SELECTION_MASK, ADD_COPY_MASK, ADD_CHANNEL_MASK = 4, 5, 6
MASK_APPLY, MASK_DISCARD = 0, 1
NORMAL_MODE = 28  # LAYER_MODE_NORMAL in 2.10
CHANNEL_OP_ADD, CHANNEL_OP_SUBTRACT, CHANNEL_OP_REPLACE, CHANNEL_OP_INTERSECT = 0, 1, 2, 3
PRECISION_U8_GAMMA, PRECISION_U16_GAMMA = 150, 250

BPP = {
    RGB_IMAGE: 3,
    RGBA_IMAGE: 4,
    GRAY_IMAGE: 1,
    GRAYA_IMAGE: 2,
    INDEXED_IMAGE: 1,
    INDEXEDA_IMAGE: 2,
}

messages: list[str] = []
progress: list[float] = []
progress_texts: list[str] = []  # what gimp-progress-set-text showed, in order


class error(RuntimeError):  # noqa: N801 - pygimp's exception is called gimp.error
    pass


def message(text):
    messages.append(str(text))


def progress_init(text=None):
    progress.append(0.0)


def progress_update(fraction):
    if not 0.0 <= fraction <= 1.0:
        raise error(f"progress out of range: {fraction!r}")
    progress.append(float(fraction))


def displays_flush():
    pass


class Item:
    def __init__(self, image, name, width, height, bpp):
        self.image = image
        self.name = name
        self.width = width
        self.height = height
        self.bpp = bpp
        self.pixels = np.zeros((height, width, bpp), np.uint8)
        self.visible = True
        self.parent = None
        self._offsets = (0, 0)
        self.attached = False

    @property
    def offsets(self):
        return self._offsets

    def get_pixel_rgn(self, x, y, width, height, dirty=True, shadow=False):
        if x < 0 or y < 0 or x + width > self.width or y + height > self.height:
            raise error("pixel region outside the drawable")
        return PixelRegion(self, x, y, width, height)

    def flush(self):
        pass

    def update(self, x, y, width, height):
        pass

    def merge_shadow(self, undo=True):
        pass


class PixelRegion:
    """GIMP 2.10 pixel region: slices are drawable coordinates, data is raw 8-bit bytes."""

    def __init__(self, drawable, x, y, width, height):
        self.drawable = drawable
        self.x, self.y, self.w, self.h = x, y, width, height

    def _box(self, key):
        xs, ys = key
        x0, x1, y0, y1 = xs.start, xs.stop, ys.start, ys.stop
        if x0 < self.x or y0 < self.y or x1 > self.x + self.w or y1 > self.y + self.h:
            raise IndexError("subscript out of range")
        if x1 <= x0 or y1 <= y0:
            raise IndexError("empty subscript")
        return x0, x1, y0, y1

    def __getitem__(self, key):
        x0, x1, y0, y1 = self._box(key)
        return self.drawable.pixels[y0:y1, x0:x1].tobytes()

    def __setitem__(self, key, data):
        x0, x1, y0, y1 = self._box(key)
        bpp = self.drawable.bpp
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("pixel data must be a string")
        if len(data) != (x1 - x0) * (y1 - y0) * bpp:
            raise ValueError("string is wrong length")
        self.drawable.pixels[y0:y1, x0:x1] = np.frombuffer(bytes(data), np.uint8).reshape(
            y1 - y0, x1 - x0, bpp
        )


class Channel(Item):
    def __init__(self, image, name, width, height, opacity, color):
        Item.__init__(self, image, name, width, height, 1)
        self.opacity = opacity
        self.color = color


class LayerMask(Item):
    def __init__(self, layer):
        Item.__init__(self, layer.image, layer.name + " mask", layer.width, layer.height, 1)
        self.layer = layer


class Layer(Item):
    def __init__(self, image, name, width, height, type, opacity, mode):  # noqa: A002
        if type not in BPP:
            raise error(f"bad layer type {type!r}")
        Item.__init__(self, image, name, width, height, BPP[type])
        self.type = type
        self.opacity = opacity
        self.mode = mode
        self.mask = None
        self.children = None  # a list for layer groups

    @property
    def has_alpha(self):
        return self.bpp in (2, 4)

    def set_offsets(self, x, y):
        self._offsets = (int(x), int(y))

    def create_mask(self, kind):
        mask = LayerMask(self)
        if kind == ADD_WHITE_MASK:
            mask.pixels[:] = 255
        elif kind == ADD_SELECTION_MASK:
            ox, oy = self.offsets
            selection = self.image.selection.pixels[..., 0]
            for row in range(self.height):
                y = oy + row
                if not 0 <= y < self.image.height:
                    continue
                x0, x1 = max(ox, 0), min(ox + self.width, self.image.width)
                if x1 > x0:
                    mask.pixels[row, x0 - ox : x1 - ox, 0] = selection[y, x0:x1]
        elif kind != ADD_BLACK_MASK:
            raise error(f"mask type {kind!r} not modelled")
        return mask

    def add_mask(self, mask):
        if self.mask is not None:
            raise error("the layer already has a mask")
        if not self.attached:
            raise error("add_mask: the layer is not in an image")
        if self.children is None and not self.has_alpha:
            raise error("add_mask: the layer has no alpha channel")
        self.mask = mask

    def remove_mask(self, mode):
        if self.mask is None:
            raise error("the layer has no mask")
        if mode == MASK_APPLY:
            if self.children is not None:
                raise error("cannot apply the mask of a layer group")
            alpha = self.pixels[..., self.bpp - 1].astype(np.uint32)
            mask = self.mask.pixels[..., 0].astype(np.uint32)
            self.pixels[..., self.bpp - 1] = ((alpha * mask + 127) // 255).astype(np.uint8)
        self.mask = None


class Image:
    def __init__(self, width, height, base_type=RGB, precision=PRECISION_U8_GAMMA):
        self.width = width
        self.height = height
        self.base_type = base_type
        self.precision = precision
        self.layers = []  # top first, like pygimp
        self.channels = []
        self.selection = Channel(self, "selection", width, height, 100.0, (0, 0, 0))
        self.undo_depth = 0
        self.undo_groups = 0

    def siblings(self, item):
        if isinstance(item, Layer):
            return item.parent.children if item.parent is not None else self.layers
        return self.channels


def _coverage(width, height, inside):
    """Anti-aliased 0..255 coverage of a shape, 4x4 supersampled like GIMP's selection tools."""
    ys, xs = np.mgrid[0 : height * 4, 0 : width * 4]
    hits = inside((xs + 0.5) / 4.0, (ys + 0.5) / 4.0)
    counts = hits.reshape(height, 4, width, 4).sum(axis=(1, 3))
    return np.round(counts * 255 / 16).astype(np.uint8)


class PDB:
    """The subset of GIMP 2.10's procedural database the plug-in (and the tests) call."""

    def _check_image(self, image):
        if not isinstance(image, Image):
            raise error(f"not an image: {image!r}")

    def gimp_image_undo_group_start(self, image):
        self._check_image(image)
        image.undo_depth += 1
        image.undo_groups += 1

    def gimp_image_undo_group_end(self, image):
        self._check_image(image)
        if image.undo_depth <= 0:
            raise error("undo group end without a start")
        image.undo_depth -= 1

    def gimp_image_get_precision(self, image):
        return image.precision

    def gimp_selection_is_empty(self, image):
        return not image.selection.pixels.any()

    def gimp_drawable_mask_intersect(self, drawable):
        image = drawable.image
        ox, oy = drawable.offsets
        if self.gimp_selection_is_empty(image):
            return True, 0, 0, drawable.width, drawable.height
        ys, xs = np.nonzero(image.selection.pixels[..., 0])
        x0, x1 = max(xs.min(), ox), min(xs.max() + 1, ox + drawable.width)
        y0, y1 = max(ys.min(), oy), min(ys.max() + 1, oy + drawable.height)
        if x1 <= x0 or y1 <= y0:
            return False, 0, 0, 0, 0
        return True, int(x0 - ox), int(y0 - oy), int(x1 - x0), int(y1 - y0)

    def gimp_item_is_layer_mask(self, item):
        return isinstance(item, LayerMask)

    def gimp_item_is_channel(self, item):
        return isinstance(item, Channel)

    def gimp_item_is_group(self, item):
        return isinstance(item, Layer) and item.children is not None

    def gimp_item_get_parent(self, item):
        return item.parent

    def gimp_image_get_item_position(self, image, item):
        return image.siblings(item).index(item)

    def gimp_layer_group_new(self, image):
        group = Layer(image, "Layer Group", 1, 1, RGBA_IMAGE, 100.0, NORMAL_MODE)
        group.children = []
        return group

    def gimp_image_insert_layer(self, image, layer, parent, position):
        self._check_image(image)
        if not isinstance(layer, Layer) or layer.attached:
            raise error(f"cannot insert {layer!r}")
        if parent is not None and parent.children is None:
            raise error("the parent is not a layer group")
        allowed = {
            RGB: (RGB_IMAGE, RGBA_IMAGE),
            GRAY: (GRAY_IMAGE, GRAYA_IMAGE),
            INDEXED: (INDEXED_IMAGE, INDEXEDA_IMAGE),
        }[image.base_type]
        if layer.type not in allowed:
            raise error("the layer type does not match the image's base type")
        layer.parent = parent
        layer.attached = True
        siblings = image.siblings(layer)
        siblings.insert(max(0, min(position, len(siblings))), layer)

    def gimp_image_remove_layer(self, image, layer):
        if not layer.attached:
            raise error("gimp-image-remove-layer: the item is not attached to an image")
        image.siblings(layer).remove(layer)
        layer.attached = False

    def gimp_image_insert_channel(self, image, channel, parent, position):
        if (channel.width, channel.height) != (image.width, image.height):
            raise error("a channel must be the size of the image")
        channel.attached = True
        image.channels.insert(position, channel)

    def gimp_image_remove_channel(self, image, channel):
        if not channel.attached:
            raise error("gimp-image-remove-channel: the item is not attached to an image")
        image.channels.remove(channel)
        channel.attached = False

    def gimp_item_delete(self, item):
        if getattr(item, "attached", False):
            raise error("gimp-item-delete: the item is still in an image")
        item.deleted = True

    def gimp_progress_end(self):
        pass

    def gimp_progress_set_text(self, message):
        progress_texts.append(str(message))

    # Selection tools used by the tests to set up images.
    def gimp_image_select_rectangle(self, image, operation, x, y, width, height):
        if operation != CHANNEL_OP_REPLACE:
            raise error("only CHANNEL_OP_REPLACE is modelled")
        image.selection.pixels[:] = 0
        image.selection.pixels[max(y, 0) : y + height, max(x, 0) : x + width] = 255

    def gimp_image_select_ellipse(self, image, operation, x, y, width, height):
        if operation != CHANNEL_OP_REPLACE:
            raise error("only CHANNEL_OP_REPLACE is modelled")
        cx, cy, rx, ry = x + width / 2.0, y + height / 2.0, width / 2.0, height / 2.0
        inside = lambda px, py: ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 <= 1.0  # noqa: E731
        image.selection.pixels[..., 0] = _coverage(image.width, image.height, inside)


pdb = PDB()

"""The paste plan both GIMP plug-ins share (gimp_plugin/jewel_retouch_client.py): what a result
becomes in the image, and that a failure at any step leaves nothing behind. The host here is a
small in-memory layer tree; the real hosts run the same plan in tests/gimp/test_gimp3_plugin.py
(real GIMP 3) and tests/gimp/test_gimp2_plugin.py (the 2.10 stand-in)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENT_PATH = REPO / "gimp_plugin" / "jewel_retouch_client.py"


def load_client():
    spec = importlib.util.spec_from_file_location("jewel_retouch_client_plan", CLIENT_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLIENT = load_client()


@pytest.fixture(scope="module")
def jrc():
    return CLIENT


def part(name, kind, channels, width=6, height=4):
    descriptor = {"name": name, "kind": kind, "width": width, "height": height}
    descriptor.update(channels=channels, depth=8)
    return descriptor, bytes([len(name)]) * (width * height * channels)


def result(jrc, *parts):
    return jrc.RetouchResult({}, list(parts), {}, {})


class Node:
    def __init__(self, kind, name, step=None):
        self.kind, self.name, self.step = kind, name, step
        self.children = [] if kind == "group" else None
        self.offsets = None
        self.mask = None
        self.alpha_from_selection = False
        self.deleted = False


class TreeHost:
    """A layer tree like GIMP's: a source layer inside a group, next to other layers."""

    def __init__(self, fail_at=None):
        self.source = Node("layer", "source")
        self.holder = Node("group", "holder")
        self.holder.children = [Node("layer", "above"), self.source, Node("layer", "below")]
        self.top_level = [self.holder, Node("layer", "bottom")]
        self.channels = [Node("channel", "existing")]
        self.undo = 0
        self.fail_at = fail_at  # (method, step key or target) that raises
        self.calls = 0

    def _maybe_fail(self, method, step):
        if self.fail_at == (method, step.key or step.target):
            raise RuntimeError(f"{method} failed")

    def undo_start(self):
        self.undo += 1

    def undo_end(self):
        self.undo -= 1

    def create(self, step):
        self._maybe_fail("create", step)
        return Node(step.op, step.name, step)

    def insert(self, step, item, parent):
        if step.op == "channel":
            self.channels.insert(0, item)
        elif parent is None:
            siblings = self.holder.children
            siblings.insert(siblings.index(self.source), item)
        else:
            parent.children.insert(0, item)
        self._maybe_fail("insert", step)

    def fill(self, step, item):
        item.offsets = (step.x, step.y)
        self._maybe_fail("fill", step)

    def change(self, step, target):
        self._maybe_fail("change", step)
        if step.op == "layer_mask":
            target.mask = step.part[0]["name"]
        elif step.op == "selection_to_alpha":
            target.alpha_from_selection = True
        elif step.op == "selection_mask":
            target.mask = "selection"

    def remove(self, item):
        assert not item.deleted, f"{item.name} removed twice"
        for siblings in self._containers():
            if item in siblings:
                siblings.remove(item)
                return
        item.deleted = True  # never got in: deleted instead

    def _containers(self):
        yield self.holder.children
        yield self.top_level
        yield self.channels
        for node in self.holder.children:
            if node.children is not None and node is not self.holder:
                yield node.children

    def names(self):
        return (
            [n.name for n in self.holder.children],
            [n.name for n in self.top_level],
            [c.name for c in self.channels],
        )


FULL = [
    ("image", "image", 4),
    ("background", "layer", 4),
    ("cleanup", "layer", 4),
    ("tone", "layer", 4),
    ("piece", "mask", 1),
    ("metal", "mask", 1),
    ("gem", "mask", 1),
]


def test_one_layer_lands_directly_above_the_source_at_the_region(jrc):
    host = TreeHost()
    top = jrc.run_paste_plan(
        jrc.paste_plan(result(jrc, part("image", "image", 4)), "layer", 7, 3, True), host
    )
    assert host.names()[0] == ["above", "Jewel retouch", "source", "below"]
    assert top.offsets == (7, 3) and not top.alpha_from_selection
    assert host.undo == 0


def test_a_shaped_selection_becomes_the_layers_alpha(jrc):
    host = TreeHost()
    top = jrc.run_paste_plan(
        jrc.paste_plan(result(jrc, part("image", "image", 3)), "layer", 0, 0, False), host
    )
    assert top.alpha_from_selection


def test_separable_output_follows_the_contract(jrc):
    host = TreeHost()
    parts = [part(name, kind, channels) for name, kind, channels in FULL]
    top = jrc.run_paste_plan(jrc.paste_plan(result(jrc, *parts), "layers", 2, 5, False), host)
    assert top.name == "Jewel retouch (layers)" and top.mask == "selection"
    assert host.names()[0] == ["above", "Jewel retouch (layers)", "source", "below"]
    # Top first: the gems layer over the model's layers, which lie bottom to top as listed.
    assert [c.name for c in top.children] == ["Gems (retouched)", "Tone", "Cleanup", "Background"]
    gems = top.children[0]
    assert gems.mask == "gem" and gems.step.part[0]["name"] == "image"
    assert all(child.offsets == (2, 5) for child in top.children)
    channels = host.names()[2]
    assert channels == [
        "Jewel retouch: gem mask",
        "Jewel retouch: metal mask",
        "Jewel retouch: piece mask",
        "existing",
    ]
    assert all(c.offsets == (2, 5) for c in host.channels[:3])


def test_without_separable_layers_the_group_holds_the_whole_retouch(jrc):
    host = TreeHost()
    top = jrc.run_paste_plan(
        jrc.paste_plan(result(jrc, part("image", "image", 4)), "layers", 0, 0, True), host
    )
    assert [c.name for c in top.children] == ["Retouched"] and top.mask is None
    assert host.names()[2] == ["existing"]


def test_an_answer_without_an_image_is_refused(jrc):
    with pytest.raises(jrc.RetouchError) as caught:
        jrc.paste_plan(result(jrc, part("tone", "layer", 4)), "layers", 0, 0, True)
    assert caught.value.code == "bad_response"


def full_plan(jrc):
    parts = [part(name, kind, channels) for name, kind, channels in FULL]
    return jrc.paste_plan(result(jrc, *parts), "layers", 0, 0, False)


def every_failure_point(jrc):
    points = []
    for step in full_plan(jrc):
        if step.op in jrc.ADDING_STEPS:
            points += [(method, step.key) for method in ("create", "insert", "fill")]
        else:
            points.append(("change", step.target))
    return points


@pytest.mark.parametrize("point", every_failure_point(CLIENT), ids=str)
def test_a_failure_at_any_step_leaves_the_image_as_it_was(jrc, point):
    host = TreeHost(fail_at=point)
    before = host.names()
    with pytest.raises(RuntimeError):
        jrc.run_paste_plan(full_plan(jrc), host)
    assert host.names() == before
    assert host.undo == 0


def test_a_layer_that_never_got_in_is_deleted(jrc):
    class RefusingHost(TreeHost):
        def insert(self, step, item, parent):
            raise RuntimeError("refused")  # nothing inserted

    host = RefusingHost()
    steps = jrc.paste_plan(result(jrc, part("image", "image", 4)), "layer", 0, 0, True)
    made = []
    host.create = lambda step: made.append(Node(step.op, step.name, step)) or made[-1]
    with pytest.raises(RuntimeError):
        jrc.run_paste_plan(steps, host)
    assert host.names()[0] == ["above", "source", "below"]
    assert [node.deleted for node in made] == [True]


def test_part_sizes_are_checked(jrc):
    descriptor, data = part("piece", "mask", 1)
    jrc.check_part_size(descriptor, data)
    with pytest.raises(jrc.RetouchError, match="5 bytes, not 24"):
        jrc.check_part_size(descriptor, data[:5])
    with pytest.raises(jrc.RetouchError):
        jrc.check_part_size(dict(descriptor, channels=4), data)


@pytest.mark.parametrize("output", ["layer", "layers"])
def test_metal_variants_become_layers_under_the_result(jrc, output):
    host = TreeHost()
    parts = [part("image", "image", 4), part("white_gold", "variant", 4),
             part("rose_gold", "variant", 4)]
    if output == "layers":
        parts.insert(1, part("tone", "layer", 4))
    top = jrc.run_paste_plan(jrc.paste_plan(result(jrc, *parts), output, 4, 2, False), host)
    main = "Jewel retouch" if output == "layer" else "Jewel retouch (layers)"
    assert host.names()[0] == [
        "above", main, "Jewel retouch (white gold)", "Jewel retouch (rose gold)", "source",
        "below",
    ]
    variants = host.holder.children[2:4]
    assert [v.step.part[0]["name"] for v in variants] == ["white_gold", "rose_gold"]
    assert all(v.offsets == (4, 2) and v.alpha_from_selection for v in variants)
    assert top.name == main


def test_a_failing_variant_takes_the_whole_paste_back(jrc):
    host = TreeHost(fail_at=("fill", "variant:rose_gold"))
    parts = [part("image", "image", 4), part("white_gold", "variant", 4),
             part("rose_gold", "variant", 4)]
    with pytest.raises(RuntimeError):
        jrc.run_paste_plan(jrc.paste_plan(result(jrc, *parts), "layer", 0, 0, True), host)
    assert host.names()[0] == ["above", "source", "below"] and host.undo == 0

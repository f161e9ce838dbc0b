"""docs/protocol.json, the machine-readable contract, against everything that speaks it: the
server's error codes, the model's warnings and part names, the GIMP client's messages and paste
names, and the web page's error texts. (The Photoshop panel's side:
photoshop_uxp/test/uxp_contract.test.js.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACT = json.loads((REPO / "docs" / "protocol.json").read_text())
ERRORS = {code: entry for code, entry in CONTRACT["errors"].items() if not code.startswith("$")}


def advice_for(client: str, entry: dict) -> str:
    return entry.get("advice_by_client", {}).get(client, entry["advice"])


@pytest.fixture(scope="module")
def jrc():
    path = REPO / "gimp_plugin" / "jewel_retouch_client.py"
    spec = importlib.util.spec_from_file_location("jewel_retouch_client_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_servers_error_codes_and_statuses_are_the_contracts():
    from server.protocol import ERROR_STATUS

    assert {code: entry["status"] for code, entry in ERRORS.items()} == ERROR_STATUS


def test_every_error_has_a_summary_and_advice_for_the_user():
    clients = {"gimp", "photoshop", "web"}
    for code, entry in ERRORS.items():
        assert entry["summary"] and not entry["summary"].endswith("."), code
        assert entry["advice"].endswith("."), code
        assert set(entry.get("advice_by_client", {})) <= clients, code


def test_the_models_warnings_are_the_contracts():
    from models.api import WARNINGS

    assert CONTRACT["warnings"]["codes"] == WARNINGS


def test_the_models_part_names_are_the_contracts():
    from models.api import LAYER_NAMES, MASK_NAMES

    parts = CONTRACT["parts"]
    assert (tuple(parts["layers"]), tuple(parts["masks"])) == (LAYER_NAMES, MASK_NAMES)
    separate = CONTRACT["paste"]["separate"]
    assert list(separate["layer_titles"]) == parts["layers"]
    assert separate["children_bottom_to_top"] == [*parts["layers"], "gems"]
    assert separate["gems_layer"]["mask"] in parts["masks"]


def test_the_gimp_clients_messages_follow_the_contract(jrc):
    assert set(jrc.ERROR_ADVICE) == set(ERRORS)
    for code, entry in ERRORS.items():
        summary, advice = jrc.ERROR_ADVICE[code]
        assert (summary, advice) == (entry["summary"], advice_for("gimp", entry)), code
        shown = jrc._error_message(code, "details here", "http://127.0.0.1:1", "/t/token")
        assert shown.endswith(": details here. " + advice) or shown.endswith(
            " (server http://127.0.0.1:1): details here. " + advice
        ), shown
        assert shown.startswith(summary), shown
        assert jrc._error_message(code, "", "u", "t").endswith(". " + advice)
    assert "brand_new" in jrc._error_message("brand_new", "x", "u", "t")


def test_the_gimp_paste_names_are_the_contracts(jrc):
    paste = CONTRACT["paste"]
    assert jrc.RESULT_LAYER_NAME == paste["single"]["layer_name"]
    assert jrc.VARIANT_LAYER_NAME % "white gold" == paste["single"]["variant_layer_name"].format(
        metal="white gold"
    )
    assert jrc.GROUP_NAME == paste["separate"]["group_name"]
    assert jrc.LAYER_TITLES == paste["separate"]["layer_titles"]
    assert jrc.NO_LAYERS_TITLE == paste["separate"]["no_layers_title"]
    assert jrc.GEMS_LAYER_NAME == paste["separate"]["gems_layer"]["name"]
    assert jrc.MASK_CHANNEL_NAME % "gem" == paste["separate"]["mask_channel_name"].format(
        mask="gem"
    )
    assert jrc.WARNINGS_HEADER == CONTRACT["warnings"]["on_the_wire"]["http_header"]


def test_the_web_pages_error_texts_are_the_contracts():
    text = (REPO / "server" / "web" / "static" / "contract.js").read_text()
    prefix = "window.JEWEL_CONTRACT = "
    body = text[text.index(prefix) + len(prefix) :].strip()
    assert body.endswith(";")
    page = json.loads(body[:-1])
    expected = {
        code: {"summary": entry["summary"], "advice": advice_for("web", entry)}
        for code, entry in ERRORS.items()
    }
    assert page == {"errors": expected}


def test_the_web_page_loads_the_contract_before_its_script():
    html = (REPO / "server" / "web" / "static" / "index.html").read_text()
    assert html.index("/web/contract.js") < html.index("/web/app.js")

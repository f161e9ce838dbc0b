// Panel entry point (loaded by index.html): build the panel on the panel's own document.
"use strict";

const { Panel } = require("./src/panel.js");

const panel = new Panel(document);
panel.start();

// The part of docs/protocol.json the page needs: what to tell the user for each server error
// code (summary, then the server's message, then the advice). tests/contract checks that this
// matches docs/protocol.json, so the page and the plug-ins say the same thing.
"use strict";

window.JEWEL_CONTRACT = {
  "errors": {
    "bad_request": {
      "summary": "The server could not read the request",
      "advice": "Check the image (it may be damaged) and try again; if it keeps failing, see the `jewel-retouch serve` window."
    },
    "unauthorized": {
      "summary": "The server refused the access token",
      "advice": "Run `jewel-retouch token` and paste the token into the settings."
    },
    "forbidden": {
      "summary": "The server refused this request (its Host or Origin check)",
      "advice": "Connect to the server at http://127.0.0.1, or start it with --allow-origin for this page."
    },
    "moved": {
      "summary": "The server moved this address",
      "advice": "Use the address the server names; update the plug-in if it asks for an old one."
    },
    "not_found": {
      "summary": "The server does not know this request",
      "advice": "Use the same version of the server and the plug-in."
    },
    "method_not_allowed": {
      "summary": "The server does not allow this request",
      "advice": "Use the same version of the server and the plug-in."
    },
    "too_large": {
      "summary": "The image is too large for the server",
      "advice": "Select a smaller region, or start the server with a larger pixel limit (--max-megapixels)."
    },
    "unsupported_format": {
      "summary": "The server cannot read this image format",
      "advice": "Use PNG, TIFF, JPEG or WebP images, 8 or 16 bits, RGB or greyscale."
    },
    "invalid_options": {
      "summary": "The server refused the options",
      "advice": "Check the option values (`jewel-retouch info` lists every option and its range)."
    },
    "invalid_pixels": {
      "summary": "The server could not read the pixels",
      "advice": "Use the plug-in that came with this server version."
    },
    "queue_full": {
      "summary": "The server is busy with other images",
      "advice": "Try again in a moment."
    },
    "unavailable": {
      "summary": "The server is shutting down",
      "advice": "Start it again with `jewel-retouch serve`, then try again."
    },
    "timeout": {
      "summary": "The server gave up on the retouch (it ran past its time limit)",
      "advice": "Try a smaller region, or start the server with a longer job timeout (--job-timeout)."
    },
    "internal": {
      "summary": "The server failed while retouching",
      "advice": "See the `jewel-retouch serve` window for details."
    }
  }
};

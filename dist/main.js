"use strict";
require("./index.js").entries.actionMain();

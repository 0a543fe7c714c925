"use strict";
require("./index.js").entries.actionPost();

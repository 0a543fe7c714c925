"use strict";
require("./index.js").entries.holderMain();

"use strict";
require("./index.js").entries.actionSweep();

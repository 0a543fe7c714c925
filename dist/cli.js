#!/usr/bin/env node
"use strict";
require("./index.js").entries.cliMain();

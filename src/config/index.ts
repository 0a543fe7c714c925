export { readActionInputs } from "./inputs.js";
export { ConfigErrors, MAX_DURATION, type ParseContext, parseConfig } from "./parse.js";
export { collectSecrets } from "./secrets.js";
export * from "./types.js";

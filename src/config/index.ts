export { readActionInputs } from "./inputs.js";
export { ConfigErrors, MAX_DURATION, type ParseContext, parseConfig } from "./parse.js";
export { collectSecrets, scrub } from "./secrets.js";
export * from "./types.js";

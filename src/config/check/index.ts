export * as scalar from "./scalars.js";

import * as core from "@actions/core";
import { INPUT_NAMES, type Inputs } from "./types.js";

/** The action's inputs as the runner passes them (INPUT_<NAME> env, defaults already filled in). */
export function readActionInputs(): Inputs {
  const inputs: Inputs = {};
  for (const name of INPUT_NAMES) {
    // Multi-line inputs (env, build-args, traffic-policy) keep their inner lines; getInput only trims the ends.
    inputs[name] = core.getInput(name);
  }
  return inputs;
}

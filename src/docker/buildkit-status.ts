/**
 * Decodes the `moby.buildkit.trace` events of a BuildKit build (base64 protobuf `StatusResponse`,
 * moby/buildkit api/services/control/control.proto). Only the fields progress needs are read; a
 * 40-line wire-format reader avoids depending on protobufjs, which is only a transitive dependency.
 * (dockerode's own decoder turns log bytes into base64 text, so its output cannot be used as is.)
 */
export interface BuildKitVertex {
  readonly digest: string;
  readonly name: string;
  readonly cached: boolean;
  readonly started: boolean;
  readonly completed: boolean;
  readonly error: string;
}

export interface BuildKitLog {
  readonly vertex: string;
  readonly text: string;
}

export interface BuildKitStatus {
  readonly vertexes: BuildKitVertex[];
  readonly logs: BuildKitLog[];
}

export function decodeBuildKitStatus(base64: string): BuildKitStatus {
  const status: BuildKitStatus = { vertexes: [], logs: [] };
  for (const [field, value] of protobufFields(Buffer.from(base64, "base64"))) {
    if (field === 1 && Buffer.isBuffer(value)) status.vertexes.push(vertex(value));
    if (field === 3 && Buffer.isBuffer(value)) status.logs.push(log(value));
  }
  return status;
}

function vertex(buf: Buffer): BuildKitVertex {
  const v = { digest: "", name: "", cached: false, started: false, completed: false, error: "" };
  for (const [field, value] of protobufFields(buf)) {
    if (field === 1) v.digest = String(value);
    else if (field === 3) v.name = String(value);
    else if (field === 4) v.cached = value === 1;
    else if (field === 5) v.started = true;
    else if (field === 6) v.completed = true;
    else if (field === 7) v.error = String(value);
  }
  return v;
}

function log(buf: Buffer): BuildKitLog {
  let vertex = "";
  let text = "";
  for (const [field, value] of protobufFields(buf)) {
    if (field === 1) vertex = String(value);
    else if (field === 4 && Buffer.isBuffer(value)) text = value.toString("utf8");
  }
  return { vertex, text };
}

/** Protobuf wire format: (field, varint | bytes) pairs; fixed-width fields are skipped. */
export function* protobufFields(buf: Buffer): Generator<[number, number | Buffer]> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[pos++];
      if (byte === undefined) throw new Error("truncated protobuf message");
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key & 7;
    const field = Math.floor(key / 8);
    if (wire === 0) yield [field, varint()];
    else if (wire === 2) {
      const len = varint();
      yield [field, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

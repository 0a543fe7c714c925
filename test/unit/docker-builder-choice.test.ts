import { describe, expect, it } from "vitest";
import { builderFor, chooseBuilder } from "../../src/docker/builder-choice.js";

describe("chooseBuilder", () => {
  it("keeps the classic builder for Dockerfiles it can build, a syntax directive included", () => {
    const plain =
      "# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt \\\n    && echo done\nCOPY --chown=app:app app.py .\n";
    expect(chooseBuilder(plain)).toBe("classic");
    expect(chooseBuilder("FROM x\nRUN echo '--mount=type=cache is just text'\n")).toBe("classic");
  });

  it("switches to BuildKit for syntax the classic builder rejects", () => {
    const cases = [
      "FROM x\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r r.txt\n",
      "FROM x\nRUN \\\n  --mount=type=bind,source=uv.lock,target=uv.lock uv sync\n",
      "FROM x\nRUN --network=none make\n",
      "FROM x\nCOPY --link app.py .\n",
      "FROM x\nCOPY --chown=1:1 --chmod=755 run.sh /\n",
      "FROM x\nRUN <<EOF\necho hi\nEOF\n",
      "FROM x\nCOPY <<-'CONF' /etc/app.conf\nkey=1\nCONF\n",
      "FROM --platform=$BUILDPLATFORM golang AS build\n",
      "FROM x\nARG TARGETARCH\nRUN echo ${TARGETARCH}\n",
    ];
    for (const dockerfile of cases) expect(chooseBuilder(dockerfile), dockerfile).toBe("buildkit");
  });
});

describe("builderFor", () => {
  it("build secrets make the build BuildKit's; the classic builder asked for with secrets is an error", () => {
    const plain = "FROM scratch\nCOPY . .\n";
    expect(builderFor({}, plain)).toBe("classic");
    expect(builderFor({ secrets: {} }, plain)).toBe("classic");
    expect(builderFor({ secrets: { tok: "value" } }, plain)).toBe("buildkit");
    expect(builderFor({ builder: "buildkit", secrets: { tok: "value" } }, plain)).toBe("buildkit");
    expect(() => builderFor({ builder: "classic", secrets: { tok: "value" } }, plain)).toThrow(
      /build-secrets need BuildKit.*classic builder, which cannot mount secrets/,
    );
  });
});

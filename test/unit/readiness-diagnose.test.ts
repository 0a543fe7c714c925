import { describe, expect, it } from "vitest";
import { announcedListen, diagnoseListen, parseProcNetTcp } from "../../src/docker/readiness/diagnose.js";

describe("announcedListen: where the app's own log line says it listens", () => {
  it.each([
    [" * Running on http://127.0.0.1:5000", 5000, "loopback"],
    ["Dash is running on http://127.0.0.1:8050/", 8050, "loopback"],
    ["Running on local URL:  http://127.0.0.1:7860", 7860, "loopback"],
    ["INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)", 8000, "all"],
    ["  Local URL: http://localhost:8501", 8501, "loopback"],
    ["  Network URL: http://172.17.0.2:8501", 8501, "all"],
    ["Listening on [::]:3000", 3000, "all"],
  ])("%s", (line, port, reach) => {
    expect(announcedListen(line)).toEqual([{ port, reach, line: line.trim() }]);
  });

  it("ignores addresses in lines that announce no server (a database URL while loading)", () => {
    expect(announcedListen("Connecting to postgres at localhost:5432")).toEqual([]);
  });
});

describe("parseProcNetTcp: LISTEN sockets of the container", () => {
  const table = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1",
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1",
    "   2: 0100007F:1388 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1",
    "   3: 0B00007F:A1B2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1",
    "  sl  local_address                         remote_address                        st",
    "   0: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 0",
    "   1: 00000000000000000000000000000000:1F42 00000000000000000000000000000000:0000 0A 0",
  ].join("\n");

  it("reads IPv4 and IPv6 listeners, skipping connections and Docker's embedded DNS", () => {
    expect(parseProcNetTcp(table)).toEqual([
      { port: 5000, reach: "loopback" },
      { port: 8080, reach: "all" },
      { port: 8001, reach: "loopback" },
      { port: 8002, reach: "all" },
    ]);
  });
});

describe("diagnoseListen: the mistake and its exact fix", () => {
  it("loopback at the probed port names 0.0.0.0 and the framework's switch", () => {
    const err = diagnoseListen(announcedListen(" * Running on http://127.0.0.1:5000"), 5000, {
      framework: "flask",
      fromLog: true,
    });
    expect(err?.code).toBe("APP_LISTENS_ON_LOOPBACK");
    expect(err?.message).toContain('its log: "* Running on http://127.0.0.1:5000"');
    expect(err?.message).toContain('app.run(host="0.0.0.0")');
  });

  it("a listener on 0.0.0.0 at the probed port is no loopback mistake (Flask prints both URLs)", () => {
    const facts = [
      ...announcedListen(" * Running on all addresses (0.0.0.0)"),
      ...announcedListen(" * Running on http://127.0.0.1:5000"),
      ...announcedListen(" * Running on http://172.17.0.2:5000"),
    ];
    expect(diagnoseListen(facts, 5000, { fromLog: true })).toBeUndefined();
  });

  it("another port than the probed one gives the port to set, as input and flag", () => {
    const err = diagnoseListen(announcedListen("Uvicorn running on http://0.0.0.0:8000"), 8050, {
      fromLog: true,
    });
    expect(err?.code).toBe("APP_LISTENS_ON_OTHER_PORT");
    expect(err?.message).toContain("Set the `port` input to 8000 (CLI: `--port 8000`)");
  });

  it("a socket on another port counts only when the image EXPOSEs it (a metrics port is no mistake)", () => {
    const sockets = [{ port: 9090, reach: "all" as const }];
    expect(diagnoseListen(sockets, 8050, { fromLog: false })).toBeUndefined();
    expect(diagnoseListen(sockets, 8050, { fromLog: false, exposed: [9090] })?.code).toBe(
      "APP_LISTENS_ON_OTHER_PORT",
    );
  });
});

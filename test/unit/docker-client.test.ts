import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dockerClient, tlsOptionsFromEnv } from "../../src/docker/client.js";

const saved = { ...process.env };
afterEach(() => {
  for (const key of ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

type Modem = {
  socketPath?: unknown;
  host?: string;
  port?: string;
  protocol?: string;
  username?: string;
  ca?: unknown;
  cert?: Buffer;
  key?: Buffer;
};
const pem = (name: string) => `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`;
const modemOf = () => dockerClient().modem as unknown as Modem;

describe("dockerClient honours DOCKER_HOST the way the docker CLI does", () => {
  it("unix socket", () => {
    process.env.DOCKER_HOST = "unix:///tmp/other.sock";
    expect(modemOf().socketPath).toBe("/tmp/other.sock");
  });

  it("tcp without TLS", () => {
    process.env.DOCKER_HOST = "tcp://10.0.0.5:2375";
    delete process.env.DOCKER_TLS_VERIFY;
    expect(modemOf()).toMatchObject({ host: "10.0.0.5", port: "2375", protocol: "http" });
  });

  it("tcp with TLS: client certificate and CA from DOCKER_CERT_PATH", () => {
    const dir = mkdtempSync(join(tmpdir(), "ml-preview-certs-"));
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, f), pem(f));
    process.env.DOCKER_HOST = "tcp://gpu-box:2376";
    process.env.DOCKER_TLS_VERIFY = "1";
    process.env.DOCKER_CERT_PATH = dir;
    const modem = modemOf();
    expect(modem).toMatchObject({ host: "gpu-box", protocol: "https" });
    expect(modem.cert?.toString()).toContain("cert.pem");
    expect(modem.key?.toString()).toContain("key.pem");
    expect(modem.ca).toBeTruthy();
  });

  it("DOCKER_TLS_VERIFY=true (any non-empty value, as the CLI reads it) also means TLS", () => {
    process.env.DOCKER_HOST = "tcp://gpu-box:2375";
    process.env.DOCKER_TLS_VERIFY = "true";
    expect(modemOf().protocol).toBe("https");
    expect(tlsOptionsFromEnv({ DOCKER_HOST: "unix:///x", DOCKER_TLS_VERIFY: "1" })).toEqual({});
  });

  it("a DOCKER_CERT_PATH without the files is a clear error, without credentials from DOCKER_HOST", () => {
    process.env.DOCKER_HOST = "tcp://user:s3cretpass@gpu-box:2376";
    process.env.DOCKER_TLS_VERIFY = "1";
    process.env.DOCKER_CERT_PATH = mkdtempSync(join(tmpdir(), "ml-preview-nocerts-"));
    expect(() => dockerClient()).toThrow(/DOCKER_HOST=tcp:\/\/gpu-box:2376.*ca\.pem/s);
    expect(() => dockerClient()).not.toThrow(/s3cretpass/);
  });

  it("ssh", () => {
    process.env.DOCKER_HOST = "ssh://deploy@gpu-box";
    delete process.env.DOCKER_TLS_VERIFY;
    expect(modemOf()).toMatchObject({ host: "gpu-box", protocol: "ssh", username: "deploy" });
  });
});

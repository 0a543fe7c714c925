import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface EdgeCertificates {
  /** PEM of the throwaway CA: what the SDK is told to trust. */
  caCert: string;
  /** PEM leaf for localhost / 127.0.0.1, signed by that CA, and its key. */
  cert: string;
  key: string;
}

/**
 * A fresh CA and server certificate made with the openssl CLI at test time, so no key is ever committed.
 * The SDK (rustls) wants a real chain: a CA with basicConstraints CA:TRUE and a leaf whose SAN matches.
 */
export function createEdgeCertificates(): EdgeCertificates {
  const dir = mkdtempSync(join(tmpdir(), "ngrok-edge-certs-"));
  const at = (name: string) => join(dir, name);
  // Run inside the temp dir with bare file names, so arguments can be one readable string without spaces.
  const openssl = (args: string) => execFileSync("openssl", args.split(" "), { cwd: dir, stdio: "pipe" });
  const newKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  try {
    openssl(
      `req -x509 ${newKey} -days 2 -subj /CN=ngrok-edge-test-CA` +
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign" +
        " -keyout ca.key -out ca.pem",
    );
    openssl(`req ${newKey} -subj /CN=localhost -keyout leaf.key -out leaf.csr`);
    writeFileSync(
      at("leaf.ext"),
      [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ].join("\n"),
    );
    openssl(
      "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2" +
        " -extfile leaf.ext -out leaf.pem",
    );
    return {
      caCert: readFileSync(at("ca.pem"), "utf8"),
      cert: readFileSync(at("leaf.pem"), "utf8"),
      key: readFileSync(at("leaf.key"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/**
 * Docker Hub is unreachable here, so the container image is tested on a base assembled from this machine:
 * its node binary, the shared libraries it and the ngrok addon link against, and a static busybox as /bin/sh.
 * `docker import` turns that folder into an image usable as the Dockerfile's NODE_IMAGE.
 */
export function importNodeBaseImage(tag: string, nativeAddons: string[]): void {
  const root = mkdtempSync(join(tmpdir(), "ml-preview-rootfs-"));
  try {
    const put = (src: string, dest = src) => {
      mkdirSync(join(root, dirname(dest)), { recursive: true });
      copyFileSync(src, join(root, dest));
    };
    put(process.execPath, "/usr/local/bin/node");
    const libs = new Set<string>();
    for (const bin of [process.execPath, ...nativeAddons]) {
      for (const line of execFileSync("ldd", [bin], { encoding: "utf8" }).split("\n")) {
        const path = /(\/\S+) \(0x/.exec(line)?.[1];
        if (path) libs.add(path);
      }
    }
    for (const lib of libs) put(lib);
    put("/bin/busybox", "/bin/busybox");
    execFileSync("/bin/busybox", ["ln", "-s", "/bin/busybox", join(root, "bin/sh")]);
    mkdirSync(join(root, "tmp"), { mode: 0o1777 });
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    execFileSync("sh", ["-c", `tar -C "${root}" -c . | docker import - "${tag}"`], { stdio: "pipe" });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

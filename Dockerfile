# ml-preview's CLI as a container image, for CI systems other than GitHub Actions (GitLab CI, Jenkins, …).
# It drives the host's Docker engine through its socket:
#   docker run --rm --network host -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD:/work" -w /work \
#     -e NGROK_AUTHTOKEN ml-preview up . --duration 30m
# NODE_IMAGE lets a build use another base with Node.js >= 20 on glibc; without Docker Hub, make one from this
# machine's node with scripts/node-base-image.sh (the tests do).
ARG NODE_IMAGE=node:22-bookworm-slim

# Stage 1: keep only this platform's ngrok binary out of the committed dist/ (both x64 and arm64 ship there).
FROM ${NODE_IMAGE} AS dist
ARG TARGETARCH
COPY dist/ /opt/ml-preview/dist/
# BuildKit names the platform amd64/arm64 (TARGETARCH); Node and the ngrok package call it x64/arm64.
RUN ["node", "-e", "const fs=require('fs'),d='/opt/ml-preview/dist/',a=process.env.TARGETARCH||process.arch,keep='ngrok.linux-'+({amd64:'x64',x64:'x64',arm64:'arm64'}[a]||a)+'-gnu.node';if(!fs.existsSync(d+keep))throw new Error('no ngrok binary for '+a);for(const f of fs.readdirSync(d))if(f.endsWith('.node')&&f!==keep)fs.rmSync(d+f)"]

# Stage 2: the runtime, nothing but Node and the bundle.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="ml-preview" \
      org.opencontainers.image.description="Live, time-limited previews of containerized ML web apps" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/ml-preview/ml-preview"
COPY --from=dist /opt/ml-preview/dist/ /opt/ml-preview/dist/
COPY package.json /opt/ml-preview/
WORKDIR /work
ENTRYPOINT ["node", "/opt/ml-preview/dist/cli.js"]
CMD ["--help"]

#!/usr/bin/env bash
# Starts dockerd in the background unless an engine already answers, then waits (up to 60 s) for it.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "start-docker: dockerd is not installed (apt-get install docker.io)" >&2
  exit 1
fi
# A dockerd that was killed leaves its pid file behind, and a new one refuses to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  $SUDO rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "start-docker: starting dockerd (log: /tmp/dockerd.log)"
  # Its own session (setsid): the engine outlives the shell, job or CI step that started it, which may end by
  # signalling its whole process group (nohup alone only ignores SIGHUP; a group SIGTERM took the engine along).
  $SUDO setsid -f sh -c 'exec dockerd >/tmp/dockerd.log 2>&1 </dev/null'
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "start-docker: engine ready"
    exit 0
  fi
  sleep 1
done
echo "start-docker: the Docker engine did not answer within 60 s. Last lines of /tmp/dockerd.log:" >&2
tail -n 20 /tmp/dockerd.log >&2 || true
exit 1

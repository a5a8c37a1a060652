#!/usr/bin/env bash
# Build the service image and prove it works with no network: the unprivileged user mixes the sample (default
# models from the image only), and the API answers on its port. Needs a running Docker engine.
#
#   bash scripts/docker_check.sh                  # public base image and the PyTorch CPU index
#   LOCAL_BASE=1 bash scripts/docker_check.sh     # no Docker Hub: base image made here from a Debian mirror
#
# LOCAL_BASE=1 debootstraps Debian bookworm with its python3.11 into a base image (`moodmix-base:bookworm`)
# carrying this machine's CA bundle, so pip in the build trusts the same registries the host does. Set
# TORCH_WHEEL_DIR to a folder holding the torch 2.13.0 CPU wheel when the PyTorch index is unreachable: it is
# served to the build over the docker bridge.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-moodmix:check}
build_args=()

if [ "${LOCAL_BASE:-0}" = 1 ]; then
  if ! docker image inspect moodmix-base:bookworm >/dev/null 2>&1; then
    root=$(mktemp -d /tmp/moodmix-rootfs.XXXXXX)
    debootstrap --variant=minbase --include=python3.11,python3-pip,python3-venv,ca-certificates,passwd \
      bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
    # Shape it like python:3.11-slim: `python`/`pip` on PATH, pip may install into the system interpreter.
    ln -sf python3 "$root/usr/bin/python"
    printf '#!/bin/sh\nexec python3 -m pip "$@"\n' > "$root/usr/local/bin/pip" && chmod +x "$root/usr/local/bin/pip"
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb
    chmod 755 "$root"  # mktemp made it 0700: the image root must be traversable by the unprivileged user
    tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - moodmix-base:bookworm >/dev/null
    rm -rf "$root"
  fi
  build_args+=(--build-arg BASE_IMAGE=moodmix-base:bookworm)
fi

server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; [ -n "${cid:-}" ] && docker rm -f "$cid" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if [ -n "${TORCH_WHEEL_DIR:-}" ]; then
  bridge=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
  bridge=${bridge:-172.17.0.1}
  python3 -m http.server 8765 --bind "$bridge" --directory "$TORCH_WHEEL_DIR" >/dev/null 2>&1 &
  server_pid=$!
  build_args+=(--build-arg "TORCH_PIP_ARGS=--find-links http://$bridge:8765/ --trusted-host $bridge")
fi

t0=$(date +%s)
docker build -q -t "$IMAGE" "${build_args[@]}" . >/dev/null
echo "built $IMAGE in $(( $(date +%s) - t0 )) s; $(docker image inspect "$IMAGE" -f '{{.Size}}' | awk '{printf "%.2f GB", $1/1e9}')"

out=$(mktemp -d /tmp/moodmix-docker.XXXXXX) && chmod 777 "$out"
# 1. The sample mixed offline, as the image's unprivileged user, models and library from the image alone.
docker run --rm --network none -v "$PWD/samples:/in:ro" -v "$out:/out" "$IMAGE" \
  moodmix mix /in/voice.flac -o /out/voice.moodmix.m4a --report /out/report.json
python3 - "$out" <<'PY'
import json, sys
rep = json.load(open(f"{sys.argv[1]}/report.json"))
music, mix = rep["music"], rep["mix"]
assert music["path"] and rep["speech"]["segments"] and rep["output"]["duration_s"] > 40, rep
assert abs(mix["integrated_lufs"] - mix["target_lufs"]) <= 1 and mix["true_peak_dbtp"] <= -1, mix
print(f"offline mix in the container: {music['title']} ({music['rule']}), {rep['speech']['method']} VAD, "
      f"{mix['integrated_lufs']} LUFS, {mix['true_peak_dbtp']} dBTP")
PY
# 2. The API starts and serves its page and health with no network (Redis absent: health says so, 503).
cid=$(docker run -d --network none "$IMAGE")
for _ in $(seq 1 60); do
  code=$(docker exec "$cid" python -c "import urllib.request as u
try: print(u.urlopen('http://127.0.0.1:8000/', timeout=2).status)
except Exception as e: print(getattr(e, 'code', 0))" 2>/dev/null || echo 0)
  [ "$code" = 200 ] && break; sleep 1
done
[ "$code" = 200 ] || { docker logs "$cid" | tail -20; echo "API did not answer in the container" >&2; exit 1; }
echo "API page served in the container (200)"
docker rm -f "$cid" >/dev/null; cid=""

# 3. The compose stack (redis, api, 2 workers, flower) with this image: upload the sample, poll, download.
if [ "${COMPOSE_CHECK:-1}" = 1 ]; then
  compose="docker compose"; $compose version >/dev/null 2>&1 || compose=docker-compose
  docker tag "$IMAGE" moodmix:latest
  if [ "${LOCAL_BASE:-0}" = 1 ] && ! docker image inspect redis:7-alpine >/dev/null 2>&1; then
    # no Docker Hub: a Redis image from Debian's package, under the name the compose file uses
    # (the official image turns protected mode off; Debian's build keeps it on, so a wrapper passes the flag)
    ctx=$(mktemp -d /tmp/moodmix-redis-image.XXXXXX)
    printf '#!/bin/sh\nexec /usr/bin/redis-server.debian "$@" --protected-mode no\n' > "$ctx/redis-server"
    chmod 755 "$ctx/redis-server"  # the legacy builder copies the mode as it is
    cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM moodmix-base:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \
 && mv /usr/bin/redis-server /usr/bin/redis-server.debian
COPY redis-server /usr/bin/redis-server
WORKDIR /data
DOCKERFILE
    docker build -q -t redis:7-alpine "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
  project=moodmixcheck
  down() { $compose -p "$project" down -v >/dev/null 2>&1 || true; }
  trap 'down; cleanup' EXIT
  $compose -p "$project" up -d --no-build --scale worker=2 >/dev/null 2>&1
  python3 - "$PWD/samples/voice.flac" "$out" <<'PY'
import json, sys, time, urllib.request, uuid
base = "http://127.0.0.1:8000"
for _ in range(120):
    try:
        if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
            break
    except Exception:
        time.sleep(1)
else:
    raise SystemExit("compose: the API never became healthy")
data, boundary = open(sys.argv[1], "rb").read(), uuid.uuid4().hex
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"voice.flac\"\r\n"
        f"Content-Type: audio/flac\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
req = urllib.request.Request(base + "/jobs", data=body, method="POST",
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
job = json.load(urllib.request.urlopen(req, timeout=60))
auth = {"Authorization": f"Bearer {job['token']}"}
t0 = time.time()
while True:
    st = json.load(urllib.request.urlopen(urllib.request.Request(f"{base}/jobs/{job['id']}", headers=auth)))
    if st["state"] in ("done", "failed") or time.time() - t0 > 600:
        break
    time.sleep(1)
assert st["state"] == "done", st
res = urllib.request.urlopen(urllib.request.Request(f"{base}/jobs/{job['id']}/result", headers=auth)).read()
open(f"{sys.argv[2]}/compose_result", "wb").write(res)
print(f"compose stack: upload -> worker -> download in {time.time() - t0:.1f} s, {len(res)} bytes, "
      f"track {st['report']['music']['title']}")
PY
  $compose -p "$project" ps
fi
echo "docker check passed"

#!/usr/bin/env bash
# Make sure the services the tests use are there: Redis on 127.0.0.1:6379 (started when none answers,
# installed from Debian when missing), Debian's Chromium + ChromeDriver for the web-page test, espeak-ng
# (English speech the ASR tests transcribe), Node.js + npm (the Telegram bot tests) and docker-compose
# (validates docker-compose.yml; no engine needed).
set -euo pipefail
apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    # another apt/dpkg run (unattended upgrades, a parallel set-up) may hold the lock: wait up to 5 min for it
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >/dev/null
  else
    echo "moodmix: cannot install $* (no apt-get); install it yourself" >&2
  fi
}
redis_up() { python3 - <<'PY'
import socket, sys
s = socket.socket(); s.settimeout(1)
try:
    s.connect(("127.0.0.1", 6379)); s.sendall(b"PING\r\n"); ok = s.recv(16).startswith(b"+PONG")
except OSError:
    ok = False
sys.exit(0 if ok else 1)
PY
}
if ! redis_up; then
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p /tmp/moodmix-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/moodmix-redis --logfile /tmp/moodmix-redis/redis.log
  for _ in $(seq 1 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "moodmix: Redis did not start on 127.0.0.1:6379" >&2; exit 1; }
fi
if [ "${MOODMIX_SKIP_BROWSER:-0}" != 1 ]; then
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver || echo "moodmix: Chromium not installed; browser tests will skip" >&2
  fi
fi
if ! command -v espeak-ng >/dev/null 2>&1; then
  apt_install espeak-ng || echo "moodmix: espeak-ng not installed; the synthetic-speech ASR tests will skip" >&2
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  # the Telegram bot's tests run against telegram-test-api (npm; tests/workers/bot/conftest.py installs it)
  apt_install nodejs npm || echo "moodmix: Node.js not installed; the Telegram bot tests will skip" >&2
fi
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  apt_install docker-compose || echo "moodmix: docker-compose not installed; the compose validation test will skip" >&2
fi

#!/usr/bin/env bash
# From a clean checkout: install what berth needs, start berthd on its defaults, and give it a first image made
# offline from Debian's busybox-static. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

SOCK=/run/berth/berth.sock
if ! curl -fsS --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; then
  echo "starting berthd (log: /var/log/berthd.log)"
  nohup ./bin/berthd >>/var/log/berthd.log 2>&1 &
  for _ in $(seq 50); do
    curl -fsS --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
export DOCKER_HOST=unix://$SOCK

if ! ./bin/berth image inspect busybox:latest >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs"/{bin,etc,root,tmp,home,var,usr/bin,dev,proc,sys}
  chmod 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | ./bin/berth import --change 'CMD ["sh"]' - busybox:latest
fi
./bin/berth images
./bin/berth run --rm busybox echo "hello from a berth container"
echo
echo "berthd is running on $SOCK. Try: DOCKER_HOST=unix://$SOCK docker run --rm -it busybox sh"

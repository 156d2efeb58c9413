#!/bin/sh
# Idempotent set-up of a fresh Debian 12 machine (as root) for berth's engine and its tests.
# Safe to run again: every step checks first and does nothing when already done.
set -eu

cd "$(dirname "$0")/.."

PACKAGES="crun conmon runc docker-registry busybox-static tini catatonit iproute2 nftables iptables skopeo curl tmux"

say() { printf '%s\n' "install-deps: $*"; }

# 1. Debian packages (skipped when all are installed, which keeps re-runs fast).
missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  say "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -qq --no-install-recommends $missing
else
  say "Debian packages present"
fi

# 2. crun 1.8.1 refuses hybrid cgroups while cgroup2 owns a controller; here that is hugetlb.
# Moving hugetlb to a v1 hierarchy fixes it (see stack-findings.md, section 0).
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && grep -qw hugetlb "$unified"; then
  if mountpoint -q /sys/fs/cgroup/hugetlb 2>/dev/null; then
    say "hugetlb v1 hierarchy already mounted"
  else
    say "moving hugetlb off cgroup2 for crun"
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  fi
fi

# 3. Node dependencies, when missing or older than package-lock.json. A git checkout gives the
# lock file a fresh mtime, so "older" is confirmed against npm's own record of what is installed
# (node_modules/.package-lock.json) before reinstalling. A symlinked node_modules is a shared
# install (git worktrees) that someone else owns: never wipe it.
lock_satisfied() {
  node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages || {};
    let have;
    try { have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages || {}; }
    catch { process.exit(1); }
    for (const [path, p] of Object.entries(want)) {
      if (path === "" || p.optional) continue;
      if (!have[path] || have[path].version !== p.version) { console.error("install-deps: outdated " + path); process.exit(1); }
    }'
}
if [ -L node_modules ]; then
  say "node_modules is a symlink (shared install): not touching it"
elif [ ! -d node_modules ] || { [ package-lock.json -nt node_modules ] && ! lock_satisfied; }; then
  say "npm ci"
  npm ci
  touch node_modules
else
  say "node_modules up to date"
fi

# 4. Build.
say "npm run build"
npm run build

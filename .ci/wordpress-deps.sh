#!/usr/bin/env bash
# What the WordPress integration tests (tools/local/wordpress.ts) need: PHP 8.2 with the
# extensions WordPress uses, MariaDB's server and client binaries (no service, no apache), and the
# Debian `wordpress` core tree downloaded (not installed: installing it pulls apache2) and extracted
# into .cache/wordpress/. Idempotent; prints one line saying what it did.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/wordpress"
TREE="$CACHE/root/usr/share/wordpress"
PKGS="php8.2-cli php8.2-mysql php8.2-gd php8.2-curl php8.2-xml php8.2-mbstring php-getid3 mariadb-server-core mariadb-client-core"

missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
need_wp=0
[ -f "$TREE/wp-settings.php" ] || need_wp=1

if [ -z "$missing" ] && [ "$need_wp" = 0 ]; then
  echo "wordpress-deps: all present ($(php -r 'echo PHP_VERSION;'), WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$TREE/wp-includes/version.php"))"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  wp_note=""
  [ "$need_wp" = 1 ] && wp_note="; and the Debian 'wordpress' package (apt-get download wordpress, dpkg-deb -x)"
  echo "wordpress-deps: needs root and apt-get to install:${missing:- (none)}$wp_note" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
start=$(date +%s)
updated=0
apt_update() { [ "$updated" = 1 ] || { quiet apt-get update -qq; updated=1; }; }
# Runs a command with its output kept back unless it fails (apt's debconf chatter).
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}
did=""
if [ -n "$missing" ]; then
  apt_update
  # shellcheck disable=SC2086
  quiet apt-get install -y -qq --no-install-recommends $missing
  did="installed$missing"
fi
if [ "$need_wp" = 1 ]; then
  mkdir -p "$CACHE"
  verb="extracted the cached"
  if ! ls "$CACHE"/wordpress_*.deb >/dev/null 2>&1; then
    apt_update
    (cd "$CACHE" && quiet apt-get download -qq wordpress)
    verb="downloaded and extracted"
  fi
  rm -rf "$CACHE/root"
  dpkg-deb -x "$(ls "$CACHE"/wordpress_*.deb | head -n1)" "$CACHE/root"
  did="${did:+$did; }$verb $(basename "$(ls "$CACHE"/wordpress_*.deb | head -n1)")"
fi
echo "wordpress-deps: $did ($(( $(date +%s) - start )) s)"

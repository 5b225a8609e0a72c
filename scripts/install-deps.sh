#!/bin/sh
# install-deps.sh - install the Debian 12 packages in debian-packages.txt.
# Needs root (or sudo).  Postfix is installed for its tools and as a test
# peer only: it is preseeded to "No configuration" so no mail system starts.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -q
# shellcheck disable=SC2046
$SUDO apt-get install -y -q --no-install-recommends $(grep -v '^#' "$HERE/debian-packages.txt")

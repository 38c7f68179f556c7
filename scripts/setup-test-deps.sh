#!/usr/bin/env bash
# System packages the tests need that pip cannot install: the headless Chromium that the Space's browser test drives
# (through playwright, with the system executable; no browser download). Installs only when absent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium

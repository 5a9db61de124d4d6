#!/usr/bin/env bash
# Check (and as root, install) the system libraries Open3D needs to render headless (docs/background.md §3).
set -euo pipefail
PKGS="libegl1 libgl1 libgl1-mesa-dri libegl-mesa0 libusb-1.0-0 libgomp1"
missing=()
for lib in libEGL.so.1 libEGL_mesa.so.0 libGL.so.1 libusb-1.0.so.0 libgomp.so.1; do
  ldconfig -p | grep -q "$lib" || missing+=("$lib")
done
compgen -G "/usr/lib/*/dri/swrast_dri.so" >/dev/null || missing+=("Mesa DRI drivers (swrast_dri.so)")
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Open3D needs system libraries for headless rendering; missing: ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $PKGS
else
  echo "Install them, then run make again:"
  echo "  sudo apt-get update && sudo apt-get install -y $PKGS"
  exit 1
fi

#!/usr/bin/env bash
# Install the Debian/Ubuntu packages WeasyPrint, Chinese fonts and the browser tests need, when
# missing. As root it installs them; otherwise it prints the exact command to run.
set -euo pipefail
packages=(libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk fonts-wqy-microhei poppler-utils chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "缺少系统软件包 / missing OS packages: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  echo "安装系统软件包 / installing OS packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "缺少系统软件包，请运行 / missing OS packages, please run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

# shellcheck shell=bash
# Shared by scripts/test, scripts/lint and scripts/run. Source it; don't run it.
#
# Stages: `stage NAME COMMAND...` runs COMMAND under `set -e`, prints how long
# it took, and on exit prints a table of all stage timings (and which stage
# failed, if one did).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$ROOT" || exit

TIMINGS=()
CURRENT_STAGE=""
STAGE_START=0
SCRIPT_START=$SECONDS

stage() {
    CURRENT_STAGE=$1
    shift
    STAGE_START=$SECONDS
    printf '\n==> %s\n' "$CURRENT_STAGE"
    "$@"
    local took=$((SECONDS - STAGE_START))
    TIMINGS+=("$(printf '  %-26s %5ss' "$CURRENT_STAGE" "$took")")
    printf '<== %s: ok (%ss)\n' "$CURRENT_STAGE" "$took"
    CURRENT_STAGE=""
}

print_summary() {
    local status=$?
    printf '\n==> timings\n'
    if ((${#TIMINGS[@]})); then
        printf '%s\n' "${TIMINGS[@]}"
    fi
    if [[ -n $CURRENT_STAGE ]]; then
        printf '  %-26s %5ss  FAILED (exit %s)\n' "$CURRENT_STAGE" $((SECONDS - STAGE_START)) "$status"
    fi
    printf '  %-26s %5ss\n' "total" $((SECONDS - SCRIPT_START))
    exit "$status"
}
trap print_summary EXIT

# apt_install PKG...: install the Debian packages not yet installed (as root).
# `apt-get update` runs only when something is missing, so a set-up machine
# needs no network here.
apt_install() {
    local pkg missing=()
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]} == 0)); then
        echo "already installed: $*"
        return 0
    fi
    echo "installing: ${missing[*]}"
    apt-get update -q
    # No questions, and no daemons started by the packages (ddclient, inadyn,
    # named, pdns): the tests start their own on free loopback ports.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    rm -f /usr/sbin/policy-rc.d
}

# ensure_venv: a working .venv in the project root, made with `python3 -m venv`
# (installing python3-venv from Debian if that fails).
ensure_venv() {
    if [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        echo "using $VENV ($("$VENV/bin/python" --version))"
        return 0
    fi
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV"; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    echo "created $VENV ($("$VENV/bin/python" --version))"
}

# pip_install SPEC: `pip install -e SPEC`, skipped when the same SPEC was
# installed from the same pyproject.toml before (a stamp file in .venv).
pip_install() {
    local spec=$1
    local stamp="$VENV/.installed-${spec//[^A-Za-z0-9]/_}"
    local want
    want="$spec $(sha256sum pyproject.toml | cut -d' ' -f1)"
    if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
        echo "up to date: pip install -e '$spec'"
        return 0
    fi
    "$VENV/bin/python" -m pip install --quiet --progress-bar off -e "$spec"
    echo "$want" >"$stamp"
}

run_ruff() {
    local paths=() dir
    for dir in src tests bench; do
        if [[ -d $dir ]]; then
            paths+=("$dir")
        fi
    done
    "$VENV/bin/ruff" check "${paths[@]}"
}

run_mypy() {
    "$VENV/bin/mypy"  # files and options: [tool.mypy] in pyproject.toml
}

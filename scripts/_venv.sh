# shellcheck shell=bash
# Sourced by scripts/test and scripts/serve: make sure .venv exists and has the project installed.
#   ensure_venv            -> creates .venv with Python >= 3.11 when missing, and runs
#                             `pip install -c constraints.txt -e ".[dev]"` when pyproject.toml or
#                             constraints.txt (the versions the tests last passed with) changed since the last
#                             install (hash stamp in .venv/.install-stamp).
# Env: PYTHON=/path/to/python3 picks the interpreter used to create the venv.
# Expects REPO_ROOT to be set and to be the current directory.

_venv_log() { echo "[venv] $*" >&2; }

_pick_python() {
    local candidates=() c
    [[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
    candidates+=(python3 python3.13 python3.12 python3.11)
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 \
            && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

_install_stamp() {
    # What the installed environment depends on: the project metadata and the interpreter.
    {
        cat pyproject.toml constraints.txt
        .venv/bin/python -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
        local py
        if ! py=$(_pick_python); then
            _venv_log "ERROR: need Python >= 3.11 (set PYTHON=/path/to/python3.11+)"
            return 1
        fi
        _venv_log "creating .venv with $py ($("$py" --version 2>&1))"
        rm -rf .venv
        if ! "$py" -m venv .venv; then
            _venv_log "ERROR: '$py -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)"
            return 1
        fi
    fi
    local want have=""
    want=$(_install_stamp)
    [[ -f .venv/.install-stamp ]] && have=$(cat .venv/.install-stamp)
    if [[ "$want" != "$have" ]]; then
        _venv_log "installing the project and its dev tools into .venv (pip install -c constraints.txt -e '.[dev]') ..."
        if ! .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"; then
            _venv_log "ERROR: pip install -c constraints.txt -e '.[dev]' failed"
            rm -f .venv/.install-stamp
            return 1
        fi
        echo "$want" > .venv/.install-stamp
    else
        _venv_log ".venv is up to date with pyproject.toml and constraints.txt"
    fi
}

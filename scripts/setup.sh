# Shared by scripts/test and scripts/dev: install what is missing, nothing else.
# Usage: source scripts/setup.sh; ensure_debian_packages [postgresql] [redis-server] ...;
#        ensure_python_packages

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

_is_installed() {
    case "$1" in
        postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
        redis-server) command -v redis-server >/dev/null 2>&1 ;;
        chromium) command -v chromium >/dev/null 2>&1 ;;
        # fc-list comes from `fontconfig`, which the fonts do not pull in; dpkg is the fallback.
        fonts-noto-cjk) { fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; } \
            || dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed' ;;
        python3-pip) python3 -m pip --version >/dev/null 2>&1 ;;
        *) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed' ;;
    esac
}

ensure_debian_packages() {
    local need=() pkg
    for pkg in "$@"; do _is_installed "$pkg" || need+=("$pkg"); done
    [ "${#need[@]}" -gt 0 ] || return 0
    echo "installing Debian packages: ${need[*]}"
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${need[@]}"
    # The packages may auto-start their default services (cluster on 5432, redis on 6379,
    # nginx on 80).
    # We only use private servers on free ports, so stop those to keep the machine clean.
    for pkg in "${need[@]}"; do
        case "$pkg" in
            postgresql)
                if command -v pg_ctlcluster >/dev/null 2>&1; then
                    for conf in /etc/postgresql/*/*/postgresql.conf; do
                        [ -e "$conf" ] || continue
                        ver=$(basename "$(dirname "$(dirname "$conf")")")
                        name=$(basename "$(dirname "$conf")")
                        $SUDO pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
                    done
                fi
                $SUDO service postgresql stop >/dev/null 2>&1 || true
                ;;
            redis-server)
                $SUDO service redis-server stop >/dev/null 2>&1 || true
                ;;
            nginx)
                $SUDO service nginx stop >/dev/null 2>&1 || true
                ;;
        esac
    done
}

# Python packages (system interpreter unless a virtualenv is active).
ensure_python_packages() {
    export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
    local pip_install=(python3 -m pip install -q -e '.[dev]') out
    if ! out=$("${pip_install[@]}" 2>&1); then
        if grep -q 'externally-managed-environment' <<<"$out"; then
            # PEP 668 (Debian's python3): this throw-away machine has no other users to protect.
            "${pip_install[@]}" --break-system-packages
        else
            printf '%s\n' "$out" >&2
            return 1
        fi
    elif [ -n "$out" ]; then
        printf '%s\n' "$out"
    fi
}

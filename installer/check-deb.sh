#!/usr/bin/env bash
# Builds the .deb and checks it end to end on this machine: its contents, the systemd unit
# (`systemd-analyze verify`, which works without systemd as PID 1), installing it, running the
# installed binaries, registering the service against a stand-in systemctl, and removing and
# purging it while config, state and logs survive. CI runs it as root; it really installs and
# removes the package and creates the `adsync` system user, so run it on a throwaway machine.
# Needs: cargo-deb, help2man, systemd (for systemd-analyze), desktop-file-utils, dpkg.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
ok() { echo "  ok    $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/tmp/check-deb.out 2>&1; then ok "$what"; else bad "$what"; sed 's/^/        /' /tmp/check-deb.out; fi
}
section() { echo; echo "== $*"; }

[ "$(id -u)" = 0 ] || { echo "check-deb.sh installs a package: run it as root"; exit 2; }
# It writes /etc/adsync/config.toml: never over a config that it did not write itself.
if [ -e /etc/adsync/config.toml ] && [ ! -e /var/lib/adsync/check-deb-state ]; then
    echo "refusing: /etc/adsync/config.toml exists and was not written by check-deb.sh"
    exit 2
fi
for tool in cargo-deb help2man systemd-analyze desktop-file-validate dpkg-deb; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see installer/README.md)"; exit 2; }
done

# systemd-analyze verify also runs `man` for Documentation=man:...; a machine without man-db
# cannot check that part, so it is skipped there (the man page itself is checked below).
verify=(systemd-analyze verify)
command -v man >/dev/null || verify+=(--man=no)

# verify_clean UNIT: systemd-analyze accepts it and has nothing to say about it.
verify_clean() {
    local out
    out=$("${verify[@]}" "$1" 2>&1) || { echo "$out"; return 1; }
    [ -z "$out" ] || { echo "$out"; return 1; }
}

section "build (release build + man page + cargo deb)"
start=$(date +%s)
deb=$(installer/build-deb.sh | tail -1)
echo "  built $deb in $(( $(date +%s) - start ))s"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

section "contents"
dpkg-deb --contents "$deb" | awk '{print $1, $6}' | sed 's/^/  /'
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
has() { grep -qx "$1" <<<"$contents"; }
for path in ./usr/bin/adsync \
            ./lib/systemd/system/adsync.service \
            ./usr/share/applications/adsync-setup.desktop \
            ./usr/share/icons/hicolor/scalable/apps/adsync.svg \
            ./usr/share/icons/hicolor/48x48/apps/adsync.png \
            ./usr/share/icons/hicolor/256x256/apps/adsync.png \
            ./usr/share/man/man1/adsync.1.gz; do
    check "contains $path" has "$path"
done
check "contains ./usr/bin/adsync-setup (the setup wizard)" has ./usr/bin/adsync-setup
check "ships nothing under /etc, /var/lib/adsync or /var/log (so dpkg never owns config, state or logs)" \
    bash -c "! grep -qE '^\./(etc|var)/' <<<\"\$1\"" _ "$contents"
dpkg-deb --control "$deb" "$work/control"
for script in postinst prerm postrm; do
    check "has maintainer script $script" test -x "$work/control/$script"
done
code() { grep -hv '^\s*#' "$work"/control/{postinst,prerm,postrm}; }
check "maintainer scripts never enable or start the service" \
    bash -c "! grep -E 'systemctl (enable|start|restart) ' <<<\"\$1\"" _ "$(code)"
check "maintainer scripts never delete config, state or logs" \
    bash -c "! grep -E 'rm .*(/etc/adsync|/var/lib/adsync|/var/log/adsync)' <<<\"\$1\"" _ "$(code)"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/share/applications/adsync-setup.desktop
check "desktop entry is valid (desktop-file-validate)" \
    desktop-file-validate "$work/usr/share/applications/adsync-setup.desktop"

section "install"
if dpkg -s adsync >/dev/null 2>&1; then dpkg -P adsync >/dev/null; fi
check "dpkg -i $deb" dpkg -i "$deb"
check "/usr/bin/adsync --version runs" /usr/bin/adsync --version
/usr/bin/adsync --version | sed 's/^/        /'
# --help needs no display: the wizard parses its flags before it opens a window.
check "/usr/bin/adsync-setup --help runs and describes --demo" \
    bash -c '/usr/bin/adsync-setup --help | grep -q -- "--demo"'
check "/usr/bin/adsync-setup --version runs" /usr/bin/adsync-setup --version
check "man page installed (/usr/share/man/man1/adsync.1.gz, title ADSYNC)" \
    bash -c 'zcat /usr/share/man/man1/adsync.1.gz | grep -q "^\.TH ADSYNC"'
check "system user adsync exists" getent passwd adsync
check "/var/lib/adsync belongs to adsync, mode 700" \
    test "$(stat -c '%U %a' /var/lib/adsync)" = "adsync 700"
check "the unit is installed but not enabled" \
    bash -c '[ -f /lib/systemd/system/adsync.service ] && [ ! -e /etc/systemd/system/multi-user.target.wants/adsync.service ]'
check "systemd-analyze verify (no errors, no warnings) /lib/systemd/system/adsync.service" \
    verify_clean /lib/systemd/system/adsync.service
check "systemd-analyze security --offline: exposure at most 2.0 of 10" \
    systemd-analyze security --offline=true --threshold=20 /lib/systemd/system/adsync.service
systemd-analyze security --offline=true /lib/systemd/system/adsync.service 2>&1 | tail -1 | sed 's/^/        /'
/usr/bin/adsync service print --user --config /etc/adsync/config.toml > "$work/adsync-user.service"
check "systemd-analyze verify (no errors, no warnings) on the per-user unit" verify_clean "$work/adsync-user.service"

section "config, state and logs under the package's directories; service install"
cat > /etc/adsync/config.toml <<'TOML'
version = 1
[entra]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
client_secret = "file:/etc/adsync/secrets/entra-secret"
[target]
url = "https://app.example.com/scim/v2"
token = "file:/etc/adsync/secrets/target-token"
[[pairs]]
entra_group_id = "6f1d0000-0000-0000-0000-000000000001"
target_group_id = "tier-1"
order = 1
TOML
chmod 600 /etc/adsync/config.toml
echo "entra-secret-for-check-deb" | /usr/bin/adsync secret set file:/etc/adsync/secrets/entra-secret >/dev/null
echo "target-token-for-check-deb" | /usr/bin/adsync secret set file:/etc/adsync/secrets/target-token >/dev/null
echo "check-deb state marker" > /var/lib/adsync/check-deb-state
echo "check-deb log marker" > /var/log/adsync/check-deb.log
check "adsync config validate on /etc/adsync/config.toml" /usr/bin/adsync config validate --config /etc/adsync/config.toml
# A stand-in systemctl: this machine has no systemd as PID 1 (CI neither).
cat > "$work/systemctl" <<'SH'
#!/bin/sh
echo "$*" >> "$(dirname "$0")/systemctl.log"
case "$*" in *is-active*) echo inactive; exit 3 ;; *is-enabled*) echo enabled ;; esac
SH
chmod 755 "$work/systemctl"
check "adsync service install --system (stand-in systemctl)" \
    env ADSYNC_SYSTEMCTL="$work/systemctl" /usr/bin/adsync service install --system
check "it called: daemon-reload, enable adsync.service" \
    test "$(tr '\n' ';' < "$work/systemctl.log")" = "daemon-reload;enable adsync.service;"
check "the config now belongs to adsync, still 600" \
    test "$(stat -c '%U %a' /etc/adsync/config.toml)" = "adsync 600"
check "the written unit passes both secrets with LoadCredential=" \
    bash -c 'grep -qx "LoadCredential=entra-secret-1d14196c:/etc/adsync/secrets/entra-secret" /etc/systemd/system/adsync.service && grep -qx "LoadCredential=target-token-a517f530:/etc/adsync/secrets/target-token" /etc/systemd/system/adsync.service'
check "systemd-analyze verify (no errors, no warnings) /etc/systemd/system/adsync.service" \
    verify_clean /etc/systemd/system/adsync.service
echo "  adsync service status --system:"
ADSYNC_SYSTEMCTL="$work/systemctl" /usr/bin/adsync service status --system | sed 's/^/        /'

survives() {
    for f in /etc/adsync/config.toml /etc/adsync/secrets/target-token \
             /var/lib/adsync/check-deb-state /var/log/adsync/check-deb.log; do
        check "$1: $f survives" test -s "$f"
    done
}

section "remove (dpkg -r)"
check "dpkg -r adsync" dpkg -r adsync
check "/usr/bin/adsync is gone" test ! -e /usr/bin/adsync
survives "after dpkg -r"

section "purge (dpkg -P)"
if dpkg -P adsync >"$work/purge.out" 2>&1; then ok "dpkg -P adsync"; else bad "dpkg -P adsync"; fi
sed 's/^/        /' "$work/purge.out"
check "the unit written by service install is gone" test ! -e /etc/systemd/system/adsync.service
survives "after dpkg -P"
check "the adsync user is kept (files may still belong to it)" getent passwd adsync

# Tidy up what this script wrote (the directories stay, as the package leaves them).
rm -f /etc/adsync/config.toml /etc/adsync/secrets/entra-secret /etc/adsync/secrets/target-token \
      /var/lib/adsync/check-deb-state /var/log/adsync/check-deb.log

echo
echo "check-deb: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Builds the .rpm and checks it on this (Debian) machine as far as Debian's `rpm` tool allows: its
# file list against the .deb's, its requirements, its scriptlets, then installing it into a scratch
# root with `rpm --root` (scriptlets included, run chrooted into the scratch root with a shell and
# the few tools they call copied in), running both installed binaries from inside that root, and
# erasing it while config, state and logs survive. Nothing outside the scratch root is touched: the
# `adsync` user is created in the scratch root's /etc/passwd, not this machine's.
# Needs: cargo-generate-rpm, help2man, rpm (Debian package), root (for chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

passed=0
failed=0
ok() { echo "  ok    $*"; passed=$((passed + 1)); }
bad() { echo "  FAIL  $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >/tmp/check-rpm.out 2>&1; then ok "$what"; else bad "$what"; sed 's/^/        /' /tmp/check-rpm.out; fi
}
section() { echo; echo "== $*"; }

[ "$(id -u)" = 0 ] || { echo "check-rpm.sh chroots into a scratch root: run it as root"; exit 2; }
for tool in cargo-generate-rpm help2man rpm chroot useradd groupadd getent ldd; do
    command -v "$tool" >/dev/null || { echo "missing $tool (see installer/README.md)"; exit 2; }
done

if [ $# -ge 1 ]; then
    # check-rpm.sh PACKAGE.rpm: check a package built before, without building.
    pkg=$1
    section "package $pkg"
else
    section "build (release build + man page + cargo generate-rpm)"
    start=$(date +%s)
    pkg=$(installer/build-rpm.sh | tail -1)
    echo "  built $pkg in $(( $(date +%s) - start ))s ($(du -h "$pkg" | cut -f1))"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

section "header"
rpm -qip "$pkg" 2>/dev/null | sed 's/^/  /'
check "name is adsync, version is Cargo.toml's" \
    test "$(rpm -qp --qf '%{NAME} %{VERSION}' "$pkg")" = \
         "adsync $(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"name":"adsync","version":"\([^"]*\)".*/\1/p')"
echo "  requires:"
rpm -qpR "$pkg" | sed 's/^/        /'
requires=$(rpm -qpR "$pkg")
check "requires shadow-utils (useradd in %post)" grep -qx 'shadow-utils' <<<"$requires"
check "requires the C library it links (found from the binaries)" grep -q '^libc\.so\.6' <<<"$requires"

section "contents"
rpm -qplv "$pkg" | awk '{print $1, $NF}' | sed 's/^/  /'
contents=$(rpm -qpl "$pkg")
has() { grep -qx "$1" <<<"$contents"; }
for path in /usr/bin/adsync /usr/bin/adsync-setup \
            /usr/lib/systemd/system/adsync.service \
            /usr/share/applications/adsync-setup.desktop \
            /usr/share/icons/hicolor/scalable/apps/adsync.svg \
            /usr/share/icons/hicolor/48x48/apps/adsync.png \
            /usr/share/icons/hicolor/256x256/apps/adsync.png \
            /usr/share/man/man1/adsync.1.gz; do
    check "contains $path" has "$path"
done
check "ships nothing under /etc or /var (so rpm never owns config, state or logs)" \
    bash -c "! grep -qE '^/(etc|var)/' <<<\"\$1\"" _ "$contents"
# The same files as the .deb, when installer/check-deb.sh (or build-deb.sh) has built one: the
# unit moves from Debian's /lib/systemd to RHEL's /usr/lib/systemd; dpkg also lists directories
# and its own copyright file, which the comparison leaves out.
deb=$(ls -t "$target"/debian/adsync_*.deb 2>/dev/null | head -1 || true)
if [ -n "$deb" ] && command -v dpkg-deb >/dev/null; then
    dpkg-deb --contents "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|; s|^/lib/systemd|/usr/lib/systemd|' \
        | grep -v '^/usr/share/doc/' | sort > "$work/deb-files"
    sort <<<"$contents" > "$work/rpm-files"
    check "the same files as $(basename "$deb") (diff shows any difference)" \
        diff "$work/deb-files" "$work/rpm-files"
else
    echo "  (no .deb built yet: the file-for-file comparison with it is skipped)"
fi

section "scriptlets"
rpm -qp --scripts "$pkg" > "$work/scripts"
for kind in postinstall preuninstall postuninstall; do
    check "has a $kind scriptlet" grep -q "^$kind scriptlet" "$work/scripts"
done
code=$(grep -v '^\s*#' "$work/scripts")
check "scriptlets create the adsync system user" grep -q 'useradd --system' <<<"$code"
check "scriptlets never enable or start the service" \
    bash -c "! grep -E 'systemctl (enable|start|restart) ' <<<\"\$1\"" _ "$code"
check "scriptlets never delete config, state or logs" \
    bash -c "! grep -E 'rm .*(/etc/adsync|/var/lib/adsync|/var/log/adsync)' <<<\"\$1\"" _ "$code"

section "install into a scratch root (rpm --root, scriptlets chrooted)"
root="$work/root"
mkdir -p "$root"/{etc,tmp,var/tmp,var/lib/rpm,run,usr}
chmod 1777 "$root/tmp" "$root/var/tmp"
# The same /bin, /sbin, /lib layout as this machine (merged /usr or not), so copied paths resolve.
for d in bin sbin lib lib64; do
    if [ -L "/$d" ]; then
        ln -s "$(readlink "/$d")" "$root/$d"
        mkdir -p "$root/$(readlink -f "/$d" | sed 's|^/||')"
    fi
done
# copy_in FILE...: each file and the shared libraries it loads, at the same paths.
copy_in() {
    local f lib
    for f in "$@"; do
        cp --parents -L "$f" "$root/"
        for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true); do
            [ -e "$root$lib" ] || cp --parents -L "$lib" "$root/"
        done
    done
}
# What the scriptlets run: the shell and the tools they call (systemctl is absent, as in a
# container: the scriptlets skip it when /run/systemd/system does not exist).
copy_in /bin/sh "$(command -v getent)" "$(command -v useradd)" "$(command -v groupadd)" \
        "$(command -v install)" "$(command -v rm)"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
printf 'root:*::\n' > "$root/etc/gshadow"
chmod 600 "$root/etc/shadow" "$root/etc/gshadow"
cp /etc/login.defs "$root/etc/" 2>/dev/null || true
rpm=(rpm --root "$root" --dbpath /var/lib/rpm)
# Debian's rpm refuses to install packages unless told it is on purpose (it points at alien).
force=()
if rpm --help 2>&1 | grep -q -- '--force-debian'; then force=(--force-debian); fi
"${rpm[@]}" --initdb
# --nodeps: the scratch root has no RPM database of RHEL packages to satisfy the requirements.
if "${rpm[@]}" --nodeps "${force[@]}" -i "$pkg" >"$work/install.out" 2>&1; then
    ok "rpm --root SCRATCH --nodeps -i $(basename "$pkg")"
else
    bad "rpm --root SCRATCH --nodeps -i $(basename "$pkg")"
fi
sed 's/^/        /' "$work/install.out"
check "rpm -q adsync in the scratch root's database" "${rpm[@]}" -q adsync
check "rpm -V --nodeps adsync: the installed files match the package" "${rpm[@]}" -V --nodeps adsync
# The binaries' own libraries, so they run inside the root rather than with this machine's.
copy_in "$root/usr/bin/adsync" "$root/usr/bin/adsync-setup"
check "adsync --version runs inside the scratch root" chroot "$root" /usr/bin/adsync --version
chroot "$root" /usr/bin/adsync --version | sed 's/^/        /'
# --help needs no display: the wizard parses its flags before it opens a window.
check "adsync-setup --help runs inside the scratch root and describes --demo" \
    bash -c 'chroot "$1" /usr/bin/adsync-setup --help | grep -q -- "--demo"' _ "$root"
check "adsync-setup --version runs inside the scratch root" chroot "$root" /usr/bin/adsync-setup --version
check "man page installed (title ADSYNC)" \
    bash -c 'zcat "$1/usr/share/man/man1/adsync.1.gz" | grep -q "^\.TH ADSYNC"' _ "$root"
check "%post created the system user adsync (in the scratch root)" chroot "$root" getent passwd adsync
check "the adsync user has no login shell and a home of /var/lib/adsync" \
    bash -c '[ "$(chroot "$1" getent passwd adsync | cut -d: -f6,7)" = "/var/lib/adsync:/sbin/nologin" ]' _ "$root"
uid=$(chroot "$root" getent passwd adsync | cut -d: -f3)
check "the adsync user is a system user (uid $uid below 1000)" test "$uid" -lt 1000
owner_mode() { stat -c '%u %a' "$root$1"; }
check "/etc/adsync is root's, mode 755" test "$(owner_mode /etc/adsync)" = "0 755"
check "/etc/adsync/secrets is root's, mode 700" test "$(owner_mode /etc/adsync/secrets)" = "0 700"
check "/var/lib/adsync belongs to adsync, mode 700" test "$(owner_mode /var/lib/adsync)" = "$uid 700"
check "/var/log/adsync belongs to adsync, mode 750" test "$(owner_mode /var/log/adsync)" = "$uid 750"
check "the unit is installed but not enabled" \
    bash -c '[ -f "$1/usr/lib/systemd/system/adsync.service" ] && [ ! -e "$1/etc/systemd/system/multi-user.target.wants/adsync.service" ]' _ "$root"
check "the unit is the one in installer/linux/" \
    cmp installer/linux/adsync.service "$root/usr/lib/systemd/system/adsync.service"

section "reinstall over itself (upgrade path: %post with \$1 = 2 keeps the user and data)"
echo "check-rpm state marker" > "$root/var/lib/adsync/check-rpm-state"
echo "check-rpm log marker" > "$root/var/log/adsync/check-rpm.log"
echo "version = 1" > "$root/etc/adsync/config.toml"
echo "token" > "$root/etc/adsync/secrets/target-token"
check "rpm --root SCRATCH -U --replacepkgs" "${rpm[@]}" --nodeps "${force[@]}" -U --replacepkgs "$pkg"
check "the adsync user keeps its uid" test "$(chroot "$root" getent passwd adsync | cut -d: -f3)" = "$uid"

survives() {
    for f in /etc/adsync/config.toml /etc/adsync/secrets/target-token \
             /var/lib/adsync/check-rpm-state /var/log/adsync/check-rpm.log; do
        check "$1: $f survives" test -s "$root$f"
    done
}
survives "after the reinstall"

section "erase (rpm -e)"
# What `adsync service install` leaves behind, which erasing undoes (RPM has no purge).
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
cp installer/linux/adsync.service "$root/etc/systemd/system/adsync.service"
ln -s /etc/systemd/system/adsync.service "$root/etc/systemd/system/multi-user.target.wants/adsync.service"
if "${rpm[@]}" --nodeps -e adsync >"$work/erase.out" 2>&1; then ok "rpm --root SCRATCH -e adsync"; else bad "rpm --root SCRATCH -e adsync"; fi
sed 's/^/        /' "$work/erase.out"
check "/usr/bin/adsync is gone" test ! -e "$root/usr/bin/adsync"
check "the unit written by service install and its enable link are gone" \
    bash -c '[ ! -e "$1/etc/systemd/system/adsync.service" ] && [ ! -L "$1/etc/systemd/system/multi-user.target.wants/adsync.service" ]' _ "$root"
check "%postun said which data directories it kept" grep -q 'kept /var/lib/adsync' "$work/erase.out"
survives "after rpm -e"
check "the adsync user is kept (files may still belong to it)" chroot "$root" getent passwd adsync

echo
echo "check-rpm: $passed passed, $failed failed"
[ "$failed" = 0 ]

# Sourced by guest/build-initramfs.sh and guest/linux/build-kernel.sh: a
# Debian package fetched with `apt-get download` into a cache directory,
# never installed on the host.
#
# fetch_deb PKG CACHE prints the path of the .deb of PKG's candidate version
# (the newest that apt would install, e.g. bookworm-security's over
# backports'), downloading it into CACHE first if it is not there.  The
# candidate is asked of apt-cache once and remembered in CACHE until apt's
# package lists change.  Without lists (no 'apt-get update' yet) the newest
# .deb of PKG already in CACHE is used.  The caller defines die().
#
# SPDX-License-Identifier: GPL-2.0-or-later

# Newest .deb of PKG in CACHE by modification time, if any.
newest_cached_deb() {
    local pkg=$1 cache=$2 deb newest=

    for deb in "$cache/${pkg}_"*.deb; do
        [ -e "$deb" ] || continue
        if [ -z "$newest" ] || [ "$deb" -nt "$newest" ]; then
            newest=$deb
        fi
    done
    [ -n "$newest" ] && echo "$newest"
}

# PKG's candidate version, remembered until /var/lib/apt/lists changes.
deb_candidate() {
    local pkg=$1 cache=$2 memo="$2/$1.candidate" lists=/var/lib/apt/lists ver

    if [ -s "$memo" ] && [ -z "$(find "$lists" -maxdepth 1 -newer "$memo" \
                                 -print -quit 2>/dev/null)" ]; then
        cat "$memo"
        return
    fi
    ver=$(apt-cache policy "$pkg" 2>/dev/null |
          sed -n 's/^ *Candidate: \([^ (]*\)$/\1/p')
    [ -n "$ver" ] || return 1
    echo "$ver" >"$memo"
    echo "$ver"
}

fetch_deb() {
    local pkg=$1 cache=$2 ver deb tmp

    mkdir -p "$cache"
    if ! ver=$(deb_candidate "$pkg" "$cache"); then
        newest_cached_deb "$pkg" "$cache" && return
        die "apt knows no version of $pkg and $cache holds none" \
            "(run 'apt-get update', or put ${pkg}_*.deb into $cache)"
    fi
    # apt-get download spells an epoch's colon as %3a in the file name
    for deb in "$cache/${pkg}_${ver//:/%3a}_"*.deb; do
        [ -e "$deb" ] && { echo "$deb"; return; }
    done
    echo "fetch-deb: downloading $pkg $ver into $cache" >&2
    tmp=$(mktemp -d "$cache/download.XXXXXX")
    # As root into a directory that user _apt cannot write, apt warns about
    # its sandbox; there is nothing to sandbox here.
    if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root \
              download "$pkg=$ver" >&2); then
        rm -rf "$tmp"
        die "could not download $pkg $ver: 'apt-get download $pkg=$ver'" \
            "failed (run 'apt-get update', or put ${pkg}_*.deb into $cache)"
    fi
    mv "$tmp"/*.deb "$cache/"
    rm -rf "$tmp"
    for deb in "$cache/${pkg}_${ver//:/%3a}_"*.deb; do
        [ -e "$deb" ] && { echo "$deb"; return; }
    done
    die "apt-get download $pkg=$ver left no ${pkg}_*.deb in $cache"
}

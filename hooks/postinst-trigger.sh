# shellcheck shell=sh
# Fragment for the dkms-hook package's postinst (debian/postinst, before #DEBHELPER#).
# dpkg calls "postinst triggered TRIGGER..." after a package touches /usr/src or
# /lib/modules (see hooks/triggers); $2 holds the activated trigger names separated
# by spaces, so it is split on purpose. A trigger must never leave dpkg with a
# half-configured dkms-hook, hence "|| true".
case "$1" in
    triggered)
        # shellcheck disable=SC2086
        /usr/sbin/dkms-hook dpkg-trigger $2 || true
        ;;
esac

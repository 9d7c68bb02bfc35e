//! Checks that need no privileges: names, a missing or wrong clone device, error texts. Opening
//! real devices is tested in namespaces by `tests/tun_netcfg.rs`.

use super::*;

#[test]
fn interface_names() {
    let table: &[(&str, Option<&str>)] = &[
        ("enf0", None),
        ("abcdefghijklmno", None),
        ("tun%d", None),
        (
            "abcdefghijklmnop",
            Some("tun device name \"abcdefghijklmnop\" is 16 bytes long; interface names are at most 15 bytes"),
        ),
        ("", Some("tun device name \"\" is not a valid interface name")),
        ("..", Some("tun device name \"..\" is not a valid interface name")),
        ("enf/0", Some("tun device name \"enf/0\" may not contain '/', ':', NUL or white space")),
        ("enf 0", Some("tun device name \"enf 0\" may not contain '/', ':', NUL or white space")),
        ("enf:0", Some("tun device name \"enf:0\" may not contain '/', ':', NUL or white space")),
    ];
    for &(name, want) in table {
        let got = check_name(name).err().map(|e| e.to_string());
        assert_eq!(got.as_deref(), want, "{name:?}");
    }
    // Bytes, not characters: 8 two-byte characters are 16 bytes.
    assert!(check_name("éééééééé").is_err());
}

#[test]
fn a_missing_clone_device_says_how_to_get_one() {
    let e = Tun::open(Path::new("/nonexistent/net/tun"), "enf0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "opening /nonexistent/net/tun: no such device; run the container with --device /dev/net/tun"
    );
}

#[test]
fn a_clone_device_that_is_not_a_character_device() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let e = Tun::open(file.path(), "enf0").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "opening {}: not a character device; run the container with --device /dev/net/tun",
            file.path().display()
        )
    );
}

#[test]
fn the_name_is_checked_before_the_device_is_touched() {
    let e = Tun::open(Path::new("/nonexistent"), "abcdefghijklmnop").unwrap_err();
    assert!(matches!(e, Error::BadName { .. }), "{e}");
}

#[test]
fn error_texts() {
    let name = || "enf0".to_string();
    let table = [
        (
            Error::NeedsNetAdmin { name: name() },
            "creating tun device enf0 needs CAP_NET_ADMIN (--cap-add=NET_ADMIN)",
        ),
        (
            Error::Busy { name: name() },
            "creating tun device enf0: device busy; another process (enftun, another enf-init?) \
             has it open",
        ),
        (
            Error::NotTun { name: name() },
            "creating tun device enf0: an interface of that name exists and is not a tun \
             device; choose another tun.dev",
        ),
        (
            Error::Open {
                path: "/dev/net/tun".into(),
                source: io::Error::from_raw_os_error(libc::EPERM),
            },
            "opening /dev/net/tun: Operation not permitted; run the container with --device \
             /dev/net/tun",
        ),
        (
            Error::SetIff {
                name: name(),
                source: io::Error::from_raw_os_error(libc::ENOBUFS),
            },
            "creating tun device enf0: No buffer space available",
        ),
    ];
    for (e, want) in table {
        assert_eq!(e.to_string(), want);
    }
}

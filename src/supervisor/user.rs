//! `--user USER[:GROUP]` resolved to ids before anything is forked.
//!
//! Names come from the container's /etc/passwd and /etc/group. A numeric user without a passwd
//! entry gets group 0 and HOME=/, as `docker run --user` and gosu do, so images behave the same
//! whichever of them starts the service.

use nix::unistd::{getgrouplist, Gid, Group, Uid, User};
use std::ffi::CString;
use std::path::PathBuf;

/// The identity the service runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NoSuchUser(String),
    NoSuchGroup(String),
    Lookup(String, String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoSuchUser(u) => write!(f, "--user: no user {u:?} in /etc/passwd"),
            Error::NoSuchGroup(g) => write!(f, "--user: no group {g:?} in /etc/group"),
            Error::Lookup(what, e) => write!(f, "--user: cannot look up {what:?}: {e}"),
        }
    }
}

/// Resolves `USER[:GROUP]` (names or numbers).
pub fn resolve(spec: &str) -> Result<Creds, Error> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match user.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(user),
    }
    .map_err(|e| Error::Lookup(user.to_string(), e.to_string()))?;
    let (uid, primary, home, name) = match (entry, user.parse::<u32>()) {
        (Some(u), _) => (u.uid.as_raw(), u.gid.as_raw(), u.dir, Some(u.name)),
        (None, Ok(n)) => (n, 0, PathBuf::from("/"), None),
        (None, Err(_)) => return Err(Error::NoSuchUser(user.to_string())),
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => Group::from_name(g)
                .map_err(|e| Error::Lookup(g.to_string(), e.to_string()))?
                .ok_or_else(|| Error::NoSuchGroup(g.to_string()))?
                .gid
                .as_raw(),
        },
    };
    // Supplementary groups as login would give them; an explicit GROUP replaces the primary.
    let mut groups = vec![gid];
    if let Some(cname) = name.and_then(|n| CString::new(n).ok()) {
        if let Ok(list) = getgrouplist(&cname, Gid::from_raw(primary)) {
            groups.extend(
                list.iter()
                    .map(|g| g.as_raw())
                    .filter(|g| group.is_none() || *g != primary),
            );
        }
    }
    groups.sort_unstable();
    groups.dedup();
    Ok(Creds {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_numbers() {
        let root = resolve("root").expect("root exists everywhere");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(root.home, PathBuf::from("/root"));
        let n = resolve("54321").expect("numeric");
        assert_eq!(
            (n.uid, n.gid, n.groups.clone(), n.home),
            (54321, 0, vec![0], PathBuf::from("/"))
        );
        let ng = resolve("54321:777").expect("numeric pair");
        assert_eq!((ng.uid, ng.gid, ng.groups), (54321, 777, vec![777]));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            resolve("no-such-user-x"),
            Err(Error::NoSuchUser("no-such-user-x".into()))
        );
        assert_eq!(
            resolve("root:no-such-group-x"),
            Err(Error::NoSuchGroup("no-such-group-x".into()))
        );
    }
}

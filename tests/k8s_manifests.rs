//! The Kubernetes manifests of deploy/kubernetes: valid against the Kubernetes schemas (strictly:
//! an unknown or misspelt field is an error), and saying what enf-init relies on: probes on
//! `/livez` and `/readyz` at the port given to `--http`, CAP_NET_ADMIN, the tun device, the IPv6
//! sysctl, the credentials Secret at `/data/enf0` with mode 0400, a stop that fits in the grace
//! period, and a metrics Service that finds the pods.
//!
//! The YAML is read by python3 with PyYAML (the YAML 1.1 reading kubectl also has); the
//! schemas come with the `kubernetes-validate` package. Either missing is a failure that says
//! what to install, never a skip. The args are checked by enf-init's own parser, and the
//! Secret's enf0.conf by its own configuration loader.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use enf_init::cli::{self, Invocation, Options};

const PYTHON: &str = "python3";

/// Flattens every manifest into one fact per line, tab-separated, so the checks below need no
/// YAML or JSON reader of their own. Secrets are written out as files under argv[1].
const FACTS: &str = r#"
import base64, json, os, sys
try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing: apt-get install python3-yaml (or pip install pyyaml)")

def emit(*parts):
    parts = [str(p) for p in parts]
    for p in parts:
        if "\t" in p or "\n" in p:
            sys.exit("value with a tab or newline: %r" % p)
    print("\t".join(parts))

def pod(spec):
    emit("grace", spec.get("terminationGracePeriodSeconds", 30))
    for s in (spec.get("securityContext") or {}).get("sysctls") or []:
        emit("sysctl", s["name"], s["value"])
    emit("privileged_pod", any((c.get("securityContext") or {}).get("privileged")
                               for c in spec["containers"]))
    for v in spec.get("volumes") or []:
        if "secret" in v:
            emit("volume_secret", v["name"], v["secret"]["secretName"],
                 v["secret"].get("defaultMode", 420))
    emit("containers", len(spec["containers"]))
    c = spec["containers"][0]
    for a in c.get("command") or []:
        emit("command", a)
    for a in c.get("args") or []:
        emit("arg", a)
    for e in c.get("env") or []:
        emit("env", e["name"], e.get("value", ""))
    for p in c.get("ports") or []:
        emit("port", p.get("name", ""), p["containerPort"])
    for kind in ("liveness", "readiness", "startup"):
        probe = c.get(kind + "Probe")
        if probe and "httpGet" in probe:
            g = probe["httpGet"]
            emit("probe", kind, g.get("path", "/"), g["port"], g.get("scheme", "HTTP"))
        elif probe:
            emit("probe", kind, "(not httpGet)", "", "")
    for cap in ((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or []:
        emit("cap_add", cap)
    for k, v in ((c.get("resources") or {}).get("limits") or {}).items():
        emit("limit", k, v)
    for m in c.get("volumeMounts") or []:
        emit("mount", m["mountPath"], m["name"], bool(m.get("readOnly")), m.get("subPath", ""))

out_dir = sys.argv[1]
for path in sys.argv[2:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for doc in docs:
        kind, meta = doc["kind"], doc["metadata"]
        emit("doc", os.path.basename(path), kind, meta["name"])
        if kind == "Deployment":
            spec = doc["spec"]
            emit("replicas", spec.get("replicas", 1))
            emit("strategy", (spec.get("strategy") or {}).get("type", "RollingUpdate"))
            for k, v in spec["template"]["metadata"]["labels"].items():
                emit("pod_label", k, v)
            pod(spec["template"]["spec"])
        elif kind == "Secret":
            d = os.path.join(out_dir, meta["name"])
            os.makedirs(d)
            files = {k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}
            files.update({k: v.encode() for k, v in (doc.get("stringData") or {}).items()})
            for k, v in files.items():
                with open(os.path.join(d, k), "wb") as out:
                    out.write(v)
                emit("secret_key", meta["name"], k)
            emit("secret_dir", meta["name"], d)
        elif kind == "Service":
            spec = doc["spec"]
            emit("service_not_ready", spec.get("publishNotReadyAddresses", False))
            for k, v in (spec.get("selector") or {}).items():
                emit("service_selector", k, v)
            for p in spec.get("ports") or []:
                emit("service_port", p.get("name", ""), p["port"], p.get("targetPort", p["port"]))
        elif kind == "DaemonSet":
            c = doc["spec"]["template"]["spec"]["containers"][0]
            args = c.get("args") or []
            domain = "squat.ai"
            for i, a in enumerate(args):
                if a == "--domain":
                    domain = args[i + 1]
                elif a.startswith("--domain="):
                    domain = a.split("=", 1)[1]
            for i, a in enumerate(args):
                if a == "--device" or a.startswith("--device="):
                    dev = json.loads(args[i + 1] if a == "--device" else a.split("=", 1)[1])
                    for g in dev["groups"]:
                        for p in g.get("paths") or []:
                            emit("plugin_device", domain + "/" + dev["name"], p["path"])
"#;

/// The manifests' facts: kind of fact -> its rows, in file order.
struct Facts {
    rows: BTreeMap<String, Vec<Vec<String>>>,
    _secrets: tempfile::TempDir,
}

impl Facts {
    fn read() -> Facts {
        let secrets = tempfile::tempdir().expect("temp dir");
        let out = Command::new(PYTHON)
            .arg("-c")
            .arg(FACTS)
            .arg(secrets.path())
            .args(manifests())
            .output()
            .unwrap_or_else(|e| panic!("{PYTHON} must be installed to read the manifests: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "reading the manifests failed:\n{stderr}"
        );
        let mut rows: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
        for line in String::from_utf8(out.stdout).expect("UTF-8").lines() {
            let mut parts = line.split('\t').map(str::to_string);
            let kind = parts.next().expect("a fact");
            rows.entry(kind).or_default().push(parts.collect());
        }
        Facts {
            rows,
            _secrets: secrets,
        }
    }

    fn all(&self, kind: &str) -> Vec<Vec<String>> {
        self.rows.get(kind).cloned().unwrap_or_default()
    }

    /// The first column of every row of `kind`.
    fn list(&self, kind: &str) -> Vec<String> {
        self.all(kind).into_iter().map(|r| r[0].clone()).collect()
    }

    /// The single value of `kind`; the manifests have exactly one Deployment and one Service.
    fn one(&self, kind: &str) -> String {
        let rows = self.all(kind);
        assert_eq!(rows.len(), 1, "expected one {kind}, got {rows:?}");
        rows[0][0].clone()
    }

    /// What enf-init makes of the container's args and environment, as it would at start-up.
    fn enf_init_options(&self) -> Options {
        assert!(
            self.all("command").is_empty(),
            "the container must keep the image's ENTRYPOINT (enf-init): no command"
        );
        let args: Vec<OsString> = self.list("arg").into_iter().map(OsString::from).collect();
        let env: BTreeMap<String, String> = self
            .all("env")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        match cli::parse(&args, &|k| env.get(k).cloned()) {
            Ok(Invocation::Run(opts)) => *opts,
            other => panic!("enf-init would not run with args {args:?}: {other:?}"),
        }
    }

    /// A container port given by name or number, as a number.
    fn container_port(&self, port: &str) -> u16 {
        if let Ok(n) = port.parse() {
            return n;
        }
        self.all("port")
            .into_iter()
            .find(|r| r[0] == port)
            .unwrap_or_else(|| panic!("no container port named {port}"))[1]
            .parse()
            .expect("a port number")
    }
}

fn manifest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// Every YAML file of deploy/kubernetes, sorted.
fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_dir())
        .expect("deploy/kubernetes")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in deploy/kubernetes");
    files
}

fn http_addr(opts: &Options) -> SocketAddr {
    opts.http
        .expect("the container must pass --http (or ENF_HTTP): the probes need it")
}

#[test]
fn every_manifest_passes_the_kubernetes_schemas_strictly() {
    let files = manifests();
    let out = Command::new(PYTHON)
        .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("{PYTHON} must be installed to validate the manifests: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named kubernetes_validate"),
        "the validator is missing: pip install kubernetes-validate (it ships the schemas)"
    );
    assert!(
        out.status.success(),
        "manifests do not validate:\n{stdout}{stderr}"
    );
    // Every file was read as at least one resource (an empty or non-resource file is a mistake).
    let facts = Facts::read();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(
            facts.all("doc").iter().any(|d| d[0] == name),
            "{name} holds no resource"
        );
    }
}

#[test]
fn probes_are_livez_and_readyz_on_the_port_given_to_http() {
    let facts = Facts::read();
    assert_eq!(
        facts.one("containers"),
        "1",
        "one container: enf-init and its service"
    );
    let addr = http_addr(&facts.enf_init_options());
    assert!(
        addr.ip().is_unspecified(),
        "--http {addr}: the kubelet probes the pod's address, so listen on 0.0.0.0 or [::]"
    );
    let probes = facts.all("probe");
    for (kind, path) in [("liveness", "/livez"), ("readiness", "/readyz")] {
        let p = probes
            .iter()
            .find(|p| p[0] == kind)
            .unwrap_or_else(|| panic!("no {kind} probe"));
        assert_eq!(p[1], path, "the {kind} probe must ask {path}");
        assert_eq!(
            facts.container_port(&p[2]),
            addr.port(),
            "the {kind} probe's port is not the one given to --http ({addr})"
        );
        assert_eq!(p[3], "HTTP", "enf-init serves plain HTTP");
    }
}

#[test]
fn the_tunnel_gets_net_admin_the_tun_device_and_ipv6() {
    let facts = Facts::read();
    assert!(
        facts.list("cap_add").iter().any(|c| c == "NET_ADMIN"),
        "CAP_NET_ADMIN must be added: enf-init configures enf0"
    );
    let sysctls = facts.all("sysctl");
    assert!(
        sysctls
            .iter()
            .any(|s| s[0] == "net.ipv6.conf.all.disable_ipv6" && s[1] == "0"),
        "the pod must set net.ipv6.conf.all.disable_ipv6=0, got {sysctls:?}"
    );
    // The device: either privileged, or a device-plugin resource that some plugin in these
    // manifests serves from /dev/net/tun.
    if facts.one("privileged_pod") == "True" {
        return;
    }
    let plugin = facts.all("plugin_device");
    let limits = facts.all("limit");
    let tun = limits
        .iter()
        .find(|l| {
            plugin
                .iter()
                .any(|p| p[0] == l[0] && p[1] == "/dev/net/tun")
        })
        .unwrap_or_else(|| {
            panic!("no limit asks a device plugin for /dev/net/tun: limits {limits:?}, plugin {plugin:?}")
        });
    assert_eq!(tun[1], "1", "one tun device per pod");
}

#[test]
fn credentials_are_the_secret_mounted_at_data_enf0_owner_read_only() {
    let facts = Facts::read();
    let mount = facts
        .all("mount")
        .into_iter()
        .find(|m| m[0] == "/data/enf0")
        .expect("a volume mounted at /data/enf0");
    assert_eq!(mount[2], "True", "/data/enf0 must be mounted read-only");
    assert_eq!(
        mount[3], "",
        "no subPath: a subPath mount never sees a Secret's updates"
    );
    let volume = facts
        .all("volume_secret")
        .into_iter()
        .find(|v| v[0] == mount[1])
        .unwrap_or_else(|| panic!("volume {} is not a Secret", mount[1]));
    assert_eq!(
        volume[2], "256",
        "defaultMode must be 0400 (256): the key is secret"
    );
    let secret = &volume[1];
    let dir = facts
        .all("secret_dir")
        .into_iter()
        .find(|s| &s[0] == secret)
        .unwrap_or_else(|| panic!("the Secret {secret} is not among the manifests"))[1]
        .clone();
    let keys: Vec<String> = facts
        .all("secret_key")
        .into_iter()
        .filter(|k| &k[0] == secret)
        .map(|k| k[1].clone())
        .collect();
    assert!(
        keys.iter().any(|k| k == "enf0.conf"),
        "no enf0.conf in {keys:?}"
    );

    // enf-init reads /data/enf0/enf0.conf first; its files must be the Secret's own keys.
    let dir = Path::new(&dir);
    let config = enf_init::config::load_quiet(&dir.join("enf0.conf"), &|_| None)
        .unwrap_or_else(|e| panic!("the Secret's enf0.conf does not load: {e}"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    let files = [
        (
            "remote.ca_cert_file",
            Some(config.remote.ca_cert_file.clone()),
        ),
        ("identity.cert_file", config.identity.cert_file.clone()),
        ("identity.key_file", config.identity.key_file.clone()),
    ];
    for (key, file) in files {
        let file = file.unwrap_or_else(|| panic!("{key} is not set"));
        assert_eq!(
            file.parent(),
            Some(dir),
            "{key} = {}: not a file of the Secret (use a path relative to enf0.conf)",
            file.display()
        );
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            keys.contains(&name),
            "{key} = {name}: the Secret has no such key ({keys:?})"
        );
    }
}

#[test]
fn the_stop_fits_in_the_termination_grace_period() {
    let facts = Facts::read();
    let opts = facts.enf_init_options();
    let grace: u64 = facts.one("grace").parse().expect("seconds");
    assert!(
        opts.stop_timeout.as_secs() < grace,
        "--stop-timeout {}s must end before terminationGracePeriodSeconds {grace}s, or the \
         kubelet's SIGKILL hits enf-init mid-stop",
        opts.stop_timeout.as_secs()
    );
}

#[test]
fn one_identity_runs_in_one_pod_at_a_time() {
    let facts = Facts::read();
    assert_eq!(facts.one("replicas"), "1", "one pod per ENF identity");
    assert_eq!(
        facts.one("strategy"),
        "Recreate",
        "a rolling update would run two pods with the same credentials"
    );
}

#[test]
fn the_metrics_service_finds_the_pods_even_unready_on_the_http_port() {
    let facts = Facts::read();
    let labels = facts.all("pod_label");
    let selector = facts.all("service_selector");
    assert!(!selector.is_empty(), "the Service selects nothing");
    for s in &selector {
        assert!(
            labels.contains(s),
            "selector {s:?} does not match the pod labels {labels:?}"
        );
    }
    assert_eq!(
        facts.one("service_not_ready"),
        "True",
        "publishNotReadyAddresses: an unready pod's metrics are the ones that matter"
    );
    let port = http_addr(&facts.enf_init_options()).port();
    let ports = facts.all("service_port");
    assert!(
        ports.iter().any(|p| facts.container_port(&p[2]) == port),
        "no Service port targets the --http port {port}: {ports:?}"
    );
}

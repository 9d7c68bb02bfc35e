//! Connection attempts: configuration and credentials read again for each, the addresses to
//! try, the TCP connect, the TLS handshake, and the session's start.

use super::*;

impl Engine {
    /// Picks the next address to try; a new attempt re-reads configuration and credentials.
    pub(super) fn next_target(&mut self, now: Instant) -> Phase {
        if self.targets.is_empty() {
            match self.prepare_attempt() {
                Ok(()) => {}
                Err(why) => return self.failed(&why, now),
            }
        }
        let Some(server) = self.targets.pop_front() else {
            return self.failed("no address to connect to", now);
        };
        self.set_state(State::Connecting);
        match sock::connect(server, self.settings.fwmark) {
            Ok(mut s) => match self.poll.registry().register(
                &mut s,
                SOCK,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                Ok(()) => Phase::Connecting {
                    sock: s,
                    server,
                    deadline: now + CONNECT_TIMEOUT,
                },
                Err(e) => self.failed(&format!("cannot watch the socket: {e}"), now),
            },
            Err(e) => self.failed(&format!("cannot connect to {server}: {e}"), now),
        }
    }

    pub(super) fn prepare_attempt(&mut self) -> Result<(), String> {
        let env = |k: &str| {
            self.settings
                .env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        let cfg = config::load_quiet(&self.settings.config, &env).map_err(|e| e.to_string())?;
        let id = identity::load_quiet(&cfg).map_err(|e| e.to_string())?;
        if id.address != self.settings.address {
            // The device, routes, filters and the service all run on the old address.
            return Err(format!(
                "the certificate now names {}, but this tunnel runs as {}: restart enf-init to change address",
                id.address, self.settings.address
            ));
        }
        let tls = tls::client_config(&id, cfg.remote.server_name.as_deref())
            .map_err(|e| e.to_string())?;
        self.cred_stamp = stamps(&cfg);
        self.stats.cert_not_after = Some(id.not_after);
        self.warn_if_expiring(&cfg, id.not_after);
        let mut targets = VecDeque::new();
        for host in &cfg.remote.hosts {
            match (host.as_str(), cfg.remote.port).to_socket_addrs() {
                Ok(addrs) => targets.extend(addrs),
                Err(e) => log::warn!("cannot resolve {host}: {e}"),
            }
        }
        if targets.is_empty() {
            return Err(format!(
                "none of remote.hosts ({}) resolves",
                cfg.remote.hosts.join(", ")
            ));
        }
        self.targets = targets;
        self.attempt = Some((tls, id, cfg));
        Ok(())
    }

    /// Says once (per certificate) when the client certificate expires within a week.
    pub(super) fn warn_if_expiring(&mut self, cfg: &config::Config, not_after: i64) {
        let left = not_after.saturating_sub(crate::status::now_unix() as i64);
        if left < EXPIRY_WARNING_SECS && self.expiry_warned != Some(not_after) {
            self.expiry_warned = Some(not_after);
            let file = cfg
                .identity
                .cert_file
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            log::warn!(
                "{file}: client certificate expires on {} (in {} days); renew it",
                identity::time::format(not_after),
                left / 86_400
            );
        }
    }

    pub(super) fn start_handshake(
        &mut self,
        sock: mio::net::TcpStream,
        server: SocketAddr,
        now: Instant,
    ) -> Phase {
        let Some((tls_cfg, _, cfg)) = &self.attempt else {
            return self.failed("internal: no credentials for this attempt", now);
        };
        let name =
            tls::server_name_for(&server.ip().to_string(), cfg.remote.server_name.as_deref());
        match rustls::ClientConnection::new(tls_cfg.clone(), name) {
            Ok(conn) => {
                self.set_state(State::Handshaking);
                let mut link = Link::new(sock, conn);
                match self.handshake_io(&mut link) {
                    Ok(()) => Phase::Handshaking {
                        link,
                        server,
                        deadline: now + HANDSHAKE_TIMEOUT,
                    },
                    Err(Broken(why)) => {
                        self.failed(&format!("{server}: TLS handshake failed: {why}"), now)
                    }
                }
            }
            Err(e) => self.failed(&format!("TLS: {e}"), now),
        }
    }

    pub(super) fn handshake_io(&mut self, link: &mut Link) -> Result<(), Broken> {
        link.flush()?;
        // Packets may follow the server's last handshake message in the same read: keep them.
        let (ours, allow_v4) = (self.settings.address, self.settings.allow_ipv4);
        let (tun, stats, gro) = (&self.tun, &mut self.stats, &mut self.gro);
        let reading = link.read(
            READ_BUDGET_BYTES,
            |_| {},
            |p| {
                ingress(tun, gro, stats, ours, allow_v4, p);
            },
        );
        flush_gro(tun, gro, stats);
        reading?;
        link.flush()?;
        Ok(())
    }

    pub(super) fn established(&mut self, link: Link, server: SocketAddr, now: Instant) -> Phase {
        let (period, timeout) = match &self.attempt {
            Some((_, _, cfg)) => (cfg.remote.heartbeat_period, cfg.remote.heartbeat_timeout),
            None => (Duration::from_secs(300), Duration::from_secs(10)),
        };
        log::info!("TLS session with {server} up; waiting for the first heartbeat reply");
        self.targets.clear();
        self.stats.server = Some(server.to_string());
        self.stats.connected_since = Some(SystemTime::now());
        self.tun_ready = true;
        Phase::Up {
            link,
            server,
            since: now,
            beat: Heartbeat::new(period, timeout, now),
            ready: false,
        }
    }
}

/// Modification times of the credential files, to notice a replacement.
pub(super) fn stamps(cfg: &config::Config) -> Option<Vec<SystemTime>> {
    let files = [
        Some(&cfg.remote.ca_cert_file),
        cfg.identity.cert_file.as_ref(),
        cfg.identity.key_file.as_ref(),
    ];
    files
        .iter()
        .flatten()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

//! The tunnel's data path while the session is up: packets from the server to the tun (through
//! the ingress filter, heartbeat replies taken out), from the tun to the send queue (through the
//! egress filter, with back-pressure), and the readiness check.

use super::*;

impl Engine {
    /// Moves packets both ways and runs the heartbeat; an error ends the session.
    pub(super) fn pump(
        &mut self,
        link: &mut Link,
        beat: &mut Heartbeat,
        now: Instant,
    ) -> Result<(), Broken> {
        let ours = self.settings.address;
        let allow_v4 = self.settings.allow_ipv4;
        let (tun, stats) = (&self.tun, &mut self.stats);
        let mut got_any = false;
        let mut replied = false;
        let reading = link.read(READ_BUDGET_BYTES, |_, p| {
            got_any = true;
            replied |= ingress(tun, stats, ours, allow_v4, p);
        })?;
        if got_any {
            beat.received(now);
            self.stats.last_rx = Some(SystemTime::now());
        }
        if replied {
            beat.reply_received(now);
            self.stats.heartbeat_answered = Some(SystemTime::now());
            self.stats.heartbeat_rtt = beat.last_rtt();
        }
        match beat.poll(now) {
            Beat::SendRequest => {
                if !link.out.push(&heartbeat::request(ours)) {
                    log::debug!("heartbeat request not queued: send path full");
                }
            }
            Beat::Dead => {
                return Err(Broken(format!(
                    "no heartbeat reply within {} ms (remote.heartbeat_timeout)",
                    beat.timeout().as_millis()
                )))
            }
            Beat::Nothing => {}
        }
        self.read_tun(link);
        let blocked = link.flush()?;
        // The socket took everything: the tun may have more waiting behind the high-water mark.
        if !blocked && self.tun_ready {
            self.read_tun(link);
            link.flush()?;
        }
        if reading == Reading::More {
            // More is waiting on the socket; edge-triggered readiness will not say so again.
            self.poll
                .registry()
                .reregister(
                    &mut link.sock,
                    SOCK,
                    Interest::READABLE | Interest::WRITABLE,
                )
                .ok();
        }
        Ok(())
    }

    /// Reads packets from the tun into the send queue until it would block or the queue is full.
    pub(super) fn read_tun(&mut self, link: &mut Link) {
        let mut buf = [0u8; PACKET_BUF_BYTES];
        while self.tun_ready && link.out.len() < HIGH_WATER_BYTES {
            match self.tun.read(&mut buf) {
                Ok(n) => {
                    let p = &buf[..n];
                    match packet::egress(p, self.settings.address, self.settings.allow_ipv4) {
                        Ok(_) if link.out.push(p) => {
                            self.stats.tx_packets += 1;
                            self.stats.tx_bytes += n as u64;
                        }
                        Ok(_) => self.stats.drop("send_queue_full"),
                        // Neighbour discovery, MLD and router solicitations from the kernel never
                        // leave: they are not from our address. Not worth a counter each.
                        Err(packet::Drop::SpoofedSource) => self.stats.drop("not_from_our_address"),
                        Err(d) => self.stats.drop(d.name()),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tun_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("reading {}: {e}", self.tun.name());
                    self.tun_ready = false;
                }
            }
        }
    }

    /// Ready = first heartbeat answered and the address usable on the device.
    pub(super) fn check_ready(&mut self, beat: &Heartbeat) -> bool {
        if !beat.answered() {
            return false;
        }
        // With tun.ip_set = false the address is someone else's business (as in the reference).
        if self.settings.check_address {
            match crate::tunnel::netcfg::address_usable(self.tun.name(), self.settings.address) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    if !self.address_check_warned {
                        self.address_check_warned = true;
                        log::warn!("cannot check the address on {}: {e}", self.tun.name());
                    }
                    return false;
                }
            }
        }
        self.log_up();
        self.set_state(State::Up);
        self.retry.up();
        self.send(Event::Up);
        true
    }

    pub(super) fn log_up(&self) {
        if let Some(rtt) = self.stats.heartbeat_rtt {
            log::info!(
                "tunnel up: {} on {}, heartbeat {:.1} ms",
                self.settings.address,
                self.tun.name(),
                rtt.as_secs_f64() * 1e3
            );
        }
    }
}

/// One packet from the server: a heartbeat reply (returns true), or through the ingress filter
/// to the tun.
pub(super) fn ingress(
    tun: &Tun,
    stats: &mut crate::tunnel::Stats,
    ours: std::net::Ipv6Addr,
    allow_v4: bool,
    p: &[u8],
) -> bool {
    if heartbeat::is_reply(p, ours) {
        return true;
    }
    match packet::ingress(p, ours, allow_v4) {
        Ok(_) => match tun.write(p) {
            Ok(_) => {
                stats.rx_packets += 1;
                stats.rx_bytes += p.len() as u64;
            }
            Err(_) => stats.drop("tun_write_failed"),
        },
        Err(d) => stats.drop(d.name()),
    }
    false
}

//! The tunnel's data path while the session is up: packets from the server to the tun (through
//! the ingress filter, heartbeat replies taken out, in-order TCP joined into super-packets so a
//! read round costs a few tun writes), from the tun to the send queue (super-packets cut into
//! wire-sized segments, each through the egress filter, straight into the queue, with
//! back-pressure), and the readiness check.

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
        let (tun, stats, gro) = (&self.tun, &mut self.stats, &mut self.gro);
        let mut got_any = false;
        let mut replied = false;
        let reading = link.read(
            READ_BUDGET_BYTES,
            |_| {},
            |p| {
                got_any = true;
                replied |= ingress(tun, gro, stats, ours, allow_v4, p);
            },
        );
        // What was joined goes to the tun now, also when the session just broke.
        flush_gro(tun, gro, stats);
        let reading = reading?;
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

    /// Reads from the tun into the send queue until it would block or the queue is full.
    pub(super) fn read_tun(&mut self, link: &mut Link) {
        while self.tun_ready && link.out.len() < HIGH_WATER_BYTES {
            match self.tun.read_vnet(&mut self.tun_buf) {
                Ok(n) => self.queue_read(n, link),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.tun_ready = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::warn!("reading {}: {e}", self.tun.name());
                    self.tun_ready = false;
                }
            }
        }
    }

    /// One read: a packet, or a super-packet cut into segments written straight into the queue;
    /// every packet through the egress filter on its own.
    fn queue_read(&mut self, n: usize, link: &mut Link) {
        let (ours, allow_v4) = (self.settings.address, self.settings.allow_ipv4);
        let stats = &mut self.stats;
        match offload::prepare(&mut self.tun_buf[..n], frame::MAX_PACKET_BYTES) {
            Ok(offload::Read::One(p)) => {
                let queued = packet::egress(p, ours, allow_v4).map(|_| link.out.push(p));
                tally(stats, p.len(), queued);
            }
            Ok(offload::Read::Segments(g)) => {
                for i in 0..g.count() {
                    let len = g.len(i);
                    let queued = link.out.push_with(len, |dst| {
                        g.write(i, dst);
                        packet::egress(dst, ours, allow_v4).map(|_| ())
                    });
                    tally(stats, len, queued);
                }
            }
            Err(e) => stats.drop(e.name()),
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

/// Counts one packet from the tun: queued, or why not.
fn tally(stats: &mut crate::tunnel::Stats, len: usize, queued: Result<bool, packet::Drop>) {
    match queued {
        Ok(true) => {
            stats.tx_packets += 1;
            stats.tx_bytes += len as u64;
        }
        Ok(false) => stats.drop("send_queue_full"),
        // What the service sends is counted, not logged: it is the service's business, and the
        // kernel's neighbour discovery, MLD and router solicitations (not from our address) would
        // fill the log.
        Err(packet::Drop::SpoofedSource) => stats.drop("not_from_our_address"),
        Err(d) => stats.drop(d.name()),
    }
}

/// One packet from the server: a heartbeat reply (returns true), or through the ingress filter
/// to the coalescer (which writes to the tun whatever it does not hold).
pub(super) fn ingress(
    tun: &Tun,
    gro: &mut Coalescer,
    stats: &mut crate::tunnel::Stats,
    ours: std::net::Ipv6Addr,
    allow_v4: bool,
    p: &[u8],
) -> bool {
    if heartbeat::is_reply(p, ours) {
        return true;
    }
    match packet::ingress(p, ours, allow_v4) {
        Ok(_) => {
            stats.rx_packets += 1;
            stats.rx_bytes += p.len() as u64;
            let mut failed = 0;
            gro.push(p, &mut |h, pkt| {
                if tun.write_vnet(h, pkt).is_err() {
                    failed += 1;
                }
            });
            for _ in 0..failed {
                stats.drop("tun_write_failed");
            }
        }
        Err(d) => {
            // The server (or whoever speaks for it) sent something no ENF sends: say so.
            stats.drop(d.name());
            let n = stats.dropped(d.name());
            if crate::tunnel::worth_logging(n) {
                log::warn!(
                    "dropped a packet from the server: {} ({}; {n} so far, counted in enf-init status)",
                    d.describe(),
                    d.name()
                );
            }
        }
    }
    false
}

/// Writes what the coalescer holds: once per read round from the session.
pub(super) fn flush_gro(tun: &Tun, gro: &mut Coalescer, stats: &mut crate::tunnel::Stats) {
    let mut failed = 0;
    gro.flush(&mut |h, pkt| {
        if tun.write_vnet(h, pkt).is_err() {
            failed += 1;
        }
    });
    for _ in 0..failed {
        stats.drop("tun_write_failed");
    }
}

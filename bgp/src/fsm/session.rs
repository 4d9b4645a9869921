//! One BGP session's FSM: RFC 4271 §8.2.2, state by state.
//!
//! Each `on_<state>` method follows the RFC's list for that state. Departures, each noted at
//! the code: optional attributes are fixed (SendNOTIFICATIONwithoutOPEN on, DampPeerOscillations
//! on via the IdleHoldTimer, CollisionDetectEstablishedState off), a NOTIFICATION is never
//! answered with one, and a passive session never initiates a connection.

use std::time::{Duration, Instant};

use crate::wire::{
    CeaseSubcode, ErrorCode, Notification, notification::FsmErrorSubcode,
    notification::OpenMessageError,
};

use super::negotiate::{Negotiated, check_open};
use super::{Action, Event, LARGE_HOLD_TIME, SessionConfig, State};

/// How the session was started, remembered so the IdleHoldTimer can restart it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartMode {
    Active,
    Passive,
}

/// The timers of RFC 4271 §8 (plus RFC 9687's SendHoldTimer), as deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    ConnectRetry,
    Hold,
    Keepalive,
    DelayOpen,
    IdleHold,
    SendHold,
}

const TIMERS: [Timer; 6] = [
    Timer::ConnectRetry,
    Timer::Hold,
    Timer::Keepalive,
    Timer::DelayOpen,
    Timer::IdleHold,
    Timer::SendHold,
];

/// What happens to the ConnectRetryCounter on the way to Idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    Increment,
    Reset,
    Keep,
}

/// The FSM of one connection to one peer.
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    state: State,
    connect_retry_counter: u32,
    start_mode: Option<StartMode>,
    consecutive_failures: u32,
    established_at: Option<Instant>,
    negotiated: Option<Negotiated>,
    deadlines: [Option<Instant>; 6],
}

impl Session {
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            state: State::Idle,
            connect_retry_counter: 0,
            start_mode: None,
            consecutive_failures: 0,
            established_at: None,
            negotiated: None,
            deadlines: [None; 6],
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The negotiated parameters, from OpenConfirm on.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn connect_retry_counter(&self) -> u32 {
        self.connect_retry_counter
    }

    /// The deadline of one timer, `None` when it is not running.
    pub fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// The earliest running timer: the driver sleeps until then and calls
    /// [`Session::handle_timeout`].
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Fires every timer whose deadline is at or before `now`, earliest first.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        // Each firing clears its timer; restarted timers lie in the future (durations are
        // non-zero), so this ends. The bound guards against zero durations in a config.
        for _ in 0..TIMERS.len() * 2 {
            let Some(timer) = TIMERS
                .iter()
                .filter(|t| self.deadline(**t).is_some_and(|d| d <= now))
                .min_by_key(|t| self.deadline(**t))
                .copied()
            else {
                break;
            };
            self.set(timer, None);
            let event = match timer {
                Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
                Timer::Hold => Event::HoldTimerExpires,
                Timer::Keepalive => Event::KeepaliveTimerExpires,
                Timer::DelayOpen => Event::DelayOpenTimerExpires,
                Timer::IdleHold => Event::IdleHoldTimerExpires,
                Timer::SendHold => Event::SendHoldTimerExpires,
            };
            actions.extend(self.handle(event, now));
        }
        actions
    }

    /// Processes one event at time `now`.
    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let from = self.state;
        let mut out = Vec::new();
        match self.state {
            State::Idle => self.on_idle(event, now, &mut out),
            State::Connect | State::Active => self.on_connect_or_active(event, now, &mut out),
            State::OpenSent => self.on_open_sent(event, now, &mut out),
            State::OpenConfirm => self.on_open_confirm(event, now, &mut out),
            State::Established => self.on_established(event, now, &mut out),
        }
        if self.state != from {
            tracing::debug!(from = ?from, to = ?self.state, "bgp fsm transition");
            out.push(Action::StateChange {
                from,
                to: self.state,
            });
        }
        out
    }

    fn set(&mut self, timer: Timer, deadline: Option<Instant>) {
        self.deadlines[timer as usize] = deadline;
    }

    fn running(&self, timer: Timer) -> bool {
        self.deadline(timer).is_some()
    }

    fn start_connect_retry(&mut self, now: Instant) {
        self.set(
            Timer::ConnectRetry,
            Some(now + self.config.connect_retry_time),
        );
    }

    /// Idle, events 1/3 (active) and 4/5 (passive).
    fn start(&mut self, mode: StartMode, now: Instant, out: &mut Vec<Action>) {
        self.start_mode = Some(mode);
        self.start_connect_retry(now);
        match mode {
            StartMode::Active => {
                out.push(Action::Connect);
                self.state = State::Connect;
            }
            StartMode::Passive => self.state = State::Active,
        }
    }

    fn on_idle(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        match event {
            // A manual start overrides damping: the operator asked for it now.
            Event::ManualStart | Event::ManualStartWithPassiveTcpEstablishment => {
                self.connect_retry_counter = 0;
                self.consecutive_failures = 0;
                self.set(Timer::IdleHold, None);
                let mode = if event == Event::ManualStart {
                    StartMode::Active
                } else {
                    StartMode::Passive
                };
                self.start(mode, now, out);
            }
            // §8.1.1 DampPeerOscillations: automatic starts wait for the IdleHoldTimer.
            Event::AutomaticStart | Event::AutomaticStartWithPassiveTcpEstablishment
                if self.running(Timer::IdleHold) => {}
            Event::AutomaticStart => self.start(StartMode::Active, now, out),
            Event::AutomaticStartWithPassiveTcpEstablishment => {
                self.start(StartMode::Passive, now, out)
            }
            Event::IdleHoldTimerExpires => {
                if let Some(mode) = self.start_mode {
                    self.start(mode, now, out);
                }
            }
            // "Any other event ... received in the Idle state does not cause change in the
            // state of the local system."
            _ => {}
        }
    }

    /// After the TCP connection is up (Connect and Active, events 16/17).
    fn connection_up(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.set(Timer::ConnectRetry, None);
        if let Some(delay) = self.config.delay_open_time {
            self.set(Timer::DelayOpen, Some(now + delay));
        } else {
            self.send_open(now, out);
        }
    }

    fn send_open(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::SendOpen(self.config.open()));
        self.set(Timer::Hold, Some(now + LARGE_HOLD_TIME));
        self.state = State::OpenSent;
    }

    /// Connect and Active share all but three transitions (RFC 4271 §8.2.2).
    fn on_connect_or_active(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        let connect = self.state == State::Connect;
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithPassiveTcpEstablishment => {}
            Event::ManualStop { communication } => {
                // Active with DelayOpen running has a connection to tell (Active, event 2).
                if self.running(Timer::DelayOpen) {
                    out.push(Action::SendNotification(cease(
                        CeaseSubcode::AdministrativeShutdown,
                        communication,
                    )));
                }
                self.go_idle(now, Counter::Reset, false, out);
            }
            Event::ConnectRetryTimerExpires => {
                self.start_connect_retry(now);
                self.set(Timer::DelayOpen, None);
                // A passive session keeps waiting for the peer (PassiveTcpEstablishment).
                if self.start_mode == Some(StartMode::Active) {
                    out.push(Action::DropConnection);
                    out.push(Action::Connect);
                    self.state = State::Connect;
                }
            }
            Event::DelayOpenTimerExpires => {
                self.set(Timer::ConnectRetry, None);
                self.send_open(now, out);
            }
            Event::TcpCrAcked | Event::TcpConnectionConfirmed => self.connection_up(now, out),
            Event::TcpConnectionFails if connect && self.running(Timer::DelayOpen) => {
                self.start_connect_retry(now);
                self.set(Timer::DelayOpen, None);
                self.state = State::Active;
            }
            // Connect: "drops the TCP connection, releases all BGP resources, and changes its
            // state to Idle" (no counter change); Active: increments the counter.
            Event::TcpConnectionFails => {
                let counter = if connect {
                    Counter::Keep
                } else {
                    Counter::Increment
                };
                self.go_idle(now, counter, true, out);
            }
            Event::BgpOpen(open) if self.running(Timer::DelayOpen) => {
                self.set(Timer::ConnectRetry, None);
                self.set(Timer::DelayOpen, None);
                out.push(Action::SendOpen(self.config.open()));
                self.accept_open(&open, now, out);
            }
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) => {
                out.push(Action::SendNotification(n));
                self.go_idle(now, Counter::Increment, true, out);
            }
            Event::NotifMsg(n) if is_version_error(&n) => {
                let counter = if self.running(Timer::DelayOpen) {
                    Counter::Keep
                } else {
                    Counter::Increment
                };
                self.go_idle(now, counter, true, out);
            }
            Event::AutomaticStop { .. } => self.go_idle(now, Counter::Increment, false, out),
            Event::SendProgress => {}
            _ => self.go_idle(now, Counter::Increment, true, out),
        }
    }

    /// Checks the peer's OPEN; on success KEEPALIVE, timers from the negotiated hold time,
    /// and OpenConfirm (OpenSent event 19; Connect/Active event 20).
    fn accept_open(&mut self, open: &crate::wire::Open, now: Instant, out: &mut Vec<Action>) {
        match check_open(open, &self.config) {
            Ok(negotiated) => {
                self.set(Timer::DelayOpen, None);
                self.set(Timer::ConnectRetry, None);
                out.push(Action::SendKeepalive);
                self.arm_negotiated_timers(&negotiated, now);
                self.negotiated = Some(negotiated);
                self.state = State::OpenConfirm;
            }
            // Event 22 (BGPOpenMsgErr): the NOTIFICATION of the failed check.
            Err(e) => {
                tracing::debug!(error = %e, "OPEN rejected");
                out.push(Action::SendNotification(e.notification()));
                self.go_idle(now, Counter::Increment, true, out);
            }
        }
    }

    /// "If the value of the autonomous system field is the same as the local Autonomous System
    /// number, set the connection status to an internal connection" — and: a negotiated hold
    /// time of zero runs neither the HoldTimer nor the KeepaliveTimer (RFC 4271 §4.4).
    fn arm_negotiated_timers(&mut self, negotiated: &Negotiated, now: Instant) {
        if negotiated.hold_time.is_zero() {
            self.set(Timer::Hold, None);
            self.set(Timer::Keepalive, None);
        } else {
            self.set(Timer::Hold, Some(now + negotiated.hold_time));
            self.set(Timer::Keepalive, Some(now + negotiated.keepalive_time));
        }
    }

    fn restart_hold(&mut self, now: Instant) {
        if let Some(n) = self.negotiated.as_ref().filter(|n| !n.hold_time.is_zero()) {
            let hold = n.hold_time;
            self.set(Timer::Hold, Some(now + hold));
        }
    }

    fn restart_keepalive(&mut self, now: Instant) {
        if let Some(n) = self
            .negotiated
            .as_ref()
            .filter(|n| !n.keepalive_time.is_zero())
        {
            let keepalive = n.keepalive_time;
            self.set(Timer::Keepalive, Some(now + keepalive));
        }
    }

    /// Events every state from OpenSent on treats alike; returns the event if not handled.
    fn common_open_states(
        &mut self,
        event: Event,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Option<Event> {
        match event {
            Event::ManualStart
            | Event::AutomaticStart
            | Event::ManualStartWithPassiveTcpEstablishment
            | Event::AutomaticStartWithPassiveTcpEstablishment => {}
            Event::ManualStop { communication } => {
                out.push(Action::SendNotification(cease(
                    CeaseSubcode::AdministrativeShutdown,
                    communication,
                )));
                self.go_idle(now, Counter::Reset, false, out);
            }
            Event::AutomaticStop { subcode } => {
                out.push(Action::SendNotification(Notification::bare(
                    ErrorCode::Cease(subcode),
                )));
                self.go_idle(now, Counter::Increment, false, out);
            }
            Event::HoldTimerExpires => {
                out.push(Action::SendNotification(Notification::bare(
                    ErrorCode::HoldTimerExpired,
                )));
                self.go_idle(now, Counter::Increment, true, out);
            }
            Event::BgpHeaderErr(n) | Event::BgpOpenMsgErr(n) | Event::UpdateMsgErr(n) => {
                out.push(Action::SendNotification(n));
                self.go_idle(now, Counter::Increment, true, out);
            }
            Event::OpenCollisionDump => {
                out.push(Action::SendNotification(Notification::bare(
                    ErrorCode::Cease(CeaseSubcode::ConnectionCollisionResolution),
                )));
                self.go_idle(now, Counter::Increment, true, out);
            }
            // NotifMsgVerErr (24): no counter change; NotifMsg (25): counter + 1. A
            // NOTIFICATION is never answered with one (the RFC's OpenSent list would send an
            // FSM error; the peer has closed by then).
            Event::NotifMsg(n) => {
                let counter = if is_version_error(&n) {
                    Counter::Keep
                } else {
                    Counter::Increment
                };
                self.go_idle(now, counter, true, out);
            }
            Event::SendProgress if self.state != State::Established => {}
            other => return Some(other),
        }
        None
    }

    fn on_open_sent(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        let Some(event) = self.common_open_states(event, now, out) else {
            return;
        };
        match event {
            // "closes the BGP connection, restarts the ConnectRetryTimer, continues to listen
            // for a connection that may be initiated by the remote BGP peer, and changes its
            // state to Active."
            Event::TcpConnectionFails => {
                out.push(Action::DropConnection);
                self.set(Timer::Hold, None);
                self.start_connect_retry(now);
                self.state = State::Active;
            }
            Event::BgpOpen(open) => self.accept_open(&open, now, out),
            other => self.fsm_error(
                &other,
                FsmErrorSubcode::UnexpectedMessageInOpenSent,
                now,
                out,
            ),
        }
    }

    fn on_open_confirm(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        let Some(event) = self.common_open_states(event, now, out) else {
            return;
        };
        match event {
            Event::KeepaliveTimerExpires => {
                out.push(Action::SendKeepalive);
                self.restart_keepalive(now);
            }
            Event::TcpConnectionFails => self.go_idle(now, Counter::Increment, true, out),
            Event::KeepAliveMsg => {
                self.restart_hold(now);
                self.established_at = Some(now);
                self.arm_send_hold(now);
                self.state = State::Established;
                if let Some(n) = &self.negotiated {
                    out.push(Action::SessionEstablished(n.clone()));
                }
            }
            other => self.fsm_error(
                &other,
                FsmErrorSubcode::UnexpectedMessageInOpenConfirm,
                now,
                out,
            ),
        }
    }

    fn on_established(&mut self, event: Event, now: Instant, out: &mut Vec<Action>) {
        let Some(event) = self.common_open_states(event, now, out) else {
            return;
        };
        match event {
            Event::KeepaliveTimerExpires => {
                out.push(Action::SendKeepalive);
                self.restart_keepalive(now);
            }
            // "restarts its HoldTimer, if the negotiated HoldTime value is non-zero".
            Event::KeepAliveMsg | Event::UpdateMsg | Event::RouteRefreshMsg => {
                self.restart_hold(now)
            }
            Event::TcpConnectionFails => self.go_idle(now, Counter::Increment, true, out),
            // RFC 9687: bytes left our send queue, so the peer is reading.
            Event::SendProgress => {
                if self.running(Timer::SendHold) {
                    self.arm_send_hold(now);
                }
            }
            // RFC 9687 §4: the peer is not reading; tell it if the socket still takes bytes.
            Event::SendHoldTimerExpires => {
                out.push(Action::SendNotification(Notification::bare(
                    ErrorCode::SendHoldTimerExpired,
                )));
                self.go_idle(now, Counter::Increment, true, out);
            }
            other => self.fsm_error(
                &other,
                FsmErrorSubcode::UnexpectedMessageInEstablished,
                now,
                out,
            ),
        }
    }

    /// RFC 9687 §3: SendHoldTime defaults to "8 minutes or 2 times the negotiated Hold Time,
    /// whichever is greater"; not used with a zero hold time.
    fn arm_send_hold(&mut self, now: Instant) {
        let Some(hold) = self
            .negotiated
            .as_ref()
            .map(|n| n.hold_time)
            .filter(|h| !h.is_zero())
        else {
            return;
        };
        let send_hold = self
            .config
            .send_hold_time
            .unwrap_or((hold * 2).max(Duration::from_secs(480)));
        self.set(Timer::SendHold, Some(now + send_hold));
    }

    /// "Any other event": NOTIFICATION with FSM Error (RFC 6608 subcode for unexpected
    /// messages, 0 for anything else), counter + 1, Idle.
    fn fsm_error(
        &mut self,
        event: &Event,
        subcode: FsmErrorSubcode,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let is_message = matches!(
            event,
            Event::BgpOpen(_) | Event::KeepAliveMsg | Event::UpdateMsg | Event::RouteRefreshMsg
        );
        let subcode = if is_message {
            subcode
        } else {
            FsmErrorSubcode::Unspecified
        };
        tracing::debug!(state = ?self.state, event = ?event, "unexpected event");
        out.push(Action::SendNotification(Notification::bare(
            ErrorCode::FiniteStateMachine(subcode),
        )));
        self.go_idle(now, Counter::Increment, true, out);
    }

    /// The common way down: timers stopped, connection dropped, routes flushed if the session
    /// was up, counter updated, and — for failures of a started session — the IdleHoldTimer
    /// armed with exponential backoff (§8.1.1 DampPeerOscillations).
    fn go_idle(&mut self, now: Instant, counter: Counter, restart: bool, out: &mut Vec<Action>) {
        out.push(Action::DropConnection);
        if self.state == State::Established {
            out.push(Action::SessionDown);
        }
        self.deadlines = [None; 6];
        match counter {
            Counter::Increment => {
                self.connect_retry_counter = self.connect_retry_counter.saturating_add(1)
            }
            Counter::Reset => self.connect_retry_counter = 0,
            Counter::Keep => {}
        }
        let was_stable = self
            .established_at
            .is_some_and(|t| now.saturating_duration_since(t) >= self.config.stable_time);
        self.established_at = None;
        self.negotiated = None;
        self.state = State::Idle;
        if !restart {
            self.start_mode = None;
            self.consecutive_failures = 0;
            return;
        }
        if self.start_mode.is_none() {
            return;
        }
        self.consecutive_failures = if was_stable {
            1
        } else {
            self.consecutive_failures.saturating_add(1)
        };
        self.set(Timer::IdleHold, Some(now + self.idle_hold_time()));
    }

    /// IdleHoldTime × 2^(failures − 1), capped.
    fn idle_hold_time(&self) -> Duration {
        let doublings = self.consecutive_failures.saturating_sub(1).min(16);
        self.config
            .idle_hold_time
            .saturating_mul(1 << doublings)
            .min(self.config.max_idle_hold_time)
    }
}

fn is_version_error(n: &Notification) -> bool {
    n.error == ErrorCode::OpenMessage(OpenMessageError::UnsupportedVersionNumber)
}

/// Cease with an optional shutdown communication (RFC 9003); a message too long to send is
/// cut at a character boundary to 255 octets.
fn cease(subcode: CeaseSubcode, communication: Option<String>) -> Notification {
    let Some(mut text) = communication else {
        return Notification::bare(ErrorCode::Cease(subcode));
    };
    while text.len() > 255 {
        text.pop();
    }
    Notification::cease_with_communication(subcode, &text)
        .unwrap_or_else(|_| Notification::bare(ErrorCode::Cease(subcode)))
}

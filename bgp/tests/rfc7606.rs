//! RFC 7606 table: malformed UPDATEs (RFC 7606 §3–§7, RFC 6793 §6, RFC 8092 §6, RFC 4271
//! §6.3), each with the outcome it must get and the NOTIFICATION (code, subcode, data) sent
//! when the outcome is a session reset. Each row names the clause it checks.

use margay_bgp::wire::{
    self, Attribute, Outcome, PeerType, SessionContext, Update, UpdateError, attribute::type_code,
};

// ---- a tiny UPDATE builder: raw bytes, so anything malformed can be said ----

fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, code, u8::try_from(value.len()).expect("short value")];
    a.extend_from_slice(value);
    a
}

fn message(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u16::try_from(withdrawn.len()).expect("short").to_be_bytes());
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&u16::try_from(attrs.len()).expect("short").to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    raw_message(&body)
}

fn raw_message(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&u16::try_from(19 + body.len()).expect("short").to_be_bytes());
    m.push(2);
    m.extend_from_slice(body);
    m
}

const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
/// AS_PATH SEQUENCE [65002], 2-octet.
const AS_PATH_2: &[u8] = &[0x40, 2, 4, 2, 1, 0xfd, 0xea];
/// AS_PATH SEQUENCE [65002], 4-octet.
const AS_PATH_4: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xea];
const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];
const NLRI: &[u8] = &[24, 10, 0, 0];

/// ORIGIN, AS_PATH, NEXT_HOP for the session's AS width, then `extra`.
fn with_mandatory(as_path: &[u8], extra: &[&[u8]]) -> Vec<u8> {
    let mut a = [ORIGIN, as_path, NEXT_HOP].concat();
    for e in extra {
        a.extend_from_slice(e);
    }
    a
}

/// The usual UPDATE of a 2-octet session, plus `extra` attributes.
fn ebgp2(extra: &[&[u8]]) -> Vec<u8> {
    message(&[], &with_mandatory(AS_PATH_2, extra), NLRI)
}

fn four(extra: &[&[u8]]) -> Vec<u8> {
    message(&[], &with_mandatory(AS_PATH_4, extra), NLRI)
}

fn ctx(peer_type: PeerType, four_octet_as: bool) -> SessionContext {
    SessionContext {
        peer_type,
        four_octet_as,
        ..SessionContext::default()
    }
}

const EBGP2: fn() -> SessionContext = || ctx(PeerType::External, false);
const EBGP4: fn() -> SessionContext = || ctx(PeerType::External, true);
const IBGP4: fn() -> SessionContext = || ctx(PeerType::Internal, true);

/// MP_REACH_NLRI IPv6 unicast with next hop `nh` and NLRI `nlri`.
fn mp_reach_v6(nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 2, 1, u8::try_from(nh.len()).expect("short")];
    v.extend_from_slice(nh);
    v.push(0);
    v.extend_from_slice(nlri);
    attr(0x80, 14, &v)
}

const V6_NH: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_64: &[u8] = &[64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0];

/// (code, subcode, data) of a NOTIFICATION that is sent.
type Sent = Option<(u8, u8, Vec<u8>)>;

struct Row {
    name: &'static str,
    rfc: &'static str,
    ctx: SessionContext,
    bytes: Vec<u8>,
    outcome: Option<Outcome>,
    /// (code, subcode, data) of the NOTIFICATION sent; `None` when none is sent.
    sent: Sent,
}

fn rows() -> Vec<Row> {
    use Outcome::*;
    let row = |name, rfc, ctx: fn() -> SessionContext, bytes, outcome, sent| Row {
        name,
        rfc,
        ctx: ctx(),
        bytes,
        outcome,
        sent,
    };
    let unknown_wk = attr(0x40, 99, &[1, 2]);
    let mp_short = attr(0x80, 14, &[0, 2]);
    vec![
        row(
            "ORIGIN of length 2",
            "RFC 7606 §7.1",
            EBGP2,
            message(
                &[],
                &[&attr(0x40, 1, &[0, 0])[..], AS_PATH_2, NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "ORIGIN value 3",
            "RFC 7606 §7.1",
            EBGP2,
            message(
                &[],
                &[&attr(0x40, 1, &[3])[..], AS_PATH_2, NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "ORIGIN flagged optional",
            "RFC 7606 §3 (c)",
            EBGP2,
            message(
                &[],
                &[&attr(0xc0, 1, &[0])[..], AS_PATH_2, NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "AS_PATH segment type 5",
            "RFC 7606 §7.2",
            EBGP2,
            message(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[5, 1, 0xfd, 0xea])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "AS_PATH segment of length 0",
            "RFC 7606 §7.2",
            EBGP2,
            message(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[2, 0])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "AS_PATH segment overrun",
            "RFC 7606 §7.2",
            EBGP2,
            message(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[2, 3, 0xfd, 0xea])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "AS_PATH with one octet after the last segment",
            "RFC 7606 §7.2",
            EBGP2,
            message(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[2, 1, 0xfd, 0xea, 2])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "AS_CONFED_SEQUENCE from an external peer",
            "RFC 7606 §7.2",
            EBGP2,
            message(
                &[],
                &[
                    ORIGIN,
                    &attr(0x40, 2, &[3, 1, 0xfd, 0xe9, 2, 1, 0xfd, 0xea])[..],
                    NEXT_HOP,
                ]
                .concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "NEXT_HOP of length 5",
            "RFC 7606 §7.3",
            EBGP2,
            message(
                &[],
                &[ORIGIN, AS_PATH_2, &attr(0x40, 3, &[192, 0, 2, 1, 0])[..]].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "NEXT_HOP 0.0.0.0",
            "RFC 7606 §7.3, RFC 4271 §6.3",
            EBGP2,
            message(
                &[],
                &[ORIGIN, AS_PATH_2, &attr(0x40, 3, &[0, 0, 0, 0])[..]].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "NEXT_HOP multicast 224.0.0.5",
            "RFC 7606 §7.3, RFC 4271 §6.3",
            EBGP2,
            message(
                &[],
                &[ORIGIN, AS_PATH_2, &attr(0x40, 3, &[224, 0, 0, 5])[..]].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "MULTI_EXIT_DISC of length 3",
            "RFC 7606 §7.4",
            EBGP2,
            ebgp2(&[&attr(0x80, 4, &[0, 0, 1])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "MULTI_EXIT_DISC flagged transitive",
            "RFC 7606 §3 (c)",
            EBGP2,
            ebgp2(&[&attr(0xc0, 4, &[0, 0, 0, 1])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "LOCAL_PREF from an external peer",
            "RFC 7606 §7.5",
            EBGP2,
            ebgp2(&[&attr(0x40, 5, &[0, 0, 0, 100])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "LOCAL_PREF of length 2 from an internal peer",
            "RFC 7606 §7.5",
            IBGP4,
            four(&[&attr(0x40, 5, &[0, 100])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "ATOMIC_AGGREGATE of length 1",
            "RFC 7606 §7.6",
            EBGP2,
            ebgp2(&[&attr(0x40, 6, &[0])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AGGREGATOR of length 7 on a 2-octet session",
            "RFC 7606 §7.7",
            EBGP2,
            ebgp2(&[&attr(0xc0, 7, &[0xfd, 0xea, 192, 0, 2, 1, 0])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AGGREGATOR of length 6 on a 4-octet session",
            "RFC 7606 §7.7",
            EBGP4,
            four(&[&attr(0xc0, 7, &[0xfd, 0xea, 192, 0, 2, 1])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AGGREGATOR flagged well-known",
            "RFC 7606 §3 (c), §7.7",
            EBGP2,
            ebgp2(&[&attr(0x40, 7, &[0xfd, 0xea, 192, 0, 2, 1])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "COMMUNITIES of length 5",
            "RFC 7606 §7.8",
            EBGP2,
            ebgp2(&[&attr(0xc0, 8, &[0, 1, 0, 2, 0])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "COMMUNITIES of length 0",
            "RFC 7606 §7.8",
            EBGP2,
            ebgp2(&[&attr(0xc0, 8, &[])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "ORIGINATOR_ID of length 3 from an internal peer",
            "RFC 7606 §7.9",
            IBGP4,
            four(&[&attr(0x80, 9, &[10, 0, 0])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "ORIGINATOR_ID from an external peer",
            "RFC 4456 §8",
            EBGP2,
            ebgp2(&[&attr(0x80, 9, &[10, 0, 0, 1])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "CLUSTER_LIST of length 6",
            "RFC 7606 §7.10",
            IBGP4,
            four(&[&attr(0x80, 10, &[10, 0, 0, 1, 0, 0])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "EXTENDED_COMMUNITIES of length 7",
            "RFC 7606 §7.14",
            EBGP2,
            ebgp2(&[&attr(0xc0, 16, &[0; 7])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "LARGE_COMMUNITIES of length 11",
            "RFC 8092 §6",
            EBGP2,
            ebgp2(&[&attr(0xe0, 32, &[0; 11])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "MP_REACH_NLRI IPv6 next hop of length 8",
            "RFC 7606 §7.11",
            EBGP4,
            message(
                &[],
                &[ORIGIN, AS_PATH_4, &mp_reach_v6(&[0; 8], V6_64)[..]].concat(),
                &[],
            ),
            Some(AfiSafiDisable),
            None,
        ),
        row(
            "MP_REACH_NLRI IPv6 prefix length 129",
            "RFC 7606 §7.11, §5.3",
            EBGP4,
            message(
                &[],
                &[ORIGIN, AS_PATH_4, &mp_reach_v6(&V6_NH, &[129, 0x20])[..]].concat(),
                &[],
            ),
            Some(AfiSafiDisable),
            None,
        ),
        row(
            "MP_REACH_NLRI too short for AFI and SAFI",
            "RFC 7606 §7.11, §5.3",
            EBGP4,
            message(&[], &[ORIGIN, AS_PATH_4, &mp_short[..]].concat(), &[]),
            Some(SessionReset),
            Some((3, 9, mp_short.clone())),
        ),
        row(
            "MP_UNREACH_NLRI with a truncated prefix",
            "RFC 7606 §7.12",
            EBGP4,
            message(&[], &attr(0x80, 15, &[0, 2, 1, 64, 0x20, 0x01]), &[]),
            Some(AfiSafiDisable),
            None,
        ),
        row(
            "MP_REACH_NLRI twice",
            "RFC 7606 §3 (e)",
            EBGP4,
            message(
                &[],
                &[
                    ORIGIN,
                    AS_PATH_4,
                    &mp_reach_v6(&V6_NH, V6_64)[..],
                    &mp_reach_v6(&V6_NH, V6_64)[..],
                ]
                .concat(),
                &[],
            ),
            Some(SessionReset),
            Some((3, 1, vec![])),
        ),
        row(
            "ORIGIN twice",
            "RFC 7606 §3 (g)",
            EBGP2,
            ebgp2(&[ORIGIN]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "ORIGIN missing",
            "RFC 7606 §3 (d)",
            EBGP2,
            message(&[], &[AS_PATH_2, NEXT_HOP].concat(), NLRI),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "NEXT_HOP missing with IPv4 NLRI",
            "RFC 7606 §3 (d)",
            EBGP2,
            message(&[], &[ORIGIN, AS_PATH_2].concat(), NLRI),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "only MP_UNREACH_NLRI needs no mandatory attribute",
            "RFC 7606 §3 (d), RFC 4760 §4",
            EBGP4,
            message(
                &[],
                &attr(0x80, 15, &[0, 2, 1, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0]),
                &[],
            ),
            None,
            None,
        ),
        row(
            "attribute length runs past the attribute field",
            "RFC 7606 §4",
            EBGP2,
            message(
                &[],
                &[ORIGIN, AS_PATH_2, &[0x40, 3, 9, 192, 0, 2, 1][..]].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "two octets left in the attribute field",
            "RFC 7606 §4",
            EBGP2,
            message(
                &[],
                &[ORIGIN, AS_PATH_2, NEXT_HOP, &[0x40, 6][..]].concat(),
                NLRI,
            ),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "Total Path Attribute Length overruns the message",
            "RFC 4271 §6.3, RFC 7606 §4",
            EBGP2,
            raw_message(&[0, 0, 0, 50, 0x40, 1, 1, 0]),
            Some(SessionReset),
            Some((3, 1, vec![])),
        ),
        row(
            "Withdrawn Routes Length overruns the message",
            "RFC 4271 §6.3",
            EBGP2,
            raw_message(&[0, 40, 24, 10, 0, 0, 0, 0]),
            Some(SessionReset),
            Some((3, 1, vec![])),
        ),
        row(
            "NLRI prefix length 33",
            "RFC 7606 §5.3",
            EBGP2,
            message(&[], &with_mandatory(AS_PATH_2, &[]), &[33, 10, 0, 0, 0, 0]),
            Some(SessionReset),
            Some((3, 10, vec![])),
        ),
        row(
            "withdrawn prefix length 40",
            "RFC 7606 §5.3",
            EBGP2,
            message(&[40, 10, 0, 0, 0, 0], &[], &[]),
            Some(SessionReset),
            Some((3, 10, vec![])),
        ),
        row(
            "NLRI prefix cut short",
            "RFC 7606 §5.3",
            EBGP2,
            message(&[], &with_mandatory(AS_PATH_2, &[]), &[24, 10, 0]),
            Some(SessionReset),
            Some((3, 10, vec![])),
        ),
        row(
            "unrecognized well-known attribute",
            "RFC 4271 §6.3",
            EBGP2,
            ebgp2(&[&unknown_wk]),
            Some(SessionReset),
            Some((3, 2, unknown_wk.clone())),
        ),
        row(
            "unrecognized optional transitive attribute is kept",
            "RFC 4271 §5",
            EBGP2,
            ebgp2(&[&attr(0xc0, 99, &[1, 2])]),
            None,
            None,
        ),
        row(
            "AS4_PATH with a zero-length segment",
            "RFC 6793 §6",
            EBGP2,
            ebgp2(&[&attr(0xc0, 17, &[2, 0])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AS4_PATH with a confederation segment",
            "RFC 6793 §6",
            EBGP2,
            ebgp2(&[&attr(0xc0, 17, &[3, 1, 0, 0, 0xfd, 0xe9])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AS4_PATH from a 4-octet speaker",
            "RFC 6793 §6",
            EBGP4,
            four(&[&attr(0xc0, 17, &[2, 1, 0xfa, 0x56, 0xea, 0x02])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "AS4_AGGREGATOR of length 6",
            "RFC 6793 §6",
            EBGP2,
            ebgp2(&[&attr(0xc0, 18, &[0, 1, 192, 0, 2, 1])]),
            Some(AttributeDiscard),
            None,
        ),
        row(
            "attribute discard and treat-as-withdraw together rank as treat-as-withdraw",
            "RFC 7606 §2",
            EBGP2,
            ebgp2(&[&attr(0x40, 6, &[0]), &attr(0xc0, 8, &[0, 1])]),
            Some(TreatAsWithdraw),
            None,
        ),
        row(
            "a clean UPDATE",
            "RFC 4271 §4.3",
            EBGP2,
            ebgp2(&[]),
            None,
            None,
        ),
    ]
}

/// Decodes and validates; a decode error is a session reset.
fn judge(bytes: &[u8], ctx: &SessionContext) -> (Option<Outcome>, Sent, Option<Update>) {
    match wire::decode(bytes, ctx) {
        Err(wire::MessageError::Update(e)) => {
            let n = e
                .notification()
                .map(|n| (n.error.code(), n.error.subcode(), n.data.to_vec()));
            (Some(e.outcome()), n, None)
        }
        Err(e) => panic!("not an UPDATE error: {e}"),
        Ok(decoded) => {
            let (message, verdict) = decoded.validate(ctx);
            let wire::Message::Update(update) = message else {
                panic!("not an UPDATE")
            };
            let sent = verdict
                .notification()
                .map(|n| (n.error.code(), n.error.subcode(), n.data.to_vec()));
            (verdict.outcome(), sent, Some(update))
        }
    }
}

#[test]
fn malformed_updates_get_the_rfc_7606_outcome_and_notification() {
    let rows = rows();
    assert!(rows.len() >= 25);
    let mut failures = Vec::new();
    for r in &rows {
        let (outcome, sent, _) = judge(&r.bytes, &r.ctx);
        if (outcome, &sent) != (r.outcome, &r.sent) {
            failures.push(format!(
                "{} ({}): got {outcome:?} / {sent:?}, want {:?} / {:?}",
                r.name, r.rfc, r.outcome, r.sent
            ));
        }
        if r.sent.is_some() {
            assert_eq!(
                outcome,
                Some(Outcome::SessionReset),
                "{}: a NOTIFICATION only with a reset",
                r.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn discarded_attributes_are_gone_and_the_rest_is_kept() {
    let bytes = ebgp2(&[
        &attr(0x40, 5, &[0, 0, 0, 100]),
        &attr(0x40, 6, &[0]),
        &attr(0x80, 4, &[0, 0, 0, 7]),
    ]);
    let (outcome, _, update) = judge(&bytes, &EBGP2());
    assert_eq!(outcome, Some(Outcome::AttributeDiscard));
    let update = update.expect("decoded");
    let codes: Vec<u8> = update
        .attributes
        .iter()
        .map(|a| a.value.type_code())
        .collect();
    assert_eq!(
        codes,
        vec![
            type_code::ORIGIN,
            type_code::AS_PATH,
            type_code::NEXT_HOP,
            type_code::MULTI_EXIT_DISC
        ]
    );
    assert_eq!(update.nlri.len(), 1);
}

#[test]
fn afi_safi_disable_names_the_family_and_escalates_with_optional_attribute_error() {
    let reach = mp_reach_v6(&[0; 8], V6_64);
    let bytes = message(&[], &[ORIGIN, AS_PATH_4, &reach[..]].concat(), &[]);
    let ctx = EBGP4();
    let (_, verdict) = wire::decode(&bytes, &ctx).expect("decodes").validate(&ctx);
    assert_eq!(
        verdict.disabled_families(),
        vec![wire::AfiSafi::IPV6_UNICAST]
    );
    // A speaker that cannot disable a family resets with the error's own NOTIFICATION.
    let n = verdict.errors[0].notification().expect("has one");
    assert_eq!(
        (n.error.code(), n.error.subcode(), &n.data[..]),
        (3, 9, &reach[..])
    );
}

#[test]
fn missing_well_known_attribute_names_the_type_code() {
    let e = UpdateError::MissingWellKnown {
        type_code: type_code::ORIGIN,
    };
    let n = e.notification().expect("3/3");
    assert_eq!((n.error.pair(), &n.data[..]), ((3, 3), &[1u8][..]));
}

#[test]
fn unknown_optional_transitive_attribute_is_kept_and_propagated_partial() {
    let (_, _, update) = judge(&ebgp2(&[&attr(0xc0, 99, &[1, 2])]), &EBGP2());
    let update = update.expect("decoded");
    let unknown = update
        .attributes
        .iter()
        .find(|a| matches!(a.value, Attribute::Unknown(_)))
        .expect("kept");
    assert!(!unknown.partial);
    assert!(
        unknown.for_propagation().partial,
        "RFC 4271 §5: Partial set when passed on"
    );
}

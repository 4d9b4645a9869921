//! Routing policy: per-peer import and export filters in typed, serde-loaded configuration.
//!
//! A [`Policy`] is a list of statements tried in order; the first whose conditions all hold
//! applies its actions and then accepts, rejects, or lets the next statement look
//! (`then: next`). When no statement decides, `default` does. Import policy runs over the
//! Adj-RIB-In (pre-policy, so a change needs no session reset: RFC 4271 §3.2 / §9.1.1),
//! export policy over what the advertisement rules left (RFC 4271 §9.1.3).
//!
//! ```yaml
//! statements:
//!   - match: { prefix_set: [{ prefix: 10.244.0.0/16, ge: 26, le: 26 }], peer_type: [ebgp] }
//!     set: { local_pref: 200, add_communities: ["65000:10"], prepend: { count: 2 } }
//!     then: accept
//! default: reject
//! ```

mod max_prefix;
mod values;

use std::borrow::Cow;

use crate::rib::{Prefix, RouteAttrs};

pub use max_prefix::{MaxPrefix, MaxPrefixEvent};
pub use values::{LargeCommunityValue, PrefixRange, StandardCommunity};

/// A policy value that cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "prefix range {prefix} ge {ge:?} le {le:?} is empty or out of bounds (want prefix length <= ge <= le <= family width)"
    )]
    PrefixRange {
        prefix: String,
        ge: Option<u8>,
        le: Option<u8>,
    },
    #[error(
        "not a community (want ASN:VALUE with 16-bit parts, or no-export, no-advertise, no-export-subconfed): {0:?}"
    )]
    Community(String),
    #[error("not a large community (want GLOBAL:LOCAL1:LOCAL2 with 32-bit parts): {0:?}")]
    LargeCommunity(String),
    #[error(
        "max-prefix limit must be at least 1 and warning_percent 1..=100, got limit {limit} warning_percent {warning_percent}"
    )]
    MaxPrefix { limit: u32, warning_percent: u8 },
}

/// The kind of a BGP peer, as policy conditions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerClass {
    Ibgp,
    Ebgp,
    /// An iBGP peer we reflect routes for (RFC 4456).
    ReflectorClient,
}

/// Where a route was learned, as policy conditions name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteSource {
    /// Originated by this node.
    Local,
    Ibgp,
    Ebgp,
    ReflectorClient,
}

impl From<PeerClass> for RouteSource {
    fn from(c: PeerClass) -> Self {
        match c {
            PeerClass::Ibgp => RouteSource::Ibgp,
            PeerClass::Ebgp => RouteSource::Ebgp,
            PeerClass::ReflectorClient => RouteSource::ReflectorClient,
        }
    }
}

/// What a policy sees besides the attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteContext {
    pub prefix: Prefix,
    /// The peer the policy belongs to: the sender on import, the receiver on export.
    pub peer: PeerClass,
    /// Where the route was learned.
    pub source: RouteSource,
    /// Our AS: the default AS to prepend.
    pub local_asn: u32,
}

/// Conditions of a statement; all given ones must hold, an empty one matches everything.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The prefix lies in one of these ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_set: Option<Vec<PrefixRange>>,
    /// The policy's peer is one of these kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_type: Option<Vec<PeerClass>>,
    /// The route was learned from one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_source: Option<Vec<RouteSource>>,
    /// The route carries at least one of these communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<Vec<StandardCommunity>>,
    /// The route carries at least one of these large communities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_communities: Option<Vec<LargeCommunityValue>>,
    /// The AS_PATH contains at least one of these ASes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_path_contains: Option<Vec<u32>>,
}

/// AS-path prepending (RFC 4271 §5.1.2 lets a speaker add its own AS more than once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Prepend {
    /// Default: our own AS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    pub count: u8,
}

/// Attribute changes of a statement.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_pref: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_communities: Vec<StandardCommunity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_communities: Vec<StandardCommunity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_large_communities: Vec<LargeCommunityValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_large_communities: Vec<LargeCommunityValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepend: Option<Prepend>,
}

/// What a statement does after its actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Then {
    #[default]
    Accept,
    Reject,
    /// Go on with the next statement, keeping the changes.
    Next,
}

/// The verdict when no statement decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fallback {
    #[default]
    Accept,
    Reject,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "match")]
    pub conditions: Conditions,
    #[serde(default)]
    pub set: Actions,
    #[serde(default)]
    pub then: Then,
}

/// An import or export policy. The default policy accepts everything unchanged.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub statements: Vec<Statement>,
    #[serde(default)]
    pub default: Fallback,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::accept_all()
    }
}

/// A policy's verdict on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOutcome {
    Reject,
    /// Accepted; `Some` when the actions changed the attributes.
    Accept(Option<Box<RouteAttrs>>),
}

impl Conditions {
    fn hold(&self, route: &RouteContext, attrs: &RouteAttrs) -> bool {
        fn any<T>(list: &Option<Vec<T>>, f: impl FnMut(&T) -> bool) -> bool {
            list.as_ref().is_none_or(|l| l.iter().any(f))
        }
        any(&self.prefix_set, |r| r.matches(&route.prefix))
            && any(&self.peer_type, |c| *c == route.peer)
            && any(&self.route_source, |s| *s == route.source)
            && any(&self.communities, |c| attrs.communities.contains(&c.0))
            && any(&self.large_communities, |c| {
                attrs.large_communities.contains(&c.0)
            })
            && any(&self.as_path_contains, |asn| attrs.as_path.contains(*asn))
    }
}

impl Actions {
    fn is_empty(&self) -> bool {
        *self == Actions::default()
    }

    fn apply(&self, route: &RouteContext, attrs: &mut RouteAttrs) {
        if let Some(v) = self.local_pref {
            attrs.local_pref = Some(v);
        }
        if let Some(v) = self.med {
            attrs.med = Some(v);
        }
        attrs
            .communities
            .retain(|c| !self.remove_communities.iter().any(|r| r.0 == *c));
        for c in &self.add_communities {
            if !attrs.communities.contains(&c.0) {
                attrs.communities.push(c.0);
            }
        }
        attrs
            .large_communities
            .retain(|c| !self.remove_large_communities.iter().any(|r| r.0 == *c));
        for c in &self.add_large_communities {
            if !attrs.large_communities.contains(&c.0) {
                attrs.large_communities.push(c.0);
            }
        }
        if let Some(p) = self.prepend {
            for _ in 0..p.count {
                attrs.as_path.prepend(p.asn.unwrap_or(route.local_asn));
            }
        }
    }
}

impl Policy {
    /// Accepts every route unchanged.
    pub fn accept_all() -> Self {
        Policy {
            statements: Vec::new(),
            default: Fallback::Accept,
        }
    }

    /// Rejects every route.
    pub fn reject_all() -> Self {
        Policy {
            statements: Vec::new(),
            default: Fallback::Reject,
        }
    }

    /// True if the verdict can differ between prefixes with the same attributes, so that
    /// the RIB must evaluate the policy per prefix rather than once per attribute set.
    pub fn depends_on_prefix(&self) -> bool {
        self.statements
            .iter()
            .any(|s| s.conditions.prefix_set.is_some())
    }

    /// Runs the policy over one route.
    pub fn evaluate(&self, route: &RouteContext, attrs: &RouteAttrs) -> PolicyOutcome {
        let mut current = Cow::Borrowed(attrs);
        for statement in &self.statements {
            if !statement.conditions.hold(route, &current) {
                continue;
            }
            if !statement.set.is_empty() {
                statement.set.apply(route, current.to_mut());
            }
            match statement.then {
                Then::Accept => return accepted(current),
                Then::Reject => return PolicyOutcome::Reject,
                Then::Next => {}
            }
        }
        match self.default {
            Fallback::Accept => accepted(current),
            Fallback::Reject => PolicyOutcome::Reject,
        }
    }
}

fn accepted(attrs: Cow<'_, RouteAttrs>) -> PolicyOutcome {
    PolicyOutcome::Accept(match attrs {
        Cow::Borrowed(_) => None,
        Cow::Owned(a) => Some(Box::new(a)),
    })
}

#[cfg(test)]
mod tests;

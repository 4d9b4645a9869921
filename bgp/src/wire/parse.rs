//! Private nom plumbing shared by the decoders.
//!
//! nom stays inside the codec: every decoder reads with the helpers below, whose only failure
//! is [`Short`] ("the input ended before the field did"). Callers turn that into the typed error
//! that the RFC names for the field being read (see `error.rs`), with [`Context::or`].

use std::net::Ipv4Addr;

use nom::error::{ErrorKind, ParseError};

/// The input ended before the field being read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short;

impl<I> ParseError<I> for Short {
    fn from_error_kind(_: I, _: ErrorKind) -> Self {
        Short
    }
    fn append(_: I, _: ErrorKind, other: Self) -> Self {
        other
    }
}

pub(crate) type PResult<'a, T> = nom::IResult<&'a [u8], T, Short>;

pub(crate) fn u8(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}

pub(crate) fn u16(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}

pub(crate) fn u32(i: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u32(i)
}

pub(crate) fn take(i: &[u8], n: usize) -> PResult<'_, &[u8]> {
    nom::bytes::complete::take(n)(i)
}

pub(crate) fn ipv4(i: &[u8]) -> PResult<'_, Ipv4Addr> {
    let (i, v) = u32(i)?;
    Ok((i, Ipv4Addr::from(v)))
}

/// A field prefixed by a one-octet length.
pub(crate) fn u8_length_data(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u8).parse_complete(i)
}

/// A field prefixed by a two-octet length.
pub(crate) fn u16_length_data(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::multi::length_data(nom::number::complete::be_u16).parse_complete(i)
}

use nom::Parser as _;

/// Turns the nom failure of a helper into the caller's typed error.
pub(crate) trait Context<T> {
    fn or_err<E>(self, err: impl FnOnce() -> E) -> Result<T, E>;
}

impl<'a, T> Context<(&'a [u8], T)> for PResult<'a, T> {
    fn or_err<E>(self, err: impl FnOnce() -> E) -> Result<(&'a [u8], T), E> {
        self.map_err(|_| err())
    }
}

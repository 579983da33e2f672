//! Response decoding: the services and signature reads of a plan decoded from the
//! responses to its requests, with their [`Quality`].

use crate::catalogue::{Service, SignatureCheck};
use crate::error::CodecError;
use crate::register::RegisterDef;
use crate::value::{Quality, Value};

use super::{DevicePlan, Item, Plan, Request};

/// A service served by a request, at an offset of its response.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSlot<'a> {
    /// The service.
    pub service: &'a Service,
    /// Offset of its first word (bit) in the response.
    pub offset: u16,
}

impl<'a> ServiceSlot<'a> {
    /// The service id.
    pub fn id(&self) -> &'a str {
        &self.service.id
    }

    /// Its register definition.
    pub fn register(&self) -> &'a RegisterDef {
        &self.service.register
    }

    /// Its words (bits) within a response, or [`CodecError::WrongLength`] when the
    /// response is too short.
    pub fn words<'w>(&self, response: &'w [u16]) -> Result<&'w [u16], CodecError> {
        let def = self.register();
        slice(response, self.offset, def.count(), def.address)
    }

    /// Decode it from the request's response (services with a scale register need
    /// [`Request::decode`] or [`DevicePlan::decode`], which find that register).
    pub fn decode(&self, response: &[u16]) -> Result<Option<Value>, CodecError> {
        self.register().decode(self.words(response)?)
    }
}

fn slice(words: &[u16], offset: u16, count: u16, address: u16) -> Result<&[u16], CodecError> {
    let from = usize::from(offset);
    let to = from + usize::from(count);
    words.get(from..to).ok_or(CodecError::WrongLength {
        address,
        expected: usize::from(count),
        found: words.len().saturating_sub(from).min(usize::from(count)),
    })
}

impl<'a> Request<'a> {
    /// Decode every service this request serves from its response words (bits as 0/1 on
    /// FC1/FC2). A scale register read by this same request is applied; one read by
    /// another request is not visible here (use [`DevicePlan::decode`]).
    pub fn decode(
        &self,
        response: &[u16],
    ) -> Vec<(&'a Service, Result<Option<Value>, CodecError>)> {
        self.services()
            .map(|slot| {
                let def = slot.register();
                let scale = def.scale_register.and_then(|sr| {
                    let fc = sr.function_code.unwrap_or(def.function_code);
                    if fc != self.function_code {
                        return None;
                    }
                    self.slots
                        .iter()
                        .find(|s| s.item == Item::ScaleRegister(sr.address))
                        .and_then(|s| response.get(usize::from(s.offset)))
                        .map(|w| *w as i16)
                });
                let result = slot
                    .words(response)
                    .and_then(|w| def.decode_scaled(w, scale));
                (slot.service, result)
            })
            .collect()
    }
}

/// The decoded value of one service after a poll cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedService<'a> {
    /// The service.
    pub service: &'a Service,
    /// `None` when the request carrying it (or its scale register) got no response;
    /// otherwise the codec's result: `Ok(None)` is "not available" on the device.
    pub result: Option<Result<Option<Value>, CodecError>>,
}

impl DecodedService<'_> {
    /// The value, when it was read, decoded and available.
    pub fn value(&self) -> Option<&Value> {
        match &self.result {
            Some(Ok(Some(v))) => Some(v),
            _ => None,
        }
    }

    /// The [`Quality`] of the result: `Good` with a value, `NotAvailable` for a "not
    /// available" sentinel, `Invalid` when the words do not decode (or are too few),
    /// `NoAnswer` when the request (or the scale register's) got no response. (A response
    /// slot cannot say why it is empty; the poller, which knows, reads an exception answer
    /// as `Invalid`.)
    pub fn quality(&self) -> Quality {
        match &self.result {
            Some(Ok(Some(_))) => Quality::Good,
            Some(Ok(None)) => Quality::NotAvailable,
            Some(Err(_)) => Quality::Invalid,
            None => Quality::NoAnswer,
        }
    }
}

/// The decoded value of one signature read.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSignature<'a> {
    /// The check.
    pub check: &'a SignatureCheck,
    /// As in [`DecodedService::result`].
    pub result: Option<Result<Option<Value>, CodecError>>,
}

impl DecodedSignature<'_> {
    /// Whether the value read satisfies the check.
    pub fn matches(&self) -> bool {
        match &self.result {
            Some(Ok(v)) => self.check.expect.matches(v.as_ref()),
            _ => false,
        }
    }
}

impl<'a> DevicePlan<'a> {
    /// Decode the selected services (in selection order) from the responses of the
    /// device's requests: `responses[i]` is the words (bits as 0/1) answered to
    /// `requests()[i]`, or `None` when that request failed. Missing entries count as
    /// failed. Never panics, whatever the lengths.
    pub fn decode<W: AsRef<[u16]>>(&self, responses: &[Option<W>]) -> Vec<DecodedService<'a>> {
        let response = |r: usize| -> Option<&[u16]> {
            responses.get(r).and_then(Option::as_ref).map(AsRef::as_ref)
        };
        self.services
            .iter()
            .filter_map(|(i, loc)| {
                let service = self.product.services.get(*i)?;
                let def = &service.register;
                let result = (|| {
                    let words = response(loc.request)?;
                    let scale = match def.scale_register {
                        None => None,
                        Some(sr) => {
                            let fc = sr.function_code.unwrap_or(def.function_code);
                            let at = self
                                .scales
                                .iter()
                                .find(|(f, a, _)| *f == fc && *a == sr.address)
                                .map(|(_, _, l)| *l)?;
                            match response(at.request)?.get(usize::from(at.offset)) {
                                Some(raw) => Some(*raw as i16),
                                None => {
                                    return Some(Err(CodecError::WrongLength {
                                        address: sr.address,
                                        expected: 1,
                                        found: 0,
                                    }));
                                }
                            }
                        }
                    };
                    Some(
                        slice(words, loc.offset, def.count(), def.address)
                            .and_then(|w| def.decode_scaled(w, scale)),
                    )
                })();
                Some(DecodedService { service, result })
            })
            .collect()
    }

    /// Decode the signature reads (when planned with a signature), in the product's order.
    pub fn decode_signature<W: AsRef<[u16]>>(
        &self,
        responses: &[Option<W>],
    ) -> Vec<DecodedSignature<'a>> {
        self.signature
            .iter()
            .filter_map(|(i, loc)| {
                let check = self.product.signature.get(*i)?;
                let def = &check.register;
                let result = responses
                    .get(loc.request)
                    .and_then(Option::as_ref)
                    .map(|w| {
                        slice(w.as_ref(), loc.offset, def.count(), def.address)
                            .and_then(|w| def.decode(w))
                    });
                Some(DecodedSignature { check, result })
            })
            .collect()
    }
}

impl<'a> Plan<'a> {
    /// Decode every device's services: `responses[d][r]` answers request `r` of device
    /// `d` (see [`DevicePlan::decode`]). Devices without responses decode as not read.
    pub fn decode<W: AsRef<[u16]>>(
        &self,
        responses: &[Vec<Option<W>>],
    ) -> Vec<Vec<DecodedService<'a>>> {
        self.devices
            .iter()
            .enumerate()
            .map(|(k, d)| d.decode(responses.get(k).map_or(&[][..], Vec::as_slice)))
            .collect()
    }
}

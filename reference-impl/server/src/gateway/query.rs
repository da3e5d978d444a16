//! Query parameters, checked like JSON fields: an unknown or repeated parameter and a bad
//! number are 400 errors naming the parameter; and the paging every listing shares.

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::error::ApiError;

/// The parameters of one request, taken by name.
pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(super) fn new(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        match query {
            Ok(Query(pairs)) => Ok(Self { pairs }),
            Err(e) => Err(ApiError::new(e.status(), e.body_text())),
        }
    }

    pub(super) fn take(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        let mut found = None;
        let mut rest = Vec::with_capacity(self.pairs.len());
        for (key, value) in self.pairs.drain(..) {
            if key != name {
                rest.push((key, value));
            } else if found.is_some() {
                return Err(ApiError::field(name, "given more than once"));
            } else {
                found = Some(value);
            }
        }
        self.pairs = rest;
        Ok(found)
    }

    fn number(&mut self, name: &str) -> Result<Option<usize>, ApiError> {
        self.take(name)?
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    ApiError::field(name, format!("expected a whole number, got {v:?}"))
                })
            })
            .transpose()
    }

    /// Fails on the first parameter nobody took.
    pub(super) fn finish(self, expected: &[&str]) -> Result<(), ApiError> {
        match self.pairs.first() {
            Some((key, _)) => Err(ApiError::field(
                key.clone(),
                format!("unknown parameter; expected {}", expected.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

/// `?offset=&limit=&order=asc|desc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Page {
    pub offset: usize,
    pub limit: usize,
    pub newest_first: bool,
}

pub(super) const DEFAULT_LIMIT: usize = 50;

impl Page {
    pub(super) fn take(params: &mut Params, max_limit: usize) -> Result<Self, ApiError> {
        let offset = params.number("offset")?.unwrap_or(0);
        let limit = params
            .number("limit")?
            .unwrap_or(DEFAULT_LIMIT.min(max_limit));
        if limit == 0 || limit > max_limit {
            return Err(ApiError::field(
                "limit",
                format!("between 1 and {max_limit}"),
            ));
        }
        let newest_first = match params.take("order")?.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::field(
                    "order",
                    format!("asc or desc, not {other:?}"),
                ));
            }
        };
        Ok(Self {
            offset,
            limit,
            newest_first,
        })
    }

    pub(super) fn order(&self) -> &'static str {
        if self.newest_first { "desc" } else { "asc" }
    }
}

//! One error model. Storage reports a [`DbError`]; the two protocols answer
//! it in their own form, converted here and nowhere else:
//!
//! | `DbError`      | SCIM (RFC 7644 §3.12)        | management API            |
//! |----------------|------------------------------|---------------------------|
//! | `Precondition` | 409, the resource changed    | 409 `conflict`            |
//! | `Unique`       | 409 `uniqueness`             | 409 `conflict`            |
//! | `Other`        | 500, cause kept for the log  | 500 `internal_error`, ditto |
//!
//! A use case that gives a precondition a meaning of its own (a retry, a
//! 404) matches on it before converting. The cause of an internal error
//! travels in the error's `cause` to the [`Outcome`](super::Outcome) and
//! from there into the request's log line; it is never answered.

use super::api::ApiError;
use crate::scim::ScimError;
use crate::storage::DbError;

impl From<DbError> for ScimError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Precondition => ScimError::new(409, None, "The resource was changed by another request; retry"),
            DbError::Unique(_) => ScimError::uniqueness("A resource with the same unique attribute already exists"),
            DbError::Other(m) => ScimError { cause: Some(format!("storage: {m}")), ..ScimError::new(500, None, "Internal server error (storage)") },
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Precondition => ApiError::conflict("The resource was changed by another request; retry"),
            DbError::Unique(_) => ApiError::conflict("A resource with the same unique value already exists"),
            DbError::Other(m) => ApiError { cause: Some(format!("storage: {m}")), ..ApiError::new(500, "internal_error", "Internal server error") },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_failures_keep_their_cause_out_of_the_answer() {
        let s = ScimError::from(DbError::Other("disk I/O error".into()));
        assert_eq!(s.status, 500);
        assert!(!s.to_json().to_string().contains("disk"));
        assert_eq!(s.cause.as_deref(), Some("storage: disk I/O error"));
        let a = ApiError::from(DbError::Other("disk I/O error".into()));
        assert_eq!(a.status, 500);
        assert!(!String::from_utf8_lossy(&a.response().body).contains("disk"));
        assert_eq!(a.cause.as_deref(), Some("storage: disk I/O error"));
        assert_eq!(ScimError::from(DbError::Unique("u".into())).status, 409);
        assert_eq!(ApiError::from(DbError::Precondition).code, "conflict");
    }
}

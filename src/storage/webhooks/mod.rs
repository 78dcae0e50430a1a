//! Webhook endpoints and their deliveries.
//!
//! Endpoints live on the control database; deliveries (one row per attempt
//! of an event to an endpoint) live on the data database, next to the
//! events. Today both are one D1 database, and the statements of a use case
//! that touches both run as one batch, as they always have: a `Mixed`
//! batch keeps them in one batch, in the order they were pushed, when the
//! two handles are the same database, and else runs the control statements
//! first and the data statements after. A statement naming tables of both
//! kinds (an endpoint joined with deliveries) only runs when they are one
//! database; each such use case has a second form for separate databases,
//! which reads the control side first and hands its values to the data
//! statements as parameters.

pub mod claims;
pub mod deliveries;
pub mod endpoints;
#[cfg(test)]
mod split_tests;
pub mod sweep;
#[cfg(test)]
pub mod testing;

use super::db::{run_pair, same_database};
use super::{events, Batch, Db, DbError, Results, Row, Slot, SqlValue, Stmt};

/// Statements for the control and the data database, pushed in the order
/// one shared database runs them (see the module documentation).
pub(crate) struct Mixed<'a, D: Db> {
    control_db: &'a D,
    data_db: &'a D,
    control: Batch,
    data: Batch,
}

/// Where a statement of a [`Mixed`] batch is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum At {
    Control(Slot),
    Data(Slot),
}

/// The results of a [`Mixed`] batch.
pub(crate) struct Ran {
    control: Results,
    data: Results,
}

impl<'a, D: Db> Mixed<'a, D> {
    pub fn new(control_db: &'a D, data_db: &'a D) -> Self {
        Mixed { control_db, data_db, control: Batch::new(), data: Batch::new() }
    }
    /// Whether control and data are one database.
    pub fn shared(&self) -> bool {
        same_database(self.control_db, self.data_db)
    }
    pub fn control(&mut self, s: Stmt) -> At {
        At::Control(self.control.push(s))
    }
    pub fn data(&mut self, s: Stmt) -> At {
        if self.shared() {
            At::Control(self.control.push(s))
        } else {
            At::Data(self.data.push(s))
        }
    }
    /// Where the event log ends, for a control statement that remembers it:
    /// read inside the batch when it is one database, else read first.
    pub async fn log_end(&self) -> Result<LogEnd, DbError> {
        if self.shared() {
            Ok(LogEnd::Inline)
        } else {
            Ok(LogEnd::Known(events::log_end(self.data_db).await?))
        }
    }
    pub async fn run(self) -> Result<Ran, DbError> {
        let (control, data) = run_pair(self.control_db, self.control, self.data_db, self.data).await?;
        Ok(Ran { control, data })
    }
}

impl Ran {
    pub fn rows(&self, at: At) -> &[Row] {
        match at {
            At::Control(s) => self.control.rows(s),
            At::Data(s) => self.data.rows(s),
        }
    }
    pub fn first(&self, at: At) -> Option<&Row> {
        self.rows(at).first()
    }
}

/// The end of the event log as a control statement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogEnd {
    /// Read by the statement itself (control and data are one database).
    Inline,
    /// Read from the data database beforehand.
    Known(i64),
}

impl LogEnd {
    /// The SQL expression for it; a known value is bound as the next parameter.
    fn expr(self, params: &mut Vec<SqlValue>) -> String {
        match self {
            LogEnd::Inline => events::LOG_END.to_string(),
            LogEnd::Known(pos) => {
                params.push(SqlValue::Int(pos));
                format!("?{}", params.len())
            }
        }
    }
}

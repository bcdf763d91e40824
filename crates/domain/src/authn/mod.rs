//! Authentication of residents: requests that wait for approval in the app.
pub mod approvals;
